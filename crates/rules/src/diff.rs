//! What a new rulebook version changes: every request whose decision differs from the old one's,
//! field by field, with both outcomes and the provisions behind them.
//!
//! A jurist reviewing a proposed rulebook asks one question: for whom, for what and on what
//! ground does anything leave the provider, or stop leaving it, that did not before? [`diff`]
//! answers it by deciding the same requests with both rulebooks and keeping the fields whose
//! decision differs.
//!
//! # Why enumeration
//!
//! The requests are enumerated, not solved for. A symbolic comparison of the two policy sets
//! (`cedar-policy-symcc`) needs an SMT solver (cvc5) that is not shipped with the binary, and
//! would answer with counterexamples rather than with the concrete outcomes, grounds and
//! citations a jurist reads in a decision. The vocabulary is finite, so deciding every
//! combination of it is exact for the dimensions enumerated; the decisions are made by
//! [`Rulebook::decide`] itself, so what the diff shows is what the nodes would do.
//!
//! # What is enumerated
//!
//! Every combination of, from the two vocabularies united (something that exists in one rulebook
//! only is compared too; the other decides it as it decides any request naming something it does
//! not know — refused with an explicit ground, or rejected as malformed):
//!
//! - every unit of every authority, the authority being the recipient;
//! - every role of `roles`: those competence defines, those pre-assessments list, `handlaggare`,
//!   and one standing for every role named nowhere;
//! - every offering, asking for all its fields (those of both versions of the offering); notice
//!   kinds too, which a request cannot ask for, so that a kind that stops or starts being one
//!   shows;
//! - every purpose;
//! - every provision as legal basis, of every kind: a secrecy or public-access provision claimed
//!   as basis is refused by a sound rulebook, but a grant that does not test the basis (public
//!   information) discloses under it, and a change there is a change;
//! - without a joint operation, and within each operation under the provision it is decided
//!   under and under the bases of the policies that read the operation (`operations`);
//! - a subject with an ordinary personnummer, and the same with protected identity.
//!
//! Not enumerated: the instant (the caller gives one, `at`; validity periods and the force of
//! the law are judged on its Swedish day), the kind of subject identifier (always a
//! personnummer), the case reference, and own-initiative notices (decided with another action).
//! A hand-written policy that tests a role neither competence nor a pre-assessment names, or a
//! subject kind, is compared only for the values above.
//!
//! # Cost
//!
//! The example rulebook gives millions of requests to decide with each rulebook. Most come from
//! officers without competence for the offering and purpose, which [`Rulebook::decide`] refuses
//! before any policy is evaluated, for want of competence or for something it does not know
//! (`crate::decide`); neither reads the role nor the subject. Such requests that differ only in
//! role and subject are decided once per rulebook (`answer`; a test holds this against deciding
//! every request of part of the example); every other request is decided on its own. The work
//! is shared between the machine's cores; the changes are listed in the same order whatever the
//! number of threads.
//!
//! # What counts as a change
//!
//! Per field: a different outcome ([`Kind::Outcome`]); the same outcome on another ground
//! ([`Kind::Ground`]); or the same outcome and ground resting on other policies
//! ([`Kind::Citation`], counted apart: the law cited changed, not what happens). Policies are
//! compared as a decision records them — id, class, citation, pre-assessment, what to weigh —
//! so moving a policy within its file changes nothing.

use crate::competence::Asker;
use crate::decision::{Cited, Decision, FieldDecision, Ground, Outcome};
use crate::request::{DisclosureRequest, RequestError, Subject};
use crate::Rulebook;
use serde::Serialize;
use std::collections::{BTreeMap, BTreeSet};
use std::fmt;
use std::sync::atomic::{AtomicUsize, Ordering};
use time::OffsetDateTime;

/// The personnummer every enumerated request is about (a valid test number).
const SUBJECT: &str = "19121212-1212";

/// The case reference every enumerated request carries.
const CASE_REF: &str = "diff";

/// The differences between two rulebooks' decisions.
#[derive(Debug, Clone, Serialize)]
pub struct Diff {
    pub old: Version,
    pub new: Version,
    /// The instant every request was decided at.
    #[serde(with = "time::serde::rfc3339")]
    pub at: OffsetDateTime,
    /// Requests enumerated; each rulebook answered every one.
    pub requests: usize,
    /// Field decisions compared: one per enumerated request and requested field.
    pub compared: usize,
    pub summary: Summary,
    /// Every changed field decision, by offering, recipient, unit, purpose, legal basis,
    /// operation, role, subject and field.
    pub changes: Vec<Change>,
}

