//! The subscription benchmark's first stage — change capture and matching at the provider —
//! beside NATS JetStream in the same run.
//!
//! Run: `scripts/bench-subscriptions [--changes N] [--pairs N] [--rate N]` (defaults 200,000 changes,
//! 1,000,000 (subscription, subject) pairs, 20,000 changes/s for the latency run).
//!
//! **utbyte**: a register (SQLite, `synchronous=FULL`) holding twice as many subjects as there
//! are pairs, written in batches of 500 subjects (every write an update), each write recording
//! its changes in its own transaction; the node's matcher
//! (`subscriptions::matcher::round`) following the feed, naming each change's event types from
//! the example rulebook, matching it against the subscriptions' pairs in the exchange store
//! (SQLite) and queuing the notices; a reader taking the queued notices as a delivery would.
//! Half the changes concern a subscribed subject. Timed from the first write to the last
//! change matched and its notices read.
//!
//! **JetStream** (127.0.0.1:4222): the same number of events, of the size of a change, published
//! to a file-backed stream with every publish acknowledged by the server, and taken by a
//! durable pull consumer that acknowledges each explicitly. Timed from the first publish to the
//! last acknowledgement.
//!
//! Each is run flat out (capacity) and paced at `--rate` (latency: change written to notice
//! read; event published to event consumed). The same capacity run with 10,000 pairs shows
//! whether matching costs more with more pairs.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::sync::Arc;
use std::time::{Duration, Instant};

mod common;

use common::{jetstream, percentile, person, Draw, Run};
use serde_json::json;
use time::OffsetDateTime;
use utbyte_domain::SubjectId;
use utbyte_node::subscriptions::matcher::{round, Feed, BATCH};
use utbyte_rules::Rulebook;
use utbyte_store::{
    ChangeToMatch, ExchangeStore, NewSubscription, Register, RegisterBatch, RegisterStore,
};

const OFFERING: &str = "skv-folkbokforing";
const SUBSCRIBER: &str = "forsakringskassan";
/// Subjects per register write.
const WRITE_BATCH: usize = 500;
/// Subjects per subscription.
const PER_SUBSCRIPTION: usize = 100_000;
const GOAL_PER_SECOND: f64 = 20_000.0;

struct Args {
    changes: usize,
    pairs: usize,
    rate: usize,
}

fn args() -> Args {
    let given = utbyte_testbed::options::Options::read(
        &[
            ("--changes", 200_000),
            ("--pairs", 1_000_000),
            ("--rate", 20_000),
        ],
        &[],
    );
    Args {
        changes: given.number("--changes"),
        pairs: given.number("--pairs"),
        rate: given.number("--rate"),
    }
}

/// The provider's register, filled with every subject the run writes to (so every write is
/// an update, whatever the number of pairs), and the rulebook.
struct Provider {
    dir: tempfile::TempDir,
    register: Arc<RegisterStore>,
    rulebook: Rulebook,
    universe: usize,
    written: usize,
}

/// Subscriptions covering subjects `0..pairs` of the universe, in an exchange state of their
/// own.
struct Subscribed {
    exchange: ExchangeStore,
    pairs: usize,
}

impl Provider {
    async fn new(universe: usize) -> Self {
        let dir = tempfile::tempdir().unwrap();
        let register = Arc::new(
            RegisterStore::open(dir.path().join("register.sqlite"))
                .await
                .unwrap(),
        );
        let rulebook = Rulebook::load_dir(
            &std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../../rulebook"),
        )
        .unwrap();
        let started = Instant::now();
        for first in (0..universe).step_by(20_000) {
            let mut batch = RegisterBatch::new();
            for n in first..(first + 20_000).min(universe) {
                let subject = person(n);
                batch.subject(subject, false).record(
                    OFFERING,
                    subject,
                    "flyttdatum",
                    json!("2020-01-01"),
                );
            }
            register.insert(&batch).await.unwrap();
        }
        // The filling is not what is measured: its changes are forgotten unmatched.
        let feed = register.change_feed().unwrap();
        feed.forget_changes(u64::MAX).await.unwrap();
        eprintln!(
            "   register of {universe} subjects filled in {:.1} s",
            started.elapsed().as_secs_f64()
        );
        Self {
            dir,
            register,
            rulebook,
            universe,
            written: 0,
        }
    }

