//! Bulk exchange end to end: Malmö asks Försäkringskassan about thousands of subjects in one
//! request. A connection cut in the middle of the upload resumes where the bulk stands, with no
//! subject asked twice or skipped; a subject with protected identity in the middle is held and
//! asked on its own, for a reviewer there, and the held subjects of a bulk reach the reviewer as
//! one batch, decided once; every subject is in both ledgers' subject-access
//! reports; and for any subjects and fields, a bulk answers exactly what the same subjects'
//! own requests answer.

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::collections::BTreeMap;
use std::net::SocketAddr;

use common::*;
use proptest::strategy::{Strategy, ValueTree};
use proptest::test_runner::TestRunner;
use serde_json::{json, Value};
use tokio::io::{AsyncReadExt, AsyncWriteExt};

const MALMO: &str = "malmo-stad";
const FK: &str = "forsakringskassan";

fn bulk_request(fields: &[&str]) -> Vec<u8> {
    let mut case = luffa_case("", fields);
    case.as_object_mut().unwrap().remove("subject");
    serde_json::to_vec(&case).unwrap()
}

async fn create(malmo: SocketAddr, key: &str, fields: &[&str]) -> Response {
    call(
        malmo,
        "POST",
        "/v1/bulk",
        &[("idempotency-key", key)],
        Some(bulk_request(fields)),
    )
    .await
}

/// Sends `lines` as a chunked body over a plain connection, and the node's answer.
async fn upload(
    malmo: SocketAddr,
    key: &str,
    from: u64,
    content_type: &str,
    lines: &[String],
) -> (u16, Value) {
    let mut stream = send_lines(malmo, key, from, content_type, lines).await;
    // A node that refuses the upload at once answers without reading the body and closes.
    let _ = stream.write_all(b"0\r\n\r\n").await;
    let mut answer = Vec::new();
    stream.read_to_end(&mut answer).await.unwrap();
    let text = String::from_utf8_lossy(&answer);
    let status = text
        .split(' ')
        .nth(1)
        .and_then(|s| s.parse().ok())
        .unwrap_or(0);
    let body = text
        .split_once("\r\n\r\n")
        .map(|(_, b)| dechunk(b))
        .unwrap_or_default();
    (status, serde_json::from_str(&body).unwrap_or(Value::Null))
}

/// Starts an upload and sends `lines`, leaving the body open.
async fn send_lines(
    malmo: SocketAddr,
    key: &str,
    from: u64,
    content_type: &str,
    lines: &[String],
) -> tokio::net::TcpStream {
    let mut stream = tokio::net::TcpStream::connect(malmo).await.unwrap();
    let head = format!(
        "POST /v1/bulk/{key}/subjects?from={from} HTTP/1.1\r\nhost: {malmo}\r\n\
         authorization: Bearer {}\r\ncontent-type: {content_type}\r\n\
         transfer-encoding: chunked\r\nconnection: close\r\n\r\n",
        case_system_token()
    );
    stream.write_all(head.as_bytes()).await.unwrap();
    for chunk in lines.chunks(100) {
        let text: String = chunk.iter().map(|l| format!("{l}\n")).collect();
        if stream
            .write_all(format!("{:x}\r\n{text}\r\n", text.len()).as_bytes())
            .await
            .is_err()
        {
            break; // answered already; the answer says why
        }
    }
    stream
}

/// The bulk `key` as it stands.
async fn standing(malmo: SocketAddr, key: &str) -> Value {
    let stood = call(malmo, "GET", &format!("/v1/bulk/{key}"), &[], None).await;
    assert_eq!(stood.status, 200, "{:#}", stood.body);
    stood.body
}

/// The body of a chunked answer (or the body itself, when it is not chunked).
fn dechunk(body: &str) -> String {
    if body.trim_start().starts_with('{') {
        return body.to_owned();
    }
    let mut out = String::new();
    let mut rest = body;
    while let Some((size, after)) = rest.split_once("\r\n") {
        let Ok(size) = usize::from_str_radix(size.trim(), 16) else {
            break;
        };
        if size == 0 || after.len() < size {
            break;
        }
        out.push_str(&after[..size]);
        rest = after[size..].trim_start_matches("\r\n");
    }
    out
}

