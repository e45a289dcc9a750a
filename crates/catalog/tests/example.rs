//! The example catalog builds against the example rulebook, and what it derives is right.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::path::PathBuf;
use utbyte_catalog::{Catalog, CatalogData, Gap};
use utbyte_rules::Rulebook;

fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../..")
}

fn example() -> Catalog {
    let rulebook = Rulebook::load_dir(&root().join("rulebook")).unwrap();
    let data = CatalogData::load_dir(&root().join("catalog")).unwrap();
    Catalog::build(&rulebook, &data).unwrap_or_else(|err| panic!("{err}"))
}

#[test]
fn every_offering_has_an_entry_and_every_field_a_known_concept() {
    let rulebook = Rulebook::load_dir(&root().join("rulebook")).unwrap();
    let catalog = example();
    let asked: Vec<_> = rulebook
        .vocabulary
        .offerings
        .values()
        .filter(|o| !o.notice)
        .collect();
    assert_eq!(catalog.entries.len(), asked.len());
    // Notice kinds are sent, never asked for: they have no entry.
    assert!(catalog.entry("ubm-underrattelse").is_none());
    for offering in asked {
        let entry = catalog.entry(&offering.id).unwrap();
        assert_eq!(
            entry.fields.len(),
            offering.fields().count(),
            "{}",
            offering.id
        );
        for field in &entry.fields {
            assert!(
                catalog.concept(&field.concept).is_some(),
                "{}/{} links to {}",
                offering.id,
                field.id,
                field.concept
            );
        }
    }
}

#[test]
fn luffa_is_a_legal_basis_of_fk_formaner_read_off_the_rulebook() {
    let catalog = example();
    let entry = catalog.entry("fk-formaner").unwrap();
    let luffa: Vec<_> = entry
        .legal_bases
        .iter()
        .filter(|b| b.provision == "luffa")
        .collect();
    // The duty to provide on request, assessed by a human for every LUFFA actor ...
    let duty = luffa
        .iter()
        .find(|b| b.policy == "luffa-uppgiftsskyldighet")
        .expect("the general LUFFA grant");
    assert_eq!(duty.outcome, "review");
    assert_eq!(duty.citation, "SFS 2024:307 3 §");
    assert!(duty.title.starts_with("Lag om uppgiftsskyldighet"));
    assert!(duty.recipients.as_ref().is_some_and(
        |r| r.contains(&"malmo-stad".to_owned()) && !r.contains(&"tullverket".to_owned())
    ));
    // ... and automatic disclosure to Malmö stad through the pre-assessment.
    let agreed = luffa
        .iter()
        .find(|b| b.pre_assessment.as_deref() == Some("fk-malmo-formaner-ekonomiskt-bistand"))
        .expect("the pre-assessed LUFFA grant");
    assert_eq!(agreed.outcome, "disclose");
    assert_eq!(agreed.recipients, Some(vec!["malmo-stad".to_owned()]));
    assert!(entry
        .pre_assessments
        .iter()
        .any(|pa| pa.id == "fk-malmo-formaner-ekonomiskt-bistand"
            && pa.valid_from == "2025-07-01"
            && pa.valid_until == "2030-12-31"));
    assert_eq!(entry.provider.name, "Försäkringskassan");
    assert_eq!(entry.provider.orgnr, "202100-5521");
    assert_eq!(entry.secrecy, "osl-28-1");
    assert_eq!(entry.secrecy_citation, "SFS 2009:400 28 kap. 1 §");
    assert_eq!(entry.secrecy_class, "sekretess");
}

#[test]
fn public_access_is_a_legal_basis_only_of_public_information() {
    let catalog = example();
    let public = |id: &str| {
        catalog
            .entry(id)
            .unwrap()
            .legal_bases
            .iter()
            .any(|b| b.provision == "tf-2-1")
    };
    assert!(public("bv-foretag"));
    assert_eq!(
        catalog.entry("bv-foretag").unwrap().secrecy_class,
        "offentlig"
    );
    assert!(!public("skv-inkomst"));
    assert!(!public("pm-misstanke"));
}

