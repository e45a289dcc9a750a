//! Building the catalog: the catalog data checked against the rulebook, and each offering's entry
//! (notice kinds are sent on the sender's initiative, never asked for, so they have none)
//! derived from the rulebook — provider, fields, secrecy provision, the legal bases it can be
//! disclosed under and its pre-assessments are read from the rulebook, never typed twice.

use crate::data::CatalogData;
use crate::model::{Agent, Catalog, Entry, EntryField, LegalBasis, PreAssessmentSummary};
use crate::read::near_definition;
use crate::{needs, CatalogError};
use utbyte_rules::vocabulary::{Offering, Provision, ProvisionKind, Vocabulary};
use utbyte_rules::{Citation, Class, DisclosurePath, Problem, Rulebook};

impl Catalog {
    /// Checks `data` against `rulebook` and derives the catalog. Every problem is reported, each
    /// located in the catalog file that has to change.
    pub fn build(rulebook: &Rulebook, data: &CatalogData) -> Result<Catalog, CatalogError> {
        let vocabulary = &rulebook.vocabulary;
        let mut problems = Vec::new();
        check_fields(data, vocabulary, &mut problems);
        check_offerings(data, vocabulary, &mut problems);
        check_authorities(data, vocabulary, &mut problems);
        let needs = needs::check(data, vocabulary, &mut problems);
        let mut entries = Vec::new();
        for offering in vocabulary.offerings.values().filter(|o| !o.notice) {
            match entry(rulebook, data, offering) {
                Ok(Some(entry)) => entries.push(entry),
                Ok(None) => {}
                Err(problem) => problems.push(problem),
            }
        }
        if !problems.is_empty() {
            return Err(CatalogError::Invalid(problems));
        }
        let needs = needs::statuses(needs, &entries, &data.scheme, vocabulary);
        Ok(Catalog {
            scheme: data.scheme.clone(),
            mappings: data.mappings.clone(),
            entries,
            needs,
            publisher: data.publisher.clone(),
        })
    }
}

/// Every field of every offering has a concept, and fields.toml names no field that is not there.
fn check_fields(data: &CatalogData, vocabulary: &Vocabulary, problems: &mut Vec<Problem>) {
    let file = data.file("fields.toml");
    for (offering_id, links) in &data.fields {
        let Some(offering) = vocabulary.offerings.get(offering_id) else {
            problems.push(file.problem_near(
                &format!("[{offering_id}]"),
                format!("offering `{offering_id}` is not an offering of the rulebook"),
            ));
            continue;
        };
        for field in links.keys() {
            if offering.category_of(field).is_none() {
                problems.push(file.problem_near(
                    &format!("[{offering_id}]"),
                    format!("offering `{offering_id}` has no field `{field}` in the rulebook"),
                ));
            }
        }
    }
    for offering in vocabulary.offerings.values().filter(|o| !o.notice) {
        let links = data.fields.get(&offering.id);
        for (_, field) in offering.fields() {
            if links.is_none_or(|l| !l.contains_key(&field.id)) {
                problems.push(file.problem_near(
                    &format!("[{}]", offering.id),
                    format!(
                        "field `{}` (“{}”) of offering `{}` has no concept: add `{} = \"<concept>\"` under [{}]",
                        field.id, field.title, offering.id, field.id, offering.id
                    ),
                ));
            }
        }
    }
}

/// Every offering of the rulebook is described, and only those.
fn check_offerings(data: &CatalogData, vocabulary: &Vocabulary, problems: &mut Vec<Problem>) {
    let file = data.file("offerings.toml");
    for id in data.offerings.keys() {
        if !vocabulary.offerings.contains_key(id) {
            problems.push(near_definition(
                &file,
                id,
                format!("offering `{id}` is not an offering of the rulebook"),
            ));
        }
    }
    for id in vocabulary
        .offerings
        .values()
        .filter(|o| !o.notice)
        .map(|o| &o.id)
    {
        if !data.offerings.contains_key(id) {
            problems.push(Problem::new(
                "offerings.toml",
                1,
                1,
                format!("offering `{id}` of the rulebook has no description, retention and contact point"),
            ));
        }
    }
}

fn check_authorities(data: &CatalogData, vocabulary: &Vocabulary, problems: &mut Vec<Problem>) {
    let mut reported = Vec::new();
    for mapping in &data.mappings {
        if !vocabulary.authorities.contains_key(&mapping.authority)
            && !reported.contains(&mapping.authority)
        {
            let file = data.mapping_file(&mapping.authority);
            problems.push(file.problem_near(
                "authority",
                format!(
                    "mappings are of authority `{}`, which is not an authority of the rulebook",
                    mapping.authority
                ),
            ));
            reported.push(mapping.authority.clone());
        }
    }
}

