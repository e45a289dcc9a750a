//! Bulk exchange (pattern B): one request for many subjects of one offering.
//!
//! A case system keeps a bulk under its key (`POST /v1/bulk`: offering, fields, purpose, legal
//! basis, case), uploads its subjects as NDJSON or CSV (`POST /v1/bulk/{key}/subjects?from=`),
//! and reads the records back as NDJSON or CSV (`GET /v1/bulk/{key}/records?from=`), each a
//! stream in constant memory. This node asks the provider part by part ([`ask`]); the provider
//! answers each subject as its own request would be answered ([`provide`]), recording runs of
//! up to 256 subjects as one ledger entry each, with a commitment per subject, so every subject
//! is in both ledgers' subject-access reports. The wire format is [`protocol`]; the design of
//! the audit is docs/audit-record.md, the whole in docs/bulk.md.

pub(crate) mod ask;
mod columns;
pub(crate) mod protocol;
pub(crate) mod provide;
mod subjects;

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::Duration;

use axum::body::{Body, Bytes};
use axum::extract::{DefaultBodyLimit, State};
use axum::http::{header, HeaderMap, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Extension, Router};
use serde::Deserialize;
use time::OffsetDateTime;
use utbyte_api::access::{Duty, VouchedBy};
use utbyte_api::bulk::{
    BulkRecord, BulkRequest, BulkStatus, BulkView, SubjectsTaken, MAX_BULK_KEY, MAX_BULK_SUBJECTS,
};
use utbyte_api::paths;
use utbyte_http::{Json, Path, Peer, Problem, Query};
use utbyte_store::StoredBulk;

use crate::access::Who;
use crate::exchange::{could_exist, ExchangeError};
use crate::problems;
use crate::state::NodeState;
use protocol::{BulkPartRequest, BULK_PATH};

/// How long an upload may pause between two pieces of its body, and a reader between two
/// pieces of the records, before it is given up.
const IDLE: Duration = Duration::from_secs(30);

pub(crate) fn local_routes() -> Router<Arc<NodeState>> {
    Router::new()
        .route(paths::BULKS, post(create))
        .route(paths::BULK, get(show))
        .route(
            paths::BULK_SUBJECTS,
            // The body is read piece by piece and bounded by MAX_BULK_SUBJECTS, not buffered.
            post(upload).layer(DefaultBodyLimit::disable()),
        )
        .route(paths::BULK_RECORDS, get(records))
}

pub(crate) fn federation_routes() -> Router<Arc<NodeState>> {
    Router::new().route(
        BULK_PATH,
        post(part).layer(DefaultBodyLimit::max(protocol::MAX_PART * 64 + 64 * 1024)),
    )
}

/// Keeps a bulk under the case system's key; its subjects follow.
#[utoipa::path(
    operation_id = "bulk_create",
    post,
    path = paths::BULKS,
    tag = "consumer",
    request_body = BulkRequest,
    params(("Idempotency-Key" = String, Header, min_length = 1, max_length = 100, pattern = "^[!-~]+$", description = "Chosen by the case system, 1 to 100 visible ASCII characters; names the bulk from now on")),
    responses(
        (status = 201, description = "Kept; upload its subjects", body = BulkView),
        (status = 200, description = "The same bulk was kept under this key before", body = BulkView),
        (status = 400, description = "Missing Idempotency-Key or malformed body", body = Problem, content_type = "application/problem+json"),
        (status = 403, description = "The caller may not ask, or not for this officer, unit or role", body = Problem, content_type = "application/problem+json"),
        (status = 404, description = "The offering is not another member's", body = Problem, content_type = "application/problem+json"),
        (status = 409, description = "The key names another bulk", body = Problem, content_type = "application/problem+json"),
        (status = 422, description = "An invalid text, field list or unit", body = Problem, content_type = "application/problem+json"),
        (status = 503, description = "No valid federation configuration", body = Problem, content_type = "application/problem+json"),
    )
)]
pub(crate) async fn create(
    State(state): State<Arc<NodeState>>,
    who: Who,
    headers: HeaderMap,
    Json(asked): Json<BulkRequest>,
) -> Result<Response, Problem> {
    who.require(Duty::Request)?;
    let acting = who.acting(&asked.officer, &asked.unit, &asked.role)?;
    let key = crate::consumer::idempotency_key(&headers)?;
    if key.len() > MAX_BULK_KEY {
        return Err(problems::MISSING_IDEMPOTENCY_KEY.with(format!(
            "a bulk's Idempotency-Key is 1 to {MAX_BULK_KEY} visible ASCII characters"
        )));
    }
    let kept = ask::Kept {
        asked,
        vouched_by: VouchedBy {
            client: acting.client.clone(),
            vouch: acting.vouch,
        },
    };
    let (new, stored) = ask::create(&state, key, &acting.client, kept, OffsetDateTime::now_utc())
        .await
        .map_err(|e| match e {
            ExchangeError::Store(_) => problems::IDEMPOTENCY_CONFLICT
                .with("this Idempotency-Key names another bulk; use a new key"),
            other => other.into(),
        })?;
    let status = if new {
        StatusCode::CREATED
    } else {
        StatusCode::OK
    };
    Ok((status, Json(ask::view(&stored)?)).into_response())
}

