//! Rulebook files and scenario files (`utbyte-rules`), loaded from memory as a node loads the
//! federation's rulebook bundle.
//!
//! The first byte chooses the rulebook — below 128 a small one written for fuzzing (it loads
//! many times faster), from 128 the example rulebook (`rulebook/`) — and, modulo its number of
//! files plus two, one of its files (in the order `rules::rulebook::read_dir` reads them) or one
//! extra policy or pre-assessment file; the rest, as UTF-8, replaces that file's text.
//! - A scenario file is loaded and every scenario in it run against that rulebook.
//! - Any other file: the rulebook is loaded with it (`Rulebook::from_sources`). When it loads,
//!   it is analysed, decides a request, and travels as a federation bundle, which must load to
//!   the same hash; when it does not, every problem must name a file of the rulebook and a line
//!   in it.

#![no_main]

use libfuzzer_sys::fuzz_target;
use std::sync::OnceLock;
use utbyte_federation::RulebookBundle;
use utbyte_fuzz::{example_rulebook, example_rulebook_files, small_rulebook_files, split, NOW};
use utbyte_rules::source::SourceFile;
use utbyte_rules::{scenario, DisclosureRequest, Rulebook, Subject};

fuzz_target!(
    init: {
        small_rulebook();
        example_rulebook();
    },
    |data: &[u8]| run(data)
);

fn run(data: &[u8]) {
    let Some((selector, rest)) = split(data) else {
        return;
    };
    let Ok(text) = std::str::from_utf8(rest) else {
        return; // a rulebook's files are read as UTF-8; anything else is refused before parsing
    };
    let (files, rulebook): (&[SourceFile], &Rulebook) = if selector < 128 {
        (small_files(), small_rulebook())
    } else {
        (example_rulebook_files(), example_rulebook())
    };
    let slot = usize::from(selector % 128) % (files.len() + 2);
    let path = match slot.checked_sub(files.len()) {
        None => files[slot].path.clone(),
        Some(0) => "policies/extra.cedar".to_owned(),
        Some(_) => "pre-assessments/extra.toml".to_owned(),
    };
    let file = SourceFile::new(path.clone(), text);
    if path.starts_with("scenarios/") {
        scenarios(rulebook, &file);
        return;
    }
    let mut sources: Vec<SourceFile> = files
        .iter()
        .filter(|f| f.path != path && !f.path.starts_with("scenarios/"))
        .cloned()
        .collect();
    sources.push(file);
    match Rulebook::from_sources(&sources) {
        Ok(rulebook) => loaded(&rulebook, &sources),
        Err(err) => {
            let _ = err.to_string();
            assert!(!err.problems.is_empty(), "refused without a problem");
            for problem in &err.problems {
                let Some(source) = sources.iter().find(|f| f.path == problem.file) else {
                    panic!("a problem in a file that is not the rulebook's: {problem}");
                };
                let lines = source.text.split('\n').count();
                assert!(
                    (1..=lines).contains(&problem.line) && problem.column >= 1,
                    "a problem outside its file ({lines} lines): {problem}"
                );
            }
        }
    }
}

fn scenarios(rulebook: &Rulebook, file: &SourceFile) {
    let Ok(loaded) = scenario::load(file) else {
        return;
    };
    let lines = file.text.split('\n').count();
    for (line, scenario) in loaded {
        assert!(
            (1..=lines).contains(&line),
            "scenario located at line {line}"
        );
        let _ = scenario::run(rulebook, &scenario);
    }
}

fn loaded(rulebook: &Rulebook, sources: &[SourceFile]) {
    let today = utbyte_domain::legal_time::swedish_date(NOW);
    for finding in utbyte_rules::analyze::analyze(rulebook, today) {
        let _ = finding.to_string();
    }
    let request = DisclosureRequest {
        recipient: "malmo-stad".into(),
        unit: "malmo-ekonomiskt-bistand".into(),
        role: "handlaggare".into(),
        officer: Some("malmo-h4711".into()),
        vouched_by: None,
        offering: "fk-formaner".into(),
        fields: vec!["forman".into(), "belopp".into(), "diagnos".into()],
        purpose: "kontroll-ekonomiskt-bistand".into(),
        legal_basis: "luffa".into(),
        case_ref: "ASN-2026-004512".into(),
        operation: None,
        subject: Subject {
            id: "19121212-1212".into(),
            protected_identity: false,
        },
        time: NOW,
    };
    if let Ok(decision) = rulebook.decide(&request) {
        assert_eq!(decision.fields.len(), request.fields.len());
    }
    let bundle = RulebookBundle::new(rulebook, sources);
    let again = bundle
        .load()
        .unwrap_or_else(|e| panic!("a loaded rulebook does not load from its bundle: {e}"));
    assert_eq!(again.hash(), rulebook.hash());
}

fn small_files() -> &'static [SourceFile] {
    static FILES: OnceLock<Vec<SourceFile>> = OnceLock::new();
    FILES.get_or_init(small_rulebook_files)
}

fn small_rulebook() -> &'static Rulebook {
    static RULEBOOK: OnceLock<Rulebook> = OnceLock::new();
    RULEBOOK.get_or_init(|| {
        Rulebook::from_sources(small_files())
            .unwrap_or_else(|e| panic!("the small rulebook does not load: {e}"))
    })
}
