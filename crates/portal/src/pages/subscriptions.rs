//! The officer's subscriptions: what the unit follows at other authorities, with what each
//! provider's rulebook granted, and the notices taken for it — who and what changed, never to
//! what — oldest first, a page at a time.

use super::{render, respond, Chrome};
use crate::identity::Role;
use crate::session::Signed;
use crate::AppState;
use askama::Template;
use axum::extract::{RawQuery, State};
use axum::response::Response;
use utbyte_api::paths;
use utbyte_api::subscriptions::{NoticePage, SubscriptionStatus, SubscriptionView};

/// How many subscriptions and notices the page shows.
const LISTED: u32 = 50;

struct Held {
    id: String,
    provider: String,
    offering: String,
    events: String,
    subjects: u64,
    ends: String,
    status: &'static str,
}

struct Told {
    changed: String,
    provider: String,
    subject: String,
    events: String,
    fields: String,
}

#[derive(Template)]
#[template(path = "subscriptions.html")]
struct SubscriptionsPage {
    c: Chrome,
    unit: String,
    held: Vec<Held>,
    notices: Vec<Told>,
    /// Where the next page of notices starts, when this one was full.
    newer: Option<String>,
}

pub(crate) fn status_key(status: SubscriptionStatus) -> &'static str {
    match status {
        SubscriptionStatus::Active => "subscriptions.status.active",
        SubscriptionStatus::Ended => "subscriptions.status.ended",
        SubscriptionStatus::Cancelled => "subscriptions.status.cancelled",
        SubscriptionStatus::Refused => "subscriptions.status.refused",
    }
}

pub(crate) async fn list(
    State(state): State<AppState>,
    signed: Signed,
    RawQuery(query): RawQuery,
) -> Response {
    let c = Chrome::new(
        &state,
        &signed,
        "/portal/subscriptions",
        "subscriptions.title",
    );
    let result = async {
        signed.require(Role::Officer)?;
        let t = c.t;
        let unit = signed.identity.unit.clone();
        let api = signed.api(&state);
        let subscriptions: Vec<SubscriptionView> = api
            .get(&format!(
                "{}?unit={}&limit={LISTED}",
                paths::SUBSCRIPTIONS,
                super::encode(&unit)
            ))
            .await?;
        // Where the notices shown start: after this one of the feed (`?after=N`); anything
        // else starts from the first.
        let from = query
            .as_deref()
            .and_then(|q| q.strip_prefix("after="))
            .and_then(|n| n.parse::<u64>().ok())
            .unwrap_or(0);
        let page: NoticePage = api
            .get(&format!(
                "{}?unit={}&after={from}&limit={LISTED}",
                paths::NOTICES,
                super::encode(&unit)
            ))
            .await?;
        let newer = (page.notices.len() == LISTED as usize)
            .then(|| format!("/portal/subscriptions?after={}", page.next));
        let held = subscriptions
            .into_iter()
            .map(|s| Held {
                id: s.id,
                provider: s.provider,
                offering: s.offering,
                events: s.granted.join(", "),
                subjects: s.subjects,
                ends: super::when(s.ends),
                status: t.get(status_key(s.status)),
            })
            .collect();
        let notices = page
            .notices
            .into_iter()
            .map(|n| Told {
                changed: super::when(n.changed_at),
                provider: n.provider,
                subject: n.subject,
                events: n.events.join(", "),
                fields: n
                    .fields
                    .iter()
                    .map(|field| match n.values.get(field) {
                        // A value the notice carried is shown beside its field.
                        Some(serde_json::Value::String(text)) => format!("{field}: {text}"),
                        Some(value) => format!("{field}: {value}"),
                        None => field.clone(),
                    })
                    .collect::<Vec<_>>()
                    .join(", "),
            })
            .collect();
        render(SubscriptionsPage {
            c: c.clone(),
            unit,
            held,
            notices,
            newer,
        })
    }
    .await;
    respond(c, result)
}
