//! The words synthetic registers are made of: names, streets, postcodes, companies, benefits,
//! creditors, diagnoses and offences. Swedish-looking, invented, and small enough to read.
//!
//! No list may be empty (`Rng::pick` refuses that at compile time).

pub(crate) const GIVEN_NAMES_WOMEN: [&str; 24] = [
    "Anna", "Eva", "Maria", "Karin", "Sara", "Emma", "Elin", "Ida", "Johanna", "Linnea", "Maja",
    "Astrid", "Ingrid", "Kerstin", "Fatima", "Amina", "Sofia", "Hanna", "Klara", "Agnes", "Lena",
    "Birgitta", "Nora", "Alice",
];

pub(crate) const GIVEN_NAMES_MEN: [&str; 24] = [
    "Erik", "Lars", "Karl", "Anders", "Johan", "Per", "Mikael", "Oskar", "Lucas", "William",
    "Hugo", "Elias", "Nils", "Gustav", "Mohammed", "Ali", "Ahmed", "Björn", "Olof", "Sven",
    "Viktor", "Adam", "Emil", "Leo",
];

pub(crate) const SURNAMES: [&str; 32] = [
    "Andersson",
    "Johansson",
    "Karlsson",
    "Nilsson",
    "Eriksson",
    "Larsson",
    "Olsson",
    "Persson",
    "Svensson",
    "Gustafsson",
    "Pettersson",
    "Jonsson",
    "Jansson",
    "Hansson",
    "Bengtsson",
    "Lindberg",
    "Lindqvist",
    "Lundgren",
    "Berglund",
    "Sandberg",
    "Holm",
    "Ekström",
    "Hassan",
    "Mohammadi",
    "Nowak",
    "Kowalski",
    "Yilmaz",
    "Haddad",
    "Virtanen",
    "Popescu",
    "Kovač",
    "Nguyen",
];

/// Citizenship of a person with a personnummer: mostly Swedish.
pub(crate) const CITIZENSHIPS: [(u64, &str); 6] = [
    (880, "Sverige"),
    (30, "Finland"),
    (25, "Syrien"),
    (25, "Irak"),
    (20, "Polen"),
    (20, "Somalia"),
];

/// Citizenship of a person with a samordningsnummer: typically someone working or studying here.
pub(crate) const FOREIGN_CITIZENSHIPS: [&str; 8] = [
    "Polen",
    "Litauen",
    "Rumänien",
    "Bulgarien",
    "Ukraina",
    "Tyskland",
    "Lettland",
    "Indien",
];

/// A city the synthetic population lives in.
#[derive(Clone, Copy)]
pub(crate) struct City {
    /// The postort as Swedish addresses print it.
    pub(crate) postort: &'static str,
    /// The range of its five-digit postcodes.
    pub(crate) postcodes: (u64, u64),
    pub(crate) streets: &'static [&'static str; 8],
    /// The prosecution office that leads its preliminary investigations.
    pub(crate) prosecution_office: &'static str,
    pub(crate) police_region: &'static str,
}

pub(crate) const MALMO: City = City {
    postort: "MALMÖ",
    postcodes: (21115, 21774),
    streets: &[
        "Södra Förstadsgatan",
        "Amiralsgatan",
        "Lönngatan",
        "Rosengårdsvägen",
        "Ystadvägen",
        "Bergsgatan",
        "Stora Nygatan",
        "Kronborgsvägen",
    ],
    prosecution_office: "Malmö åklagarkammare",
    police_region: "Polisregion Syd",
};

/// Where households live, with weights.
pub(crate) const CITIES: [(u64, City); 4] = [
    (
        40,
        City {
            postort: "STOCKHOLM",
            postcodes: (11220, 12958),
            streets: &[
                "Drottninggatan",
                "Hornsgatan",
                "Sveavägen",
                "Götgatan",
                "Sankt Eriksgatan",
                "Ringvägen",
                "Rinkebytorget",
                "Fleminggatan",
            ],
            prosecution_office: "Stockholms åklagarkammare",
            police_region: "Polisregion Stockholm",
        },
    ),
    (
        25,
        City {
            postort: "GÖTEBORG",
            postcodes: (41103, 41879),
            streets: &[
                "Linnégatan",
                "Kungsportsavenyen",
                "Vasagatan",
                "Första Långgatan",
                "Doktor Fries torg",
                "Hjalmar Brantingsgatan",
                "Angereds torg",
                "Övre Husargatan",
            ],
            prosecution_office: "Göteborgs åklagarkammare",
            police_region: "Polisregion Väst",
        },
    ),
    (25, MALMO),
    (
        10,
        City {
            postort: "UMEÅ",
            postcodes: (90325, 90750),
            streets: &[
                "Storgatan",
                "Rådhusesplanaden",
                "Kungsgatan",
                "Västra Esplanaden",
                "Ålidhemsvägen",
                "Mariehemsvägen",
                "Skolgatan",
                "Nygatan",
            ],
            prosecution_office: "Umeå åklagarkammare",
            police_region: "Polisregion Nord",
        },
    ),
];

/// Clearing numbers of the banks payments go to.
pub(crate) const CLEARING_NUMBERS: [&str; 6] = ["8327-9", "6152", "5357", "3300", "9420", "8480-6"];