/// A bulk: how far it has come.
#[utoipa::path(
    operation_id = "bulk_show",
    get,
    path = paths::BULK,
    tag = "consumer",
    params(("key" = String, Path, description = "The bulk's Idempotency-Key")),
    responses(
        (status = 200, description = "The bulk; `subjects` is where an upload resumes", body = BulkView),
        (status = 404, description = "No bulk of this client has that key", body = Problem, content_type = "application/problem+json"),
    )
)]
pub(crate) async fn show(
    State(state): State<Arc<NodeState>>,
    who: Who,
    Path(key): Path<String>,
) -> Result<Json<BulkView>, Problem> {
    who.require(Duty::Request)?;
    let stored = own_bulk(&state, &who, &key).await?;
    Ok(Json(ask::view(&stored)?))
}

/// Where an upload starts.
#[derive(Debug, Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
#[serde(deny_unknown_fields)]
pub(crate) struct UploadQuery {
    /// The place of the upload's first subject in the bulk: the bulk's `subjects` (0 at first).
    #[serde(default)]
    pub from: u64,
}

/// Takes the bulk's subjects, streamed, and asks the provider for them part by part.
#[utoipa::path(
    operation_id = "bulk_upload",
    post,
    path = paths::BULK_SUBJECTS,
    tag = "consumer",
    params(("key" = String, Path, description = "The bulk's Idempotency-Key"), UploadQuery),
    request_body(description = "One subject a line: NDJSON (`\"19121212-1212\"` or `{\"subject\": \"19121212-1212\"}`) or CSV whose first column is the subject (an optional header `subject`)", content(
        (String = "application/x-ndjson"),
        (String = "text/csv"),
    )),
    responses(
        (status = 200, description = "Every subject taken and answered by the provider", body = SubjectsTaken),
        (status = 404, description = "No bulk of this client has that key", body = Problem, content_type = "application/problem+json"),
        (status = 409, description = "`from` is not where the bulk stands (`subjects` says where)", body = Problem, content_type = "application/problem+json"),
        (status = 415, description = "Neither NDJSON nor CSV", body = Problem, content_type = "application/problem+json"),
        (status = 422, description = "A line that is not a subject (`line` says which; the subjects before it were taken), or more than 10,000,000 subjects", body = Problem, content_type = "application/problem+json"),
        (status = 502, description = "The provider refused a part or could not be reached; the parts before it were taken", body = Problem, content_type = "application/problem+json"),
    )
)]
pub(crate) async fn upload(
    State(state): State<Arc<NodeState>>,
    who: Who,
    Path(key): Path<String>,
    Query(query): Query<UploadQuery>,
    headers: HeaderMap,
    body: Body,
) -> Result<Json<SubjectsTaken>, Problem> {
    who.require(Duty::Request)?;
    let format = subjects::Format::of(&headers)?;
    let stored = own_bulk(&state, &who, &key).await?;
    if query.from != stored.subjects {
        return Err(offset_problem(&stored));
    }
    let now = OffsetDateTime::now_utc();
    let check = ask::SubjectCheck::new(&state, &stored, now)?;
    let mut lines = subjects::Lines::new(body, format, IDLE);
    let mut part = Vec::with_capacity(ask::PART);
    let mut next_first = stored.subjects;
    // Up to four parts in flight: the next are asked of the provider while the one before is
    // kept. Each part is its own task, chained to the one before, so it is kept only after it
    // and only if it was; a part begun is finished even if the case system goes away meanwhile.
    // A part that fails stops the upload: no part is begun after the flag is seen, so at most
    // the parts in flight with it were asked and not kept — and only those may have been asked
    // before when an upload resumes where the last one stopped.
    let in_flight = Arc::new(tokio::sync::Semaphore::new(PARTS_IN_FLIGHT));
    let failed = Arc::new(AtomicBool::new(false));
    let asked_before_until = query.from + (PARTS_IN_FLIGHT * ask::PART) as u64;
    let held = Arc::new(ask::HeldAsks::new());
    let mut last: Option<tokio::task::JoinHandle<Result<(), ExchangeError>>> = None;
    loop {
        let next = lines.next().await;
        let next = match next {
            Ok(next) => next,
            Err(problem) => {
                settle(last).await?;
                return Err(problem);
            }
        };
        if let Some((line, id)) = &next {
            let subject = match check.subject(id) {
                Ok(subject) => subject,
                Err(e) => {
                    settle(last).await?;
                    return Err(problems::INVALID_SUBJECT
                        .with(format!(
                            "line {line}: {e}; the subjects before it were taken"
                        ))
                        .with_extension("line", *line));
                }
            };
            if next_first + part.len() as u64 >= MAX_BULK_SUBJECTS {
                settle(last).await?;
                return Err(problems::INVALID_REQUEST.with(format!(
                    "a bulk takes at most {MAX_BULK_SUBJECTS} subjects; the subjects before line {line} were taken"
                )));
            }
            part.push(subject);
        }
        let full = part.len() == ask::PART;
        if full || (next.is_none() && !part.is_empty()) {
            let permit = Arc::clone(&in_flight)
                .acquire_owned()
                .await
                .map_err(|e| ExchangeError::Internal(e.to_string()))?;
            if failed.load(Ordering::Acquire) || last.as_ref().is_some_and(|l| l.is_finished()) {
                // The last part begun ends with the error of any part before it.
                settle(last.take()).await?;
            }
            let (task_state, task_stored, task_held, task_failed) = (
                Arc::clone(&state),
                stored.clone(),
                Arc::clone(&held),
                Arc::clone(&failed),
            );
            let subjects = std::mem::take(&mut part);
            let (first, before) = (next_first, last.take());
            next_first += subjects.len() as u64;
            let asked_before = first < asked_before_until;
            last = Some(tokio::spawn(async move {
                let _permit = permit;
                let kept = async {
                    let asked = ask::ask(
                        &task_state,
                        &task_stored,
                        first,
                        &subjects,
                        now,
                        asked_before,
                    )
                    .await;
                    if let Some(before) = before {
                        before.await.map_err(|e| {
                            ExchangeError::Internal(format!("a part stopped: {e}"))
                        })??;
                    }
                    ask::keep(&task_state, &task_stored, asked?, now, &task_held).await
                }
                .await;
                if kept.is_err() {
                    // Before the permit is given back, so the upload sees it when it takes one.
                    task_failed.store(true, Ordering::Release);
                }
                kept
            }));
            part.reserve(ask::PART);
        }
        if next.is_none() {
            break;
        }
    }
    let settled = settle(last).await;
    held.finish().await;
    let stored = own_bulk(&state, &who, &key).await?;
    if let Err(problem) = settled {
        return Err(if problem.kind.ends_with("bulk-offset") {
            offset_problem(&stored)
        } else {
            problem
        });
    }
    Ok(Json(SubjectsTaken {
        from: query.from,
        taken: stored.subjects - query.from,
        bulk: ask::view(&stored)?,
    }))
}

