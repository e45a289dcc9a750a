//! The catalog in DCAT-AP-SE 3.0.1: a `dcat:Catalog` of one `dcat:Dataset` per offering, each
//! published by its provider and distributed through the provider's node, which is a
//! `dcat:DataService`. What DCAT has no property for — fields, legal bases, pre-assessments,
//! retention — is written in utbyte's own vocabulary beside it (`docs/catalog-export.md`).

use super::graph::{Graph, Lang};
use super::iri::{self, Iris};
use super::vocab::{
    dcat, dcatap, dcterms, eli, eu, foaf, publisher_type, utbyte, vcard, CC0, MEDIA_TYPE_JSON,
};
use super::ExportError;
use crate::model::{Agent, Catalog, Entry, LegalBasis, PreAssessmentSummary};
use oxrdf::{NamedNode, NamedNodeRef};
use std::collections::{BTreeMap, BTreeSet};

const TITLE_SV: &str = "utbyte: information som myndigheter kan lämna ut till varandra";
const TITLE_EN: &str = "utbyte: information authorities can disclose to one another";
const DESCRIPTION_SV: &str = "Vilken information som finns hos vilken myndighet, vad varje \
    uppgift betyder, under vilken bestämmelse den förvaras, och på vilka rättsliga grunder och \
    till vem den kan lämnas ut. De rättsliga grunderna är härledda ur federationens regelbok.";
const DESCRIPTION_EN: &str = "Which information each authority holds, what each field means, \
    under which provision it is held, and on which legal bases and to whom it can be disclosed. \
    The legal bases are derived from the federation's rulebook.";

pub fn graph(catalog: &Catalog, iris: &Iris) -> Result<Graph, ExportError> {
    let mut g = Graph::new();
    let node = iris.catalog()?;
    g.a(&node, dcat::CATALOG);
    g.text(&node, dcterms::TITLE, TITLE_SV, Lang::Sv);
    g.text(&node, dcterms::TITLE, TITLE_EN, Lang::En);
    g.text(&node, dcterms::DESCRIPTION, DESCRIPTION_SV, Lang::Sv);
    g.text(&node, dcterms::DESCRIPTION, DESCRIPTION_EN, Lang::En);
    let publisher = agent(&mut g, iris, &catalog.publisher)?;
    g.link(&node, dcterms::PUBLISHER, &publisher);
    g.link(&node, dcterms::LICENSE, CC0);
    g.link(&node, dcterms::LANGUAGE, eu::SWEDISH);
    g.link(&node, dcterms::LANGUAGE, eu::ENGLISH);
    g.link(&node, dcterms::SPATIAL, eu::SWEDEN);
    g.link(&node, foaf::HOMEPAGE, &iris.home()?);
    g.link(&node, dcat::THEME_TAXONOMY, eu::DATA_THEMES);
    g.link(
        &node,
        dcat::THEME_TAXONOMY,
        &iri::scheme(&catalog.scheme.namespace)?,
    );
    if let Some(latest) = catalog.entries.iter().map(|e| e.modified.as_str()).max() {
        g.date(&node, dcterms::MODIFIED, latest);
    }

    // One data service per provider: its node serves all of its offerings.
    let mut served: BTreeMap<&str, (&Agent, Vec<NamedNode>)> = BTreeMap::new();
    for entry in &catalog.entries {
        let dataset = dataset(&mut g, catalog, iris, entry)?;
        g.link(&node, dcat::DATASET_PROPERTY, &dataset);
        served
            .entry(entry.provider.id.as_str())
            .or_insert_with(|| (&entry.provider, Vec::new()))
            .1
            .push(dataset);
    }
    for (provider, datasets) in served.values() {
        let service = data_service(&mut g, iris, provider, datasets)?;
        g.link(&node, dcat::SERVICE, &service);
    }
    Ok(g)
}