/// A rulebook as the diff names it.
#[derive(Debug, Clone, Serialize)]
pub struct Version {
    pub name: String,
    pub version: String,
    pub hash: String,
}

impl Version {
    fn of(rulebook: &Rulebook) -> Self {
        Self {
            name: rulebook.manifest.name.clone(),
            version: rulebook.manifest.version.clone(),
            hash: rulebook.hash().to_owned(),
        }
    }
}

/// The counts a reviewer reads first.
#[derive(Debug, Clone, Default, Serialize)]
pub struct Summary {
    /// Field decisions whose outcome or ground changed.
    pub changed: usize,
    /// Of those, with another outcome.
    pub outcome_changed: usize,
    /// Of those, with the same outcome on another ground.
    pub ground_changed: usize,
    /// Field decisions with the same outcome and ground resting on other policies.
    pub citation_changed: usize,
    /// Changed field decisions (outcome or ground) per old → new outcome.
    pub transitions: Vec<Transition>,
    /// Changes per offering, for the offerings with any.
    pub offerings: Vec<OfferingCount>,
}

/// How many changed field decisions went from one outcome to another.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Transition {
    pub old: Verdict,
    pub new: Verdict,
    pub count: usize,
}

/// How many field decisions of one offering changed.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct OfferingCount {
    pub offering: String,
    /// Outcome or ground changed.
    pub changed: usize,
    pub citation_changed: usize,
}

/// What a field got: one of the three outcomes, or nothing because the whole request was
/// rejected as malformed for that rulebook (e.g. a unit its vocabulary does not place under the
/// recipient).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Verdict {
    Disclose,
    Review,
    Refuse,
    Rejected,
}

impl From<Outcome> for Verdict {
    fn from(outcome: Outcome) -> Self {
        match outcome {
            Outcome::Disclose => Verdict::Disclose,
            Outcome::Review => Verdict::Review,
            Outcome::Refuse => Verdict::Refuse,
        }
    }
}

impl fmt::Display for Verdict {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Verdict::Disclose => "disclose",
            Verdict::Review => "review",
            Verdict::Refuse => "refuse",
            Verdict::Rejected => "rejected",
        })
    }
}

/// How much a field's decision changed, most first.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Kind {
    /// Another outcome.
    Outcome,
    /// The same outcome on another ground (or, for a rejected request, another reason).
    Ground,
    /// The same outcome and ground, resting on other policies.
    Citation,
}

/// The subject an enumerated request is about.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum SubjectVariant {
    /// An ordinary personnummer.
    Ordinary,
    /// The same personnummer, its identity protected in the provider's register.
    ProtectedIdentity,
}

impl SubjectVariant {
    const ALL: [SubjectVariant; 2] = [SubjectVariant::Ordinary, SubjectVariant::ProtectedIdentity];
}

impl fmt::Display for SubjectVariant {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            SubjectVariant::Ordinary => "ordinary subject",
            SubjectVariant::ProtectedIdentity => "protected identity",
        })
    }
}

/// One field of one enumerated request whose decision changed.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Change {
    pub kind: Kind,
    pub recipient: String,
    pub unit: String,
    pub role: String,
    pub offering: String,
    pub field: String,
    pub purpose: String,
    pub legal_basis: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub operation: Option<String>,
    pub subject: SubjectVariant,
    pub old: Side,
    pub new: Side,
}

/// One rulebook's decision of a field.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Side {
    pub outcome: Verdict,
    /// Why the field got its outcome; none for a rejected request.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub ground: Option<Ground>,
    /// The policies that determined the outcome.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub determining: Vec<Cited>,
    /// For review: the grants a reviewer may disclose under.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub candidates: Vec<Cited>,
    /// Why the request was rejected.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
}

impl Side {
    fn of(decided: Decided<'_>) -> Self {
        match decided {
            Ok(field) => Side {
                outcome: field.outcome.into(),
                ground: Some(field.ground),
                determining: field.determining.clone(),
                candidates: field.candidates.clone(),
                error: None,
            },
            Err(error) => Side {
                outcome: Verdict::Rejected,
                ground: None,
                determining: Vec::new(),
                candidates: Vec::new(),
                error: Some(error.to_string()),
            },
        }
    }
}

