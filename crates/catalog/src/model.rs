//! The catalog's model: shared concepts (SKOS), authorities' local terms mapped to them (SSSOM
//! style), catalog entries for offerings, and the needs authorities have registered.
//!
//! These types are what every view of the catalog shows — search hits, the DCAT-AP-SE and SKOS
//! exports, the directory's HTTP API — so they carry plain, already-resolved values (names,
//! citations, dates as `YYYY-MM-DD`) rather than references a reader would have to look up.
//! Everything here is built by [`crate::Catalog::build`] from the rulebook and the catalog's data
//! files; nothing in an [`Entry`] that the rulebook knows is typed into the catalog data.

use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

/// A text in Swedish and English. Both are mandatory: the catalog is bilingual by design, and an
/// export that lacked one language would fail DCAT-AP-SE's shapes.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Labels {
    pub sv: String,
    pub en: String,
}

/// Alternative labels (skos:altLabel): synonyms, abbreviations, everyday words. Either language
/// may have none.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AltLabels {
    #[serde(default)]
    pub sv: Vec<String>,
    #[serde(default)]
    pub en: Vec<String>,
}

/// A shared concept (skos:Concept). `broader` and `narrower` are both stated in the data and
/// must mirror each other; `broader` must not form a cycle.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Concept {
    pub id: String,
    pub pref_label: Labels,
    #[serde(default)]
    pub alt_labels: AltLabels,
    pub definition: Labels,
    #[serde(default)]
    pub scope_note: Option<Labels>,
    #[serde(default)]
    pub broader: Vec<String>,
    #[serde(default)]
    pub narrower: Vec<String>,
    #[serde(default)]
    pub related: Vec<String>,
}

/// The shared concept scheme (skos:ConceptScheme), concepts keyed by id.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ConceptScheme {
    pub title: Labels,
    /// The base IRI concepts are published under: a concept's IRI is `namespace` + its id.
    pub namespace: String,
    pub concepts: BTreeMap<String, Concept>,
}

impl ConceptScheme {
    /// The concept's IRI.
    pub fn iri(&self, concept: &str) -> String {
        format!("{}{concept}", self.namespace)
    }

    /// The concept and every concept narrower than it, transitively, in no particular order.
    /// The scheme is validated acyclic, and the walk also guards against revisiting.
    pub fn with_narrower<'a>(&'a self, concept: &'a str) -> Vec<&'a str> {
        let mut found = vec![concept];
        let mut next = 0;
        while let Some(current) = found.get(next).copied() {
            next += 1;
            if let Some(c) = self.concepts.get(current) {
                for n in &c.narrower {
                    if !found.contains(&n.as_str()) {
                        found.push(n);
                    }
                }
            }
        }
        found
    }

    /// The concept and every concept broader than it, transitively.
    pub fn with_broader<'a>(&'a self, concept: &'a str) -> Vec<&'a str> {
        let mut found = vec![concept];
        let mut next = 0;
        while let Some(current) = found.get(next).copied() {
            next += 1;
            if let Some(c) = self.concepts.get(current) {
                for b in &c.broader {
                    if !found.contains(&b.as_str()) {
                        found.push(b);
                    }
                }
            }
        }
        found
    }
}

/// How an authority's local term relates to a shared concept, as in SKOS mapping properties.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum MatchKind {
    /// skos:exactMatch — interchangeable in every use.
    Exact,
    /// skos:closeMatch — interchangeable in most uses.
    Close,
    /// skos:broadMatch — the concept is broader than the local term.
    Broad,
    /// skos:narrowMatch — the concept is narrower than the local term.
    Narrow,
}

impl MatchKind {
    /// The SKOS property's local name, e.g. `exactMatch`.
    pub fn skos_property(self) -> &'static str {
        match self {
            MatchKind::Exact => "exactMatch",
            MatchKind::Close => "closeMatch",
            MatchKind::Broad => "broadMatch",
            MatchKind::Narrow => "narrowMatch",
        }
    }
}

/// One authority's local term mapped to a shared concept, with who approved the mapping — one
/// row of an SSSOM mapping set.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Mapping {
    /// The authority whose term this is.
    pub authority: String,
    pub local_term: String,
    pub concept: String,
    pub predicate: MatchKind,
    /// Who approved the mapping (name, function, reference).
    pub approved_by: String,
    /// `YYYY-MM-DD`.
    pub approved_on: String,
    pub comment: Option<String>,
}

