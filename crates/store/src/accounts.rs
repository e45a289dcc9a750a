//! The contract of [`AccountStore`](crate::AccountStore): the portal's local accounts and their
//! sessions. The store keeps what it is given — a password hash, never a password; a token's
//! hash, never a token — and enforces only what must hold whatever the caller: usernames are
//! unique, a failed sign-in is counted atomically, and a locked or disabled account has no
//! session.

use async_trait::async_trait;

use crate::StoreError;

/// Longest username, display name, unit or role accepted.
pub const MAX_ACCOUNT_TEXT: usize = 128;

/// One person's account at a node.
#[derive(Clone, PartialEq, Eq)]
pub struct Account {
    pub username: String,
    pub display_name: String,
    /// The unit of the node's authority the person works in.
    pub unit: String,
    /// The person's role as the rulebook knows it (`context.role`).
    pub officer_role: String,
    /// Portal roles (officer, reviewer, auditor, admin), sorted.
    pub roles: Vec<String>,
    /// PHC string of the password hash.
    pub password_hash: String,
    pub failed_attempts: u32,
    /// Unix seconds until which sign-in is refused.
    pub locked_until: Option<i64>,
    pub disabled: bool,
    pub created_at: i64,
    /// Vouched for by the agency's identity provider: no password, and the profile is the
    /// provider's claims at the last sign-in.
    pub external: bool,
}

impl std::fmt::Debug for Account {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Account")
            .field("username", &self.username)
            .field("unit", &self.unit)
            .field("roles", &self.roles)
            .field("disabled", &self.disabled)
            .field("external", &self.external)
            .finish_non_exhaustive()
    }
}

impl Account {
    /// Whether sign-in is refused at `now` (unix seconds) because of earlier failures.
    pub fn locked_at(&self, now: i64) -> bool {
        self.locked_until.is_some_and(|until| until > now)
    }
}

/// What an administrator sets about an account (everything but the password).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AccountProfile {
    pub display_name: String,
    pub unit: String,
    pub officer_role: String,
    pub roles: Vec<String>,
    pub disabled: bool,
}

/// What a failed sign-in did to the account.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Failure {
    /// Counted; this many failures in a row so far.
    Counted(u32),
    /// This failure locked the account until the given unix second.
    Locked(i64),
    /// No such account (nothing was written).
    Unknown,
}

/// A live session, with its account.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Session {
    pub account: Account,
    pub csrf: String,
    pub expires_at: i64,
}

/// A sign-in under way at the identity provider: what its redirect back must match.
#[derive(Clone, PartialEq, Eq)]
pub struct SignInFlow {
    /// The OAuth 2.0 `state` sent to the provider.
    pub state: String,
    /// The OpenID Connect `nonce` the ID token must carry.
    pub nonce: String,
    /// The PKCE code verifier.
    pub verifier: String,
    /// The portal path to go to once signed in.
    pub next: String,
}

impl std::fmt::Debug for SignInFlow {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SignInFlow")
            .field("next", &self.next)
            .finish_non_exhaustive()
    }
}

/// The portal's accounts, sessions and sign-ins under way.
#[async_trait]
pub trait Accounts: Send + Sync {
    /// Adds an account. Fails with [`StoreError::Duplicate`] if the username is taken.
    async fn create(
        &self,
        username: &str,
        profile: &AccountProfile,
        password_hash: &str,
        now: i64,
    ) -> Result<(), StoreError>;

    /// One account, if it exists.
    async fn get(&self, username: &str) -> Result<Option<Account>, StoreError>;

    /// Every account, by username.
    async fn list(&self) -> Result<Vec<Account>, StoreError>;

    /// Changes what an administrator sets, and ends the account's sessions: a changed role,
    /// unit or state takes effect at once, and a disabled account is signed out.
    async fn update(&self, username: &str, profile: &AccountProfile) -> Result<(), StoreError>;

    /// Replaces the password hash (lifting any lock) and ends the account's sessions. An account
    /// the identity provider vouches for has no password here: [`StoreError::NotFound`].
    async fn set_password(&self, username: &str, password_hash: &str) -> Result<(), StoreError>;

    /// Counts a failed sign-in at `now`; the `max`-th failure in a row locks the account for
    /// `lock_seconds`. One statement, so concurrent failures are all counted.
    async fn record_failure(
        &self,
        username: &str,
        now: i64,
        max: u32,
        lock_seconds: i64,
    ) -> Result<Failure, StoreError>;

    /// Lifts a lock and forgets earlier failures (after a successful sign-in, or by an
    /// administrator).
    async fn clear_failures(&self, username: &str) -> Result<(), StoreError>;

    /// Starts a session. Expired sessions are swept in the same transaction.
    async fn create_session(
        &self,
        token_hash: &[u8; 32],
        username: &str,
        csrf: &str,
        now: i64,
        expires_at: i64,
    ) -> Result<(), StoreError>;

    /// The live session with this token hash at `now`, with its account — none if it expired,
    /// was left unused for `idle_seconds` (within [`TOUCH_SECONDS`]),
    /// or its account is disabled or locked.
    async fn session(
        &self,
        token_hash: &[u8; 32],
        now: i64,
        idle_seconds: i64,
    ) -> Result<Option<Session>, StoreError>;

    /// Records the profile the identity provider vouched for at `now`: adds the account the first
    /// time, replaces its profile (not whether an administrator disabled it) afterwards, and
    /// returns it. A local account of the same username is left alone:
    /// [`StoreError::Duplicate`].
    async fn sign_in_external(
        &self,
        username: &str,
        profile: &AccountProfile,
        now: i64,
    ) -> Result<Account, StoreError>;

    /// Keeps a sign-in under way at the identity provider until `expires_at`, under the hash of
    /// the browser's flow cookie. Lapsed ones are swept in the same transaction.
    async fn begin_flow(
        &self,
        token_hash: &[u8; 32],
        flow: &SignInFlow,
        now: i64,
        expires_at: i64,
    ) -> Result<(), StoreError>;

    /// Takes the sign-in under way with this cookie hash, if it has not lapsed at `now`: it can
    /// be taken once.
    async fn take_flow(
        &self,
        token_hash: &[u8; 32],
        now: i64,
    ) -> Result<Option<SignInFlow>, StoreError>;

    /// Ends a session (sign-out). Ending one that does not exist is not an error.
    async fn end_session(&self, token_hash: &[u8; 32]) -> Result<(), StoreError>;
}
