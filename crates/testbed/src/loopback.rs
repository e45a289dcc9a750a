//! A whole federation on one machine: a CA, the directory and one node per authority, on
//! loopback addresses, with synthetic registers. `utbyte demo` runs one; the end-to-end tests
//! and the load benchmark start their own.
//!
//! Everything is kept under one directory and reused on the next start: certificates are
//! issued and registers filled only when missing, so a second start is quick and the data is
//! the same.

use crate::access::{access_config, LocalIssuer};
use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;
use time::OffsetDateTime;
use tokio::net::TcpListener;
use tokio::sync::watch;
use utbyte_audit::AuditLog;
use utbyte_directory::Publisher;
use utbyte_federation::{FederationConfig, Member, RulebookBundle};
use utbyte_http::Limits;
use utbyte_node::access::config::{AccessConfig, ClientConfig};
use utbyte_node::access::LocalAccess;
use utbyte_node::{
    answer_key, encode_key, signing_key, start, AgencyTrust, CallbacksConfig, Frontend, Listeners,
    NodeError, NodeSetup, PortalSite, Registers, RunningNode,
};
use utbyte_pki::{FederationCa, NodeCredentials, NodeRequest, Validity};
use utbyte_rules::source::SourceFile;
use utbyte_rules::Rulebook;
use utbyte_store::{Register, RegisterStore};
use utbyte_synthetic::{self as synthetic, OfferingFields, Population};

/// The directory's own identity in the federation.
pub const DIRECTORY_AUTHORITY: &str = "digg";
const DIRECTORY_NAME: &str = "Myndigheten för digital förvaltning";
const DIRECTORY_ORGNR: &str = "202100-6883";

/// What to start.
#[derive(Debug, Clone)]
pub struct Plan {
    /// Where certificates, keys, ledgers and registers live.
    pub dir: PathBuf,
    /// The rulebook the federation shares.
    pub rulebook: Vec<SourceFile>,
    /// The catalog data the directory serves (concepts, field links, descriptions, mappings,
    /// needs); none serves no catalog.
    pub catalog: Option<Vec<SourceFile>>,
    /// The authorities that run nodes (ids from the rulebook).
    pub authorities: Vec<String>,
    pub population: Population,
    /// The directory listens on this port, node *i* on `base_port + 1 + i` (federation) and
    /// `base_port + 101 + i` (local API); 0 lets the system choose every port.
    pub base_port: u16,
    pub refresh: Duration,
    pub review_poll: Duration,
    /// How long each signed version of the configuration is valid.
    pub config_lifetime: time::Duration,
    pub limits: Limits,
    /// What each authority's node serves around its local API (the portal), by authority.
    pub frontends: std::collections::BTreeMap<String, Frontend>,
    /// How every node calls its case systems back (the default allows no callback).
    pub callbacks: CallbacksConfig,
    /// The agency CA every node trusts for `https://` callbacks and register backends.
    pub agency_trust: Option<AgencyTrust>,
    /// When every node recovers exchanges left in flight, and how long it keeps answers.
    pub recovery: utbyte_node::RecoveryConfig,
    /// How every node delivers messages (retries start at 200 ms here, not 5 s, so tests of
    /// an unreachable recipient run in seconds).
    pub messages: utbyte_node::config::MessagesConfig,
    /// Where every node pushes the notices of its subscriptions (none by default).
    pub subscriptions: utbyte_node::config::SubscriptionsConfig,
    /// How long each node keeps what it holds about people.
    pub retention: utbyte_node::RetentionConfig,
    /// Signs the access tokens and officer assertions every node accepts.
    pub issuer: Arc<LocalIssuer>,
    /// The clients every node's local API admits (see [`crate::access::case_system`]).
    pub clients: Vec<ClientConfig>,
    /// A node's whole `[access]` instead of the plain-HTTP one with `clients`, by authority.
    pub access: std::collections::BTreeMap<String, AccessConfig>,
    /// Per offering, the units whose reviewers decide its reviews (absent: any unit).
    pub review_units: std::collections::HashMap<String, Vec<String>>,
    /// Where every node keeps its exchange state: none, SQLite in its data directory; some, this
    /// PostgreSQL database, each node in schemas prefixed with this prefix and its authority id.
    pub postgres: Option<utbyte_store::Postgres>,
    /// Instances of each node, sharing its addresses, its database and its ledger's keys: more
    /// than one needs `postgres`.
    pub instances: usize,
    /// Endpoints to publish for some authorities instead of their own listener's (a test puts
    /// something on the line between two nodes); empty for most.
    pub endpoints: std::collections::BTreeMap<String, String>,
}

