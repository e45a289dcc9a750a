//! The auditor: the ledger's status, one-click verification, the subject-access report, the
//! follow-up (uppföljning) as charts with their numbers, the notices of subscriptions by
//! offering, event type and outcome, and who subscribes to what at this authority.

use super::{event_label, render, render_status, respond, Chrome, FormData, PageError};
use crate::charts;
use crate::identity::Role;
use crate::session::Signed;
use crate::AppState;
use askama::Template;
use axum::extract::State;
use axum::http::StatusCode;
use axum::response::Response;
use serde_json::json;
use utbyte_api::audit::{
    AuditStats, AuditStatus, ReconciliationState, ReconciliationView, SubjectAccessReport,
    VerifyOutcome,
};
use utbyte_api::paths;

/// One chart and its numbers.
struct Chart {
    id: &'static str,
    title: String,
    svg: String,
    rows: Vec<(String, String)>,
}

#[derive(Template)]
#[template(path = "audit.html")]
struct AuditPage {
    c: Chrome,
    status: AuditStatus,
    verify: Option<VerifyOutcome>,
    charts: Vec<Chart>,
    turnaround_none: bool,
    reconciliation: ReconciliationView,
    /// Per offering and event type: notices sent, withheld, received.
    notices: Vec<(String, String, u64, u64, u64)>,
    /// The subscriptions granted here: subscriber and unit, offering, event types, subjects,
    /// purpose and legal basis, case, end, status.
    granted: Vec<[String; 8]>,
}

impl AuditPage {
    fn at(&self, time: &str) -> String {
        super::when_text(time)
    }

    fn reconciled(&self, state: &ReconciliationState) -> &'static str {
        self.c.t.get(match state {
            ReconciliationState::Reconciled => "audit.reconciled",
            ReconciliationState::Pending => "audit.reconciliation_pending",
            ReconciliationState::Unreconciled => "audit.unreconciled",
        })
    }

    fn state_name(&self, state: &ReconciliationState) -> &'static str {
        match state {
            ReconciliationState::Reconciled => "reconciled",
            ReconciliationState::Pending => "pending",
            ReconciliationState::Unreconciled => "unreconciled",
        }
    }

    fn finding(&self, kind: &str) -> &'static str {
        self.c.t.get(match kind {
            "digest_mismatch" => "audit.digest_mismatch",
            _ => "audit.unknown_entry",
        })
    }

    fn checked(&self, at: &Option<time::OffsetDateTime>) -> String {
        at.and_then(|at| {
            at.format(&time::format_description::well_known::Rfc3339)
                .ok()
        })
        .map(|at| super::when_text(&at))
        .unwrap_or_else(|| self.c.t.get("audit.never").to_owned())
    }
}

/// The exchange events the per-day chart stacks (configuration changes are not exchanges).
const EVENTS: [&str; 5] = [
    "disclosure",
    "refusal",
    "review_request",
    "review_decision",
    "receipt",
];

/// A duration in the largest whole unit: `90 s`, `1 min`, `8 h`, `3 d`.
fn human_seconds(seconds: u64) -> String {
    match seconds {
        0 => "0".to_owned(),
        s if s % 86_400 == 0 => format!("{} d", s / 86_400),
        s if s % 3_600 == 0 => format!("{} h", s / 3_600),
        s if s % 60 == 0 => format!("{} min", s / 60),
        s => format!("{s} s"),
    }
}

