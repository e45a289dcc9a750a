//! Keeping the federation configuration current: pulled from the directory, verified, and
//! applied (revocations at once, a new rulebook compiled and its activation recorded).

use crate::records::rulebook_activated;
use crate::state::NodeState;
use axum::http::{Method, StatusCode};
use time::OffsetDateTime;
use utbyte_federation::Jws;
use utbyte_http::ExpectedPeer;

/// Where the directory is.
#[derive(Debug, Clone)]
pub(crate) struct DirectoryLink {
    pub endpoint: String,
    pub authority: String,
}

/// Pulls the configuration once. Returns its version, or why it could not be taken; on any
/// error the node keeps the last good copy.
pub(crate) async fn refresh(state: &NodeState, directory: &DirectoryLink) -> Result<u64, String> {
    let expected = ExpectedPeer {
        authority: &directory.authority,
        fingerprints: None,
    };
    let response = state
        .client
        .send(
            &directory.endpoint,
            expected,
            Method::GET,
            "/v1/federation",
            None,
        )
        .await
        .map_err(|e| e.to_string())?;
    if response.status != StatusCode::OK {
        return Err(format!("the directory answered {}", response.status));
    }
    let signed: Jws = serde_json::from_slice(&response.body)
        .map_err(|e| format!("the directory's answer is not a JWS: {e}"))?;
    let config = state
        .trusted
        .accept(&signed, OffsetDateTime::now_utc())
        .map_err(|e| e.to_string())?;
    if state.metrics.configuration(&config) != config.version {
        let rulebook = config.rulebook.hash.get(..12).unwrap_or_default();
        tracing::info!(
            version = config.version,
            members = config.members.len(),
            rulebook,
            "federation configuration changed"
        );
    }
    if let Some(rulebook) = state.apply(&config).await.map_err(|e| e.to_string())? {
        let record = rulebook_activated(
            &state.authority,
            &rulebook.manifest.name,
            &rulebook.manifest.version,
            rulebook.hash(),
            config.version,
        );
        state
            .record(record, Vec::new())
            .await
            .map_err(|e| e.to_string())?;
        tracing::info!(version = config.version, rulebook = %rulebook.hash(), "rulebook activated");
    }
    Ok(config.version)
}
