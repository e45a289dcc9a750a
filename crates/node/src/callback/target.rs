//! Where a callback may go: the allow-list of the node's configuration, checked when a case
//! system names a callback URL and again at each delivery, and the addresses a callback may
//! never reach, checked on the very addresses the client connects to.
//!
//! An allowed target is a URL prefix (`https://case.fk.example/callbacks/`): the scheme, host
//! and port must be equal and the path must start with the prefix's path on a segment boundary
//! — a plain string prefix would let `https://case.example` admit `https://case.example.evil`.
//!
//! Whatever the allow-list says, link-local addresses (169.254.0.0/16, fe80::/10, where the
//! cloud metadata services live) and the other known metadata addresses are refused at
//! delivery, after resolution: a name that resolved to an allowed address when the URL was
//! checked can resolve elsewhere a second later (DNS rebinding), so the check is made by the
//! resolver the delivery client uses, on the addresses it returns.

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};

use http::Uri;

/// One allowed URL prefix.
#[derive(Debug, Clone, PartialEq, Eq)]
struct AllowedPrefix {
    scheme: String,
    host: String,
    port: u16,
    /// Ends with `/`.
    path: String,
}

/// The callback targets a node's configuration allows. Empty allows none.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct AllowedTargets {
    prefixes: Vec<AllowedPrefix>,
}

/// Why a callback URL is refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum TargetRefused {
    #[error("it is not an http:// or https:// URL with a host")]
    NotAUrl,
    #[error("it holds user information; credentials do not belong in a URL")]
    UserInfo,
    #[error("it is not under a callback URL this node allows (its `[callbacks] allow` list)")]
    NotAllowed,
    #[error("it names an address callbacks may never reach (link-local or cloud metadata)")]
    ForbiddenAddress,
}

/// The parts of a URL the allow-list compares.
struct Parts {
    scheme: String,
    host: String,
    port: u16,
    path: String,
}

fn parts(url: &str) -> Result<Parts, TargetRefused> {
    let uri: Uri = url.parse().map_err(|_| TargetRefused::NotAUrl)?;
    let scheme = uri.scheme_str().map(str::to_ascii_lowercase);
    let default_port = match scheme.as_deref() {
        Some("http") => 80,
        Some("https") => 443,
        _ => return Err(TargetRefused::NotAUrl),
    };
    let authority = uri.authority().ok_or(TargetRefused::NotAUrl)?;
    if authority.as_str().contains('@') {
        return Err(TargetRefused::UserInfo);
    }
    let host = authority.host().trim_end_matches('.').to_ascii_lowercase();
    if host.is_empty() {
        return Err(TargetRefused::NotAUrl);
    }
    Ok(Parts {
        scheme: scheme.unwrap_or_default(),
        host,
        port: authority.port_u16().unwrap_or(default_port),
        path: uri.path().to_owned(),
    })
}

impl AllowedTargets {
    /// The allow-list from the configuration's URL prefixes; an entry that is not an
    /// `http[s]://host[:port][/path]` URL is named in the error.
    pub fn parse(prefixes: &[String]) -> Result<Self, String> {
        let prefixes = prefixes
            .iter()
            .map(|prefix| {
                let parts = parts(prefix).map_err(|why| format!("`{prefix}`: {why}"))?;
                if prefix.contains('?') || prefix.contains('#') {
                    return Err(format!("`{prefix}`: a prefix has no query or fragment"));
                }
                let mut path = parts.path;
                if !path.ends_with('/') {
                    path.push('/');
                }
                Ok(AllowedPrefix {
                    scheme: parts.scheme,
                    host: parts.host,
                    port: parts.port,
                    path,
                })
            })
            .collect::<Result<_, _>>()?;
        Ok(Self { prefixes })
    }

    /// Whether nothing is allowed.
    pub fn is_empty(&self) -> bool {
        self.prefixes.is_empty()
    }

    /// Checks a callback URL: under an allowed prefix, and not a literal forbidden address.
    pub fn check(&self, url: &str) -> Result<(), TargetRefused> {
        let url_parts = parts(url)?;
        if let Some(ip) = literal_ip(&url_parts.host) {
            if forbidden(ip) {
                return Err(TargetRefused::ForbiddenAddress);
            }
        }
        let under = |prefix: &AllowedPrefix| {
            prefix.scheme == url_parts.scheme
                && prefix.host == url_parts.host
                && prefix.port == url_parts.port
                && (url_parts.path.starts_with(&prefix.path)
                    || format!("{}/", url_parts.path) == prefix.path)
        };
        if self.prefixes.iter().any(under) {
            Ok(())
        } else {
            Err(TargetRefused::NotAllowed)
        }
    }
}

/// The host as an IP address, when it is one (`[::1]` included).
fn literal_ip(host: &str) -> Option<IpAddr> {
    host.trim_start_matches('[')
        .trim_end_matches(']')
        .parse()
        .ok()
}

