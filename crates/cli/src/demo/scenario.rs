//! `utbyte demo --scenario`: realistic exchanges in a throw-away federation, each printed with
//! its decision and citations. Every step states what the rulebook must decide; the scenario
//! exits non-zero if any answer differs, so it doubles as a check of the whole chain.

use super::local::LocalClient;
use super::{luffa_case, plan, police_case, POPULATION};
use crate::example;
use serde_json::{json, Value};
use std::process::ExitCode;
use utbyte_rules::Rulebook;
use utbyte_testbed::loopback::{subjects_with, LoopbackFederation};

struct Step {
    story: &'static str,
    from: &'static str,
    key: &'static str,
    case: Value,
    /// The HTTP status and each field's outcome the rulebook must give.
    status: u16,
    outcomes: &'static [(&'static str, &'static str)],
}

pub async fn run() -> anyhow::Result<ExitCode> {
    let dir = tempfile::tempdir()?;
    println!("utbyte demo --scenario — starting a throw-away federation …");
    let plan = plan(dir.path().join("federation"), 0)?;
    let token = plan
        .issuer
        .access_token(utbyte_testbed::access::CASE_SYSTEM)?;
    let federation = LoopbackFederation::start(plan).await?;
    let result = narrate(&federation, &token).await;
    federation.stop().await;
    result
}

async fn narrate(federation: &LoopbackFederation, token: &str) -> anyhow::Result<ExitCode> {
    let rulebook =
        Rulebook::from_sources(&example::sources()).map_err(|e| anyhow::anyhow!("{e}"))?;
    let pick = |offering: &str, field: &str, protected: bool| -> anyhow::Result<String> {
        subjects_with(&rulebook, POPULATION, offering, field, protected)?
            .into_iter()
            .next()
            .ok_or_else(|| anyhow::anyhow!("no synthetic subject in {offering}.{field}"))
    };
    let open = pick("fk-formaner", "forman", false)?;
    let protected = pick("fk-formaner", "forman", true)?;
    let earner = pick("skv-inkomst", "lon", false)?;
    let debtor = pick("kfm-skulder", "skuldbelopp", false)?;
    let operation = super::running_operation(&rulebook, &["polismyndigheten", "skatteverket"])?;
    let steps = [
        Step {
            story: "Malmö stad checks a claim for ekonomiskt bistånd against Försäkringskassan's payments (LUFFA). A pre-assessment covers the payment fields; health data is never covered.",
            from: "malmo-stad",
            key: "scenario-1",
            case: luffa_case(&open, &["forman", "belopp", "period", "diagnos"]),
            status: 200,
            outcomes: &[("forman", "disclose"), ("belopp", "disclose"), ("period", "disclose"), ("diagnos", "refuse")],
        },
        Step {
            story: "The same check about a person with protected identity: nothing leaves automatically; a reviewer at Försäkringskassan decides.",
            from: "malmo-stad",
            key: "scenario-2",
            case: luffa_case(&protected, &["forman", "belopp"]),
            status: 202,
            outcomes: &[("forman", "review"), ("belopp", "review")],
        },
        Step {
            story: "The Police ask Skatteverket under SFS 2016:774 without naming a decided joint operation: no legal basis.",
            from: "polismyndigheten",
            key: "scenario-3",
            case: police_case(&earner, None),
            status: 200,
            outcomes: &[("lon", "refuse"), ("arbetsgivare", "refuse"), ("f-skatt", "refuse")],
        },
        Step {
            story: "The same request within a decided joint operation running today, covered by a pre-assessment.",
            from: "polismyndigheten",
            key: "scenario-4",
            case: police_case(&earner, Some(&operation)),
            status: 200,
            outcomes: &[("lon", "disclose"), ("arbetsgivare", "disclose"), ("f-skatt", "disclose")],
        },
        Step {
            story: "Försäkringskassan handles a benefit case; the statutory duty in socialförsäkringsbalken covers income, not final tax.",
            from: "forsakringskassan",
            key: "scenario-5",
            case: json!({
                "subject": earner, "offering": "skv-inkomst", "fields": ["lon", "arbetsgivare", "slutlig-skatt"],
                "purpose": "handlaggning-formaner", "legal_basis": "sfb-110-31", "case_ref": "FK 2026/020417",
                "officer": "fk-h1002", "role": "handlaggare", "unit": "fk-sjukforsakring"
            }),
            status: 200,
            outcomes: &[("lon", "disclose"), ("arbetsgivare", "disclose"), ("slutlig-skatt", "refuse")],
        },
        Step {
            story: "Försäkringskassan invokes the general clause (OSL 10:27) towards Kronofogden: an interest balancing a human must make.",
            from: "forsakringskassan",
            key: "scenario-6",
            case: json!({
                "subject": debtor, "offering": "kfm-skulder", "fields": ["skuldbelopp", "lonebeslag"],
                "purpose": "kontroll-sjukpenning", "legal_basis": "osl-10-27", "case_ref": "FK 2026/018833",
                "officer": "fk-k2201", "role": "kontrollutredare", "unit": "fk-kontroll"
            }),
            status: 202,
            outcomes: &[("skuldbelopp", "review"), ("lonebeslag", "review")],
        },
    ];
    let client = LocalClient::new(token);
    let mut failures = 0;
    for (i, step) in steps.iter().enumerate() {
        let addr = addr(federation, step.from)?;
        println!("\n── {}. {}", i + 1, step.story);
        let (status, answer) = client
            .call(
                addr,
                "POST",
                "/v1/requests",
                Some(step.key),
                Some(&step.case),
            )
            .await?;
        print_answer(status, &answer);
        if !matches(status, &answer, step.status, step.outcomes) {
            failures += 1;
            println!(
                "   ✗ expected HTTP {} with {:?}",
                step.status, step.outcomes
            );
        }
        if i == 1 && status == 202 {
            failures += review(federation, &client, &answer).await?;
        }
    }
    println!("\n── Both ledgers record each exchange: the provider its decision, the recipient its receipt, with the same answer digest.");
    for (provider, recipient) in [
        ("forsakringskassan", "malmo-stad"),
        ("skatteverket", "polismyndigheten"),
    ] {
        let ok = paired(federation, provider, recipient)?;
        println!(
            "   {provider} ↔ {recipient}: {}",
            if ok {
                "every receipt matches a provider entry"
            } else {
                "MISMATCH"
            }
        );
        if !ok {
            failures += 1;
        }
    }
    if failures == 0 {
        println!("\nAll exchanges were decided as the rulebook prescribes.");
        Ok(ExitCode::SUCCESS)
    } else {
        println!("\n{failures} step(s) did not go as expected.");
        Ok(ExitCode::FAILURE)
    }
}

