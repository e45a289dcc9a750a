//! Federated search benchmark: one question asked of every source the rulebook permits, against
//! the same sources asked one by one with plain requests, in the same run.
//!
//! Run: `scripts/bench-bulk` (this after the bulk benchmark), or alone
//! `cargo bench -p utbyte-testbed --bench search -- [--searches N] [--warmup N]` (defaults 200
//! searches after 20 to warm up).
//!
//! A loopback federation of real nodes over mutual TLS — Malmö stad, Försäkringskassan,
//! Skatteverket, Kronofogden, Polismyndigheten and every other authority of the rulebook that
//! publishes an offering to be asked (Bolagsverket, Utbetalningsmyndigheten, the bank, …) —
//! each with a synthetic register of the same population. The questions tried: Malmö's social
//! services under LUFFA, and a Police analyst within each decided joint operation running today
//! (claiming the account system's provision too, for the banks); the one that reaches the most
//! sources (answered or routed to a reviewer) is measured, and the output says how many.
//!
//! Each round, sequentially, for a new subject of the population: **search** — `POST
//! /v1/search` under a new key, timed at the case system to its answer (every source asked in
//! parallel, each an ordinary exchange decided by its provider and recorded in both ledgers);
//! then **one by one** — each source the search reached asked on its own with `POST
//! /v1/requests` for the same offering, fields and provision, each timed. The anchors: the
//! slowest single source's p50/p95/p99 (a search can be no faster than its slowest source), and
//! the sum of the sequential asks (what a case system without search would wait).

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::time::Instant;

use common::percentile;
use serde_json::{json, Value};
use utbyte_synthetic::{OfferingFields, Population};
use utbyte_testbed::access::CASE_SYSTEM;
use utbyte_testbed::loopback::{LoopbackFederation, Plan};

const MALMO: &str = "malmo-stad";
const POLICE: &str = "polismyndigheten";
/// The nodes every run has; every other authority that publishes an offering to be asked joins
/// them.
const NAMED: [&str; 5] = [
    MALMO,
    "forsakringskassan",
    "skatteverket",
    "kronofogden",
    POLICE,
];
/// A further provision the Police may claim in a search within a joint operation, for the
/// banks' account system (when the rulebook has it).
const ACCOUNT_SYSTEM: &str = "sfs-2020-272";
const POPULATION: Population = Population {
    seed: 7,
    persons: 2_000,
};
/// The sources a question should reach.
const GOAL_SOURCES: usize = 5;
/// Long enough that no source is cut off: the search waits for every one.
const DEADLINE_MS: u32 = 10_000;

struct Args {
    searches: usize,
    warmup: usize,
}

fn args() -> Args {
    let given =
        utbyte_testbed::options::Options::read(&[("--searches", 200), ("--warmup", 20)], &[]);
    let args = Args {
        searches: given.number("--searches"),
        warmup: given.number("--warmup"),
    };
    assert!(args.searches > 0);
    args
}

/// A question: who asks, at which node, and the search's body without its subject.
#[derive(Clone)]
struct Question {
    name: String,
    node: &'static str,
    body: Value,
}

impl Question {
    fn about(&self, subject: &str) -> Value {
        let mut body = self.body.clone();
        body["subject"] = json!(subject);
        body
    }
}

/// Malmö's social services under LUFFA, and a Police analyst within each decided joint
/// operation running today.
fn questions(rulebook: &utbyte_rules::rulebook::Rulebook) -> Vec<Question> {
    let mut questions = vec![Question {
        name: "Malmö stad, ekonomiskt bistånd, LUFFA".into(),
        node: MALMO,
        body: json!({
            "purpose": "kontroll-ekonomiskt-bistand", "legal_basis": "luffa",
            "case_ref": "ASN-2026-004512", "officer": "malmo-h4711", "role": "handlaggare",
            "unit": "malmo-ekonomiskt-bistand", "deadline_ms": DEADLINE_MS,
        }),
    }];
    let today = utbyte_domain::legal_time::swedish_date(time::OffsetDateTime::now_utc());
    let also: Vec<&str> = [ACCOUNT_SYSTEM]
        .into_iter()
        .filter(|p| rulebook.vocabulary.provisions.contains_key(*p))
        .collect();
    for operation in rulebook.vocabulary.operations.values() {
        let running = operation.decided && operation.starts <= today && today <= operation.ends;
        if running && operation.participants.iter().any(|p| p == POLICE) {
            let mut body = json!({
                "purpose": "myndighetsgemensam-insats", "legal_basis": "sfs-2016-774",
                "case_ref": "5000-K123456-26", "officer": "pm-analytiker-9",
                "role": "underrattelseanalytiker", "unit": "pm-noa",
                "operation": operation.id, "deadline_ms": DEADLINE_MS,
            });
            let mut name = format!("Polismyndigheten within {} (SFS 2016:774", operation.id);
            if !also.is_empty() {
                body["also_legal_bases"] = json!(also);
                name.push_str(&format!(", also {}", also.join(", ")));
            }
            name.push(')');
            questions.push(Question {
                name,
                node: POLICE,
                body,
            });
        }
    }
    questions
}

