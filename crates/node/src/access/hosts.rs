//! The `Host` names a listener answers to: the configured ones, its own address and, on its
//! port, the loopback names. A page served from any other name — a DNS-rebinding page in a
//! browser on the host, for one — sends a `Host` of its own and is refused.

use axum::http::{header, HeaderMap, Uri};
use std::net::SocketAddr;

/// The names one listener answers to.
#[derive(Debug, Clone)]
pub struct Hosts(Vec<String>);

impl Hosts {
    /// `configured` (names, with or without a port) besides the listener's own at `listen`.
    pub fn new(configured: &[String], listen: SocketAddr) -> Self {
        let mut hosts: Vec<String> = configured.iter().map(|h| h.to_ascii_lowercase()).collect();
        // The loopback names are always the listener's own (a probe inside the container or
        // on the host uses them); a rebinding page can only send a name of its own.
        hosts.push(listen.to_string());
        hosts.extend(
            ["localhost", "127.0.0.1", "[::1]"]
                .into_iter()
                .map(|h| format!("{h}:{}", listen.port())),
        );
        Self(hosts)
    }

    /// Whether a request with these headers (or, in HTTP/2, this URI's authority) names one of
    /// the listener's hosts.
    pub fn allow(&self, headers: &HeaderMap, uri: &Uri) -> bool {
        let host = headers
            .get(header::HOST)
            .and_then(|h| h.to_str().ok())
            .map(str::to_owned)
            .or_else(|| uri.authority().map(|a| a.to_string()));
        let Some(host) = host.map(|h| h.to_ascii_lowercase()) else {
            // HTTP/1.0 without Host: no name a rebinding page could have put there.
            return true;
        };
        let (name, port) = split_host(&host);
        self.0.iter().any(|allowed| {
            let (allowed_name, allowed_port) = split_host(allowed);
            // A name given without a port stands for the name on any port, and the reverse.
            allowed_name == name
                && (allowed_port == port || allowed_port.is_none() || port.is_none())
        })
    }
}

/// A `Host` value's name and port: `name`, `name:port`, `[v6]` or `[v6]:port`.
fn split_host(value: &str) -> (&str, Option<&str>) {
    if value.starts_with('[') {
        if let Some(end) = value.find(']') {
            return (&value[..=end], value[end + 1..].strip_prefix(':'));
        }
    }
    match value.rsplit_once(':') {
        Some((name, port)) if !name.contains(':') => (name, Some(port)),
        _ => (value, None),
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use super::{split_host, Hosts};
    use axum::http::{header, HeaderMap, HeaderValue, Uri};

    #[test]
    fn only_the_listeners_own_names_are_accepted_as_host() {
        let hosts = Hosts::new(
            &["utbyte.fk.example".into(), "Node.fk.example:8443".into()],
            "127.0.0.1:7501".parse().unwrap(),
        );
        let allowed = |host: &str| {
            let mut headers = HeaderMap::new();
            headers.insert(header::HOST, HeaderValue::from_str(host).unwrap());
            hosts.allow(&headers, &Uri::from_static("/v1/offerings"))
        };
        for host in [
            "127.0.0.1:7501",
            "localhost:7501",
            "LOCALHOST:7501",
            "[::1]:7501",
            "utbyte.fk.example",
            "utbyte.fk.example:7501",
            "node.fk.example:8443",
            "node.fk.example",
        ] {
            assert!(allowed(host), "{host}");
        }
        for host in [
            "evil.example",
            "evil.example:7501",
            "localhost:7502",
            "node.fk.example:9999",
            "utbyte.fk.example.evil.example",
        ] {
            assert!(!allowed(host), "{host}");
        }
        // HTTP/2 carries the name in the URI's authority.
        assert!(hosts.allow(
            &HeaderMap::new(),
            &Uri::from_static("https://localhost:7501/x")
        ));
        assert!(!hosts.allow(
            &HeaderMap::new(),
            &Uri::from_static("https://evil.example/x")
        ));
    }

    #[test]
    fn a_host_is_read_as_name_and_port() {
        assert_eq!(split_host("utbyte.fk.example"), ("utbyte.fk.example", None));
        assert_eq!(split_host("localhost:7501"), ("localhost", Some("7501")));
        assert_eq!(split_host("[::1]:7501"), ("[::1]", Some("7501")));
        assert_eq!(split_host("[::1]"), ("[::1]", None));
        assert_eq!(split_host("::1"), ("::1", None));
    }
}
