//! [`PgTableRegister`]: a [`Register`] read straight from tables or views in an authority's own
//! PostgreSQL database, through a [`PgMapping`] from offerings and field ids to relations and
//! columns. The prose, with the guarantees and the type mapping, is `docs/register-postgres.md`.
//!
//! The adapter only reads, and only what was asked for: a fetch selects exactly the columns
//! mapped to the requested fields (none at all when no requested field is mapped), with the
//! subject bound as a parameter, so the agency can grant its role `SELECT` on the mapped columns
//! and nothing else. Every session is read-only (`default_transaction_read_only`) and every
//! statement has a timeout (`statement_timeout`). A bad mapping fails when the register is
//! connected, not at the first request: every mapped relation and column is looked up in the
//! catalog then.

use std::collections::{BTreeMap, BTreeSet};
use std::fmt;
use std::str::FromStr;
use std::sync::Arc;
use std::time::Duration;

use serde::Deserialize;
use serde_json::Value;
use sqlx::postgres::{PgConnectOptions, PgPool, PgPoolOptions, PgRow};
use sqlx::{ConnectOptions, Connection, Row};
use utbyte_domain::SubjectId;
use utbyte_store::{Record, Register, RegisterBatch, StoreError, StoreFuture, MAX_VALUE_BYTES};

use crate::contract::check_name;
use crate::AdapterError;

const FETCHING: &str = "fetching a record";
const READING_FLAG: &str = "reading a protected-identity flag";

/// The register database's name in [`StoreError::Database`], as the SQLite register names it.
const REGISTER: &str = "register";

/// Connections in the pool: a provider node answers few requests at a time per register, and
/// the agency's database serves its own systems first.
const MAX_CONNECTIONS: u32 = 4;

/// The longest identifier PostgreSQL keeps (`NAMEDATALEN - 1`); a longer one would be cut short
/// silently and name another column.
const MAX_IDENTIFIER_BYTES: usize = 63;

/// The most significant digits every decimal number of that length survives in an `f64`
/// (`f64::DIGITS`): serde_json holds a number with a fraction or exponent as an `f64`.
const EXACT_DIGITS: usize = f64::DIGITS as usize;

/// SQLSTATE `query_canceled`, which is what `statement_timeout` raises.
const QUERY_CANCELED: &str = "57014";

/// The SQLSTATE classes whose messages name objects, settings or the connection, never a stored
/// value: connection exception, feature not supported, invalid transaction state (a read-only
/// session), authorization, invalid catalog or schema name, transaction rollback, syntax error
/// or access rule violation, insufficient resources, operator intervention. Other classes (data
/// exceptions above all) may quote data, so their messages are not passed on.
const MESSAGES_WITHOUT_DATA: [&str; 10] =
    ["08", "0A", "25", "28", "3D", "3F", "40", "42", "53", "57"];

/// Where the offerings of a [`PgTableRegister`] are read: for each offering a relation, its
/// subject column and the column of each field, and optionally where protected identity is
/// read. Deserialized from the node's configuration:
///
/// ```toml
/// [protected]
/// relation = "folkbokforing.skydd"
/// subject = "personnummer"
/// flag = "skyddad"
///
/// [offerings.inkomstuppgifter]
/// relation = "beskattning.taxerad_inkomst_v"
/// subject = "personnummer"
/// [offerings.inkomstuppgifter.fields]
/// taxerad_inkomst = "inkomst_kr"
/// inkomstar = "ar"
/// ```
///
/// Check it with [`PgMapping::validate`]; [`PgTableRegister::connect`] does.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PgMapping {
    /// Where protected identity is read. Without it the register marks nobody as protected:
    /// [`Register::protected_identity`] is `false` for every subject.
    #[serde(default)]
    pub protected: Option<PgProtected>,
    /// The offerings the register serves, by offering id (the rulebook's). Not empty.
    pub offerings: BTreeMap<String, PgOffering>,
}

/// Where one offering's fields are read.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PgOffering {
    /// The table or view, `name` or `schema.name`. Unqualified, it is looked up along the
    /// connecting role's `search_path`.
    pub relation: String,
    /// The column holding the subject's canonical text form (`SubjectId::as_str`, e.g.
    /// `19121212-1212`, `556016-0680`); of a string type (`text`, `varchar`, `char`). It must
    /// identify at most one row: more than one for a subject fails the fetch.
    pub subject: String,
    /// The column of each field, by field id (the rulebook's). Not empty. Two fields may read
    /// the same column.
    pub fields: BTreeMap<String, String>,
}

