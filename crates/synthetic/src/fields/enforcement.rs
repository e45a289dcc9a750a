//! Kronofogden's debts, Bolagsverket's companies and Polismyndigheten's suspicions.

use serde_json::{json, Value};

use super::person_reference;
use crate::world::{BoardRole, Company, Person, World};

pub(super) const KFM_SKULDER: &str = "kfm-skulder";
pub(super) const KFM_SKULDER_FIELDS: &[&str] = &[
    "skuldbelopp",
    "antal-mal",
    "borgenarer",
    "lonebeslag",
    "forbehallsbelopp",
    "skuldsanering-beslut",
];

pub(super) const BV_FORETAG: &str = "bv-foretag";
pub(super) const BV_FORETAG_FIELDS: &[&str] = &[
    "firma",
    "status",
    "registreringsdatum",
    "verksamhet",
    "ledamoter",
    "firmatecknare",
];

pub(super) const PM_MISSTANKE: &str = "pm-misstanke";
pub(super) const PM_MISSTANKE_FIELDS: &[&str] = &[
    "brottskod",
    "misstankedatum",
    "forundersokningsledare",
    "underrattelseuppgift",
];

pub(super) fn skulder(person: &Person, field: &str) -> Option<Value> {
    let debt = person.facts.debt.as_ref()?;
    Some(match field {
        "skuldbelopp" => json!(debt.total),
        "antal-mal" => json!(debt.cases),
        "borgenarer" => json!(debt.creditors),
        "lonebeslag" => json!(debt.garnishment.is_some()),
        "forbehallsbelopp" => debt.garnishment.map_or(Value::Null, |amount| json!(amount)),
        "skuldsanering-beslut" => debt.restructuring.map_or(
            Value::Null,
            |date| json!({ "beslut": "skuldsanering beviljad", "datum": date.to_string() }),
        ),
        _ => return None,
    })
}

pub(super) fn foretag(world: &World, company: &Company, field: &str) -> Option<Value> {
    let board = company
        .board
        .iter()
        .filter_map(|&(member, role)| Some((world.persons.get(member)?, role)));
    Some(match field {
        "firma" => json!(company.firm),
        "status" => json!(company.status),
        "registreringsdatum" => json!(company.registered.to_string()),
        "verksamhet" => json!(company.description),
        "ledamoter" => Value::Array(
            board
                .map(|(person, role)| {
                    let mut entry = person_reference(person);
                    if let Value::Object(fields) = &mut entry {
                        fields.insert("roll".to_owned(), json!(role_name(role)));
                    }
                    entry
                })
                .collect(),
        ),
        "firmatecknare" => {
            let chair = board
                .filter(|(_, role)| matches!(role, BoardRole::Chair))
                .map(|(person, _)| person.full_name())
                .next();
            json!(match chair {
                Some(chair) if company.board.len() > 1 => {
                    format!("Styrelsen. Firman tecknas även av {chair} ensam.")
                }
                _ => "Styrelsen".to_owned(),
            })
        }
        _ => return None,
    })
}

fn role_name(role: BoardRole) -> &'static str {
    match role {
        BoardRole::Chair => "ordförande",
        BoardRole::Member => "ledamot",
        BoardRole::Deputy => "suppleant",
    }
}

pub(super) fn misstanke(person: &Person, field: &str) -> Option<Value> {
    let suspicion = person.facts.suspicion.as_ref()?;
    Some(match field {
        "brottskod" => json!({ "kod": suspicion.offence.0, "benamning": suspicion.offence.1 }),
        "misstankedatum" => json!(suspicion.on.to_string()),
        "forundersokningsledare" => json!(suspicion.leader),
        "underrattelseuppgift" => suspicion
            .intelligence
            .map_or(Value::Null, |note| json!(note)),
        _ => return None,
    })
}
