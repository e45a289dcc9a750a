//! Who a person is and what they may do: portal roles, the signed-in identity, and the
//! identity provider that vouches for it.
//!
//! The portal asks an [`IdentityProvider`] to authenticate and gets an [`Identity`]; nothing
//! else in the portal knows how. [`LocalAccounts`] is the built-in provider: accounts in the
//! node's `portal.sqlite`, passwords hashed with argon2id, sign-in locked after repeated
//! failures. An OpenID Connect provider would implement the same trait with a redirect flow
//! and map its claims (unit, roles) onto the same [`Identity`].

use argon2::password_hash::{PasswordHash, PasswordHasher, PasswordVerifier, SaltString};
use argon2::Argon2;
use std::fmt;
use std::future::Future;
use std::pin::Pin;
use time::OffsetDateTime;
use utbyte_store::{Account, AccountProfile, AccountStore, Failure, StoreError};

/// Failed sign-ins in a row that lock an account.
pub const MAX_FAILURES: u32 = 5;
/// How long a lock lasts, in seconds.
pub const LOCK_SECONDS: i64 = 15 * 60;
/// Shortest password accepted when an administrator sets one.
pub const MIN_PASSWORD: usize = 12;

/// What a person can do in the portal. Every page names the role it needs.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Role {
    /// Handläggare: asks other authorities and reads the answers.
    Officer,
    /// Jurist: decides the requests routed to review at this authority.
    Reviewer,
    /// Granskare: reads the ledger, verifies it, follows up.
    Auditor,
    /// Administratör: this node's accounts and published offerings.
    Admin,
}

impl Role {
    pub const ALL: [Role; 4] = [Role::Officer, Role::Reviewer, Role::Auditor, Role::Admin];

    /// The name stored with an account.
    pub fn as_str(self) -> &'static str {
        match self {
            Role::Officer => "officer",
            Role::Reviewer => "reviewer",
            Role::Auditor => "auditor",
            Role::Admin => "admin",
        }
    }

    pub fn parse(name: &str) -> Option<Role> {
        Role::ALL.into_iter().find(|r| r.as_str() == name)
    }
}

impl fmt::Display for Role {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A signed-in person.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Identity {
    pub username: String,
    pub display_name: String,
    /// The authority whose node this is (every identity belongs to one).
    pub authority: String,
    pub unit: String,
    /// The role the rulebook knows the person by (`context.role`).
    pub officer_role: String,
    pub roles: Vec<Role>,
}

impl Identity {
    pub fn has(&self, role: Role) -> bool {
        self.roles.contains(&role)
    }

    pub(crate) fn from_account(account: &Account, authority: &str) -> Self {
        let mut roles: Vec<Role> = account
            .roles
            .iter()
            .filter_map(|r| Role::parse(r))
            .collect();
        roles.sort();
        Self {
            username: account.username.clone(),
            display_name: account.display_name.clone(),
            authority: authority.to_owned(),
            unit: account.unit.clone(),
            officer_role: account.officer_role.clone(),
            roles,
        }
    }
}

/// Why a sign-in failed. The page shows one message for the first two, so that it never tells
/// whether a username exists.
#[derive(Debug, thiserror::Error)]
pub enum SignInError {
    #[error("wrong username or password")]
    Rejected,
    #[error("the account is locked until {until} after repeated failed sign-ins")]
    Locked { until: OffsetDateTime },
    #[error("the account is disabled")]
    Disabled,
    #[error("the account store failed: {0}")]
    Store(#[from] StoreError),
    #[error("password hashing failed: {0}")]
    Hash(String),
}

pub type BoxFuture<'a, T> = Pin<Box<dyn Future<Output = T> + Send + 'a>>;

/// Something that vouches for who a person is.
pub trait IdentityProvider: Send + Sync {
    /// Checks a username and password and returns the person's identity.
    fn authenticate<'a>(
        &'a self,
        username: &'a str,
        password: &'a str,
    ) -> BoxFuture<'a, Result<Identity, SignInError>>;
}

/// Hashes a password with argon2id (the crate's defaults: 19 MiB, two passes, one lane — the
/// OWASP recommendation) and a fresh random salt, as a PHC string.
pub fn hash_password(password: &str) -> Result<String, SignInError> {
    let mut salt = [0u8; 16];
    getrandom::fill(&mut salt).map_err(|e| SignInError::Hash(e.to_string()))?;
    let salt = SaltString::encode_b64(&salt).map_err(|e| SignInError::Hash(e.to_string()))?;
    Argon2::default()
        .hash_password(password.as_bytes(), &salt)
        .map(|hash| hash.to_string())
        .map_err(|e| SignInError::Hash(e.to_string()))
}

fn verify_password(password: &str, phc: &str) -> bool {
    PasswordHash::new(phc).is_ok_and(|hash| {
        Argon2::default()
            .verify_password(password.as_bytes(), &hash)
            .is_ok()
    })
}

/// Local accounts in the node's account store.
#[derive(Clone)]
pub struct LocalAccounts {
    store: AccountStore,
    authority: String,
    /// Verified against when the username is unknown, so that the answer takes as long as for a
    /// known one.
    decoy: String,
}

impl LocalAccounts {
    pub fn new(store: AccountStore, authority: &str) -> Result<Self, SignInError> {
        Ok(Self {
            store,
            authority: authority.to_owned(),
            decoy: hash_password("decoy password, never used")?,
        })
    }

