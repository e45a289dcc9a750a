//! The operator's changes to the federation configuration: admit a member, move its node,
//! rotate or revoke a node certificate, publish a rulebook. Each checks what it is given
//! against the configuration and the rulebook, changes the configuration, and says in one line
//! what it changed; [`FederationState::change`](crate::state::FederationState::change)
//! publishes the result as a new version, or nothing when a change is refused.

use crate::state::StateError;
use std::path::Path;
use utbyte_federation::{FederationConfig, Member, RulebookBundle};
use utbyte_pki::{Fingerprint, NodeCertificate};
use utbyte_rules::analyze::{self, Severity};
use utbyte_rules::Rulebook;

fn refused(message: String) -> StateError {
    StateError::Refused(message)
}

/// The first 16 hex digits: enough to tell certificates apart in a history line.
fn short(fingerprint: &str) -> &str {
    fingerprint.get(..16).unwrap_or(fingerprint)
}

fn check_endpoint(endpoint: &str) -> Result<(), StateError> {
    let rest = endpoint.strip_prefix("https://").ok_or_else(|| {
        refused(format!(
            "endpoint `{endpoint}` must be https://host:port (nodes speak only mutual TLS)"
        ))
    })?;
    if rest.is_empty() || rest.contains(['/', '?', '#', ' ']) {
        return Err(refused(format!(
            "endpoint `{endpoint}` must be a base URL, https://host:port, with no path"
        )));
    }
    Ok(())
}

fn member_mut<'a>(
    config: &'a mut FederationConfig,
    authority: &str,
) -> Result<&'a mut Member, StateError> {
    config
        .members
        .iter_mut()
        .find(|m| m.authority == authority)
        .ok_or_else(|| refused(format!("`{authority}` is not a member")))
}

/// The certificate must name `authority` and must not be revoked.
fn check_certificate(
    config: &FederationConfig,
    authority: &str,
    certificate: &NodeCertificate,
) -> Result<String, StateError> {
    let named = certificate.identity().authority.to_string();
    if named != authority {
        return Err(refused(format!(
            "the certificate names `{named}`, not `{authority}`"
        )));
    }
    let fingerprint = certificate.fingerprint().to_string();
    if config.revoked.contains(&fingerprint) {
        return Err(refused(format!(
            "certificate {fingerprint} is revoked; issue a new one"
        )));
    }
    Ok(fingerprint)
}

/// Admits `authority` (which the shared rulebook must know, under the organisationsnummer its
/// certificate names) with its node's endpoint, certificate and answer key.
pub fn admit(
    config: &mut FederationConfig,
    authority: &str,
    endpoint: &str,
    certificate: &NodeCertificate,
    answer_key: &str,
) -> Result<String, StateError> {
    if config.member(authority).is_some() {
        return Err(refused(format!(
            "`{authority}` is a member already (use set-endpoint or rotate)"
        )));
    }
    check_endpoint(endpoint)?;
    let fingerprint = check_certificate(config, authority, certificate)?;
    let rulebook = config.rulebook.load()?;
    let known = rulebook
        .vocabulary
        .authorities
        .get(authority)
        .ok_or_else(|| {
            refused(format!(
                "the shared rulebook knows no authority `{authority}`"
            ))
        })?;
    let orgnr = certificate.identity().orgnr.to_string();
    if orgnr.replace('-', "") != known.orgnr.replace('-', "") {
        return Err(refused(format!(
            "the certificate names organisationsnummer {orgnr}; the rulebook has {} for `{authority}`",
            known.orgnr
        )));
    }
    let member = Member {
        authority: authority.to_owned(),
        name: known.name.clone(),
        orgnr: known.orgnr.clone(),
        endpoint: endpoint.to_owned(),
        certificates: vec![fingerprint.clone()],
        answer_key: answer_key.trim().to_owned(),
        message_keys: Vec::new(),
    };
    member.answer_key()?;
    config.members.push(member);
    Ok(format!(
        "admitted {authority} at {endpoint} (certificate {})",
        short(&fingerprint)
    ))
}

/// Moves `authority`'s node to `endpoint`.
pub fn set_endpoint(
    config: &mut FederationConfig,
    authority: &str,
    endpoint: &str,
) -> Result<String, StateError> {
    check_endpoint(endpoint)?;
    let member = member_mut(config, authority)?;
    if member.endpoint == endpoint {
        return Err(refused(format!("`{authority}` is at {endpoint} already")));
    }
    let was = std::mem::replace(&mut member.endpoint, endpoint.to_owned());
    Ok(format!("moved {authority} from {was} to {endpoint}"))
}