impl Plan {
    /// A plan for `authorities` with what tests and the benchmark mostly want: ports the
    /// system chooses, no catalog, portal or callbacks, configuration refreshed and reviews
    /// polled hourly, a fresh token issuer and the case system as the only client of every
    /// local API. Change any field after.
    pub fn new(
        dir: PathBuf,
        rulebook: Vec<SourceFile>,
        authorities: &[&str],
        population: Population,
    ) -> Result<Self, LoopbackError> {
        Ok(Self {
            dir,
            rulebook,
            catalog: None,
            authorities: authorities.iter().map(|a| (*a).to_owned()).collect(),
            population,
            base_port: 0,
            refresh: Duration::from_secs(3600),
            review_poll: Duration::from_secs(3600),
            config_lifetime: time::Duration::hours(1),
            limits: Limits::default(),
            frontends: Default::default(),
            callbacks: Default::default(),
            agency_trust: None,
            recovery: utbyte_node::RecoveryConfig::default(),
            messages: utbyte_node::config::MessagesConfig {
                retry_first_millis: 200,
                retry_max_seconds: 2,
                ..Default::default()
            },
            subscriptions: Default::default(),
            retention: Default::default(),
            issuer: Arc::new(LocalIssuer::generate()?),
            clients: vec![crate::access::case_system()],
            access: Default::default(),
            review_units: Default::default(),
            postgres: None,
            instances: 1,
            endpoints: Default::default(),
        })
    }
}

