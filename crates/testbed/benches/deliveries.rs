//! The subscription benchmark's second stage — notices delivered node to node — beside NATS
//! JetStream in the same run.
//!
//! Run: `scripts/bench-subscriptions` (this after the capture-and-match stage), or alone
//! `cargo bench -p utbyte-testbed --bench deliveries -- [--notices N] [--rate N]` (defaults
//! 100,000 notices flat out, then as many paced at 10,000 a second).
//!
//! **utbyte**: a loopback federation of two real nodes over mutual TLS — Försäkringskassan's
//! providing `fk-formaner`, Malmö stad's subscribing through its local API for 20,000 subjects.
//! The benchmark writes Försäkringskassan's register (SQLite) in batches of 500 subjects, each
//! write an update to a covered subject; Försäkringskassan's node captures the changes, matches
//! them, decides every notice again, records them in its ledger and sends them in batches;
//! Malmö's node checks and records each batch in its own ledger, keeps each notice once and
//! answers with a signed acknowledgement. A reader follows Malmö's notices as its feed would.
//! Timed from the first write to the last notice held at Malmö; latency is the register write
//! to the notice held by the subscriber. Both ledgers are checked to record every notice.
//!
//! **JetStream** (127.0.0.1:4222): the same number of events published to a file-backed
//! stream, every publish acknowledged, taken by a durable pull consumer acknowledging each —
//! a delivery with an acknowledgement at each end, without rules or audit.

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::sync::Arc;
use std::time::{Duration, Instant};

use common::{jetstream, percentile, person, Run};
use serde_json::{json, Value};
use time::OffsetDateTime;
use utbyte_audit::{AuditRecord, EventKind};
use utbyte_store::{ExchangeStore, Register, RegisterBatch, RegisterStore};
use utbyte_synthetic::Population;
use utbyte_testbed::access::CASE_SYSTEM;
use utbyte_testbed::loopback::{LoopbackFederation, Plan};

const PROVIDER: &str = "forsakringskassan";
const SUBSCRIBER: &str = "malmo-stad";
const OFFERING: &str = "fk-formaner";
/// Subjects the subscription covers; every write goes to one of them.
const COVERED: usize = 20_000;
/// Subjects per register write.
const WRITE_BATCH: usize = 500;
const GOAL_PER_SECOND: f64 = 10_000.0;

struct Args {
    notices: usize,
    rate: usize,
}

fn args() -> Args {
    let given =
        utbyte_testbed::options::Options::read(&[("--notices", 100_000), ("--rate", 10_000)], &[]);
    Args {
        notices: given.number("--notices"),
        rate: given.number("--rate"),
    }
}

/// The two nodes, Malmö subscribed, and a view of Malmö's notices.
struct Federation {
    _dir: tempfile::TempDir,
    federation: LoopbackFederation,
    register: Arc<RegisterStore>,
    received: ExchangeStore,
    taken: u64,
    written: usize,
}

impl Federation {
    async fn start() -> Self {
        let dir = tempfile::tempdir().unwrap();
        let rulebook = utbyte_rules::rulebook::read_dir(
            &std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../../rulebook"),
        )
        .unwrap();
        let mut plan = Plan::new(
            dir.path().join("f"),
            rulebook,
            &[PROVIDER, SUBSCRIBER],
            Population {
                seed: 7,
                persons: 600,
            },
        )
        .unwrap();
        plan.config_lifetime = time::Duration::hours(2);
        let token = plan.issuer.access_token(CASE_SYSTEM).unwrap();
        let federation = LoopbackFederation::start(plan).await.unwrap();
        let malmo = federation.node(SUBSCRIBER).unwrap().local_addr;
        let client = reqwest::Client::new();
        let covered: Vec<String> = (0..COVERED)
            .map(|n| person(n).as_str().to_owned())
            .collect();
        let started = Instant::now();
        for (i, chunk) in covered.chunks(5_000).enumerate() {
            let (path, body) = if i == 0 {
                (
                    "/v1/subscriptions".to_owned(),
                    json!({
                        "subscription_id": "bench",
                        "officer": "malmo-h4711", "unit": "malmo-ekonomiskt-bistand",
                        "role": "handlaggare", "offering": OFFERING,
                        "events": ["utbetalning-andrad"],
                        "purpose": "kontroll-ekonomiskt-bistand", "legal_basis": "luffa",
                        "case_ref": "ASN-2026-000001",
                        "ends": (OffsetDateTime::now_utc() + time::Duration::days(30))
                            .format(&time::format_description::well_known::Rfc3339).unwrap(),
                        "subjects": chunk,
                    }),
                )
            } else {
                (
                    "/v1/subscriptions/bench/subjects".to_owned(),
                    json!({ "subjects": chunk }),
                )
            };
            let answer: Value = client
                .post(format!("http://{malmo}{path}"))
                .bearer_auth(&token)
                .json(&body)
                .send()
                .await
                .unwrap()
                .error_for_status()
                .unwrap()
                .json()
                .await
                .unwrap();
            assert_ne!(answer["granted"], json!([]), "{answer:#}");
        }
        eprintln!(
            "   Malmö subscribed to {COVERED} subjects in {:.1} s",
            started.elapsed().as_secs_f64()
        );
        let register = federation.register(PROVIDER).unwrap();
        let received = ExchangeStore::open(
            federation
                .dir
                .join("nodes")
                .join(SUBSCRIBER)
                .join("exchange.sqlite"),
        )
        .await
        .unwrap();
        Self {
            _dir: dir,
            federation,
            register,
            received,
            taken: 0,
            written: 0,
        }
    }

