//! Dialling another member over mutual TLS, HTTP/2, one multiplexed connection per endpoint.
//!
//! The TLS handshake proves the other side holds a certificate of the federation CA that is
//! neither expired nor revoked. That is not enough: every member holds one, and on a shared
//! host (or a hijacked address) the node answering may not be the one meant. So the client
//! also checks that the certificate names the expected authority and is one the federation
//! configuration lists for it, and re-checks on every request, since the configuration (and
//! with it the list) changes while connections stay open.

use crate::tls_error::TlsFailure;
use bytes::Bytes;
use http::{header, HeaderMap, HeaderValue, Method, Request, StatusCode, Uri};
use http_body_util::{BodyExt, Full, Limited};
use hyper::client::conn::http2::SendRequest;
use hyper_util::rt::{TokioExecutor, TokioIo};
use rustls::pki_types::ServerName;
use rustls::ClientConfig;
use std::collections::HashMap;
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;
use tokio::net::TcpStream;
use tokio::sync::watch;
use tokio_rustls::TlsConnector;
use utbyte_pki::{peer_identity, NodeIdentity};

/// Which member the client means to reach.
#[derive(Debug, Clone, Copy)]
pub struct ExpectedPeer<'a> {
    /// Its authority id.
    pub authority: &'a str,
    /// Fingerprints (lowercase hex) of the certificates the federation configuration lists for
    /// it; `None` where no configuration is held yet (fetching the configuration itself, whose
    /// signature is what is trusted).
    pub fingerprints: Option<&'a [String]>,
}

impl ExpectedPeer<'_> {
    fn check(&self, endpoint: &str, peer: &NodeIdentity) -> Result<(), ClientError> {
        if peer.authority.as_str() != self.authority {
            return Err(ClientError::UnexpectedPeer {
                endpoint: endpoint.to_owned(),
                expected: self.authority.to_owned(),
                got: peer.authority.to_string(),
            });
        }
        let fingerprint = peer.fingerprint.to_string();
        if self
            .fingerprints
            .is_some_and(|listed| !listed.contains(&fingerprint))
        {
            return Err(ClientError::UnlistedCertificate {
                endpoint: endpoint.to_owned(),
                authority: self.authority.to_owned(),
            });
        }
        Ok(())
    }
}

/// An answer from another member.
#[derive(Debug, Clone)]
pub struct FederationResponse {
    pub status: StatusCode,
    pub headers: HeaderMap,
    pub body: Bytes,
    /// Who answered, from the verified certificate.
    pub peer: NodeIdentity,
}

/// Why an exchange with another member failed.
#[derive(Debug, thiserror::Error)]
pub enum ClientError {
    #[error("`{0}` is not an endpoint of the form https://host:port")]
    Endpoint(String),
    #[error("cannot connect to {endpoint}: {source}")]
    Connect {
        endpoint: String,
        source: std::io::Error,
    },
    #[error("{}: {endpoint}", failure.describe())]
    Tls {
        endpoint: String,
        failure: TlsFailure,
    },
    #[error("{endpoint} presented the certificate of `{got}`, not of `{expected}`")]
    UnexpectedPeer {
        endpoint: String,
        expected: String,
        got: String,
    },
    #[error(
        "{endpoint} presented a certificate that the federation configuration does not list for `{authority}`"
    )]
    UnlistedCertificate { endpoint: String, authority: String },
    #[error("no answer from {endpoint} within {} ms", timeout.as_millis())]
    Timeout { endpoint: String, timeout: Duration },
    #[error("the answer from {endpoint} is larger than {limit} bytes")]
    TooLarge { endpoint: String, limit: usize },
    #[error("the HTTP exchange with {endpoint} failed: {reason}")]
    Http { endpoint: String, reason: String },
}

#[derive(Clone)]
struct Channel {
    sender: SendRequest<Full<Bytes>>,
    peer: NodeIdentity,
    /// How the connection ended, once it has. In TLS 1.3 the server judges the client's
    /// certificate after the client considers the handshake done, so a refusal (the alert)
    /// surfaces in the connection task, and requests only see "channel closed".
    ended: watch::Receiver<Option<TlsFailure>>,
}

/// A node's (or the directory's) client for other members.
pub struct FederationClient {
    connector: TlsConnector,
    channels: Mutex<HashMap<String, Channel>>,
    timeout: Duration,
    max_body: usize,
    /// Told the kind of every failed handshake (see [`Self::observe_handshake_failures`]).
    refused: std::sync::OnceLock<crate::serve::HandshakeObserver>,
}

