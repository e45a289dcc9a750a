//! Applying a reviewer's decision at the provider: the rulebook's verdicts with the reviewer's
//! outcome and written reason on each field under review, the disclosed values read, the
//! decision recorded in the ledger and signed for the requesting node to fetch.

use super::answer::{disclosed_values, subject_identifier};
use super::{CheckedRequest, ExchangeError};
use crate::protocol::{Answer, AnswerStatus, FieldVerdict};
use crate::records::ExchangeFacts;
use crate::review::ReviewCase;
use crate::state::NodeState;
use time::OffsetDateTime;
use utbyte_api::access::VouchedBy;
use utbyte_api::reviews::{ReviewDecisionInput, ReviewField, MAX_REASON};
use utbyte_api::Outcome;
use utbyte_audit::{Actor, AuditRecord, EventKind};
use utbyte_rules::request::MAX_TEXT;
use utbyte_store::{Deciding, ReviewDecided, ReviewState as QueueState, StoredReview};

/// Decides review `ticket` as `input` says: every field under review disclosed or refused with
/// a reason. The decision is recorded in the ledger, then signed and kept for the requesting
/// node to fetch. One decision at a time, and one decider of the ticket among the node's
/// instances, so a ticket is never decided (and audited) twice.
pub(crate) async fn decide(
    state: &NodeState,
    ticket: &str,
    input: &ReviewDecisionInput,
    vouched: &VouchedBy,
    now: OffsetDateTime,
) -> Result<(), ExchangeError> {
    check_texts(input)?;
    let _one_at_a_time = state.review_lock.lock().await;
    crate::review::one_decider(
        state,
        Deciding::Review(ticket),
        record_decision(state, ticket, input, vouched, now),
    )
    .await
}

/// Decides the review, read once the claim on deciding it is held, unless it is decided.
async fn record_decision(
    state: &NodeState,
    ticket: &str,
    input: &ReviewDecisionInput,
    vouched: &VouchedBy,
    now: OffsetDateTime,
) -> Result<(), ExchangeError> {
    let ctx = state.exchange_context()?;
    let review = state
        .exchange
        .review(ticket)
        .await?
        .ok_or_else(|| ExchangeError::NoSuchReview(format!("no review `{ticket}`")))?;
    if review.state == QueueState::Decided {
        return Err(ExchangeError::AlreadyDecided {
            ticket: ticket.to_owned(),
        });
    }
    let case = case_of(&review)?;
    let verdicts = verdicts(&case.fields, input)?;
    // The stored request was checked when it arrived; it is read back from storage, so it is
    // checked again rather than trusted.
    let checked = CheckedRequest::check(case.request.clone())?
        .with_protected_identity(case.request.subject.protected_identity);
    let subject = checked.subject();
    let register = state.registers.get(&case.request.offering).ok_or_else(|| {
        ExchangeError::OfferingNotHere("the offering is no longer served by this node".into())
    })?;
    // A decision recorded by an earlier attempt that stopped before keeping it: its answer is
    // made again as it was (timed as recorded) and, if it is the same, signed with that entry
    // rather than recorded twice.
    let earlier = recorded_decision(state, subject, &review)?;
    let decided_at = earlier.as_ref().map_or_else(
        || utbyte_audit::record::time_of(now),
        |(_, e)| e.time.clone(),
    );
    let mut answer = Answer {
        request_id: case.request_id.clone(),
        provider: state.authority.clone(),
        recipient: case.request.recipient.clone(),
        offering: case.request.offering.clone(),
        subject: subject.as_str().to_owned(),
        status: AnswerStatus::Answered,
        ticket: Some(ticket.to_owned()),
        values: disclosed_values(register.as_ref(), &checked, &verdicts).await?,
        fields: verdicts,
        rulebook_sha256: ctx.rulebook.hash().to_owned(),
        decided_at,
    };
    let mut sealed = crate::protocol::SealedAnswer::new(&answer)?;
    let same = earlier.filter(|(_, e)| e.payload_sha256.as_deref() == Some(sealed.sha256.as_str()));
    if same.is_none() && answer.decided_at != utbyte_audit::record::time_of(now) {
        // Not the answer recorded before (another decision, or the register changed): a new one.
        answer.decided_at = utbyte_audit::record::time_of(now);
        sealed = crate::protocol::SealedAnswer::new(&answer)?;
    }
    let facts = ExchangeFacts {
        actor: Actor {
            authority: state.authority.clone(),
            client: Some(vouched.client.clone()),
            role: input.reviewer.role.clone(),
            unit: input.reviewer.unit.clone(),
            vouch: Some(vouched.vouch.as_str().to_owned()),
        },
        provider: &state.authority,
        request: &case.request,
        rulebook_sha256: ctx.rulebook.hash(),
    };
    let receipt = match same {
        Some((index, _)) => {
            tracing::info!(
                entry = index,
                "a review decision recorded before its node stopped is kept with that entry"
            );
            let (tree_size, root) = state.audit.ledger().head();
            utbyte_ledger::Receipt {
                index,
                tree_size,
                root,
            }
        }
        None => {
            let mut record = facts.record(
                EventKind::ReviewDecision,
                &answer.fields,
                Some(&sealed.sha256),
                Some(review.ledger_index),
            );
            // Timed as the answer is, so an answer cut off before it was kept can be made again.
            record.time = answer.decided_at.clone();
            let receipt = state
                .record(record, vec![subject_identifier(subject)?])
                .await?;
            crate::observe::reviewed(&answer, receipt.index);
            receipt
        }
    };
    let signed = sealed.sign(&state.receipt(&receipt), &state.answer_key)?;
    let decided = ReviewDecided {
        reviewer: input.reviewer.officer.clone(),
        review_json: serde_json::to_string(&answer.fields)
            .map_err(|e| ExchangeError::Internal(e.to_string()))?,
        answer_json: serde_json::to_string(&signed)
            .map_err(|e| ExchangeError::Internal(e.to_string()))?,
        ledger_index: receipt.index,
        decided_at: now,
    };
    state.exchange.decide_review(ticket, &decided).await?;
    Ok(())
}

