//! The demo's subscriptions (pattern D): Försäkringskassan follows address changes, deaths and
//! emigrations at Skatteverket of persons with benefits, and Kronofogden follows board and
//! status changes at Bolagsverket of companies; a change generator writes both registers every
//! few seconds, and the printed commands watch the notices arrive.

use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use serde_json::{json, Value};
use time::format_description::well_known::Rfc3339;
use time::OffsetDateTime;
use utbyte_domain::SubjectId;
use utbyte_rules::Rulebook;
use utbyte_store::{Register, RegisterBatch, RegisterStore};
use utbyte_testbed::loopback::{subjects_with, LoopbackFederation};

use super::{node_addr, POPULATION};

/// How many subjects each demo subscription covers.
const COVERED: usize = 300;
/// How often the generator writes.
const EVERY: Duration = Duration::from_secs(2);

/// One subscription the demo makes: who, at which offering, which events, about whom.
struct Demo {
    subscriber: &'static str,
    body: Value,
    subjects: Vec<String>,
}

/// Makes the demo's subscriptions, starts the change generator, and returns the commands to
/// try with what they show.
pub async fn start(
    federation: &LoopbackFederation,
    rulebook: &Rulebook,
    dir: &Path,
    token: &str,
    bearer: &str,
) -> anyhow::Result<Vec<(&'static str, String)>> {
    let persons: Vec<String> = subjects_with(rulebook, POPULATION, "fk-formaner", "forman", false)?
        .into_iter()
        .take(COVERED)
        .collect();
    let companies: Vec<String> =
        subjects_with(rulebook, POPULATION, "bv-foretag", "ledamoter", false)?
            .into_iter()
            .take(COVERED)
            .collect();
    // One subscription a day: the same request again the same day is the same subscription.
    let today = OffsetDateTime::now_utc().date();
    let ends = today
        .saturating_add(time::Duration::days(300))
        .midnight()
        .assume_utc()
        .format(&Rfc3339)?;
    let day = today.to_string().replace('-', "");
    let demos = [
        Demo {
            subscriber: "forsakringskassan",
            body: json!({
                "subscription_id": format!("bostadsbidrag-{day}"),
                "officer": "fk-handlaggare-1", "unit": "fk-bostadsbidrag", "role": "handlaggare",
                "offering": "skv-folkbokforing",
                "events": ["adress-andrad", "avliden", "utvandrad"],
                "purpose": "kontroll-bostadsbidrag", "legal_basis": "luffa",
                "case_ref": "FK 2026/005100", "ends": ends,
                "subjects": persons,
            }),
            subjects: persons.clone(),
        },
        Demo {
            subscriber: "kronofogden",
            body: json!({
                "subscription_id": format!("foretag-{day}"),
                "officer": "kfm-handlaggare-1", "unit": "kfm-utsokning", "role": "handlaggare",
                "offering": "bv-foretag",
                "events": ["styrelse-andrad", "status-andrad"],
                "purpose": "indrivning", "legal_basis": "tf-2-1",
                "case_ref": "KFM 2026/12-7710", "ends": ends,
                "subjects": companies,
            }),
            subjects: companies.clone(),
        },
    ];
    // Plain http:// on loopback, through the client the nodes use (its TLS set up).
    let agency = utbyte_node::AgencyClient::new(None)?;
    let http = agency.http();
    let examples = dir.join("subscriptions");
    std::fs::create_dir_all(&examples)?;
    for demo in &demos {
        let addr = node_addr(federation, demo.subscriber)?;
        let made = http
            .post(format!("http://{addr}/v1/subscriptions"))
            .bearer_auth(token)
            .header(http::header::CONTENT_TYPE, "application/json")
            .body(serde_json::to_vec(&demo.body)?)
            .send()
            .await?;
        let status = made.status();
        let answer: Value = serde_json::from_slice(&made.bytes().await?).unwrap_or_default();
        if !status.is_success() || answer["granted"] == json!([]) {
            anyhow::bail!(
                "the demo's subscription for {} was not granted ({status}): {answer}",
                demo.subscriber
            );
        }
    }
    let registers = |authority: &str| {
        federation
            .register(authority)
            .ok_or_else(|| anyhow::anyhow!("no register for {authority}"))
    };
    tokio::spawn(generate(
        registers("skatteverket")?,
        registers("bolagsverket")?,
        parse(&demos[0].subjects),
        parse(&demos[1].subjects),
    ));

    // One more, to try: civil status and household changes are not pre-assessed, so only the
    // address changes are granted.
    let more = examples.join("fk-civilstand.json");
    let mut body = demos[0].body.clone();
    body["subscription_id"] = json!(format!("civilstand-{day}"));
    body["events"] = json!(["civilstand-andrat", "hushall-andrat", "adress-andrad"]);
    body["subjects"] = json!(persons.iter().take(10).collect::<Vec<_>>());
    std::fs::write(&more, serde_json::to_vec_pretty(&body)?)?;
    let fk = node_addr(federation, "forsakringskassan")?;
    let kfm = node_addr(federation, "kronofogden")?;
    Ok(vec![
        (
            "Försäkringskassan's notices as they arrive (thin: who, which event, which fields; no values) — waits up to 30 s",
            format!("curl -s {bearer} 'http://{fk}/v1/notices?wait=30'"),
        ),
        (
            "Kronofogden's notices of board and status changes at Bolagsverket",
            format!("curl -s {bearer} 'http://{kfm}/v1/notices?wait=30'"),
        ),
        (
            "Försäkringskassan's subscriptions, with what Skatteverket's rulebook granted",
            format!("curl -s {bearer} http://{fk}/v1/subscriptions"),
        ),
        (
            "Subscribe to more: Skatteverket's rulebook grants address changes, not civil status or household",
            format!(
                "curl -s -X POST http://{fk}/v1/subscriptions {bearer} -H 'Content-Type: application/json' --data @{}",
                more.display()
            ),
        ),
    ])
}

