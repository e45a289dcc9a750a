//! The load generator: a fixed number of concurrent workers drawing request numbers from one
//! counter until the request budget or the time cap is spent, each timing its own requests; and
//! the one keep-alive HTTP/1.1 connection (plain or mutual TLS) each HTTP worker holds.

use bytes::Bytes;
use http::{Request, StatusCode};
use http_body_util::{BodyExt, Full};
use hyper::client::conn::http1::SendRequest;
use hyper_util::rt::TokioIo;
use rustls::pki_types::ServerName;
use std::future::Future;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};
use tokio::io::{AsyncRead, AsyncWrite};
use tokio::net::TcpStream;
use tokio::task::JoinSet;
use tokio_rustls::TlsConnector;

use crate::BoxError;

/// How long one request may take before it counts as an error. Generous: it only keeps a
/// stuck request from outliving the run, it is not a latency target.
const REQUEST_TIMEOUT: Duration = Duration::from_secs(30);

/// How many error messages a run keeps to print.
const KEPT_ERRORS: usize = 5;

/// One concurrent client of a measured path.
pub trait Worker: Send + 'static {
    /// Performs request number `i`: `Ok` only for a lawful, non-empty answer, otherwise what was
    /// wrong.
    fn call(&mut self, i: u64) -> impl Future<Output = Result<(), String>> + Send;
}

/// What one run measured.
#[derive(Debug, Default)]
pub struct Outcome {
    /// Durations of the requests that were answered, sorted.
    pub latencies: Vec<Duration>,
    pub errors: u64,
    /// The first few errors, as the workers saw them.
    pub first_errors: Vec<String>,
    /// From the first request started to the last one finished.
    pub elapsed: Duration,
}

impl Outcome {
    pub fn answered(&self) -> u64 {
        self.latencies.len() as u64
    }

    /// Answers per second.
    pub fn rate(&self) -> f64 {
        self.answered() as f64 / self.elapsed.as_secs_f64().max(f64::MIN_POSITIVE)
    }

    /// The `p`-quantile (0 < p ≤ 1) of answered requests' latency, nearest rank.
    pub fn percentile(&self, p: f64) -> Option<Duration> {
        let n = self.latencies.len();
        let rank = ((n as f64 * p).ceil() as usize).clamp(1, n.max(1));
        self.latencies.get(rank - 1).copied()
    }

    fn absorb(&mut self, other: Outcome) {
        self.latencies.extend(other.latencies);
        self.errors += other.errors;
        for error in other.first_errors {
            if self.first_errors.len() < KEPT_ERRORS {
                self.first_errors.push(error);
            }
        }
    }

    fn error(&mut self, error: String) {
        self.errors += 1;
        if self.first_errors.len() < KEPT_ERRORS {
            self.first_errors.push(error);
        }
    }
}

/// Runs `workers` concurrently over request numbers `first..first + count`, starting no request
/// after `cap` has passed (requests in flight then are finished, each bounded by its own
/// timeout). Gives the workers back, so a measured run can reuse the warmed-up connections.
pub async fn drive<W: Worker>(
    workers: Vec<W>,
    first: u64,
    count: u64,
    cap: Duration,
) -> Result<(Vec<W>, Outcome), BoxError> {
    let next = Arc::new(AtomicU64::new(first));
    let end = first + count;
    let started = Instant::now();
    let deadline = started + cap;
    let mut running = JoinSet::new();
    for mut worker in workers {
        let next = Arc::clone(&next);
        running.spawn(async move {
            let mut outcome = Outcome::default();
            while Instant::now() < deadline {
                let i = next.fetch_add(1, Ordering::Relaxed);
                if i >= end {
                    break;
                }
                let began = Instant::now();
                match worker.call(i).await {
                    Ok(()) => outcome.latencies.push(began.elapsed()),
                    Err(error) => outcome.error(error),
                }
            }
            (worker, outcome)
        });
    }
    let mut workers = Vec::new();
    let mut total = Outcome::default();
    while let Some(joined) = running.join_next().await {
        let (worker, outcome) = joined?;
        workers.push(worker);
        total.absorb(outcome);
    }
    total.elapsed = started.elapsed();
    total.latencies.sort_unstable();
    Ok((workers, total))
}

