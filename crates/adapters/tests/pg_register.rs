//! `PgTableRegister` against a real PostgreSQL: JSON types from tables and views, column
//! privileges that prove unrequested columns are never read, protected identity, mappings that
//! fail at connect, and subjects keyed twice.
//!
//! The database is `UTBYTE_TEST_POSTGRES` (default `postgres://postgres@127.0.0.1:5432/test`),
//! connected as a role that may create schemas and roles. Without it the tests fail, they do not
//! skip. Each test works in a schema (and roles) of its own, dropped when it ends, failed or not.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::collections::hash_map::RandomState;
use std::hash::BuildHasher;
use std::str::FromStr;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use serde_json::{json, Value};
use sqlx::postgres::{PgConnectOptions, PgPool, PgPoolOptions};
use sqlx::{ConnectOptions, Connection};
use utbyte_adapters::{AdapterError, PgMapping, PgTableRegister};
use utbyte_domain::SubjectId;
use utbyte_store::{Register, RegisterBatch, StoreError};

const TIMEOUT: Duration = Duration::from_secs(5);

const TOLVAN: &str = "19121212-1212";
const OTHER: &str = "19811228-9874";
const SAMORDNING: &str = "19701063-2391";
const COMPANY: &str = "556016-0680";

fn subject(text: &str) -> SubjectId {
    text.parse().unwrap()
}

fn base_url() -> String {
    std::env::var("UTBYTE_TEST_POSTGRES")
        .unwrap_or_else(|_| "postgres://postgres@127.0.0.1:5432/test".to_owned())
}

/// `prefix_<pid>_<counter>_<random>`: unique across tests, processes and runs.
fn unique(prefix: &str) -> String {
    static COUNTER: AtomicUsize = AtomicUsize::new(0);
    let counter = COUNTER.fetch_add(1, Ordering::Relaxed);
    let random = RandomState::new().hash_one(counter);
    format!("{prefix}_{}_{counter}_{random:x}", std::process::id())
}

/// A schema of the test's own, and the roles it created; both dropped on drop.
struct Scratch {
    admin: PgPool,
    schema: String,
    roles: Vec<String>,
}

impl Scratch {
    async fn new() -> Self {
        let admin = PgPoolOptions::new()
            .max_connections(2)
            .acquire_timeout(Duration::from_secs(5))
            .connect(&base_url())
            .await
            .unwrap_or_else(|error| {
                panic!(
                    "these tests need PostgreSQL (UTBYTE_TEST_POSTGRES, default \
                     postgres://postgres@127.0.0.1:5432/test): {error}"
                )
            });
        let scratch = Self {
            admin,
            schema: unique("regtest"),
            roles: Vec::new(),
        };
        scratch.exec("CREATE SCHEMA $S").await;
        scratch
    }

    /// Runs `sql` (any number of statements) as the administrator, `$S` standing for the schema.
    async fn exec(&self, sql: &str) {
        sqlx::raw_sql(&sql.replace("$S", &self.schema))
            .execute(&self.admin)
            .await
            .unwrap();
    }

    /// A mapping from TOML, `$S` standing for the schema.
    fn mapping(&self, toml_text: &str) -> PgMapping {
        toml::from_str(&toml_text.replace("$S", &self.schema)).unwrap()
    }

    /// A login role with a password and `USAGE` on the schema, and its URL.
    async fn role(&mut self) -> (String, String, String) {
        let role = unique("regtest_role");
        let password = format!("pw{:x}", RandomState::new().hash_one(&role));
        self.exec(&format!(
            "CREATE ROLE {role} LOGIN PASSWORD '{password}'; GRANT USAGE ON SCHEMA $S TO {role}"
        ))
        .await;
        self.roles.push(role.clone());
        let base = PgConnectOptions::from_str(&base_url()).unwrap();
        let url = format!(
            "postgres://{role}:{password}@{}:{}/{}",
            base.get_host(),
            base.get_port(),
            base.get_database().unwrap_or_default()
        );
        (role, password, url)
    }

