//! The 20-field decision against plain Cedar, at 100, 1,000 and 10,000 policies.
//!
//! Run: `cargo bench -p utbyte-rules --bench decide`
//!
//! For each size a rulebook is generated (see `generator`), loaded with `Rulebook::from_sources`
//! (schema-validated) and checked against plain Cedar. Then, in the same run:
//! - (a) `rulebook.decide(&request)` — the 20-field decision, index bucket included;
//! - (b) the baseline — plain Cedar: `Authorizer::is_authorized` once per field over the whole
//!   policy set, for the same 20 Cedar requests (`rulebook.cedar_requests`).
//!
//! Both run as criterion groups (reports under `target/criterion`), then again with per-iteration
//! timings for p50/p99, and a table is printed: figure | value | baseline | ratio. `decide` runs on
//! one thread (the calling one); nothing is pinned, the machine is shared, so compare ratios rather
//! than absolute times. `cargo test --benches` runs everything once, briefly.

// Benches are not reachable from input; a failed setup should stop the run loudly.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod generator;

use cedar_policy::{Authorizer, Decision as CedarDecision, Request};
use criterion::{BenchmarkId, Criterion, SamplingMode};
use std::hint::black_box;
use std::time::{Duration, Instant};
use utbyte_rules::{DisclosureRequest, Ground, Outcome, Rulebook, Subject};

const SIZES: [usize; 3] = [100, 1_000, 10_000];
/// Timed iterations of `decide` per size for the percentiles.
const DECIDE_ITERATIONS: usize = 20_000;
/// Timed iterations of the baseline per size (each is 20 evaluations over the whole set).
const BASELINE_ITERATIONS: [usize; 3] = [5_000, 1_000, 150];
/// Upper bound on the wall time of one percentile run, so the whole bench stays within minutes.
const RUN_BUDGET: Duration = Duration::from_secs(15);

struct Fixture {
    size: usize,
    rulebook: Rulebook,
    request: DisclosureRequest,
    /// The baseline's Cedar requests, built once outside the timed loop. This favours the
    /// baseline: `decide` builds its context and requests on every call.
    cedar: Vec<Request>,
    fixed: usize,
    pre_assessments: usize,
}

fn request(
    recipient: &str,
    unit: &str,
    offering: &str,
    fields: Vec<String>,
    purpose: &str,
    basis: &str,
) -> DisclosureRequest {
    DisclosureRequest {
        recipient: recipient.into(),
        unit: unit.into(),
        role: "handlaggare".into(),
        officer: None,
        offering: offering.into(),
        fields,
        purpose: purpose.into(),
        legal_basis: basis.into(),
        case_ref: "BENCH 2026/1".into(),
        operation: None,
        subject: Subject {
            id: "19121212-1212".into(),
            protected_identity: false,
        },
        time: time::macros::datetime!(2026-03-02 09:00 UTC),
    }
}

fn setup(size: usize) -> Fixture {
    let started = Instant::now();
    let g = generator::generate(size);
    let rulebook = Rulebook::from_sources(&g.files)
        .unwrap_or_else(|e| panic!("generated rulebook of {size} does not load:\n{e}"));
    assert_eq!(
        rulebook.policy_count(),
        size,
        "the generated rulebook must have exactly {size} policies"
    );
    let request = request(
        &g.recipient,
        &g.unit,
        &g.offering,
        g.fields.clone(),
        &g.purpose,
        &g.legal_basis,
    );
    let cedar = rulebook.cedar_requests(&request).unwrap();
    assert_eq!(cedar.len(), 20);

    // The benchmark request mixes all three outcomes.
    let decision = rulebook.decide(&request).unwrap();
    for outcome in [Outcome::Disclose, Outcome::Review, Outcome::Refuse] {
        assert!(
            decision.fields_with(outcome).next().is_some(),
            "no field is {outcome} at {size}"
        );
    }
    let mut checked = guard(&rulebook, &request);
    // More requests for the guard: one per sampled pre-assessment, as its parties would ask on a
    // day it is in force, for its fields and as many others, so a dropped policy shows.
    let step = (rulebook.pre_assessments.len() / 40).max(1);
    for pa in rulebook.pre_assessments.iter().step_by(step) {
        let v = &rulebook.vocabulary;
        let offering = &v.offerings[&pa.offering];
        let purpose = if v.purposes.contains_key(&pa.purpose) {
            pa.purpose.clone()
        } else {
            v.purposes
                .values()
                .find(|p| p.groups.contains(&pa.purpose))
                .map(|p| p.id.clone())
                .unwrap()
        };
        let unit = pa
            .units
            .first()
            .cloned()
            .unwrap_or_else(|| v.authorities[&pa.recipient].units[0].id.clone());
        let mut fields = pa.fields.clone();
        fields.extend(
            offering
                .fields()
                .map(|(_, f)| f.id.clone())
                .filter(|f| !pa.fields.contains(f))
                .take(pa.fields.len()),
        );
        let mut r = request(
            &pa.recipient,
            &unit,
            &pa.offering,
            fields,
            &purpose,
            &pa.provision,
        );
        r.role = pa
            .roles
            .first()
            .cloned()
            .unwrap_or_else(|| "handlaggare".into());
        r.time = pa.valid_from.with_hms(9, 0, 0).unwrap().assume_utc();
        checked += guard(&rulebook, &r);
        r.subject.protected_identity = true;
        checked += guard(&rulebook, &r);
    }
    eprintln!(
        "setup @{size}: {} statutory + {} pre-assessments, largest bucket {}, guard checked {checked} fields, {:.1} s",
        g.fixed_policies,
        g.pre_assessments,
        rulebook.largest_bucket(),
        started.elapsed().as_secs_f64()
    );
    Fixture {
        size,
        rulebook,
        request,
        cedar,
        fixed: g.fixed_policies,
        pre_assessments: g.pre_assessments,
    }
}

