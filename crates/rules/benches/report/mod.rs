//! Per-iteration timings, percentiles and the printed tables.

use std::time::{Duration, Instant};

/// p50 and p99 (nearest rank) of per-iteration timings, and how many there were.
#[derive(Clone, Copy)]
pub struct Stats {
    pub p50: Duration,
    pub p99: Duration,
    pub n: usize,
}

/// Times `iterations` calls of `run` one by one, after a short warm-up; stops early when `budget`
/// is spent (but not before 20 samples), so slow runs stay bounded.
pub fn timed(iterations: usize, budget: Duration, mut run: impl FnMut()) -> Stats {
    let warm = Instant::now();
    for _ in 0..(iterations / 10).clamp(1, 500) {
        run();
        if warm.elapsed() > budget / 10 {
            break;
        }
    }
    let started = Instant::now();
    let mut samples = Vec::with_capacity(iterations);
    while samples.len() < iterations && (samples.len() < 20 || started.elapsed() < budget) {
        let t = Instant::now();
        run();
        samples.push(t.elapsed());
    }
    samples.sort_unstable();
    let rank =
        |q: f64| samples[((q * samples.len() as f64).ceil() as usize).clamp(1, samples.len()) - 1];
    Stats {
        p50: rank(0.50),
        p99: rank(0.99),
        n: samples.len(),
    }
}

/// Microseconds, or milliseconds from 10 ms on.
pub fn human(d: Duration) -> String {
    let micros = d.as_secs_f64() * 1e6;
    if micros >= 10_000.0 {
        format!("{:.2} ms", micros / 1e3)
    } else {
        format!("{micros:.1} µs")
    }
}

pub fn thousands(n: usize) -> String {
    let s = n.to_string();
    let mut out = String::new();
    for (i, c) in s.chars().enumerate() {
        if i > 0 && (s.len() - i).is_multiple_of(3) {
            out.push(',');
        }
        out.push(c);
    }
    out
}

pub fn ratio(base: Duration, value: Duration) -> f64 {
    base.as_secs_f64() / value.as_secs_f64().max(1e-12)
}

/// What one size measured.
pub struct Measured {
    pub size: usize,
    pub decide: Stats,
    pub plain: Stats,
    pub largest_bucket: usize,
    pub request_bucket: usize,
}

/// Where `decide`'s time goes for one size (p50 of each part, timed separately).
pub struct Split {
    pub size: usize,
    /// Policies `decide` reports it evaluated.
    pub evaluated: usize,
    /// Policies whose scope reaches the request's (recipient, offering), by kind.
    pub pre_assessments: usize,
    pub statutory: usize,
    pub validate: Duration,
    /// `cedar_requests`: validation and context, as `decide` does them, and the 20 ×
    /// `Request::new` plain Cedar needs (`decide` builds one request in the common case).
    pub requests: Duration,
    /// 20 × `is_authorized` over the pre-assessments, and over the statutory policies, in scope.
    pub cedar_pre_assessments: Duration,
    pub cedar_statutory: Duration,
    pub decide: Duration,
    /// `decide` for a subject with protected identity: an override forces review, so the grants
    /// are evaluated once more to name the candidate provisions.
    pub decide_protected: Duration,
}

fn print_rows(rows: &[[String; 4]]) {
    let widths: Vec<usize> = (0..4)
        .map(|i| rows.iter().map(|r| r[i].chars().count()).max().unwrap_or(0))
        .collect();
    for (k, r) in rows.iter().enumerate() {
        let cells: Vec<String> = r
            .iter()
            .zip(&widths)
            .map(|(c, w)| format!("{c}{}", " ".repeat(w - c.chars().count())))
            .collect();
        println!("| {} |", cells.join(" | "));
        if k == 0 {
            let rule: Vec<String> = widths.iter().map(|w| "-".repeat(*w)).collect();
            println!("|-{}-|", rule.join("-|-"));
        }
    }
}

fn row(cells: [&str; 4]) -> [String; 4] {
    cells.map(str::to_owned)
}