    /// The standard tables and views: incomes of two persons in a table with a column of each
    /// type, a view over it with a column that fails whenever it is computed, and the
    /// protected-identity flags.
    async fn with_incomes(&self) {
        self.exec(
            r#"
            CREATE TABLE $S.taxerad_inkomst (
                personnummer text PRIMARY KEY,
                inkomst_kr bigint NOT NULL,
                ar integer,
                skatt_kr numeric(12, 2),
                namn text,
                pensionar boolean,
                beslutsdatum date,
                detaljer jsonb,
                anteckning text,
                "Kommun" varchar(4)
            );
            INSERT INTO $S.taxerad_inkomst VALUES
                ('19121212-1212', 412000, 2024, 98765.50, 'Tolvan Tolvansson', false,
                 '2025-05-02', '{"kommun": "0180", "poster": [1, 2.5], "slutlig": true}',
                 NULL, '0180'),
                ('19811228-9874', 0, 2024, 0, 'Anna Andersson', true, '2025-05-03', '[]',
                 'x', '1480');
            CREATE VIEW $S.taxerad_inkomst_v AS
                SELECT personnummer, inkomst_kr AS inkomst, beslutsdatum AS datum,
                       inkomst_kr / 0 AS boom
                  FROM $S.taxerad_inkomst;
            CREATE TABLE $S.skydd (personnummer varchar(13) PRIMARY KEY, skyddad boolean);
            INSERT INTO $S.skydd VALUES
                ('19121212-1212', true), ('19811228-9874', false), ('556016-0680', true),
                ('19701063-2391', NULL);
            "#,
        )
        .await;
    }

    fn incomes_mapping(&self) -> PgMapping {
        self.mapping(
            r#"
            [protected]
            relation = "$S.skydd"
            subject = "personnummer"
            flag = "skyddad"

            [offerings.inkomstuppgifter]
            relation = "$S.taxerad_inkomst"
            subject = "personnummer"
            [offerings.inkomstuppgifter.fields]
            taxerad_inkomst = "inkomst_kr"
            inkomstar = "ar"
            slutlig_skatt = "skatt_kr"
            namn = "namn"
            pensionar = "pensionar"
            beslutsdatum = "beslutsdatum"
            detaljer = "detaljer"
            anteckning = "anteckning"
            kommun = "Kommun"

            [offerings.inkomst_vy]
            relation = "$S.taxerad_inkomst_v"
            subject = "personnummer"
            [offerings.inkomst_vy.fields]
            taxerad_inkomst = "inkomst"
            beslutsdatum = "datum"
            fel = "boom"
            "#,
        )
    }
}

impl Drop for Scratch {
    fn drop(&mut self) {
        let schema = self.schema.clone();
        let roles = self.roles.clone();
        // The test's runtime may be gone or busy: clean up on a thread with a runtime of its own.
        let cleanup = std::thread::spawn(move || {
            let runtime = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
                .unwrap();
            runtime.block_on(async move {
                let options = PgConnectOptions::from_str(&base_url()).unwrap();
                let mut connection = options.connect().await.unwrap();
                let mut sql = format!("DROP SCHEMA IF EXISTS {schema} CASCADE;");
                for role in roles {
                    sql.push_str(&format!("DROP ROLE IF EXISTS {role};"));
                }
                sqlx::raw_sql(&sql).execute(&mut connection).await.unwrap();
                connection.close().await.unwrap();
            });
        });
        let cleaned = cleanup.join();
        if cleaned.is_err() && !std::thread::panicking() {
            panic!("cannot drop the test schema {}", self.schema);
        }
    }
}

async fn connect(mapping: PgMapping) -> PgTableRegister {
    PgTableRegister::connect(&base_url(), mapping, TIMEOUT)
        .await
        .unwrap()
}

async fn connect_error(url: &str, mapping: PgMapping) -> String {
    match PgTableRegister::connect(url, mapping, TIMEOUT).await {
        Ok(register) => panic!("connected: {register:?}"),
        Err(error) => error.to_string(),
    }
}

fn as_json(record: utbyte_store::Record) -> Value {
    serde_json::to_value(record).unwrap()
}

fn assert_no_subject(message: &str) {
    for form in [TOLVAN, "191212121212", SAMORDNING, "197010632391"] {
        assert!(!message.contains(form), "{message}");
    }
}