/// The nodes: [`NAMED`], then every other authority that publishes an offering to be asked.
fn authorities(rulebook: &utbyte_rules::rulebook::Rulebook) -> Vec<String> {
    let mut authorities: Vec<String> = NAMED.iter().map(|a| (*a).to_owned()).collect();
    for offering in rulebook.vocabulary.offerings.values() {
        if !offering.notice && !authorities.contains(&offering.provider) {
            authorities.push(offering.provider.clone());
        }
    }
    authorities
}

/// The population's persons, in order.
fn persons() -> Vec<String> {
    let everyone = utbyte_synthetic::batch(
        &[OfferingFields {
            offering: "skv-folkbokforing".into(),
            fields: Vec::new(),
        }],
        POPULATION,
    )
    .unwrap();
    everyone
        .subjects()
        .iter()
        .map(|s| s.subject.as_str().to_owned())
        .collect()
}

struct Client {
    http: reqwest::Client,
    token: String,
}

impl Client {
    /// `POST PATH` of the local API at `addr` under `key`: the status, the body, and how long
    /// it took in ms.
    async fn post(
        &self,
        addr: SocketAddr,
        path: &str,
        key: &str,
        body: &Value,
    ) -> (u16, Value, f64) {
        let started = Instant::now();
        let answer = self
            .http
            .post(format!("http://{addr}{path}"))
            .bearer_auth(&self.token)
            .header("idempotency-key", key)
            .json(body)
            .send()
            .await
            .unwrap();
        let status = answer.status().as_u16();
        let bytes = answer.bytes().await.unwrap();
        let took = started.elapsed().as_secs_f64() * 1000.0;
        (
            status,
            serde_json::from_slice(&bytes).unwrap_or(Value::Null),
            took,
        )
    }
}

/// A source a search reached: its offering, the provision it was asked under, the fields asked.
struct Reached {
    offering: String,
    legal_basis: Option<String>,
    fields: Vec<String>,
}

/// The sources of a search answer that answered or were routed to a reviewer.
fn reached(answer: &Value) -> Vec<Reached> {
    answer["sources"]
        .as_array()
        .into_iter()
        .flatten()
        .filter(|s| s["status"] == "answered" || s["status"] == "review")
        .map(|s| {
            let fields = s["answer"]["fields"]
                .as_array()
                .into_iter()
                .flatten()
                .map(|f| f["field"].as_str().unwrap().to_owned())
                .collect();
            Reached {
                offering: s["offering"].as_str().unwrap().to_owned(),
                legal_basis: s["legal_basis"].as_str().map(str::to_owned),
                fields,
            }
        })
        .collect()
}

/// Each source's offering and how it ended, for the output.
fn statuses(answer: &Value) -> String {
    answer["sources"]
        .as_array()
        .into_iter()
        .flatten()
        .map(|s| {
            format!(
                "{} {}",
                s["offering"].as_str().unwrap(),
                s["status"].as_str().unwrap()
            )
        })
        .collect::<Vec<_>>()
        .join(", ")
}