/// Where an HTTP worker connects.
#[derive(Clone)]
pub enum Dial {
    Plain(SocketAddr),
    /// Mutual TLS: the connector carries the client certificate.
    Tls {
        addr: SocketAddr,
        connector: TlsConnector,
        name: ServerName<'static>,
    },
}

impl Dial {
    fn addr(&self) -> SocketAddr {
        match self {
            Dial::Plain(addr) | Dial::Tls { addr, .. } => *addr,
        }
    }
}

/// One HTTP/1.1 keep-alive connection, opened on first use and again after a failure.
pub struct Http1 {
    dial: Dial,
    sender: Option<SendRequest<Full<Bytes>>>,
    /// Connections opened, the first included.
    pub connections: u64,
}

impl Http1 {
    pub fn new(dial: Dial) -> Self {
        Self {
            dial,
            sender: None,
            connections: 0,
        }
    }

    /// The `Host` header value for this connection's requests.
    pub fn host(&self) -> String {
        self.dial.addr().to_string()
    }

    /// Sends `request` and reads the whole answer. A connection that failed or timed out is
    /// dropped, so the next request opens a fresh one.
    pub async fn send(
        &mut self,
        request: Request<Full<Bytes>>,
    ) -> Result<(StatusCode, Bytes), String> {
        match tokio::time::timeout(REQUEST_TIMEOUT, self.exchange(request)).await {
            Ok(Ok(answer)) => Ok(answer),
            Ok(Err(error)) => {
                self.sender = None;
                Err(error)
            }
            Err(_) => {
                self.sender = None;
                Err(format!("no answer within {} s", REQUEST_TIMEOUT.as_secs()))
            }
        }
    }

    async fn exchange(
        &mut self,
        request: Request<Full<Bytes>>,
    ) -> Result<(StatusCode, Bytes), String> {
        let sender = match self.sender.take().filter(|s| !s.is_closed()) {
            Some(sender) => self.sender.insert(sender),
            None => {
                let sender = connect(&self.dial).await?;
                self.connections += 1;
                self.sender.insert(sender)
            }
        };
        sender
            .ready()
            .await
            .map_err(|e| format!("connection not ready: {e}"))?;
        let response = sender
            .send_request(request)
            .await
            .map_err(|e| format!("request failed: {e}"))?;
        let status = response.status();
        let body = response
            .into_body()
            .collect()
            .await
            .map_err(|e| format!("reading the answer failed: {e}"))?
            .to_bytes();
        Ok((status, body))
    }
}

async fn connect(dial: &Dial) -> Result<SendRequest<Full<Bytes>>, String> {
    let addr = dial.addr();
    let tcp = TcpStream::connect(addr)
        .await
        .map_err(|e| format!("cannot connect to {addr}: {e}"))?;
    // Small requests and answers: without it each one waits on Nagle's algorithm.
    let _ = tcp.set_nodelay(true);
    match dial {
        Dial::Plain(_) => handshake(tcp).await,
        Dial::Tls {
            connector, name, ..
        } => {
            let tls = connector
                .connect(name.clone(), tcp)
                .await
                .map_err(|e| format!("TLS handshake with {addr} failed: {e}"))?;
            handshake(tls).await
        }
    }
}

async fn handshake<I>(io: I) -> Result<SendRequest<Full<Bytes>>, String>
where
    I: AsyncRead + AsyncWrite + Unpin + Send + 'static,
{
    let (sender, connection) = hyper::client::conn::http1::handshake(TokioIo::new(io))
        .await
        .map_err(|e| format!("HTTP/1.1 handshake failed: {e}"))?;
    tokio::spawn(async move {
        // A closed connection shows as a closed sender; the worker reconnects.
        let _ = connection.await;
    });
    Ok(sender)
}

/// A short, single-line excerpt of an answer body for an error message.
pub fn excerpt(body: &[u8]) -> String {
    let text = String::from_utf8_lossy(body);
    let line: String = text.split_whitespace().collect::<Vec<_>>().join(" ");
    match line.char_indices().nth(240) {
        Some((cut, _)) => format!("{}…", &line[..cut]),
        None => line,
    }
}
