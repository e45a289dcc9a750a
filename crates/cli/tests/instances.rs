//! Several instances of one authority's node on one PostgreSQL database behind one address:
//! the deployment guide's federation with each node run as three `utbyte node serve` processes
//! that share the node's exchange state, audit ledger and listening addresses (`[store]
//! postgres`, `SO_REUSEPORT`), under load from case-system clients while instances are killed
//! with SIGKILL at random, at least [`KILLS`] times, and restarted after a short random pause.
//! Afterwards:
//!
//! - every acknowledged answer is answered again under its key with the same receipts, and
//!   every key sent ends answered, in review or failed — none lost, none stuck (as in the crash
//!   test, now whichever instance is asked);
//! - no request was disclosed twice: of the provider's answers to one request, at most one was
//!   received (one recorded by an instance killed before it sent it is reconciled as never
//!   delivered);
//! - reconciliation closes every gap, every instance's replica of each ledger verifies, and every
//!   answer's receipts are in both ledgers;
//! - the failover time — from a kill to the next answer to a request sent after it — is printed
//!   with the counts.

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use common::load::{
    ends, load, receipts, record, unreconciled, unrecorded, unverified, Ends, Pauses, Sent,
    Stopping, CLIENTS, RECOVERY, REGISTER,
};
use common::{start, stop, Guide, Node, Process, Setup};
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::atomic::AtomicBool;
use std::time::{Duration, Instant};
use utbyte_audit::AuditDir;

/// Instances of each node.
const INSTANCES: usize = 3;
/// SIGKILLs, at least.
const KILLS: usize = 50;

/// The PostgreSQL server the nodes share (the test database), as the store's tests find it.
fn postgres_url() -> String {
    std::env::var("UTBYTE_TEST_POSTGRES")
        .unwrap_or_else(|_| "postgres://postgres@127.0.0.1:5432/test".to_owned())
}

/// One instance: its own directory (a copy of the node's, with the same keys), shared ports.
struct Instance {
    dir: PathBuf,
    local: u16,
    process: Option<Process>,
}

impl Instance {
    fn start(&mut self) {
        let (child, first) = start(
            &self.dir,
            &["node", "serve", "--config", "node.toml"],
            &self.dir.join("node.log"),
        );
        assert!(
            first.contains(&format!("127.0.0.1:{}", self.local)),
            "{} did not start: {first}",
            self.dir.display()
        );
        self.process = Some(child);
    }

    fn kill(&mut self) {
        if let Some(mut process) = self.process.take() {
            process.kill();
        }
    }

    fn stop(&mut self) {
        if let Some(process) = self.process.take() {
            stop(process);
        }
    }

    fn ledger(&self) -> PathBuf {
        self.dir.join("data/audit")
    }
}

/// A node's instances: the guide's directory is the first; the others are copies of it made
/// after the first has started once (so they share its ledger and answer keys).
fn instances(root: &Path, node: &Node) -> Vec<Instance> {
    let first = root.join(node.dir);
    let mut all = vec![Instance {
        dir: first.clone(),
        local: node.local,
        process: None,
    }];
    for i in 2..=INSTANCES {
        let dir = root.join(format!("{}-{i}", node.dir));
        let copied = std::process::Command::new("cp")
            .args(["-a", &first.to_string_lossy(), &dir.to_string_lossy()])
            .status()
            .unwrap();
        assert!(copied.success());
        let _ = std::fs::remove_file(dir.join("node.log"));
        all.push(Instance {
            dir,
            local: node.local,
            process: None,
        });
    }
    all
}

