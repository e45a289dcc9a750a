//! `diff` lists exactly the requests whose decision a new rulebook version changes.
//!
//! The example rulebook is copied and edited in three ways whose consequences follow from the
//! rulebook's own text; the diff must list those and nothing else, each with the decision
//! `decide` gives. An identical copy must change nothing.

#![allow(clippy::unwrap_used, clippy::expect_used)] // tests: a panic is the failure report

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::OnceLock;
use time::OffsetDateTime;
use utbyte_rules::diff::{diff, Change, Diff, Kind, SubjectVariant, Verdict};
use utbyte_rules::{DisclosureRequest, Ground, Rulebook, Subject};

const AT: OffsetDateTime = time::macros::datetime!(2026-06-01 12:00 +02:00);

fn example() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../rulebook")
}

/// A copy of the example rulebook in a directory of its own, removed when dropped.
struct Copy(PathBuf);

impl Copy {
    fn new() -> Self {
        static SEQUENCE: AtomicUsize = AtomicUsize::new(0);
        let dir = std::env::temp_dir().join(format!(
            "utbyte-rules-diff-{}-{}",
            std::process::id(),
            SEQUENCE.fetch_add(1, Ordering::Relaxed)
        ));
        copy(&example(), &dir);
        Copy(dir)
    }

    /// Replaces the first `from` in the file at `path` (which must contain it) by `to`.
    fn edit(&self, path: &str, from: &str, to: &str) {
        let file = self.0.join(path);
        let text = std::fs::read_to_string(&file).unwrap();
        assert!(text.contains(from), "{path} does not contain {from}");
        std::fs::write(&file, text.replacen(from, to, 1)).unwrap();
    }

    fn load(&self) -> Rulebook {
        Rulebook::load_dir(&self.0).unwrap_or_else(|e| panic!("{e}"))
    }
}

impl Drop for Copy {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

fn copy(from: &Path, to: &Path) {
    std::fs::create_dir_all(to).unwrap();
    for entry in std::fs::read_dir(from).unwrap() {
        let entry = entry.unwrap();
        let target = to.join(entry.file_name());
        if entry.file_type().unwrap().is_dir() {
            copy(&entry.path(), &target);
        } else {
            std::fs::copy(entry.path(), target).unwrap();
        }
    }
}

/// The example rulebook and an edited copy, and their diff; computed once for the tests that
/// read it (a diff decides millions of requests).
struct Edited {
    old: Rulebook,
    new: Rulebook,
    diff: Diff,
}

/// The edits:
///
/// 1. The pre-assessment `skv-fk-inkomst-bostadsbidrag` no longer covers `inkomstperiod`.
///    Its units (fk-bostadsbidrag, fk-kontroll) and roles (handlaggare, kontrollutredare),
///    asking under LUFFA for kontroll-bostadsbidrag, now get that field after review under
///    the LUFFA grant; about a protected subject it was and stays a forced review, with one
///    candidate fewer.
/// 2. The SFB 110:31 grant routes to review instead of disclosing. The Försäkringskassan
///    officers with competence for handlaggning-formaner other than analytiker (edit 3) —
///    handlaggare and kontrollutredare, at every unit — asking under it for that purpose get
///    its fields (income, address, garnishment) after review. About a protected subject the
///    forced review keeps its ground but now names a review grant; the address stays refused.
/// 3. Försäkringskassan's analytiker lose their competence: every request of theirs for
///    which they had it (purposes within felaktiga-utbetalningar, and handlaggning-formaner)
///    is now refused for want of competence — every offering a request can ask for, every
///    field, basis, operation and subject.
fn edited() -> &'static Edited {
    static EDITED: OnceLock<Edited> = OnceLock::new();
    EDITED.get_or_init(|| {
        let copy = Copy::new();
        copy.edit(
            "pre-assessments/luffa.toml",
            "fields = [\"lon\", \"arbetsgivare\", \"inkomstperiod\"]",
            "fields = [\"lon\", \"arbetsgivare\"]",
        );
        copy.edit(
            "policies/sfb.cedar",
            "@outcome(\"disclose\")",
            "@outcome(\"review\")",
        );
        copy.edit(
            "competence.toml",
            "roles = [\"handlaggare\", \"kontrollutredare\", \"analytiker\"]",
            "roles = [\"handlaggare\", \"kontrollutredare\"]",
        );
        let old = Rulebook::load_dir(&example()).unwrap_or_else(|e| panic!("{e}"));
        let new = copy.load();
        let diff = diff(&old, &new, AT);
        Edited { old, new, diff }
    })
}