/// Publishes `key` (a base64url X25519 public key, `utbyte node message-key`) as the key
/// messages to `authority` are sealed for from now on; with `keep_old` the key it had stays
/// listed after it, so the node still opens what was sealed before (it keeps the private half
/// as long as it is listed).
pub fn set_message_key(
    config: &mut FederationConfig,
    authority: &str,
    key: &str,
    keep_old: bool,
) -> Result<String, StateError> {
    let key = key.trim();
    let id = utbyte_message::RecipientKey::decode(key)
        .map_err(|e| refused(e.to_string()))?
        .id();
    let member = member_mut(config, authority)?;
    if member.message_keys.first().map(String::as_str) == Some(key) {
        return Err(refused(format!(
            "`{authority}`'s messages are sealed for key {id} already"
        )));
    }
    let old = std::mem::take(&mut member.message_keys);
    member.message_keys.push(key.to_owned());
    if keep_old {
        member
            .message_keys
            .extend(old.into_iter().filter(|k| k != key).take(1));
    }
    Ok(format!(
        "messages to {authority} are sealed for key {id}{}",
        if member.message_keys.len() > 1 {
            " (the previous key stays listed)"
        } else {
            ""
        }
    ))
}

/// Replaces `authority`'s certificates with `certificate`; with `keep_old` the ones it had stay
/// valid beside it (an overlap while the node switches), until the next rotation without it.
pub fn rotate(
    config: &mut FederationConfig,
    authority: &str,
    certificate: &NodeCertificate,
    keep_old: bool,
) -> Result<String, StateError> {
    let fingerprint = check_certificate(config, authority, certificate)?;
    if let Some(other) = config
        .members
        .iter()
        .find(|m| m.authority != authority && m.certificates.contains(&fingerprint))
    {
        return Err(refused(format!(
            "certificate {fingerprint} is listed for `{}`",
            other.authority
        )));
    }
    let member = member_mut(config, authority)?;
    let mut certificates = vec![fingerprint.clone()];
    if keep_old {
        certificates.extend(
            member
                .certificates
                .iter()
                .filter(|c| **c != fingerprint)
                .cloned(),
        );
    }
    if certificates == member.certificates {
        return Err(refused(format!(
            "`{authority}` has exactly these certificates already"
        )));
    }
    member.certificates = certificates;
    Ok(format!(
        "rotated {authority} to certificate {}{}",
        short(&fingerprint),
        if keep_old && member.certificates.len() > 1 {
            ", the old ones kept during the overlap"
        } else {
            ""
        }
    ))
}

/// Adds `fingerprint` to the revocation list; nodes refuse it from their next pull.
pub fn revoke(
    config: &mut FederationConfig,
    fingerprint: &Fingerprint,
) -> Result<String, StateError> {
    let fingerprint = fingerprint.to_string();
    if config.revoked.contains(&fingerprint) {
        return Err(refused(format!(
            "certificate {fingerprint} is revoked already"
        )));
    }
    let holder = config
        .members
        .iter()
        .find(|m| m.certificates.contains(&fingerprint))
        .map(|m| format!(" of {}", m.authority))
        .unwrap_or_default();
    config.revoked.push(fingerprint.clone());
    Ok(format!(
        "revoked certificate {}{holder}",
        short(&fingerprint)
    ))
}

/// Loads the rulebook in `dir` and refuses it, with every problem, when `utbyte rules check`
/// would fail (it does not load) or `utbyte rules analyze` would (an error-level finding).
pub fn checked_rulebook(dir: &Path) -> Result<(Rulebook, RulebookBundle), StateError> {
    let located = |problems: Vec<utbyte_rules::source::Problem>| StateError::Rulebook {
        problems: problems
            .iter()
            .map(|p| format!("{}/{p}", dir.display()))
            .collect(),
    };
    let files = utbyte_rules::rulebook::read_dir(dir).map_err(|e| located(e.problems))?;
    let rulebook = Rulebook::from_sources(&files).map_err(|e| located(e.problems))?;
    let errors: Vec<String> = analyze::analyze(&rulebook, analyze::today())
        .iter()
        .filter(|f| f.severity == Severity::Error)
        .map(|f| f.to_string())
        .collect();
    if !errors.is_empty() {
        return Err(StateError::Rulebook { problems: errors });
    }
    let bundle = RulebookBundle::new(&rulebook, &files);
    Ok((rulebook, bundle))
}

/// Publishes a checked rulebook (see [`checked_rulebook`]) as the federation's shared one,
/// refusing one that no longer knows a member.
pub fn publish_rulebook(
    config: &mut FederationConfig,
    rulebook: &Rulebook,
    bundle: RulebookBundle,
) -> Result<String, StateError> {
    if let Some(m) = config
        .members
        .iter()
        .find(|m| !rulebook.vocabulary.authorities.contains_key(&m.authority))
    {
        return Err(refused(format!(
            "the rulebook knows no authority `{}`, which is a member",
            m.authority
        )));
    }
    if bundle.hash == config.rulebook.hash {
        return Err(refused("this rulebook is the one published already".into()));
    }
    let line = format!(
        "rulebook {} {} (sha256 {})",
        bundle.name,
        bundle.version,
        short(&bundle.hash)
    );
    config.rulebook = bundle;
    Ok(line)
}