    async fn subscribe(&self, pairs: usize) -> Subscribed {
        let exchange =
            ExchangeStore::open(self.dir.path().join(format!("exchange-{pairs}.sqlite")))
                .await
                .unwrap();
        let now = OffsetDateTime::now_utc();
        let started = Instant::now();
        for (index, first) in (0..pairs).step_by(PER_SUBSCRIPTION).enumerate() {
            let id = format!("sub-{index}");
            exchange
                .create_subscription(&NewSubscription {
                    id: id.clone(),
                    subscriber: SUBSCRIBER.into(),
                    offering: OFFERING.into(),
                    events: vec!["adress-andrad".into(), "avliden".into()],
                    fields: Vec::new(),
                    request: r#"{"purpose":"bostadsbidrag"}"#.into(),
                    decision_index: index as u64,
                    created_at: now - time::Duration::minutes(1),
                    ends_at: now + time::Duration::days(365),
                })
                .await
                .unwrap();
            let last = (first + PER_SUBSCRIPTION).min(pairs);
            let subjects: Vec<SubjectId> = (first..last).map(person).collect();
            for chunk in subjects.chunks(utbyte_store::MAX_SUBJECTS_PER_CALL) {
                exchange.add_subjects(&id, chunk).await.unwrap();
            }
        }
        eprintln!(
            "   {pairs} pairs kept in {:.1} s",
            started.elapsed().as_secs_f64()
        );
        Subscribed { exchange, pairs }
    }

    /// Writes `changes` changes (at `rate` a second, or flat out) while the matcher follows:
    /// half of them to covered subjects, half to others.
    async fn run(&mut self, subscribed: &Subscribed, changes: usize, rate: Option<usize>) -> Run {
        let feed = Feed::new(
            format!("{OFFERING}-{}", subscribed.pairs),
            self.register.clone() as Arc<dyn Register>,
        )
        .unwrap();
        let register = Arc::clone(&self.register);
        let (universe, pairs, generation) = (self.universe, subscribed.pairs, self.written);
        self.written += changes;
        let started = Instant::now();
        let writer = tokio::spawn(async move {
            let mut draw = Draw(0x9e37_79b9_7f4a_7c15 ^ generation as u64);
            let mut done = 0;
            while done < changes {
                if let Some(rate) = rate {
                    let due = Duration::from_secs_f64(done as f64 / rate as f64);
                    if let Some(wait) = due.checked_sub(started.elapsed()) {
                        tokio::time::sleep(wait).await;
                    }
                }
                let mut batch = RegisterBatch::new();
                let count = WRITE_BATCH.min(changes - done);
                for i in 0..count {
                    let n = if i % 2 == 0 {
                        draw.next(pairs)
                    } else {
                        pairs + draw.next(universe - pairs)
                    };
                    let subject = person(n);
                    batch.subject(subject, false).record(
                        OFFERING,
                        subject,
                        "flyttdatum",
                        json!(format!("{generation}-{}", done + i)),
                    );
                }
                register.insert(&batch).await.unwrap();
                done += count;
            }
        });
        let exchange = &subscribed.exchange;
        // Notices of an earlier run are not this one's.
        let earlier = exchange
            .notices_after(SUBSCRIBER, 0, u32::MAX)
            .await
            .unwrap()
            .last()
            .map_or(0, |n| n.seq);
        let (mut matched, mut notices, mut read_after) = (0, 0u64, earlier);
        let mut latencies = Vec::with_capacity(changes);
        // A subject drawn twice in one write is one change: count changes until the feed is
        // drained after the writer has finished.
        loop {
            let finished = writer.is_finished();
            let done = round(&feed, exchange, &self.rulebook, BATCH).await.unwrap();
            matched += done.changes;
            notices += done.notices;
            let now = OffsetDateTime::now_utc();
            for notice in exchange
                .notices_after(SUBSCRIBER, read_after, u32::MAX)
                .await
                .unwrap()
            {
                read_after = notice.seq;
                latencies.push((now - notice.changed_at).as_seconds_f64() * 1000.0);
            }
            if done.changes == 0 {
                if finished {
                    break;
                }
                tokio::time::sleep(Duration::from_millis(2)).await;
            }
        }
        writer.await.unwrap();
        let took = started.elapsed().as_secs_f64();
        latencies.sort_by(f64::total_cmp);
        Run {
            per_second: matched as f64 / took,
            p50_ms: percentile(&latencies, 0.5),
            p99_ms: percentile(&latencies, 0.99),
            notices,
        }
    }
}

