//! The table: each path's figures beside the goals and the published anchors.

use std::path::Path;
use std::time::Duration;

use crate::load::Outcome;
use crate::{EndToEnd, Options, Store, WARM_UP};

const GOAL_RATE: f64 = 5000.0;
const GOAL_P99_MS: f64 = 10.0;
const GOAL_VS_NGINX: f64 = 0.40;
/// X-Road: ~110 requests/s through a pair of 32-core security servers.
const XROAD_RATE: f64 = 110.0;
/// Finland's sizing of a 4-vCPU X-Road security server: 50–125 requests/minute, the top end.
const FINLAND_RATE: f64 = 125.0 / 60.0;

/// What the paths measured: utbyte end to end on each store, then the floors.
pub struct Report {
    /// The embedded default first.
    pub runs: Vec<(Store, EndToEnd)>,
    pub direct: Outcome,
    pub proxy: Outcome,
}

/// One line of the table, already formatted.
struct Row {
    figure: String,
    value: String,
    anchor: String,
    ratio: String,
}

impl Row {
    fn new(figure: impl Into<String>, value: String) -> Self {
        Self {
            figure: figure.into(),
            value,
            anchor: "—".into(),
            ratio: "—".into(),
        }
    }

    fn anchored(mut self, anchor: String, ratio: Option<f64>) -> Self {
        self.anchor = anchor;
        self.ratio = ratio.map_or_else(|| "—".into(), |r| format!("{r:.2}"));
        self
    }
}

fn rate(value: f64) -> String {
    if value >= 100.0 {
        format!("{value:.0} /s")
    } else {
        format!("{value:.2} /s")
    }
}

fn millis(value: Option<Duration>) -> String {
    value.map_or_else(
        || "—".into(),
        |d| format!("{:.2} ms", d.as_secs_f64() * 1000.0),
    )
}

/// Floor rows: the floor's rate, with utbyte's rate as a fraction of it.
fn floor_rows(name: [&'static str; 4], floor: &Outcome, utbyte: f64) -> Vec<Row> {
    let fraction = (floor.rate() > 0.0).then(|| utbyte / floor.rate());
    vec![
        Row::new(name[0], rate(floor.rate())).anchored("— (utbyte's rate / this)".into(), fraction),
        Row::new(name[1], millis(floor.percentile(0.50))),
        Row::new(name[2], millis(floor.percentile(0.99))),
        Row::new(name[3], floor.errors.to_string()),
    ]
}

pub fn print_report(options: &Options, report: &Report) {
    let Some((_, default)) = report.runs.first() else {
        return;
    };
    let utbyte = default.outcome.rate();
    let nginx = report.proxy.rate().max(f64::MIN_POSITIVE);
    let mut rows = Vec::new();
    for (n, (store, run)) in report.runs.iter().enumerate() {
        let e2e = &run.outcome;
        let label = store.label();
        let p99_ms = e2e.percentile(0.99).map(|d| d.as_secs_f64() * 1000.0);
        let rate_row = Row::new(
            format!("lawful answers/s end to end ({label})"),
            rate(e2e.rate()),
        );
        let p99_row = Row::new(
            format!("end-to-end latency p99 ({label})"),
            millis(e2e.percentile(0.99)),
        );
        let vs_nginx = e2e.rate() / nginx;
        let nginx_row = Row::new(
            format!("utbyte vs nginx throughput ({label})"),
            format!("{:.1} %", vs_nginx * 100.0),
        );
        // The goals are the embedded default's; the other rows show where they stand.
        let goal = |row: Row, anchor: String, ratio: Option<f64>| match n {
            0 => row.anchored(anchor, ratio),
            _ => row,
        };
        rows.push(goal(
            rate_row,
            format!("{GOAL_RATE:.0} /s (goal)"),
            Some(e2e.rate() / GOAL_RATE),
        ));
        rows.push(Row::new(
            format!("end-to-end latency p50 ({label})"),
            millis(e2e.percentile(0.50)),
        ));
        rows.push(goal(
            p99_row,
            format!("{GOAL_P99_MS:.0} ms (goal)"),
            p99_ms.map(|p| GOAL_P99_MS / p.max(f64::MIN_POSITIVE)),
        ));
        rows.push(Row::new(
            format!("end-to-end errors ({label})"),
            e2e.errors.to_string(),
        ));
        rows.push(goal(
            nginx_row,
            format!("{:.0} % (goal)", GOAL_VS_NGINX * 100.0),
            Some(vs_nginx / GOAL_VS_NGINX),
        ));
        rows.push(Row::new(
            format!("audited on both nodes ({label})"),
            format!(
                "{} ({})",
                if run.audited { "yes" } else { "no" },
                run.audit_detail
            ),
        ));
    }
    rows.extend(floor_rows(
        [
            "direct adapter lookups/s",
            "direct adapter latency p50",
            "direct adapter latency p99",
            "direct adapter errors",
        ],
        &report.direct,
        utbyte,
    ));
    rows.extend(floor_rows(
        [
            "nginx mTLS proxy requests/s",
            "nginx mTLS proxy latency p50",
            "nginx mTLS proxy latency p99",
            "nginx mTLS proxy errors",
        ],
        &report.proxy,
        utbyte,
    ));
    rows.push(
        Row::new("lawful answers/s vs X-Road", rate(utbyte)).anchored(
            format!("{XROAD_RATE:.0} /s (X-Road, pair of 32-core security servers)"),
            Some(utbyte / XROAD_RATE),
        ),
    );
    rows.push(
        Row::new("lawful answers/s vs Finland's sizing", rate(utbyte)).anchored(
            format!("{FINLAND_RATE:.2} /s (Finland: 125 requests/min, 4-vCPU security server)"),
            Some(utbyte / FINLAND_RATE),
        ),
    );

    let command: Vec<String> = std::env::args()
        .enumerate()
        .map(|(i, arg)| {
            if i == 0 {
                Path::new(&arg)
                    .file_name()
                    .map_or(arg.clone(), |n| n.to_string_lossy().into_owned())
            } else {
                arg
            }
        })
        .collect();
    let cores = std::thread::available_parallelism().map_or(0, |n| n.get());
    println!();
    println!("command: {}", command.join(" "));
    println!(
        "concurrency {}, at most {} requests or {} s per path (after {WARM_UP} warm-up \
         requests), {} persons, {cores} cores",
        options.concurrency, options.requests, options.seconds, options.persons
    );
    println!();
    println!("| figure | value | anchor | ratio |");
    println!("|---|---|---|---|");
    for row in rows {
        println!(
            "| {} | {} | {} | {} |",
            row.figure, row.value, row.anchor, row.ratio
        );
    }
}