fn dataset(
    g: &mut Graph,
    catalog: &Catalog,
    iris: &Iris,
    entry: &Entry,
) -> Result<NamedNode, ExportError> {
    let offering = entry.offering.as_str();
    let node = iris.dataset(offering)?;
    g.a(&node, dcat::DATASET);
    g.plain(&node, dcterms::IDENTIFIER, offering);
    g.text(&node, dcterms::TITLE, &entry.title, Lang::Sv);
    g.text(&node, dcterms::DESCRIPTION, &entry.description, Lang::Sv);
    let provider = agent(g, iris, &entry.provider)?;
    g.link(&node, dcterms::PUBLISHER, &provider);
    let contact = contact_point(g, iris, entry)?;
    g.link(&node, dcat::CONTACT_POINT, &contact);
    for keyword in &entry.keywords {
        g.text(&node, dcat::KEYWORD, keyword, Lang::Sv);
    }
    g.link(&node, dcat::THEME, eu::THEME_GOVERNMENT);
    let concepts: BTreeSet<&str> = entry.fields.iter().map(|f| f.concept.as_str()).collect();
    for concept in concepts {
        g.link(&node, dcat::THEME, &iri::concept(&catalog.scheme, concept)?);
    }
    g.link(
        &node,
        dcterms::ACCESS_RIGHTS,
        access_rights(&entry.secrecy_class),
    );
    g.link(&node, dcterms::LANGUAGE, eu::SWEDISH);
    g.link(&node, dcterms::SPATIAL, eu::SWEDEN);
    g.date(&node, dcterms::MODIFIED, &entry.modified);
    g.text(&node, utbyte::RETENTION, &entry.retention, Lang::Sv);

    let secrecy = provision(g, iris, &entry.secrecy, None)?;
    g.plain(
        &secrecy,
        dcterms::BIBLIOGRAPHIC_CITATION,
        &entry.secrecy_citation,
    );
    g.link(&node, utbyte::SECRECY_PROVISION, &secrecy);
    g.link(&node, dcatap::APPLICABLE_LEGISLATION, &secrecy);

    for field in &entry.fields {
        let field_node = iris.field(offering, &field.id)?;
        g.a(&field_node, utbyte::FIELD_CLASS);
        g.plain(&field_node, dcterms::IDENTIFIER, &field.id);
        g.text(&field_node, dcterms::TITLE, &field.title, Lang::Sv);
        g.plain(&field_node, utbyte::CATEGORY, &field.category);
        let concept = iri::concept(&catalog.scheme, &field.concept)?;
        g.link(&field_node, dcterms::SUBJECT, &concept);
        g.link(&node, utbyte::FIELD, &field_node);
    }
    for (i, basis) in entry.legal_bases.iter().enumerate() {
        legal_basis(g, iris, &node, offering, i + 1, basis)?;
    }
    for pre_assessment in &entry.pre_assessments {
        pre_assessment_node(g, iris, &node, offering, pre_assessment)?;
    }
    let distribution = distribution(g, iris, entry)?;
    g.link(&node, dcat::DISTRIBUTION_PROPERTY, &distribution);
    Ok(node)
}

/// Information held under a secrecy provision is not public; information held under public
/// access is public — though this catalog's distribution of it, the node, admits only
/// federation members (see [`data_service`]). An unknown class counts as secret.
fn access_rights(secrecy_class: &str) -> NamedNodeRef<'static> {
    match secrecy_class {
        "offentlig" => eu::ACCESS_PUBLIC,
        _ => eu::ACCESS_NON_PUBLIC,
    }
}

/// An organisation, with the type DCAT-AP-SE requires read off its organisationsnummer.
fn agent(g: &mut Graph, iris: &Iris, agent: &Agent) -> Result<NamedNode, ExportError> {
    let node = iris.authority(&agent.id)?;
    g.a(&node, foaf::AGENT);
    g.a(&node, foaf::ORGANIZATION);
    g.plain(&node, foaf::NAME, &agent.name);
    g.plain(&node, dcterms::IDENTIFIER, &agent.orgnr);
    g.link(&node, dcterms::TYPE, organisation_type(&agent.orgnr));
    Ok(node)
}