#[tokio::test]
async fn fetch_returns_exactly_the_requested_mapped_fields_as_typed_json() {
    let scratch = Scratch::new().await;
    scratch.with_incomes().await;
    let register = connect(scratch.incomes_mapping()).await;

    let all = [
        "taxerad_inkomst",
        "inkomstar",
        "slutlig_skatt",
        "namn",
        "pensionar",
        "beslutsdatum",
        "detaljer",
        "anteckning",
        "kommun",
        "saknas",
        "namn",
    ];
    let record = register
        .fetch("inkomstuppgifter", &subject(TOLVAN), &all)
        .await
        .unwrap()
        .unwrap();
    // `anteckning` is NULL: not held, so absent; `saknas` is not mapped.
    assert_eq!(
        as_json(record.clone()),
        json!({
            "taxerad_inkomst": 412000,
            "inkomstar": 2024,
            "slutlig_skatt": 98765.5,
            "namn": "Tolvan Tolvansson",
            "pensionar": false,
            "beslutsdatum": "2025-05-02",
            "detaljer": {"kommun": "0180", "poster": [1, 2.5], "slutlig": true},
            "kommun": "0180",
        })
    );
    assert!(record.get("taxerad_inkomst").unwrap().is_i64());
    assert!(record.get("slutlig_skatt").unwrap().is_f64());

    let record = register
        .fetch(
            "inkomstuppgifter",
            &subject(OTHER),
            &["pensionar", "inkomstar"],
        )
        .await
        .unwrap()
        .unwrap();
    assert_eq!(
        as_json(record),
        json!({"pensionar": true, "inkomstar": 2024})
    );
}

#[tokio::test]
async fn a_view_is_read_like_a_table_and_only_requested_columns_are_computed() {
    let scratch = Scratch::new().await;
    scratch.with_incomes().await;
    let register = connect(scratch.incomes_mapping()).await;

    let record = register
        .fetch(
            "inkomst_vy",
            &subject(TOLVAN),
            &["taxerad_inkomst", "beslutsdatum"],
        )
        .await
        .unwrap()
        .unwrap();
    assert_eq!(
        as_json(record),
        json!({"taxerad_inkomst": 412000, "beslutsdatum": "2025-05-02"})
    );
    // `boom` divides by zero whenever it is computed: it was not, above.
    let error = register
        .fetch("inkomst_vy", &subject(TOLVAN), &["fel"])
        .await
        .unwrap_err();
    assert!(
        matches!(
            error,
            StoreError::Backend {
                operation: "fetching a record",
                ..
            }
        ),
        "{error:?}"
    );
    assert!(error.to_string().contains("error 22012"), "{error}");

    // PostgreSQL's message for a failed cast quotes the value; the error does not pass it on.
    scratch
        .exec(
            "CREATE VIEW $S.kastad AS
                 SELECT personnummer, namn::integer AS namn_tal FROM $S.taxerad_inkomst",
        )
        .await;
    let mut mapping = scratch.incomes_mapping();
    mapping.offerings.insert(
        "kastad".to_owned(),
        scratch
            .mapping(
                r#"[offerings.kastad]
                   relation = "$S.kastad"
                   subject = "personnummer"
                   fields = { tal = "namn_tal" }"#,
            )
            .offerings["kastad"]
            .clone(),
    );
    let register = connect(mapping).await;
    let error = register
        .fetch("kastad", &subject(TOLVAN), &["tal"])
        .await
        .unwrap_err();
    let message = format!("{error} {error:?}");
    assert!(message.contains("error 22P02"), "{message}");
    assert!(!message.contains("Tolvan"), "{message}");
}

