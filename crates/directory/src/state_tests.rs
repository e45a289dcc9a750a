//! The state directory and the operator's changes, on the example rulebook with certificates
//! from a real federation CA.

#![allow(clippy::unwrap_used)]

use super::*;
use crate::operator;
use std::path::PathBuf;
use utbyte_pki::{FederationCa, NodeCertificate, NodeRequest, Validity};

fn rulebook_dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../rulebook")
}

struct Fixture {
    dir: tempfile::TempDir,
    ca: FederationCa,
    state: FederationState,
}

fn fixture() -> Fixture {
    let dir = tempfile::tempdir().unwrap();
    let ca = FederationCa::init(&dir.path().join("ca"), "test CA", Validity::Days(3650)).unwrap();
    let (_, bundle) = operator::checked_rulebook(&rulebook_dir()).unwrap();
    let state_dir = dir.path().join("state");
    let (state, first) = FederationState::init(
        &state_dir,
        &state_dir.join(DEFAULT_KEY_FILE),
        DirectorySettings {
            authority: "digg".into(),
            lifetime_seconds: 3600,
        },
        bundle,
        OffsetDateTime::now_utc(),
    )
    .unwrap();
    assert_eq!(first.config.version, 1);
    Fixture { dir, ca, state }
}

fn certificate(ca: &FederationCa, authority: &str, orgnr: &str, name: &str) -> NodeCertificate {
    let request = NodeRequest::new(authority, orgnr, name)
        .unwrap()
        .ip_address(std::net::Ipv4Addr::LOCALHOST.into());
    ca.issue(&request).unwrap().certificate
}

fn key() -> String {
    utbyte_pki::signing_key::encode_public(&SigningKey::from_bytes(&[7; 32]).verifying_key())
}

fn admit_fk(f: &Fixture) -> NodeCertificate {
    let cert = certificate(
        &f.ca,
        "forsakringskassan",
        "202100-5521",
        "Försäkringskassan",
    );
    f.state
        .change(OffsetDateTime::now_utc(), |c| {
            operator::admit(
                c,
                "forsakringskassan",
                "https://127.0.0.1:7401",
                &cert,
                &key(),
            )
        })
        .unwrap();
    cert
}

#[test]
fn every_change_is_a_new_signed_version_kept_with_what_changed() {
    let f = fixture();
    let cert = admit_fk(&f);
    f.state
        .change(OffsetDateTime::now_utc(), |c| {
            operator::set_endpoint(c, "forsakringskassan", "https://127.0.0.1:7411")
        })
        .unwrap();
    f.state
        .change(OffsetDateTime::now_utc(), |c| {
            operator::revoke(c, cert.fingerprint())
        })
        .unwrap();
    let versions = f.state.versions().unwrap();
    let numbers: Vec<u64> = versions.iter().map(|v| v.version).collect();
    assert_eq!(numbers, [1, 2, 3, 4]);
    assert!(
        versions[1].change.starts_with("admitted forsakringskassan"),
        "{versions:?}"
    );
    assert!(versions[2].change.contains("to https://127.0.0.1:7411"));
    assert!(versions[3].change.starts_with("revoked certificate"));
    assert_eq!((versions[0].members, versions[3].members), (0, 1));
    assert_eq!(versions[3].revoked, 1);
    // Old versions stay readable, signed, and as they were.
    let second = f.state.version(2).unwrap();
    assert_eq!(second.config.members[0].endpoint, "https://127.0.0.1:7401");
    let verified = utbyte_federation::FederationConfig::verify(
        &second.signed,
        &f.state.directory_key(),
        OffsetDateTime::now_utc(),
    )
    .unwrap();
    assert_eq!(verified, second.config);
    assert!(f.dir.path().join("state/versions/000004.jws").exists());
    // A state reopened with its key sees the same history.
    let reopened = FederationState::open(
        &f.dir.path().join("state"),
        &f.dir.path().join("state").join(DEFAULT_KEY_FILE),
    )
    .unwrap();
    assert_eq!(reopened.current().unwrap().config.version, 4);
}

#[test]
fn refused_changes_publish_nothing() {
    let f = fixture();
    let cert = admit_fk(&f);
    let before = f.state.latest_version().unwrap();
    let now = OffsetDateTime::now_utc();
    let malmo = certificate(&f.ca, "malmo-stad", "212000-1124", "Malmö stad");
    let refusals: Vec<(&str, Result<Published, StateError>)> = vec![
        (
            "a member already",
            f.state.change(now, |c| {
                operator::admit(c, "forsakringskassan", "https://h:1", &cert, &key())
            }),
        ),
        (
            "names `malmo-stad`",
            f.state.change(now, |c| {
                operator::admit(c, "skatteverket", "https://h:1", &malmo, &key())
            }),
        ),
        (
            "https://",
            f.state.change(now, |c| {
                operator::admit(c, "malmo-stad", "http://h:1", &malmo, &key())
            }),
        ),
        (
            "answer key",
            f.state.change(now, |c| {
                operator::admit(c, "malmo-stad", "https://h:1", &malmo, "x")
            }),
        ),
        (
            "not a member",
            f.state.change(now, |c| {
                operator::set_endpoint(c, "skatteverket", "https://h:1")
            }),
        ),
        (
            "exactly these",
            f.state.change(now, |c| {
                operator::rotate(c, "forsakringskassan", &cert, false)
            }),
        ),
        (
            "published already",
            f.state.change(now, |c| {
                let (rulebook, bundle) = operator::checked_rulebook(&rulebook_dir())?;
                operator::publish_rulebook(c, &rulebook, bundle)
            }),
        ),
    ];
    for (says, result) in refusals {
        let err = result.unwrap_err().to_string();
        assert!(err.contains(says), "expected `{says}`: {err}");
    }
    assert_eq!(f.state.latest_version().unwrap(), before);
}

