//! The generic register: every statement that reads or writes `subjects` and `records`, as the
//! [`Register`] of [`RegisterStore`] (SQLite) and [`PgRegister`] (PostgreSQL). The engines
//! differ in two places only: how the requested field ids are passed to the fetch (a JSON array
//! read with `json_each` on SQLite, a text array on PostgreSQL) and the code of a violated
//! foreign key.

use std::collections::BTreeMap;

use sqlx::QueryBuilder;
use utbyte_domain::SubjectId;

use crate::postgres::PgRegister;
use crate::register::{
    check_name, Change, ChangeFeed, Record, Register, RegisterBatch, StoreFuture,
};
use crate::sqlite::RegisterStore;
use crate::StoreError;

/// Rows per multi-row `INSERT`: four parameters each stays far below SQLite's limit of 32 766
/// and PostgreSQL's of 65 535, and one statement per thousand rows keeps a large batch fast.
const ROWS_PER_STATEMENT: usize = 1000;

/// SQLite's extended result code for a violated foreign key.
const SQLITE_CONSTRAINT_FOREIGNKEY: &str = "787";

/// PostgreSQL's SQLSTATE for a violated foreign key (`foreign_key_violation`).
const POSTGRES_FOREIGN_KEY_VIOLATION: &str = "23503";

/// The requested fields of one (offering, subject), and one sentinel row whose `field` is NULL
/// if the register holds anything at all for that pair. One statement, so both parts see the
/// same snapshot. The requested ids arrive as one JSON array, so the statement text (and its
/// cached preparation) does not depend on how many fields were asked for.
const SQLITE_FETCH: &str = "\
SELECT field, value FROM records
 WHERE offering = $1 AND subject = $2 AND field IN (SELECT value FROM json_each($3))
UNION ALL
SELECT NULL, NULL
 WHERE EXISTS (SELECT 1 FROM records WHERE offering = $1 AND subject = $2)";

/// [`SQLITE_FETCH`] with the requested ids as one text array.
const POSTGRES_FETCH: &str = "\
SELECT field, value FROM records
 WHERE offering = $1 AND subject = $2 AND field = ANY($3)
UNION ALL
SELECT NULL, NULL
 WHERE EXISTS (SELECT 1 FROM records WHERE offering = $1 AND subject = $2)";

/// The requested ids as SQLite reads them: one JSON array.
fn json_array(fields: &[&str]) -> String {
    serde_json::Value::from(fields).to_string()
}

/// The requested ids as PostgreSQL reads them: a text array.
fn text_array(fields: &[&str]) -> Vec<String> {
    fields.iter().map(|field| (*field).to_owned()).collect()
}

/// Taken before a write adds its first change and held to its commit, so changes commit in
/// `seq` order on PostgreSQL, where identity values are handed out before commit and two
/// writers could otherwise commit out of order (a reader following `seq` would skip the later
/// one's change for good). SQLite needs nothing: a writer holds the database's one write lock
/// from its first write to its commit.
const POSTGRES_CHANGES_LOCK: Option<&str> = Some("SELECT pg_advisory_xact_lock(7305221100017)");

const CHANGES_AFTER: &str = "\
SELECT seq, offering, subject, fields, at, protected FROM changes WHERE seq > $1 ORDER BY seq LIMIT $2";

const FORGET_CHANGES: &str = "DELETE FROM changes WHERE seq <= $1";

const PROTECTED_IDENTITY: &str = "SELECT protected_identity FROM subjects WHERE subject = $1";

/// Those of many subjects, passed as one list, who have protected identity (a few in a hundred:
/// the rest are not sent back at all).
const SQLITE_PROTECTED_MANY: &str = "\
SELECT subject FROM subjects WHERE protected_identity AND subject IN (SELECT value FROM json_each($1))";
const POSTGRES_PROTECTED_MANY: &str =
    "SELECT subject FROM subjects WHERE protected_identity AND subject = ANY($1)";

/// The requested fields of many subjects in one offering, subjects and fields each one list.
const SQLITE_FETCH_MANY: &str = "\
SELECT subject, field, value FROM records
 WHERE offering = $1 AND subject IN (SELECT value FROM json_each($2))
   AND field IN (SELECT value FROM json_each($3))";
const POSTGRES_FETCH_MANY: &str = "\
SELECT subject, field, value FROM records
 WHERE offering = $1 AND subject = ANY($2) AND field = ANY($3)";

/// Subjects per statement of a many-subject read.
const SUBJECTS_PER_READ: usize = 1000;