    /// Writes `notices` changes to covered subjects (at `rate` a second, or flat out) and
    /// follows Malmö's notices until every one is held.
    async fn run(&mut self, notices: usize, rate: Option<usize>) -> Run {
        let register = Arc::clone(&self.register);
        let generation = self.written;
        self.written += notices;
        let started = Instant::now();
        let writer = tokio::spawn(async move {
            let mut done = 0;
            while done < notices {
                if let Some(rate) = rate {
                    let due = Duration::from_secs_f64(done as f64 / rate as f64);
                    if let Some(wait) = due.checked_sub(started.elapsed()) {
                        tokio::time::sleep(wait).await;
                    }
                }
                let count = WRITE_BATCH.min(notices - done);
                let mut batch = RegisterBatch::new();
                for i in 0..count {
                    // Distinct subjects within a write, so each is one change.
                    let subject = person((generation + done + i) % COVERED);
                    batch.subject(subject, false).record(
                        OFFERING,
                        subject,
                        "belopp",
                        json!(generation + done + i),
                    );
                }
                register.insert(&batch).await.unwrap();
                done += count;
            }
        });
        let mut latencies = Vec::with_capacity(notices);
        let deadline = Instant::now() + Duration::from_secs(600);
        while latencies.len() < notices {
            assert!(
                Instant::now() < deadline,
                "{} of {notices} notices arrived",
                latencies.len()
            );
            let taken = self
                .received
                .received_after(None, self.taken, 5_000)
                .await
                .unwrap();
            let now = OffsetDateTime::now_utc();
            for notice in &taken {
                self.taken = notice.seq;
                latencies.push((now - notice.changed_at).as_seconds_f64() * 1000.0);
            }
            if taken.is_empty() {
                tokio::time::sleep(Duration::from_millis(2)).await;
            }
        }
        let took = started.elapsed().as_secs_f64();
        writer.await.unwrap();
        latencies.sort_by(f64::total_cmp);
        Run {
            per_second: notices as f64 / took,
            p50_ms: percentile(&latencies, 0.5),
            p99_ms: percentile(&latencies, 0.99),
            notices: notices as u64,
        }
    }

    /// How many notices each ledger records: sent at the provider, received at the subscriber.
    fn recorded(&self) -> (u64, u64) {
        let count = |authority: &str, event: EventKind| -> u64 {
            let audit = self.federation.node(authority).unwrap().audit();
            (0..audit.ledger().size())
                .filter_map(|i| AuditRecord::from_leaf(&audit.ledger().entry(i).ok()?).ok())
                .filter(|r| r.event == event)
                .map(|r| u64::from(r.notices.map_or(0, |n| n.count)))
                .sum()
        };
        (
            count(PROVIDER, EventKind::NoticeSent),
            count(SUBSCRIBER, EventKind::NoticeReceived),
        )
    }
}

#[tokio::main(flavor = "multi_thread", worker_threads = 2)]
async fn main() {
    // The case system's client (reqwest) speaks TLS through rustls, which needs a provider.
    let _ = rustls::crypto::ring::default_provider().install_default();
    let args = args();
    eprintln!("== JetStream: {} events flat out", args.notices);
    let jet = jetstream(args.notices, None).await;
    eprintln!("== JetStream: {} events at {}/s", args.notices, args.rate);
    let jet_paced = jetstream(args.notices, Some(args.rate)).await;

    eprintln!("== utbyte: two nodes over mutual TLS");
    let mut nodes = Federation::start().await;
    eprintln!("   {} notices flat out", args.notices);
    let flat = nodes.run(args.notices, None).await;
    eprintln!("   {} notices at {}/s", args.notices, args.rate);
    let paced = nodes.run(args.notices, Some(args.rate)).await;
    // The last acknowledgements may still be on their way: the ledgers settle within moments.
    let mut recorded = nodes.recorded();
    for _ in 0..50 {
        if recorded.0 >= 2 * args.notices as u64 && recorded.1 >= 2 * args.notices as u64 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
        recorded = nodes.recorded();
    }

    println!();
    println!(
        "subscriptions, delivery node to node: {} notices per run, {COVERED} subjects subscribed, loopback, 2 cores",
        args.notices
    );
    println!(
        "{:<58} {:>10} {:>10} {:>7}",
        "figure", "value", "anchor", "ratio"
    );
    let row = |figure: &str, value: f64, anchor: f64| {
        println!(
            "{figure:<58} {value:>10.1} {anchor:>10.1} {:>7.2}",
            value / anchor
        );
    };
    row(
        "notices/s changed, delivered, audited (goal 10,000)",
        flat.per_second,
        GOAL_PER_SECOND,
    );
    row(
        "notices/s delivered / JetStream events/s",
        flat.per_second,
        jet.per_second,
    );
    row(
        &format!(
            "p50 ms change to notice held at {}/s / JetStream",
            args.rate
        ),
        paced.p50_ms,
        jet_paced.p50_ms,
    );
    row(
        &format!(
            "p99 ms change to notice held at {}/s / JetStream",
            args.rate
        ),
        paced.p99_ms,
        jet_paced.p99_ms,
    );
    println!(
        "(recorded: {} notices sent in the provider's ledger, {} received in the subscriber's, of {}; flat out p50 {:.1} ms p99 {:.1} ms; JetStream flat out p50 {:.1} ms p99 {:.1} ms)",
        recorded.0,
        recorded.1,
        2 * args.notices,
        flat.p50_ms,
        flat.p99_ms,
        jet.p50_ms,
        jet.p99_ms
    );
    assert!(
        recorded.0 >= 2 * args.notices as u64 && recorded.1 >= 2 * args.notices as u64,
        "every notice is recorded in both ledgers"
    );
    nodes.federation.stop().await;
}
