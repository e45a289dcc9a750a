//! `utbyte message`: a case system's messages from the command line, through the node's local
//! API — send a notice or a letter, list the inbox or the outbox, fetch one message, accept it.
//! It is a client like any case system: it authenticates with an access token (`--token-file`)
//! and trusts the agency CA it is given for `https://`. Files go up with tus before the letter
//! that carries them, and come down streamed (`message_files`).

use crate::message_files;
use anyhow::Context;
use clap::{Args, Subcommand, ValueEnum};
use serde_json::Value;
use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Duration;
use utbyte_node::{AgencyClient, AgencyTrust};

/// How long one call of the local API may take.
const CALL_TIMEOUT: Duration = Duration::from_secs(60);

#[derive(Debug, Args)]
pub struct Api {
    /// The node's local API, e.g. `https://utbyte.fk.example:7501` (`http://` on loopback).
    #[arg(long)]
    api: String,
    /// A file holding the access token the agency issued to this client.
    #[arg(long, value_name = "FILE")]
    token_file: PathBuf,
    /// The agency CA the local API's certificate is verified against (for `https://`).
    #[arg(long, value_name = "FILE")]
    ca: Option<PathBuf>,
}

#[derive(Debug, Clone, Copy, ValueEnum)]
pub enum Mailbox {
    Inbox,
    Outbox,
}

#[derive(Debug, Subcommand)]
pub enum MessageCommand {
    /// Send the message in a JSON file (as `POST /v1/messages` takes it); prints what the node
    /// made of it: its id, state and, for a notice, each field's outcome.
    Send {
        #[command(flatten)]
        api: Api,
        /// The idempotency key: sending again with the same key is the same message.
        #[arg(long)]
        key: String,
        /// A file to attach (a letter only), uploaded first with a progress bar; repeatable.
        #[arg(long = "attach", value_name = "FILE")]
        attach: Vec<PathBuf>,
        file: PathBuf,
    },
    /// List received or sent messages, newest first, one a line.
    List {
        #[command(flatten)]
        api: Api,
        #[arg(value_enum)]
        mailbox: Mailbox,
        /// Only this unit's messages.
        #[arg(long)]
        unit: Option<String>,
        /// Only messages in this state (`delivered`: received and not taken yet; `pending`,
        /// `failed`, … for the outbox).
        #[arg(long)]
        state: Option<String>,
        #[arg(long, default_value_t = 50)]
        limit: u32,
    },
    /// Print one received message with its content (JSON), or with `--attachment`, save one
    /// of its files (checked against its SHA-256 before it is kept).
    Fetch {
        #[command(flatten)]
        api: Api,
        /// The sending authority.
        #[arg(long)]
        sender: String,
        /// The file to save, from 0, in the order the message lists them.
        #[arg(long, requires = "out")]
        attachment: Option<usize>,
        /// Where to save it.
        #[arg(long, value_name = "FILE")]
        out: Option<PathBuf>,
        id: String,
    },
    /// Take a received message for a unit; the sender gets the signed receipt.
    Accept {
        #[command(flatten)]
        api: Api,
        #[arg(long)]
        sender: String,
        #[arg(long)]
        officer: String,
        #[arg(long)]
        unit: String,
        #[arg(long)]
        role: String,
        id: String,
    },
}

