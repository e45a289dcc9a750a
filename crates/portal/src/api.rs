//! The portal's way into the node: its local API, called in-process. The portal holds no
//! exchange logic of its own — every request, decision and ledger read goes through the same
//! API the authority's case systems use, so the rules and the audit trail cannot be bypassed
//! from a browser.

use axum::body::Body;
use axum::Router;
use http::{Method, Request, StatusCode};
use http_body_util::BodyExt;
use serde::de::DeserializeOwned;
use serde::Serialize;
use tower::ServiceExt;
use utbyte_api::access::{Caller, Duty, Officer, Vouch, PORTAL_CLIENT};

use crate::identity::{Identity, Role};

/// Largest API answer the portal reads (a subject report with proofs can be large).
const MAX_ANSWER: usize = 16 << 20;

/// The node's local API.
#[derive(Clone)]
pub struct NodeApi {
    router: Router,
    /// Who the calls are made for; none: the calls carry no caller and the node refuses
    /// every endpoint that needs one.
    caller: Option<Caller>,
}

/// An API answer that is not a success: the problem+json it carried.
#[derive(Debug, Clone)]
pub struct ApiProblem {
    pub status: StatusCode,
    pub title: String,
    pub detail: String,
    pub problem_type: String,
}

impl ApiProblem {
    fn internal(detail: impl Into<String>) -> Self {
        Self {
            status: StatusCode::INTERNAL_SERVER_ERROR,
            title: "Internal error".into(),
            detail: detail.into(),
            problem_type: String::new(),
        }
    }
}

/// A successful answer: its status (200 or 202 matter to the portal) and body.
pub struct Answer<T> {
    pub status: StatusCode,
    pub body: T,
    /// For a page of a list, the cursor its next page starts after, if there is one.
    pub next: Option<String>,
}

impl NodeApi {
    pub fn new(router: Router) -> Self {
        Self {
            router,
            caller: None,
        }
    }

    /// The API as `person` calls it: the portal is the client, its session vouches for the
    /// officer, and the person's portal roles are the duties.
    pub fn acting_for(&self, person: &Identity) -> Self {
        let duties = person
            .roles
            .iter()
            .map(|role| match role {
                Role::Officer => Duty::Request,
                Role::Reviewer => Duty::Review,
                Role::Auditor => Duty::Audit,
                Role::Admin => Duty::Admin,
            })
            .collect();
        Self {
            router: self.router.clone(),
            caller: Some(Caller {
                client: PORTAL_CLIENT.to_owned(),
                duties,
                units: vec![person.unit.clone()],
                roles: vec![person.officer_role.clone()],
                officer: Some(Officer {
                    id: person.username.clone(),
                    unit: person.unit.clone(),
                    roles: vec![person.officer_role.clone()],
                }),
                vouch: Vouch::Session,
            }),
        }
    }

    pub async fn get<T: DeserializeOwned>(&self, path: &str) -> Result<T, ApiProblem> {
        Ok(self.call::<T, ()>(Method::GET, path, None, &[]).await?.body)
    }

    /// A page of a list, with the cursor of the page after it.
    pub async fn get_page<T: DeserializeOwned>(
        &self,
        path: &str,
    ) -> Result<(Vec<T>, Option<String>), ApiProblem> {
        let answer = self
            .call::<Vec<T>, ()>(Method::GET, path, None, &[])
            .await?;
        Ok((answer.body, answer.next))
    }

    pub async fn post<T: DeserializeOwned, B: Serialize>(
        &self,
        path: &str,
        body: &B,
        headers: &[(&str, &str)],
    ) -> Result<Answer<T>, ApiProblem> {
        self.call(Method::POST, path, Some(body), headers).await
    }

    /// `request` passed to the API as it is, its body and the answer's streamed: for what the
    /// portal relays rather than reads (a file uploaded from the browser, a file fetched).
    pub async fn forward(&self, mut request: Request<Body>) -> http::Response<Body> {
        if let Some(caller) = &self.caller {
            request.extensions_mut().insert(caller.clone());
        }
        match self.router.clone().oneshot(request).await {
            Ok(response) => response,
            Err(never) => match never {},
        }
    }

