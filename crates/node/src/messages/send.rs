//! Sending: a case system's message checked, decided by this authority's rulebook, recorded in
//! its ledger, sealed for the recipient and posted in the outbox — in that order, so nothing
//! leaves that the ledger does not hold, and nothing the rulebook refused leaves at all.
//!
//! A notice is an own-initiative disclosure: each field is decided with the action `notify`
//! (`rules::notice`). Refused fields are dropped before sealing; a notice with every field
//! refused is recorded as a refusal and goes nowhere; one with a field for review is recorded
//! as routed to review and held. A letter in free text is not decided field by field (it has
//! none): the officer answers for it, as for a letter today, and its sending is recorded.

use super::message_ref;
use crate::access::Acting;
use crate::exchange::answer::{new_id, subject_identifier, verdicts};
use crate::exchange::ExchangeError;
use crate::records::field_outcome;
use crate::state::NodeState;
use sha2::{Digest, Sha256};
use time::OffsetDateTime;
use utbyte_api::messages::{MessageKind, MessageState, SendMessage, SentMessage};
use utbyte_api::Outcome;
use utbyte_audit::record::FORMAT_VERSION;
use utbyte_audit::{Actor, AuditRecord, Basis, EventKind};
use utbyte_message::{Address, Content, Envelope, Kind};
use utbyte_rules::request::Subject;
use utbyte_rules::Notice;
use utbyte_store::{NewOutgoingMessage, OutboxState, Posted};

