//! `utbyte node health`: one `GET /healthz` on the node's local listener, over TLS unless the
//! configuration asks for plain HTTP, as a container health check or a service manager's probe.
//! It speaks the one request itself (no HTTP client needed for a status line) and gives up after
//! five seconds.

use anyhow::Context;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};
use std::process::ExitCode;
use std::sync::Arc;
use std::time::Duration;
use tokio::io::{AsyncBufReadExt, AsyncRead, AsyncWrite, AsyncWriteExt, BufReader};
use tokio::net::TcpStream;
use utbyte_node::NodeConfig;

/// How long the whole probe may take.
const PROBE_TIMEOUT: Duration = Duration::from_secs(5);

/// Exit 0 when the node answers `/healthz` with 200.
pub async fn alive(config: &NodeConfig) -> anyhow::Result<ExitCode> {
    let addr = probe_address(config.local_listen);
    let status = tokio::time::timeout(PROBE_TIMEOUT, status(config, addr))
        .await
        .with_context(|| format!("no answer from {addr} within {PROBE_TIMEOUT:?}"))??;
    if status == 200 {
        println!("alive: {addr} answers /healthz with 200");
        Ok(ExitCode::SUCCESS)
    } else {
        eprintln!("not alive: {addr} answers /healthz with {status}");
        Ok(ExitCode::FAILURE)
    }
}

/// Where to dial a listener: a wildcard address is dialled on loopback.
fn probe_address(listen: SocketAddr) -> SocketAddr {
    let ip = match listen.ip() {
        IpAddr::V4(ip) if ip.is_unspecified() => IpAddr::V4(Ipv4Addr::LOCALHOST),
        IpAddr::V6(ip) if ip.is_unspecified() => IpAddr::V6(Ipv6Addr::LOCALHOST),
        ip => ip,
    };
    SocketAddr::new(ip, listen.port())
}

async fn status(config: &NodeConfig, addr: SocketAddr) -> anyhow::Result<u16> {
    let stream = TcpStream::connect(addr)
        .await
        .with_context(|| format!("connecting to {addr}"))?;
    let access = &config.access;
    match &access.certificate {
        Some(certificate) if !access.plain_http => {
            let chain = utbyte_access::certificates::certificate_chain(certificate)?;
            let leaf = chain.into_iter().next().context("no certificate")?;
            let tls = utbyte_access::certificates::pinned_client_config(leaf)
                .map_err(anyhow::Error::msg)?;
            let connector = tokio_rustls::TlsConnector::from(Arc::new(tls));
            let name = rustls::pki_types::ServerName::IpAddress(addr.ip().into());
            let stream = connector
                .connect(name, stream)
                .await
                .with_context(|| format!("TLS with {addr}"))?;
            get_healthz(stream, addr).await
        }
        _ => get_healthz(stream, addr).await,
    }
}

async fn get_healthz(
    mut stream: impl AsyncRead + AsyncWrite + Unpin,
    addr: SocketAddr,
) -> anyhow::Result<u16> {
    let request = format!("GET /healthz HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\n\r\n");
    stream.write_all(request.as_bytes()).await?;
    stream.flush().await?;
    let mut line = String::new();
    BufReader::new(stream).read_line(&mut line).await?;
    line.split_whitespace()
        .nth(1)
        .and_then(|code| code.parse().ok())
        .with_context(|| format!("not an HTTP status line: {:?}", line.trim_end()))
}

#[cfg(test)]
mod tests {
    use super::probe_address;

    #[test]
    fn a_wildcard_listener_is_dialled_on_loopback() {
        let dial = |listen: &str| probe_address(listen.parse().unwrap_or_else(|_| unreachable!()));
        assert_eq!(dial("0.0.0.0:7501").to_string(), "127.0.0.1:7501");
        assert_eq!(dial("[::]:7501").to_string(), "[::1]:7501");
        assert_eq!(dial("10.1.2.3:7501").to_string(), "10.1.2.3:7501");
    }
}
