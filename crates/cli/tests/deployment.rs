//! The deployment guide (`docs/deployment.md`), followed step by step with the real `utbyte`
//! binary: a CA, a directory and two nodes from configuration files, register data loaded from
//! a file, a request exchanged and found in both ledgers, an operator's change picked up while
//! everything runs, a broken rulebook refused, and every version listed.

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use common::{
    assert_paired, eventually, guide_request, ledger_entry, rulebook, stop, try_utbyte, utbyte,
    Guide, Setup, DIRECTORY_CONFIG,
};
use std::path::Path;
use std::time::Duration;

#[test]
fn the_deployment_guide_works() {
    let tmp = tempfile::tempdir().unwrap();
    let root = tmp.path();

    // 1 to 3. The CA and certificates, each authority's own CA, the directory's state, both
    // nodes' configurations, Försäkringskassan's register data, and their admission.
    let guide = Guide::set_up(
        root,
        &Setup {
            register: "{\"subject\": \"19121212-1212\", \"fields\": {\"forman\": \"sjukpenning\", \"belopp\": 14250, \"diagnos\": \"F32\"}}\n",
            malmo_duties: "\"request\"",
            fk_duties: common::FK_DUTIES,
            node_extra: "",
        },
    );

    // A rulebook that fails `rules check` is refused, with its problems, and publishes nothing.
    let broken = root.join("broken-rulebook");
    copy_dir(&rulebook(), &broken);
    std::fs::write(
        broken.join("policies/broken.cedar"),
        "permit(principal, action, resource) when { nonsense };",
    )
    .unwrap();
    let refused = try_utbyte(
        root,
        &[
            "directory",
            "publish-rulebook",
            "--config",
            DIRECTORY_CONFIG,
            broken.to_str().unwrap(),
        ],
    );
    assert!(!refused.status.success());
    let stderr = String::from_utf8_lossy(&refused.stderr);
    assert!(
        stderr.contains("broken.cedar") && stderr.contains("refused"),
        "{stderr}"
    );

    // 4. Serve: the directory, then both nodes; ready once each holds the configuration.
    let (directory, first) = guide.start_directory();
    assert!(
        first.contains(&format!("127.0.0.1:{}", guide.directory_port))
            && first.contains("version 3"),
        "{first}"
    );
    let fk = guide.fk.start(root);
    let malmo = guide.malmo.start(root);
    // The container image's health check works over TLS too, trusting the configured certificate.
    let alive = utbyte(root, &["node", "health", "--config", "fk/node.toml"]);
    assert!(alive.starts_with("alive"), "{alive}");

    // 5. Malmö stad asks Försäkringskassan: payments are disclosed, the diagnosis is not.
    let (status, answer) = guide.malmo.request(root, "guide-1", &guide_request());
    assert_eq!(status, 200, "{answer:#}");
    assert_eq!(answer["status"], "answered", "{answer:#}");
    assert_eq!(answer["values"]["belopp"], 14250, "{answer:#}");
    assert!(answer["values"].get("diagnos").is_none(), "{answer:#}");

    // An operator's change while everything runs: Försäkringskassan's certificate is revoked,
    // and Malmö stad's node stops trusting it within a few pulls.
    let fk_fingerprint = utbyte(root, &["pki", "show", "fk/pki/node.crt"])
        .lines()
        .find_map(|l| l.strip_prefix("fingerprint").map(|f| f.trim().to_owned()))
        .unwrap();
    utbyte(
        root,
        &[
            "directory",
            "revoke",
            "--config",
            DIRECTORY_CONFIG,
            "--fingerprint",
            &fk_fingerprint,
        ],
    );
    let mut attempt = 0;
    eventually(
        Duration::from_secs(15),
        "the revocation to reach the nodes",
        || {
            attempt += 1;
            let key = format!("guide-revoked-{attempt}");
            guide.malmo.request(root, &key, &guide_request()).0 != 200
        },
    );

    for child in [malmo, fk, directory] {
        stop(child);
    }

    // 6. Both ledgers hold the exchange: the provider's disclosure and the recipient's receipt
    //    of the same answer bytes, pointing at it.
    let provider_index = answer["provider_receipt"]["index"].as_u64().unwrap();
    let provided = ledger_entry(root, &guide.fk.ledger(), provider_index);
    let received = ledger_entry(
        root,
        &guide.malmo.ledger(),
        answer["receipt"]["index"].as_u64().unwrap(),
    );
    assert_eq!(provided["event"], "disclosure", "{provided:#}");
    assert_paired(&provided, &received, provider_index);

    // 7. Every version is listed with what changed.
    let versions = utbyte(
        root,
        &["directory", "versions", "--config", DIRECTORY_CONFIG],
    );
    let changes: Vec<&str> = versions.lines().skip(1).collect();
    assert_eq!(changes.len(), 4, "{versions}");
    for (line, says) in changes.iter().zip([
        "federation created",
        "admitted forsakringskassan",
        "admitted malmo-stad",
        "revoked certificate",
    ]) {
        assert!(line.contains(says), "{versions}");
    }
    let shown = utbyte(
        root,
        &["directory", "show", "2", "--state", "directory/state"],
    );
    assert!(
        shown.contains("member         forsakringskassan") && !shown.contains("malmo-stad"),
        "{shown}"
    );
}

fn copy_dir(from: &Path, to: &Path) {
    std::fs::create_dir_all(to).unwrap();
    for entry in std::fs::read_dir(from).unwrap() {
        let entry = entry.unwrap();
        let target = to.join(entry.file_name());
        if entry.file_type().unwrap().is_dir() {
            copy_dir(&entry.path(), &target);
        } else {
            std::fs::copy(entry.path(), target).unwrap();
        }
    }
}