impl std::fmt::Debug for FederationClient {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("FederationClient")
            .field("timeout", &self.timeout)
            .field("max_body", &self.max_body)
            .finish_non_exhaustive()
    }
}

impl FederationClient {
    /// A client presenting the certificate in `tls` (from `utbyte_pki::client_config`), giving
    /// each exchange `timeout` (connecting included) and accepting answers up to `max_body`
    /// bytes.
    pub fn new(tls: Arc<ClientConfig>, timeout: Duration, max_body: usize) -> Self {
        let mut tls = (*tls).clone();
        tls.alpn_protocols = vec![b"h2".to_vec()];
        Self {
            connector: TlsConnector::from(Arc::new(tls)),
            channels: Mutex::new(HashMap::new()),
            timeout,
            max_body,
            refused: std::sync::OnceLock::new(),
        }
    }

    /// Has `observer` told the kind ([`TlsFailure::slug`]) of every handshake that fails from
    /// now on; only the first observer set is kept.
    pub fn observe_handshake_failures(&self, observer: crate::serve::HandshakeObserver) {
        let _ = self.refused.set(observer);
    }

    /// Sends one request to `endpoint` (`https://host:port`) and reads the whole answer.
    pub async fn send(
        &self,
        endpoint: &str,
        expected: ExpectedPeer<'_>,
        method: Method,
        path: &str,
        body: Option<Vec<u8>>,
    ) -> Result<FederationResponse, ClientError> {
        self.send_with(
            endpoint,
            expected,
            method,
            path,
            body.map(Bytes::from),
            HeaderMap::new(),
        )
        .await
    }

    /// [`send`](Self::send) with further request headers; a body is JSON unless `headers`
    /// name its `Content-Type`. The body is shared, not copied, so it can be sent again.
    pub async fn send_with(
        &self,
        endpoint: &str,
        expected: ExpectedPeer<'_>,
        method: Method,
        path: &str,
        body: Option<Bytes>,
        headers: HeaderMap,
    ) -> Result<FederationResponse, ClientError> {
        let timeout = self.timeout;
        let result = match tokio::time::timeout(
            timeout,
            self.exchange(endpoint, expected, method, path, body, headers),
        )
        .await
        {
            Ok(result) => result,
            Err(_) => Err(ClientError::Timeout {
                endpoint: endpoint.to_owned(),
                timeout,
            }),
        };
        if let Err(ClientError::Tls { failure, .. }) = &result {
            let kind = failure.slug();
            tracing::warn!(kind, peer = endpoint, "TLS handshake with a member failed");
            if let Some(observer) = self.refused.get() {
                observer(kind);
            }
        }
        result
    }

    async fn exchange(
        &self,
        endpoint: &str,
        expected: ExpectedPeer<'_>,
        method: Method,
        path: &str,
        body: Option<Bytes>,
        headers: HeaderMap,
    ) -> Result<FederationResponse, ClientError> {
        let mut channel = self.channel(endpoint, expected).await?;
        let uri: Uri = format!("{endpoint}{path}")
            .parse()
            .map_err(|_| ClientError::Endpoint(format!("{endpoint}{path}")))?;
        let mut request = Request::builder().method(method).uri(uri);
        if body.is_some() && !headers.contains_key(header::CONTENT_TYPE) {
            request = request.header(
                header::CONTENT_TYPE,
                HeaderValue::from_static("application/json"),
            );
        }
        if let Some(all) = request.headers_mut() {
            all.extend(headers);
        }
        let mut request = request
            .body(Full::new(body.unwrap_or_default()))
            .map_err(|err| ClientError::Http {
                endpoint: endpoint.to_owned(),
                reason: err.to_string(),
            })?;
        crate::trace_context::inject(request.headers_mut());
        let sent = match channel.sender.ready().await {
            Ok(()) => channel.sender.send_request(request).await,
            Err(err) => Err(err),
        };
        let response = match sent {
            Ok(response) => response,
            Err(err) => {
                let mut failure = self.failure(endpoint, &err, err.to_string());
                if matches!(failure, ClientError::Http { .. }) {
                    if let Some(tls) = connection_end(&mut channel.ended).await {
                        failure = ClientError::Tls {
                            endpoint: endpoint.to_owned(),
                            failure: tls,
                        };
                    }
                }
                return Err(failure);
            }
        };
        let (parts, body) = response.into_parts();
        let body = Limited::new(body, self.max_body)
            .collect()
            .await
            .map_err(|err| {
                if err.is::<http_body_util::LengthLimitError>() {
                    ClientError::TooLarge {
                        endpoint: endpoint.to_owned(),
                        limit: self.max_body,
                    }
                } else {
                    self.failure(endpoint, err.as_ref(), err.to_string())
                }
            })?
            .to_bytes();
        Ok(FederationResponse {
            status: parts.status,
            headers: parts.headers,
            body,
            peer: channel.peer,
        })
    }

