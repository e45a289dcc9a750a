//! `utbyte demo` — a whole federation on this machine: the directory and eleven member nodes
//! on loopback, certificates issued on first run, registers filled with a synthetic Sweden,
//! the example rulebook shared. It prints what runs and three commands to try, and serves until
//! interrupted. `utbyte demo --scenario` instead runs a narrated sequence of exchanges in a
//! throw-away federation and exits.

mod local;
mod portal;
mod scenario;
mod subscriptions;

use crate::example;
use serde_json::{json, Value};
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::time::Duration;
use utbyte_rules::Rulebook;
use utbyte_synthetic::Population;
use utbyte_testbed::access::{case_system, LocalIssuer, CASE_SYSTEM};
use utbyte_testbed::loopback::{subjects_with, LoopbackFederation, Plan};

/// The authorities of the demo, in the order their ports are given.
pub const AUTHORITIES: [&str; 11] = [
    "skatteverket",
    "forsakringskassan",
    "polismyndigheten",
    "kronofogden",
    "bolagsverket",
    "utbetalningsmyndigheten",
    "malmo-stad",
    "kriminalvarden",
    "pensionsmyndigheten",
    "ekobrottsmyndigheten",
    "exempelbanken",
];

/// The synthetic Sweden every register describes.
pub const POPULATION: Population = Population {
    seed: 2026,
    persons: 5000,
};

#[derive(Debug, clap::Args)]
pub struct DemoArgs {
    /// Run the narrated scenario in a throw-away federation and exit.
    #[arg(long)]
    scenario: bool,
    /// Where certificates, keys, ledgers and registers are kept between runs.
    #[arg(long, default_value = "utbyte-demo")]
    dir: PathBuf,
    /// The directory listens here; nodes on the ports after it (federation), from +101 (local
    /// APIs) and from +201 (portals).
    #[arg(long, default_value_t = 7400)]
    base_port: u16,
    /// An OpenID Connect provider every portal also signs people in through (each portal a
    /// public client `utbyte-<authority>`, redirected back to `<portal>/portal/oidc/callback`;
    /// claims `name`, `unit`, `roles`, `officer_role`).
    #[arg(long, value_name = "URL")]
    oidc_issuer: Option<String>,
    /// How many payments the printed bulk check sends (Utbetalningsmyndigheten against
    /// Skatteverket's income register).
    #[arg(long, default_value_t = 1_000_000, value_parser = clap::value_parser!(u64).range(1..=10_000_000))]
    bulk_subjects: u64,
}

/// The federation the demo runs in `dir`; its token issuer's key is kept in `dir/access`.
pub fn plan(dir: PathBuf, base_port: u16) -> anyhow::Result<Plan> {
    let issuer = LocalIssuer::load_or_create(&dir.join("access"))?;
    Ok(Plan {
        dir,
        rulebook: example::sources(),
        catalog: Some(example::catalog_sources()),
        authorities: AUTHORITIES.iter().map(|a| a.to_string()).collect(),
        population: POPULATION,
        base_port,
        refresh: Duration::from_secs(30),
        review_poll: Duration::from_secs(2),
        config_lifetime: time::Duration::hours(24),
        limits: utbyte_http::Limits::default(),
        frontends: Default::default(),
        callbacks: Default::default(),
        agency_trust: None,
        recovery: utbyte_node::RecoveryConfig::default(),
        messages: Default::default(),
        subscriptions: Default::default(),
        retention: Default::default(),
        issuer: std::sync::Arc::new(issuer),
        clients: vec![case_system()],
        access: Default::default(),
        review_units: Default::default(),
        postgres: None,
        instances: 1,
        endpoints: Default::default(),
    })
}

