//! Every kind of mistake in the catalog data is reported with its file, line and a precise
//! message — and all of them at once.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::path::PathBuf;
use utbyte_catalog::data::read_dir;
use utbyte_catalog::{Catalog, CatalogData, CatalogError};
use utbyte_rules::source::SourceFile;
use utbyte_rules::{Problem, Rulebook};

fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../..")
}

/// The example catalog with `edit` applied to the file at `path`.
fn edited(path: &str, edit: impl Fn(&str) -> String) -> Vec<SourceFile> {
    let mut files = read_dir(&root().join("catalog")).unwrap();
    let file = files.iter_mut().find(|f| f.path == path).unwrap();
    let text = edit(&file.text);
    assert_ne!(text, file.text, "the edit changed nothing in {path}");
    file.text = text;
    files
}

fn replace(path: &str, from: &str, to: &str) -> Vec<SourceFile> {
    edited(path, |text| text.replacen(from, to, 1))
}

/// The problems loading and building report.
fn problems(files: &[SourceFile]) -> Vec<Problem> {
    let rulebook = Rulebook::load_dir(&root().join("rulebook")).unwrap();
    let result = CatalogData::from_sources(files).and_then(|data| Catalog::build(&rulebook, &data));
    match result {
        Ok(_) => panic!("the edited catalog was accepted"),
        Err(CatalogError::Invalid(problems)) => problems,
        Err(other) => panic!("unexpected error: {other}"),
    }
}

/// The one problem reported, checked to be in `file`.
fn only(files: &[SourceFile], file: &str) -> Problem {
    let found = problems(files);
    assert_eq!(found.len(), 1, "{found:#?}");
    let problem = found.into_iter().next().unwrap();
    assert_eq!(problem.file, file, "{problem}");
    problem
}

fn line_of(files: &[SourceFile], path: &str, needle: &str) -> usize {
    let file = files.iter().find(|f| f.path == path).unwrap();
    file.locate(needle).0
}

#[test]
fn the_example_is_valid() {
    let data = CatalogData::load_dir(&root().join("catalog")).unwrap();
    let rulebook = Rulebook::load_dir(&root().join("rulebook")).unwrap();
    Catalog::build(&rulebook, &data).unwrap();
}

#[test]
fn an_unknown_concept_reference_is_named() {
    let files = replace(
        "concepts.toml",
        "broader = [\"skatt\"]",
        "broader = [\"skatter\"]",
    );
    let found = problems(&files);
    let problem = found
        .iter()
        .find(|p| p.message == "concept `slutlig-skatt` names `skatter` as broader, but no concept `skatter` is defined")
        .unwrap_or_else(|| panic!("{found:#?}"));
    assert_eq!(problem.file, "concepts.toml");
    assert_eq!(
        problem.line,
        line_of(&files, "concepts.toml", "id = \"slutlig-skatt\"")
    );
}

#[test]
fn broader_and_narrower_must_mirror_each_other() {
    let files = replace(
        "concepts.toml",
        "narrower = [\"forvarvsinkomst\", \"kapitalinkomst\"]",
        "narrower = [\"forvarvsinkomst\"]",
    );
    let problem = only(&files, "concepts.toml");
    assert_eq!(
        problem.message,
        "concept `kapitalinkomst` names `inkomst` as broader, but `inkomst` does not list `kapitalinkomst` as narrower"
    );
    let files = replace(
        "concepts.toml",
        "narrower = [\"slutlig-skatt\"]",
        "narrower = [\"slutlig-skatt\", \"lon\"]",
    );
    assert_eq!(
        only(&files, "concepts.toml").message,
        "concept `skatt` names `lon` as narrower, but `lon` does not list `skatt` as broader"
    );
}

#[test]
fn related_must_be_stated_at_both_ends() {
    let files = replace(
        "concepts.toml",
        "related = [\"skuld\"]\n\n[[concept]]\nid = \"utmatning\"",
        "\n[[concept]]\nid = \"utmatning\"",
    );
    assert_eq!(
        only(&files, "concepts.toml").message,
        "concept `skuld` names `borgenar` as related, but `borgenar` does not name `skuld` as related"
    );
}

#[test]
fn a_cycle_in_broader_is_reported_with_its_path() {
    // familj → civilstand → familj, stated consistently at both ends.
    let files = edited("concepts.toml", |text| {
        text.replacen(
            "narrower = [\"civilstand\", \"barn\"]",
            "broader = [\"civilstand\"]\nnarrower = [\"civilstand\", \"barn\"]",
            1,
        )
        .replacen(
            "broader = [\"familj\"]\n\n[[concept]]\nid = \"barn\"",
            "broader = [\"familj\"]\nnarrower = [\"familj\"]\n\n[[concept]]\nid = \"barn\"",
            1,
        )
    });
    let found = problems(&files);
    assert!(
        found.iter().any(|p| p.file == "concepts.toml"
            && p.message.starts_with("the broader hierarchy has a cycle: ")
            && p.message.contains("civilstand → familj")),
        "{found:#?}"
    );
}

#[test]
fn a_rulebook_field_without_a_concept_is_named() {
    let files = replace("fields.toml", "lonebeslag = \"loneutmatning\"\n", "");
    let problem = only(&files, "fields.toml");
    assert_eq!(
        problem.message,
        "field `lonebeslag` (“Pågående löneutmätning”) of offering `kfm-skulder` has no concept: add `lonebeslag = \"<concept>\"` under [kfm-skulder]"
    );
    assert_eq!(
        problem.line,
        line_of(&files, "fields.toml", "[kfm-skulder]")
    );
}

