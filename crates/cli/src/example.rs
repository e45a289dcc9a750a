//! The example rulebook, embedded in the binary so `utbyte demo` needs nothing beside it.

use include_dir::{include_dir, Dir};
use utbyte_rules::source::SourceFile;
use utbyte_rules::DisclosureRequest;

static RULEBOOK: Dir<'_> = include_dir!("$CARGO_MANIFEST_DIR/../../rulebook");

/// Every text file of the embedded rulebook, with paths relative to it.
pub fn sources() -> Vec<SourceFile> {
    let mut files = Vec::new();
    collect(&RULEBOOK, &mut files);
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

/// An example request of `rulebook/requests/`.
pub fn request(name: &str) -> anyhow::Result<DisclosureRequest> {
    let path = format!("requests/{name}");
    let file = RULEBOOK
        .get_file(&path)
        .ok_or_else(|| anyhow::anyhow!("the embedded rulebook has no {path}"))?;
    let text = file
        .contents_utf8()
        .ok_or_else(|| anyhow::anyhow!("{path} is not text"))?;
    Ok(serde_json::from_str(text)?)
}