/// The reviewer at Försäkringskassan decides; Malmö stad's node then fetches the answer.
async fn review(
    federation: &LoopbackFederation,
    client: &LocalClient,
    answer: &Value,
) -> anyhow::Result<usize> {
    let ticket = answer["ticket"].as_str().unwrap_or_default();
    let fk = addr(federation, "forsakringskassan")?;
    let (_, case) = client
        .call(fk, "GET", &format!("/v1/reviews/{ticket}"), None, None)
        .await?;
    println!("   Försäkringskassan's reviewer opens ticket {ticket}:");
    for field in case["fields"].as_array().into_iter().flatten() {
        // A provision and its pre-assessment cite the same section; show what to weigh once.
        let mut shown = Vec::new();
        for candidate in field["candidates"].as_array().into_iter().flatten() {
            if candidate["weigh"].is_null() || shown.contains(&candidate["citation"]) {
                continue;
            }
            shown.push(candidate["citation"].clone());
            println!(
                "     {:<10} may be disclosed under {} — weigh: {}",
                field["field"].as_str().unwrap_or_default(),
                candidate["citation"].as_str().unwrap_or_default(),
                candidate["weigh"].as_str().unwrap_or("—")
            );
        }
    }
    let decision = json!({
        "reviewer": {"officer": "fk-jurist-7", "unit": "fk-kontroll", "role": "jurist"},
        "fields": [
            {"field": "forman", "outcome": "disclose", "reason": "Uppgiften behövs för kontrollen och kan lämnas utan att den skyddade adressen röjs."},
            {"field": "belopp", "outcome": "refuse", "reason": "Beloppet behövs inte för att bedöma rätten till bistånd i detta skede."}
        ]
    });
    let (status, _) = client
        .call(
            fk,
            "POST",
            &format!("/v1/reviews/{ticket}/decision"),
            None,
            Some(&decision),
        )
        .await?;
    println!("   The reviewer discloses `forman` and refuses `belopp`, each with a written reason (HTTP {status}).");
    let malmo = addr(federation, "malmo-stad")?;
    let (status, final_answer) = client
        .call(malmo, "GET", "/v1/requests/scenario-2", None, None)
        .await?;
    println!("   Malmö stad's case system asks again:");
    print_answer(status, &final_answer);
    Ok(usize::from(!matches(
        status,
        &final_answer,
        200,
        &[("forman", "disclose"), ("belopp", "refuse")],
    )))
}

