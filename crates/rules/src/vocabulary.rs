//! The vocabulary a rulebook speaks: authorities and their units, statutory provisions, purposes,
//! offerings with their fields, and decided joint operations.
//!
//! These are the facts the policies refer to. They are data files in the rulebook directory so a
//! legal expert can read every name a policy uses; in a running federation the directory publishes
//! the same facts. Loading checks that every reference resolves, so a policy can never name an
//! authority, field or provision that is not defined here without `check` saying so.

use crate::dates::Period;
use crate::source::{parse_toml, Problem, Problems, SourceFile};
use serde::Deserialize;
use std::collections::{BTreeMap, HashMap, HashSet};
use time::Date;

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Group {
    pub id: String,
    pub title: String,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Unit {
    pub id: String,
    pub name: String,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Authority {
    pub id: String,
    pub name: String,
    /// Organisationsnummer, validated on load.
    pub orgnr: String,
    #[serde(default)]
    pub groups: Vec<String>,
    pub units: Vec<Unit>,
}

/// What kind of rule a provision is; used by the analysis and shown in explanations.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Deserialize, serde::Serialize)]
#[serde(rename_all = "snake_case")]
pub enum ProvisionKind {
    /// A secrecy provision that protects an offering.
    Secrecy,
    /// A duty to provide information on request to listed recipients for listed purposes.
    DutyOnRequest,
    /// A duty established in another statute that breaks secrecy (OSL 10:28).
    StatutoryDuty,
    /// Disclosure allowed after an interest balancing or needs assessment (OSL 10:27, 10:15 a).
    InterestBalancing,
    /// Information that is public and may be handed out.
    PublicAccess,
    /// Protection of a data subject's identity that forces a manual assessment.
    ProtectedIdentity,
    /// A duty to notify another authority on one's own initiative (underrättelseskyldighet).
    DutyToNotify,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Provision {
    pub id: String,
    /// SFS number, e.g. `2009:400`.
    pub sfs: String,
    #[serde(default)]
    pub chapter: String,
    pub section: String,
    pub title: String,
    /// Short name used in speech, e.g. `LUFFA`, `OSL 10:27`.
    pub short: String,
    pub kind: ProvisionKind,
    /// The first Swedish day the provision is in force; absent for a provision in force before
    /// any request the federation can see.
    #[serde(default, with = "crate::dates::optional")]
    pub in_force: Option<Date>,
    /// The first Swedish day the provision no longer is in force (the repeal takes effect).
    #[serde(default, with = "crate::dates::optional")]
    pub repealed: Option<Date>,
    /// A transitional rule (övergångsbestämmelse) keeping a repealed provision applicable.
    #[serde(default)]
    pub transitional: Option<Transitional>,
}

/// What a transitional rule keeps: the repealed provision still applies to requests made up to
/// and including `until`, for the reason `note` gives (e.g. cases begun before the repeal).
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Transitional {
    #[serde(with = "crate::dates")]
    pub until: Date,
    pub note: String,
}

impl Provision {
    /// The days on which the provision applies: from its entry into force until its repeal, or
    /// through its transitional rule's last day.
    pub fn period(&self) -> Period {
        let applies = Period::between(self.in_force, self.repealed);
        match &self.transitional {
            Some(t) => Period {
                until: crate::dates::number(t.until),
                ..applies
            },
            None => applies,
        }
    }
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PurposeGroup {
    pub id: String,
    pub title: String,
    #[serde(default)]
    pub within: Vec<String>,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Purpose {
    pub id: String,
    pub title: String,
    #[serde(default)]
    pub groups: Vec<String>,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Field {
    pub id: String,
    pub title: String,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Category {
    pub id: String,
    pub title: String,
    pub fields: Vec<Field>,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Offering {
    pub id: String,
    pub title: String,
    pub provider: String,
    /// The secrecy provision the information is held under.
    pub secrecy: String,
    /// A kind of notice (underrättelse): what the provider may send on its own initiative,
    /// never asked for. Decided with the action `notify` (see [`crate::notice`]).
    #[serde(default)]
    pub notice: bool,
    #[serde(rename = "category")]
    pub categories: Vec<Category>,
    /// The kinds of change a subscriber may be told of (address changed, deceased, …), each
    /// the change of any of its fields.
    #[serde(default, rename = "event")]
    pub events: Vec<EventType>,
}

/// A kind of change to an offering's information that subscriptions follow: a change of any of
/// `fields` is one.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct EventType {
    pub id: String,
    pub title: String,
    pub fields: Vec<String>,
}

impl Offering {
    /// The category a field belongs to, if the field exists.
    pub fn category_of(&self, field: &str) -> Option<&Category> {
        self.categories
            .iter()
            .find(|c| c.fields.iter().any(|f| f.id == field))
    }

    /// The event types a change of `changed` fields is, in the order the rulebook lists them.
    pub fn events_of<'a>(&'a self, changed: &'a [String]) -> impl Iterator<Item = &'a EventType> {
        self.events
            .iter()
            .filter(move |event| event.fields.iter().any(|f| changed.contains(f)))
    }

    pub fn fields(&self) -> impl Iterator<Item = (&Category, &Field)> {
        self.categories
            .iter()
            .flat_map(|c| c.fields.iter().map(move |f| (c, f)))
    }
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct JointOperation {
    pub id: String,
    pub title: String,
    pub participants: Vec<String>,
    pub decided: bool,
    /// The provision the operation is decided under; its force must cover the operation.
    #[serde(default)]
    pub provision: Option<String>,
    #[serde(with = "crate::dates")]
    pub starts: Date,
    /// Last day of the operation, inclusive.
    #[serde(with = "crate::dates")]
    pub ends: Date,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct AuthoritiesFile {
    #[serde(default, rename = "group")]
    groups: Vec<Group>,
    #[serde(default, rename = "authority")]
    authorities: Vec<Authority>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct ProvisionsFile {
    #[serde(default, rename = "provision")]
    provisions: Vec<Provision>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct PurposesFile {
    #[serde(default, rename = "group")]
    groups: Vec<PurposeGroup>,
    #[serde(default, rename = "purpose")]
    purposes: Vec<Purpose>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct OfferingsFile {
    #[serde(default, rename = "offering")]
    offerings: Vec<Offering>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct OperationsFile {
    #[serde(default, rename = "operation")]
    operations: Vec<JointOperation>,
}

/// The file names of the vocabulary inside a rulebook directory.
pub const FILES: [&str; 6] = [
    "authorities.toml",
    "provisions.toml",
    "purposes.toml",
    "offerings.toml",
    "operations.toml",
    crate::competence::FILE,
];

/// Every fact a rulebook's policies may refer to, checked for consistency.
#[derive(Debug, Clone, Default)]
pub struct Vocabulary {
    pub groups: BTreeMap<String, Group>,
    pub authorities: BTreeMap<String, Authority>,
    /// Unit id → authority id.
    pub unit_authority: HashMap<String, String>,
    pub provisions: BTreeMap<String, Provision>,
    pub purpose_groups: BTreeMap<String, PurposeGroup>,
    pub purposes: BTreeMap<String, Purpose>,
    pub offerings: BTreeMap<String, Offering>,
    pub operations: BTreeMap<String, JointOperation>,
    /// Where each operation and provision is defined (line in its file), for findings.
    pub lines: HashMap<String, usize>,
    /// Who may ask and who may review, when the rulebook models it (`competence.toml`).
    pub competence: Option<crate::competence::Competence>,
}

impl Vocabulary {
    /// Loads the five vocabulary files. `files` maps a file name to its source; a missing file
    /// counts as empty except for the ones a rulebook cannot do without.
    pub fn load(files: &HashMap<&str, SourceFile>) -> Result<Self, crate::LoadError> {
        let mut problems = Problems::default();
        let mut vocabulary = Vocabulary::default();
        let read = |name: &str, problems: &mut Problems| -> Option<&SourceFile> {
            let file = files.get(name);
            if file.is_none() && name != "operations.toml" && name != crate::competence::FILE {
                problems.push(Problem::new(name, 1, 1, format!("missing file {name}")));
            }
            file
        };
        if let Some(file) = read("authorities.toml", &mut problems) {
            match parse_toml::<AuthoritiesFile>(file) {
                Ok(parsed) => vocabulary.add_authorities(file, parsed, &mut problems),
                Err(problem) => problems.push(problem),
            }
        }
        if let Some(file) = read("provisions.toml", &mut problems) {
            match parse_toml::<ProvisionsFile>(file) {
                Ok(parsed) => {
                    for provision in parsed.provisions {
                        check_force(file, &provision, &mut problems);
                        vocabulary.lines.insert(
                            format!("provision:{}", provision.id),
                            file.locate(&format!("\"{}\"", provision.id)).0,
                        );
                        let id = provision.id.clone();
                        insert_unique(
                            file,
                            &mut vocabulary.provisions,
                            id,
                            provision,
                            &mut problems,
                        );
                    }
                }
                Err(problem) => problems.push(problem),
            }
        }
        if let Some(file) = read("purposes.toml", &mut problems) {
            match parse_toml::<PurposesFile>(file) {
                Ok(parsed) => vocabulary.add_purposes(file, parsed, &mut problems),
                Err(problem) => problems.push(problem),
            }
        }
        if let Some(file) = read("offerings.toml", &mut problems) {
            match parse_toml::<OfferingsFile>(file) {
                Ok(parsed) => vocabulary.add_offerings(file, parsed, &mut problems),
                Err(problem) => problems.push(problem),
            }
        }
        if let Some(file) = read("operations.toml", &mut problems) {
            match parse_toml::<OperationsFile>(file) {
                Ok(parsed) => vocabulary.add_operations(file, parsed, &mut problems),
                Err(problem) => problems.push(problem),
            }
        }
        if let Some(file) = read(crate::competence::FILE, &mut problems) {
            vocabulary.competence =
                crate::competence::Competence::load(file, &vocabulary, &mut problems);
        }
        problems.check()?;
        Ok(vocabulary)
    }

    fn add_authorities(
        &mut self,
        file: &SourceFile,
        parsed: AuthoritiesFile,
        problems: &mut Problems,
    ) {
        for group in parsed.groups {
            let id = group.id.clone();
            insert_unique(file, &mut self.groups, id, group, problems);
        }
        for authority in parsed.authorities {
            if let Err(err) = authority
                .orgnr
                .parse::<utbyte_domain::Organisationsnummer>()
            {
                problems.push(file.problem_near(
                    &format!("\"{}\"", authority.orgnr),
                    format!(
                        "authority `{}` has an invalid organisationsnummer: {err}",
                        authority.id
                    ),
                ));
            }
            for group in &authority.groups {
                if !self.groups.contains_key(group) {
                    problems.push(file.problem_near(
                        &format!("\"{group}\""),
                        format!(
                            "authority `{}` is in group `{group}`, which is not defined",
                            authority.id
                        ),
                    ));
                }
            }
            if authority.units.is_empty() {
                problems.push(file.problem_near(
                    &format!("\"{}\"", authority.id),
                    format!(
                        "authority `{}` has no units; requests come from units",
                        authority.id
                    ),
                ));
            }
            for unit in &authority.units {
                if self
                    .unit_authority
                    .insert(unit.id.clone(), authority.id.clone())
                    .is_some()
                {
                    problems.push(file.problem_near(
                        &format!("\"{}\"", unit.id),
                        format!("unit `{}` is defined twice", unit.id),
                    ));
                }
            }
            let id = authority.id.clone();
            insert_unique(file, &mut self.authorities, id, authority, problems);
        }
    }

    fn add_purposes(&mut self, file: &SourceFile, parsed: PurposesFile, problems: &mut Problems) {
        for group in parsed.groups {
            let id = group.id.clone();
            insert_unique(file, &mut self.purpose_groups, id, group, problems);
        }
        let groups: Vec<_> = self.purpose_groups.values().cloned().collect();
        for group in &groups {
            for parent in &group.within {
                if !self.purpose_groups.contains_key(parent) {
                    problems.push(file.problem_near(
                        &format!("\"{parent}\""),
                        format!(
                            "purpose group `{}` is within `{parent}`, which is not defined",
                            group.id
                        ),
                    ));
                }
            }
        }
        for purpose in parsed.purposes {
            for group in &purpose.groups {
                if !self.purpose_groups.contains_key(group) {
                    problems.push(file.problem_near(
                        &format!("\"{group}\""),
                        format!(
                            "purpose `{}` is in group `{group}`, which is not defined",
                            purpose.id
                        ),
                    ));
                }
            }
            let id = purpose.id.clone();
            insert_unique(file, &mut self.purposes, id, purpose, problems);
        }
    }

    fn add_offerings(&mut self, file: &SourceFile, parsed: OfferingsFile, problems: &mut Problems) {
        for offering in parsed.offerings {
            if !self.authorities.contains_key(&offering.provider) {
                problems.push(file.problem_near(
                    &format!("\"{}\"", offering.provider),
                    format!(
                        "offering `{}` names provider `{}`, which is not an authority in authorities.toml",
                        offering.id, offering.provider
                    ),
                ));
            }
            match self.provisions.get(&offering.secrecy) {
                None => problems.push(file.problem_near(
                    &format!("\"{}\"", offering.secrecy),
                    format!(
                        "offering `{}` is held under `{}`, which is not a provision in provisions.toml",
                        offering.id, offering.secrecy
                    ),
                )),
                Some(p) if !matches!(p.kind, ProvisionKind::Secrecy | ProvisionKind::PublicAccess) => {
                    problems.push(file.problem_near(
                        &format!("\"{}\"", offering.secrecy),
                        format!(
                            "offering `{}` is held under `{}`, which is not a secrecy or public-access provision",
                            offering.id, offering.secrecy
                        ),
                    ))
                }
                Some(_) => {}
            }
            let mut seen = HashSet::new();
            for (category, field) in offering.fields() {
                if !seen.insert(field.id.as_str()) {
                    problems.push(file.problem_near(
                        &format!("\"{}\"", field.id),
                        format!(
                            "field `{}` appears twice in offering `{}` (second time in category `{}`)",
                            field.id, offering.id, category.id
                        ),
                    ));
                }
                if field.id.contains('/') || category.id.contains('/') {
                    problems.push(file.problem_near(
                        &format!("\"{}\"", field.id),
                        "field and category ids may not contain `/`",
                    ));
                }
            }
            let mut events = HashSet::new();
            for event in &offering.events {
                if !events.insert(event.id.as_str()) {
                    problems.push(file.problem_near(
                        &format!("\"{}\"", event.id),
                        format!(
                            "event type `{}` appears twice in offering `{}`",
                            event.id, offering.id
                        ),
                    ));
                }
                if event.fields.is_empty() {
                    problems.push(file.problem_near(
                        &format!("\"{}\"", event.id),
                        format!("event type `{}` names no field", event.id),
                    ));
                }
                for field in &event.fields {
                    if !seen.contains(field.as_str()) {
                        problems.push(file.problem_near(
                            &format!("\"{}\"", event.id),
                            format!(
                                "event type `{}` names field `{field}`, which offering `{}` does not have",
                                event.id, offering.id
                            ),
                        ));
                    }
                }
            }
            let id = offering.id.clone();
            insert_unique(file, &mut self.offerings, id, offering, problems);
        }
    }

    fn add_operations(
        &mut self,
        file: &SourceFile,
        parsed: OperationsFile,
        problems: &mut Problems,
    ) {
        for operation in parsed.operations {
            for participant in &operation.participants {
                if !self.authorities.contains_key(participant) {
                    problems.push(file.problem_near(
                        &format!("\"{participant}\""),
                        format!(
                            "operation `{}` names participant `{participant}`, which is not an authority",
                            operation.id
                        ),
                    ));
                }
            }
            if let Some(provision) = &operation.provision {
                if !self.provisions.contains_key(provision) {
                    problems.push(file.problem_near(
                        &format!("\"{provision}\""),
                        format!(
                            "operation `{}` is decided under `{provision}`, which is not a provision",
                            operation.id
                        ),
                    ));
                }
            }
            if operation.ends < operation.starts {
                problems.push(file.problem_near(
                    &format!("\"{}\"", operation.id),
                    format!("operation `{}` ends before it starts", operation.id),
                ));
            }
            let id = operation.id.clone();
            self.lines.insert(
                format!("operation:{id}"),
                file.locate(&format!("\"{id}\"")).0,
            );
            insert_unique(file, &mut self.operations, id, operation, problems);
        }
    }

    /// The authorities a group contains.
    pub fn group_members(&self, group: &str) -> impl Iterator<Item = &Authority> + '_ {
        let group = group.to_owned();
        self.authorities
            .values()
            .filter(move |a| a.groups.contains(&group))
    }

    /// Whether `purpose` is `scope` itself or lies within the purpose group `scope` (through
    /// any chain of groups), as `context.purpose in PurposeGroup::"scope"` tests it.
    pub fn purpose_within(&self, purpose: &str, scope: &str) -> bool {
        let Some(p) = self.purposes.get(purpose) else {
            return false;
        };
        if purpose == scope {
            return true;
        }
        let mut pending: Vec<&str> = p.groups.iter().map(String::as_str).collect();
        let mut seen = std::collections::HashSet::new();
        while let Some(group) = pending.pop() {
            if group == scope {
                return true;
            }
            if seen.insert(group) {
                if let Some(g) = self.purpose_groups.get(group) {
                    pending.extend(g.within.iter().map(String::as_str));
                }
            }
        }
        false
    }

    /// The line of `operations.toml` or `provisions.toml` defining `what` (`operation:id`,
    /// `provision:id`).
    pub fn line_of(&self, what: &str) -> usize {
        self.lines.get(what).copied().unwrap_or(1)
    }

    /// The authority a unit belongs to.
    pub fn authority_of_unit(&self, unit: &str) -> Option<&Authority> {
        self.unit_authority
            .get(unit)
            .and_then(|a| self.authorities.get(a))
    }
}

/// A provision's dates must follow each other: in force, then repealed, then the last day of a
/// transitional rule; a transitional rule belongs to a repealed provision.
fn check_force(file: &SourceFile, provision: &Provision, problems: &mut Problems) {
    let id = &provision.id;
    let mut wrong =
        |message: String| problems.push(file.problem_near(&format!("\"{id}\""), message));
    if let (Some(from), Some(repealed)) = (provision.in_force, provision.repealed) {
        if repealed <= from {
            wrong(format!(
                "provision `{id}` is repealed on or before the day it enters into force"
            ));
        }
    }
    match (&provision.transitional, provision.repealed) {
        (Some(_), None) => wrong(format!(
            "provision `{id}` has a transitional rule but is not repealed; a transitional rule keeps a repealed provision applicable"
        )),
        (Some(t), Some(repealed)) if t.until < repealed => wrong(format!(
            "provision `{id}`: its transitional rule ends before the repeal takes effect"
        )),
        _ => {}
    }
}

fn insert_unique<T>(
    file: &SourceFile,
    map: &mut BTreeMap<String, T>,
    id: String,
    value: T,
    problems: &mut Problems,
) {
    if id.is_empty() || id.contains('"') || id.chars().any(char::is_whitespace) {
        problems.push(file.problem_near(
            &format!("\"{id}\""),
            format!(
                "`{id}` is not a valid id: use letters, digits, `-` and `_`, no spaces or quotes"
            ),
        ));
    }
    match map.entry(id) {
        std::collections::btree_map::Entry::Occupied(entry) => {
            let id = entry.key();
            problems
                .push(file.problem_near(&format!("\"{id}\""), format!("`{id}` is defined twice")));
        }
        std::collections::btree_map::Entry::Vacant(entry) => {
            entry.insert(value);
        }
    }
}
