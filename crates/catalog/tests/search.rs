//! Search over the example catalog: stemming, expansion through concepts and mappings, every
//! facet and filter, paging and the errors of the query language.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::path::PathBuf;
use utbyte_catalog::query::FilterKey;
use utbyte_catalog::search::{MAX_PER_PAGE, MAX_WINDOW};
use utbyte_catalog::{
    Catalog, CatalogData, Entry, EntryField, SearchError, SearchIndex, SearchResults,
};
use utbyte_rules::Rulebook;

fn catalog() -> Catalog {
    let root = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../..");
    let rulebook = Rulebook::load_dir(&root.join("rulebook")).unwrap();
    let data = CatalogData::load_dir(&root.join("catalog")).unwrap();
    Catalog::build(&rulebook, &data).unwrap()
}

fn index_of(catalog: &Catalog, entries: &[Entry]) -> SearchIndex {
    SearchIndex::build(entries, &catalog.scheme, &catalog.mappings).unwrap()
}

fn example() -> (Catalog, SearchIndex) {
    let catalog = catalog();
    let index = index_of(&catalog, &catalog.entries);
    (catalog, index)
}

fn offerings(results: &SearchResults) -> Vec<&str> {
    let mut found: Vec<&str> = results.hits.iter().map(|h| h.offering.as_str()).collect();
    found.sort_unstable();
    found
}

fn search(index: &SearchIndex, query: &str) -> Vec<String> {
    let results = index
        .search(query, 1, MAX_PER_PAGE)
        .unwrap_or_else(|e| panic!("{query}: {e}"));
    offerings(&results).into_iter().map(str::to_owned).collect()
}

/// An entry that says nothing but `title` and has one field carrying `concept`.
fn bare_entry(template: &Entry, id: &str, title: &str, concept: &str) -> Entry {
    Entry {
        offering: id.to_owned(),
        title: title.to_owned(),
        description: String::new(),
        keywords: Vec::new(),
        fields: vec![EntryField {
            id: "f".to_owned(),
            title: "Uppgift".to_owned(),
            category: "c".to_owned(),
            concept: concept.to_owned(),
        }],
        ..template.clone()
    }
}

#[test]
fn swedish_stemming_finds_inflected_forms() {
    let catalog = catalog();
    let template = catalog.entry("skv-inkomst").unwrap();
    let mut entry = bare_entry(template, "a", "Årlig inkomst", "personnamn");
    entry.description = "Uppgift om inkomst per år.".to_owned();
    let index = index_of(&catalog, &[entry]);
    assert_eq!(search(&index, "inkomster"), ["a"]);
    assert_eq!(search(&index, "INKOMSTEN"), ["a"]);
    assert_eq!(search(&index, "årliga"), ["a"]);
}

#[test]
fn a_concept_label_finds_offerings_carrying_narrower_concepts() {
    let catalog = catalog();
    let template = catalog.entry("skv-inkomst").unwrap();
    // Nothing in this entry's text says inkomst; its one field carries `lon`, a kind of income.
    let salary = bare_entry(template, "salary", "Utbetalda arvoden", "lon");
    let names = bare_entry(template, "names", "Namn", "personnamn");
    let index = index_of(&catalog, &[salary, names]);
    assert_eq!(search(&index, "inkomst"), ["salary"]);
    assert_eq!(search(&index, "income"), ["salary"]);
    assert_eq!(search(&index, "lön"), ["salary"]);
    assert_eq!(search(&index, "löner"), ["salary"]);
    // A multi-word label is matched as one concept.
    assert_eq!(search(&index, "inkomst av tjänst"), ["salary"]);
}

#[test]
fn local_terms_of_mappings_find_their_concepts() {
    let (_, index) = example();
    // Försäkringskassan's SGI is mapped to income; no entry's text says SGI.
    assert_eq!(search(&index, "SGI"), ["skv-inkomst"]);
    assert_eq!(
        search(&index, "sjukpenninggrundande inkomst"),
        ["skv-inkomst"]
    );
    assert_eq!(search(&index, "\"kontrolluppgift lön\""), ["skv-inkomst"]);
    // Malmö's försörjningsstöd is mapped to ekonomiskt bistånd.
    assert_eq!(
        search(&index, "försörjningsstöd"),
        ["malmo-ekonomiskt-bistand"]
    );
}

#[test]
fn words_are_anded_and_phrases_keep_their_order() {
    let (_, index) = example();
    assert_eq!(search(&index, "skuld löneutmätning"), ["kfm-skulder"]);
    assert!(search(&index, "skuld styrelse").is_empty());
    assert_eq!(
        search(&index, "\"ekonomiskt bistånd\""),
        ["malmo-ekonomiskt-bistand"]
    );
    assert!(search(&index, "\"bistånd ekonomiskt\"").is_empty());
}

#[test]
fn facets_count_each_dimension() {
    let (_, index) = example();
    let results = index.search("", 1, 20).unwrap();
    assert_eq!(results.total, 9);
    let facet = |name: &str, value: &str| {
        results.facets[name]
            .iter()
            .find(|(v, _)| v == value)
            .map_or(0, |(_, n)| *n)
    };
    assert_eq!(facet("provider", "skatteverket"), 2);
    assert_eq!(facet("provider", "kronofogden"), 1);
    assert_eq!(
        facet("secrecy", "sekretess"),
        8,
        "seven authorities' and the bank's"
    );
    assert_eq!(facet("secrecy", "offentlig"), 1);
    assert_eq!(facet("concept", "utbetalt-belopp"), 2);
    assert_eq!(facet("concept", "period"), 2);
    assert_eq!(facet("provision", "tf-2-1"), 1);
    assert!(facet("provision", "luffa") >= 5);
    assert_eq!(facet("purpose", "kontroll-bostadsbidrag"), 2);
    assert_eq!(facet("purpose", "kontroll-ekonomiskt-bistand"), 1);
    // Most frequent first.
    let providers = &results.facets["provider"];
    assert!(providers.windows(2).all(|w| w[0].1 >= w[1].1));
    for key in FilterKey::ALL {
        assert!(results.facets.contains_key(key.name()), "{key}");
    }

    let narrowed = index.search("provider:skatteverket", 1, 20).unwrap();
    assert_eq!(
        narrowed.facets["provider"],
        [("skatteverket".to_owned(), 2)]
    );
}

