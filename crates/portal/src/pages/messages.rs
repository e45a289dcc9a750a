//! The officer's messages: the unit's inbox and outbox, a received message opened, and taking
//! it (the sender gets the signed receipt).

use super::{render, respond, Chrome, FormData, PageError};
use crate::identity::Role;
use crate::session::Signed;
use crate::AppState;
use askama::Template;
use axum::extract::{Path, State};
use axum::response::{IntoResponse, Redirect, Response};
use utbyte_api::messages::{
    AcceptMessage, MessageKind, MessageState, ReceivedMessage, SentMessage,
};
use utbyte_api::paths;

/// How many messages each list shows.
const LISTED: u32 = 50;

/// A message as a row of either list.
struct Row {
    href: String,
    party: String,
    kind: String,
    case_ref: String,
    when: String,
    state: String,
}

#[derive(Template)]
#[template(path = "messages.html")]
struct MessagesPage {
    c: Chrome,
    unit: String,
    inbox: Vec<Row>,
    outbox: Vec<Row>,
}

#[derive(Template)]
#[template(path = "message.html")]
struct MessagePage {
    c: Chrome,
    message: ReceivedMessage,
    kind: String,
    from: String,
    state: String,
    values: Vec<(String, String)>,
    accept_href: String,
    can_accept: bool,
}

impl MessagePage {
    fn received(&self) -> String {
        super::when(self.message.received_at)
    }
}

fn address(authority: &str, unit: Option<&str>) -> String {
    match unit {
        Some(unit) => format!("{authority} / {unit}"),
        None => authority.to_owned(),
    }
}

fn kind(t: crate::text::Text, kind: &MessageKind) -> String {
    match kind {
        MessageKind::Notice { notice } => format!("{} ({notice})", t.get("messages.notice")),
        MessageKind::FreeText => t.get("messages.letter").to_owned(),
    }
}

fn state_key(state: MessageState) -> &'static str {
    match state {
        MessageState::Refused => "messages.state.refused",
        MessageState::Held => "messages.state.held",
        MessageState::Pending => "messages.state.pending",
        MessageState::Delivered => "messages.state.delivered",
        MessageState::Accepted => "messages.state.accepted",
        MessageState::Failed => "messages.state.failed",
    }
}

pub(crate) async fn list(State(state): State<AppState>, signed: Signed) -> Response {
    let c = Chrome::new(&state, &signed, "/portal/messages", "messages.title");
    let result = async {
        signed.require(Role::Officer)?;
        let t = c.t;
        let unit = signed.identity.unit.clone();
        let query = format!("?unit={}&limit={LISTED}", super::encode(&unit));
        let api = signed.api(&state);
        let (received, _) = api
            .get_page::<ReceivedMessage>(&format!("{}{query}", paths::INBOX))
            .await?;
        let (sent, _) = api
            .get_page::<SentMessage>(&format!("{}{query}", paths::OUTBOX))
            .await?;
        let inbox = received
            .into_iter()
            .map(|m| Row {
                href: format!(
                    "/portal/messages/{}/{}",
                    super::encode(&m.from.authority),
                    super::encode(&m.id)
                ),
                party: address(&m.from.authority, m.from.unit.as_deref()),
                kind: kind(t, &m.kind),
                case_ref: m.sender_case_ref,
                when: super::when(m.received_at),
                state: t.get(state_key(m.state)).to_owned(),
            })
            .collect();
        let outbox = sent
            .into_iter()
            .map(|m| Row {
                href: String::new(),
                party: address(&m.to.authority, m.to.unit.as_deref()),
                kind: kind(t, &m.kind),
                case_ref: String::new(),
                when: super::when(m.created_at),
                state: t.get(state_key(m.state)).to_owned(),
            })
            .collect();
        render(MessagesPage {
            c: c.clone(),
            unit,
            inbox,
            outbox,
        })
    }
    .await;
    respond(c, result)
}

async fn load(
    state: &AppState,
    signed: &Signed,
    sender: &str,
    id: &str,
) -> Result<ReceivedMessage, PageError> {
    Ok(signed
        .api(state)
        .get(&format!(
            "/v1/messages/inbox/{}/{}",
            super::encode(sender),
            super::encode(id)
        ))
        .await?)
}

pub(crate) async fn show(
    State(state): State<AppState>,
    signed: Signed,
    Path((sender, id)): Path<(String, String)>,
) -> Response {
    let c = Chrome::new(&state, &signed, "/portal/messages", "messages.one");
    let result = async {
        signed.require(Role::Officer)?;
        let t = c.t;
        let message = load(&state, &signed, &sender, &id).await?;
        let values = message
            .content
            .as_ref()
            .map(|content| {
                content
                    .values
                    .iter()
                    .map(|(field, value)| {
                        let shown = match value {
                            serde_json::Value::String(s) => s.clone(),
                            other => other.to_string(),
                        };
                        (field.clone(), shown)
                    })
                    .collect()
            })
            .unwrap_or_default();
        render(MessagePage {
            c: c.clone(),
            kind: kind(t, &message.kind),
            from: address(&message.from.authority, message.from.unit.as_deref()),
            state: t.get(state_key(message.state)).to_owned(),
            values,
            accept_href: format!(
                "/portal/messages/{}/{}/accept",
                super::encode(&sender),
                super::encode(&id)
            ),
            can_accept: message.state == MessageState::Delivered,
            message,
        })
    }
    .await;
    respond(c, result)
}

pub(crate) async fn accept(
    State(state): State<AppState>,
    signed: Signed,
    Path((sender, id)): Path<(String, String)>,
    form: FormData,
) -> Response {
    let c = Chrome::new(&state, &signed, "/portal/messages", "messages.one");
    let result = async {
        signed.check_csrf(&form.one("csrf"))?;
        signed.require(Role::Officer)?;
        let who = &signed.identity;
        signed
            .api(&state)
            .post::<ReceivedMessage, _>(
                &format!(
                    "/v1/messages/inbox/{}/{}/accept",
                    super::encode(&sender),
                    super::encode(&id)
                ),
                &AcceptMessage {
                    officer: who.username.clone(),
                    unit: who.unit.clone(),
                    role: who.officer_role.clone(),
                },
                &[],
            )
            .await?;
        Ok(Redirect::to(&format!(
            "/portal/messages/{}/{}",
            super::encode(&sender),
            super::encode(&id)
        ))
        .into_response())
    }
    .await;
    respond(c, result)
}
