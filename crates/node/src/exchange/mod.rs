//! The exchange core: what a node does for one exchange, apart from how it is asked.
//!
//! Functions over typed inputs — a [`CheckedRequest`], a peer's identity, a stored request —
//! returning a typed [`ExchangeError`]; the handlers in `consumer`, `provider` and `review` only
//! read the HTTP request, call one of these and write the answer. An error becomes
//! problem+json once, in `From<ExchangeError> for Problem`.
//!
//! - [`ask`]: the recipient's side — send a request to the provider's node, verify the signed
//!   answer ([`verify`]), record the receipt, keep the answer under the case system's key; follow
//!   a request in review until it is decided.
//! - [`answer`]: the provider's side — check the peer and the request, claim the request id,
//!   decide with the rulebook, read only disclosed fields, record, sign.
//! - [`apply`]: a reviewer's decision on a request in review — verdicts, values, record, sign.
//! - [`recover`]: the recipient's exchanges left in flight by a crash, asked again of the
//!   provider under their original request id and body, or failed with the provider's problem.

pub(crate) mod answer;
pub(crate) mod apply;
pub(crate) mod ask;
pub(crate) mod checked;
mod error;
pub(crate) mod recover;
pub(crate) mod verify;

pub use checked::{CheckedAsk, CheckedRequest};
pub use error::ExchangeError;
pub use verify::AnswerRejected;

/// Whether `id` — an idempotency key or a review ticket from a URL path — could name something
/// this node keeps: 1 to `max` visible ASCII characters, as every key and ticket it issues or
/// accepts is. Anything else cannot exist, so it is answered as not found without a lookup (the
/// store would refuse it as invalid input, which is not the client's concern) and without being
/// quoted back.
pub(crate) fn could_exist(id: &str, max: usize) -> bool {
    !id.is_empty() && id.len() <= max && id.bytes().all(|b| b.is_ascii_graphic())
}

/// Runs a provider's answer to the end on its own task, and waits for it: once its request id
/// is claimed, an answer is decided, recorded and kept even if the requesting node hangs up
/// (its handler is dropped with the connection), so that node, asking again under the same id,
/// gets the answer kept rather than a claimed id that was never answered.
pub(crate) async fn to_the_end<T: Send + 'static>(
    answering: impl std::future::Future<Output = Result<T, ExchangeError>> + Send + 'static,
) -> Result<T, ExchangeError> {
    tokio::spawn(answering)
        .await
        .map_err(|e| ExchangeError::Internal(format!("answering stopped: {e}")))?
}

/// A vouching as the rulebook's request and the audit trail carry it.
pub(crate) fn rules_vouching(by: &utbyte_api::access::VouchedBy) -> utbyte_rules::VouchedBy {
    utbyte_rules::VouchedBy {
        client: by.client.clone(),
        vouch: by.vouch.as_str().to_owned(),
    }
}