/// One rulebook's answer for one field: its decision, or why the request was rejected.
type Decided<'a> = Result<&'a FieldDecision, &'a RequestError>;

/// Decides every enumerated request (see the module documentation) with both rulebooks at
/// `at`, and lists the field decisions that differ.
pub fn diff(old: &Rulebook, new: &Rulebook, at: OffsetDateTime) -> Diff {
    let space = Space::new(old, new);
    let jobs: Vec<(usize, usize)> = (0..space.offerings.len())
        .flat_map(|o| (0..space.units.len()).map(move |u| (o, u)))
        .collect();
    let next = AtomicUsize::new(0);
    let threads = std::thread::available_parallelism()
        .map_or(1, usize::from)
        .min(jobs.len())
        .max(1);
    let mut done: Vec<(usize, Outcomes)> = std::thread::scope(|scope| {
        let workers: Vec<_> = (0..threads)
            .map(|_| {
                scope.spawn(|| {
                    let mut finished = Vec::new();
                    loop {
                        let job = next.fetch_add(1, Ordering::Relaxed);
                        let Some(&(offering, unit)) = jobs.get(job) else {
                            break;
                        };
                        finished.push((job, space.compare(old, new, offering, unit, at)));
                    }
                    finished
                })
            })
            .collect();
        workers
            .into_iter()
            .flat_map(|worker| match worker.join() {
                Ok(finished) => finished,
                Err(panic) => std::panic::resume_unwind(panic),
            })
            .collect()
    });
    done.sort_by_key(|(job, _)| *job);
    let mut requests = 0;
    let mut compared = 0;
    let mut changes = Vec::new();
    for (_, outcomes) in done {
        requests += outcomes.requests;
        compared += outcomes.compared;
        changes.extend(outcomes.changes);
    }
    Diff {
        old: Version::of(old),
        new: Version::of(new),
        at,
        requests,
        compared,
        summary: Summary::of(&changes),
        changes,
    }
}

/// The roles every request is tried with: the roles of both rulebooks' `competence.toml` (the
/// vocabulary of roles); the `roles` of their pre-assessments (a rulebook without competence
/// names roles nowhere else); `handlaggare`, the ordinary case officer, for a rulebook that names
/// none; and one role named nowhere, standing for every other role — the roles neither
/// competence nor a pre-assessment lists are decided alike.
fn roles(old: &Rulebook, new: &Rulebook) -> Vec<String> {
    let mut named = BTreeSet::from(["handlaggare".to_owned()]);
    for rulebook in [old, new] {
        if let Some(competence) = &rulebook.vocabulary.competence {
            named.extend(competence.roles.keys().cloned());
        }
        for pa in &rulebook.pre_assessments {
            named.extend(pa.roles.iter().cloned());
        }
    }
    let mut other = "(any other role)".to_owned();
    while named.contains(&other) {
        other.push('\'');
    }
    named.into_iter().chain([other]).collect()
}

/// The joint operations to try under each legal basis. An operation is tried under the
/// provision it is decided under, and under every basis some policy that may read
/// `context.operation` requires (every basis, if such a policy requires none). Under any other
/// basis no policy can tell a request within the operation from one without; a rulebook that
/// does not know the operation would refuse it, but a request only names an operation to claim
/// a duty that exists within one.
fn operations(old: &Rulebook, new: &Rulebook) -> impl Fn(&str) -> Vec<String> {
    let mut read_under: Option<BTreeSet<String>> = Some(BTreeSet::new());
    for (policy, _) in old.policies().chain(new.policies()) {
        let reads = policy.to_json().map_or(true, |json| reads_operation(&json));
        if reads {
            match (crate::footprint::of(policy).basis, &mut read_under) {
                (Some(basis), Some(bases)) => {
                    bases.insert(basis);
                }
                (Some(_), None) => {}
                (None, _) => read_under = None,
            }
        }
    }
    let mut decided_under: BTreeMap<String, Option<String>> = BTreeMap::new();
    for rulebook in [new, old] {
        for operation in rulebook.vocabulary.operations.values() {
            let provision = decided_under.entry(operation.id.clone()).or_default();
            if provision.is_none() {
                provision.clone_from(&operation.provision);
            }
        }
    }
    move |basis: &str| {
        let read = read_under
            .as_ref()
            .is_none_or(|bases| bases.contains(basis));
        decided_under
            .iter()
            .filter(|(_, provision)| read || provision.as_deref() == Some(basis))
            .map(|(id, _)| id.clone())
            .collect()
    }
}

