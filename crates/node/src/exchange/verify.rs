//! Verifying a provider's signed answer against the request it answers, before anything of it
//! is recorded or handed to a case system. Every way an answer can be wrong is its own
//! [`AnswerRejected`], checked in this order: the signature (nothing unsigned is read), then
//! that it answers *this* request (id, provider, recipient, offering, subject, exactly the
//! requested fields), then that it carries no value its own decision does not disclose, then
//! that its status is the one the HTTP status promised.

use super::CheckedRequest;
use crate::protocol::{open_answer, AnswerStatus, OpenedAnswer};
use std::collections::HashSet;
use utbyte_api::Outcome;
use utbyte_federation::{Jws, Member};

/// Why an answer was discarded.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum AnswerRejected {
    #[error("the provider's answer key in the federation configuration is unusable: {0}")]
    ProviderKey(String),
    /// Bad signature or a payload that is not an answer.
    #[error("{0}")]
    Unreadable(String),
    #[error("the answer's {0} does not match the request")]
    Mismatch(&'static str),
    #[error("the answer carries field `{0}`, which its own decision does not disclose")]
    Undisclosed(String),
    #[error("the answer's status does not match the HTTP status")]
    StatusMismatch,
}

/// What the recipient expects of an answer.
pub(crate) struct Expected<'a> {
    pub member: &'a Member,
    pub request: &'a CheckedRequest,
    pub request_id: &'a str,
    pub recipient: &'a str,
    pub status: AnswerStatus,
}

/// Opens and checks `signed`; the answer, only if every check holds.
pub(crate) fn verify(
    expected: &Expected<'_>,
    signed: &Jws,
) -> Result<OpenedAnswer, AnswerRejected> {
    let key = expected
        .member
        .answer_key()
        .map_err(|e| AnswerRejected::ProviderKey(e.to_string()))?;
    let opened = open_answer(signed, &key).map_err(AnswerRejected::Unreadable)?;
    let answer = &opened.answer;
    let request = expected.request.request();
    let checks: [(&'static str, bool); 5] = [
        ("request id", answer.request_id == expected.request_id),
        ("provider", answer.provider == expected.member.authority),
        ("recipient", answer.recipient == expected.recipient),
        ("offering", answer.offering == request.offering),
        (
            "subject",
            answer.subject == expected.request.subject().as_str(),
        ),
    ];
    if let Some((what, _)) = checks.iter().find(|(_, holds)| !holds) {
        return Err(AnswerRejected::Mismatch(what));
    }
    let requested: HashSet<&str> = request.fields.iter().map(String::as_str).collect();
    let decided: HashSet<&str> = answer.fields.iter().map(|f| f.field.as_str()).collect();
    if requested != decided || decided.len() != answer.fields.len() {
        return Err(AnswerRejected::Mismatch("list of decided fields"));
    }
    if let Some(extra) = answer.values.keys().find(|field| {
        !answer
            .fields
            .iter()
            .any(|f| f.field == **field && f.outcome == Outcome::Disclose)
    }) {
        return Err(AnswerRejected::Undisclosed(extra.clone()));
    }
    if answer.status != expected.status {
        return Err(AnswerRejected::StatusMismatch);
    }
    Ok(opened)
}

#[cfg(test)]
#[path = "verify_tests.rs"]
mod tests;
