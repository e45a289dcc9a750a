//! Follow-up statistics (uppföljning): entries by event, field outcome, offering, provision and
//! day. Computed from the records alone, so an auditor can produce them from the published tiles.

use crate::record::AuditRecord;
use serde::Serialize;
use std::collections::BTreeMap;
use std::fmt;

/// Counts over a set of records.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct Stats {
    pub entries: u64,
    pub by_event: BTreeMap<String, u64>,
    /// Field decisions by outcome (one record can count several times).
    pub by_field_outcome: BTreeMap<String, u64>,
    pub by_offering: BTreeMap<String, u64>,
    /// Records by each provision they cite (legal basis and field citations, once per record).
    pub by_provision: BTreeMap<String, u64>,
    pub by_day: BTreeMap<String, u64>,
}

fn name<T: serde::Serialize>(value: &T) -> String {
    serde_json::to_value(value)
        .ok()
        .and_then(|v| v.as_str().map(str::to_owned))
        .unwrap_or_default()
}

impl Stats {
    /// Adds one record.
    pub fn add(&mut self, record: &AuditRecord) {
        self.entries += 1;
        *self.by_event.entry(name(&record.event)).or_default() += 1;
        for f in &record.fields {
            *self.by_field_outcome.entry(name(&f.outcome)).or_default() += 1;
        }
        if let Some(o) = &record.offering {
            *self.by_offering.entry(o.clone()).or_default() += 1;
        }
        let mut provisions: Vec<&String> =
            record.fields.iter().flat_map(|f| &f.citations).collect();
        if let Some(why) = &record.why {
            provisions.push(&why.legal_basis);
        }
        provisions.sort();
        provisions.dedup();
        for p in provisions {
            *self.by_provision.entry(p.clone()).or_default() += 1;
        }
        *self.by_day.entry(record.day().to_owned()).or_default() += 1;
    }
}

impl fmt::Display for Stats {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        writeln!(f, "{} entries", self.entries)?;
        for (title, map) in [
            ("event", &self.by_event),
            ("field outcome", &self.by_field_outcome),
            ("offering", &self.by_offering),
            ("provision", &self.by_provision),
            ("day", &self.by_day),
        ] {
            writeln!(f, "\nby {title}:")?;
            let width = map.keys().map(|k| k.chars().count()).max().unwrap_or(0);
            for (key, n) in map {
                writeln!(f, "  {key:<width$}  {n:>8}")?;
            }
        }
        Ok(())
    }
}