/// Whether a policy (in Cedar's JSON form) may read the joint operation: it reads
/// `context.operation`, tests `context has operation`, or uses `context` otherwise than by
/// reading or testing one named attribute.
fn reads_operation(json: &serde_json::Value) -> bool {
    use serde_json::Value;
    let is_context = |v: &Value| v.get("Var").and_then(Value::as_str) == Some("context");
    match json {
        Value::Object(map) => {
            for access in [".", "has"].iter().filter_map(|op| map.get(*op)) {
                if access.get("left").is_some_and(is_context) {
                    return access.get("attr").and_then(Value::as_str) == Some("operation");
                }
            }
            is_context(json) || map.values().any(reads_operation)
        }
        Value::Array(items) => items.iter().any(reads_operation),
        _ => false,
    }
}

/// The dimensions enumerated, from both vocabularies united.
struct Space {
    /// (recipient, unit).
    units: Vec<(String, String)>,
    roles: Vec<String>,
    /// Each offering with the fields of both versions of it: the new version's in its order,
    /// then those only the old one has.
    offerings: Vec<(String, Vec<String>)>,
    purposes: Vec<String>,
    /// Each legal basis with the operations to try under it, `None` (no operation) first.
    bases: Vec<(String, Vec<Option<String>>)>,
}

impl Space {
    fn new(old: &Rulebook, new: &Rulebook) -> Self {
        let both = [&new.vocabulary, &old.vocabulary];
        let units: BTreeSet<(String, String)> = both
            .iter()
            .flat_map(|v| v.authorities.values())
            .flat_map(|a| a.units.iter().map(|u| (a.id.clone(), u.id.clone())))
            .collect();
        let mut offerings: BTreeMap<String, Vec<String>> = BTreeMap::new();
        for offering in both.iter().flat_map(|v| v.offerings.values()) {
            let fields = offerings.entry(offering.id.clone()).or_default();
            for (_, field) in offering.fields() {
                if !fields.contains(&field.id) {
                    fields.push(field.id.clone());
                }
            }
        }
        let purposes: BTreeSet<String> = both
            .iter()
            .flat_map(|v| v.purposes.keys().cloned())
            .collect();
        let operations = operations(old, new);
        let bases = both
            .iter()
            .flat_map(|v| v.provisions.keys().cloned())
            .collect::<BTreeSet<String>>()
            .into_iter()
            .map(|basis| {
                let variants = std::iter::once(None)
                    .chain(operations(&basis).into_iter().map(Some))
                    .collect();
                (basis, variants)
            })
            .collect();
        Self {
            units: units.into_iter().collect(),
            roles: roles(old, new),
            offerings: offerings.into_iter().collect(),
            purposes: purposes.into_iter().collect(),
            bases,
        }
    }