/// Parts of one upload asked of the provider at once: enough to keep both of its cores busy while
/// one part is decided and another signed and recorded, at a few hundred kilobytes each.
const PARTS_IN_FLIGHT: usize = 4;

/// Waits for the last part begun (and so for every part before it): its error, if any.
async fn settle(
    last: Option<tokio::task::JoinHandle<Result<(), ExchangeError>>>,
) -> Result<(), Problem> {
    let Some(last) = last else {
        return Ok(());
    };
    last.await
        .map_err(|e| ExchangeError::Internal(format!("a part stopped: {e}")))?
        .map_err(Problem::from)
}

fn offset_problem(stored: &StoredBulk) -> Problem {
    problems::BULK_OFFSET
        .with(format!(
            "the bulk stands at subject {}; send the subjects from there with ?from={}",
            stored.subjects, stored.subjects
        ))
        .with_extension("subjects", stored.subjects)
}

/// Where a reader of the records starts, and in what form.
#[derive(Debug, Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
#[serde(deny_unknown_fields)]
pub(crate) struct RecordsQuery {
    /// The place of the first record wanted (default 0): a reader cut off resumes after the
    /// last record it has.
    #[serde(default)]
    pub from: u64,
    /// `ndjson` (default), `csv`, or `parquet` (Apache Parquet, for analysts).
    #[serde(default)]
    pub format: RecordFormat,
}

