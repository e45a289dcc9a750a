//! What handlers see of the gate's work: the authenticated [`Who`], the duty an endpoint
//! requires, and whether the caller may act for the officer a request names; and the
//! [`Refusal`] every access check ends in, counted by reason and logged without credentials.

use super::OFFICER_ASSERTION;
use crate::state::NodeState;
use axum::extract::FromRequestParts;
use axum::http::request::Parts;
use axum::http::{header, HeaderValue};
use axum::response::{IntoResponse, Response};
use std::sync::Arc;
use utbyte_access::TokenError;
use utbyte_api::access::{Caller, Duty, Vouch};
use utbyte_http::Problem;

/// A request the gate or a handler turned away, with the reason's stable name.
#[derive(Debug)]
pub struct Refusal {
    problem: Problem,
    pub(super) reason: &'static str,
}

impl Refusal {
    pub(super) fn unauthenticated(reason: &'static str, detail: &str) -> Self {
        Self {
            problem: crate::problems::UNAUTHENTICATED
                .with(detail)
                .with_extension("reason", reason),
            reason,
        }
    }

    pub(super) fn forbidden(reason: &'static str, detail: &str) -> Self {
        Self {
            problem: crate::problems::FORBIDDEN
                .with(detail)
                .with_extension("reason", reason),
            reason,
        }
    }

    pub(super) fn token(error: TokenError) -> Self {
        if let TokenError::KeysUnavailable(detail) = &error {
            // The node cannot judge the token: its own fault, not the client's.
            tracing::error!(%detail, "the token issuer's keys cannot be read");
            return Self {
                problem: crate::problems::KEYS_UNAVAILABLE
                    .with("the issuer's keys cannot be read now; try again shortly"),
                reason: error.reason(),
            };
        }
        Self::unauthenticated(error.reason(), &error.to_string())
    }
}

impl IntoResponse for Refusal {
    fn into_response(self) -> Response {
        let unauthenticated = self.problem.status == 401;
        let mut response = self.problem.into_response();
        if unauthenticated {
            response.headers_mut().insert(
                header::WWW_AUTHENTICATE,
                HeaderValue::from_static("Bearer realm=\"utbyte\""),
            );
        }
        response
    }
}

/// The authenticated caller of a handler; a request without credentials is refused 401.
#[derive(Debug, Clone)]
pub struct Who {
    pub caller: Caller,
    state: Arc<NodeState>,
}

impl FromRequestParts<Arc<NodeState>> for Who {
    type Rejection = Refusal;

    async fn from_request_parts(
        parts: &mut Parts,
        state: &Arc<NodeState>,
    ) -> Result<Self, Self::Rejection> {
        match parts.extensions.get::<Caller>() {
            Some(caller) => Ok(Who {
                caller: caller.clone(),
                state: Arc::clone(state),
            }),
            None => {
                let refusal = Refusal::unauthenticated(
                    "credentials-missing",
                    "this endpoint needs a client certificate or an access token",
                );
                state.metrics.access_refused(refusal.reason);
                Err(refusal)
            }
        }
    }
}

impl From<Refusal> for Problem {
    fn from(refusal: Refusal) -> Self {
        refusal.problem
    }
}

/// An officer the caller may act for, as a request names them.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Acting {
    pub officer: String,
    pub unit: String,
    pub role: String,
    /// Who vouched: the client, and how.
    pub client: String,
    pub vouch: Vouch,
}

impl Who {
    fn refused(&self, refusal: Refusal) -> Problem {
        self.state.metrics.access_refused(refusal.reason);
        tracing::warn!(reason = refusal.reason, client = %self.caller.client, "local API call refused");
        refusal.problem
    }

    /// A refusal a handler decides on (counted and logged like the gate's).
    pub(crate) fn forbid(&self, reason: &'static str, detail: &str) -> Problem {
        self.refused(Refusal::forbidden(reason, detail))
    }

    /// Refuses a caller whose client does not have `duty`.
    pub fn require(&self, duty: Duty) -> Result<&Caller, Problem> {
        if self.caller.may(duty) {
            Ok(&self.caller)
        } else {
            Err(self.refused(Refusal::forbidden(
                "duty-not-allowed",
                &format!(
                    "client `{}` may not {}",
                    self.caller.client,
                    duty_text(duty)
                ),
            )))
        }
    }

    /// Checks that the caller may act for `officer` in `unit` and `role`, as a request names
    /// them: the client's configuration allows the unit and role, and the officer is the one
    /// a session or assertion vouched for (or the client is trusted to say so itself).
    pub fn acting(&self, officer: &str, unit: &str, role: &str) -> Result<Acting, Problem> {
        self.check_acting(officer, unit, role)
            .map_err(|refusal| self.refused(refusal))
    }

    fn check_acting(&self, officer: &str, unit: &str, role: &str) -> Result<Acting, Refusal> {
        let caller = &self.caller;
        if !caller.units.is_empty() && !caller.units.iter().any(|u| u == unit) {
            return Err(Refusal::forbidden(
                "unit-not-allowed",
                &format!("client `{}` may not act for unit `{unit}`", caller.client),
            ));
        }
        if !caller.roles.is_empty() && !caller.roles.iter().any(|r| r == role) {
            return Err(Refusal::forbidden(
                "role-not-allowed",
                &format!("client `{}` may not act in role `{role}`", caller.client),
            ));
        }
        match (&caller.officer, caller.vouch) {
            (Some(vouched), _) => {
                if vouched.id != officer {
                    return Err(Refusal::forbidden(
                        "officer-not-vouched",
                        "the officer named is not the one the assertion or session vouches for",
                    ));
                }
                if vouched.unit != unit {
                    return Err(Refusal::forbidden(
                        "unit-not-vouched",
                        &format!("the officer is vouched for in another unit than `{unit}`"),
                    ));
                }
                if !vouched.roles.iter().any(|r| r == role) {
                    return Err(Refusal::forbidden(
                        "role-not-vouched",
                        &format!("the officer is not vouched for in role `{role}`"),
                    ));
                }
            }
            (None, Vouch::Client) => {}
            (None, _) => {
                return Err(Refusal::unauthenticated(
                    "assertion-missing",
                    &format!(
                        "client `{}` must forward an officer assertion in the `{OFFICER_ASSERTION}` header",
                        caller.client
                    ),
                ))
            }
        }
        tracing::info!(client = %caller.client, vouch = ?caller.vouch, "officer vouched for");
        Ok(Acting {
            officer: officer.to_owned(),
            unit: unit.to_owned(),
            role: role.to_owned(),
            client: caller.client.clone(),
            vouch: caller.vouch,
        })
    }
}

fn duty_text(duty: Duty) -> &'static str {
    match duty {
        Duty::Request => "make requests",
        Duty::Review => "work the review queue",
        Duty::Audit => "read the audit ledger",
        Duty::Admin => "administer this node",
    }
}
