//! Follow-up statistics (uppföljning): entries by event, field outcome, offering, provision and
//! day, events per day, how long reviews take, and subscription notices by offering, event type
//! and outcome. Computed from the records alone, so an
//! auditor can produce them from the published tiles. Days are Swedish calendar days
//! (Europe/Stockholm): a record's time is UTC, but an officer's working day is not.

use crate::record::{unix_seconds, AuditRecord, EventKind};
use serde::{Serialize, Serializer};
use std::collections::{BTreeMap, BTreeSet};
use std::fmt;

/// Upper bounds (inclusive, in seconds) of the review turnaround buckets; a last bucket holds
/// everything longer. Chosen for human review: minutes, a working day, days, weeks.
pub const TURNAROUND_BUCKETS: [u64; 7] = [
    60,
    60 * 60,
    8 * 60 * 60,
    24 * 60 * 60,
    3 * 24 * 60 * 60,
    7 * 24 * 60 * 60,
    30 * 24 * 60 * 60,
];

/// Counts over a set of records, added in ledger order with [`Stats::add`].
///
/// Serialized as its public fields plus `review_turnaround`, the summary of
/// [`Stats::review_turnaround`] (`null` when no review was decided).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Stats {
    /// Records counted.
    pub entries: u64,
    /// Records by event, as serialized (`disclosure`, `refusal`, `review_request`, …).
    pub by_event: BTreeMap<String, u64>,
    /// Field decisions by outcome (one record can count several times).
    pub by_field_outcome: BTreeMap<String, u64>,
    /// Records by offering.
    pub by_offering: BTreeMap<String, u64>,
    /// Records by each provision they cite (legal basis and field citations, once per record).
    pub by_provision: BTreeMap<String, u64>,
    /// Records by Swedish day (Europe/Stockholm), `YYYY-MM-DD`.
    pub by_day: BTreeMap<String, u64>,
    /// Records by Swedish day (`YYYY-MM-DD`), then by event as in [`Stats::by_event`].
    pub by_day_event: BTreeMap<String, BTreeMap<String, u64>>,
    /// For each review decision whose `refers_to` names an earlier `review_request` record of
    /// the same ledger: the seconds between the two records' times, in the decisions' ledger
    /// order. Only the first decision of a request counts, and none whose time precedes the
    /// request's (a clock set back).
    pub review_turnaround_seconds: Vec<u64>,
    /// Subscription notices by offering, then event type, then outcome (`sent`, `withheld`,
    /// `received`): how many notices the records name (one notice of two event types counts
    /// under each).
    pub notices: BTreeMap<String, BTreeMap<String, BTreeMap<String, u64>>>,
    /// Times (Unix seconds) of review requests not yet matched with a decision, by ledger index.
    open_reviews: BTreeMap<u64, i64>,
}

/// Review turnaround summarised for a chart: percentiles (nearest rank) and a histogram.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Turnaround {
    /// Decided reviews measured.
    pub count: u64,
    pub median_seconds: u64,
    pub p90_seconds: u64,
    pub max_seconds: u64,
    /// Counts per bucket of [`TURNAROUND_BUCKETS`], then the bucket of longer ones.
    pub buckets: Vec<TurnaroundBucket>,
}

/// One histogram bucket: turnarounds above the previous bucket's bound, up to `le_seconds`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct TurnaroundBucket {
    /// Inclusive upper bound in seconds; `None` for the last, unbounded bucket.
    pub le_seconds: Option<u64>,
    pub count: u64,
}

fn name<T: serde::Serialize>(value: &T) -> String {
    serde_json::to_value(value)
        .ok()
        .and_then(|v| v.as_str().map(str::to_owned))
        .unwrap_or_default()
}