/// A GET of the local API as text, with its content type.
async fn text(malmo: SocketAddr, path: &str) -> (String, String) {
    use http_body_util::{BodyExt, Empty};
    use hyper_util::client::legacy::Client;
    use hyper_util::rt::TokioExecutor;
    let client: Client<_, Empty<bytes::Bytes>> = Client::builder(TokioExecutor::new()).build_http();
    let request = http::Request::get(format!("http://{malmo}{path}"))
        .header("authorization", format!("Bearer {}", case_system_token()))
        .body(Empty::new())
        .unwrap();
    let response = client.request(request).await.unwrap();
    assert_eq!(response.status(), 200, "{path}");
    let content_type = response.headers()["content-type"]
        .to_str()
        .unwrap()
        .to_owned();
    let bytes = response.into_body().collect().await.unwrap().to_bytes();
    (content_type, String::from_utf8(bytes.to_vec()).unwrap())
}

/// The bulk's records as Parquet, read by pyarrow: its rows as JSON objects.
async fn parquet_rows(malmo: SocketAddr, key: &str, from: u64) -> Vec<Value> {
    use http_body_util::{BodyExt, Empty};
    use hyper_util::client::legacy::Client;
    use hyper_util::rt::TokioExecutor;
    let client: Client<_, Empty<bytes::Bytes>> = Client::builder(TokioExecutor::new()).build_http();
    let request = http::Request::get(format!(
        "http://{malmo}/v1/bulk/{key}/records?from={from}&format=parquet"
    ))
    .header("authorization", format!("Bearer {}", case_system_token()))
    .body(Empty::new())
    .unwrap();
    let response = client.request(request).await.unwrap();
    assert_eq!(response.status(), 200);
    assert_eq!(
        response.headers()["content-type"],
        "application/vnd.apache.parquet"
    );
    let bytes = response.into_body().collect().await.unwrap().to_bytes();
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("records.parquet");
    std::fs::write(&file, &bytes).unwrap();
    let read = std::process::Command::new("python3")
        .args([
            "-c",
            "import json, sys, pyarrow.parquet as pq\n\
             t = pq.read_table(sys.argv[1])\n\
             print(json.dumps({'schema': [f'{f.name}:{f.type}' for f in t.schema], 'rows': t.to_pylist()}))",
        ])
        .arg(&file)
        .output()
        .expect("python3 runs (the bulk test reads Parquet with pyarrow: pip install -r requirements.txt)");
    assert!(
        read.status.success(),
        "{}",
        String::from_utf8_lossy(&read.stderr)
    );
    let table: Value = serde_json::from_slice(&read.stdout).unwrap();
    assert_eq!(
        table["schema"],
        json!([
            "n:int64",
            "subject:string",
            "status:string",
            "entry:int64",
            "request:string",
            "forman:string",
            "belopp:string",
            "period:string",
            "forman:outcome:string",
            "belopp:outcome:string",
            "period:outcome:string"
        ])
    );
    table["rows"].as_array().unwrap().clone()
}

