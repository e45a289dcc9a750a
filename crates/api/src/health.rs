//! Liveness and readiness answers.

use serde::{Deserialize, Serialize};

/// How the node is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum HealthStatus {
    /// The process serves requests.
    Alive,
    /// The node can exchange.
    Ready,
}

/// The answer of a live or ready node.
#[derive(Debug, Clone, Serialize, Deserialize, utoipa::ToSchema)]
pub struct Health {
    pub status: HealthStatus,
}