impl Stats {
    /// Adds the record at ledger index `index`. Records must be added in ledger order, so that
    /// a review decision finds the request it refers to.
    pub fn add(&mut self, index: u64, record: &AuditRecord) {
        self.entries += 1;
        let event = name(&record.event);
        *self.by_event.entry(event.clone()).or_default() += 1;
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
        let day = record.day();
        *self
            .by_day_event
            .entry(day.clone())
            .or_default()
            .entry(event)
            .or_default() += 1;
        *self.by_day.entry(day).or_default() += 1;
        if let (Some(batch), Some(offering)) = (&record.notices, &record.offering) {
            let outcome = match record.event {
                EventKind::NoticeSent => "sent",
                EventKind::NoticeWithheld => "withheld",
                _ => "received",
            };
            let by_event = self.notices.entry(offering.clone()).or_default();
            for event in &batch.events {
                *by_event
                    .entry(event.clone())
                    .or_default()
                    .entry(outcome.to_owned())
                    .or_default() += u64::from(batch.count);
            }
        }
        match record.event {
            EventKind::ReviewRequest => {
                if let Some(t) = unix_seconds(&record.time) {
                    self.open_reviews.insert(index, t);
                }
            }
            EventKind::ReviewDecision => {
                let requested = record
                    .refers_to
                    .filter(|&r| r < index)
                    .and_then(|r| self.open_reviews.remove(&r));
                if let (Some(requested), Some(decided)) = (requested, unix_seconds(&record.time)) {
                    if let Ok(seconds) = u64::try_from(decided - requested) {
                        self.review_turnaround_seconds.push(seconds);
                    }
                }
            }
            _ => {}
        }
    }

    /// Review requests recorded but not (yet) decided among the records added.
    pub fn open_reviews(&self) -> u64 {
        self.open_reviews.len() as u64
    }

    /// Median, 90th percentile, maximum and a histogram of
    /// [`Stats::review_turnaround_seconds`]; `None` when no review was decided.
    pub fn review_turnaround(&self) -> Option<Turnaround> {
        let mut sorted = self.review_turnaround_seconds.clone();
        sorted.sort_unstable();
        let n = sorted.len();
        // Nearest rank: the smallest value with at least p percent of the values at or below it.
        let rank = |percent: usize| sorted.get((n * percent).div_ceil(100).max(1) - 1).copied();
        let max = *sorted.last()?;
        let mut buckets: Vec<TurnaroundBucket> = TURNAROUND_BUCKETS
            .iter()
            .map(|&le| TurnaroundBucket {
                le_seconds: Some(le),
                count: 0,
            })
            .chain([TurnaroundBucket {
                le_seconds: None,
                count: 0,
            }])
            .collect();
        for &s in &sorted {
            let at = TURNAROUND_BUCKETS
                .iter()
                .position(|&le| s <= le)
                .unwrap_or(TURNAROUND_BUCKETS.len());
            if let Some(bucket) = buckets.get_mut(at) {
                bucket.count += 1;
            }
        }
        Some(Turnaround {
            count: n as u64,
            median_seconds: rank(50)?,
            p90_seconds: rank(90)?,
            max_seconds: max,
            buckets,
        })
    }
}

impl Serialize for Stats {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        #[derive(Serialize)]
        struct View<'a> {
            entries: u64,
            by_event: &'a BTreeMap<String, u64>,
            by_field_outcome: &'a BTreeMap<String, u64>,
            by_offering: &'a BTreeMap<String, u64>,
            by_provision: &'a BTreeMap<String, u64>,
            by_day: &'a BTreeMap<String, u64>,
            by_day_event: &'a BTreeMap<String, BTreeMap<String, u64>>,
            review_turnaround_seconds: &'a [u64],
            open_reviews: u64,
            review_turnaround: Option<Turnaround>,
            notices: &'a BTreeMap<String, BTreeMap<String, BTreeMap<String, u64>>>,
        }
        View {
            entries: self.entries,
            by_event: &self.by_event,
            by_field_outcome: &self.by_field_outcome,
            by_offering: &self.by_offering,
            by_provision: &self.by_provision,
            by_day: &self.by_day,
            by_day_event: &self.by_day_event,
            review_turnaround_seconds: &self.review_turnaround_seconds,
            open_reviews: self.open_reviews(),
            review_turnaround: self.review_turnaround(),
            notices: &self.notices,
        }
        .serialize(serializer)
    }
}