fn parse(subjects: &[String]) -> Vec<SubjectId> {
    subjects.iter().filter_map(|s| s.parse().ok()).collect()
}

/// Writes changes while the demo runs: every round two persons followed move, now and then one
/// dies or emigrates, and a company followed gets a new board.
async fn generate(
    skatteverket: Arc<RegisterStore>,
    bolagsverket: Arc<RegisterStore>,
    persons: Vec<SubjectId>,
    companies: Vec<SubjectId>,
) {
    let mut draw = OffsetDateTime::now_utc().unix_timestamp_nanos() as u64 | 1;
    let mut next = |below: usize| {
        draw ^= draw << 13;
        draw ^= draw >> 7;
        draw ^= draw << 17;
        (draw % below.max(1) as u64) as usize
    };
    let streets = [
        "Storgatan",
        "Kungsgatan",
        "Södra Förstadsgatan",
        "Järnvägsgatan",
    ];
    let towns = ["Malmö", "Lund", "Trelleborg", "Ystad"];
    let mut round = 0usize;
    loop {
        tokio::time::sleep(EVERY).await;
        round += 1;
        let today = OffsetDateTime::now_utc().date().to_string();
        let mut batch = RegisterBatch::new();
        for _ in 0..2 {
            let Some(person) = persons.get(next(persons.len())).copied() else {
                break;
            };
            let address = format!(
                "{} {}, {}",
                streets[next(streets.len())],
                1 + next(80),
                towns[next(towns.len())]
            );
            batch
                .subject(person, false)
                .record(
                    "skv-folkbokforing",
                    person,
                    "folkbokforingsadress",
                    json!(address),
                )
                .record("skv-folkbokforing", person, "flyttdatum", json!(today));
        }
        if round.is_multiple_of(10) {
            if let Some(person) = persons.get(next(persons.len())).copied() {
                let field = if round.is_multiple_of(20) {
                    "dodsdatum"
                } else {
                    "utvandringsdatum"
                };
                batch.subject(person, false).record(
                    "skv-folkbokforing",
                    person,
                    field,
                    json!(today),
                );
            }
        }
        if let Err(err) = skatteverket.insert(&batch).await {
            tracing::warn!(%err, "the demo's change generator could not write Skatteverket's register");
        }
        if let Some(company) = companies.get(next(companies.len())).copied() {
            let mut batch = RegisterBatch::new();
            batch.subject(company, false).record(
                "bv-foretag",
                company,
                "ledamoter",
                json!([format!("Ledamot {round}"), "Ordförande A. Andersson"]),
            );
            if let Err(err) = bolagsverket.insert(&batch).await {
                tracing::warn!(%err, "the demo's change generator could not write Bolagsverket's register");
            }
        }
    }
}
