//! The vocabulary as Cedar entities, built once per rulebook.
//!
//! Everything a policy can look up — authorities and their groups, units, provisions, purposes,
//! offerings, categories, fields, joint operations — is static for a rulebook version, so the
//! entity store (with its transitive closure) is computed at load and shared by every decision.
//! A request adds nothing to it: the requesting officer is represented by their unit (principal)
//! and role (context), and the subject only by a record in the context.

use crate::vocabulary::Vocabulary;
use cedar_policy::{
    Entities, Entity, EntityId, EntityTypeName, EntityUid, RestrictedExpression, Schema,
};
use std::collections::{HashMap, HashSet};
use std::str::FromStr;

/// The entity type names of the exchange schema, parsed once.
#[derive(Debug, Clone)]
pub struct Types {
    pub group: EntityTypeName,
    pub authority: EntityTypeName,
    pub unit: EntityTypeName,
    pub provision: EntityTypeName,
    pub purpose_group: EntityTypeName,
    pub purpose: EntityTypeName,
    pub offering: EntityTypeName,
    pub category: EntityTypeName,
    pub field: EntityTypeName,
    pub operation: EntityTypeName,
    pub action: EntityTypeName,
}

impl Types {
    pub fn new() -> Self {
        let name = |n: &str| {
            EntityTypeName::from_str(n)
                .unwrap_or_else(|_| unreachable!("`{n}` is a valid type name"))
        };
        Self {
            group: name("Group"),
            authority: name("Authority"),
            unit: name("Unit"),
            provision: name("Provision"),
            purpose_group: name("PurposeGroup"),
            purpose: name("Purpose"),
            offering: name("Offering"),
            category: name("Category"),
            field: name("Field"),
            operation: name("JointOperation"),
            action: name("Action"),
        }
    }

    pub fn uid(ty: &EntityTypeName, id: &str) -> EntityUid {
        EntityUid::from_type_name_and_id(ty.clone(), EntityId::new(id))
    }

    pub fn field_uid(&self, offering: &str, field: &str) -> EntityUid {
        Self::uid(&self.field, &format!("{offering}/{field}"))
    }

    pub fn disclose(&self) -> EntityUid {
        Self::uid(&self.action, "disclose")
    }

    pub fn notify(&self) -> EntityUid {
        Self::uid(&self.action, "notify")
    }
}

impl Default for Types {
    fn default() -> Self {
        Self::new()
    }
}

fn attrs<const N: usize>(
    pairs: [(&str, RestrictedExpression); N],
) -> HashMap<String, RestrictedExpression> {
    pairs.into_iter().map(|(k, v)| (k.to_owned(), v)).collect()
}

fn string(s: &str) -> RestrictedExpression {
    RestrictedExpression::new_string(s.to_owned())
}

/// Builds the entity store of a vocabulary, checked against the schema.
pub fn build(vocabulary: &Vocabulary, types: &Types, schema: &Schema) -> Result<Entities, String> {
    let uid = Types::uid;
    let mut entities: Vec<Entity> = Vec::new();
    let mut push = |uid: EntityUid,
                    attributes: HashMap<String, RestrictedExpression>,
                    parents: HashSet<EntityUid>| {
        Entity::new(uid.clone(), attributes, parents)
            .map(|e| entities.push(e))
            .map_err(|err| format!("entity {uid}: {err}"))
    };
    for group in vocabulary.groups.values() {
        push(uid(&types.group, &group.id), HashMap::new(), HashSet::new())?;
    }
    for authority in vocabulary.authorities.values() {
        let parents = authority
            .groups
            .iter()
            .map(|g| uid(&types.group, g))
            .collect();
        push(
            uid(&types.authority, &authority.id),
            attrs([
                ("name", string(&authority.name)),
                ("orgnr", string(&authority.orgnr)),
            ]),
            parents,
        )?;
        for unit in &authority.units {
            push(
                uid(&types.unit, &unit.id),
                attrs([("name", string(&unit.name))]),
                HashSet::from([uid(&types.authority, &authority.id)]),
            )?;
        }
    }
    for p in vocabulary.provisions.values() {
        push(
            uid(&types.provision, &p.id),
            attrs([
                ("sfs", string(&p.sfs)),
                ("chapter", string(&p.chapter)),
                ("section", string(&p.section)),
                ("title", string(&p.title)),
            ]),
            HashSet::new(),
        )?;
    }
    for group in vocabulary.purpose_groups.values() {
        let parents = group
            .within
            .iter()
            .map(|g| uid(&types.purpose_group, g))
            .collect();
        push(
            uid(&types.purpose_group, &group.id),
            HashMap::new(),
            parents,
        )?;
    }
    for purpose in vocabulary.purposes.values() {
        let parents = purpose
            .groups
            .iter()
            .map(|g| uid(&types.purpose_group, g))
            .collect();
        push(
            uid(&types.purpose, &purpose.id),
            attrs([("title", string(&purpose.title))]),
            parents,
        )?;
    }
    for offering in vocabulary.offerings.values() {
        let offering_uid = uid(&types.offering, &offering.id);
        push(
            offering_uid.clone(),
            attrs([
                (
                    "provider",
                    RestrictedExpression::new_entity_uid(uid(&types.authority, &offering.provider)),
                ),
                (
                    "secrecy",
                    RestrictedExpression::new_entity_uid(uid(&types.provision, &offering.secrecy)),
                ),
            ]),
            HashSet::new(),
        )?;
        for category in &offering.categories {
            let category_uid = uid(&types.category, &format!("{}/{}", offering.id, category.id));
            push(
                category_uid.clone(),
                attrs([("title", string(&category.title))]),
                HashSet::from([offering_uid.clone()]),
            )?;
            for field in &category.fields {
                push(
                    types.field_uid(&offering.id, &field.id),
                    attrs([
                        (
                            "offering",
                            RestrictedExpression::new_entity_uid(offering_uid.clone()),
                        ),
                        (
                            "category",
                            RestrictedExpression::new_entity_uid(category_uid.clone()),
                        ),
                        ("title", string(&field.title)),
                    ]),
                    HashSet::from([category_uid.clone()]),
                )?;
            }
        }
    }
    for op in vocabulary.operations.values() {
        let participants = op
            .participants
            .iter()
            .map(|a| RestrictedExpression::new_entity_uid(uid(&types.authority, a)));
        push(
            uid(&types.operation, &op.id),
            attrs([
                ("participants", RestrictedExpression::new_set(participants)),
                ("decided", RestrictedExpression::new_bool(op.decided)),
                (
                    "starts",
                    RestrictedExpression::new_long(crate::dates::number(op.starts)),
                ),
                (
                    "ends",
                    RestrictedExpression::new_long(crate::dates::number(op.ends)),
                ),
            ]),
            HashSet::new(),
        )?;
    }
    Entities::from_entities(entities, Some(schema)).map_err(|err| err.to_string())
}
