//! The node's two routers and their OpenAPI 3.1 descriptions.

use crate::access::openapi::LocalAccess;
use crate::state::NodeState;
use crate::{
    audit_api, callbacks_api, catalog_proxy, consumer, health, offerings, protocol, provider,
    review, review_batch,
};
use axum::routing::get;
use axum::Router;
use std::sync::Arc;
use utbyte_api::{
    audit, health as health_api, messages, offerings as offerings_api, requests, reviews,
    subscriptions,
};
use utbyte_http::openapi::{EdgeProblems, MutualTls};
use utbyte_http::{Json, Problem};
use utoipa::OpenApi;

#[derive(OpenApi)]
#[openapi(
    info(
        title = "utbyte node — federation API",
        description = "What other members' nodes call, over mutual TLS: requests for disclosure of this authority's offerings, and the state of requests routed to review. The requesting authority is the one its client certificate names."
    ),
    modifiers(&MutualTls, &EdgeProblems),
    servers((url = "https://{node}", description = "A member's node endpoint, as the federation configuration lists it", variables(("node" = (default = "node.example:7401", description = "host and port"))))),
    paths(
        provider::exchange,
        provider::review_state,
        crate::reconcile::listing::listing,
        crate::reconcile::listing::undelivered,
        crate::messages::receive::deliver,
        crate::messages::receive::accepted,
        crate::messages::attachments::incoming::chunk,
        crate::subscriptions::grant::subscribe,
        crate::subscriptions::grant::add_subjects,
        crate::subscriptions::grant::cancel,
        crate::subscriptions::grant::renew,
        crate::subscriptions::receive::take,
        crate::bulk::part,
        federation_openapi
    ),
    components(schemas(
        protocol::ExchangeRequest,
        protocol::Answer,
        protocol::AnswerStatus,
        utbyte_api::FieldVerdict,
        utbyte_api::Outcome,
        utbyte_api::Ground,
        utbyte_api::Receipt,
        protocol::ReviewState,
        protocol::LedgerListing,
        protocol::ListedEntry,
        protocol::UndeliveredNotice,
        protocol::UndeliveredRecorded,
        utbyte_federation::Jws,
        crate::messages::receive::ParcelSchema,
        crate::subscriptions::grant::SubscriptionRequest,
        crate::subscriptions::grant::SubscriptionGrant,
        crate::subscriptions::grant::EventVerdict,
        crate::subscriptions::grant::MoreSubjects,
        crate::subscriptions::grant::SubjectsAdded,
        crate::subscriptions::grant::Cancelled,
        crate::subscriptions::grant::RenewRequest,
        crate::subscriptions::notice::NoticeEvent,
        crate::subscriptions::notice::NoticeData,
        crate::subscriptions::receive::NoticesAck,
        crate::bulk::protocol::BulkPartRequest,
        crate::bulk::protocol::PartAnswer,
        crate::bulk::protocol::PartDecision,
        crate::bulk::protocol::PartRun,
        crate::bulk::protocol::PartRecord,
        Problem
    ))
)]
struct FederationApi;

