//! A node's configuration, read from TOML (`utbyte node serve --config node.toml`).
//!
//! ```toml
//! authority = "forsakringskassan"          # this node's authority id
//! data_dir = "/var/lib/utbyte"             # ledger, exchange state, answer key
//! credentials_dir = "/etc/utbyte/pki"      # ca.crt, node.crt, node.key (utbyte pki issue)
//! federation_listen = "0.0.0.0:7401"       # mutual TLS, other nodes
//! local_listen = "127.0.0.1:7501"          # plain HTTP, loopback only: case systems, reviewers
//! refresh_seconds = 30                     # how often the federation configuration is pulled
//! review_poll_seconds = 5                  # how often tickets in review are asked about
//! shutdown_seconds = 30                    # on SIGTERM/SIGINT: how long in-flight exchanges get
//! agency_ca_bundle = "/etc/utbyte/agency-ca.pem"  # optional: CAs for https:// register
//!                                          # backends and callbacks (no system roots)
//!
//! [directory]
//! endpoint = "https://directory.example:7400"
//! authority = "digg"                       # the authority the directory's certificate names
//! key = "base64url Ed25519 public key"     # signs the federation configuration
//!
//! [[register]]                             # one per backend; offerings not listed are unserved
//! offerings = ["fk-formaner"]
//! sqlite = "/var/lib/utbyte/register.sqlite"
//!
//! [[register]]
//! offerings = ["fk-arenden"]
//! http = "http://127.0.0.1:8080"           # the authority's REST backend (docs/register-backend.md)
//! timeout_ms = 2000
//!
//! [[register]]
//! offerings = ["fk-bostadsbidrag"]
//! postgres = "postgres://utbyte_reader@db.fk.example/formaner"  # the agency's own database
//! [register.mapping.offerings.fk-bostadsbidrag]   # tables or views (docs/register-postgres.md)
//! relation = "formaner.bostadsbidrag_v"
//! subject = "personnummer"
//! fields = { belopp = "belopp_kr", period = "period" }
//!                                          # without `mapping`: the generic register layout,
//!                                          # in the schema `<store schema>_register`
//!
//! [portal]                                 # optional: the portal's own listener, see `portal_site`
//! name = "Försäkringskassan"               # the authority's name as people read it
//! listen = "0.0.0.0:7601"
//! certificate = "/etc/utbyte/portal/server.crt"
//! key = "/etc/utbyte/portal/server.key"
//!
//! [callbacks]                              # see `callback::config`; none allows no callback
//! allow = ["https://case.fk.example/callbacks/"]
//!
//! [subscriptions]                          # optional: push the notices taken to a case system
//! webhook = "https://case.fk.example/callbacks/notices"   # under `[callbacks] allow`
//!
//! [retention]                              # all optional; see `retention`
//! requests_days = 30
//! notices_days = 30
//! messages_days = 30
//! reviews_days = 30
//!
//! [recovery]                               # all optional; see `recovery`
//! grace_seconds = 60
//! give_up_hours = 24
//! answer_retention_hours = 48
//!
//! [store]                                  # optional: none keeps the exchange state and the
//!                                          # portal accounts in SQLite files in data_dir
//! postgres = "postgres://utbyte@db.fk.example:5432/utbyte"  # one database every instance shares
//! schema = "forsakringskassan"             # prefix of the node's schemas (default: authority id)
//! connections = 8                          # per store and instance
//!
//! [limits]                                 # all optional
//! body_bytes = 262144
//! request_timeout_ms = 30000
//! peer_timeout_ms = 10000
//! ```

use crate::portal_site::PortalSettings;
use serde::Deserialize;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::time::Duration;

/// Why a configuration cannot be used.
#[derive(Debug, thiserror::Error)]
pub enum ConfigFileError {
    #[error("cannot read {}: {source}", path.display())]
    Read {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("{}: {source}", path.display())]
    Parse {
        path: PathBuf,
        source: toml::de::Error,
    },
    #[error("{0}")]
    Invalid(String),
}

