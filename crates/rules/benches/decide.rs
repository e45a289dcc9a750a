//! The 20-field decision against plain Cedar, at 100, 1,000 and 10,000 policies.
//!
//! Run: `cargo bench -p utbyte-rules --bench decide`
//!
//! For each size a rulebook is generated (`generator`), loaded with `Rulebook::from_sources`
//! (schema-validated) and checked (`guard`): against plain Cedar over the whole set, and against
//! `decide_unindexed`, for the benchmark request and requests built from sampled
//! pre-assessments. Then, in the same run:
//! - (a) `rulebook.decide(&request)` — the 20-field decision, index included;
//! - (b) the baseline, plain Cedar: `Authorizer::is_authorized` once per field over the whole
//!   policy set, for the same 20 Cedar requests (`rulebook.cedar_requests`).
//!
//! Both run as criterion groups (reports in `target/criterion`), then again with per-iteration
//! timings for p50/p99 (bounded in time), then `decide` is split into parts and Cedar is timed
//! alone on the policies in the request's scope. Tables are printed at the end. `decide` runs on
//! the calling thread only; nothing is pinned and the machine may be shared, so trust ratios more
//! than absolute times. `cargo test --benches` runs everything once, briefly. To profile one
//! benchmark: `cargo bench -p utbyte-rules --bench decide -- --profile-time 10
//! decide_20_fields/10000` (the custom timings are then skipped).

// Benches are not reachable from input; a failed setup should stop the run loudly.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod generator;
mod report;

use cedar_policy::{
    Authorizer, Decision as CedarDecision, EntityUid, PolicySet, PrincipalConstraint, Request,
    ResourceConstraint,
};
use criterion::{BenchmarkId, Criterion, SamplingMode};
use report::{timed, Measured, Split};
use std::hint::black_box;
use std::time::{Duration, Instant};
use utbyte_rules::{DisclosureRequest, Ground, Outcome, Rulebook, Subject};

const SIZES: [usize; 3] = [100, 1_000, 10_000];
/// Timed iterations of `decide` per size for the percentiles.
const DECIDE_ITERATIONS: usize = 20_000;
/// Timed iterations of the baseline per size (each is 20 evaluations over the whole set).
const BASELINE_ITERATIONS: [usize; 3] = [2_000, 300, 40];
/// Wall-time bound of one percentile run, so the whole bench stays within a few minutes.
const BUDGET: Duration = Duration::from_secs(12);
/// Pre-assessments sampled for extra guard requests, per size (each costs plain Cedar time).
const GUARD_SAMPLES: [usize; 3] = [40, 20, 6];

struct Fixture {
    size: usize,
    rulebook: Rulebook,
    request: DisclosureRequest,
    /// The baseline's Cedar requests, built once outside the timed loop. This favours the
    /// baseline: `decide` builds its context and requests on every call.
    cedar: Vec<Request>,
    /// The policies whose scope reaches the request's (recipient, offering): [pre-assessments,
    /// statutory], rebuilt here to time Cedar on them alone.
    scope: [PolicySet; 2],
    /// How many policies `decide` reports it evaluated for the request.
    evaluated: usize,
}