#[tokio::main(flavor = "multi_thread", worker_threads = 2)]
async fn main() {
    // The case system's client (reqwest) speaks TLS through rustls, which needs a provider.
    let _ = rustls::crypto::ring::default_provider().install_default();
    let args = args();
    let dir = tempfile::tempdir().unwrap();
    let sources = utbyte_rules::rulebook::read_dir(
        &std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../../rulebook"),
    )
    .unwrap();
    let rulebook = utbyte_rules::rulebook::Rulebook::from_sources(&sources).unwrap();
    let authorities = authorities(&rulebook);
    eprintln!(
        "== a loopback federation of {} nodes: {}",
        authorities.len(),
        authorities.join(", ")
    );
    let started = Instant::now();
    let names: Vec<&str> = authorities.iter().map(String::as_str).collect();
    let mut plan = Plan::new(dir.path().join("f"), sources, &names, POPULATION).unwrap();
    plan.config_lifetime = time::Duration::hours(2);
    let client = Client {
        http: reqwest::Client::new(),
        token: plan.issuer.access_token(CASE_SYSTEM).unwrap(),
    };
    let federation = LoopbackFederation::start(plan).await.unwrap();
    eprintln!("   started in {:.1} s", started.elapsed().as_secs_f64());
    let persons = persons();
    let mut subjects = persons.iter().cycle();

    // The question that reaches the most sources.
    let mut best: Option<(Question, usize)> = None;
    for (i, question) in questions(&rulebook).into_iter().enumerate() {
        let addr = federation.node(question.node).unwrap().local_addr;
        let subject = subjects.next().unwrap();
        let (status, answer, _) = client
            .post(
                addr,
                "/v1/search",
                &format!("try-{i}"),
                &question.about(subject),
            )
            .await;
        assert_eq!(status, 200, "{}: {answer:#}", question.name);
        let count = reached(&answer).len();
        eprintln!(
            "   {}: {count} sources reached ({})",
            question.name,
            statuses(&answer)
        );
        if best.as_ref().is_none_or(|(_, most)| count > *most) {
            best = Some((question, count));
        }
    }
    let (question, _) = best.unwrap();
    let addr = federation.node(question.node).unwrap().local_addr;
    eprintln!("== measuring: {}", question.name);

    let mut search_ms = Vec::with_capacity(args.searches);
    let mut inner_slowest_ms = Vec::with_capacity(args.searches);
    let mut sequential_ms = Vec::with_capacity(args.searches);
    let mut by_source: BTreeMap<String, Vec<f64>> = BTreeMap::new();
    let mut reached_counts: BTreeMap<usize, usize> = BTreeMap::new();
    let mut ended: BTreeMap<String, usize> = BTreeMap::new();
    for round in 0..args.warmup + args.searches {
        let measured = round >= args.warmup;
        let subject = subjects.next().unwrap();
        let body = question.about(subject);
        let (status, answer, took) = client
            .post(addr, "/v1/search", &format!("sok-{round}"), &body)
            .await;
        assert_eq!(status, 200, "{answer:#}");
        let sources = reached(&answer);
        let mut sequential = 0.0;
        let mut alone = Vec::new();
        for source in &sources {
            let offering = &source.offering;
            let mut request = body.clone();
            let case = request.as_object_mut().unwrap();
            case.remove("deadline_ms");
            case.remove("also_legal_bases");
            case.insert("offering".into(), json!(offering));
            case.insert("fields".into(), json!(source.fields));
            if let Some(basis) = &source.legal_basis {
                case.insert("legal_basis".into(), json!(basis));
            }
            let (status, answer, ms) = client
                .post(
                    addr,
                    "/v1/requests",
                    &format!("en-{round}-{offering}"),
                    &request,
                )
                .await;
            assert!(
                matches!(status, 200 | 202),
                "{offering} alone: {status} {answer:#}"
            );
            sequential += ms;
            alone.push((offering.clone(), ms));
        }
        if !measured {
            continue;
        }
        search_ms.push(took);
        inner_slowest_ms.push(
            answer["sources"]
                .as_array()
                .into_iter()
                .flatten()
                .filter_map(|s| s["elapsed_ms"].as_f64())
                .fold(0.0, f64::max),
        );
        sequential_ms.push(sequential);
        for (offering, ms) in alone {
            by_source.entry(offering).or_default().push(ms);
        }
        *reached_counts.entry(sources.len()).or_default() += 1;
        for source in answer["sources"].as_array().into_iter().flatten() {
            *ended
                .entry(source["status"].as_str().unwrap().to_owned())
                .or_default() += 1;
        }
    }
    for samples in [&mut search_ms, &mut inner_slowest_ms, &mut sequential_ms] {
        samples.sort_by(f64::total_cmp);
    }
    for samples in by_source.values_mut() {
        samples.sort_by(f64::total_cmp);
    }
    // The slowest source alone: the one with the highest median.
    let (slowest, slowest_ms) = by_source
        .iter()
        .max_by(|a, b| percentile(a.1, 0.5).total_cmp(&percentile(b.1, 0.5)))
        .map(|(o, s)| (o.clone(), s.clone()))
        .unwrap_or_default();
    let sources = *reached_counts
        .iter()
        .max_by_key(|(_, rounds)| **rounds)
        .map(|(count, _)| count)
        .unwrap_or(&0);

    println!();
    println!(
        "federated search: {}, {} searches in sequence after {} to warm up, {} nodes on loopback, 2 cores",
        question.name,
        args.searches,
        args.warmup,
        authorities.len()
    );
    println!(
        "sources reached: {sources} (rounds by sources reached {reached_counts:?}; sources ended {ended:?})"
    );
    println!(
        "{:<66} {:>10} {:>10} {:>7}",
        "figure", "value", "anchor", "ratio"
    );
    let row = |figure: &str, value: f64, anchor: f64| {
        println!(
            "{figure:<66} {value:>10.1} {anchor:>10.1} {:>7.2}",
            value / anchor
        );
    };
    row(
        &format!("sources per search (goal {GOAL_SOURCES})"),
        sources as f64,
        GOAL_SOURCES as f64,
    );
    for (name, p) in [("p50", 0.5), ("p95", 0.95), ("p99", 0.99)] {
        row(
            &format!("search {name} ms / slowest source alone ({slowest}) {name}"),
            percentile(&search_ms, p),
            percentile(&slowest_ms, p),
        );
    }
    for (name, p) in [("p50", 0.5), ("p95", 0.95)] {
        row(
            &format!("search {name} ms / its sources asked one by one {name}"),
            percentile(&search_ms, p),
            percentile(&sequential_ms, p),
        );
    }
    let each: Vec<String> = by_source
        .iter()
        .map(|(o, s)| {
            format!(
                "{o} p50 {:.1} p95 {:.1}",
                percentile(s, 0.5),
                percentile(s, 0.95)
            )
        })
        .collect();
    println!("(each source alone, ms: {})", each.join("; "));
    println!(
        "(inside the search, the slowest source's own time p50 {:.1} ms p95 {:.1} ms)",
        percentile(&inner_slowest_ms, 0.5),
        percentile(&inner_slowest_ms, 0.95)
    );
    federation.stop().await;
}
