//! The vocabularies the exports use: their namespaces, the terms, and the controlled values the
//! profiles prescribe.

/// Declares a module's terms of one namespace. The IRIs are put together from literals at compile
/// time, so every one is an absolute IRI by construction and `new_unchecked` cannot be wrong.
macro_rules! terms {
    ($namespace:literal { $($(#[$meta:meta])* $name:ident = $local:literal),* $(,)? }) => {
        /// The namespace IRI.
        #[allow(dead_code)]
        pub const NS: &str = $namespace;
        $($(#[$meta])*
        pub const $name: oxrdf::NamedNodeRef<'static> =
            oxrdf::NamedNodeRef::new_unchecked(concat!($namespace, $local));)*
    };
}

/// utbyte's own terms, for what the catalog knows and DCAT has no property for: the fields of an
/// offering, the legal bases it can be disclosed on, its pre-assessments and its retention. The
/// namespace is fixed, not under the configurable base: a vocabulary must not move with the
/// deployment that publishes data in it. `.example` is reserved until the project has a domain.
pub mod utbyte {
    terms!("https://utbyte.example/ns#" {
        FIELD_CLASS = "Field",
        LEGAL_BASIS_CLASS = "LegalBasis",
        PRE_ASSESSMENT_CLASS = "PreAssessment",
        FIELD = "field",
        CATEGORY = "category",
        SECRECY_PROVISION = "secrecyProvision",
        RETENTION = "retention",
        LEGAL_BASIS = "legalBasis",
        PROVISION = "provision",
        OUTCOME = "outcome",
        RECIPIENT = "recipient",
        ANY_RECIPIENT = "anyRecipient",
        POLICY = "policy",
        PRE_ASSESSMENT = "preAssessment",
        UNIT = "unit",
        ROLE = "role",
        PURPOSE = "purpose",
    });
}

pub mod rdf {
    terms!("http://www.w3.org/1999/02/22-rdf-syntax-ns#" { TYPE = "type" });
}

pub mod rdfs {
    terms!("http://www.w3.org/2000/01/rdf-schema#" { COMMENT = "comment" });
}

pub mod xsd {
    terms!("http://www.w3.org/2001/XMLSchema#" { DATE = "date", BOOLEAN = "boolean" });
}

pub mod owl {
    terms!("http://www.w3.org/2002/07/owl#" {
        AXIOM = "Axiom",
        ANNOTATED_SOURCE = "annotatedSource",
        ANNOTATED_PROPERTY = "annotatedProperty",
        ANNOTATED_TARGET = "annotatedTarget",
    });
}

pub mod dcat {
    terms!("http://www.w3.org/ns/dcat#" {
        CATALOG = "Catalog",
        DATASET = "Dataset",
        DISTRIBUTION = "Distribution",
        DATA_SERVICE = "DataService",
        DATASET_PROPERTY = "dataset",
        SERVICE = "service",
        DISTRIBUTION_PROPERTY = "distribution",
        ACCESS_URL = "accessURL",
        ACCESS_SERVICE = "accessService",
        ENDPOINT_URL = "endpointURL",
        ENDPOINT_DESCRIPTION = "endpointDescription",
        SERVES_DATASET = "servesDataset",
        CONTACT_POINT = "contactPoint",
        KEYWORD = "keyword",
        THEME = "theme",
        THEME_TAXONOMY = "themeTaxonomy",
        MEDIA_TYPE = "mediaType",
        START_DATE = "startDate",
        END_DATE = "endDate",
    });
}

pub mod dcterms {
    terms!("http://purl.org/dc/terms/" {
        TITLE = "title",
        DESCRIPTION = "description",
        PUBLISHER = "publisher",
        LICENSE = "license",
        LANGUAGE = "language",
        MODIFIED = "modified",
        IDENTIFIER = "identifier",
        BIBLIOGRAPHIC_CITATION = "bibliographicCitation",
        ACCESS_RIGHTS = "accessRights",
        SPATIAL = "spatial",
        SUBJECT = "subject",
        TEMPORAL = "temporal",
        TYPE = "type",
        PERIOD_OF_TIME = "PeriodOfTime",
    });
}

pub mod dcatap {
    terms!("http://data.europa.eu/r5r/" { APPLICABLE_LEGISLATION = "applicableLegislation" });
}

pub mod eli {
    terms!("http://data.europa.eu/eli/ontology#" { LEGAL_RESOURCE = "LegalResource" });
}

pub mod foaf {
    terms!("http://xmlns.com/foaf/0.1/" {
        AGENT = "Agent",
        ORGANIZATION = "Organization",
        NAME = "name",
        HOMEPAGE = "homepage",
    });
}

pub mod vcard {
    terms!("http://www.w3.org/2006/vcard/ns#" {
        ORGANIZATION = "Organization",
        FN = "fn",
        HAS_EMAIL = "hasEmail",
    });
}

pub mod skos {
    terms!("http://www.w3.org/2004/02/skos/core#" {
        CONCEPT_SCHEME = "ConceptScheme",
        CONCEPT = "Concept",
        PREF_LABEL = "prefLabel",
        ALT_LABEL = "altLabel",
        DEFINITION = "definition",
        SCOPE_NOTE = "scopeNote",
        NOTATION = "notation",
        BROADER = "broader",
        NARROWER = "narrower",
        RELATED = "related",
        IN_SCHEME = "inScheme",
        HAS_TOP_CONCEPT = "hasTopConcept",
        TOP_CONCEPT_OF = "topConceptOf",
        EXACT_MATCH = "exactMatch",
        CLOSE_MATCH = "closeMatch",
        BROAD_MATCH = "broadMatch",
        NARROW_MATCH = "narrowMatch",
    });
}

/// The slots of an SSSOM mapping record that the SKOS export writes.
pub mod sssom {
    terms!("https://w3id.org/sssom/" {
        MAPPING_JUSTIFICATION = "mapping_justification",
        REVIEWER_LABEL = "reviewer_label",
        REVIEW_DATE = "review_date",
        SUBJECT_LABEL = "subject_label",
        OBJECT_LABEL = "object_label",
    });
}

pub mod semapv {
    terms!("https://w3id.org/semapv/vocab/" { MANUAL_MAPPING_CURATION = "ManualMappingCuration" });
}

/// SSSOM's `author_id` is `pav:authoredBy`.
pub mod pav {
    terms!("http://purl.org/pav/" { AUTHORED_BY = "authoredBy" });
}

/// The EU Publications Office's authority tables DCAT-AP takes its controlled values from.
pub mod eu {
    terms!("http://publications.europa.eu/resource/authority/" {
        ACCESS_PUBLIC = "access-right/PUBLIC",
        ACCESS_RESTRICTED = "access-right/RESTRICTED",
        ACCESS_NON_PUBLIC = "access-right/NON_PUBLIC",
        SWEDISH = "language/SWE",
        ENGLISH = "language/ENG",
        SWEDEN = "country/SWE",
        DATA_THEMES = "data-theme",
        /// "Government and public sector".
        THEME_GOVERNMENT = "data-theme/GOVE",
    });
}

/// ADMS publisher types; DCAT-AP-SE 3.0.1 requires one on every agent.
pub mod publisher_type {
    terms!("http://purl.org/adms/publishertype/" {
        NATIONAL_AUTHORITY = "NationalAuthority",
        REGIONAL_AUTHORITY = "RegionalAuthority",
        LOCAL_AUTHORITY = "LocalAuthority",
        COMPANY = "Company",
        NON_PROFIT = "NonProfitOrganisation",
    });
}

/// DCAT-AP-SE requires the catalog's licence to be CC0 1.0.
pub const CC0: oxrdf::NamedNodeRef<'static> =
    oxrdf::NamedNodeRef::new_unchecked("http://creativecommons.org/publicdomain/zero/1.0/");

pub const MEDIA_TYPE_JSON: oxrdf::NamedNodeRef<'static> = oxrdf::NamedNodeRef::new_unchecked(
    "http://www.iana.org/assignments/media-types/application/json",
);

/// Prefixes declared in both serialisations, so that a reader of the RDF/XML sees `dcat:Dataset`.
pub const PREFIXES: [(&str, &str); 15] = [
    ("rdf", rdf::NS),
    ("rdfs", rdfs::NS),
    ("xsd", xsd::NS),
    ("owl", owl::NS),
    ("dcat", dcat::NS),
    ("dcterms", dcterms::NS),
    ("dcatap", dcatap::NS),
    ("eli", eli::NS),
    ("foaf", foaf::NS),
    ("vcard", vcard::NS),
    ("skos", skos::NS),
    ("sssom", sssom::NS),
    ("semapv", semapv::NS),
    ("pav", pav::NS),
    ("utbyte", utbyte::NS),
];
