//! `utbyte directory …`: the directory as a service (`serve`, see `utbyte_directory::config`
//! for every option) and the operator's commands on its state (`utbyte_directory::state`,
//! `utbyte_directory::operator`). Wiring only.

use anyhow::Context as _;
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use time::format_description::well_known::Rfc3339;
use time::OffsetDateTime;
use utbyte_directory::state::DirectorySettings;
use utbyte_directory::{operator, DirectoryConfig, FederationState, Published, StateError};
use utbyte_pki::{Fingerprint, NodeCertificate};

/// Where the federation state is: a state directory, or a directory.toml naming it.
#[derive(Debug, clap::Args)]
pub struct StateArgs {
    /// The directory's state directory (its signing key at DIR/directory.key).
    #[arg(
        long,
        value_name = "DIR",
        required_unless_present = "config",
        conflicts_with = "config"
    )]
    state: Option<PathBuf>,
    /// The directory's configuration (TOML), for its state_dir and signing_key.
    #[arg(long, value_name = "FILE")]
    config: Option<PathBuf>,
}

#[derive(Debug, clap::Subcommand)]
pub enum DirectoryCommand {
    /// Serve the federation configuration (and the catalog) until interrupted.
    Serve {
        /// The directory's configuration (TOML).
        #[arg(long)]
        config: PathBuf,
    },
    /// Create a new federation state: the directory's signing key and version 1 with the
    /// first rulebook and no members.
    Init {
        #[command(flatten)]
        at: StateArgs,
        /// The authority the directory's certificate names (nodes' `[directory] authority`).
        #[arg(long)]
        authority: String,
        /// The first shared rulebook (checked as `utbyte rules check` and `analyze` do).
        #[arg(long, value_name = "DIR")]
        rulebook: PathBuf,
        /// How long each signed version is valid (default: the configuration's lifetime_hours,
        /// else 24).
        #[arg(long)]
        lifetime_hours: Option<u64>,
    },
    /// Admit a member: its authority id (from the rulebook), node endpoint, node certificate
    /// and answer key (`utbyte node answer-key`).
    Admit {
        #[command(flatten)]
        at: StateArgs,
        #[arg(long)]
        authority: String,
        /// The node's federation endpoint, https://host:port.
        #[arg(long)]
        endpoint: String,
        /// The node's certificate (node.crt from `utbyte pki issue`).
        #[arg(long, value_name = "FILE")]
        certificate: PathBuf,
        /// The node's answer key (base64url Ed25519 public key). One in 64 begins with `-`,
        /// which is still the key, not an option.
        #[arg(long, allow_hyphen_values = true)]
        answer_key: String,
    },
    /// Move a member's node to a new endpoint.
    SetEndpoint {
        #[command(flatten)]
        at: StateArgs,
        #[arg(long)]
        authority: String,
        #[arg(long)]
        endpoint: String,
    },
    /// Publish the key messages to a member are sealed for (`utbyte node message-key`).
    SetMessageKey {
        #[command(flatten)]
        at: StateArgs,
        #[arg(long)]
        authority: String,
        /// The node's message key (base64url X25519 public key).
        #[arg(long, allow_hyphen_values = true)]
        key: String,
        /// Keep the previous key listed too, so messages sealed for it still open.
        #[arg(long)]
        keep_old: bool,
    },
    /// Replace a member's certificate(s) with a new certificate's fingerprint.
    Rotate {
        #[command(flatten)]
        at: StateArgs,
        #[arg(long)]
        authority: String,
        #[arg(long, value_name = "FILE")]
        certificate: PathBuf,
        /// Keep the old certificate(s) valid too, while the node switches; rotate again
        /// without this to end the overlap.
        #[arg(long)]
        keep_old: bool,
    },
    /// Revoke a certificate: nodes refuse it from their next pull.
    Revoke {
        #[command(flatten)]
        at: StateArgs,
        /// The certificate's SHA-256 fingerprint (hex).
        #[arg(
            long,
            required_unless_present = "certificate",
            conflicts_with = "certificate"
        )]
        fingerprint: Option<String>,
        /// The certificate file.
        #[arg(long, value_name = "FILE")]
        certificate: Option<PathBuf>,
    },
    /// Publish a rulebook as the federation's shared one; refused, with its problems, when
    /// `utbyte rules check` or `utbyte rules analyze` fails on it.
    PublishRulebook {
        #[command(flatten)]
        at: StateArgs,
        dir: PathBuf,
    },
    /// List every published version: number, issued, expires, rulebook, members, what changed.
    Versions {
        #[command(flatten)]
        at: StateArgs,
        /// Print the list as JSON.
        #[arg(long)]
        json: bool,
    },
    /// Show a published version (default: the current one).
    Show {
        #[command(flatten)]
        at: StateArgs,
        version: Option<u64>,
        /// Print the whole signed payload as JSON.
        #[arg(long)]
        json: bool,
    },
}

