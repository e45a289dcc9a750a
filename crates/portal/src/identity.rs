//! Who a person is and what they may do: portal roles, the signed-in identity, and the
//! identity provider that vouches for it.
//!
//! The portal asks an [`IdentityProvider`] to authenticate and gets an [`Identity`]; nothing
//! else in the portal knows how. [`LocalAccounts`] is the built-in provider: accounts in the
//! node's `portal.sqlite`, passwords hashed with argon2id through the portal's [`HashingGate`],
//! which caps how many computations run at once. What stops guessing — the budget per source
//! and the lock — is the portal's [`throttle`](crate::throttle), in front of any provider; the
//! account store's own failure counter is no longer written (a success still lifts a lock an
//! earlier version left). The agency's identity provider signs people in with a redirect flow
//! instead ([`crate::oidc`]) and its claims become the same [`Identity`].

use crate::throttle::hashing::{hash_now, HashError, HashingGate, HashingLimits};
use std::fmt;
use std::future::Future;
use std::pin::Pin;
use utbyte_store::{Account, AccountProfile, AccountStore, StoreError};

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
    /// Vouched for by the agency's identity provider rather than a password here.
    pub external: bool,
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
            external: account.external,
        }
    }
}

/// Why a sign-in failed. The page shows one message for a wrong username and a wrong
/// password, so that it never tells whether a username exists.
#[derive(Debug, thiserror::Error)]
pub enum SignInError {
    #[error("wrong username or password")]
    Rejected,
    #[error("the account is disabled")]
    Disabled,
    /// No turn at password hashing: too many sign-ins at once.
    #[error("too many sign-ins at once")]
    Busy,
    #[error("the account store failed: {0}")]
    Store(#[from] StoreError),
    #[error("password hashing failed: {0}")]
    Hash(String),
}

impl From<HashError> for SignInError {
    fn from(e: HashError) -> Self {
        match e {
            HashError::Busy => SignInError::Busy,
            HashError::Failed(why) => SignInError::Hash(why),
        }
    }
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

/// Local accounts in the node's account store.
#[derive(Clone)]
pub struct LocalAccounts {
    store: AccountStore,
    authority: String,
    /// Verified against when the username is unknown, through the same gate, so that the answer
    /// costs as much and takes as long as for a known one.
    decoy: String,
    gate: HashingGate,
}

impl LocalAccounts {
    /// Accounts hashed within the default [`HashingLimits`].
    pub fn new(store: AccountStore, authority: &str) -> Result<Self, SignInError> {
        Self::with_limits(store, authority, HashingLimits::default())
    }

    pub fn with_limits(
        store: AccountStore,
        authority: &str,
        limits: HashingLimits,
    ) -> Result<Self, SignInError> {
        Ok(Self {
            store,
            authority: authority.to_owned(),
            decoy: hash_now("decoy password, never used")?,
            gate: HashingGate::new(limits),
        })
    }

    /// The gate every password computation of these accounts goes through.
    pub fn gate(&self) -> &HashingGate {
        &self.gate
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
        let hash = self.gate.hash(password).await.map_err(SignInError::from)?;
        let now = time::OffsetDateTime::now_utc().unix_timestamp();
        Ok(self.store.create(username, profile, &hash, now).await?)
    }