/// Where protected identity (skyddad folkbokföring or sekretessmarkering) is read.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PgProtected {
    /// The table or view, `name` or `schema.name`.
    pub relation: String,
    /// The column holding the subject's canonical text form, as in [`PgOffering::subject`].
    pub subject: String,
    /// A `boolean` column: whether the person has protected identity.
    pub flag: String,
}

impl PgMapping {
    /// Checks what can be checked without the database: at least one offering, and in each at
    /// least one field; offering and field ids as the register accepts them (not empty, at most
    /// [`MAX_NAME_BYTES`](utbyte_store::MAX_NAME_BYTES)); every relation `name` or
    /// `schema.name` and every column a name, each name of ASCII letters, digits and `_`, not
    /// starting with a digit, at most 63 bytes. The message names the offering and the key.
    pub fn validate(&self) -> Result<(), AdapterError> {
        if self.offerings.is_empty() {
            return Err(invalid(
                "it maps no offering; give at least one [offerings.<offering id>] table".to_owned(),
            ));
        }
        if let Some(protected) = &self.protected {
            let place = "[protected]";
            check_relation(place, &protected.relation)?;
            check_column(place, "subject", &protected.subject)?;
            check_column(place, "flag", &protected.flag)?;
        }
        for (offering, mapped) in &self.offerings {
            check_name("offering", offering)
                .map_err(|error| invalid(format!("an offering id cannot be used: {error}")))?;
            let place = format!("offering `{offering}`");
            check_relation(&place, &mapped.relation)?;
            check_column(&place, "subject", &mapped.subject)?;
            if mapped.fields.is_empty() {
                return Err(invalid(format!(
                    "{place} maps no field; give at least one `field id = \"column\"` in its \
                     `fields` table"
                )));
            }
            for (field, column) in &mapped.fields {
                check_name("field", field).map_err(|error| {
                    invalid(format!("{place}: a field id cannot be used: {error}"))
                })?;
                check_column(&place, &format!("fields.{field}"), column)?;
            }
        }
        Ok(())
    }

    /// The ids of the offerings the mapping serves, ordered.
    pub fn offerings(&self) -> impl Iterator<Item = &str> {
        self.offerings.keys().map(String::as_str)
    }
}

/// A register kept in tables or views of an authority's own PostgreSQL database, read through a
/// [`PgMapping`].
///
/// Cheap to clone: clones share one pool of at most four connections. Read-only:
/// [`Register::insert`] fails with [`StoreError::ReadOnly`]. `Debug` shows the database without
/// its password.
#[derive(Clone)]
pub struct PgTableRegister {
    pool: PgPool,
    mapping: Arc<PgMapping>,
    /// `postgres://user@host:port/database`, for messages: never the password.
    database: String,
    timeout: Duration,
}

impl PgTableRegister {
    /// Connects to the database at `url` (`postgres://user[:password]@host[:port]/database`;
    /// without a password in the URL, `PGPASSWORD` or `~/.pgpass` is used, as with libpq) and
    /// checks `mapping` against it. `timeout` bounds every statement (`statement_timeout`) and
    /// every wait for a pooled connection.
    ///
    /// Fails when the mapping is invalid ([`PgMapping::validate`]), the timeout is zero, the URL
    /// cannot be used, the database cannot be reached, or a mapped relation or column does not
    /// exist (or is not a table or view, or a subject column is not of a string type, or the
    /// flag column not `boolean`) — each message names what is wrong, never the password.
    pub async fn connect(
        url: &str,
        mapping: PgMapping,
        timeout: Duration,
    ) -> Result<Self, AdapterError> {
        mapping.validate()?;
        if timeout.is_zero() {
            return Err(AdapterError::ZeroTimeout);
        }
        let options = parse_url(url)?;
        let database = describe(&options);
        let millis = timeout.as_millis().max(1).to_string();
        let mut options = options.options([
            ("statement_timeout", millis.as_str()),
            // Defence in depth: the role should have no write privilege in the first place.
            ("default_transaction_read_only", "on"),
            // Values of these types come out in the session's style: make it one style.
            ("TimeZone", "UTC"),
            ("IntervalStyle", "iso_8601"),
        ]);
        if options.get_application_name().is_none() {
            options = options.application_name("utbyte");
        }
        // One connection first, on its own: the pool would retry until its timeout and then
        // report only that it timed out, not why (refused, authentication, no such database).
        let cannot_connect = |reason: String| AdapterError::Postgres {
            database: database.clone(),
            reason: format!("cannot connect: {reason}"),
        };
        let first = tokio::time::timeout(timeout, options.connect())
            .await
            .map_err(|_| cannot_connect(format!("no answer within {millis} ms")))?
            .map_err(|error| cannot_connect(error.to_string()))?;
        // The connection served its purpose; failing to say goodbye changes nothing.
        let _ = first.close().await;
        let pool = PgPoolOptions::new()
            .max_connections(MAX_CONNECTIONS)
            .acquire_timeout(timeout)
            .connect_lazy_with(options);
        let register = Self {
            pool,
            mapping: Arc::new(mapping),
            database,
            timeout,
        };
        if let Err(error) = register.check_catalog().await {
            register.pool.close().await;
            return Err(error);
        }
        Ok(register)
    }

