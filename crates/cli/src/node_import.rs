//! `utbyte node import-register`: register data for one offering, from a file, into the SQLite
//! register the node's configuration names for it.
//!
//! The file is NDJSON, one subject per line:
//!
//! ```text
//! {"subject": "19121212-1212", "protected_identity": false, "fields": {"forman": "sjukpenning", "belopp": 14250}}
//! ```
//!
//! `subject` is a personnummer or samordningsnummer with its century (12 digits) or an
//! organisationsnummer; `protected_identity` is optional (default false); `fields` maps the
//! offering's field ids to JSON values. Blank lines are skipped. The whole file is one batch
//! (`utbyte_store::Register::insert`): every line is checked first, and any error writes
//! nothing. Values already held are replaced. Errors name the line and what is wrong, never an
//! identifier or a value.

use anyhow::Context as _;
use serde::Deserialize;
use std::collections::BTreeMap;
use std::path::Path;
use std::process::ExitCode;
use utbyte_domain::SubjectId;
use utbyte_node::NodeConfig;
use utbyte_store::{Register as _, RegisterBatch, RegisterStore};

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct Line {
    subject: String,
    #[serde(default)]
    protected_identity: bool,
    fields: BTreeMap<String, serde_json::Value>,
}

/// Parses the file into one batch for `offering`; returns it with the number of subjects.
fn batch(offering: &str, reader: impl std::io::BufRead) -> anyhow::Result<(RegisterBatch, usize)> {
    let mut batch = RegisterBatch::new();
    let mut subjects = 0;
    for (number, line) in reader.lines().enumerate() {
        let number = number + 1;
        let line = line.with_context(|| format!("reading line {number}"))?;
        if line.trim().is_empty() {
            continue;
        }
        // serde_json's message can quote the offending value; report only where and what kind.
        let parsed: Line = serde_json::from_str(&line).map_err(|err| {
            anyhow::anyhow!(
                "line {number}, column {}: not a register line ({:?} error; expected \
                 {{\"subject\", \"protected_identity\", \"fields\"}})",
                err.column(),
                err.classify()
            )
        })?;
        let subject: SubjectId = parsed
            .subject
            .parse()
            .with_context(|| format!("line {number}: the subject"))?;
        batch.subject(subject, parsed.protected_identity);
        for (field, value) in parsed.fields {
            batch.record(offering, subject, field, value);
        }
        subjects += 1;
    }
    Ok((batch, subjects))
}

pub async fn import(config: &NodeConfig, offering: &str, file: &Path) -> anyhow::Result<ExitCode> {
    let register = config
        .registers
        .iter()
        .find(|r| r.offerings.iter().any(|o| o == offering))
        .with_context(|| format!("no [[register]] in the configuration serves `{offering}`"))?;
    let path = register.sqlite.as_ref().with_context(|| {
        format!("`{offering}` is served by an HTTP backend; load its data there")
    })?;
    let reader = std::io::BufReader::new(
        std::fs::File::open(file).with_context(|| format!("opening {}", file.display()))?,
    );
    let (batch, subjects) = batch(offering, reader).with_context(|| file.display().to_string())?;
    if let Some(dir) = path.parent() {
        std::fs::create_dir_all(dir).with_context(|| format!("creating {}", dir.display()))?;
    }
    let store = RegisterStore::open(path).await?;
    store.insert(&batch).await.context("writing the register")?;
    println!(
        "imported {subjects} subjects into `{offering}` ({})",
        path.display()
    );
    Ok(ExitCode::SUCCESS)
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    #[test]
    fn reads_subjects_and_fields_and_skips_blank_lines() {
        let text = "{\"subject\": \"19121212-1212\", \"fields\": {\"forman\": \"sjukpenning\", \"belopp\": 14250}}\n\n{\"subject\": \"202100-5521\", \"protected_identity\": true, \"fields\": {}}\n";
        let (batch, subjects) = batch("fk-formaner", text.as_bytes()).unwrap();
        assert_eq!(subjects, 2);
        let json = serde_json::to_value(&batch).unwrap();
        assert_eq!(json["subjects"].as_array().unwrap().len(), 2);
        assert_eq!(json["records"].as_array().unwrap().len(), 2);
        assert_eq!(json["records"][0]["offering"], "fk-formaner");
    }

    #[test]
    fn errors_name_the_line_but_never_the_identifier_or_value() {
        let bad_subject = "{\"subject\": \"19121212-1213\", \"fields\": {}}\n";
        let err = format!("{:#}", batch("o", bad_subject.as_bytes()).unwrap_err());
        assert!(err.contains("line 1") && !err.contains("1213"), "{err}");
        let bad_json = "{\"subject\": \"19121212-1212\", \"fields\": {}}\n{\"subject\": \"19121212-1212\", \"protected_identity\": \"hemlig\", \"fields\": {}}\n";
        let err = format!("{:#}", batch("o", bad_json.as_bytes()).unwrap_err());
        assert!(err.contains("line 2") && !err.contains("hemlig"), "{err}");
    }
}