#[test]
fn a_field_or_offering_the_rulebook_lacks_is_named() {
    let files = replace(
        "fields.toml",
        "[pm-misstanke]\n",
        "[pm-misstanke]\nvapeninnehav = \"person\"\n",
    );
    assert_eq!(
        only(&files, "fields.toml").message,
        "offering `pm-misstanke` has no field `vapeninnehav` in the rulebook"
    );
    let files = replace(
        "fields.toml",
        "[skv-inkomst]",
        "[tv-vapen]\nx = \"person\"\n\n[skv-inkomst]",
    );
    assert_eq!(
        only(&files, "fields.toml").message,
        "offering `tv-vapen` is not an offering of the rulebook"
    );
}

#[test]
fn a_field_linked_to_an_unknown_concept_is_named() {
    let files = replace("fields.toml", "lon = \"lon\"", "lon = \"loner\"");
    let problem = only(&files, "fields.toml");
    assert_eq!(
        problem.message,
        "field `lon` of offering `skv-inkomst` links to concept `loner`, which is not in concepts.toml"
    );
    assert_eq!(
        problem.line,
        line_of(&files, "fields.toml", "lon = \"loner\"")
    );
}

#[test]
fn a_mapping_to_an_unknown_concept_is_named() {
    let files = replace(
        "mappings/kronofogden.toml",
        "concept = \"skuldbelopp\"",
        "concept = \"skuldsaldo\"",
    );
    let problem = only(&files, "mappings/kronofogden.toml");
    assert_eq!(
        problem.message,
        "`gäldenärens skuldsaldo` of `kronofogden` is mapped to concept `skuldsaldo`, which is not in concepts.toml"
    );
}

#[test]
fn authorities_must_be_in_the_rulebook() {
    let files = replace(
        "mappings/malmo-stad.toml",
        "authority = \"malmo-stad\"",
        "authority = \"malmo\"",
    );
    let problem = only(&files, "mappings/malmo-stad.toml");
    assert_eq!(
        problem.message,
        "mappings are of authority `malmo`, which is not an authority of the rulebook"
    );
    let files = replace(
        "needs.toml",
        "authority = \"migrationsverket\"",
        "authority = \"migrationsverk\"",
    );
    assert_eq!(
        only(&files, "needs.toml").message,
        "need `mig-arbetsstalle-arbetstillstand` is registered by `migrationsverk`, which is not an authority of the rulebook"
    );
    let files = replace(
        "needs.toml",
        "purpose = \"forundersokning\"",
        "purpose = \"utredning\"",
    );
    assert_eq!(
        only(&files, "needs.toml").message,
        "need `pm-utbetalningar-forundersokning` is for purpose `utredning`, which is not a purpose of the rulebook"
    );
}

#[test]
fn duplicate_ids_are_named() {
    let files = edited("concepts.toml", |text| {
        format!("{text}\n[[concept]]\nid = \"barn\"\npref_label = {{ sv = \"barnet\", en = \"the child\" }}\ndefinition = {{ sv = \"x\", en = \"x\" }}\n")
    });
    assert_eq!(
        only(&files, "concepts.toml").message,
        "concept `barn` is defined twice"
    );
    let files = replace(
        "needs.toml",
        "id = \"malmo-lon-ekonomiskt-bistand\"",
        "id = \"fk-lon-bostadsbidrag\"",
    );
    assert_eq!(
        only(&files, "needs.toml").message,
        "need `fk-lon-bostadsbidrag` is defined twice"
    );
    let files = edited("offerings.toml", |text| {
        let first = text.find("[[offering]]").unwrap();
        let second = text[first + 1..].find("[[offering]]").unwrap() + first + 1;
        format!("{text}\n{}", &text[first..second])
    });
    assert_eq!(
        only(&files, "offerings.toml").message,
        "offering `skv-folkbokforing` is described twice"
    );
}

#[test]
fn missing_and_empty_labels_are_named() {
    let files = replace(
        "concepts.toml",
        "pref_label = { sv = \"barn\", en = \"child\" }",
        "pref_label = { sv = \"barn\", en = \" \" }",
    );
    assert_eq!(
        only(&files, "concepts.toml").message,
        "concept `barn` lacks its English preferred label"
    );
    let files = replace(
        "concepts.toml",
        "definition = { sv = \"En persons barn enligt folkbokföringen.\", en = \"A person's children according to the population register.\" }",
        "definition = { en = \"A person's children according to the population register.\" }",
    );
    let problem = only(&files, "concepts.toml");
    assert!(problem.message.contains("missing field `sv`"), "{problem}");
    assert_eq!(
        problem.line,
        line_of(
            &files,
            "concepts.toml",
            "definition = { en = \"A person's children"
        )
    );
}

#[test]
fn every_problem_is_reported_in_one_run() {
    let files = edited("fields.toml", |text| {
        text.replacen("lon = \"lon\"", "lon = \"loner\"", 1)
            .replacen("barn = \"barn\"", "barn = \"barnen\"", 1)
    });
    let found = problems(&files);
    assert!(found.len() >= 2, "{found:#?}");
}

#[test]
fn a_missing_file_is_named() {
    let mut files = read_dir(&root().join("catalog")).unwrap();
    files.retain(|f| f.path != "needs.toml");
    let found = CatalogData::from_sources(&files).unwrap_err();
    assert_eq!(found.problems()[0].message, "missing file needs.toml");
    assert_eq!(found.to_string(), "needs.toml:1:1: missing file needs.toml");
}