/// What identifies a changed field decision, with how it changed.
type Key = (
    String,         // unit
    String,         // role
    String,         // offering
    String,         // field
    String,         // purpose
    String,         // legal basis
    Option<String>, // operation
    SubjectVariant,
    Kind,
    Verdict, // old
    Verdict, // new
);

fn key(c: &Change) -> Key {
    (
        c.unit.clone(),
        c.role.clone(),
        c.offering.clone(),
        c.field.clone(),
        c.purpose.clone(),
        c.legal_basis.clone(),
        c.operation.clone(),
        c.subject,
        c.kind,
        c.old.outcome,
        c.new.outcome,
    )
}

fn strings(items: &[&str]) -> Vec<String> {
    items.iter().map(|s| (*s).to_owned()).collect()
}

fn request(c: &Change) -> DisclosureRequest {
    DisclosureRequest {
        recipient: c.recipient.clone(),
        unit: c.unit.clone(),
        role: c.role.clone(),
        officer: None,
        vouched_by: None,
        offering: c.offering.clone(),
        fields: vec![c.field.clone()],
        purpose: c.purpose.clone(),
        legal_basis: c.legal_basis.clone(),
        case_ref: "diff".into(),
        operation: c.operation.clone(),
        subject: Subject {
            id: "19121212-1212".into(),
            protected_identity: c.subject == SubjectVariant::ProtectedIdentity,
        },
        time: AT,
    }
}

#[test]
fn an_identical_copy_changes_nothing() {
    let copy = Copy::new();
    let old = Rulebook::load_dir(&example()).unwrap_or_else(|e| panic!("{e}"));
    let new = copy.load();
    let diff = diff(&old, &new, AT);
    assert!(diff.changes.is_empty(), "{diff}");
    assert!(diff.requests > 0);
    assert!(
        diff.compared >= diff.requests,
        "every request asks for a field"
    );
    let s = &diff.summary;
    assert_eq!((s.changed, s.citation_changed), (0, 0));
    assert!(s.transitions.is_empty() && s.offerings.is_empty());
    assert_eq!(diff.old.hash, diff.new.hash);
}

