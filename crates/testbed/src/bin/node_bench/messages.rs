//! Small messages through two nodes, both receipts recorded: letters from Malmö stad's case
//! system to Försäkringskassan, each delivered (the *delivered* receipt recorded in both
//! ledgers), taken by Försäkringskassan's case system (the *accepted* receipt returned and
//! recorded in both) — timed from the first send to the last accepted receipt in the sender's
//! ledger. Goal: 1,000 messages a second.

use bytes::Bytes;
use http::{header, Method, Request};
use http_body_util::{BodyExt, Full};
use hyper_util::client::legacy::{connect::HttpConnector, Client};
use hyper_util::rt::TokioExecutor;
use serde_json::{json, Value};
use std::collections::HashSet;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};
use utbyte_testbed::loopback::LoopbackFederation;

use crate::{settled, BoxError, CONSUMER, PROVIDER};

/// Records each message adds to the sender's ledger: sent, delivered, accepted.
const SENDER_RECORDS: u64 = 3;
/// How long the last receipts may take to arrive after the last send.
const SETTLE: Duration = Duration::from_secs(300);

pub const GOAL: f64 = 1000.0;

/// What the run measured.
pub struct MessageRun {
    pub messages: u64,
    /// From the first send to the last accepted receipt recorded by the sender.
    pub took: Duration,
    /// From the first send to the last send acknowledged.
    pub sending: Duration,
    /// Processor time this process (both nodes and the clients) used meanwhile, in seconds.
    pub cpu: f64,
}

impl MessageRun {
    pub fn rate(&self) -> f64 {
        self.messages as f64 / self.took.as_secs_f64()
    }
}

type Http = Client<HttpConnector, Full<Bytes>>;

/// One call of a local API: the status, the JSON answer and the next page's path (from `Link`).
async fn call(
    http: &Http,
    addr: SocketAddr,
    authorization: &str,
    method: Method,
    path: &str,
    key: Option<String>,
    body: Option<&Value>,
) -> Result<(u16, Value, Option<String>), BoxError> {
    let mut request = Request::builder()
        .method(method)
        .uri(format!("http://{addr}{path}"))
        .header(header::AUTHORIZATION, authorization);
    if let Some(key) = key {
        request = request.header("idempotency-key", key);
    }
    if body.is_some() {
        request = request.header(header::CONTENT_TYPE, "application/json");
    }
    let body = body.map(Value::to_string).unwrap_or_default();
    let response = http
        .request(request.body(Full::new(Bytes::from(body)))?)
        .await?;
    let status = response.status().as_u16();
    let next = response
        .headers()
        .get(header::LINK)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix('<'))
        .and_then(|v| v.split_once('>'))
        .map(|(target, _)| target.to_owned());
    let bytes = response.into_body().collect().await?.to_bytes();
    Ok((
        status,
        serde_json::from_slice(&bytes).unwrap_or(Value::Null),
        next,
    ))
}

fn letter(i: u64) -> Value {
    json!({
        "officer": "malmo-h4711", "unit": "malmo-ekonomiskt-bistand", "role": "handlaggare",
        "to": {"authority": PROVIDER, "unit": "fk-kontroll"},
        "kind": {"type": "free_text"},
        "title": format!("Fråga {i}"),
        "text": "Vi behöver uppgift om utbetald ersättning för perioden.",
        "case_ref": format!("ASN-2026-{i:06}"),
    })
}

