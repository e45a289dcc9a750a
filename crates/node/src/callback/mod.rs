//! Calling case systems back when a request they asked about is decided.
//!
//! When a request with a callback URL is answered, the exchange store schedules a notice in the
//! same write. Each background round, [`Callbacks::deliver_due`] sends every notice that is due,
//! [`AT_ONCE`] at a time:
//! a thin CloudEvent ([`notice`]) signed per Standard Webhooks ([`signing`]), POSTed through the
//! node's agency client (`https://` verified against the agency CA only, no proxy, no
//! redirects) whose resolver refuses link-local and metadata addresses ([`target`]). A 2xx
//! delivers it; anything else is retried with exponential backoff ([`schedule`]) until the
//! configured attempts or age are spent, when it becomes a dead letter an administrator can
//! list and replay (`callbacks_api`).
//!
//! At least once: a case system keys on `webhook-id` (the same on every attempt) to ignore a
//! repeat. Log lines and stored errors name the notice's id and the failure, never the URL
//! (it is the case system's) or anything about the subject.

pub mod config;
pub mod notice;
pub mod schedule;
pub mod signing;
pub mod target;

use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use futures_util::stream::{self, StreamExt as _};
use time::OffsetDateTime;
use utbyte_adapters::{describe, AgencyClient, AgencyTrust};
use utbyte_store::{
    CallbackAttempt, ExchangeStore, PushState, StoredCallback, MAX_CALLBACK_ERROR_BYTES,
};

use crate::NodeError;
pub use config::CallbacksConfig;
use schedule::{AfterFailure, RetrySchedule};
use signing::WebhookSecret;
use target::{AllowedTargets, GuardedResolver};

/// How long a case system has to accept a notice.
const CALLBACK_TIMEOUT: Duration = Duration::from_secs(5);

/// How many due notices one round sends at most.
const ROUND: u32 = 100;
/// How many of a round's notices are in flight at once: a case system slow to answer holds one
/// place for at most [`CALLBACK_TIMEOUT`], not every other notice of the round behind it.
const AT_ONCE: usize = 16;

/// How many notices one push to the subscriptions' webhook carries, and how many pushes one
/// round makes at most.
const PUSH_BATCH: u32 = 100;
const PUSH_ROUNDS: usize = 20;

/// How long a round's notices are claimed: long enough for every attempt of the round to time
/// out one after another.
const CLAIM: time::Duration =
    time::Duration::seconds(ROUND as i64 * CALLBACK_TIMEOUT.as_secs() as i64 + 60);

/// The node's callback delivery.
pub(crate) struct Callbacks {
    client: AgencyClient,
    secret: WebhookSecret,
    targets: AllowedTargets,
    schedule: RetrySchedule,
    authority: String,
}

impl Callbacks {
    /// Delivery for a node of `authority`; the secret comes from the configured file or
    /// `DIR/callback.secret`, created on first use.
    pub(crate) fn new(
        config: &CallbacksConfig,
        trust: Option<&AgencyTrust>,
        data_dir: &Path,
        authority: &str,
    ) -> Result<Self, NodeError> {
        let targets = config
            .targets()
            .map_err(|error| NodeError::Config(crate::config::ConfigFileError::Invalid(error)))?;
        let secret_file = config
            .secret_file
            .clone()
            .unwrap_or_else(|| data_dir.join("callback.secret"));
        let secret =
            WebhookSecret::load_or_create(&secret_file).map_err(|error| NodeError::Io {
                what: "the callback secret".into(),
                source: std::io::Error::other(error.to_string()),
            })?;
        Ok(Self {
            client: AgencyClient::with_resolver(trust, Arc::new(GuardedResolver))?,
            secret,
            targets,
            schedule: config.schedule(),
            authority: authority.to_owned(),
        })
    }