fn make_request(
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
        vouched_by: None,
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

fn setup(size: usize, guard_samples: usize) -> Fixture {
    let started = Instant::now();
    let g = generator::generate(size);
    let rulebook = Rulebook::from_sources(&g.files)
        .unwrap_or_else(|e| panic!("generated rulebook of {size} does not load:\n{e}"));
    let loaded = started.elapsed();
    assert_eq!(
        rulebook.policy_count(),
        size,
        "the generated rulebook must have exactly {size} policies"
    );
    let request = make_request(
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
    // More guard requests: per sampled pre-assessment, its parties asking on its first day for its
    // fields and as many others, with and without protected identity, so a dropped policy shows.
    let step = (rulebook.pre_assessments.len() / guard_samples.max(1)).max(1);
    for pa in rulebook
        .pre_assessments
        .iter()
        .step_by(step)
        .take(guard_samples)
    {
        let v = &rulebook.vocabulary;
        let purpose = match v.purposes.get(&pa.purpose) {
            Some(p) => p.id.clone(),
            None => v
                .purposes
                .values()
                .find(|p| p.groups.contains(&pa.purpose))
                .map(|p| p.id.clone())
                .unwrap(),
        };
        let unit = pa
            .units
            .first()
            .unwrap_or(&v.authorities[&pa.recipient].units[0].id)
            .clone();
        let mut fields = pa.fields.clone();
        let others = v.offerings[&pa.offering]
            .fields()
            .map(|(_, f)| f.id.clone())
            .filter(|f| !pa.fields.contains(f));
        fields.extend(others.take(pa.fields.len()).collect::<Vec<_>>());
        let mut r = make_request(
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
        "setup @{size}: {} statutory + {} pre-assessments, loaded in {:.1} s; guard checked {checked} fields; {:.1} s in all",
        g.fixed_policies,
        g.pre_assessments,
        loaded.as_secs_f64(),
        started.elapsed().as_secs_f64()
    );
    let scope = in_scope(&rulebook, &request);
    Fixture {
        size,
        rulebook,
        request,
        cedar,
        scope,
        evaluated: decision.policies_evaluated,
    }
}

/// Plain Cedar over the whole set allows a field exactly when the decision found a satisfied grant
/// and no override: disclose, or review on the grounds of a needs assessment. Catches an index
/// that drops an applicable policy. Returns the number of fields checked.
fn guard(rulebook: &Rulebook, request: &DisclosureRequest) -> usize {
    let decision = rulebook.decide(request).unwrap();
    // And the indexed decision agrees, field for field and citation for citation, with the
    // crate's own reference decision over the whole rulebook.
    let reference = rulebook.decide_unindexed(request).unwrap();
    for (indexed, whole) in decision.fields.iter().zip(&reference.fields) {
        assert_eq!(
            indexed, whole,
            "decide and decide_unindexed differ for {request:?}"
        );
    }
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
        let reasons: Vec<_> = response.diagnostics().reason().collect();
        assert_eq!(
            allow, granted,
            "field `{}` of {request:?}: plain Cedar says {:?} ({reasons:?}), the decision says {} ({})",
            field.field,
            response.decision(),
            field.outcome,
            field.ground
        );
    }
    cedar.len()
}

/// The policies whose scope reaches the request's (recipient, offering), resolving scopes as
/// `index.rs` does, from public data: [pre-assessments, statutory policies].
fn in_scope(rulebook: &Rulebook, request: &DisclosureRequest) -> [PolicySet; 2] {
    let v = &rulebook.vocabulary;
    let (recipient, offering) = (request.recipient.as_str(), request.offering.as_str());
    let reaches = |uid: &EntityUid| {
        let id = uid.id().unescaped();
        match uid.type_name().to_string().as_str() {
            "Authority" => id == recipient,
            "Unit" => v.unit_authority.get(id).is_some_and(|a| a == recipient),
            "Group" => v.authorities[recipient].groups.iter().any(|g| g == id),
            "Offering" => id == offering,
            "Category" | "Field" => id.split('/').next() == Some(offering),
            _ => false,
        }
    };
    let mut sets = [PolicySet::new(), PolicySet::new()];
    for (policy, info) in rulebook.policies() {
        let to = match policy.principal_constraint() {
            PrincipalConstraint::Any | PrincipalConstraint::Is(_) => true,
            PrincipalConstraint::In(u)
            | PrincipalConstraint::Eq(u)
            | PrincipalConstraint::IsIn(_, u) => reaches(&u),
        };
        let of = match policy.resource_constraint() {
            ResourceConstraint::Any | ResourceConstraint::Is(_) => true,
            ResourceConstraint::In(u)
            | ResourceConstraint::Eq(u)
            | ResourceConstraint::IsIn(_, u) => reaches(&u),
        };
        if to && of {
            sets[usize::from(info.pre_assessment.is_none())]
                .add(policy.clone())
                .unwrap();
        }
    }
    sets
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
    group.sampling_mode(SamplingMode::Flat).sample_size(30);
    group
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

fn measure(f: &Fixture, decide_n: usize, plain_n: usize) -> Measured {
    let decide = timed(decide_n, BUDGET, || {
        black_box(f.rulebook.decide(black_box(&f.request))).ok();
    });
    let authorizer = Authorizer::new();
    let plain = timed(plain_n, BUDGET, || baseline(f, &authorizer));
    Measured {
        size: f.size,
        decide,
        plain,
        largest_bucket: f.rulebook.largest_bucket(),
        request_bucket: f.evaluated,
    }
}

/// Times the parts of `decide` separately, and Cedar alone on the policies in scope (p50 each).
fn split(f: &Fixture, n: usize) -> Split {
    let budget = BUDGET / 4;
    let (rb, req) = (&f.rulebook, &f.request);
    let authorizer = Authorizer::new();
    let cedar_over = |set: &PolicySet| {
        let run = || {
            for r in &f.cedar {
                black_box(authorizer.is_authorized(black_box(r), set, rb.entities()));
            }
        };
        timed(n, budget, run).p50
    };
    let mut protected = req.clone();
    protected.subject.protected_identity = true;
    let decide = |r: &DisclosureRequest| {
        timed(n, budget, || {
            black_box(rb.decide(black_box(r))).ok();
        })
        .p50
    };
    Split {
        size: f.size,
        evaluated: f.evaluated,
        pre_assessments: f.scope[0].num_of_policies(),
        statutory: f.scope[1].num_of_policies(),
        validate: timed(n, budget, || {
            black_box(black_box(req).validate()).ok();
        })
        .p50,
        requests: timed(n, budget, || {
            black_box(rb.cedar_requests(black_box(req))).ok();
        })
        .p50,
        cedar_pre_assessments: cedar_over(&f.scope[0]),
        cedar_statutory: cedar_over(&f.scope[1]),
        decide: decide(req),
        decide_protected: decide(&protected),
    }
}

fn main() {
    let args: Vec<String> = std::env::args().collect();
    let has = |flag: &str| args.iter().any(|a| a == flag);
    if has("--list") {
        return;
    }
    // As criterion decides: without `--bench` (cargo test --benches) or with `--test`, run once.
    let quick = !has("--bench") || has("--test");
    let guard_samples = |g: usize| if quick { 2 } else { g };
    // Unoptimised (`cargo test --benches`), loading 10,000 policies alone takes minutes.
    let sizes = if quick && cfg!(debug_assertions) {
        &SIZES[..2]
    } else {
        &SIZES[..]
    };
    let fixtures: Vec<Fixture> = sizes
        .iter()
        .zip(GUARD_SAMPLES)
        .map(|(&n, g)| setup(n, guard_samples(g)))
        .collect();

    let mut c = Criterion::default().configure_from_args();
    criterion_groups(&mut c, &fixtures);
    c.final_summary();
    if args.iter().any(|a| a.starts_with("--profile-time")) {
        return;
    }

    let mut results = Vec::new();
    let mut splits = Vec::new();
    for (f, &plain_n) in fixtures.iter().zip(&BASELINE_ITERATIONS) {
        let (decide_n, plain_n, split_n) = if quick {
            (50, 2, 5)
        } else {
            (DECIDE_ITERATIONS, plain_n, 2_000)
        };
        results.push(measure(f, decide_n, plain_n));
        splits.push(split(f, split_n));
    }
    println!();
    if quick {
        println!("(test mode: a few iterations only, 10,000 policies only when optimised; `cargo bench -p utbyte-rules --bench decide` gives the figures)");
    }
    report::print_results(&results);
    println!();
    println!(
        "Reference rows: plain Cedar per field on the policies whose scope reaches the request's"
    );
    println!(
        "(recipient, offering), split by kind: the cost per policy that the index has to avoid."
    );
    report::print_splits(&splits);
}