/// The whole node configuration.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct NodeConfig {
    pub authority: String,
    pub data_dir: PathBuf,
    pub credentials_dir: PathBuf,
    pub federation_listen: SocketAddr,
    pub local_listen: SocketAddr,
    #[serde(default = "default_refresh")]
    pub refresh_seconds: u64,
    #[serde(default = "default_review_poll")]
    pub review_poll_seconds: u64,
    /// On SIGTERM or SIGINT the node stops accepting and gives the exchanges in flight this long
    /// to finish before it exits.
    #[serde(default = "default_shutdown")]
    pub shutdown_seconds: u64,
    /// The agency's own CA certificates (PEM), the only roots `https://` register backends and
    /// callback targets are verified against; none: those speak plain `http://` only.
    #[serde(default)]
    pub agency_ca_bundle: Option<PathBuf>,
    pub directory: DirectoryLink,
    #[serde(default, rename = "register")]
    pub registers: Vec<RegisterConfig>,
    #[serde(default)]
    pub limits: LimitsConfig,
    /// Calling case systems back.
    #[serde(default)]
    pub callbacks: crate::callback::CallbacksConfig,
    /// The portal, if the node serves it: its own listener (`crate::portal_site`).
    #[serde(default)]
    pub portal: Option<PortalSettings>,
    /// Driving exchanges left in flight to an end, and keeping answers for recipients that do.
    #[serde(default)]
    pub recovery: crate::recovery::RecoveryConfig,
    /// How the local listener is reached and who may call it.
    pub access: crate::access::AccessConfig,
    /// Where the exchange state and the portal accounts live.
    #[serde(default)]
    pub store: StoreConfig,
    /// How messages to other authorities are retried, and which kinds this node takes.
    #[serde(default)]
    pub messages: MessagesConfig,
    /// Where the notices of this node's subscriptions are pushed.
    #[serde(default)]
    pub subscriptions: SubscriptionsConfig,
    /// How long what the node holds about people is kept.
    #[serde(default)]
    pub retention: crate::RetentionConfig,
}

/// Where the notices of this node's subscriptions go (`[subscriptions]`).
#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SubscriptionsConfig {
    /// The case system's webhook the notices taken are pushed to, in batches of signed
    /// CloudEvents (as callbacks are sent); must lie under `[callbacks] allow`. None: case
    /// systems read the feed (`GET /v1/notices`).
    #[serde(default)]
    pub webhook: Option<String>,
}

/// How messages are delivered and which this node takes (`[messages]`).
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct MessagesConfig {
    /// How long a message is retried while its recipient is unreachable before it fails
    /// (default 168: a week).
    #[serde(default = "default_give_up_after_hours")]
    pub give_up_after_hours: u32,
    /// The first retry's delay; each further one doubles it (default 5000).
    #[serde(default = "default_retry_first_millis")]
    pub retry_first_millis: u64,
    /// The longest delay between two attempts (default 3600).
    #[serde(default = "default_retry_max_seconds")]
    pub retry_max_seconds: u64,
    /// The kinds of message this node takes: notice kinds and `free_text`; none: every kind.
    #[serde(default)]
    pub accept: Option<Vec<String>>,
    /// Where the case systems are told of each message that arrives (a signed CloudEvent, as
    /// callbacks are sent); must lie under `[callbacks] allow`. None: they list the inbox.
    #[serde(default)]
    pub callback: Option<String>,
    /// Where attached files are kept (default: `attachments` in the data directory). Every
    /// instance of the node must see the same directory.
    #[serde(default)]
    pub attachments_dir: Option<PathBuf>,
    /// The largest file one upload may hold, in MiB (default 51200: 50 GiB).
    #[serde(default = "default_max_attachment_mib")]
    pub max_attachment_mib: u64,
    /// The most one client's unsent uploads may hold together, in MiB (default 102400).
    #[serde(default = "default_quota_mib")]
    pub upload_quota_mib: u64,
    /// The most one sending authority's files not yet whole may hold here, in MiB (default
    /// 102400).
    #[serde(default = "default_quota_mib")]
    pub incoming_quota_mib: u64,
    /// How long an upload not attached to a message is kept, in hours (default 72).
    #[serde(default = "default_upload_expiry_hours")]
    pub upload_expiry_hours: u32,
}