    /// Sends every notice due now, recording each attempt. The notices are claimed first, so
    /// that another instance of the node sharing the database does not send them too.
    pub(crate) async fn deliver_due(&self, exchange: &ExchangeStore) {
        let now = OffsetDateTime::now_utc();
        let due = match exchange.claim_due_callbacks(now, now + CLAIM, ROUND).await {
            Ok(due) => due,
            Err(error) => {
                tracing::warn!(%error, "due callbacks not read");
                return;
            }
        };
        stream::iter(due)
            .for_each_concurrent(AT_ONCE, |callback| async move {
                let outcome = self.attempt(&callback).await;
                let now = OffsetDateTime::now_utc();
                let attempt = self.settle(
                    &callback.id,
                    outcome,
                    callback.attempts,
                    callback.created_at,
                );
                if let Err(error) = exchange
                    .record_callback_attempt(&callback.id, &attempt, now)
                    .await
                {
                    tracing::warn!(callback = %callback.id, %error, "callback attempt not recorded");
                }
            })
            .await;
    }

    /// Whether `url` may be called back now (the allow-list).
    pub(crate) fn check_target(&self, url: &str) -> Result<(), String> {
        self.targets
            .check(url)
            .map_err(|refused| refused.to_string())
    }

    /// Announces every arrival due now to the messages' callback (`[messages] callback`), as
    /// request notices are delivered: claimed, signed, retried with backoff, a dead letter at
    /// the end.
    pub(crate) async fn announce_arrivals(&self, exchange: &ExchangeStore, url: &str) {
        let now = OffsetDateTime::now_utc();
        let due = match exchange
            .claim_due_announcements(now, now + CLAIM, ROUND)
            .await
        {
            Ok(due) => due,
            Err(error) => {
                tracing::warn!(%error, "due arrival announcements not read");
                return;
            }
        };
        stream::iter(due)
            .for_each_concurrent(AT_ONCE, |entry| async move {
                let id = notice::arrival_id(&entry.message.sender, &entry.message.message_id);
                let outcome = match notice::arrival_body(&entry, &self.authority) {
                    Ok(body) => self.post(url, &id, notice::CONTENT_TYPE, body).await,
                    Err(error) => Err(Failure::fatal(format!(
                        "the announcement cannot be written: {error}"
                    ))),
                };
                let attempt = self.settle(&id, outcome, entry.announce_attempts, entry.received_at);
                if let Err(error) = exchange
                    .announcement_attempted(
                        &entry.message.sender,
                        &entry.message.message_id,
                        &attempt,
                    )
                    .await
                {
                    tracing::warn!(callback = %id, %error, "announcement attempt not recorded");
                }
            })
            .await;
    }

    /// Pushes the notices taken from providers that the case system has not accepted yet to
    /// the subscriptions' webhook (`[subscriptions] webhook`), in order, a batch of CloudEvents
    /// at a time (`application/cloudevents-batch+json`). A failure waits with backoff, as a
    /// callback does; at the end of its attempts or age pushing stops (`dead`) until an
    /// administrator re-enables it, and the notices wait in the feed meanwhile.
    pub(crate) async fn push_notices(&self, exchange: &ExchangeStore, url: &str) {
        use crate::subscriptions::{held, notice as notices};
        let mut push = match exchange.push_state(held::PUSH).await {
            Ok(push) => push,
            Err(error) => {
                tracing::warn!(%error, "where pushing notices stands cannot be read");
                return;
            }
        };
        let now = OffsetDateTime::now_utc();
        if push.dead || push.next_attempt_at.is_some_and(|at| at > now) {
            return;
        }
        for _ in 0..PUSH_ROUNDS {
            let notices = match exchange
                .received_after(None, push.through, PUSH_BATCH)
                .await
            {
                Ok(notices) if !notices.is_empty() => notices,
                Ok(_) => return,
                Err(error) => {
                    tracing::warn!(%error, "notices to push cannot be read");
                    return;
                }
            };
            let (first, last) = (notices[0].seq, notices[notices.len() - 1].seq);
            let oldest = notices[0].received_at;
            let events: Vec<notices::CaseEvent> = notices
                .into_iter()
                .map(|n| notices::CaseEvent::new(held::notice_view(n)))
                .collect();
            let id = format!("notices-{first}-{last}");
            let outcome = match serde_json::to_vec(&events) {
                Ok(body) => self.post(url, &id, notices::BATCH_TYPE, body).await,
                Err(error) => Err(Failure::fatal(format!(
                    "the notices cannot be written: {error}"
                ))),
            };
            push = match self.settle(&id, outcome, push.attempts, oldest) {
                CallbackAttempt::Delivered => PushState {
                    through: last,
                    ..PushState::default()
                },
                CallbackAttempt::Retry {
                    error,
                    next_attempt_at,
                } => PushState {
                    attempts: push.attempts + 1,
                    next_attempt_at: Some(next_attempt_at),
                    error: Some(error),
                    ..push
                },
                CallbackAttempt::GiveUp { error } => PushState {
                    attempts: push.attempts + 1,
                    next_attempt_at: None,
                    error: Some(error),
                    dead: true,
                    ..push
                },
            };
            if let Err(error) = exchange.set_push_state(held::PUSH, &push).await {
                tracing::warn!(%error, "where pushing notices stands cannot be kept");
                return;
            }
            if push.attempts > 0 {
                return;
            }
        }
    }

