//! [`NodeState`]: what every handler of a node shares — who it is, the federation
//! configuration and rulebook it holds, its ledger, its exchange state, its registers and keys.

use crate::exchange::ExchangeError;
use ed25519_dalek::SigningKey;
use std::collections::HashMap;
use std::sync::{Arc, RwLock};
use std::time::Instant;
use time::OffsetDateTime;
use utbyte_audit::{AuditLog, AuditRecord, SubjectIdentifier};
use utbyte_federation::{ConfigError, FederationConfig, TrustedConfig};
use utbyte_http::FederationClient;
use utbyte_ledger::Receipt as LedgerReceipt;
use utbyte_pki::{Fingerprint, Revocations};
use utbyte_rules::Rulebook;
use utbyte_store::{ExchangeStore, Register};

/// The offerings this node serves, each with its register.
pub type Registers = HashMap<String, Arc<dyn Register>>;

/// The configuration and rulebook one exchange runs under, taken once at its start so that a
/// refresh in the middle cannot mix two versions.
#[derive(Clone)]
pub(crate) struct Exchange {
    pub config: Arc<FederationConfig>,
    pub rulebook: Arc<Rulebook>,
}

impl Exchange {
    /// The listed, unrevoked member whose certificate `peer` presented, for the authority the
    /// certificate names.
    pub(crate) fn listed_member(
        &self,
        peer: &utbyte_pki::NodeIdentity,
    ) -> Result<&utbyte_federation::Member, crate::exchange::ExchangeError> {
        let fingerprint = peer.fingerprint.to_string();
        self.config
            .member_by_certificate(&fingerprint)
            .filter(|m| m.authority == peer.authority.as_str())
            .ok_or_else(|| {
                crate::exchange::ExchangeError::NotAMember(format!(
                    "certificate {fingerprint} of `{}` is not listed for it in federation configuration version {}, or is revoked",
                    peer.authority, self.config.version
                ))
            })
    }
}

pub struct NodeState {
    pub(crate) authority: String,
    pub(crate) trusted: TrustedConfig,
    rulebook: RwLock<Option<Arc<Rulebook>>>,
    pub(crate) revocations: Revocations,
    pub(crate) audit: Arc<AuditLog>,
    pub(crate) exchange: ExchangeStore,
    pub(crate) registers: Registers,
    pub(crate) answer_key: SigningKey,
    pub(crate) client: FederationClient,
    pub(crate) origin: String,
    /// Where the directory is (the configuration and the catalog come from there).
    pub(crate) directory: crate::sync::DirectoryLink,
    /// One review decision at a time, so that a ticket is never decided (and audited) twice.
    pub(crate) review_lock: tokio::sync::Mutex<()>,
    /// One review poll at a time: a case system's GET and the background round asking about the
    /// same decided review at once would otherwise both record its receipt.
    pub(crate) poll_lock: tokio::sync::Mutex<()>,
    /// Where case systems may be called back (checked when a request names a callback).
    pub(crate) callback_targets: crate::callback::target::AllowedTargets,
    pub(crate) metrics: crate::metrics::Metrics,
    /// When exchanges in flight are recovered, and how long answers are kept.
    pub(crate) recovery: crate::recovery::RecoveryConfig,
    /// When this run of the node started: a request still in flight that was begun before it
    /// has no task sending it any more, whatever its age. None when other instances of the node
    /// share its exchange state: one of them may be sending it.
    pub(crate) started_at: Option<OffsetDateTime>,
    /// Whether this instance runs the rounds that must run once per node — recovery, review
    /// polls, reconciliation: always alone; with other instances, while it holds the audit
    /// ledger's sequencer lease (`shared_ledger`).
    pub(crate) leading: Arc<std::sync::atomic::AtomicBool>,
    /// One recovery at a time, so that an exchange is never recovered (and its receipt
    /// recorded) twice by the background round and a case system's retry at once.
    pub(crate) recovery_lock: tokio::sync::Mutex<()>,
    /// Who may call the local API.
    pub(crate) gate: crate::access::Gate,
    /// Per offering, the units whose reviewers decide its reviews (none listed: any unit).
    pub(crate) review_units: HashMap<String, Vec<String>>,
    /// Reconciliation of this node's receipts with its providers' ledgers.
    pub(crate) reconciler: crate::reconcile::Reconciler,
    /// Messages: keys, delivery settings and the wake-up of the delivery rounds.
    pub(crate) messages: crate::messages::Messages,
    pub(crate) attachments: crate::messages::attachments::Attachments,
    /// Subscriptions: the wake-ups of delivery and of the notice feed, and the webhook.
    pub(crate) notices: crate::subscriptions::Notices,
    /// How long what the node holds about people is kept (`[retention]`).
    pub(crate) retention: crate::RetentionConfig,
    /// One ledger verification at a time: it reads the whole ledger, and a second run at once
    /// would only take another core.
    pub(crate) verifying: Arc<tokio::sync::Semaphore>,
}

impl std::fmt::Debug for NodeState {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("NodeState")
            .field("authority", &self.authority)
            .finish_non_exhaustive()
    }
}

