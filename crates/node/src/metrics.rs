//! The node's Prometheus metrics: the registry, every metric family, and `GET /metrics` on the
//! local listener (OpenMetrics text). `docs/metrics.md` documents each one.
//!
//! Labels hold only values from a closed, public set: an offering id from the rulebook, an
//! outcome, an event kind, a problem type slug, a TLS failure kind, a listener name. Never an
//! identifier of a person, a request, a ticket or a case: those would make the series personal
//! data and its count unbounded. Every call site is one line; what is a level rather than a
//! count (ledger size, queue depths, configuration age) is read when the metrics are scraped.

use crate::problems;
use crate::state::NodeState;
use axum::extract::{Request, State};
use axum::http::header;
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::Router;
use prometheus_client::encoding::EncodeLabelSet;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::metrics::histogram::{exponential_buckets, Histogram};
use prometheus_client::registry::{Registry, Unit};
use std::sync::atomic::{AtomicI64, Ordering};
use std::sync::Arc;
use std::time::Instant;
use time::OffsetDateTime;
use utbyte_api::Outcome;
use utbyte_audit::EventKind;
use utbyte_http::{HandshakeObserver, Problem, ProblemAnswered};

/// The media type of the OpenMetrics text exposition, which Prometheus scrapes natively.
const OPENMETRICS: &str = "application/openmetrics-text; version=1.0.0; charset=utf-8";

/// Which side of an exchange a node counted it on.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub(crate) enum Side {
    /// The node that decided (the offering's publisher).
    Provider,
    /// The node that asked, for its case system.
    Consumer,
    /// A message's sender or recipient.
    Messages,
}

impl Side {
    fn as_str(self) -> &'static str {
        match self {
            Self::Provider => "provider",
            Self::Consumer => "consumer",
            Self::Messages => "messages",
        }
    }
}

#[derive(Debug, Clone, Hash, PartialEq, Eq, EncodeLabelSet)]
struct DecisionLabels {
    side: &'static str,
    offering: String,
    outcome: &'static str,
}

#[derive(Debug, Clone, Hash, PartialEq, Eq, EncodeLabelSet)]
struct EventLabels {
    side: &'static str,
    offering: String,
    event: &'static str,
}

#[derive(Debug, Clone, Hash, PartialEq, Eq, EncodeLabelSet)]
struct AnswerLabels {
    offering: String,
    result: &'static str,
}

#[derive(Debug, Clone, Hash, PartialEq, Eq, EncodeLabelSet)]
struct HandshakeLabels {
    side: &'static str,
    kind: &'static str,
}

#[derive(Debug, Clone, Hash, PartialEq, Eq, EncodeLabelSet)]
struct AccessLabels {
    reason: &'static str,
}

#[derive(Debug, Clone, Hash, PartialEq, Eq, EncodeLabelSet)]
struct PeerLabels {
    peer: String,
}

#[derive(Debug, Clone, Hash, PartialEq, Eq, EncodeLabelSet)]
struct FeedLabels {
    feed: String,
}

#[derive(Debug, Clone, Hash, PartialEq, Eq, EncodeLabelSet)]
struct DeliveryLabels {
    outcome: &'static str,
}

#[derive(Debug, Clone, Hash, PartialEq, Eq, EncodeLabelSet)]
struct ProblemLabels {
    listener: &'static str,
    problem: String,
}

/// Every metric of one node, held in its `NodeState`; each node has its own registry, so
/// several nodes in one process (the loopback federation) count apart.
pub(crate) struct Metrics {
    registry: Registry,
    decisions: Family<DecisionLabels, Counter>,
    events: Family<EventLabels, Counter>,
    answers: Family<AnswerLabels, Counter>,
    handshakes: Family<HandshakeLabels, Counter>,
    problems: Family<ProblemLabels, Counter>,
    access_refusals: Family<AccessLabels, Counter>,
    reconciliation_pending: Family<PeerLabels, Gauge>,
    reconciliation_findings: Family<PeerLabels, Gauge>,
    reconciliation_undelivered: Family<PeerLabels, Gauge>,
    feed_changes: Family<FeedLabels, Counter>,
    feed_notices: Family<FeedLabels, Counter>,
    deliveries: Family<DeliveryLabels, Counter>,
    search_sources: Family<DeliveryLabels, Counter>,
    bulk_subjects: Family<DeliveryLabels, Counter>,
    pub(crate) provider_decision: Histogram,
    pub(crate) consumer_request: Histogram,
    pub(crate) register_fetch: Histogram,
    ledger_append: Histogram,
    ledger_entries: Gauge,
    review_queue: Gauge,
    callback_backlog: Gauge,
    config_version: Gauge,
    config_age: Gauge,
    config_expires_in: Gauge,
    /// When the configuration held was issued and expires (Unix seconds); 0 before the first.
    config_issued: AtomicI64,
    config_expires: AtomicI64,
}