    /// Decides every request for one offering from one unit with both rulebooks.
    fn compare(
        &self,
        old: &Rulebook,
        new: &Rulebook,
        offering: usize,
        unit: usize,
        at: OffsetDateTime,
    ) -> Outcomes {
        let (offering, fields) = &self.offerings[offering];
        let (recipient, unit) = &self.units[unit];
        let mut outcomes = Outcomes::default();
        let mut request = DisclosureRequest {
            recipient: recipient.clone(),
            unit: unit.clone(),
            role: String::new(),
            officer: None,
            vouched_by: None,
            offering: offering.clone(),
            fields: fields.clone(),
            purpose: String::new(),
            legal_basis: String::new(),
            case_ref: CASE_REF.to_owned(),
            operation: None,
            subject: Subject {
                id: SUBJECT.to_owned(),
                protected_identity: false,
            },
            time: at,
        };
        let asker = |role| Asker {
            authority: recipient,
            unit,
            role,
        };
        for purpose in &self.purposes {
            request.purpose.clone_from(purpose);
            let competent: Vec<(bool, bool)> = self
                .roles
                .iter()
                .map(|role| {
                    let may = |rulebook: &Rulebook| {
                        rulebook.vocabulary.may_ask(asker(role), offering, purpose)
                    };
                    (may(old), may(new))
                })
                .collect();
            for (basis, operations) in &self.bases {
                request.legal_basis.clone_from(basis);
                for operation in operations {
                    request.operation.clone_from(operation);
                    // Each rulebook's answer to the askers without competence, whatever their
                    // role and subject (see the module documentation), and how the two differ.
                    let (mut old_shared, mut new_shared) = (None, None);
                    let mut shared_changes = None;
                    for (role, &(old_may, new_may)) in self.roles.iter().zip(&competent) {
                        request.role.clone_from(role);
                        for subject in SubjectVariant::ALL {
                            request.subject.protected_identity =
                                subject == SubjectVariant::ProtectedIdentity;
                            let (mut old_own, mut new_own) = (None, None);
                            let (before, old_is_shared) =
                                answer(old, &request, old_may, &mut old_shared, &mut old_own);
                            let (after, new_is_shared) =
                                answer(new, &request, new_may, &mut new_shared, &mut new_own);
                            let fresh;
                            let changes = if old_is_shared && new_is_shared {
                                shared_changes
                                    .get_or_insert_with(|| changed(before, after, &request.fields))
                            } else {
                                fresh = changed(before, after, &request.fields);
                                &fresh
                            };
                            outcomes.record(before, after, &request, subject, changes);
                        }
                    }
                }
            }
        }
        outcomes
    }
}

/// What deciding part of the enumeration found.
#[derive(Default)]
struct Outcomes {
    requests: usize,
    compared: usize,
    changes: Vec<Change>,
}

impl Outcomes {
    /// Counts one enumerated request and keeps its changed fields.
    fn record(
        &mut self,
        old: &Answer,
        new: &Answer,
        request: &DisclosureRequest,
        subject: SubjectVariant,
        changed: &[(usize, Kind)],
    ) {
        self.requests += 1;
        self.compared += request.fields.len();
        for &(index, kind) in changed {
            let field = &request.fields[index];
            self.changes.push(Change {
                kind,
                recipient: request.recipient.clone(),
                unit: request.unit.clone(),
                role: request.role.clone(),
                offering: request.offering.clone(),
                field: field.clone(),
                purpose: request.purpose.clone(),
                legal_basis: request.legal_basis.clone(),
                operation: request.operation.clone(),
                subject,
                old: Side::of(field_of(old, index, field)),
                new: Side::of(field_of(new, index, field)),
            });
        }
    }
}

/// The requested fields (by index) whose decision differs between two answers, and how.
fn changed(old: &Answer, new: &Answer, fields: &[String]) -> Vec<(usize, Kind)> {
    fields
        .iter()
        .enumerate()
        .filter_map(|(index, field)| {
            kind(field_of(old, index, field), field_of(new, index, field)).map(|k| (index, k))
        })
        .collect()
}

/// A rulebook's answer to a request: its decision, or why it was rejected.
type Answer = Result<Decision, RequestError>;

/// `rulebook`'s answer to `request`, and whether it is the shared one. Decided afresh (into
/// `own`) when the asker has competence for the offering and purpose (`competent`, as
/// [`Vocabulary::may_ask`](crate::vocabulary::Vocabulary::may_ask) says); else the answer
/// already given (in `shared`) to an asker without it for the same offering, purpose, basis and
/// operation, who differed at most in role and subject: such a request is refused for want of
/// competence, or for a reason found before, and neither reads the role nor the subject.
fn answer<'a>(
    rulebook: &Rulebook,
    request: &DisclosureRequest,
    competent: bool,
    shared: &'a mut Option<Answer>,
    own: &'a mut Option<Answer>,
) -> (&'a Answer, bool) {
    if competent {
        (own.insert(rulebook.decide(request)), false)
    } else {
        (shared.get_or_insert_with(|| rulebook.decide(request)), true)
    }
}

/// The decision of the `index`-th requested field, `field`. A decision answers the fields in
/// the order they were asked for; it is looked up by name should that ever not hold.
fn field_of<'a>(answer: &'a Answer, index: usize, field: &str) -> Decided<'a> {
    let decision = answer.as_ref()?;
    Ok(decision
        .fields
        .get(index)
        .filter(|f| f.field == field)
        .or_else(|| decision.fields.iter().find(|f| f.field == field))
        .unwrap_or_else(|| unreachable!("a decision answers every requested field")))
}