#[test]
fn rotation_can_keep_the_old_certificate_during_an_overlap() {
    let f = fixture();
    let old = admit_fk(&f);
    let new = certificate(
        &f.ca,
        "forsakringskassan",
        "202100-5521",
        "Försäkringskassan",
    );
    let rotated = f
        .state
        .change(OffsetDateTime::now_utc(), |c| {
            operator::rotate(c, "forsakringskassan", &new, true)
        })
        .unwrap();
    let both = &rotated.config.members[0].certificates;
    assert_eq!(
        both,
        &[new.fingerprint().to_string(), old.fingerprint().to_string()]
    );
    let done = f
        .state
        .change(OffsetDateTime::now_utc(), |c| {
            operator::rotate(c, "forsakringskassan", &new, false)
        })
        .unwrap();
    assert_eq!(
        done.config.members[0].certificates,
        [new.fingerprint().to_string()]
    );
}

#[test]
fn a_message_key_is_published_newest_first_and_the_old_one_kept_only_when_asked() {
    let f = fixture();
    admit_fk(&f);
    let key = |seed: u8| {
        utbyte_message::MessageKey::from_seed(&[seed; 32])
            .public()
            .encode()
    };
    let set = |k: &str, keep_old: bool| {
        f.state.change(OffsetDateTime::now_utc(), |c| {
            operator::set_message_key(c, "forsakringskassan", k, keep_old)
        })
    };
    let first = set(&key(1), false).unwrap();
    assert_eq!(first.config.members[0].message_keys, [key(1)]);
    let rotated = set(&key(2), true).unwrap();
    assert_eq!(rotated.config.members[0].message_keys, [key(2), key(1)]);
    assert_eq!(
        rotated.config.members[0].message_key().unwrap(),
        Some(utbyte_message::RecipientKey::decode(&key(2)).unwrap()),
        "senders seal for the newest"
    );
    let done = set(&key(3), false).unwrap();
    assert_eq!(done.config.members[0].message_keys, [key(3)]);
    let before = f.state.latest_version().unwrap();
    for (bad, why) in [(key(3), "already"), ("not-a-key".to_owned(), "X25519")] {
        let err = set(&bad, false).unwrap_err().to_string();
        assert!(err.contains(why), "{err}");
    }
    assert_eq!(
        f.state.latest_version().unwrap(),
        before,
        "a refusal publishes nothing"
    );
}

#[test]
fn a_broken_rulebook_is_refused_with_its_problems() {
    let f = fixture();
    let broken = f.dir.path().join("broken");
    std::fs::create_dir_all(&broken).unwrap();
    for entry in std::fs::read_dir(rulebook_dir()).unwrap() {
        let entry = entry.unwrap();
        if entry.file_type().unwrap().is_file() {
            std::fs::copy(entry.path(), broken.join(entry.file_name())).unwrap();
        }
    }
    std::fs::create_dir_all(broken.join("policies")).unwrap();
    std::fs::write(
        broken.join("policies/bad.cedar"),
        "permit(principal, action, resource) when { nonsense };",
    )
    .unwrap();
    match operator::checked_rulebook(&broken) {
        Err(StateError::Rulebook { problems }) => {
            assert!(
                problems.iter().any(|p| p.contains("bad.cedar")),
                "{problems:?}"
            )
        }
        other => panic!("expected a refusal, got {:?}", other.map(|_| ())),
    }
}

#[test]
fn the_configuration_is_reissued_at_half_its_lifetime_and_kept() {
    let f = fixture();
    let now = OffsetDateTime::now_utc();
    assert!(f.state.reissue_if_due(now).unwrap().is_none());
    let later = now + Duration::minutes(31);
    let reissued = f.state.reissue_if_due(later).unwrap().unwrap();
    assert_eq!(reissued.config.version, 2);
    assert!(reissued.config.expires_at > later);
    assert!(
        f.state.reissue_if_due(later).unwrap().is_none(),
        "once only"
    );
    assert!(f.state.versions().unwrap()[1].change.contains("re-issued"));
}

#[test]
fn a_state_is_created_once_and_opened_only_with_its_key() {
    let f = fixture();
    let state_dir = f.dir.path().join("state");
    let (_, bundle) = operator::checked_rulebook(&rulebook_dir()).unwrap();
    let settings = f.state.settings().clone();
    let again = FederationState::init(
        &state_dir,
        &state_dir.join(DEFAULT_KEY_FILE),
        settings,
        bundle,
        OffsetDateTime::now_utc(),
    );
    assert!(matches!(again, Err(StateError::AlreadyInitialised(_))));
    let other_key = f.dir.path().join("other.key");
    utbyte_pki::signing_key::load_or_create(&other_key).unwrap();
    let wrong = FederationState::open(&state_dir, &other_key).unwrap();
    assert!(matches!(wrong.current(), Err(StateError::Corrupt { .. })));
    assert!(matches!(
        FederationState::open(&f.dir.path().join("nothing"), &other_key),
        Err(StateError::NotInitialised(_))
    ));
}
