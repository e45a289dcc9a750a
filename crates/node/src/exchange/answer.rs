//! The provider's side of an exchange. For each request: the peer must be a listed, unrevoked
//! member (its certificate names it); the request is checked and its id claimed (a replay is
//! refused); the rulebook decides field by field; only the disclosed fields are read from the
//! register; the decision is recorded in the ledger (refusals too) before anything is sent; and
//! the answer is signed with a receipt naming that ledger entry. A request routed to review is
//! queued and answered with a signed ticket.
//!
//! Every signed answer is kept with its request id (for `[recovery] answer_retention_hours`)
//! before it is sent. The same request asked again under that id — a recipient recovering an
//! exchange its crash interrupted — gets the same answer and status, even once its `sent_at`
//! is outside the window; nothing is decided, read or recorded again. A known id with another
//! body, or one being answered, is still a replay. A claim never answered is released when the
//! request could not be decided, and taken over once it is older than `[recovery]
//! grace_seconds` (its node stopped before answering): the same request asked again is then
//! decided afresh.

use super::{CheckedRequest, ExchangeError};
use crate::metrics::Metrics;
use crate::observe;
use crate::protocol::{Answer, AnswerStatus, ExchangeRequest, FieldVerdict, SealedAnswer};
use crate::records::{answer_event, requester, ExchangeFacts};
use crate::review::ReviewCase;
use crate::state::NodeState;
use serde_json::Value;
use sha2::{Digest, Sha256};
use std::collections::BTreeMap;
use time::format_description::well_known::Rfc3339;
use time::{Duration, OffsetDateTime};
use utbyte_api::reviews::{Candidate, ReviewField};
use utbyte_api::{Ground, Outcome};
use utbyte_audit::{EventKind, SubjectIdentifier};
use utbyte_domain::SubjectId;
use utbyte_federation::Jws;
use utbyte_pki::NodeIdentity;
use utbyte_rules::Decision;
use utbyte_store::{KeptAnswer, KeptStatus, KnownRequest, NewReview, Register};

/// How far a request's `sent_at` may be from the provider's clock. Request ids are remembered
/// for twice as long, so a replay is caught whichever way it arrives.
pub(crate) const REQUEST_WINDOW: Duration = Duration::minutes(5);

/// A signed answer, and whether it is final or a ticket for review.
pub(crate) struct Answered {
    pub status: AnswerStatus,
    pub signed: Jws,
}

