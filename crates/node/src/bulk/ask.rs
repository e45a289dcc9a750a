//! The requesting node's side of a bulk: kept under the case system's key, asked of the
//! provider part by part as the subjects arrive, each part's signed answer verified, its
//! receipts recorded and kept before the next part is asked.
//!
//! A part is taken only at the offset the bulk stands at, in one transaction with the bulk's
//! counters: an upload resumed after a broken connection starts where the last part kept
//! ended, so no subject is asked twice or skipped. A part the provider answered whose answer
//! was not kept (the node stopped in between) is asked again under the same id when the upload
//! resumes, and the provider gives the answer it kept, recorded once: its receipts, recorded
//! by the attempt that did not keep it, are found and not recorded again. Subjects the provider
//! held for review are each asked on their own ([`HeldAsks`]), while the next parts are asked,
//! so a reviewer there decides them as ordinary requests — alike but for their subject, as one
//! batch.

use std::collections::{BTreeMap, BTreeSet};
use std::sync::{Arc, Mutex, PoisonError};

use http::{Method, StatusCode};
use serde::{Deserialize, Serialize};
use time::format_description::well_known::Rfc3339;
use time::OffsetDateTime;
use tokio::sync::Semaphore;
use tokio::task::{JoinHandle, JoinSet};
use utbyte_api::access::VouchedBy;
use utbyte_api::bulk::{BulkRecord, BulkRequest, BulkStatus, BulkView};
use utbyte_api::requests::CaseRequest;
use utbyte_api::Outcome;
use utbyte_audit::{BulkRef, EventKind};
use utbyte_domain::SubjectId;
use utbyte_federation::{Jws, Member};
use utbyte_store::{BulkBegun, BulkPart, NewBulk, StoredBulk};

use super::protocol::{run_digest, BulkPartRequest, PartAnswer, BULK_ANSWER_TYPE, BULK_PATH};
use crate::exchange::answer::{new_id, subject_identifier, REQUEST_WINDOW};
use crate::exchange::ask::{call, provider_refused, RECEIPT_ORDER_SLACK};
use crate::exchange::checked::case_request;
use crate::exchange::{AnswerRejected, CheckedAsk, ExchangeError};
use crate::protocol::AnswerStatus;
use crate::records::{requester, ExchangeFacts};
use crate::state::{Exchange, NodeState};

/// Subjects per part asked of the provider.
pub(crate) const PART: usize = 1024;
/// The most subjects one ledger entry records.
const RUN: usize = utbyte_audit::record::MAX_ITEMS;

/// What the node keeps of a bulk: the case system's request and who vouched for the officer.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct Kept {
    pub asked: BulkRequest,
    pub vouched_by: VouchedBy,
}

impl Kept {
    /// The request of one subject of the bulk, as a case system would have asked it.
    pub(crate) fn case(&self, subject: &str) -> CaseRequest {
        let asked = &self.asked;
        CaseRequest {
            subject: subject.to_owned(),
            offering: asked.offering.clone(),
            fields: asked.fields.clone(),
            purpose: asked.purpose.clone(),
            legal_basis: asked.legal_basis.clone(),
            case_ref: asked.case_ref.clone(),
            operation: asked.operation.clone(),
            officer: asked.officer.clone(),
            role: asked.role.clone(),
            unit: asked.unit.clone(),
            callback: None,
            vouched_by: Some(self.vouched_by.clone()),
        }
    }

    pub(crate) fn read(stored: &StoredBulk) -> Result<Self, ExchangeError> {
        serde_json::from_str(&stored.bulk.request)
            .map_err(|e| ExchangeError::Internal(format!("a kept bulk is unreadable: {e}")))
    }

    /// The request checked, as of `now`.
    fn checked(&self, state: &NodeState, now: OffsetDateTime) -> Result<CheckedAsk, ExchangeError> {
        Ok(CheckedAsk::check(case_request(
            &state.authority,
            &self.case(""),
            now,
        ))?)
    }
}

