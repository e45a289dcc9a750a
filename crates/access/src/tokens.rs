//! Signed tokens from the agency's authorization server and identity provider: OAuth 2.0 access
//! tokens in the JWT profile of RFC 9068 (header `typ: at+jwt`), and officer assertions (an
//! OpenID Connect ID token or any JWT the identity provider signs with the officer's claims).
//!
//! Verification order, each step with its own [`TokenError`]: the token's form; its type (an
//! access token must say `at+jwt`, an assertion must not, so neither can stand in for the
//! other — RFC 9068 §4); its algorithm (asymmetric only: a JWKS holds public keys, and a
//! symmetric algorithm with a public key as the secret is the classic forgery); its key, by
//! `kid`, from the cached key set or, when the key is not there, from the key set fetched
//! again (at most once per `refetch` interval, so a flood of made-up `kid`s cannot make the
//! node hammer the identity provider); the signature; then the claims — `exp`, `nbf`, `iss`,
//! `aud` and `sub` are required and checked, with a minute of leeway for clock skew.
//!
//! A case system presents one access token on every call until it expires, so an access token
//! once verified is remembered (by its SHA-256, up to [`REMEMBERED_TOKENS`] of them) with the key
//! that verified it: presented again, it is taken without checking its signature again for as
//! long as it has not expired and the key set still holds that key. Only the signature check is
//! skipped — the token's every other property is fixed by its bytes — and a token that differs
//! by one byte is verified afresh.

use jsonwebtoken::errors::ErrorKind;
use jsonwebtoken::jwk::{Jwk, JwkSet};
use jsonwebtoken::{Algorithm, DecodingKey, Validation};
use serde_json::{Map, Value};
use sha2::{Digest, Sha256};
use std::collections::HashMap;
use std::path::PathBuf;
use std::sync::{Mutex, RwLock};
use std::time::{Duration, Instant};

/// Clock skew tolerated on `exp` and `nbf`, in seconds.
pub const LEEWAY_SECONDS: u64 = 60;
/// The longest token accepted, in bytes; real ones are a few kilobytes.
pub const MAX_TOKEN_BYTES: usize = 16 * 1024;
/// How often the key set may be fetched again because a token named an unknown key.
pub const DEFAULT_REFETCH: Duration = Duration::from_secs(30);
/// The most access tokens remembered as verified; more live tokens than that are verified
/// each time, as before any was remembered.
pub const REMEMBERED_TOKENS: usize = 4096;

/// The algorithms a token may be signed with.
const ASYMMETRIC: [Algorithm; 9] = [
    Algorithm::RS256,
    Algorithm::RS384,
    Algorithm::RS512,
    Algorithm::PS256,
    Algorithm::PS384,
    Algorithm::PS512,
    Algorithm::ES256,
    Algorithm::ES384,
    Algorithm::EdDSA,
];

/// Why a token was not accepted. [`TokenError::reason`] is the stable slug problems and
/// metrics use; no variant carries the token or a claim's value.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum TokenError {
    #[error("the token is not a JWT (three base64url parts with a JSON header)")]
    Malformed,
    #[error("the token is of the wrong type for this use (`typ` {found:?})")]
    WrongType { found: Option<String> },
    #[error("the token is signed with an algorithm that is not accepted ({algorithm})")]
    Algorithm { algorithm: String },
    #[error("the token names a key the issuer does not publish")]
    UnknownKey,
    #[error("the token's signature does not verify: it was not signed by the issuer")]
    Forged,
    #[error("the token has expired")]
    Expired,
    #[error("the token is not valid yet")]
    NotYetValid,
    #[error("the token was issued by another issuer")]
    WrongIssuer,
    #[error("the token is meant for another audience")]
    WrongAudience,
    #[error("the token lacks the claim `{claim}`")]
    MissingClaim { claim: String },
    #[error("the token has been used before")]
    Replayed,
    #[error("the token was issued more than {seconds} seconds ago")]
    TooOld { seconds: u64 },
    #[error("the issuer's keys cannot be read: {0}")]
    KeysUnavailable(String),
}

impl TokenError {
    /// The stable name of what was wrong.
    pub fn reason(&self) -> &'static str {
        match self {
            TokenError::Malformed => "token-malformed",
            TokenError::WrongType { .. } => "token-wrong-type",
            TokenError::Algorithm { .. } => "token-algorithm",
            TokenError::UnknownKey => "token-unknown-key",
            TokenError::Forged => "token-forged",
            TokenError::Expired => "token-expired",
            TokenError::NotYetValid => "token-not-yet-valid",
            TokenError::WrongIssuer => "token-wrong-issuer",
            TokenError::WrongAudience => "token-wrong-audience",
            TokenError::MissingClaim { .. } => "token-missing-claim",
            TokenError::Replayed => "token-replayed",
            TokenError::TooOld { .. } => "token-too-old",
            TokenError::KeysUnavailable(_) => "keys-unavailable",
        }
    }
}