/// Answers `peer`'s request.
pub(crate) async fn answer(
    state: &NodeState,
    peer: &NodeIdentity,
    incoming: ExchangeRequest,
    now: OffsetDateTime,
) -> Result<Answered, ExchangeError> {
    let _timed = Metrics::time(&state.metrics.provider_decision);
    let ctx = state.exchange_context()?;
    let member = ctx.listed_member(peer)?;
    let sent_at = OffsetDateTime::parse(&incoming.sent_at, &Rfc3339).map_err(|_| {
        ExchangeError::InvalidText {
            field: "sent_at",
            detail: "`sent_at` is not an RFC 3339 date-time".into(),
        }
    })?;
    check_request_id(&incoming.request_id)?;
    let request_hash = request_hash(&incoming)?;
    if (now - sent_at).abs() > REQUEST_WINDOW {
        // A request answered before is answered again however old it is: the recipient is
        // recovering an exchange it lost, and it gets nothing it was not given then.
        if let Some(again) = answer_again(
            state,
            &member.authority,
            &incoming.request_id,
            &request_hash,
        )
        .await?
        {
            return Ok(again);
        }
        return Err(ExchangeError::Stale(format!(
            "sent_at {} is more than {} minutes from this node's clock",
            incoming.sent_at,
            REQUEST_WINDOW.whole_minutes()
        )));
    }
    let checked = CheckedRequest::from_peer(&member.authority, &incoming, now)?;
    let offering = &checked.request().offering;
    let published = ctx
        .rulebook
        .vocabulary
        .offerings
        .get(offering)
        .is_some_and(|o| o.provider == state.authority);
    let register = state
        .registers
        .get(offering)
        .filter(|_| published)
        .ok_or_else(|| {
            ExchangeError::OfferingNotHere(format!(
                "`{}` does not publish offering `{offering}`",
                state.authority
            ))
        })?;
    // The replay claim is made durable while the register is read and the rulebook decides:
    // nothing is recorded or sent before the claim is known to be fresh.
    // Ids are remembered, with their answers, for as long as recipients may recover; never
    // less than twice the window, so a replay is caught whichever way its clock is off.
    let remembered = state.recovery.retention().max(REQUEST_WINDOW * 2);
    let claim = state.exchange.claim_request_id(
        &member.authority,
        &incoming.request_id,
        now,
        now - remembered,
    );
    let decide = async {
        let protected = register
            .protected_identity(checked.subject())
            .await
            .map_err(|e| ExchangeError::Register(e.to_string()))?;
        let checked = checked.clone().with_protected_identity(protected);
        let decision = ctx.rulebook.decide(checked.request())?;
        let verdicts = verdicts(&decision);
        let values = if decision.overall() == utbyte_rules::Outcome::Review {
            BTreeMap::new()
        } else {
            let _timed = Metrics::time(&state.metrics.register_fetch);
            disclosed_values(register.as_ref(), &checked, &verdicts).await?
        };
        Ok::<_, ExchangeError>((checked, decision, verdicts, values))
    };
    let (fresh, decided) = tokio::join!(claim, decide);
    if !fresh? {
        if let Some(again) = answer_again(
            state,
            &member.authority,
            &incoming.request_id,
            &request_hash,
        )
        .await?
        {
            return Ok(again);
        }
        if !abandoned(state, &member.authority, &incoming.request_id, now).await? {
            return Err(ExchangeError::Replayed(format!(
                "request id {} from `{}` has been received before with another body, or is being answered; nothing was decided or disclosed again",
                incoming.request_id, member.authority
            )));
        }
    }
    let (checked, decision, verdicts, values) = match decided {
        Ok(decided) => decided,
        Err(err) => return undecided(state, &member.authority, &incoming.request_id, err).await,
    };
    let request = checked.request();
    let facts = ExchangeFacts {
        actor: requester(request),
        provider: &state.authority,
        request,
        rulebook_sha256: ctx.rulebook.hash(),
    };
    let subjects = vec![subject_identifier(checked.subject())?];
    let mut answer = Answer {
        request_id: incoming.request_id.clone(),
        provider: state.authority.clone(),
        recipient: member.authority.clone(),
        offering: request.offering.clone(),
        subject: checked.subject().as_str().to_owned(),
        status: AnswerStatus::Answered,
        ticket: None,
        values: BTreeMap::new(),
        fields: verdicts,
        rulebook_sha256: ctx.rulebook.hash().to_owned(),
        decided_at: now.format(&Rfc3339).unwrap_or_default(),
    };
    if decision.overall() == utbyte_rules::Outcome::Review {
        let ticket = new_id()?;
        answer.status = AnswerStatus::Review;
        answer.ticket = Some(ticket.clone());
        let sealed = SealedAnswer::new(&answer)?;
        let record = facts.record(
            EventKind::ReviewRequest,
            &answer.fields,
            Some(&sealed.sha256),
            None,
        );
        let receipt = state.record(record, subjects).await?;
        observe::decided(state, &answer, receipt.index);
        let case = ReviewCase {
            request: request.clone(),
            request_id: incoming.request_id,
            fields: review_fields(&decision),
        };
        let batch = crate::review_batch::batch_of(&member.authority, checked.subject(), &case);
        state
            .exchange
            .enqueue_review(&NewReview {
                ticket,
                requester: member.authority.clone(),
                request_id: case.request_id.clone(),
                request_json: to_json(&case)?,
                decision_json: to_json(&answer.fields)?,
                ledger_index: receipt.index,
                created_at: now,
                batch,
            })
            .await?;
        let signed = sealed.sign(&state.receipt(&receipt), &state.answer_key)?;
        let answered = Answered {
            status: AnswerStatus::Review,
            signed,
        };
        keep(
            state,
            &member.authority,
            &case.request_id,
            request_hash,
            &answered,
        )
        .await?;
        return Ok(answered);
    }
    answer.values = values;
    let sealed = SealedAnswer::new(&answer)?;
    let record = facts.record(
        answer_event(&answer.fields),
        &answer.fields,
        Some(&sealed.sha256),
        None,
    );
    let receipt = state.record(record, subjects).await?;
    observe::decided(state, &answer, receipt.index);
    let signed = sealed.sign(&state.receipt(&receipt), &state.answer_key)?;
    let answered = Answered {
        status: AnswerStatus::Answered,
        signed,
    };
    keep(
        state,
        &member.authority,
        &incoming.request_id,
        request_hash,
        &answered,
    )
    .await?;
    Ok(answered)
}