macro_rules! engine {
    ($engine:ty, $db:ty, $fetch:expr, $protected_many:expr, $fetch_many:expr, $requested:expr, $foreign_key:expr, $lock:expr) => {
        const _: () = {
            impl Register for $engine {
                fn fetch<'a>(
                    &'a self,
                    offering: &'a str,
                    subject: &'a SubjectId,
                    fields: &'a [&'a str],
                ) -> StoreFuture<'a, Option<Record>> {
                    Box::pin(fetch(&self.pool, offering, subject, fields))
                }

                fn protected_identity<'a>(&'a self, subject: &'a SubjectId) -> StoreFuture<'a, bool> {
                    Box::pin(async move {
                        let flag: Option<(bool,)> = sqlx::query_as(PROTECTED_IDENTITY)
                            .bind(subject.as_str())
                            .fetch_optional(&self.pool)
                            .await
                            .map_err(StoreError::database("reading a protected-identity flag"))?;
                        Ok(flag.is_some_and(|(protected,)| protected))
                    })
                }

                fn protected_identities<'a>(
                    &'a self,
                    subjects: &'a [SubjectId],
                ) -> StoreFuture<'a, Vec<bool>> {
                    Box::pin(async move {
                        let mut protected = std::collections::HashSet::new();
                        for chunk in subjects.chunks(SUBJECTS_PER_READ) {
                            let ids: Vec<&str> = chunk.iter().map(SubjectId::as_str).collect();
                            let rows: Vec<(String,)> = sqlx::query_as($protected_many)
                                .bind($requested(&ids))
                                .fetch_all(&self.pool)
                                .await
                                .map_err(StoreError::database("reading protected-identity flags"))?;
                            protected.extend(rows.into_iter().map(|(s,)| s));
                        }
                        Ok(subjects.iter().map(|s| protected.contains(s.as_str())).collect())
                    })
                }

                fn fetch_many<'a>(
                    &'a self,
                    offering: &'a str,
                    subjects: &'a [SubjectId],
                    fields: &'a [&'a str],
                ) -> StoreFuture<'a, Vec<Record>> {
                    Box::pin(async move {
                        check_name("offering", offering)?;
                        for field in fields {
                            check_name("field", field)?;
                        }
                        let mut held: std::collections::HashMap<String, BTreeMap<String, serde_json::Value>> =
                            std::collections::HashMap::new();
                        for chunk in subjects.chunks(SUBJECTS_PER_READ) {
                            let ids: Vec<&str> = chunk.iter().map(SubjectId::as_str).collect();
                            let rows: Vec<(String, String, String)> = sqlx::query_as($fetch_many)
                                .bind(offering)
                                .bind($requested(&ids))
                                .bind($requested(fields))
                                .fetch_all(&self.pool)
                                .await
                                .map_err(StoreError::database("fetching records"))?;
                            for (subject, field, value) in rows {
                                let parsed = serde_json::from_str(&value).map_err(|source| {
                                    StoreError::CorruptValue {
                                        offering: offering.to_owned(),
                                        field: field.clone(),
                                        source,
                                    }
                                })?;
                                held.entry(subject).or_default().insert(field, parsed);
                            }
                        }
                        Ok(subjects
                            .iter()
                            .map(|s| Record::new(held.get(s.as_str()).cloned().unwrap_or_default()))
                            .collect())
                    })
                }

                fn insert<'a>(&'a self, batch: &'a RegisterBatch) -> StoreFuture<'a, ()> {
                    Box::pin(insert(&self.pool, batch))
                }

                fn change_feed(&self) -> Option<&dyn ChangeFeed> {
                    Some(self)
                }
            }

            impl ChangeFeed for $engine {
                fn changes_after(&self, after: u64, limit: u32) -> StoreFuture<'_, Vec<Change>> {
                    Box::pin(async move {
                        let after = i64::try_from(after).unwrap_or(i64::MAX);
                        let rows: Vec<(i64, String, String, String, i64, bool)> = sqlx::query_as(CHANGES_AFTER)
                            .bind(after)
                            .bind(i64::from(limit))
                            .fetch_all(&self.pool)
                            .await
                            .map_err(StoreError::database("reading the change feed"))?;
                        rows.into_iter().map(change_of).collect()
                    })
                }

                fn forget_changes(&self, through: u64) -> StoreFuture<'_, u64> {
                    Box::pin(async move {
                        let through = i64::try_from(through).unwrap_or(i64::MAX);
                        let done = sqlx::query(FORGET_CHANGES)
                            .bind(through)
                            .execute(&self.pool)
                            .await
                            .map_err(StoreError::database("forgetting changes"))?;
                        Ok(done.rows_affected())
                    })
                }
            }

            async fn fetch(
                pool: &sqlx::Pool<$db>,
                offering: &str,
                subject: &SubjectId,
                fields: &[&str],
            ) -> Result<Option<Record>, StoreError> {
                check_name("offering", offering)?;
                for field in fields {
                    check_name("field", field)?;
                }
                let requested = $requested(fields);
                let rows: Vec<(Option<String>, Option<String>)> = sqlx::query_as($fetch)
                    .bind(offering)
                    .bind(subject.as_str())
                    .bind(requested)
                    .fetch_all(pool)
                    .await
                    .map_err(StoreError::database("fetching a record"))?;
                if rows.is_empty() {
                    return Ok(None);
                }
                let mut values = BTreeMap::new();
                for (field, value) in rows {
                    let (Some(field), Some(value)) = (field, value) else {
                        continue; // the sentinel
                    };
                    let parsed = serde_json::from_str(&value).map_err(|source| StoreError::CorruptValue {
                        offering: offering.to_owned(),
                        field: field.clone(),
                        source,
                    })?;
                    values.insert(field, parsed);
                }
                Ok(Some(Record::new(values)))
            }

            async fn insert(pool: &sqlx::Pool<$db>, batch: &RegisterBatch) -> Result<(), StoreError> {
                let values = batch.validate()?;
                if batch.is_empty() {
                    return Ok(());
                }
                let mut tx = pool
                    .begin()
                    .await
                    .map_err(StoreError::database("starting a batch"))?;
                insert_subjects(&mut tx, batch).await?;
                let changed = insert_records(&mut tx, batch, &values).await?;
                insert_changes(&mut tx, changed).await?;
                // Dropping `tx` on any error above rolls the whole batch back.
                tx.commit()
                    .await
                    .map_err(StoreError::database("committing a batch"))
            }

            async fn insert_subjects(
                tx: &mut sqlx::Transaction<'_, $db>,
                batch: &RegisterBatch,
            ) -> Result<(), StoreError> {
                let subjects = last_of_each(batch.subjects(), |entry| entry.subject.as_str());
                for chunk in subjects.chunks(ROWS_PER_STATEMENT) {
                    let mut query = QueryBuilder::<$db>::new(
                        "INSERT INTO subjects (subject, kind, protected_identity) ",
                    );
                    query.push_values(chunk, |mut row, entry| {
                        row.push_bind(entry.subject.as_str())
                            .push_bind(kind(&entry.subject))
                            .push_bind(entry.protected_identity);
                    });
                    query.push(
                        " ON CONFLICT (subject) DO UPDATE SET protected_identity = excluded.protected_identity",
                    );
                    query
                        .build()
                        .execute(&mut **tx)
                        .await
                        .map_err(StoreError::database("writing subjects"))?;
                }
                Ok(())
            }

            /// Writes the values; returns the (offering, subject, field) of each value that is
            /// new or different.
            async fn insert_records(
                tx: &mut sqlx::Transaction<'_, $db>,
                batch: &RegisterBatch,
                values: &[String],
            ) -> Result<Vec<(String, String, String)>, StoreError> {
                let mut changed = Vec::new();
                let rows = last_of_each(batch.records().iter().zip(values), |(entry, _)| {
                    (entry.offering.as_str(), entry.subject.as_str(), entry.field.as_str())
                });
                for chunk in rows.chunks(ROWS_PER_STATEMENT) {
                    let mut query =
                        QueryBuilder::<$db>::new("INSERT INTO records (offering, subject, field, value) ");
                    query.push_values(chunk, |mut row, (entry, value)| {
                        row.push_bind(entry.offering.as_str())
                            .push_bind(entry.subject.as_str())
                            .push_bind(entry.field.as_str())
                            .push_bind(value.as_str());
                    });
                    query.push(
                        " ON CONFLICT (offering, subject, field) DO UPDATE SET value = excluded.value \
                         WHERE records.value <> excluded.value RETURNING offering, subject, field",
                    );
                    let rows = query.build_query_as::<(String, String, String)>().fetch_all(&mut **tx).await.map_err(|source| {
                        let foreign_key = source
                            .as_database_error()
                            .and_then(|error| error.code())
                            .is_some_and(|code| code == $foreign_key);
                        if foreign_key {
                            StoreError::UnknownSubject
                        } else {
                            StoreError::database("writing records")(source)
                        }
                    })?;
                    changed.extend(rows);
                }
                Ok(changed)
            }

            /// One change per (offering, subject) among `changed`, naming its fields.
            async fn insert_changes(
                tx: &mut sqlx::Transaction<'_, $db>,
                changed: Vec<(String, String, String)>,
            ) -> Result<(), StoreError> {
                if changed.is_empty() {
                    return Ok(());
                }
                if let Some(lock) = $lock {
                    sqlx::query(lock)
                        .execute(&mut **tx)
                        .await
                        .map_err(StoreError::database("ordering changes"))?;
                }
                let at = (time::OffsetDateTime::now_utc().unix_timestamp_nanos() / 1_000_000) as i64;
                let mut by_pair: BTreeMap<(String, String), Vec<String>> = BTreeMap::new();
                for (offering, subject, field) in changed {
                    by_pair.entry((offering, subject)).or_default().push(field);
                }
                let rows: Vec<((String, String), String)> = by_pair
                    .into_iter()
                    .map(|(pair, mut fields)| {
                        fields.sort();
                        (pair, serde_json::Value::from(fields).to_string())
                    })
                    .collect();
                for chunk in rows.chunks(ROWS_PER_STATEMENT) {
                    // Each change carries its subject's protected-identity flag as the write
                    // left it, read in the same transaction.
                    let mut query = QueryBuilder::<$db>::new(
                        "INSERT INTO changes (offering, subject, fields, at, protected) \
                         SELECT v.column1, v.column2, v.column3, v.column4, s.protected_identity \
                         FROM (",
                    );
                    query.push_values(chunk, |mut row, ((offering, subject), fields)| {
                        row.push_bind(offering.as_str())
                            .push_bind(subject.as_str())
                            .push_bind(fields.as_str())
                            .push_bind(at);
                    });
                    query.push(") AS v JOIN subjects AS s ON s.subject = v.column2");
                    query
                        .build()
                        .execute(&mut **tx)
                        .await
                        .map_err(StoreError::database("recording changes"))?;
                }
                Ok(())
            }
        };
    };
}