#[tokio::test]
async fn nothing_held_is_none_and_nothing_requested_is_an_empty_record() {
    let scratch = Scratch::new().await;
    scratch.with_incomes().await;
    let register = connect(scratch.incomes_mapping()).await;
    let unknown = subject("20000101-0008");

    for fields in [&["namn"][..], &[], &["saknas"]] {
        assert_eq!(
            register
                .fetch("inkomstuppgifter", &unknown, fields)
                .await
                .unwrap(),
            None
        );
        assert_eq!(
            register
                .fetch("okand_tjanst", &subject(TOLVAN), fields)
                .await
                .unwrap(),
            None,
            "an offering the mapping does not know holds nothing"
        );
    }
    for fields in [&[][..], &["saknas"], &["saknas", "annat"]] {
        let record = register
            .fetch("inkomstuppgifter", &subject(TOLVAN), fields)
            .await
            .unwrap();
        assert!(
            record.unwrap().is_empty(),
            "held, but no mapped field asked for"
        );
    }
    // The company is in no income table.
    assert_eq!(
        register
            .fetch("inkomstuppgifter", &subject(COMPANY), &["namn"])
            .await
            .unwrap(),
        None
    );
}

#[tokio::test]
async fn a_role_granted_some_columns_reads_exactly_those_and_never_the_others() {
    let mut scratch = Scratch::new().await;
    scratch.with_incomes().await;
    let (role, password, url) = scratch.role().await;
    // Column privileges: PostgreSQL refuses any statement that names another column of the
    // table, so every fetch that succeeds below read none of the ungranted columns.
    scratch
        .exec(&format!(
            "GRANT SELECT (personnummer, inkomst_kr, ar) ON $S.taxerad_inkomst TO {role}"
        ))
        .await;
    let mapping = scratch.mapping(
        r#"
        [offerings.inkomstuppgifter]
        relation = "$S.taxerad_inkomst"
        subject = "personnummer"
        [offerings.inkomstuppgifter.fields]
        taxerad_inkomst = "inkomst_kr"
        inkomstar = "ar"
        namn = "namn"
        detaljer = "detaljer"
        "#,
    );
    // The catalog tells what exists whatever the role may read: a mapping may name columns the
    // role is not (yet) granted.
    let register = PgTableRegister::connect(&url, mapping, TIMEOUT)
        .await
        .unwrap();

    let record = register
        .fetch(
            "inkomstuppgifter",
            &subject(TOLVAN),
            &["taxerad_inkomst", "inkomstar"],
        )
        .await
        .unwrap()
        .unwrap();
    assert_eq!(
        as_json(record),
        json!({"taxerad_inkomst": 412000, "inkomstar": 2024})
    );
    let record = register
        .fetch("inkomstuppgifter", &subject(TOLVAN), &["saknas"])
        .await
        .unwrap();
    assert!(record.unwrap().is_empty(), "reads the subject column only");

    for fields in [&["namn"][..], &["taxerad_inkomst", "detaljer"]] {
        let error = register
            .fetch("inkomstuppgifter", &subject(TOLVAN), fields)
            .await
            .unwrap_err();
        assert!(matches!(error, StoreError::Database { .. }), "{error:?}");
        let message = error.to_string();
        assert!(message.contains("permission denied"), "{message}");
        assert_no_subject(&message);
    }

    let debug = format!("{register:?}");
    assert!(debug.contains(&format!("postgres://{role}@")), "{debug}");
    assert!(!debug.contains(&password), "{debug}");
}

#[tokio::test]
async fn protected_identity_is_read_from_the_flag_relation() {
    let scratch = Scratch::new().await;
    scratch.with_incomes().await;
    let register = connect(scratch.incomes_mapping()).await;

    assert!(register.protected_identity(&subject(TOLVAN)).await.unwrap());
    assert!(!register.protected_identity(&subject(OTHER)).await.unwrap());
    assert!(
        !register
            .protected_identity(&subject("20000101-0008"))
            .await
            .unwrap(),
        "a subject without a row is not marked"
    );
    assert!(
        !register
            .protected_identity(&subject(COMPANY))
            .await
            .unwrap(),
        "an organisation is never protected, whatever its row says"
    );
    // A NULL flag is neither answer: the call fails rather than guess.
    let error = register
        .protected_identity(&subject(SAMORDNING))
        .await
        .unwrap_err();
    let message = error.to_string();
    assert!(
        message.contains("holds NULL in column `skyddad`"),
        "{message}"
    );
    assert_no_subject(&message);

    // Without [protected], the register marks nobody.
    let mut mapping = scratch.incomes_mapping();
    mapping.protected = None;
    let register = connect(mapping).await;
    assert!(!register.protected_identity(&subject(TOLVAN)).await.unwrap());
}

