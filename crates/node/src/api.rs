//! The node's two routers and their OpenAPI 3.1 descriptions.

use crate::state::NodeState;
use crate::{audit_api, catalog_proxy, consumer, health, offerings, protocol, provider, review};
use axum::routing::get;
use axum::Router;
use std::sync::Arc;
use utbyte_http::{Json, Problem};
use utoipa::OpenApi;

#[derive(OpenApi)]
#[openapi(
    info(
        title = "utbyte node — federation API",
        description = "What other members' nodes call, over mutual TLS: requests for disclosure of this authority's offerings, and the state of requests routed to review. The requesting authority is the one its client certificate names."
    ),
    paths(provider::exchange, provider::review_state, federation_openapi),
    components(schemas(
        protocol::ExchangeRequest,
        protocol::Answer,
        protocol::AnswerStatus,
        protocol::FieldVerdict,
        protocol::Receipt,
        protocol::ReviewState,
        utbyte_federation::Jws,
        Problem
    ))
)]
struct FederationApi;

#[derive(OpenApi)]
#[openapi(
    info(
        title = "utbyte node — local API",
        description = "What the authority's own systems call, on a loopback address: case systems ask other authorities (consumer), reviewers work the review queue (review)."
    ),
    paths(
        consumer::submit,
        consumer::fetch,
        consumer::list,
        offerings::authority,
        catalog_proxy::search,
        offerings::list,
        offerings::options,
        review::list,
        review::show,
        review::decide,
        audit_api::status,
        audit_api::verify,
        audit_api::subject,
        audit_api::stats,
        health::alive,
        health::ready,
        local_openapi
    ),
    components(schemas(
        consumer::CaseRequest,
        consumer::CaseAnswer,
        consumer::CaseStatus,
        consumer::CaseSummary,
        consumer::OwnReceipt,
        offerings::OfferingView,
        offerings::OfferingField,
        offerings::RequestOptions,
        offerings::BasisOption,
        offerings::Named,
        offerings::AuthorityView,
        review::ReviewView,
        review::ReviewField,
        review::Candidate,
        review::EarlierExchange,
        review::ReviewDecisionInput,
        review::Reviewer,
        review::FieldReview,
        audit_api::AuditStatus,
        audit_api::CosignatureView,
        audit_api::VerifyOutcome,
        audit_api::SubjectQuery,
        audit_api::SubjectAccessReport,
        audit_api::ReportEntryView,
        audit_api::ReportActor,
        audit_api::ReportProof,
        audit_api::AuditStats,
        audit_api::TurnaroundView,
        audit_api::TurnaroundBucketView,
        health::Health,
        protocol::FieldVerdict,
        protocol::Receipt,
        utbyte_federation::Jws,
        Problem
    ))
)]
struct LocalApi;

/// The federation API's OpenAPI document.
pub fn federation_openapi_document() -> utoipa::openapi::OpenApi {
    FederationApi::openapi()
}

/// The local API's OpenAPI document.
pub fn local_openapi_document() -> utoipa::openapi::OpenApi {
    LocalApi::openapi()
}

/// This API's OpenAPI 3.1 description.
#[utoipa::path(get, path = "/openapi.json", tag = "federation", responses((status = 200, description = "OpenAPI 3.1 document")))]
async fn federation_openapi() -> Json<utoipa::openapi::OpenApi> {
    Json(federation_openapi_document())
}

/// This API's OpenAPI 3.1 description.
#[utoipa::path(get, path = "/openapi.json", tag = "meta", responses((status = 200, description = "OpenAPI 3.1 document")))]
async fn local_openapi() -> Json<utoipa::openapi::OpenApi> {
    Json(local_openapi_document())
}

pub(crate) fn federation_router(state: Arc<NodeState>) -> Router {
    provider::routes()
        .route("/openapi.json", get(federation_openapi))
        .with_state(state)
}

pub(crate) fn local_router(state: Arc<NodeState>) -> Router {
    consumer::routes()
        .merge(offerings::routes())
        .merge(catalog_proxy::routes())
        .merge(review::routes())
        .merge(audit_api::routes())
        .merge(health::routes())
        .route("/openapi.json", get(local_openapi))
        .with_state(state)
}