/// SHA-256 (hex) of a request as the provider answers it, without its `sent_at`: a recipient
/// asking again sends the original time, but only to the second, and what makes it the same
/// request is what it asks for.
pub(crate) fn request_hash(request: &ExchangeRequest) -> Result<String, ExchangeError> {
    let unsent = ExchangeRequest {
        sent_at: String::new(),
        ..request.clone()
    };
    Ok(hex::encode(Sha256::digest(to_json(&unsent)?)))
}

/// The answer kept for `request_id` from `peer`, if this very request was answered: the same
/// signed answer and status, with no new decision and no new ledger entry.
async fn answer_again(
    state: &NodeState,
    peer: &str,
    request_id: &str,
    request_hash: &str,
) -> Result<Option<Answered>, ExchangeError> {
    Ok(kept_answer(state, peer, request_id, request_hash)
        .await?
        .map(|(status, signed)| Answered {
            status: match status {
                KeptStatus::Answered => AnswerStatus::Answered,
                KeptStatus::Review => AnswerStatus::Review,
            },
            signed,
        }))
}

/// The signed answer kept for `request_id` from `peer` and its status, if the request with
/// this hash was answered: what a request (or a bulk's part) asked again is given.
pub(crate) async fn kept_answer(
    state: &NodeState,
    peer: &str,
    request_id: &str,
    request_hash: &str,
) -> Result<Option<(KeptStatus, Jws)>, ExchangeError> {
    let Some(KnownRequest::Answered(kept)) = state.exchange.known_request(peer, request_id).await?
    else {
        return Ok(None);
    };
    if kept.request_hash != request_hash {
        return Ok(None);
    }
    let signed: Jws = serde_json::from_str(&kept.answer_json)
        .map_err(|e| ExchangeError::Internal(format!("kept answer unreadable: {e}")))?;
    Ok(Some((kept.status, signed)))
}

/// Keeps a signed answer with its request id before it is sent, so that every answer that
/// leaves can be given again to a recipient recovering from a crash.
async fn keep(
    state: &NodeState,
    peer: &str,
    request_id: &str,
    request_hash: String,
    answered: &Answered,
) -> Result<(), ExchangeError> {
    let kept = KeptAnswer {
        request_hash,
        status: match answered.status {
            AnswerStatus::Answered => KeptStatus::Answered,
            AnswerStatus::Review => KeptStatus::Review,
        },
        answer_json: to_json(&answered.signed)?,
    };
    Ok(state.exchange.keep_answer(peer, request_id, &kept).await?)
}

fn to_json<T: serde::Serialize>(value: &T) -> Result<String, ExchangeError> {
    serde_json::to_string(value).map_err(|e| ExchangeError::Internal(e.to_string()))
}

/// The values of the disclosed fields, read from the register; nothing else is read.
pub(crate) async fn disclosed_values(
    register: &dyn Register,
    checked: &CheckedRequest,
    verdicts: &[FieldVerdict],
) -> Result<BTreeMap<String, Value>, ExchangeError> {
    let disclosed: Vec<&str> = verdicts
        .iter()
        .filter(|v| v.outcome == Outcome::Disclose)
        .map(|v| v.field.as_str())
        .collect();
    if disclosed.is_empty() {
        return Ok(BTreeMap::new());
    }
    let record = register
        .fetch(&checked.request().offering, checked.subject(), &disclosed)
        .await
        .map_err(|e| ExchangeError::Register(e.to_string()))?;
    // The register promises to return only what was asked; the node does not rely on it.
    Ok(record
        .map(|r| r.into_fields())
        .unwrap_or_default()
        .into_iter()
        .filter(|(field, _)| disclosed.contains(&field.as_str()))
        .collect())
}

/// The rulebook's outcome as the API states it.
pub(crate) fn outcome(outcome: utbyte_rules::Outcome) -> Outcome {
    match outcome {
        utbyte_rules::Outcome::Disclose => Outcome::Disclose,
        utbyte_rules::Outcome::Review => Outcome::Review,
        utbyte_rules::Outcome::Refuse => Outcome::Refuse,
    }
}

