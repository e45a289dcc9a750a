//! Who is calling the local API, as the node established it: the client system (case system,
//! the portal), the duties the node's configuration gives it, and the officer it acts for
//! with how that officer was vouched for. The node puts a [`Caller`] on every authenticated
//! request; the portal, which calls the API in-process, puts one built from its session.
//! Nothing in a request body can make or change one.

use serde::{Deserialize, Serialize};

/// The client name the portal's in-process calls carry; a node's configuration cannot give it
/// to any other client.
pub const PORTAL_CLIENT: &str = "portal";

/// What a caller may do on the local API; every endpoint belongs to one duty.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Duty {
    /// Ask other authorities and read the answers (handläggare).
    Request,
    /// Work this authority's review queue and decide (jurist).
    Review,
    /// Read and verify the ledger, answer subject-access requests (granskare).
    Audit,
    /// Administer the node: callbacks and their replay (administratör).
    Admin,
}

impl Duty {
    pub const ALL: [Duty; 4] = [Duty::Request, Duty::Review, Duty::Audit, Duty::Admin];

    /// The name configuration files and problems use.
    pub fn as_str(self) -> &'static str {
        match self {
            Duty::Request => "request",
            Duty::Review => "review",
            Duty::Audit => "audit",
            Duty::Admin => "admin",
        }
    }
}

/// How the officer a caller acts for is known.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum Vouch {
    /// A portal session: the person signed in.
    Session,
    /// A signed assertion from the agency's identity provider, forwarded by the client.
    Assertion,
    /// The client's own word, which the node's configuration trusts it to give.
    Client,
}

impl Vouch {
    /// The name the audit trail and the provider read.
    pub fn as_str(self) -> &'static str {
        match self {
            Vouch::Session => "session",
            Vouch::Assertion => "assertion",
            Vouch::Client => "client",
        }
    }
}

/// Which of this authority's systems vouched for a request's officer, and how: the node sets it
/// from the caller's credentials; the ledger and the provider see it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct VouchedBy {
    /// The client system, by its id in the node's configuration (`portal` for the portal).
    pub client: String,
    pub vouch: Vouch,
}

/// The officer a call is made for, as vouched.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Officer {
    /// The officer's user id at the agency.
    pub id: String,
    pub unit: String,
    /// The roles (the rulebook's `context.role`) the officer holds.
    pub roles: Vec<String>,
}

/// An authenticated caller of the local API.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Caller {
    /// The client system, by its id in the node's configuration (`portal` for the portal).
    pub client: String,
    /// What the client may do.
    pub duties: Vec<Duty>,
    /// The units the client may act for; empty: any unit of this authority.
    pub units: Vec<String>,
    /// The roles the client may act in; empty: any role.
    pub roles: Vec<String>,
    /// The officer, when one was vouched for by a session or an assertion. `None` with
    /// [`Vouch::Client`]: the request names the officer and the client's word stands for it.
    pub officer: Option<Officer>,
    pub vouch: Vouch,
}

impl Caller {
    pub fn may(&self, duty: Duty) -> bool {
        self.duties.contains(&duty)
    }
}