/// How a field's decision changed between two rulebooks, if it did.
fn kind(old: Decided<'_>, new: Decided<'_>) -> Option<Kind> {
    match (old, new) {
        (Ok(old), Ok(new)) => {
            if old.outcome != new.outcome {
                Some(Kind::Outcome)
            } else if old.ground != new.ground {
                Some(Kind::Ground)
            } else if !same_policies(&old.determining, &new.determining)
                || !same_policies(&old.candidates, &new.candidates)
            {
                Some(Kind::Citation)
            } else {
                None
            }
        }
        (Err(old), Err(new)) => (old != new).then_some(Kind::Ground),
        _ => Some(Kind::Outcome),
    }
}

/// Whether two lists cite the same policies as a decision records them (not where they are
/// written).
fn same_policies(old: &[Cited], new: &[Cited]) -> bool {
    old.len() == new.len()
        && old.iter().zip(new).all(|(a, b)| {
            a.id == b.id
                && a.class == b.class
                && a.citation == b.citation
                && a.pre_assessment == b.pre_assessment
                && a.weigh == b.weigh
        })
}

impl Summary {
    fn of(changes: &[Change]) -> Self {
        let mut summary = Summary::default();
        let mut transitions: BTreeMap<(Verdict, Verdict), usize> = BTreeMap::new();
        let mut offerings: BTreeMap<&str, OfferingCount> = BTreeMap::new();
        for change in changes {
            let count = offerings
                .entry(&change.offering)
                .or_insert_with(|| OfferingCount {
                    offering: change.offering.clone(),
                    changed: 0,
                    citation_changed: 0,
                });
            match change.kind {
                Kind::Citation => {
                    summary.citation_changed += 1;
                    count.citation_changed += 1;
                    continue;
                }
                Kind::Outcome => summary.outcome_changed += 1,
                Kind::Ground => summary.ground_changed += 1,
            }
            summary.changed += 1;
            count.changed += 1;
            *transitions
                .entry((change.old.outcome, change.new.outcome))
                .or_default() += 1;
        }
        summary.transitions = transitions
            .into_iter()
            .map(|((old, new), count)| Transition { old, new, count })
            .collect();
        summary.offerings = offerings.into_values().collect();
        summary
    }
}

impl fmt::Display for Diff {
    /// The counts first; then each change with both decisions and what they rest on (fields of
    /// one request that changed alike are listed together); then the cited provisions' titles.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let s = &self.summary;
        writeln!(
            f,
            "{} changed ({} outcome, {} ground), {} citation changed, of {} field decisions compared ({} requests)",
            s.changed,
            s.outcome_changed,
            s.ground_changed,
            s.citation_changed,
            self.compared,
            self.requests
        )?;
        for t in &s.transitions {
            writeln!(f, "  {:<8} → {:<8}  {}", t.old, t.new, t.count)?;
        }
        for o in &s.offerings {
            writeln!(
                f,
                "  {}: {} changed, {} citation changed",
                o.offering, o.changed, o.citation_changed
            )?;
        }
        for (label, version) in [("Old", &self.old), ("New", &self.new)] {
            writeln!(
                f,
                "{label}  {} {} (sha256 {})",
                version.name,
                version.version,
                version.hash.get(..16).unwrap_or(&version.hash)
            )?;
        }
        let at = self
            .at
            .format(&time::format_description::well_known::Rfc3339)
            .unwrap_or_else(|_| self.at.to_string());
        writeln!(f, "At   {at}")?;
        let mut rest = self.changes.as_slice();
        while let Some(first) = rest.first() {
            let alike = rest
                .iter()
                .take_while(|c| c.same_request(first) && c.kind == first.kind)
                .take_while(|c| c.old == first.old && c.new == first.new)
                .count();
            let (group, tail) = rest.split_at(alike);
            writeln!(f)?;
            render(f, group)?;
            rest = tail;
        }
        let mut titles = BTreeMap::new();
        for change in &self.changes {
            for cited in [&change.old, &change.new]
                .into_iter()
                .flat_map(|side| side.determining.iter().chain(&side.candidates))
            {
                titles
                    .entry(cited.citation.to_string())
                    .or_insert(&cited.citation.title);
            }
        }
        if !titles.is_empty() {
            writeln!(f, "\nCited provisions")?;
            for (citation, title) in titles {
                writeln!(f, "  {citation}  {title}")?;
            }
        }
        Ok(())
    }
}

