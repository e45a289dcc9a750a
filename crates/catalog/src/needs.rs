//! Needs: what authorities have registered that they need, and what stands between each need and
//! an automatic disclosure.
//!
//! When an offering *meets* a need: every concept the need names is carried by a field of the
//! offering, either directly or through a narrower concept (a need for `inkomst` is met by a field
//! carrying `lon`, a kind of income). Only offerings of other authorities count; an authority
//! does not request its own information through the exchange.
//!
//! When a pre-assessment *covers* a need: it is for the needing authority and an offering that
//! meets the need, its fields carry every needed concept in the same sense, it rests on the
//! provision the need names, and its purpose is the need's purpose or a purpose group containing
//! it. Validity dates are shown on the pre-assessment, not judged here: the catalog is built
//! without a clock.

use crate::data::CatalogData;
use crate::model::{ConceptScheme, Entry, Gap, Need, NeedStatus};
use crate::read::near_definition;
use std::collections::BTreeSet;
use utbyte_rules::vocabulary::Vocabulary;
use utbyte_rules::Problem;

/// Checks every need's references against the rulebook; returns the needs.
pub(crate) fn check(
    data: &CatalogData,
    vocabulary: &Vocabulary,
    problems: &mut Vec<Problem>,
) -> Vec<Need> {
    let file = data.file("needs.toml");
    for need in &data.needs {
        let id = &need.id;
        let mut problem = |message: String| problems.push(near_definition(&file, id, message));
        if !vocabulary.authorities.contains_key(&need.authority) {
            problem(format!(
                "need `{id}` is registered by `{}`, which is not an authority of the rulebook",
                need.authority
            ));
        }
        if !vocabulary.purposes.contains_key(&need.purpose) {
            problem(format!(
                "need `{id}` is for purpose `{}`, which is not a purpose of the rulebook",
                need.purpose
            ));
        }
        if !vocabulary.provisions.contains_key(&need.legal_basis) {
            problem(format!(
                "need `{id}` claims legal basis `{}`, which is not a provision of the rulebook",
                need.legal_basis
            ));
        }
    }
    data.needs.clone()
}

/// Each need with the offerings that meet it, the pre-assessments that cover it, and its gap.
pub(crate) fn statuses(
    needs: Vec<Need>,
    entries: &[Entry],
    scheme: &ConceptScheme,
    vocabulary: &Vocabulary,
) -> Vec<NeedStatus> {
    needs
        .into_iter()
        .map(|need| {
            let meeting: Vec<&Entry> = entries
                .iter()
                .filter(|e| e.provider.id != need.authority)
                .filter(|e| {
                    carries_all(
                        scheme,
                        &need.concepts,
                        e.fields.iter().map(|f| f.concept.as_str()),
                    )
                })
                .collect();
            let purposes = purpose_and_groups(vocabulary, &need.purpose);
            let pre_assessments: Vec<String> = meeting
                .iter()
                .flat_map(|entry| {
                    entry.pre_assessments.iter().filter(|pa| {
                        pa.recipient == need.authority
                            && pa.provision == need.legal_basis
                            && purposes.contains(pa.purpose.as_str())
                            && carries_all(
                                scheme,
                                &need.concepts,
                                pa.fields.iter().filter_map(|f| {
                                    entry
                                        .fields
                                        .iter()
                                        .find(|ef| &ef.id == f)
                                        .map(|ef| ef.concept.as_str())
                                }),
                            )
                    })
                })
                .map(|pa| pa.id.clone())
                .collect();
            let gap = if meeting.is_empty() {
                Gap::NoOffering
            } else if pre_assessments.is_empty() {
                Gap::NoPreAssessment
            } else {
                Gap::None
            };
            NeedStatus {
                offerings: meeting.iter().map(|e| e.offering.clone()).collect(),
                pre_assessments,
                gap,
                need,
            }
        })
        .collect()
}

/// Whether the carried concepts include, for each needed concept, it or a narrower one.
fn carries_all<'a>(
    scheme: &ConceptScheme,
    needed: &[String],
    carried: impl Iterator<Item = &'a str>,
) -> bool {
    let carried: BTreeSet<&str> = carried.collect();
    needed.iter().all(|concept| {
        scheme
            .with_narrower(concept)
            .iter()
            .any(|c| carried.contains(c))
    })
}

/// The purpose and every purpose group it belongs to, directly or through `within`.
fn purpose_and_groups<'a>(vocabulary: &'a Vocabulary, purpose: &'a str) -> BTreeSet<&'a str> {
    let mut found: BTreeSet<&str> = BTreeSet::from([purpose]);
    let mut queue: Vec<&str> = vocabulary
        .purposes
        .get(purpose)
        .map(|p| p.groups.iter().map(String::as_str).collect())
        .unwrap_or_default();
    while let Some(group) = queue.pop() {
        if found.insert(group) {
            if let Some(g) = vocabulary.purpose_groups.get(group) {
                queue.extend(g.within.iter().map(String::as_str));
            }
        }
    }
    found
}