/// Sends `message` for `acting` under the case system's idempotency `key`; whether it was
/// posted now (not refused, not posted before under the key).
pub(crate) async fn send(
    state: &NodeState,
    acting: &Acting,
    key: &str,
    message: &SendMessage,
    now: OffsetDateTime,
) -> Result<(SentMessage, bool), ExchangeError> {
    let request_hash = hex::encode(Sha256::digest(
        serde_json::to_vec(message).map_err(|e| ExchangeError::Internal(e.to_string()))?,
    ));
    if let Some(earlier) = state.exchange.outgoing_by_key(&acting.client, key).await? {
        if earlier.message.request_hash != request_hash {
            return Err(ExchangeError::IdempotencyConflict);
        }
        return Ok((super::sent_view(&earlier, Vec::new())?, false));
    }
    let ctx = state.exchange_context()?;
    let member = ctx
        .config
        .member(&message.to.authority)
        .ok_or_else(|| {
            ExchangeError::InvalidRequest(format!(
                "`{}` is not a member of the federation",
                message.to.authority
            ))
        })?
        .clone();
    let recipient_key = member
        .message_key()
        .map_err(|e| ExchangeError::Internal(e.to_string()))?
        .ok_or_else(|| {
            ExchangeError::InvalidRequest(format!(
                "`{}` publishes no message key: it takes no messages",
                message.to.authority
            ))
        })?;
    let (subjects, ruling) = decide(state, &ctx.rulebook, acting, message, now).await?;
    if ruling.is_some() && !message.attachments.is_empty() {
        return Err(ExchangeError::InvalidRequest(
            "a notice carries the fields its rulebook decides; files go with a letter".into(),
        ));
    }
    let taken =
        super::attachments::outgoing::take(state, acting, key, &message.attachments).await?;
    let fields = ruling.as_ref().map(verdicts).unwrap_or_default();
    let outcome = ruling.as_ref().map(utbyte_rules::Decision::overall);
    // What may go now; held for review, also what the reviewer may let go.
    let held = outcome == Some(utbyte_rules::Outcome::Review);
    let values = message
        .values
        .iter()
        .filter(|(field, _)| {
            fields.iter().any(|v| {
                &v.field == *field
                    && (v.outcome == Outcome::Disclose || (held && v.outcome == Outcome::Review))
            })
        })
        .map(|(f, v)| (f.clone(), v.clone()))
        .collect();
    let content = Content {
        title: message.title.clone(),
        subjects: subjects.iter().map(|s| s.as_str().to_owned()).collect(),
        values,
        text: message.text.clone(),
        purpose: message.purpose.clone(),
        legal_basis: message.legal_basis.clone(),
        officer: Some(acting.officer.clone()),
        role: acting.role.clone(),
        attachments: taken.attachments.clone(),
    };
    content
        .validate()
        .map_err(|e| ExchangeError::InvalidRequest(e.to_string()))?;
    // Held, the notice is sealed for this node's own key until a reviewer lets it go.
    let own_key = held
        .then(|| state.messages.keys.first().map(|k| k.public().clone()))
        .flatten();
    let sealing_key = own_key.as_ref().unwrap_or(&recipient_key);
    let envelope = Envelope {
        id: new_id()?,
        from: Address {
            authority: state.authority.clone(),
            unit: Some(acting.unit.clone()),
        },
        to: Address {
            authority: message.to.authority.clone(),
            unit: message.to.unit.clone(),
        },
        kind: match &message.kind {
            MessageKind::Notice { notice } => Kind::Notice {
                notice: notice.clone(),
            },
            MessageKind::FreeText => Kind::FreeText,
        },
        sender_case_ref: message.case_ref.clone(),
        recipient_case_ref: message.recipient_case_ref.clone(),
        in_reply_to: message.in_reply_to.clone(),
        sent_at: utbyte_audit::record::now(),
        key: sealing_key.id(),
        attachments: taken.transfers.clone(),
    };
    envelope
        .validate()
        .map_err(|e| ExchangeError::InvalidRequest(e.to_string()))?;
    let envelope_json = envelope.to_json();
    let event = match outcome {
        None | Some(utbyte_rules::Outcome::Disclose) => EventKind::MessageSent,
        Some(utbyte_rules::Outcome::Review) => EventKind::ReviewRequest,
        Some(utbyte_rules::Outcome::Refuse) => EventKind::Refusal,
    };
    let record = AuditRecord {
        actor: Actor {
            authority: state.authority.clone(),
            client: Some(acting.client.clone()),
            role: acting.role.clone(),
            unit: acting.unit.clone(),
            vouch: Some(acting.vouch.as_str().to_owned()),
        },
        change: None,
        event,
        fields: fields.iter().map(field_outcome).collect(),
        message: Some(message_ref(&envelope)),
        bulk: None,
        notices: None,
        offering: match &envelope.kind {
            Kind::Notice { notice } => Some(notice.clone()),
            Kind::FreeText => None,
        },
        payload_sha256: Some(super::envelope_digest(&envelope_json)),
        provider: state.authority.clone(),
        refers_to: None,
        rulebook_sha256: ctx.rulebook.hash().to_owned(),
        subjects: Vec::new(),
        time: utbyte_audit::record::now(),
        v: FORMAT_VERSION,
        why: match (&message.purpose, &message.legal_basis) {
            (Some(purpose), Some(legal_basis)) => Some(Basis {
                case_ref: message.case_ref.clone(),
                legal_basis: legal_basis.clone(),
                operation_ref: None,
                purpose: purpose.clone(),
            }),
            _ => None,
        },
    };
    let identifiers = subjects
        .iter()
        .map(subject_identifier)
        .collect::<Result<Vec<_>, _>>()?;
    let decision = state.record(record, identifiers).await?;
    let state_posted = match event {
        EventKind::Refusal => {
            return Ok((
                SentMessage {
                    id: envelope.id,
                    state: MessageState::Refused,
                    from_unit: acting.unit.clone(),
                    to: message.to.clone(),
                    kind: message.kind.clone(),
                    fields,
                    decision_index: decision.index,
                    attempts: 0,
                    last_error: None,
                    created_at: now,
                    delivered: None,
                    accepted: None,
                },
                false,
            ))
        }
        EventKind::ReviewRequest => OutboxState::Held,
        _ => OutboxState::Pending,
    };
    let sealed = match (&ruling, held) {
        (Some(ruling), true) => super::held::seal_held(
            sealing_key,
            &envelope_json,
            content,
            crate::exchange::answer::review_fields(ruling),
        )?,
        _ => utbyte_message::seal::seal(sealing_key, &envelope_json, &content)
            .map_err(|e| ExchangeError::Internal(e.to_string()))?,
    };
    let posted = NewOutgoingMessage {
        message_id: envelope.id.clone(),
        client: acting.client.clone(),
        idempotency_key: key.to_owned(),
        request_hash,
        sender_unit: acting.unit.clone(),
        recipient: message.to.authority.clone(),
        kind: envelope.kind.name().to_owned(),
        envelope: envelope_json,
        sealed,
        state: state_posted,
        decision_index: decision.index,
        created_at: now,
        give_up_at: now + state.messages.give_up_after,
    };
    super::attachments::outgoing::keep(&state.attachments, &acting.client, key, taken).await?;
    match state.exchange.post_message(&posted).await? {
        Posted::New => {
            state.messages.wake.notify_one();
            // As posted: what the outbox shows until the first attempt.
            let sent = SentMessage {
                id: posted.message_id,
                state: match posted.state {
                    OutboxState::Held => MessageState::Held,
                    _ => MessageState::Pending,
                },
                from_unit: posted.sender_unit,
                to: message.to.clone(),
                kind: message.kind.clone(),
                fields,
                decision_index: posted.decision_index,
                attempts: 0,
                last_error: None,
                created_at: posted.created_at,
                delivered: None,
                accepted: None,
            };
            Ok((sent, true))
        }
        // A retry of the same request that raced this one: the first is the message.
        Posted::Existing(earlier) => Ok((super::sent_view(&earlier, Vec::new())?, false)),
    }
}