/// The rulebook's ground as the API states it.
fn ground(ground: utbyte_rules::Ground) -> Ground {
    use utbyte_rules::Ground as G;
    match ground {
        G::PreAssessed => Ground::PreAssessed,
        G::Provision => Ground::Provision,
        G::NeedsAssessment => Ground::NeedsAssessment,
        G::ForcedReview => Ground::ForcedReview,
        G::EvaluationError => Ground::EvaluationError,
        G::Forbidden => Ground::Forbidden,
        G::NoLegalBasis => Ground::NoLegalBasis,
        G::UnknownOffering => Ground::UnknownOffering,
        G::UnknownField => Ground::UnknownField,
        G::UnknownPurpose => Ground::UnknownPurpose,
        G::UnknownLegalBasis => Ground::UnknownLegalBasis,
        G::UnknownOperation => Ground::UnknownOperation,
        G::NotInForce => Ground::NotInForce,
        G::NoCompetence => Ground::NoCompetence,
    }
}

/// The decision as the recipient is told it: per field the outcome, its ground, and every
/// provision it rests on (for a field under review, also those a reviewer may disclose under).
pub(crate) fn verdicts(decision: &Decision) -> Vec<FieldVerdict> {
    decision
        .fields
        .iter()
        .map(|f| FieldVerdict {
            field: f.field.clone(),
            outcome: outcome(f.outcome),
            ground: ground(f.ground),
            citations: citations(f),
            reason: None,
        })
        .collect()
}

/// A field's citations, each once, determining policies first.
fn citations(field: &utbyte_rules::FieldDecision) -> Vec<String> {
    let mut out: Vec<String> = Vec::new();
    for cited in field.citations() {
        let text = cited.citation.to_string();
        if !out.contains(&text) {
            out.push(text);
        }
    }
    out
}

pub(crate) fn review_fields(decision: &Decision) -> Vec<ReviewField> {
    decision
        .fields
        .iter()
        .map(|f| ReviewField {
            field: f.field.clone(),
            outcome: outcome(f.outcome),
            ground: ground(f.ground),
            citations: citations(f),
            candidates: f
                .candidates
                .iter()
                .map(|c| Candidate {
                    policy: c.id.clone(),
                    citation: c.citation.to_string(),
                    title: c.citation.title.clone(),
                    weigh: c.weigh.clone(),
                    pre_assessment: c.pre_assessment.clone(),
                })
                .collect(),
        })
        .collect()
}

/// The subject as the ledger's subject index takes it.
/// Whether a request id claimed before but never answered may be answered now: the node that
/// claimed it stopped before answering (it was claimed longer ago than `[recovery]
/// grace_seconds`, which outlasts any live answer), so the claim is taken over — by one
/// taker-over only. What that node recorded before it stopped never left it.
pub(crate) async fn abandoned(
    state: &NodeState,
    peer: &str,
    request_id: &str,
    now: OffsetDateTime,
) -> Result<bool, ExchangeError> {
    Ok(state
        .exchange
        .reclaim_request_id(peer, request_id, now - state.recovery.grace(), now)
        .await?)
}

/// A request claimed but not decided (the register could not be read, the request is not one
/// the rulebook can decide): its claim is released, so the same request asked again under its
/// id — a recipient recovering, or the next try of a bulk's part — is decided afresh rather
/// than refused as a replay. Nothing was recorded or sent.
pub(crate) async fn undecided<T>(
    state: &NodeState,
    peer: &str,
    request_id: &str,
    err: ExchangeError,
) -> Result<T, ExchangeError> {
    if let Err(release) = state.exchange.release_request_id(peer, request_id).await {
        tracing::warn!(%release, "the claim of a request not decided could not be released");
    }
    Err(err)
}

pub(crate) fn subject_identifier(subject: &SubjectId) -> Result<SubjectIdentifier, ExchangeError> {
    SubjectIdentifier::new(subject.as_str()).map_err(|e| ExchangeError::Internal(e.to_string()))
}

fn check_request_id(id: &str) -> Result<(), ExchangeError> {
    if (16..=64).contains(&id.len()) && id.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-') {
        Ok(())
    } else {
        Err(ExchangeError::InvalidText {
            field: "request_id",
            detail: "`request_id` must be 16 to 64 ASCII letters, digits or dashes".into(),
        })
    }
}

/// A fresh random id (128 bits, hex): request ids and review tickets.
pub(crate) fn new_id() -> Result<String, ExchangeError> {
    let mut bytes = [0u8; 16];
    getrandom::fill(&mut bytes)
        .map_err(|e| ExchangeError::Internal(format!("no randomness: {e}")))?;
    Ok(hex::encode(bytes))
}
