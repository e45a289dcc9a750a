//! Every route of the local API, written once: the node routes on these, its OpenAPI document
//! names them, and clients build URLs from them. Axum and OpenAPI share the `{name}` syntax for
//! path parameters.

pub const REQUESTS: &str = "/v1/requests";
pub const REQUEST: &str = "/v1/requests/{key}";
pub const AUTHORITY: &str = "/v1/authority";
pub const OFFERINGS: &str = "/v1/offerings";
pub const OFFERING_OPTIONS: &str = "/v1/offerings/{id}/options";
pub const CATALOG_SEARCH: &str = "/v1/catalog/search";
pub const REVIEWS: &str = "/v1/reviews";
pub const REVIEW: &str = "/v1/reviews/{ticket}";
pub const REVIEW_DECISION: &str = "/v1/reviews/{ticket}/decision";
pub const REVIEW_BATCHES: &str = "/v1/review-batches";
pub const REVIEW_BATCH: &str = "/v1/review-batches/{batch}";
pub const REVIEW_BATCH_REVIEWS: &str = "/v1/review-batches/{batch}/reviews";
pub const REVIEW_BATCH_DECISION: &str = "/v1/review-batches/{batch}/decision";
pub const AUDIT_STATUS: &str = "/v1/audit/status";
pub const AUDIT_VERIFY: &str = "/v1/audit/verify";
pub const AUDIT_SUBJECT: &str = "/v1/audit/subject";
pub const AUDIT_STATS: &str = "/v1/audit/stats";
/// The subscriptions this node granted as a provider.
pub const AUDIT_SUBSCRIPTIONS: &str = "/v1/audit/subscriptions";
pub const AUDIT_RECONCILIATION: &str = "/v1/audit/reconciliation";
pub const AUDIT_RECONCILIATION_FINDINGS: &str = "/v1/audit/reconciliation/findings";
pub const MESSAGES: &str = "/v1/messages";
/// The address book: who takes messages, from the signed federation configuration.
pub const ADDRESSES: &str = "/v1/messages/addresses";
pub const OUTBOX: &str = "/v1/messages/outbox";
pub const OUTBOX_MESSAGE: &str = "/v1/messages/outbox/{id}";
pub const HELD: &str = "/v1/messages/held";
pub const HELD_DECISION: &str = "/v1/messages/held/{id}/decision";
pub const INBOX: &str = "/v1/messages/inbox";
pub const INBOX_MESSAGE: &str = "/v1/messages/inbox/{sender}/{id}";
pub const INBOX_ACCEPT: &str = "/v1/messages/inbox/{sender}/{id}/accept";
/// A received message's attached file `n` (from 0), streamed.
pub const INBOX_ATTACHMENT: &str = "/v1/messages/inbox/{sender}/{id}/attachments/{n}";
/// tus 1.0 uploads of files to attach: created here, written at `UPLOAD`.
pub const UPLOADS: &str = "/v1/uploads";
pub const UPLOAD: &str = "/v1/uploads/{id}";
pub const SUBSCRIPTIONS: &str = "/v1/subscriptions";
pub const SUBSCRIPTION: &str = "/v1/subscriptions/{id}";
pub const SUBSCRIPTION_SUBJECTS: &str = "/v1/subscriptions/{id}/subjects";
pub const SUBSCRIPTION_RENEW: &str = "/v1/subscriptions/{id}/renew";
pub const SUBSCRIPTION_CANCEL: &str = "/v1/subscriptions/{id}/cancel";
/// Bulk exchange: created under the case system's key, subjects uploaded, records read.
pub const BULKS: &str = "/v1/bulk";
pub const BULK: &str = "/v1/bulk/{key}";
pub const BULK_SUBJECTS: &str = "/v1/bulk/{key}/subjects";
pub const BULK_RECORDS: &str = "/v1/bulk/{key}/records";
/// One question to every permitted source (federated search).
pub const SEARCH: &str = "/v1/search";
/// The feed of notices taken from providers: a cursor and long-poll.
pub const NOTICES: &str = "/v1/notices";
/// Where pushing notices to the case system's webhook stands; `POST` re-enables it.
pub const NOTICE_PUSH: &str = "/v1/notices/push";
pub const CALLBACKS: &str = "/v1/callbacks";
pub const CALLBACK_REPLAY: &str = "/v1/callbacks/{id}/replay";
pub const HEALTHZ: &str = "/healthz";
pub const READYZ: &str = "/readyz";
pub const METRICS: &str = "/metrics";
pub const OPENAPI: &str = "/openapi.json";

/// `path` with its one `{parameter}` replaced by `value`, percent-encoded: a key or ticket is
/// chosen by a client and may hold characters a path cannot.
pub fn with(path: &str, value: &str) -> String {
    let Some(open) = path.find('{') else {
        return path.to_owned();
    };
    let close = path[open..].find('}').map_or(path.len(), |c| open + c + 1);
    let mut out = String::with_capacity(path.len() + value.len());
    out.push_str(&path[..open]);
    for byte in value.bytes() {
        if byte.is_ascii_alphanumeric() || b"-._~".contains(&byte) {
            out.push(char::from(byte));
        } else {
            out.push_str(&format!("%{byte:02X}"));
        }
    }
    out.push_str(&path[close..]);
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_parameter_is_replaced_and_encoded() {
        assert_eq!(with(REQUEST, "abc-1"), "/v1/requests/abc-1");
        assert_eq!(
            with(REVIEW_DECISION, "t 1/2"),
            "/v1/reviews/t%201%2F2/decision"
        );
        assert_eq!(with(REQUESTS, "ignored"), "/v1/requests");
    }
}