fn build_charts(signed: &Signed, stats: &AuditStats) -> (Vec<Chart>, bool) {
    let t = crate::text::Text(signed.lang);
    let series: Vec<(String, String)> = EVENTS
        .iter()
        .filter(|e| stats.by_event.contains_key(**e))
        .map(|e| ((*e).to_owned(), event_label(signed.lang, e)))
        .collect();
    let by_day_rows = stats
        .by_day_event
        .iter()
        .map(|(day, counts)| {
            let parts: Vec<String> = series
                .iter()
                .filter_map(|(key, label)| counts.get(key).map(|n| format!("{label} {n}")))
                .collect();
            (day.clone(), parts.join(", "))
        })
        .collect();
    let ranked = |map: &std::collections::BTreeMap<String, u64>| {
        let mut rows: Vec<(String, u64)> = map.iter().map(|(k, v)| (k.clone(), *v)).collect();
        rows.sort_by(|a, b| b.1.cmp(&a.1).then(a.0.cmp(&b.0)));
        rows
    };
    let offerings = ranked(&stats.by_offering);
    let provisions = ranked(&stats.by_provision);
    let as_rows = |rows: &[(String, u64)]| -> Vec<(String, String)> {
        rows.iter()
            .map(|(k, v)| (k.clone(), v.to_string()))
            .collect()
    };
    let turnaround: Vec<(String, u64)> = stats
        .review_turnaround
        .as_ref()
        .map(|summary| {
            let mut previous = 0;
            summary
                .buckets
                .iter()
                .map(|b| {
                    let label = match b.le_seconds {
                        Some(le) => {
                            let l = format!("{}–{}", human_seconds(previous), human_seconds(le));
                            previous = le;
                            l
                        }
                        None => format!("> {}", human_seconds(previous)),
                    };
                    (label, b.count)
                })
                .collect()
        })
        .unwrap_or_default();
    let mut turnaround_rows = as_rows(&turnaround);
    if let Some(summary) = &stats.review_turnaround {
        turnaround_rows.push((
            "median / p90 / max".into(),
            format!(
                "{} / {} / {}",
                human_seconds(summary.median_seconds),
                human_seconds(summary.p90_seconds),
                human_seconds(summary.max_seconds)
            ),
        ));
    }
    let charts = vec![
        Chart {
            id: "chart-day",
            title: t.get("audit.by_day").to_owned(),
            svg: charts::stacked(
                "chart-day",
                t.get("audit.by_day"),
                &stats.by_day_event,
                &series,
            ),
            rows: by_day_rows,
        },
        Chart {
            id: "chart-offering",
            title: t.get("audit.by_offering").to_owned(),
            svg: charts::bars("chart-offering", t.get("audit.by_offering"), &offerings),
            rows: as_rows(&offerings),
        },
        Chart {
            id: "chart-provision",
            title: t.get("audit.by_provision").to_owned(),
            svg: charts::bars("chart-provision", t.get("audit.by_provision"), &provisions),
            rows: as_rows(&provisions),
        },
        Chart {
            id: "chart-turnaround",
            title: t.get("audit.turnaround").to_owned(),
            svg: charts::bars("chart-turnaround", t.get("audit.turnaround"), &turnaround),
            rows: turnaround_rows,
        },
    ];
    (charts, stats.review_turnaround.is_none())
}

async fn audit_page(
    c: Chrome,
    state: &AppState,
    signed: &Signed,
    verify: Option<VerifyOutcome>,
) -> Result<AuditPage, PageError> {
    let status: AuditStatus = signed.api(state).get(paths::AUDIT_STATUS).await?;
    let stats: AuditStats = signed.api(state).get(paths::AUDIT_STATS).await?;
    let reconciliation: ReconciliationView =
        signed.api(state).get(paths::AUDIT_RECONCILIATION).await?;
    let (charts, turnaround_none) = build_charts(signed, &stats);
    let mut notices: Vec<(String, String, u64, u64, u64)> = Vec::new();
    for count in &stats.notices {
        if !notices
            .last()
            .is_some_and(|(o, e, ..)| *o == count.offering && *e == count.event)
        {
            notices.push((count.offering.clone(), count.event.clone(), 0, 0, 0));
        }
        if let Some(row) = notices.last_mut() {
            match count.outcome.as_str() {
                "sent" => row.2 += count.notices,
                "withheld" => row.3 += count.notices,
                _ => row.4 += count.notices,
            }
        }
    }
    let listed: Vec<utbyte_api::subscriptions::GrantedView> = signed
        .api(state)
        .get(&format!("{}?limit=100", paths::AUDIT_SUBSCRIPTIONS))
        .await?;
    let granted = listed
        .into_iter()
        .map(|g| {
            [
                format!("{} / {} ({})", g.subscriber, g.unit, g.role),
                g.offering,
                g.events.join(", "),
                g.subjects.to_string(),
                format!("{} — {}", g.purpose, g.legal_basis),
                g.case_ref,
                super::when(g.ends),
                c.t.get(super::subscriptions::status_key(g.status))
                    .to_owned(),
            ]
        })
        .collect();
    Ok(AuditPage {
        c,
        status,
        verify,
        charts,
        turnaround_none,
        reconciliation,
        notices,
        granted,
    })
}