    /// The error for a failed exchange; the connection is dropped so the next request dials
    /// afresh (and meets the current revocations).
    fn failure(
        &self,
        endpoint: &str,
        err: &(dyn std::error::Error + 'static),
        reason: String,
    ) -> ClientError {
        self.lock().remove(endpoint);
        match TlsFailure::of(err) {
            Some(failure) => ClientError::Tls {
                endpoint: endpoint.to_owned(),
                failure,
            },
            None => ClientError::Http {
                endpoint: endpoint.to_owned(),
                reason,
            },
        }
    }

    fn lock(&self) -> MutexGuard<'_, HashMap<String, Channel>> {
        self.channels.lock().unwrap_or_else(|p| p.into_inner())
    }

    async fn channel(
        &self,
        endpoint: &str,
        expected: ExpectedPeer<'_>,
    ) -> Result<Channel, ClientError> {
        let open = self
            .lock()
            .get(endpoint)
            .filter(|c| !c.sender.is_closed())
            .cloned();
        if let Some(channel) = open {
            if expected.check(endpoint, &channel.peer).is_ok() {
                return Ok(channel);
            }
            self.lock().remove(endpoint);
        }
        let channel = self.connect(endpoint, expected).await?;
        self.lock().insert(endpoint.to_owned(), channel.clone());
        Ok(channel)
    }

    async fn connect(
        &self,
        endpoint: &str,
        expected: ExpectedPeer<'_>,
    ) -> Result<Channel, ClientError> {
        let (host, port) = split_endpoint(endpoint)?;
        let name = ServerName::try_from(host.to_owned())
            .map_err(|_| ClientError::Endpoint(endpoint.to_owned()))?;
        let connect_error = |source| ClientError::Connect {
            endpoint: endpoint.to_owned(),
            source,
        };
        let tcp = TcpStream::connect((host, port))
            .await
            .map_err(connect_error)?;
        let _ = tcp.set_nodelay(true);
        let tls =
            self.connector
                .connect(name, tcp)
                .await
                .map_err(|err| match TlsFailure::of(&err) {
                    Some(failure) => ClientError::Tls {
                        endpoint: endpoint.to_owned(),
                        failure,
                    },
                    None => connect_error(err),
                })?;
        let peer =
            peer_identity(tls.get_ref().1.peer_certificates()).map_err(|_| ClientError::Tls {
                endpoint: endpoint.to_owned(),
                failure: TlsFailure::PeerBadCertificate,
            })?;
        expected.check(endpoint, &peer)?;
        let tls = primed(endpoint, tls).await?;
        let (sender, connection) =
            hyper::client::conn::http2::handshake(TokioExecutor::new(), TokioIo::new(tls))
                .await
                .map_err(|err| self.failure(endpoint, &err, err.to_string()))?;
        let (end, ended) = watch::channel(None);
        tokio::spawn(async move {
            if let Err(err) = connection.await {
                tracing::debug!(%err, "federation connection closed");
                let _ = end.send(TlsFailure::of(&err));
            }
        });
        Ok(Channel {
            sender,
            peer,
            ended,
        })
    }
}

