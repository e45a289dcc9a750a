//! Memory and latency while anonymous clients flood the sign-in form, with the cap on password
//! hashing and without it, in the same run on the same machine.
//!
//! Run: `cargo bench -p utbyte-portal --bench sign_in_flood`
//!
//! Each scenario runs in a process of its own (this binary again, with `--scenario`), so that
//! each peak RSS (`VmHWM` in `/proc/self/status`) is its own. A scenario serves the portal on
//! `127.0.0.1` with the client address marked on every request (as the node's listeners do),
//! fetches a sign-in form per client, then posts every sign-in at once — an unknown username,
//! so each costs the decoy's argon2 computation. Each client connects from its own loopback
//! address (`127.1.x.y`, all loopback on Linux), so that the budget per address does not stand
//! in for the cap; the last scenario sends everything from one address instead. While the flood
//! lasts, a probe asks for the sign-in page (no hashing) every 10 ms and times the answers.
//!
//! The anchor is the issue's 4.86 GB (48 clients before the cap), and the same flood with the
//! cap lifted in this run.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use axum::Router;
use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::process::{Command, ExitCode};
use std::sync::Arc;
use std::time::{Duration, Instant};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpSocket;
use tokio::sync::Barrier;
use utbyte_portal::throttle::hashing::HashingLimits;
use utbyte_portal::{Portal, PortalConfig};
use utbyte_store::{AccountProfile, AccountStore};

/// The issue's figure: RSS of a node after 48 anonymous clients posted the sign-in form.
const ISSUE_PEAK_BYTES: f64 = 4.86e9;
/// Longest a scenario's clients may take: the measurement always ends by itself.
const CLIENT_TIMEOUT: Duration = Duration::from_secs(120);

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().collect();
    if let Some(at) = args.iter().position(|a| a == "--scenario") {
        let scenario =
            Scenario::parse(&args[at + 1..]).expect("--scenario CLIENTS ADDRESSES capped|uncapped");
        let runtime = tokio::runtime::Runtime::new().expect("runtime");
        for (key, value) in runtime.block_on(scenario.run()) {
            println!("{key} {value}");
        }
        return ExitCode::SUCCESS;
    }
    let scenarios = [
        Scenario {
            clients: 48,
            addresses: 48,
            capped: true,
        },
        Scenario {
            clients: 48,
            addresses: 48,
            capped: false,
        },
        Scenario {
            clients: 200,
            addresses: 200,
            capped: true,
        },
        Scenario {
            clients: 200,
            addresses: 200,
            capped: false,
        },
        Scenario {
            clients: 200,
            addresses: 1,
            capped: true,
        },
    ];
    let mut results = Vec::new();
    for scenario in scenarios {
        eprintln!("running {}", scenario.name());
        match scenario.in_child() {
            Ok(result) => results.push((scenario, result)),
            Err(e) => {
                eprintln!("{}: {e}", scenario.name());
                return ExitCode::FAILURE;
            }
        }
    }
    report(&results);
    ExitCode::SUCCESS
}

#[derive(Debug, Clone, Copy)]
struct Scenario {
    clients: usize,
    addresses: usize,
    capped: bool,
}

/// What a scenario measured, by name.
struct Measured(Vec<(String, f64)>);

impl Measured {
    fn get(&self, key: &str) -> f64 {
        self.0
            .iter()
            .find(|(k, _)| k == key)
            .map_or(f64::NAN, |(_, v)| *v)
    }
}

impl Scenario {
    fn parse(args: &[String]) -> Option<Self> {
        Some(Self {
            clients: args.first()?.parse().ok()?,
            addresses: args.get(1)?.parse().ok()?,
            capped: match args.get(2)?.as_str() {
                "capped" => true,
                "uncapped" => false,
                _ => return None,
            },
        })
    }

    fn name(&self) -> String {
        let from = if self.addresses == 1 {
            "one address".to_owned()
        } else {
            format!("{} addresses", self.addresses)
        };
        let cap = if self.capped { "capped" } else { "uncapped" };
        format!("{} sign-ins from {from}, {cap}", self.clients)
    }

    fn in_child(&self) -> Result<Measured, String> {
        let exe = std::env::current_exe().map_err(|e| e.to_string())?;
        let output = Command::new(exe)
            .arg("--scenario")
            .arg(self.clients.to_string())
            .arg(self.addresses.to_string())
            .arg(if self.capped { "capped" } else { "uncapped" })
            .output()
            .map_err(|e| e.to_string())?;
        if !output.status.success() {
            return Err(String::from_utf8_lossy(&output.stderr).into_owned());
        }
        Ok(Measured(
            String::from_utf8_lossy(&output.stdout)
                .lines()
                .filter_map(|line| {
                    let (key, value) = line.split_once(' ')?;
                    Some((key.to_owned(), value.parse().ok()?))
                })
                .collect(),
        ))
    }