/// The subjects, checked, and for a notice its decision.
async fn decide(
    state: &NodeState,
    rulebook: &utbyte_rules::Rulebook,
    acting: &Acting,
    message: &SendMessage,
    now: OffsetDateTime,
) -> Result<
    (
        Vec<utbyte_domain::SubjectId>,
        Option<utbyte_rules::Decision>,
    ),
    ExchangeError,
> {
    let reference = utbyte_domain::legal_time::swedish_reference_date(now)
        .map_err(|e| ExchangeError::InvalidSubject(e.to_string()))?;
    let subjects = message
        .subjects
        .iter()
        .map(|id| {
            utbyte_domain::SubjectId::parse_at(id, reference)
                .map_err(|e| ExchangeError::InvalidSubject(e.to_string()))
        })
        .collect::<Result<Vec<_>, _>>()?;
    let MessageKind::Notice { notice } = &message.kind else {
        if !message.values.is_empty() {
            return Err(ExchangeError::InvalidRequest(
                "a letter in free text carries `text`, not `values`: only a notice has fields"
                    .into(),
            ));
        }
        return Ok((subjects, None));
    };
    let (Some(purpose), Some(legal_basis)) = (&message.purpose, &message.legal_basis) else {
        return Err(ExchangeError::InvalidRequest(
            "a notice names its `purpose` and `legal_basis`".into(),
        ));
    };
    let [subject] = subjects.as_slice() else {
        return Err(ExchangeError::InvalidRequest(
            "a notice concerns exactly one subject".into(),
        ));
    };
    // Protected identity as this authority's own register of the kind knows it, if it keeps one.
    let protected_identity = match state.registers.get(notice) {
        Some(register) => register
            .protected_identity(subject)
            .await
            .map_err(|e| ExchangeError::Register(e.to_string()))?,
        None => false,
    };
    let request = Notice {
        sender: state.authority.clone(),
        sender_unit: acting.unit.clone(),
        role: acting.role.clone(),
        officer: Some(acting.officer.clone()),
        recipient: message.to.authority.clone(),
        recipient_unit: message.to.unit.clone(),
        kind: notice.clone(),
        fields: message.values.keys().cloned().collect(),
        purpose: purpose.clone(),
        legal_basis: legal_basis.clone(),
        case_ref: message.case_ref.clone(),
        subject: Subject {
            id: subject.as_str().to_owned(),
            protected_identity,
        },
        time: now,
    };
    let decision = rulebook
        .decide_notice(&request)
        .map_err(|e| ExchangeError::InvalidRequest(e.to_string()))?;
    Ok((subjects, Some(decision)))
}
