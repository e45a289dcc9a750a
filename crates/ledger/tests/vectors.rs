//! Proofs, roots and note signatures checked against vectors published by others (see
//! `tests/data/rfc6962.json` for their provenance), never against our own output.

// Test code: a failed unwrap is a failed test, with its location.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use serde_json::Value;
use utbyte_ledger::note::{Note, SignerKey, VerifierKey};
use utbyte_ledger::proof::{verify_consistency, verify_inclusion};
use utbyte_ledger::tree::{self, CompactRange, MemoryTree};
use utbyte_ledger::{leaf_hash, verify_note_signature, Hash};

fn vectors() -> Value {
    serde_json::from_str(include_str!("data/rfc6962.json")).unwrap()
}

fn h(hex_str: &Value) -> Hash {
    Hash::from_slice(&hex::decode(hex_str.as_str().unwrap()).unwrap()).unwrap()
}

fn hashes(list: &Value) -> Vec<Hash> {
    list.as_array().unwrap().iter().map(h).collect()
}

fn tree() -> MemoryTree {
    let mut t = MemoryTree::new();
    for leaf in vectors()["leaves"].as_array().unwrap() {
        t.push(leaf_hash(&hex::decode(leaf.as_str().unwrap()).unwrap()));
    }
    t
}

#[test]
fn roots_match_published_vectors_for_every_size() {
    let v = vectors();
    let t = tree();
    let mut range = CompactRange::new();
    for (i, leaf) in v["leaves"].as_array().unwrap().iter().enumerate() {
        range.push(leaf_hash(&hex::decode(leaf.as_str().unwrap()).unwrap()));
        let want = h(&v["roots"][i]);
        assert_eq!(
            t.root_at(i as u64 + 1).unwrap(),
            want,
            "MemoryTree root at size {}",
            i + 1
        );
        assert_eq!(range.root(), want, "CompactRange root at size {}", i + 1);
    }
}

#[test]
fn inclusion_proofs_match_published_vectors_and_verify() {
    let v = vectors();
    let t = tree();
    for case in v["inclusion"].as_array().unwrap() {
        let index = case["leaf"].as_u64().unwrap() - 1;
        let size = case["size"].as_u64().unwrap();
        let want = hashes(&case["proof"]);
        let proof = tree::inclusion_proof(&t, index, size).unwrap();
        assert_eq!(
            proof.hashes, want,
            "generated proof for leaf {index} in size {size}"
        );
        let root = h(&v["roots"][size as usize - 1]);
        let leaf = leaf_hash(&hex::decode(v["leaves"][index as usize].as_str().unwrap()).unwrap());
        verify_inclusion(index, size, &leaf, &want, &root).unwrap();
        // Every single-bit corruption, wrong index, wrong size or truncation must fail.
        for i in 0..want.len() {
            let mut bad = want.clone();
            bad[i].0[0] ^= 8;
            assert!(verify_inclusion(index, size, &leaf, &bad, &root).is_err());
        }
        if size > 1 {
            assert!(
                verify_inclusion(index ^ 1, size, &leaf, &want, &root).is_err()
                    || index ^ 1 >= size
            );
            assert!(verify_inclusion(index, size * 2, &leaf, &want, &root).is_err());
            assert!(verify_inclusion(index, size, &leaf, &want[..want.len() - 1], &root).is_err());
            let mut longer = want.clone();
            longer.push(root);
            assert!(verify_inclusion(index, size, &leaf, &longer, &root).is_err());
        }
        assert!(verify_inclusion(index, size, &leaf_hash(b"WrongLeaf"), &want, &root).is_err());
        assert!(verify_inclusion(size, size, &leaf, &want, &root).is_err());
    }
}

