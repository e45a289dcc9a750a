//! `docs/configuration.md`'s `## node.toml` checked against the code, so that the reference
//! cannot drift: every key `NodeConfig` accepts (read from its `Deserialize` impl) is
//! documented with its type and no other key is; every TOML example in the section is loaded
//! as `utbyte node serve` loads it; and each documented default or *required* is checked by
//! leaving the option out of the complete example. How is in `common/config_reference.rs`,
//! shared with the directory's check of `## directory.toml`.

#![allow(clippy::unwrap_used, clippy::expect_used)] // tests: a panic is the failure report

#[path = "common/config_reference.rs"]
mod reference;

use utbyte_node::NodeConfig;

const FILE: &str = "node.toml";

#[test]
fn every_key_the_code_accepts_is_documented_with_its_type_and_nothing_else() {
    let accepted = reference::accepted_keys::<NodeConfig>();
    // The walk reaches nested and optional tables, and arrays of tables.
    for key in ["limits.body_bytes", "portal.name", "register.offerings"] {
        assert!(accepted.contains_key(key), "{key}: {accepted:?}");
    }
    reference::assert_documented_exactly(&accepted, &reference::section(FILE), FILE);
}

#[test]
fn every_example_is_a_configuration_the_node_loads() {
    let examples = reference::examples(&reference::section(FILE));
    assert!(examples.len() >= 2, "a minimal and a complete example");
    for (i, example) in examples.iter().enumerate() {
        let what = format!("example {}", i + 1);
        reference::assert_loads(example, FILE, &what, NodeConfig::load);
    }
}

#[test]
fn every_documented_default_and_requirement_is_what_the_code_does() {
    reference::assert_defaults::<NodeConfig>(&reference::section(FILE));
}