/// The state directory, the signing key's file and, with `--config`, the configuration.
fn locate(at: &StateArgs) -> anyhow::Result<(PathBuf, PathBuf, Option<DirectoryConfig>)> {
    match (&at.state, &at.config) {
        (Some(dir), _) => Ok((
            dir.clone(),
            utbyte_directory::config::key_path(dir, None),
            None,
        )),
        (None, Some(file)) => {
            let config = DirectoryConfig::load(file)?;
            Ok((
                config.state_dir.clone(),
                config.signing_key_path(),
                Some(config),
            ))
        }
        (None, None) => anyhow::bail!("give --state DIR or --config directory.toml"),
    }
}

fn open(at: &StateArgs) -> anyhow::Result<FederationState> {
    let (dir, key, _) = locate(at)?;
    Ok(FederationState::open(&dir, &key)?)
}

fn certificate(path: &Path) -> anyhow::Result<NodeCertificate> {
    NodeCertificate::load(path).with_context(|| format!("reading {}", path.display()))
}

/// Publishes one change, printing the new version or why it was refused.
fn publish(
    at: &StateArgs,
    apply: impl FnOnce(&mut utbyte_federation::FederationConfig) -> Result<String, StateError>,
) -> anyhow::Result<ExitCode> {
    let state = open(at)?;
    match state.change(OffsetDateTime::now_utc(), apply) {
        Ok(published) => {
            println!(
                "published version {}: {}",
                published.config.version, published.change
            );
            Ok(ExitCode::SUCCESS)
        }
        Err(err) => refused(err),
    }
}

/// A refused rulebook lists its problems; anything else is an error.
fn refused(err: StateError) -> anyhow::Result<ExitCode> {
    if let StateError::Rulebook { problems } = &err {
        for problem in problems {
            eprintln!("{problem}");
        }
    }
    eprintln!("refused: {err}");
    Ok(ExitCode::FAILURE)
}

pub fn run(cmd: DirectoryCommand) -> anyhow::Result<ExitCode> {
    let now = OffsetDateTime::now_utc;
    match cmd {
        DirectoryCommand::Serve { config } => {
            let config = DirectoryConfig::load(&config)?;
            let runtime = tokio::runtime::Builder::new_multi_thread()
                .enable_all()
                .build()?;
            runtime.block_on(serve(config))
        }
        DirectoryCommand::Init {
            at,
            authority,
            rulebook,
            lifetime_hours,
        } => {
            let (dir, key, config) = locate(&at)?;
            let hours = lifetime_hours
                .or(config.map(|c| c.lifetime_hours))
                .unwrap_or(24);
            let bundle = match operator::checked_rulebook(&rulebook) {
                Ok((_, bundle)) => bundle,
                Err(err) => return refused(err),
            };
            let settings = DirectorySettings {
                authority,
                lifetime_seconds: hours.saturating_mul(3600),
            };
            let (state, first) = FederationState::init(&dir, &key, settings, bundle, now())?;
            println!("published version 1: {}", first.change);
            println!(
                "directory key (nodes' [directory] key): {}",
                utbyte_pki::signing_key::encode_public(&state.directory_key())
            );
            Ok(ExitCode::SUCCESS)
        }
        DirectoryCommand::Admit {
            at,
            authority,
            endpoint,
            certificate: file,
            answer_key,
        } => {
            let cert = certificate(&file)?;
            publish(&at, |c| {
                operator::admit(c, &authority, &endpoint, &cert, &answer_key)
            })
        }
        DirectoryCommand::SetEndpoint {
            at,
            authority,
            endpoint,
        } => publish(&at, |c| operator::set_endpoint(c, &authority, &endpoint)),
        DirectoryCommand::SetMessageKey {
            at,
            authority,
            key,
            keep_old,
        } => publish(&at, |c| {
            operator::set_message_key(c, &authority, &key, keep_old)
        }),
        DirectoryCommand::Rotate {
            at,
            authority,
            certificate: file,
            keep_old,
        } => {
            let cert = certificate(&file)?;
            publish(&at, |c| operator::rotate(c, &authority, &cert, keep_old))
        }
        DirectoryCommand::Revoke {
            at,
            fingerprint,
            certificate: file,
        } => {
            let fingerprint: Fingerprint = match (fingerprint, file) {
                (Some(text), _) => text.parse()?,
                (None, Some(file)) => *certificate(&file)?.fingerprint(),
                (None, None) => anyhow::bail!("give --fingerprint or --certificate"),
            };
            publish(&at, |c| operator::revoke(c, &fingerprint))
        }
        DirectoryCommand::PublishRulebook { at, dir } => {
            let (rulebook, bundle) = match operator::checked_rulebook(&dir) {
                Ok(checked) => checked,
                Err(err) => return refused(err),
            };
            publish(&at, |c| operator::publish_rulebook(c, &rulebook, bundle))
        }
        DirectoryCommand::Versions { at, json } => versions(&open(&at)?, json),
        DirectoryCommand::Show { at, version, json } => {
            let state = open(&at)?;
            let published = match version {
                Some(number) => state.version(number)?,
                None => state.current()?,
            };
            show(&state, &published, json)
        }
    }
}