/// A change row as read back; a row that does not parse is corruption, not a client's error.
fn change_of(
    (seq, offering, subject, fields, at, protected): (i64, String, String, String, i64, bool),
) -> Result<Change, StoreError> {
    let corrupt = |reason: &str| StoreError::CorruptRow {
        what: "register change",
        reason: reason.to_owned(),
    };
    Ok(Change {
        seq: u64::try_from(seq).map_err(|_| corrupt("a negative seq"))?,
        offering,
        subject: subject.parse().map_err(|_| corrupt("an invalid subject"))?,
        fields: serde_json::from_str(&fields).map_err(|_| corrupt("unreadable fields"))?,
        at: time::OffsetDateTime::from_unix_timestamp_nanos(i128::from(at) * 1_000_000)
            .map_err(|_| corrupt("a time out of range"))?,
        protected_identity: protected,
    })
}

engine!(
    RegisterStore,
    sqlx::Sqlite,
    SQLITE_FETCH,
    SQLITE_PROTECTED_MANY,
    SQLITE_FETCH_MANY,
    json_array,
    SQLITE_CONSTRAINT_FOREIGNKEY,
    None::<&str>
);
engine!(
    PgRegister,
    sqlx::Postgres,
    POSTGRES_FETCH,
    POSTGRES_PROTECTED_MANY,
    POSTGRES_FETCH_MANY,
    text_array,
    POSTGRES_FOREIGN_KEY_VIOLATION,
    POSTGRES_CHANGES_LOCK
);

/// The last of the items with each key, in the order of those last ones: what writing them one
/// after another would leave. One `INSERT … ON CONFLICT DO UPDATE` may not touch a row twice on
/// PostgreSQL, so a batch that names a subject or a value twice is reduced first.
fn last_of_each<T, K: Ord>(items: impl IntoIterator<Item = T>, key: impl Fn(&T) -> K) -> Vec<T> {
    let items: Vec<T> = items.into_iter().collect();
    let mut last = BTreeMap::new();
    for (position, item) in items.iter().enumerate() {
        last.insert(key(item), position);
    }
    let keep: std::collections::BTreeSet<usize> = last.into_values().collect();
    items
        .into_iter()
        .enumerate()
        .filter_map(|(position, item)| keep.contains(&position).then_some(item))
        .collect()
}

fn kind(subject: &SubjectId) -> &'static str {
    match subject {
        SubjectId::Personnummer(_) => "personnummer",
        SubjectId::Samordningsnummer(_) => "samordningsnummer",
        SubjectId::Organisationsnummer(_) => "organisationsnummer",
    }
}