/// Whether a callback may never reach `ip`: link-local (where AWS, GCP and Azure serve
/// instance metadata at 169.254.169.254 and AWS at fd00:ec2::254), Alibaba's metadata address,
/// and the unspecified, broadcast and multicast addresses, which name no case system.
pub fn forbidden(ip: IpAddr) -> bool {
    match ip {
        IpAddr::V4(v4) => forbidden_v4(v4),
        IpAddr::V6(v6) => match v6.to_ipv4_mapped() {
            Some(v4) => forbidden_v4(v4),
            None => {
                let first = v6.segments()[0];
                (first & 0xffc0) == 0xfe80
                    || v6 == Ipv6Addr::new(0xfd00, 0x0ec2, 0, 0, 0, 0, 0, 0x0254)
                    || v6.is_unspecified()
                    || v6.is_multicast()
            }
        },
    }
}

fn forbidden_v4(ip: Ipv4Addr) -> bool {
    ip.is_link_local()
        || ip == Ipv4Addr::new(100, 100, 100, 200)
        || ip.is_unspecified()
        || ip.is_broadcast()
        || ip.is_multicast()
}

/// The resolver of the delivery client: the system's, with every forbidden address removed; a
/// name that resolves to nothing else fails to resolve.
#[derive(Debug, Default)]
pub(crate) struct GuardedResolver;

impl reqwest::dns::Resolve for GuardedResolver {
    fn resolve(&self, name: reqwest::dns::Name) -> reqwest::dns::Resolving {
        let host = name.as_str().to_owned();
        Box::pin(async move {
            let resolved = tokio::net::lookup_host((host.as_str(), 0)).await?;
            let allowed: Vec<SocketAddr> = resolved
                .filter(|address| !forbidden(address.ip()))
                .collect();
            if allowed.is_empty() {
                return Err(Box::new(std::io::Error::other(
                    "the host resolves only to addresses callbacks may never reach",
                ))
                    as Box<dyn std::error::Error + Send + Sync>);
            }
            Ok(Box::new(allowed.into_iter()) as reqwest::dns::Addrs)
        })
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use super::*;

    fn allow(prefixes: &[&str]) -> AllowedTargets {
        AllowedTargets::parse(&prefixes.iter().map(|p| p.to_string()).collect::<Vec<_>>()).unwrap()
    }

    #[test]
    fn only_urls_under_an_allowed_prefix_pass() {
        let targets = allow(&[
            "https://case.fk.example/callbacks",
            "http://127.0.0.1:9000/",
        ]);
        for url in [
            "https://case.fk.example/callbacks/",
            "https://case.fk.example/callbacks/a/b?x=1",
            "https://CASE.fk.example:443/callbacks/a",
            "https://case.fk.example/callbacks",
            "http://127.0.0.1:9000/anything",
        ] {
            assert_eq!(targets.check(url), Ok(()), "{url}");
        }
        for url in [
            "https://case.fk.example/callbacksevil",
            "https://case.fk.example/other",
            "https://case.fk.example.evil/callbacks/",
            "http://case.fk.example/callbacks/",
            "https://case.fk.example:8443/callbacks/",
            "http://127.0.0.1:9001/",
            "http://localhost:9000/",
        ] {
            assert_eq!(targets.check(url), Err(TargetRefused::NotAllowed), "{url}");
        }
        assert_eq!(
            targets.check("https://u:p@case.fk.example/callbacks/"),
            Err(TargetRefused::UserInfo)
        );
        assert_eq!(targets.check("ftp://x/"), Err(TargetRefused::NotAUrl));
        assert_eq!(targets.check("not a url"), Err(TargetRefused::NotAUrl));
        assert_eq!(
            AllowedTargets::default().check("https://case.fk.example/callbacks/"),
            Err(TargetRefused::NotAllowed),
            "nothing is allowed unless configured"
        );
    }

    #[test]
    fn metadata_and_link_local_addresses_are_refused_even_when_allowed() {
        let targets = allow(&[
            "http://169.254.169.254/",
            "http://[fe80::1]/",
            "http://100.100.100.200/",
        ]);
        for url in [
            "http://169.254.169.254/latest/meta-data",
            "http://[fe80::1]/x",
            "http://100.100.100.200/",
        ] {
            assert_eq!(
                targets.check(url),
                Err(TargetRefused::ForbiddenAddress),
                "{url}"
            );
        }
        for ip in [
            "169.254.0.1",
            "fe80::abcd",
            "febf::1",
            "fd00:ec2::254",
            "::ffff:169.254.169.254",
            "0.0.0.0",
            "224.0.0.1",
        ] {
            assert!(forbidden(ip.parse().unwrap()), "{ip}");
        }
        for ip in ["127.0.0.1", "10.1.2.3", "::1", "fec0::1", "192.168.1.1"] {
            assert!(!forbidden(ip.parse().unwrap()), "{ip}");
        }
    }

    #[test]
    fn a_bad_prefix_is_named() {
        let error = AllowedTargets::parse(&["case.example".to_owned()]).unwrap_err();
        assert!(error.contains("`case.example`"), "{error}");
        assert!(AllowedTargets::parse(&["https://x/?a".to_owned()]).is_err());
    }

    #[tokio::test]
    async fn the_resolver_drops_forbidden_addresses() {
        use reqwest::dns::Resolve;
        let name: reqwest::dns::Name = "localhost".parse().unwrap();
        let addresses: Vec<_> = GuardedResolver.resolve(name).await.unwrap().collect();
        assert!(addresses.iter().all(|a| a.ip().is_loopback()));
        let name: reqwest::dns::Name = "169.254.169.254".parse().unwrap();
        assert!(GuardedResolver.resolve(name).await.is_err());
    }
}
