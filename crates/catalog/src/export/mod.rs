//! Exports of the catalog as linked data, for data portals and vocabulary services:
//!
//! - [`dcat`]: the catalog in DCAT-AP-SE 3.0.1, the Swedish profile of DCAT-AP 3 — one
//!   `dcat:Dataset` per offering, published by its provider, with its fields' concepts as themes,
//!   the provisions it is held and disclosed under, and access through the provider's node;
//! - [`skos`]: the shared concept scheme in SKOS, with each authority's local terms mapped to it
//!   and every mapping's approval recorded as an SSSOM mapping record.
//!
//! Both are written as RDF/XML or JSON-LD ([`Format`]); the graphs are built with `oxrdf` and
//! serialised with `oxrdfio`, the JSON-LD then given a context of prefixes ([`jsonld`]). The catalog's own resources get IRIs under a configurable base
//! ([`DEFAULT_BASE`]). How each part of the catalog is expressed, and why, is in
//! `docs/catalog-export.md`; the SHACL shapes the exports are validated against are in
//! `docs/shapes/`.

mod dcat;
mod graph;
mod iri;
mod jsonld;
mod skos;
mod vocab;

use crate::Catalog;
use graph::Graph;
use iri::Iris;
use oxrdfio::{JsonLdProfileSet, RdfFormat, RdfSerializer};

/// The base the catalog's IRIs are minted under unless another is given. `.example` is a
/// reserved top-level domain: nothing real is ever named by it.
pub const DEFAULT_BASE: &str = "https://utbyte.example/";

/// An RDF serialisation.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Format {
    RdfXml,
    JsonLd,
}

impl Format {
    /// The media type to serve the serialisation with.
    pub fn content_type(self) -> &'static str {
        match self {
            Format::RdfXml => "application/rdf+xml",
            Format::JsonLd => "application/ld+json",
        }
    }

    /// The usual file extension, without the dot.
    pub fn extension(self) -> &'static str {
        match self {
            Format::RdfXml => "rdf",
            Format::JsonLd => "jsonld",
        }
    }

    fn name(self) -> &'static str {
        match self {
            Format::RdfXml => "RDF/XML",
            Format::JsonLd => "JSON-LD",
        }
    }

    fn rdf_format(self) -> RdfFormat {
        match self {
            Format::RdfXml => RdfFormat::RdfXml,
            Format::JsonLd => RdfFormat::JsonLd {
                profile: JsonLdProfileSet::empty(),
            },
        }
    }
}

/// Why an export could not be written.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ExportError {
    /// The base to mint IRIs under is not usable.
    #[error("the export base `{base}` {reason}")]
    Base { base: String, reason: &'static str },
    /// A value of the catalog that becomes part of an IRI does not make a valid one.
    #[error("{what} does not make a valid IRI (`{iri}`): {reason}")]
    Iri {
        what: String,
        iri: String,
        reason: String,
    },
    /// The serialiser failed.
    #[error("cannot write the export as {format}: {message}")]
    Write {
        format: &'static str,
        message: String,
    },
}

/// The catalog in DCAT-AP-SE 3.0.1, its own resources under `base`.
pub fn dcat(catalog: &Catalog, base: &str, format: Format) -> Result<String, ExportError> {
    let graph = dcat::graph(catalog, &Iris::new(base)?)?;
    serialize(&graph, format)
}

/// The shared concepts and the authorities' mappings to them in SKOS, the local terms under
/// `base`.
pub fn skos(catalog: &Catalog, base: &str, format: Format) -> Result<String, ExportError> {
    let graph = skos::graph(catalog, &Iris::new(base)?)?;
    serialize(&graph, format)
}

fn serialize(graph: &Graph, format: Format) -> Result<String, ExportError> {
    let failed = |message: String| ExportError::Write {
        format: format.name(),
        message,
    };
    // Prefixes reach the RDF/XML; the JSON-LD writer ignores them and gets its context below.
    let mut serializer = RdfSerializer::from_format(format.rdf_format());
    for (prefix, namespace) in vocab::PREFIXES {
        serializer = serializer
            .with_prefix(prefix, namespace)
            .map_err(|e| failed(e.to_string()))?;
    }
    let mut writer = serializer.for_writer(Vec::new());
    for triple in graph.sorted() {
        writer
            .serialize_triple(triple)
            .map_err(|e| failed(e.to_string()))?;
    }
    let bytes = writer.finish().map_err(|e| failed(e.to_string()))?;
    let text = String::from_utf8(bytes).map_err(|e| failed(e.to_string()))?;
    match format {
        Format::RdfXml => Ok(text),
        Format::JsonLd => jsonld::compact(&text).map_err(|e| failed(e.to_string())),
    }
}