/// Plain Cedar over the whole set allows a field exactly when the decision found a satisfied grant
/// and no override: disclose, or review on the grounds of a needs assessment. Catches an index
/// that drops an applicable policy. Returns the number of fields checked.
fn guard(rulebook: &Rulebook, request: &DisclosureRequest) -> usize {
    let decision = rulebook.decide(request).unwrap();
    let cedar = rulebook.cedar_requests(request).unwrap();
    assert_eq!(decision.fields.len(), cedar.len());
    let authorizer = Authorizer::new();
    for (field, req) in decision.fields.iter().zip(&cedar) {
        assert_ne!(
            field.ground,
            Ground::EvaluationError,
            "{}: {:?}",
            field.field,
            field.errors
        );
        let response = authorizer.is_authorized(req, rulebook.policy_set(), rulebook.entities());
        let allow = response.decision() == CedarDecision::Allow;
        let granted = field.outcome == Outcome::Disclose
            || (field.outcome == Outcome::Review && field.ground == Ground::NeedsAssessment);
        assert_eq!(
            allow,
            granted,
            "field `{}` of {request:?}: plain Cedar says {:?} ({:?}), the decision says {} ({})",
            field.field,
            response.decision(),
            response.diagnostics().reason().collect::<Vec<_>>(),
            field.outcome,
            field.ground
        );
    }
    cedar.len()
}

fn baseline(f: &Fixture, authorizer: &Authorizer) {
    for req in &f.cedar {
        black_box(authorizer.is_authorized(
            black_box(req),
            f.rulebook.policy_set(),
            f.rulebook.entities(),
        ));
    }
}

fn criterion_groups(c: &mut Criterion, fixtures: &[Fixture]) {
    let mut group = c.benchmark_group("decide_20_fields");
    group
        .sample_size(50)
        .warm_up_time(Duration::from_secs(1))
        .measurement_time(Duration::from_secs(3));
    for f in fixtures {
        group.bench_with_input(BenchmarkId::from_parameter(f.size), f, |b, f| {
            b.iter(|| f.rulebook.decide(black_box(&f.request)))
        });
    }
    group.finish();
    let mut group = c.benchmark_group("plain_cedar_per_field_x20");
    group
        .sampling_mode(SamplingMode::Flat)
        .sample_size(10)
        .warm_up_time(Duration::from_secs(1));
    for f in fixtures {
        group.measurement_time(Duration::from_secs(if f.size >= 10_000 { 8 } else { 3 }));
        let authorizer = Authorizer::new();
        group.bench_with_input(BenchmarkId::from_parameter(f.size), f, |b, f| {
            b.iter(|| baseline(f, &authorizer))
        });
    }
    group.finish();
}

/// p50 and p99 of per-iteration timings, nearest rank.
fn percentiles(mut samples: Vec<Duration>) -> (Duration, Duration, usize) {
    samples.sort_unstable();
    let rank =
        |q: f64| samples[((q * samples.len() as f64).ceil() as usize).clamp(1, samples.len()) - 1];
    (rank(0.50), rank(0.99), samples.len())
}

fn timed(iterations: usize, mut run: impl FnMut()) -> (Duration, Duration, usize) {
    for _ in 0..(iterations / 10).clamp(1, 500) {
        run();
    }
    let started = Instant::now();
    let mut samples = Vec::with_capacity(iterations);
    while samples.len() < iterations && (samples.len() < 20 || started.elapsed() < RUN_BUDGET) {
        let t = Instant::now();
        run();
        samples.push(t.elapsed());
    }
    percentiles(samples)
}

struct Measured {
    size: usize,
    decide: (Duration, Duration, usize),
    plain: (Duration, Duration, usize),
    bucket: usize,
}

fn us(d: Duration) -> String {
    let micros = d.as_secs_f64() * 1e6;
    if micros >= 10_000.0 {
        format!("{:.2} ms", micros / 1e3)
    } else {
        format!("{micros:.1} µs")
    }
}

fn thousands(n: usize) -> String {
    let s = n.to_string();
    let mut out = String::new();
    for (i, c) in s.chars().enumerate() {
        if i > 0 && (s.len() - i) % 3 == 0 {
            out.push(',');
        }
        out.push(c);
    }
    out
}