/// Why a federation could not start.
#[derive(Debug, thiserror::Error)]
pub enum LoopbackError {
    #[error("the rulebook does not load: {0}")]
    Rulebook(String),
    #[error("authority `{0}` is not in the rulebook")]
    UnknownAuthority(String),
    #[error(transparent)]
    Node(#[from] NodeError),
    #[error("several instances of a node need a PostgreSQL database to share")]
    InstancesWithoutPostgres,
    #[error("creating a node's ledger: {0}")]
    Audit(String),
    #[error(transparent)]
    Pki(#[from] utbyte_pki::PkiError),
    #[error(transparent)]
    Config(#[from] utbyte_federation::ConfigError),
    #[error("the catalog: {0}")]
    Catalog(String),
    #[error("local API access: {0}")]
    Access(String),
    #[error("synthetic registers: {0}")]
    Synthetic(#[from] synthetic::SyntheticError),
    #[error("{what}: {source}")]
    Io {
        what: String,
        source: std::io::Error,
    },
}

fn io(what: impl Into<String>) -> impl FnOnce(std::io::Error) -> LoopbackError {
    let what = what.into();
    move |source| LoopbackError::Io { what, source }
}

/// A running loopback federation.
pub struct LoopbackFederation {
    pub directory_addr: SocketAddr,
    pub nodes: Vec<RunningNode>,
    pub publisher: Arc<Publisher>,
    pub ca: FederationCa,
    pub dir: PathBuf,
    /// The registers, by authority (shared with the nodes); see [`Self::register`].
    registers: Vec<(String, Arc<RegisterStore>)>,
    directory_key: ed25519_dalek::VerifyingKey,
    stop_directory: watch::Sender<bool>,
    directory_task: tokio::task::JoinHandle<()>,
}

impl std::fmt::Debug for LoopbackFederation {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("LoopbackFederation")
            .field("directory_addr", &self.directory_addr)
            .field("nodes", &self.nodes)
            .finish_non_exhaustive()
    }
}

const LOCALHOST: IpAddr = IpAddr::V4(Ipv4Addr::LOCALHOST);

impl LoopbackFederation {
    pub async fn start(plan: Plan) -> Result<Self, LoopbackError> {
        let rulebook = Rulebook::from_sources(&plan.rulebook)
            .map_err(|e| LoopbackError::Rulebook(e.to_string()))?;
        std::fs::create_dir_all(&plan.dir)
            .map_err(io(format!("creating {}", plan.dir.display())))?;
        let pki = plan.dir.join("pki");
        let ca = if pki.join("ca").exists() {
            FederationCa::open(&pki.join("ca"))?
        } else {
            FederationCa::init(
                &pki.join("ca"),
                "utbyte demo federation CA",
                Validity::Days(3650),
            )?
        };
        let directory_credentials = credentials(
            &ca,
            &pki,
            DIRECTORY_AUTHORITY,
            DIRECTORY_ORGNR,
            DIRECTORY_NAME,
        )?;
        let directory_key = signing_key(&plan.dir.join("directory.key"))?;
        let port = |offset: u16| {
            if plan.base_port == 0 {
                0
            } else {
                plan.base_port + offset
            }
        };
        let directory_listener = bind(port(0)).await?;
        let directory_addr = directory_listener
            .local_addr()
            .map_err(io("reading the directory address"))?;

        if plan.instances > 1 && plan.postgres.is_none() {
            return Err(LoopbackError::InstancesWithoutPostgres);
        }
        let shared = plan.instances > 1;
        let mut members = Vec::new();
        let mut prepared = Vec::new();
        let mut registers = Vec::new();
        for (i, authority) in plan.authorities.iter().enumerate() {
            let known = rulebook
                .vocabulary
                .authorities
                .get(authority)
                .ok_or_else(|| LoopbackError::UnknownAuthority(authority.clone()))?;
            let creds = credentials(&ca, &pki, authority, &known.orgnr, &known.name)?;
            let data_dir = plan.dir.join("nodes").join(authority);
            let key = answer_key(&data_dir)?;
            let offset = u16::try_from(i).unwrap_or(0);
            let listeners = Listeners::bind_with(
                SocketAddr::new(LOCALHOST, port(1 + offset)),
                SocketAddr::new(LOCALHOST, port(101 + offset)),
                shared,
            )?;
            let listeners = match plan.frontends.contains_key(authority) {
                true => listeners.with_portal(SocketAddr::new(LOCALHOST, port(201 + offset)))?,
                false => listeners,
            };
            let address =
                |listener: Option<&TcpListener>| -> Result<Option<SocketAddr>, LoopbackError> {
                    listener
                        .map(|l| l.local_addr().map_err(io("reading a node address")))
                        .transpose()
                };
            let federation_addr = listeners
                .federation
                .local_addr()
                .map_err(io("reading a node address"))?;
            let local_addr = address(Some(&listeners.local))?.unwrap_or(federation_addr);
            let portal_addr = address(listeners.portal.as_ref())?;
            members.push(Member {
                authority: authority.clone(),
                name: known.name.clone(),
                orgnr: known.orgnr.clone(),
                endpoint: plan
                    .endpoints
                    .get(authority)
                    .cloned()
                    .unwrap_or_else(|| format!("https://{federation_addr}")),
                certificates: vec![creds.certificate.fingerprint().to_string()],
                answer_key: encode_key(&key.verifying_key()),
                message_keys: vec![utbyte_node::message_key(&data_dir)?.public().encode()],
            });
            let register =
                Arc::new(register(&data_dir, &rulebook, authority, plan.population).await?);
            registers.push((authority.clone(), Arc::clone(&register)));
            if shared {
                // One ledger: its keys made once, and every instance's directory a copy.
                let audit = data_dir.join("audit");
                if !audit.exists() {
                    AuditLog::create(&audit, &format!("{authority}.utbyte.invalid/audit"))
                        .and_then(AuditLog::close)
                        .map_err(|e| LoopbackError::Audit(e.to_string()))?;
                }
            }
            prepared.push((
                authority.clone(),
                data_dir.clone(),
                creds,
                listeners,
                Arc::clone(&register),
            ));
            for instance in 1..plan.instances {
                let copy = plan
                    .dir
                    .join("nodes")
                    .join(format!("{authority}-{instance}"));
                if !copy.exists() {
                    copy_dir(&data_dir, &copy)?;
                }
                let mut listeners = Listeners::bind_with(federation_addr, local_addr, true)?;
                if let Some(portal) = portal_addr {
                    listeners = listeners.with_portal(portal)?;
                }
                let creds = credentials(&ca, &pki, authority, &known.orgnr, &known.name)?;
                prepared.push((
                    authority.clone(),
                    copy,
                    creds,
                    listeners,
                    Arc::clone(&register),
                ));
            }
        }

        let now = OffsetDateTime::now_utc();
        let config = FederationConfig {
            version: 1,
            issued_at: now,
            expires_at: now + plan.config_lifetime,
            members,
            revoked: Vec::new(),
            rulebook: RulebookBundle::new(&rulebook, &plan.rulebook),
        };
        let publisher = Arc::new(Publisher::new(
            directory_key.clone(),
            config,
            plan.config_lifetime,
            now,
        )?);
        let revocations = utbyte_pki::Revocations::new();
        let tls = directory_credentials.server_config(&revocations)?;
        let catalog = match &plan.catalog {
            Some(sources) => Some(Arc::new(catalog_service(&rulebook, sources)?)),
            None => None,
        };
        let app = utbyte_http::with_limits(
            utbyte_directory::server::router(Arc::clone(&publisher), catalog),
            plan.limits,
        );
        let (stop_directory, mut stopped) = watch::channel(false);
        let directory_task = tokio::spawn(async move {
            let shutdown = async move {
                let _ = stopped.changed().await;
            };
            if let Err(err) = utbyte_http::serve_mtls(directory_listener, tls, app, shutdown).await
            {
                tracing::error!(%err, "directory stopped");
            }
        });

        let jwks = plan.dir.join("access").join("jwks.json");
        utbyte_node::create_data_dir(&plan.dir.join("access"))?;
        plan.issuer.write_jwks(&jwks)?;
        let http = utbyte_adapters::AgencyClient::new(None)
            .map_err(|e| LoopbackError::Access(e.to_string()))?;
        let mut nodes = Vec::new();
        for (authority, data_dir, creds, listeners, register) in prepared {
            let local_addr = listeners
                .local
                .local_addr()
                .map_err(io("reading a node address"))?;
            let config = match plan.access.get(&authority) {
                Some(config) => config.clone(),
                None => access_config(jwks.clone(), plan.clients.clone()),
            };
            let access = LocalAccess::from_config(&config, local_addr, http.http())
                .map_err(|e| LoopbackError::Access(e.to_string()))?;
            let mut node_registers = Registers::new();
            for offering in rulebook
                .vocabulary
                .offerings
                .values()
                .filter(|o| o.provider == authority)
            {
                node_registers.insert(
                    offering.id.clone(),
                    Arc::clone(&register) as Arc<dyn Register>,
                );
            }
            let portal = match (plan.frontends.get(&authority), &listeners.portal) {
                (Some(frontend), Some(listener)) => Some(PortalSite::plain(
                    frontend.clone(),
                    listener
                        .local_addr()
                        .map_err(io("reading a portal address"))?,
                )),
                _ => None,
            };
            let setup = NodeSetup {
                data_dir,
                credentials: creds,
                directory_endpoint: format!("https://{directory_addr}"),
                directory_authority: DIRECTORY_AUTHORITY.into(),
                directory_key: directory_key.verifying_key(),
                registers: node_registers,
                refresh: plan.refresh,
                review_poll: plan.review_poll,
                limits: plan.limits,
                peer_timeout: Duration::from_secs(10),
                portal,
                agency_trust: plan.agency_trust.clone(),
                callbacks: plan.callbacks.clone(),
                recovery: plan.recovery,
                messages: plan.messages.clone(),
                subscriptions: plan.subscriptions.clone(),
                retention: plan.retention,
                access,
                review_units: plan.review_units.clone(),
                postgres: plan
                    .postgres
                    .as_ref()
                    .map(|postgres| utbyte_store::Postgres {
                        schema: format!(
                            "{}_{}",
                            postgres.schema,
                            utbyte_node::config::default_schema(&authority)
                        ),
                        ..postgres.clone()
                    }),
                authority,
            };
            nodes.push(start(setup, listeners).await?);
        }
        Ok(Self {
            directory_addr,
            nodes,
            publisher,
            ca,
            dir: plan.dir,
            registers,
            directory_key: directory_key.verifying_key(),
            stop_directory,
            directory_task,
        })
    }

    /// The key nodes verify the federation configuration with.
    pub fn publisher_key(&self) -> ed25519_dalek::VerifyingKey {
        self.directory_key
    }

    /// The node of `authority`.
    pub fn node(&self, authority: &str) -> Option<&RunningNode> {
        self.nodes.iter().find(|n| n.authority == authority)
    }

    /// `authority`'s register, shared with its node.
    pub fn register(&self, authority: &str) -> Option<Arc<RegisterStore>> {
        self.registers
            .iter()
            .find(|(a, _)| a == authority)
            .map(|(_, register)| Arc::clone(register))
    }

    /// Every instance of `authority`'s node.
    pub fn instances<'a>(&'a self, authority: &'a str) -> impl Iterator<Item = &'a RunningNode> {
        self.nodes.iter().filter(move |n| n.authority == authority)
    }

    /// Stops every node, then the directory.
    pub async fn stop(self) {
        for node in self.nodes {
            node.stop().await;
        }
        let _ = self.stop_directory.send(true);
        let _ = self.directory_task.await;
    }
}

/// The IRI base the demo federation's catalog exports use (`.example` is reserved for examples).
pub const CATALOG_BASE: &str = "https://utbyte.example/";

fn catalog_service(
    rulebook: &Rulebook,
    sources: &[SourceFile],
) -> Result<utbyte_directory::catalog_api::CatalogService, LoopbackError> {
    let failed = |e: &dyn std::fmt::Display| LoopbackError::Catalog(e.to_string());
    let data = utbyte_catalog::CatalogData::from_sources(sources).map_err(|e| failed(&e))?;
    let catalog = utbyte_catalog::Catalog::build(rulebook, &data).map_err(|e| failed(&e))?;
    utbyte_directory::catalog_api::CatalogService::new(catalog, CATALOG_BASE)
        .map_err(|e| failed(&e))
}

/// Copies the directory `from` to `to` (created), with each file's permissions, directories
/// 0700: an instance's data directory from the first's.
fn copy_dir(from: &Path, to: &Path) -> Result<(), LoopbackError> {
    use std::os::unix::fs::DirBuilderExt;
    std::fs::DirBuilder::new()
        .mode(0o700)
        .create(to)
        .map_err(io(format!("creating {}", to.display())))?;
    for entry in std::fs::read_dir(from).map_err(io(format!("reading {}", from.display())))? {
        let entry = entry.map_err(io(format!("reading {}", from.display())))?;
        let (source, target) = (entry.path(), to.join(entry.file_name()));
        if entry
            .file_type()
            .map_err(io(format!("reading {}", source.display())))?
            .is_dir()
        {
            copy_dir(&source, &target)?;
        } else {
            std::fs::copy(&source, &target).map_err(io(format!("copying {}", source.display())))?;
        }
    }
    Ok(())
}

async fn bind(port: u16) -> Result<TcpListener, LoopbackError> {
    let addr = SocketAddr::new(LOCALHOST, port);
    TcpListener::bind(addr).await.map_err(io(format!(
        "binding {addr} (is another federation running?)"
    )))
}

/// The credentials of `authority`, issued on first use.
pub fn credentials(
    ca: &FederationCa,
    pki: &Path,
    authority: &str,
    orgnr: &str,
    name: &str,
) -> Result<NodeCredentials, LoopbackError> {
    let dir = pki.join(authority);
    if dir.join(utbyte_pki::NODE_CERT_FILE).exists() {
        return Ok(NodeCredentials::load(&dir)?);
    }
    let request = NodeRequest::new(authority, orgnr, name)?
        .dns_name("localhost")?
        .ip_address(LOCALHOST)
        .validity(Validity::Days(365));
    let creds = ca.issue(&request)?;
    creds.write_to(&dir)?;
    Ok(creds)
}

/// The authority's register, filled with its offerings on first use. The fill is one
/// transaction and a marker file records that it committed, so an interrupted first start is
/// redone rather than mistaken for a full register.
async fn register(
    data_dir: &Path,
    rulebook: &Rulebook,
    authority: &str,
    population: Population,
) -> Result<RegisterStore, LoopbackError> {
    let path = data_dir.join("register.sqlite");
    let filled = data_dir.join("register.filled");
    if filled.exists() {
        return Ok(RegisterStore::open(&path).await.map_err(NodeError::from)?);
    }
    for suffix in ["", "-wal", "-shm"] {
        let _ = std::fs::remove_file(format!("{}{suffix}", path.display()));
    }
    let offerings: Vec<OfferingFields> = rulebook
        .vocabulary
        .offerings
        .values()
        // Notice kinds are sent from case systems, not held in a register.
        .filter(|o| o.provider == authority && !o.notice)
        .map(|o| OfferingFields {
            offering: o.id.clone(),
            fields: o.fields().map(|(_, f)| f.id.clone()).collect(),
        })
        .collect();
    let store = RegisterStore::open(&path).await.map_err(NodeError::from)?;
    synthetic::populate(&store, &offerings, population).await?;
    {
        use std::os::unix::fs::OpenOptionsExt;
        // Like every file in a node's data directory, its owner's alone.
        std::fs::OpenOptions::new()
            .write(true)
            .create(true)
            .truncate(true)
            .mode(0o600)
            .open(&filled)
            .map_err(io(format!("writing {}", filled.display())))?;
    }
    Ok(store)
}

/// Subjects of `offering` in `population` that have a value for `field`, with or without
/// protected identity: where the demo and the tests find someone to ask about.
pub fn subjects_with(
    rulebook: &Rulebook,
    population: Population,
    offering: &str,
    field: &str,
    protected: bool,
) -> Result<Vec<String>, LoopbackError> {
    let Some(known) = rulebook.vocabulary.offerings.get(offering) else {
        return Ok(Vec::new());
    };
    let fields = OfferingFields {
        offering: known.id.clone(),
        fields: vec![field.to_owned()],
    };
    let batch = synthetic::batch(&[fields], population)?;
    // Someone with something to tell: not a missing, zero or false value.
    let holding: std::collections::HashSet<&str> = batch
        .records()
        .iter()
        .filter(|r| {
            !matches!(
                &r.value,
                serde_json::Value::Null | serde_json::Value::Bool(false)
            ) && r.value != 0
        })
        .map(|r| r.subject.as_str())
        .collect();
    Ok(batch
        .subjects()
        .iter()
        .filter(|s| s.protected_identity == protected && holding.contains(s.subject.as_str()))
        .map(|s| s.subject.as_str().to_owned())
        .collect())
}