    async fn run(self) -> Vec<(&'static str, f64)> {
        let limits = if self.capped {
            HashingLimits::default()
        } else {
            // What sign-in was before the cap: every computation at once on the blocking pool.
            HashingLimits {
                concurrent: 1_000_000,
                waiting: 1_000_000,
                wait: CLIENT_TIMEOUT,
            }
        };
        let (portal, server) = serve(limits).await;
        let portal_page = request("GET", "/portal/login", "", "");
        // Settle: one form and one sign-in before measuring where we start.
        let probe_source = IpAddr::V4(Ipv4Addr::LOCALHOST);
        let form = fetch_form(probe_source, server).await;
        sign_in(probe_source, server, &form).await;
        let mut idle = Vec::new();
        for _ in 0..20 {
            idle.push(timed(probe_source, server, &portal_page).await);
        }
        let before = status_kib("VmRSS:");
        let computed_before = portal.hashing().computations();

        let sources: Vec<IpAddr> = (0..self.addresses)
            .map(|n| IpAddr::V4(Ipv4Addr::new(127, 1, (n / 250) as u8, (n % 250 + 1) as u8)))
            .collect();
        let mut forms = Vec::new();
        for n in 0..self.clients {
            let source = sources[n % sources.len()];
            forms.push((source, fetch_form(source, server).await));
        }
        let start = Arc::new(Barrier::new(self.clients + 1));
        let clients: Vec<_> = forms
            .into_iter()
            .map(|(source, form)| {
                let start = Arc::clone(&start);
                tokio::spawn(async move {
                    start.wait().await;
                    tokio::time::timeout(CLIENT_TIMEOUT, sign_in(source, server, &form))
                        .await
                        .unwrap_or(0)
                })
            })
            .collect();
        let done = Arc::new(std::sync::atomic::AtomicBool::new(false));
        let probe = {
            let done = Arc::clone(&done);
            tokio::spawn(async move {
                let mut times = Vec::new();
                while !done.load(std::sync::atomic::Ordering::SeqCst) {
                    times.push(timed(probe_source, server, &portal_page).await);
                    tokio::time::sleep(Duration::from_millis(10)).await;
                }
                times
            })
        };
        let flood = Instant::now();
        start.wait().await;
        let mut statuses = Vec::new();
        for client in clients {
            statuses.push(client.await.unwrap_or(0));
        }
        let took = flood.elapsed();
        done.store(true, std::sync::atomic::Ordering::SeqCst);
        let during = probe.await.unwrap_or_default();
        let count = |status: u16| statuses.iter().filter(|s| **s == status).count() as f64;
        vec![
            ("rss_before_kib", before),
            ("hwm_kib", status_kib("VmHWM:")),
            ("rss_after_kib", status_kib("VmRSS:")),
            ("cap", portal.hashing().limits().concurrent as f64),
            ("peak_hashing", portal.hashing().peak() as f64),
            ("threads", portal.hashing().threads() as f64),
            (
                "computations",
                (portal.hashing().computations() - computed_before) as f64,
            ),
            ("s401", count(401)),
            ("s429", count(429)),
            ("s503", count(503)),
            (
                "other",
                statuses.len() as f64 - count(401) - count(429) - count(503),
            ),
            ("flood_ms", took.as_secs_f64() * 1000.0),
            ("idle_median_ms", median(&mut idle)),
            ("probe_median_ms", median(&mut during.clone())),
            ("probe_max_ms", during.iter().copied().fold(0.0, f64::max)),
        ]
    }
}

/// The portal with one account, on a loopback listener that marks each request's client address.
async fn serve(limits: HashingLimits) -> (Portal, SocketAddr) {
    let store = AccountStore::open_in_memory().await.expect("store");
    let portal = Portal::with_limits(
        store,
        PortalConfig {
            authority: "malmo-stad".into(),
            authority_name: "Malmö stad".into(),
            secure_cookies: false,
            session_lifetime: time::Duration::hours(1),
            idle_timeout: time::Duration::minutes(30),
            oidc: None,
        },
        limits,
    )
    .expect("portal");
    let profile = AccountProfile {
        display_name: "Anna".into(),
        unit: "malmo-ekonomiskt-bistand".into(),
        officer_role: "handlaggare".into(),
        roles: vec!["officer".into()],
        disabled: false,
    };
    portal
        .accounts()
        .create("anna", &profile, "correct horse battery staple")
        .await
        .expect("account");
    let router: Router = portal.router(Router::new());
    let listener = tokio::net::TcpListener::bind((Ipv4Addr::LOCALHOST, 0))
        .await
        .expect("listener");
    let address = listener.local_addr().expect("address");
    tokio::spawn(async move {
        let service = router.into_make_service_with_connect_info::<SocketAddr>();
        let _ = axum::serve(listener, service).await;
    });
    (portal, address)
}

