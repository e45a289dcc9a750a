//! `utbyte node …`: one authority's node from a configuration file (see
//! `utbyte_node::config` for every option), and the accounts of its portal.

use anyhow::Context;
use std::io::BufRead;
use std::path::PathBuf;
use std::process::ExitCode;
use utbyte_node::{Listeners, NodeConfig, NodeSetup, PortalSite};
use utbyte_portal::identity::Role;
use utbyte_portal::oidc::{ClaimNames, OidcSettings, OidcSignIn};
use utbyte_portal::{Portal, PortalConfig};
use utbyte_store::{AccountProfile, AccountStore};

#[derive(Debug, clap::Subcommand)]
pub enum NodeCommand {
    /// Run a node until interrupted (with its portal, if the configuration has `[portal]`).
    Serve {
        /// The node's configuration (TOML).
        #[arg(long)]
        config: PathBuf,
    },
    /// Add an account to the node's portal; the password is read from standard input.
    AddAccount {
        /// The node's configuration (TOML); it must have a `[portal]` section.
        #[arg(long)]
        config: PathBuf,
        #[arg(long)]
        username: String,
        /// The person's name as shown.
        #[arg(long)]
        name: String,
        /// A unit of the node's authority (rulebook id).
        #[arg(long)]
        unit: String,
        /// The person's role as the rulebook knows it (`context.role`), e.g. `handlaggare`.
        #[arg(long)]
        officer_role: String,
        /// Portal roles: officer, reviewer, auditor, admin (repeatable).
        #[arg(long = "role", required = true)]
        roles: Vec<String>,
    },
    /// Print the node's answer key (base64url Ed25519 public key) for the directory's
    /// `admit`; the key is created if missing.
    AnswerKey {
        #[arg(long)]
        config: PathBuf,
    },
    /// Print the node's message key (base64url X25519 public key) for the directory's
    /// `set-message-key`; the key is created if missing.
    MessageKey {
        #[arg(long)]
        config: PathBuf,
    },
    /// Load register data for one offering from an NDJSON file into the SQLite register that
    /// serves it (see `node_import` for the format); all of the file or nothing.
    ImportRegister {
        #[arg(long)]
        config: PathBuf,
        #[arg(long)]
        offering: String,
        file: PathBuf,
    },
    /// Ask the node's local listener whether it is alive (`GET /healthz`), exiting 0 on 200 and
    /// 1 otherwise: the container image's health check. Over TLS it trusts exactly the
    /// certificate `[access]` names, so it works whatever CA issued it.
    Health {
        #[arg(long)]
        config: PathBuf,
    },
}

/// The node's portal, its accounts where the configuration keeps them (`[store]`).
async fn open_portal(config: &NodeConfig) -> anyhow::Result<Portal> {
    let settings = portal_config(config)?;
    Ok(match config.store.postgres(&config.authority) {
        Some(postgres) => Portal::with_store(AccountStore::connect(&postgres).await?, settings)?,
        None => Portal::open(&config.data_dir, settings).await?,
    })
}

fn portal_config(config: &NodeConfig) -> anyhow::Result<PortalConfig> {
    let settings = config
        .portal
        .as_ref()
        .context("the configuration has no [portal] section")?;
    let oidc = match &settings.oidc {
        Some(oidc) => Some(oidc_sign_in(config, settings, oidc)?),
        None => None,
    };
    Ok(PortalConfig {
        authority: config.authority.clone(),
        authority_name: settings.name.clone(),
        secure_cookies: settings.secure_cookies,
        session_lifetime: time::Duration::hours(i64::try_from(settings.session_hours)?),
        idle_timeout: time::Duration::minutes(i64::try_from(settings.idle_minutes)?),
        oidc,
    })
}

/// The portal's client of the identity provider `[portal.oidc]` names.
fn oidc_sign_in(
    config: &NodeConfig,
    settings: &utbyte_node::PortalSettings,
    oidc: &utbyte_node::portal_site::OidcConfig,
) -> anyhow::Result<OidcSignIn> {
    let roots = oidc.ca.as_ref().or(config.agency_ca_bundle.as_ref());
    let trust = match roots {
        Some(path) => Some(utbyte_node::AgencyTrust::from_pem_file(path)?),
        None => None,
    };
    let http = utbyte_node::AgencyClient::new(trust.as_ref())?;
    let client_secret = match &oidc.client_secret_file {
        Some(path) => Some(
            std::fs::read_to_string(path)
                .with_context(|| format!("reading the client secret {}", path.display()))?
                .trim()
                .to_owned(),
        ),
        None => None,
    };
    let mut roles = std::collections::BTreeMap::new();
    for (value, role) in &oidc.roles {
        let role = Role::parse(role).with_context(|| format!("`{role}` is not a portal role"))?;
        roles.insert(value.clone(), role);
    }
    let mut scopes = oidc.scopes.clone();
    scopes.retain(|s| s != "openid");
    Ok(OidcSignIn::new(
        OidcSettings {
            issuer: oidc.issuer.clone(),
            client_id: oidc.client_id.clone(),
            client_secret,
            portal_url: settings.public_url(),
            name: oidc.name.clone(),
            scopes,
            claims: ClaimNames {
                unit: oidc.unit_claim.clone(),
                roles: oidc.roles_claim.clone(),
                officer_role: oidc.officer_role_claim.clone(),
                name: oidc.name_claim.clone(),
            },
            roles,
        },
        http.http().clone(),
    )?)
}