/// Writes the case system's access token (valid for a day, 0600) where the printed commands
/// read it, and returns its path.
fn write_token(plan: &Plan, dir: &Path) -> anyhow::Result<PathBuf> {
    let path = dir.join("access").join("case-system.token");
    let token = plan.issuer.access_token(CASE_SYSTEM)?;
    match std::fs::remove_file(&path) {
        Err(e) if e.kind() != std::io::ErrorKind::NotFound => return Err(e.into()),
        _ => {}
    }
    utbyte_node::write_private(&path, token.as_bytes())?;
    Ok(path)
}

pub fn run(args: DemoArgs) -> anyhow::Result<ExitCode> {
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()?;
    runtime.block_on(async move {
        if args.scenario {
            scenario::run().await
        } else {
            serve(&args).await
        }
    })
}

async fn serve(args: &DemoArgs) -> anyhow::Result<ExitCode> {
    let (dir, base_port) = (args.dir.as_path(), args.base_port);
    let oidc_issuer = args.oidc_issuer.as_deref();
    println!(
        "utbyte demo — starting a federation of {} authorities in {} …",
        AUTHORITIES.len(),
        dir.display()
    );
    let rulebook =
        Rulebook::from_sources(&example::sources()).map_err(|e| anyhow::anyhow!("{e}"))?;
    let mut plan = plan(dir.to_owned(), base_port)?;
    plan.frontends = portal::portals(dir, &rulebook, &AUTHORITIES, base_port, oidc_issuer).await?;
    plan.review_units = portal::review_units(&rulebook);
    let token = write_token(&plan, dir)?;
    let federation = LoopbackFederation::start(plan).await?;
    println!();
    println!(
        "  directory                   https://{}   (signed federation configuration, mutual TLS)",
        federation.directory_addr
    );
    println!(
        "  {:<27} {:<24} {:<23} portal (browser)",
        "authority", "federation (mTLS)", "local API (case systems)"
    );
    for node in &federation.nodes {
        let portal = portal_url(&federation, &node.authority).unwrap_or_default();
        println!(
            "  {:<27} https://{:<16} http://{:<16} {portal}",
            node.authority, node.federation_addr, node.local_addr
        );
    }
    portal::print_accounts();
    std::fs::write(
        dir.join("portal-accounts.json"),
        serde_json::to_vec_pretty(&portal::accounts_document(
            &federation,
            &rulebook,
            oidc_issuer,
        )?)?,
    )?;
    println!();
    println!(
        "  rulebook: {} {} ({} policies; illustrative, not legal advice)",
        rulebook.manifest.name,
        rulebook.manifest.version,
        rulebook.policy_count()
    );
    println!(
        "  registers: a synthetic Sweden of {} persons (seed {})",
        POPULATION.persons, POPULATION.seed
    );
    println!("  OpenAPI: http://<local API>/openapi.json and https://<federation>/openapi.json");
    let bearer = format!("-H \"Authorization: Bearer $(cat {})\"", token.display());
    println!(
        "  case systems: the local APIs take a bearer token; the demo's case system's is in {} (valid {} hours)",
        token.display(),
        utbyte_testbed::access::TOKEN_HOURS
    );
    let examples = write_examples(&federation, &rulebook, dir, &bearer)?;
    println!();
    println!("Try it (in another terminal):");
    for (title, command) in examples {
        println!("\n  # {title}\n  {command}");
    }
    println!(
        "\nThe review waits in Försäkringskassan's queue: curl -s {bearer} http://{}/v1/reviews",
        node_addr(&federation, "forsakringskassan")?
    );
    println!("\nBulk (pattern B): Utbetalningsmyndigheten checks a month's payments against Skatteverket's income register in one exchange under LUFFA; each recipient is decided as their own request would be, recorded in runs of up to 256 in both ledgers; a recipient with protected identity is held for Skatteverket's reviewers:");
    for (title, command) in
        write_bulk_example(&federation, &rulebook, dir, &bearer, args.bulk_subjects)?
    {
        println!("\n  # {title}\n  {command}");
    }
    println!("\nMessages between authorities (notices decided by the sender's rulebook, sealed end to end):");
    for (title, command) in write_message_examples(&federation, &rulebook, dir, &bearer)? {
        println!("\n  # {title}\n  {command}");
    }
    for (title, command) in write_file_example(&federation, dir, &token)? {
        println!("\n  # {title}\n  {command}");
    }
    println!("\nSubscriptions (told when information changes: each notice decided again by the provider's rulebook and recorded in both ledgers; a generator changes Skatteverket's and Bolagsverket's registers every few seconds):");
    let token_text = std::fs::read_to_string(&token)?;
    for (title, command) in
        subscriptions::start(&federation, &rulebook, dir, token_text.trim(), &bearer).await?
    {
        println!("\n  # {title}\n  {command}");
    }
    println!(
        "Audit: utbyte audit verify {}/nodes/forsakringskassan/audit",
        dir.display()
    );
    let pki = dir.join("pki");
    println!(
        "Catalog (the directory, over mutual TLS as Malmö stad): curl -s --cacert {ca} --cert {crt} --key {key} 'https://{addr}/v1/catalog/search?q=l%C3%B6n'",
        ca = pki.join("ca").join("ca.crt").display(),
        crt = pki.join("malmo-stad").join("node.crt").display(),
        key = pki.join("malmo-stad").join("node.key").display(),
        addr = federation.directory_addr,
    );
    println!("\nServing until Ctrl-C.");
    tokio::signal::ctrl_c().await?;
    println!("stopping …");
    federation.stop().await;
    Ok(ExitCode::SUCCESS)
}

