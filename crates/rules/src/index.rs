//! Which policies can apply to a request: by recipient authority, offering and claimed legal basis.
//!
//! Cedar evaluates every policy of the set it is given, so handing it the whole rulebook would
//! make each decision cost grow with the rulebook. A policy's scope already says which principals
//! and resources it can match: `principal in Authority::"x"` can only hold for units of `x`,
//! `resource in Offering::"y"` only for fields of `y`; and a policy that requires
//! `context.legal_basis == Provision::"z"` only for requests claiming `z` (see [`footprint`]).
//! The index keeps, for every (recipient, offering, legal basis), exactly the policies that can
//! reach it. The resolution is conservative — a scope it cannot narrow reaches everything — so a
//! policy is left out of a bucket only when its own text excludes the request.
//!
//! Within a bucket, policies are split by how they depend on the requested field: request-level
//! policies are evaluated once per request, together with the *gates* of the field-level ones —
//! those of them whose leading conditions (days, purpose) the request meets (see [`footprint`]).
//! A field-level policy whose gate held and which after it only tests membership is then read off
//! each field's place in the hierarchy without Cedar; the others whose gate held are evaluated
//! once per class of fields they cannot tell apart.
//!
//! [`footprint`]: crate::footprint

use crate::footprint::{self, Leading, ResourceUse, Test};
use crate::policy::PolicyInfo;
use crate::vocabulary::{Offering, Vocabulary};
use cedar_policy::{EntityUid, Policy, PolicySet, PrincipalConstraint, ResourceConstraint};
use std::collections::{BTreeSet, HashMap};
use std::sync::{Arc, RwLock};

/// The recipients or offerings a policy's scope can reach.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Reach {
    All,
    Only(BTreeSet<String>),
}

impl Reach {
    pub fn is_empty(&self) -> bool {
        matches!(self, Reach::Only(set) if set.is_empty())
    }

    pub fn contains(&self, id: &str) -> bool {
        match self {
            Reach::All => true,
            Reach::Only(set) => set.contains(id),
        }
    }
}

/// The authorities a principal scope can reach.
pub fn recipients(constraint: &PrincipalConstraint, vocabulary: &Vocabulary) -> Reach {
    match constraint {
        PrincipalConstraint::Any | PrincipalConstraint::Is(_) => Reach::All,
        PrincipalConstraint::In(uid)
        | PrincipalConstraint::Eq(uid)
        | PrincipalConstraint::IsIn(_, uid) => Reach::Only(authorities_under(uid, vocabulary)),
    }
}

fn authorities_under(uid: &EntityUid, vocabulary: &Vocabulary) -> BTreeSet<String> {
    let id = uid.id().unescaped();
    match uid.type_name().to_string().as_str() {
        "Authority" if vocabulary.authorities.contains_key(id) => BTreeSet::from([id.to_owned()]),
        "Unit" => vocabulary
            .unit_authority
            .get(id)
            .map(|a| BTreeSet::from([a.clone()]))
            .unwrap_or_default(),
        "Group" => vocabulary.group_members(id).map(|a| a.id.clone()).collect(),
        _ => BTreeSet::new(),
    }
}

/// The offerings a resource scope can reach.
pub fn offerings(constraint: &ResourceConstraint, vocabulary: &Vocabulary) -> Reach {
    match constraint {
        ResourceConstraint::Any | ResourceConstraint::Is(_) => Reach::All,
        ResourceConstraint::In(uid)
        | ResourceConstraint::Eq(uid)
        | ResourceConstraint::IsIn(_, uid) => {
            let id = uid.id().unescaped();
            let offering = match uid.type_name().to_string().as_str() {
                "Offering" => Some(id),
                // Categories and fields are named `offering/…`.
                "Category" | "Field" => id.split('/').next(),
                _ => None,
            };
            Reach::Only(
                offering
                    .filter(|o| vocabulary.offerings.contains_key(*o))
                    .map(|o| BTreeSet::from([o.to_owned()]))
                    .unwrap_or_default(),
            )
        }
    }
}

/// The policies that can apply to one (recipient, offering, legal basis).
#[derive(Debug, Default)]
pub struct Bucket {
    /// Request-level grants and overrides, and the gates of the field-level policies, each with
    /// what a request must be for it to hold.
    request: Vec<Dated>,
    /// Field-level policies, evaluated per class of fields when their gate held.
    pub field: Vec<FieldPolicy>,
    /// The request levels seen so far, by the policies that can hold in them.
    on: Cache<Level>,
    /// The policy sets of the combinations of field-level policies seen so far.
    active: Cache<Active>,
    size: usize,
}

