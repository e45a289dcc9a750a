//! What the HTTP edge adds to every OpenAPI document: the problems any operation can answer
//! because of the edge itself (the limits, the extractors), so that each operation lists every
//! status it can return, not only those its handler produces.

use crate::extract::{INVALID_PATH, INVALID_QUERY};
use crate::limits::Limits;
use crate::problem::{types, ProblemType};
use utoipa::openapi::path::{Operation, ParameterIn};
use utoipa::openapi::{ContentBuilder, OpenApi, PathItem, Ref, RefOr, ResponseBuilder};

/// Adds the edge's problems to every operation and the limits to the document's description.
/// Use as `modifiers(&EdgeProblems)`; the schema named `Problem` must be among the components.
pub struct EdgeProblems;

impl utoipa::Modify for EdgeProblems {
    fn modify(&self, openapi: &mut OpenApi) {
        let limits = Limits::default();
        let note = format!(
            "\n\nLimits: a request body of at most {} bytes (`limits.body_bytes`), an answer within \
             {} ms (`limits.request_timeout_ms`); both configurable per node. Every error is RFC 9457 \
             problem+json whose `type` is stable (`urn:utbyte:problem:<slug>`).",
            limits.body_bytes,
            limits.request_timeout.as_millis()
        );
        let description = openapi.info.description.get_or_insert_with(String::new);
        if !description.contains("Limits: ") {
            description.push_str(&note);
        }
        for item in openapi.paths.paths.values_mut() {
            for operation in operations_mut(item) {
                add_edge_problems(operation);
            }
        }
    }
}

/// Every operation of a path item (the methods the APIs use).
pub fn operations_mut(item: &mut PathItem) -> impl Iterator<Item = &mut Operation> {
    [
        &mut item.get,
        &mut item.put,
        &mut item.post,
        &mut item.delete,
        &mut item.patch,
    ]
    .into_iter()
    .flatten()
}

/// Declares a listener's only way in: a client certificate from the federation CA (the node's
/// federation listener, the directory).
pub struct MutualTls;

impl utoipa::Modify for MutualTls {
    fn modify(&self, openapi: &mut OpenApi) {
        use utoipa::openapi::security::{SecurityRequirement, SecurityScheme};
        openapi
            .components
            .get_or_insert_with(Default::default)
            .add_security_scheme(
                "federation_certificate",
                SecurityScheme::MutualTls {
                    description: Some(
                        "A certificate issued by the federation CA; the caller is the authority it names"
                            .into(),
                    ),
                    extensions: None,
                },
            );
        openapi.security = Some(vec![SecurityRequirement::new(
            "federation_certificate",
            Vec::<String>::new(),
        )]);
    }
}

fn add_edge_problems(operation: &mut Operation) {
    let has = |place: ParameterIn| {
        operation
            .parameters
            .iter()
            .flatten()
            .any(|p| p.parameter_in == place)
    };
    let mut problems: Vec<(ProblemType, &str)> = Vec::new();
    if has(ParameterIn::Path) {
        problems.push((INVALID_PATH, "a path parameter cannot be read"));
    }
    if has(ParameterIn::Query) {
        problems.push((
            INVALID_QUERY,
            "a query parameter is unknown, missing or not of its type",
        ));
    }
    if operation.request_body.is_some() {
        problems.push((
            types::MALFORMED_BODY,
            "the body is not the JSON this operation takes",
        ));
        problems.push((types::BODY_TOO_LARGE, "the body is over the size limit"));
        problems.push((
            types::UNSUPPORTED_MEDIA_TYPE,
            "the body is not `application/json`",
        ));
    }
    problems.push((types::TIMEOUT, "no answer within the time limit"));
    problems.push((
        types::INTERNAL,
        "the node failed in a way it could not attribute",
    ));
    for (kind, why) in problems {
        add_problem(operation, kind, why);
    }
}

/// Adds problem `kind` to what `operation` may answer, saying `why`: to the response of its
/// status if the operation has one, else as a new response of problem+json.
pub fn add_problem(operation: &mut Operation, kind: ProblemType, why: &str) {
    {
        let line = format!("`{}`: {why}", kind.slug);
        let status = kind.status.to_string();
        match operation.responses.responses.get_mut(&status) {
            Some(RefOr::T(response)) => {
                if !response.description.contains(&line) {
                    response.description = format!("{}; {line}", response.description);
                }
            }
            Some(RefOr::Ref(_)) => {}
            None => {
                let response = ResponseBuilder::new()
                    .description(line)
                    .content(
                        crate::PROBLEM_CONTENT_TYPE,
                        ContentBuilder::new()
                            .schema(Some(Ref::from_schema_name("Problem")))
                            .build(),
                    )
                    .build();
                operation
                    .responses
                    .responses
                    .insert(status, RefOr::T(response));
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use utoipa::Modify;

    #[derive(utoipa::OpenApi)]
    #[openapi(paths(with_body, with_path))]
    struct Sample;

    /// Takes a body.
    #[utoipa::path(post, path = "/things", request_body = String, responses((status = 200, description = "ok"), (status = 400, description = "not a thing")))]
    #[allow(dead_code)]
    fn with_body() {}

    /// Takes a path parameter.
    #[utoipa::path(get, path = "/things/{id}", params(("id" = String, Path)), responses((status = 200, description = "ok")))]
    #[allow(dead_code)]
    fn with_path() {}

    #[test]
    fn every_operation_lists_the_edges_problems() {
        let mut document = <Sample as utoipa::OpenApi>::openapi();
        EdgeProblems.modify(&mut document);
        let json = serde_json::to_value(&document).unwrap_or_default();
        let post = &json["paths"]["/things"]["post"]["responses"];
        for status in ["400", "413", "415", "500", "503"] {
            assert!(post[status].is_object(), "POST lacks {status}: {post}");
        }
        let described = post["400"]["description"].as_str().unwrap_or_default();
        assert!(described.starts_with("not a thing; "), "{described}");
        assert!(described.contains("`malformed-body`"), "{described}");
        let get = &json["paths"]["/things/{id}"]["get"]["responses"];
        assert!(get["400"]["description"]
            .as_str()
            .unwrap_or_default()
            .contains("invalid-path"));
        assert!(get["413"].is_null(), "no body, no body limit");
        assert!(json["info"]["description"]
            .as_str()
            .unwrap_or_default()
            .contains("Limits: "));
        // Applying it twice changes nothing.
        EdgeProblems.modify(&mut document);
        assert_eq!(serde_json::to_value(&document).unwrap_or_default(), json);
    }
}