#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub(crate) enum RecordFormat {
    #[default]
    Ndjson,
    Csv,
    Parquet,
}

/// The bulk's records from `from` on, streamed, one subject a line.
#[utoipa::path(
    operation_id = "bulk_records",
    get,
    path = paths::BULK_RECORDS,
    tag = "consumer",
    params(("key" = String, Path, description = "The bulk's Idempotency-Key"), RecordsQuery),
    responses(
        (status = 200, description = "NDJSON of `BulkRecord`; or CSV (`n,subject,status,entry,request`, then each field's value and each field's outcome) or Apache Parquet with the same columns", content(
            (BulkRecord = "application/x-ndjson"),
            (String = "text/csv"),
            (String = "application/vnd.apache.parquet"),
        )),
        (status = 404, description = "No bulk of this client has that key", body = Problem, content_type = "application/problem+json"),
        (status = 422, description = "`from` beyond the subjects taken", body = Problem, content_type = "application/problem+json"),
    )
)]
pub(crate) async fn records(
    State(state): State<Arc<NodeState>>,
    who: Who,
    Path(key): Path<String>,
    Query(query): Query<RecordsQuery>,
) -> Result<Response, Problem> {
    who.require(Duty::Request)?;
    let stored = own_bulk(&state, &who, &key).await?;
    if query.from > stored.subjects {
        return Err(problems::INVALID_REQUEST
            .with(format!(
                "`from` is beyond the {} subjects taken",
                stored.subjects
            ))
            .with_extension("field", "from"));
    }
    let fields = ask::view(&stored)?.fields;
    let (sender, receiver) = tokio::sync::mpsc::channel(4);
    let content_type = match query.format {
        RecordFormat::Ndjson => "application/x-ndjson",
        RecordFormat::Csv => "text/csv; charset=utf-8",
        RecordFormat::Parquet => "application/vnd.apache.parquet",
    };
    tokio::spawn(stream_records(
        state,
        stored.bulk,
        query.from,
        stored.subjects,
        query.format,
        fields,
        sender,
    ));
    let mut response = Response::new(Body::new(crate::streamed::ChannelBody(receiver)));
    response
        .headers_mut()
        .insert(header::CONTENT_TYPE, HeaderValue::from_static(content_type));
    Ok(response)
}

/// Writes the records of the parts kept, through `through`, into `sender`, a few parts at a
/// time.
async fn stream_records(
    state: Arc<NodeState>,
    bulk: utbyte_store::NewBulk,
    mut from: u64,
    through: u64,
    format: RecordFormat,
    fields: Vec<String>,
    sender: tokio::sync::mpsc::Sender<Result<Bytes, std::io::Error>>,
) {
    let mut writer = match format {
        RecordFormat::Ndjson => Writer::Ndjson,
        RecordFormat::Csv => {
            let csv = subjects::CsvRecords::new(&fields);
            let _ = sender.send(Ok(csv.header())).await;
            Writer::Csv(csv)
        }
        RecordFormat::Parquet => match columns::ParquetRecords::new(&fields) {
            Ok(parquet) => Writer::Parquet(Box::new(parquet)),
            Err(err) => {
                let _ = sender
                    .send(Err(std::io::Error::other(err.to_string())))
                    .await;
                return;
            }
        },
    };
    while from < through {
        let parts = match state.exchange.bulk_parts(&bulk.key, from, 4).await {
            Ok(parts) if !parts.is_empty() => parts,
            Ok(_) => break,
            Err(err) => {
                let _ = sender
                    .send(Err(std::io::Error::other(err.to_string())))
                    .await;
                return;
            }
        };
        for part in parts {
            let chunk = ask::records(&bulk, &part, from).and_then(|records| match &mut writer {
                Writer::Ndjson => ndjson(&records),
                Writer::Csv(csv) => csv.write(&records),
                Writer::Parquet(parquet) => parquet.write(&records),
            });
            if !send(&sender, chunk).await {
                return;
            }
            from = part.first + u64::from(part.count);
        }
    }
    if let Writer::Parquet(parquet) = writer {
        send(&sender, (*parquet).finish()).await;
    }
}

