//! Signing, verifying and holding the federation configuration.

#![allow(clippy::unwrap_used, clippy::expect_used)] // tests: a panic is the failure report

use base64::Engine;
use ed25519_dalek::SigningKey;
use std::path::PathBuf;
use time::macros::datetime;
use time::{Duration, OffsetDateTime};
use utbyte_federation::{
    ConfigError, FederationConfig, JwsError, Member, RulebookBundle, TrustedConfig,
};
use utbyte_rules::rulebook::read_dir;
use utbyte_rules::Rulebook;

const NOW: OffsetDateTime = datetime!(2026-03-02 09:00 UTC);

fn config(version: u64) -> FederationConfig {
    let dir = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../rulebook");
    let files = read_dir(&dir).unwrap();
    let rulebook = Rulebook::from_sources(&files).unwrap();
    FederationConfig {
        version,
        issued_at: NOW - Duration::hours(1),
        expires_at: NOW + Duration::days(1),
        members: vec![Member {
            authority: "skatteverket".into(),
            name: "Skatteverket".into(),
            orgnr: "202100-5448".into(),
            endpoint: "https://127.0.0.1:7001".into(),
            certificates: vec!["ab".repeat(32)],
            answer_key: base64::engine::general_purpose::URL_SAFE_NO_PAD
                .encode(key(9).verifying_key().as_bytes()),
            message_keys: vec![],
        }],
        revoked: vec![],
        rulebook: RulebookBundle::new(&rulebook, &files),
    }
}

fn key(seed: u8) -> SigningKey {
    SigningKey::from_bytes(&[seed; 32])
}

#[test]
fn a_signed_configuration_verifies_and_carries_the_rulebook() {
    let signed = config(1).sign(&key(1)).unwrap();
    let verified = FederationConfig::verify(&signed, &key(1).verifying_key(), NOW).unwrap();
    assert_eq!(verified, config(1));
    let rulebook = verified.rulebook.load().unwrap();
    assert_eq!(rulebook.hash(), verified.rulebook.hash);
    assert_eq!(
        verified
            .member_by_certificate(&"ab".repeat(32))
            .unwrap()
            .authority,
        "skatteverket"
    );
}

#[test]
fn a_configuration_signed_by_another_key_is_refused() {
    let signed = config(1).sign(&key(2)).unwrap();
    let err = FederationConfig::verify(&signed, &key(1).verifying_key(), NOW).unwrap_err();
    assert!(
        matches!(err, ConfigError::Signature(JwsError::UnknownKey { .. })),
        "{err}"
    );
}

#[test]
fn an_expired_configuration_stops_exchanges_and_says_why() {
    let signed = config(1).sign(&key(1)).unwrap();
    let trusted = TrustedConfig::new(key(1).verifying_key());
    trusted.accept(&signed, NOW).unwrap();
    assert!(trusted.current(NOW).is_ok());
    let err = trusted.current(NOW + Duration::days(2)).unwrap_err();
    assert!(
        err.to_string().contains("expired at 2026-03-03T09:00:00Z"),
        "{err}"
    );
}

#[test]
fn the_last_good_copy_survives_bad_and_older_ones() {
    let trusted = TrustedConfig::new(key(1).verifying_key());
    trusted
        .accept(&config(2).sign(&key(1)).unwrap(), NOW)
        .unwrap();
    let older = config(1).sign(&key(1)).unwrap();
    assert_eq!(
        trusted.accept(&older, NOW).unwrap_err(),
        ConfigError::Rollback { have: 2, got: 1 }
    );
    let forged = config(3).sign(&key(9)).unwrap();
    assert!(trusted.accept(&forged, NOW).is_err());
    assert_eq!(trusted.current(NOW).unwrap().version, 2);
}

#[test]
fn a_tampered_rulebook_is_refused_even_when_signed() {
    let mut c = config(1);
    c.rulebook.files[0].text.push_str("\n# changed\n");
    let signed = c.sign(&key(1)).unwrap();
    let verified = FederationConfig::verify(&signed, &key(1).verifying_key(), NOW).unwrap();
    assert!(matches!(
        verified.rulebook.load(),
        Err(ConfigError::RulebookHash { .. })
    ));
}

#[test]
fn inconsistent_configurations_cannot_be_signed() {
    let mut c = config(1);
    c.members.push(c.members[0].clone());
    assert!(c
        .sign(&key(1))
        .unwrap_err()
        .to_string()
        .contains("appears twice"));
    let mut c = config(1);
    c.members[0].endpoint = "http://127.0.0.1:7001".into();
    assert!(c
        .sign(&key(1))
        .unwrap_err()
        .to_string()
        .contains("only https"));
    let mut c = config(1);
    c.revoked.push("xyz".into());
    assert!(c.sign(&key(1)).is_err());
}

#[test]
fn a_revoked_certificate_names_no_member() {
    let mut c = config(1);
    c.revoked.push("ab".repeat(32));
    assert!(c.member_by_certificate(&"ab".repeat(32)).is_none());
}

#[test]
fn a_member_without_a_valid_answer_key_is_refused() {
    let mut bad = config(1);
    bad.members[0].answer_key = "not-a-key".into();
    assert!(matches!(bad.sign(&key(1)), Err(ConfigError::Invalid(m)) if m.contains("answer key")));
    let good = config(1);
    assert_eq!(
        good.members[0].answer_key().unwrap(),
        key(9).verifying_key()
    );
}