    /// The mapping the register reads through.
    pub fn mapping(&self) -> &PgMapping {
        &self.mapping
    }

    /// Looks every mapped relation and column up in the catalog.
    async fn check_catalog(&self) -> Result<(), AdapterError> {
        let mismatch = |reason: String| AdapterError::MappingMismatch {
            database: self.database.clone(),
            reason,
        };
        let mut relations = BTreeMap::new();
        if let Some(protected) = &self.mapping.protected {
            let place = "[protected]";
            let columns = self
                .relation_columns(&mut relations, place, &protected.relation)
                .await?;
            let place = format!("{place}: relation `{}`", protected.relation);
            expect_column(&columns, &place, &protected.subject, Some(STRING)).map_err(mismatch)?;
            expect_column(&columns, &place, &protected.flag, Some(BOOLEAN)).map_err(mismatch)?;
        }
        for (offering, mapped) in &self.mapping.offerings {
            let place = format!("offering `{offering}`");
            let columns = self
                .relation_columns(&mut relations, &place, &mapped.relation)
                .await?;
            let place = format!("{place}: relation `{}`", mapped.relation);
            expect_column(&columns, &place, &mapped.subject, Some(STRING)).map_err(mismatch)?;
            for column in mapped.fields.values() {
                expect_column(&columns, &place, column, None).map_err(mismatch)?;
            }
        }
        Ok(())
    }

    /// The columns of `relation` with their type categories, from `cache` or the catalog.
    async fn relation_columns(
        &self,
        cache: &mut BTreeMap<String, BTreeMap<String, String>>,
        place: &str,
        relation: &str,
    ) -> Result<BTreeMap<String, String>, AdapterError> {
        if let Some(columns) = cache.get(relation) {
            return Ok(columns.clone());
        }
        let catalog_error = |error: sqlx::Error| AdapterError::Postgres {
            database: self.database.clone(),
            reason: format!("{place}: cannot look relation `{relation}` up: {error}"),
        };
        let quoted = quote_relation(relation);
        let kind: Option<(String,)> =
            sqlx::query_as("SELECT relkind::text FROM pg_class WHERE oid = to_regclass($1)")
                .bind(&quoted)
                .fetch_optional(&self.pool)
                .await
                .map_err(catalog_error)?;
        let mismatch = |reason: String| AdapterError::MappingMismatch {
            database: self.database.clone(),
            reason: format!("{place}: {reason}"),
        };
        match kind {
            None => {
                return Err(mismatch(format!(
                    "relation `{relation}` does not exist, or is not visible to the connecting \
                     role"
                )))
            }
            // Table, view, materialized view, foreign table, partitioned table.
            Some((kind,)) if matches!(kind.as_str(), "r" | "v" | "m" | "f" | "p") => {}
            Some(_) => {
                return Err(mismatch(format!(
                    "relation `{relation}` is not a table or view"
                )))
            }
        }
        let rows: Vec<(String, String)> = sqlx::query_as(
            "SELECT a.attname::text, t.typcategory::text \
               FROM pg_attribute a JOIN pg_type t ON t.oid = a.atttypid \
              WHERE a.attrelid = to_regclass($1) AND a.attnum > 0 AND NOT a.attisdropped",
        )
        .bind(&quoted)
        .fetch_all(&self.pool)
        .await
        .map_err(catalog_error)?;
        let columns: BTreeMap<String, String> = rows.into_iter().collect();
        cache.insert(relation.to_owned(), columns.clone());
        Ok(columns)
    }