impl NodeState {
    #[allow(clippy::too_many_arguments)]
    pub(crate) fn new(
        authority: String,
        trusted: TrustedConfig,
        revocations: Revocations,
        audit: Arc<AuditLog>,
        exchange: ExchangeStore,
        registers: Registers,
        answer_key: SigningKey,
        client: FederationClient,
        directory: crate::sync::DirectoryLink,
        callback_targets: crate::callback::target::AllowedTargets,
        recovery: crate::recovery::RecoveryConfig,
        gate: crate::access::Gate,
        review_units: HashMap<String, Vec<String>>,
    ) -> Self {
        let origin = audit.ledger().verifier().name.clone();
        let metrics = crate::metrics::Metrics::new();
        client.observe_handshake_failures(metrics.handshake_observer("client"));
        Self {
            authority,
            trusted,
            rulebook: RwLock::new(None),
            revocations,
            audit,
            exchange,
            registers,
            answer_key,
            client,
            origin,
            directory,
            review_lock: tokio::sync::Mutex::new(()),
            poll_lock: tokio::sync::Mutex::new(()),
            callback_targets,
            metrics,
            recovery,
            started_at: Some(OffsetDateTime::now_utc()),
            leading: Arc::new(std::sync::atomic::AtomicBool::new(true)),
            recovery_lock: tokio::sync::Mutex::new(()),
            reconciler: crate::reconcile::Reconciler::default(),
            verifying: Arc::new(tokio::sync::Semaphore::new(1)),
            messages: crate::messages::Messages::new(
                Vec::new(),
                &crate::config::MessagesConfig::default(),
            ),
            // Replaced by the node's own when it starts (`crate::run`).
            attachments: crate::messages::attachments::Attachments::new(
                std::path::Path::new("."),
                &crate::config::MessagesConfig::default(),
            ),
            notices: crate::subscriptions::Notices::default(),
            retention: crate::RetentionConfig::default(),
            gate,
            review_units,
        }
    }

    /// The configuration and rulebook to exchange under now, or the problem that stops
    /// exchanges.
    pub(crate) fn exchange_context(&self) -> Result<Exchange, ExchangeError> {
        let config = self.trusted.current(OffsetDateTime::now_utc())?;
        let rulebook = self
            .rulebook
            .read()
            .unwrap_or_else(|p| p.into_inner())
            .clone()
            .filter(|r| r.hash() == config.rulebook.hash)
            .ok_or_else(|| {
                ExchangeError::NoConfiguration(
                    "the shared rulebook of the current configuration is not loaded yet".into(),
                )
            })?;
        Ok(Exchange { config, rulebook })
    }

    /// The rulebook currently loaded, if any.
    pub(crate) fn rulebook(&self) -> Option<Arc<Rulebook>> {
        self.rulebook
            .read()
            .unwrap_or_else(|p| p.into_inner())
            .clone()
    }

    /// Takes in a newly accepted configuration: revocations at once, and the rulebook when it
    /// changed. Returns the rulebook newly activated, if it changed.
    pub(crate) async fn apply(
        &self,
        config: &FederationConfig,
    ) -> Result<Option<Arc<Rulebook>>, ConfigError> {
        self.revocations.replace(
            config
                .revoked
                .iter()
                .filter_map(|f| f.parse::<Fingerprint>().ok()),
        );
        if self
            .rulebook()
            .is_some_and(|r| r.hash() == config.rulebook.hash)
        {
            return Ok(None);
        }
        let bundle = config.rulebook.clone();
        // Compiling a rulebook is CPU work of a few hundred milliseconds; keep it off the
        // threads that answer requests.
        let rulebook = tokio::task::spawn_blocking(move || bundle.load())
            .await
            .map_err(|e| ConfigError::Rulebook(e.to_string()))??;
        let rulebook = Arc::new(rulebook);
        *self.rulebook.write().unwrap_or_else(|p| p.into_inner()) = Some(Arc::clone(&rulebook));
        Ok(Some(rulebook))
    }

    /// Appends a record to this node's ledger and waits until it is durable.
    pub(crate) async fn record(
        &self,
        record: AuditRecord,
        subjects: Vec<SubjectIdentifier>,
    ) -> Result<LedgerReceipt, ExchangeError> {
        self.append(record, Some(subjects)).await
    }

    /// Appends a record that carries its subjects' commitments already (they come from an
    /// earlier record of this ledger).
    pub(crate) async fn record_committed(
        &self,
        record: AuditRecord,
    ) -> Result<LedgerReceipt, ExchangeError> {
        self.append(record, None).await
    }

    async fn append(
        &self,
        record: AuditRecord,
        subjects: Option<Vec<SubjectIdentifier>>,
    ) -> Result<LedgerReceipt, ExchangeError> {
        let (started, event, offering) = (Instant::now(), record.event, record.offering.clone());
        let receipt = if self.audit.is_shared() {
            let audit = Arc::clone(&self.audit);
            tokio::task::spawn_blocking(move || match subjects {
                Some(subjects) => audit.record(record, &subjects),
                None => audit.record_committed(record),
            })
            .await
            .map_err(|e| ExchangeError::Audit(e.to_string()))?
        } else {
            self.audit.record_async(record, subjects.as_deref()).await
        }
        .map_err(|e| ExchangeError::Audit(e.to_string()))?;
        self.metrics.recorded(event, offering.as_deref(), started);
        Ok(receipt)
    }
}
