//! The SQL of the portal's accounts and sessions, the same for both engines: [`Accounts`] for
//! [`SqliteAccounts`] and [`PgAccounts`].

use async_trait::async_trait;
use sqlx::Row;

use crate::accounts::{
    Account, AccountProfile, Accounts, Failure, Session, SignInFlow, MAX_ACCOUNT_TEXT,
};
use crate::error::ACCOUNTS;
use crate::postgres::PgAccounts;
use crate::sqlite::SqliteAccounts;
use crate::StoreError;

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

/// An account as both engines hold it; [`Account`] once checked.
#[derive(sqlx::FromRow)]
struct AccountRow {
    username: String,
    display_name: String,
    unit: String,
    officer_role: String,
    roles: String,
    password_hash: String,
    failed_attempts: i64,
    locked_until: Option<i64>,
    disabled: bool,
    created_at: i64,
    source: String,
}

impl AccountRow {
    fn checked(self) -> Result<Account, StoreError> {
        Ok(Account {
            failed_attempts: u32::try_from(self.failed_attempts).map_err(|e| {
                StoreError::CorruptRow {
                    what: "account",
                    reason: e.to_string(),
                }
            })?,
            roles: self.roles.split_whitespace().map(str::to_owned).collect(),
            external: self.source == OIDC,
            username: self.username,
            display_name: self.display_name,
            unit: self.unit,
            officer_role: self.officer_role,
            password_hash: self.password_hash,
            locked_until: self.locked_until,
            disabled: self.disabled,
            created_at: self.created_at,
        })
    }
}