pub(crate) async fn overview(State(state): State<AppState>, signed: Signed) -> Response {
    let c = Chrome::new(&state, &signed, "/portal/audit", "audit.title");
    let result = async {
        signed.require(Role::Auditor)?;
        render(audit_page(c.clone(), &state, &signed, None).await?)
    }
    .await;
    respond(c, result)
}

pub(crate) async fn verify(
    State(state): State<AppState>,
    signed: Signed,
    form: FormData,
) -> Response {
    act_then_show(&state, &signed, &form, paths::AUDIT_VERIFY, Some).await
}

/// Reconciles with every provider now, then shows the page.
pub(crate) async fn reconcile(
    State(state): State<AppState>,
    signed: Signed,
    form: FormData,
) -> Response {
    act_then_show(
        &state,
        &signed,
        &form,
        paths::AUDIT_RECONCILIATION,
        |_: ReconciliationView| None,
    )
    .await
}

/// Posts the auditor's action to the local API's `path`, then shows the audit page, with the
/// verification outcome `shown` finds in the answer, if any.
async fn act_then_show<T: serde::de::DeserializeOwned>(
    state: &AppState,
    signed: &Signed,
    form: &FormData,
    path: &str,
    shown: impl FnOnce(T) -> Option<VerifyOutcome>,
) -> Response {
    let c = Chrome::new(state, signed, "/portal/audit", "audit.title");
    let result = async {
        signed.check_csrf(&form.one("csrf"))?;
        signed.require(Role::Auditor)?;
        let answer: T = signed.api(state).post(path, &json!({}), &[]).await?.body;
        render(audit_page(c.clone(), state, signed, shown(answer)).await?)
    }
    .await;
    respond(c, result)
}

#[derive(Template)]
#[template(path = "audit_subject.html")]
struct SubjectPage {
    c: Chrome,
    subject: String,
    report: Option<SubjectAccessReport>,
    error: String,
}

impl SubjectPage {
    fn event(&self, event: &str) -> String {
        event_label(self.c.t.0, event)
    }

    fn at(&self, time: &str) -> String {
        super::when_text(time)
    }
}

pub(crate) async fn subject_form(State(state): State<AppState>, signed: Signed) -> Response {
    let c = Chrome::new(&state, &signed, "/portal/audit/subject", "audit.subject");
    let result = async {
        signed.require(Role::Auditor)?;
        render(SubjectPage {
            c: c.clone(),
            subject: String::new(),
            report: None,
            error: String::new(),
        })
    }
    .await;
    respond(c, result)
}

pub(crate) async fn subject(
    State(state): State<AppState>,
    signed: Signed,
    form: FormData,
) -> Response {
    let c = Chrome::new(&state, &signed, "/portal/audit/subject", "audit.subject");
    let result = async {
        signed.check_csrf(&form.one("csrf"))?;
        signed.require(Role::Auditor)?;
        let subject = form.one("subject");
        // A later page: the records after the last one shown.
        let after = form.one("after").parse::<u64>().ok();
        let page = |report, error| SubjectPage {
            c: c.clone(),
            subject: subject.clone(),
            report,
            error,
        };
        match signed
            .api(&state)
            .post::<SubjectAccessReport, _>(
                paths::AUDIT_SUBJECT,
                &json!({ "subject": subject, "after": after }),
                &[],
            )
            .await
        {
            Ok(answer) => render(page(Some(answer.body), String::new())),
            Err(p) if p.status.is_client_error() => Ok(render_status(
                StatusCode::UNPROCESSABLE_ENTITY,
                page(None, format!("{}: {}", p.title, p.detail)),
            )),
            Err(p) => Err(p.into()),
        }
    }
    .await;
    respond(c, result)
}

#[cfg(test)]
mod tests {
    use super::human_seconds;

    #[test]
    fn durations_read_in_their_largest_whole_unit() {
        assert_eq!(human_seconds(0), "0");
        assert_eq!(human_seconds(45), "45 s");
        assert_eq!(human_seconds(60), "1 min");
        assert_eq!(human_seconds(90), "90 s");
        assert_eq!(human_seconds(28_800), "8 h");
        assert_eq!(human_seconds(259_200), "3 d");
    }
}