impl Default for MessagesConfig {
    fn default() -> Self {
        Self {
            give_up_after_hours: default_give_up_after_hours(),
            retry_first_millis: default_retry_first_millis(),
            retry_max_seconds: default_retry_max_seconds(),
            accept: None,
            callback: None,
            attachments_dir: None,
            max_attachment_mib: default_max_attachment_mib(),
            upload_quota_mib: default_quota_mib(),
            incoming_quota_mib: default_quota_mib(),
            upload_expiry_hours: default_upload_expiry_hours(),
        }
    }
}

fn default_max_attachment_mib() -> u64 {
    50 * 1024
}

fn default_quota_mib() -> u64 {
    100 * 1024
}

fn default_upload_expiry_hours() -> u32 {
    72
}

fn default_give_up_after_hours() -> u32 {
    168
}

fn default_retry_first_millis() -> u64 {
    5000
}

fn default_retry_max_seconds() -> u64 {
    3600
}

/// Where the exchange state and the portal accounts live: SQLite files in the data directory
/// (the default), or a PostgreSQL database that several instances of the node share.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct StoreConfig {
    /// A PostgreSQL connection URL; none: SQLite.
    #[serde(default)]
    pub postgres: Option<String>,
    /// The prefix of the node's schemas; none: the authority id, `-` written `_`.
    #[serde(default)]
    pub schema: Option<String>,
    /// Connections per store and instance.
    #[serde(default = "default_store_connections")]
    pub connections: u32,
}

impl Default for StoreConfig {
    fn default() -> Self {
        Self {
            postgres: None,
            schema: None,
            connections: default_store_connections(),
        }
    }
}

fn default_store_connections() -> u32 {
    8
}

impl StoreConfig {
    /// The PostgreSQL database of `authority`'s node, if the configuration names one.
    pub fn postgres(&self, authority: &str) -> Option<utbyte_store::Postgres> {
        let url = self.postgres.as_ref()?;
        Some(utbyte_store::Postgres {
            connections: self.connections,
            ..utbyte_store::Postgres::new(url.clone(), self.schema(authority))
        })
    }

    /// The prefix of `authority`'s node's schemas: the configured one, or [`default_schema`].
    pub fn schema(&self, authority: &str) -> String {
        self.schema
            .clone()
            .unwrap_or_else(|| default_schema(authority))
    }
}

/// The prefix of an authority's node's schemas when none is configured: its id, `-` written `_`
/// (a schema prefix takes letters, digits and `_` only).
pub fn default_schema(authority: &str) -> String {
    authority.replace('-', "_")
}

/// Where the federation configuration comes from and who signs it.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DirectoryLink {
    pub endpoint: String,
    pub authority: String,
    pub key: String,
}

/// One register backend and the offerings it serves.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RegisterConfig {
    pub offerings: Vec<String>,
    #[serde(default)]
    pub sqlite: Option<PathBuf>,
    #[serde(default)]
    pub http: Option<String>,
    /// Whether the `http` backend serves the contract's change feed.
    #[serde(default)]
    pub change_feed: bool,
    /// A PostgreSQL database: the agency's own tables through `mapping`, or without one the
    /// generic register layout.
    #[serde(default)]
    pub postgres: Option<String>,
    /// Which tables and columns of `postgres` hold the offerings' fields.
    #[serde(default)]
    pub mapping: Option<utbyte_adapters::PgMapping>,
    #[serde(default = "default_backend_timeout")]
    pub timeout_ms: u64,
    /// The units of this authority whose reviewers decide the reviews of these offerings;
    /// empty: reviewers of any unit.
    #[serde(default)]
    pub reviewers: Vec<String>,
}

/// Size and time limits.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct LimitsConfig {
    /// Largest request body accepted on either listener.
    pub body_bytes: usize,
    /// Longest a request may take on either listener.
    pub request_timeout_ms: u64,
    /// Longest an exchange with another node may take.
    pub peer_timeout_ms: u64,
}

impl Default for LimitsConfig {
    fn default() -> Self {
        Self {
            body_bytes: 256 * 1024,
            request_timeout_ms: 30_000,
            peer_timeout_ms: 10_000,
        }
    }
}

fn default_refresh() -> u64 {
    30
}

/// How long, by default, exchanges in flight get to finish when the node is stopped.
pub const DEFAULT_SHUTDOWN_SECONDS: u64 = 30;

