//! The provider side's replay guard, as plain data: what a provider keeps about a request id it
//! has claimed, so that the same request asked again (the recipient's node recovering after a
//! crash) gets the same signed answer, while another request under that id is still a replay.

use std::fmt;

use serde::{Deserialize, Serialize};

/// Whether a kept answer was final or a ticket for review (the HTTP status it went out with).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum KeptStatus {
    /// Decided: full or partial disclosure, or refusal.
    Answered,
    /// Routed to review; the answer carries the ticket.
    Review,
}

impl KeptStatus {
    /// The status's name, as stored.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Answered => "answered",
            Self::Review => "review",
        }
    }

    pub(crate) fn parse(text: &str) -> Option<Self> {
        [Self::Answered, Self::Review]
            .into_iter()
            .find(|status| status.as_str() == text)
    }
}

/// The answer a provider signed for a claimed request id, kept with the id.
#[derive(Clone, PartialEq, Eq)]
pub struct KeptAnswer {
    /// SHA-256 (hex) of the request as answered, computed by the caller: a request under the
    /// same id with another hash is not the one answered.
    pub request_hash: String,
    /// Final or in review.
    pub status: KeptStatus,
    /// The signed answer (a JWS) as JSON. It holds disclosed values, so `Debug` shows its size.
    pub answer_json: String,
}

impl fmt::Debug for KeptAnswer {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("KeptAnswer")
            .field("request_hash", &self.request_hash)
            .field("status", &self.status)
            .field(
                "answer_json",
                &format_args!("<{} bytes of JSON>", self.answer_json.len()),
            )
            .finish()
    }
}

/// What the replay guard knows of a request id.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum KnownRequest {
    /// Claimed, but no answer was kept: the node stopped before signing, or is still deciding.
    Claimed,
    /// Claimed and answered.
    Answered(KeptAnswer),
}