/// Keeps a new bulk under `key` (or finds the same one kept before): whether it is new, and
/// the bulk.
pub(crate) async fn create(
    state: &NodeState,
    key: String,
    client: &str,
    kept: Kept,
    now: OffsetDateTime,
) -> Result<(bool, StoredBulk), ExchangeError> {
    let ctx = state.exchange_context()?;
    let checked = kept.checked(state, now)?;
    let unit = &kept.asked.unit;
    if ctx.rulebook.vocabulary.unit_authority.get(unit) != Some(&state.authority) {
        return Err(ExchangeError::InvalidText {
            field: "unit",
            detail: format!("unit `{unit}` is not a unit of `{}`", state.authority),
        });
    }
    let member = provider_of(state, &ctx, &kept.asked.offering)?;
    no_reviewer_needed(&ctx, &checked)?;
    let bulk = NewBulk {
        key,
        bulk_id: new_id()?,
        client: Some(client.to_owned()),
        provider: member.authority.clone(),
        offering: kept.asked.offering.clone(),
        unit: unit.clone(),
        request: serde_json::to_string(&kept)
            .map_err(|e| ExchangeError::Internal(e.to_string()))?,
        created_at: now,
    };
    match state.exchange.begin_bulk(&bulk).await? {
        BulkBegun::New => Ok((
            true,
            StoredBulk {
                bulk,
                subjects: 0,
                parts: 0,
                answered: 0,
                held: 0,
            },
        )),
        BulkBegun::Existing(stored) => Ok((false, stored)),
    }
}

/// One subject of each kind, none with protected identity: nothing of a subject but its kind
/// and protection enters a decision, so these stand for every ordinary subject.
const ORDINARY: [&str; 3] = ["19121212-1212", "19701063-2391", "556036-0793"];

/// Refuses a bulk whose fields a reviewer would decide for an ordinary subject: a reviewer
/// assesses one subject at a time, so such fields are asked subject by subject. (A subject whose
/// identity is protected is held and asked on its own whatever the fields.)
fn no_reviewer_needed(ctx: &Exchange, checked: &CheckedAsk) -> Result<(), ExchangeError> {
    for id in ORDINARY {
        let subject = checked
            .subject(id)
            .map_err(|e| ExchangeError::Internal(format!("an ordinary subject: {e}")))?;
        let decision = ctx
            .rulebook
            .decide(checked.with_subject(subject).request())?;
        let reviewed: Vec<&str> = decision
            .fields
            .iter()
            .filter(|f| f.outcome == utbyte_rules::Outcome::Review)
            .map(|f| f.field.as_str())
            .collect();
        if !reviewed.is_empty() {
            return Err(ExchangeError::InvalidText {
                field: "fields",
                detail: format!(
                    "a reviewer at the provider decides {} for each subject: ask for those subject by subject, and in bulk for the fields disclosed without review",
                    reviewed.join(", ")
                ),
            });
        }
    }
    Ok(())
}

/// The member whose node publishes `offering`.
fn provider_of(state: &NodeState, ctx: &Exchange, offering: &str) -> Result<Member, ExchangeError> {
    let provider = ctx
        .rulebook
        .vocabulary
        .offerings
        .get(offering)
        .filter(|o| !o.notice && o.provider != state.authority)
        .map(|o| o.provider.clone())
        .ok_or_else(|| {
            ExchangeError::UnknownOffering(format!(
                "offering `{offering}` is not another member's in the federation's rulebook"
            ))
        })?;
    ctx.config.member(&provider).cloned().ok_or_else(|| {
        ExchangeError::UnknownOffering(format!(
            "`{provider}`, which publishes `{offering}`, has no node in the federation"
        ))
    })
}

/// The bulk as the API shows it.
pub(crate) fn view(stored: &StoredBulk) -> Result<BulkView, ExchangeError> {
    let kept = Kept::read(stored)?;
    Ok(BulkView {
        key: stored.bulk.key.clone(),
        provider: stored.bulk.provider.clone(),
        offering: stored.bulk.offering.clone(),
        fields: kept.asked.fields,
        subjects: stored.subjects,
        answered: stored.answered,
        held: stored.held,
        parts: stored.parts,
    })
}

/// Checks one subject of the bulk as a request's subject is checked.
pub(crate) struct SubjectCheck(CheckedAsk);

