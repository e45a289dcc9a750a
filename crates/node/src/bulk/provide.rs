//! The provider's side of a bulk: one part at a time, each answered as its subjects' own
//! requests would be, at bulk speed.
//!
//! A part is checked as a request is — a listed member's certificate, `sent_at` within the
//! window, its id (`{bulk_id}-{first}`) claimed against replay — and its texts and fields once.
//! Each subject is checked as a request's subject; the register says whether it has protected
//! identity; the rulebook decides once per kind of subject (person or organisation, protected
//! or not), since nothing else of the subject enters a decision; only disclosed fields are
//! read. Runs of up to 256 of the part's subjects decided alike are each recorded as one ledger
//! entry before anything is sent, and the signed answer is kept under the part's id, so the
//! same part asked again — a requesting node resuming after a broken connection — gets the same
//! answer, with nothing decided, read or recorded again.

use std::collections::{BTreeMap, HashMap};
use std::sync::Arc;

use sha2::{Digest, Sha256};
use time::format_description::well_known::Rfc3339;
use time::OffsetDateTime;
use tokio::task::JoinSet;
use utbyte_audit::BulkRef;
use utbyte_domain::SubjectId;
use utbyte_federation::Jws;
use utbyte_pki::NodeIdentity;
use utbyte_store::{KeptAnswer, KeptStatus, Register};

use super::protocol::{
    part_request_id, run_digest, BulkPartRequest, PartAnswer, PartDecision, PartRecord, PartRun,
    BULK_ANSWER_TYPE, MAX_PART,
};
use crate::exchange::answer::{
    abandoned, kept_answer, subject_identifier, undecided, verdicts, REQUEST_WINDOW,
};
use crate::exchange::checked::peer_request;
use crate::exchange::{CheckedAsk, ExchangeError};
use crate::protocol::{AnswerStatus, ExchangeRequest};
use crate::records::{answer_event, requester, ExchangeFacts};
use crate::state::NodeState;
use utbyte_api::Outcome;

/// Answers one part of `peer`'s bulk.
pub(crate) async fn answer_part(
    state: &Arc<NodeState>,
    peer: &NodeIdentity,
    incoming: BulkPartRequest,
    now: OffsetDateTime,
) -> Result<Jws, ExchangeError> {
    let ctx = state.exchange_context()?;
    let member = ctx.listed_member(peer)?.clone();
    let sent_at = OffsetDateTime::parse(&incoming.sent_at, &Rfc3339).map_err(|_| {
        ExchangeError::InvalidText {
            field: "sent_at",
            detail: "`sent_at` is not an RFC 3339 date-time".into(),
        }
    })?;
    check_bulk_id(&incoming.bulk_id)?;
    if incoming.subjects.is_empty() || incoming.subjects.len() > MAX_PART {
        return Err(ExchangeError::InvalidText {
            field: "subjects",
            detail: format!("a part carries 1 to {MAX_PART} subjects"),
        });
    }
    let request_id = part_request_id(&incoming.bulk_id, incoming.first);
    let hash = part_hash(&incoming)?;
    if (now - sent_at).abs() > REQUEST_WINDOW {
        if let Some(again) = answer_again(state, &member.authority, &request_id, &hash).await? {
            return Ok(again);
        }
        return Err(ExchangeError::Stale(format!(
            "sent_at {} is more than {} minutes from this node's clock",
            incoming.sent_at,
            REQUEST_WINDOW.whole_minutes()
        )));
    }
    let asked = CheckedAsk::check(peer_request(&member.authority, &as_request(&incoming), now))?;
    let mut subjects = Vec::with_capacity(incoming.subjects.len());
    for (n, id) in (incoming.first..).zip(&incoming.subjects) {
        let subject = asked
            .subject(id)
            .map_err(|e| ExchangeError::InvalidSubject(format!("subject {n} of the bulk: {e}")))?;
        subjects.push(subject);
    }
    let offering = asked.request().offering.clone();
    let published = ctx
        .rulebook
        .vocabulary
        .offerings
        .get(&offering)
        .is_some_and(|o| o.provider == state.authority);
    let register = state
        .registers
        .get(&offering)
        .filter(|_| published)
        .cloned()
        .ok_or_else(|| {
            ExchangeError::OfferingNotHere(format!(
                "`{}` does not publish offering `{offering}`",
                state.authority
            ))
        })?;
    let remembered = state.recovery.retention().max(REQUEST_WINDOW * 2);
    let fresh = state
        .exchange
        .claim_request_id(&member.authority, &request_id, now, now - remembered)
        .await?;
    if !fresh {
        if let Some(again) = answer_again(state, &member.authority, &request_id, &hash).await? {
            return Ok(again);
        }
        if !abandoned(state, &member.authority, &request_id, now).await? {
            return Err(ExchangeError::Replayed(format!(
                "part {request_id} from `{}` has been received before with another body, or is being answered; nothing was decided or disclosed again",
                member.authority
            )));
        }
    }
    let decided = match decide(state, &ctx, &asked, register.as_ref(), &subjects).await {
        Ok(decided) => decided,
        Err(err) => return undecided(state, &member.authority, &request_id, err).await,
    };
    let mut answer = PartAnswer {
        bulk_id: incoming.bulk_id.clone(),
        first: incoming.first,
        provider: state.authority.clone(),
        recipient: member.authority.clone(),
        offering,
        rulebook_sha256: ctx.rulebook.hash().to_owned(),
        decided_at: now.format(&Rfc3339).unwrap_or_default(),
        decisions: decided.decisions,
        runs: Vec::new(),
        records: decided.records,
    };
    answer.runs = record_runs(state, &ctx, &asked, &answer, &subjects, &decided.of).await?;
    let payload =
        serde_json::to_vec(&answer).map_err(|e| ExchangeError::Internal(e.to_string()))?;
    let signed = Jws::sign(&payload, BULK_ANSWER_TYPE, &state.answer_key);
    let kept = KeptAnswer {
        request_hash: hash,
        status: KeptStatus::Answered,
        answer_json: serde_json::to_string(&signed)
            .map_err(|e| ExchangeError::Internal(e.to_string()))?,
    };
    state
        .exchange
        .keep_answer(&member.authority, &request_id, &kept)
        .await?;
    let held = answer
        .runs
        .iter()
        .filter(|r| answer.decisions[r.decision as usize].status == AnswerStatus::Review)
        .map(|r| r.members.len() as u64)
        .sum::<u64>();
    state
        .metrics
        .bulk_subjects("answered", subjects.len() as u64 - held);
    state.metrics.bulk_subjects("held", held);
    tracing::info!(
        bulk = %answer.bulk_id,
        first = answer.first,
        subjects = subjects.len(),
        held,
        recipient = %answer.recipient,
        offering = %answer.offering,
        entries = answer.runs.len(),
        "bulk part answered"
    );
    Ok(signed)
}

