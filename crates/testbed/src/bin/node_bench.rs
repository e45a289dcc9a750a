//! Load benchmark of a node, end to end, against two floors measured in the same run.
//!
//! Run: `scripts/bench-node [--requests N] [--seconds S] [--concurrency C] [--persons P]`
//! (installs nginx if missing, then `cargo run --release -p utbyte-testbed --bin node-bench`).
//!
//! 1. **utbyte end to end**: a loopback federation (`malmo-stad` asks, `forsakringskassan`
//!    provides). C keep-alive HTTP/1.1 clients post pre-assessed LUFFA checks to Malmö's local
//!    API: case system → consumer node → provider node (mutual TLS, HTTP/2) → SQLite register
//!    → back, each node durably auditing every request. Only a 200 with disclosed values counts;
//!    afterwards each ledger must have grown by one record (disclosure, receipt) per answer.
//!    Measured on the embedded default (SQLite files), then with both nodes' state and ledgers
//!    in PostgreSQL (`--postgres URL`, default the test database) as 1, 2 and 3 instances of
//!    each node sharing its addresses (`--instances`, default `1,2,3`; `--instances 0` skips
//!    PostgreSQL).
//! 2. **direct adapter**: the same lookups on the provider's register, no network — the floor.
//! 3. **nginx**: a plain mutual-TLS reverse proxy (TLS 1.3, client certificate required) in
//!    front of the reference register backend over the same register, asked the same lookups
//!    by C keep-alive HTTP/1.1 clients presenting Malmö's certificate.
//!
//! 4. **small messages** (`--messages M`, default 5,000; 0 skips): on the embedded default,
//!    C clients send letters from Malmö's case system to Försäkringskassan while
//!    Försäkringskassan's case system takes each that arrives (asking the inbox for what it
//!    has not taken yet, `state=delivered`); timed from the first send to the
//!    last *accepted* receipt recorded in Malmö's ledger (each message: sent, delivered and
//!    accepted recorded by both nodes). Goal: 1,000 a second.
//!
//! Each path gets a short unmeasured warm-up, then at most `--requests` requests or
//! `--seconds` seconds, whichever ends first. Everything listens on loopback only.
//!
//! In the table, `ratio` is value/anchor for rates and anchor/value for times, so at least 1
//! means the anchor or goal is met; on the two floor rows it is utbyte's rate over the floor's.
//!
//! What bounds the embedded default (measured with `perf record -g` on this benchmark, 2
//! cores): throughput levels off near 1,150 answers/s whatever the concurrency, a single-server
//! stage with about 0.9 ms of service time per answer. That stage is each node's exchange-state
//! writer: one task that runs every write's statements one at a time, each statement a round
//! trip to sqlx's SQLite worker thread (a channel send and a futex wake; scheduling and futex
//! wake-ups are a quarter of all samples). The fsyncs themselves are fast (0.2 ms). Writes of
//! one changing statement skip their savepoint (a round trip and a copy of each page they
//! touch), which lifted the small messages by a fifth; running a batch's statements on the
//! connection's own thread, without a hand-off per statement, is what lifts the ceiling
//! further. The next bound is the processor: about 1.2 ms of CPU per answer for both nodes and
//! the clients together (TLS, the ES256 access token verified per call, two Ed25519 signatures
//! and their checks, JSON, allocation), which caps the default near 1,600/s on 2 cores;
//! 5,000/s needs that cost cut to about 0.4 ms.

// A binary's root resolves modules beside itself, not in a directory of its name.
#[path = "node_bench/clients.rs"]
mod clients;
#[path = "node_bench/load.rs"]
mod load;
#[path = "node_bench/messages.rs"]
mod messages;
#[path = "node_bench/nginx.rs"]
mod nginx;
#[path = "node_bench/report.rs"]
mod report;

use clients::{CaseSystem, Connections, Direct, ProxyClient};
use load::{drive, Dial, Http1, Outcome, Worker};
use report::{print_report, Report};
use rustls::pki_types::ServerName;
use std::collections::HashSet;
use std::error::Error;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;
use tokio_rustls::TlsConnector;
use utbyte_audit::{AuditLog, AuditRecord, EventKind};
use utbyte_domain::SubjectId;
use utbyte_pki::{NodeCredentials, Revocations};
use utbyte_store::Register;
use utbyte_synthetic::{self as synthetic, OfferingFields, Population};
use utbyte_testbed::loopback::{LoopbackFederation, Plan};

type BoxError = Box<dyn Error + Send + Sync>;

