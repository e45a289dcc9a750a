//! What the fuzz targets share: the repository's example data, fixed keys and instants, and a
//! scratch directory for parsers that read files.
//!
//! Every target takes its first input byte as the choice of parser and the rest as that
//! parser's input ([`split`]), so related parsers share one target and one corpus.

use std::path::{Path, PathBuf};
use std::sync::OnceLock;
use time::OffsetDateTime;
use utbyte_domain::CalendarDate;
use utbyte_rules::source::SourceFile;
use utbyte_rules::Rulebook;

/// The instant every target treats as now: a working day in winter (CET).
pub const NOW: OffsetDateTime = time::macros::datetime!(2026-03-02 09:30 UTC);

/// `NOW` as the date a 10-digit personnummer's century is resolved against.
pub fn reference_date() -> CalendarDate {
    CalendarDate::new(2026, 3, 2).unwrap_or_else(|e| panic!("fixed date: {e}"))
}

/// The first byte chooses the parser, the rest is its input.
pub fn split(data: &[u8]) -> Option<(u8, &[u8])> {
    data.split_first().map(|(first, rest)| (*first, rest))
}

/// The repository's root (the fuzz crate lives in `fuzz/`).
pub fn repo() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .map(Path::to_owned)
        .unwrap_or_else(|| PathBuf::from(".."))
}

/// The files of the example rulebook (`rulebook/`), read once.
pub fn example_rulebook_files() -> &'static [SourceFile] {
    static FILES: OnceLock<Vec<SourceFile>> = OnceLock::new();
    FILES.get_or_init(|| {
        utbyte_rules::rulebook::read_dir(&repo().join("rulebook"))
            .unwrap_or_else(|e| panic!("the example rulebook does not read: {e}"))
    })
}

/// The example rulebook, loaded once.
pub fn example_rulebook() -> &'static Rulebook {
    static RULEBOOK: OnceLock<Rulebook> = OnceLock::new();
    RULEBOOK.get_or_init(|| {
        Rulebook::from_sources(example_rulebook_files())
            .unwrap_or_else(|e| panic!("the example rulebook does not load: {e}"))
    })
}

/// A directory of this process's own for parsers that read files: in `/dev/shm` where there
/// is one (a ledger syncs every file it writes), else the system's temporary directory.
pub fn scratch() -> &'static Path {
    static DIR: OnceLock<tempfile::TempDir> = OnceLock::new();
    DIR.get_or_init(|| {
        let shm = Path::new("/dev/shm");
        let builder = tempfile::Builder::new()
            .prefix("utbyte-fuzz-")
            .tempdir_in(shm);
        builder
            .or_else(|_| tempfile::Builder::new().prefix("utbyte-fuzz-").tempdir())
            .unwrap_or_else(|e| panic!("no scratch directory: {e}"))
    })
    .path()
}

/// A current-thread runtime for the async entry points (body extraction, token verification).
pub fn runtime() -> &'static tokio::runtime::Runtime {
    static RUNTIME: OnceLock<tokio::runtime::Runtime> = OnceLock::new();
    RUNTIME.get_or_init(|| {
        tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .unwrap_or_else(|e| panic!("no runtime: {e}"))
    })
}

/// Whether `text` holds a run of at least `n` ASCII digits.
pub fn has_digit_run(text: &str, n: usize) -> bool {
    let mut run = 0;
    for b in text.bytes() {
        run = if b.is_ascii_digit() { run + 1 } else { 0 };
        if run >= n {
            return true;
        }
    }
    false
}

