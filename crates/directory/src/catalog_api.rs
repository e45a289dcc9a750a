//! The catalog as the directory serves it: search with facets, each offering's entry, the shared
//! concepts and their mappings, authorities' needs and where they are unmet, and the DCAT-AP-SE
//! and SKOS exports. Built once per published catalog; every answer is read from memory.

use axum::extract::State;
use axum::http::header;
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::Router;
use serde::Deserialize;
use std::sync::Arc;
use utbyte_catalog::export::{self, Format};
use utbyte_catalog::search::SearchIndex;
use utbyte_catalog::{Catalog, Concept, ConceptScheme, Entry, Mapping, NeedStatus};
use utbyte_http::{Json, Path, Problem, Query};

// A search the catalog cannot run (bad filter, page out of range).
utbyte_http::problem_type!(
    BAD_SEARCH,
    "invalid-search",
    422,
    "The search cannot be run"
);
// No such offering or concept in the catalog.
utbyte_http::problem_type!(
    NOT_IN_CATALOG,
    "not-in-catalog",
    404,
    "The catalog has no such entry"
);

/// The catalog, its search index and its exports, ready to serve.
pub struct CatalogService {
    catalog: Catalog,
    index: SearchIndex,
    exports: [(String, Format, String); 4],
}

impl std::fmt::Debug for CatalogService {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("CatalogService")
            .field("entries", &self.catalog.entries.len())
            .finish_non_exhaustive()
    }
}

/// Why a catalog cannot be served.
#[derive(Debug, thiserror::Error)]
pub enum CatalogServiceError {
    #[error("cannot index the catalog: {0}")]
    Index(String),
    #[error("cannot export the catalog: {0}")]
    Export(String),
}

impl CatalogService {
    /// Indexes `catalog` and renders its exports with IRIs under `base`.
    pub fn new(catalog: Catalog, base: &str) -> Result<Self, CatalogServiceError> {
        let index = SearchIndex::build(&catalog.entries, &catalog.scheme, &catalog.mappings)
            .map_err(|e| CatalogServiceError::Index(e.to_string()))?;
        let render = |name: &str, format: Format, dcat: bool| {
            let text = if dcat {
                export::dcat(&catalog, base, format)
            } else {
                export::skos(&catalog, base, format)
            };
            text.map(|text| (name.to_owned(), format, text))
                .map_err(|e| CatalogServiceError::Export(e.to_string()))
        };
        let exports = [
            render("dcat.jsonld", Format::JsonLd, true)?,
            render("dcat.rdf", Format::RdfXml, true)?,
            render("skos.jsonld", Format::JsonLd, false)?,
            render("skos.rdf", Format::RdfXml, false)?,
        ];
        Ok(Self {
            catalog,
            index,
            exports,
        })
    }
}

#[derive(Debug, Deserialize, utoipa::IntoParams)]
pub(crate) struct SearchQuery {
    /// Free text and filters: `lön provider:skatteverket concept:inkomst provision:luffa purpose:… secrecy:…` (see docs/catalog-search.md).
    #[serde(default)]
    q: String,
    /// 1-based page; default 1.
    #[param(minimum = 1)]
    page: Option<u32>,
    /// Hits per page; default 20, at most 100.
    #[param(minimum = 1, maximum = 100)]
    per_page: Option<u32>,
}

pub(crate) fn routes() -> Router<Arc<CatalogService>> {
    Router::new()
        .route("/v1/catalog/search", get(search))
        .route("/v1/catalog/offerings/{offering}", get(offering))
        .route("/v1/catalog/concepts", get(concepts))
        .route("/v1/catalog/concepts/{concept}", get(concept))
        .route("/v1/catalog/mappings", get(mappings))
        .route("/v1/catalog/needs", get(needs))
        .route("/v1/catalog/export/{name}", get(exported))
}

/// Searches the catalog: ranked hits, facet counts, one page.
#[utoipa::path(
    get,
    operation_id = "catalog_search",
    path = "/v1/catalog/search",
    tag = "catalog",
    params(SearchQuery),
    responses(
        (status = 200, description = "`{total, page, per_page, hits: [{offering, title, provider, score}], facets: {provider|concept|provision|purpose|secrecy: [[value, count]]}}`", body = serde_json::Value),
        (status = 422, description = "Unknown filter, malformed query or page out of range", body = Problem, content_type = "application/problem+json"),
    )
)]
pub(crate) async fn search(
    State(service): State<Arc<CatalogService>>,
    Query(query): Query<SearchQuery>,
) -> Result<Response, Problem> {
    let results = service
        .index
        .search(
            &query.q,
            query.page.unwrap_or(1),
            query.per_page.unwrap_or(20),
        )
        .map_err(|e| BAD_SEARCH.with(e.to_string()))?;
    Ok(Json(results).into_response())
}

