//! The example rulebook and catalog data, embedded in the binary so `utbyte demo` needs nothing
//! beside it.

use include_dir::{include_dir, Dir};
use utbyte_rules::source::SourceFile;

static RULEBOOK: Dir<'_> = include_dir!("$CARGO_MANIFEST_DIR/../../rulebook");
static CATALOG: Dir<'_> = include_dir!("$CARGO_MANIFEST_DIR/../../catalog");

/// Every text file of the embedded rulebook, with paths relative to it.
pub fn sources() -> Vec<SourceFile> {
    sorted(&RULEBOOK)
}

/// Every text file of the embedded catalog data, with paths relative to it.
pub fn catalog_sources() -> Vec<SourceFile> {
    sorted(&CATALOG)
}

fn sorted(dir: &Dir<'_>) -> Vec<SourceFile> {
    let mut files = Vec::new();
    collect(dir, &mut files);
    files.sort_by(|a, b| a.path.cmp(&b.path));
    files
}

fn collect(dir: &Dir<'_>, files: &mut Vec<SourceFile>) {
    for file in dir.files() {
        if let Some(text) = file.contents_utf8() {
            files.push(SourceFile::new(
                file.path().to_string_lossy().replace('\\', "/"),
                text,
            ));
        }
    }
    for sub in dir.dirs() {
        collect(sub, files);
    }
}
