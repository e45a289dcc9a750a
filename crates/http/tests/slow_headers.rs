//! A client that opens a connection (TLS or plain) and then trickles its request headers holds
//! it no longer than the header read timeout; a client that sends them is answered; and one
//! address holds no more than its share of a listener's connections.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use axum::routing::get;
use axum::Router;
use rustls::pki_types::{CertificateDer, PrivateKeyDer, PrivatePkcs8KeyDer, ServerName};
use std::sync::Arc;
use std::time::{Duration, Instant};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use utbyte_http::{serve_tls, HEADER_READ_TIMEOUT};

fn provider() -> Arc<rustls::crypto::CryptoProvider> {
    Arc::new(rustls::crypto::ring::default_provider())
}

/// A listener serving `GET /` over TLS with a certificate for `localhost`, and a client
/// configuration trusting that certificate.
async fn serve() -> (std::net::SocketAddr, Arc<rustls::ClientConfig>) {
    let made = rcgen::generate_simple_self_signed(vec!["localhost".to_owned()]).unwrap();
    let cert = CertificateDer::from(made.cert.der().to_vec());
    let key = PrivateKeyDer::Pkcs8(PrivatePkcs8KeyDer::from(made.key_pair.serialize_der()));
    let server = rustls::ServerConfig::builder_with_provider(provider())
        .with_safe_default_protocol_versions()
        .unwrap()
        .with_no_client_auth()
        .with_single_cert(vec![cert.clone()], key)
        .unwrap();
    let mut roots = rustls::RootCertStore::empty();
    roots.add(cert).unwrap();
    let client = rustls::ClientConfig::builder_with_provider(provider())
        .with_safe_default_protocol_versions()
        .unwrap()
        .with_root_certificates(roots)
        .with_no_client_auth();
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let app = Router::new().route("/", get(|| async { "served" }));
    tokio::spawn(serve_tls(
        listener,
        Arc::new(server),
        app,
        std::future::pending(),
        Arc::new(|_| {}),
    ));
    (addr, Arc::new(client))
}

async fn connect(
    addr: std::net::SocketAddr,
    client: &Arc<rustls::ClientConfig>,
) -> tokio_rustls::client::TlsStream<TcpStream> {
    let tcp = TcpStream::connect(addr).await.unwrap();
    tokio_rustls::TlsConnector::from(Arc::clone(client))
        .connect(ServerName::try_from("localhost").unwrap(), tcp)
        .await
        .unwrap()
}

#[tokio::test]
async fn a_client_that_never_finishes_its_headers_is_cut_off() {
    let (addr, client) = serve().await;

    let mut whole = connect(addr, &client).await;
    whole
        .write_all(b"GET / HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n")
        .await
        .unwrap();
    let mut answer = String::new();
    whole.read_to_string(&mut answer).await.unwrap();
    assert!(
        answer.starts_with("HTTP/1.1 200") && answer.ends_with("served"),
        "{answer}"
    );

    assert_cut_off(connect(addr, &client).await).await;
}

/// Sends the start of a request's headers and never the rest: whatever the server sends (a
/// 408, or nothing), the connection ends within the timeout and a margin, not when the client
/// gives up, and nothing is served.
async fn assert_cut_off(mut slow: impl tokio::io::AsyncRead + tokio::io::AsyncWrite + Unpin) {
    let started = Instant::now();
    slow.write_all(b"GET / HTTP/1.1\r\nHost: local")
        .await
        .unwrap();
    let mut rest = Vec::new();
    let ended = tokio::time::timeout(HEADER_READ_TIMEOUT + Duration::from_secs(5), async {
        let _ = slow.read_to_end(&mut rest).await;
    })
    .await;
    assert!(
        ended.is_ok(),
        "the connection was still open after {:?}",
        started.elapsed()
    );
    assert!(started.elapsed() >= HEADER_READ_TIMEOUT - Duration::from_secs(1));
    let text = String::from_utf8_lossy(&rest);
    assert!(!text.contains("served"), "{text}");
}

/// A plain-HTTP listener serving `GET /`.
async fn serve_plain() -> std::net::SocketAddr {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let app = Router::new().route("/", get(|| async { "served" }));
    tokio::spawn(utbyte_http::serve_plain(
        listener,
        app,
        std::future::pending(),
    ));
    addr
}

/// A connection from `from` (an address on the loopback network) to `addr`.
async fn connect_from(from: [u8; 4], addr: std::net::SocketAddr) -> TcpStream {
    let socket = tokio::net::TcpSocket::new_v4().unwrap();
    socket.bind(std::net::SocketAddr::from((from, 0))).unwrap();
    socket.connect(addr).await.unwrap()
}

/// Sends a whole request on `stream` and reads the answer to the end.
async fn ask(mut stream: TcpStream) -> String {
    stream
        .write_all(b"GET / HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n")
        .await
        .unwrap();
    let mut answer = String::new();
    let _ = tokio::time::timeout(Duration::from_secs(5), stream.read_to_string(&mut answer)).await;
    answer
}

#[tokio::test]
async fn the_plain_listener_cuts_off_a_client_that_never_finishes_its_headers() {
    let addr = serve_plain().await;
    assert!(ask(TcpStream::connect(addr).await.unwrap())
        .await
        .ends_with("served"));
    assert_cut_off(TcpStream::connect(addr).await.unwrap()).await;
}

#[tokio::test]
async fn one_address_holds_at_most_its_share_of_connections() {
    use utbyte_http::MAX_CONNECTIONS_PER_PEER;
    let addr = serve_plain().await;
    // One address opens as many connections as it may, and holds them idle.
    let mut held = Vec::new();
    for _ in 0..MAX_CONNECTIONS_PER_PEER {
        held.push(connect_from([127, 0, 0, 1], addr).await);
    }
    // Let the listener accept every one of them before the next arrives.
    tokio::time::sleep(Duration::from_millis(500)).await;
    // One more from the same address is closed at once, unanswered.
    let refused = ask(connect_from([127, 0, 0, 1], addr).await).await;
    assert_eq!(refused, "", "a connection over the limit was served");
    // Another address is served meanwhile.
    assert!(ask(connect_from([127, 0, 0, 2], addr).await)
        .await
        .ends_with("served"));
    // One of the held connections is still served, and once it has closed its place is free.
    let first = held.remove(0);
    assert!(ask(first).await.ends_with("served"));
    tokio::time::sleep(Duration::from_millis(200)).await;
    assert!(ask(connect_from([127, 0, 0, 1], addr).await)
        .await
        .ends_with("served"));
}