    pub fn store(&self) -> &AccountStore {
        &self.store
    }

    /// Adds an account with a password (checked for length) hashed here.
    pub async fn create(
        &self,
        username: &str,
        profile: &AccountProfile,
        password: &str,
    ) -> Result<(), AccountError> {
        check_password(password)?;
        let hash = hash_blocking(password).await?;
        let now = OffsetDateTime::now_utc().unix_timestamp();
        Ok(self.store.create(username, profile, &hash, now).await?)
    }

    /// Sets a new password; the account's sessions end.
    pub async fn set_password(&self, username: &str, password: &str) -> Result<(), AccountError> {
        check_password(password)?;
        let hash = hash_blocking(password).await?;
        Ok(self.store.set_password(username, &hash).await?)
    }
}

/// Why an account could not be created or changed.
#[derive(Debug, thiserror::Error)]
pub enum AccountError {
    #[error("the password must be at least {MIN_PASSWORD} characters")]
    ShortPassword,
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error(transparent)]
    Hash(#[from] SignInError),
}

fn check_password(password: &str) -> Result<(), AccountError> {
    if password.chars().count() < MIN_PASSWORD {
        return Err(AccountError::ShortPassword);
    }
    Ok(())
}

/// Hashing is CPU work of tens of milliseconds: off the threads that answer requests.
async fn hash_blocking(password: &str) -> Result<String, SignInError> {
    let password = password.to_owned();
    tokio::task::spawn_blocking(move || hash_password(&password))
        .await
        .map_err(|e| SignInError::Hash(e.to_string()))?
}

impl IdentityProvider for LocalAccounts {
    fn authenticate<'a>(
        &'a self,
        username: &'a str,
        password: &'a str,
    ) -> BoxFuture<'a, Result<Identity, SignInError>> {
        Box::pin(async move {
            let now = OffsetDateTime::now_utc().unix_timestamp();
            let account = self.store.get(username).await?;
            let phc = account
                .as_ref()
                .map_or_else(|| self.decoy.clone(), |a| a.password_hash.clone());
            let given = password.to_owned();
            let matches = tokio::task::spawn_blocking(move || verify_password(&given, &phc))
                .await
                .map_err(|e| SignInError::Hash(e.to_string()))?;
            let Some(account) = account else {
                return Err(SignInError::Rejected);
            };
            if account.locked_at(now) {
                return Err(SignInError::Locked {
                    until: unix(account.locked_until.unwrap_or(now)),
                });
            }
            if !matches {
                return match self
                    .store
                    .record_failure(username, now, MAX_FAILURES, LOCK_SECONDS)
                    .await?
                {
                    Failure::Locked(until) => Err(SignInError::Locked { until: unix(until) }),
                    Failure::Counted(_) | Failure::Unknown => Err(SignInError::Rejected),
                };
            }
            if account.disabled {
                return Err(SignInError::Disabled);
            }
            self.store.clear_failures(username).await?;
            Ok(Identity::from_account(&account, &self.authority))
        })
    }
}

fn unix(seconds: i64) -> OffsetDateTime {
    OffsetDateTime::from_unix_timestamp(seconds).unwrap_or(OffsetDateTime::UNIX_EPOCH)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn profile() -> AccountProfile {
        AccountProfile {
            display_name: "Rut Jurist".into(),
            unit: "fk-kontroll".into(),
            officer_role: "jurist".into(),
            roles: vec!["reviewer".into()],
            disabled: false,
        }
    }

    #[tokio::test]
    async fn passwords_are_argon2id_and_lockout_follows_failures() {
        let store = AccountStore::open_in_memory().await.unwrap();
        let accounts = LocalAccounts::new(store.clone(), "forsakringskassan").unwrap();
        assert!(matches!(
            accounts.create("rut", &profile(), "short").await,
            Err(AccountError::ShortPassword)
        ));
        accounts
            .create("rut", &profile(), "correct horse battery")
            .await
            .unwrap();
        let stored = store.get("rut").await.unwrap().unwrap();
        assert!(stored.password_hash.starts_with("$argon2id$"));
        assert!(!stored.password_hash.contains("correct horse"));

        let who = accounts
            .authenticate("rut", "correct horse battery")
            .await
            .unwrap();
        assert_eq!(who.roles, [Role::Reviewer]);
        assert_eq!(who.authority, "forsakringskassan");
        assert!(matches!(
            accounts
                .authenticate("nobody", "correct horse battery")
                .await,
            Err(SignInError::Rejected)
        ));
        for _ in 1..MAX_FAILURES {
            assert!(matches!(
                accounts.authenticate("rut", "wrong").await,
                Err(SignInError::Rejected)
            ));
        }
        assert!(matches!(
            accounts.authenticate("rut", "wrong").await,
            Err(SignInError::Locked { .. })
        ));
        // Locked: even the right password is refused until the lock lapses.
        assert!(matches!(
            accounts.authenticate("rut", "correct horse battery").await,
            Err(SignInError::Locked { .. })
        ));
        store.clear_failures("rut").await.unwrap();
        let mut off = profile();
        off.disabled = true;
        store.update("rut", &off).await.unwrap();
        assert!(matches!(
            accounts.authenticate("rut", "correct horse battery").await,
            Err(SignInError::Disabled)
        ));
    }
}