#[test]
fn a_grant_that_reaches_only_the_provider_is_no_legal_basis_of_its_offering() {
    let catalog = example();
    // SFB 110:31 obliges others to inform Försäkringskassan; it is no basis for its own data.
    let own = catalog.entry("fk-formaner").unwrap();
    assert!(!own.legal_bases.iter().any(|b| b.provision == "sfb-110-31"));
    let income = catalog.entry("skv-inkomst").unwrap();
    assert!(income
        .legal_bases
        .iter()
        .any(|b| b.provision == "sfb-110-31"
            && b.recipients == Some(vec!["forsakringskassan".to_owned()])));
    // LUFFA's general duty reaches every LUFFA actor but the provider itself.
    let duty = own
        .legal_bases
        .iter()
        .find(|b| b.policy == "luffa-uppgiftsskyldighet")
        .unwrap();
    assert!(!duty
        .recipients
        .as_ref()
        .unwrap()
        .contains(&"forsakringskassan".to_owned()));
}

#[test]
fn the_general_clause_is_a_basis_for_review_never_for_automatic_disclosure() {
    let catalog = example();
    let debts = catalog.entry("kfm-skulder").unwrap();
    let general: Vec<_> = debts
        .legal_bases
        .iter()
        .filter(|b| b.provision == "osl-10-27")
        .collect();
    assert!(!general.is_empty());
    // Any authority but Kronofogden itself may ask under it (the rulebook narrows nothing
    // further without a purpose), and only for a human assessment.
    assert!(general.iter().all(|b| b.outcome == "review"
        && b.recipients.as_ref().is_none_or(|r| {
            r.contains(&"forsakringskassan".to_owned()) && !r.contains(&"kronofogden".to_owned())
        })));
}

#[test]
fn needs_produce_each_kind_of_gap() {
    let catalog = example();
    let status = |id: &str| catalog.needs.iter().find(|n| n.need.id == id).unwrap();

    let met = status("fk-lon-bostadsbidrag");
    assert_eq!(met.gap, Gap::None);
    assert_eq!(met.offerings, ["skv-inkomst"]);
    assert_eq!(met.pre_assessments, ["skv-fk-inkomst-bostadsbidrag"]);
    assert_eq!(status("malmo-formaner-ekonomiskt-bistand").gap, Gap::None);

    let no_pre_assessment = status("malmo-lon-ekonomiskt-bistand");
    assert_eq!(no_pre_assessment.gap, Gap::NoPreAssessment);
    assert_eq!(no_pre_assessment.offerings, ["skv-inkomst"]);
    let payments = status("pm-utbetalningar-forundersokning");
    assert_eq!(payments.gap, Gap::NoPreAssessment);
    assert_eq!(payments.offerings, ["fk-formaner", "ubm-utbetalningar"]);

    assert_eq!(
        status("fk-kapitalinkomst-bostadsbidrag").gap,
        Gap::NoOffering
    );
    let none = status("mig-arbetsstalle-arbetstillstand");
    assert_eq!(none.gap, Gap::NoOffering);
    assert!(none.offerings.is_empty());
}

#[test]
fn a_need_for_a_broad_concept_is_met_through_narrower_ones() {
    let catalog = example();
    // `inkomst` is carried by no field directly; `lon` is a kind of it.
    let inkomst = catalog.scheme.with_narrower("inkomst");
    assert!(inkomst.contains(&"lon"));
    assert!(!catalog
        .entries
        .iter()
        .any(|e| e.fields.iter().any(|f| f.concept == "inkomst")));
}

#[test]
fn mappings_and_publisher_are_read() {
    let catalog = example();
    assert_eq!(catalog.publisher.id, "digg");
    assert_eq!(catalog.publisher.orgnr, "202100-6883");
    let lon = catalog
        .mappings
        .iter()
        .find(|m| m.local_term == "kontrolluppgift lön")
        .unwrap();
    assert_eq!(lon.authority, "skatteverket");
    assert_eq!(lon.concept, "lon");
    assert_eq!(lon.predicate, utbyte_catalog::MatchKind::Exact);
}

#[test]
fn the_catalog_serialises_to_json() {
    let catalog = example();
    let json = serde_json::to_value(&catalog).unwrap();
    assert_eq!(json["needs"][0]["gap"], "none");
    assert!(json["mappings"][0]["predicate"].as_str().is_some());
}
