//! The portal: the web pages each node serves for the people of its authority — case
//! officers who ask other authorities without a case system of their own, reviewers
//! (jurists) who decide requests routed to review, auditors who verify the ledger and follow
//! up, and administrators who keep the accounts.
//!
//! Server-rendered HTML (askama templates under `templates/`), Swedish first with English
//! beside, every core flow usable without JavaScript; the one script checks an identifier as
//! it is typed and uploads a letter's files with tus, with progress, before the letter is sent
//! (without it, a letter goes without files). The portal owns sign-in ([`identity`], `session`, and
//! [`throttle`], which keeps sign-in from being turned against the node) and presentation;
//! everything about exchanges goes through the node's own local API ([`api::NodeApi`]), so the
//! rules and the audit trail apply exactly as for case systems.
//!
//! Served by the node on the portal's own listener (the node's `portal_site`), under
//! `/portal/`; sign-in by local accounts or through the agency's identity provider ([`oidc`]).

// Handlers fail with a `PageError`, rendered as a page at once; boxing it would only add an
// allocation to every error path.
#![allow(clippy::result_large_err)]

pub mod api;
mod charts;
pub mod identity;
pub mod oidc;
mod pages;
pub(crate) mod session;
pub mod text;
pub mod throttle;

use api::NodeApi;
use axum::response::Redirect;
use axum::routing::get;
use axum::Router;
use identity::{IdentityProvider, LocalAccounts, SignInError};
use std::path::Path;
use std::sync::Arc;
use throttle::hashing::{HashingGate, HashingLimits};
use throttle::SignInThrottle;
use utbyte_store::{AccountStore, StoreError};

/// How one node's portal is set up.
#[derive(Debug, Clone)]
pub struct PortalConfig {
    /// The node's authority (rulebook id).
    pub authority: String,
    /// Its name as people read it.
    pub authority_name: String,
    /// Mark cookies `Secure`. Browsers treat `http://127.0.0.1` and `http://localhost` as
    /// secure contexts and keep such cookies; turn this off only behind a proxy that
    /// terminates TLS and speaks plain HTTP to a non-loopback address.
    pub secure_cookies: bool,
    /// How long a session lasts after sign-in.
    pub session_lifetime: time::Duration,
    /// How long a session lasts unused.
    pub idle_timeout: time::Duration,
    /// Sign-in through the agency's identity provider, beside the local accounts.
    pub oidc: Option<oidc::OidcSignIn>,
}

/// Why the portal cannot start.
#[derive(Debug, thiserror::Error)]
pub enum PortalError {
    #[error("the portal's account store: {0}")]
    Store(#[from] StoreError),
    #[error("{0}")]
    Identity(#[from] SignInError),
    #[error("no randomness for the sign-in throttle's key: {0}")]
    Random(String),
    #[error("cannot create the data directory {}: {source}", path.display())]
    DataDir {
        path: std::path::PathBuf,
        source: std::io::Error,
    },
}

/// One node's portal. Cheap to clone.
#[derive(Clone)]
pub struct Portal {
    inner: Arc<Inner>,
}

struct Inner {
    config: PortalConfig,
    cookie_name: String,
    accounts: LocalAccounts,
    identity: Arc<dyn IdentityProvider>,
    throttle: SignInThrottle,
}

/// What every page handler gets.
#[derive(Clone)]
pub(crate) struct AppState {
    pub portal: Portal,
    pub api: NodeApi,
}

impl Portal {
    /// Opens the portal's accounts in `DIR/portal.sqlite` (the file 0600, `DIR` created 0700
    /// when missing: it holds password hashes).
    pub async fn open(data_dir: &Path, config: PortalConfig) -> Result<Self, PortalError> {
        use std::os::unix::fs::DirBuilderExt;
        std::fs::DirBuilder::new()
            .recursive(true)
            .mode(0o700)
            .create(data_dir)
            .map_err(|source| PortalError::DataDir {
                path: data_dir.to_owned(),
                source,
            })?;
        let store = AccountStore::open(data_dir.join("portal.sqlite")).await?;
        Self::with_store(store, config)
    }

    /// A portal over an already opened account store.
    pub fn with_store(store: AccountStore, config: PortalConfig) -> Result<Self, PortalError> {
        Self::with_limits(store, config, HashingLimits::default())
    }

    /// A portal whose password hashing runs within `limits` rather than the defaults (for
    /// tests and measurements; a node uses [`Portal::open`]).
    pub fn with_limits(
        store: AccountStore,
        config: PortalConfig,
        limits: HashingLimits,
    ) -> Result<Self, PortalError> {
        let accounts = LocalAccounts::with_limits(store, &config.authority, limits)?;
        let throttle = SignInThrottle::new().map_err(|e| PortalError::Random(e.to_string()))?;
        Ok(Self {
            inner: Arc::new(Inner {
                cookie_name: format!("utbyte-session-{}", config.authority),
                identity: Arc::new(accounts.clone()),
                accounts,
                config,
                throttle,
            }),
        })
    }

    /// The local accounts (to create the first administrator, or demo accounts).
    pub fn accounts(&self) -> &LocalAccounts {
        &self.inner.accounts
    }

    /// The cap on password hashing, with its counts of what ran.
    pub fn hashing(&self) -> &HashingGate {
        self.inner.accounts.gate()
    }

    pub fn authority(&self) -> &str {
        &self.inner.config.authority
    }

    pub(crate) fn config(&self) -> &PortalConfig {
        &self.inner.config
    }

    pub(crate) fn store(&self) -> &AccountStore {
        self.inner.accounts.store()
    }

    pub(crate) fn identity_provider(&self) -> &dyn IdentityProvider {
        self.inner.identity.as_ref()
    }

    pub(crate) fn throttle(&self) -> &SignInThrottle {
        &self.inner.throttle
    }

    pub(crate) fn cookie_name(&self) -> &str {
        &self.inner.cookie_name
    }

    pub(crate) fn oidc(&self) -> Option<&oidc::OidcSignIn> {
        self.inner.config.oidc.as_ref()
    }

    /// The portal's pages, which call the node's local API `api` in-process: `/portal/…`, and
    /// `/` redirecting there.
    pub fn router(&self, api: Router) -> Router {
        let state = AppState {
            portal: self.clone(),
            api: NodeApi::new(api.clone()),
        };
        Router::new()
            // A nested router's `/` answers `/portal` only; the home page is `/portal/`.
            .route("/portal/", get(pages::home))
            .nest("/portal", pages::routes())
            .with_state(state)
            .route("/", get(|| async { Redirect::to("/portal/") }))
    }
}