/// A request-level policy or a gate, with what a request must be for it to hold or fail to
/// evaluate: what its own leading conditions require and, for a rule, the days it is in force.
#[derive(Debug)]
struct Dated {
    policy: Policy,
    permit: bool,
    leading: Leading,
}

/// Values built from a subset of a bucket's policies, by the indices of that subset: building a
/// Cedar policy set costs more than evaluating a small one.
#[derive(Debug, Default)]
struct Cache<V>(RwLock<HashMap<Vec<u32>, Arc<V>>>);

/// Most subsets a cache remembers.
const CACHED: usize = 256;

impl<V> Cache<V> {
    fn get_or_build(&self, key: Vec<u32>, build: impl FnOnce(&[u32]) -> V) -> Arc<V> {
        if let Some(value) = self.0.read().unwrap_or_else(|p| p.into_inner()).get(&key) {
            return Arc::clone(value);
        }
        let value = Arc::new(build(&key));
        let mut cache = self.0.write().unwrap_or_else(|p| p.into_inner());
        if cache.len() < CACHED {
            cache.insert(key, Arc::clone(&value));
        }
        value
    }
}

/// A policy that depends on the requested field.
#[derive(Debug)]
pub struct FieldPolicy {
    pub policy: Policy,
    pub grant: bool,
    /// Whether a gate in the request level decides if this policy is evaluated at all.
    pub gated: bool,
    /// What a request must be for it to hold or fail to evaluate.
    pub leading: Leading,
    /// The membership tests through which it tells fields apart.
    pub tests: Vec<Test>,
    /// It reads the field's category.
    pub category: bool,
    /// It depends on the field in ways not analysed.
    pub per_field: bool,
    /// When its gate held, it holds for exactly these fields of the bucket's offering, sorted (see
    /// [`footprint::Footprint::after_gate`]).
    pub after_gate: Option<Vec<String>>,
}

impl FieldPolicy {
    pub fn id(&self) -> &str {
        self.policy.id().as_ref()
    }
}

impl Bucket {
    pub fn size(&self) -> usize {
        self.size
    }

    /// The request-level policies and gates that can hold for a request `admits` accepts.
    pub fn request_level(&self, admits: impl Fn(&Leading) -> bool) -> Arc<Level> {
        let key = (0u32..)
            .zip(&self.request)
            .filter(|(_, d)| admits(&d.leading))
            .map(|(i, _)| i)
            .collect();
        self.on.get_or_build(key, |key| {
            let mut level = Level::default();
            for d in key.iter().filter_map(|i| self.request.get(*i as usize)) {
                level.add(&d.policy, d.permit);
            }
            level
        })
    }

    /// The field-level policies selected by `take` (those whose gate held, and the ungated).
    pub fn active(&self, take: impl Fn(&FieldPolicy) -> bool) -> Arc<Active> {
        let key = (0u32..)
            .zip(&self.field)
            .filter(|(_, f)| take(f))
            .map(|(i, _)| i)
            .collect();
        self.active.get_or_build(key, |key| {
            Active::new(key.iter().filter_map(|i| self.field.get(*i as usize)))
        })
    }

    fn add(
        &mut self,
        policy: &Policy,
        info: &PolicyInfo,
        footprint: &footprint::Footprint,
        offering: &Offering,
    ) {
        self.size += 1;
        let grant = info.class.is_grant();
        // Out of force a rule neither holds nor counts its errors (see `decide`).
        let leading = footprint.leading.within(info.period);
        let (tests, category, per_field) = match &footprint.resource {
            ResourceUse::None => {
                self.request.push(Dated {
                    policy: policy.clone(),
                    permit: grant,
                    leading,
                });
                return;
            }
            ResourceUse::PerField => (Vec::new(), false, true),
            ResourceUse::Memberships { tests, category } => (tests.clone(), *category, false),
        };
        if let Some(gate) = &footprint.gate {
            self.request.push(Dated {
                policy: gate.clone(),
                permit: true,
                leading: leading.clone(),
            });
        }
        self.field.push(FieldPolicy {
            policy: policy.clone(),
            grant,
            gated: footprint.gate.is_some(),
            leading,
            tests,
            category,
            per_field,
            after_gate: footprint.after_gate.as_ref().map(|tests| {
                let mut fields: Vec<String> = offering
                    .fields()
                    .filter(|(c, f)| tests.iter().all(|t| t.admits(&offering.id, &c.id, &f.id)))
                    .map(|(_, f)| f.id.clone())
                    .collect();
                fields.sort();
                fields
            }),
        });
    }
}