const CONSUMER: &str = "malmo-stad";
const PROVIDER: &str = "forsakringskassan";
const OFFERING: &str = "fk-formaner";
const FIELDS: [&str; 3] = ["forman", "belopp", "period"];
const SEED: u64 = 7;
/// Unmeasured requests per path before the measured run: connections, caches and SQLite pages
/// are warm when timing starts.
const WARM_UP: u64 = 200;

const MAX_SECONDS: f64 = 3600.0;

const USAGE: &str = "usage: node-bench [--requests N] [--seconds S] [--concurrency C] \
                     [--persons P] [--rulebook DIR] [--postgres URL] [--instances 1,2,3] \
                     [--messages M]";

struct Options {
    requests: u64,
    seconds: f64,
    concurrency: usize,
    persons: usize,
    rulebook: PathBuf,
    /// The PostgreSQL server of the PostgreSQL rows.
    postgres: String,
    /// The numbers of instances measured on PostgreSQL (none: no PostgreSQL row).
    instances: Vec<usize>,
    /// Small messages sent on the embedded default, both receipts awaited (0: none).
    messages: u64,
}

impl Options {
    fn parse(mut args: impl Iterator<Item = String>) -> Result<Self, BoxError> {
        let mut options = Options {
            requests: 20_000,
            seconds: 20.0,
            concurrency: 64,
            persons: 2000,
            rulebook: Path::new(env!("CARGO_MANIFEST_DIR")).join("../../rulebook"),
            postgres: "postgres://postgres@127.0.0.1:5432/test".into(),
            instances: vec![1, 2, 3],
            messages: 5000,
        };
        while let Some(flag) = args.next() {
            if flag == "--help" || flag == "-h" {
                println!("{USAGE}");
                std::process::exit(0);
            }
            let value = args.next().ok_or_else(|| format!("{flag} needs a value"))?;
            let bad = || format!("{flag}: `{value}` is not a valid number");
            match flag.as_str() {
                "--requests" => options.requests = value.parse().map_err(|_| bad())?,
                "--seconds" => options.seconds = value.parse().map_err(|_| bad())?,
                "--concurrency" => options.concurrency = value.parse().map_err(|_| bad())?,
                "--persons" => options.persons = value.parse().map_err(|_| bad())?,
                "--rulebook" => options.rulebook = PathBuf::from(value),
                "--messages" => options.messages = value.parse().map_err(|_| bad())?,
                "--postgres" => options.postgres = value,
                "--instances" => {
                    options.instances = value
                        .split(',')
                        .map(|n| n.trim().parse::<usize>().map_err(|_| bad()))
                        .collect::<Result<Vec<_>, _>>()?;
                    options.instances.retain(|&n| n > 0);
                }
                _ => return Err(format!("unknown option {flag}").into()),
            }
        }
        // A load test stops by itself: the time cap is finite (and at most an hour).
        let seconds_ok =
            options.seconds.is_finite() && options.seconds > 0.0 && options.seconds <= MAX_SECONDS;
        if options.requests == 0 || options.concurrency == 0 || !seconds_ok {
            return Err(format!(
                "requests and concurrency must be positive, seconds in (0, {MAX_SECONDS}]"
            )
            .into());
        }
        Ok(options)
    }

    fn cap(&self) -> Duration {
        Duration::from_secs_f64(self.seconds)
    }
}

fn main() -> Result<(), Box<dyn Error>> {
    // The async parts need `Send + Sync` errors; `main` only prints them.
    let widen = |e: BoxError| -> Box<dyn Error> { e };
    // Errors print in `Debug` form, so messages stay on one line; the usage goes beside them.
    let options = Options::parse(std::env::args().skip(1)).map_err(|e| {
        eprintln!("{USAGE}");
        widen(e)
    })?;
    let nginx = nginx::find().map_err(widen)?;
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()?;
    runtime.block_on(run(&options, &nginx)).map_err(widen)
}

/// A scratch directory under the system's temporary directory, removed when dropped.
struct Scratch(PathBuf);

