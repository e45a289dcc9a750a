//! Signatures a node verifies: the directory's signed federation configuration, a provider's
//! signed answer, and the bearer tokens of the local API.
//!
//! Selector (first byte, modulo 7):
//! - 0: the rest as a JWS document (flattened JSON), as `GET /v1/federation` and a provider's
//!   answer deliver it: `TrustedConfig::accept`, `open_answer`, and a review state carrying it.
//! - 1: the rest as a configuration payload, signed here with the directory key, so that what
//!   follows the signature is reached: parsing, `validate`, the clock, the rulebook bundle.
//! - 2: the rest as an answer payload, signed here with the provider's answer key: `open_answer`.
//! - 3: a valid signed configuration or answer with bytes of its JSON replaced (pairs of
//!   position and byte from the rest): whatever still verifies carries the signed payload,
//!   unchanged.
//! - 4: the rest as the protected header of an otherwise valid, validly signed configuration.
//! - 5: the rest as a bearer token, against an access-token and an assertion verifier.
//! - 6: the rest as a JSON object of claims, signed here as a token of the issuer the
//!   verifiers trust.
//!
//! Properties: nothing panics; an accepted configuration is valid, in force, and re-signs and
//! verifies to itself; an opened answer re-seals and opens to itself with the same digest.

#![no_main]

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;
use ed25519_dalek::{Signer, SigningKey};
use libfuzzer_sys::fuzz_target;
use serde_json::{Map, Value};
use std::collections::BTreeMap;
use std::sync::OnceLock;
use time::Duration;
use utbyte_access::{Issuer, KeySource, TokenKind, TokenVerifier};
use utbyte_api::{FieldVerdict, Ground, Outcome, Receipt};
use utbyte_federation::config::CONTENT_TYPE;
use utbyte_federation::{
    FederationConfig, Jws, Member, RulebookBundle, RulebookFile, TrustedConfig,
};
use utbyte_fuzz::{runtime, scratch, split, NOW};
use utbyte_node::protocol::{
    open_answer, Answer, AnswerStatus, ReviewState, SealedAnswer, ANSWER_TYPE,
};

const ISSUER: &str = "https://login.fk.example";
const AUDIENCE: &str = "utbyte:forsakringskassan";

fn directory_key() -> SigningKey {
    SigningKey::from_bytes(&[7; 32])
}

fn answer_key() -> SigningKey {
    SigningKey::from_bytes(&[9; 32])
}

fuzz_target!(
    init: {
        templates();
        tokens();
    },
    |data: &[u8]| run(data)
);

fn run(data: &[u8]) {
    let Some((selector, rest)) = split(data) else {
        return;
    };
    match selector % 7 {
        0 => raw(rest),
        1 => signed_config(&Jws::sign(rest, CONTENT_TYPE, &directory_key())),
        2 => signed_answer(&Jws::sign(rest, ANSWER_TYPE, &answer_key())),
        3 => mutated(rest),
        4 => header(rest),
        5 => {
            if let Ok(token) = std::str::from_utf8(rest) {
                bearer(token);
            }
        }
        _ => claims(rest),
    }
}

fn raw(bytes: &[u8]) {
    if let Ok(jws) = serde_json::from_slice::<Jws>(bytes) {
        let json = serde_json::to_string(&jws).unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(serde_json::from_str::<Jws>(&json).ok().as_ref(), Some(&jws));
        signed_config(&jws);
        signed_answer(&jws);
    }
    if let Ok(state) = serde_json::from_slice::<ReviewState>(bytes) {
        if let Some(answer) = &state.answer {
            signed_answer(answer);
        }
    }
}

/// What a node does with a configuration it fetched.
fn signed_config(jws: &Jws) {
    let trusted = TrustedConfig::new(directory_key().verifying_key());
    let Ok(config) = trusted.accept(jws, NOW) else {
        assert!(
            trusted.current(NOW).is_err(),
            "a refused configuration is held"
        );
        return;
    };
    config
        .validate()
        .unwrap_or_else(|e| panic!("an accepted configuration is invalid: {e}"));
    config
        .check_time(NOW)
        .unwrap_or_else(|e| panic!("an accepted configuration is not in force: {e}"));
    let held = trusted
        .current(NOW)
        .unwrap_or_else(|e| panic!("the accepted configuration is not held: {e}"));
    assert_eq!(*held, *config);
    // The same version again is no rollback.
    assert!(trusted.accept(jws, NOW).is_ok());
    for member in &config.members {
        member
            .answer_key()
            .unwrap_or_else(|e| panic!("validated, yet: {e}"));
        let _ = config.member_by_certificate(member.certificates.first().map_or("", |c| c));
    }
    let again = config
        .sign(&directory_key())
        .unwrap_or_else(|e| panic!("an accepted configuration does not sign: {e}"));
    let reread = FederationConfig::verify(&again, &directory_key().verifying_key(), NOW)
        .unwrap_or_else(|e| panic!("a re-signed configuration does not verify: {e}"));
    assert_eq!(reread, *config);
    // What the node's sync does next: load the shared rulebook.
    let _ = config.rulebook.load();
}

