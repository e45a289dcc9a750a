//! The agency node: what each authority runs.
//!
//! It has up to three listeners. The **federation listener** speaks only mutual TLS, to other
//! members' nodes: they ask it for the offerings this authority publishes ([`provider`]) and
//! about reviews they wait for. The **local listener** speaks TLS (plain HTTP on loopback only
//! for development) to the authority's own systems, each authenticated by a client certificate
//! or an access token ([`access`]): case systems ask other authorities through it
//! ([`consumer`]) and reviewers work the review queue ([`review`]). Both serve their OpenAPI 3.1
//! description at `/openapi.json` and answer every error as RFC 9457 problem+json. The
//! **portal listener** ([`portal_site`]), if configured, serves the portal's pages to officers'
//! browsers on the agency's network; the pages call the local API in-process.
//!
//! In the background the node pulls the federation configuration from the directory, asks
//! providers about requests waiting in review, and calls case systems back ([`callback`]).

// Handlers and their helpers fail with a `Problem` (RFC 9457: type, title, detail, extensions),
// built once per failed request and turned straight into the response; boxing it would only add
// an allocation to every error path.
#![allow(clippy::result_large_err)]

pub mod access;
pub mod api;
pub mod audit_api;
mod bulk;
pub mod callback;
mod callbacks_api;
mod catalog_proxy;
pub mod config;
pub mod consumer;
pub mod exchange;
pub mod health;
mod messages;
mod metrics;
mod observe;
pub mod offerings;
mod paging;
pub mod portal_site;
pub mod problems;
pub mod protocol;
mod provider;
mod reconcile;
mod records;
pub mod recovery;
pub mod retention;
pub mod review;
mod review_batch;
pub mod search;
mod shared_ledger;
mod state;
mod streamed;
pub mod subscriptions;
mod sync;

pub use callback::CallbacksConfig;
/// Paths whose requests stream bodies of any size (tus uploads, on the local API and relayed by
/// the portal): not held to the request time limit.
pub const UNTIMED: &[&str] = &[
    utbyte_api::paths::UPLOADS,
    "/portal/uploads",
    utbyte_api::paths::BULKS,
];
pub use config::NodeConfig;
pub use portal_site::{PortalSettings, PortalSite};
pub use recovery::RecoveryConfig;
pub use retention::RetentionConfig;
pub use state::{NodeState, Registers};
pub use utbyte_adapters::{AgencyClient, AgencyTrust};

use ed25519_dalek::{SigningKey, VerifyingKey};
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;
use tokio::net::TcpListener;
use tokio::sync::watch;
use tokio::task::JoinSet;
use utbyte_audit::AuditLog;
use utbyte_federation::TrustedConfig;
use utbyte_http::{FederationClient, Limits};
use utbyte_pki::{NodeCredentials, Revocations};
use utbyte_store::ExchangeStore;