    async fn fetch_record(
        &self,
        offering: &str,
        subject: &SubjectId,
        fields: &[&str],
    ) -> Result<Option<Record>, StoreError> {
        check_name("offering", offering)?;
        for field in fields {
            check_name("field", field)?;
        }
        let Some(mapped) = self.mapping.offerings.get(offering) else {
            // The register holds nothing in an offering it does not map.
            return Ok(None);
        };
        let requested: BTreeSet<&str> = fields.iter().copied().collect();
        let columns: Vec<(&str, &str)> = requested
            .into_iter()
            .filter_map(|field| {
                mapped
                    .fields
                    .get_key_value(field)
                    .map(|(field, column)| (field.as_str(), column.as_str()))
            })
            .collect();
        let sql = fetch_statement(&mapped.relation, &mapped.subject, &columns);
        let rows = sqlx::query(&sql)
            .bind(subject.as_str())
            .fetch_all(&self.pool)
            .await
            .map_err(|error| self.store_error(FETCHING, error))?;
        let row = match rows.as_slice() {
            [] => return Ok(None),
            [row] => row,
            _ => {
                return Err(StoreError::Backend {
                    operation: FETCHING,
                    reason: format!(
                        "relation `{}` of offering `{offering}` holds more than one row for the \
                         subject in column `{}`; the mapping's subject column must identify at \
                         most one row",
                        mapped.relation, mapped.subject
                    ),
                })
            }
        };
        let mut values = BTreeMap::new();
        for (index, (field, _)) in columns.iter().enumerate() {
            if let Some(value) = read_value(row, index, offering, field)? {
                values.insert((*field).to_owned(), value);
            }
        }
        Ok(Some(Record::new(values)))
    }

    async fn read_flag(&self, subject: &SubjectId) -> Result<bool, StoreError> {
        let Some(protected) = &self.mapping.protected else {
            return Ok(false);
        };
        if matches!(subject, SubjectId::Organisationsnummer(_)) {
            // Only a person can have protected identity.
            return Ok(false);
        }
        let sql = format!(
            "SELECT {} FROM {} WHERE {} = $1 LIMIT 2",
            quote(&protected.flag),
            quote_relation(&protected.relation),
            quote(&protected.subject)
        );
        let flags: Vec<(Option<bool>,)> = sqlx::query_as(&sql)
            .bind(subject.as_str())
            .fetch_all(&self.pool)
            .await
            .map_err(|error| self.store_error(READING_FLAG, error))?;
        let fault = |what: &str| StoreError::Backend {
            operation: READING_FLAG,
            reason: format!(
                "relation `{}` {what}; the mapping's subject column must identify at most one \
                 row, and the flag must be true or false",
                protected.relation
            ),
        };
        match flags.as_slice() {
            [] => Ok(false),
            [(Some(flag),)] => Ok(*flag),
            [(None,)] => Err(fault(&format!(
                "holds NULL in column `{}` for the subject",
                protected.flag
            ))),
            _ => Err(fault(&format!(
                "holds more than one row for the subject in column `{}`",
                protected.subject
            ))),
        }
    }

    /// A driver error as the register contract reports it: a statement cancelled by the
    /// timeout as [`StoreError::BackendTimeout`]; an error PostgreSQL raised while evaluating the
    /// relation's data (a failed cast in a view, a function's own exception) as
    /// [`StoreError::Backend`] with its SQLSTATE only, because such messages quote stored
    /// values; anything else (connection, authentication, privileges, a read-only session) as
    /// [`StoreError::Database`], whose messages name objects, not data.
    fn store_error(&self, operation: &'static str, source: sqlx::Error) -> StoreError {
        let code = source
            .as_database_error()
            .and_then(|error| error.code())
            .map(|code| code.into_owned());
        match code {
            Some(code) if code == QUERY_CANCELED => StoreError::BackendTimeout {
                operation,
                timeout: self.timeout,
            },
            Some(code)
                if !MESSAGES_WITHOUT_DATA
                    .iter()
                    .any(|class| code.starts_with(class)) =>
            {
                StoreError::Backend {
                    operation,
                    reason: format!(
                        "PostgreSQL raised error {code} while reading the mapped relation; its \
                         message is not repeated, as it may quote stored data (the database's \
                         own log has it)"
                    ),
                }
            }
            _ => StoreError::Database {
                database: REGISTER,
                operation,
                source,
            },
        }
    }
}

