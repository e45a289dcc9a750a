//! Every rejection branch of answer verification, each from an answer that differs from a
//! good one in exactly that respect.

use super::*;
use crate::protocol::{Answer, FieldVerdict, Receipt, SealedAnswer};
use ed25519_dalek::SigningKey;
use serde_json::json;
use std::collections::BTreeMap;
use utbyte_api::Ground;
use utbyte_rules::{DisclosureRequest, Subject};

const SUBJECT: &str = "19121212-1212";

fn key(seed: u8) -> SigningKey {
    SigningKey::from_bytes(&[seed; 32])
}

fn member(signing: &SigningKey) -> Member {
    Member {
        authority: "forsakringskassan".into(),
        name: "Försäkringskassan".into(),
        orgnr: "202100-5521".into(),
        endpoint: "https://127.0.0.1:1".into(),
        certificates: vec![],
        answer_key: crate::encode_key(&signing.verifying_key()),
        message_keys: Vec::new(),
    }
}

fn checked() -> CheckedRequest {
    CheckedRequest::check(DisclosureRequest {
        recipient: "malmo".into(),
        unit: "malmo-ekonomiskt-bistand".into(),
        role: "handlaggare".into(),
        officer: None,
        vouched_by: None,
        offering: "fk-formaner".into(),
        fields: vec!["bostadsbidrag".into(), "diagnos".into()],
        purpose: "kontroll".into(),
        legal_basis: "luffa".into(),
        case_ref: "M-1".into(),
        operation: None,
        subject: Subject {
            id: SUBJECT.into(),
            protected_identity: false,
        },
        time: time::macros::datetime!(2026-06-01 12:00 UTC),
    })
    .unwrap_or_else(|e| panic!("{e}"))
}

fn verdict(field: &str, outcome: Outcome) -> FieldVerdict {
    FieldVerdict {
        field: field.into(),
        outcome,
        ground: Ground::Provision,
        citations: vec!["SFS 2024:307 3 §".into()],
        reason: None,
    }
}

/// A correct answer: `bostadsbidrag` disclosed with its value, `diagnos` refused.
fn good() -> Answer {
    Answer {
        request_id: "0123456789abcdef0123456789abcdef".into(),
        provider: "forsakringskassan".into(),
        recipient: "malmo".into(),
        offering: "fk-formaner".into(),
        subject: SUBJECT.into(),
        status: AnswerStatus::Answered,
        ticket: None,
        values: BTreeMap::from([("bostadsbidrag".to_owned(), json!(1200))]),
        fields: vec![
            verdict("bostadsbidrag", Outcome::Disclose),
            verdict("diagnos", Outcome::Refuse),
        ],
        rulebook_sha256: "00".repeat(32),
        decided_at: "2026-06-01T12:00:00Z".into(),
    }
}

fn signed(answer: &Answer, with: &SigningKey) -> Jws {
    let receipt = Receipt {
        ledger: "forsakringskassan.utbyte.invalid/audit".into(),
        index: 7,
        tree_size: 8,
        root: "00".repeat(32),
    };
    SealedAnswer::new(answer)
        .and_then(|sealed| sealed.sign(&receipt, with))
        .unwrap_or_else(|p| panic!("{p}"))
}

fn check(answer: &Answer, member: &Member, signer: &SigningKey) -> Result<(), AnswerRejected> {
    let request = checked();
    let expected = Expected {
        member,
        request: &request,
        request_id: "0123456789abcdef0123456789abcdef",
        recipient: "malmo",
        status: AnswerStatus::Answered,
    };
    verify(&expected, &signed(answer, signer)).map(|_| ())
}

/// One way of spoiling a good answer.
type Change = fn(&mut Answer);

fn check_changed(change: impl FnOnce(&mut Answer)) -> Result<(), AnswerRejected> {
    let mut answer = good();
    change(&mut answer);
    check(&answer, &member(&key(1)), &key(1))
}

#[test]
fn a_correct_answer_is_accepted() {
    assert_eq!(check_changed(|_| {}), Ok(()));
}

#[test]
fn an_unusable_provider_key_rejects() {
    let mut listed = member(&key(1));
    listed.answer_key = "not a key".into();
    assert!(matches!(
        check(&good(), &listed, &key(1)),
        Err(AnswerRejected::ProviderKey(_))
    ));
}

#[test]
fn another_signer_rejects() {
    assert!(matches!(
        check(&good(), &member(&key(1)), &key(2)),
        Err(AnswerRejected::Unreadable(_))
    ));
}

#[test]
fn an_answer_to_another_request_rejects() {
    let cases: [(&str, Change); 5] = [
        ("request id", |a| {
            a.request_id = "ffffffffffffffffffffffffffffffff".into()
        }),
        ("provider", |a| a.provider = "skatteverket".into()),
        ("recipient", |a| a.recipient = "polisen".into()),
        ("offering", |a| a.offering = "fk-arenden".into()),
        ("subject", |a| a.subject = "19121212-1220".into()),
    ];
    for (what, change) in cases {
        assert_eq!(
            check_changed(change),
            Err(AnswerRejected::Mismatch(what)),
            "{what}"
        );
    }
}

#[test]
fn a_field_list_other_than_the_requested_rejects() {
    let field_list = Err(AnswerRejected::Mismatch("list of decided fields"));
    assert_eq!(
        check_changed(|a| {
            a.fields.pop();
        }),
        field_list,
        "a field left out"
    );
    assert_eq!(
        check_changed(|a| a.fields.push(verdict("inkomst", Outcome::Refuse))),
        field_list,
        "a field not asked for"
    );
    assert_eq!(
        check_changed(|a| a.fields[1] = verdict("bostadsbidrag", Outcome::Disclose)),
        field_list,
        "one field decided twice, another not at all"
    );
}

#[test]
fn a_value_the_decision_does_not_disclose_rejects() {
    assert_eq!(
        check_changed(|a| {
            a.values.insert("diagnos".into(), json!("F32"));
        }),
        Err(AnswerRejected::Undisclosed("diagnos".into()))
    );
    assert_eq!(
        check_changed(|a| {
            a.values.insert("inkomst".into(), json!(1));
        }),
        Err(AnswerRejected::Undisclosed("inkomst".into())),
        "a value for a field not asked for at all"
    );
}

#[test]
fn a_status_other_than_promised_rejects() {
    assert_eq!(
        check_changed(|a| {
            a.status = AnswerStatus::Review;
            a.values.clear();
        }),
        Err(AnswerRejected::StatusMismatch)
    );
}