    /// A failed answer's problem, read from its body.
    pub async fn problem_of(response: http::Response<Body>) -> ApiProblem {
        let status = response.status();
        let bytes = http_body_util::Limited::new(response.into_body(), MAX_ANSWER)
            .collect()
            .await
            .map(|b| b.to_bytes())
            .unwrap_or_default();
        problem(status, &bytes)
    }

    async fn call<T: DeserializeOwned, B: Serialize>(
        &self,
        method: Method,
        path: &str,
        body: Option<&B>,
        headers: &[(&str, &str)],
    ) -> Result<Answer<T>, ApiProblem> {
        let mut request = Request::builder().method(method).uri(path);
        for (name, value) in headers {
            request = request.header(*name, *value);
        }
        let request = match body {
            Some(body) => {
                let json =
                    serde_json::to_vec(body).map_err(|e| ApiProblem::internal(e.to_string()))?;
                request
                    .header(http::header::CONTENT_TYPE, "application/json")
                    .body(Body::from(json))
            }
            None => request.body(Body::empty()),
        }
        .map_err(|e| ApiProblem::internal(e.to_string()))?;
        let mut request = request;
        if let Some(caller) = &self.caller {
            request.extensions_mut().insert(caller.clone());
        }
        let response = self
            .router
            .clone()
            .oneshot(request)
            .await
            .map_err(|e| ApiProblem::internal(e.to_string()))?;
        let status = response.status();
        let next = response
            .headers()
            .get(http::header::LINK)
            .and_then(|link| link.to_str().ok())
            .and_then(next_cursor);
        let bytes = http_body_util::Limited::new(response.into_body(), MAX_ANSWER)
            .collect()
            .await
            .map_err(|e| ApiProblem::internal(e.to_string()))?
            .to_bytes();
        if !status.is_success() {
            return Err(problem(status, &bytes));
        }
        let body = serde_json::from_slice(&bytes)
            .map_err(|e| ApiProblem::internal(format!("the node's answer to {path}: {e}")))?;
        Ok(Answer { status, body, next })
    }
}

/// The problem+json of an answer that is not a success.
fn problem(status: StatusCode, body: &[u8]) -> ApiProblem {
    let problem: serde_json::Value = serde_json::from_slice(body).unwrap_or_default();
    let text = |key: &str| problem[key].as_str().unwrap_or_default().to_owned();
    ApiProblem {
        status,
        title: text("title"),
        detail: text("detail"),
        problem_type: text("type"),
    }
}

/// The `after` of the `rel="next"` link in a list's `Link` header: the node writes exactly one
/// link, `<PATH?...&after=CURSOR>; rel="next"`.
fn next_cursor(link: &str) -> Option<String> {
    let (target, params) = link.strip_prefix('<')?.split_once('>')?;
    if params.trim() != "; rel=\"next\"" {
        return None;
    }
    let (_, query) = target.split_once('?')?;
    query
        .split('&')
        .find_map(|pair| pair.strip_prefix("after="))
        .map(str::to_owned)
}

#[cfg(test)]
mod tests {
    use super::next_cursor;

    #[test]
    fn the_cursor_is_read_from_the_next_link_only() {
        let next = next_cursor("</v1/requests?officer=anna&limit=51&after=00000000000000110000000000000004>; rel=\"next\"");
        assert_eq!(next.as_deref(), Some("00000000000000110000000000000004"));
        assert_eq!(
            next_cursor("</v1/requests?after=00000000000000110000000000000004>; rel=\"prev\""),
            None
        );
        assert_eq!(next_cursor("</v1/requests?limit=5>; rel=\"next\""), None);
        assert_eq!(
            next_cursor("/v1/requests?after=00000000000000010000000000000002"),
            None
        );
    }
}