impl Register for PgTableRegister {
    fn fetch<'a>(
        &'a self,
        offering: &'a str,
        subject: &'a SubjectId,
        fields: &'a [&'a str],
    ) -> StoreFuture<'a, Option<Record>> {
        Box::pin(self.fetch_record(offering, subject, fields))
    }

    fn protected_identity<'a>(&'a self, subject: &'a SubjectId) -> StoreFuture<'a, bool> {
        Box::pin(self.read_flag(subject))
    }

    fn insert<'a>(&'a self, _batch: &'a RegisterBatch) -> StoreFuture<'a, ()> {
        // The agency's tables are theirs: utbyte never writes them.
        Box::pin(async { Err(StoreError::ReadOnly) })
    }
}

impl fmt::Debug for PgTableRegister {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("PgTableRegister")
            .field("database", &self.database)
            .field("offerings", &self.mapping.offerings().collect::<Vec<_>>())
            .field("protected", &self.mapping.protected.is_some())
            .field("timeout", &self.timeout)
            .finish_non_exhaustive()
    }
}

/// The type category (`pg_type.typcategory`) of `text`, `varchar`, `char` and domains over them.
const STRING: &str = "S";

/// The type category of `boolean` and domains over it.
const BOOLEAN: &str = "B";

/// Checks that `columns` holds `column`, of type category `category` when one is given; the
/// error is the reason, starting with `place`.
fn expect_column(
    columns: &BTreeMap<String, String>,
    place: &str,
    column: &str,
    category: Option<&str>,
) -> Result<(), String> {
    let Some(actual) = columns.get(column) else {
        return Err(format!(
            "{place} has no column `{column}` (names are matched exactly, case included)"
        ));
    };
    match category {
        Some(STRING) if actual != STRING => Err(format!(
            "{place} has column `{column}`, but it is not of a string type (text, varchar, \
             char); a subject column holds the subject's canonical text form"
        )),
        Some(BOOLEAN) if actual != BOOLEAN => Err(format!(
            "{place} has column `{column}`, but it is not boolean, as a protected-identity flag \
             must be"
        )),
        _ => Ok(()),
    }
}

/// `SELECT to_jsonb("c1")::text, … FROM "schema"."relation" WHERE "subject" = $1 LIMIT 2`: the
/// columns of exactly the requested, mapped fields, in order, each as JSON text (SQL `NULL` for
/// a `NULL` column). With no such field it selects the constant `1`, which reads no column but
/// the subject's. `LIMIT 2` is enough to tell one row from more.
fn fetch_statement(relation: &str, subject: &str, columns: &[(&str, &str)]) -> String {
    let mut select = String::new();
    for (index, (_, column)) in columns.iter().enumerate() {
        if index > 0 {
            select.push_str(", ");
        }
        select.push_str("to_jsonb(");
        select.push_str(&quote(column));
        select.push_str(")::text");
    }
    if select.is_empty() {
        select.push('1');
    }
    format!(
        "SELECT {select} FROM {} WHERE {} = $1 LIMIT 2",
        quote_relation(relation),
        quote(subject)
    )
}

/// The value in column `index` of `row`: `None` for SQL `NULL`, which the register does not hold
/// as a value. Refused, never altered: a value larger than [`MAX_VALUE_BYTES`] as compact JSON,
/// and a number a JSON number here cannot carry exactly.
fn read_value(
    row: &PgRow,
    index: usize,
    offering: &str,
    field: &str,
) -> Result<Option<Value>, StoreError> {
    let text: Option<String> = row.try_get(index).map_err(|source| StoreError::Database {
        database: REGISTER,
        operation: FETCHING,
        source,
    })?;
    let Some(text) = text else {
        return Ok(None);
    };
    let value: Value = serde_json::from_str(&text).map_err(|source| StoreError::CorruptValue {
        offering: offering.to_owned(),
        field: field.to_owned(),
        source,
    })?;
    if text.len() > MAX_VALUE_BYTES {
        let bytes = value.to_string().len();
        if bytes > MAX_VALUE_BYTES {
            return Err(StoreError::ValueTooLarge {
                offering: offering.to_owned(),
                field: field.to_owned(),
                bytes,
                limit: MAX_VALUE_BYTES,
            });
        }
    }
    if !numbers_are_exact(&text) {
        return Err(StoreError::Backend {
            operation: FETCHING,
            reason: format!(
                "the value of field `{field}` of offering `{offering}` holds a number that a JSON \
                 number cannot carry exactly here (more than {EXACT_DIGITS} significant digits \
                 and not a 64-bit integer, or too large or small); map a view that casts the \
                 column to text"
            ),
        });
    }
    Ok(Some(value))
}