fn date(at: OffsetDateTime) -> String {
    at.format(&Rfc3339).unwrap_or_else(|_| at.to_string())
}

fn versions(state: &FederationState, json: bool) -> anyhow::Result<ExitCode> {
    let versions = state.versions()?;
    if json {
        println!("{}", serde_json::to_string_pretty(&versions)?);
        return Ok(ExitCode::SUCCESS);
    }
    println!(
        "{:>7}  {:<20}  {:<20}  {:<12}  {:>7}  change",
        "version", "issued", "expires", "rulebook", "members"
    );
    for v in versions {
        println!(
            "{:>7}  {:<20}  {:<20}  {:<12}  {:>7}  {}",
            v.version,
            date(v.issued_at),
            date(v.expires_at),
            v.rulebook_hash.get(..12).unwrap_or(&v.rulebook_hash),
            v.members,
            v.change
        );
    }
    Ok(ExitCode::SUCCESS)
}

fn show(state: &FederationState, published: &Published, json: bool) -> anyhow::Result<ExitCode> {
    let config = &published.config;
    if json {
        println!("{}", serde_json::to_string_pretty(config)?);
        return Ok(ExitCode::SUCCESS);
    }
    println!("version        {}", config.version);
    println!("issued         {}", date(config.issued_at));
    println!("expires        {}", date(config.expires_at));
    println!("change         {}", published.change);
    println!(
        "directory      {} (key {})",
        state.settings().authority,
        utbyte_pki::signing_key::encode_public(&state.directory_key())
    );
    println!(
        "rulebook       {} {} (sha256 {})",
        config.rulebook.name, config.rulebook.version, config.rulebook.hash
    );
    for m in &config.members {
        println!("member         {} ({}, {})", m.authority, m.name, m.orgnr);
        println!("  endpoint     {}", m.endpoint);
        for c in &m.certificates {
            let status = if config.revoked.contains(c) {
                " (revoked)"
            } else {
                ""
            };
            println!("  certificate  {c}{status}");
        }
        println!("  answer key   {}", m.answer_key);
    }
    for r in &config.revoked {
        println!("revoked        {r}");
    }
    Ok(ExitCode::SUCCESS)
}

async fn serve(config: DirectoryConfig) -> anyhow::Result<ExitCode> {
    let directory = utbyte_directory::serve::start(&config)
        .await
        .context("starting the directory")?;
    println!(
        "directory: https://{} (mutual TLS), version {}",
        directory.addr, directory.version
    );
    crate::node_cmd::stop_signal().await?;
    tracing::info!("stopping: no new connections; finishing the requests in flight");
    let drained = directory.stop_within(config.shutdown_deadline()).await;
    tracing::info!(drained, "stopped");
    Ok(ExitCode::SUCCESS)
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use super::*;
    use clap::Parser;

    #[derive(Debug, Parser)]
    struct Directory {
        #[command(subcommand)]
        command: DirectoryCommand,
    }

    #[test]
    fn an_answer_key_that_begins_with_a_dash_is_the_key() {
        // base64url has `-` among its 64 letters, so `utbyte node answer-key` prints such a
        // key now and then, and the deployment guide passes it on as it is.
        let key = "-eXDzZrWuPaX0reGMOfGZID0nVhB9QJGqGlGlbWo5zE";
        let parsed = Directory::try_parse_from([
            "directory",
            "admit",
            "--state",
            "state",
            "--authority",
            "malmo-stad",
            "--endpoint",
            "https://127.0.0.1:7402",
            "--certificate",
            "node.crt",
            "--answer-key",
            key,
        ])
        .unwrap();
        let DirectoryCommand::Admit { answer_key, .. } = parsed.command else {
            panic!("{parsed:?}");
        };
        assert_eq!(answer_key, key);
    }
}