/// The bulk's records from `from`, as NDJSON.
async fn records(malmo: SocketAddr, key: &str, from: u64) -> Vec<Value> {
    let (content_type, text) = text(malmo, &format!("/v1/bulk/{key}/records?from={from}")).await;
    assert_eq!(content_type, "application/x-ndjson");
    text.lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_cut_upload_resumes_without_repeating_or_skipping_and_a_protected_subject_is_held() {
    let (_dir, federation) = federation(&[MALMO, FK, "polismyndigheten"]).await;
    let malmo = federation.node(MALMO).unwrap().local_addr;
    let (open, protected) = fk_subjects();
    // 2,600 subjects, more than two parts; one with protected identity in the middle.
    let mut subjects: Vec<String> = open.iter().cycle().take(2600).cloned().collect();
    subjects[1500] = protected[0].clone();
    let fields = ["forman", "belopp", "period"];

    // Bad input is refused before anything is kept or asked.
    let ledger = federation.node(MALMO).unwrap().audit();
    let before = ledger.ledger().size();
    assert_problem(&create(malmo, "bulk-0", &[]).await, 422, "invalid-request");
    let mut other_unit: Value = serde_json::from_slice(&bulk_request(&fields)).unwrap();
    other_unit["unit"] = json!("fk-kontroll");
    let refused = call(
        malmo,
        "POST",
        "/v1/bulk",
        &[("idempotency-key", "bulk-0")],
        Some(serde_json::to_vec(&other_unit).unwrap()),
    )
    .await;
    assert_eq!(refused.status / 100, 4, "{:#}", refused.body);
    let missing = call(malmo, "GET", "/v1/bulk/no-such", &[], None).await;
    assert_problem(&missing, 404, "no-such-bulk");

    let created = create(malmo, "bulk-1", &fields).await;
    assert_eq!(created.status, 201, "{:#}", created.body);
    assert_eq!(created.body["subjects"], 0);
    assert_eq!(created.body["provider"], FK);
    let again = create(malmo, "bulk-1", &fields).await;
    assert_eq!(again.status, 200, "the same bulk again: {:#}", again.body);
    assert_problem(
        &create(malmo, "bulk-1", &["forman"]).await,
        422,
        "idempotency-key-reused",
    );
    assert_eq!(ledger.ledger().size(), before, "nothing was asked yet");

    // A bad line is refused with its number; what came before it was taken, nothing after.
    let (status, problem) = upload(
        malmo,
        "bulk-1",
        1,
        "application/x-ndjson",
        &[json!(subjects[0]).to_string()],
    )
    .await;
    assert_eq!(status, 409, "{problem:#}");
    assert_eq!(problem["subjects"], 0);

    // The connection breaks off after 1,900 subjects: the part whole before the cut (1,024
    // subjects) is taken, the rest is not.
    let lines: Vec<String> = subjects.iter().map(|s| json!(s).to_string()).collect();
    let stream = send_lines(malmo, "bulk-1", 0, "application/x-ndjson", &lines[..1900]).await;
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(20);
    while standing(malmo, "bulk-1").await["subjects"] == 0 {
        assert!(
            std::time::Instant::now() < deadline,
            "the first part was never taken"
        );
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
    drop(stream);
    tokio::time::sleep(std::time::Duration::from_millis(300)).await;
    let at = standing(malmo, "bulk-1").await["subjects"]
        .as_u64()
        .unwrap();
    assert_eq!(at, 1024);
    // Sending from the start again is refused: nothing is asked twice.
    let (status, problem) = upload(malmo, "bulk-1", 0, "application/x-ndjson", &lines[..10]).await;
    assert_eq!(status, 409, "{problem:#}");
    assert_eq!(problem["type"], "urn:utbyte:problem:bulk-offset");
    // Resumed where it stands, as CSV this time.
    let mut csv = vec!["subject".to_owned()];
    csv.extend(subjects[at as usize..].iter().cloned());
    let (status, taken) = upload(malmo, "bulk-1", at, "text/csv", &csv).await;
    assert_eq!(status, 200, "{taken:#}");
    assert_eq!(taken["from"], at);
    assert_eq!(taken["taken"], 2600 - at);
    assert_eq!(taken["bulk"]["subjects"], 2600);
    assert_eq!(taken["bulk"]["held"], 1);
    assert_eq!(taken["bulk"]["answered"], 2599);

    // Every subject once, in the order sent.
    let all = records(malmo, "bulk-1", 0).await;
    assert_eq!(all.len(), 2600);
    for (n, record) in all.iter().enumerate() {
        assert_eq!(record["n"], n as u64);
        assert_eq!(record["subject"], subjects[n], "subject {n}");
    }
    // A reader cut off resumes after the last record it has.
    let tail = records(malmo, "bulk-1", 2000).await;
    assert_eq!(tail.len(), 600);
    assert_eq!(tail[0], all[2000]);

    // The protected subject: nothing disclosed, held, asked on its own for a reviewer.
    let held = &all[1500];
    assert_eq!(held["status"], "held", "{held:#}");
    assert_eq!(held["values"], json!({}));
    let key = held["request"].as_str().unwrap();
    assert!(key.starts_with("bulk-1~"), "{key}");
    assert!(
        !key.contains(&protected[0][..8]),
        "no identifier in a key: {key}"
    );
    let own = call(malmo, "GET", &format!("/v1/requests/{key}"), &[], None).await;
    assert_eq!(own.status, 202, "in review: {:#}", own.body);
    assert_eq!(own.body["status"], "review");
    assert!(own.body["ticket"].is_string());
    // The others: the pre-assessed fields, and their values.
    let answered = &all[0];
    assert_eq!(answered["status"], "answered");
    for field in fields {
        assert_eq!(answered["outcomes"][field], "disclose", "{answered:#}");
    }
    assert!(!answered["values"].as_object().unwrap().is_empty());

    // Each subject is in both ledgers' subject-access reports, with a proof: at the provider
    // the entry its record names, at Malmö the receipt of it.
    let fk = federation.node(FK).unwrap().local_addr;
    for n in [0usize, 1499, 2599] {
        // A subject that occurs more than once (the subjects cycle) is in several entries.
        let entry = all[n]["entry"].as_u64().unwrap();
        for (node, event) in [(fk, "disclosure"), (malmo, "receipt")] {
            let report = call(
                node,
                "POST",
                "/v1/audit/subject",
                &[],
                Some(serde_json::to_vec(&json!({ "subject": subjects[n] })).unwrap()),
            )
            .await;
            assert_eq!(report.status, 200, "{:#}", report.body);
            let entries = report.body["entries"].as_array().unwrap();
            let found = entries.iter().find(|e| {
                e["event"] == event
                    && (event == "receipt" || e["index"] == entry)
                    && e["disclosed_fields"] == json!(fields)
            });
            let found = found.unwrap_or_else(|| panic!("subject {n} at {event}: {entries:#?}"));
            assert!(found["proof"].is_object());
        }
    }
    let fk_leaf = federation
        .node(FK)
        .unwrap()
        .audit()
        .ledger()
        .entry(all[2599]["entry"].as_u64().unwrap())
        .unwrap();
    let fk_record: Value = serde_json::from_slice(&fk_leaf).unwrap();
    assert_eq!(fk_record["event"], "disclosure");
    let bulk = &fk_record["bulk"];
    // The entry records a run of the last part (from subject 2048): up to 256 of its subjects
    // decided alike, a commitment per distinct subject.
    assert_eq!(bulk["first"], 2048, "{fk_record:#}");
    let count = bulk["count"].as_u64().unwrap();
    assert!((1..=256).contains(&count), "{fk_record:#}");
    let committed = fk_record["subjects"].as_array().unwrap().len() as u64;
    assert!(committed >= 1 && committed <= count, "{fk_record:#}");

    // Parquet out, as an analyst's tool reads it: every record, the same values.
    let rows = parquet_rows(malmo, "bulk-1", 1000).await;
    assert_eq!(rows.len(), 1600);
    for (row, record) in rows.iter().zip(&all[1000..]) {
        assert_eq!(row["n"], record["n"]);
        assert_eq!(row["subject"], record["subject"]);
        assert_eq!(row["status"], record["status"]);
        assert_eq!(row["entry"], record["entry"]);
        assert_eq!(row["request"], record["request"]);
        for field in fields {
            let value = match &record["values"][field] {
                Value::Null => Value::Null,
                Value::String(text) => json!(text),
                other => json!(other.to_string()),
            };
            assert_eq!(row[field], value, "{field} of {}", record["n"]);
            assert_eq!(row[format!("{field}:outcome")], record["outcomes"][field]);
        }
    }

    // CSV out: a header and a row per subject.
    let (content_type, text) = text(malmo, "/v1/bulk/bulk-1/records?from=2598&format=csv").await;
    assert_eq!(content_type, "text/csv; charset=utf-8");
    let rows: Vec<&str> = text.lines().collect();
    assert_eq!(rows.len(), 3, "{text}");
    assert!(rows[0].starts_with("n,subject,status,entry,request,forman,belopp,period"));
    assert!(rows[1].starts_with(&format!("2598,{},answered,", subjects[2598])));
}

/// The review batch at Försäkringskassan with `pending` reviews, waiting up to 10 s for the
/// held subjects' own requests to be queued.
async fn batch_with(fk: SocketAddr, pending: u64) -> Value {
    for _ in 0..100 {
        let listed = call(fk, "GET", "/v1/review-batches", &[], None).await;
        assert_eq!(listed.status, 200, "{:#}", listed.body);
        if let Some(batch) = listed
            .body
            .as_array()
            .unwrap()
            .iter()
            .find(|b| b["pending"] == pending)
        {
            return batch.clone();
        }
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
    panic!("no review batch of {pending} at the provider");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_bulks_held_subjects_reach_the_reviewer_as_one_batch_decided_once() {
    let (_dir, federation) = federation(&[MALMO, FK]).await;
    let malmo = federation.node(MALMO).unwrap().local_addr;
    let fk = federation.node(FK).unwrap().local_addr;
    let (open, protected) = fk_subjects();
    let held: Vec<String> = protected.iter().take(4).cloned().collect();
    assert_eq!(
        held.len(),
        4,
        "the synthetic population has protected subjects"
    );
    // 1,500 subjects; the four protected ones spread over both parts, the first twice.
    let mut subjects: Vec<String> = open.iter().cycle().take(1500).cloned().collect();
    for (i, subject) in held.iter().enumerate() {
        subjects[100 + i * 350] = subject.clone();
    }
    subjects[1400] = held[0].clone();
    let fields = ["forman", "belopp", "period"];
    assert_eq!(create(malmo, "held-1", &fields).await.status, 201);
    let lines: Vec<String> = subjects.iter().map(|s| json!(s).to_string()).collect();
    let (status, taken) = upload(malmo, "held-1", 0, "application/x-ndjson", &lines).await;
    assert_eq!(status, 200, "{taken:#}");
    assert_eq!(taken["bulk"]["held"], 5);

    // The reviewer sees one batch of four — a subject the bulk names twice is asked once —
    // with the decision support of its oldest review.
    let batch = batch_with(fk, 4).await;
    let name = batch["batch"].as_str().unwrap().to_owned();
    let first = &batch["first"];
    assert_eq!(first["protected_identity"], true, "{batch:#}");
    assert_eq!(first["requester"], MALMO);
    assert_eq!(first["case_ref"], "ASN-2026-004512");
    let under_review: Vec<String> = first["fields"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|f| f["outcome"] == "review")
        .map(|f| f["field"].as_str().unwrap().to_owned())
        .collect();
    assert!(under_review.contains(&"forman".to_owned()), "{batch:#}");
    let shown = call(fk, "GET", &format!("/v1/review-batches/{name}"), &[], None).await;
    assert_eq!(shown.status, 200, "{:#}", shown.body);
    assert_eq!(shown.body["pending"], 4);
    let page = call(
        fk,
        "GET",
        &format!("/v1/review-batches/{name}/reviews?limit=3"),
        &[],
        None,
    )
    .await;
    assert_eq!(page.status, 200, "{:#}", page.body);
    assert_eq!(page.body.as_array().unwrap().len(), 3);
    assert!(page.link.is_some(), "a next page");

    // Each held subject's own request at Malmö, by the ticket it is in review under.
    let all = records(malmo, "held-1", 0).await;
    let mut ticket_of = BTreeMap::new();
    for record in all.iter().filter(|r| r["status"] == "held") {
        let key = record["request"].as_str().unwrap().to_owned();
        let own = call(malmo, "GET", &format!("/v1/requests/{key}"), &[], None).await;
        assert_eq!(own.status, 202, "{:#}", own.body);
        ticket_of.insert(key, own.body["ticket"].as_str().unwrap().to_owned());
    }
    assert_eq!(ticket_of.len(), 4);
    let (kept_key, kept_ticket) = ticket_of.iter().next().unwrap();

    // A decision is checked before anything is decided.
    let decision = |fields: Vec<Value>, except: Vec<&str>| {
        serde_json::to_vec(&json!({
            "reviewer": {"officer": "fk-jurist-1", "unit": "fk-kontroll", "role": "jurist"},
            "fields": fields,
            "except": except,
        }))
        .unwrap()
    };
    let reason = "Behovet av uppgiften väger tyngre än skyddsintresset för dessa personer.";
    let decided: Vec<Value> = under_review
        .iter()
        .map(|f| {
            let outcome = if f == "forman" { "disclose" } else { "refuse" };
            json!({"field": f, "outcome": outcome, "reason": reason})
        })
        .collect();
    let path = format!("/v1/review-batches/{name}/decision");
    let unreasoned: Vec<Value> = under_review
        .iter()
        .map(|f| json!({"field": f, "outcome": "refuse", "reason": " "}))
        .collect();
    for (body, status, slug) in [
        (decision(unreasoned, vec![]), 422, "invalid-review-decision"),
        (
            decision(decided[..1].to_vec(), vec![]),
            422,
            "invalid-review-decision",
        ),
        (
            decision(decided.clone(), vec!["no-such-ticket"]),
            422,
            "invalid-review-decision",
        ),
    ] {
        assert_problem(
            &call(fk, "POST", &path, &[], Some(body)).await,
            status,
            slug,
        );
    }
    for bad in ["0123456789abcdef0123456789abcdef", "x"] {
        let path = format!("/v1/review-batches/{bad}/decision");
        let body = decision(decided.clone(), vec![]);
        assert_problem(
            &call(fk, "POST", &path, &[], Some(body)).await,
            404,
            "review-batch-not-found",
        );
    }
    assert_eq!(batch_with(fk, 4).await["batch"], name, "nothing decided");

    // Decided once, but for one subject left for one-by-one review.
    let fk_ledger = federation.node(FK).unwrap().audit();
    let before = fk_ledger.ledger().size();
    let accepted = call(
        fk,
        "POST",
        &path,
        &[],
        Some(decision(decided.clone(), vec![kept_ticket])),
    )
    .await;
    assert_eq!(accepted.status, 202, "{:#}", accepted.body);
    assert_eq!(accepted.body["deciding"], 3);
    assert_eq!(accepted.body["excepted"], 1);
    for _ in 0..100 {
        let shown = call(fk, "GET", &format!("/v1/review-batches/{name}"), &[], None).await;
        if shown.body["pending"] == 1 {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
    let shown = call(fk, "GET", &format!("/v1/review-batches/{name}"), &[], None).await;
    assert_eq!(shown.body["pending"], 1, "{:#}", shown.body);
    assert_eq!(shown.body["first"]["ticket"], kept_ticket.as_str());
    // A batch of one is an ordinary review, no longer listed as a batch.
    let listed = call(fk, "GET", "/v1/review-batches", &[], None).await;
    assert_eq!(listed.body, json!([]));
    // Each decided review is its own decision in the ledger.
    let decisions = (before..fk_ledger.ledger().size())
        .filter(|i| {
            let leaf = fk_ledger.ledger().entry(*i).unwrap();
            let record: Value = serde_json::from_slice(&leaf).unwrap();
            record["event"] == "review_decision"
        })
        .count();
    assert_eq!(decisions, 3);

    // Malmö gets each decided subject's answer as for a review decided on its own: the field
    // disclosed, the others refused with the reviewer's reason; the excepted one still waits.
    for (key, ticket) in &ticket_of {
        if key == kept_key {
            let own = call(malmo, "GET", &format!("/v1/requests/{key}"), &[], None).await;
            assert_eq!(own.status, 202, "{:#}", own.body);
            assert_eq!(own.body["ticket"], ticket.as_str());
            continue;
        }
        wait_answered(malmo, key).await;
        let own = call(malmo, "GET", &format!("/v1/requests/{key}"), &[], None).await;
        assert_eq!(own.status, 200, "{:#}", own.body);
        let values = own.body["values"].as_object().unwrap();
        assert!(values.keys().all(|k| k == "forman"), "{:#}", own.body);
        let refused = own.body["fields"]
            .as_array()
            .unwrap()
            .iter()
            .find(|f| f["outcome"] == "refuse" && f["reason"] == reason);
        assert!(
            refused.is_some() || under_review.len() == 1,
            "{:#}",
            own.body
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_bulk_answers_what_each_subjects_own_request_answers() {
    let (_dir, federation) = federation(&[MALMO, FK, "polismyndigheten"]).await;
    let malmo = federation.node(MALMO).unwrap().local_addr;
    let (open, protected) = fk_subjects();
    let pool: Vec<String> = open
        .iter()
        .take(40)
        .chain(protected.iter().take(3))
        .cloned()
        .collect();
    let all_fields = [
        "forman",
        "belopp",
        "period",
        "utbetalningskonto",
        "beslut",
        "diagnos",
    ];
    // Some subjects of the pool (repeats allowed), in any order, and some of the offering's fields.
    let strategy = (
        proptest::collection::vec(0..pool.len(), 1..12),
        proptest::sample::subsequence(all_fields.to_vec(), 1..=all_fields.len()),
    );
    let mut runner = TestRunner::deterministic();
    for case in 0..8 {
        let (picks, fields) = strategy.new_tree(&mut runner).unwrap().current();
        let subjects: Vec<&String> = picks.iter().map(|i| &pool[*i]).collect();
        let key = format!("prop-{case}");
        let created = create(malmo, &key, &fields).await;
        if created.status == 422 {
            // Fields a reviewer decides are not asked in bulk: each subject's own request
            // goes to review.
            assert_eq!(created.body["field"], "fields", "{:#}", created.body);
            let own = submit(malmo, &format!("{key}-own"), &luffa_case(&pool[0], &fields)).await;
            assert_eq!(own.body["status"], "review", "case {case}: {:#}", own.body);
            continue;
        }
        assert_eq!(created.status, 201, "{:#}", created.body);
        let lines: Vec<String> = subjects.iter().map(|s| json!(s).to_string()).collect();
        let (status, taken) = upload(malmo, &key, 0, "application/x-ndjson", &lines).await;
        assert_eq!(status, 200, "{taken:#}");
        let bulk = records(malmo, &key, 0).await;
        assert_eq!(bulk.len(), subjects.len());
        for (n, subject) in subjects.iter().enumerate() {
            let own = submit(
                malmo,
                &format!("{key}-own-{n}"),
                &luffa_case(subject, &fields),
            )
            .await;
            assert_eq!(own.status / 100, 2, "{:#}", own.body);
            let record = &bulk[n];
            let expected_status = match own.body["status"].as_str().unwrap() {
                "answered" => "answered",
                _ => "held",
            };
            assert_eq!(
                record["status"], expected_status,
                "case {case}, subject {n}"
            );
            let outcomes: BTreeMap<String, Value> = own.body["fields"]
                .as_array()
                .unwrap()
                .iter()
                .map(|f| {
                    (
                        f["field"].as_str().unwrap().to_owned(),
                        f["outcome"].clone(),
                    )
                })
                .collect();
            let bulk_outcomes: BTreeMap<String, Value> = record["outcomes"]
                .as_object()
                .unwrap()
                .iter()
                .map(|(k, v)| (k.clone(), v.clone()))
                .collect();
            assert_eq!(bulk_outcomes, outcomes, "case {case}, subject {n}");
            assert_eq!(
                record["values"], own.body["values"],
                "case {case}, subject {n}"
            );
        }
    }
}