#[test]
fn known_edits_change_exactly_the_requests_they_reach() {
    let Edited { old, diff, .. } = edited();
    let fk_units = strings(&["fk-bostadsbidrag", "fk-kontroll", "fk-sjukforsakring"]);
    assert_eq!(
        old.vocabulary.authorities["forsakringskassan"]
            .units
            .iter()
            .map(|u| u.id.clone())
            .collect::<Vec<_>>(),
        fk_units
    );
    let mut expected = BTreeSet::new();
    let mut add = |unit: &str,
                   role: &str,
                   offering: &str,
                   fields: &[&str],
                   purpose: &str,
                   basis: &str,
                   subject,
                   kind,
                   old,
                   new| {
        for field in fields {
            expected.insert((
                unit.to_owned(),
                role.to_owned(),
                offering.to_owned(),
                (*field).to_owned(),
                purpose.to_owned(),
                basis.to_owned(),
                None,
                subject,
                kind,
                old,
                new,
            ));
        }
    };
    use SubjectVariant::{Ordinary, ProtectedIdentity};
    use Verdict::{Disclose, Review};
    // 1. The pre-assessment without `inkomstperiod`.
    for unit in ["fk-bostadsbidrag", "fk-kontroll"] {
        for role in ["handlaggare", "kontrollutredare"] {
            let (offering, field) = ("skv-inkomst", &["inkomstperiod"][..]);
            let purpose = "kontroll-bostadsbidrag";
            add(
                unit,
                role,
                offering,
                field,
                purpose,
                "luffa",
                Ordinary,
                Kind::Outcome,
                Disclose,
                Review,
            );
            add(
                unit,
                role,
                offering,
                field,
                purpose,
                "luffa",
                ProtectedIdentity,
                Kind::Citation,
                Review,
                Review,
            );
        }
    }
    // 2. SFB 110:31 routes to review.
    let income = ["lon", "arbetsgivare", "inkomstperiod", "forman"];
    let address = ["folkbokforingsadress", "sarskild-postadress", "flyttdatum"];
    let garnishment = ["lonebeslag", "forbehallsbelopp"];
    for unit in &fk_units {
        for role in ["handlaggare", "kontrollutredare"] {
            let (purpose, basis) = ("handlaggning-formaner", "sfb-110-31");
            for (offering, fields) in [
                ("skv-inkomst", &income[..]),
                ("skv-folkbokforing", &address[..]),
                ("kfm-skulder", &garnishment[..]),
            ] {
                add(
                    unit,
                    role,
                    offering,
                    fields,
                    purpose,
                    basis,
                    Ordinary,
                    Kind::Outcome,
                    Disclose,
                    Review,
                );
            }
            for (offering, fields) in [
                ("skv-inkomst", &income[..]),
                ("kfm-skulder", &garnishment[..]),
            ] {
                add(
                    unit,
                    role,
                    offering,
                    fields,
                    purpose,
                    basis,
                    ProtectedIdentity,
                    Kind::Citation,
                    Review,
                    Review,
                );
            }
        }
    }
    let listed: BTreeSet<Key> = diff
        .changes
        .iter()
        .filter(|c| c.role != "analytiker")
        .map(key)
        .collect();
    let missing: Vec<_> = expected.difference(&listed).collect();
    let extra: Vec<_> = listed.difference(&expected).collect();
    assert!(
        missing.is_empty() && extra.is_empty(),
        "missing {missing:#?}\nextra {extra:#?}"
    );
    assert_eq!(listed.len(), 8 + 54 + 36);

    // 3. Försäkringskassan's analytiker without competence: every request they could make.
    let v = &old.vocabulary;
    let purposes: Vec<&String> = v
        .purposes
        .keys()
        .filter(|p| v.purpose_within(p, "felaktiga-utbetalningar") || *p == "handlaggning-formaner")
        .collect();
    assert!(purposes.len() >= 7, "{purposes:?}");
    let mut expected = BTreeSet::new();
    for unit in &fk_units {
        for offering in v.offerings.values().filter(|o| !o.notice) {
            for (_, field) in offering.fields() {
                for purpose in &purposes {
                    for basis in v.provisions.keys() {
                        // Joint operations are tried under SFS 2016:774, the provision they are
                        // decided under and the only basis a policy reads them under.
                        let operations = std::iter::once(None).chain(
                            v.operations
                                .keys()
                                .filter(|_| basis == "sfs-2016-774")
                                .map(|op| Some(op.clone())),
                        );
                        for operation in operations {
                            for subject in [Ordinary, ProtectedIdentity] {
                                expected.insert((
                                    unit.clone(),
                                    offering.id.clone(),
                                    field.id.clone(),
                                    (*purpose).clone(),
                                    basis.clone(),
                                    operation.clone(),
                                    subject,
                                ));
                            }
                        }
                    }
                }
            }
        }
    }
    let analytiker: Vec<&Change> = diff
        .changes
        .iter()
        .filter(|c| c.role == "analytiker")
        .collect();
    for c in &analytiker {
        assert_eq!(c.recipient, "forsakringskassan");
        assert_eq!(
            (c.new.outcome, c.new.ground),
            (Verdict::Refuse, Some(Ground::NoCompetence)),
            "{c:?}"
        );
        let kind = if c.old.outcome == Verdict::Refuse {
            Kind::Ground
        } else {
            Kind::Outcome
        };
        assert_eq!(c.kind, kind, "{c:?}");
    }
    let listed: BTreeSet<_> = analytiker
        .iter()
        .map(|c| {
            (
                c.unit.clone(),
                c.offering.clone(),
                c.field.clone(),
                c.purpose.clone(),
                c.legal_basis.clone(),
                c.operation.clone(),
                c.subject,
            )
        })
        .collect();
    assert_eq!(listed.len(), analytiker.len(), "a change is listed twice");
    assert!(
        listed == expected,
        "{} listed, {} expected",
        listed.len(),
        expected.len()
    );

    // The counts agree with the list.
    let s = &diff.summary;
    let citation = diff
        .changes
        .iter()
        .filter(|c| c.kind == Kind::Citation)
        .count();
    assert_eq!(s.citation_changed, citation);
    assert_eq!(s.changed, diff.changes.len() - citation);
    assert_eq!(s.changed, s.outcome_changed + s.ground_changed);
    assert_eq!(
        s.transitions.iter().map(|t| t.count).sum::<usize>(),
        s.changed
    );
    let by_offering: usize = s
        .offerings
        .iter()
        .map(|o| o.changed + o.citation_changed)
        .sum();
    assert_eq!(by_offering, diff.changes.len());
}

