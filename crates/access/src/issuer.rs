//! A signer of access tokens and officer assertions, for where an agency's authorization
//! server is not there: `utbyte demo` issues its case systems' tokens with it, and the test bed
//! its callers'. It signs ES256 (ECDSA P-256, the algorithm every OAuth 2.0 server offers)
//! and publishes its key as a JWKS document, exactly as a real issuer would, so the node
//! verifies its tokens by the same path as an agency's.

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;
use jsonwebtoken::{Algorithm, EncodingKey, Header};
use serde_json::{json, Map, Value};
use std::time::{SystemTime, UNIX_EPOCH};

/// An issuer with one ES256 key.
pub struct Issuer {
    issuer: String,
    kid: String,
    key: EncodingKey,
    x: String,
    y: String,
}

impl std::fmt::Debug for Issuer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Issuer")
            .field("issuer", &self.issuer)
            .field("kid", &self.kid)
            .finish_non_exhaustive()
    }
}

impl Issuer {
    /// An issuer named `issuer` signing with the PKCS#8 (DER) P-256 key `pkcs8` and the uncompressed
    /// public point `public` (`04 || x || y`), published under `kid`.
    pub fn new(issuer: &str, kid: &str, pkcs8: &[u8], public: &[u8]) -> Result<Self, String> {
        if public.len() != 65 || public.first() != Some(&4) {
            return Err("the public key is not an uncompressed P-256 point".into());
        }
        let key = EncodingKey::from_ec_der(pkcs8);
        Ok(Self {
            issuer: issuer.to_owned(),
            kid: kid.to_owned(),
            key,
            x: URL_SAFE_NO_PAD.encode(&public[1..33]),
            y: URL_SAFE_NO_PAD.encode(&public[33..]),
        })
    }

    pub fn issuer(&self) -> &str {
        &self.issuer
    }

    /// The issuer's JWKS document.
    pub fn jwks(&self) -> Value {
        json!({"keys": [{
            "kty": "EC", "crv": "P-256", "use": "sig", "alg": "ES256",
            "kid": self.kid, "x": self.x, "y": self.y,
        }]})
    }

    /// Signs `claims` (with `iss`, `iat` and `jti` added when absent) under the `typ` given.
    pub fn sign(&self, typ: &str, claims: Map<String, Value>) -> Result<String, String> {
        let mut claims = claims;
        let now = now();
        claims
            .entry("iss")
            .or_insert_with(|| Value::String(self.issuer.clone()));
        claims.entry("iat").or_insert_with(|| Value::from(now));
        if !claims.contains_key("jti") {
            let mut id = [0u8; 16];
            getrandom::fill(&mut id).map_err(|e| e.to_string())?;
            claims.insert("jti".into(), Value::String(URL_SAFE_NO_PAD.encode(id)));
        }
        let mut header = Header::new(Algorithm::ES256);
        header.typ = Some(typ.to_owned());
        header.kid = Some(self.kid.clone());
        jsonwebtoken::encode(&header, &claims, &self.key).map_err(|e| e.to_string())
    }

    /// An RFC 9068 access token for `client` at `audience`, valid for `seconds`.
    pub fn access_token(
        &self,
        client: &str,
        audience: &str,
        seconds: u64,
    ) -> Result<String, String> {
        let exp = now() + seconds;
        let claims = json!({"sub": client, "client_id": client, "aud": audience, "exp": exp});
        self.sign("at+jwt", object(claims))
    }

    /// An officer assertion for `audience`, valid for `seconds`.
    pub fn officer_assertion(
        &self,
        officer: &str,
        unit: &str,
        roles: &[&str],
        audience: &str,
        seconds: u64,
    ) -> Result<String, String> {
        let exp = now() + seconds;
        let claims =
            json!({"sub": officer, "unit": unit, "roles": roles, "aud": audience, "exp": exp});
        self.sign("JWT", object(claims))
    }
}

fn object(value: Value) -> Map<String, Value> {
    match value {
        Value::Object(map) => map,
        _ => Map::new(),
    }
}

/// Seconds since the epoch.
pub fn now() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_secs())
}