fn default_shutdown() -> u64 {
    DEFAULT_SHUTDOWN_SECONDS
}

fn default_review_poll() -> u64 {
    5
}

fn default_backend_timeout() -> u64 {
    2_000
}

impl NodeConfig {
    /// Reads and checks a configuration file; relative paths in it are taken relative to the
    /// file's directory.
    pub fn load(path: &Path) -> Result<Self, ConfigFileError> {
        let text = std::fs::read_to_string(path).map_err(|source| ConfigFileError::Read {
            path: path.to_owned(),
            source,
        })?;
        let mut config: Self = toml::from_str(&text).map_err(|source| ConfigFileError::Parse {
            path: path.to_owned(),
            source,
        })?;
        let base = path.parent().unwrap_or(Path::new("."));
        config.data_dir = base.join(&config.data_dir);
        config.credentials_dir = base.join(&config.credentials_dir);
        if let Some(bundle) = &config.agency_ca_bundle {
            config.agency_ca_bundle = Some(base.join(bundle));
        }
        if let Some(secret) = &config.callbacks.secret_file {
            config.callbacks.secret_file = Some(base.join(secret));
        }
        for register in &mut config.registers {
            if let Some(file) = &register.sqlite {
                register.sqlite = Some(base.join(file));
            }
        }
        config.access.resolve_paths(base);
        if let Some(portal) = config.portal.as_mut() {
            portal.resolve_paths(base);
        }
        config.validate()?;
        Ok(config)
    }

    /// Checks what TOML types cannot.
    pub fn validate(&self) -> Result<(), ConfigFileError> {
        let invalid = |m: String| Err(ConfigFileError::Invalid(m));
        self.access
            .validate(self.local_listen.ip().is_loopback())
            .map_err(ConfigFileError::Invalid)?;
        if self.refresh_seconds == 0 || self.review_poll_seconds == 0 {
            return invalid("refresh_seconds and review_poll_seconds must be at least 1".into());
        }
        self.retention
            .validate()
            .map_err(ConfigFileError::Invalid)?;
        if !self.directory.endpoint.starts_with("https://") {
            return invalid(format!(
                "directory endpoint `{}` must be https://",
                self.directory.endpoint
            ));
        }
        let limits = self.limits;
        if limits.body_bytes < 1024 || limits.request_timeout_ms == 0 || limits.peer_timeout_ms == 0
        {
            return invalid(
                "limits: body_bytes must be at least 1024 and timeouts positive".into(),
            );
        }
        if let Some(portal) = &self.portal {
            portal.validate().map_err(ConfigFileError::Invalid)?;
        }
        self.callbacks
            .validate()
            .map_err(ConfigFileError::Invalid)?;
        self.recovery
            .validate(limits.request_timeout_ms)
            .map_err(ConfigFileError::Invalid)?;
        if let Some(postgres) = self.store.postgres(&self.authority) {
            postgres
                .check()
                .map_err(|error| ConfigFileError::Invalid(format!("store: {error}")))?;
        } else if self.store.schema.is_some() {
            return invalid("store: `schema` needs `postgres`".into());
        }
        let mut served = std::collections::HashSet::new();
        for (i, register) in self.registers.iter().enumerate() {
            let backends = [
                register.sqlite.is_some(),
                register.http.is_some(),
                register.postgres.is_some(),
            ];
            if backends.into_iter().filter(|given| *given).count() != 1 {
                return invalid(format!(
                    "register {}: give exactly one of `sqlite`, `http` and `postgres`",
                    i + 1
                ));
            }
            if register.offerings.is_empty() {
                return invalid(format!("register {}: lists no offerings", i + 1));
            }
            if register.change_feed && register.http.is_none() {
                return invalid(format!(
                    "register {}: `change_feed` is for an `http` backend (a built-in register always keeps one)",
                    i + 1
                ));
            }
            match (&register.mapping, &register.postgres) {
                (Some(_), None) => {
                    return invalid(format!("register {}: `mapping` needs `postgres`", i + 1))
                }
                (Some(mapping), Some(_)) => {
                    mapping.validate().map_err(|error| {
                        ConfigFileError::Invalid(format!("register {}: {error}", i + 1))
                    })?;
                    let mapped: std::collections::HashSet<&str> = mapping.offerings().collect();
                    if let Some(unmapped) = register
                        .offerings
                        .iter()
                        .find(|offering| !mapped.contains(offering.as_str()))
                    {
                        return invalid(format!(
                            "register {}: offering `{unmapped}` is not in its mapping",
                            i + 1
                        ));
                    }
                }
                _ => {}
            }
            for offering in &register.offerings {
                if !served.insert(offering.as_str()) {
                    return invalid(format!("offering `{offering}` is served by two registers"));
                }
            }
        }
        Ok(())
    }