/// Each side of a change is the decision `decide` gives, citations included.
#[test]
fn each_side_is_what_decide_says() {
    let Edited { old, new, diff } = edited();
    let sample = diff
        .changes
        .iter()
        .enumerate()
        .filter(|(i, c)| c.role != "analytiker" || i % 499 == 0)
        .map(|(_, c)| c);
    let mut checked = 0;
    for c in sample {
        for (rulebook, side) in [(old, &c.old), (new, &c.new)] {
            let decision = rulebook.decide(&request(c)).unwrap();
            let field = &decision.fields[0];
            assert_eq!(side.outcome, Verdict::from(field.outcome), "{c:?}");
            assert_eq!(side.ground, Some(field.ground), "{c:?}");
            assert!(side.determining == field.determining, "{c:?}");
            assert!(side.candidates == field.candidates, "{c:?}");
        }
        checked += 1;
    }
    assert!(checked > 98, "{checked}");
}

#[test]
fn the_text_starts_with_the_counts_and_cites_both_decisions() {
    let Edited { diff, .. } = edited();
    let text = diff.to_string();
    let s = &diff.summary;
    let first = text.lines().next().unwrap();
    assert_eq!(
        first,
        format!(
            "{} changed ({} outcome, {} ground), {} citation changed, of {} field decisions compared ({} requests)",
            s.changed, s.outcome_changed, s.ground_changed, s.citation_changed, diff.compared, diff.requests
        )
    );
    assert!(text.contains("\n  disclose → review "), "{first}");
    assert!(text.contains("\n  skv-inkomst: "), "{first}");
    // Edit 1, for one unit and role: the field, the request, both decisions and their grounds.
    let block = text
        .split("\n\n")
        .find(|b| {
            b.starts_with("skv-inkomst inkomstperiod — outcome changed")
                && b.contains("forsakringskassan / fk-kontroll, role handlaggare, ordinary subject")
        })
        .unwrap_or_else(|| panic!("no block for edit 1 in the text"));
    assert!(
        block.contains("purpose kontroll-bostadsbidrag, basis luffa"),
        "{block}"
    );
    assert!(
        block.contains("old       DISCLOSE  pre-assessed"),
        "{block}"
    );
    assert!(
        block.contains("by   SFS 2024:307 3 § [pre-assessment skv-fk-inkomst-bostadsbidrag]"),
        "{block}"
    );
    assert!(
        block.contains("new       REVIEW    needs assessment"),
        "{block}"
    );
    assert!(
        block.contains("may  SFS 2024:307 3 § [luffa-uppgiftsskyldighet]"),
        "{block}"
    );
    // Edit 2 lists a request's fields that changed alike together.
    assert!(
        text.contains("skv-inkomst lon, arbetsgivare, inkomstperiod, forman — outcome changed"),
        "edit 2 is not grouped"
    );
    assert!(text.contains("\nCited provisions\n"));
}

#[test]
fn the_json_carries_the_counts_and_both_sides() {
    let Edited { diff, .. } = edited();
    let json = serde_json::to_value(diff).unwrap();
    assert_eq!(json["summary"]["changed"], diff.summary.changed);
    assert_eq!(json["compared"], diff.compared);
    let change = json["changes"]
        .as_array()
        .unwrap()
        .iter()
        .find(|c| {
            c["legal_basis"] == "sfb-110-31"
                && c["subject"] == "ordinary"
                && c["role"] == "handlaggare"
        })
        .unwrap();
    assert_eq!(change["kind"], "outcome");
    assert_eq!(change["old"]["outcome"], "disclose");
    assert_eq!(change["old"]["ground"], "provision");
    assert_eq!(
        change["old"]["determining"][0]["policy"],
        "sfb-110-31-uppgifter-till-forsakringskassan"
    );
    assert_eq!(change["new"]["outcome"], "review");
    assert_eq!(change["new"]["ground"], "needs_assessment");
    assert_eq!(change["new"]["candidates"][0]["class"], "review");
}
