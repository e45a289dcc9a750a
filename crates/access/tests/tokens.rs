//! Access tokens and officer assertions, verified against a JWKS file: every way a token can
//! be wrong gets its own error, and a rotated key is picked up without a restart.

#![allow(clippy::unwrap_used, clippy::expect_used)] // tests: a panic is the failure report

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;
use serde_json::{json, Map, Value};
use std::path::Path;
use std::time::Duration;
use utbyte_access::issuer::now;
use utbyte_access::{Issuer, KeySource, TokenError, TokenKind, TokenVerifier};

const ISSUER: &str = "https://login.fk.example";
const AUDIENCE: &str = "utbyte:forsakringskassan";

fn issuer(kid: &str) -> Issuer {
    let key = rcgen::KeyPair::generate_for(&rcgen::PKCS_ECDSA_P256_SHA256).unwrap();
    Issuer::new(ISSUER, kid, &key.serialize_der(), key.public_key_raw()).unwrap()
}

fn write_jwks(path: &Path, issuers: &[&Issuer]) {
    let keys: Vec<Value> = issuers
        .iter()
        .flat_map(|i| i.jwks()["keys"].as_array().unwrap().clone())
        .collect();
    std::fs::write(path, json!({ "keys": keys }).to_string()).unwrap();
}

fn verifier(path: &Path, kind: TokenKind) -> TokenVerifier {
    TokenVerifier::new(ISSUER, AUDIENCE, kind, KeySource::File(path.to_owned()))
        .with_refetch(Duration::ZERO)
}

/// An issuer `k1` publishing its key in a JWKS file, and an access-token verifier trusting it
/// (the directory holding the file lives as long as the first value).
fn one_issuer() -> (tempfile::TempDir, Issuer, TokenVerifier) {
    let dir = tempfile::tempdir().unwrap();
    let jwks = dir.path().join("jwks.json");
    let idp = issuer("k1");
    write_jwks(&jwks, &[&idp]);
    let tokens = verifier(&jwks, TokenKind::Access);
    (dir, idp, tokens)
}

fn claims(value: Value) -> Map<String, Value> {
    value.as_object().unwrap().clone()
}

#[tokio::test]
async fn a_good_access_token_names_its_client() {
    let (_dir, idp, tokens) = one_issuer();
    let token = idp.access_token("arende", AUDIENCE, 300).unwrap();
    let verified = tokens.verify(&token).await.unwrap();
    assert_eq!(verified.subject, "arende");
    assert_eq!(verified.text("client_id"), Some("arende"));
}

#[tokio::test]
async fn every_bad_token_is_refused_with_its_own_reason() {
    let (_dir, idp, tokens) = one_issuer();
    let sign = |extra: Value| {
        let mut c = claims(json!({"sub": "arende", "aud": AUDIENCE, "exp": now() + 300}));
        for (k, v) in claims(extra) {
            c.insert(k, v);
        }
        idp.sign("at+jwt", c).unwrap()
    };
    let check = |expected: &'static str| {
        move |result: Result<_, TokenError>| {
            let error = result
                .err()
                .unwrap_or_else(|| panic!("{expected}: accepted"));
            assert_eq!(error.reason(), expected, "{error}");
        }
    };

    check("token-malformed")(tokens.verify("not a token").await);
    check("token-expired")(tokens.verify(&sign(json!({"exp": now() - 3600}))).await);
    check("token-not-yet-valid")(tokens.verify(&sign(json!({"nbf": now() + 3600}))).await);
    check("token-wrong-audience")(tokens.verify(&sign(json!({"aud": "someone-else"}))).await);
    check("token-wrong-issuer")(
        tokens
            .verify(&sign(json!({"iss": "https://evil.example"})))
            .await,
    );
    let mut no_exp = claims(json!({"sub": "arende", "aud": AUDIENCE}));
    no_exp.insert("iss".into(), ISSUER.into());
    check("token-missing-claim")(tokens.verify(&idp.sign("at+jwt", no_exp).unwrap()).await);

    // An ID token cannot stand in for an access token.
    let id_token = idp
        .officer_assertion("rut", "fk-kontroll", &["jurist"], AUDIENCE, 300)
        .unwrap();
    check("token-wrong-type")(tokens.verify(&id_token).await);

    // Forged: the claims changed after signing.
    let good = sign(json!({}));
    let parts: Vec<&str> = good.split('.').collect();
    let mut payload: Value =
        serde_json::from_slice(&URL_SAFE_NO_PAD.decode(parts[1]).unwrap()).unwrap();
    payload["sub"] = "someone-else".into();
    let tampered = format!(
        "{}.{}.{}",
        parts[0],
        URL_SAFE_NO_PAD.encode(payload.to_string()),
        parts[2]
    );
    check("token-forged")(tokens.verify(&tampered).await);

    // Forged: signed by a key of another issuer that reuses the right kid.
    let impostor = issuer("k1");
    check("token-forged")(
        tokens
            .verify(&impostor.access_token("arende", AUDIENCE, 300).unwrap())
            .await,
    );

    // A symmetric algorithm is refused before any key is looked at.
    let header = URL_SAFE_NO_PAD.encode(r#"{"alg":"HS256","typ":"at+jwt","kid":"k1"}"#);
    let hs = format!("{header}.{}.{}", parts[1], parts[2]);
    check("token-algorithm")(tokens.verify(&hs).await);

    // A key the issuer does not publish.
    let stranger = issuer("k9");
    check("token-unknown-key")(
        tokens
            .verify(&stranger.access_token("arende", AUDIENCE, 300).unwrap())
            .await,
    );
}