pub fn print_results(results: &[Measured]) {
    let mut rows = vec![row(["figure", "value", "baseline", "ratio"])];
    for m in results {
        let at = thousands(m.size);
        let (d, b) = (m.decide, m.plain);
        let speedup = |b: Duration, d: Duration| format!("{:.0}×", ratio(b, d));
        rows.push([
            format!("decide 20 fields p50 @{at} policies (n={})", d.n),
            human(d.p50),
            human(b.p50),
            speedup(b.p50, d.p50),
        ]);
        rows.push([
            format!("decide 20 fields p99 @{at} policies"),
            human(d.p99),
            human(b.p99),
            speedup(b.p99, d.p99),
        ]);
        rows.push([
            format!("plain Cedar per field ×20 p50 @{at} policies (n={})", b.n),
            human(b.p50),
            "—".into(),
            "—".into(),
        ]);
        rows.push([
            format!("plain Cedar per field ×20 p99 @{at} policies"),
            human(b.p99),
            "—".into(),
            "—".into(),
        ]);
        rows.push([
            format!("speed-up @{at} (baseline p50 / decide p50)"),
            speedup(b.p50, d.p50),
            "—".into(),
            "—".into(),
        ]);
        rows.push([
            format!("index bucket @{at}: this request / largest"),
            format!("{} / {}", m.request_bucket, m.largest_bucket),
            format!("{at} policies"),
            format!("{:.1} %", 100.0 * m.largest_bucket as f64 / m.size as f64),
        ]);
    }
    let yes = |b: bool| if b { "yes" } else { "no" };
    if let Some(m) = results.iter().find(|m| m.size == 1_000) {
        let per_field = m.plain.p50 / 20;
        let hundreds = (100..1_000).contains(&per_field.as_micros());
        rows.push(row([
            "anchor: plain Cedar one field @1,000 is hundreds of µs",
            &human(per_field),
            "100–999 µs",
            yes(hundreds),
        ]));
    }
    if let Some(m) = results.iter().find(|m| m.size == 10_000) {
        let speedup = ratio(m.plain.p50, m.decide.p50);
        let fast = m.decide.p99 <= Duration::from_micros(50);
        rows.push(row([
            "goal: decide p99 @10,000 ≤ 50 µs",
            &human(m.decide.p99),
            "50.0 µs",
            yes(fast),
        ]));
        rows.push(row([
            "goal: ≥ 100× @10,000 (baseline p50 / decide p50)",
            &format!("{speedup:.0}×"),
            "100×",
            yes(speedup >= 100.0),
        ]));
    }
    print_rows(&rows);
}

pub fn print_splits(splits: &[Split]) {
    let mut rows = vec![row([
        "where decide's time goes (p50 of each part)",
        "value",
        "of decide",
        "per field",
    ])];
    for s in splits {
        let at = thousands(s.size);
        let share = |d: Duration| format!("{:.0} %", 100.0 * ratio(d, s.decide));
        let per_field = |d: Duration| human(d / 20);
        let in_scope = s.pre_assessments + s.statutory;
        let cedar = s.cedar_pre_assessments + s.cedar_statutory;
        let extra = s.decide_protected.saturating_sub(s.decide);
        let parts = [
            (
                format!("@{at}: decide, total (bucket of {} policies)", s.evaluated),
                s.decide,
            ),
            (
                format!("@{at}:   validate the request (subject id)"),
                s.validate,
            ),
            (
                format!("@{at}:   validate + context, + 20 × Request::new for plain Cedar"),
                s.requests,
            ),
            (
                format!("@{at}: decide, protected identity (forced review)"),
                s.decide_protected,
            ),
            (
                format!("@{at}:   extra for naming the grants under forced review"),
                extra,
            ),
            (
                format!("@{at}: reference: Cedar ×20 over the {in_scope} policies in scope"),
                cedar,
            ),
            (
                format!("@{at}:   of which {} pre-assessments", s.pre_assessments),
                s.cedar_pre_assessments,
            ),
            (
                format!("@{at}:   of which {} statutory policies", s.statutory),
                s.cedar_statutory,
            ),
        ];
        for (name, d) in parts {
            rows.push([name, human(d), share(d), per_field(d)]);
        }
        let ns = |d: Duration, n: usize| {
            format!("{:.0} ns", d.as_secs_f64() * 1e9 / (20.0 * n.max(1) as f64))
        };
        rows.push([
            format!("@{at}: reference: Cedar per policy and field, pre-assessment / statutory"),
            format!(
                "{} / {}",
                ns(s.cedar_pre_assessments, s.pre_assessments),
                ns(s.cedar_statutory, s.statutory)
            ),
            "—".into(),
            "—".into(),
        ]);
    }
    print_rows(&rows);
}