/// The ADMS publisher type of an organisation, from the group number that opens its
/// organisationsnummer: 2 is the state, regions and municipalities (2120 municipalities, 2220
/// their federations, 232 regions, the rest — 2021 above all — the state); 5, 6, 7 and 9 are
/// companies and economic associations; 8 non-profit associations and foundations.
fn organisation_type(orgnr: &str) -> NamedNodeRef<'static> {
    if orgnr.starts_with("2120") || orgnr.starts_with("2220") {
        publisher_type::LOCAL_AUTHORITY
    } else if orgnr.starts_with("232") {
        publisher_type::REGIONAL_AUTHORITY
    } else if orgnr.starts_with(['5', '6', '7', '9']) {
        publisher_type::COMPANY
    } else if orgnr.starts_with('8') {
        publisher_type::NON_PROFIT
    } else {
        publisher_type::NATIONAL_AUTHORITY
    }
}

fn contact_point(g: &mut Graph, iris: &Iris, entry: &Entry) -> Result<NamedNode, ExportError> {
    let node = iris.contact(&entry.offering)?;
    g.a(&node, vcard::ORGANIZATION);
    g.plain(&node, vcard::FN, &entry.contact.name);
    g.link(&node, vcard::HAS_EMAIL, &iri::mailto(&entry.contact.email)?);
    Ok(node)
}

/// A provision of the rulebook as legislation (ELI's class; Swedish statutes have no ELI IRIs,
/// so the provision gets one under the base).
fn provision(
    g: &mut Graph,
    iris: &Iris,
    id: &str,
    title: Option<&str>,
) -> Result<NamedNode, ExportError> {
    let node = iris.provision(id)?;
    g.a(&node, eli::LEGAL_RESOURCE);
    g.plain(&node, dcterms::IDENTIFIER, id);
    if let Some(title) = title {
        g.text(&node, dcterms::TITLE, title, Lang::Sv);
    }
    Ok(node)
}

/// One way the offering can be disclosed: the provision is also applicable legislation of the
/// dataset; the rest — outcome, recipients, granting policy — only utbyte's vocabulary says.
fn legal_basis(
    g: &mut Graph,
    iris: &Iris,
    dataset: &NamedNode,
    offering: &str,
    n: usize,
    basis: &LegalBasis,
) -> Result<(), ExportError> {
    let node = iris.legal_basis(offering, n)?;
    g.a(&node, utbyte::LEGAL_BASIS_CLASS);
    let provision = provision(g, iris, &basis.provision, Some(&basis.title))?;
    g.link(&node, utbyte::PROVISION, &provision);
    g.link(dataset, dcatap::APPLICABLE_LEGISLATION, &provision);
    g.plain(&node, dcterms::BIBLIOGRAPHIC_CITATION, &basis.citation);
    g.plain(&node, utbyte::OUTCOME, &basis.outcome);
    g.plain(&node, utbyte::POLICY, &basis.policy);
    match &basis.recipients {
        None => g.boolean(&node, utbyte::ANY_RECIPIENT, true),
        Some(recipients) => {
            for recipient in recipients {
                g.link(&node, utbyte::RECIPIENT, &iris.authority(recipient)?);
            }
        }
    }
    if let Some(pre_assessment) = &basis.pre_assessment {
        g.link(
            &node,
            utbyte::PRE_ASSESSMENT,
            &iris.pre_assessment(pre_assessment)?,
        );
    }
    g.link(dataset, utbyte::LEGAL_BASIS, &node);
    Ok(())
}