/// The sign-in form's cookie and CSRF token, fetched from `source`.
async fn fetch_form(source: IpAddr, server: SocketAddr) -> (String, String) {
    let page = exchange(source, server, &request("GET", "/portal/login", "", ""))
        .await
        .expect("the sign-in page");
    let cookie = page
        .lines()
        .find_map(|l| l.strip_prefix("set-cookie: "))
        .and_then(|c| c.split(';').next())
        .expect("the form's cookie")
        .to_owned();
    let marker = "name=\"csrf\" value=\"";
    let at = page.find(marker).expect("the form's token") + marker.len();
    let csrf = page[at..at + page[at..].find('"').expect("token end")].to_owned();
    (cookie, csrf)
}

/// Posts an anonymous sign-in; the answer's status (0 if there was none).
async fn sign_in(source: IpAddr, server: SocketAddr, form: &(String, String)) -> u16 {
    let (cookie, csrf) = form;
    let body =
        format!("username=nobody&password=a+guess+at+a+password&csrf={csrf}&next=%2Fportal%2F");
    let text = request("POST", "/portal/login", cookie, &body);
    exchange(source, server, &text)
        .await
        .ok()
        .and_then(|answer| answer.get(9..12)?.parse().ok())
        .unwrap_or(0)
}

fn request(method: &str, path: &str, cookie: &str, body: &str) -> String {
    let mut text = format!("{method} {path} HTTP/1.1\r\nhost: 127.0.0.1\r\nconnection: close\r\n");
    if !cookie.is_empty() {
        text.push_str(&format!("cookie: {cookie}\r\n"));
    }
    if !body.is_empty() {
        text.push_str("content-type: application/x-www-form-urlencoded\r\n");
    }
    text.push_str(&format!("content-length: {}\r\n\r\n{body}", body.len()));
    text
}

/// One request on a connection of its own from `source`; the whole answer.
async fn exchange(source: IpAddr, server: SocketAddr, request: &str) -> std::io::Result<String> {
    let socket = TcpSocket::new_v4()?;
    socket.bind(SocketAddr::new(source, 0))?;
    let mut stream = socket.connect(server).await?;
    stream.write_all(request.as_bytes()).await?;
    let mut answer = Vec::new();
    stream.read_to_end(&mut answer).await?;
    Ok(String::from_utf8_lossy(&answer).into_owned())
}

/// Milliseconds one request took.
async fn timed(source: IpAddr, server: SocketAddr, request: &str) -> f64 {
    let start = Instant::now();
    let _ = exchange(source, server, request).await;
    start.elapsed().as_secs_f64() * 1000.0
}

fn median(values: &mut [f64]) -> f64 {
    if values.is_empty() {
        return f64::NAN;
    }
    values.sort_by(f64::total_cmp);
    values[values.len() / 2]
}

/// A line of `/proc/self/status` in KiB (`VmRSS:`, `VmHWM:`).
fn status_kib(field: &str) -> f64 {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|status| {
            status
                .lines()
                .find_map(|l| l.strip_prefix(field))
                .and_then(|v| v.trim().trim_end_matches(" kB").trim().parse().ok())
        })
        .unwrap_or(f64::NAN)
}

