//! The directory as a service: the state directory served over mutual TLS, kept up to date
//! while it runs.
//!
//! # Why the server polls its state directory
//!
//! The operator's commands (`utbyte directory admit`, `revoke`, …) are separate processes that
//! write a new version into the state directory under its lock; they work the same whether or
//! not the directory is running. The server looks for a newer version every `reload_millis`
//! (one directory listing; a version is read only when there is a new one) and serves it from
//! then on. That keeps the state directory the single source of truth, needs no second
//! interface (an admin socket or signal) that would have to be secured and could miss a change
//! made while the server was down, and a delay of a second is far below how often nodes pull.
//! The same tick re-issues the configuration at half its lifetime, through the state, so every
//! version ever handed out is kept and listed.
//!
//! The catalog (`catalog_dir`) is built once, at start, against the rulebook then in force; a
//! rulebook published later reaches the catalog when the directory is restarted.

use crate::catalog_api::CatalogService;
use crate::config::DirectoryConfig;
use crate::publisher::Publisher;
use crate::state::{FederationState, Published, StateError};
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;
use time::OffsetDateTime;
use tokio::net::TcpListener;
use tokio::sync::watch;
use tokio::task::JoinHandle;
use utbyte_pki::{Fingerprint, NodeCredentials, Revocations};

/// Why the directory cannot start.
#[derive(Debug, thiserror::Error)]
pub enum ServeError {
    #[error(transparent)]
    State(#[from] StateError),
    #[error("the directory's credentials: {0}")]
    Pki(#[from] utbyte_pki::PkiError),
    #[error("the certificate names `{certificate}`, but the federation state names the directory `{state}`")]
    WrongAuthority { certificate: String, state: String },
    #[error("the catalog: {0}")]
    Catalog(String),
    #[error("binding {addr}: {source}")]
    Bind {
        addr: SocketAddr,
        source: std::io::Error,
    },
}

/// A running directory.
#[derive(Debug)]
pub struct RunningDirectory {
    /// Where it listens.
    pub addr: SocketAddr,
    /// The version served when it started.
    pub version: u64,
    stop: watch::Sender<bool>,
    server: JoinHandle<()>,
    reload: JoinHandle<()>,
}

impl RunningDirectory {
    /// Stops accepting, lets the requests in flight finish for at most `deadline`, and stops
    /// watching the state. Returns whether everything finished in time.
    pub async fn stop_within(self, deadline: Duration) -> bool {
        let _ = self.stop.send(true);
        self.reload.abort();
        let server = self.server;
        tokio::pin!(server);
        match tokio::time::timeout(deadline, &mut server).await {
            Ok(_) => true,
            Err(_) => {
                tracing::warn!(
                    seconds = deadline.as_secs(),
                    "requests still in flight at the shutdown deadline were cut"
                );
                server.abort();
                false
            }
        }
    }
}

fn revoked(published: &Published) -> Vec<Fingerprint> {
    // The configuration was validated before it was signed, so every entry parses.
    published
        .config
        .revoked
        .iter()
        .filter_map(|f| f.parse().ok())
        .collect()
}

/// Opens the state and the credentials `config` names and serves until stopped.
pub async fn start(config: &DirectoryConfig) -> Result<RunningDirectory, ServeError> {
    let state = Arc::new(FederationState::open(
        &config.state_dir,
        &config.signing_key_path(),
    )?);
    let credentials = NodeCredentials::load(&config.credentials_dir)?;
    let named = credentials.certificate.identity().authority.to_string();
    if named != state.settings().authority {
        return Err(ServeError::WrongAuthority {
            certificate: named,
            state: state.settings().authority.clone(),
        });
    }
    state.reissue_if_due(OffsetDateTime::now_utc())?;
    let current = state.current()?;
    let version = current.config.version;
    let revocations = Revocations::from_fingerprints(revoked(&current));
    let tls = credentials.server_config(&revocations)?;
    let catalog = match &config.catalog_dir {
        Some(dir) => Some(Arc::new(catalog(dir, &current, &config.catalog_base)?)),
        None => None,
    };
    let publisher = Arc::new(Publisher::serving(
        current.config,
        current.signed,
        state.settings().lifetime(),
    ));
    let app = utbyte_http::with_limits(
        crate::server::router(Arc::clone(&publisher), catalog),
        utbyte_http::Limits::default(),
    );
    let listener = TcpListener::bind(config.listen)
        .await
        .map_err(|source| ServeError::Bind {
            addr: config.listen,
            source,
        })?;
    let addr = listener.local_addr().map_err(|source| ServeError::Bind {
        addr: config.listen,
        source,
    })?;
    let (stop, mut stopped) = watch::channel(false);
    let server = tokio::spawn(async move {
        let shutdown = async move {
            let _ = stopped.changed().await;
        };
        if let Err(err) = utbyte_http::serve_mtls(listener, tls, app, shutdown).await {
            tracing::error!(%err, "the directory stopped serving");
        }
    });
    let reload = tokio::spawn(watch_state(
        state,
        publisher,
        revocations,
        config.reload_interval(),
    ));
    tracing::info!(%addr, version, "directory serving");
    Ok(RunningDirectory {
        addr,
        version,
        stop,
        server,
        reload,
    })
}

fn catalog(
    dir: &std::path::Path,
    current: &Published,
    base: &str,
) -> Result<CatalogService, ServeError> {
    let failed = |e: &dyn std::fmt::Display| ServeError::Catalog(e.to_string());
    let rulebook = current.config.rulebook.load().map_err(|e| failed(&e))?;
    let data = utbyte_catalog::CatalogData::load_dir(dir).map_err(|e| failed(&e))?;
    let catalog = utbyte_catalog::Catalog::build(&rulebook, &data).map_err(|e| failed(&e))?;
    CatalogService::new(catalog, base).map_err(|e| failed(&e))
}

/// Every `interval`: re-issues the configuration when it is due, and serves any version newer
/// than the one served, with its revocations applied to the TLS listener at once.
async fn watch_state(
    state: Arc<FederationState>,
    publisher: Arc<Publisher>,
    revocations: Revocations,
    interval: Duration,
) {
    let mut served = publisher.config().version;
    let mut ticks = tokio::time::interval(interval);
    ticks.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        ticks.tick().await;
        let state = Arc::clone(&state);
        // File I/O and signing: off the async workers.
        let newer =
            tokio::task::spawn_blocking(move || -> Result<Option<Published>, StateError> {
                state.reissue_if_due(OffsetDateTime::now_utc())?;
                if state.latest_version()? <= served {
                    return Ok(None);
                }
                state.current().map(Some)
            })
            .await;
        match newer {
            Ok(Ok(Some(published))) => {
                let version = published.config.version;
                revocations.replace(revoked(&published));
                if publisher.adopt(published.config, published.signed) {
                    served = version;
                    tracing::info!(version, change = %published.change, "serving a new version");
                }
            }
            Ok(Ok(None)) => {}
            Ok(Err(err)) => tracing::warn!(%err, "reading the federation state"),
            Err(err) => tracing::warn!(%err, "the state reader failed"),
        }
    }
}
