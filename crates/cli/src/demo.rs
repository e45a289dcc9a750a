//! `utbyte demo` — the example rulebook deciding realistic requests, narrated.

use crate::example;
use std::process::ExitCode;
use utbyte_rules::{explain, Rulebook};

/// The story: each request with what it shows.
const STORY: [(&str, &str); 6] = [
    (
        "luffa-malmo-fk.json",
        "Malmö stad checks a claim for ekonomiskt bistånd against Försäkringskassan's payments. A pre-assessment covers the payment fields; LUFFA never covers health data.",
    ),
    (
        "luffa-malmo-fk-skyddad.json",
        "The same request about a person with protected identity: nothing leaves automatically.",
    ),
    (
        "sfb-fk-skv.json",
        "Försäkringskassan handles a benefit case; the statutory duty in socialförsäkringsbalken covers income, not tax.",
    ),
    (
        "osl-10-27-fk-kfm.json",
        "Försäkringskassan invokes the general clause: an interest balancing a human must make.",
    ),
    (
        "samverkan-utan-insats.json",
        "The police ask under SFS 2016:774 without naming a joint operation: refused.",
    ),
    (
        "samverkan-insats-syd.json",
        "The same request within the decided joint operation in region Syd, covered by a pre-assessment.",
    ),
];

pub fn run() -> anyhow::Result<ExitCode> {
    let rulebook =
        Rulebook::from_sources(&example::sources()).map_err(|e| anyhow::anyhow!("{e}"))?;
    println!(
        "utbyte demo — {} {} ({} policies, {} pre-assessments; illustrative, not legal advice)\n",
        rulebook.manifest.name,
        rulebook.manifest.version,
        rulebook.policy_count(),
        rulebook.pre_assessments.len()
    );
    for (i, (file, story)) in STORY.iter().enumerate() {
        let request = example::request(file)?;
        let decision = rulebook.decide(&request)?;
        println!("── {}. {story}", i + 1);
        println!("   (utbyte rules explain rulebook --request rulebook/requests/{file})\n");
        print!("{}", explain::render(&rulebook, &request, &decision));
        println!();
    }
    println!("Try it yourself:");
    println!("  utbyte rules check rulebook        # validate the rulebook");
    println!("  utbyte rules test rulebook         # run its scenario tests");
    println!("  utbyte rules analyze rulebook      # find dead rules, overlaps, protected-identity leaks");
    Ok(ExitCode::SUCCESS)
}