impl Change {
    /// Whether two changes are about the same enumerated request (perhaps another field).
    fn same_request(&self, other: &Change) -> bool {
        (
            &self.recipient,
            &self.unit,
            &self.role,
            &self.offering,
            &self.purpose,
            &self.legal_basis,
            &self.operation,
            self.subject,
        ) == (
            &other.recipient,
            &other.unit,
            &other.role,
            &other.offering,
            &other.purpose,
            &other.legal_basis,
            &other.operation,
            other.subject,
        )
    }
}

/// Changes of one request that changed alike: the request, the fields, both decisions.
fn render(f: &mut fmt::Formatter<'_>, group: &[Change]) -> fmt::Result {
    let Some(first) = group.first() else {
        return Ok(());
    };
    let kind = match first.kind {
        Kind::Outcome => "outcome",
        Kind::Ground => "ground",
        Kind::Citation => "citation",
    };
    let fields: Vec<&str> = group.iter().map(|c| c.field.as_str()).collect();
    writeln!(
        f,
        "{} {} — {kind} changed",
        first.offering,
        fields.join(", ")
    )?;
    writeln!(
        f,
        "  asked by  {} / {}, role {}, {}",
        first.recipient, first.unit, first.role, first.subject
    )?;
    write!(
        f,
        "  for       purpose {}, basis {}",
        first.purpose, first.legal_basis
    )?;
    match &first.operation {
        Some(operation) => writeln!(f, ", operation {operation}")?,
        None => writeln!(f)?,
    }
    render_side(f, "old", &first.old, &first.new)?;
    render_side(f, "new", &first.new, &first.old)
}