/// A duration for people: `42 s`, `5 min`, `3 h 20 min`, `2 d 4 h`.
fn human(seconds: u64) -> String {
    let (d, h, m, s) = (
        seconds / 86_400,
        seconds % 86_400 / 3600,
        seconds % 3600 / 60,
        seconds % 60,
    );
    match (d, h, m) {
        (0, 0, 0) => format!("{s} s"),
        (0, 0, _) if s == 0 => format!("{m} min"),
        (0, 0, _) => format!("{m} min {s} s"),
        (0, _, 0) => format!("{h} h"),
        (0, _, _) => format!("{h} h {m} min"),
        (_, 0, _) => format!("{d} d"),
        _ => format!("{d} d {h} h"),
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
        self.fmt_day_event(f)?;
        self.fmt_turnaround(f)
    }
}

impl Stats {
    /// The day × event table: one row per day, one column per event that occurs at all.
    fn fmt_day_event(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        writeln!(f, "\nby day and event:")?;
        let events: BTreeSet<&String> = self.by_day_event.values().flat_map(|m| m.keys()).collect();
        if events.is_empty() {
            return Ok(());
        }
        write!(f, "  {:<10}", "day")?;
        for e in &events {
            write!(f, "  {e:>8}")?;
        }
        writeln!(f)?;
        for (day, counts) in &self.by_day_event {
            write!(f, "  {day:<10}")?;
            for e in &events {
                let width = e.chars().count().max(8);
                let n = counts.get(*e).copied().unwrap_or(0);
                write!(f, "  {n:>width$}")?;
            }
            writeln!(f)?;
        }
        Ok(())
    }

    fn fmt_turnaround(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let open = self.open_reviews();
        let Some(t) = self.review_turnaround() else {
            return writeln!(
                f,
                "\nreview turnaround: no review decided ({open} awaiting decision)"
            );
        };
        writeln!(
            f,
            "\nreview turnaround ({} decided, {open} awaiting decision):",
            t.count
        )?;
        writeln!(f, "  median  {}", human(t.median_seconds))?;
        writeln!(f, "  p90     {}", human(t.p90_seconds))?;
        writeln!(f, "  max     {}", human(t.max_seconds))?;
        let mut lower = None;
        for b in &t.buckets {
            let label = match (lower, b.le_seconds) {
                (_, Some(le)) => format!("up to {}", human(le)),
                (Some(l), None) => format!("over {}", human(l)),
                (None, None) => "any".to_owned(),
            };
            writeln!(f, "  {label:<14}  {:>8}", b.count)?;
            lower = b.le_seconds.or(lower);
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used)]

    use super::*;
    use crate::record::Outcome;
    use crate::sample::sample_record;

    /// A record of `event` at `time`, referring to `refers_to`.
    fn record(event: EventKind, time: &str, refers_to: Option<u64>) -> AuditRecord {
        let (mut r, _) = sample_record(0, "Skatteverket");
        r.event = event;
        r.time = time.to_owned();
        r.refers_to = refers_to;
        if event == EventKind::ReviewRequest {
            r.fields[0].outcome = Outcome::Review;
        }
        r
    }

    fn stats_of(records: &[AuditRecord]) -> Stats {
        let mut s = Stats::default();
        for (i, r) in records.iter().enumerate() {
            s.add(i as u64, r);
        }
        s
    }