/// One offering: provider, fields with their concepts, secrecy, the legal bases under which it
/// can be disclosed (derived from the rulebook), pre-assessments, retention and contact point.
#[utoipa::path(
    get,
    operation_id = "catalog_offering",
    path = "/v1/catalog/offerings/{offering}",
    tag = "catalog",
    params(("offering" = String, Path, description = "The offering id")),
    responses(
        (status = 200, description = "The catalog entry", body = serde_json::Value),
        (status = 404, description = "No such offering", body = Problem, content_type = "application/problem+json"),
    )
)]
pub(crate) async fn offering(
    State(service): State<Arc<CatalogService>>,
    Path(offering): Path<String>,
) -> Result<Json<Entry>, Problem> {
    found(
        service
            .catalog
            .entries
            .iter()
            .find(|e| e.offering == offering),
        "offering",
        &offering,
    )
}

/// The shared concept scheme (SKOS), in Swedish and English.
#[utoipa::path(get, operation_id = "catalog_concepts", path = "/v1/catalog/concepts", tag = "catalog", responses((status = 200, description = "The concept scheme", body = serde_json::Value)))]
pub(crate) async fn concepts(State(service): State<Arc<CatalogService>>) -> Json<ConceptScheme> {
    Json(service.catalog.scheme.clone())
}

/// One concept.
#[utoipa::path(
    get,
    operation_id = "catalog_concept",
    path = "/v1/catalog/concepts/{concept}",
    tag = "catalog",
    params(("concept" = String, Path, description = "The concept id")),
    responses(
        (status = 200, description = "The concept", body = serde_json::Value),
        (status = 404, description = "No such concept", body = Problem, content_type = "application/problem+json"),
    )
)]
pub(crate) async fn concept(
    State(service): State<Arc<CatalogService>>,
    Path(concept): Path<String>,
) -> Result<Json<Concept>, Problem> {
    found(
        service.catalog.scheme.concepts.get(&concept),
        "concept",
        &concept,
    )
}

/// Authorities' local terms mapped to shared concepts, with who approved each mapping.
#[utoipa::path(get, operation_id = "catalog_mappings", path = "/v1/catalog/mappings", tag = "catalog", responses((status = 200, description = "The mappings", body = serde_json::Value)))]
pub(crate) async fn mappings(State(service): State<Arc<CatalogService>>) -> Json<Vec<Mapping>> {
    Json(service.catalog.mappings.clone())
}

/// Who needs what, and where a need has no offering or no pre-assessment yet.
#[utoipa::path(get, operation_id = "catalog_needs", path = "/v1/catalog/needs", tag = "catalog", responses((status = 200, description = "Needs with the offerings that meet them and their gap", body = serde_json::Value)))]
pub(crate) async fn needs(State(service): State<Arc<CatalogService>>) -> Json<Vec<NeedStatus>> {
    Json(service.catalog.needs.clone())
}

/// The catalog as DCAT-AP-SE (`dcat.jsonld`, `dcat.rdf`) and the concepts as SKOS
/// (`skos.jsonld`, `skos.rdf`).
#[utoipa::path(
    get,
    operation_id = "catalog_export",
    path = "/v1/catalog/export/{name}",
    tag = "catalog",
    params(("name" = String, Path, description = "`dcat.jsonld`, `dcat.rdf`, `skos.jsonld` or `skos.rdf`")),
    responses(
        (status = 200, description = "The export, as application/ld+json or application/rdf+xml"),
        (status = 404, description = "No such export", body = Problem, content_type = "application/problem+json"),
    )
)]
pub(crate) async fn exported(
    State(service): State<Arc<CatalogService>>,
    Path(name): Path<String>,
) -> Result<Response, Problem> {
    let (_, format, text) = service
        .exports
        .iter()
        .find(|(n, _, _)| *n == name)
        .ok_or_else(|| {
            NOT_IN_CATALOG.with(format!(
                "no export `{name}`: use dcat.jsonld, dcat.rdf, skos.jsonld or skos.rdf"
            ))
        })?;
    Ok((
        [(header::CONTENT_TYPE, format.content_type())],
        text.clone(),
    )
        .into_response())
}

/// The item, or the problem saying there is no `what` called `id`.
// The error is the handler's answer, built once per failed request; see the node crate.
#[allow(clippy::result_large_err)]
fn found<T: Clone>(item: Option<&T>, what: &str, id: &str) -> Result<Json<T>, Problem> {
    item.cloned()
        .map(Json)
        .ok_or_else(|| NOT_IN_CATALOG.with(format!("no {what} `{id}`")))
}
