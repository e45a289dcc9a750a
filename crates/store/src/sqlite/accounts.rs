//! The SQL of [`AccountStore`]: accounts and sessions in the node's `portal.sqlite`.

use super::{checkpoint_and_close, open_file, open_memory, schema_version};
use crate::accounts::{Account, AccountProfile, Failure, Session, SignInFlow, MAX_ACCOUNT_TEXT};
use crate::error::ACCOUNTS;
use crate::StoreError;
use sqlx::migrate::Migrator;
use sqlx::sqlite::SqliteRow;
use sqlx::{Row, SqlitePool};
use std::path::Path;

/// The accounts' schema, `migrations/accounts/`.
static ACCOUNTS_MIGRATOR: Migrator = sqlx::migrate!("./migrations/accounts");

/// Accounts are read on every page and written on sign-in; a few connections suffice.
const ACCOUNT_CONNECTIONS: u32 = 2;

/// The portal's local accounts and sessions, in one SQLite database.
///
/// Cheap to clone (the clones share one connection pool).
#[derive(Clone)]
pub struct AccountStore {
    pool: SqlitePool,
}

fn db(operation: &'static str) -> impl FnOnce(sqlx::Error) -> StoreError {
    move |source| StoreError::Database {
        database: ACCOUNTS,
        operation,
        source,
    }
}

fn check_text(what: &'static str, text: &str) -> Result<(), StoreError> {
    let invalid = |reason: &str| {
        Err(StoreError::InvalidInput {
            what,
            reason: reason.to_owned(),
        })
    };
    if text.trim().is_empty() {
        return invalid("it is empty");
    }
    if text.len() > MAX_ACCOUNT_TEXT {
        return invalid(&format!("it is longer than {MAX_ACCOUNT_TEXT} bytes"));
    }
    if text.chars().any(char::is_control) {
        return invalid("it contains a control character");
    }
    Ok(())
}

fn check_profile(profile: &AccountProfile) -> Result<(), StoreError> {
    check_text("display name", &profile.display_name)?;
    check_text("unit", &profile.unit)?;
    check_text("officer role", &profile.officer_role)?;
    for role in &profile.roles {
        if role.is_empty() || !role.chars().all(|c| c.is_ascii_lowercase()) {
            return Err(StoreError::InvalidInput {
                what: "portal role",
                reason: "a portal role is a word of lowercase ASCII letters".into(),
            });
        }
    }
    Ok(())
}

fn roles_text(roles: &[String]) -> String {
    let mut roles = roles.to_vec();
    roles.sort();
    roles.dedup();
    roles.join(" ")
}

fn account(row: &SqliteRow) -> Result<Account, StoreError> {
    let corrupt = |reason: String| StoreError::CorruptRow {
        what: "account",
        reason,
    };
    let get_err = |e: sqlx::Error| corrupt(e.to_string());
    let failed: i64 = row.try_get("failed_attempts").map_err(get_err)?;
    let roles: String = row.try_get("roles").map_err(get_err)?;
    Ok(Account {
        username: row.try_get("username").map_err(get_err)?,
        display_name: row.try_get("display_name").map_err(get_err)?,
        unit: row.try_get("unit").map_err(get_err)?,
        officer_role: row.try_get("officer_role").map_err(get_err)?,
        roles: roles.split_whitespace().map(str::to_owned).collect(),
        password_hash: row.try_get("password_hash").map_err(get_err)?,
        failed_attempts: u32::try_from(failed).map_err(|e| corrupt(e.to_string()))?,
        locked_until: row.try_get("locked_until").map_err(get_err)?,
        disabled: row.try_get::<i64, _>("disabled").map_err(get_err)? != 0,
        created_at: row.try_get("created_at").map_err(get_err)?,
        external: row.try_get::<String, _>("source").map_err(get_err)? == OIDC,
    })
}

const ACCOUNT_COLUMNS: &str = "username, display_name, unit, officer_role, roles, password_hash, \
     failed_attempts, locked_until, disabled, created_at, source";

/// `account.source` of an account the identity provider vouches for.
const OIDC: &str = "oidc";

/// The password hash column of an account without a password: no PHC string, so no password
/// ever matches it.
const NO_PASSWORD: &str = "!";

/// A session left unused this long is touched again on its next use; finer than this the idle
/// timeout does not need to be, and most page views then write nothing.
const TOUCH_SECONDS: i64 = 60;

impl AccountStore {
    /// Opens the accounts database at `path`, creating it if needed.
    pub async fn open(path: impl AsRef<Path>) -> Result<Self, StoreError> {
        let pool = open_file(
            ACCOUNTS,
            &ACCOUNTS_MIGRATOR,
            path.as_ref(),
            ACCOUNT_CONNECTIONS,
        )
        .await?;
        Ok(Self { pool })
    }