#[test]
fn instances_killed_at_random_lose_nothing_and_answer_for_each_other() {
    let tmp = tempfile::tempdir().unwrap();
    let root = tmp.path();
    let guide = Guide::set_up(
        root,
        &Setup {
            register: REGISTER,
            malmo_duties: "\"request\", \"audit\"",
            fk_duties: common::FK_DUTIES,
            node_extra: RECOVERY,
        },
    );
    // Both nodes on the test database, each in schemas of its own for this run; four
    // connections per store and instance keep the six instances well inside PostgreSQL's
    // default of 100 connections.
    let run = format!(
        "utbyte_test_{}_{}",
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap()
            .as_secs(),
        std::process::id()
    );
    for node in [&guide.fk, &guide.malmo] {
        let config = root.join(node.dir).join("node.toml");
        let mut text = std::fs::read_to_string(&config).unwrap();
        text.push_str(&format!(
            "\n[store]\npostgres = \"{}\"\nschema = \"{run}_{}\"\nconnections = 4\n",
            postgres_url(),
            node.dir
        ));
        std::fs::write(&config, text).unwrap();
    }
    let (directory, _) = guide.start_directory();
    // The first instance of each creates the ledger's keys; the others are copies of it.
    for node in [&guide.fk, &guide.malmo] {
        stop(node.start(root));
    }
    let mut all: Vec<(usize, Instance)> = Vec::new();
    for (n, node) in [&guide.fk, &guide.malmo].into_iter().enumerate() {
        for mut instance in instances(root, node) {
            instance.start();
            all.push((n, instance));
        }
    }
    common::eventually(Duration::from_secs(30), "readiness", || {
        guide.fk.ready(root) && guide.malmo.ready(root)
    });

    let stopping = AtomicBool::new(false);
    let mut pauses = Pauses::new();
    let mut kills: Vec<Instant> = Vec::new();
    let sent: Vec<Sent> = std::thread::scope(|scope| {
        let clients: Vec<_> = (0..CLIENTS)
            .map(|client| {
                let (recipient, stopping) = (&guide.malmo, &stopping);
                scope.spawn(move || load(recipient, root, client, stopping))
            })
            .collect();
        let stop_clients = Stopping(&stopping);
        while kills.len() < KILLS {
            std::thread::sleep(pauses.between(200, 700));
            let victim = pauses.between(0, all.len() as u64).as_millis() as usize;
            all[victim].1.kill();
            kills.push(Instant::now());
            std::thread::sleep(pauses.between(100, 600));
            all[victim].1.start();
        }
        std::thread::sleep(pauses.between(500, 1500));
        drop(stop_clients);
        clients
            .into_iter()
            .flat_map(|c| c.join().unwrap())
            .collect()
    });
    let acknowledged: Vec<&Sent> = sent.iter().filter(|s| s.acknowledged()).collect();
    let unacknowledged = sent.len() - acknowledged.len();

    // Failover: from each kill to the first answer to a request sent after it.
    let mut failover: Vec<Duration> = kills
        .iter()
        .filter_map(|&kill| {
            acknowledged
                .iter()
                .filter(|s| s.sent_at >= kill)
                .map(|s| s.ended_at - kill)
                .min()
        })
        .collect();
    failover.sort();

    // Every key ends and says so, to whichever instance is asked.
    let recipient = &guide.malmo;
    let Ends {
        lost,
        stuck,
        unexpected,
        failed,
        retried,
    } = ends(recipient, root, &sent);
    let unreconciled = unreconciled(recipient, root);

    // Stopped, then the first instance of each once more: it brings its replica up to the
    // shared log's end when it starts.
    for (_, instance) in &mut all {
        instance.stop();
    }
    for (n, node) in [&guide.fk, &guide.malmo].into_iter().enumerate() {
        let first = &mut all.iter_mut().find(|(m, _)| *m == n).unwrap().1;
        first.start();
        common::eventually(Duration::from_secs(30), "readiness", || node.ready(root));
        first.stop();
    }
    stop(directory);

    // Every replica verifies; the first ones hold both sides of every answer.
    let ledgers: Vec<(String, String)> = all
        .iter()
        .map(|(_, instance)| {
            let ledger = instance.ledger().to_string_lossy().into_owned();
            (instance.dir.display().to_string(), ledger)
        })
        .collect();
    let unverified = unverified(root, &ledgers);
    let provider = AuditDir::open(&all[0].1.ledger(), None).unwrap();
    let own = AuditDir::open(&all[INSTANCES].1.ledger(), None).unwrap();
    let unrecorded = unrecorded(&provider, &own, &sent, &retried);
    // One answer per request left the provider (each request has a case reference of its own):
    // of the provider's answers to one request, one at most was received. An instance killed
    // after recording an answer and before sending it leaves a record that never left;
    // reconciliation records it on both sides as never delivered (checked above), and the
    // request's retry is answered anew.
    let receipts = receipts(&own, guide.fk.authority);
    let received_twice = receipts.values().filter(|&&n| n > 1).count();
    let mut received_per_request: BTreeMap<String, usize> = BTreeMap::new();
    let mut recorded_again = 0;
    for index in 0..provider.size() {
        let provided = record(&provider, index).unwrap_or_default();
        if ["disclosure", "refusal"].contains(&provided["event"].as_str().unwrap_or("")) {
            let case = provided["why"]["case_ref"].as_str().unwrap_or_default();
            let received = received_per_request.entry(case.to_owned()).or_default();
            if receipts.contains_key(&index) {
                *received += 1;
            } else {
                recorded_again += 1;
            }
        }
    }
    let disclosed_twice: Vec<&String> = received_per_request
        .iter()
        .filter(|&(_, &n)| n > 1)
        .map(|(case, _)| case)
        .collect();

    let millis = |d: Option<&Duration>| d.map_or(0, Duration::as_millis);
    println!(
        "instances test: instances={} kills={} acknowledged={} lost={} stuck={} \
         unacknowledged={} failed={failed} disclosed_twice={} answers_never_sent={recorded_again} \
         unreconciled={unreconciled} \
         failover_ms p50={} max={} (over {} kills)",
        2 * INSTANCES,
        kills.len(),
        acknowledged.len(),
        lost.len(),
        stuck.len(),
        unacknowledged,
        disclosed_twice.len(),
        millis(failover.get(failover.len() / 2)),
        millis(failover.last()),
        failover.len(),
    );
    assert!(kills.len() >= KILLS);
    assert!(!acknowledged.is_empty(), "the load got answers");
    assert!(lost.is_empty(), "lost acknowledged answers: {lost:#?}");
    assert!(stuck.is_empty(), "keys stuck in flight: {stuck:?}");
    assert!(unexpected.is_empty(), "unexpected answers: {unexpected:#?}");
    assert!(
        disclosed_twice.is_empty(),
        "requests answered twice: {disclosed_twice:?}"
    );
    assert_eq!(unreconciled, 0, "unreconciled providers");
    assert!(
        unverified.is_empty(),
        "ledgers failing verification: {unverified:#?}"
    );
    assert!(
        unrecorded.is_empty(),
        "answers not in both ledgers: {unrecorded:#?}"
    );
    assert_eq!(
        received_twice, 0,
        "provider entries with more than one receipt"
    );
}
