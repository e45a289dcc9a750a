//! Messages between authorities (pattern A): what travels, and how it is sealed.
//!
//! A message has two parts. The [`Envelope`] is what the federation must read to route,
//! refuse or deduplicate it — its id, the sending unit's and the recipient's functional
//! addresses, its kind (a structured notice kind from the rulebook, or free text), the case
//! references, the thread, the key it is sealed for. It holds no personal data and travels and
//! is stored in clear. The [`Content`] — the subjects, the notice's field values, the text — is
//! sealed with HPKE (RFC 9180) for the recipient authority's published message key
//! ([`seal`]), bound to the envelope's exact bytes, and is stored sealed in the sender's outbox
//! and the recipient's inbox alike: only the recipient's node opens it, for its own units.
//!
//! This crate owns the formats and their checks; it does no I/O and knows nothing of the
//! rulebook, the ledger or HTTP. The byte layout is specified in `docs/message-encryption.md`.

pub mod attachment;
mod content;
mod envelope;
pub mod seal;

pub use attachment::{Attachment, AttachmentKey, Transfer};
pub use content::{file_name, Content, ContentError, MAX_SUBJECTS, MAX_TEXT, MAX_VALUES};
pub use envelope::{Address, Envelope, EnvelopeError, Kind, Parcel};
pub use seal::{MessageKey, RecipientKey, SealError};