fn node_addr(
    federation: &LoopbackFederation,
    authority: &str,
) -> anyhow::Result<std::net::SocketAddr> {
    Ok(federation
        .node(authority)
        .ok_or_else(|| anyhow::anyhow!("no node for {authority}"))?
        .local_addr)
}

/// Malmö stad's LUFFA check against Försäkringskassan's benefits.
pub fn luffa_case(subject: &str, fields: &[&str]) -> Value {
    json!({
        "subject": subject,
        "offering": "fk-formaner",
        "fields": fields,
        "purpose": "kontroll-ekonomiskt-bistand",
        "legal_basis": "luffa",
        "case_ref": "ASN-2026-004512",
        "officer": "malmo-h4711",
        "role": "handlaggare",
        "unit": "malmo-ekonomiskt-bistand"
    })
}

/// A decided joint operation running today in which every one of `participants` takes part:
/// the demo asks within one whatever the date.
pub fn running_operation(rulebook: &Rulebook, participants: &[&str]) -> anyhow::Result<String> {
    let today = utbyte_domain::legal_time::swedish_date(time::OffsetDateTime::now_utc());
    rulebook
        .vocabulary
        .operations
        .values()
        .find(|o| {
            o.decided
                && o.starts <= today
                && today <= o.ends
                && participants
                    .iter()
                    .all(|p| o.participants.iter().any(|q| q == p))
        })
        .map(|o| o.id.clone())
        .ok_or_else(|| anyhow::anyhow!("no decided joint operation of {participants:?} runs today"))
}

/// The Police asking Skatteverket under SFS 2016:774 without naming a joint operation.
pub fn police_case(subject: &str, operation: Option<&str>) -> Value {
    let mut case = json!({
        "subject": subject,
        "offering": "skv-inkomst",
        "fields": ["lon", "arbetsgivare", "f-skatt"],
        "purpose": "myndighetsgemensam-insats",
        "legal_basis": "sfs-2016-774",
        "case_ref": "5000-K123456-26",
        "officer": "pm-analytiker-9",
        "role": "underrattelseanalytiker",
        "unit": "pm-noa"
    });
    if let Some(operation) = operation {
        case["operation"] = json!(operation);
    }
    case
}

