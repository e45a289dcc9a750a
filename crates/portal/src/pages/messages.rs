//! The officer's messages: the unit's inbox and outbox, a letter written and sent with files
//! (uploaded by the page's script through [`super::uploads`]), a received message opened with
//! its files to fetch, and taking it (the sender gets the signed receipt).

use super::{render, render_status, respond, Chrome, FormData, PageError};
use crate::api::NodeApi;
use crate::identity::Role;
use crate::session::{random_token, Signed};
use crate::AppState;
use askama::Template;
use axum::body::Body;
use axum::extract::{Path, State};
use axum::http::{header, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Redirect, Response};
use utbyte_api::messages::{
    AcceptMessage, AddressBookEntry, MessageAddress, MessageKind, MessageState, ReceivedMessage,
    SendMessage, SentMessage,
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
    /// Each attached file: where to fetch it, its name and its size as people read it.
    files: Vec<(String, String, String)>,
}

impl MessagePage {
    fn received(&self) -> String {
        super::when(self.message.received_at)
    }
}

/// What the officer wrote, kept when the form comes back with what the node said.
#[derive(Default)]
struct Letter {
    to: String,
    case_ref: String,
    title: String,
    text: String,
    /// Uploads already finished, named again when the form is sent again.
    attachments: Vec<String>,
}

#[derive(Template)]
#[template(path = "message_new.html")]
struct ComposePage {
    c: Chrome,
    book: Vec<AddressBookEntry>,
    key: String,
    letter: Letter,
    error: String,
    error_detail: String,
}

impl ComposePage {
    fn chosen(&self, value: &str) -> bool {
        self.letter.to == value
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
            files: message
                .content
                .iter()
                .flat_map(|content| &content.attachments)
                .enumerate()
                .map(|(n, file)| {
                    (
                        format!(
                            "/portal/messages/{}/{}/attachments/{n}",
                            super::encode(&sender),
                            super::encode(&id)
                        ),
                        file.name.clone(),
                        size_text(t, file.size),
                    )
                })
                .collect(),
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

/// A file's size as people read it: bytes, kB, MB or GB, with the language's decimal mark.
fn size_text(t: crate::text::Text, bytes: u64) -> String {
    const UNITS: [(u64, &str); 3] = [(1 << 30, "GB"), (1 << 20, "MB"), (1 << 10, "kB")];
    let Some((scale, unit)) = UNITS.into_iter().find(|(scale, _)| bytes >= *scale) else {
        return format!("{bytes} B");
    };
    // Sizes are shown, not computed with: a float's rounding is fine here.
    #[allow(clippy::cast_precision_loss)]
    let shown = format!("{:.1}", bytes as f64 / scale as f64);
    match t.0 {
        crate::text::Lang::Sv => format!("{} {unit}", shown.replace('.', ",")),
        crate::text::Lang::En => format!("{shown} {unit}"),
    }
}

/// The compose page: a letter to an authority of the address book, or one of its units.
pub(crate) async fn compose(State(state): State<AppState>, signed: Signed) -> Response {
    let c = Chrome::new(&state, &signed, "/portal/messages/new", "compose.title");
    let result = async {
        signed.require(Role::Officer)?;
        let book = signed.api(&state).get(paths::ADDRESSES).await?;
        render(ComposePage {
            c: c.clone(),
            book,
            key: random_token()?,
            letter: Letter::default(),
            error: String::new(),
            error_detail: String::new(),
        })
    }
    .await;
    respond(c, result)
}

/// Sends the letter written on the compose page, naming the files its script uploaded.
pub(crate) async fn send(
    State(state): State<AppState>,
    signed: Signed,
    form: FormData,
) -> Response {
    let c = Chrome::new(&state, &signed, "/portal/messages/new", "compose.title");
    let result = async {
        signed.check_csrf(&form.one("csrf"))?;
        signed.require(Role::Officer)?;
        let key = form.one("key");
        if key.is_empty() || key.len() > 128 {
            return Err(PageError::Csrf);
        }
        let letter = Letter {
            to: form.one("to"),
            case_ref: form.one("case_ref"),
            title: form.one("title"),
            text: form.one("text"),
            attachments: form.all("attachment"),
        };
        let (authority, unit) = match letter.to.split_once('/') {
            Some((authority, unit)) => (authority.to_owned(), Some(unit.to_owned())),
            None => (letter.to.clone(), None),
        };
        let who = &signed.identity;
        let message = SendMessage {
            officer: who.username.clone(),
            unit: who.unit.clone(),
            role: who.officer_role.clone(),
            to: MessageAddress { authority, unit },
            kind: MessageKind::FreeText,
            title: letter.title.clone(),
            subjects: Vec::new(),
            values: Default::default(),
            text: (!letter.text.is_empty()).then(|| letter.text.clone()),
            purpose: None,
            legal_basis: None,
            case_ref: letter.case_ref.clone(),
            recipient_case_ref: None,
            in_reply_to: None,
            attachments: letter.attachments.clone(),
        };
        let api = signed.api(&state);
        match api
            .post::<SentMessage, _>(paths::MESSAGES, &message, &[("Idempotency-Key", &key)])
            .await
        {
            Ok(_) => Ok(Redirect::to("/portal/messages").into_response()),
            Err(problem) if problem.status.is_client_error() => {
                // The officer can correct this: the letter again, with what the node said.
                let page = ComposePage {
                    c: c.clone(),
                    book: api.get(paths::ADDRESSES).await?,
                    key: random_token()?,
                    letter,
                    error: format!("{}: {}", c.t.get("compose.failed"), problem.title),
                    error_detail: problem.detail,
                };
                Ok(render_status(StatusCode::UNPROCESSABLE_ENTITY, page))
            }
            Err(problem) => Err(PageError::Api(problem)),
        }
    }
    .await;
    respond(c, result)
}

/// A received message's file `n`, streamed from the node as it opens it.
pub(crate) async fn attachment(
    State(state): State<AppState>,
    signed: Signed,
    Path((sender, id, n)): Path<(String, String, String)>,
) -> Response {
    let c = Chrome::new(&state, &signed, "/portal/messages", "messages.one");
    let result = async {
        signed.require(Role::Officer)?;
        let n: u32 = n.parse().map_err(|_| PageError::NotFound)?;
        let path = format!(
            "/v1/messages/inbox/{}/{}/attachments/{n}",
            super::encode(&sender),
            super::encode(&id)
        );
        let request = axum::http::Request::get(path)
            .body(Body::empty())
            .map_err(|e| PageError::Internal(e.to_string()))?;
        let mut response = signed.api(&state).forward(request).await;
        if !response.status().is_success() {
            return Err(NodeApi::problem_of(response).await.into());
        }
        let headers = response.headers_mut();
        headers.insert(
            header::X_CONTENT_TYPE_OPTIONS,
            HeaderValue::from_static("nosniff"),
        );
        headers.insert(
            header::CONTENT_SECURITY_POLICY,
            HeaderValue::from_static("default-src 'none'; sandbox"),
        );
        Ok(response)
    }
    .await;
    respond(c, result)
}