fn addr(federation: &LoopbackFederation, authority: &str) -> anyhow::Result<std::net::SocketAddr> {
    Ok(federation
        .node(authority)
        .ok_or_else(|| anyhow::anyhow!("no node for {authority}"))?
        .local_addr)
}

fn print_answer(status: u16, answer: &Value) {
    if let Some(problem) = answer["type"].as_str() {
        println!(
            "   HTTP {status} {problem}: {}",
            answer["detail"].as_str().unwrap_or_default()
        );
        return;
    }
    println!(
        "   HTTP {status} {} — {}'s ledger entry #{}, receipt #{} in the recipient's ledger",
        answer["status"].as_str().unwrap_or_default(),
        answer["provider"].as_str().unwrap_or_default(),
        answer["provider_receipt"]["index"],
        answer["receipt"]["index"],
    );
    for field in answer["fields"].as_array().into_iter().flatten() {
        let citations: Vec<&str> = field["citations"]
            .as_array()
            .into_iter()
            .flatten()
            .filter_map(Value::as_str)
            .collect();
        let value = answer["values"].get(field["field"].as_str().unwrap_or_default());
        println!(
            "     {:<14} {:<8} {:<17} {}{}",
            field["field"].as_str().unwrap_or_default(),
            field["outcome"].as_str().unwrap_or_default(),
            field["ground"].as_str().unwrap_or_default(),
            if citations.is_empty() {
                "—".to_owned()
            } else {
                citations.join(", ")
            },
            value.map(|v| format!("  = {v}")).unwrap_or_default()
        );
        if let Some(reason) = field["reason"].as_str() {
            println!("     {:<14} reason: {reason}", "");
        }
    }
}

fn matches(status: u16, answer: &Value, expected: u16, outcomes: &[(&str, &str)]) -> bool {
    status == expected
        && outcomes.iter().all(|(field, outcome)| {
            answer["fields"]
                .as_array()
                .into_iter()
                .flatten()
                .any(|f| f["field"] == *field && f["outcome"] == *outcome)
        })
        && answer["values"].as_object().is_some_and(|values| {
            values
                .keys()
                .all(|k| outcomes.contains(&(k.as_str(), "disclose")))
        })
}

/// Whether every receipt in the recipient's ledger names a provider entry with the same digest.
fn paired(
    federation: &LoopbackFederation,
    provider: &str,
    recipient: &str,
) -> anyhow::Result<bool> {
    let records = |authority: &str| -> anyhow::Result<Vec<(u64, utbyte_audit::AuditRecord)>> {
        let audit = federation
            .node(authority)
            .ok_or_else(|| anyhow::anyhow!("no {authority}"))?
            .audit();
        (0..audit.ledger().size())
            .map(|i| {
                Ok((
                    i,
                    utbyte_audit::AuditRecord::from_leaf(&audit.ledger().entry(i)?)?,
                ))
            })
            .collect()
    };
    let provided = records(provider)?;
    let receipts: Vec<_> = records(recipient)?
        .into_iter()
        .filter(|(_, r)| r.event == utbyte_audit::EventKind::Receipt && r.provider == provider)
        .collect();
    Ok(!receipts.is_empty()
        && receipts.iter().all(|(_, receipt)| {
            provided.iter().any(|(index, record)| {
                Some(*index) == receipt.refers_to && record.payload_sha256 == receipt.payload_sha256
            })
        }))
}
