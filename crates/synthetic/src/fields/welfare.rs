//! The welfare registers: Försäkringskassan's benefits, Utbetalningsmyndigheten's payments and
//! Malmö stad's economic assistance.

use serde_json::{json, Value};

use crate::calendar::{Date, AS_OF};
use crate::world::Person;

pub(super) const FK_FORMANER: &str = "fk-formaner";
pub(super) const FK_FORMANER_FIELDS: &[&str] = &[
    "forman",
    "belopp",
    "period",
    "utbetalningskonto",
    "beslut",
    "handlaggningsstatus",
    "diagnos",
    "lakarintyg",
];

pub(super) const UBM_UTBETALNINGAR: &str = "ubm-utbetalningar";
pub(super) const UBM_UTBETALNINGAR_FIELDS: &[&str] = &[
    "utbetalare",
    "belopp",
    "utbetalningsdag",
    "mottagarkonto",
    "avvikelse",
];

pub(super) const MALMO_BISTAND: &str = "malmo-ekonomiskt-bistand";
pub(super) const MALMO_BISTAND_FIELDS: &[&str] = &[
    "beviljat-belopp",
    "period",
    "hushallsstorlek",
    "social-utredning",
];

/// Försäkringskassan pays on the 25th, Pensionsmyndigheten on the 19th.
const BENEFIT_PAYDAY: u8 = 25;
const PENSION_PAYDAY: u8 = 19;

/// An ISO 8601 interval of two dates.
fn interval(from: Date, to: Date) -> Value {
    json!(format!("{from}/{to}"))
}

pub(super) fn formaner(person: &Person, field: &str) -> Option<Value> {
    let benefit = person.facts.benefit.as_ref()?;
    let sickness = benefit.sickness.as_ref();
    Some(match field {
        "forman" => json!(benefit.kind.name()),
        "belopp" => json!(benefit.monthly),
        "period" => interval(benefit.from, benefit.to),
        "utbetalningskonto" => json!(person.account),
        "beslut" => json!(benefit.decision),
        "handlaggningsstatus" => json!(benefit.status),
        "diagnos" => sickness.map_or(
            Value::Null,
            |sickness| json!({ "kod": sickness.diagnosis.0, "text": sickness.diagnosis.1 }),
        ),
        "lakarintyg" => sickness.map_or(Value::Null, |sickness| {
            json!({
                "utfardat": sickness.certified_on.to_string(),
                "utfardare": sickness.clinic,
                "arbetsformaga-nedsatt-procent": sickness.extent,
            })
        }),
        _ => return None,
    })
}

pub(super) fn utbetalningar(person: &Person, field: &str) -> Option<Value> {
    let facts = &person.facts;
    let (payer, amount, payday) = match (&facts.benefit, facts.pension) {
        (Some(benefit), _) => {
            let last_month = benefit.to.min(AS_OF);
            let day = Date::new(last_month.year, last_month.month, BENEFIT_PAYDAY);
            ("Försäkringskassan", benefit.monthly, day)
        }
        (None, Some(pension)) => (
            "Pensionsmyndigheten",
            pension,
            Date::new(AS_OF.year, AS_OF.month, PENSION_PAYDAY),
        ),
        (None, None) => return None,
    };
    Some(match field {
        "utbetalare" => json!(payer),
        "belopp" => json!(amount),
        "utbetalningsdag" => json!(payday.to_string()),
        "mottagarkonto" => json!(facts.paid_to.as_deref().unwrap_or(&person.account)),
        "avvikelse" => facts.signal.map_or(Value::Null, |signal| json!(signal)),
        _ => return None,
    })
}

pub(super) fn bistand(person: &Person, field: &str) -> Option<Value> {
    let assistance = person.facts.assistance.as_ref()?;
    Some(match field {
        "beviljat-belopp" => json!(assistance.monthly),
        "period" => interval(AS_OF.month_start(), AS_OF.month_end()),
        "hushallsstorlek" => json!(assistance.household_size),
        "social-utredning" => json!(assistance.note),
        _ => return None,
    })
}
