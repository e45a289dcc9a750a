//! A bulk's records as Apache Parquet, for analysts: one row group per part read, streamed as
//! each is written, the footer last — so a million records take the memory of one part.
//!
//! Columns: `n` (INT64), `subject`, `status`, `entry` (INT64), `request` (optional), then one
//! optional column per asked field holding its value (the text of a string value, the JSON
//! text of any other; null when not disclosed) and one `field:outcome` column per field. Every
//! text column is UTF-8 (`STRING`).

use std::sync::Arc;

use axum::body::Bytes;
use parquet::basic::{LogicalType, Repetition, Type as Physical};
use parquet::data_type::{ByteArray, ByteArrayType, Int64Type};
use parquet::file::properties::WriterProperties;
use parquet::file::writer::SerializedFileWriter;
use parquet::schema::types::Type;
use utbyte_api::bulk::BulkRecord;
use utbyte_api::Outcome;

use crate::exchange::ExchangeError;

pub(crate) struct ParquetRecords {
    writer: SerializedFileWriter<Vec<u8>>,
    fields: Vec<String>,
}

fn failed(e: impl std::fmt::Display) -> ExchangeError {
    ExchangeError::Internal(format!("writing Parquet: {e}"))
}

impl ParquetRecords {
    pub(crate) fn new(fields: &[String]) -> Result<Self, ExchangeError> {
        let column = |name: &str, physical: Physical, required: bool| {
            let builder =
                Type::primitive_type_builder(name, physical).with_repetition(if required {
                    Repetition::REQUIRED
                } else {
                    Repetition::OPTIONAL
                });
            let builder = if physical == Physical::BYTE_ARRAY {
                builder.with_logical_type(Some(LogicalType::String))
            } else {
                builder
            };
            builder.build().map(Arc::new)
        };
        let mut columns = vec![
            column("n", Physical::INT64, true),
            column("subject", Physical::BYTE_ARRAY, true),
            column("status", Physical::BYTE_ARRAY, true),
            column("entry", Physical::INT64, true),
            column("request", Physical::BYTE_ARRAY, false),
        ];
        columns.extend(
            fields
                .iter()
                .map(|f| column(f, Physical::BYTE_ARRAY, false)),
        );
        columns.extend(
            fields
                .iter()
                .map(|f| column(&format!("{f}:outcome"), Physical::BYTE_ARRAY, true)),
        );
        let columns = columns
            .into_iter()
            .collect::<Result<Vec<_>, _>>()
            .map_err(failed)?;
        let schema = Type::group_type_builder("bulk_record")
            .with_fields(columns)
            .build()
            .map_err(failed)?;
        let writer = SerializedFileWriter::new(
            Vec::new(),
            Arc::new(schema),
            Arc::new(WriterProperties::builder().build()),
        )
        .map_err(failed)?;
        Ok(Self {
            writer,
            fields: fields.to_vec(),
        })
    }

    /// The bytes written so far and not yet taken.
    fn take(&mut self) -> Result<Bytes, ExchangeError> {
        self.writer.flush().map_err(failed)?;
        Ok(Bytes::from(std::mem::take(self.writer.inner_mut())))
    }

    /// Writes `records` as one row group; the bytes to send (the file's start with the first).
    pub(crate) fn write(&mut self, records: &[BulkRecord]) -> Result<Bytes, ExchangeError> {
        if records.is_empty() {
            return self.take();
        }
        let text = |t: &str| ByteArray::from(t.as_bytes().to_vec());
        let n: Vec<i64> = records.iter().map(|r| r.n as i64).collect();
        let entry: Vec<i64> = records.iter().map(|r| r.entry as i64).collect();
        let subject: Vec<ByteArray> = records.iter().map(|r| text(&r.subject)).collect();
        let status: Vec<ByteArray> = records
            .iter()
            .map(|r| text(super::status_text(r.status)))
            .collect();
        let request: Vec<Option<ByteArray>> = records
            .iter()
            .map(|r| r.request.as_deref().map(text))
            .collect();
        let values: Vec<Vec<Option<ByteArray>>> = self
            .fields
            .iter()
            .map(|f| {
                records
                    .iter()
                    .map(|r| {
                        r.values.get(f).map(|v| match v {
                            serde_json::Value::String(s) => text(s),
                            other => text(&other.to_string()),
                        })
                    })
                    .collect()
            })
            .collect();
        let outcomes: Vec<Vec<ByteArray>> = self
            .fields
            .iter()
            .map(|f| {
                records
                    .iter()
                    .map(|r| {
                        text(match r.outcomes.get(f) {
                            Some(Outcome::Disclose) => "disclose",
                            Some(Outcome::Review) => "review",
                            Some(Outcome::Refuse) => "refuse",
                            None => "",
                        })
                    })
                    .collect()
            })
            .collect();
        let mut group = self.writer.next_row_group().map_err(failed)?;
        write_int64(next_column(&mut group)?, &n)?;
        write_text(next_column(&mut group)?, &subject)?;
        write_text(next_column(&mut group)?, &status)?;
        write_int64(next_column(&mut group)?, &entry)?;
        write_optional(next_column(&mut group)?, &request)?;
        for column in &values {
            write_optional(next_column(&mut group)?, column)?;
        }
        for column in &outcomes {
            write_text(next_column(&mut group)?, column)?;
        }
        group.close().map_err(failed)?;
        self.take()
    }

    /// Writes the footer; the last bytes to send.
    pub(crate) fn finish(mut self) -> Result<Bytes, ExchangeError> {
        let mut rest = self.take()?.to_vec();
        rest.extend(self.writer.into_inner().map_err(failed)?);
        Ok(Bytes::from(rest))
    }
}

fn next_column<'a>(
    group: &'a mut parquet::file::writer::SerializedRowGroupWriter<'_, Vec<u8>>,
) -> Result<parquet::file::writer::SerializedColumnWriter<'a>, ExchangeError> {
    group
        .next_column()
        .map_err(failed)?
        .ok_or_else(|| failed("fewer columns than the schema"))
}

fn write_int64(
    mut column: parquet::file::writer::SerializedColumnWriter<'_>,
    values: &[i64],
) -> Result<(), ExchangeError> {
    column
        .typed::<Int64Type>()
        .write_batch(values, None, None)
        .map_err(failed)?;
    column.close().map_err(failed)
}

fn write_text(
    mut column: parquet::file::writer::SerializedColumnWriter<'_>,
    values: &[ByteArray],
) -> Result<(), ExchangeError> {
    column
        .typed::<ByteArrayType>()
        .write_batch(values, None, None)
        .map_err(failed)?;
    column.close().map_err(failed)
}

fn write_optional(
    mut column: parquet::file::writer::SerializedColumnWriter<'_>,
    values: &[Option<ByteArray>],
) -> Result<(), ExchangeError> {
    let present: Vec<ByteArray> = values.iter().flatten().cloned().collect();
    let levels: Vec<i16> = values.iter().map(|v| i16::from(v.is_some())).collect();
    column
        .typed::<ByteArrayType>()
        .write_batch(&present, Some(&levels), None)
        .map_err(failed)?;
    column.close().map_err(failed)
}