/// Writes the three example requests and returns the commands that send them.
fn write_examples(
    federation: &LoopbackFederation,
    rulebook: &Rulebook,
    dir: &Path,
    bearer: &str,
) -> anyhow::Result<Vec<(&'static str, String)>> {
    let open = first(subjects_with(
        rulebook,
        POPULATION,
        "fk-formaner",
        "forman",
        false,
    )?)?;
    let protected = first(subjects_with(
        rulebook,
        POPULATION,
        "fk-formaner",
        "forman",
        true,
    )?)?;
    let earner = first(subjects_with(
        rulebook,
        POPULATION,
        "skv-inkomst",
        "lon",
        false,
    )?)?;
    let requests = dir.join("requests");
    std::fs::create_dir_all(&requests)?;
    let malmo = node_addr(federation, "malmo-stad")?;
    let police = node_addr(federation, "polismyndigheten")?;
    let examples = [
        ("A disclosure: Malmö stad checks a benefit claim under LUFFA; payments leave, health data does not", "disclosure", malmo, luffa_case(&open, &["forman", "belopp", "period", "diagnos"])),
        ("A review: the same check about a person with protected identity goes to a human at Försäkringskassan", "review", malmo, luffa_case(&protected, &["forman", "belopp", "period"])),
        ("A refusal: the Police ask Skatteverket under SFS 2016:774 without a decided joint operation", "refusal", police, police_case(&earner, None)),
    ];
    let mut commands = Vec::new();
    // One question to every source: the Police within a decided joint operation, and the
    // banks through the account system.
    let operation = running_operation(rulebook, &["polismyndigheten", "skatteverket"])?;
    let mut question = police_case(&earner, Some(&operation));
    if let Some(fields) = question.as_object_mut() {
        fields.remove("offering");
        fields.remove("fields");
        fields.insert("also_legal_bases".into(), json!(["sfs-2020-272"]));
    }
    let file = requests.join("search.json");
    std::fs::write(&file, serde_json::to_vec_pretty(&question)?)?;
    commands.push((
        "A search in every source: the Police ask once within a decided joint operation (SFS 2016:774), and the bank through the account and safe-deposit-box system (SFS 2020:272); each source the rulebook permits answers, goes to review or is marked",
        format!(
            "curl -s -X POST http://{police}/v1/search {bearer} -H 'Content-Type: application/json' -H 'Idempotency-Key: demo-search' --data @{}",
            file.display()
        ),
    ));
    let ebm = node_addr(federation, "ekobrottsmyndigheten")?;
    let file = requests.join("search-ebm.json");
    std::fs::write(
        &file,
        serde_json::to_vec_pretty(&json!({
            "subject": earner,
            "purpose": "forundersokning",
            "legal_basis": "sfs-2020-272",
            "case_ref": "EB-2026-4411",
            "officer": "ebm-utredare-4",
            "role": "utredare",
            "unit": "ebm-utredning"
        }))?,
    )?;
    commands.push((
        "Ekobrottsmyndigheten searches a suspect in a preliminary investigation: the bank answers its accounts and safe-deposit boxes",
        format!(
            "curl -s -X POST http://{ebm}/v1/search {bearer} -H 'Content-Type: application/json' -H 'Idempotency-Key: demo-search-ebm' --data @{}",
            file.display()
        ),
    ));
    for (title, name, addr, body) in examples {
        let file = requests.join(format!("{name}.json"));
        std::fs::write(&file, serde_json::to_vec_pretty(&body)?)?;
        commands.push((
            title,
            format!(
                "curl -s -X POST http://{addr}/v1/requests {bearer} -H 'Content-Type: application/json' -H 'Idempotency-Key: demo-{name}' --data @{}",
                file.display()
            ),
        ));
    }
    Ok(commands)
}