    /// What an attempt comes to: delivered, again later, or a dead letter.
    fn settle(
        &self,
        id: &str,
        outcome: Result<(), Failure>,
        attempts: u32,
        created_at: OffsetDateTime,
    ) -> CallbackAttempt {
        let Err(Failure { error, fatal }) = outcome else {
            return CallbackAttempt::Delivered;
        };
        let failures = attempts.saturating_add(1);
        let now = OffsetDateTime::now_utc();
        let after = if fatal {
            AfterFailure::GiveUp
        } else {
            self.schedule
                .after_failure(failures, created_at, now, schedule::random_jitter())
        };
        let error = bounded(error);
        match after {
            AfterFailure::RetryAt(next_attempt_at) => {
                tracing::info!(callback = %id, attempts = failures, %error, "callback not delivered; retrying");
                CallbackAttempt::Retry {
                    error,
                    next_attempt_at,
                }
            }
            AfterFailure::GiveUp => {
                tracing::warn!(callback = %id, attempts = failures, %error, "callback not delivered; it is a dead letter now");
                CallbackAttempt::GiveUp { error }
            }
        }
    }

    /// One POST of the notice; the failure says why, without the URL.
    async fn attempt(&self, callback: &StoredCallback) -> Result<(), Failure> {
        let body = notice::body(callback, &self.authority)
            .map_err(|error| Failure::fatal(format!("the notice cannot be written: {error}")))?;
        self.post(&callback.url, &callback.id, notice::CONTENT_TYPE, body)
            .await
    }

    /// One signed POST of `body` as notice `id` to `url`, checked against the allow-list first
    /// (it may have shrunk since the notice was scheduled).
    async fn post(
        &self,
        url: &str,
        id: &str,
        content_type: &'static str,
        body: Vec<u8>,
    ) -> Result<(), Failure> {
        self.targets
            .check(url)
            .map_err(|refused| Failure::fatal(format!("the callback URL is refused: {refused}")))?;
        let timestamp = OffsetDateTime::now_utc().unix_timestamp();
        let signature = self.secret.sign(id, timestamp, &body);
        let response = self
            .client
            .http()
            .post(url)
            .timeout(CALLBACK_TIMEOUT)
            .header(http::header::CONTENT_TYPE, content_type)
            .header("webhook-id", id)
            .header("webhook-timestamp", timestamp.to_string())
            .header("webhook-signature", signature)
            .body(body)
            .send()
            .await
            .map_err(|error| Failure::retry(format!("cannot reach it: {}", describe(error))))?;
        let status = response.status();
        if status.is_success() {
            Ok(())
        } else {
            // The answer's body is not kept: it is the case system's text.
            Err(Failure::retry(format!("it answered with status {status}")))
        }
    }
}

/// Why an attempt failed, and whether trying again could help.
struct Failure {
    error: String,
    fatal: bool,
}

impl Failure {
    fn retry(error: String) -> Self {
        Self {
            error,
            fatal: false,
        }
    }

    fn fatal(error: String) -> Self {
        Self { error, fatal: true }
    }
}

/// An error text cut to what the store keeps, on a character boundary.
fn bounded(mut error: String) -> String {
    if error.len() > MAX_CALLBACK_ERROR_BYTES {
        let mut end = MAX_CALLBACK_ERROR_BYTES;
        while !error.is_char_boundary(end) {
            end -= 1;
        }
        error.truncate(end);
    }
    if error.is_empty() {
        error.push_str("unknown failure");
    }
    error
}
