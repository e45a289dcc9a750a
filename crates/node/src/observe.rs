//! What the node tells its operator about each exchange: one log line, and the matching
//! metrics, per decision and per answer received.
//!
//! A line names the exchange by its request id (random, chosen by the requesting node), the
//! authorities, the offering, how many fields got each outcome, the rulebook (a hash prefix)
//! and the ledger entry that recorded it — enough to find the record, never what it is about:
//! no subject identifier, no disclosed value, no officer, no case reference.

use crate::exchange::AnswerRejected;
use crate::metrics::Side;
use crate::protocol::{Answer, AnswerStatus, FieldVerdict, OpenedAnswer};
use crate::state::NodeState;
use utbyte_api::Outcome;

/// Hex digits of the rulebook hash a line carries: enough to tell versions apart.
const RULEBOOK_PREFIX: usize = 12;

fn count(fields: &[FieldVerdict], outcome: Outcome) -> usize {
    fields.iter().filter(|f| f.outcome == outcome).count()
}

fn rulebook(answer: &Answer) -> &str {
    answer
        .rulebook_sha256
        .get(..RULEBOOK_PREFIX)
        .unwrap_or_default()
}

/// What a decision amounted to, in a word.
fn outcome(answer: &Answer) -> &'static str {
    if answer.status == AnswerStatus::Review {
        "review"
    } else if count(&answer.fields, Outcome::Disclose) > 0 {
        "disclosed"
    } else {
        "refused"
    }
}

/// The provider decided a request by its rulebook (disclosed, refused or routed to review) and
/// recorded it at `ledger_index`.
pub(crate) fn decided(state: &NodeState, answer: &Answer, ledger_index: u64) {
    state.metrics.decided(
        Side::Provider,
        &answer.offering,
        answer.fields.iter().map(|f| f.outcome),
    );
    tracing::info!(
        exchange = %answer.request_id,
        recipient = %answer.recipient,
        offering = %answer.offering,
        outcome = outcome(answer),
        disclose = count(&answer.fields, Outcome::Disclose),
        review = count(&answer.fields, Outcome::Review),
        refuse = count(&answer.fields, Outcome::Refuse),
        rulebook = rulebook(answer),
        ledger_index,
        ticket = answer.ticket.as_deref().unwrap_or_default(),
        "exchange decided"
    );
}

/// A reviewer decided a request routed to review; recorded at `ledger_index`.
pub(crate) fn reviewed(answer: &Answer, ledger_index: u64) {
    tracing::info!(
        exchange = %answer.request_id,
        recipient = %answer.recipient,
        offering = %answer.offering,
        ticket = answer.ticket.as_deref().unwrap_or_default(),
        outcome = outcome(answer),
        disclose = count(&answer.fields, Outcome::Disclose),
        refuse = count(&answer.fields, Outcome::Refuse),
        rulebook = rulebook(answer),
        ledger_index,
        "review decided"
    );
}

/// The consumer verified a provider's answer and recorded its receipt at `ledger_index`.
pub(crate) fn accepted(state: &NodeState, opened: &OpenedAnswer, ledger_index: u64) {
    let (answer, provider_index) = (&opened.answer, opened.receipt.index);
    state.metrics.answer(&answer.offering, true);
    state.metrics.decided(
        Side::Consumer,
        &answer.offering,
        answer.fields.iter().map(|f| f.outcome),
    );
    tracing::info!(
        exchange = %answer.request_id,
        provider = %answer.provider,
        offering = %answer.offering,
        outcome = outcome(answer),
        disclose = count(&answer.fields, Outcome::Disclose),
        review = count(&answer.fields, Outcome::Review),
        refuse = count(&answer.fields, Outcome::Refuse),
        rulebook = rulebook(answer),
        provider_index,
        ledger_index,
        "answer accepted"
    );
}

/// The consumer rejected a provider's answer for `reason` (which names what did not match,
/// never its value).
pub(crate) fn rejected(state: &NodeState, provider: &str, offering: &str, reason: &AnswerRejected) {
    state.metrics.answer(offering, false);
    tracing::warn!(%provider, %offering, %reason, "answer rejected");
}