impl std::fmt::Debug for Metrics {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Metrics")
    }
}

/// Latency buckets from half a millisecond to about 16 seconds, doubling: a decision is a few
/// milliseconds, a register behind HTTP can take seconds, the request limit is 30 s.
fn latency() -> Histogram {
    Histogram::new(exponential_buckets(0.0005, 2.0, 16))
}

impl Metrics {
    pub(crate) fn new() -> Self {
        let mut registry = Registry::with_prefix("utbyte");
        let m = Self {
            registry: Registry::default(),
            decisions: Family::default(),
            events: Family::default(),
            answers: Family::default(),
            handshakes: Family::default(),
            problems: Family::default(),
            access_refusals: Family::default(),
            reconciliation_pending: Family::default(),
            reconciliation_findings: Family::default(),
            reconciliation_undelivered: Family::default(),
            feed_changes: Family::default(),
            feed_notices: Family::default(),
            deliveries: Family::default(),
            search_sources: Family::default(),
            bulk_subjects: Family::default(),
            provider_decision: latency(),
            consumer_request: latency(),
            register_fetch: latency(),
            ledger_append: latency(),
            ledger_entries: Gauge::default(),
            review_queue: Gauge::default(),
            callback_backlog: Gauge::default(),
            config_version: Gauge::default(),
            config_age: Gauge::default(),
            config_expires_in: Gauge::default(),
            config_issued: AtomicI64::new(0),
            config_expires: AtomicI64::new(0),
        };
        registry.register(
            "exchange_decisions",
            "Exchanges decided, by side, offering and overall outcome (disclose, review, refuse)",
            m.decisions.clone(),
        );
        registry.register(
            "exchange_events",
            "Exchange records written to the ledger, by side, offering and event (disclosure, refusal, review, review_decision, receipt)",
            m.events.clone(),
        );
        registry.register(
            "consumer_answers",
            "Answers from providers, by offering and whether verification accepted or rejected them",
            m.answers.clone(),
        );
        registry.register(
            "tls_handshake_failures",
            "Failed mutual-TLS handshakes, by side (server: the federation listener; client: this node dialling) and kind",
            m.handshakes.clone(),
        );
        registry.register(
            "problems",
            "Problem answers, by listener and problem type",
            m.problems.clone(),
        );
        registry.register(
            "access_refusals",
            "Local API calls refused before any handler, by reason (token-expired, certificate-revoked, role-not-allowed, host-not-allowed, …)",
            m.access_refusals.clone(),
        );
        registry.register(
            "reconciliation_pending",
            "Answers a provider recorded for this node that the last reconciliation round left open, by provider",
            m.reconciliation_pending.clone(),
        );
        registry.register(
            "reconciliation_findings",
            "Gaps reconciliation found and cannot close (a digest mismatch, a receipt for an entry the provider did not record for this node), by provider: anything above 0 is an auditor's finding",
            m.reconciliation_findings.clone(),
        );
        registry.register(
            "reconciliation_undelivered",
            "Answers recorded on both sides as never delivered, by provider",
            m.reconciliation_undelivered.clone(),
        );
        registry.register(
            "subscription_changes",
            "Register changes read from a change feed and matched against the subscriptions granted, by feed (named by the first offering its register backs)",
            m.feed_changes.clone(),
        );
        registry.register(
            "subscription_notices",
            "Notices queued for subscribers by matching, by feed",
            m.feed_notices.clone(),
        );
        registry.register(
            "subscription_deliveries",
            "Notices delivered to subscribers' nodes (`sent`), held back at delivery (`withheld`), and taken from providers (`received`)",
            m.deliveries.clone(),
        );
        registry.register(
            "search_sources",
            "Sources asked by federated searches, by how each ended: `answered`, `review`, `refused`, `failed`, `timed_out`",
            m.search_sources.clone(),
        );
        registry.register(
            "bulk_subjects",
            "Subjects of bulk exchanges a provider answered, by how: `answered`, `held` (for review, asked again on their own)",
            m.bulk_subjects.clone(),
        );
        registry.register_with_unit(
            "provider_decision",
            "A request from another node, from arrival to signed answer",
            Unit::Seconds,
            m.provider_decision.clone(),
        );
        registry.register_with_unit(
            "consumer_request",
            "A case system's request, from arrival to answer, the provider's time included",
            Unit::Seconds,
            m.consumer_request.clone(),
        );
        registry.register_with_unit(
            "register_fetch",
            "Reading the disclosed fields from a register",
            Unit::Seconds,
            m.register_fetch.clone(),
        );
        registry.register_with_unit(
            "ledger_append",
            "Appending one record to the audit ledger until it is durable",
            Unit::Seconds,
            m.ledger_append.clone(),
        );
        registry.register(
            "ledger_entries",
            "Entries in the audit ledger",
            m.ledger_entries.clone(),
        );
        registry.register(
            "review_queue_depth",
            "Requests waiting for a reviewer",
            m.review_queue.clone(),
        );
        registry.register(
            "callback_backlog",
            "Answered requests whose callback has not been delivered",
            m.callback_backlog.clone(),
        );
        registry.register(
            "federation_config_version",
            "Version of the federation configuration held (0: none yet)",
            m.config_version.clone(),
        );
        registry.register_with_unit(
            "federation_config_age",
            "Time since the configuration held was issued",
            Unit::Seconds,
            m.config_age.clone(),
        );
        registry.register_with_unit(
            "federation_config_expires_in",
            "Time until the configuration held expires (negative: expired; exchanges stop)",
            Unit::Seconds,
            m.config_expires_in.clone(),
        );
        Self { registry, ..m }
    }