pub fn run(command: MessageCommand) -> anyhow::Result<ExitCode> {
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()?;
    runtime.block_on(async {
        match command {
            MessageCommand::Send {
                api,
                key,
                attach,
                file,
            } => {
                let body =
                    std::fs::read(&file).with_context(|| format!("reading {}", file.display()))?;
                let mut message = serde_json::from_slice::<Value>(&body)
                    .with_context(|| format!("{} is not JSON", file.display()))?;
                if !attach.is_empty() {
                    let (client, token) = connect(&api)?;
                    let local = message_files::Local {
                        client: client.http(),
                        base: api.api.trim_end_matches('/'),
                        token: &token,
                    };
                    let mut ids = Vec::new();
                    for path in &attach {
                        ids.push(Value::String(message_files::upload(&local, path).await?));
                    }
                    match message.get_mut("attachments") {
                        Some(Value::Array(named)) => named.extend(ids),
                        _ => message["attachments"] = Value::Array(ids),
                    }
                }
                let body = serde_json::to_vec(&message)?;
                let sent = call(&api, "POST", "/v1/messages", Some(&key), Some(body)).await?;
                println!("{}", serde_json::to_string_pretty(&sent)?);
            }
            MessageCommand::List {
                api,
                mailbox,
                unit,
                state,
                limit,
            } => {
                let mut path = match mailbox {
                    Mailbox::Inbox => format!("/v1/messages/inbox?limit={limit}"),
                    Mailbox::Outbox => format!("/v1/messages/outbox?limit={limit}"),
                };
                if let Some(unit) = unit {
                    path.push_str(&format!("&unit={}", encode(&unit)));
                }
                if let Some(state) = state {
                    path.push_str(&format!("&state={}", encode(&state)));
                }
                let listed = call(&api, "GET", &path, None, None).await?;
                for message in listed.as_array().into_iter().flatten() {
                    println!("{}", line(message, mailbox));
                }
            }
            MessageCommand::Fetch {
                api,
                sender,
                attachment,
                out,
                id,
            } => {
                let path = format!("/v1/messages/inbox/{}/{}", encode(&sender), encode(&id));
                match (attachment, out) {
                    (Some(n), Some(out)) => {
                        let (client, token) = connect(&api)?;
                        let local = message_files::Local {
                            client: client.http(),
                            base: api.api.trim_end_matches('/'),
                            token: &token,
                        };
                        let path = format!("{path}/attachments/{n}");
                        let bytes = message_files::fetch(&local, &path, &out).await?;
                        println!("{} ({bytes} bytes, SHA-256 checked)", out.display());
                    }
                    _ => {
                        let message = call(&api, "GET", &path, None, None).await?;
                        println!("{}", serde_json::to_string_pretty(&message)?);
                    }
                }
            }
            MessageCommand::Accept {
                api,
                sender,
                officer,
                unit,
                role,
                id,
            } => {
                let path = format!(
                    "/v1/messages/inbox/{}/{}/accept",
                    encode(&sender),
                    encode(&id)
                );
                let body = serde_json::to_vec(
                    &serde_json::json!({"officer": officer, "unit": unit, "role": role}),
                )?;
                let accepted = call(&api, "POST", &path, None, Some(body)).await?;
                println!("{}", serde_json::to_string_pretty(&accepted)?);
            }
        }
        Ok(ExitCode::SUCCESS)
    })
}

/// One message as a line: id, state, the other party, kind, when.
fn line(message: &Value, mailbox: Mailbox) -> String {
    let text = |v: &Value| v.as_str().unwrap_or("-").to_owned();
    let party = |address: &Value| match address["unit"].as_str() {
        Some(unit) => format!("{}/{unit}", text(&address["authority"])),
        None => text(&address["authority"]),
    };
    let kind = match message["kind"]["notice"].as_str() {
        Some(notice) => notice.to_owned(),
        None => "free_text".to_owned(),
    };
    let (party, when) = match mailbox {
        Mailbox::Inbox => (
            format!("from {}", party(&message["from"])),
            &message["received_at"],
        ),
        Mailbox::Outbox => (
            format!("to {}", party(&message["to"])),
            &message["created_at"],
        ),
    };
    format!(
        "{}  {:<9}  {party}  {kind}  {}",
        text(&message["id"]),
        text(&message["state"]),
        text(when)
    )
}

/// A path segment or query value, percent-encoded (the local API's own encoder, applied to a
/// path that is one parameter).
fn encode(text: &str) -> String {
    utbyte_api::paths::with("{v}", text)
}

/// The client for `api` and the access token.
fn connect(api: &Api) -> anyhow::Result<(AgencyClient, String)> {
    let trust = api
        .ca
        .as_deref()
        .map(AgencyTrust::from_pem_file)
        .transpose()?;
    let client = AgencyClient::new(trust.as_ref())?;
    let token = std::fs::read_to_string(&api.token_file)
        .with_context(|| format!("reading {}", api.token_file.display()))?;
    Ok((client, token.trim().to_owned()))
}

/// One call of the local API: the answer's JSON, or an error with the problem's detail.
async fn call(
    api: &Api,
    method: &str,
    path: &str,
    key: Option<&str>,
    body: Option<Vec<u8>>,
) -> anyhow::Result<Value> {
    let (client, token) = connect(api)?;
    let url = format!("{}{path}", api.api.trim_end_matches('/'));
    let mut request = client
        .http()
        .request(method.parse()?, &url)
        .timeout(CALL_TIMEOUT)
        .bearer_auth(&token);
    if let Some(key) = key {
        request = request.header("Idempotency-Key", key);
    }
    if let Some(body) = body {
        request = request
            .header("Content-Type", "application/json")
            .body(body);
    }
    let response = request
        .send()
        .await
        .with_context(|| format!("calling {url}"))?;
    let status = response.status();
    let bytes = response.bytes().await?;
    let answer: Value = serde_json::from_slice(&bytes).unwrap_or(Value::Null);
    if status.is_success() {
        Ok(answer)
    } else {
        anyhow::bail!(
            "{status}: {}",
            answer["detail"]
                .as_str()
                .or(answer["title"].as_str())
                .unwrap_or("no detail")
        )
    }
}
