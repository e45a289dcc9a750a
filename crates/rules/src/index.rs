//! Which policies can apply to a request, by recipient authority and offering.
//!
//! Cedar evaluates every policy of the set it is given, so handing it the whole rulebook would
//! make each decision cost grow with the rulebook. A policy's scope already says which principals
//! and resources it can match: `principal in Authority::"x"` can only hold for units of `x`,
//! `resource in Offering::"y"` only for fields of `y`. Resolving each scope against the vocabulary
//! gives, per policy, the recipient authorities and offerings it can reach; the index keeps for
//! every (recipient, offering) pair exactly the policies that reach it. The resolution is
//! conservative — a scope it cannot narrow (no constraint, `is` only) reaches everything — so a
//! policy is left out of a bucket only when its own scope excludes the pair.

use crate::policy::PolicyInfo;
use crate::vocabulary::Vocabulary;
use cedar_policy::{EntityUid, Policy, PolicySet, PrincipalConstraint, ResourceConstraint};
use std::collections::{BTreeSet, HashMap};

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

    fn contains(&self, id: &str) -> bool {
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

/// The policies that can apply to one (recipient, offering) pair.
#[derive(Debug, Default)]
pub struct Bucket {
    /// Grants and overrides: the set a field is decided against.
    pub all: PolicySet,
    /// Grants only: consulted when an override forces review, to name the candidate provisions.
    pub grants: PolicySet,
}

impl Bucket {
    pub fn size(&self) -> usize {
        self.all.num_of_policies()
    }
}

/// Buckets by recipient authority, then offering.
#[derive(Debug, Default)]
pub struct Index {
    buckets: HashMap<String, HashMap<String, Bucket>>,
    empty: Bucket,
}

impl Index {
    pub fn build(policies: &[(Policy, PolicyInfo)], vocabulary: &Vocabulary) -> Self {
        let mut members: HashMap<(&str, &str), Vec<usize>> = HashMap::new();
        for (i, (policy, _)) in policies.iter().enumerate() {
            let to = recipients(&policy.principal_constraint(), vocabulary);
            let of = offerings(&policy.resource_constraint(), vocabulary);
            for authority in vocabulary.authorities.keys().filter(|a| to.contains(a)) {
                for offering in vocabulary.offerings.keys().filter(|o| of.contains(o)) {
                    members.entry((authority, offering)).or_default().push(i);
                }
            }
        }
        let mut buckets: HashMap<String, HashMap<String, Bucket>> = HashMap::new();
        for ((authority, offering), indices) in members {
            let mut bucket = Bucket::default();
            for i in indices {
                let (policy, info) = &policies[i];
                // Ids are unique in the rulebook, so adding to a fresh set cannot collide.
                let _ = bucket.all.add(policy.clone());
                if info.class.is_grant() {
                    let _ = bucket.grants.add(policy.clone());
                }
            }
            buckets
                .entry(authority.to_owned())
                .or_default()
                .insert(offering.to_owned(), bucket);
        }
        Self {
            buckets,
            empty: Bucket::default(),
        }
    }

    /// The policies that can apply when `recipient` asks for fields of `offering`.
    pub fn bucket(&self, recipient: &str, offering: &str) -> &Bucket {
        self.buckets
            .get(recipient)
            .and_then(|by_offering| by_offering.get(offering))
            .unwrap_or(&self.empty)
    }

    pub fn largest_bucket(&self) -> usize {
        self.buckets
            .values()
            .flat_map(|b| b.values())
            .map(Bucket::size)
            .max()
            .unwrap_or(0)
    }
}
