//! What the authority's own systems (and the portal) need to compose a request: the offerings
//! of the federation with their fields, the legal bases and purposes an officer can claim for
//! one, and the offerings this node itself publishes. Read off the shared rulebook, so nothing
//! here is typed twice.

use crate::access::Who;
use crate::problems;
use crate::state::NodeState;
use axum::extract::State;
use axum::routing::get;
use axum::Router;
use std::sync::Arc;
use time::OffsetDateTime;
use utbyte_api::offerings::{
    AuthorityView, BasisOption, GrantClass, Named, OfferingField, OfferingView, OptionsQuery,
    RequestOptions,
};
use utbyte_api::paths;
use utbyte_http::{Json, Path, Problem, Query};
use utbyte_rules::vocabulary::Offering;
use utbyte_rules::{Class, Rulebook};

pub(crate) fn routes() -> Router<Arc<NodeState>> {
    Router::new()
        .route(paths::AUTHORITY, get(authority))
        .route(paths::OFFERINGS, get(list))
        .route(paths::OFFERING_OPTIONS, get(options))
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
    path = paths::AUTHORITY,
    tag = "consumer",
    responses(
        (status = 200, description = "The authority this node serves", body = AuthorityView),
        (status = 503, description = "No rulebook loaded yet", body = Problem, content_type = "application/problem+json"),
    )
)]
pub(crate) async fn authority(
    State(state): State<Arc<NodeState>>,
    _who: Who,
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

/// Every offering in the federation's rulebook that can be asked for (not the notice kinds
/// authorities send on their own initiative).
#[utoipa::path(
    operation_id = "offerings_list",
    get,
    path = paths::OFFERINGS,
    tag = "consumer",
    responses(
        (status = 200, description = "The offerings, by id", body = [OfferingView]),
        (status = 503, description = "No rulebook loaded yet", body = Problem, content_type = "application/problem+json"),
    )
)]
pub(crate) async fn list(
    State(state): State<Arc<NodeState>>,
    _who: Who,
) -> Result<Json<Vec<OfferingView>>, Problem> {
    let rulebook = loaded(&state)?;
    Ok(Json(
        rulebook
            .vocabulary
            .offerings
            .values()
            .filter(|o| !o.notice)
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
    path = paths::OFFERING_OPTIONS,
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
    _who: Who,
    Path(id): Path<String>,
    Query(query): Query<OptionsQuery>,
) -> Result<Json<RequestOptions>, Problem> {
    let rulebook = loaded(&state)?;
    let offering = rulebook
        .vocabulary
        .offerings
        .get(&id)
        .filter(|o| !o.notice)
        .ok_or_else(|| {
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
    let today = utbyte_domain::legal_time::swedish_date(OffsetDateTime::now_utc());
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
                    Class::Disclose => GrantClass::Disclose,
                    _ => GrantClass::Review,
                },
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