/// Writes the bulk payment check — the request and `count` payments' recipients, one a line —
/// and returns the commands that make it, upload the recipients and read the records.
fn write_bulk_example(
    federation: &LoopbackFederation,
    rulebook: &Rulebook,
    dir: &Path,
    bearer: &str,
    count: u64,
) -> anyhow::Result<Vec<(&'static str, String)>> {
    use std::io::Write;
    let earners = subjects_with(rulebook, POPULATION, "skv-inkomst", "lon", false)?;
    let protected = subjects_with(rulebook, POPULATION, "skv-inkomst", "lon", true)?;
    if earners.is_empty() || protected.is_empty() {
        anyhow::bail!("the synthetic population has no earners to pay");
    }
    let bulk = dir.join("bulk");
    std::fs::create_dir_all(&bulk)?;
    let request = bulk.join("payments-check.json");
    std::fs::write(
        &request,
        serde_json::to_vec_pretty(&json!({
            "offering": "skv-inkomst",
            "fields": ["lon", "arbetsgivare", "inkomstperiod"],
            "purpose": "kontroll-utbetalning",
            "legal_basis": "luffa",
            "case_ref": "UBM 2026/01311",
            "officer": "ubm-kontrollant-3",
            "role": "kontrollant",
            "unit": "ubm-kontroll"
        }))?,
    )?;
    // A month's payments: most recipients paid more than once, a few with protected identity.
    let payments = bulk.join("payments.ndjson");
    let mut out = std::io::BufWriter::new(std::fs::File::create(&payments)?);
    for n in 0..count {
        let subject = if n % 1000 == 500 {
            &protected[(n / 1000) as usize % protected.len()]
        } else {
            &earners[n as usize % earners.len()]
        };
        writeln!(out, "\"{subject}\"")?;
    }
    out.flush()?;
    let ubm = node_addr(federation, "utbetalningsmyndigheten")?;
    let skv = node_addr(federation, "skatteverket")?;
    Ok(vec![
        (
            "Make the bulk (offering, fields, purpose, legal basis, case — once)",
            format!(
                "curl -s -X POST http://{ubm}/v1/bulk {bearer} -H 'Content-Type: application/json' -H 'Idempotency-Key: demo-payments' --data @{}",
                request.display()
            ),
        ),
        (
            "Upload the payments' recipients (NDJSON; a cut upload resumes with ?from= the bulk's `subjects`)",
            format!(
                "curl -s -X POST 'http://{ubm}/v1/bulk/demo-payments/subjects?from=0' {bearer} -H 'Content-Type: application/x-ndjson' -H 'Transfer-Encoding: chunked' --data-binary @{}",
                payments.display()
            ),
        ),
        (
            "Read the records (CSV; NDJSON without format=)",
            format!(
                "curl -s {bearer} 'http://{ubm}/v1/bulk/demo-payments/records?format=csv' | head -5"
            ),
        ),
        (
            "The held recipients wait at Skatteverket as one batch, for a jurist to decide once (POST /v1/review-batches/{batch}/decision, or the reviewer's portal)",
            format!("curl -s {bearer} http://{skv}/v1/review-batches"),
        ),
    ])
}

/// A notice from `unit` of the sending authority to `to`, about `subject`.
#[allow(clippy::too_many_arguments)]
fn notice(
    unit: &str,
    to: (&str, &str),
    kind: &str,
    values: Value,
    purpose: &str,
    legal_basis: &str,
    subject: &str,
    case_ref: &str,
    title: &str,
) -> Value {
    json!({
        "officer": format!("{unit}-handlaggare-1"),
        "unit": unit,
        "role": if unit.starts_with("ubm") { "kontrollant" } else { "handlaggare" },
        "to": {"authority": to.0, "unit": to.1},
        "kind": {"type": "notice", "notice": kind},
        "title": title,
        "subjects": [subject],
        "values": values,
        "purpose": purpose,
        "legal_basis": legal_basis,
        "case_ref": case_ref,
    })
}

