//! The contract of [`AccountStore`](crate::AccountStore): the portal's local accounts and their
//! sessions. The store keeps what it is given — a password hash, never a password; a token's
//! hash, never a token — and enforces only what must hold whatever the caller: usernames are
//! unique, a failed sign-in is counted atomically, and a locked or disabled account has no
//! session.

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