/// Which kind of token a verifier takes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TokenKind {
    /// An RFC 9068 access token: `typ` must be `at+jwt` (or `application/at+jwt`).
    Access,
    /// An identity assertion: any `typ` but an access token's.
    Assertion,
}

/// Where the issuer's public keys (a JWKS document) are read from.
#[derive(Debug, Clone)]
pub enum KeySource {
    /// A file the operator keeps current (read again on an unknown key).
    File(PathBuf),
    /// The issuer's `jwks_uri`, fetched with the given client (which trusts the agency's CA).
    Url {
        url: String,
        client: reqwest::Client,
    },
}

impl KeySource {
    async fn fetch(&self) -> Result<JwkSet, TokenError> {
        let bytes = match self {
            KeySource::File(path) => tokio::fs::read(path).await.map_err(|e| {
                TokenError::KeysUnavailable(format!("reading {}: {e}", path.display()))
            })?,
            KeySource::Url { url, client } => {
                let unavailable =
                    |e: reqwest::Error| TokenError::KeysUnavailable(format!("fetching {url}: {e}"));
                client
                    .get(url)
                    .timeout(Duration::from_secs(10))
                    .send()
                    .await
                    .and_then(reqwest::Response::error_for_status)
                    .map_err(unavailable)?
                    .bytes()
                    .await
                    .map_err(unavailable)?
                    .to_vec()
            }
        };
        serde_json::from_slice(&bytes)
            .map_err(|e| TokenError::KeysUnavailable(format!("not a JWKS document: {e}")))
    }
}

/// A verified token: its subject and every claim, for the caller to read its own from.
#[derive(Debug, Clone)]
pub struct Verified {
    pub subject: String,
    pub claims: Map<String, Value>,
}

impl Verified {
    /// A string claim.
    pub fn text(&self, claim: &str) -> Option<&str> {
        self.claims.get(claim).and_then(Value::as_str)
    }

    /// A numeric claim (seconds since the epoch, for times).
    pub fn number(&self, claim: &str) -> Option<u64> {
        self.claims.get(claim).and_then(Value::as_u64)
    }

    /// A claim holding a list of strings, or one string.
    pub fn texts(&self, claim: &str) -> Vec<String> {
        match self.claims.get(claim) {
            Some(Value::String(one)) => vec![one.clone()],
            Some(Value::Array(many)) => many
                .iter()
                .filter_map(Value::as_str)
                .map(str::to_owned)
                .collect(),
            _ => Vec::new(),
        }
    }
}

struct Cached {
    set: JwkSet,
    fetched: Option<Instant>,
}

/// An access token verified before: its claims, the key that verified it and when it expires.
struct Remembered {
    verified: Verified,
    key: Jwk,
    kid: Option<String>,
    expires: u64,
}

impl Remembered {
    /// Whether it is still within its lifetime at `now` (seconds since the epoch), with the
    /// leeway its first check allowed.
    fn alive_at(&self, now: u64) -> bool {
        now <= self.expires.saturating_add(LEEWAY_SECONDS)
    }
}

/// Access tokens verified before, by the SHA-256 of their text.
#[derive(Default)]
struct Memory(HashMap<[u8; 32], Remembered>);

impl Memory {
    fn recall(&self, digest: &[u8; 32], now: u64) -> Option<&Remembered> {
        self.0.get(digest).filter(|r| r.alive_at(now))
    }

    /// Remembers a token; when full, the expired ones are forgotten first, and if none had
    /// expired, all of them.
    fn remember(&mut self, digest: [u8; 32], remembered: Remembered, now: u64) {
        if self.0.len() >= REMEMBERED_TOKENS {
            self.0.retain(|_, r| r.alive_at(now));
            if self.0.len() >= REMEMBERED_TOKENS {
                self.0.clear();
            }
        }
        self.0.insert(digest, remembered);
    }
}

/// Verifies tokens of one kind from one issuer for one audience.
pub struct TokenVerifier {
    issuer: String,
    audience: String,
    kind: TokenKind,
    source: KeySource,
    refetch: Duration,
    cached: RwLock<Cached>,
    /// One fetch at a time; the others wait for it and use its result.
    fetching: tokio::sync::Mutex<()>,
    /// Access tokens verified before (none for assertions, which are used once).
    remembered: Mutex<Memory>,
}