pub fn run(cmd: NodeCommand) -> anyhow::Result<ExitCode> {
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()?;
    match cmd {
        NodeCommand::AnswerKey { config } => {
            let config = NodeConfig::load(&config)?;
            let key = utbyte_node::answer_key(&config.data_dir)?;
            println!("{}", utbyte_node::encode_key(&key.verifying_key()));
            Ok(ExitCode::SUCCESS)
        }
        NodeCommand::MessageKey { config } => {
            let config = NodeConfig::load(&config)?;
            let key = utbyte_node::message_key(&config.data_dir)?;
            println!("{}", key.public().encode());
            Ok(ExitCode::SUCCESS)
        }
        NodeCommand::ImportRegister {
            config,
            offering,
            file,
        } => {
            let config = NodeConfig::load(&config)?;
            runtime.block_on(crate::node_import::import(&config, &offering, &file))
        }
        NodeCommand::Health { config } => {
            let config = NodeConfig::load(&config)?;
            runtime.block_on(crate::node_health::alive(&config))
        }
        NodeCommand::Serve { config } => {
            let config = NodeConfig::load(&config)?;
            runtime.block_on(serve(config))
        }
        NodeCommand::AddAccount {
            config,
            username,
            name,
            unit,
            officer_role,
            roles,
        } => {
            let config = NodeConfig::load(&config)?;
            let mut password = String::new();
            std::io::stdin()
                .lock()
                .read_line(&mut password)
                .context("reading the password from standard input")?;
            let password = password.trim_end_matches(['\r', '\n']).to_owned();
            for role in &roles {
                if Role::parse(role).is_none() {
                    anyhow::bail!(
                        "`{role}` is not a portal role (officer, reviewer, auditor, admin)"
                    );
                }
            }
            runtime.block_on(async move {
                let portal = open_portal(&config).await?;
                portal
                    .accounts()
                    .create(
                        &username,
                        &AccountProfile {
                            display_name: name,
                            unit,
                            officer_role,
                            roles,
                            disabled: false,
                        },
                        &password,
                    )
                    .await
                    .with_context(|| format!("adding account `{username}`"))?;
                println!(
                    "added account `{username}` to the portal of {}",
                    config.authority
                );
                Ok(ExitCode::SUCCESS)
            })
        }
    }
}

async fn serve(config: NodeConfig) -> anyhow::Result<ExitCode> {
    let mut setup = NodeSetup::from_config(&config).await?;
    // Instances of one node on one database may share this host's addresses too.
    let mut listeners = Listeners::bind_with(
        config.federation_listen,
        config.local_listen,
        config.store.postgres.is_some(),
    )?;
    if let Some(settings) = &config.portal {
        utbyte_node::create_data_dir(&config.data_dir)?;
        let portal = open_portal(&config).await?;
        let frontend = utbyte_node::Frontend::new(move |api| portal.router(api));
        setup.portal = Some(PortalSite::from_settings(settings, frontend)?);
        listeners = listeners.with_portal(settings.listen)?;
        if settings.plain_http {
            eprintln!(
                "warning: portal.plain_http is on: the portal speaks plain HTTP on {} — for development only",
                settings.listen
            );
        }
    }
    if config.access.plain_http {
        eprintln!(
            "warning: access.plain_http is on: the local API speaks plain HTTP on {} — for development only; give [access] a certificate and key in production",
            config.local_listen
        );
        tracing::warn!("the local API speaks plain HTTP (access.plain_http): development only");
    }
    let scheme = if config.access.plain_http {
        "http"
    } else {
        "https"
    };
    let node = utbyte_node::start(setup, listeners)
        .await
        .context("starting the node")?;
    println!(
        "{}: federation https://{} (mutual TLS), local API {scheme}://{}{}",
        node.authority,
        node.federation_addr,
        node.local_addr,
        match &config.portal {
            Some(settings) => format!(", portal {}/portal/", settings.public_url()),
            None => String::new(),
        }
    );
    stop_signal().await?;
    tracing::info!("stopping: no new connections; finishing the exchanges in flight");
    let drained = node
        .stop_within(std::time::Duration::from_secs(config.shutdown_seconds))
        .await;
    tracing::info!(drained, "stopped");
    Ok(ExitCode::SUCCESS)
}

/// SIGTERM (what a service manager sends) or SIGINT (Ctrl-C), whichever comes first.
pub(crate) async fn stop_signal() -> anyhow::Result<()> {
    #[cfg(unix)]
    {
        let mut term = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate())
            .context("listening for SIGTERM")?;
        tokio::select! {
            _ = term.recv() => Ok(()),
            interrupted = tokio::signal::ctrl_c() => interrupted.context("listening for SIGINT"),
        }
    }
    #[cfg(not(unix))]
    {
        tokio::signal::ctrl_c()
            .await
            .context("listening for Ctrl-C")
    }
}
