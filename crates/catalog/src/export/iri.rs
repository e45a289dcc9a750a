//! The IRIs of the catalog's own resources, all under one configurable base.
//!
//! Layout under the base (default `https://utbyte.example/`):
//!
//! ```text
//! catalog                                   the dcat:Catalog
//! offering/{id}                             an offering's dcat:Dataset
//! offering/{id}/distribution|contact        its distribution and contact point
//! offering/{id}/field/{field}               one of its fields
//! offering/{id}/basis/{n}                   the n-th way it can be disclosed (1-based)
//! authority/{id}                            an authority (foaf:Agent)
//! authority/{id}/service                    its node's API (dcat:DataService)
//! authority/{id}/node/                      the API's endpoint, with openapi.json under it
//! authority/{id}/terms                      the scheme of its local terms
//! authority/{id}/term/{term}                one local term (skos:Concept)
//! authority/{id}/term/{term}/mapping/{c}    the SSSOM record of its mapping to concept c
//! provision/{id}, purpose/{id}              rulebook provisions and purposes
//! pre-assessment/{id}[/validity]            a pre-assessment and its period of validity
//! ```
//!
//! Shared concepts are not here: their IRIs are the concept scheme's namespace plus their id
//! ([`crate::ConceptScheme::iri`]), because a concept is the vocabulary's, not the deployment's.

use super::ExportError;
use oxrdf::NamedNode;
use percent_encoding::{utf8_percent_encode, AsciiSet, NON_ALPHANUMERIC};

/// Everything but RFC 3986's unreserved characters is percent-encoded in a path segment, so that
/// an id or a local term ("lön före skatt") can never add a segment, a query or a fragment.
const SEGMENT: &AsciiSet = &NON_ALPHANUMERIC
    .remove(b'-')
    .remove(b'.')
    .remove(b'_')
    .remove(b'~');

/// The base the IRIs are minted under.
#[derive(Debug, Clone)]
pub struct Iris {
    base: String,
}

impl Iris {
    /// Checks the base: an absolute `http(s)` IRI without query or fragment. A missing final `/`
    /// is added, so that `https://host/utbyte` and `https://host/utbyte/` mean the same.
    pub fn new(base: &str) -> Result<Self, ExportError> {
        let problem = |reason: &'static str| ExportError::Base {
            base: base.to_owned(),
            reason,
        };
        if !(base.starts_with("https://") || base.starts_with("http://")) {
            return Err(problem("is not an http(s) IRI"));
        }
        if base.contains(['?', '#']) {
            return Err(problem("has a query or a fragment"));
        }
        NamedNode::new(base).map_err(|_| problem("is not a valid IRI"))?;
        let mut base = base.to_owned();
        if !base.ends_with('/') {
            base.push('/');
        }
        Ok(Self { base })
    }

    /// The base itself, the catalog's home page.
    pub fn home(&self) -> Result<NamedNode, ExportError> {
        checked(self.base.clone(), || "the base".to_owned())
    }

    pub fn catalog(&self) -> Result<NamedNode, ExportError> {
        self.at(&["catalog"])
    }

    pub fn dataset(&self, offering: &str) -> Result<NamedNode, ExportError> {
        self.at(&["offering", offering])
    }

    pub fn distribution(&self, offering: &str) -> Result<NamedNode, ExportError> {
        self.at(&["offering", offering, "distribution"])
    }

    pub fn contact(&self, offering: &str) -> Result<NamedNode, ExportError> {
        self.at(&["offering", offering, "contact"])
    }

    pub fn field(&self, offering: &str, field: &str) -> Result<NamedNode, ExportError> {
        self.at(&["offering", offering, "field", field])
    }

    pub fn legal_basis(&self, offering: &str, n: usize) -> Result<NamedNode, ExportError> {
        self.at(&["offering", offering, "basis", &n.to_string()])
    }

    pub fn authority(&self, authority: &str) -> Result<NamedNode, ExportError> {
        self.at(&["authority", authority])
    }

    /// The node's API as a data service.
    pub fn service(&self, authority: &str) -> Result<NamedNode, ExportError> {
        self.at(&["authority", authority, "service"])
    }

    /// The node's endpoint: a stable name the federation configuration resolves to the node's
    /// real address.
    pub fn node(&self, authority: &str) -> Result<NamedNode, ExportError> {
        self.at(&["authority", authority, "node", ""])
    }

    /// Where the node serves its OpenAPI description.
    pub fn node_description(&self, authority: &str) -> Result<NamedNode, ExportError> {
        self.at(&["authority", authority, "node", "openapi.json"])
    }

    pub fn local_scheme(&self, authority: &str) -> Result<NamedNode, ExportError> {
        self.at(&["authority", authority, "terms"])
    }

    pub fn local_term(&self, authority: &str, term: &str) -> Result<NamedNode, ExportError> {
        self.at(&["authority", authority, "term", term])
    }

    pub fn mapping(
        &self,
        authority: &str,
        term: &str,
        concept: &str,
    ) -> Result<NamedNode, ExportError> {
        self.at(&["authority", authority, "term", term, "mapping", concept])
    }

    pub fn provision(&self, provision: &str) -> Result<NamedNode, ExportError> {
        self.at(&["provision", provision])
    }

    pub fn purpose(&self, purpose: &str) -> Result<NamedNode, ExportError> {
        self.at(&["purpose", purpose])
    }

    pub fn pre_assessment(&self, id: &str) -> Result<NamedNode, ExportError> {
        self.at(&["pre-assessment", id])
    }

    pub fn validity(&self, pre_assessment: &str) -> Result<NamedNode, ExportError> {
        self.at(&["pre-assessment", pre_assessment, "validity"])
    }

    fn at(&self, segments: &[&str]) -> Result<NamedNode, ExportError> {
        let mut iri = self.base.clone();
        for (i, segment) in segments.iter().enumerate() {
            if i > 0 {
                iri.push('/');
            }
            iri.extend(utf8_percent_encode(segment, SEGMENT));
        }
        checked(iri, || segments.join("/"))
    }
}

