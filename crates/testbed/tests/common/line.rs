//! A line between two nodes that a test can damage: it ends the sender's mutual TLS as the
//! recipient would (with the recipient's own certificate), passes each HTTP/2 request on to the
//! recipient over mutual TLS as the sender would (with the sender's certificate), and on a
//! test's order flips one byte in the body of one chunk of a file, or cuts the connection in
//! the middle of one. It records every chunk it passed and the recipient's answer.

use bytes::Bytes;
use http_body_util::{BodyExt, Full};
use hyper::body::Incoming;
use hyper_util::rt::{TokioExecutor, TokioIo};
use rustls::pki_types::ServerName;
use std::net::SocketAddr;
use std::path::Path;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use utbyte_pki::{NodeCredentials, Revocations};

/// No chunk.
const NONE: u64 = u64::MAX;

pub struct Line {
    /// The chunk (by index, of any file) whose body to damage once.
    pub damage: AtomicU64,
    /// The chunk at which to cut the connection once.
    pub cut: AtomicU64,
    /// Each chunk passed, with the recipient's status (0: cut).
    pub seen: Mutex<Vec<(u64, u16)>>,
    cuts: tokio::sync::Notify,
}

/// The index of the chunk a request carries, if it carries one.
fn chunk_of(path: &str) -> Option<u64> {
    path.rsplit_once("/chunks/")?.1.parse().ok()
}

impl Line {
    /// Starts the line on `listener` (published as the recipient's endpoint), to `recipient`
    /// at `to`; `pki` is the federation's credentials directory.
    pub fn start(
        listener: std::net::TcpListener,
        pki: &Path,
        recipient: &str,
        sender: &str,
        to: SocketAddr,
    ) -> Arc<Self> {
        let revocations = Revocations::new();
        let mut server = (*NodeCredentials::load(&pki.join(recipient))
            .unwrap()
            .server_config(&revocations)
            .unwrap())
        .clone();
        server.alpn_protocols = vec![b"h2".to_vec()];
        let mut client = (*NodeCredentials::load(&pki.join(sender))
            .unwrap()
            .client_config(&revocations)
            .unwrap())
        .clone();
        client.alpn_protocols = vec![b"h2".to_vec()];
        let acceptor = tokio_rustls::TlsAcceptor::from(Arc::new(server));
        let connector = tokio_rustls::TlsConnector::from(Arc::new(client));
        let line = Arc::new(Line {
            damage: AtomicU64::new(NONE),
            cut: AtomicU64::new(NONE),
            seen: Mutex::new(Vec::new()),
            cuts: tokio::sync::Notify::new(),
        });
        listener.set_nonblocking(true).unwrap();
        let listener = tokio::net::TcpListener::from_std(listener).unwrap();
        let this = Arc::clone(&line);
        tokio::spawn(async move {
            loop {
                let Ok((socket, _)) = listener.accept().await else {
                    return;
                };
                let (acceptor, connector, line) =
                    (acceptor.clone(), connector.clone(), Arc::clone(&this));
                tokio::spawn(async move {
                    let _ = line.carry(socket, acceptor, connector, to).await;
                });
            }
        });
        line
    }

    /// Carries one connection until it ends or is cut.
    async fn carry(
        self: Arc<Self>,
        socket: tokio::net::TcpStream,
        acceptor: tokio_rustls::TlsAcceptor,
        connector: tokio_rustls::TlsConnector,
        to: SocketAddr,
    ) -> std::io::Result<()> {
        let downstream = acceptor.accept(socket).await?;
        let upstream = tokio::net::TcpStream::connect(to).await?;
        let name = ServerName::try_from("localhost").map_err(std::io::Error::other)?;
        let upstream = connector.connect(name.to_owned(), upstream).await?;
        let (sender, connection) =
            hyper::client::conn::http2::handshake(TokioExecutor::new(), TokioIo::new(upstream))
                .await
                .map_err(std::io::Error::other)?;
        let upstream_task = tokio::spawn(connection);
        let line = Arc::clone(&self);
        let service = hyper::service::service_fn(move |request: hyper::Request<Incoming>| {
            let (line, mut sender) = (Arc::clone(&line), sender.clone());
            async move {
                let (parts, body) = request.into_parts();
                let mut body = body
                    .collect()
                    .await
                    .map_err(std::io::Error::other)?
                    .to_bytes();
                let chunk = chunk_of(parts.uri.path());
                if let Some(i) = chunk {
                    if line
                        .cut
                        .compare_exchange(i, NONE, Ordering::SeqCst, Ordering::SeqCst)
                        .is_ok()
                    {
                        line.seen.lock().unwrap().push((i, 0));
                        line.cuts.notify_waiters();
                        // The connection goes before this request is answered.
                        std::future::pending::<()>().await;
                    }
                    if line
                        .damage
                        .compare_exchange(i, NONE, Ordering::SeqCst, Ordering::SeqCst)
                        .is_ok()
                    {
                        let mut damaged = body.to_vec();
                        let middle = damaged.len() / 2;
                        damaged[middle] ^= 0x01;
                        body = Bytes::from(damaged);
                    }
                }
                let forwarded = hyper::Request::from_parts(parts, Full::new(body));
                let answer = sender
                    .send_request(forwarded)
                    .await
                    .map_err(std::io::Error::other)?;
                let (parts, body) = answer.into_parts();
                let body = body
                    .collect()
                    .await
                    .map_err(std::io::Error::other)?
                    .to_bytes();
                if let Some(i) = chunk {
                    line.seen.lock().unwrap().push((i, parts.status.as_u16()));
                }
                Ok::<_, std::io::Error>(hyper::Response::from_parts(parts, Full::new(body)))
            }
        });
        let serving = hyper::server::conn::http2::Builder::new(TokioExecutor::new())
            .serve_connection(TokioIo::new(downstream), service);
        tokio::select! {
            _ = serving => {}
            _ = self.cuts.notified() => {}
        }
        upstream_task.abort();
        Ok(())
    }

    /// How often each chunk was passed, and the statuses it got, in order.
    pub fn passed(&self, chunk: u64) -> Vec<u16> {
        self.seen
            .lock()
            .unwrap()
            .iter()
            .filter(|(i, _)| *i == chunk)
            .map(|(_, status)| *status)
            .collect()
    }
}