/// The `review_decision` entry of this ledger for `review`, with its index, if one was
/// recorded: found among the records about its subject back to when the review was queued.
fn recorded_decision(
    state: &NodeState,
    subject: &utbyte_domain::SubjectId,
    review: &StoredReview,
) -> Result<Option<(u64, AuditRecord)>, ExchangeError> {
    // Records made at once are appended in batches, in any order: a little before the review.
    let queued = utbyte_audit::record::time_of(review.created_at - super::ask::RECEIPT_ORDER_SLACK);
    state
        .audit
        .newest_about(&subject_identifier(subject)?, &queued, |record| {
            record.event == EventKind::ReviewDecision
                && record.refers_to == Some(review.ledger_index)
        })
        .map_err(|e| ExchangeError::Audit(e.to_string()))
}

/// Checks every text of the decision — the reviewer and each field and reason — before anything
/// is read: each non-empty, within its size, and without control characters (C0 — line breaks
/// too —, DEL, C1). A reason is recorded, signed and shown to the requester as one line of
/// text; the portal turns a text area's line breaks into spaces before it sends one.
pub(crate) fn check_texts(input: &ReviewDecisionInput) -> Result<(), ExchangeError> {
    let reviewer = [
        ("reviewer.officer", input.reviewer.officer.as_str()),
        ("reviewer.unit", input.reviewer.unit.as_str()),
        ("reviewer.role", input.reviewer.role.as_str()),
    ];
    let fields = input.fields.iter().flat_map(|decided| {
        [
            ("fields[].field", decided.field.as_str(), MAX_TEXT),
            ("fields[].reason", decided.reason.as_str(), MAX_REASON),
        ]
    });
    for (field, value, max) in reviewer
        .into_iter()
        .map(|(field, value)| (field, value, MAX_TEXT))
        .chain(fields)
    {
        let detail = if value.chars().any(char::is_control) {
            format!("`{field}` holds a control character; only printable text is allowed")
        } else if value.trim().is_empty() || value.len() > max {
            format!("`{field}` must be 1 to {max} bytes of text")
        } else {
            continue;
        };
        return Err(ExchangeError::InvalidReviewText { field, detail });
    }
    Ok(())
}

/// The final verdicts: the rulebook's, with the reviewer's decision on each field under review.
pub(crate) fn verdicts(
    fields: &[ReviewField],
    input: &ReviewDecisionInput,
) -> Result<Vec<FieldVerdict>, ExchangeError> {
    let invalid = |m: String| Err(ExchangeError::InvalidReview(m));
    for decided in &input.fields {
        let Some(field) = fields.iter().find(|f| f.field == decided.field) else {
            return invalid(format!("`{}` was not requested", decided.field));
        };
        if field.outcome != Outcome::Review {
            return invalid(format!(
                "`{}` is not under review: the rulebook decided it ({})",
                decided.field, field.outcome
            ));
        }
        if decided.outcome == Outcome::Review {
            return invalid(format!(
                "`{}`: decide `disclose` or `refuse`",
                decided.field
            ));
        }
        if input
            .fields
            .iter()
            .filter(|d| d.field == decided.field)
            .count()
            > 1
        {
            return invalid(format!("`{}` is decided twice", decided.field));
        }
    }
    fields
        .iter()
        .map(|field| {
            let mut verdict = FieldVerdict {
                field: field.field.clone(),
                outcome: field.outcome,
                ground: field.ground,
                citations: field.citations.clone(),
                reason: None,
            };
            if field.outcome == Outcome::Review {
                let decided = input
                    .fields
                    .iter()
                    .find(|d| d.field == field.field)
                    .ok_or_else(|| {
                        ExchangeError::InvalidReview(format!(
                            "`{}` is under review and must be decided",
                            field.field
                        ))
                    })?;
                verdict.outcome = decided.outcome;
                verdict.reason = Some(decided.reason.trim().to_owned());
            }
            Ok(verdict)
        })
        .collect()
}

/// The request a stored review is about.
pub(crate) fn case_of(review: &StoredReview) -> Result<ReviewCase, ExchangeError> {
    serde_json::from_str(&review.request_json)
        .map_err(|e| ExchangeError::Internal(format!("stored review unreadable: {e}")))
}