#[tokio::test]
async fn a_mapping_that_does_not_match_the_database_fails_at_connect() {
    let scratch = Scratch::new().await;
    scratch.with_incomes().await;
    let schema = scratch.schema.clone();
    let url = base_url();

    let mut mapping = scratch.incomes_mapping();
    mapping.offerings.get_mut("inkomst_vy").unwrap().relation = format!("{schema}.finns_inte");
    let message = connect_error(&url, mapping).await;
    assert!(
        message.contains(&format!(
            "offering `inkomst_vy`: relation `{schema}.finns_inte` does not exist"
        )),
        "{message}"
    );

    let mut mapping = scratch.incomes_mapping();
    mapping
        .offerings
        .get_mut("inkomstuppgifter")
        .unwrap()
        .fields
        .insert("adress".to_owned(), "adress".to_owned());
    let message = connect_error(&url, mapping).await;
    assert!(
        message.contains(&format!(
            "offering `inkomstuppgifter`: relation `{schema}.taxerad_inkomst` has no column \
             `adress`"
        )),
        "{message}"
    );

    // Case matters: identifiers are quoted.
    let mut mapping = scratch.incomes_mapping();
    mapping
        .offerings
        .get_mut("inkomstuppgifter")
        .unwrap()
        .fields
        .insert("kommun".to_owned(), "kommun".to_owned());
    let message = connect_error(&url, mapping).await;
    assert!(message.contains("has no column `kommun`"), "{message}");

    let mut mapping = scratch.incomes_mapping();
    mapping.protected.as_mut().unwrap().flag = "personnummer".to_owned();
    let message = connect_error(&url, mapping).await;
    assert!(
        message.contains("[protected]: relation") && message.contains("is not boolean"),
        "{message}"
    );

    let mut mapping = scratch.incomes_mapping();
    mapping
        .offerings
        .get_mut("inkomstuppgifter")
        .unwrap()
        .subject = "inkomst_kr".to_owned();
    let message = connect_error(&url, mapping).await;
    assert!(message.contains("not of a string type"), "{message}");

    let mut mapping = scratch.incomes_mapping();
    mapping
        .offerings
        .get_mut("inkomstuppgifter")
        .unwrap()
        .relation = format!("{schema}.taxerad_inkomst_pkey");
    let message = connect_error(&url, mapping).await;
    assert!(message.contains("is not a table or view"), "{message}");

    let message = connect_error(
        "postgres://postgres:hemligt@127.0.0.1:1/test",
        scratch.incomes_mapping(),
    )
    .await;
    assert!(
        message.contains("cannot connect: ") && message.contains("refused"),
        "{message}"
    );
    assert!(!message.contains("hemligt"), "{message}");
}

#[tokio::test]
async fn identifiers_that_are_not_plain_names_fail_validation_before_connecting() {
    let scratch = Scratch::new().await;
    // Nothing listens on port 1: a mapping refused here was refused before connecting.
    let nowhere = "postgres://postgres@127.0.0.1:1/test";
    let cases = [
        (
            r#"[offerings.o]
               relation = "s.tab\"; DROP TABLE x; --"
               subject = "pnr"
               fields = { f = "c" }"#,
            "offering `o`, key `relation`",
        ),
        (
            r#"[offerings.o]
               relation = "s.tab"
               subject = "pnr"
               fields = { f = "inkomst kr" }"#,
            "offering `o`, key `fields.f`: `inkomst kr` is not a column name",
        ),
        (
            r#"[offerings.o]
               relation = "s.tab"
               subject = "pn\"r"
               fields = { f = "c" }"#,
            "offering `o`, key `subject`",
        ),
        (
            r#"[protected]
               relation = "a.b.c"
               subject = "pnr"
               flag = "f"
               [offerings.o]
               relation = "tab"
               subject = "pnr"
               fields = { f = "c" }"#,
            "[protected], key `relation`: `a.b.c` is not `name` or `schema.name`",
        ),
        (
            r#"[offerings.o]
               relation = "tab"
               subject = "pnr"
               fields = { "" = "c" }"#,
            "offering `o`: a field id cannot be used: invalid field id: it is empty",
        ),
        (
            r#"[offerings.o]
               relation = "tab"
               subject = "pnr"
               fields = {}"#,
            "offering `o` maps no field",
        ),
        ("offerings = {}", "it maps no offering"),
    ];
    for (toml_text, expected) in cases {
        let mapping = scratch.mapping(toml_text);
        let error = mapping.validate().unwrap_err();
        assert!(
            matches!(error, AdapterError::InvalidMapping { .. }),
            "{error:?}"
        );
        assert!(error.to_string().contains(expected), "{error}");
        assert_eq!(connect_error(nowhere, mapping).await, error.to_string());
    }

    // Unknown keys are refused when the configuration is read.
    for toml_text in [
        "[offerings.o]\nrelation = \"t\"\nsubject = \"s\"\nfields = { f = \"c\" }\nwhere = \"1=1\"",
        "colour = \"blue\"\n[offerings.o]\nrelation = \"t\"\nsubject = \"s\"\nfields = {}",
        "[protected]\nrelation = \"t\"\nsubject = \"s\"\nflag = \"f\"\nnull_means = \"yes\"\n\
         [offerings.o]\nrelation = \"t\"\nsubject = \"s\"\nfields = { f = \"c\" }",
    ] {
        let error = toml::from_str::<PgMapping>(toml_text).unwrap_err();
        assert!(error.to_string().contains("unknown field"), "{error}");
    }
}