#[test]
fn consistency_proofs_match_published_vectors_and_verify() {
    let v = vectors();
    let t = tree();
    for case in v["consistency"].as_array().unwrap() {
        let (s1, s2) = (
            case["size1"].as_u64().unwrap(),
            case["size2"].as_u64().unwrap(),
        );
        let want = hashes(&case["proof"]);
        let proof = tree::consistency_proof(&t, s1, s2).unwrap();
        assert_eq!(proof.hashes, want, "generated consistency proof {s1}->{s2}");
        let (r1, r2) = (
            h(&v["roots"][s1 as usize - 1]),
            h(&v["roots"][s2 as usize - 1]),
        );
        verify_consistency(s1, s2, &want, &r1, &r2).unwrap();
        if want.is_empty() {
            continue;
        }
        for i in 0..want.len() {
            let mut bad = want.clone();
            bad[i].0[0] ^= 16;
            assert!(
                verify_consistency(s1, s2, &bad, &r1, &r2).is_err(),
                "bit flip in proof[{i}]"
            );
        }
        assert!(
            verify_consistency(s1, s2, &want, &r2, &r1).is_err(),
            "swapped roots"
        );
        assert!(
            verify_consistency(s1 + 1, s2, &want, &r1, &r2).is_err(),
            "size1 + 1"
        );
        assert!(
            verify_consistency(s1 - 1, s2, &want, &r1, &r2).is_err() || s1 == 1,
            "size1 - 1"
        );
        assert!(
            verify_consistency(s1, s2 * 2, &want, &r1, &r2).is_err(),
            "size2 * 2"
        );
        assert!(
            verify_consistency(s1, s2, &want[..want.len() - 1], &r1, &r2).is_err(),
            "truncated"
        );
        assert!(
            verify_consistency(s1, s2, &[], &r1, &r2).is_err(),
            "empty proof"
        );
    }
    // Trivial cases defined by RFC 9162.
    let (r1, r2) = (h(&v["roots"][0]), h(&v["roots"][1]));
    assert!(verify_consistency(0, 5, &[], &r1, &r2).is_ok());
    assert!(verify_consistency(3, 3, &[], &r1, &r1).is_ok());
    assert!(verify_consistency(3, 3, &[], &r1, &r2).is_err());
    assert!(verify_consistency(4, 3, &[], &r1, &r2).is_err());
}

#[test]
fn signed_note_matches_the_reference_implementation_byte_for_byte() {
    let v = vectors();
    let n = &v["signed_note"];
    let signer = SignerKey::parse(n["skey"].as_str().unwrap()).unwrap();
    assert_eq!(signer.to_text(), n["skey"].as_str().unwrap());
    assert_eq!(signer.verifier.to_text(), n["vkey"].as_str().unwrap());
    let verifier = VerifierKey::parse(n["vkey"].as_str().unwrap()).unwrap();
    assert_eq!(verifier, signer.verifier);

    let published = format!(
        "{}\n{}",
        n["text"].as_str().unwrap(),
        n["signature_line"].as_str().unwrap()
    );
    let note = Note::parse(&published).unwrap();
    assert_eq!(note.to_string(), published, "parse/format round trip");
    verify_note_signature(&note, &verifier).unwrap();

    // Ed25519 is deterministic, so signing the same text must reproduce the published line.
    use ed25519_dalek::Signer;
    let sig = signer.key.sign(n["text"].as_str().unwrap().as_bytes());
    assert_eq!(note.signatures[0].bytes, sig.to_bytes().to_vec());

    let tampered = Note::parse(&published.replace("cryptography", "cryptographY")).unwrap();
    assert!(verify_note_signature(&tampered, &verifier).is_err());
    for bad in [
        "PeterNeumann+c74f20a4+ARpc2QcUPDhMQegwxbzhKqiBfsVkmqq/LDE4izWy10TW",
        "PeterNeumann+c74f20a3",
        "Peter Neumann+c74f20a3+ARpc2QcUPDhMQegwxbzhKqiBfsVkmqq/LDE4izWy10TW",
    ] {
        assert!(VerifierKey::parse(bad).is_err(), "{bad}");
    }
}
