//! Serving a router: over mutual TLS to other federation members, or in plain HTTP on a
//! loopback address to the authority's own systems.

use crate::tls_error::TlsFailure;
use axum::extract::Request;
use axum::Router;
use hyper_util::rt::{TokioExecutor, TokioIo, TokioTimer};
use hyper_util::server::graceful::Watcher;
use hyper_util::service::TowerToHyperService;
use rustls::ServerConfig;
use std::collections::HashMap;
use std::future::Future;
use std::net::{IpAddr, SocketAddr};
use std::sync::{Arc, Mutex};
use std::time::Duration;
use tokio::net::{TcpListener, TcpStream};
use tokio::task::JoinSet;
use tokio_rustls::TlsAcceptor;
use tower::ServiceExt;
use utbyte_pki::{peer_identity, NodeIdentity};

/// The member at the other end of a mutual-TLS connection, as its verified certificate names
/// it. [`serve_mtls`] puts it in every request's extensions; a handler that needs it takes
/// `Extension<Peer>`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Peer(pub NodeIdentity);

/// Told the kind of every handshake a listener refuses (a [`TlsFailure::slug`], or
/// `handshake-timeout`, `no-authority`, `connection-error`); a node counts them by kind.
pub type HandshakeObserver = Arc<dyn Fn(&'static str) + Send + Sync>;

/// How long a client may take to complete the TLS handshake before the connection is dropped.
const HANDSHAKE_TIMEOUT: Duration = Duration::from_secs(10);

/// How long an HTTP/1.1 client may take to send a request's headers once the connection is
/// open (after TLS), or between requests on a kept-alive connection before its next one starts:
/// a client trickling headers byte by byte holds a connection no longer than this.
pub const HEADER_READ_TIMEOUT: Duration = Duration::from_secs(10);

/// Serves `app` on `listener` to mutual-TLS clients until `shutdown` completes, then lets every
/// connection finish the requests it holds and returns once they are answered.
///
/// `tls` must require client certificates (as `utbyte_pki::server_config` does); a connection
/// whose handshake fails (unknown CA, expired or revoked certificate: the client gets the TLS
/// alert) or whose certificate names no authority is closed without reaching `app`. HTTP/2 and
/// HTTP/1.1 are offered by ALPN.
pub async fn serve_mtls(
    listener: TcpListener,
    tls: Arc<ServerConfig>,
    app: Router,
    shutdown: impl Future<Output = ()> + Send,
) -> std::io::Result<()> {
    serve_mtls_observed(listener, tls, app, shutdown, Arc::new(|_| {})).await
}

/// [`serve_mtls`], telling `refused` of every handshake it refuses.
pub async fn serve_mtls_observed(
    listener: TcpListener,
    tls: Arc<ServerConfig>,
    app: Router,
    shutdown: impl Future<Output = ()> + Send,
    refused: HandshakeObserver,
) -> std::io::Result<()> {
    serve_tls_as(listener, tls, app, shutdown, refused, Admission::Member).await
}

/// The certificate chain (leaf first) a client of [`serve_tls`] presented, not yet judged:
/// the listener's TLS configuration defers that to the application, which must verify it
/// before believing anything it says. Absent when the client presented none.
#[derive(Debug, Clone)]
pub struct ClientChain(pub Vec<rustls::pki_types::CertificateDer<'static>>);

/// Serves `app` over TLS to clients that may or may not present a certificate (the local
/// listener, for the authority's own systems), until `shutdown` completes, then lets every
/// connection finish the requests it holds. A presented chain is put in every request's
/// extensions as [`ClientChain`]; the client's address always as `ConnectInfo<SocketAddr>`.
pub async fn serve_tls(
    listener: TcpListener,
    tls: Arc<ServerConfig>,
    app: Router,
    shutdown: impl Future<Output = ()> + Send,
    refused: HandshakeObserver,
) -> std::io::Result<()> {
    serve_tls_as(listener, tls, app, shutdown, refused, Admission::Client).await
}

/// Who a TLS listener admits.
#[derive(Debug, Clone, Copy)]
enum Admission {
    /// Federation members: a verified certificate naming an authority, as [`Peer`].
    Member,
    /// Any client; its certificate, if any, goes to the application as [`ClientChain`].
    Client,
}

async fn serve_tls_as(
    listener: TcpListener,
    tls: Arc<ServerConfig>,
    app: Router,
    shutdown: impl Future<Output = ()> + Send,
    refused: HandshakeObserver,
    admission: Admission,
) -> std::io::Result<()> {
    let mut tls = (*tls).clone();
    tls.alpn_protocols = vec![b"h2".to_vec(), b"http/1.1".to_vec()];
    let acceptor = TlsAcceptor::from(Arc::new(tls));
    let observer = Arc::clone(&refused);
    accept_loop(listener, shutdown, observer, move |stream, peer_addr, watcher| {
        let acceptor = acceptor.clone();
        let app = app.clone();
        let refused = Arc::clone(&refused);
        async move {
            // A refused handshake is logged with its kind and the address it came from: an
            // expired or revoked member, or someone probing, is what an operator looks for.
            let tls = match tokio::time::timeout(HANDSHAKE_TIMEOUT, acceptor.accept(stream)).await {
                Ok(Ok(tls)) => tls,
                Ok(Err(err)) => {
                    let kind = TlsFailure::of(&err).map_or("connection-error", TlsFailure::slug);
                    tracing::warn!(kind, peer = %peer_addr, %err, "TLS handshake refused");
                    refused(kind);
                    return;
                }
                Err(_) => {
                    let kind = "handshake-timeout";
                    tracing::warn!(kind, peer = %peer_addr, "TLS handshake not completed in time");
                    refused(kind);
                    return;
                }
            };
            let presented = tls.get_ref().1.peer_certificates();
            let mut extensions = http::Extensions::new();
            extensions.insert(axum::extract::ConnectInfo(peer_addr));
            match admission {
                Admission::Member => match peer_identity(presented) {
                    Ok(identity) => {
                        extensions.insert(Peer(identity));
                    }
                    Err(err) => {
                        let kind = "no-authority";
                        tracing::warn!(kind, peer = %peer_addr, %err, "peer certificate names no authority");
                        refused(kind);
                        return;
                    }
                },
                Admission::Client => {
                    if let Some(chain) = presented.filter(|c| !c.is_empty()) {
                        extensions.insert(ClientChain(chain.to_vec()));
                    }
                }
            }
            // The protocol is the one ALPN agreed, not guessed from the first bytes: an HTTP/2
            // server then speaks first, which is how a client learns its certificate was
            // accepted (see the client's `primed`).
            let h2 = tls.get_ref().1.alpn_protocol() == Some(b"h2");
            let service = TowerToHyperService::new(with_extensions(app, extensions));
            let io = TokioIo::new(tls);
            let served = if h2 {
                let connection = hyper::server::conn::http2::Builder::new(TokioExecutor::new())
                    .initial_connection_window_size(H2_CONNECTION_WINDOW)
                    .initial_stream_window_size(H2_STREAM_WINDOW)
                    .max_frame_size(H2_MAX_FRAME)
                    .serve_connection(io, service);
                watcher.watch(connection).await
            } else {
                let connection = http1().serve_connection(io, service);
                watcher.watch(connection).await
            };
            if let Err(err) = served {
                tracing::debug!(%err, "connection ended with an error");
            }
        }
    })
    .await
}

/// HTTP/2 flow control as the server offers it. A node takes a file from another in 1 MiB
/// chunks, several at once on one connection; hyper's defaults (1 MiB for the whole
/// connection, 16 KiB frames) would let one chunk move at a time, cut into 64 frames. These
/// let the chunks in flight move together in fewer frames; what one connection may have
/// waiting to be read stays bounded by the connection's window.
const H2_CONNECTION_WINDOW: u32 = 8 << 20;
const H2_STREAM_WINDOW: u32 = 2 << 20;
const H2_MAX_FRAME: u32 = 256 << 10;

/// `app` with `extensions` added to every request of one connection.
fn with_extensions(
    app: Router,
    extensions: http::Extensions,
) -> impl tower::Service<
    Request<hyper::body::Incoming>,
    Response = axum::response::Response,
    Error = std::convert::Infallible,
    Future = impl Send,
> + Clone {
    app.map_request(move |mut request: Request<hyper::body::Incoming>| {
        request.extensions_mut().extend(extensions.clone());
        request
    })
}

/// HTTP/1.1 as every listener serves it: request headers within [`HEADER_READ_TIMEOUT`].
fn http1() -> hyper::server::conn::http1::Builder {
    let mut builder = hyper::server::conn::http1::Builder::new();
    builder
        .timer(TokioTimer::new())
        .header_read_timeout(HEADER_READ_TIMEOUT);
    builder
}

/// Accepts connections until `shutdown` completes, each within the [`ConnectionLimits`] and
/// served by `serve` on a task of its own; then tells every connection to finish the requests
/// it holds and take no more (HTTP/2 GOAWAY, HTTP/1.1 closes after the current response), so
/// nothing in flight is cut, and returns once they are answered.
async fn accept_loop<F, Fut>(
    listener: TcpListener,
    shutdown: impl Future<Output = ()> + Send,
    refused: HandshakeObserver,
    serve: F,
) -> std::io::Result<()>
where
    F: Fn(TcpStream, SocketAddr, Watcher) -> Fut,
    Fut: Future<Output = ()> + Send + 'static,
{
    let limits = Arc::new(ConnectionLimits::default());
    let mut connections = JoinSet::new();
    let graceful = hyper_util::server::graceful::GracefulShutdown::new();
    tokio::pin!(shutdown);
    loop {
        let (stream, peer_addr) = tokio::select! {
            () = &mut shutdown => break,
            accepted = listener.accept() => match accepted {
                Ok(accepted) => accepted,
                // Out of file descriptors and the like: pause rather than spin.
                Err(err) => {
                    tracing::warn!(%err, "accept failed");
                    tokio::time::sleep(Duration::from_millis(50)).await;
                    continue;
                }
            },
        };
        // Reap finished connections so the set does not grow without bound.
        while connections.try_join_next().is_some() {}
        let Some(slot) = limits.admit(peer_addr.ip()) else {
            // Closed at once: one address cannot take every connection the node can hold.
            let kind = "connection-limit";
            tracing::warn!(kind, peer = %peer_addr, "connection refused: too many open");
            refused(kind);
            continue;
        };
        let _ = stream.set_nodelay(true);
        let connection = serve(stream, peer_addr, graceful.watcher());
        connections.spawn(async move {
            connection.await;
            drop(slot);
        });
    }
    // Waits for every watched connection to end; one still in its handshake (bounded by the
    // handshake timeout) holds no request yet and is waited for by the join below.
    graceful.shutdown().await;
    while connections.join_next().await.is_some() {}
    Ok(())
}

/// Most connections one listener holds open at once.
pub const MAX_CONNECTIONS: usize = 4096;
/// Most connections one client address holds open at once on one listener. A federation
/// member's node multiplexes its requests over one HTTP/2 connection, and a case system needs
/// a pool, not hundreds; the bound keeps one misbehaving client from taking them all.
pub const MAX_CONNECTIONS_PER_PEER: usize = 256;

/// Open connections, in all and per client address.
#[derive(Debug, Default)]
struct ConnectionLimits {
    open: Mutex<(usize, HashMap<IpAddr, usize>)>,
}

/// One admitted connection; its place is given back when dropped.
struct Slot {
    limits: Arc<ConnectionLimits>,
    ip: IpAddr,
}

impl ConnectionLimits {
    fn admit(self: &Arc<Self>, ip: IpAddr) -> Option<Slot> {
        let mut open = self.open.lock().unwrap_or_else(|p| p.into_inner());
        let (total, per_peer) = &mut *open;
        let mine = per_peer.entry(ip).or_default();
        if *total >= MAX_CONNECTIONS || *mine >= MAX_CONNECTIONS_PER_PEER {
            if *mine == 0 {
                per_peer.remove(&ip);
            }
            return None;
        }
        *mine += 1;
        *total += 1;
        Some(Slot {
            limits: Arc::clone(self),
            ip,
        })
    }
}

impl Drop for Slot {
    fn drop(&mut self) {
        let mut open = self.limits.open.lock().unwrap_or_else(|p| p.into_inner());
        let (total, per_peer) = &mut *open;
        *total = total.saturating_sub(1);
        if let Some(mine) = per_peer.get_mut(&self.ip) {
            *mine = mine.saturating_sub(1);
            if *mine == 0 {
                per_peer.remove(&self.ip);
            }
        }
    }
}

/// Serves `app` in plain HTTP/1.1 until `shutdown` completes, with the client's address in
/// every request as `ConnectInfo<SocketAddr>`, the same header read timeout and connection
/// limits as the TLS listeners, and the same graceful end. Only for loopback listeners: the
/// caller checks the address (see the node's configuration).
pub async fn serve_plain(
    listener: TcpListener,
    app: Router,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> std::io::Result<()> {
    accept_loop(
        listener,
        shutdown,
        Arc::new(|_| {}),
        move |stream, peer_addr, watcher| {
            let mut extensions = http::Extensions::new();
            extensions.insert(axum::extract::ConnectInfo(peer_addr));
            let service = TowerToHyperService::new(with_extensions(app.clone(), extensions));
            async move {
                let connection = http1().serve_connection(TokioIo::new(stream), service);
                if let Err(err) = watcher.watch(connection).await {
                    tracing::debug!(%err, "connection ended with an error");
                }
            }
        },
    )
    .await
}