/// The concept scheme's own IRI: its namespace without the final `/` or `#`, so that
/// `https://host/concept/` names the scheme `https://host/concept` of the concepts under it.
pub fn scheme(namespace: &str) -> Result<NamedNode, ExportError> {
    let iri = namespace.trim_end_matches(['/', '#']).to_owned();
    checked(iri, || "the concept scheme's namespace".to_owned())
}

/// A shared concept's IRI.
pub fn concept(scheme: &crate::ConceptScheme, id: &str) -> Result<NamedNode, ExportError> {
    checked(scheme.iri(id), || format!("concept {id}"))
}

/// A contact point's e-mail address as a `mailto:` IRI.
pub fn mailto(email: &str) -> Result<NamedNode, ExportError> {
    checked(format!("mailto:{email}"), || {
        format!("e-mail address {email}")
    })
}

fn checked(iri: String, what: impl FnOnce() -> String) -> Result<NamedNode, ExportError> {
    NamedNode::new(iri.as_str()).map_err(|error| ExportError::Iri {
        what: what(),
        iri,
        reason: error.to_string(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_base_gets_its_final_slash_and_segments_are_encoded() -> Result<(), ExportError> {
        let iris = Iris::new("https://host.example/utbyte")?;
        assert_eq!(
            iris.local_term("malmo-stad", "lön före skatt/år")?.as_str(),
            "https://host.example/utbyte/authority/malmo-stad/term/l%C3%B6n%20f%C3%B6re%20skatt%2F%C3%A5r"
        );
        assert_eq!(
            iris.node("skatteverket")?.as_str(),
            "https://host.example/utbyte/authority/skatteverket/node/"
        );
        Ok(())
    }

    #[test]
    fn a_base_that_is_not_a_plain_http_iri_is_refused() {
        for base in [
            "ftp://host.example/",
            "https://host.example/?q",
            "https://host.example/#x",
            "https://bad host/",
        ] {
            assert!(
                matches!(Iris::new(base), Err(ExportError::Base { .. })),
                "{base} was accepted"
            );
        }
    }

    #[test]
    fn the_scheme_is_named_by_its_namespace() -> Result<(), ExportError> {
        assert_eq!(
            scheme("https://host.example/concept/")?.as_str(),
            "https://host.example/concept"
        );
        assert_eq!(
            scheme("https://host.example/concepts#")?.as_str(),
            "https://host.example/concepts"
        );
        Ok(())
    }
}
