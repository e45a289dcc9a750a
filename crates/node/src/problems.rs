//! Every problem a node answers with, by type. `docs/problems.md` lists them for client authors.

pub use utbyte_http::problem::types::{
    BODY_TOO_LARGE, INTERNAL, MALFORMED_BODY, NOT_FOUND, UNSUPPORTED_MEDIA_TYPE,
};
use utbyte_http::problem_type as problem;

problem!(
    NO_CONFIGURATION,
    "federation-config-missing",
    503,
    "This node has no federation configuration yet"
);
problem!(
    CONFIGURATION_EXPIRED,
    "federation-config-expired",
    503,
    "The federation configuration has expired; exchanges are stopped"
);
problem!(
    NOT_A_MEMBER,
    "not-a-member",
    403,
    "The peer's certificate is not one the federation configuration lists"
);
problem!(
    MESSAGE_REFUSED,
    "message-refused",
    422,
    "The recipient's node does not take this message"
);
problem!(NO_SUCH_MESSAGE, "no-such-message", 404, "No such message");
problem!(
    SUBSCRIPTION_ID_USED,
    "subscription-id-used",
    409,
    "This subscription id was used before with another request"
);
problem!(
    NO_SUCH_SUBSCRIPTION,
    "no-such-subscription",
    404,
    "No such subscription"
);
problem!(
    INVALID_REQUEST,
    "invalid-request",
    422,
    "The request is not valid"
);
problem!(
    INVALID_SUBJECT,
    "invalid-subject",
    422,
    "The subject identifier is not valid"
);
problem!(
    STALE_REQUEST,
    "stale-request",
    400,
    "The request was sent too long ago or in the future"
);
problem!(
    REPLAYED_REQUEST,
    "replayed-request",
    409,
    "This request id has been received before"
);
problem!(
    OFFERING_NOT_HERE,
    "offering-not-published",
    404,
    "This node does not publish that offering"
);
problem!(
    UNKNOWN_OFFERING,
    "unknown-offering",
    404,
    "No member publishes that offering"
);
problem!(
    REGISTER_FAILED,
    "register-unavailable",
    503,
    "The register behind the offering did not answer"
);
problem!(
    MISSING_IDEMPOTENCY_KEY,
    "idempotency-key-missing",
    400,
    "An Idempotency-Key header is required"
);
problem!(
    IDEMPOTENCY_CONFLICT,
    "idempotency-key-reused",
    422,
    "The Idempotency-Key was used for a different request"
);
problem!(
    IN_FLIGHT,
    "request-in-flight",
    409,
    "A request with this Idempotency-Key is still being processed"
);
problem!(
    PROVIDER_UNREACHABLE,
    "provider-unreachable",
    502,
    "The provider's node could not be reached"
);
problem!(
    PROVIDER_TLS,
    "provider-tls-failed",
    502,
    "Mutual TLS with the provider's node failed"
);
problem!(
    PROVIDER_REFUSED,
    "provider-refused",
    502,
    "The provider's node refused the request"
);
problem!(
    BAD_ANSWER,
    "provider-answer-invalid",
    502,
    "The provider's answer failed verification and was discarded"
);
problem!(
    REQUEST_FAILED,
    "request-failed",
    502,
    "The exchange ended without an answer"
);
problem!(
    NO_SUCH_REQUEST,
    "request-not-found",
    404,
    "No request with that Idempotency-Key"
);
problem!(
    NO_SUCH_ENTRY,
    "ledger-entry-not-found",
    404,
    "No answer to the caller at that index of this node's ledger"
);
problem!(
    NO_SUCH_REVIEW,
    "review-not-found",
    404,
    "No review with that ticket"
);
problem!(
    NO_SUCH_REVIEW_BATCH,
    "review-batch-not-found",
    404,
    "No pending review in that batch"
);
problem!(
    ALREADY_DECIDED,
    "review-already-decided",
    409,
    "The review has already been decided"
);
problem!(
    BEING_DECIDED,
    "review-being-decided",
    409,
    "Another decision on the review is being recorded"
);
problem!(
    INVALID_REVIEW,
    "invalid-review-decision",
    422,
    "The review decision is not valid"
);
problem!(
    STORE_FAILED,
    "store-failed",
    500,
    "The node could not record the exchange; nothing was sent"
);
problem!(
    AUDIT_FAILED,
    "audit-failed",
    500,
    "The node could not write its audit ledger; nothing was sent"
);
problem!(
    AUDIT_UNREADABLE,
    "audit-ledger-unreadable",
    500,
    "The node could not read its audit ledger"
);
problem!(
    VERIFY_RUNNING,
    "audit-verify-running",
    429,
    "A verification of this ledger is already running"
);
problem!(
    VERIFY_CANCELLED,
    "audit-verify-cancelled",
    503,
    "The verification was stopped because its client went away"
);
problem!(
    AUDIT_BUSY,
    "audit-ledger-busy",
    503,
    "The audit ledger kept growing while it was being verified"
);
problem!(
    DIRECTORY_UNREACHABLE,
    "directory-unreachable",
    502,
    "The directory could not be reached"
);
problem!(
    CALLBACK_NOT_ALLOWED,
    "callback-not-allowed",
    422,
    "The callback URL is not one this node may call"
);
problem!(
    NO_SUCH_CALLBACK,
    "callback-not-found",
    404,
    "No callback notice with that id"
);
problem!(
    CALLBACK_NOT_DEAD,
    "callback-not-dead",
    409,
    "Only a dead callback notice can be replayed"
);
problem!(NOT_READY, "not-ready", 503, "This node cannot exchange now");
problem!(
    UNAUTHENTICATED,
    "unauthenticated",
    401,
    "The caller is not authenticated"
);
problem!(FORBIDDEN, "forbidden", 403, "The caller may not do this");
problem!(
    HOST_NOT_ALLOWED,
    "host-not-allowed",
    421,
    "The Host header names none of this node's local addresses"
);
problem!(
    KEYS_UNAVAILABLE,
    "issuer-keys-unavailable",
    503,
    "The token issuer's keys cannot be read"
);
problem!(
    INVALID_HEADER,
    "invalid-header",
    400,
    "A request header is missing or not what this endpoint takes"
);
problem!(
    TUS_VERSION,
    "tus-version-unsupported",
    412,
    "This node speaks tus 1.0.0 only"
);
problem!(
    UPLOAD_TOO_LARGE,
    "upload-too-large",
    413,
    "The file is larger than this node takes, or beyond the client's quota"
);
problem!(NO_SUCH_UPLOAD, "no-such-upload", 404, "No such upload");
problem!(
    UPLOAD_CONFLICT,
    "upload-conflict",
    409,
    "The upload is not at that offset, or another request is writing it"
);
problem!(
    ATTACHMENTS_INCOMPLETE,
    "attachments-incomplete",
    409,
    "The message's files have not all arrived; send the missing chunks, then the message again"
);
problem!(
    CHUNK_REFUSED,
    "chunk-refused",
    422,
    "The chunk does not match its digest or does not open with its file's key; send it again"
);
problem!(
    ATTACHMENT_QUOTA,
    "attachment-quota-exceeded",
    507,
    "The sender's files not yet whole would hold more than this node keeps for it"
);
problem!(NO_SUCH_BULK, "no-such-bulk", 404, "No bulk has that key");
problem!(
    BULK_OFFSET,
    "bulk-offset",
    409,
    "The subjects do not start where the bulk stands; resume from its `subjects`"
);