fn pre_assessment_node(
    g: &mut Graph,
    iris: &Iris,
    dataset: &NamedNode,
    offering: &str,
    pre_assessment: &PreAssessmentSummary,
) -> Result<(), ExportError> {
    let node = iris.pre_assessment(&pre_assessment.id)?;
    g.a(&node, utbyte::PRE_ASSESSMENT_CLASS);
    g.plain(&node, dcterms::IDENTIFIER, &pre_assessment.id);
    g.text(&node, dcterms::TITLE, &pre_assessment.title, Lang::Sv);
    g.link(
        &node,
        utbyte::RECIPIENT,
        &iris.authority(&pre_assessment.recipient)?,
    );
    for unit in &pre_assessment.units {
        g.plain(&node, utbyte::UNIT, unit);
    }
    for role in &pre_assessment.roles {
        g.plain(&node, utbyte::ROLE, role);
    }
    g.link(
        &node,
        utbyte::PURPOSE,
        &iris.purpose(&pre_assessment.purpose)?,
    );
    g.link(
        &node,
        utbyte::PROVISION,
        &iris.provision(&pre_assessment.provision)?,
    );
    for field in &pre_assessment.fields {
        g.link(&node, utbyte::FIELD, &iris.field(offering, field)?);
    }
    let validity = iris.validity(&pre_assessment.id)?;
    g.a(&validity, dcterms::PERIOD_OF_TIME);
    g.date(&validity, dcat::START_DATE, &pre_assessment.valid_from);
    g.date(&validity, dcat::END_DATE, &pre_assessment.valid_until);
    g.link(&node, dcterms::TEMPORAL, &validity);
    g.link(dataset, utbyte::PRE_ASSESSMENT, &node);
    Ok(())
}

fn distribution(g: &mut Graph, iris: &Iris, entry: &Entry) -> Result<NamedNode, ExportError> {
    let provider = entry.provider.id.as_str();
    let node = iris.distribution(&entry.offering)?;
    g.a(&node, dcat::DISTRIBUTION);
    g.link(&node, dcat::ACCESS_URL, &iris.node(provider)?);
    g.link(&node, dcat::ACCESS_SERVICE, &iris.service(provider)?);
    g.link(&node, dcat::MEDIA_TYPE, MEDIA_TYPE_JSON);
    let name = &entry.provider.name;
    g.text(
        &node,
        dcterms::TITLE,
        &format!("Utlämnande genom utbyte-noden hos {name}"),
        Lang::Sv,
    );
    g.text(
        &node,
        dcterms::TITLE,
        &format!("Disclosure through the utbyte node of {name}"),
        Lang::En,
    );
    g.text(
        &node,
        dcterms::DESCRIPTION,
        "Uppgifterna lämnas ut fält för fält på begäran av en annan myndighets nod, efter \
         regelbokens beslut; varje utlämnande och varje vägran förs in i nodens revisionslogg.",
        Lang::Sv,
    );
    g.text(
        &node,
        dcterms::DESCRIPTION,
        "Fields are disclosed one by one on request of another authority's node, as the rulebook \
         decides; every disclosure and every refusal is recorded in the node's audit ledger.",
        Lang::En,
    );
    Ok(node)
}

/// A provider's node: reached only by federation members over mutual TLS, hence restricted
/// whatever the datasets it serves.
fn data_service(
    g: &mut Graph,
    iris: &Iris,
    provider: &Agent,
    datasets: &[NamedNode],
) -> Result<NamedNode, ExportError> {
    let node = iris.service(&provider.id)?;
    g.a(&node, dcat::DATA_SERVICE);
    let name = &provider.name;
    g.text(
        &node,
        dcterms::TITLE,
        &format!("utbyte-noden hos {name}"),
        Lang::Sv,
    );
    g.text(
        &node,
        dcterms::TITLE,
        &format!("The utbyte node of {name}"),
        Lang::En,
    );
    g.text(
        &node,
        dcterms::DESCRIPTION,
        "Nodens federations-API, som bara federationens medlemmar når, över ömsesidig TLS.",
        Lang::Sv,
    );
    g.text(
        &node,
        dcterms::DESCRIPTION,
        "The node's federation API, reached only by members of the federation over mutual TLS.",
        Lang::En,
    );
    g.link(&node, dcat::ENDPOINT_URL, &iris.node(&provider.id)?);
    g.link(
        &node,
        dcat::ENDPOINT_DESCRIPTION,
        &iris.node_description(&provider.id)?,
    );
    g.link(&node, dcterms::PUBLISHER, &iris.authority(&provider.id)?);
    g.link(&node, dcterms::ACCESS_RIGHTS, eu::ACCESS_RESTRICTED);
    for dataset in datasets {
        g.link(&node, dcat::SERVES_DATASET, dataset);
    }
    Ok(node)
}
