//! The directory's HTTP API: the signed federation configuration, and its own OpenAPI
//! description. Served over mutual TLS, to federation members only.

use crate::catalog_api::{self, CatalogService};
use crate::publisher::Publisher;
use axum::extract::State;
use axum::routing::get;
use axum::Router;
use std::sync::Arc;
use time::OffsetDateTime;
use utbyte_federation::Jws;
use utbyte_http::openapi::{EdgeProblems, MutualTls};
use utbyte_http::{Json, Problem};
use utoipa::OpenApi;

// The configuration cannot be signed (a member entry became invalid).
utbyte_http::problem_type!(
    NOT_PUBLISHABLE,
    "configuration-not-publishable",
    503,
    "The directory cannot sign its configuration"
);

#[derive(OpenApi)]
#[openapi(
    modifiers(&MutualTls, &EdgeProblems),
    servers((url = "https://{directory}", description = "The directory's endpoint, as nodes are configured with it", variables(("directory" = (default = "directory.example:7400", description = "host and port"))))),
    info(
        title = "utbyte directory",
        description = "The signed federation configuration (members, node endpoints, certificate fingerprints and revocations, answer keys, the shared rulebook with its pre-assessments) and the catalog: who holds what, what it means, under which provisions and to whom it can be disclosed, and who needs what."
    ),
    paths(
        federation,
        openapi_json,
        catalog_api::search,
        catalog_api::offering,
        catalog_api::concepts,
        catalog_api::concept,
        catalog_api::mappings,
        catalog_api::needs,
        catalog_api::exported
    ),
    components(schemas(Jws, Problem))
)]
struct DirectoryApi;

/// The OpenAPI 3.1 description of the directory.
pub fn openapi() -> utoipa::openapi::OpenApi {
    DirectoryApi::openapi()
}

/// The directory's routes: the federation configuration and, when there is one, the catalog.
pub fn router(publisher: Arc<Publisher>, catalog: Option<Arc<CatalogService>>) -> Router {
    let router = Router::new()
        .route("/v1/federation", get(federation))
        .route("/openapi.json", get(openapi_json))
        .with_state(publisher);
    match catalog {
        Some(catalog) => router.merge(catalog_api::routes().with_state(catalog)),
        None => router,
    }
}

/// The current federation configuration, as a JWS (flattened JSON) signed by the directory key.
#[utoipa::path(
    get,
    operation_id = "federation_configuration",
    tag = "federation",
    path = "/v1/federation",
    responses(
        (status = 200, description = "The signed configuration; its payload is a FederationConfig", body = Jws),
        (status = 503, description = "The configuration cannot be signed", body = Problem, content_type = "application/problem+json"),
    )
)]
async fn federation(State(publisher): State<Arc<Publisher>>) -> Result<Json<Jws>, Problem> {
    publisher
        .signed(OffsetDateTime::now_utc())
        .map(Json)
        .map_err(|err| NOT_PUBLISHABLE.with(err.to_string()))
}

/// This API's OpenAPI 3.1 description.
#[utoipa::path(get, operation_id = "directory_openapi", tag = "meta", path = "/openapi.json", responses((status = 200, description = "OpenAPI 3.1 document")))]
async fn openapi_json() -> Json<utoipa::openapi::OpenApi> {
    Json(openapi())
}
