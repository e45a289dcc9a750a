//! Liveness and readiness: `/healthz` answers while the process serves; `/readyz` only while the
//! node holds an unexpired configuration and its ledger takes writes.

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use common::{assert_problem, call, plan};
use std::time::Duration;
use utbyte_testbed::loopback::LoopbackFederation;

#[tokio::test]
async fn a_node_is_ready_until_its_configuration_expires() {
    let dir = tempfile::tempdir().unwrap();
    let mut plan = plan(dir.path().join("f"), &["skatteverket"]);
    // Short-lived configurations, and no pull before it has run out.
    plan.config_lifetime = time::Duration::seconds(3);
    let federation = LoopbackFederation::start(plan).await.unwrap();
    let skv = federation.node("skatteverket").unwrap().local_addr;

    let alive = call(skv, "GET", "/healthz", &[], None).await;
    assert_eq!(alive.status, 200);
    assert_eq!(alive.body["status"], "alive");
    let ready = call(skv, "GET", "/readyz", &[], None).await;
    assert_eq!(ready.status, 200, "{:#}", ready.body);
    assert_eq!(ready.body["status"], "ready");

    tokio::time::sleep(Duration::from_millis(3500)).await;
    let expired = call(skv, "GET", "/readyz", &[], None).await;
    assert_problem(&expired, 503, "not-ready");
    let detail = expired.body["detail"].as_str().unwrap();
    assert!(detail.starts_with("configuration:"), "{detail}");
    assert!(!detail.contains("audit ledger"), "{detail}");
    // Still alive: a supervisor must not restart a node that only waits for the directory.
    assert_eq!(call(skv, "GET", "/healthz", &[], None).await.status, 200);

    // The next pull brings a fresh configuration, and the node is ready again.
    federation
        .node("skatteverket")
        .unwrap()
        .refresh()
        .await
        .unwrap();
    assert_eq!(call(skv, "GET", "/readyz", &[], None).await.status, 200);
    federation.stop().await;
}
