//! [`ExchangeError`]: every way an exchange can fail, and the one place it becomes a problem.

use super::verify::AnswerRejected;
use crate::problems;
use utbyte_http::Problem;
use utbyte_rules::RequestError;
use utbyte_store::StoreError;

/// Why an exchange did not go through. Details never quote a subject identifier or a value.
#[derive(Debug, thiserror::Error)]
pub enum ExchangeError {
    #[error("{0}")]
    NoConfiguration(String),
    #[error("the federation configuration expired at {expired_at}; exchanges resume when a newer one is fetched from the directory")]
    ConfigurationExpired { expired_at: String },
    #[error("{0}")]
    NotAMember(String),
    #[error("{0}")]
    InvalidRequest(String),
    /// One text of the request is not acceptable (empty, too long, a control character).
    #[error("{detail}")]
    InvalidText { field: &'static str, detail: String },
    #[error("{0}")]
    InvalidSubject(String),
    #[error("{0}")]
    Stale(String),
    #[error("{0}")]
    Replayed(String),
    #[error("{0}")]
    OfferingNotHere(String),
    #[error("{0}")]
    UnknownOffering(String),
    #[error("{0}")]
    Register(String),
    #[error("this Idempotency-Key was used with a different request body; use a new key")]
    IdempotencyConflict,
    #[error("the request with key `{key}` is still being processed; ask again shortly")]
    InFlight { key: String },
    #[error("no request with key `{key}`")]
    NoSuchRequest { key: String },
    #[error("{0}")]
    NoSuchReview(String),
    #[error("no bulk with key `{key}`")]
    NoSuchBulk { key: String },
    /// An upload of a bulk's subjects that does not start where the bulk stands.
    #[error("{0}")]
    BulkOffset(String),
    #[error("review `{ticket}` is already decided")]
    AlreadyDecided { ticket: String },
    /// Another reviewer's decision on the same review is being recorded, at another instance.
    #[error("another decision on `{ticket}` is being recorded now; it stands if it is recorded")]
    BeingDecided { ticket: String },
    #[error("{0}")]
    InvalidReview(String),
    #[error("`callback` cannot be used: {0}")]
    CallbackNotAllowed(String),
    /// One text of a review decision is not acceptable (empty, too long, a control character).
    #[error("{detail}")]
    InvalidReviewText { field: &'static str, detail: String },
    #[error("{0}")]
    ProviderUnreachable(String),
    #[error("{detail}")]
    ProviderTls {
        detail: String,
        /// The TLS failure's slug, when the handshake failed.
        failure: Option<&'static str>,
    },
    #[error("{detail}")]
    ProviderRefused {
        detail: String,
        /// The provider's HTTP status: a 4xx is its definitive word on the request.
        status: u16,
        /// The provider's own problem, passed on whole.
        problem: Option<Box<Problem>>,
    },
    #[error(transparent)]
    BadAnswer(#[from] AnswerRejected),
    /// The exchange ended without an answer; the problem (type `request-failed`) is the one
    /// recorded when it failed, answered as it is.
    #[error("{}", .0.detail)]
    RequestFailed(Box<Problem>),
    #[error("{0}")]
    Store(String),
    #[error("{0}")]
    Audit(String),
    #[error("{0}")]
    Internal(String),
}

impl From<StoreError> for ExchangeError {
    fn from(err: StoreError) -> Self {
        match err {
            StoreError::IdempotencyConflict => ExchangeError::IdempotencyConflict,
            other => ExchangeError::Store(other.to_string()),
        }
    }
}

impl From<RequestError> for ExchangeError {
    fn from(err: RequestError) -> Self {
        match err {
            RequestError::InvalidSubject(_) | RequestError::SubjectNotYetBorn => {
                ExchangeError::InvalidSubject(err.to_string())
            }
            other => match other.field() {
                Some(field) => ExchangeError::InvalidText {
                    field,
                    detail: other.to_string(),
                },
                None => ExchangeError::InvalidRequest(other.to_string()),
            },
        }
    }
}

impl From<ExchangeError> for Problem {
    fn from(err: ExchangeError) -> Self {
        use ExchangeError as E;
        let detail = err.to_string();
        match err {
            E::NoConfiguration(_) => problems::NO_CONFIGURATION.with(detail),
            E::ConfigurationExpired { expired_at } => problems::CONFIGURATION_EXPIRED
                .with(detail)
                .with_extension("expired_at", expired_at),
            E::NotAMember(_) => problems::NOT_A_MEMBER.with(detail),
            E::InvalidRequest(_) => problems::INVALID_REQUEST.with(detail),
            E::InvalidText { field, .. } => problems::INVALID_REQUEST
                .with(detail)
                .with_extension("field", field),
            E::InvalidSubject(_) => problems::INVALID_SUBJECT.with(detail),
            E::Stale(_) => problems::STALE_REQUEST.with(detail),
            E::Replayed(_) => problems::REPLAYED_REQUEST.with(detail),
            E::OfferingNotHere(_) => problems::OFFERING_NOT_HERE.with(detail),
            E::UnknownOffering(_) => problems::UNKNOWN_OFFERING.with(detail),
            E::Register(_) => problems::REGISTER_FAILED.with(detail),
            E::IdempotencyConflict => problems::IDEMPOTENCY_CONFLICT.with(detail),
            E::InFlight { .. } => problems::IN_FLIGHT.with(detail),
            E::NoSuchRequest { .. } => problems::NO_SUCH_REQUEST.with(detail),
            E::NoSuchReview(_) => problems::NO_SUCH_REVIEW.with(detail),
            E::NoSuchBulk { .. } => problems::NO_SUCH_BULK.with(detail),
            E::BulkOffset(_) => problems::BULK_OFFSET.with(detail),
            E::AlreadyDecided { .. } => problems::ALREADY_DECIDED.with(detail),
            E::BeingDecided { .. } => problems::BEING_DECIDED.with(detail),
            E::InvalidReview(_) => problems::INVALID_REVIEW.with(detail),
            E::CallbackNotAllowed(_) => problems::CALLBACK_NOT_ALLOWED
                .with(detail)
                .with_extension("field", "callback"),
            E::InvalidReviewText { field, .. } => problems::INVALID_REVIEW
                .with(detail)
                .with_extension("field", field),
            E::ProviderUnreachable(_) => problems::PROVIDER_UNREACHABLE.with(detail),
            E::ProviderTls { failure, .. } => {
                let problem = problems::PROVIDER_TLS.with(detail);
                match failure {
                    Some(slug) => problem.with_extension("tls_failure", slug),
                    None => problem,
                }
            }
            E::ProviderRefused { problem, .. } => {
                let outer = problems::PROVIDER_REFUSED.with(detail);
                match problem.map(|inner| serde_json::to_value(*inner)) {
                    Some(Ok(inner)) => outer.with_extension("provider_problem", inner),
                    _ => outer,
                }
            }
            E::BadAnswer(_) => problems::BAD_ANSWER.with(detail),
            E::RequestFailed(problem) => *problem,
            E::Store(_) => problems::STORE_FAILED.with(detail),
            E::Audit(_) => problems::AUDIT_FAILED.with(detail),
            E::Internal(_) => problems::INTERNAL.with(detail),
        }
    }
}

/// The error a configuration problem stops exchanges with.
impl From<utbyte_federation::ConfigError> for ExchangeError {
    fn from(err: utbyte_federation::ConfigError) -> Self {
        match err {
            utbyte_federation::ConfigError::Expired { expired_at } => {
                ExchangeError::ConfigurationExpired { expired_at }
            }
            other => ExchangeError::NoConfiguration(other.to_string()),
        }
    }
}