    /// Accounts in memory, for tests.
    pub async fn open_in_memory() -> Result<Self, StoreError> {
        let pool = open_memory(ACCOUNTS, &ACCOUNTS_MIGRATOR).await?;
        Ok(Self { pool })
    }

    /// The version of the newest schema migration applied.
    pub async fn schema_version(&self) -> Result<i64, StoreError> {
        schema_version(&self.pool, ACCOUNTS).await
    }

    /// Closes every connection after a WAL checkpoint.
    pub async fn close(self) {
        checkpoint_and_close(self.pool).await;
    }

    /// Adds an account. Fails with [`StoreError::Duplicate`] if the username is taken.
    pub async fn create(
        &self,
        username: &str,
        profile: &AccountProfile,
        password_hash: &str,
        now: i64,
    ) -> Result<(), StoreError> {
        check_text("username", username)?;
        if username.chars().any(char::is_whitespace) {
            return Err(StoreError::InvalidInput {
                what: "username",
                reason: "it contains white space".into(),
            });
        }
        check_profile(profile)?;
        check_text("password hash", password_hash)?;
        let result = sqlx::query(
            "INSERT INTO account (username, display_name, unit, officer_role, roles, \
             password_hash, disabled, created_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
        )
        .bind(username)
        .bind(&profile.display_name)
        .bind(&profile.unit)
        .bind(&profile.officer_role)
        .bind(roles_text(&profile.roles))
        .bind(password_hash)
        .bind(i64::from(profile.disabled))
        .bind(now)
        .execute(&self.pool)
        .await;
        match result {
            Err(sqlx::Error::Database(e)) if e.is_unique_violation() => {
                Err(StoreError::Duplicate { what: "account" })
            }
            other => other.map(|_| ()).map_err(db("adding an account")),
        }
    }

    /// One account, if it exists.
    pub async fn get(&self, username: &str) -> Result<Option<Account>, StoreError> {
        sqlx::query(&format!(
            "SELECT {ACCOUNT_COLUMNS} FROM account WHERE username = ?"
        ))
        .bind(username)
        .fetch_optional(&self.pool)
        .await
        .map_err(db("reading an account"))?
        .as_ref()
        .map(account)
        .transpose()
    }

    /// Every account, by username.
    pub async fn list(&self) -> Result<Vec<Account>, StoreError> {
        sqlx::query(&format!(
            "SELECT {ACCOUNT_COLUMNS} FROM account ORDER BY username"
        ))
        .fetch_all(&self.pool)
        .await
        .map_err(db("listing accounts"))?
        .iter()
        .map(account)
        .collect()
    }

    /// Changes what an administrator sets, and ends the account's sessions: a changed role,
    /// unit or state takes effect at once, and a disabled account is signed out.
    pub async fn update(&self, username: &str, profile: &AccountProfile) -> Result<(), StoreError> {
        check_profile(profile)?;
        let change = sqlx::query(
            "UPDATE account SET display_name = ?, unit = ?, officer_role = ?, roles = ?, \
             disabled = ? WHERE username = ?",
        )
        .bind(&profile.display_name)
        .bind(&profile.unit)
        .bind(&profile.officer_role)
        .bind(roles_text(&profile.roles))
        .bind(i64::from(profile.disabled))
        .bind(username);
        self.change_signing_out("updating an account", username, change)
            .await
    }

    /// Replaces the password hash (lifting any lock) and ends the account's sessions. An account
    /// the identity provider vouches for has no password here: [`StoreError::NotFound`].
    pub async fn set_password(
        &self,
        username: &str,
        password_hash: &str,
    ) -> Result<(), StoreError> {
        check_text("password hash", password_hash)?;
        let change = sqlx::query(
            "UPDATE account SET password_hash = ?, failed_attempts = 0, locked_until = NULL \
             WHERE username = ? AND source = 'local'",
        )
        .bind(password_hash)
        .bind(username);
        self.change_signing_out("setting a password", username, change)
            .await
    }