/// An organisation: a provider of offerings, or the catalog's publisher.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Agent {
    pub id: String,
    pub name: String,
    /// Organisationsnummer, `NNNNNN-NNNN`.
    pub orgnr: String,
}

/// Where to ask about an offering.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ContactPoint {
    pub name: String,
    pub email: String,
}

/// A field of an offering with the shared concept it carries.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct EntryField {
    pub id: String,
    pub title: String,
    /// The id of the field's category in the offering.
    pub category: String,
    pub concept: String,
}

/// A way an offering can be disclosed, read off the rulebook (`Rulebook::disclosure_paths`): a
/// grant whose scope reaches the offering. It is an upper bound: the grant's own conditions
/// (a category test, a purpose) and the rulebook's refusal overrides may narrow it for some
/// fields or recipients; only a decision says what a given request gets.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct LegalBasis {
    /// The provision id a request must claim, or — for a grant that requires none, such as
    /// public access — the provision the grant cites.
    pub provision: String,
    /// e.g. `SFS 2024:307 3 §`.
    pub citation: String,
    /// The provision's title from the vocabulary.
    pub title: String,
    /// `disclose` (automatically) or `review` (after a human assessment).
    pub outcome: String,
    /// The recipient authorities; `None` means any authority.
    pub recipients: Option<Vec<String>>,
    /// The granting policy's id.
    pub policy: String,
    /// The pre-assessment the grant was compiled from, if any.
    pub pre_assessment: Option<String>,
}

/// A pre-assessment (förhandsbedömning) of an offering, as the catalog shows it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct PreAssessmentSummary {
    pub id: String,
    pub title: String,
    pub recipient: String,
    /// Only these units of the recipient; empty means every unit.
    pub units: Vec<String>,
    /// Only these roles; empty means every role.
    pub roles: Vec<String>,
    /// A purpose or purpose group id.
    pub purpose: String,
    pub provision: String,
    pub fields: Vec<String>,
    /// `YYYY-MM-DD`.
    pub valid_from: String,
    /// `YYYY-MM-DD`, inclusive.
    pub valid_until: String,
}

/// The catalog entry of one offering.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Entry {
    pub offering: String,
    pub title: String,
    pub description: String,
    pub provider: Agent,
    pub fields: Vec<EntryField>,
    /// The secrecy (or public-access) provision the information is held under.
    pub secrecy: String,
    pub secrecy_citation: String,
    /// A short facet value derived from the secrecy provision: `sekretess` or `offentlig`.
    pub secrecy_class: String,
    pub legal_bases: Vec<LegalBasis>,
    pub pre_assessments: Vec<PreAssessmentSummary>,
    /// How long the provider keeps the information, in plain words.
    pub retention: String,
    pub contact: ContactPoint,
    pub keywords: Vec<String>,
    /// `YYYY-MM-DD`.
    pub modified: String,
}

/// Information an authority has registered that it needs.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Need {
    pub id: String,
    /// The authority that needs the information.
    pub authority: String,
    /// The concepts needed, all of them.
    pub concepts: Vec<String>,
    /// A purpose id of the rulebook.
    pub purpose: String,
    /// The provision the authority would claim.
    pub legal_basis: String,
    pub description: String,
}

/// What stands between a need and an automatic disclosure.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Gap {
    /// An offering meets the need and a pre-assessment covers it.
    None,
    /// No offering of another authority carries every needed concept.
    NoOffering,
    /// Offerings meet the need, but no pre-assessment covers it yet.
    NoPreAssessment,
}

/// A need with the offerings that meet it and what is missing.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct NeedStatus {
    pub need: Need,
    /// Offerings of other authorities whose fields carry every needed concept.
    pub offerings: Vec<String>,
    /// Pre-assessments that cover the need (see [`crate::needs`] for when one does).
    pub pre_assessments: Vec<String>,
    pub gap: Gap,
}

/// The whole catalog, built and validated.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Catalog {
    pub scheme: ConceptScheme,
    pub mappings: Vec<Mapping>,
    /// One entry per offering of the rulebook, in offering-id order.
    pub entries: Vec<Entry>,
    pub needs: Vec<NeedStatus>,
    /// The directory operator, who publishes the catalog.
    pub publisher: Agent,
}

impl Catalog {
    pub fn entry(&self, offering: &str) -> Option<&Entry> {
        self.entries.iter().find(|e| e.offering == offering)
    }

    pub fn concept(&self, id: &str) -> Option<&Concept> {
        self.scheme.concepts.get(id)
    }
}
