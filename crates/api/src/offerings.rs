//! What a requester needs to compose a request: this authority, the federation's offerings
//! with their fields, and the legal bases and purposes an officer can claim for one.

use serde::{Deserialize, Serialize};

/// One field of an offering.
#[derive(Debug, Clone, Serialize, Deserialize, utoipa::ToSchema)]
pub struct OfferingField {
    pub id: String,
    pub title: String,
    /// The category the field belongs to (what the rulebook decides by).
    pub category: String,
    pub category_title: String,
}

/// An offering as a requester sees it.
#[derive(Debug, Clone, Serialize, Deserialize, utoipa::ToSchema)]
pub struct OfferingView {
    pub id: String,
    pub title: String,
    pub provider: String,
    pub provider_name: String,
    /// The secrecy provision the offering's data sits under.
    pub secrecy: String,
    pub fields: Vec<OfferingField>,
    /// Whether this node publishes it.
    pub published_here: bool,
}

/// An id with its title (a purpose, a unit).
#[derive(Debug, Clone, Serialize, Deserialize, utoipa::ToSchema)]
pub struct Named {
    pub id: String,
    pub title: String,
}

/// How a legal basis is decided when its conditions hold.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum GrantClass {
    /// Answered automatically.
    Disclose,
    /// A human at the provider assesses it.
    Review,
}

/// A legal basis an officer can claim, with the purposes it can be claimed for.
#[derive(Debug, Clone, Serialize, Deserialize, utoipa::ToSchema)]
pub struct BasisOption {
    /// The provision id to put in `legal_basis`.
    pub legal_basis: String,
    /// Its short name, e.g. `LUFFA`.
    pub short: String,
    pub title: String,
    pub class: GrantClass,
    /// The provision the grant cites.
    pub citation: String,
    pub purposes: Vec<Named>,
}

/// What an officer of a unit in a role can claim for an offering today.
#[derive(Debug, Clone, Serialize, Deserialize, utoipa::ToSchema)]
pub struct RequestOptions {
    pub offering: OfferingView,
    pub options: Vec<BasisOption>,
}

/// Whose options to read.
#[derive(Debug, Clone, Serialize, Deserialize, utoipa::IntoParams)]
#[serde(deny_unknown_fields)]
pub struct OptionsQuery {
    /// The officer's unit (a unit of this node's authority).
    pub unit: String,
    /// The officer's role as the rulebook knows it.
    pub role: String,
}

/// This node's authority as the rulebook names it, with its units.
#[derive(Debug, Clone, Serialize, Deserialize, utoipa::ToSchema)]
pub struct AuthorityView {
    pub id: String,
    pub name: String,
    pub orgnr: String,
    pub units: Vec<Named>,
}
