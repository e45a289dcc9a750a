//! `docs/configuration.md`'s `## directory.toml` checked against the code, so that the
//! reference cannot drift: every key `DirectoryConfig` accepts (read from its `Deserialize`
//! impl) is documented with its type and no other key is; every TOML example in the section,
//! and the deployment guide's `directory.toml`, is loaded as `utbyte directory serve` loads it;
//! and each documented default or *required* is checked by leaving the option out of the
//! complete example. The parsing of the reference is the node's check's
//! (`crates/node/tests/common/config_reference.rs`), included by path: both files follow the
//! same conventions.

#![allow(clippy::unwrap_used, clippy::expect_used)] // tests: a panic is the failure report

#[path = "../../node/tests/common/config_reference.rs"]
mod reference;

use utbyte_directory::DirectoryConfig;

const FILE: &str = "directory.toml";

#[test]
fn every_key_the_code_accepts_is_documented_with_its_type_and_nothing_else() {
    let accepted = reference::accepted_keys::<DirectoryConfig>();
    for key in ["listen", "signing_key", "catalog_base"] {
        assert!(accepted.contains_key(key), "{key}: {accepted:?}");
    }
    reference::assert_documented_exactly(&accepted, &reference::section(FILE), FILE);
}

#[test]
fn every_example_is_a_configuration_the_directory_loads() {
    let examples = reference::examples(&reference::section(FILE));
    assert!(examples.len() >= 2, "a minimal and a complete example");
    for (i, example) in examples.iter().enumerate() {
        let what = format!("example {}", i + 1);
        reference::assert_loads(example, FILE, &what, DirectoryConfig::load);
    }
}

#[test]
fn every_documented_default_and_requirement_is_what_the_code_does() {
    reference::assert_defaults::<DirectoryConfig>(&reference::section(FILE));
}

#[test]
fn the_deployment_guides_directory_toml_loads() {
    let guide = reference::repository_file("docs/deployment.md");
    let (_, after) = guide
        .split_once("`directory/directory.toml`")
        .expect("the guide writes directory/directory.toml");
    let example = reference::examples(after)
        .into_iter()
        .next()
        .expect("a ```toml block after it");
    let what = "the guide's directory.toml";
    let config = reference::assert_loads(&example, FILE, what, DirectoryConfig::load);
    // Its relative paths are the directories the guide's later steps use.
    assert!(config.state_dir.ends_with("state"), "{config:?}");
    assert!(config.credentials_dir.ends_with("pki"), "{config:?}");
}