impl SubjectCheck {
    pub(crate) fn new(
        state: &NodeState,
        stored: &StoredBulk,
        now: OffsetDateTime,
    ) -> Result<Self, ExchangeError> {
        Ok(Self(Kept::read(stored)?.checked(state, now)?))
    }

    pub(crate) fn subject(&self, id: &str) -> Result<SubjectId, utbyte_rules::RequestError> {
        self.0.subject(id)
    }
}

/// A part the provider answered, verified and its receipts recorded, not yet kept.
pub(crate) struct Asked {
    part: BulkPart,
    answer: PartAnswer,
    /// The bulk's request, as read for the part.
    kept: Kept,
}

/// Asks the provider for `subjects`, the bulk's part from subject `first`: the signed answer
/// verified and a receipt recorded per run. Kept by [`keep`], in order. A part that may have
/// been asked and not kept before (`asked_before`) has its runs' receipts looked for first.
pub(crate) async fn ask(
    state: &Arc<NodeState>,
    stored: &StoredBulk,
    first: u64,
    subjects: &[SubjectId],
    now: OffsetDateTime,
    asked_before: bool,
) -> Result<Asked, ExchangeError> {
    let ctx = state.exchange_context()?;
    let kept = Kept::read(stored)?;
    let member = ctx
        .config
        .member(&stored.bulk.provider)
        .cloned()
        .ok_or_else(|| {
            ExchangeError::UnknownOffering(format!(
                "`{}` has no node in the federation any more",
                stored.bulk.provider
            ))
        })?;
    let asked = &kept.asked;
    let part = BulkPartRequest {
        bulk_id: stored.bulk.bulk_id.clone(),
        first,
        sent_at: now.format(&Rfc3339).unwrap_or_default(),
        unit: asked.unit.clone(),
        role: asked.role.clone(),
        officer: Some(asked.officer.clone()),
        vouched_by: Some(kept.vouched_by.clone()),
        offering: asked.offering.clone(),
        fields: asked.fields.clone(),
        purpose: asked.purpose.clone(),
        legal_basis: asked.legal_basis.clone(),
        case_ref: asked.case_ref.clone(),
        operation: asked.operation.clone(),
        subjects: subjects.iter().map(|s| s.as_str().to_owned()).collect(),
    };
    let body = serde_json::to_vec(&part).map_err(|e| ExchangeError::Internal(e.to_string()))?;
    let response = call(state, &ctx, &member, Method::POST, BULK_PATH, Some(body)).await?;
    if response.status != StatusCode::OK {
        return Err(provider_refused(
            &member.authority,
            response.status,
            &response.body,
        ));
    }
    let signed: Jws = serde_json::from_slice(&response.body).map_err(|e| {
        AnswerRejected::Unreadable(format!("the provider's answer is not a JWS: {e}"))
    })?;
    let answer = verify(state, &member, &part, &signed)?;
    let checked = kept.checked(state, now)?;
    let recorded = if asked_before {
        receipts_recorded(state, &answer, subjects).await?
    } else {
        BTreeSet::new()
    };
    record_receipts(state, &checked, &answer, subjects, &recorded).await?;
    let held: u32 = answer
        .runs
        .iter()
        .filter(|r| answer.decisions[r.decision as usize].status == AnswerStatus::Review)
        .map(|r| r.members.len() as u32)
        .sum();
    let count = subjects.len() as u32;
    Ok(Asked {
        part: BulkPart {
            first,
            count,
            answered: count - held,
            held,
            answer: serde_json::to_string(&signed)
                .map_err(|e| ExchangeError::Internal(e.to_string()))?,
        },
        answer,
        kept,
    })
}

/// Keeps a part asked, only where the bulk stands, then starts asking its held subjects on
/// their own (`held`), while the next parts are asked.
pub(crate) async fn keep(
    state: &Arc<NodeState>,
    stored: &StoredBulk,
    asked: Asked,
    now: OffsetDateTime,
    held: &HeldAsks,
) -> Result<(), ExchangeError> {
    if !state
        .exchange
        .add_bulk_part(&stored.bulk.key, &asked.part)
        .await?
    {
        return Err(ExchangeError::BulkOffset(
            "another upload to this bulk took these subjects first".into(),
        ));
    }
    held.start(state, stored, &asked.kept, &asked.answer, now);
    Ok(())
}

