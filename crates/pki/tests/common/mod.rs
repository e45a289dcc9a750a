//! A federation on loopback for the tests: CAs in temporary directories, node credentials, a
//! real TLS server that reports each handshake, and a client that reports its own.

#![allow(dead_code, clippy::unwrap_used, clippy::expect_used)]

use rustls::pki_types::ServerName;
use std::io;
use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::sync::Arc;
use std::time::Duration;
use tokio::io::{AsyncReadExt as _, AsyncWriteExt as _};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::mpsc;
use tokio_rustls::{TlsAcceptor, TlsConnector};
use utbyte_pki::{
    peer_identity, FederationCa, NodeCredentials, NodeIdentity, NodeRequest, Validity,
};

pub const LOOPBACK: IpAddr = IpAddr::V4(Ipv4Addr::LOCALHOST);

/// A federation CA in its own temporary directory.
pub struct Federation {
    pub dir: tempfile::TempDir,
    pub ca: FederationCa,
}

impl Federation {
    pub fn new(name: &str) -> Self {
        let dir = tempfile::tempdir().unwrap();
        let ca = FederationCa::init(&dir.path().join("ca"), name, Validity::Days(30)).unwrap();
        Self { dir, ca }
    }

    /// Credentials for a node reachable at 127.0.0.1 and `localhost`.
    pub fn node(&self, authority: &str, orgnr: &str, name: &str) -> NodeCredentials {
        self.node_valid(authority, orgnr, name, Validity::Days(7))
    }

    pub fn node_valid(
        &self,
        authority: &str,
        orgnr: &str,
        name: &str,
        validity: Validity,
    ) -> NodeCredentials {
        let request = NodeRequest::new(authority, orgnr, name)
            .unwrap()
            .dns_name("localhost")
            .unwrap()
            .ip_address(LOOPBACK)
            .validity(validity);
        self.ca.issue(&request).unwrap()
    }
}

pub fn skatteverket(federation: &Federation) -> NodeCredentials {
    federation.node("skatteverket", "202100-5448", "Skatteverket")
}

pub fn forsakringskassan(federation: &Federation) -> NodeCredentials {
    federation.node("forsakringskassan", "202100-5521", "Försäkringskassan")
}

/// What the server saw of one connection: the client's identity, or why the handshake failed.
pub type Accepted = Result<NodeIdentity, io::Error>;

/// A TLS server on 127.0.0.1 that greets each client whose handshake succeeds.
pub struct Server {
    pub addr: SocketAddr,
    accepted: mpsc::UnboundedReceiver<Accepted>,
}

impl Server {
    pub async fn start(config: Arc<rustls::ServerConfig>) -> Self {
        let listener = TcpListener::bind((LOOPBACK, 0)).await.unwrap();
        let addr = listener.local_addr().unwrap();
        let (report, accepted) = mpsc::unbounded_channel();
        let acceptor = TlsAcceptor::from(config);
        tokio::spawn(async move {
            while let Ok((tcp, _)) = listener.accept().await {
                let result = match acceptor.accept(tcp).await {
                    Ok(mut tls) => {
                        let identity = peer_identity(tls.get_ref().1.peer_certificates())
                            .map_err(io::Error::other);
                        let _ = tls.write_all(b"ok\n").await;
                        let _ = tls.shutdown().await;
                        identity
                    }
                    Err(err) => Err(err),
                };
                if report.send(result).is_err() {
                    break;
                }
            }
        });
        Self { addr, accepted }
    }

    /// The outcome of the next connection.
    pub async fn next(&mut self) -> Accepted {
        tokio::time::timeout(Duration::from_secs(10), self.accepted.recv())
            .await
            .expect("the server reports within 10 s")
            .expect("the server is running")
    }
}

/// What the client saw: the server's identity once the server greeted it.
#[derive(Debug)]
pub struct Connected {
    pub server: NodeIdentity,
    pub version: rustls::ProtocolVersion,
}

/// Connects to `addr` as `server_name`, completes the handshake and reads the greeting, which
/// is where a client learns that the server rejected its certificate (in TLS 1.3 the client
/// finishes its side of the handshake before the server verifies it).
pub async fn connect(
    config: Arc<rustls::ClientConfig>,
    addr: SocketAddr,
    server_name: &str,
) -> Result<Connected, io::Error> {
    let name = ServerName::try_from(server_name.to_owned()).unwrap();
    let attempt = async {
        let tcp = TcpStream::connect(addr).await?;
        let mut tls = TlsConnector::from(config).connect(name, tcp).await?;
        let mut greeting = [0u8; 3];
        tls.read_exact(&mut greeting).await?;
        assert_eq!(&greeting, b"ok\n");
        let (_, connection) = tls.get_ref();
        Ok(Connected {
            server: peer_identity(connection.peer_certificates()).map_err(io::Error::other)?,
            version: connection.protocol_version().unwrap(),
        })
    };
    tokio::time::timeout(Duration::from_secs(10), attempt)
        .await
        .expect("the client finishes within 10 s")
}

/// The rustls error inside an I/O error from tokio-rustls.
pub fn tls_error(result: Result<impl std::fmt::Debug, io::Error>) -> rustls::Error {
    let err = result.expect_err("the connection must fail");
    err.get_ref()
        .and_then(|inner| inner.downcast_ref::<rustls::Error>())
        .cloned()
        .unwrap_or_else(|| panic!("not a TLS error: {err:?}"))
}

/// A certificate error of the verifying side.
pub fn certificate_error(
    result: Result<impl std::fmt::Debug, io::Error>,
) -> rustls::CertificateError {
    match tls_error(result) {
        rustls::Error::InvalidCertificate(err) => err,
        other => panic!("expected a certificate error, got {other:?}"),
    }
}

/// The alert the other side received.
pub fn alert(result: Result<impl std::fmt::Debug, io::Error>) -> rustls::AlertDescription {
    match tls_error(result) {
        rustls::Error::AlertReceived(alert) => alert,
        other => panic!("expected an alert, got {other:?}"),
    }
}
