//! The audit records a node writes about exchanges, built in one place so that the provider's
//! record and the recipient's receipt describe an exchange the same way.

use crate::protocol::FieldVerdict;
use utbyte_api::Outcome;
use utbyte_audit::record::FORMAT_VERSION;
use utbyte_audit::{Actor, AuditRecord, Basis, EventKind, FieldOutcome, Outcome as AuditOutcome};
use utbyte_rules::DisclosureRequest;

/// What every exchange record of one request shares.
pub(crate) struct ExchangeFacts<'a> {
    pub actor: Actor,
    pub provider: &'a str,
    pub request: &'a DisclosureRequest,
    pub rulebook_sha256: &'a str,
}

impl ExchangeFacts<'_> {
    pub(crate) fn record(
        &self,
        event: EventKind,
        verdicts: &[FieldVerdict],
        payload_sha256: Option<&str>,
        refers_to: Option<u64>,
    ) -> AuditRecord {
        AuditRecord {
            message: None,
            bulk: None,
            notices: None,
            actor: self.actor.clone(),
            change: None,
            event,
            fields: verdicts.iter().map(field_outcome).collect(),
            offering: Some(self.request.offering.clone()),
            payload_sha256: payload_sha256.map(str::to_owned),
            provider: self.provider.to_owned(),
            refers_to,
            rulebook_sha256: self.rulebook_sha256.to_owned(),
            subjects: Vec::new(),
            time: utbyte_audit::record::now(),
            v: FORMAT_VERSION,
            why: Some(Basis {
                case_ref: self.request.case_ref.clone(),
                legal_basis: self.request.legal_basis.clone(),
                operation_ref: self.request.operation.clone(),
                purpose: self.request.purpose.clone(),
            }),
        }
    }
}

/// The requester as the audit trail names it: authority, unit and role (never the officer), and
/// the system that vouched for the officer.
pub(crate) fn requester(request: &DisclosureRequest) -> Actor {
    Actor {
        authority: request.recipient.clone(),
        client: request.vouched_by.as_ref().map(|by| by.client.clone()),
        role: request.role.clone(),
        unit: request.unit.clone(),
        vouch: request.vouched_by.as_ref().map(|by| by.vouch.clone()),
    }
}

pub(crate) fn field_outcome(verdict: &FieldVerdict) -> FieldOutcome {
    FieldOutcome {
        citations: verdict.citations.clone(),
        field: verdict.field.clone(),
        outcome: match verdict.outcome {
            Outcome::Disclose => AuditOutcome::Disclose,
            Outcome::Review => AuditOutcome::Review,
            Outcome::Refuse => AuditOutcome::Refuse,
        },
    }
}

/// The event a final answer is recorded as: a disclosure when anything left, else a refusal.
pub(crate) fn answer_event(verdicts: &[FieldVerdict]) -> EventKind {
    if verdicts.iter().any(|v| v.outcome == Outcome::Disclose) {
        EventKind::Disclosure
    } else {
        EventKind::Refusal
    }
}

/// A configuration-change record: the node activated a rulebook.
pub(crate) fn rulebook_activated(
    authority: &str,
    name: &str,
    version: &str,
    hash: &str,
    config_version: u64,
) -> AuditRecord {
    AuditRecord {
        message: None,
        bulk: None,
        notices: None,
        actor: Actor {
            authority: authority.to_owned(),
            client: None,
            role: "system".into(),
            unit: "node".into(),
            vouch: None,
        },
        change: Some(format!(
            "regelbok {name} {version} aktiverad (federationskonfiguration version {config_version})"
        )),
        event: EventKind::ConfigurationChange,
        fields: Vec::new(),
        offering: None,
        payload_sha256: None,
        provider: authority.to_owned(),
        refers_to: None,
        rulebook_sha256: hash.to_owned(),
        subjects: Vec::new(),
        time: utbyte_audit::record::now(),
        v: FORMAT_VERSION,
        why: None,
    }
}