/// A small rulebook of every kind of file, written for fuzzing: it loads in a fraction of the
/// example rulebook's time, so an input that changes one of its files is tried many times more
/// often. Two authorities, two provisions, one offering, a grant, two overrides, a
/// pre-assessment, a joint operation and a scenario.
pub const SMALL_RULEBOOK: [(&str, &str); 10] = [
    ("rulebook.toml", "name = \"liten\"\nversion = \"1\"\n"),
    (
        "authorities.toml",
        r#"[[group]]
id = "luffa-aktorer"
title = "Myndigheter med uppgiftsskyldighet"

[[authority]]
id = "forsakringskassan"
name = "Försäkringskassan"
orgnr = "202100-5521"
groups = ["luffa-aktorer"]
units = [{ id = "fk-kontroll", name = "Kontroll" }]

[[authority]]
id = "malmo-stad"
name = "Malmö stad"
orgnr = "212000-1124"
groups = ["luffa-aktorer"]
units = [{ id = "malmo-ekonomiskt-bistand", name = "Ekonomiskt bistånd" }]
"#,
    ),
    (
        "provisions.toml",
        r#"[[provision]]
id = "osl-28-1"
sfs = "2009:400"
chapter = "28"
section = "1 §"
title = "Sekretess inom socialförsäkringen"
short = "OSL 28:1"
kind = "secrecy"

[[provision]]
id = "luffa"
sfs = "2024:307"
section = "3 §"
title = "Uppgiftsskyldighet"
short = "LUFFA"
kind = "duty_on_request"
"#,
    ),
    (
        "purposes.toml",
        r#"[[group]]
id = "felaktiga-utbetalningar"
title = "Motverka felaktiga utbetalningar"

[[purpose]]
id = "kontroll-ekonomiskt-bistand"
title = "Kontroll av ekonomiskt bistånd"
groups = ["felaktiga-utbetalningar"]
"#,
    ),
    (
        "offerings.toml",
        r#"[[offering]]
id = "fk-formaner"
title = "Förmåner"
provider = "forsakringskassan"
secrecy = "osl-28-1"

[[offering.category]]
id = "utbetalning"
title = "Utbetalningar"
fields = [{ id = "forman", title = "Förmån" }, { id = "belopp", title = "Belopp" }]

[[offering.category]]
id = "halsa"
title = "Hälsa"
fields = [{ id = "diagnos", title = "Diagnos" }]
"#,
    ),
    (
        "operations.toml",
        r#"[[operation]]
id = "insats-syd"
title = "Insats i region Syd"
participants = ["forsakringskassan", "malmo-stad"]
decided = true
starts = "2026-01-01"
ends = "2026-12-31"
"#,
    ),
    (
        "policies/luffa.cedar",
        r#"@id("luffa-uppgiftsskyldighet")
@outcome("review")
@sfs("2024:307")
@section("3 §")
@title("Uppgiftsskyldighet")
@weigh("Behövs uppgiften för kontrollen?")
permit (principal in Group::"luffa-aktorer", action == Action::"disclose", resource)
when {
  context.legal_basis == Provision::"luffa" &&
  context.purpose in PurposeGroup::"felaktiga-utbetalningar" &&
  context.recipient != context.provider
};

@id("luffa-inte-halsa")
@outcome("refuse")
@sfs("2024:307")
@section("4 §")
@title("Uppgiftsskyldighet")
forbid (principal, action == Action::"disclose", resource in Category::"fk-formaner/halsa")
when { context.legal_basis == Provision::"luffa" };
"#,
    ),
    (
        "policies/skydd.cedar",
        r#"@id("skyddade-personuppgifter")
@outcome("review")
@sfs("2009:400")
@chapter("21")
@section("3 §")
@title("Skyddade personuppgifter")
forbid (principal, action, resource)
when { context.subject.protected_identity };
"#,
    ),
    (
        "pre-assessments/luffa.toml",
        r#"[[pre_assessment]]
id = "fk-malmo-formaner"
title = "Förmåner till Malmö stad"
offering = "fk-formaner"
fields = ["forman", "belopp"]
recipient = "malmo-stad"
units = ["malmo-ekonomiskt-bistand"]
roles = ["handlaggare"]
purpose = "kontroll-ekonomiskt-bistand"
provision = "luffa"
valid_from = "2025-01-01"
valid_until = "2027-12-31"
approved_by_provider = "Försäkringskassan"
approved_by_recipient = "Malmö stad"
approved_on = "2024-11-20"
"#,
    ),
    (
        "scenarios/luffa.toml",
        r#"[[scenario]]
name = "Malmö stad gets pre-assessed benefits, health data refused"
[scenario.request]
recipient = "malmo-stad"
unit = "malmo-ekonomiskt-bistand"
role = "handlaggare"
offering = "fk-formaner"
fields = ["forman", "belopp", "diagnos"]
purpose = "kontroll-ekonomiskt-bistand"
legal_basis = "luffa"
case_ref = "Ä-2026-1"
subject = { id = "19121212-1212" }
time = "2026-03-02T09:30:00Z"
[scenario.expect]
forman = { outcome = "disclose", ground = "pre_assessed", cites = ["SFS 2024:307"] }
belopp = { outcome = "disclose" }
diagnos = { outcome = "refuse" }
"#,
    ),
];

/// The small rulebook's files.
pub fn small_rulebook_files() -> Vec<SourceFile> {
    SMALL_RULEBOOK
        .iter()
        .map(|(path, text)| SourceFile::new(*path, *text))
        .collect()
}