/// What a recipient does with a provider's signed answer, up to comparing it with its request.
fn signed_answer(jws: &Jws) {
    let Ok(opened) = open_answer(jws, &answer_key().verifying_key()) else {
        return;
    };
    let sealed = SealedAnswer::new(&opened.answer)
        .unwrap_or_else(|e| panic!("an opened answer does not seal: {e}"));
    let resigned = sealed
        .sign(&opened.receipt, &answer_key())
        .unwrap_or_else(|e| panic!("an opened answer does not sign: {e}"));
    let reopened = open_answer(&resigned, &answer_key().verifying_key())
        .unwrap_or_else(|e| panic!("a re-sealed answer does not open: {e}"));
    assert_eq!(reopened.answer, opened.answer);
    assert_eq!(reopened.receipt, opened.receipt);
    assert_eq!(reopened.sha256, sealed.sha256);
}

fn template_config() -> FederationConfig {
    FederationConfig {
        version: 3,
        issued_at: NOW - Duration::hours(1),
        expires_at: NOW + Duration::hours(23),
        members: vec![Member {
            authority: "forsakringskassan".into(),
            name: "Försäkringskassan".into(),
            orgnr: "202100-5521".into(),
            endpoint: "https://fk.example:7401".into(),
            certificates: vec!["ab".repeat(32)],
            answer_key: URL_SAFE_NO_PAD.encode(answer_key().verifying_key().as_bytes()),
        }],
        revoked: vec!["cd".repeat(32)],
        rulebook: RulebookBundle {
            name: "svensk-exempelregelbok".into(),
            version: "2026.1".into(),
            hash: "00".repeat(32),
            files: vec![RulebookFile {
                path: "rulebook.toml".into(),
                text: "name = \"x\"\nversion = \"1\"\n".into(),
            }],
        },
    }
}

fn template_answer() -> Answer {
    Answer {
        request_id: "0123456789abcdef0123456789abcdef".into(),
        provider: "forsakringskassan".into(),
        recipient: "malmo-stad".into(),
        offering: "fk-formaner".into(),
        subject: "19121212-1212".into(),
        status: AnswerStatus::Answered,
        ticket: None,
        values: BTreeMap::from([("forman".to_owned(), Value::from("sjukpenning"))]),
        fields: vec![FieldVerdict {
            field: "forman".into(),
            outcome: Outcome::Disclose,
            ground: Ground::PreAssessed,
            citations: vec!["SFS 2024:307 3 §".into()],
            reason: None,
        }],
        rulebook_sha256: "ef".repeat(32),
        decided_at: "2026-03-02T09:30:00Z".into(),
    }
}

fn template_receipt() -> Receipt {
    Receipt {
        ledger: "forsakringskassan.utbyte.example/ledger".into(),
        index: 41,
        tree_size: 42,
        root: "AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=".into(),
    }
}

/// The two valid signed documents, as JSON text, made once.
fn templates() -> &'static [(String, Vec<u8>); 2] {
    static TEMPLATES: OnceLock<[(String, Vec<u8>); 2]> = OnceLock::new();
    TEMPLATES.get_or_init(|| {
        let config = template_config()
            .sign(&directory_key())
            .unwrap_or_else(|e| panic!("the template configuration: {e}"));
        let sealed = SealedAnswer::new(&template_answer())
            .unwrap_or_else(|e| panic!("the template answer: {e}"));
        let answer = sealed
            .sign(&template_receipt(), &answer_key())
            .unwrap_or_else(|e| panic!("the template answer: {e}"));
        let text = |jws: &Jws| serde_json::to_string(jws).unwrap_or_else(|e| panic!("{e}"));
        let payload = |jws: &Jws| {
            URL_SAFE_NO_PAD
                .decode(&jws.payload)
                .unwrap_or_else(|e| panic!("{e}"))
        };
        [
            (text(&config), payload(&config)),
            (text(&answer), payload(&answer)),
        ]
    })
}

