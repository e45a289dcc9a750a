//! JSON-LD with a context of prefixes, from the expanded JSON-LD `oxrdfio` writes.
//!
//! `oxrdfio` writes JSON-LD in expanded form: a list of node objects whose every property is a
//! full IRI. That is the same graph, but hard for a person to read and unlike every DCAT-AP
//! example, and no well-kept Rust crate compacts JSON-LD short of a whole JSON-LD processor
//! (document loaders, remote contexts). The compaction wanted here is the simplest JSON-LD has —
//! a context of prefixes only, a property IRI in one of the namespaces becoming `prefix:local`,
//! `rdf:type` becoming `@type` — so it is done here, on the JSON, and the export test proves the
//! result is the same graph as the RDF/XML (rdflib, isomorphic).

use super::vocab::{rdf, PREFIXES};
use serde_json::{Map, Value};

/// The expanded document `expanded` as `{"@context": {prefixes}, "@graph": [nodes]}`.
pub fn compact(expanded: &str) -> Result<String, serde_json::Error> {
    let nodes: Vec<Map<String, Value>> = serde_json::from_str(expanded)?;
    let context: Map<String, Value> = PREFIXES
        .iter()
        .map(|(prefix, namespace)| (prefix.to_string(), Value::String(namespace.to_string())))
        .collect();
    let graph: Vec<Value> = nodes.into_iter().map(compact_node).collect();
    let mut document = Map::new();
    document.insert("@context".to_owned(), Value::Object(context));
    document.insert("@graph".to_owned(), Value::Array(graph));
    serde_json::to_string_pretty(&Value::Object(document))
}

fn compact_node(node: Map<String, Value>) -> Value {
    let compacted = node.into_iter().map(|(key, value)| {
        if key == rdf::TYPE.as_str() {
            if let Some(types) = type_iris(&value) {
                return ("@type".to_owned(), types);
            }
        }
        (compact_iri(key), value)
    });
    Value::Object(compacted.collect())
}

/// `rdf:type`'s values as `@type` takes them — plain IRI strings — when every value is a bare
/// `{"@id": …}`; otherwise the property stays as it is.
fn type_iris(values: &Value) -> Option<Value> {
    let values = values.as_array()?;
    let iris = values.iter().map(|value| match value.as_object() {
        Some(object) if object.len() == 1 => object.get("@id").filter(|id| id.is_string()).cloned(),
        _ => None,
    });
    iris.collect::<Option<Vec<Value>>>().map(Value::Array)
}

/// `prefix:local` for an IRI in a declared namespace whose local part is a plain name — no `/`,
/// `#` or `:` that could make the compact IRI mean something else; any other key as it is.
fn compact_iri(key: String) -> String {
    for (prefix, namespace) in PREFIXES {
        if let Some(local) = key.strip_prefix(namespace) {
            let plain = !local.is_empty()
                && local
                    .chars()
                    .all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-');
            if plain {
                return format!("{prefix}:{local}");
            }
        }
    }
    key
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn properties_become_compact_iris_and_types_become_at_type() -> Result<(), serde_json::Error> {
        let expanded = r#"[{"@id":"https://x.example/d",
            "http://www.w3.org/1999/02/22-rdf-syntax-ns#type":[{"@id":"http://www.w3.org/ns/dcat#Dataset"}],
            "http://purl.org/dc/terms/title":[{"@language":"sv","@value":"Titel"}],
            "http://purl.org/dc/terms/a/b":[{"@value":"kept"}],
            "https://other.example/p":[{"@value":"kept"}]}]"#;
        let document: Value = serde_json::from_str(&compact(expanded)?)?;
        let node = &document["@graph"][0];
        assert_eq!(node["@type"][0], "http://www.w3.org/ns/dcat#Dataset");
        assert_eq!(node["dcterms:title"][0]["@value"], "Titel");
        assert_eq!(node["http://purl.org/dc/terms/a/b"][0]["@value"], "kept");
        assert_eq!(node["https://other.example/p"][0]["@value"], "kept");
        assert_eq!(document["@context"]["dcat"], "http://www.w3.org/ns/dcat#");
        Ok(())
    }

    #[test]
    fn a_type_that_is_not_a_bare_iri_stays_a_property() -> Result<(), serde_json::Error> {
        let expanded = r#"[{"@id":"https://x.example/d",
            "http://www.w3.org/1999/02/22-rdf-syntax-ns#type":[{"@value":"odd"}]}]"#;
        let document: Value = serde_json::from_str(&compact(expanded)?)?;
        assert_eq!(document["@graph"][0]["rdf:type"][0]["@value"], "odd");
        Ok(())
    }
}
