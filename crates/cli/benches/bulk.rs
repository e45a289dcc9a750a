//! Bulk benchmark: Malmö stad's case system asks Försäkringskassan about a million subjects in
//! one bulk, through two `utbyte node serve` processes on loopback, against the same subjects
//! asked one request each through the same nodes, in one run.
//!
//! Run: `scripts/bench-bulk [--subjects N] [--persons P] [--requests R] [--concurrency C]
//! [--unprotected]` (defaults 1,000,000 subjects, a population of 100,000 persons, 20,000
//! requests 32 at a time; `--unprotected` leaves the protected persons out of the subjects, to
//! see what holding them costs; then the federated search benchmark), or alone
//! `cargo bench -p utbyte --bench bulk -- …`.
//!
//! Försäkringskassan's register holds a synthetic population of P persons (`utbyte_synthetic`,
//! seed 7): every person, with its protected-identity flag, and the benefits of those who have
//! one, imported with `utbyte node import-register`. The subjects are the population's persons
//! in order, cycled up to N, the protected ones (about 2 %) included as they come.
//!
//! 1. **bulk** — `POST /v1/bulk` (LUFFA, `fk-formaner`: `forman`, `belopp`, `period`,
//!    pre-assessed), then the N subjects as NDJSON streamed by curl from a file written
//!    beforehand (HTTP/1.1, `Transfer-Encoding: chunked`), timed from the start of the upload to its 200
//!    answer: every subject asked of the provider, decided, minimised and recorded in both
//!    ledgers; a protected subject held and asked on its own. The answer must say N subjects.
//! 2. **records** — `GET /v1/bulk/{key}/records` read to the end; N lines.
//! 3. **per request** — the first R of the same subjects, each its own `POST /v1/requests`
//!    under its own key, C at a time (a Rust client over mutual TLS, connections kept).
//!
//! Peak RSS is each node process's `VmHWM` after all three. Both ledgers must have grown by at
//! least N/256 entries (a run of up to 256 subjects decided alike is one entry, its receipt one
//! at Malmö), and their runs must cover every subject. The CPU each process used during the
//! upload and the requests is printed, to tell which was busy. The anchors: the goal (≥ 100,000
//! subjects/s, ≤ 256 MiB per node), the per-request path in the same run, and the 110
//! requests/s reported for X-Road.

#![allow(clippy::unwrap_used, clippy::expect_used)]

#[path = "../tests/common/mod.rs"]
mod common;

use common::{Guide, Node, Setup};
use serde_json::{json, Value};
use std::collections::BTreeMap;
use std::io::{BufRead, BufReader, Write};
use std::path::Path;
use std::process::{Command, Stdio};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};
use utbyte_audit::AuditDir;
use utbyte_synthetic::{OfferingFields, Population};

const GOAL_PER_SECOND: f64 = 100_000.0;
const GOAL_RSS_MIB: f64 = 256.0;
/// X-Road's reported throughput of one security server, requests a second.
const XROAD_PER_SECOND: f64 = 110.0;
/// Subjects a provider's ledger entry covers at most.
const RUN: u64 = 256;
const OFFERING: &str = "fk-formaner";
const FIELDS: [&str; 3] = ["forman", "belopp", "period"];
const BULK_KEY: &str = "bench-bulk";

struct Args {
    subjects: usize,
    persons: usize,
    requests: usize,
    concurrency: usize,
    /// Leave the persons with protected identity out of the subjects.
    unprotected: bool,
}

fn args() -> Args {
    let given = utbyte_testbed::options::Options::read(
        &[
            ("--subjects", 1_000_000),
            ("--persons", 100_000),
            ("--requests", 20_000),
            ("--concurrency", 32),
        ],
        &["--unprotected"],
    );
    let args = Args {
        subjects: given.number("--subjects"),
        persons: given.number("--persons"),
        requests: given.number("--requests"),
        concurrency: given.number("--concurrency"),
        unprotected: given.switch("--unprotected"),
    };
    assert!(args.subjects > 0 && args.persons > 0 && args.concurrency > 0);
    args
}