impl std::fmt::Debug for TokenVerifier {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TokenVerifier")
            .field("issuer", &self.issuer)
            .field("audience", &self.audience)
            .field("kind", &self.kind)
            .finish_non_exhaustive()
    }
}

impl TokenVerifier {
    /// A verifier whose keys are fetched on first use.
    pub fn new(issuer: &str, audience: &str, kind: TokenKind, source: KeySource) -> Self {
        Self {
            issuer: issuer.to_owned(),
            audience: audience.to_owned(),
            kind,
            source,
            refetch: DEFAULT_REFETCH,
            cached: RwLock::new(Cached {
                set: JwkSet { keys: Vec::new() },
                fetched: None,
            }),
            fetching: tokio::sync::Mutex::new(()),
            remembered: Mutex::new(Memory::default()),
        }
    }

    /// Sets how often an unknown key may cause the key set to be fetched again.
    pub fn with_refetch(mut self, refetch: Duration) -> Self {
        self.refetch = refetch;
        self
    }

    /// Reads the key set now, so that a misconfigured source is found at start.
    pub async fn load(&self) -> Result<usize, TokenError> {
        let set = self.source.fetch().await?;
        let count = set.keys.len();
        self.store(set);
        Ok(count)
    }

    fn store(&self, set: JwkSet) {
        if let Ok(mut cached) = self.cached.write() {
            *cached = Cached {
                set,
                fetched: Some(Instant::now()),
            };
        }
    }

    fn lookup(&self, kid: Option<&str>) -> Option<Jwk> {
        let cached = self.cached.read().ok()?;
        match kid {
            Some(kid) => cached.set.find(kid).cloned(),
            // Without a `kid` the key is unambiguous only in a set of one.
            None if cached.set.keys.len() == 1 => cached.set.keys.first().cloned(),
            None => None,
        }
    }

    /// Whether the key set still holds `key` under `kid`.
    fn publishes(&self, kid: Option<&str>, key: &Jwk) -> bool {
        let Ok(cached) = self.cached.read() else {
            return false;
        };
        match kid {
            Some(kid) => cached.set.find(kid) == Some(key),
            None => cached.set.keys.len() == 1 && cached.set.keys.first() == Some(key),
        }
    }

    /// An access token verified before, still alive, whose key is still published.
    fn recall(&self, digest: &[u8; 32], now: u64) -> Option<Verified> {
        let memory = self.remembered.lock().ok()?;
        let remembered = memory.recall(digest, now)?;
        self.publishes(remembered.kid.as_deref(), &remembered.key)
            .then(|| remembered.verified.clone())
    }

    fn may_refetch(&self) -> bool {
        self.cached
            .read()
            .map(|c| c.fetched.is_none_or(|at| at.elapsed() >= self.refetch))
            .unwrap_or(true)
    }

    async fn key(&self, kid: Option<&str>) -> Result<Jwk, TokenError> {
        if let Some(key) = self.lookup(kid) {
            return Ok(key);
        }
        let _one_at_a_time = self.fetching.lock().await;
        // Another task may have fetched while this one waited.
        if let Some(key) = self.lookup(kid) {
            return Ok(key);
        }
        if !self.may_refetch() {
            return Err(TokenError::UnknownKey);
        }
        let set = self.source.fetch().await?;
        self.store(set);
        self.lookup(kid).ok_or(TokenError::UnknownKey)
    }