/// One side of a change: outcome, ground (or why the request was rejected) and the policies it
/// rests on. What a cited policy says must be weighed is shown unless the other side cites the
/// same policy weighing the same.
fn render_side(f: &mut fmt::Formatter<'_>, label: &str, side: &Side, other: &Side) -> fmt::Result {
    let outcome = side.outcome.to_string().to_uppercase();
    match (&side.ground, &side.error) {
        (Some(ground), _) => writeln!(f, "  {label}       {outcome:<8}  {ground}")?,
        (None, Some(error)) => writeln!(f, "  {label}       {outcome:<8}  {error}")?,
        (None, None) => writeln!(f, "  {label}       {outcome}")?,
    }
    let cited = side
        .determining
        .iter()
        .map(|c| ("by", c))
        .chain(side.candidates.iter().map(|c| ("may", c)));
    for (how, cited) in cited {
        let source = match &cited.pre_assessment {
            Some(pa) => format!("pre-assessment {pa}"),
            None => cited.id.clone(),
        };
        writeln!(f, "              {how:<3}  {} [{source}]", cited.citation)?;
        let weighed_alike = other
            .determining
            .iter()
            .chain(&other.candidates)
            .any(|o| o.id == cited.id && o.weigh == cited.weigh);
        match &cited.weigh {
            Some(weigh) if !weighed_alike => writeln!(f, "                   weigh: {weigh}")?,
            _ => {}
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::rulebook::read_dir;
    use crate::source::SourceFile;
    use std::path::PathBuf;

    fn example() -> Vec<SourceFile> {
        let dir = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../rulebook");
        read_dir(&dir).unwrap_or_else(|e| panic!("{e}"))
    }

    fn load(files: &[SourceFile]) -> Rulebook {
        Rulebook::from_sources(files).unwrap_or_else(|e| panic!("{e}"))
    }

    /// Replaces `from` by `to` in one file of a rulebook, which must contain it.
    fn edit(files: &mut [SourceFile], path: &str, from: &str, to: &str) {
        let file = files.iter_mut().find(|f| f.path == path);
        let file = file.unwrap_or_else(|| panic!("no {path}"));
        assert!(file.text.contains(from), "{path} lacks {from}");
        file.text = file.text.replacen(from, to, 1);
    }

    /// Every request of one job decided on its own by both rulebooks: the reference the shared
    /// answers must agree with.
    fn one_by_one(space: &Space, old: &Rulebook, new: &Rulebook, job: (usize, usize)) -> Outcomes {
        let (offering, fields) = &space.offerings[job.0];
        let (recipient, unit) = &space.units[job.1];
        let mut outcomes = Outcomes::default();
        for purpose in &space.purposes {
            for (basis, operations) in &space.bases {
                for operation in operations {
                    for role in &space.roles {
                        for subject in SubjectVariant::ALL {
                            let request = DisclosureRequest {
                                recipient: recipient.clone(),
                                unit: unit.clone(),
                                role: role.clone(),
                                officer: None,
                                vouched_by: None,
                                offering: offering.clone(),
                                fields: fields.clone(),
                                purpose: purpose.clone(),
                                legal_basis: basis.clone(),
                                case_ref: CASE_REF.to_owned(),
                                operation: operation.clone(),
                                subject: Subject {
                                    id: SUBJECT.to_owned(),
                                    protected_identity: subject
                                        == SubjectVariant::ProtectedIdentity,
                                },
                                time: AT,
                            };
                            let (before, after) = (old.decide(&request), new.decide(&request));
                            let changes = changed(&before, &after, fields);
                            outcomes.record(&before, &after, &request, subject, &changes);
                        }
                    }
                }
            }
        }
        outcomes
    }

    const AT: OffsetDateTime = time::macros::datetime!(2026-06-01 10:00 UTC);

    #[test]
    fn shared_answers_agree_with_deciding_every_request() {
        let files = example();
        let old = load(&files);
        let mut changed_files = files.clone();
        // A role loses its competence at Försäkringskassan, another gains one at Malmö stad, and
        // a pre-assessment loses a field: shared and own answers change on both sides.
        edit(
            &mut changed_files,
            "competence.toml",
            "roles = [\"handlaggare\", \"kontrollutredare\", \"analytiker\"]",
            "roles = [\"handlaggare\", \"kontrollutredare\"]",
        );
        edit(
            &mut changed_files,
            "competence.toml",
            "roles = [\"handlaggare\", \"socialsekreterare\"]",
            "roles = [\"handlaggare\", \"socialsekreterare\", \"analytiker\"]",
        );
        edit(
            &mut changed_files,
            "pre-assessments/luffa.toml",
            "fields = [\"lon\", \"arbetsgivare\", \"inkomstperiod\"]",
            "fields = [\"lon\", \"arbetsgivare\"]",
        );
        let new = load(&changed_files);
        let space = Space::new(&old, &new);
        let position = |list: &[(String, Vec<String>)], id: &str| {
            list.iter()
                .position(|(x, _)| x == id)
                .unwrap_or_else(|| panic!("no {id}"))
        };
        let unit = |id: &str| {
            space
                .units
                .iter()
                .position(|(_, u)| u == id)
                .unwrap_or_else(|| panic!("no {id}"))
        };
        let mut changes = 0;
        for offering in ["skv-inkomst", "fk-formaner"] {
            for unit_id in ["fk-kontroll", "malmo-ekonomiskt-bistand", "pm-noa"] {
                let job = (position(&space.offerings, offering), unit(unit_id));
                let shared = space.compare(&old, &new, job.0, job.1, AT);
                let reference = one_by_one(&space, &old, &new, job);
                assert_eq!(shared.requests, reference.requests, "{offering} {unit_id}");
                assert_eq!(shared.compared, reference.compared, "{offering} {unit_id}");
                assert!(shared.changes == reference.changes, "{offering} {unit_id}");
                changes += shared.changes.len();
            }
        }
        assert!(changes > 0, "the edits change nothing in the jobs compared");
    }

    #[test]
    fn a_policy_reads_the_operation_only_through_context() {
        let reads = |text: &str| {
            let policy = cedar_policy::Policy::parse(None, text).unwrap_or_else(|e| panic!("{e}"));
            reads_operation(&policy.to_json().unwrap_or_else(|e| panic!("{e}")))
        };
        assert!(reads(
            "permit(principal, action, resource) when { context has operation };"
        ));
        assert!(reads(
            "permit(principal, action, resource) when { context.operation.decided };"
        ));
        assert!(reads(
            "permit(principal, action, resource) when { context[\"operation\"].decided };"
        ));
        assert!(reads(
            "permit(principal, action, resource) when { context == {\"role\": \"a\"} };"
        ));
        assert!(!reads(
            "permit(principal, action, resource) when { context.role == \"operation\" && context.subject.protected_identity };"
        ));
        assert!(!reads("permit(principal, action, resource);"));
    }
}