#[tokio::test]
async fn a_rotated_key_is_fetched_again_and_a_removed_one_stops_working() {
    let dir = tempfile::tempdir().unwrap();
    let jwks = dir.path().join("jwks.json");
    let old = issuer("2026-11");
    write_jwks(&jwks, &[&old]);
    let tokens = verifier(&jwks, TokenKind::Access);
    assert_eq!(tokens.load().await.unwrap(), 1);
    let before = old.access_token("arende", AUDIENCE, 300).unwrap();
    tokens.verify(&before).await.unwrap();

    // The server publishes a new key beside the old one and signs with it.
    let new = issuer("2026-12");
    write_jwks(&jwks, &[&old, &new]);
    tokens
        .verify(&new.access_token("arende", AUDIENCE, 300).unwrap())
        .await
        .unwrap();

    // Then withdraws the old one: once the set is read again, its tokens are refused.
    write_jwks(&jwks, &[&new]);
    assert_eq!(tokens.load().await.unwrap(), 1);
    let error = tokens.verify(&before).await.unwrap_err();
    assert_eq!(error, TokenError::UnknownKey);
}

#[tokio::test]
async fn a_token_verified_before_is_taken_again_but_one_altered_byte_is_not() {
    let (_dir, idp, tokens) = one_issuer();
    let token = idp.access_token("arende", AUDIENCE, 300).unwrap();
    let first = tokens.verify(&token).await.unwrap();
    let again = tokens.verify(&token).await.unwrap();
    assert_eq!(again.claims, first.claims);
    // The same claims under a signature with one bit flipped: verified afresh, and refused.
    let (signed, signature) = token.rsplit_once('.').unwrap();
    let mut bytes = URL_SAFE_NO_PAD.decode(signature).unwrap();
    bytes[0] ^= 1;
    let altered = format!("{signed}.{}", URL_SAFE_NO_PAD.encode(bytes));
    assert_eq!(
        tokens.verify(&altered).await.unwrap_err(),
        TokenError::Forged
    );
    // The same claims signed by a key the issuer does not publish under the same name.
    let impostor = issuer("k1");
    let forged = impostor.access_token("arende", AUDIENCE, 300).unwrap();
    assert_eq!(
        tokens.verify(&forged).await.unwrap_err(),
        TokenError::Forged
    );
    tokens.verify(&token).await.unwrap();
}

#[tokio::test]
async fn unknown_keys_do_not_make_the_node_fetch_the_key_set_on_every_token() {
    let dir = tempfile::tempdir().unwrap();
    let jwks = dir.path().join("jwks.json");
    let idp = issuer("k1");
    write_jwks(&jwks, &[&idp]);
    let tokens = TokenVerifier::new(
        ISSUER,
        AUDIENCE,
        TokenKind::Access,
        KeySource::File(jwks.clone()),
    );
    tokens.load().await.unwrap();
    // A new key appears, but the set was read a moment ago: within the refetch interval an
    // unknown kid is refused without reading the source again.
    let new = issuer("k2");
    write_jwks(&jwks, &[&idp, &new]);
    let error = tokens
        .verify(&new.access_token("arende", AUDIENCE, 300).unwrap())
        .await
        .unwrap_err();
    assert_eq!(error, TokenError::UnknownKey);
}

#[tokio::test]
async fn an_assertion_must_not_be_an_access_token_and_a_missing_key_set_is_unavailable() {
    let dir = tempfile::tempdir().unwrap();
    let jwks = dir.path().join("jwks.json");
    let idp = issuer("k1");
    let assertions = verifier(&jwks, TokenKind::Assertion);
    let token = idp
        .officer_assertion("rut", "fk-kontroll", &["jurist"], AUDIENCE, 300)
        .unwrap();
    assert_eq!(
        assertions.verify(&token).await.unwrap_err().reason(),
        "keys-unavailable"
    );
    write_jwks(&jwks, &[&idp]);
    let verified = assertions.verify(&token).await.unwrap();
    assert_eq!(verified.subject, "rut");
    assert_eq!(verified.texts("roles"), ["jurist"]);
    assert!(verified.text("jti").is_some());
    let access = idp.access_token("arende", AUDIENCE, 300).unwrap();
    assert_eq!(
        assertions.verify(&access).await.unwrap_err().reason(),
        "token-wrong-type"
    );
}
