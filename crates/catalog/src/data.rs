//! The catalog's data files, as a legal or semantic expert edits them, read and checked in
//! themselves (references against the rulebook are checked by [`crate::Catalog::build`]).
//!
//! Layout of a catalog directory:
//!
//! ```text
//! catalog.toml       [publisher]: the directory operator who publishes the catalog
//! concepts.toml      [scheme] title and namespace; [[concept]]: the shared SKOS concepts
//! fields.toml        [offering-id] field-id = "concept-id": the concept each field carries
//! offerings.toml     [[offering]]: description, retention, contact point, keywords, modified
//! needs.toml         [[need]]: information authorities have registered that they need
//! mappings/*.toml    authority = "…" and [[mapping]]: its local terms mapped to concepts
//! ```

use crate::model::{Agent, ConceptScheme, ContactPoint, Mapping, Need};
use crate::{read, scheme, CatalogError};
use serde::Deserialize;
use std::collections::BTreeMap;
use std::path::Path;
use utbyte_rules::source::{Problem, SourceFile};

/// What the catalog says about one offering beyond what the rulebook says.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct OfferingDescription {
    pub id: String,
    pub description: String,
    pub retention: String,
    pub contact: ContactPoint,
    #[serde(default)]
    pub keywords: Vec<String>,
    /// `YYYY-MM-DD`.
    pub modified: String,
}

/// The catalog's data, read and checked in itself.
#[derive(Debug, Clone)]
pub struct CatalogData {
    pub publisher: Agent,
    pub scheme: ConceptScheme,
    /// Offering id → field id → concept id.
    pub fields: BTreeMap<String, BTreeMap<String, String>>,
    pub offerings: BTreeMap<String, OfferingDescription>,
    pub mappings: Vec<Mapping>,
    pub needs: Vec<Need>,
    /// The files read, by path, so that later checks can point into them.
    pub(crate) files: BTreeMap<String, SourceFile>,
}

/// The files every catalog directory must have.
pub const FILES: [&str; 5] = [
    "catalog.toml",
    "concepts.toml",
    "fields.toml",
    "offerings.toml",
    "needs.toml",
];

impl CatalogData {
    /// Reads a catalog directory.
    pub fn load_dir(dir: &Path) -> Result<Self, CatalogError> {
        Self::from_sources(&read_dir(dir)?)
    }

    /// Reads the catalog from its files, paths relative to the catalog directory with `/`.
    pub fn from_sources(sources: &[SourceFile]) -> Result<Self, CatalogError> {
        let mut problems = Vec::new();
        let files: BTreeMap<String, SourceFile> = sources
            .iter()
            .map(|f| (f.path.clone(), f.clone()))
            .collect();
        for name in FILES {
            if !files.contains_key(name) {
                problems.push(Problem::new(name, 1, 1, format!("missing file {name}")));
            }
        }
        let publisher = files
            .get("catalog.toml")
            .and_then(|file| read::publisher(file, &mut problems));
        let scheme = files
            .get("concepts.toml")
            .and_then(|file| scheme::load(file, &mut problems));
        // Without a scheme every reference would be reported; its own problems say enough.
        let known = |id: &str| scheme.as_ref().is_none_or(|s| s.concepts.contains_key(id));
        let fields = files
            .get("fields.toml")
            .map(|file| read::fields(file, &known, &mut problems))
            .unwrap_or_default();
        let offerings = files
            .get("offerings.toml")
            .map(|file| read::offerings(file, &mut problems))
            .unwrap_or_default();
        let needs = files
            .get("needs.toml")
            .map(|file| read::needs(file, &known, &mut problems))
            .unwrap_or_default();
        let mut mappings = Vec::new();
        for file in files.values().filter(|f| is_mapping_file(&f.path)) {
            read::mappings(file, &known, &mut mappings, &mut problems);
        }
        match (publisher, scheme) {
            (Some(publisher), Some(scheme)) if problems.is_empty() => Ok(CatalogData {
                publisher,
                scheme,
                fields,
                offerings,
                mappings,
                needs,
                files,
            }),
            _ => Err(CatalogError::Invalid(problems)),
        }
    }

    /// The file at `path`, or an empty stand-in so a problem can still name it.
    pub(crate) fn file(&self, path: &str) -> SourceFile {
        self.files
            .get(path)
            .cloned()
            .unwrap_or_else(|| SourceFile::new(path, ""))
    }

    /// The mapping file that defines mappings of `authority`.
    pub(crate) fn mapping_file(&self, authority: &str) -> SourceFile {
        let needle = format!("authority = \"{authority}\"");
        self.files
            .values()
            .find(|f| is_mapping_file(&f.path) && f.text.contains(&needle))
            .cloned()
            .unwrap_or_else(|| SourceFile::new("mappings", ""))
    }
}

fn is_mapping_file(path: &str) -> bool {
    path.starts_with("mappings/") && path.ends_with(".toml")
}

/// Reads every file of a catalog directory.
pub fn read_dir(dir: &Path) -> Result<Vec<SourceFile>, CatalogError> {
    let read_error = |path: &Path, err: std::io::Error| CatalogError::Read {
        path: path.display().to_string(),
        message: err.to_string(),
    };
    if !dir.is_dir() {
        return Err(CatalogError::Read {
            path: dir.display().to_string(),
            message: "not a catalog directory".to_owned(),
        });
    }
    let mut files = Vec::new();
    for name in FILES {
        let path = dir.join(name);
        if path.exists() {
            let text = std::fs::read_to_string(&path).map_err(|e| read_error(&path, e))?;
            files.push(SourceFile::new(name, text));
        }
    }
    let mappings = dir.join("mappings");
    if mappings.is_dir() {
        let mut paths: Vec<_> = std::fs::read_dir(&mappings)
            .map_err(|e| read_error(&mappings, e))?
            .filter_map(Result::ok)
            .map(|entry| entry.path())
            .filter(|p| p.extension().is_some_and(|e| e == "toml"))
            .collect();
        paths.sort();
        for path in paths {
            let text = std::fs::read_to_string(&path).map_err(|e| read_error(&path, e))?;
            let name = path
                .file_name()
                .map(|n| n.to_string_lossy().into_owned())
                .unwrap_or_default();
            files.push(SourceFile::new(format!("mappings/{name}"), text));
        }
    }
    Ok(files)
}