    #[test]
    fn counts_events_per_day() {
        use EventKind::*;
        let s = stats_of(&[
            record(Disclosure, "2025-03-01T09:00:00Z", None),
            // 23:59:59 in Stockholm (CET, UTC+1): still 1 March.
            record(Disclosure, "2025-03-01T22:59:59Z", None),
            record(Refusal, "2025-03-01T10:00:00Z", None),
            // Midnight in Stockholm: 2 March, though UTC still says 1 March.
            record(ReviewRequest, "2025-03-01T23:00:00Z", None),
            record(Receipt, "2025-03-02T08:00:00Z", Some(7)),
            record(ReviewDecision, "2025-03-03T08:00:00Z", Some(3)),
        ]);
        let day = |d: &str| s.by_day_event.get(d).cloned().unwrap_or_default();
        let expected = |pairs: &[(&str, u64)]| -> BTreeMap<String, u64> {
            pairs.iter().map(|(k, v)| ((*k).to_owned(), *v)).collect()
        };
        assert_eq!(
            day("2025-03-01"),
            expected(&[("disclosure", 2), ("refusal", 1)])
        );
        assert_eq!(
            day("2025-03-02"),
            expected(&[("receipt", 1), ("review_request", 1)])
        );
        assert_eq!(day("2025-03-03"), expected(&[("review_decision", 1)]));
        assert_eq!(s.by_day_event.len(), 3);
        // The per-day table agrees with the per-day and per-event totals.
        for (d, events) in &s.by_day_event {
            assert_eq!(Some(&events.values().sum::<u64>()), s.by_day.get(d));
        }
        assert_eq!(s.by_event.get("disclosure"), Some(&2));
    }

    #[test]
    fn days_are_swedish_in_summer_and_across_both_clock_changes() {
        use EventKind::*;
        let s = stats_of(&[
            // Summer (CEST, UTC+2): 21:59:59 UTC is 23:59:59 on 30 June, 22:00 UTC midnight.
            record(Disclosure, "2026-06-30T21:59:59Z", None),
            record(Disclosure, "2026-06-30T22:00:00Z", None),
            // The spring change, 29 March: 23:00 UTC on the 28th is midnight (CET); 22:00 UTC
            // on the 29th is midnight again, now CEST.
            record(Refusal, "2026-03-28T22:59:59Z", None),
            record(Refusal, "2026-03-28T23:00:00Z", None),
            record(Refusal, "2026-03-29T21:59:59Z", None),
            record(Refusal, "2026-03-29T22:00:00Z", None),
            // The autumn change, 25 October: midnight is 22:00 UTC before it, 23:00 UTC after.
            record(Receipt, "2026-10-24T22:00:00Z", None),
            record(Receipt, "2026-10-25T22:59:59Z", None),
            record(Receipt, "2026-10-25T23:00:00Z", None),
        ]);
        let days: Vec<(&str, u64)> = s.by_day.iter().map(|(d, n)| (d.as_str(), *n)).collect();
        assert_eq!(
            days,
            vec![
                ("2026-03-28", 1),
                ("2026-03-29", 2),
                ("2026-03-30", 1),
                ("2026-06-30", 1),
                ("2026-07-01", 1),
                ("2026-10-25", 2),
                ("2026-10-26", 1),
            ]
        );
        assert_eq!(s.by_day_event["2026-10-25"]["receipt"], 2);
    }

    #[test]
    fn turnaround_pairs_a_decision_with_the_request_it_refers_to() {
        use EventKind::*;
        let s = stats_of(&[
            record(ReviewRequest, "2025-03-01T09:00:00Z", None), // 0
            record(ReviewRequest, "2025-03-01T09:30:00Z", None), // 1
            record(Disclosure, "2025-03-01T10:00:00Z", None),    // 2
            // Decides 1 after 1 h 30 min 5 s.
            record(ReviewDecision, "2025-03-01T11:00:05Z", Some(1)), // 3
            // Decides 0 the next day, after 24 h 1 min.
            record(ReviewDecision, "2025-03-02T09:01:00Z", Some(0)), // 4
        ]);
        assert_eq!(s.review_turnaround_seconds, vec![5405, 86_460]);
        assert_eq!(s.open_reviews(), 0);
        let t = s.review_turnaround().unwrap();
        assert_eq!(
            (t.count, t.median_seconds, t.p90_seconds, t.max_seconds),
            (2, 5405, 86_460, 86_460)
        );
        let counts: Vec<(Option<u64>, u64)> =
            t.buckets.iter().map(|b| (b.le_seconds, b.count)).collect();
        assert_eq!(
            counts,
            vec![
                (Some(60), 0),
                (Some(3600), 0),
                (Some(8 * 3600), 1),
                (Some(86_400), 0),
                (Some(3 * 86_400), 1),
                (Some(7 * 86_400), 0),
                (Some(30 * 86_400), 0),
                (None, 0),
            ]
        );
        let json = serde_json::to_value(&s).unwrap();
        assert_eq!(json["review_turnaround"]["median_seconds"], 5405);
        assert_eq!(
            json["review_turnaround_seconds"],
            serde_json::json!([5405, 86_460])
        );
        assert_eq!(json["by_day_event"]["2025-03-02"]["review_decision"], 1);
        let text = s.to_string();
        assert!(text.contains("median  1 h 30 min"), "{text}");
        assert!(text.contains("2 decided, 0 awaiting decision"), "{text}");
    }