/// Opens the signed part and checks it answers exactly what was asked: this bulk and part,
/// from that provider to this node, every subject in order, each run's digest, and no value of
/// a field its decision did not disclose.
fn verify(
    state: &NodeState,
    member: &Member,
    part: &BulkPartRequest,
    signed: &Jws,
) -> Result<PartAnswer, ExchangeError> {
    let key = member
        .answer_key()
        .map_err(|e| AnswerRejected::ProviderKey(e.to_string()))?;
    let payload = signed.verify(BULK_ANSWER_TYPE, &key).map_err(|e| {
        AnswerRejected::Unreadable(format!("the part's signature is not valid: {e}"))
    })?;
    let answer: PartAnswer = serde_json::from_slice(&payload)
        .map_err(|e| AnswerRejected::Unreadable(format!("the signed part is malformed: {e}")))?;
    let mismatch = |what| ExchangeError::from(AnswerRejected::Mismatch(what));
    let checks: [(&'static str, bool); 6] = [
        ("bulk id", answer.bulk_id == part.bulk_id),
        ("first subject", answer.first == part.first),
        ("provider", answer.provider == member.authority),
        ("recipient", answer.recipient == state.authority),
        ("offering", answer.offering == part.offering),
        ("subjects", {
            answer.records.len() == part.subjects.len()
                && answer
                    .records
                    .iter()
                    .zip(&part.subjects)
                    .all(|(r, s)| &r.subject == s)
        }),
    ];
    if let Some((what, _)) = checks.iter().find(|(_, ok)| !ok) {
        return Err(mismatch(what));
    }
    // Every subject of the part in exactly one run, each run's digest as sent, and no value
    // of a field its decision did not disclose.
    let mut seen = vec![false; answer.records.len()];
    for run in &answer.runs {
        let decision = answer
            .decisions
            .get(run.decision as usize)
            .ok_or_else(|| mismatch("runs"))?;
        let ascending = run.members.windows(2).all(|w| w[0] < w[1]);
        if run.members.is_empty() || run.members.len() > RUN || !ascending {
            return Err(mismatch("runs"));
        }
        for m in &run.members {
            match seen.get_mut(*m as usize) {
                Some(taken) if !*taken => *taken = true,
                _ => return Err(mismatch("runs")),
            }
        }
        if run_digest(
            &answer.bulk_id,
            answer.first,
            &run.members,
            decision,
            &answer.records,
        )? != run.sha256
        {
            return Err(mismatch("run digest"));
        }
        let disclosed: BTreeSet<&str> = decision
            .fields
            .iter()
            .filter(|v| v.outcome == Outcome::Disclose && decision.status == AnswerStatus::Answered)
            .map(|v| v.field.as_str())
            .collect();
        if let Some(field) = run
            .members
            .iter()
            .flat_map(|m| answer.records[*m as usize].values.keys())
            .find(|f| !disclosed.contains(f.as_str()))
        {
            return Err(AnswerRejected::Undisclosed(field.clone()).into());
        }
    }
    if seen.iter().any(|taken| !taken) {
        return Err(mismatch("runs"));
    }
    Ok(answer)
}

/// The runs of `answer` whose receipt this node has recorded already, by the provider's entry:
/// an attempt that recorded them stopped before the part was kept (the node stopped, or a
/// part before it failed), and the provider answered again with the answer it kept. Each run
/// is looked for among the records about its first subject, newest first, back to the first
/// timed before the provider can have decided the part.
async fn receipts_recorded(
    state: &Arc<NodeState>,
    answer: &PartAnswer,
    subjects: &[SubjectId],
) -> Result<BTreeSet<u64>, ExchangeError> {
    let decided = OffsetDateTime::parse(&answer.decided_at, &Rfc3339)
        .map_err(|e| AnswerRejected::Unreadable(format!("the part's decision time: {e}")))?;
    let since = utbyte_audit::record::time_of(decided - REQUEST_WINDOW - RECEIPT_ORDER_SLACK);
    let runs = answer
        .runs
        .iter()
        .map(|run| {
            let first = subject_identifier(&subjects[run.members[0] as usize])?;
            Ok((first, run.receipt.index, run.sha256.clone()))
        })
        .collect::<Result<Vec<_>, ExchangeError>>()?;
    let (audit, provider) = (Arc::clone(&state.audit), answer.provider.clone());
    let unreadable = |e: &dyn std::fmt::Display| ExchangeError::Audit(e.to_string());
    tokio::task::spawn_blocking(move || {
        // Another instance of this node may have recorded them: its records must be in this
        // instance's replica and index first.
        audit.settle().map_err(|e| unreadable(&e))?;
        let mut recorded = BTreeSet::new();
        for (first, provider_index, digest) in runs {
            let found = audit
                .newest_about(&first, &since, |record| {
                    record.event == EventKind::Receipt
                        && record.provider == provider
                        && record.refers_to == Some(provider_index)
                        && record.payload_sha256.as_deref() == Some(digest.as_str())
                })
                .map_err(|e| unreadable(&e))?;
            if found.is_some() {
                recorded.insert(provider_index);
            }
        }
        Ok(recorded)
    })
    .await
    .map_err(|e| ExchangeError::Internal(e.to_string()))?
}

/// Records a receipt for each run, with the provider's entry and digest, all at once; but not
/// for the runs `recorded` already (by the provider's entry).
async fn record_receipts(
    state: &Arc<NodeState>,
    checked: &CheckedAsk,
    answer: &PartAnswer,
    subjects: &[SubjectId],
    recorded: &BTreeSet<u64>,
) -> Result<(), ExchangeError> {
    let request = checked.request();
    let facts = ExchangeFacts {
        actor: requester(request),
        provider: &answer.provider,
        request,
        rulebook_sha256: &answer.rulebook_sha256,
    };
    let mut appends = JoinSet::new();
    for run in answer
        .runs
        .iter()
        .filter(|run| !recorded.contains(&run.receipt.index))
    {
        let decision = &answer.decisions[run.decision as usize];
        let mut record = facts.record(
            EventKind::Receipt,
            &decision.fields,
            Some(&run.sha256),
            Some(run.receipt.index),
        );
        record.bulk = Some(BulkRef {
            count: run.members.len() as u32,
            first: answer.first,
            id: answer.bulk_id.clone(),
        });
        let committed = run
            .members
            .iter()
            .map(|m| subject_identifier(&subjects[*m as usize]))
            .collect::<Result<Vec<_>, _>>()?;
        let task_state = Arc::clone(state);
        appends.spawn(async move { task_state.record(record, committed).await });
    }
    while let Some(joined) = appends.join_next().await {
        joined.map_err(|e| ExchangeError::Audit(format!("recording stopped: {e}")))??;
    }
    Ok(())
}

/// The held subjects of one upload, each asked on its own so the provider's reviewers decide it
/// as a request (and see the bulk's held subjects as one batch): while the next parts are
/// asked, several at a time, once per subject however often the upload names it, all asked
/// before the upload is answered. A request that cannot be made now is logged; the record's
/// `request` key names it for the case system to ask again.
pub(crate) struct HeldAsks {
    at_once: Arc<Semaphore>,
    /// The subjects started, and their tasks.
    started: Mutex<(BTreeSet<String>, Vec<JoinHandle<()>>)>,
}

impl HeldAsks {
    pub(crate) fn new() -> Self {
        Self {
            at_once: Arc::new(Semaphore::new(HELD_AT_ONCE)),
            started: Mutex::new((BTreeSet::new(), Vec::new())),
        }
    }

    /// Starts asking each subject `answer` held that this upload has not asked yet.
    fn start(
        &self,
        state: &Arc<NodeState>,
        stored: &StoredBulk,
        kept: &Kept,
        answer: &PartAnswer,
        now: OffsetDateTime,
    ) {
        let mut started = self.started.lock().unwrap_or_else(PoisonError::into_inner);
        for run in &answer.runs {
            if answer.decisions[run.decision as usize].status != AnswerStatus::Review {
                continue;
            }
            for m in &run.members {
                let subject = &answer.records[*m as usize].subject;
                if !started.0.insert(subject.clone()) {
                    continue;
                }
                let (state, key, case) = (
                    Arc::clone(state),
                    held_key(&stored.bulk, subject),
                    kept.case(subject),
                );
                let (bulk, n) = (stored.bulk.bulk_id.clone(), answer.first + u64::from(*m));
                let at_once = Arc::clone(&self.at_once);
                started.1.push(tokio::spawn(async move {
                    let Ok(_turn) = at_once.acquire_owned().await else {
                        return;
                    };
                    if let Err(err) = crate::exchange::ask::submit(&state, key, &case, now).await {
                        tracing::warn!(%err, %bulk, n, "a held subject could not be asked on its own yet");
                    }
                }));
            }
        }
    }

    /// Waits until every subject started has been asked.
    pub(crate) async fn finish(&self) {
        let tasks = std::mem::take(
            &mut self
                .started
                .lock()
                .unwrap_or_else(PoisonError::into_inner)
                .1,
        );
        for task in tasks {
            // A task that panicked has logged why; the others are still waited for.
            let _ = task.await;
        }
    }
}

/// How many held subjects are asked at once.
const HELD_AT_ONCE: usize = 16;

/// The key of a held subject's own request: the bulk's key and a digest of the subject under
/// the bulk's id, the same wherever in the bulk the subject stands, and no identifier in a key
/// that URLs and logs carry.
pub(crate) fn held_key(bulk: &utbyte_store::NewBulk, subject: &str) -> String {
    use sha2::{Digest, Sha256};
    let digest = Sha256::digest(format!("{}\n{subject}", bulk.bulk_id));
    format!("{}~{}", bulk.key, &hex::encode(digest)[..20])
}

/// The records of one kept part from subject `from` on.
pub(crate) fn records(
    bulk: &utbyte_store::NewBulk,
    part: &BulkPart,
    from: u64,
) -> Result<Vec<BulkRecord>, ExchangeError> {
    use base64::Engine;
    let signed: Jws = serde_json::from_str(&part.answer)
        .map_err(|e| ExchangeError::Internal(format!("a kept part is unreadable: {e}")))?;
    let payload = base64::engine::general_purpose::URL_SAFE_NO_PAD
        .decode(&signed.payload)
        .map_err(|e| ExchangeError::Internal(format!("a kept part is unreadable: {e}")))?;
    let answer: PartAnswer = serde_json::from_slice(&payload)
        .map_err(|e| ExchangeError::Internal(format!("a kept part is unreadable: {e}")))?;
    // Each subject's run, by its place in the part.
    let mut run_of = vec![0usize; answer.records.len()];
    for (r, run) in answer.runs.iter().enumerate() {
        for m in &run.members {
            if let Some(slot) = run_of.get_mut(*m as usize) {
                *slot = r;
            }
        }
    }
    let outcomes: Vec<BTreeMap<String, Outcome>> = answer
        .decisions
        .iter()
        .map(|d| {
            d.fields
                .iter()
                .map(|v| (v.field.clone(), v.outcome))
                .collect()
        })
        .collect();
    let skip = from.saturating_sub(answer.first) as usize;
    let mut out = Vec::with_capacity(answer.records.len().saturating_sub(skip));
    for (m, record) in answer.records.iter().enumerate().skip(skip) {
        let run = answer
            .runs
            .get(run_of[m])
            .ok_or_else(|| ExchangeError::Internal("a kept part has no runs".into()))?;
        let held = answer.decisions[run.decision as usize].status == AnswerStatus::Review;
        out.push(BulkRecord {
            n: answer.first + m as u64,
            subject: record.subject.clone(),
            status: if held {
                BulkStatus::Held
            } else {
                BulkStatus::Answered
            },
            outcomes: outcomes[run.decision as usize].clone(),
            values: record.values.clone(),
            entry: run.receipt.index,
            request: held.then(|| held_key(bulk, &record.subject)),
        });
    }
    Ok(out)
}
