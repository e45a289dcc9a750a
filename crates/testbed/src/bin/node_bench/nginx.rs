//! nginx as the baseline: a plain mutual-TLS reverse proxy in front of the reference register
//! backend, configured entirely inside a scratch directory and stopped when dropped.

use std::fmt::Write as _;
use std::net::{Ipv4Addr, SocketAddr};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use crate::BoxError;

/// How long nginx may take to start listening.
const START_TIMEOUT: Duration = Duration::from_secs(10);

/// The nginx binary: on `PATH`, or where distributions put it (root's `sbin` directories are
/// often not on a user's `PATH`). Looked up before anything else runs, so a missing nginx fails
/// the benchmark at once instead of after the end-to-end run.
pub fn find() -> Result<PathBuf, BoxError> {
    let path = std::env::var_os("PATH").unwrap_or_default();
    std::env::split_paths(&path)
        .chain(
            ["/usr/sbin", "/usr/local/sbin", "/usr/local/nginx/sbin"]
                .iter()
                .map(PathBuf::from),
        )
        .map(|dir| dir.join("nginx"))
        .find(|candidate| candidate.is_file())
        .ok_or_else(|| {
            "nginx is not installed, and the benchmark's baseline is an nginx mutual-TLS proxy: \
             run scripts/bench-node, which installs it"
                .into()
        })
}

/// The files nginx serves the forsakringskassan node's identity with.
pub struct ServerPki {
    pub certificate: PathBuf,
    pub key: PathBuf,
    /// The CA client certificates must chain to.
    pub client_ca: PathBuf,
}

/// A running nginx; stopped (master and workers) when dropped, on success and on error alike.
pub struct Nginx {
    binary: PathBuf,
    dir: PathBuf,
    child: Child,
    pub addr: SocketAddr,
}

impl Nginx {
    /// Writes `dir/nginx.conf` for a proxy from a free loopback port to `backend` and starts
    /// nginx on it in the foreground, as a child process.
    pub async fn start(
        binary: &Path,
        dir: &Path,
        pki: &ServerPki,
        backend: SocketAddr,
    ) -> Result<Self, BoxError> {
        std::fs::create_dir_all(dir)?;
        // Ask the system for a free port, then hand it to nginx: a short race with other
        // programs binding ports, acceptable on a benchmark machine.
        let port = std::net::TcpListener::bind((Ipv4Addr::LOCALHOST, 0))?
            .local_addr()?
            .port();
        let addr = SocketAddr::from((Ipv4Addr::LOCALHOST, port));
        let conf = dir.join("nginx.conf");
        std::fs::write(&conf, config(dir, pki, addr, backend))?;
        let child = Command::new(binary)
            .args(args(dir))
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::inherit())
            .spawn()
            .map_err(|e| format!("cannot run {}: {e}", binary.display()))?;
        let mut nginx = Self {
            binary: binary.to_owned(),
            dir: dir.to_owned(),
            child,
            addr,
        };
        nginx.wait_listening().await?;
        Ok(nginx)
    }

    async fn wait_listening(&mut self) -> Result<(), BoxError> {
        let until = Instant::now() + START_TIMEOUT;
        loop {
            if let Some(status) = self.child.try_wait()? {
                let log = std::fs::read_to_string(self.dir.join("error.log")).unwrap_or_default();
                let log: Vec<&str> = log.lines().collect();
                return Err(
                    format!("nginx exited at start ({status}): {}", log.join(" | ")).into(),
                );
            }
            if tokio::net::TcpStream::connect(self.addr).await.is_ok() {
                return Ok(());
            }
            if Instant::now() > until {
                return Err(format!(
                    "nginx did not listen on {} within {} s",
                    self.addr,
                    START_TIMEOUT.as_secs()
                )
                .into());
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }
}

impl Drop for Nginx {
    fn drop(&mut self) {
        // `-s stop` sends the master SIGTERM (from the pid file), and the master stops its
        // workers. Killing the master outright would leave the workers running and listening.
        let _ = Command::new(&self.binary)
            .args(args(&self.dir))
            .args(["-s", "stop"])
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .status();
        let until = Instant::now() + Duration::from_secs(5);
        while Instant::now() < until {
            if let Ok(Some(_)) = self.child.try_wait() {
                return;
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Prefix, configuration and error log, all in `dir` (`-e` needs nginx 1.19.5 or later).
fn args(dir: &Path) -> Vec<String> {
    vec![
        "-p".into(),
        format!("{}/", dir.display()),
        "-c".into(),
        dir.join("nginx.conf").display().to_string(),
        "-e".into(),
        dir.join("error.log").display().to_string(),
    ]
}

/// The proxy: TLS 1.3 only and a client certificate of the federation CA required, as on a
/// node's federation listener; HTTP/1.1 keep-alive on both sides, so neither the client nor
/// nginx opens a connection per request.
fn config(dir: &Path, pki: &ServerPki, listen: SocketAddr, backend: SocketAddr) -> String {
    let d = dir.display();
    let mut conf =
        String::from("# Written by node-bench; everything it uses is in this directory.\n");
    // Run as root, the master would otherwise switch its workers to `nobody`, who cannot read
    // the scratch directory.
    if running_as_root() {
        conf.push_str("user root;\n");
    }
    let _ = write!(
        conf,
        r#"worker_processes auto;
daemon off;
pid {d}/nginx.pid;
error_log {d}/error.log warn;

events {{
    worker_connections 4096;
}}

http {{
    access_log off;
    client_body_temp_path {d}/client_body;
    proxy_temp_path {d}/proxy;
    fastcgi_temp_path {d}/fastcgi;
    uwsgi_temp_path {d}/uwsgi;
    scgi_temp_path {d}/scgi;
    keepalive_requests 1000000;
    keepalive_timeout 75s;

    upstream register_backend {{
        server {backend};
        keepalive 64;
        keepalive_requests 1000000;
    }}

    server {{
        listen {listen} ssl;
        ssl_protocols TLSv1.3;
        ssl_certificate {cert};
        ssl_certificate_key {key};
        ssl_client_certificate {ca};
        ssl_verify_client on;
        # As on utbyte's listeners: no resumption, every connection verifies the certificate.
        ssl_session_tickets off;
        ssl_session_cache off;

        location / {{
            proxy_pass http://register_backend;
            proxy_http_version 1.1;
            proxy_set_header Connection "";
        }}
    }}
}}
"#,
        cert = pki.certificate.display(),
        key = pki.key.display(),
        ca = pki.client_ca.display(),
    );
    conf
}

/// Whether the effective user is root, from `/proc` (Linux); elsewhere assumed not.
fn running_as_root() -> bool {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|status| {
            status
                .lines()
                .find_map(|line| line.strip_prefix("Uid:"))
                .and_then(|ids| ids.split_whitespace().nth(1).map(|euid| euid == "0"))
        })
        .unwrap_or(false)
}