/// How the records are written.
enum Writer {
    Ndjson,
    Csv(subjects::CsvRecords),
    Parquet(Box<columns::ParquetRecords>),
}

/// Sends a piece of the records; whether the reader is still there and the piece was whole.
async fn send(
    sender: &tokio::sync::mpsc::Sender<Result<Bytes, std::io::Error>>,
    chunk: Result<Bytes, ExchangeError>,
) -> bool {
    let chunk = chunk.map_err(|e| std::io::Error::other(e.to_string()));
    let whole = chunk.is_ok();
    matches!(
        tokio::time::timeout(IDLE, sender.send(chunk)).await,
        Ok(Ok(()))
    ) && whole
}

fn ndjson(records: &[BulkRecord]) -> Result<Bytes, ExchangeError> {
    let mut out = Vec::with_capacity(records.len() * 160);
    for record in records {
        serde_json::to_writer(&mut out, record)
            .map_err(|e| ExchangeError::Internal(e.to_string()))?;
        out.push(b'\n');
    }
    Ok(Bytes::from(out))
}

/// The bulk `key` of the calling client (or any, for an auditor).
async fn own_bulk(state: &NodeState, who: &Who, key: &str) -> Result<StoredBulk, Problem> {
    let no_such = || ExchangeError::NoSuchBulk {
        key: key.to_owned(),
    };
    if !could_exist(key, MAX_BULK_KEY) {
        return Err(problems::NO_SUCH_BULK.with(format!(
            "no bulk has this key: keys are 1 to {MAX_BULK_KEY} visible ASCII characters"
        )));
    }
    let stored = state
        .exchange
        .bulk(key)
        .await
        .map_err(ExchangeError::from)?
        .ok_or_else(no_such)?;
    let mine = who.caller.may(Duty::Audit)
        || stored
            .bulk
            .client
            .as_deref()
            .is_none_or(|c| c == who.caller.client);
    if !mine {
        return Err(no_such().into());
    }
    Ok(stored)
}

/// Answers one part of another node's bulk.
#[utoipa::path(
    operation_id = "federation_bulk_part",
    post,
    path = BULK_PATH,
    tag = "federation",
    request_body = BulkPartRequest,
    responses(
        (status = 200, description = "A JWS (`utbyte-bulk+json`) over the part's answer: each subject's values, the decisions, and a ledger entry per run", body = utbyte_federation::Jws),
        (status = 400, description = "Stale part or malformed body", body = Problem, content_type = "application/problem+json"),
        (status = 403, description = "The certificate is not a listed member's", body = Problem, content_type = "application/problem+json"),
        (status = 404, description = "This node does not publish the offering", body = Problem, content_type = "application/problem+json"),
        (status = 409, description = "A part id received before with another body", body = Problem, content_type = "application/problem+json"),
        (status = 413, description = "Body too large", body = Problem, content_type = "application/problem+json"),
        (status = 422, description = "An invalid text or subject (`detail` says which place in the bulk)", body = Problem, content_type = "application/problem+json"),
        (status = 503, description = "No valid federation configuration, or the register is unavailable", body = Problem, content_type = "application/problem+json"),
    )
)]
pub(crate) async fn part(
    State(state): State<Arc<NodeState>>,
    Extension(Peer(peer)): Extension<Peer>,
    Json(incoming): Json<BulkPartRequest>,
) -> Result<Json<utbyte_federation::Jws>, Problem> {
    let signed = crate::exchange::to_the_end(async move {
        provide::answer_part(&state, &peer, incoming, OffsetDateTime::now_utc()).await
    })
    .await?;
    Ok(Json(signed))
}

/// How a record's status reads in CSV.
fn status_text(status: BulkStatus) -> &'static str {
    match status {
        BulkStatus::Answered => "answered",
        BulkStatus::Held => "held",
    }
}