/// The part's request as one request of it would read, without a subject.
fn as_request(incoming: &BulkPartRequest) -> ExchangeRequest {
    ExchangeRequest {
        request_id: part_request_id(&incoming.bulk_id, incoming.first),
        sent_at: incoming.sent_at.clone(),
        unit: incoming.unit.clone(),
        role: incoming.role.clone(),
        officer: incoming.officer.clone(),
        vouched_by: incoming.vouched_by.clone(),
        offering: incoming.offering.clone(),
        fields: incoming.fields.clone(),
        purpose: incoming.purpose.clone(),
        legal_basis: incoming.legal_basis.clone(),
        case_ref: incoming.case_ref.clone(),
        operation: incoming.operation.clone(),
        subject: String::new(),
    }
}

/// What the subjects of a part were told, and which decision each got.
struct Decided {
    decisions: Vec<PartDecision>,
    records: Vec<PartRecord>,
    of: Vec<u32>,
}

/// Decides each subject: the register asked once for every subject's protected identity, the
/// rulebook once per kind of subject, then the disclosed fields read for the subjects of each
/// decision that discloses any, in as few reads as the register can make them.
async fn decide(
    state: &NodeState,
    ctx: &crate::state::Exchange,
    asked: &CheckedAsk,
    register: &dyn Register,
    subjects: &[SubjectId],
) -> Result<Decided, ExchangeError> {
    let read = |e: utbyte_store::StoreError| ExchangeError::Register(e.to_string());
    let _timed = crate::metrics::Metrics::time(&state.metrics.register_fetch);
    let protected = register
        .protected_identities(subjects)
        .await
        .map_err(read)?;
    let mut kinds: HashMap<(&'static str, bool), u32> = HashMap::new();
    let mut decisions: Vec<PartDecision> = Vec::new();
    let mut of = Vec::with_capacity(subjects.len());
    for (subject, protected) in subjects.iter().zip(protected) {
        let kind = (utbyte_rules::subject_kind(subject), protected);
        let index = match kinds.get(&kind) {
            Some(index) => *index,
            None => {
                let checked = asked
                    .with_subject(*subject)
                    .with_protected_identity(protected);
                let decision = ctx.rulebook.decide(checked.request())?;
                let status = if decision.overall() == utbyte_rules::Outcome::Review {
                    AnswerStatus::Review
                } else {
                    AnswerStatus::Answered
                };
                decisions.push(PartDecision {
                    status,
                    fields: verdicts(&decision),
                });
                let index = (decisions.len() - 1) as u32;
                kinds.insert(kind, index);
                index
            }
        };
        of.push(index);
    }
    let mut records: Vec<PartRecord> = subjects
        .iter()
        .map(|s| PartRecord {
            subject: s.as_str().to_owned(),
            values: BTreeMap::new(),
        })
        .collect();
    for (index, decision) in decisions.iter().enumerate() {
        if decision.status != AnswerStatus::Answered {
            continue;
        }
        let fields: Vec<&str> = decision
            .fields
            .iter()
            .filter(|v| v.outcome == Outcome::Disclose)
            .map(|v| v.field.as_str())
            .collect();
        if fields.is_empty() {
            continue;
        }
        let at: Vec<usize> = (0..subjects.len())
            .filter(|n| of[*n] as usize == index)
            .collect();
        let these: Vec<SubjectId> = at.iter().map(|n| subjects[*n]).collect();
        let read_back = register
            .fetch_many(&asked.request().offering, &these, &fields)
            .await
            .map_err(read)?;
        for (n, record) in at.into_iter().zip(read_back) {
            // The register promises to return only what was asked; the node does not rely on it.
            records[n].values = record
                .into_fields()
                .into_iter()
                .filter(|(field, _)| fields.contains(&field.as_str()))
                .collect();
        }
    }
    Ok(Decided {
        decisions,
        records,
        of,
    })
}

/// Records the part's runs — up to 256 of its subjects decided alike, each one ledger entry —
/// all at once (the ledger commits them together), before the answer is signed.
async fn record_runs(
    state: &Arc<NodeState>,
    ctx: &crate::state::Exchange,
    asked: &CheckedAsk,
    answer: &PartAnswer,
    subjects: &[SubjectId],
    of: &[u32],
) -> Result<Vec<PartRun>, ExchangeError> {
    let request = asked.request();
    let facts = ExchangeFacts {
        actor: requester(request),
        provider: &state.authority,
        request,
        rulebook_sha256: ctx.rulebook.hash(),
    };
    // The part's subjects grouped by how they were decided, in order, up to 256 a run.
    let mut groups: Vec<Vec<u32>> = vec![Vec::new(); answer.decisions.len()];
    for (n, decision) in of.iter().enumerate() {
        groups[*decision as usize].push(n as u32);
    }
    let mut runs = Vec::new();
    let mut appends = JoinSet::new();
    for (decision, members) in groups.iter().enumerate() {
        for members in members.chunks(RUN) {
            let told = &answer.decisions[decision];
            let sha256 = run_digest(
                &answer.bulk_id,
                answer.first,
                members,
                told,
                &answer.records,
            )?;
            let event = if told.status == AnswerStatus::Review {
                utbyte_audit::EventKind::ReviewRequest
            } else {
                answer_event(&told.fields)
            };
            let mut record = facts.record(event, &told.fields, Some(&sha256), None);
            record.bulk = Some(BulkRef {
                count: members.len() as u32,
                first: answer.first,
                id: answer.bulk_id.clone(),
            });
            let committed = members
                .iter()
                .map(|m| subject_identifier(&subjects[*m as usize]))
                .collect::<Result<Vec<_>, _>>()?;
            let task_state = Arc::clone(state);
            let at = runs.len();
            appends.spawn(async move {
                let receipt = task_state.record(record, committed).await?;
                Ok::<_, ExchangeError>((at, receipt))
            });
            runs.push(PartRun {
                members: members.to_vec(),
                decision: decision as u32,
                sha256,
                receipt: crate::protocol::Receipt {
                    ledger: String::new(),
                    index: 0,
                    tree_size: 0,
                    root: String::new(),
                },
            });
        }
    }
    let mut recorded = 0;
    while let Some(joined) = appends.join_next().await {
        let (at, receipt) =
            joined.map_err(|e| ExchangeError::Audit(format!("recording stopped: {e}")))??;
        runs[at].receipt = state.receipt(&receipt);
        recorded += 1;
    }
    if recorded != runs.len() {
        return Err(ExchangeError::Audit("a run was not recorded".into()));
    }
    Ok(runs)
}

/// The most subjects one ledger entry records (a record's limit of subjects).
const RUN: usize = utbyte_audit::record::MAX_ITEMS;

/// SHA-256 (hex) of a part without its `sent_at`: what makes a part asked again the same part.
fn part_hash(incoming: &BulkPartRequest) -> Result<String, ExchangeError> {
    let unsent = BulkPartRequest {
        sent_at: String::new(),
        ..incoming.clone()
    };
    let bytes = serde_json::to_vec(&unsent).map_err(|e| ExchangeError::Internal(e.to_string()))?;
    Ok(hex::encode(Sha256::digest(bytes)))
}

/// The answer kept for this very part, if it was answered.
async fn answer_again(
    state: &NodeState,
    peer: &str,
    request_id: &str,
    hash: &str,
) -> Result<Option<Jws>, ExchangeError> {
    Ok(kept_answer(state, peer, request_id, hash)
        .await?
        .map(|(_, signed)| signed))
}

/// A bulk id: 16 to 40 ASCII letters, digits or dashes (with the first subject's place it is a
/// request id).
fn check_bulk_id(id: &str) -> Result<(), ExchangeError> {
    if (16..=40).contains(&id.len()) && id.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-') {
        Ok(())
    } else {
        Err(ExchangeError::InvalidText {
            field: "bulk_id",
            detail: "`bulk_id` must be 16 to 40 ASCII letters, digits or dashes".into(),
        })
    }
}
