//! `docs/configuration.md` checked against the code, so that the reference cannot drift.
//!
//! The keys a node's configuration accepts are read from `NodeConfig`'s `Deserialize` impl with
//! `serde-reflection` (which walks every nested table, optional or not), never listed here: a
//! field added to any configuration type — a new `[section]` too — fails this test until the
//! reference documents it, and a key the reference lists that the code no longer knows fails it
//! as well. Every TOML example in the reference is loaded as `utbyte node serve` loads it, and
//! each documented default or *required* is checked by leaving the option out of the complete
//! example. (A new field of a type whose `Deserialize` validates its input may need a sample for
//! the tracer: see `serde_reflection::Samples`.)

#![allow(clippy::unwrap_used, clippy::expect_used)] // tests: a panic is the failure report

use serde_reflection::{ContainerFormat, Format, Registry, Tracer, TracerConfig};
use std::collections::BTreeMap;
use std::path::PathBuf;
use utbyte_node::NodeConfig;

fn reference() -> String {
    let path = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../docs/configuration.md");
    std::fs::read_to_string(path).unwrap()
}

/// The part of the reference under `## {file}`, up to the next second-level heading.
fn section(file: &str) -> String {
    let reference = reference();
    let heading = format!("\n## {file}\n");
    let start = reference
        .find(&heading)
        .unwrap_or_else(|| panic!("no {heading}"))
        + 1;
    let rest = &reference[start + heading.len() - 1..];
    let end = rest.find("\n## ").unwrap_or(rest.len());
    rest[..end].to_owned()
}

/// The ```toml blocks of a section.
fn examples(section: &str) -> Vec<String> {
    section
        .split("```toml\n")
        .skip(1)
        .map(|block| block[..block.find("```").unwrap()].to_owned())
        .collect()
}

/// One row of an options table.
#[derive(Debug)]
struct Documented {
    kind: String,
    default: String,
}

fn documented_options(section: &str) -> BTreeMap<String, Documented> {
    let mut options = BTreeMap::new();
    for line in section.lines().filter(|l| l.starts_with("| `")) {
        let cells: Vec<&str> = line.split('|').map(str::trim).collect();
        let key = cells[1].trim_matches('`').to_owned();
        let row = Documented {
            kind: cells[2].to_owned(),
            default: cells[3].to_owned(),
        };
        assert!(options.insert(key.clone(), row).is_none(), "{key} twice");
    }
    options
}

/// Every key the configuration type accepts, dotted (`limits.body_bytes`), with the type names
/// the reference may give it.
fn accepted_keys() -> BTreeMap<String, Vec<&'static str>> {
    let mut tracer = Tracer::new(TracerConfig::default());
    tracer.trace_simple_type::<NodeConfig>().unwrap();
    // Unchecked: enums below the top (an address is one) are traced with one variant only,
    // which is enough here: only the fields of structs are read.
    let registry = tracer.registry_unchecked();
    let mut keys = BTreeMap::new();
    walk(&registry, "NodeConfig", "", &mut keys);
    keys
}

fn walk(registry: &Registry, name: &str, prefix: &str, keys: &mut BTreeMap<String, Vec<&str>>) {
    let Some(ContainerFormat::Struct(fields)) = registry.get(name) else {
        panic!("{name} is not a table");
    };
    for field in fields {
        let key = format!("{prefix}{}", field.name);
        let mut format = &field.value;
        while let Format::Option(inner) = format {
            format = inner;
        }
        let table = |format: &Format| match format {
            Format::TypeName(name) => match registry.get(name) {
                Some(ContainerFormat::Struct(_)) => Some(name.clone()),
                _ => None,
            },
            _ => None,
        };
        let kinds: Vec<&str> = match format {
            Format::Str => vec!["string", "path"],
            Format::Bool => vec!["boolean"],
            Format::U8 | Format::U16 | Format::U32 | Format::U64 | Format::U128 => vec!["integer"],
            Format::TypeName(name) if name == "SocketAddr" => vec!["address"],
            Format::Seq(item) if **item == Format::Str => vec!["array of strings"],
            Format::Seq(item) if table(item).is_some() => vec!["array of tables"],
            other if table(other).is_some() => vec!["table"],
            other => panic!("{key}: no reference type for {other:?}"),
        };
        let nested = match format {
            Format::Seq(item) => table(item),
            other => table(other),
        };
        keys.insert(key.clone(), kinds);
        if let Some(nested) = nested {
            walk(registry, &nested, &format!("{key}."), keys);
        }
    }
}