pub(crate) const COMPANY_NAMES: [&str; 16] = [
    "Nordljus",
    "Söderkraft",
    "Bergvik",
    "Ekhagen",
    "Östersjö",
    "Fjällbris",
    "Granlunds",
    "Kustlinjen",
    "Vinterhamn",
    "Stenbro",
    "Lindängen",
    "Högbacka",
    "Solkusten",
    "Älvdalen",
    "Björkhaga",
    "Skärgårds",
];

/// A line of business: the word in the firm and the registered description.
pub(crate) const SECTORS: [(&str, &str); 8] = [
    (
        "Bygg",
        "Byggnadsverksamhet, renovering och därmed förenlig verksamhet.",
    ),
    (
        "Städ & Service",
        "Lokalvård, fastighetsservice och därmed förenlig verksamhet.",
    ),
    (
        "Transport",
        "Godstransporter på väg och därmed förenlig verksamhet.",
    ),
    (
        "Restaurang",
        "Restaurang- och cateringverksamhet samt därmed förenlig verksamhet.",
    ),
    (
        "IT-konsult",
        "Konsultverksamhet inom programvara och IT samt därmed förenlig verksamhet.",
    ),
    (
        "Bemanning",
        "Personaluthyrning och rekrytering samt därmed förenlig verksamhet.",
    ),
    (
        "Fastigheter",
        "Att äga och förvalta fast egendom samt därmed förenlig verksamhet.",
    ),
    (
        "Handel",
        "Partihandel med livsmedel och hushållsvaror samt därmed förenlig verksamhet.",
    ),
];

pub(crate) const COMPANY_STATUSES: [(u64, &str); 3] =
    [(900, "aktiv"), (60, "likvidation"), (40, "konkurs")];

pub(crate) const TAXABLE_BENEFITS: [(u64, &[&str]); 4] = [
    (800, &[]),
    (90, &["bilförmån"]),
    (80, &["kostförmån"]),
    (30, &["bilförmån", "drivmedelsförmån"]),
];

pub(crate) const CREDITORS: [&str; 10] = [
    "Skatteverket",
    "CSN",
    "Försäkringskassan",
    "Transportstyrelsen",
    "Nordisk Inkasso AB",
    "Kredithuset Sverige AB",
    "Bostads AB Hemmavid",
    "Telekompaniet i Norden AB",
    "Snabblån Finans AB",
    "Energibolaget Syd AB",
];

/// Diagnoses on a sick-pay certificate: ICD-10-SE code and text.
pub(crate) const DIAGNOSES: [(&str, &str); 6] = [
    ("F32.1", "Medelsvår depressiv episod"),
    ("F43.8", "Andra specificerade reaktioner på svår stress"),
    ("M54.5", "Lumbago"),
    ("M75.1", "Rotatorkuffsyndrom"),
    ("S82.6", "Fraktur på laterala malleolen"),
    ("J18.9", "Pneumoni, ospecificerad"),
];

pub(crate) const CERTIFYING_CLINICS: [&str; 5] = [
    "Vårdcentralen Centrum",
    "Vårdcentralen Söder",
    "Akutmottagningen, universitetssjukhuset",
    "Ortopedkliniken",
    "Företagshälsan Norr",
];

/// An offence a suspicion concerns: the brottskod and its wording.
pub(crate) const OFFENCES: [(&str, &str); 7] = [
    ("9313", "Bidragsbrott (bidragsbrottslagen 2 §)"),
    ("9314", "Grovt bidragsbrott (bidragsbrottslagen 3 §)"),
    ("0901", "Bedrägeri (brottsbalken 9 kap. 1 §)"),
    ("1101", "Bokföringsbrott (brottsbalken 11 kap. 5 §)"),
    ("8801", "Penningtvättsbrott (penningtvättslagen 3 §)"),
    ("5010", "Narkotikabrott (narkotikastrafflagen 1 §)"),
    (
        "9806",
        "Olovlig identitetsanvändning (brottsbalken 4 kap. 6 b §)",
    ),
];

pub(crate) const INTELLIGENCE_NOTES: [&str; 5] = [
    "Uppgift om att personen förmedlar anställningsbevis mot ersättning.",
    "Personen förekommer som mottagare av överföringar från flera okända avsändare.",
    "Uppgift om att personen är folkbokförd på adressen men inte bor där.",
    "Personen uppges styra bolag där annan person står som formell företrädare.",
    "Tips om svartarbete på byggarbetsplats där personen arbetsleder.",
];

pub(crate) const SOCIAL_NOTES: [&str; 6] = [
    "Sökanden är arbetssökande och inskriven hos Arbetsförmedlingen. Planering upprättad.",
    "Hushållet har ansökt om försörjningsstöd för hyra och levnadskostnader.",
    "Sökanden deltar i kommunal arbetsmarknadsinsats. Uppföljning om tre månader.",
    "Sjukskriven utan ersättning från Försäkringskassan. Läkarintyg inlämnat.",
    "Väntar på beslut om bostadsbidrag. Bistånd beviljas i avvaktan.",
    "Skuldsituation utredd; kontakt med budget- och skuldrådgivningen förmedlad.",
];
