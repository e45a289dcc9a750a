//! Skatteverket's registers: the population register (folkbokföring) and income and tax.

use serde_json::{json, Value};

use super::{person_reference, Subject};
use crate::calendar::AS_OF;
use crate::world::{Person, World};

pub(super) const FOLKBOKFORING: &str = "skv-folkbokforing";
pub(super) const FOLKBOKFORING_FIELDS: &[&str] = &[
    "namn",
    "fodelsedatum",
    "medborgarskap",
    "folkbokforingsadress",
    "sarskild-postadress",
    "flyttdatum",
    "civilstand",
    "barn",
    "hushallsmedlemmar",
    "dodsdatum",
    "utvandringsdatum",
];

pub(super) const INKOMST: &str = "skv-inkomst";
pub(super) const INKOMST_FIELDS: &[&str] = &[
    "lon",
    "arbetsgivare",
    "inkomstperiod",
    "forman",
    "taxerad-inkomst",
    "slutlig-skatt",
    "f-skatt",
    "momsregistrering",
];

/// Municipal plus average regional tax, roughly, on earned income.
const TAX_PERCENT: u64 = 32;

pub(super) fn folkbokforing(world: &World, person: &Person, field: &str) -> Option<Value> {
    let household = world.households.get(person.household)?;
    let postcode = format!(
        "{} {:02}",
        household.postcode / 100,
        household.postcode % 100
    );
    let others = household
        .members
        .iter()
        .filter_map(|&member| world.persons.get(member))
        .filter(|member| member.id != person.id);
    Some(match field {
        "namn" => json!({ "fornamn": person.given_name, "efternamn": person.surname }),
        "fodelsedatum" => json!(person.birth.to_string()),
        "medborgarskap" => json!(person.citizenship),
        "folkbokforingsadress" => json!({
            "utdelningsadress": format!(
                "{} {} lgh {}",
                household.street, household.street_number, household.apartment
            ),
            "postnummer": postcode,
            "postort": household.city.postort,
        }),
        "sarskild-postadress" => match person.postal_box {
            Some(box_number) => json!({
                "utdelningsadress": format!("Box {box_number}"),
                "postnummer": postcode,
                "postort": household.city.postort,
            }),
            None => Value::Null,
        },
        "flyttdatum" => json!(household.moved_in.max(person.birth).to_string()),
        // A few in a thousand have died or emigrated (chosen by their number's serial, so no
        // one else changes); everyone else's arrives later, as a change.
        "dodsdatum" => departure(person, 7, person.age() >= 50),
        "utvandringsdatum" => departure(person, 11, person.is_adult()),
        "civilstand" => json!(if person.married {
            "gift"
        } else if !person.is_adult() {
            "ogift"
        } else if person.age() >= 75 {
            "änka/änkling"
        } else if household.adults == 1 && household.members.len() > 1 {
            "skild"
        } else {
            "ogift"
        }),
        "barn" => {
            let children: Vec<Value> = if person.is_adult() {
                others
                    .filter(|other| !other.is_adult())
                    .map(person_reference)
                    .collect()
            } else {
                Vec::new()
            };
            Value::Array(children)
        }
        "hushallsmedlemmar" => Value::Array(others.map(person_reference).collect()),
        _ => return None,
    })
}

/// The date of `person`'s death or emigration (per `which`), if they are among the few whose
/// number's serial picks it and `plausible`.
fn departure(person: &Person, which: u32, plausible: bool) -> Value {
    let serial: u32 = person.id.as_str()[9..13]
        .chars()
        .filter_map(|c| c.to_digit(10))
        .fold(0, |n, d| n * 10 + d);
    if serial % 250 == which && plausible {
        json!(AS_OF
            .months_before(serial % 24 + 1)
            .month_start()
            .to_string())
    } else {
        Value::Null
    }
}

pub(super) fn inkomst(world: &World, subject: Subject<'_>, field: &str) -> Option<Value> {
    match subject {
        Subject::Person(person) => person_income(world, person, field),
        Subject::Company(company) => match field {
            "f-skatt" => Some(json!(company.status == "aktiv")),
            "momsregistrering" => Some(json!(true)),
            _ => None,
        },
    }
}

fn person_income(world: &World, person: &Person, field: &str) -> Option<Value> {
    let facts = &person.facts;
    let job = facts.employment.as_ref();
    let monthly_income = job.map_or(0, |job| job.monthly_salary)
        + facts.benefit.as_ref().map_or(0, |benefit| benefit.monthly)
        + facts.pension.unwrap_or(0);
    let assessed = monthly_income * 12 / 100 * 100;
    Some(match field {
        "lon" => json!(job.map_or(0, |job| job.monthly_salary)),
        "arbetsgivare" => match job.and_then(|job| world.companies.get(job.employer)) {
            Some(employer) => json!(employer.id.as_str()),
            None => Value::Null,
        },
        "inkomstperiod" => json!(AS_OF.months_before(1).year_month()),
        "forman" => json!(job.map_or(&[][..], |job| job.taxable_benefits)),
        "taxerad-inkomst" => json!(assessed),
        "slutlig-skatt" => json!(assessed * TAX_PERCENT / 100),
        "f-skatt" | "momsregistrering" => json!(facts.sole_trader),
        _ => return None,
    })
}