#[test]
fn every_key_the_code_accepts_is_documented_with_its_type_and_nothing_else() {
    let accepted = accepted_keys();
    // The walk reaches nested and optional tables, and arrays of tables.
    for key in ["limits.body_bytes", "portal.name", "register.offerings"] {
        assert!(accepted.contains_key(key), "{key}: {accepted:?}");
    }
    let documented = documented_options(&section("node.toml"));
    let missing: Vec<&String> = accepted
        .keys()
        .filter(|key| !documented.contains_key(*key))
        .collect();
    assert!(
        missing.is_empty(),
        "not in docs/configuration.md: {missing:?}"
    );
    let unknown: Vec<&String> = documented
        .keys()
        .filter(|key| !accepted.contains_key(*key))
        .collect();
    assert!(
        unknown.is_empty(),
        "in docs/configuration.md, not in the code: {unknown:?}"
    );
    for (key, kinds) in &accepted {
        let row = &documented[key];
        assert!(
            kinds.contains(&row.kind.as_str()),
            "{key} is documented as {}, the code reads {kinds:?}",
            row.kind
        );
    }
}

#[test]
fn every_example_is_a_configuration_the_node_loads() {
    let examples = examples(&section("node.toml"));
    assert!(examples.len() >= 2, "a minimal and a complete example");
    let dir = tempfile::tempdir().unwrap();
    for (i, example) in examples.iter().enumerate() {
        let path = dir.path().join(format!("example-{i}.toml"));
        std::fs::write(&path, example).unwrap();
        if let Err(err) = NodeConfig::load(&path) {
            panic!("example {} does not load: {err}\n{example}", i + 1);
        }
    }
}

/// The keys a TOML document sets, dotted, through tables and arrays of tables.
fn keys_set(table: &toml::Table, prefix: &str, keys: &mut Vec<String>) {
    for (name, value) in table {
        let key = format!("{prefix}{name}");
        keys.push(key.clone());
        let nested: Vec<&toml::Table> = match value {
            toml::Value::Table(table) => vec![table],
            toml::Value::Array(items) => items.iter().filter_map(|v| v.as_table()).collect(),
            _ => Vec::new(),
        };
        for table in nested {
            keys_set(table, &format!("{key}."), keys);
        }
    }
}

/// Applies `change` to the value of `key` wherever it is (or would be) set: in its table, or in
/// every table of an array of tables.
fn edit(table: &mut toml::Table, key: &str, change: &dyn Fn(&mut toml::Table, &str)) {
    match key.split_once('.') {
        None => change(table, key),
        Some((head, rest)) => match table.get_mut(head) {
            Some(toml::Value::Table(inner)) => edit(inner, rest, change),
            Some(toml::Value::Array(items)) => {
                for item in items.iter_mut().filter_map(|v| v.as_table_mut()) {
                    edit(item, rest, change);
                }
            }
            _ => panic!("{key}: {head} is not a table"),
        },
    }
}

#[test]
fn every_documented_default_and_requirement_is_what_the_code_does() {
    let section = section("node.toml");
    let documented = documented_options(&section);
    // The example that sets every option is the base every option is left out of.
    let complete: toml::Table = examples(&section)
        .iter()
        .map(|example| toml::from_str::<toml::Table>(example).unwrap())
        .max_by_key(|table| {
            let mut keys = Vec::new();
            keys_set(table, "", &mut keys);
            keys.len()
        })
        .unwrap();
    let mut set = Vec::new();
    keys_set(&complete, "", &mut set);
    let unset: Vec<&String> = documented.keys().filter(|k| !set.contains(k)).collect();
    assert!(unset.is_empty(), "no example sets {unset:?}");
    let load = |table: toml::Table| toml::Value::Table(table).try_into::<NodeConfig>();

    for (key, row) in &documented {
        let mut without = complete.clone();
        edit(&mut without, key, &|table, name| {
            table.remove(name);
        });
        let left_out = load(without);
        match row.default.as_str() {
            "required" => assert!(left_out.is_err(), "{key} is documented as required"),
            "none" => assert!(left_out.is_ok(), "{key} may be left out: {left_out:?}"),
            default => {
                let left_out = left_out.unwrap_or_else(|e| panic!("{key} has a default: {e}"));
                let value: toml::Table =
                    toml::from_str(&format!("v = {}", default.trim_matches('`'))).unwrap();
                let value = value["v"].clone();
                let mut given = complete.clone();
                edit(&mut given, key, &|table, name| {
                    table.insert(name.to_owned(), value.clone());
                });
                assert_eq!(
                    load(given).unwrap(),
                    left_out,
                    "{key}: left out is not the same as {default}"
                );
            }
        }
    }
}
