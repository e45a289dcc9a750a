//! Checks one section of `docs/configuration.md` (`## node.toml`, `## directory.toml`) against
//! the configuration type that reads the file, so that the reference cannot drift.
//!
//! Included by path (`#[path]`) by the node's and the directory's `config_reference` tests:
//! the two files share the reference's conventions, and a helper crate would be one more
//! workspace member for some hundred lines of test code.
//!
//! The keys a type accepts are read from its `Deserialize` impl with `serde-reflection` (which
//! walks every nested table, optional or not), never listed by hand: a field added to any
//! configuration type — a new `[section]` too — fails until the reference documents it, and a
//! key the reference lists that the code no longer knows fails as well. Each documented
//! default or *required* is checked by leaving the option out of the example that sets the
//! most options. (A new field of a type whose `Deserialize` validates its input may need a
//! sample for the tracer: see `serde_reflection::Samples`.)

use serde::de::DeserializeOwned;
use serde_reflection::{ContainerFormat, Format, Registry, Tracer, TracerConfig, VariantFormat};
use std::collections::BTreeMap;
use std::fmt::{Debug, Display};
use std::path::{Path, PathBuf};

/// A document of the repository, by its path from the workspace root.
pub fn repository_file(path: &str) -> String {
    let path = PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("../..")
        .join(path);
    std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

/// The part of the reference under `## {file}`, up to the next second-level heading.
pub fn section(file: &str) -> String {
    let reference = repository_file("docs/configuration.md");
    let heading = format!("\n## {file}\n");
    let start = reference
        .find(&heading)
        .unwrap_or_else(|| panic!("no {heading}"))
        + heading.len();
    let rest = &reference[start..];
    let end = rest.find("\n## ").unwrap_or(rest.len());
    rest[..end].to_owned()
}

/// The ```toml blocks of a text.
pub fn examples(text: &str) -> Vec<String> {
    text.split("```toml\n")
        .skip(1)
        .map(|block| block[..block.find("```").unwrap()].to_owned())
        .collect()
}

/// One row of an options table.
#[derive(Debug)]
pub struct Documented {
    pub kind: String,
    pub default: String,
}

pub fn documented_options(section: &str) -> BTreeMap<String, Documented> {
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

/// Every key `T` accepts, dotted (`limits.body_bytes`), with the type names the reference may
/// give it.
pub fn accepted_keys<T: DeserializeOwned>() -> BTreeMap<String, Vec<&'static str>> {
    let mut tracer = Tracer::new(TracerConfig::default());
    let (Format::TypeName(root), _) = tracer.trace_simple_type::<T>().unwrap() else {
        panic!("a configuration is a table");
    };
    // Unchecked: enums below the top (an address is one) are traced with one variant only,
    // which is enough here: only the fields of structs are read.
    let registry = tracer.registry_unchecked();
    let mut keys = BTreeMap::new();
    walk(&registry, &root, "", &mut keys);
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
        // An enum of names (`officers = "asserted"`) is written as a string.
        let named = |format: &Format| match format {
            Format::TypeName(name) => matches!(
                registry.get(name),
                Some(ContainerFormat::Enum(variants))
                    if variants.values().all(|v| matches!(v.value, VariantFormat::Unit))
            ),
            _ => false,
        };
        let kinds: Vec<&str> = match format {
            Format::Str => vec!["string", "path"],
            Format::TypeName(name) if name != "SocketAddr" && named(format) => vec!["string"],
            Format::Seq(item) if named(item) => vec!["array of strings"],
            Format::Bool => vec!["boolean"],
            Format::U8 | Format::U16 | Format::U32 | Format::U64 | Format::U128 => vec!["integer"],
            Format::TypeName(name) if name == "SocketAddr" => vec!["address"],
            Format::Seq(item) if **item == Format::Str => vec!["array of strings"],
            Format::Seq(item) if table(item).is_some() => vec!["array of tables"],
            other if table(other).is_some() => vec!["table"],
            // A table of names the operator chooses (`[portal.oidc.roles]`).
            Format::Map { key, value } if **key == Format::Str && **value == Format::Str => {
                vec!["table"]
            }
            // Tables under names the operator chooses (`[register.mapping.offerings.<id>]`),
            // their keys documented with the table.
            Format::Map { key, value } if **key == Format::Str && table(value).is_some() => {
                vec!["table"]
            }
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

/// Every key in `accepted` is in the section's table with one of its types, and no other key.
pub fn assert_documented_exactly(
    accepted: &BTreeMap<String, Vec<&str>>,
    section: &str,
    file: &str,
) {
    let documented = documented_options(section);
    let missing: Vec<&String> = accepted
        .keys()
        .filter(|key| !documented.contains_key(*key))
        .collect();
    assert!(
        missing.is_empty(),
        "not under `## {file}` in docs/configuration.md: {missing:?}"
    );
    let unknown: Vec<&String> = documented
        .keys()
        .filter(|key| !accepted.contains_key(*key))
        .collect();
    assert!(
        unknown.is_empty(),
        "under `## {file}` in docs/configuration.md, not in the code: {unknown:?}"
    );
    for (key, kinds) in accepted {
        let row = &documented[key];
        assert!(
            kinds.contains(&row.kind.as_str()),
            "{key} is documented as {}, the code reads {kinds:?}",
            row.kind
        );
    }
}

/// Writes `example` to `file` in a fresh directory and loads it with `load`, as the program
/// loads its configuration (relative paths, checks beyond the types).
pub fn assert_loads<C, E: Display>(
    example: &str,
    file: &str,
    what: &str,
    load: impl Fn(&Path) -> Result<C, E>,
) -> C {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join(file);
    std::fs::write(&path, example).unwrap();
    load(&path).unwrap_or_else(|err| panic!("{what} does not load: {err}\n{example}"))
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
                // Only the tables of the array that hold the key's own table, if it is nested.
                let inner = rest.split_once('.').map(|(inner, _)| inner);
                for item in items.iter_mut().filter_map(|v| v.as_table_mut()) {
                    if inner.is_none_or(|inner| item.contains_key(inner)) {
                        edit(item, rest, change);
                    }
                }
            }
            _ => panic!("{key}: {head} is not a table"),
        },
    }
}

/// Each option of the section left out of its most complete example: refused when documented
/// *required*, accepted when *none*, and otherwise the same as setting the documented default.
pub fn assert_defaults<C: DeserializeOwned + PartialEq + Debug>(section: &str) {
    let documented = documented_options(section);
    // The example that sets every option is the base every option is left out of.
    let complete: toml::Table = examples(section)
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
    let load = |table: toml::Table| toml::Value::Table(table).try_into::<C>();

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