    /// Runs `change` on one account and ends that account's sessions, in one transaction.
    async fn change_signing_out<'q>(
        &self,
        operation: &'static str,
        username: &str,
        change: sqlx::query::Query<'q, sqlx::Sqlite, sqlx::sqlite::SqliteArguments<'q>>,
    ) -> Result<(), StoreError> {
        let mut tx = self.pool.begin().await.map_err(db(operation))?;
        let done = change.execute(&mut *tx).await.map_err(db(operation))?;
        if done.rows_affected() == 0 {
            return Err(StoreError::NotFound { what: "account" });
        }
        sqlx::query("DELETE FROM session WHERE username = ?")
            .bind(username)
            .execute(&mut *tx)
            .await
            .map_err(db("ending an account's sessions"))?;
        tx.commit().await.map_err(db(operation))
    }

    /// Counts a failed sign-in at `now`; the `max`-th failure in a row locks the account for
    /// `lock_seconds`. One statement, so concurrent failures are all counted.
    pub async fn record_failure(
        &self,
        username: &str,
        now: i64,
        max: u32,
        lock_seconds: i64,
    ) -> Result<Failure, StoreError> {
        let row = sqlx::query(
            "UPDATE account SET \
               failed_attempts = failed_attempts + 1, \
               locked_until = CASE WHEN failed_attempts + 1 >= ? THEN ? ELSE locked_until END \
             WHERE username = ? RETURNING failed_attempts, locked_until",
        )
        .bind(i64::from(max))
        .bind(now + lock_seconds)
        .bind(username)
        .fetch_optional(&self.pool)
        .await
        .map_err(db("counting a failed sign-in"))?;
        let Some(row) = row else {
            return Ok(Failure::Unknown);
        };
        let failed: i64 = row.try_get(0).map_err(db("counting a failed sign-in"))?;
        let until: Option<i64> = row.try_get(1).map_err(db("counting a failed sign-in"))?;
        Ok(match until {
            Some(until) if failed >= i64::from(max) && until > now => Failure::Locked(until),
            _ => Failure::Counted(u32::try_from(failed).unwrap_or(u32::MAX)),
        })
    }

    /// Lifts a lock and forgets earlier failures (after a successful sign-in, or by an
    /// administrator).
    pub async fn clear_failures(&self, username: &str) -> Result<(), StoreError> {
        sqlx::query(
            "UPDATE account SET failed_attempts = 0, locked_until = NULL WHERE username = ?",
        )
        .bind(username)
        .execute(&self.pool)
        .await
        .map_err(db("clearing failed sign-ins"))?;
        Ok(())
    }

    /// Starts a session. Expired sessions are swept in the same transaction.
    pub async fn create_session(
        &self,
        token_hash: &[u8; 32],
        username: &str,
        csrf: &str,
        now: i64,
        expires_at: i64,
    ) -> Result<(), StoreError> {
        let mut tx = self.pool.begin().await.map_err(db("starting a session"))?;
        sqlx::query("DELETE FROM session WHERE expires_at <= ?")
            .bind(now)
            .execute(&mut *tx)
            .await
            .map_err(db("sweeping expired sessions"))?;
        sqlx::query(
            "INSERT INTO session (token_hash, username, csrf, created_at, expires_at, last_seen) \
             VALUES (?, ?, ?, ?, ?, ?)",
        )
        .bind(&token_hash[..])
        .bind(username)
        .bind(csrf)
        .bind(now)
        .bind(expires_at)
        .bind(now)
        .execute(&mut *tx)
        .await
        .map_err(db("starting a session"))?;
        tx.commit().await.map_err(db("starting a session"))
    }

    /// The live session with this token hash at `now`, with its account — none if it expired,
    /// was left unused for `idle_seconds` (within [`TOUCH_SECONDS`]),
    /// or its account is disabled or locked.
    pub async fn session(
        &self,
        token_hash: &[u8; 32],
        now: i64,
        idle_seconds: i64,
    ) -> Result<Option<Session>, StoreError> {
        let row = sqlx::query(&format!(
            "SELECT s.csrf, s.expires_at, s.last_seen, {} FROM session s \
             JOIN account a USING (username) \
             WHERE s.token_hash = ? AND s.expires_at > ? AND s.last_seen > ? AND a.disabled = 0 \
             AND (a.locked_until IS NULL OR a.locked_until <= ?)",
            ACCOUNT_COLUMNS
                .split(", ")
                .map(|c| format!("a.{c}"))
                .collect::<Vec<_>>()
                .join(", ")
        ))
        .bind(&token_hash[..])
        .bind(now)
        .bind(now - idle_seconds)
        .bind(now)
        .fetch_optional(&self.pool)
        .await
        .map_err(db("reading a session"))?;
        let Some(row) = row else { return Ok(None) };
        let corrupt = |e: sqlx::Error| StoreError::CorruptRow {
            what: "session",
            reason: e.to_string(),
        };
        let last_seen: i64 = row.try_get("last_seen").map_err(corrupt)?;
        if now - last_seen >= TOUCH_SECONDS {
            sqlx::query("UPDATE session SET last_seen = ? WHERE token_hash = ?")
                .bind(now)
                .bind(&token_hash[..])
                .execute(&self.pool)
                .await
                .map_err(db("touching a session"))?;
        }
        Ok(Some(Session {
            csrf: row.try_get("csrf").map_err(corrupt)?,
            expires_at: row.try_get("expires_at").map_err(corrupt)?,
            account: account(&row)?,
        }))
    }

    /// Records the profile the identity provider vouched for at `now`: adds the account the first
    /// time, replaces its profile (not whether an administrator disabled it) afterwards, and
    /// returns it. A local account of the same username is left alone:
    /// [`StoreError::Duplicate`].
    pub async fn sign_in_external(
        &self,
        username: &str,
        profile: &AccountProfile,
        now: i64,
    ) -> Result<Account, StoreError> {
        check_text("username", username)?;
        check_profile(profile)?;
        let row = sqlx::query(&format!(
            "INSERT INTO account (username, display_name, unit, officer_role, roles, \
             password_hash, created_at, source) VALUES (?, ?, ?, ?, ?, ?, ?, '{OIDC}') \
             ON CONFLICT (username) DO UPDATE SET display_name = excluded.display_name, \
             unit = excluded.unit, officer_role = excluded.officer_role, roles = excluded.roles \
             WHERE account.source = '{OIDC}' RETURNING {ACCOUNT_COLUMNS}"
        ))
        .bind(username)
        .bind(&profile.display_name)
        .bind(&profile.unit)
        .bind(&profile.officer_role)
        .bind(roles_text(&profile.roles))
        .bind(NO_PASSWORD)
        .bind(now)
        .fetch_optional(&self.pool)
        .await
        .map_err(db("recording an identity provider's sign-in"))?;
        match row {
            Some(row) => account(&row),
            None => Err(StoreError::Duplicate { what: "account" }),
        }
    }

    /// Keeps a sign-in under way at the identity provider until `expires_at`, under the hash of
    /// the browser's flow cookie. Lapsed ones are swept in the same transaction.
    pub async fn begin_flow(
        &self,
        token_hash: &[u8; 32],
        flow: &SignInFlow,
        now: i64,
        expires_at: i64,
    ) -> Result<(), StoreError> {
        let mut tx = self.pool.begin().await.map_err(db("starting a sign-in"))?;
        sqlx::query("DELETE FROM sign_in_flow WHERE expires_at <= ?")
            .bind(now)
            .execute(&mut *tx)
            .await
            .map_err(db("sweeping lapsed sign-ins"))?;
        sqlx::query(
            "INSERT INTO sign_in_flow (token_hash, state, nonce, verifier, next, expires_at) \
             VALUES (?, ?, ?, ?, ?, ?)",
        )
        .bind(&token_hash[..])
        .bind(&flow.state)
        .bind(&flow.nonce)
        .bind(&flow.verifier)
        .bind(&flow.next)
        .bind(expires_at)
        .execute(&mut *tx)
        .await
        .map_err(db("starting a sign-in"))?;
        tx.commit().await.map_err(db("starting a sign-in"))
    }

    /// Takes the sign-in under way with this cookie hash, if it has not lapsed at `now`: it can
    /// be taken once.
    pub async fn take_flow(
        &self,
        token_hash: &[u8; 32],
        now: i64,
    ) -> Result<Option<SignInFlow>, StoreError> {
        let row = sqlx::query(
            "DELETE FROM sign_in_flow WHERE token_hash = ? \
             RETURNING state, nonce, verifier, next, expires_at",
        )
        .bind(&token_hash[..])
        .fetch_optional(&self.pool)
        .await
        .map_err(db("finishing a sign-in"))?;
        let Some(row) = row else { return Ok(None) };
        let corrupt = |e: sqlx::Error| StoreError::CorruptRow {
            what: "sign-in flow",
            reason: e.to_string(),
        };
        let expires_at: i64 = row.try_get("expires_at").map_err(corrupt)?;
        if expires_at <= now {
            return Ok(None);
        }
        Ok(Some(SignInFlow {
            state: row.try_get("state").map_err(corrupt)?,
            nonce: row.try_get("nonce").map_err(corrupt)?,
            verifier: row.try_get("verifier").map_err(corrupt)?,
            next: row.try_get("next").map_err(corrupt)?,
        }))
    }

    /// Ends a session (sign-out). Ending one that does not exist is not an error.
    pub async fn end_session(&self, token_hash: &[u8; 32]) -> Result<(), StoreError> {
        sqlx::query("DELETE FROM session WHERE token_hash = ?")
            .bind(&token_hash[..])
            .execute(&self.pool)
            .await
            .map_err(db("ending a session"))?;
        Ok(())
    }
}