/// The population's persons in order, with their protected-identity flag, and Försäkringskassan's
/// register of them as `utbyte node import-register` reads it: every person, with the benefit
/// fields of those who have one.
fn population(persons: usize) -> (Vec<(String, bool)>, String) {
    let population = Population { seed: 7, persons };
    // Skatteverket's population register holds every person; only the subjects are wanted.
    let everyone = utbyte_synthetic::batch(
        &[OfferingFields {
            offering: "skv-folkbokforing".into(),
            fields: Vec::new(),
        }],
        population,
    )
    .unwrap();
    let fields: Vec<String> = [
        "forman",
        "belopp",
        "period",
        "utbetalningskonto",
        "beslut",
        "handlaggningsstatus",
        "diagnos",
        "lakarintyg",
    ]
    .into_iter()
    .filter(|f| utbyte_synthetic::has_generator(OFFERING, f))
    .map(str::to_owned)
    .collect();
    let benefits = utbyte_synthetic::batch(
        &[OfferingFields {
            offering: OFFERING.into(),
            fields,
        }],
        population,
    )
    .unwrap();
    let mut values: BTreeMap<String, serde_json::Map<String, Value>> = BTreeMap::new();
    for record in benefits.records() {
        values
            .entry(record.subject.as_str().to_owned())
            .or_default()
            .insert(record.field.clone(), record.value.clone());
    }
    let mut register = String::new();
    let mut subjects = Vec::new();
    for s in everyone.subjects() {
        let id = s.subject.as_str().to_owned();
        let line = json!({
            "subject": id,
            "protected_identity": s.protected_identity,
            "fields": values.remove(&id).unwrap_or_default(),
        });
        register.push_str(&line.to_string());
        register.push('\n');
        subjects.push((id, s.protected_identity));
    }
    (subjects, register)
}

/// CPU time a process has used, user and system, in seconds; with `children`, that of its
/// children waited for too.
fn cpu_seconds(pid: u32, children: bool) -> f64 {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).unwrap();
    // Fields after the command (which may hold spaces) in parentheses.
    let fields: Vec<&str> = stat[stat.rfind(')').unwrap() + 2..].split(' ').collect();
    let counted = if children { 11..15 } else { 11..13 };
    let ticks: f64 = fields[counted]
        .iter()
        .map(|f| f.parse::<f64>().unwrap())
        .sum();
    // Linux reports in USER_HZ, 100 per second on every architecture it runs on.
    ticks / 100.0
}

