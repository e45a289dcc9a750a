//! The DCAT-AP-SE and SKOS exports of the example catalog, checked from outside by
//! `validate_exports.py`: both serialisations parse with rdflib and are the same graph, the graph
//! conforms to the SHACL shapes in `docs/shapes/` under pyshacl, and it says what the rulebook
//! says. A deliberately broken export must fail the same validation, so that a pass means
//! something.
//!
//! The test fails — it never skips — when python3, rdflib or pyshacl is missing: CI installs
//! them with `pip install -r requirements.txt` (scripts/test).

use std::fs;
use std::path::{Path, PathBuf};
use std::process::Command;
use utbyte_catalog::export::{self, ExportError, Format, DEFAULT_BASE};
use utbyte_catalog::{Catalog, CatalogData};
use utbyte_rules::Rulebook;

fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../..")
}

fn example() -> Catalog {
    let rulebook = Rulebook::load_dir(&root().join("rulebook")).unwrap_or_else(|e| panic!("{e}"));
    let data = CatalogData::load_dir(&root().join("catalog")).unwrap_or_else(|e| panic!("{e}"));
    Catalog::build(&rulebook, &data).unwrap_or_else(|e| panic!("{e}"))
}

type Export = fn(&Catalog, &str, Format) -> Result<String, ExportError>;

const EXPORTS: [(&str, Export); 2] = [("dcat", export::dcat), ("skos", export::skos)];

/// Writes `dcat.rdf`, `dcat.jsonld`, `skos.rdf` and `skos.jsonld`.
fn write_exports(catalog: &Catalog, dir: &Path) {
    for (name, export) in EXPORTS {
        for format in [Format::RdfXml, Format::JsonLd] {
            let text = export(catalog, DEFAULT_BASE, format).unwrap_or_else(|e| panic!("{e}"));
            let path = dir.join(format!("{name}.{}", format.extension()));
            fs::write(&path, text).unwrap_or_else(|e| panic!("cannot write {path:?}: {e}"));
        }
    }
}

/// Runs the validator on a directory of exports: whether everything held, and what it printed.
fn validate(dir: &Path) -> (bool, String) {
    const INSTALL: &str = "the export test needs python3 with rdflib and pyshacl: \
                           python3 -m pip install -r requirements.txt";
    let script = root().join("crates/catalog/tests/validate_exports.py");
    let output = Command::new("python3")
        .arg(&script)
        .arg(dir)
        .output()
        .unwrap_or_else(|e| panic!("cannot run python3 ({e}); {INSTALL}"));
    let printed = format!(
        "{}{}",
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    );
    match output.status.code() {
        Some(0) => (true, printed),
        Some(1) => (false, printed),
        Some(3) => panic!("rdflib or pyshacl is missing; {INSTALL}\n{printed}"),
        other => panic!("validate_exports.py failed to run ({other:?}):\n{printed}"),
    }
}

#[test]
fn the_exports_of_the_example_catalog_parse_agree_and_conform() {
    let dir = tempfile::tempdir().unwrap();
    write_exports(&example(), dir.path());
    let (ok, report) = validate(dir.path());
    assert!(ok, "the exports do not validate:\n{report}");
    assert!(
        report.contains("parsed, isomorphic, conforming, facts hold"),
        "{report}"
    );
}

#[test]
fn a_dataset_without_a_title_fails_the_shapes() {
    let mut catalog = example();
    let entry = catalog.entries.first_mut().unwrap();
    entry.title.clear();
    let offering = entry.offering.clone();
    let dir = tempfile::tempdir().unwrap();
    write_exports(&catalog, dir.path());

    let (ok, report) = validate(dir.path());
    assert!(
        !ok,
        "a dataset without a title passed validation:\n{report}"
    );
    assert!(report.contains("dcat: NONCONFORMANT"), "{report}");
    let result = format!(
        "focus {DEFAULT_BASE}offering/{offering} path http://purl.org/dc/terms/title \
         (http://www.w3.org/ns/shacl#MinCountConstraintComponent)"
    );
    assert!(
        report.contains(&result),
        "no violation for the missing title:\n{report}"
    );
    assert!(!report.contains("skos: NONCONFORMANT"), "{report}");
}

#[test]
fn a_mapping_without_an_approval_date_fails_the_shapes() {
    let mut catalog = example();
    let mapping = catalog.mappings.first_mut().unwrap();
    mapping.approved_on.clear();
    let dir = tempfile::tempdir().unwrap();
    write_exports(&catalog, dir.path());

    let (ok, report) = validate(dir.path());
    assert!(
        !ok,
        "a mapping without an approval date passed validation:\n{report}"
    );
    assert!(report.contains("skos: NONCONFORMANT"), "{report}");
    assert!(
        report.contains("path https://w3id.org/sssom/review_date"),
        "{report}"
    );
}

#[test]
fn the_catalogs_resources_are_under_the_base_given() {
    let catalog = example();
    let text = export::dcat(&catalog, "https://katalog.example/utbyte", Format::RdfXml).unwrap();
    assert!(text.contains("https://katalog.example/utbyte/offering/skv-inkomst"));
    assert!(!text.contains("https://utbyte.example/offering/"));
    // Concepts are the shared vocabulary's, named by its namespace whatever the base.
    assert!(text.contains(&catalog.scheme.iri("lon")));

    let refused = export::skos(&catalog, "utbyte.example", Format::JsonLd);
    assert!(
        matches!(refused, Err(ExportError::Base { .. })),
        "{refused:?}"
    );
}

#[test]
fn the_same_catalog_gives_the_same_bytes() {
    let catalog = example();
    for (_, export) in EXPORTS {
        for format in [Format::RdfXml, Format::JsonLd] {
            let first = export(&catalog, DEFAULT_BASE, format).unwrap();
            let second = export(&catalog, DEFAULT_BASE, format).unwrap();
            assert_eq!(first, second);
        }
    }
    assert_eq!(Format::RdfXml.content_type(), "application/rdf+xml");
    assert_eq!(Format::JsonLd.content_type(), "application/ld+json");
}