/// Matching alone: the same number of changes, half to covered subjects, matched in batches
/// of [`BATCH`] against `subscribed`; microseconds per change.
async fn matching_alone(subscribed: &Subscribed, changes: usize) -> f64 {
    let now = OffsetDateTime::now_utc();
    let mut draw = Draw(0x2545_f491_4f6c_dd1d);
    let batches: Vec<Vec<ChangeToMatch>> = (0..changes)
        .collect::<Vec<_>>()
        .chunks(BATCH as usize)
        .map(|chunk| {
            chunk
                .iter()
                .map(|&i| {
                    let n = if i % 2 == 0 {
                        draw.next(subscribed.pairs)
                    } else {
                        // Never covered, in either run.
                        3_000_000 + draw.next(1_000_000)
                    };
                    ChangeToMatch {
                        seq: i as u64 + 1,
                        offering: OFFERING.into(),
                        subject: person(n),
                        events: vec!["adress-andrad".into()],
                        fields: vec!["flyttdatum".into()],
                        at: now,
                    }
                })
                .collect()
        })
        .collect();
    let feed = format!("matching-alone-{}", subscribed.pairs);
    let started = Instant::now();
    for batch in &batches {
        let through = batch.last().map_or(0, |c| c.seq);
        subscribed
            .exchange
            .match_changes(&feed, through, batch)
            .await
            .unwrap();
    }
    started.elapsed().as_secs_f64() * 1e6 / changes as f64
}

#[tokio::main(flavor = "multi_thread", worker_threads = 2)]
async fn main() {
    let args = args();
    eprintln!("== JetStream: {} events flat out", args.changes);
    let jet = jetstream(args.changes, None).await;
    eprintln!("== JetStream: {} events at {}/s", args.changes, args.rate);
    let jet_paced = jetstream(args.changes, Some(args.rate)).await;

    eprintln!("== utbyte: the provider's register");
    let mut provider = Provider::new(args.pairs.max(10_000) * 2).await;
    eprintln!("== utbyte, {} pairs", args.pairs);
    let subscribed = provider.subscribe(args.pairs).await;
    eprintln!("   {} changes flat out", args.changes);
    let many = provider.run(&subscribed, args.changes, None).await;
    eprintln!("   {} changes at {}/s", args.changes, args.rate);
    let paced = provider
        .run(&subscribed, args.changes, Some(args.rate))
        .await;
    let alone_many = matching_alone(&subscribed, args.changes).await;
    eprintln!("== utbyte, 10,000 pairs: {} changes flat out", args.changes);
    let subscribed = provider.subscribe(10_000).await;
    let few = provider.run(&subscribed, args.changes, None).await;
    let alone_few = matching_alone(&subscribed, args.changes).await;

    println!();
    println!(
        "subscriptions, capture and match: {} changes, {} pairs, loopback, 2 cores",
        args.changes, args.pairs
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
        "changes/s captured and matched (goal 20,000)",
        many.per_second,
        GOAL_PER_SECOND,
    );
    row(
        "changes/s captured and matched / JetStream events/s",
        many.per_second,
        jet.per_second,
    );
    row(
        "changes/s with 10,000 pairs / with all pairs",
        few.per_second,
        many.per_second,
    );
    row(
        "matching alone, µs a change, all pairs / 10,000 pairs",
        alone_many,
        alone_few,
    );
    row(
        &format!("p50 ms change to notice at {}/s / JetStream", args.rate),
        paced.p50_ms,
        jet_paced.p50_ms,
    );
    row(
        &format!("p99 ms change to notice at {}/s / JetStream", args.rate),
        paced.p99_ms,
        jet_paced.p99_ms,
    );
    println!(
        "(notices queued: {} flat out, {} paced, {} with 10,000 pairs; JetStream flat out p50 {:.1} ms p99 {:.1} ms; utbyte flat out p50 {:.1} ms p99 {:.1} ms)",
        many.notices, paced.notices, few.notices, jet.p50_ms, jet.p99_ms, many.p50_ms, many.p99_ms
    );
}