/// Why a node cannot start.
#[derive(Debug, thiserror::Error)]
pub enum NodeError {
    #[error("{0}")]
    Config(#[from] config::ConfigFileError),
    #[error("node credentials: {0}")]
    Pki(#[from] utbyte_pki::PkiError),
    #[error("audit ledger: {0}")]
    Audit(#[from] utbyte_audit::AuditError),
    #[error("exchange state: {0}")]
    Store(#[from] utbyte_store::StoreError),
    #[error("register adapter: {0}")]
    Adapter(#[from] utbyte_adapters::AdapterError),
    #[error("the certificate names `{certificate}`, but the node is configured as `{configured}`")]
    WrongAuthority {
        certificate: String,
        configured: String,
    },
    #[error("{what}: {source}")]
    Io {
        what: String,
        source: std::io::Error,
    },
    #[error("the directory key is not 32 bytes of base64url naming an Ed25519 public key")]
    DirectoryKey,
    #[error("{0}")]
    Access(#[from] access::GateError),
}

/// What a node serves on its portal listener: given the local API's router (which the pages
/// call in-process), the router of the pages. The portal lives above the node in the
/// dependency order, so the node takes it in this shape.
#[derive(Clone)]
pub struct Frontend(Arc<dyn Fn(axum::Router) -> axum::Router + Send + Sync>);

impl Frontend {
    pub fn new(mount: impl Fn(axum::Router) -> axum::Router + Send + Sync + 'static) -> Self {
        Self(Arc::new(mount))
    }

    fn mount(&self, api: axum::Router) -> axum::Router {
        (self.0)(api)
    }
}

impl std::fmt::Debug for Frontend {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Frontend")
    }
}

/// Everything a node needs to start, already opened.
pub struct NodeSetup {
    pub authority: String,
    /// Ledger (`audit/`), exchange state (`exchange.sqlite`) and answer key (`answer.key`).
    pub data_dir: PathBuf,
    pub credentials: NodeCredentials,
    pub directory_endpoint: String,
    pub directory_authority: String,
    pub directory_key: VerifyingKey,
    pub registers: Registers,
    pub refresh: Duration,
    pub review_poll: Duration,
    pub limits: Limits,
    pub peer_timeout: Duration,
    /// The portal on its own listener; none serves no portal.
    pub portal: Option<PortalSite>,
    /// The agency CA that `https://` register backends and callback targets are verified
    /// against; none: plain `http://` only.
    pub agency_trust: Option<AgencyTrust>,
    /// Where callbacks may go, the signing secret and the retry schedule.
    pub callbacks: CallbacksConfig,
    /// When exchanges left in flight are asked again or given up, and how long answers are
    /// kept for recipients that ask again.
    pub recovery: RecoveryConfig,
    /// How messages are delivered and which this node takes.
    pub messages: config::MessagesConfig,
    /// Where the notices of this node's subscriptions are pushed.
    pub subscriptions: config::SubscriptionsConfig,
    /// How long what the node holds about people is kept.
    pub retention: RetentionConfig,
    /// Who may call the local listener, and whether it speaks TLS.
    pub access: access::LocalAccess,
    /// Per offering, the units whose reviewers decide its reviews (absent: any unit).
    pub review_units: std::collections::HashMap<String, Vec<String>>,
    /// The PostgreSQL database the exchange state is in; none: `exchange.sqlite` in the data
    /// directory.
    pub postgres: Option<utbyte_store::Postgres>,
}

impl NodeSetup {
    /// Opens what a configuration file names.
    pub async fn from_config(config: &NodeConfig) -> Result<Self, NodeError> {
        let credentials = NodeCredentials::load(&config.credentials_dir)?;
        let directory_key = decode_key(&config.directory.key).ok_or(NodeError::DirectoryKey)?;
        let agency_trust = match &config.agency_ca_bundle {
            Some(path) => Some(AgencyTrust::from_pem_file(path)?),
            None => None,
        };
        let client = utbyte_adapters::AgencyClient::new(agency_trust.as_ref())?;
        let mut registers = Registers::new();
        let mut review_units = std::collections::HashMap::new();
        for entry in &config.registers {
            if !entry.reviewers.is_empty() {
                for offering in &entry.offerings {
                    review_units.insert(offering.clone(), entry.reviewers.clone());
                }
            }
            let timeout = Duration::from_millis(entry.timeout_ms);
            let register: Arc<dyn utbyte_store::Register> =
                match (&entry.sqlite, &entry.http, &entry.postgres) {
                    (Some(path), _, _) => Arc::new(utbyte_store::RegisterStore::open(path).await?),
                    (None, Some(url), _) => {
                        let register = utbyte_adapters::HttpRegister::with_client(
                            url,
                            timeout,
                            client.clone(),
                        )?;
                        Arc::new(if entry.change_feed {
                            register.with_change_feed()
                        } else {
                            register
                        })
                    }
                    (None, None, Some(url)) => match &entry.mapping {
                        Some(mapping) => Arc::new(
                            utbyte_adapters::PgTableRegister::connect(
                                url,
                                mapping.clone(),
                                timeout,
                            )
                            .await?,
                        ),
                        None => Arc::new(
                            utbyte_store::PgRegister::connect(&utbyte_store::Postgres::new(
                                url.clone(),
                                config.store.schema(&config.authority),
                            ))
                            .await?,
                        ),
                    },
                    (None, None, None) => continue,
                };
            for offering in &entry.offerings {
                registers.insert(offering.clone(), Arc::clone(&register));
            }
        }
        Ok(Self {
            authority: config.authority.clone(),
            data_dir: config.data_dir.clone(),
            credentials,
            directory_endpoint: config.directory.endpoint.clone(),
            directory_authority: config.directory.authority.clone(),
            directory_key,
            registers,
            refresh: Duration::from_secs(config.refresh_seconds),
            review_poll: Duration::from_secs(config.review_poll_seconds),
            limits: config.http_limits(),
            peer_timeout: config.peer_timeout(),
            portal: None,
            agency_trust,
            callbacks: config.callbacks.clone(),
            recovery: config.recovery,
            messages: config.messages.clone(),
            subscriptions: config.subscriptions.clone(),
            retention: config.retention,
            access: access::LocalAccess::from_config(
                &config.access,
                config.local_listen,
                client.http(),
            )?,
            review_units,
            postgres: config.store.postgres(&config.authority),
        })
    }
}

/// A base64url (unpadded) Ed25519 public key.
pub fn decode_key(text: &str) -> Option<VerifyingKey> {
    utbyte_pki::signing_key::decode_public(text)
}

/// A public key as base64url (unpadded), the form the federation configuration uses.
pub fn encode_key(key: &VerifyingKey) -> String {
    utbyte_pki::signing_key::encode_public(key)
}

/// Creates the node's data directory, and any missing parent, 0700: it holds the exchange
/// state, the ledger, the answer key and, with a portal, password hashes. An existing
/// directory is left as the operator made it.
pub fn create_data_dir(dir: &Path) -> Result<(), NodeError> {
    use std::os::unix::fs::DirBuilderExt;
    std::fs::DirBuilder::new()
        .recursive(true)
        .mode(0o700)
        .create(dir)
        .map_err(|source| NodeError::Io {
            what: format!("creating {}", dir.display()),
            source,
        })
}

/// The key messages to this node are sealed for, derived from the seed in `DIR/message.key`
/// (created on first use); its public half is what the federation configuration lists.
pub fn message_key(data_dir: &Path) -> Result<utbyte_message::MessageKey, NodeError> {
    let seed = utbyte_pki::signing_key::seed_load_or_create(&data_dir.join("message.key"))?;
    Ok(utbyte_message::MessageKey::from_seed(&seed))
}

/// The key this node signs answers with, from `DIR/answer.key`, created on first use.
pub fn answer_key(data_dir: &Path) -> Result<SigningKey, NodeError> {
    signing_key(&data_dir.join("answer.key"))
}

/// An Ed25519 signing key kept as its 32-byte seed in `path` (mode 0600), created on first use
/// (the directory keeps its configuration key the same way: `utbyte_pki::signing_key`).
pub fn signing_key(path: &Path) -> Result<SigningKey, NodeError> {
    Ok(utbyte_pki::signing_key::load_or_create(path)?)
}

/// Writes `bytes` to a new file at `path` that only its owner can read (0600).
pub fn write_private(path: &Path, bytes: &[u8]) -> std::io::Result<()> {
    use std::io::Write;
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create_new(true);
    #[cfg(unix)]
    std::os::unix::fs::OpenOptionsExt::mode(&mut options, 0o600);
    let mut file = options.open(path)?;
    file.write_all(bytes)?;
    file.sync_all()
}

/// The listeners, bound by the caller (so tests and the demo can use port 0).
pub struct Listeners {
    pub federation: TcpListener,
    pub local: TcpListener,
    /// The portal's, if the node serves one.
    pub portal: Option<TcpListener>,
    /// Whether they are shared with other instances of the node (`SO_REUSEPORT`).
    pub shared: bool,
}

impl Listeners {
    pub async fn bind(federation: SocketAddr, local: SocketAddr) -> Result<Self, NodeError> {
        Self::bind_with(federation, local, false)
    }

    /// Binds the listeners, with `shared` so that several instances of the node on one host
    /// listen on the same addresses (`SO_REUSEPORT`): the kernel hands each new connection to
    /// one of them, and to the others once one is gone.
    pub fn bind_with(
        federation: SocketAddr,
        local: SocketAddr,
        shared: bool,
    ) -> Result<Self, NodeError> {
        Ok(Self {
            federation: listen(federation, shared)?,
            local: listen(local, shared)?,
            portal: None,
            shared,
        })
    }

    /// Binds the portal's listener too (shared as the others are).
    pub fn with_portal(mut self, portal: SocketAddr) -> Result<Self, NodeError> {
        self.portal = Some(listen(portal, self.shared)?);
        Ok(self)
    }
}

/// A listening socket on `addr`, shared with other processes of this user if `shared`.
fn listen(addr: SocketAddr, shared: bool) -> Result<TcpListener, NodeError> {
    let failed = |source| NodeError::Io {
        what: format!("binding {addr}"),
        source,
    };
    let socket = match addr {
        SocketAddr::V4(_) => tokio::net::TcpSocket::new_v4(),
        SocketAddr::V6(_) => tokio::net::TcpSocket::new_v6(),
    }
    .map_err(failed)?;
    // As std's and tokio's own `bind` do: a restarted node can bind at once.
    socket.set_reuseaddr(true).map_err(failed)?;
    if shared {
        socket.set_reuseport(true).map_err(failed)?;
    }
    socket.bind(addr).map_err(failed)?;
    socket.listen(1024).map_err(failed)
}

/// A running node.
pub struct RunningNode {
    pub authority: String,
    pub federation_addr: SocketAddr,
    pub local_addr: SocketAddr,
    /// The portal's listener, if the node serves one.
    pub portal_addr: Option<SocketAddr>,
    state: Arc<NodeState>,
    directory: sync::DirectoryLink,
    shutdown: watch::Sender<bool>,
    tasks: JoinSet<()>,
}

impl std::fmt::Debug for RunningNode {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RunningNode")
            .field("authority", &self.authority)
            .field("federation_addr", &self.federation_addr)
            .field("local_addr", &self.local_addr)
            .field("portal_addr", &self.portal_addr)
            .finish_non_exhaustive()
    }
}

impl RunningNode {
    /// Pulls the federation configuration now (the background loop does it periodically).
    pub async fn refresh(&self) -> Result<u64, String> {
        sync::refresh(&self.state, &self.directory).await
    }

    /// Forgets now, as of `now`, what is held past its retention (the leading instance does it
    /// once an hour); returns what was forgotten.
    pub async fn forget_past_retention(
        &self,
        now: time::OffsetDateTime,
    ) -> Result<retention::Forgotten, String> {
        retention::forget(&self.state, now)
            .await
            .map_err(|err| err.to_string())
    }

    /// This node's audit ledger.
    pub fn audit(&self) -> &AuditLog {
        &self.state.audit
    }

    /// This node's audit ledger, shared, for blocking work on it elsewhere.
    pub fn audit_log(&self) -> Arc<AuditLog> {
        Arc::clone(&self.state.audit)
    }

    /// [`Self::stop_within`] the configuration's default deadline.
    pub async fn stop(self) {
        self.stop_within(Duration::from_secs(config::DEFAULT_SHUTDOWN_SECONDS))
            .await;
    }

    /// Stops accepting connections, lets the exchanges in flight finish for at most `deadline`
    /// (each is bounded by the request time limit anyway), then flushes and closes the ledger
    /// and the exchange state. Returns whether everything finished in time.
    pub async fn stop_within(mut self, deadline: Duration) -> bool {
        let _ = self.shutdown.send(true);
        let drained = tokio::time::timeout(deadline, async {
            while self.tasks.join_next().await.is_some() {}
        })
        .await
        .is_ok();
        if !drained {
            tracing::warn!(
                seconds = deadline.as_secs(),
                "exchanges still in flight at the shutdown deadline were cut"
            );
            self.tasks.shutdown().await;
        }
        self.state.exchange.clone().close().await;
        if let Ok(state) = Arc::try_unwrap(self.state) {
            if let Ok(audit) = Arc::try_unwrap(state.audit) {
                let _ = audit.close();
            }
        }
        drained
    }
}

/// Starts a node on `listeners`. The first configuration pull is attempted before returning
/// (a node without one answers every exchange with `federation-config-missing` until it has
/// one).
pub async fn start(setup: NodeSetup, listeners: Listeners) -> Result<RunningNode, NodeError> {
    let identity = setup.credentials.certificate.identity();
    if identity.authority.as_str() != setup.authority {
        return Err(NodeError::WrongAuthority {
            certificate: identity.authority.to_string(),
            configured: setup.authority,
        });
    }
    create_data_dir(&setup.data_dir)?;
    let answer_key = answer_key(&setup.data_dir)?;
    let audit_dir = setup.data_dir.join("audit");
    // Creation is atomic (the ledger is built aside and renamed into place), so the directory
    // existing means a whole ledger is there.
    let audit = if audit_dir.exists() {
        AuditLog::open(&audit_dir)?
    } else {
        AuditLog::create(
            &audit_dir,
            &format!("{}.utbyte.invalid/audit", setup.authority),
        )?
    };
    let exchange = match &setup.postgres {
        Some(postgres) => ExchangeStore::connect(postgres).await?,
        None => ExchangeStore::open(setup.data_dir.join("exchange.sqlite")).await?,
    };
    let (shutdown, watcher) = watch::channel(false);
    let mut tasks = JoinSet::new();
    // Alone, this instance runs the once-per-node rounds; with others, while it sequences.
    let leading = Arc::new(std::sync::atomic::AtomicBool::new(setup.postgres.is_none()));
    // On PostgreSQL the ledger's log is shared by every instance; this directory replicates it.
    // Its sequencer runs from here on: the first configuration pull below records already.
    let (audit, shared_ledger) = match &setup.postgres {
        Some(postgres) => {
            let log = utbyte_store::PgLedgerLog::connect(postgres).await?;
            let (shared, wakers, notifications) = shared_ledger::connect(log.clone()).await?;
            let wakers = Arc::new(wakers);
            tasks.spawn(shared_ledger::listen(
                notifications,
                Arc::clone(&wakers),
                watcher.clone(),
            ));
            tasks.spawn(shared_ledger::sequence(
                log,
                Arc::clone(&wakers),
                Arc::clone(&leading),
                watcher.clone(),
            ));
            let audit = tokio::task::spawn_blocking(move || audit.sharing(shared))
                .await
                .map_err(|e| NodeError::Io {
                    what: "replicating the shared audit ledger".into(),
                    source: std::io::Error::other(e.to_string()),
                })??;
            (audit, Some(wakers))
        }
        None => (audit, None),
    };
    let callbacks = callback::Callbacks::new(
        &setup.callbacks,
        setup.agency_trust.as_ref(),
        &setup.data_dir,
        &setup.authority,
    )?;
    for (what, url) in [
        ("[messages] callback", &setup.messages.callback),
        ("[subscriptions] webhook", &setup.subscriptions.webhook),
    ] {
        if let Some(url) = url {
            callbacks.check_target(url).map_err(|refused| {
                NodeError::Config(config::ConfigFileError::Invalid(format!(
                    "{what}: {refused}"
                )))
            })?;
        }
    }
    let callback_targets = setup
        .callbacks
        .targets()
        .map_err(|error| NodeError::Config(config::ConfigFileError::Invalid(error)))?;
    let revocations = Revocations::new();
    let server_tls = setup.credentials.server_config(&revocations)?;
    let client_tls = setup.credentials.client_config(&revocations)?;
    let client = FederationClient::new(
        client_tls,
        setup.peer_timeout,
        setup.limits.body_bytes.max(4 << 20),
    );
    let directory = sync::DirectoryLink {
        endpoint: setup.directory_endpoint,
        authority: setup.directory_authority,
    };
    let mut state = NodeState::new(
        setup.authority.clone(),
        TrustedConfig::new(setup.directory_key),
        revocations,
        Arc::new(audit),
        exchange,
        setup.registers,
        answer_key,
        client,
        directory.clone(),
        callback_targets,
        setup.recovery,
        setup.access.gate,
        setup.review_units,
    );
    state.leading = leading;
    state.messages = messages::Messages::new(vec![message_key(&setup.data_dir)?], &setup.messages);
    state.attachments = messages::attachments::Attachments::new(&setup.data_dir, &setup.messages);
    state.notices.webhook = setup.subscriptions.webhook.clone();
    state.retention = setup.retention;
    state
        .attachments
        .create_dirs()
        .map_err(|source| NodeError::Io {
            what: "creating the attachments directory".into(),
            source,
        })?;
    if setup.postgres.is_some() {
        // Other instances share the exchange state: a request begun before this one started
        // may be theirs, in flight.
        state.started_at = None;
    }
    let state = Arc::new(state);
    state.gate.load_keys().await?;
    if let Err(err) = sync::refresh(&state, &directory).await {
        tracing::warn!(%err, "no federation configuration yet");
    }
    let io_addr = |l: &TcpListener| {
        l.local_addr().map_err(|source| NodeError::Io {
            what: "reading a listener's address".into(),
            source,
        })
    };
    let federation_addr = io_addr(&listeners.federation)?;
    let local_addr = io_addr(&listeners.local)?;
    let stopped = |mut w: watch::Receiver<bool>| async move {
        let _ = w.wait_for(|stop| *stop).await;
    };
    let federation_app = api::never_cached(utbyte_http::with_limits(
        api::federation_router(Arc::clone(&state)),
        setup.limits,
    ));
    let federation_app = metrics::observed(federation_app, &state, "federation");
    let local_api = api::local_router(Arc::clone(&state)).layer(
        axum::middleware::from_fn_with_state(Arc::clone(&state), access::gate),
    );
    let portal_app = setup.portal.as_ref().map(|site| {
        let pages =
            site.frontend
                .mount(local_api.clone())
                .layer(axum::middleware::from_fn_with_state(
                    Arc::new(site.hosts.clone()),
                    portal_site::check_host,
                ));
        metrics::observed(
            api::never_cached(utbyte_http::with_limits(pages, setup.limits)),
            &state,
            "portal",
        )
    });
    let local_app = api::never_cached(utbyte_http::with_limits(local_api, setup.limits));
    let local_app = metrics::observed(local_app, &state, "local");
    tasks.spawn(report(
        "federation listener",
        utbyte_http::serve_mtls_observed(
            listeners.federation,
            server_tls,
            federation_app,
            stopped(watcher.clone()),
            state.metrics.handshake_observer("server"),
        ),
    ));
    match setup.access.tls {
        Some(tls) => tasks.spawn(report(
            "local listener",
            utbyte_http::serve_tls(
                listeners.local,
                tls,
                local_app,
                stopped(watcher.clone()),
                state.metrics.handshake_observer("local"),
            ),
        )),
        None => tasks.spawn(report(
            "local listener",
            utbyte_http::serve_plain(listeners.local, local_app, stopped(watcher.clone())),
        )),
    };
    let portal_addr = match (setup.portal, listeners.portal, portal_app) {
        (Some(site), Some(listener), Some(app)) => {
            let addr = io_addr(&listener)?;
            match site.tls {
                Some(tls) => tasks.spawn(report(
                    "portal listener",
                    utbyte_http::serve_tls(
                        listener,
                        tls,
                        app,
                        stopped(watcher.clone()),
                        state.metrics.handshake_observer("portal"),
                    ),
                )),
                None => tasks.spawn(report(
                    "portal listener",
                    utbyte_http::serve_plain(listener, app, stopped(watcher.clone())),
                )),
            };
            Some(addr)
        }
        (None, _, _) => None,
        _ => {
            return Err(NodeError::Io {
                what: "starting the portal".into(),
                source: std::io::Error::other("the portal has no listener bound"),
            })
        }
    };
    if let Some(wakers) = shared_ledger {
        tasks.spawn(shared_ledger::follow(
            Arc::clone(&state.audit),
            wakers,
            watcher.clone(),
        ));
    }
    tasks.spawn(messages::run(Arc::clone(&state), watcher.clone()));
    tasks.spawn(subscriptions::run(Arc::clone(&state), watcher.clone()));
    tasks.spawn(retention::run(Arc::clone(&state), watcher.clone()));
    tasks.spawn(background(
        Arc::clone(&state),
        callbacks,
        directory.clone(),
        setup.refresh,
        setup.review_poll,
        watcher,
    ));
    Ok(RunningNode {
        authority: setup.authority,
        federation_addr,
        local_addr,
        portal_addr,
        state,
        directory,
        shutdown,
        tasks,
    })
}

async fn report(
    what: &'static str,
    serving: impl std::future::Future<Output = std::io::Result<()>>,
) {
    if let Err(err) = serving.await {
        tracing::error!(%err, "{what} stopped");
    }
}

async fn background(
    state: Arc<NodeState>,
    callbacks: callback::Callbacks,
    directory: sync::DirectoryLink,
    refresh: Duration,
    review_poll: Duration,
    mut stop: watch::Receiver<bool>,
) {
    let mut refresh_tick = tokio::time::interval(refresh);
    let mut poll_tick = tokio::time::interval(review_poll);
    let mut reconcile_tick = tokio::time::interval(state.recovery.reconcile_every());
    refresh_tick.tick().await;
    poll_tick.tick().await;
    reconcile_tick.tick().await;
    // At once, not a poll interval later: exchanges an earlier run left in flight are driven to
    // an end as soon as the node is up.
    consumer::background_round(&state, &callbacks).await;
    // Batch decisions an earlier run did not finish applying, beside the rounds.
    tokio::spawn(review_batch::resume(Arc::clone(&state)));
    loop {
        tokio::select! {
            _ = stop.changed() => return,
            _ = refresh_tick.tick() => {
                if let Err(err) = sync::refresh(&state, &directory).await {
                    tracing::warn!(%err, "federation configuration not refreshed; keeping the last good copy");
                }
            }
            _ = poll_tick.tick() => consumer::background_round(&state, &callbacks).await,
            _ = reconcile_tick.tick() => {
                if state.leading.load(std::sync::atomic::Ordering::Relaxed) {
                    reconcile::round(&state, time::OffsetDateTime::now_utc()).await;
                }
            }
        }
    }
}