impl Scratch {
    fn new() -> Result<Self, BoxError> {
        let dir = std::env::temp_dir().join(format!("utbyte-node-bench-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir)?;
        Ok(Self(dir))
    }
}

impl Drop for Scratch {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

/// Where a federation of the benchmark keeps its nodes' state, and how many instances each runs.
#[derive(Clone, Copy)]
pub enum Store {
    Sqlite,
    Postgres { instances: usize },
}

impl Store {
    pub fn label(self) -> String {
        match self {
            Store::Sqlite => "SQLite, 1 instance".into(),
            Store::Postgres { instances: 1 } => "PostgreSQL, 1 instance".into(),
            Store::Postgres { instances } => format!("PostgreSQL, {instances} instances"),
        }
    }
}

async fn run(options: &Options, nginx_binary: &Path) -> Result<(), BoxError> {
    let scratch = Scratch::new()?;
    let subjects = subjects(options.persons)?;
    eprintln!(
        "loopback federations ({CONSUMER}, {PROVIDER}) over {} persons; {} of them have a \
         benefit and no protected identity",
        options.persons,
        subjects.len()
    );
    let stores = std::iter::once(Store::Sqlite).chain(
        options
            .instances
            .iter()
            .map(|&instances| Store::Postgres { instances }),
    );
    let mut runs = Vec::new();
    let mut floors = None;
    let mut message_run = None;
    for (n, store) in stores.enumerate() {
        let plan = plan(options, scratch.0.join(format!("federation-{n}")), store)?;
        // Malmö's case system authenticates as any would: a bearer access token, verified per
        // call.
        let authorization: Arc<str> = format!(
            "Bearer {}",
            plan.issuer
                .access_token(utbyte_testbed::access::CASE_SYSTEM)?
        )
        .into();
        let postgres = plan.postgres.clone();
        eprintln!("== {}", store.label());
        let federation = LoopbackFederation::start(plan).await?;
        let measured = end_to_end(options, &federation, &subjects, &authorization).await;
        // The floors once, over the embedded default's register and certificates.
        let floor = match (&measured, n) {
            (Ok(_), 0) => Some(
                measure_floors(options, &federation, &subjects, nginx_binary, &scratch.0).await,
            ),
            _ => None,
        };
        if n == 0 && options.messages > 0 {
            eprintln!("== small messages, both receipts ({})", store.label());
            let run = messages::measure(
                &federation,
                &authorization,
                options.messages,
                options.concurrency,
            )
            .await;
            message_run = Some(run?);
        }
        federation.stop().await;
        if let Some(postgres) = postgres {
            drop_schemas(&postgres).await;
        }
        runs.push((store, measured?));
        if let Some(floor) = floor {
            floors = Some(floor?);
        }
    }
    let (direct, proxy) = floors.ok_or("the floors were not measured")?;
    let report = Report {
        runs,
        direct,
        proxy,
    };
    print_report(options, &report);
    if let Some(run) = &message_run {
        println!(
            "| small messages with both receipts recorded (SQLite, 1 instance) | {:.0} /s | {:.0} /s (goal) | {:.2} |",
            run.rate(),
            messages::GOAL,
            run.rate() / messages::GOAL
        );
        println!(
            "\n{} letters from {} clients: sends acknowledged within {:.1} s, the last accepted \
             receipt recorded at {:.1} s; {:.2} ms of processor time a message (both nodes and \
             the clients, on {} cores)",
            run.messages,
            options.concurrency,
            run.sending.as_secs_f64(),
            run.took.as_secs_f64(),
            run.cpu * 1000.0 / run.messages as f64,
            std::thread::available_parallelism().map_or(1, usize::from),
        );
    }
    if report.runs.iter().all(|(_, run)| run.audited) {
        Ok(())
    } else {
        Err("the ledgers did not grow by one record per answer on both nodes".into())
    }
}

fn plan(options: &Options, dir: PathBuf, store: Store) -> Result<Plan, BoxError> {
    let rulebook = utbyte_rules::rulebook::read_dir(&options.rulebook)
        .map_err(|e| format!("reading the rulebook {}: {e}", options.rulebook.display()))?;
    // Nothing goes to review in this run: the plan's hourly poll keeps the background quiet.
    let mut plan = Plan::new(
        dir,
        rulebook,
        &[CONSUMER, PROVIDER],
        population(options.persons),
    )?;
    plan.config_lifetime = time::Duration::hours(2);
    if let Store::Postgres { instances } = store {
        // Six connections per store and instance: three instances of two nodes stay inside
        // PostgreSQL's default of 100 connections.
        plan.postgres = Some(utbyte_store::Postgres {
            connections: 6,
            ..utbyte_store::Postgres::new(
                options.postgres.clone(),
                format!("utbyte_bench_{}_{instances}", std::process::id()),
            )
        });
        plan.instances = instances;
    }
    Ok(plan)
}

/// Drops the schemas a PostgreSQL run made (`<prefix>_<authority>_<store>`).
async fn drop_schemas(postgres: &utbyte_store::Postgres) {
    use sqlx::Connection;
    let Ok(mut connection) = sqlx::PgConnection::connect(&postgres.url).await else {
        eprintln!("cannot connect to drop the benchmark's schemas");
        return;
    };
    let schemas: Vec<(String,)> =
        sqlx::query_as("SELECT nspname FROM pg_namespace WHERE starts_with(nspname, $1)")
            .bind(format!("{}_", postgres.schema))
            .fetch_all(&mut connection)
            .await
            .unwrap_or_default();
    for (schema,) in schemas {
        let _ = sqlx::query(&format!("DROP SCHEMA \"{schema}\" CASCADE"))
            .execute(&mut connection)
            .await;
    }
}

fn population(persons: usize) -> Population {
    Population {
        seed: SEED,
        persons,
    }
}

/// Persons in Försäkringskassan's benefit register without protected identity (whose requests
/// are pre-assessed and disclosed, not routed to review), in canonical form and parsed.
fn subjects(persons: usize) -> Result<Vec<(String, SubjectId)>, BoxError> {
    let offering = OfferingFields {
        offering: OFFERING.into(),
        fields: FIELDS.iter().map(|f| f.to_string()).collect(),
    };
    let batch = synthetic::batch(&[offering], population(persons))?;
    let with_benefit: HashSet<&str> = batch
        .records()
        .iter()
        .filter(|r| r.field == "forman")
        .map(|r| r.subject.as_str())
        .collect();
    let subjects: Vec<_> = batch
        .subjects()
        .iter()
        .filter(|s| {
            !s.protected_identity
                && matches!(s.subject, SubjectId::Personnummer(_))
                && with_benefit.contains(s.subject.as_str())
        })
        .map(|s| (s.subject.as_str().to_owned(), s.subject))
        .collect();
    if subjects.is_empty() {
        return Err(format!("{persons} persons give nobody with a benefit: use more").into());
    }
    Ok(subjects)
}

/// One configuration's end-to-end run and its audit check.
pub struct EndToEnd {
    pub outcome: Outcome,
    pub audited: bool,
    pub audit_detail: String,
}

async fn end_to_end(
    options: &Options,
    federation: &LoopbackFederation,
    subjects: &[(String, SubjectId)],
    authorization: &Arc<str>,
) -> Result<EndToEnd, BoxError> {
    let names: Arc<Vec<String>> = Arc::new(subjects.iter().map(|(s, _)| s.clone()).collect());
    let node = |authority: &str| {
        federation
            .node(authority)
            .ok_or_else(|| format!("the federation runs no node for {authority}"))
    };
    let consumer = node(CONSUMER)?;
    let provider = node(PROVIDER)?;
    // The ledgers are measured after the warm-up, whose requests are audited too, so the
    // growth belongs to the measured run alone.
    let workers = (0..options.concurrency)
        .map(|_| CaseSystem {
            http: Http1::new(Dial::Plain(consumer.local_addr)),
            subjects: Arc::clone(&names),
            authorization: Arc::clone(authorization),
        })
        .collect();
    let what = "utbyte end to end";
    let workers = warm_up(what, workers, options).await?;
    let before = (settled(provider).await?, settled(consumer).await?);
    let outcome = measure_run(what, workers, options).await?;
    let after = (settled(provider).await?, settled(consumer).await?);
    let (audited, audit_detail) = audit_check(
        provider.audit(),
        consumer.audit(),
        before,
        after,
        outcome.answered(),
    )?;
    eprintln!("audit: {audit_detail}");
    Ok(EndToEnd {
        outcome,
        audited,
        audit_detail,
    })
}

/// The node's ledger size once every record made so far is in it (on PostgreSQL, once this
/// instance's replica holds what every instance recorded).
async fn settled(node: &utbyte_node::RunningNode) -> Result<u64, BoxError> {
    let audit = node.audit_log();
    Ok(tokio::task::spawn_blocking(move || audit.settle()).await??)
}

/// The floors: the register directly, and nginx in front of the reference backend over it.
async fn measure_floors(
    options: &Options,
    federation: &LoopbackFederation,
    subjects: &[(String, SubjectId)],
    nginx_binary: &Path,
    scratch: &Path,
) -> Result<(Outcome, Outcome), BoxError> {
    let names: Arc<Vec<String>> = Arc::new(subjects.iter().map(|(s, _)| s.clone()).collect());
    let ids: Arc<Vec<SubjectId>> = Arc::new(subjects.iter().map(|(_, id)| *id).collect());
    let register = federation
        .register(PROVIDER)
        .ok_or("the federation holds no register for the provider")?;
    // 2. The register directly.
    let workers = (0..options.concurrency)
        .map(|_| Direct {
            register: Arc::clone(&register),
            subjects: Arc::clone(&ids),
        })
        .collect();
    let what = "direct adapter";
    let workers = warm_up(what, workers, options).await?;
    let direct = measure_run(what, workers, options).await?;

    // 3. nginx in front of the reference backend over the same register.
    let backend = tokio::net::TcpListener::bind((std::net::Ipv4Addr::LOCALHOST, 0)).await?;
    let backend_addr = backend.local_addr()?;
    let backend_task = tokio::spawn(utbyte_adapters::backend::serve(
        backend,
        Arc::clone(&register) as Arc<dyn Register>,
    ));
    let proxy = async {
        let pki = federation.dir.join("pki");
        let server = pki.join(PROVIDER);
        let nginx = nginx::Nginx::start(
            nginx_binary,
            &scratch.join("nginx"),
            &nginx::ServerPki {
                certificate: server.join(utbyte_pki::NODE_CERT_FILE),
                key: server.join(utbyte_pki::NODE_KEY_FILE),
                client_ca: server.join(utbyte_pki::CA_CERT_FILE),
            },
            backend_addr,
        )
        .await?;
        let mut tls = (*NodeCredentials::load(&pki.join(CONSUMER))?
            .client_config(&Revocations::new())?)
        .clone();
        tls.alpn_protocols = vec![b"http/1.1".to_vec()];
        let dial = Dial::Tls {
            addr: nginx.addr,
            connector: TlsConnector::from(Arc::new(tls)),
            name: ServerName::try_from("127.0.0.1")?,
        };
        let workers = (0..options.concurrency)
            .map(|_| ProxyClient {
                http: Http1::new(dial.clone()),
                subjects: Arc::clone(&names),
            })
            .collect();
        let what = "nginx mutual-TLS proxy";
        let workers = warm_up(what, workers, options).await?;
        let outcome = measure_run(what, workers, options).await;
        drop(nginx);
        outcome
    }
    .await;
    backend_task.abort();
    Ok((direct, proxy?))
}

/// Runs `workers` over the unmeasured warm-up requests; fails if none was answered.
async fn warm_up<W: Worker>(
    what: &str,
    workers: Vec<W>,
    options: &Options,
) -> Result<Vec<W>, BoxError> {
    eprintln!("{what}: warming up");
    let (workers, warm) = drive(workers, 0, WARM_UP, options.cap()).await?;
    if warm.answered() == 0 {
        return Err(format!(
            "{what}: no request of the warm-up was answered; first errors: {}",
            warm.first_errors.join(" | ")
        )
        .into());
    }
    Ok(workers)
}

/// The measured run; prints its errors, if any.
async fn measure_run<W: Worker + Connections>(
    what: &str,
    workers: Vec<W>,
    options: &Options,
) -> Result<Outcome, BoxError> {
    eprintln!("{what}: measuring");
    let (workers, outcome) = drive(workers, WARM_UP, options.requests, options.cap()).await?;
    let connections: u64 = workers.iter().map(Connections::connections).sum();
    eprintln!(
        "{what}: {} answered, {} errors in {:.2} s over {connections} connection(s)",
        outcome.answered(),
        outcome.errors,
        outcome.elapsed.as_secs_f64()
    );
    for error in &outcome.first_errors {
        eprintln!("  error: {error}");
    }
    Ok(outcome)
}

/// Whether, since `before` (provider, consumer ledger sizes), the provider recorded exactly one
/// disclosure and the consumer exactly one receipt per answered request, and nothing else.
fn audit_check(
    provider: &AuditLog,
    consumer: &AuditLog,
    before: (u64, u64),
    after: (u64, u64),
    answered: u64,
) -> Result<(bool, String), BoxError> {
    let count =
        |log: &AuditLog, (from, to): (u64, u64), kind: EventKind| -> Result<(u64, u64), BoxError> {
            let ledger = log.ledger();
            let mut matching = 0;
            for index in from..to {
                if AuditRecord::from_leaf(&ledger.entry(index)?)?.event == kind {
                    matching += 1;
                }
            }
            Ok((to - from, matching))
        };
    let (provider_new, disclosures) = count(provider, (before.0, after.0), EventKind::Disclosure)?;
    let (consumer_new, receipts) = count(consumer, (before.1, after.1), EventKind::Receipt)?;
    let ok = provider_new == answered
        && disclosures == answered
        && consumer_new == answered
        && receipts == answered;
    Ok((
        ok,
        format!(
            "{answered} answers; {PROVIDER} +{provider_new} records ({disclosures} disclosures), \
             {CONSUMER} +{consumer_new} records ({receipts} receipts)"
        ),
    ))
}