    /// A decision on `side`: its overall outcome as the rulebook defines it (review if any
    /// field needs review, else disclose if any is disclosed, else refuse).
    pub(crate) fn decided(
        &self,
        side: Side,
        offering: &str,
        outcomes: impl IntoIterator<Item = Outcome>,
    ) {
        let outcomes: Vec<Outcome> = outcomes.into_iter().collect();
        let overall = if outcomes.contains(&Outcome::Review) {
            "review"
        } else if outcomes.contains(&Outcome::Disclose) {
            "disclose"
        } else {
            "refuse"
        };
        self.decisions
            .get_or_create(&DecisionLabels {
                side: side.as_str(),
                offering: offering.to_owned(),
                outcome: overall,
            })
            .inc();
    }

    /// A record appended to the ledger in `started.elapsed()`.
    pub(crate) fn recorded(&self, event: EventKind, offering: Option<&str>, started: Instant) {
        self.ledger_append.observe(started.elapsed().as_secs_f64());
        let (side, event) = match event {
            EventKind::Disclosure => (Side::Provider, "disclosure"),
            EventKind::Refusal => (Side::Provider, "refusal"),
            EventKind::ReviewRequest => (Side::Provider, "review"),
            EventKind::ReviewDecision => (Side::Provider, "review_decision"),
            EventKind::Receipt => (Side::Consumer, "receipt"),
            EventKind::Undelivered => (Side::Consumer, "undelivered"),
            EventKind::MessageSent => (Side::Messages, "message_sent"),
            EventKind::MessageDelivered => (Side::Messages, "message_delivered"),
            EventKind::MessageAccepted => (Side::Messages, "message_accepted"),
            EventKind::SubscriptionDecision => (Side::Provider, "subscription_decision"),
            EventKind::NoticeSent => (Side::Provider, "notice_sent"),
            EventKind::NoticeWithheld => (Side::Provider, "notice_withheld"),
            EventKind::NoticeReceived => (Side::Consumer, "notice_received"),
            EventKind::ConfigurationChange => return,
        };
        self.events
            .get_or_create(&EventLabels {
                side: side.as_str(),
                offering: offering.unwrap_or_default().to_owned(),
                event,
            })
            .inc();
    }

    /// A matching round over `feed` read `changes` changes and queued `notices` notices.
    pub(crate) fn matched(&self, feed: &str, changes: usize, notices: u64) {
        let labels = FeedLabels {
            feed: feed.to_owned(),
        };
        self.feed_changes
            .get_or_create(&labels)
            .inc_by(changes as u64);
        self.feed_notices.get_or_create(&labels).inc_by(notices);
    }

    /// A source a federated search asked ended `outcome`.
    pub(crate) fn search_source(&self, outcome: &'static str) {
        self.search_sources
            .get_or_create(&DeliveryLabels { outcome })
            .inc();
    }

    /// `count` subjects of a bulk part were answered or held.
    pub(crate) fn bulk_subjects(&self, outcome: &'static str, count: u64) {
        if count > 0 {
            self.bulk_subjects
                .get_or_create(&DeliveryLabels { outcome })
                .inc_by(count);
        }
    }

    /// `count` notices went `outcome`: sent, withheld or received.
    pub(crate) fn notices(&self, outcome: &'static str, count: u64) {
        if count > 0 {
            self.deliveries
                .get_or_create(&DeliveryLabels { outcome })
                .inc_by(count);
        }
    }

    /// Where reconciliation with `peer` stands after a round, with `findings` kept in all.
    pub(crate) fn reconciled(&self, peer: &utbyte_store::PeerReconciliation, findings: u64) {
        let labels = PeerLabels {
            peer: peer.peer.clone(),
        };
        let gauge = |n: u64| i64::try_from(n).unwrap_or(i64::MAX);
        self.reconciliation_pending
            .get_or_create(&labels)
            .set(gauge(peer.pending));
        self.reconciliation_undelivered
            .get_or_create(&labels)
            .set(gauge(peer.undelivered));
        self.reconciliation_findings
            .get_or_create(&labels)
            .set(gauge(findings));
    }