fn entry(
    rulebook: &Rulebook,
    data: &CatalogData,
    offering: &Offering,
) -> Result<Option<Entry>, Problem> {
    let vocabulary = &rulebook.vocabulary;
    // Missing descriptions, concepts or provisions are reported by the checks above.
    let (Some(description), Some(links), Some(authority), Some(secrecy)) = (
        data.offerings.get(&offering.id),
        data.fields.get(&offering.id),
        vocabulary.authorities.get(&offering.provider),
        vocabulary.provisions.get(&offering.secrecy),
    ) else {
        return Ok(None);
    };
    let fields = offering
        .fields()
        .filter_map(|(category, field)| {
            links.get(&field.id).map(|concept| EntryField {
                id: field.id.clone(),
                title: field.title.clone(),
                category: category.id.clone(),
                concept: concept.clone(),
            })
        })
        .collect();
    let mut legal_bases = Vec::new();
    for path in rulebook.disclosure_paths(&offering.id) {
        if let Some(basis) = legal_basis(vocabulary, offering, path)? {
            legal_bases.push(basis);
        }
    }
    let pre_assessments = rulebook
        .pre_assessments
        .iter()
        .filter(|pa| pa.offering == offering.id)
        .map(|pa| PreAssessmentSummary {
            id: pa.id.clone(),
            title: pa.title.clone(),
            recipient: pa.recipient.clone(),
            units: pa.units.clone(),
            roles: pa.roles.clone(),
            purpose: pa.purpose.clone(),
            provision: pa.provision.clone(),
            fields: pa.fields.clone(),
            valid_from: iso_date(pa.valid_from),
            valid_until: iso_date(pa.valid_until),
        })
        .collect();
    Ok(Some(Entry {
        offering: offering.id.clone(),
        title: offering.title.clone(),
        description: description.description.clone(),
        provider: Agent {
            id: authority.id.clone(),
            name: authority.name.clone(),
            orgnr: authority.orgnr.clone(),
        },
        fields,
        secrecy: secrecy.id.clone(),
        secrecy_citation: citation(secrecy).to_string(),
        secrecy_class: secrecy_class(secrecy.kind).to_owned(),
        legal_bases,
        pre_assessments,
        retention: description.retention.clone(),
        contact: description.contact.clone(),
        keywords: description.keywords.clone(),
        modified: description.modified.clone(),
    }))
}

/// The catalog's reading of one disclosure path; `None` when it cannot concern this offering.
fn legal_basis(
    vocabulary: &Vocabulary,
    offering: &Offering,
    path: DisclosurePath,
) -> Result<Option<LegalBasis>, Problem> {
    let provision = match &path.legal_basis {
        Some(id) => vocabulary.provisions.get(id),
        // A grant that requires no legal basis is known by the provision it cites.
        None => vocabulary.provisions.values().find(|p| {
            p.sfs == path.citation.sfs
                && p.chapter == path.citation.chapter
                && p.section == path.citation.section
        }),
    };
    let Some(provision) = provision else {
        return Err(Problem::new(
            "offerings.toml",
            1,
            1,
            format!(
                "grant `{}` of the rulebook, which can disclose `{}`, cites {} — no provision of the rulebook",
                path.policy, offering.id, path.citation
            ),
        ));
    };
    // Public access reaches only information held under it; the grant's condition says so, but
    // `disclosure_paths` reads scopes only, so the catalog applies the same rule here.
    if path.legal_basis.is_none()
        && provision.kind == ProvisionKind::PublicAccess
        && offering.secrecy != provision.id
    {
        return Ok(None);
    }
    // Handing information to oneself is no disclosure: a grant that reaches only the provider
    // is no legal basis for its offering.
    let recipients = match path.recipients {
        None => None,
        Some(mut recipients) => {
            recipients.retain(|r| r != &offering.provider);
            if recipients.is_empty() {
                return Ok(None);
            }
            Some(recipients)
        }
    };
    let outcome = match path.class {
        Class::Disclose => "disclose",
        Class::Review => "review",
        // disclosure_paths yields grants only.
        Class::ForceReview | Class::Refuse => return Ok(None),
    };
    Ok(Some(LegalBasis {
        provision: provision.id.clone(),
        citation: path.citation.to_string(),
        title: provision.title.clone(),
        outcome: outcome.to_owned(),
        recipients,
        policy: path.policy,
        pre_assessment: path.pre_assessment,
    }))
}

fn citation(provision: &Provision) -> Citation {
    Citation {
        sfs: provision.sfs.clone(),
        chapter: provision.chapter.clone(),
        section: provision.section.clone(),
        title: provision.title.clone(),
    }
}

/// The facet value for the provision an offering is held under. Vocabulary loading admits only
/// secrecy and public-access provisions there.
fn secrecy_class(kind: ProvisionKind) -> &'static str {
    match kind {
        ProvisionKind::PublicAccess => "offentlig",
        _ => "sekretess",
    }
}

fn iso_date(date: time::Date) -> String {
    format!(
        "{:04}-{:02}-{:02}",
        date.year(),
        u8::from(date.month()),
        date.day()
    )
}
