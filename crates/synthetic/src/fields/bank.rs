//! A bank's accounts and safe-deposit boxes, as it reports them to the account and
//! safe-deposit-box system (SFS 2020:272). Read off the person: the account their payments go
//! to, a savings account for some, a box for some of those with debts or suspicions.

use serde_json::{json, Value};

use crate::calendar::Date;
use crate::world::Person;

pub(super) const BANK_KONTON: &str = "bank-konton";
pub(super) const BANK_KONTON_FIELDS: &[&str] = &["konton", "vardefack"];

/// A number drawn from the person's identifier: stable, and different between persons.
fn drawn(person: &Person, salt: u64) -> u64 {
    person
        .id
        .as_str()
        .bytes()
        .fold(0xcbf2_9ce4_8422_2325 ^ salt, |hash, byte| {
            (hash ^ u64::from(byte)).wrapping_mul(0x0000_0100_0000_01b3)
        })
}

pub(super) fn konton(person: &Person, field: &str) -> Option<Value> {
    // The first account opened at eighteen, or at birth for a child's account.
    let opened = Date::new(
        person.birth.year + 18.min(person.age()),
        person.birth.month,
        1,
    );
    Some(match field {
        "konton" => {
            let mut accounts = vec![json!({
                "nummer": person.account,
                "slag": "transaktionskonto",
                "oppnat": opened.year_month(),
            })];
            if drawn(person, 1).is_multiple_of(3) {
                accounts.push(json!({
                    "nummer": format!("8327-9, {:03} {:03} {:03}-{}",
                        drawn(person, 2) % 1000, drawn(person, 3) % 1000,
                        drawn(person, 4) % 1000, drawn(person, 5) % 10),
                    "slag": "sparkonto",
                    "oppnat": opened.year_month(),
                }));
            }
            Value::Array(accounts)
        }
        "vardefack" => {
            let inclined = person.facts.debt.is_some() || person.facts.suspicion.is_some();
            if inclined && drawn(person, 6).is_multiple_of(2) {
                json!([{ "nummer": format!("VF-{:04}", drawn(person, 7) % 10_000), "sedan": opened.year_month() }])
            } else {
                json!([])
            }
        }
        _ => return None,
    })
}
