//! The local API's OpenAPI document says how a caller authenticates and what a refusal looks
//! like: two security schemes (a client certificate from the agency's CA, a bearer access
//! token), required by every operation but the public ones, each of which lists 401, 403 and
//! 421 among its answers.

use utbyte_api::paths;
use utoipa::openapi::security::{Http, HttpAuthScheme, SecurityRequirement, SecurityScheme};
use utoipa::openapi::OpenApi;

/// The paths anyone who can reach the listener may call.
const PUBLIC: [&str; 4] = [
    paths::HEALTHZ,
    paths::READYZ,
    paths::METRICS,
    paths::OPENAPI,
];

/// Use as `modifiers(&LocalAccess)`, after `EdgeProblems`.
pub(crate) struct LocalAccess;

impl utoipa::Modify for LocalAccess {
    fn modify(&self, openapi: &mut OpenApi) {
        let components = openapi.components.get_or_insert_with(Default::default);
        components.add_security_scheme(
            "client_certificate",
            SecurityScheme::MutualTls {
                description: Some(
                    "A client certificate from the agency's own CA; its commonName is the client's id in the node's [access] configuration"
                        .into(),
                ),
                extensions: None,
            },
        );
        let mut bearer = Http::new(HttpAuthScheme::Bearer);
        bearer.bearer_format = Some("JWT".into());
        bearer.description = Some(
            "An OAuth 2.0 access token (RFC 9068) from the agency's authorization server; an officer assertion may come in the Utbyte-Officer-Assertion header"
                .into(),
        );
        components.add_security_scheme("access_token", SecurityScheme::Http(bearer));
        openapi.security = Some(vec![
            SecurityRequirement::new("client_certificate", Vec::<String>::new()),
            SecurityRequirement::new("access_token", Vec::<String>::new()),
        ]);
        for (path, item) in openapi.paths.paths.iter_mut() {
            let public = PUBLIC.contains(&path.as_str());
            for operation in utbyte_http::openapi::operations_mut(item) {
                if public {
                    // An empty list overrides the document's: no credentials needed.
                    operation.security = Some(Vec::new());
                    continue;
                }
                use crate::problems::{
                    FORBIDDEN, HOST_NOT_ALLOWED, KEYS_UNAVAILABLE, UNAUTHENTICATED,
                };
                for (kind, why) in [
                    (UNAUTHENTICATED, "no credentials, or credentials that are not valid (`reason` says which)"),
                    (FORBIDDEN, "the client may not do this, or not for the unit, role or officer named (`reason` says which)"),
                    (HOST_NOT_ALLOWED, "the Host header names none of the node's local addresses"),
                    (KEYS_UNAVAILABLE, "the token issuer's keys cannot be read now"),
                ] {
                    utbyte_http::openapi::add_problem(operation, kind, why);
                }
            }
        }
    }
}