/// A live session with its account, as the session query returns it.
#[derive(sqlx::FromRow)]
struct SessionRow {
    csrf: String,
    expires_at: i64,
    last_seen: i64,
    #[sqlx(flatten)]
    account: AccountRow,
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

macro_rules! engine {
    ($engine:ty, $db:ty) => {
        const _: () = {
            #[async_trait]
            impl Accounts for $engine {
                async fn create(
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
                         password_hash, disabled, created_at) VALUES ($1, $2, $3, $4, $5, $6, $7, $8)",
                    )
                    .bind(username)
                    .bind(&profile.display_name)
                    .bind(&profile.unit)
                    .bind(&profile.officer_role)
                    .bind(roles_text(&profile.roles))
                    .bind(password_hash)
                    .bind(profile.disabled)
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

                async fn get(&self, username: &str) -> Result<Option<Account>, StoreError> {
                    sqlx::query_as::<_, AccountRow>(&format!(
                        "SELECT {ACCOUNT_COLUMNS} FROM account WHERE username = $1"
                    ))
                    .bind(username)
                    .fetch_optional(&self.pool)
                    .await
                    .map_err(db("reading an account"))?
                    .map(AccountRow::checked)
                    .transpose()
                }

                async fn list(&self) -> Result<Vec<Account>, StoreError> {
                    sqlx::query_as::<_, AccountRow>(&format!(
                        "SELECT {ACCOUNT_COLUMNS} FROM account ORDER BY username"
                    ))
                    .fetch_all(&self.pool)
                    .await
                    .map_err(db("listing accounts"))?
                    .into_iter()
                    .map(AccountRow::checked)
                    .collect()
                }

                async fn update(&self, username: &str, profile: &AccountProfile) -> Result<(), StoreError> {
                    check_profile(profile)?;
                    let change = sqlx::query(
                        "UPDATE account SET display_name = $1, unit = $2, officer_role = $3, roles = $4, \
                         disabled = $5 WHERE username = $6",
                    )
                    .bind(&profile.display_name)
                    .bind(&profile.unit)
                    .bind(&profile.officer_role)
                    .bind(roles_text(&profile.roles))
                    .bind(profile.disabled)
                    .bind(username);
                    change_signing_out(&self.pool, "updating an account", username, change)
                        .await
                }

                async fn set_password(
                    &self,
                    username: &str,
                    password_hash: &str,
                ) -> Result<(), StoreError> {
                    check_text("password hash", password_hash)?;
                    let change = sqlx::query(
                        "UPDATE account SET password_hash = $1, failed_attempts = 0, locked_until = NULL \
                         WHERE username = $2 AND source = 'local'",
                    )
                    .bind(password_hash)
                    .bind(username);
                    change_signing_out(&self.pool, "setting a password", username, change)
                        .await
                }

                async fn record_failure(
                    &self,
                    username: &str,
                    now: i64,
                    max: u32,
                    lock_seconds: i64,
                ) -> Result<Failure, StoreError> {
                    let row = sqlx::query(
                        "UPDATE account SET \
                           failed_attempts = failed_attempts + 1, \
                           locked_until = CASE WHEN failed_attempts + 1 >= $1 THEN $2 ELSE locked_until END \
                         WHERE username = $3 RETURNING failed_attempts, locked_until",
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

                async fn clear_failures(&self, username: &str) -> Result<(), StoreError> {
                    sqlx::query(
                        "UPDATE account SET failed_attempts = 0, locked_until = NULL WHERE username = $1",
                    )
                    .bind(username)
                    .execute(&self.pool)
                    .await
                    .map_err(db("clearing failed sign-ins"))?;
                    Ok(())
                }

                async fn create_session(
                    &self,
                    token_hash: &[u8; 32],
                    username: &str,
                    csrf: &str,
                    now: i64,
                    expires_at: i64,
                ) -> Result<(), StoreError> {
                    let mut tx = self.pool.begin().await.map_err(db("starting a session"))?;
                    sqlx::query("DELETE FROM session WHERE expires_at <= $1")
                        .bind(now)
                        .execute(&mut *tx)
                        .await
                        .map_err(db("sweeping expired sessions"))?;
                    sqlx::query(
                        "INSERT INTO session (token_hash, username, csrf, created_at, expires_at, last_seen) \
                         VALUES ($1, $2, $3, $4, $5, $6)",
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

                async fn session(
                    &self,
                    token_hash: &[u8; 32],
                    now: i64,
                    idle_seconds: i64,
                ) -> Result<Option<Session>, StoreError> {
                    let row = sqlx::query_as::<_, SessionRow>(&format!(
                        "SELECT s.csrf, s.expires_at, s.last_seen, {} FROM session s \
                         JOIN account a USING (username) \
                         WHERE s.token_hash = $1 AND s.expires_at > $2 AND s.last_seen > $3 AND NOT a.disabled \
                         AND (a.locked_until IS NULL OR a.locked_until <= $4)",
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
                    if now - row.last_seen >= TOUCH_SECONDS {
                        sqlx::query("UPDATE session SET last_seen = $1 WHERE token_hash = $2")
                            .bind(now)
                            .bind(&token_hash[..])
                            .execute(&self.pool)
                            .await
                            .map_err(db("touching a session"))?;
                    }
                    Ok(Some(Session {
                        csrf: row.csrf,
                        expires_at: row.expires_at,
                        account: row.account.checked()?,
                    }))
                }

                async fn sign_in_external(
                    &self,
                    username: &str,
                    profile: &AccountProfile,
                    now: i64,
                ) -> Result<Account, StoreError> {
                    check_text("username", username)?;
                    check_profile(profile)?;
                    let row = sqlx::query_as::<_, AccountRow>(&format!(
                        "INSERT INTO account (username, display_name, unit, officer_role, roles, \
                         password_hash, created_at, source) VALUES ($1, $2, $3, $4, $5, $6, $7, '{OIDC}') \
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
                        Some(row) => row.checked(),
                        None => Err(StoreError::Duplicate { what: "account" }),
                    }
                }

                async fn begin_flow(
                    &self,
                    token_hash: &[u8; 32],
                    flow: &SignInFlow,
                    now: i64,
                    expires_at: i64,
                ) -> Result<(), StoreError> {
                    let mut tx = self.pool.begin().await.map_err(db("starting a sign-in"))?;
                    sqlx::query("DELETE FROM sign_in_flow WHERE expires_at <= $1")
                        .bind(now)
                        .execute(&mut *tx)
                        .await
                        .map_err(db("sweeping lapsed sign-ins"))?;
                    sqlx::query(
                        "INSERT INTO sign_in_flow (token_hash, state, nonce, verifier, next, expires_at) \
                         VALUES ($1, $2, $3, $4, $5, $6)",
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

                async fn take_flow(
                    &self,
                    token_hash: &[u8; 32],
                    now: i64,
                ) -> Result<Option<SignInFlow>, StoreError> {
                    let row = sqlx::query(
                        "DELETE FROM sign_in_flow WHERE token_hash = $1 \
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

                async fn end_session(&self, token_hash: &[u8; 32]) -> Result<(), StoreError> {
                    sqlx::query("DELETE FROM session WHERE token_hash = $1")
                        .bind(&token_hash[..])
                        .execute(&self.pool)
                        .await
                        .map_err(db("ending a session"))?;
                    Ok(())
                }
            }

        /// Runs `change` on one account and ends that account's sessions, in one transaction.
        async fn change_signing_out<'q>(
                pool: &sqlx::Pool<$db>,
                operation: &'static str,
                username: &str,
                change: sqlx::query::Query<'q, $db, <$db as sqlx::Database>::Arguments<'q>>,
            ) -> Result<(), StoreError> {
                let mut tx = pool.begin().await.map_err(db(operation))?;
                let done = change.execute(&mut *tx).await.map_err(db(operation))?;
                if done.rows_affected() == 0 {
                    return Err(StoreError::NotFound { what: "account" });
                }
                sqlx::query("DELETE FROM session WHERE username = $1")
                    .bind(username)
                    .execute(&mut *tx)
                    .await
                    .map_err(db("ending an account's sessions"))?;
                tx.commit().await.map_err(db(operation))
            }
        };
    };
}

engine!(SqliteAccounts, sqlx::Sqlite);
engine!(PgAccounts, sqlx::Postgres);