#[test]
fn each_filter_restricts_and_filters_are_anded() {
    let (_, index) = example();
    assert_eq!(search(&index, "provider:kronofogden"), ["kfm-skulder"]);
    assert_eq!(search(&index, "provider:Kronofogden"), ["kfm-skulder"]);
    assert_eq!(search(&index, "secrecy:offentlig"), ["bv-foretag"]);
    assert_eq!(
        search(&index, "purpose:kontroll-ekonomiskt-bistand"),
        ["fk-formaner"]
    );
    let samverkan = search(&index, "provision:sfs-2016-774");
    assert!(samverkan.contains(&"skv-inkomst".to_owned()));
    // Filters are AND-ed: Bolagsverket is no provider under SFS 2016:774 (it is not in the
    // group the grant names), so no public offering is disclosed under it.
    assert!(search(&index, "provision:sfs-2016-774 secrecy:offentlig").is_empty());
    assert_eq!(
        search(&index, "provision:tf-2-1 secrecy:offentlig"),
        ["bv-foretag"]
    );
    assert!(search(&index, "provision:tf-2-1") == ["bv-foretag"]);
    // A concept filter takes an id or a label, and includes narrower concepts.
    assert_eq!(search(&index, "concept:inkomst"), ["skv-inkomst"]);
    assert_eq!(
        search(&index, "concept:\"inkomst av tjänst\""),
        ["skv-inkomst"]
    );
    assert_eq!(
        search(&index, "concept:utbetalning"),
        ["fk-formaner", "ubm-utbetalningar"]
    );
    // AND: both filters, and the text.
    assert_eq!(
        search(&index, "concept:utbetalning provider:forsakringskassan"),
        ["fk-formaner"]
    );
    assert_eq!(
        search(&index, "concept:adress provider:skatteverket"),
        ["skv-folkbokforing"]
    );
    assert!(search(&index, "skuld provider:skatteverket").is_empty());
}

#[test]
fn paging_is_mandatory_and_bounded() {
    let catalog = catalog();
    let template = catalog.entry("kfm-skulder").unwrap();
    let entries: Vec<Entry> = (0..45)
        .map(|i| bare_entry(template, &format!("e{i:02}"), "Skulder", "skuld"))
        .collect();
    let index = index_of(&catalog, &entries);
    let page = |page, per_page| index.search("skulder", page, per_page);

    let third = page(3, 20).unwrap();
    assert_eq!((third.total, third.page, third.per_page), (45, 3, 20));
    assert_eq!(third.hits.len(), 5);
    let mut seen: Vec<String> = (1..=3)
        .flat_map(|p| page(p, 20).unwrap().hits)
        .map(|h| h.offering)
        .collect();
    seen.sort();
    seen.dedup();
    assert_eq!(seen.len(), 45, "pages overlap or miss hits");

    assert_eq!(
        page(4, 20),
        Err(SearchError::PageOutOfRange {
            page: 4,
            last_page: 3,
            total: 45
        })
    );
    assert_eq!(page(0, 20), Err(SearchError::PageZero));
    assert!(matches!(
        page(1, 0),
        Err(SearchError::PerPage { per_page: 0, .. })
    ));
    assert!(matches!(
        page(1, MAX_PER_PAGE + 1),
        Err(SearchError::PerPage { .. })
    ));
    let too_deep = u32::try_from(MAX_WINDOW / 100).unwrap() + 1;
    assert!(matches!(
        page(too_deep, 100),
        Err(SearchError::TooDeep { .. })
    ));
    // No hits is one empty first page, not an error.
    let none = index.search("styrelse", 1, 20).unwrap();
    assert_eq!((none.total, none.hits.len()), (0, 0));
}

#[test]
fn query_errors_are_precise() {
    let (_, index) = example();
    let error = |query: &str| index.search(query, 1, 20).unwrap_err().to_string();
    assert_eq!(
        error("lön owner:skatteverket"),
        "unknown filter `owner:`; the filters are provider:, concept:, provision:, purpose: and secrecy:"
    );
    assert!(error("provider:skv").starts_with("no entry has provider `skv`; known values include"));
    assert!(error("concept:fordon").starts_with("no entry has concept `fordon`"));
    assert_eq!(
        error("\"lön"),
        "the quote opened at character 1 is not closed"
    );
    assert_eq!(error("secrecy:"), "filter `secrecy:` has no value");
    // A colon after something other than a key is text, not a filter.
    assert!(index.search("SFS 2024:307", 1, 20).is_ok());
}

#[test]
fn results_serialise_with_hits_and_facets() {
    let (_, index) = example();
    let results = index.search("skulder", 1, 20).unwrap();
    let json = serde_json::to_value(&results).unwrap();
    assert_eq!(json["hits"][0]["offering"], "kfm-skulder");
    assert_eq!(json["hits"][0]["provider_name"], "Kronofogdemyndigheten");
    assert_eq!(json["facets"]["provider"][0][0], "kronofogden");
    assert_eq!(json["facets"]["provider"][0][1], 1);
}
