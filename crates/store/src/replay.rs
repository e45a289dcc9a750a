//! The provider side's replay guard, as plain data: what a provider keeps about a request id it
//! has claimed, so that the same request asked again (the recipient's node recovering after a
//! crash) gets the same signed answer, while another request under that id is still a replay.

use std::fmt;

use async_trait::async_trait;
use serde::{Deserialize, Serialize};
use time::OffsetDateTime;

use crate::StoreError;

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

/// The provider side's replay guard: the request ids each peer sent recently, with the answers
/// signed for them. Of two claims of one id, exactly one succeeds.
#[async_trait]
pub trait ReplayGuard: Send + Sync {
    /// Remembers that `peer` (an authority id) sent `request_id` at `now`, and forgets the ids
    /// remembered before `forget_before` (a replay that old is refused by its timestamp, not
    /// here), with the answers kept for them. `false` if the pair is still remembered: the request is a replay.
    async fn claim_request_id(
        &self,
        peer: &str,
        request_id: &str,
        now: OffsetDateTime,
        forget_before: OffsetDateTime,
    ) -> Result<bool, StoreError>;

    /// Keeps the answer signed for a request id `peer` claimed, so the same request asked again
    /// gets it again. [`StoreError::NotFound`] if the id is not claimed (it was forgotten
    /// meanwhile); [`StoreError::Duplicate`] if an answer is already kept for it (the kept one
    /// stays).
    async fn keep_answer(
        &self,
        peer: &str,
        request_id: &str,
        answer: &KeptAnswer,
    ) -> Result<(), StoreError>;

    /// Forgets the claim of `request_id` from `peer` if no answer is kept for it: the request
    /// was not decided (the register could not be read, or the rulebook is not loaded), so the
    /// same request asked again under that id is decided afresh rather than refused as a replay.
    /// `false` if there was no such claim, or an answer is kept (the claim stays).
    async fn release_request_id(&self, peer: &str, request_id: &str) -> Result<bool, StoreError>;

    /// Takes over the claim of `request_id` from `peer` if no answer is kept for it and it was
    /// claimed before `claimed_before`: the node that claimed it stopped before answering. The
    /// claim is renewed at `now`, so of two taking it over at once exactly one succeeds.
    /// `false` if there is no such claim, an answer is kept, or the claim is recent.
    async fn reclaim_request_id(
        &self,
        peer: &str,
        request_id: &str,
        claimed_before: OffsetDateTime,
        now: OffsetDateTime,
    ) -> Result<bool, StoreError>;

    /// What the replay guard knows of `request_id` from `peer`: nothing (never claimed, or
    /// forgotten), claimed only, or claimed and answered.
    async fn known_request(
        &self,
        peer: &str,
        request_id: &str,
    ) -> Result<Option<KnownRequest>, StoreError>;
}
