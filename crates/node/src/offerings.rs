//! What the authority's own systems (and the portal) need to compose a request: the offerings
//! of the federation with their fields, the legal bases and purposes an officer can claim for
//! one, and the offerings this node itself publishes. Read off the shared rulebook, so nothing
//! here is typed twice.

use crate::problems;
use crate::state::NodeState;
use axum::extract::{Path, Query, State};
use axum::routing::get;
use axum::Router;
use serde::{Deserialize, Serialize};
use std::sync::Arc;
use time::OffsetDateTime;
use utbyte_http::{Json, Problem};
use utbyte_rules::vocabulary::Offering;
use utbyte_rules::{Class, Rulebook};

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

/// A purpose with its title.
#[derive(Debug, Clone, Serialize, Deserialize, utoipa::ToSchema)]
pub struct Named {
    pub id: String,
    pub title: String,
}

/// A legal basis an officer can claim, with the purposes it can be claimed for.
#[derive(Debug, Clone, Serialize, Deserialize, utoipa::ToSchema)]
pub struct BasisOption {
    /// The provision id to put in `legal_basis`.
    pub legal_basis: String,
    /// Its short name, e.g. `LUFFA`.
    pub short: String,
    pub title: String,
    /// `disclose` (answered automatically when every condition holds) or `review` (a human at
    /// the provider assesses it).
    pub class: String,
    /// The provision the grant cites.
    pub citation: String,
    pub purposes: Vec<Named>,
}

/// What an officer of `unit` in `role` can claim for an offering today.
#[derive(Debug, Clone, Serialize, Deserialize, utoipa::ToSchema)]
pub struct RequestOptions {
    pub offering: OfferingView,
    pub options: Vec<BasisOption>,
}

#[derive(Debug, Deserialize, utoipa::IntoParams)]
pub(crate) struct OptionsQuery {
    /// The officer's unit (a unit of this node's authority).
    unit: String,
    /// The officer's role as the rulebook knows it.
    role: String,
}

/// This node's authority as the rulebook names it, with its units.
#[derive(Debug, Clone, Serialize, Deserialize, utoipa::ToSchema)]
pub struct AuthorityView {
    pub id: String,
    pub name: String,
    pub orgnr: String,
    pub units: Vec<Named>,
}

pub(crate) fn routes() -> Router<Arc<NodeState>> {
    Router::new()
        .route("/v1/authority", get(authority))
        .route("/v1/offerings", get(list))
        .route("/v1/offerings/{id}/options", get(options))
}

fn loaded(state: &NodeState) -> Result<Arc<Rulebook>, Problem> {
    state
        .rulebook()
        .ok_or_else(|| problems::NO_CONFIGURATION.with("the shared rulebook is not loaded yet"))
}

fn view(rulebook: &Rulebook, offering: &Offering, here: &str) -> OfferingView {
    let provider_name = rulebook
        .vocabulary
        .authorities
        .get(&offering.provider)
        .map_or_else(|| offering.provider.clone(), |a| a.name.clone());
    OfferingView {
        id: offering.id.clone(),
        title: offering.title.clone(),
        provider: offering.provider.clone(),
        provider_name,
        secrecy: offering.secrecy.clone(),
        fields: offering
            .fields()
            .map(|(category, field)| OfferingField {
                id: field.id.clone(),
                title: field.title.clone(),
                category: category.id.clone(),
                category_title: category.title.clone(),
            })
            .collect(),
        published_here: offering.provider == here,
    }
}