#[tokio::test]
async fn insert_is_refused() {
    let scratch = Scratch::new().await;
    scratch.with_incomes().await;
    let register = connect(scratch.incomes_mapping()).await;
    let mut batch = RegisterBatch::new();
    batch.subject(subject(TOLVAN), false).record(
        "inkomstuppgifter",
        subject(TOLVAN),
        "namn",
        json!("Ny"),
    );
    assert!(matches!(
        register.insert(&batch).await,
        Err(StoreError::ReadOnly)
    ));
    let record = register
        .fetch("inkomstuppgifter", &subject(TOLVAN), &["namn"])
        .await
        .unwrap()
        .unwrap();
    assert_eq!(record.get("namn"), Some(&json!("Tolvan Tolvansson")));
}

#[tokio::test]
async fn a_subject_with_two_rows_is_an_error_that_does_not_name_it() {
    let scratch = Scratch::new().await;
    scratch
        .exec(
            "CREATE TABLE $S.adresser (pnr text, gata text);
             INSERT INTO $S.adresser VALUES
                 ('19121212-1212', 'Storgatan 1'), ('19121212-1212', 'Lillgatan 2'),
                 ('19811228-9874', 'Torget 3');
             CREATE TABLE $S.skydd (pnr text, skyddad boolean NOT NULL);
             INSERT INTO $S.skydd VALUES ('19121212-1212', true), ('19121212-1212', false);",
        )
        .await;
    let register = connect(scratch.mapping(
        r#"
        [protected]
        relation = "$S.skydd"
        subject = "pnr"
        flag = "skyddad"
        [offerings.adress]
        relation = "$S.adresser"
        subject = "pnr"
        fields = { gatuadress = "gata" }
        "#,
    ))
    .await;

    for fields in [&["gatuadress"][..], &[]] {
        let error = register
            .fetch("adress", &subject(TOLVAN), fields)
            .await
            .unwrap_err();
        let message = error.to_string();
        assert!(
            message.contains("holds more than one row for the subject in column `pnr`"),
            "{message}"
        );
        assert_no_subject(&message);
        assert_no_subject(&format!("{error:?}"));
    }
    let error = register
        .protected_identity(&subject(TOLVAN))
        .await
        .unwrap_err();
    assert!(error.to_string().contains("more than one row"), "{error}");
    assert_no_subject(&error.to_string());

    let record = register
        .fetch("adress", &subject(OTHER), &["gatuadress"])
        .await
        .unwrap()
        .unwrap();
    assert_eq!(as_json(record), json!({"gatuadress": "Torget 3"}));
}