/// Policies of one level: all of them, and the permits alone.
///
/// Evaluating `all` answers most questions in one call: *allow* lists every satisfied permit and
/// proves no override held; *deny* with no reason proves nothing held. Only when an override
/// forces review are the permits needed separately, to name the grants as candidates.
#[derive(Debug, Default)]
pub struct Level {
    pub all: PolicySet,
    pub grants: PolicySet,
}

impl Level {
    pub fn add(&mut self, policy: &Policy, permit: bool) {
        // Ids are unique in the rulebook (and gates carry a prefix), so adding cannot collide.
        let _ = self.all.add(policy.clone());
        if permit {
            let _ = self.grants.add(policy.clone());
        }
    }
}

/// The field-level policies of a bucket that take part in one decision, and how they tell
/// fields apart.
#[derive(Debug, Default)]
pub struct Active {
    pub level: Level,
    tests: Vec<Test>,
    category: bool,
    per_field: bool,
}

impl Active {
    fn new<'b>(policies: impl Iterator<Item = &'b FieldPolicy>) -> Self {
        let mut active = Active::default();
        for p in policies {
            active.level.add(&p.policy, p.grant);
            active.category |= p.category;
            active.per_field |= p.per_field;
            for test in &p.tests {
                if !active.tests.contains(test) {
                    active.tests.push(test.clone());
                }
            }
        }
        active
    }

    pub fn is_empty(&self) -> bool {
        self.level.all.is_empty()
    }

    /// The class of a field: fields with equal classes get equal answers from every active
    /// policy (see [`crate::footprint`]).
    pub fn class_of<'a>(
        &self,
        offering: &str,
        category: &'a str,
        field: &'a str,
    ) -> FieldClass<'a> {
        let member = |(ty, id): &(String, String)| match ty.as_str() {
            "Field" => id.split_once('/') == Some((offering, field)),
            "Category" => id.split_once('/') == Some((offering, category)),
            "Offering" => id == offering,
            _ => false,
        };
        FieldClass {
            bits: self
                .tests
                .iter()
                .map(|test| test.iter().any(member))
                .collect(),
            category: self.category.then_some(category),
            field: self.per_field.then_some(field),
        }
    }
}

/// What field-level policies can see of a field.
#[derive(Debug, PartialEq, Eq)]
pub struct FieldClass<'a> {
    bits: Vec<bool>,
    category: Option<&'a str>,
    field: Option<&'a str>,
}

type ByBasis = HashMap<String, Bucket>;

/// Buckets by recipient authority, offering and claimed legal basis.
#[derive(Debug, Default)]
pub struct Index {
    buckets: HashMap<String, HashMap<String, ByBasis>>,
    empty: Bucket,
}

impl Index {
    pub fn build(policies: &[(Policy, PolicyInfo)], vocabulary: &Vocabulary) -> Self {
        let mut buckets: HashMap<String, HashMap<String, ByBasis>> = HashMap::new();
        for (policy, info) in policies {
            let footprint = footprint::of(policy);
            let to = recipients(&policy.principal_constraint(), vocabulary);
            let of = offerings(&policy.resource_constraint(), vocabulary);
            let bases: Vec<&String> = match &footprint.basis {
                Some(basis) => vocabulary
                    .provisions
                    .keys()
                    .filter(|p| *p == basis)
                    .collect(),
                None => vocabulary.provisions.keys().collect(),
            };
            for authority in vocabulary.authorities.keys().filter(|a| to.contains(a)) {
                let by_offering = buckets.entry(authority.clone()).or_default();
                for offering in vocabulary.offerings.values().filter(|o| of.contains(&o.id)) {
                    let by_basis = by_offering.entry(offering.id.clone()).or_default();
                    for basis in &bases {
                        by_basis
                            .entry((*basis).clone())
                            .or_default()
                            .add(policy, info, &footprint, offering);
                    }
                }
            }
        }
        Self {
            buckets,
            empty: Bucket::default(),
        }
    }

    /// The policies that can apply when `recipient` asks for fields of `offering` under `basis`.
    pub fn bucket(&self, recipient: &str, offering: &str, basis: &str) -> &Bucket {
        self.buckets
            .get(recipient)
            .and_then(|by_offering| by_offering.get(offering))
            .and_then(|by_basis| by_basis.get(basis))
            .unwrap_or(&self.empty)
    }

    pub fn largest_bucket(&self) -> usize {
        self.buckets
            .values()
            .flat_map(HashMap::values)
            .flat_map(HashMap::values)
            .map(Bucket::size)
            .max()
            .unwrap_or(0)
    }
}