/// This node's authority and its units.
#[utoipa::path(
    operation_id = "offerings_authority",
    get,
    path = "/v1/authority",
    tag = "consumer",
    responses(
        (status = 200, description = "The authority this node serves", body = AuthorityView),
        (status = 503, description = "No rulebook loaded yet", body = Problem, content_type = "application/problem+json"),
    )
)]
pub(crate) async fn authority(
    State(state): State<Arc<NodeState>>,
) -> Result<Json<AuthorityView>, Problem> {
    let rulebook = loaded(&state)?;
    let known = rulebook
        .vocabulary
        .authorities
        .get(&state.authority)
        .ok_or_else(|| {
            problems::NO_CONFIGURATION.with(format!(
                "the shared rulebook does not name this node's authority `{}`",
                state.authority
            ))
        })?;
    Ok(Json(AuthorityView {
        id: known.id.clone(),
        name: known.name.clone(),
        orgnr: known.orgnr.clone(),
        units: known
            .units
            .iter()
            .map(|u| Named {
                id: u.id.clone(),
                title: u.name.clone(),
            })
            .collect(),
    }))
}

/// Every offering in the federation's rulebook.
#[utoipa::path(
    operation_id = "offerings_list",
    get,
    path = "/v1/offerings",
    tag = "consumer",
    responses(
        (status = 200, description = "The offerings, by id", body = [OfferingView]),
        (status = 503, description = "No rulebook loaded yet", body = Problem, content_type = "application/problem+json"),
    )
)]
pub(crate) async fn list(
    State(state): State<Arc<NodeState>>,
) -> Result<Json<Vec<OfferingView>>, Problem> {
    let rulebook = loaded(&state)?;
    Ok(Json(
        rulebook
            .vocabulary
            .offerings
            .values()
            .map(|o| view(&rulebook, o, &state.authority))
            .collect(),
    ))
}

/// The legal bases and purposes an officer of this authority can claim for an offering today,
/// by unit and role — an upper bound read off the rulebook's grants; the decision on a request
/// is what counts.
#[utoipa::path(
    operation_id = "offerings_options",
    get,
    path = "/v1/offerings/{id}/options",
    tag = "consumer",
    params(("id" = String, Path, description = "The offering"), OptionsQuery),
    responses(
        (status = 200, description = "The offering and what can be claimed for it", body = RequestOptions),
        (status = 404, description = "No such offering", body = Problem, content_type = "application/problem+json"),
        (status = 422, description = "The unit is not one of this authority's", body = Problem, content_type = "application/problem+json"),
        (status = 503, description = "No rulebook loaded yet", body = Problem, content_type = "application/problem+json"),
    )
)]
pub(crate) async fn options(
    State(state): State<Arc<NodeState>>,
    Path(id): Path<String>,
    Query(query): Query<OptionsQuery>,
) -> Result<Json<RequestOptions>, Problem> {
    let rulebook = loaded(&state)?;
    let offering = rulebook.vocabulary.offerings.get(&id).ok_or_else(|| {
        problems::UNKNOWN_OFFERING.with(format!(
            "offering `{id}` is not in the federation's rulebook"
        ))
    })?;
    if rulebook.vocabulary.unit_authority.get(&query.unit) != Some(&state.authority) {
        return Err(problems::INVALID_REQUEST.with(format!(
            "`{}` is not a unit of {}",
            query.unit, state.authority
        )));
    }
    let today = OffsetDateTime::now_utc().date();
    let options = rulebook
        .request_options(&id, &state.authority, &query.unit, &query.role, today)
        .into_iter()
        .map(|option| {
            let provision = rulebook.vocabulary.provisions.get(&option.legal_basis);
            BasisOption {
                short: provision.map_or_else(|| option.legal_basis.clone(), |p| p.short.clone()),
                title: provision.map_or_else(String::new, |p| p.title.clone()),
                legal_basis: option.legal_basis,
                class: match option.class {
                    Class::Disclose => "disclose",
                    _ => "review",
                }
                .to_owned(),
                citation: option.citation.to_string(),
                purposes: option
                    .purposes
                    .into_iter()
                    .map(|id| Named {
                        title: rulebook
                            .vocabulary
                            .purposes
                            .get(&id)
                            .map_or_else(|| id.clone(), |p| p.title.clone()),
                        id,
                    })
                    .collect(),
            }
        })
        .collect();
    Ok(Json(RequestOptions {
        offering: view(&rulebook, offering, &state.authority),
        options,
    }))
}