/// Writes the example messages and returns the commands that send them and read the inbox.
fn write_message_examples(
    federation: &LoopbackFederation,
    rulebook: &Rulebook,
    dir: &Path,
    bearer: &str,
) -> anyhow::Result<Vec<(&'static str, String)>> {
    let subject = first(subjects_with(
        rulebook,
        POPULATION,
        "fk-formaner",
        "forman",
        false,
    )?)?;
    let messages = dir.join("messages");
    std::fs::create_dir_all(&messages)?;
    let sfs = ("underrattelse-felaktig-utbetalning", "sfs-2008-206");
    let examples = [
        (
            "A notice: Utbetalningsmyndigheten tells Försäkringskassan of a suspected double payment (SFS 2008:206); the grounds go automatically, the login data stays",
            "ubm-notice",
            "utbetalningsmyndigheten",
            notice("ubm-kontroll", ("forsakringskassan", "fk-kontroll"), "ubm-underrattelse",
                json!({"forman": "bostadsbidrag", "belopp": 4200, "utbetalningsdag": "2026-11-25",
                       "grund": "Samma period utbetald två gånger", "inloggningar": "enhet 7f3a"}),
                sfs.0, sfs.1, &subject, "UBM 2026/01207", "Misstänkt dubbelutbetalning av bostadsbidrag"),
        ),
        (
            "A notice: Kriminalvården tells Försäkringskassan that a person was admitted to prison; what the case was about stays",
            "kv-fk-notice",
            "kriminalvarden",
            notice("kv-verkstallighet", ("forsakringskassan", "fk-sjukforsakring"), "kv-underrattelse-intagen",
                json!({"intagen-fran": "2026-11-30", "beraknad-frigivning": "2027-05-30", "brott": "grovt bedrägeri"}),
                sfs.0, sfs.1, &subject, "KV 2026-3-1120", "Intagen i anstalt"),
        ),
        (
            "A notice: Kriminalvården tells Pensionsmyndigheten the same",
            "kv-pens-notice",
            "kriminalvarden",
            notice("kv-verkstallighet", ("pensionsmyndigheten", "pens-kontroll"), "kv-underrattelse-intagen",
                json!({"intagen-fran": "2026-11-30", "beraknad-frigivning": "2027-05-30"}),
                sfs.0, sfs.1, &subject, "KV 2026-3-1122", "Intagen i anstalt"),
        ),
        (
            "A notice held for review: Kriminalvården would tell the Police that a convicted person did not report; OSL 10:27 needs its own jurist first",
            "kv-pm-notice",
            "kriminalvarden",
            notice("kv-verkstallighet", ("polismyndigheten", "pm-syd"), "kv-underrattelse-uteblivit",
                json!({"pafoljd": "fängelse 1 år", "installelsedag": "2026-11-15"}),
                "verkstallighet", "osl-10-27", &subject, "KV 2026-3-1121", "Uteblivit från verkställighet"),
        ),
        (
            "A letter: Polismyndigheten writes to Kronofogden in free text",
            "pm-kfm-letter",
            "polismyndigheten",
            json!({
                "officer": "pm-utredare-12", "unit": "pm-syd", "role": "utredare",
                "to": {"authority": "kronofogden", "unit": "kfm-brottsbekampning"},
                "kind": {"type": "free_text"},
                "title": "Begäran om samråd",
                "subjects": [subject],
                "text": "Vi utreder ett ärende där gäldenären kan ha dolt tillgångar. Kan ni kontakta oss för samråd?",
                "case_ref": "5000-K998877-26",
            }),
        ),
    ];
    let mut commands = Vec::new();
    for (title, name, from, body) in examples {
        let file = messages.join(format!("{name}.json"));
        std::fs::write(&file, serde_json::to_vec_pretty(&body)?)?;
        commands.push((
            title,
            format!(
                "curl -s -X POST http://{}/v1/messages {bearer} -H 'Content-Type: application/json' -H 'Idempotency-Key: demo-{name}' --data @{}",
                node_addr(federation, from)?,
                file.display()
            ),
        ));
    }
    commands.push((
        "Försäkringskassan's control unit reads its inbox (then GET …/inbox/{sender}/{id} opens one, POST …/accept takes it)",
        format!(
            "curl -s {bearer} 'http://{}/v1/messages/inbox?unit=fk-kontroll'",
            node_addr(federation, "forsakringskassan")?
        ),
    ));
    commands.push((
        "Kriminalvården's jurist sees the held notice with what must be weighed (POST …/held/{id}/decision decides it, field by field with reasons)",
        format!(
            "curl -s {bearer} http://{}/v1/messages/held",
            node_addr(federation, "kriminalvarden")?
        ),
    ));
    commands.push((
        "Utbetalningsmyndigheten's outbox: the notice, delivered, with Försäkringskassan's signed receipt",
        format!(
            "curl -s {bearer} http://{}/v1/messages/outbox",
            node_addr(federation, "utbetalningsmyndigheten")?
        ),
    ));
    Ok(commands)
}