/// Sends `messages` letters with `concurrency` clients while Försäkringskassan's case system
/// takes each that arrives, and waits for every accepted receipt in Malmö stad's ledger.
pub async fn measure(
    federation: &LoopbackFederation,
    authorization: &Arc<str>,
    messages: u64,
    concurrency: usize,
) -> Result<MessageRun, BoxError> {
    let node = |authority: &str| {
        federation
            .node(authority)
            .ok_or_else(|| format!("the federation runs no node for {authority}"))
    };
    let (consumer, provider) = (node(CONSUMER)?, node(PROVIDER)?);
    let http: Http = Client::builder(TokioExecutor::new())
        .pool_max_idle_per_host(concurrency)
        .build_http();
    let before = settled(consumer).await?;
    let cpu_before = cpu_seconds()?;
    let started = Instant::now();

    let next = Arc::new(AtomicU64::new(0));
    let mut senders = tokio::task::JoinSet::new();
    for _ in 0..concurrency {
        let (http, next, authorization) =
            (http.clone(), Arc::clone(&next), Arc::clone(authorization));
        let addr = consumer.local_addr;
        senders.spawn(async move {
            loop {
                let i = next.fetch_add(1, Ordering::Relaxed);
                if i >= messages {
                    return Ok::<_, BoxError>(());
                }
                let body = letter(i);
                let (status, answer, _) = call(
                    &http,
                    addr,
                    &authorization,
                    Method::POST,
                    "/v1/messages",
                    Some(format!("message-bench-{i}")),
                    Some(&body),
                )
                .await?;
                if status != 201 {
                    return Err(format!("a letter was answered {status}: {answer}").into());
                }
            }
        });
    }
    let acceptor = {
        let (http, authorization) = (http.clone(), Arc::clone(authorization));
        let addr = provider.local_addr;
        tokio::spawn(accept_all(http, addr, authorization, messages, concurrency))
    };
    while let Some(sent) = senders.join_next().await {
        sent??;
    }
    let sending = started.elapsed();
    acceptor.await??;
    let deadline = Instant::now() + SETTLE;
    loop {
        if settled(consumer).await? >= before + SENDER_RECORDS * messages {
            break;
        }
        if Instant::now() > deadline {
            return Err("the accepted receipts did not all reach the sender".into());
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    Ok(MessageRun {
        messages,
        took: started.elapsed(),
        sending,
        cpu: cpu_seconds()? - cpu_before,
    })
}

/// Processor time this process has used, user and system, in seconds.
fn cpu_seconds() -> Result<f64, BoxError> {
    let stat = std::fs::read_to_string("/proc/self/stat")?;
    // The fields after the command, which may hold spaces, in parentheses.
    let fields: Vec<&str> = stat
        .get(stat.rfind(')').ok_or("/proc/self/stat is unreadable")? + 2..)
        .unwrap_or_default()
        .split(' ')
        .collect();
    let ticks = |i: usize| -> Result<f64, BoxError> {
        Ok(fields
            .get(i)
            .ok_or("/proc/self/stat is unreadable")?
            .parse::<f64>()?)
    };
    // utime and stime, in USER_HZ: 100 a second on every architecture Linux runs on.
    Ok((ticks(11)? + ticks(12)?) / 100.0)
}

/// Försäkringskassan's case system: lists what its unit's inbox holds not yet taken (newest
/// first) and takes each, `concurrency` at a time, until `messages` are taken.
async fn accept_all(
    http: Http,
    addr: SocketAddr,
    authorization: Arc<str>,
    messages: u64,
    concurrency: usize,
) -> Result<(), BoxError> {
    let mut taken: HashSet<(String, String)> = HashSet::new();
    let deadline = Instant::now() + SETTLE;
    while (taken.len() as u64) < messages {
        if Instant::now() > deadline {
            return Err(format!("only {} of {messages} letters arrived", taken.len()).into());
        }
        let mut fresh = Vec::new();
        let mut path =
            Some("/v1/messages/inbox?unit=fk-kontroll&state=delivered&limit=500".to_owned());
        while let Some(page) = path.take() {
            let (status, listed, next) =
                call(&http, addr, &authorization, Method::GET, &page, None, None).await?;
            if status != 200 {
                return Err(format!("the inbox was answered {status}: {listed}").into());
            }
            for message in listed.as_array().into_iter().flatten() {
                let key = (
                    message["from"]["authority"]
                        .as_str()
                        .unwrap_or_default()
                        .to_owned(),
                    message["id"].as_str().unwrap_or_default().to_owned(),
                );
                if !taken.contains(&key) && message["state"] == "delivered" {
                    fresh.push(key);
                }
            }
            // The next page's link may be absolute or a path: the path is what is asked.
            path = next.map(|n| match n.find("/v1/") {
                Some(at) => n[at..].to_owned(),
                None => n,
            });
        }
        if fresh.is_empty() {
            tokio::time::sleep(Duration::from_millis(20)).await;
            continue;
        }
        let body = json!({"officer": "fk-h1", "unit": "fk-kontroll", "role": "handlaggare"});
        for batch in fresh.chunks(concurrency.max(1)) {
            let mut accepts = tokio::task::JoinSet::new();
            for (sender, id) in batch.iter().cloned() {
                let (http, authorization, body) =
                    (http.clone(), Arc::clone(&authorization), body.clone());
                accepts.spawn(async move {
                    let path = format!("/v1/messages/inbox/{sender}/{id}/accept");
                    let (status, answer, _) = call(
                        &http,
                        addr,
                        &authorization,
                        Method::POST,
                        &path,
                        None,
                        Some(&body),
                    )
                    .await?;
                    if status != 200 {
                        return Err::<_, BoxError>(
                            format!("an accept was answered {status}: {answer}").into(),
                        );
                    }
                    Ok((sender, id))
                });
            }
            while let Some(accepted) = accepts.join_next().await {
                taken.insert(accepted??);
            }
        }
    }
    Ok(())
}