#[tokio::test]
async fn values_json_cannot_carry_exactly_or_that_are_too_large_are_refused() {
    let scratch = Scratch::new().await;
    scratch
        .exec(
            "CREATE TABLE $S.tal (pnr text PRIMARY KEY, stort bigint, exakt numeric,
                                  for_exakt numeric, lang text, nan double precision);
             INSERT INTO $S.tal VALUES ('19121212-1212', 9223372036854775807,
                 1234567890.12345, 12345678901234567890.5, repeat('x', 70000), 'NaN');",
        )
        .await;
    let register = connect(scratch.mapping(
        r#"
        [offerings.tal]
        relation = "$S.tal"
        subject = "pnr"
        fields = { stort = "stort", exakt = "exakt", for_exakt = "for_exakt", lang = "lang", nan = "nan" }
        "#,
    ))
    .await;

    let record = register
        .fetch("tal", &subject(TOLVAN), &["stort", "exakt", "nan"])
        .await
        .unwrap()
        .unwrap();
    assert_eq!(
        as_json(record),
        json!({"stort": i64::MAX, "exakt": 1234567890.12345, "nan": "NaN"})
    );

    let error = register
        .fetch("tal", &subject(TOLVAN), &["for_exakt"])
        .await
        .unwrap_err();
    let message = error.to_string();
    assert!(
        message.contains("field `for_exakt` of offering `tal` holds a number"),
        "{message}"
    );
    assert!(!message.contains("12345678901234567890"), "{message}");

    let error = register
        .fetch("tal", &subject(TOLVAN), &["lang"])
        .await
        .unwrap_err();
    assert!(
        matches!(error, StoreError::ValueTooLarge { bytes: 70002, .. }),
        "{error:?}"
    );
}

#[tokio::test]
async fn a_statement_that_outlasts_the_timeout_fails_as_a_timeout() {
    let scratch = Scratch::new().await;
    scratch
        .exec(
            "CREATE TABLE $S.t (pnr text PRIMARY KEY, v integer);
             INSERT INTO $S.t VALUES ('19121212-1212', 1);
             CREATE VIEW $S.langsam AS SELECT pnr, pg_sleep(2)::text AS seg FROM $S.t;",
        )
        .await;
    let timeout = Duration::from_millis(300);
    let register = PgTableRegister::connect(
        &base_url(),
        scratch.mapping(
            r#"
            [offerings.snabb]
            relation = "$S.t"
            subject = "pnr"
            fields = { v = "v" }
            [offerings.langsam]
            relation = "$S.langsam"
            subject = "pnr"
            fields = { seg = "seg" }
            "#,
        ),
        timeout,
    )
    .await
    .unwrap();

    let record = register
        .fetch("snabb", &subject(TOLVAN), &["v"])
        .await
        .unwrap()
        .unwrap();
    assert_eq!(as_json(record), json!({"v": 1}));
    let error = register
        .fetch("langsam", &subject(TOLVAN), &["seg"])
        .await
        .unwrap_err();
    assert!(
        matches!(error, StoreError::BackendTimeout { timeout: t, .. } if t == timeout),
        "{error:?}"
    );
    // The session survives the cancelled statement.
    assert!(register
        .fetch("snabb", &subject(TOLVAN), &["v"])
        .await
        .unwrap()
        .is_some());
}

#[tokio::test]
async fn sessions_are_read_only() {
    let scratch = Scratch::new().await;
    scratch
        .exec(
            "CREATE TABLE $S.t (pnr text PRIMARY KEY, v integer);
             INSERT INTO $S.t VALUES ('19121212-1212', 1);
             CREATE FUNCTION $S.skriver(p text) RETURNS integer LANGUAGE sql AS
                 $$ UPDATE $S.t SET v = v + 1 WHERE pnr = p RETURNING v $$;
             CREATE VIEW $S.skrivande AS SELECT pnr, $S.skriver(pnr) AS v FROM $S.t;",
        )
        .await;
    let register = connect(scratch.mapping(
        r#"
        [offerings.o]
        relation = "$S.skrivande"
        subject = "pnr"
        fields = { v = "v" }
        "#,
    ))
    .await;
    let error = register
        .fetch("o", &subject(TOLVAN), &["v"])
        .await
        .unwrap_err();
    assert!(
        error.to_string().contains("read-only transaction"),
        "{error}"
    );
}