/// Size of the demo's seized material: a file no SDK message could carry (its cap is 30 MB).
const SEIZED_BYTES: u64 = 200_000_000;

/// Writes a letter with a 200 MB file from Polismyndigheten to Kronofogden, and returns the
/// commands that send it (uploaded with tus first) and fetch the file at Kronofogden.
fn write_file_example(
    federation: &LoopbackFederation,
    dir: &Path,
    token: &Path,
) -> anyhow::Result<Vec<(&'static str, String)>> {
    let messages = dir.join("messages");
    let file = messages.join("beslag-2026-11-30.bin");
    if std::fs::metadata(&file).map(|m| m.len()).ok() != Some(SEIZED_BYTES) {
        // Synthetic material: noise, so nothing on the way can shrink it.
        let mut out = std::io::BufWriter::new(std::fs::File::create(&file)?);
        utbyte_synthetic::material::write_noise(&mut out, SEIZED_BYTES, POPULATION.seed)?;
    }
    let letter = messages.join("pm-kfm-file.json");
    std::fs::write(
        &letter,
        serde_json::to_vec_pretty(&json!({
            "officer": "pm-utredare-12", "unit": "pm-syd", "role": "utredare",
            "to": {"authority": "kronofogden", "unit": "kfm-brottsbekampning"},
            "kind": {"type": "free_text"},
            "title": "Beslagtaget material",
            "text": "Bifogat finns en kopia av det material som togs i beslag den 30 november.",
            "case_ref": "5000-K998877-26",
        }))?,
    )?;
    Ok(vec![
        (
            "A letter with a 200 MB file: Polismyndigheten sends Kronofogden seized material (uploaded with tus, sealed in chunks, moved chunk by chunk)",
            format!(
                "utbyte message send --api http://{} --token-file {} --key demo-pm-kfm-file --attach {} {}",
                node_addr(federation, "polismyndigheten")?,
                token.display(),
                file.display(),
                letter.display()
            ),
        ),
        (
            "Kronofogden fetches the file (its SHA-256 checked before it is kept); <id> is the letter's id",
            format!(
                "utbyte message fetch --api http://{} --token-file {} --sender polismyndigheten --attachment 0 --out {} <id>",
                node_addr(federation, "kronofogden")?,
                token.display(),
                messages.join("beslag-mottaget.bin").display()
            ),
        ),
        (
            "In the portal: Kronofogden's officer (handlaggare) opens the letter and fetches its file; Polismyndigheten's writes one with files at …/portal/messages/new",
            format!("{}messages", portal_url(federation, "kronofogden")?),
        ),
    ])
}

/// The portal of `authority`'s node, as a browser reaches it.
fn portal_url(federation: &LoopbackFederation, authority: &str) -> anyhow::Result<String> {
    let node = federation
        .node(authority)
        .ok_or_else(|| anyhow::anyhow!("no node for {authority}"))?;
    let addr = node
        .portal_addr
        .ok_or_else(|| anyhow::anyhow!("{authority} serves no portal"))?;
    Ok(format!("http://{addr}/portal/"))
}

fn first(subjects: Vec<String>) -> anyhow::Result<String> {
    subjects
        .into_iter()
        .next()
        .ok_or_else(|| anyhow::anyhow!("the synthetic population has no suitable subject"))
}