    pub(crate) fn peer_timeout(&self) -> Duration {
        Duration::from_millis(self.limits.peer_timeout_ms)
    }

    pub(crate) fn http_limits(&self) -> utbyte_http::Limits {
        utbyte_http::Limits {
            body_bytes: self.limits.body_bytes,
            request_timeout: Duration::from_millis(self.limits.request_timeout_ms),
            untimed: crate::UNTIMED,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const MINIMAL: &str = r#"
authority = "forsakringskassan"
data_dir = "data"
credentials_dir = "pki"
federation_listen = "127.0.0.1:7401"
local_listen = "127.0.0.1:7501"
"#;

    const DIRECTORY: &str = r#"
[directory]
endpoint = "https://127.0.0.1:7400"
authority = "digg"
key = "k"

[access]
plain_http = true
"#;

    /// `top` goes among the top-level keys, `tables` after the directory table.
    fn parse_with(top: &str, tables: &str) -> Result<NodeConfig, ConfigFileError> {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("node.toml");
        std::fs::write(&path, format!("{MINIMAL}{top}{DIRECTORY}{tables}")).unwrap();
        NodeConfig::load(&path)
    }

    fn parse(tables: &str) -> Result<NodeConfig, ConfigFileError> {
        parse_with("", tables)
    }

    #[test]
    fn defaults_apply_and_paths_are_relative_to_the_file() {
        let config = parse("").unwrap();
        assert_eq!(config.refresh_seconds, 30);
        assert_eq!(config.review_poll_seconds, 5);
        assert_eq!(config.shutdown_seconds, 30);
        assert_eq!(config.limits, LimitsConfig::default());
        assert!(config.data_dir.ends_with("data") && config.data_dir.is_absolute());
        assert_eq!(config.agency_ca_bundle, None);
        assert_eq!(
            config.callbacks,
            crate::callback::CallbacksConfig::default()
        );
        assert_eq!(config.retention, crate::RetentionConfig::default());
    }

    #[test]
    fn the_agency_ca_bundle_and_the_callback_secret_are_relative_to_the_file() {
        let config = parse_with(
            "agency_ca_bundle = \"agency-ca.pem\"\n",
            "[callbacks]\nallow = [\"https://case.example/cb/\"]\nsecret_file = \"cb.secret\"\nmax_attempts = 3\n",
        )
        .unwrap();
        let bundle = config.agency_ca_bundle.unwrap();
        assert!(bundle.is_absolute() && bundle.ends_with("agency-ca.pem"));
        let secret = config.callbacks.secret_file.unwrap();
        assert!(secret.is_absolute() && secret.ends_with("cb.secret"));
        assert_eq!(config.callbacks.max_attempts, 3);
        let err = parse("[callbacks]\nallow = [\"case.example\"]\n")
            .unwrap_err()
            .to_string();
        assert!(err.contains("callbacks: allow"), "{err}");
    }

    #[test]
    fn every_option_is_read() {
        let config = parse_with(
            "refresh_seconds = 7\nreview_poll_seconds = 3\nshutdown_seconds = 4\n",
            "[limits]\nbody_bytes = 2048\nrequest_timeout_ms = 5\npeer_timeout_ms = 6\n[[register]]\nofferings = [\"a\"]\nhttp = \"http://127.0.0.1:9\"\ntimeout_ms = 9\n[[register]]\nofferings = [\"b\"]\nsqlite = \"r.sqlite\"\n",
        )
        .unwrap();
        assert_eq!((config.refresh_seconds, config.review_poll_seconds), (7, 3));
        assert_eq!(config.shutdown_seconds, 4);
        assert_eq!(
            config.limits,
            LimitsConfig {
                body_bytes: 2048,
                request_timeout_ms: 5,
                peer_timeout_ms: 6
            }
        );
        assert_eq!(config.registers[0].timeout_ms, 9);
        assert!(config.registers[1].sqlite.as_ref().unwrap().is_absolute());
        assert_eq!(config.store.postgres("malmo-stad"), None);
    }

    #[test]
    fn the_store_and_a_register_in_postgres_are_read() {
        let config = parse(
            "[store]
postgres = \"postgres://utbyte@db:5432/u\"
connections = 3
\
             [[register]]
offerings = [\"a\"]
postgres = \"postgres://reader@db/agency\"\n\
             [register.mapping.offerings.a]
relation = \"s.v\"
subject = \"pnr\"\n\
             fields = { namn = \"namn_kol\" }
",
        )
        .unwrap();
        let store = config.store.postgres("malmo-stad").unwrap();
        assert_eq!(
            (store.schema.as_str(), store.connections),
            ("malmo_stad", 3)
        );
        let mapping = config.registers[0].mapping.as_ref().unwrap();
        assert_eq!(mapping.offerings().collect::<Vec<_>>(), ["a"]);
    }

    #[test]
    fn unsafe_or_inconsistent_settings_are_refused() {
        let public = MINIMAL.replace("127.0.0.1:7501", "0.0.0.0:7501");
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("node.toml");
        std::fs::write(&path, format!("{public}{DIRECTORY}")).unwrap();
        assert!(NodeConfig::load(&path)
            .unwrap_err()
            .to_string()
            .contains("loopback"));
        let err = parse_with("refresh_seconds = 0\n", "")
            .unwrap_err()
            .to_string();
        assert!(err.contains("at least 1"), "{err}");
        let err = parse_with("colour = \"blue\"\n", "")
            .unwrap_err()
            .to_string();
        assert!(err.contains("unknown field"), "{err}");
        for (extra, says) in [
            ("[[register]]\nofferings = [\"a\"]\n", "exactly one"),
            ("[[register]]\nofferings = []\nhttp = \"http://x:1\"\n", "no offerings"),
            (
                "[[register]]\nofferings = [\"a\"]\nhttp = \"http://x:1\"\n[[register]]\nofferings = [\"a\"]\nsqlite = \"r\"\n",
                "two registers",
            ),
            ("[limits]\nbody_bytes = 10\n", "body_bytes"),
            (
                "[[register]]\nofferings = [\"a\"]\nhttp = \"http://x:1\"\npostgres = \"postgres://db/x\"\n",
                "exactly one",
            ),
            (
                "[[register]]\nofferings = [\"a\"]\nhttp = \"http://x:1\"\n[register.mapping.offerings.a]\nrelation = \"v\"\nsubject = \"s\"\nfields = { f = \"c\" }\n",
                "`mapping` needs `postgres`",
            ),
            (
                "[[register]]\nofferings = [\"a\", \"b\"]\npostgres = \"postgres://db/x\"\n[register.mapping.offerings.a]\nrelation = \"v\"\nsubject = \"s\"\nfields = { f = \"c\" }\n",
                "offering `b` is not in its mapping",
            ),
            (
                "[[register]]\nofferings = [\"a\"]\nsqlite = \"r\"\nchange_feed = true\n",
                "`change_feed` is for an `http` backend",
            ),
            ("[store]\nschema = \"x\"\n", "`schema` needs `postgres`"),
            (
                "[store]\npostgres = \"postgres://db/x\"\nschema = \"Bad-Name\"\n",
                "schema prefix",
            ),
            ("[access.tokens]\nissuer = \"i\"\naudience = \"a\"\njwks = \"\"\n", "jwks is empty"),
            (
                "[access.tokens]\nissuer = \"i\"\naudience = \"a\"\njwks = \"http://idp.example/jwks\"\n",
                "must be https://",
            ),
            (
                "[[access.client]]\nid = \"arende\"\nduties = [\"request\"]\nofficers = \"trusted\"\n",
                "neither client_ca nor",
            ),
            (
                "[retention]\nnotices_days = 0\n",
                "retention: each period (`…_days`) must be at least 1",
            ),
        ] {
            let err = parse(extra).unwrap_err().to_string();
            assert!(err.contains(says), "{extra}: {err}");
        }
    }
}
