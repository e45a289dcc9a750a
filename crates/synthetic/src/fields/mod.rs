//! Which subjects each offering's register holds, and the value of each field for each of them:
//! one generator per (offering, field) of the example rulebook, read off the [`World`].
//!
//! [`GENERATORS`] lists every field that has a generator. A rulebook field missing from it is
//! an error before any data is made (and a test failure for the example rulebook), so a new field
//! is noticed rather than silently left empty. A field that does not apply to a subject (a
//! company has no salary) is absent from its record; a field that applies but is empty in the
//! register (no separate postal address) is JSON `null`.

mod bank;
mod enforcement;
mod skatteverket;
mod welfare;

use serde_json::{json, Value};
use utbyte_domain::SubjectId;

use super::world::{Company, Person, World};

/// Every (offering, field) the generator can fill.
pub const GENERATORS: &[(&str, &[&str])] = &[
    (
        skatteverket::FOLKBOKFORING,
        skatteverket::FOLKBOKFORING_FIELDS,
    ),
    (skatteverket::INKOMST, skatteverket::INKOMST_FIELDS),
    (welfare::FK_FORMANER, welfare::FK_FORMANER_FIELDS),
    (enforcement::KFM_SKULDER, enforcement::KFM_SKULDER_FIELDS),
    (enforcement::BV_FORETAG, enforcement::BV_FORETAG_FIELDS),
    (
        welfare::UBM_UTBETALNINGAR,
        welfare::UBM_UTBETALNINGAR_FIELDS,
    ),
    (welfare::MALMO_BISTAND, welfare::MALMO_BISTAND_FIELDS),
    (enforcement::PM_MISSTANKE, enforcement::PM_MISSTANKE_FIELDS),
    (bank::BANK_KONTON, bank::BANK_KONTON_FIELDS),
];

/// Whether the generator can fill `field` of `offering`.
pub fn has_generator(offering: &str, field: &str) -> bool {
    GENERATORS
        .iter()
        .any(|(id, fields)| *id == offering && fields.contains(&field))
}

/// Whom a register holds a record about.
#[derive(Clone, Copy)]
pub(crate) enum Subject<'w> {
    Person(&'w Person),
    Company(&'w Company),
}

impl Subject<'_> {
    pub(crate) fn id(&self) -> SubjectId {
        match self {
            Self::Person(person) => person.id,
            Self::Company(company) => company.id,
        }
    }

    pub(crate) fn protected_identity(&self) -> bool {
        match self {
            Self::Person(person) => person.protected_identity,
            Self::Company(_) => false,
        }
    }
}

/// The subjects `offering`'s register holds, in a fixed order.
pub(crate) fn subjects<'w>(world: &'w World, offering: &str) -> Vec<Subject<'w>> {
    let persons = world.persons.iter();
    let holding = |keep: fn(&Person) -> bool| -> Vec<Subject<'w>> {
        persons
            .clone()
            .filter(|p| keep(p))
            .map(Subject::Person)
            .collect()
    };
    match offering {
        skatteverket::FOLKBOKFORING => holding(|_| true),
        skatteverket::INKOMST => {
            let mut held = holding(Person::is_adult);
            held.extend(world.companies.iter().map(Subject::Company));
            held
        }
        welfare::FK_FORMANER => holding(|p| p.facts.benefit.is_some()),
        welfare::UBM_UTBETALNINGAR => {
            holding(|p| p.facts.benefit.is_some() || p.facts.pension.is_some())
        }
        welfare::MALMO_BISTAND => holding(|p| p.facts.assistance.is_some()),
        enforcement::KFM_SKULDER => holding(|p| p.facts.debt.is_some()),
        enforcement::PM_MISSTANKE => holding(|p| p.facts.suspicion.is_some()),
        enforcement::BV_FORETAG => world.companies.iter().map(Subject::Company).collect(),
        bank::BANK_KONTON => holding(Person::is_adult),
        _ => Vec::new(),
    }
}

/// The value of `field` of `offering` for `subject`, or `None` where the field does not apply.
pub(crate) fn value(
    world: &World,
    offering: &str,
    field: &str,
    subject: Subject<'_>,
) -> Option<Value> {
    match (offering, subject) {
        (skatteverket::FOLKBOKFORING, Subject::Person(person)) => {
            skatteverket::folkbokforing(world, person, field)
        }
        (skatteverket::INKOMST, subject) => skatteverket::inkomst(world, subject, field),
        (welfare::FK_FORMANER, Subject::Person(person)) => welfare::formaner(person, field),
        (welfare::UBM_UTBETALNINGAR, Subject::Person(person)) => {
            welfare::utbetalningar(person, field)
        }
        (welfare::MALMO_BISTAND, Subject::Person(person)) => welfare::bistand(person, field),
        (enforcement::KFM_SKULDER, Subject::Person(person)) => enforcement::skulder(person, field),
        (enforcement::PM_MISSTANKE, Subject::Person(person)) => {
            enforcement::misstanke(person, field)
        }
        (enforcement::BV_FORETAG, Subject::Company(company)) => {
            enforcement::foretag(world, company, field)
        }
        (bank::BANK_KONTON, Subject::Person(person)) => bank::konton(person, field),
        _ => None,
    }
}

/// A person as another register entry names them: name and identifier.
pub(crate) fn person_reference(person: &Person) -> Value {
    json!({ "namn": person.full_name(), "identitet": person.id.as_str() })
}