/// Waits for the server's first bytes before handing the connection to HTTP/2.
///
/// In TLS 1.3 the server judges the client's certificate only after the client has finished
/// its side of the handshake, so a refusal arrives as an alert on the first read. Read here,
/// it is a typed rustls error; read later by the HTTP/2 machinery, it may be lost to a
/// connection reset. An HTTP/2 server always speaks first (its SETTINGS frame), so an
/// accepted connection yields bytes at once; they are kept and replayed to HTTP/2.
async fn primed(
    endpoint: &str,
    mut tls: tokio_rustls::client::TlsStream<TcpStream>,
) -> Result<Primed, ClientError> {
    use tokio::io::AsyncReadExt;
    if tls.get_ref().1.alpn_protocol() != Some(b"h2") {
        return Err(ClientError::Http {
            endpoint: endpoint.to_owned(),
            reason: "the server does not speak HTTP/2".into(),
        });
    }
    let mut first = vec![0u8; 4096];
    let n = tls
        .read(&mut first)
        .await
        .map_err(|err| match TlsFailure::of(&err) {
            Some(failure) => ClientError::Tls {
                endpoint: endpoint.to_owned(),
                failure,
            },
            None => ClientError::Connect {
                endpoint: endpoint.to_owned(),
                source: err,
            },
        })?;
    if n == 0 {
        return Err(ClientError::Http {
            endpoint: endpoint.to_owned(),
            reason: "the server closed the connection after the handshake".into(),
        });
    }
    first.truncate(n);
    Ok(Primed {
        first,
        read: 0,
        inner: tls,
    })
}

/// A TLS stream with bytes already read from it put back in front.
struct Primed {
    first: Vec<u8>,
    read: usize,
    inner: tokio_rustls::client::TlsStream<TcpStream>,
}

impl tokio::io::AsyncRead for Primed {
    fn poll_read(
        mut self: std::pin::Pin<&mut Self>,
        cx: &mut std::task::Context<'_>,
        buf: &mut tokio::io::ReadBuf<'_>,
    ) -> std::task::Poll<std::io::Result<()>> {
        let this = &mut *self;
        if this.read < this.first.len() {
            let rest = &this.first[this.read..];
            let n = rest.len().min(buf.remaining());
            buf.put_slice(&rest[..n]);
            this.read += n;
            return std::task::Poll::Ready(Ok(()));
        }
        std::pin::Pin::new(&mut this.inner).poll_read(cx, buf)
    }
}

impl tokio::io::AsyncWrite for Primed {
    fn poll_write(
        mut self: std::pin::Pin<&mut Self>,
        cx: &mut std::task::Context<'_>,
        buf: &[u8],
    ) -> std::task::Poll<std::io::Result<usize>> {
        std::pin::Pin::new(&mut self.inner).poll_write(cx, buf)
    }

    fn poll_flush(
        mut self: std::pin::Pin<&mut Self>,
        cx: &mut std::task::Context<'_>,
    ) -> std::task::Poll<std::io::Result<()>> {
        std::pin::Pin::new(&mut self.inner).poll_flush(cx)
    }

    fn poll_shutdown(
        mut self: std::pin::Pin<&mut Self>,
        cx: &mut std::task::Context<'_>,
    ) -> std::task::Poll<std::io::Result<()>> {
        std::pin::Pin::new(&mut self.inner).poll_shutdown(cx)
    }
}

/// The TLS failure a connection ended with, waiting briefly for its task to report.
async fn connection_end(ended: &mut watch::Receiver<Option<TlsFailure>>) -> Option<TlsFailure> {
    let waited =
        tokio::time::timeout(Duration::from_millis(500), ended.wait_for(Option::is_some)).await;
    match waited {
        Ok(Ok(failure)) => *failure,
        _ => None,
    }
}

/// `https://host:port` → (host, port); IPv6 hosts in brackets.
fn split_endpoint(endpoint: &str) -> Result<(&str, u16), ClientError> {
    let bad = || ClientError::Endpoint(endpoint.to_owned());
    let rest = endpoint.strip_prefix("https://").ok_or_else(bad)?;
    let (host, port) = rest.rsplit_once(':').ok_or_else(bad)?;
    let host = host
        .strip_prefix('[')
        .and_then(|h| h.strip_suffix(']'))
        .unwrap_or(host);
    let port = port.parse().map_err(|_| bad())?;
    if host.is_empty() {
        return Err(bad());
    }
    Ok((host, port))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn endpoints_split_into_host_and_port() {
        assert_eq!(
            split_endpoint("https://127.0.0.1:7401").unwrap(),
            ("127.0.0.1", 7401)
        );
        assert_eq!(split_endpoint("https://[::1]:443").unwrap(), ("::1", 443));
        assert_eq!(
            split_endpoint("https://node.example:8443").unwrap(),
            ("node.example", 8443)
        );
        for bad in ["http://a:1", "https://a", "https://:1", "https://a:port"] {
            assert!(split_endpoint(bad).is_err(), "{bad}");
        }
    }
}
