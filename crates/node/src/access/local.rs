//! The local listener's access as configured: the gate, and the TLS configuration unless plain
//! HTTP (development only) was asked for.

use super::config::AccessConfig;
use super::{Gate, GateError};
use std::sync::Arc;
use utbyte_access::ClientCertificates;

/// The local listener's access, ready to serve: the gate and, unless plain HTTP was asked for,
/// the TLS configuration.
pub struct LocalAccess {
    pub gate: Gate,
    pub tls: Option<Arc<rustls::ServerConfig>>,
}

impl std::fmt::Debug for LocalAccess {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("LocalAccess")
            .field("gate", &self.gate)
            .field("tls", &self.tls.is_some())
            .finish()
    }
}

impl LocalAccess {
    /// Opens what `config` names for a listener at `listen`; `http` fetches `jwks` URLs.
    pub fn from_config(
        config: &AccessConfig,
        listen: std::net::SocketAddr,
        http: &reqwest::Client,
    ) -> Result<Self, GateError> {
        let gate = Gate::new(config, listen, http)?;
        let tls = match (&config.certificate, &config.key) {
            (Some(certificate), Some(key)) => {
                let (chain, key) = utbyte_access::certificates::server_material(certificate, key)
                    .map_err(|e| GateError(e.to_string()))?;
                let clients = gate.certificates.as_ref();
                let tls =
                    ClientCertificates::server_config(clients, chain, key).map_err(GateError)?;
                Some(Arc::new(tls))
            }
            _ => None,
        };
        Ok(Self { gate, tls })
    }
}
