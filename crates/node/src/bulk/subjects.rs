//! The forms a bulk's subjects come in and its records go out in: one subject a line, NDJSON or
//! CSV, read piece by piece from the request body so that ten million subjects take no more
//! memory than one line.

use std::time::Duration;

use axum::body::{Body, Bytes};
use axum::http::{header, HeaderMap};
use http_body_util::BodyExt as _;
use utbyte_api::bulk::BulkRecord;
use utbyte_api::Outcome;
use utbyte_http::Problem;

use crate::exchange::ExchangeError;
use crate::problems;

/// The longest line taken: a subject, quoted, in an object, with room to spare.
const MAX_LINE: usize = 256;

/// How the subjects are written.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Format {
    /// A JSON string, or an object with `subject`, a line.
    Ndjson,
    /// The subject in the first column; a first line `subject` is a header.
    Csv,
}

impl Format {
    pub(crate) fn of(headers: &HeaderMap) -> Result<Self, Problem> {
        let media = headers
            .get(header::CONTENT_TYPE)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.split(';').next())
            .map(|v| v.trim().to_ascii_lowercase())
            .unwrap_or_default();
        match media.as_str() {
            "application/x-ndjson" | "application/jsonl" | "application/ndjson" => Ok(Self::Ndjson),
            "text/csv" => Ok(Self::Csv),
            _ => Err(problems::UNSUPPORTED_MEDIA_TYPE
                .with("send the subjects as application/x-ndjson or text/csv")),
        }
    }
}

/// The subjects of a body, a line at a time.
pub(crate) struct Lines {
    body: Body,
    format: Format,
    idle: Duration,
    buffer: Vec<u8>,
    /// Where in `buffer` the next line starts.
    start: usize,
    line: u64,
    done: bool,
}

impl Lines {
    pub(crate) fn new(body: Body, format: Format, idle: Duration) -> Self {
        Self {
            body,
            format,
            idle,
            buffer: Vec::new(),
            start: 0,
            line: 0,
            done: false,
        }
    }

    /// The next subject as written, with its line number (from 1); `None` at the end.
    pub(crate) async fn next(&mut self) -> Result<Option<(u64, String)>, Problem> {
        loop {
            if let Some(end) = self.buffer[self.start..].iter().position(|b| *b == b'\n') {
                let line = self.buffer[self.start..self.start + end].to_vec();
                self.start += end + 1;
                if let Some(subject) = self.subject(&line)? {
                    return Ok(Some(subject));
                }
                continue;
            }
            if self.buffer.len() - self.start > MAX_LINE {
                return Err(self.bad(format!("a line is longer than {MAX_LINE} bytes")));
            }
            if self.done {
                let rest = self.buffer[self.start..].to_vec();
                self.start = self.buffer.len();
                if rest.is_empty() {
                    return Ok(None);
                }
                match self.subject(&rest)? {
                    Some(subject) => return Ok(Some(subject)),
                    None => return Ok(None),
                }
            }
            self.buffer.drain(..self.start);
            self.start = 0;
            match tokio::time::timeout(self.idle, self.body.frame()).await {
                Err(_) => {
                    return Err(problems::MALFORMED_BODY.with(format!(
                        "no more of the body came for {} s; the subjects before line {} were taken",
                        self.idle.as_secs(),
                        self.line + 1
                    )))
                }
                Ok(None) => self.done = true,
                Ok(Some(Err(err))) => {
                    return Err(problems::MALFORMED_BODY.with(format!(
                        "the body broke off ({err}); the subjects before line {} were taken",
                        self.line + 1
                    )))
                }
                Ok(Some(Ok(frame))) => {
                    if let Ok(data) = frame.into_data() {
                        self.buffer.extend_from_slice(&data);
                    }
                }
            }
        }
    }

    /// The subject a line names; `None` for a blank line or the CSV header.
    fn subject(&mut self, raw: &[u8]) -> Result<Option<(u64, String)>, Problem> {
        self.line += 1;
        let text = std::str::from_utf8(raw)
            .map_err(|_| self.bad("a line is not UTF-8".into()))?
            .trim();
        if text.is_empty() {
            return Ok(None);
        }
        let id = match self.format {
            Format::Ndjson => match serde_json::from_str::<serde_json::Value>(text) {
                Ok(serde_json::Value::String(id)) => id,
                Ok(serde_json::Value::Object(mut object)) => match object.remove("subject") {
                    Some(serde_json::Value::String(id)) => id,
                    _ => return Err(self.bad("an object without a `subject` string".into())),
                },
                _ => return Err(self.bad("not a JSON string or object".into())),
            },
            Format::Csv => {
                let first = text.split(',').next().unwrap_or_default().trim();
                let first = first
                    .strip_prefix('"')
                    .and_then(|f| f.strip_suffix('"'))
                    .unwrap_or(first);
                if self.line == 1 && first.eq_ignore_ascii_case("subject") {
                    return Ok(None);
                }
                first.to_owned()
            }
        };
        Ok(Some((self.line, id)))
    }

    fn bad(&self, what: String) -> Problem {
        problems::INVALID_SUBJECT
            .with(format!(
                "line {}: {what}; the subjects before it were taken",
                self.line
            ))
            .with_extension("line", self.line)
    }
}

/// A bulk's records as CSV: `n,subject,status,entry,request`, each field's value (JSON text
/// when not a string; empty when not disclosed), and each field's outcome.
pub(crate) struct CsvRecords {
    fields: Vec<String>,
}

impl CsvRecords {
    pub(crate) fn new(fields: &[String]) -> Self {
        Self {
            fields: fields.to_vec(),
        }
    }

    pub(crate) fn header(&self) -> Bytes {
        let mut row: Vec<String> = ["n", "subject", "status", "entry", "request"]
            .iter()
            .map(|c| (*c).to_owned())
            .collect();
        row.extend(self.fields.iter().cloned());
        row.extend(self.fields.iter().map(|f| format!("{f}:outcome")));
        self.rows(std::iter::once(row)).unwrap_or_default()
    }

    pub(crate) fn write(&mut self, records: &[BulkRecord]) -> Result<Bytes, ExchangeError> {
        let rows = records.iter().map(|record| {
            let mut row = vec![
                record.n.to_string(),
                record.subject.clone(),
                super::status_text(record.status).to_owned(),
                record.entry.to_string(),
                record.request.clone().unwrap_or_default(),
            ];
            row.extend(self.fields.iter().map(|f| match record.values.get(f) {
                Some(serde_json::Value::String(text)) => text.clone(),
                Some(other) => other.to_string(),
                None => String::new(),
            }));
            row.extend(self.fields.iter().map(|f| {
                match record.outcomes.get(f) {
                    Some(Outcome::Disclose) => "disclose",
                    Some(Outcome::Review) => "review",
                    Some(Outcome::Refuse) => "refuse",
                    None => "",
                }
                .to_owned()
            }));
            row
        });
        self.rows(rows)
    }

    fn rows(&self, rows: impl Iterator<Item = Vec<String>>) -> Result<Bytes, ExchangeError> {
        let mut writer = csv::Writer::from_writer(Vec::new());
        for row in rows {
            writer
                .write_record(&row)
                .map_err(|e| ExchangeError::Internal(e.to_string()))?;
        }
        writer
            .into_inner()
            .map(Bytes::from)
            .map_err(|e| ExchangeError::Internal(e.to_string()))
    }
}