fn report(results: &[(Scenario, Measured)]) {
    let mib = |kib: f64| kib / 1024.0;
    let find = |clients, addresses, capped| {
        results
            .iter()
            .find(|(s, _)| s.clients == clients && s.addresses == addresses && s.capped == capped)
            .map(|(_, m)| m)
    };
    let cores = std::thread::available_parallelism().map_or(1, |n| n.get());
    println!(
        "\nSign-in flood on loopback, {cores} cores: cap {} argon2 at once, queue {}, wait {:?}.",
        HashingLimits::default().concurrent,
        HashingLimits::default().waiting,
        HashingLimits::default().wait,
    );
    println!(
        "\n{:<52} {:>14} {:>30} {:>8}",
        "figure", "value", "anchor", "ratio"
    );
    let row = |figure: String, value: String, anchor: String, ratio: f64| {
        let ratio = if ratio.is_finite() {
            format!("{ratio:.3}")
        } else {
            String::new()
        };
        println!("{figure:<52} {value:>14} {anchor:>30} {ratio:>8}");
    };
    for clients in [48, 200] {
        let (Some(capped), Some(uncapped)) =
            (find(clients, clients, true), find(clients, clients, false))
        else {
            continue;
        };
        let peak = mib(capped.get("hwm_kib"));
        let open = mib(uncapped.get("hwm_kib"));
        row(
            format!("RSS before, {clients} clients"),
            format!("{:.0} MiB", mib(capped.get("rss_before_kib"))),
            String::new(),
            f64::NAN,
        );
        row(
            format!("peak RSS, {clients} sign-ins at once, capped"),
            format!("{peak:.0} MiB"),
            "4.86 GB (issue, 48, uncapped)".into(),
            peak * 1024.0 * 1024.0 / ISSUE_PEAK_BYTES,
        );
        row(
            format!("peak RSS, {clients} sign-ins at once, capped"),
            format!("{peak:.0} MiB"),
            format!("{open:.0} MiB uncapped, this run"),
            peak / open,
        );
        let growth = peak - mib(capped.get("rss_before_kib"));
        let open_growth = open - mib(uncapped.get("rss_before_kib"));
        row(
            format!("RSS growth in the flood, {clients}, capped"),
            format!("{growth:.0} MiB"),
            format!("{open_growth:.0} MiB uncapped"),
            growth / open_growth,
        );
        row(
            format!("argon2 at once, {clients}, capped"),
            format!("{:.0}", capped.get("peak_hashing")),
            format!("cap {:.0}", capped.get("cap")),
            capped.get("peak_hashing") / capped.get("cap"),
        );
        row(
            format!("hashing threads, {clients}, capped"),
            format!("{:.0}", capped.get("threads")),
            format!("{:.0} uncapped", uncapped.get("threads")),
            capped.get("threads") / uncapped.get("threads"),
        );
        row(
            format!("argon2 at once, {clients}, uncapped"),
            format!("{:.0}", uncapped.get("peak_hashing")),
            format!("{clients} clients"),
            uncapped.get("peak_hashing") / clients as f64,
        );
        row(
            format!("answered 401 / 503 / other, {clients}, capped"),
            format!(
                "{:.0}/{:.0}/{:.0}",
                capped.get("s401"),
                capped.get("s503"),
                capped.get("other") + capped.get("s429")
            ),
            format!("{clients} sent"),
            f64::NAN,
        );
        row(
            format!("flood answered in, {clients}, capped"),
            format!("{:.0} ms", capped.get("flood_ms")),
            format!("{:.0} ms uncapped", uncapped.get("flood_ms")),
            capped.get("flood_ms") / uncapped.get("flood_ms"),
        );
        row(
            format!("sign-in page during the flood, median, {clients}, capped"),
            format!("{:.1} ms", capped.get("probe_median_ms")),
            format!("{:.1} ms idle", capped.get("idle_median_ms")),
            capped.get("probe_median_ms") / capped.get("idle_median_ms"),
        );
        row(
            format!("sign-in page during the flood, median, {clients}, uncapped"),
            format!("{:.1} ms", uncapped.get("probe_median_ms")),
            format!("{:.1} ms idle", uncapped.get("idle_median_ms")),
            uncapped.get("probe_median_ms") / uncapped.get("idle_median_ms"),
        );
        row(
            format!("sign-in page during the flood, max, {clients}, capped"),
            format!("{:.1} ms", capped.get("probe_max_ms")),
            format!("{:.1} ms uncapped", uncapped.get("probe_max_ms")),
            capped.get("probe_max_ms") / uncapped.get("probe_max_ms"),
        );
    }
    if let Some(one) = find(200, 1, true) {
        row(
            "200 sign-ins from one address: hashed".into(),
            format!("{:.0}", one.get("computations")),
            "200 sent".into(),
            one.get("computations") / 200.0,
        );
        row(
            "200 sign-ins from one address: answered 429".into(),
            format!("{:.0}", one.get("s429")),
            "200 sent".into(),
            one.get("s429") / 200.0,
        );
        row(
            "200 from one address: 401 (wrong, then locked)".into(),
            format!("{:.0}", one.get("s401")),
            "200 sent".into(),
            one.get("s401") / 200.0,
        );
        row(
            "peak RSS, 200 from one address".into(),
            format!("{:.0} MiB", mib(one.get("hwm_kib"))),
            "4.86 GB (issue)".into(),
            one.get("hwm_kib") * 1024.0 / ISSUE_PEAK_BYTES,
        );
    }
}