    /// Sets a new password; the account's sessions end.
    pub async fn set_password(&self, username: &str, password: &str) -> Result<(), AccountError> {
        check_password(password)?;
        let hash = self.gate.hash(password).await.map_err(SignInError::from)?;
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

impl IdentityProvider for LocalAccounts {
    fn authenticate<'a>(
        &'a self,
        username: &'a str,
        password: &'a str,
    ) -> BoxFuture<'a, Result<Identity, SignInError>> {
        Box::pin(async move {
            // An account the identity provider vouches for has no password here: it is
            // checked against the decoy, like an unknown one.
            let account = self.store.get(username).await?.filter(|a| !a.external);
            let phc = account
                .as_ref()
                .map_or(self.decoy.as_str(), |a| a.password_hash.as_str());
            let matches = self.gate.verify(password, phc).await?;
            let Some(account) = account else {
                return Err(SignInError::Rejected);
            };
            if !matches {
                return Err(SignInError::Rejected);
            }
            if account.disabled {
                return Err(SignInError::Disabled);
            }
            // The store serves no session of a locked account: lift a lock an earlier version
            // left, or the session about to start would not open.
            if account.failed_attempts > 0 || account.locked_until.is_some() {
                self.store.clear_failures(username).await?;
            }
            Ok(Identity::from_account(&account, &self.authority))
        })
    }
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
    async fn passwords_are_argon2id_and_every_computation_goes_through_the_gate() {
        let store = AccountStore::open_in_memory().await.unwrap();
        let accounts = LocalAccounts::new(store.clone(), "forsakringskassan").unwrap();
        let gate = accounts.gate().clone();
        assert!(matches!(
            accounts.create("rut", &profile(), "short").await,
            Err(AccountError::ShortPassword)
        ));
        assert_eq!(
            gate.computations(),
            0,
            "a short password is refused unhashed"
        );
        accounts
            .create("rut", &profile(), "correct horse battery")
            .await
            .unwrap();
        assert_eq!(gate.computations(), 1);
        let stored = store.get("rut").await.unwrap().unwrap();
        assert!(stored.password_hash.starts_with("$argon2id$"));
        assert!(!stored.password_hash.contains("correct horse"));

        let who = accounts
            .authenticate("rut", "correct horse battery")
            .await
            .unwrap();
        assert_eq!(who.roles, [Role::Reviewer]);
        assert_eq!(who.authority, "forsakringskassan");
        // An unknown username costs one computation (the decoy), like a wrong password.
        for (username, password) in [("nobody", "correct horse battery"), ("rut", "wrong")] {
            let before = gate.computations();
            assert!(matches!(
                accounts.authenticate(username, password).await,
                Err(SignInError::Rejected)
            ));
            assert_eq!(gate.computations(), before + 1, "{username}");
        }
        // The store's own counter is no longer written: the lock is the throttle's.
        assert_eq!(store.get("rut").await.unwrap().unwrap().failed_attempts, 0);
        accounts
            .set_password("rut", "another long password")
            .await
            .unwrap();
        assert_eq!(gate.computations(), 5);
        assert!(gate.peak() <= gate.limits().concurrent);

        let mut off = profile();
        off.disabled = true;
        store.update("rut", &off).await.unwrap();
        assert!(matches!(
            accounts.authenticate("rut", "another long password").await,
            Err(SignInError::Disabled)
        ));
    }

    #[tokio::test]
    async fn a_success_lifts_a_lock_an_earlier_version_left() {
        let store = AccountStore::open_in_memory().await.unwrap();
        let accounts = LocalAccounts::new(store.clone(), "forsakringskassan").unwrap();
        accounts
            .create("rut", &profile(), "correct horse battery")
            .await
            .unwrap();
        let now = time::OffsetDateTime::now_utc().unix_timestamp();
        store.record_failure("rut", now, 1, 900).await.unwrap();
        assert!(store.get("rut").await.unwrap().unwrap().locked_at(now));
        accounts
            .authenticate("rut", "correct horse battery")
            .await
            .unwrap();
        let after = store.get("rut").await.unwrap().unwrap();
        assert!(!after.locked_at(now) && after.failed_attempts == 0);
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn with_no_turn_at_hashing_a_sign_in_is_busy_not_rejected() {
        let store = AccountStore::open_in_memory().await.unwrap();
        let limits = HashingLimits {
            concurrent: 1,
            waiting: 0,
            wait: std::time::Duration::from_millis(10),
        };
        let accounts = LocalAccounts::with_limits(store, "forsakringskassan", limits).unwrap();
        accounts
            .create("rut", &profile(), "correct horse battery")
            .await
            .unwrap();
        let answers = eight_at_once(&accounts).await;
        assert!(answers.iter().any(|a| matches!(a, Err(SignInError::Busy))));
        assert!(answers.iter().any(|a| a.is_ok()));
        assert!(answers
            .iter()
            .all(|a| a.is_ok() || matches!(a, Err(SignInError::Busy))));
    }

    /// Eight sign-ins at once with the right password.
    async fn eight_at_once(accounts: &LocalAccounts) -> Vec<Result<Identity, SignInError>> {
        let tasks: Vec<_> = (0..8)
            .map(|_| {
                let accounts = accounts.clone();
                tokio::spawn(
                    async move { accounts.authenticate("rut", "correct horse battery").await },
                )
            })
            .collect();
        let mut answers = Vec::new();
        for task in tasks {
            answers.push(task.await.unwrap());
        }
        answers
    }
}