/// Whether every number in the JSON text `json` survives serde_json unchanged: an integer that
/// fits in 64 bits, or at most [`EXACT_DIGITS`] significant digits within the normal range of
/// an `f64`. `json` is valid JSON (PostgreSQL wrote it).
fn numbers_are_exact(json: &str) -> bool {
    let mut rest = json;
    while let Some(start) = rest.find(|c: char| c == '"' || c == '-' || c.is_ascii_digit()) {
        let tail = &rest[start..];
        if let Some(string) = tail.strip_prefix('"') {
            // Skip the string, escapes included.
            let mut escaped = false;
            let end = string.find(|c: char| {
                let closes = c == '"' && !escaped;
                escaped = c == '\\' && !escaped;
                closes
            });
            let Some(end) = end else {
                return true;
            };
            rest = &string[end + 1..];
        } else {
            let end = tail
                .find(|c: char| !(c.is_ascii_digit() || matches!(c, '-' | '+' | '.' | 'e' | 'E')))
                .unwrap_or(tail.len());
            if !number_is_exact(&tail[..end]) {
                return false;
            }
            rest = &tail[end..];
        }
    }
    true
}

/// Whether the JSON number `token` survives serde_json (without `arbitrary_precision`)
/// unchanged.
fn number_is_exact(token: &str) -> bool {
    let unsigned = token.strip_prefix('-').unwrap_or(token);
    let (mantissa, exponent) = match unsigned.split_once(['e', 'E']) {
        Some((mantissa, exponent)) => match exponent.parse::<i32>() {
            Ok(exponent) => (mantissa, exponent),
            Err(_) => return false,
        },
        None => (unsigned, 0),
    };
    let (integer, fraction) = mantissa.split_once('.').unwrap_or((mantissa, ""));
    if !unsigned.contains(['.', 'e', 'E'])
        && (token.parse::<i64>().is_ok() || token.parse::<u64>().is_ok())
    {
        return true;
    }
    let digits: String = integer.chars().chain(fraction.chars()).collect();
    let significant = digits.trim_start_matches('0').trim_end_matches('0');
    if significant.is_empty() {
        return true; // zero
    }
    // The decimal exponent of the leading significant digit.
    let integer_digits = integer.trim_start_matches('0').len();
    let leading = if integer_digits > 0 {
        i64::try_from(integer_digits).unwrap_or(i64::MAX) - 1
    } else {
        let zeros = fraction.len() - fraction.trim_start_matches('0').len();
        -(i64::try_from(zeros).unwrap_or(i64::MAX)) - 1
    } + i64::from(exponent);
    significant.len() <= EXACT_DIGITS && (-307..=307).contains(&leading)
}

/// Parses a `postgres://` or `postgresql://` URL. The message never quotes the URL: it may hold
/// a password.
fn parse_url(url: &str) -> Result<PgConnectOptions, AdapterError> {
    let invalid = |reason: String| AdapterError::InvalidPostgresUrl { reason };
    if !(url.starts_with("postgres://") || url.starts_with("postgresql://")) {
        return Err(invalid(
            "it does not start with postgres:// (write postgres://user@host:port/database)"
                .to_owned(),
        ));
    }
    PgConnectOptions::from_str(url).map_err(|error| invalid(error.to_string()))
}

/// `postgres://user@host:port/database`: the connection without its password, for messages.
fn describe(options: &PgConnectOptions) -> String {
    let host = match options.get_socket() {
        Some(socket) => socket.display().to_string(),
        None => options.get_host().to_owned(),
    };
    format!(
        "postgres://{}@{host}:{}/{}",
        options.get_username(),
        options.get_port(),
        options.get_database().unwrap_or_default()
    )
}

/// A checked identifier, double-quoted. Checked identifiers hold no `"`, so nothing needs
/// escaping; the quotes keep case and let a reserved word be a name.
fn quote(identifier: &str) -> String {
    format!("\"{identifier}\"")
}

/// A checked relation, `"name"` or `"schema"."name"`.
fn quote_relation(relation: &str) -> String {
    match relation.split_once('.') {
        Some((schema, name)) => format!("{}.{}", quote(schema), quote(name)),
        None => quote(relation),
    }
}