    #[test]
    fn a_decision_not_referring_to_an_earlier_review_request_is_not_measured() {
        use EventKind::*;
        let s = stats_of(&[
            record(Disclosure, "2025-03-01T09:00:00Z", None), // 0
            record(ReviewRequest, "2025-03-01T09:00:00Z", None), // 1
            // Refers to a disclosure.
            record(ReviewDecision, "2025-03-01T10:00:00Z", Some(0)), // 2
            // Refers to an index the ledger does not hold.
            record(ReviewDecision, "2025-03-01T10:00:00Z", Some(99)), // 3
            // Refers to itself, and to a later record.
            record(ReviewDecision, "2025-03-01T10:00:00Z", Some(4)), // 4
            record(ReviewDecision, "2025-03-01T10:00:00Z", Some(6)), // 5
            record(ReviewRequest, "2025-03-01T09:00:00Z", None),     // 6
            // Before the request it decides: a clock set back, not a negative turnaround.
            record(ReviewDecision, "2025-03-01T08:59:59Z", Some(1)), // 7
            // A second decision of the same request counts no more.
            record(ReviewDecision, "2025-03-01T12:00:00Z", Some(1)), // 8
        ]);
        assert!(s.review_turnaround_seconds.is_empty(), "{s:?}");
        assert_eq!(s.review_turnaround(), None);
        assert_eq!(s.open_reviews(), 1);
        assert_eq!(s.by_event.get("review_decision"), Some(&6));
        assert!(s
            .to_string()
            .contains("no review decided (1 awaiting decision)"));
        assert_eq!(
            serde_json::to_value(&s).unwrap()["review_turnaround"],
            serde_json::Value::Null
        );

        // The first decision of request 1 is what counts.
        let s = stats_of(&[
            record(ReviewRequest, "2025-03-01T09:00:00Z", None),
            record(ReviewDecision, "2025-03-01T09:00:42Z", Some(0)),
            record(ReviewDecision, "2025-03-01T12:00:00Z", Some(0)),
        ]);
        assert_eq!(s.review_turnaround_seconds, vec![42]);
    }

    #[test]
    fn percentiles_are_nearest_rank() {
        let mut s = Stats {
            review_turnaround_seconds: (1..=10).rev().collect(),
            ..Stats::default()
        };
        let t = s.review_turnaround().unwrap();
        assert_eq!((t.median_seconds, t.p90_seconds, t.max_seconds), (5, 9, 10));
        s.review_turnaround_seconds = vec![7];
        let t = s.review_turnaround().unwrap();
        assert_eq!((t.median_seconds, t.p90_seconds, t.max_seconds), (7, 7, 7));
        assert_eq!(t.buckets.iter().map(|b| b.count).sum::<u64>(), 1);
    }

    #[test]
    fn durations_read_naturally() {
        assert_eq!(human(0), "0 s");
        assert_eq!(human(59), "59 s");
        assert_eq!(human(60), "1 min");
        assert_eq!(human(61), "1 min 1 s");
        assert_eq!(human(3600), "1 h");
        assert_eq!(human(5405), "1 h 30 min");
        assert_eq!(human(86_400), "1 d");
        assert_eq!(human(86_460), "1 d");
        assert_eq!(human(90_000), "1 d 1 h");
    }
}