    /// Verifies `token` and returns its claims.
    pub async fn verify(&self, token: &str) -> Result<Verified, TokenError> {
        if token.len() > MAX_TOKEN_BYTES {
            return Err(TokenError::Malformed);
        }
        let digest: [u8; 32] = Sha256::digest(token.as_bytes()).into();
        let now = crate::issuer::now();
        if self.kind == TokenKind::Access {
            if let Some(verified) = self.recall(&digest, now) {
                return Ok(verified);
            }
        }
        let header = jsonwebtoken::decode_header(token).map_err(|_| TokenError::Malformed)?;
        let typ = header.typ.as_deref().map(str::to_ascii_lowercase);
        let access = matches!(typ.as_deref(), Some("at+jwt" | "application/at+jwt"));
        if access != (self.kind == TokenKind::Access) {
            return Err(TokenError::WrongType { found: header.typ });
        }
        if !ASYMMETRIC.contains(&header.alg) {
            return Err(TokenError::Algorithm {
                algorithm: format!("{:?}", header.alg),
            });
        }
        let jwk = self.key(header.kid.as_deref()).await?;
        if jwk
            .common
            .key_algorithm
            .is_some_and(|alg| format!("{alg:?}") != format!("{:?}", header.alg))
        {
            return Err(TokenError::Algorithm {
                algorithm: format!("{:?}", header.alg),
            });
        }
        let key = DecodingKey::from_jwk(&jwk).map_err(|_| TokenError::UnknownKey)?;
        let mut validation = Validation::new(header.alg);
        validation.leeway = LEEWAY_SECONDS;
        validation.validate_nbf = true;
        validation.set_issuer(&[&self.issuer]);
        validation.set_audience(&[&self.audience]);
        validation.set_required_spec_claims(&["exp", "iss", "aud", "sub"]);
        let data =
            jsonwebtoken::decode::<Map<String, Value>>(token, &key, &validation).map_err(|e| {
                match e.into_kind() {
                    ErrorKind::InvalidSignature => TokenError::Forged,
                    ErrorKind::ExpiredSignature => TokenError::Expired,
                    ErrorKind::ImmatureSignature => TokenError::NotYetValid,
                    ErrorKind::InvalidIssuer => TokenError::WrongIssuer,
                    ErrorKind::InvalidAudience => TokenError::WrongAudience,
                    ErrorKind::MissingRequiredClaim(claim) => TokenError::MissingClaim { claim },
                    ErrorKind::InvalidAlgorithm | ErrorKind::InvalidAlgorithmName => {
                        TokenError::Algorithm {
                            algorithm: format!("{:?}", header.alg),
                        }
                    }
                    // A key of another family than the algorithm, a bad key encoding, or claims
                    // that are not JSON: the token cannot be the issuer's.
                    _ => TokenError::Forged,
                }
            })?;
        let claims = data.claims;
        let subject = claims
            .get("sub")
            .and_then(Value::as_str)
            .filter(|s| !s.is_empty())
            .ok_or(TokenError::MissingClaim {
                claim: "sub".into(),
            })?
            .to_owned();
        let verified = Verified { subject, claims };
        if let (TokenKind::Access, Some(expires)) = (self.kind, verified.number("exp")) {
            if let Ok(mut memory) = self.remembered.lock() {
                let remembered = Remembered {
                    verified: verified.clone(),
                    key: jwk,
                    kid: header.kid,
                    expires,
                };
                memory.remember(digest, remembered, now);
            }
        }
        Ok(verified)
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used)]

    use super::*;

    fn remembered(expires: u64) -> Remembered {
        Remembered {
            verified: Verified {
                subject: "arende".into(),
                claims: Map::new(),
            },
            key: serde_json::from_value(serde_json::json!({
                "kty": "EC", "crv": "P-256", "x": "AA", "y": "AA"
            }))
            .unwrap(),
            kid: Some("k1".into()),
            expires,
        }
    }

    #[test]
    fn a_remembered_token_is_forgotten_once_expired_with_the_same_leeway() {
        let mut memory = Memory::default();
        memory.remember([1; 32], remembered(1_000), 900);
        assert!(memory.recall(&[1; 32], 1_000 + LEEWAY_SECONDS).is_some());
        assert!(memory.recall(&[1; 32], 1_001 + LEEWAY_SECONDS).is_none());
        assert!(memory.recall(&[2; 32], 900).is_none());
    }

    #[test]
    fn a_full_memory_forgets_the_expired_first_and_stays_bounded() {
        let mut memory = Memory::default();
        let key = |i: usize| {
            let mut digest = [0; 32];
            digest[..8].copy_from_slice(&(i as u64).to_be_bytes());
            digest
        };
        // Half expired by 10,000, half alive.
        for i in 0..REMEMBERED_TOKENS {
            let expires = if i % 2 == 0 { 5_000 } else { 20_000 };
            memory.remember(key(i), remembered(expires), 1_000);
        }
        memory.remember(key(REMEMBERED_TOKENS), remembered(20_000), 10_000);
        assert_eq!(memory.0.len(), REMEMBERED_TOKENS / 2 + 1);
        assert!(memory.recall(&key(1), 10_000).is_some());
        // Every one alive: all are forgotten rather than the memory growing.
        let mut memory = Memory::default();
        for i in 0..=REMEMBERED_TOKENS {
            memory.remember(key(i), remembered(20_000), 1_000);
        }
        assert_eq!(memory.0.len(), 1);
        assert!(memory.recall(&key(REMEMBERED_TOKENS), 1_000).is_some());
    }
}
