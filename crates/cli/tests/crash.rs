//! The crash test: the deployment guide's federation, with its two nodes as separate `utbyte
//! node serve` processes, under load from several case-system clients while the provider, the
//! recipient, and both are killed with SIGKILL in turn and restarted after a short random pause.
//! Afterwards, with both running again:
//!
//! - every acknowledged answer (a 2xx to the POST) is answered again under its key, with the same
//!   receipts — none lost;
//! - every key sent, acknowledged or not, ends answered, in review or failed (or was never
//!   recorded, when the node went away before it stored the key or the provider could not be
//!   reached), and never stays `409 request-in-flight`: recovery drives what a crash left in
//!   flight to an end — none stuck; posting an unacknowledged key again with the same body gets
//!   an answer or a failure, not 409;
//! - reconciliation between the two ledgers closes every gap: each answer the provider
//!   recorded is received, or recorded on both sides as never delivered;
//! - both ledgers verify, and every answer's provider receipt is in the provider's ledger and
//!   its own receipt in the recipient's, for the same answer bytes; and the recipient records
//!   each answer received once, however often it was asked for again.
//!
//! Recovery is made quick by the configuration (`[recovery] grace_seconds`, the poll interval),
//! never by the test waiting for a time: every wait is bounded and polls for what it needs.

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use common::load::{
    ends, load, receipts, unreconciled, unrecorded, unverified, Ends, Pauses, Sent, Stopping,
    CLIENTS, RECOVERY, REGISTER,
};
use common::{stop, Guide, Setup};
use std::sync::atomic::AtomicBool;
use utbyte_audit::AuditDir;

/// Rounds of kills, each of the provider, then the recipient, then both.
const ROUNDS: usize = 7;

#[test]
fn killed_nodes_lose_no_acknowledged_answer_and_leave_no_key_stuck() {
    let tmp = tempfile::tempdir().unwrap();
    let root = tmp.path();
    // Malmö stad's case system also audits, to see reconciliation.
    let guide = Guide::set_up(
        root,
        &Setup {
            register: REGISTER,
            malmo_duties: "\"request\", \"audit\"",
            fk_duties: common::FK_DUTIES,
            node_extra: RECOVERY,
        },
    );
    let (directory, first) = guide.start_directory();
    assert!(first.contains("version 3"), "{first}");
    let mut nodes = [
        (&guide.fk, guide.fk.start(root)),
        (&guide.malmo, guide.malmo.start(root)),
    ];

    // Load all along, and the kills: the provider, the recipient, both; each node restarted
    // after a short random pause and ready before the next kill.
    let stopping = AtomicBool::new(false);
    let mut pauses = Pauses::new();
    let mut kills = 0;
    let sent: Vec<Sent> = std::thread::scope(|scope| {
        let clients: Vec<_> = (0..CLIENTS)
            .map(|client| {
                let (recipient, stopping) = (&guide.malmo, &stopping);
                scope.spawn(move || load(recipient, root, client, stopping))
            })
            .collect();
        let stop_clients = Stopping(&stopping);
        for _ in 0..ROUNDS {
            for victims in [&[0][..], &[1], &[0, 1]] {
                std::thread::sleep(pauses.between(500, 1500));
                for &victim in victims {
                    nodes[victim].1.kill();
                    kills += 1;
                }
                for &victim in victims {
                    std::thread::sleep(pauses.between(100, 1000));
                    let (node, child) = &mut nodes[victim];
                    *child = node.start(root);
                }
            }
        }
        std::thread::sleep(pauses.between(500, 1500));
        drop(stop_clients);
        clients
            .into_iter()
            .flat_map(|c| c.join().unwrap())
            .collect()
    });
    let acknowledged = sent.iter().filter(|s| s.acknowledged()).count();
    let unacknowledged = sent.len() - acknowledged;

    // Every key ends, within the bound, and says so to a GET; posting an unacknowledged key
    // again, with the same body, gets an answer or a failure.
    let recipient = &guide.malmo;
    let Ends {
        lost,
        stuck,
        unexpected,
        failed,
        retried,
    } = ends(recipient, root, &sent);

    let unreconciled = unreconciled(recipient, root);
    let [(_, fk), (_, malmo)] = nodes;
    for child in [malmo, fk, directory] {
        stop(child);
    }

    // Both ledgers verify, and hold both sides of every answer.
    let unverified = unverified(
        root,
        &[&guide.fk, &guide.malmo].map(|node| (node.authority.to_owned(), node.ledger())),
    );
    let provider = AuditDir::open(&root.join(guide.fk.ledger()), None).unwrap();
    let own = AuditDir::open(&root.join(guide.malmo.ledger()), None).unwrap();
    let unrecorded = unrecorded(&provider, &own, &sent, &retried);
    // Each answer is received once: no entry of the provider's has two receipts.
    let received_twice: Vec<u64> = receipts(&own, guide.fk.authority)
        .into_iter()
        .filter(|&(_, n)| n > 1)
        .map(|(index, _)| index)
        .collect();

    println!(
        "crash test: kills={kills} acknowledged={} lost={} stuck={} unacknowledged={} failed={failed} unreconciled={}",
        acknowledged,
        lost.len(),
        stuck.len(),
        unacknowledged,
        unreconciled,
    );
    assert!(kills >= 3 * ROUNDS, "{kills} kills");
    assert!(acknowledged > 0, "the load got answers");
    assert!(lost.is_empty(), "lost acknowledged answers: {lost:#?}");
    assert!(stuck.is_empty(), "keys stuck in flight: {stuck:?}");
    assert!(unexpected.is_empty(), "unexpected answers: {unexpected:#?}");
    assert_eq!(unreconciled, 0, "unreconciled providers");
    assert!(
        unverified.is_empty(),
        "ledgers failing verification: {unverified:#?}"
    );
    assert!(
        unrecorded.is_empty(),
        "answers not in both ledgers: {unrecorded:#?}"
    );
    assert!(
        received_twice.is_empty(),
        "provider entries with more than one receipt: {received_twice:?}"
    );
}