#[derive(OpenApi)]
#[openapi(
    info(
        title = "utbyte node — local API",
        description = "What the authority's own systems call, over TLS with a client certificate or an access token from the agency: case systems ask other authorities (consumer), reviewers work the review queue (review), auditors read the ledger (audit), administrators see and replay callback notices (callbacks); units send and take messages to and from other authorities (messages), and subscribe to changes at other authorities and follow the notices (subscriptions). Which client may call what is the node's [access] configuration (docs/access.md)."
    ),
    modifiers(&EdgeProblems, &LocalAccess),
    servers((url = "https://{node}", description = "The node's local listener (`local_listen`)", variables(("node" = (default = "127.0.0.1:7501", description = "host and port"))))),
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
        review_batch::list,
        review_batch::show,
        review_batch::reviews,
        review_batch::decide,
        audit_api::status,
        audit_api::verify,
        audit_api::subject,
        audit_api::stats,
        crate::reconcile::api::show,
        crate::reconcile::api::run,
        crate::reconcile::api::findings,
        callbacks_api::list,
        callbacks_api::replay,
        crate::messages::mailbox::send,
        crate::messages::mailbox::addresses,
        crate::messages::mailbox::outbox,
        crate::messages::mailbox::outgoing,
        crate::messages::mailbox::inbox,
        crate::messages::mailbox::incoming,
        crate::messages::mailbox::accept,
        crate::messages::mailbox::attachment,
        crate::messages::attachments::upload::capabilities,
        crate::messages::attachments::upload::create,
        crate::messages::attachments::upload::offset,
        crate::messages::attachments::upload::append,
        crate::messages::attachments::upload::terminate,
        crate::messages::held::list,
        crate::messages::held::decide,
        crate::subscriptions::held::subscribe,
        crate::subscriptions::held::list,
        crate::subscriptions::held::show,
        crate::subscriptions::held::add_subjects,
        crate::subscriptions::held::renew,
        crate::subscriptions::held::cancel,
        crate::subscriptions::held::feed,
        crate::subscriptions::held::push_state,
        crate::subscriptions::held::re_enable,
        crate::subscriptions::grant::granted,
        crate::search::search,
        crate::bulk::create,
        crate::bulk::show,
        crate::bulk::upload,
        crate::bulk::records,
        health::alive,
        health::ready,
        crate::metrics::scrape,
        local_openapi
    ),
    components(schemas(
        requests::CaseRequest,
        requests::CaseAnswer,
        requests::CaseStatus,
        requests::CaseState,
        requests::CaseSummary,
        requests::OwnReceipt,
        offerings_api::OfferingView,
        offerings_api::OfferingField,
        offerings_api::RequestOptions,
        offerings_api::BasisOption,
        offerings_api::GrantClass,
        offerings_api::Named,
        offerings_api::AuthorityView,
        reviews::ReviewView,
        reviews::ReviewState,
        reviews::ReviewField,
        reviews::Candidate,
        reviews::EarlierExchange,
        reviews::ReviewDecisionInput,
        reviews::Reviewer,
        reviews::FieldReview,
        reviews::ReviewBatchView,
        reviews::BatchDecisionInput,
        reviews::BatchDecided,
        audit::AuditStatus,
        audit::CosignatureView,
        audit::VerifyOutcome,
        audit::SubjectQuery,
        audit::SubjectAccessReport,
        audit::ReportEntryView,
        audit::ReportActor,
        audit::ReportProof,
        audit::AuditStats,
        audit::NoticeCount,
        audit::TurnaroundView,
        audit::TurnaroundBucketView,
        audit::ReconciliationView,
        audit::PeerReconciliation,
        audit::ReconciliationState,
        audit::ReconciliationFinding,
        callbacks_api::CallbackView,
        callbacks_api::CallbackStatus,
        messages::SendMessage,
        messages::SentMessage,
        messages::MessageAddress,
        messages::AddressBookEntry,
        messages::AddressBookUnit,
        messages::MessageKind,
        messages::MessageState,
        messages::MessageReceipt,
        messages::ReceivedMessage,
        messages::MessageContent,
        messages::AttachmentInfo,
        messages::AcceptMessage,
        messages::HeldMessage,
        subscriptions::Subscribe,
        subscriptions::AddSubjects,
        subscriptions::Renew,
        subscriptions::EventOutcome,
        subscriptions::SubscriptionStatus,
        subscriptions::SubscriptionView,
        subscriptions::NoticeView,
        subscriptions::NoticePage,
        subscriptions::PushView,
        subscriptions::GrantedView,
        utbyte_api::search::SearchRequest,
        utbyte_api::search::SearchAnswer,
        utbyte_api::search::SourceOutcome,
        utbyte_api::search::SourceStatus,
        utbyte_api::bulk::BulkRequest,
        utbyte_api::bulk::BulkView,
        utbyte_api::bulk::SubjectsTaken,
        utbyte_api::bulk::BulkRecord,
        utbyte_api::bulk::BulkStatus,
        crate::bulk::RecordFormat,
        health_api::Health,
        health_api::HealthStatus,
        utbyte_api::FieldVerdict,
        utbyte_api::Outcome,
        utbyte_api::Ground,
        utbyte_api::Receipt,
        utbyte_api::SignedAnswer,
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
#[utoipa::path(get, path = utbyte_api::paths::OPENAPI, tag = "federation", responses((status = 200, description = "OpenAPI 3.1 document")))]
async fn federation_openapi() -> Json<utoipa::openapi::OpenApi> {
    Json(federation_openapi_document())
}

/// This API's OpenAPI 3.1 description.
#[utoipa::path(get, path = utbyte_api::paths::OPENAPI, tag = "meta", responses((status = 200, description = "OpenAPI 3.1 document")))]
async fn local_openapi() -> Json<utoipa::openapi::OpenApi> {
    Json(local_openapi_document())
}

/// `router` with every answer marked `Cache-Control: no-store`. Nothing either listener answers
/// is meant to be kept by a cache: answers carry subject identifiers and disclosed values,
/// review cases, ledger reports and problems that quote them, and even a harmless answer (a
/// health check, a list) is only true at the moment it is given. A browser, a proxy or a case
/// system's HTTP library must not keep a copy, nor serve it back to someone else. A handler
/// that sets its own `Cache-Control` keeps it: the portal's style sheet and script, which hold
/// no data, are cached on purpose.
pub(crate) fn never_cached(router: Router) -> Router {
    router.layer(axum::middleware::map_response(
        |mut response: axum::response::Response| async move {
            response
                .headers_mut()
                .entry(http::header::CACHE_CONTROL)
                .or_insert(http::HeaderValue::from_static("no-store"));
            response
        },
    ))
}

pub(crate) fn federation_router(state: Arc<NodeState>) -> Router {
    provider::routes()
        .merge(crate::reconcile::federation_routes())
        .merge(crate::messages::federation_routes())
        .merge(crate::subscriptions::federation_routes())
        .merge(crate::bulk::federation_routes())
        .route(utbyte_api::paths::OPENAPI, get(federation_openapi))
        .with_state(state)
}

pub(crate) fn local_router(state: Arc<NodeState>) -> Router {
    consumer::routes()
        .merge(offerings::routes())
        .merge(catalog_proxy::routes())
        .merge(review::routes())
        .merge(review_batch::routes())
        .merge(audit_api::routes())
        .merge(crate::reconcile::local_routes())
        .merge(callbacks_api::routes())
        .merge(crate::messages::local_routes())
        .merge(crate::subscriptions::local_routes())
        .merge(crate::search::routes())
        .merge(crate::bulk::local_routes())
        .merge(health::routes())
        .merge(crate::metrics::routes())
        .route(utbyte_api::paths::OPENAPI, get(local_openapi))
        .with_state(state)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Client generators (Java, .NET, TypeScript) name a method after each operation id, so
    /// two operations with one id break them.
    #[test]
    fn the_federation_api_requires_a_federation_certificate() {
        let json = serde_json::to_value(federation_openapi_document()).unwrap_or_default();
        assert_eq!(
            json["components"]["securitySchemes"]["federation_certificate"]["type"],
            "mutualTLS"
        );
        assert_eq!(
            json["security"][0]["federation_certificate"],
            serde_json::json!([])
        );
        assert!(json["servers"][0]["url"].as_str().is_some());
    }

    #[test]
    fn every_operation_has_its_own_id() {
        for document in [local_openapi_document(), federation_openapi_document()] {
            let json = serde_json::to_value(&document).unwrap_or_default();
            let mut seen = std::collections::BTreeMap::new();
            for (path, item) in json["paths"].as_object().into_iter().flatten() {
                for (method, operation) in item.as_object().into_iter().flatten() {
                    let id = operation["operationId"]
                        .as_str()
                        .unwrap_or_default()
                        .to_owned();
                    assert!(!id.is_empty(), "{method} {path} has no operation id");
                    if let Some(other) = seen.insert(id.clone(), format!("{method} {path}")) {
                        panic!("`{id}` names both {other} and {method} {path}");
                    }
                }
            }
        }
    }
}

#[cfg(test)]
mod committed {
    use super::*;
    use std::path::PathBuf;

    /// The documents under `docs/openapi/` are what the node serves at `/openapi.json` (the
    /// handlers return exactly these functions' output); `UTBYTE_BLESS=1` rewrites them after a
    /// deliberate change. `scripts/test` validates the files with `openapi-spec-validator`.
    #[test]
    fn the_committed_documents_are_the_served_ones() {
        let dir = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../docs/openapi");
        for (file, document) in [
            ("node-local.json", local_openapi_document()),
            ("node-federation.json", federation_openapi_document()),
        ] {
            let served = document.to_pretty_json().unwrap_or_default() + "\n";
            let path = dir.join(file);
            if std::env::var_os("UTBYTE_BLESS").is_some() {
                std::fs::write(&path, &served).unwrap_or_default();
            }
            let committed = std::fs::read_to_string(&path).unwrap_or_default();
            assert!(
                committed == served,
                "docs/openapi/{file} differs from the served document; run \
                 UTBYTE_BLESS=1 cargo test -p utbyte-node committed"
            );
        }
    }
}