    /// An answer from a provider that verification accepted (`true`) or rejected.
    pub(crate) fn answer(&self, offering: &str, accepted: bool) {
        self.answers
            .get_or_create(&AnswerLabels {
                offering: offering.to_owned(),
                result: if accepted { "accepted" } else { "rejected" },
            })
            .inc();
    }

    /// A local API call the access gate or a handler's access check refused, by reason.
    pub(crate) fn access_refused(&self, reason: &'static str) {
        self.access_refusals
            .get_or_create(&AccessLabels { reason })
            .inc();
    }

    /// An observer counting refused handshakes on `side` (`server` or `client`).
    pub(crate) fn handshake_observer(&self, side: &'static str) -> HandshakeObserver {
        let handshakes = self.handshakes.clone();
        Arc::new(move |kind| {
            handshakes
                .get_or_create(&HandshakeLabels { side, kind })
                .inc();
        })
    }

    /// The federation configuration now held; returns the version held before (0: none).
    pub(crate) fn configuration(&self, config: &utbyte_federation::FederationConfig) -> u64 {
        let before = self
            .config_version
            .set(i64::try_from(config.version).unwrap_or(i64::MAX));
        self.config_issued
            .store(config.issued_at.unix_timestamp(), Ordering::Relaxed);
        self.config_expires
            .store(config.expires_at.unix_timestamp(), Ordering::Relaxed);
        u64::try_from(before).unwrap_or_default()
    }

    /// Starts timing `histogram`; the time is observed when the returned guard is dropped, so
    /// every way out of the timed scope (`?` included) is measured.
    pub(crate) fn time(histogram: &Histogram) -> Timed {
        Timed {
            histogram: histogram.clone(),
            started: Instant::now(),
        }
    }
}

/// Observes the time since it was made when dropped.
pub(crate) struct Timed {
    histogram: Histogram,
    started: Instant,
}

impl Drop for Timed {
    fn drop(&mut self) {
        self.histogram.observe(self.started.elapsed().as_secs_f64());
    }
}

pub(crate) fn routes() -> Router<Arc<NodeState>> {
    Router::new().route(utbyte_api::paths::METRICS, get(scrape))
}

/// This node's metrics, for Prometheus.
#[utoipa::path(
    get,
    path = utbyte_api::paths::METRICS,
    tag = "health",
    operation_id = "metrics_scrape",
    responses(
        (status = 200, description = "Every metric in the OpenMetrics text format (docs/metrics.md lists them)", body = String, content_type = "application/openmetrics-text"),
        (status = 500, description = "A level could not be read", body = Problem, content_type = "application/problem+json"),
    )
)]
pub(crate) async fn scrape(State(state): State<Arc<NodeState>>) -> Result<Response, Problem> {
    let m = &state.metrics;
    let store = |e: utbyte_store::StoreError| problems::STORE_FAILED.with(e.to_string());
    m.ledger_entries
        .set(i64::try_from(state.audit.ledger().size()).unwrap_or(i64::MAX));
    m.review_queue
        .set(state.exchange.pending_review_count().await.map_err(store)?);
    m.callback_backlog.set(
        state
            .exchange
            .undelivered_callback_count()
            .await
            .map_err(store)?,
    );
    let now = OffsetDateTime::now_utc().unix_timestamp();
    let issued = m.config_issued.load(Ordering::Relaxed);
    if issued > 0 {
        m.config_age.set(now - issued);
        m.config_expires_in
            .set(m.config_expires.load(Ordering::Relaxed) - now);
    }
    let mut text = String::new();
    prometheus_client::encoding::text::encode(&mut text, &m.registry)
        .map_err(|e| problems::INTERNAL.with(e.to_string()))?;
    Ok(([(header::CONTENT_TYPE, OPENMETRICS)], text).into_response())
}

/// Counts every problem `listener` answers with, by type; applied outside the request log, so
/// that problems of every layer (unknown paths, time limits) are counted.
pub(crate) async fn count_problems(
    State((state, listener)): State<(Arc<NodeState>, &'static str)>,
    request: Request,
    next: Next,
) -> Response {
    let response = next.run(request).await;
    if let Some(ProblemAnswered(slug)) = response.extensions().get::<ProblemAnswered>() {
        state
            .metrics
            .problems
            .get_or_create(&ProblemLabels {
                listener,
                problem: slug.clone(),
            })
            .inc();
    }
    response
}

/// `app` with its problems counted under `listener`.
pub(crate) fn observed(app: Router, state: &Arc<NodeState>, listener: &'static str) -> Router {
    app.layer(axum::middleware::from_fn_with_state(
        (Arc::clone(state), listener),
        count_problems,
    ))
}