fn invalid(reason: String) -> AdapterError {
    AdapterError::InvalidMapping { reason }
}

/// Whether `name` is a name the mapping accepts: `[A-Za-z_][A-Za-z0-9_]*`, at most 63 bytes.
fn is_identifier(name: &str) -> bool {
    let mut bytes = name.bytes();
    let starts_well = bytes
        .next()
        .is_some_and(|byte| byte.is_ascii_alphabetic() || byte == b'_');
    starts_well
        && bytes.all(|byte| byte.is_ascii_alphanumeric() || byte == b'_')
        && name.len() <= MAX_IDENTIFIER_BYTES
}

const IDENTIFIER_RULE: &str = "a name is ASCII letters, digits and _, not starting with a digit, \
                               at most 63 bytes";

fn check_relation(place: &str, relation: &str) -> Result<(), AdapterError> {
    let valid = match relation.split_once('.') {
        Some((schema, name)) => is_identifier(schema) && is_identifier(name),
        None => is_identifier(relation),
    };
    if valid {
        Ok(())
    } else {
        Err(invalid(format!(
            "{place}, key `relation`: `{relation}` is not `name` or `schema.name` \
             ({IDENTIFIER_RULE})"
        )))
    }
}

fn check_column(place: &str, key: &str, column: &str) -> Result<(), AdapterError> {
    if is_identifier(column) {
        Ok(())
    } else {
        Err(invalid(format!(
            "{place}, key `{key}`: `{column}` is not a column name ({IDENTIFIER_RULE})"
        )))
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used)]

    use super::*;

    #[test]
    fn statements_select_exactly_the_given_columns_quoted() {
        assert_eq!(
            fetch_statement(
                "beskattning.taxerad_inkomst_v",
                "personnummer",
                &[("inkomstar", "ar"), ("taxerad_inkomst", "Inkomst")]
            ),
            "SELECT to_jsonb(\"ar\")::text, to_jsonb(\"Inkomst\")::text FROM \
             \"beskattning\".\"taxerad_inkomst_v\" WHERE \"personnummer\" = $1 LIMIT 2"
        );
        assert_eq!(
            fetch_statement("skydd", "pnr", &[]),
            "SELECT 1 FROM \"skydd\" WHERE \"pnr\" = $1 LIMIT 2"
        );
    }

    #[test]
    fn identifiers_are_plain_names() {
        for good in ["a", "_a1", "Inkomst_KR", &"x".repeat(63)] {
            assert!(is_identifier(good), "{good}");
        }
        for bad in ["", "1a", "a b", "a\"b", "a.b", "å", "a-b", &"x".repeat(64)] {
            assert!(!is_identifier(bad), "{bad}");
        }
        assert!(check_relation("p", "s.r").is_ok());
        assert!(check_relation("p", "s.r.t").is_err());
        assert!(check_relation("p", ".r").is_err());
    }

    #[test]
    fn numbers_are_exact_only_when_serde_json_keeps_them() {
        for exact in [
            "1",
            "-9223372036854775808",
            "18446744073709551615",
            "12.50",
            "0.000123456789012345",
            "123456789012345",
            "1234567890123450000000",
            "1e300",
            "0",
            "0.0",
            "\"12345678901234567890.5\"",
            r#"{"a": [1, 2.5, "x\"1234567890123456789.5"], "b": true}"#,
        ] {
            assert!(numbers_are_exact(exact), "{exact}");
        }
        for inexact in [
            "18446744073709551616",
            "-9223372036854775809",
            "1234567890123456.7",
            "0.1234567890123456",
            "1e400",
            "1e-400",
            r#"{"a": [1, 12345678901234567890.5]}"#,
        ] {
            assert!(!numbers_are_exact(inexact), "{inexact}");
        }
    }

    #[test]
    fn descriptions_leave_the_password_out() {
        let options = parse_url("postgres://reader:hemligt@db.skatt.local:5433/skatt").unwrap();
        assert_eq!(
            describe(&options),
            "postgres://reader@db.skatt.local:5433/skatt"
        );
        let error = parse_url("postgres://reader:hemligt@db:notaport/skatt").unwrap_err();
        assert!(!error.to_string().contains("hemligt"), "{error}");
        let error = parse_url("mysql://reader:hemligt@db/skatt").unwrap_err();
        assert!(!error.to_string().contains("hemligt"), "{error}");
    }
}