/// Peak resident memory of a process, in MiB.
fn peak_rss_mib(pid: u32) -> f64 {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap();
    let kib: f64 = status
        .lines()
        .find_map(|l| l.strip_prefix("VmHWM:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
        .unwrap();
    kib / 1024.0
}

/// CPU seconds of the two nodes and of the client (this process and the curl it ran), to tell
/// which was busy.
#[derive(Clone, Copy)]
struct Cpu {
    malmo: f64,
    fk: f64,
    bench: f64,
}

impl Cpu {
    fn now(malmo: u32, fk: u32) -> Self {
        Cpu {
            malmo: cpu_seconds(malmo, false),
            fk: cpu_seconds(fk, false),
            bench: cpu_seconds(std::process::id(), true),
        }
    }

    fn since(self, before: Cpu) -> Cpu {
        Cpu {
            malmo: self.malmo - before.malmo,
            fk: self.fk - before.fk,
            bench: self.bench - before.bench,
        }
    }

    /// Each as a share of one core over `took`.
    fn describe(self, took: Duration, client: &str) -> String {
        let share = |s: f64| 100.0 * s / took.as_secs_f64();
        format!(
            "CPU Malmö {:.1} s ({:.0} %), Försäkringskassan {:.1} s ({:.0} %), {client} {:.1} s ({:.0} %) of 2 cores = 200 %",
            self.malmo,
            share(self.malmo),
            self.fk,
            share(self.fk),
            self.bench,
            share(self.bench)
        )
    }
}

/// The ledger in `ROOT/LEDGER` as published now.
fn ledger(root: &Path, node: &Node) -> AuditDir {
    AuditDir::open(&root.join(node.ledger()), None).unwrap()
}

/// What a ledger holds from an index on: its entries, and the subjects their bulk runs cover.
struct Grown {
    from: u64,
    entries: u64,
    covered: u64,
}

impl Grown {
    /// Follows `node`'s published ledger from `from` until its bulk runs cover `subjects` (or
    /// nothing more is published for 10 s); then what it holds from `from` on.
    fn settle(root: &Path, node: &Node, from: u64, subjects: u64) -> Self {
        let mut grown = Grown {
            from,
            entries: 0,
            covered: 0,
        };
        let mut last_change = Instant::now();
        loop {
            let ledger = ledger(root, node);
            let read = from + grown.entries;
            for index in read..ledger.size() {
                let record: Value = serde_json::from_slice(&ledger.entry(index).unwrap()).unwrap();
                grown.covered += record["bulk"]["count"].as_u64().unwrap_or(0);
            }
            if ledger.size() > read {
                grown.entries = ledger.size() - from;
                last_change = Instant::now();
            }
            if grown.covered >= subjects || last_change.elapsed() > Duration::from_secs(10) {
                return grown;
            }
            std::thread::sleep(Duration::from_millis(200));
        }
    }

    /// The ledger's size when last read.
    fn size(&self) -> u64 {
        self.from + self.entries
    }
}

/// Waits (up to 10 s) until the ledger of `node` publishes at least `size` entries; its size.
fn published(root: &Path, node: &Node, size: u64) -> u64 {
    let until = Instant::now() + Duration::from_secs(10);
    loop {
        let now = ledger(root, node).size();
        if now >= size || Instant::now() > until {
            return now;
        }
        std::thread::sleep(Duration::from_millis(200));
    }
}

/// The case system's client of Malmö's local API: mutual TLS with its own certificate.
fn client(root: &Path, node: &Node, connections: usize) -> reqwest::Client {
    use rustls::pki_types::pem::PemObject;
    use rustls::pki_types::{CertificateDer, PrivateKeyDer};
    let dir = root.join(node.dir);
    let mut roots = rustls::RootCertStore::empty();
    for cert in CertificateDer::pem_file_iter(dir.join("agency-ca.pem")).unwrap() {
        roots.add(cert.unwrap()).unwrap();
    }
    let tls = rustls::ClientConfig::builder_with_provider(Arc::new(
        rustls::crypto::ring::default_provider(),
    ))
    .with_protocol_versions(&[&rustls::version::TLS13])
    .unwrap()
    .with_root_certificates(roots)
    .with_client_auth_cert(
        CertificateDer::pem_file_iter(dir.join(format!("{}.crt", node.client)))
            .unwrap()
            .map(Result::unwrap)
            .collect(),
        PrivateKeyDer::from_pem_file(dir.join(format!("{}.key", node.client))).unwrap(),
    )
    .unwrap();
    reqwest::Client::builder()
        .use_preconfigured_tls(tls)
        .no_proxy()
        .pool_max_idle_per_host(connections)
        .timeout(Duration::from_secs(120))
        .build()
        .unwrap()
}

/// What the per-request path measured.
struct PerRequest {
    took: Duration,
    /// Answers by status.
    statuses: BTreeMap<u16, usize>,
    /// The first answer that was neither 200 nor 202.
    odd: Option<String>,
    /// Latencies in ms, sorted.
    latencies: Vec<f64>,
}

/// Each subject its own `POST /v1/requests`, `concurrency` at a time.
fn per_request(root: &Path, node: &Node, subjects: &[String], concurrency: usize) -> PerRequest {
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap();
    let client = client(root, node, concurrency);
    let url = node.url("/v1/requests");
    let subjects: Arc<Vec<String>> = Arc::new(subjects.to_vec());
    runtime.block_on(async move {
        let next = Arc::new(AtomicUsize::new(0));
        let started = Instant::now();
        let mut workers = tokio::task::JoinSet::new();
        for _ in 0..concurrency {
            let (client, url, next, subjects) = (
                client.clone(),
                url.clone(),
                Arc::clone(&next),
                Arc::clone(&subjects),
            );
            workers.spawn(async move {
                let mut done = Vec::new();
                loop {
                    let n = next.fetch_add(1, Ordering::Relaxed);
                    let Some(subject) = subjects.get(n) else {
                        return done;
                    };
                    let body = json!({
                        "subject": subject, "offering": OFFERING, "fields": FIELDS,
                        "purpose": "kontroll-ekonomiskt-bistand", "legal_basis": "luffa",
                        "case_ref": "ASN-2026-004512", "officer": "malmo-h4711",
                        "role": "handlaggare", "unit": "malmo-ekonomiskt-bistand",
                    });
                    let sent = Instant::now();
                    let answer = client
                        .post(&url)
                        .header("idempotency-key", format!("bench-request-{n}"))
                        .header("content-type", "application/json")
                        .body(body.to_string())
                        .send()
                        .await;
                    let (status, text) = match answer {
                        Ok(answer) => {
                            let status = answer.status().as_u16();
                            (status, answer.text().await.unwrap_or_default())
                        }
                        Err(err) => (0, err.to_string()),
                    };
                    done.push((status, text, sent.elapsed().as_secs_f64() * 1000.0));
                }
            });
        }
        let mut statuses = BTreeMap::new();
        let mut odd = None;
        let mut latencies = Vec::with_capacity(subjects.len());
        while let Some(done) = workers.join_next().await {
            for (status, text, ms) in done.unwrap() {
                *statuses.entry(status).or_insert(0) += 1;
                if !matches!(status, 200 | 202) && odd.is_none() {
                    odd = Some(format!("{status} {text}"));
                }
                latencies.push(ms);
            }
        }
        let took = started.elapsed();
        latencies.sort_by(f64::total_cmp);
        PerRequest {
            took,
            statuses,
            odd,
            latencies,
        }
    })
}

fn percentile(sorted: &[f64], p: f64) -> f64 {
    if sorted.is_empty() {
        return f64::NAN;
    }
    sorted[((sorted.len() - 1) as f64 * p).round() as usize]
}

/// curl's arguments for a call of `node`'s local API by its case system.
fn curl_args(root: &Path, node: &Node) -> Vec<String> {
    let mut args = node.tls(root);
    args.extend(["--silent".into(), "--show-error".into()]);
    args
}

fn main() {
    let args = args();
    let tmp = tempfile::tempdir().unwrap();
    let root = tmp.path();

    eprintln!(
        "== a synthetic population of {} persons for Försäkringskassan's register",
        args.persons
    );
    let started = Instant::now();
    let (persons, register) = population(args.persons);
    let protected_persons = persons.iter().filter(|(_, p)| *p).count();
    eprintln!(
        "   {} persons ({protected_persons} with protected identity) in {:.1} s",
        persons.len(),
        started.elapsed().as_secs_f64()
    );

    eprintln!(
        "== setting up a directory and two nodes in {}",
        root.display()
    );
    let started = Instant::now();
    let guide = Guide::set_up(
        root,
        &Setup {
            register: &register,
            malmo_duties: "\"request\"",
            fk_duties: common::FK_DUTIES,
            node_extra: "",
        },
    );
    drop(register);
    let (_directory, _) = guide.start_directory();
    let fk = guide.fk.start(root);
    let malmo = guide.malmo.start(root);
    eprintln!("   set up in {:.1} s", started.elapsed().as_secs_f64());
    let (asker, provider) = (&guide.malmo, &guide.fk);

    // The subjects, cycled; written beforehand so that the upload is curl reading a file.
    let asked_about = || {
        persons
            .iter()
            .filter(|(_, protected)| !(args.unprotected && *protected))
            .cycle()
            .take(args.subjects)
    };
    let subjects: Vec<&str> = asked_about().map(|(id, _)| id.as_str()).collect();
    let protected_subjects = asked_about().filter(|(_, p)| *p).count();
    let file = root.join("subjects.ndjson");
    {
        let mut out = std::io::BufWriter::new(std::fs::File::create(&file).unwrap());
        for subject in &subjects {
            writeln!(out, "\"{subject}\"").unwrap();
        }
        out.flush().unwrap();
    }
    let body_bytes = std::fs::metadata(&file).unwrap().len();

    let fk_before = ledger(root, provider).size();
    let malmo_before = ledger(root, asker).size();

    // 1. The bulk.
    eprintln!(
        "== bulk: {} subjects ({protected_subjects} with protected identity), {:.1} MB of NDJSON",
        args.subjects,
        body_bytes as f64 / 1e6
    );
    common::load::create_bulk(asker, root, BULK_KEY, &FIELDS, "ASN-2026-004512");
    let mut upload = curl_args(root, asker);
    upload.extend([
        "--http1.1".into(),
        "--fail-with-body".into(),
        "-X".into(),
        "POST".into(),
        "-H".into(),
        "Content-Type: application/x-ndjson".into(),
        "-H".into(),
        "Transfer-Encoding: chunked".into(),
        "--data-binary".into(),
        format!("@{}", file.display()),
        asker.url(&format!("/v1/bulk/{BULK_KEY}/subjects?from=0")),
    ]);
    let cpu_before = Cpu::now(malmo.pid(), fk.pid());
    let started = Instant::now();
    let out = Command::new("curl").args(&upload).output().unwrap();
    let bulk_took = started.elapsed();
    let bulk_cpu = Cpu::now(malmo.pid(), fk.pid()).since(cpu_before);
    let answer: Value = serde_json::from_slice(&out.stdout).unwrap_or_default();
    assert!(
        out.status.success(),
        "the upload failed: {}{answer:#}{}",
        String::from_utf8_lossy(&out.stderr),
        asker.log_tail(root)
    );
    let bulk = &answer["bulk"];
    assert_eq!(answer["taken"], args.subjects, "{answer:#}");
    assert_eq!(bulk["subjects"], args.subjects, "{answer:#}");
    let bulk_rate = args.subjects as f64 / bulk_took.as_secs_f64();
    eprintln!(
        "   {:.1} s: {bulk_rate:.0} subjects/s; {} answered, {} held, {} parts",
        bulk_took.as_secs_f64(),
        bulk["answered"],
        bulk["held"],
        bulk["parts"]
    );

    // 2. The records, read back.
    eprintln!("== records read back");
    let mut read = curl_args(root, asker);
    read.extend([
        "--fail".into(),
        asker.url(&format!("/v1/bulk/{BULK_KEY}/records?from=0")),
    ]);
    let started = Instant::now();
    let mut child = Command::new("curl")
        .args(&read)
        .stdout(Stdio::piped())
        .spawn()
        .unwrap();
    let mut lines = 0usize;
    let mut held = 0usize;
    let mut disclosed = 0usize;
    for line in BufReader::with_capacity(1 << 20, child.stdout.take().unwrap()).lines() {
        let line = line.unwrap();
        // Checked cheaply, not parsed: every line a record of the next subject.
        if lines < 3 || lines + 1 == args.subjects {
            let record: Value = serde_json::from_str(&line).unwrap();
            assert_eq!(record["n"], lines, "{record}");
            assert_eq!(record["subject"], subjects[lines], "{record}");
        }
        if line.contains("\"status\":\"held\"") {
            held += 1;
        } else if !line.contains("\"values\":{}") {
            disclosed += 1;
        }
        lines += 1;
    }
    assert!(
        child.wait().unwrap().success(),
        "reading the records failed"
    );
    let read_took = started.elapsed();
    assert_eq!(lines, args.subjects, "a record per subject");
    let read_rate = lines as f64 / read_took.as_secs_f64();
    eprintln!(
        "   {lines} records in {:.1} s: {read_rate:.0}/s ({disclosed} with values, {held} held)",
        read_took.as_secs_f64()
    );

    // The ledgers: a provider's entry per run of up to 256 subjects, a receipt of each.
    let fk_grown = Grown::settle(root, provider, fk_before, args.subjects as u64);
    let malmo_grown = Grown::settle(root, asker, malmo_before, args.subjects as u64);

    // 3. The same subjects, one request each.
    let requests = args.requests.min(args.subjects);
    eprintln!(
        "== per request: {requests} POST /v1/requests, {} at a time",
        args.concurrency
    );
    let asked_one_by_one: Vec<String> = subjects[..requests]
        .iter()
        .map(|s| (*s).to_owned())
        .collect();
    let cpu_before = Cpu::now(malmo.pid(), fk.pid());
    let single = per_request(root, asker, &asked_one_by_one, args.concurrency);
    let single_cpu = Cpu::now(malmo.pid(), fk.pid()).since(cpu_before);
    let single_rate = requests as f64 / single.took.as_secs_f64();
    eprintln!(
        "   {:.1} s: {single_rate:.0} requests/s; answers by status {:?}",
        single.took.as_secs_f64(),
        single.statuses
    );
    assert!(
        single.odd.is_none(),
        "a request was not answered: {}{}",
        single.odd.unwrap_or_default(),
        asker.log_tail(root)
    );
    let fk_single = published(root, provider, fk_grown.size() + requests as u64);
    let malmo_single = published(root, asker, malmo_grown.size() + requests as u64);

    let malmo_rss = peak_rss_mib(malmo.pid());
    let fk_rss = peak_rss_mib(fk.pid());

    println!();
    println!(
        "bulk: {} subjects of a {}-person population ({protected_subjects} protected), loopback, 2 node processes, 2 cores",
        args.subjects,
        persons.len()
    );
    println!(
        "{:<56} {:>12} {:>12} {:>8}",
        "figure", "value", "anchor", "ratio"
    );
    let row = |figure: &str, value: f64, anchor: f64, ratio: f64| {
        println!("{figure:<56} {value:>12.1} {anchor:>12.1} {ratio:>8.2}");
    };
    row(
        "bulk subjects/s decided, minimised, audited (goal)",
        bulk_rate,
        GOAL_PER_SECOND,
        bulk_rate / GOAL_PER_SECOND,
    );
    row(
        "bulk subjects/s / per-request requests/s (same run)",
        bulk_rate,
        single_rate,
        bulk_rate / single_rate,
    );
    row(
        "per-request requests/s / X-Road reported",
        single_rate,
        XROAD_PER_SECOND,
        single_rate / XROAD_PER_SECOND,
    );
    row(
        "Malmö node (asks) peak RSS, MiB (goal)",
        malmo_rss,
        GOAL_RSS_MIB,
        GOAL_RSS_MIB / malmo_rss,
    );
    row(
        "Försäkringskassan node (answers) peak RSS, MiB (goal)",
        fk_rss,
        GOAL_RSS_MIB,
        GOAL_RSS_MIB / fk_rss,
    );
    row(
        "records read back/s (goal)",
        read_rate,
        GOAL_PER_SECOND,
        read_rate / GOAL_PER_SECOND,
    );
    let hours = |rate: f64| 1e6 / rate / 3600.0;
    println!(
        "(1,000,000 subjects: bulk {:.2} h ({:.0} s), per request {:.2} h, X-Road at 110/s {:.2} h)",
        hours(bulk_rate),
        1e6 / bulk_rate,
        hours(single_rate),
        hours(XROAD_PER_SECOND)
    );
    println!(
        "(bulk: {:.1} s upload to answer, {} answered, {} held and asked on their own, {} parts; {}; records {:.1} s)",
        bulk_took.as_secs_f64(),
        bulk["answered"],
        bulk["held"],
        bulk["parts"],
        bulk_cpu.describe(bulk_took, "curl"),
        read_took.as_secs_f64()
    );
    println!(
        "(per request: {requests} in {:.1} s, {} at a time, by status {:?}, latency p50 {:.1} ms p95 {:.1} ms p99 {:.1} ms; {})",
        single.took.as_secs_f64(),
        args.concurrency,
        single.statuses,
        percentile(&single.latencies, 0.5),
        percentile(&single.latencies, 0.95),
        percentile(&single.latencies, 0.99),
        single_cpu.describe(single.took, "client")
    );
    println!(
        "(ledgers for the bulk: Försäkringskassan +{} entries whose runs cover {} subjects, {:.1} a run, Malmö +{} receipts covering {}; after the requests {} and {} entries)",
        fk_grown.entries,
        fk_grown.covered,
        fk_grown.covered as f64 / fk_grown.entries.max(1) as f64,
        malmo_grown.entries,
        malmo_grown.covered,
        fk_single, malmo_single
    );
    let least = (args.subjects as u64).div_ceil(RUN);
    assert!(
        fk_grown.entries >= least && malmo_grown.entries >= least,
        "the ledgers grew by {} (provider) and {} (Malmö) entries for {} subjects",
        fk_grown.entries,
        malmo_grown.entries,
        args.subjects
    );
    assert_eq!(
        (fk_grown.covered, malmo_grown.covered),
        (args.subjects as u64, args.subjects as u64),
        "every subject is in a run of both ledgers"
    );
}