fn mutated(rest: &[u8]) {
    let Some((&which, edits)) = rest.split_first() else {
        return;
    };
    let (text, payload) = &templates()[usize::from(which % 2)];
    let mut bytes = text.as_bytes().to_vec();
    for edit in edits.chunks_exact(3) {
        let at = usize::from(u16::from_le_bytes([edit[0], edit[1]])) % bytes.len();
        bytes[at] = edit[2];
    }
    let Ok(jws) = serde_json::from_slice::<Jws>(&bytes) else {
        return;
    };
    let typ = if which % 2 == 0 {
        CONTENT_TYPE
    } else {
        ANSWER_TYPE
    };
    let key = if which % 2 == 0 {
        directory_key()
    } else {
        answer_key()
    };
    if let Ok(verified) = jws.verify(typ, &key.verifying_key()) {
        assert_eq!(&verified, payload, "a changed payload verified");
    }
    if which % 2 == 0 {
        if let Ok(config) = TrustedConfig::new(directory_key().verifying_key()).accept(&jws, NOW) {
            assert_eq!(
                *config,
                template_config(),
                "a changed configuration verified"
            );
        }
    } else if let Ok(opened) = open_answer(&jws, &answer_key().verifying_key()) {
        assert_eq!(
            opened.answer,
            template_answer(),
            "a changed answer verified"
        );
        assert_eq!(
            opened.receipt,
            template_receipt(),
            "a changed receipt verified"
        );
    }
}

fn header(rest: &[u8]) {
    let (_, payload) = &templates()[0];
    let protected = URL_SAFE_NO_PAD.encode(rest);
    let payload = URL_SAFE_NO_PAD.encode(payload);
    let signature = directory_key().sign(format!("{protected}.{payload}").as_bytes());
    let jws = Jws {
        protected,
        payload,
        signature: URL_SAFE_NO_PAD.encode(signature.to_bytes()),
    };
    let accepted = TrustedConfig::new(directory_key().verifying_key()).accept(&jws, NOW);
    if accepted.is_ok() {
        let header: Value = serde_json::from_slice(rest).unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(header["alg"], "EdDSA");
        assert_eq!(header["typ"], CONTENT_TYPE);
    }
}

/// The issuer whose keys the verifiers trust, and the two verifiers.
struct Tokens {
    issuer: Issuer,
    access: TokenVerifier,
    assertion: TokenVerifier,
}

fn tokens() -> &'static Tokens {
    static TOKENS: OnceLock<Tokens> = OnceLock::new();
    TOKENS.get_or_init(|| {
        let key = rcgen::KeyPair::generate_for(&rcgen::PKCS_ECDSA_P256_SHA256)
            .unwrap_or_else(|e| panic!("a P-256 key: {e}"));
        let issuer = Issuer::new(ISSUER, "fuzz", &key.serialize_der(), key.public_key_raw())
            .unwrap_or_else(|e| panic!("the issuer: {e}"));
        let jwks = scratch().join("jwks.json");
        std::fs::write(&jwks, issuer.jwks().to_string())
            .unwrap_or_else(|e| panic!("writing {}: {e}", jwks.display()));
        let verifier =
            |kind| TokenVerifier::new(ISSUER, AUDIENCE, kind, KeySource::File(jwks.clone()));
        Tokens {
            access: verifier(TokenKind::Access),
            assertion: verifier(TokenKind::Assertion),
            issuer,
        }
    })
}

fn bearer(token: &str) {
    let tokens = tokens();
    for verifier in [&tokens.access, &tokens.assertion] {
        match runtime().block_on(verifier.verify(token)) {
            Ok(verified) => {
                assert!(!verified.subject.is_empty());
                for claim in ["sub", "unit", "roles", "client_id", "iat", "exp"] {
                    let _ = (
                        verified.text(claim),
                        verified.number(claim),
                        verified.texts(claim),
                    );
                }
            }
            Err(err) => {
                let _ = (err.to_string(), err.reason());
            }
        }
    }
}

fn claims(rest: &[u8]) {
    let Some((&kind, json)) = rest.split_first() else {
        return;
    };
    let Ok(Value::Object(mut claims)) = serde_json::from_slice::<Value>(json) else {
        return;
    };
    // An audience and a lifetime unless the input gives them, so that verification goes on.
    claims.entry("aud").or_insert_with(|| Value::from(AUDIENCE));
    claims
        .entry("exp")
        .or_insert_with(|| Value::from(utbyte_access::issuer::now() + 300));
    let typ = if kind % 2 == 0 { "at+jwt" } else { "JWT" };
    let claims: Map<String, Value> = claims;
    if let Ok(token) = tokens().issuer.sign(typ, claims) {
        bearer(&token);
    }
}