fn main() {
    let args: Vec<String> = std::env::args().collect();
    let has = |flag: &str| args.iter().any(|a| a == flag);
    let quick = !has("--bench") || has("--test");
    if has("--list") {
        return;
    }
    let fixtures: Vec<Fixture> = SIZES.iter().map(|&n| setup(n)).collect();

    let mut c = Criterion::default().configure_from_args();
    criterion_groups(&mut c, &fixtures);
    c.final_summary();

    let mut results = Vec::new();
    for (f, &plain_iterations) in fixtures.iter().zip(&BASELINE_ITERATIONS) {
        let (decide_n, plain_n) = if quick {
            (100, 3)
        } else {
            (DECIDE_ITERATIONS, plain_iterations)
        };
        let decide = timed(decide_n, || {
            black_box(f.rulebook.decide(black_box(&f.request))).ok();
        });
        let authorizer = Authorizer::new();
        let plain = timed(plain_n, || baseline(f, &authorizer));
        results.push(Measured {
            size: f.size,
            decide,
            plain,
            bucket: f.rulebook.largest_bucket(),
        });
    }
    print_table(&fixtures, &results, quick);
}

fn print_table(fixtures: &[Fixture], results: &[Measured], quick: bool) {
    let ratio =
        |base: Duration, value: Duration| base.as_secs_f64() / value.as_secs_f64().max(1e-12);
    let mut rows: Vec<[String; 4]> = Vec::new();
    let dash = || "—".to_owned();
    for m in results {
        let at = thousands(m.size);
        let (dp50, dp99, dn) = m.decide;
        let (bp50, bp99, bn) = m.plain;
        rows.push([
            format!("decide 20 fields p50 @{at} policies (n={dn})"),
            us(dp50),
            us(bp50),
            format!("{:.0}×", ratio(bp50, dp50)),
        ]);
        rows.push([
            format!("decide 20 fields p99 @{at} policies"),
            us(dp99),
            us(bp99),
            format!("{:.0}×", ratio(bp99, dp99)),
        ]);
        rows.push([
            format!("plain Cedar per field ×20 p50 @{at} policies (n={bn})"),
            us(bp50),
            dash(),
            dash(),
        ]);
        rows.push([
            format!("plain Cedar per field ×20 p99 @{at} policies"),
            us(bp99),
            dash(),
            dash(),
        ]);
        rows.push([
            format!("plain Cedar one field p50 @{at} policies"),
            us(bp50 / 20),
            dash(),
            dash(),
        ]);
        rows.push([
            format!("speed-up @{at} (baseline p50 / decide p50)"),
            format!("{:.0}×", ratio(bp50, dp50)),
            dash(),
            dash(),
        ]);
        rows.push([
            format!("index: largest bucket @{at} policies"),
            m.bucket.to_string(),
            thousands(m.size),
            format!("{:.1}%", 100.0 * m.bucket as f64 / m.size as f64),
        ]);
    }
    if let Some(m) = results.iter().find(|m| m.size == 1_000) {
        let per_field = m.plain.0 / 20;
        let in_range = (100..1_000).contains(&per_field.as_micros());
        rows.push([
            "anchor: plain Cedar per field @1,000 is hundreds of µs".into(),
            us(per_field),
            "100–999 µs".into(),
            if in_range { "yes" } else { "no" }.into(),
        ]);
    }
    if let Some(m) = results.iter().find(|m| m.size == 10_000) {
        let p99 = m.decide.1;
        let speedup = ratio(m.plain.0, m.decide.0);
        let yes = |b: bool| if b { "yes" } else { "no" }.to_owned();
        rows.push([
            "goal: decide p99 @10,000 ≤ 50 µs".into(),
            us(p99),
            "50.0 µs".into(),
            yes(p99 <= Duration::from_micros(50)),
        ]);
        rows.push([
            "goal: ≥ 100× faster @10,000 (p50)".into(),
            format!("{speedup:.0}×"),
            "100×".into(),
            yes(speedup >= 100.0),
        ]);
    }
    let widths: Vec<usize> = (0..4)
        .map(|i| {
            rows.iter()
                .map(|r| r[i].chars().count())
                .max()
                .unwrap_or(0)
                .max(8)
        })
        .collect();
    let line = |cells: [&str; 4]| {
        let padded: Vec<String> = cells
            .iter()
            .zip(&widths)
            .map(|(c, w)| format!("{c}{}", " ".repeat(w - c.chars().count())))
            .collect();
        println!("| {} |", padded.join(" | "));
    };
    println!();
    if quick {
        println!("(test mode: a few iterations only; run `cargo bench -p utbyte-rules --bench decide` for figures)");
    }
    for f in fixtures {
        println!(
            "rulebook @{}: {} statutory policies + {} pre-assessments",
            thousands(f.size),
            f.fixed,
            f.pre_assessments
        );
    }
    println!();
    line(["figure", "value", "baseline", "ratio"]);
    let rule: Vec<String> = widths.iter().map(|w| "-".repeat(*w)).collect();
    println!("|-{}-|", rule.join("-|-"));
    for r in &rows {
        line([&r[0], &r[1], &r[2], &r[3]]);
    }
}
