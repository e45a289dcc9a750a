//! Matching the registers' change feeds against granted subscriptions.
//!
//! A register that keeps a change feed is one feed, named by the first (sorted) offering it
//! backs, so the name stays the same as long as the configuration does. A round reads a batch
//! of changes after the feed's cursor, names each change's event types from the rulebook's
//! definition of its offering (a change of no event type queues nothing but is still passed
//! over, as is a change to a subject with protected identity), matches the batch in one store
//! transaction (notices queued and cursor advanced together), then lets the register forget
//! the changes up to the cursor. A node that stops
//! between the two forgets them next round; one that stops before the store commits matches the
//! same batch again.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;

use tokio::sync::watch;
use utbyte_rules::Rulebook;
use utbyte_store::{ChangeToMatch, ExchangeStore, Register, StoreError};

use crate::state::{NodeState, Registers};

/// Changes read per round.
pub const BATCH: u32 = 2000;
/// How often a feed with nothing new is looked at again: a change waits for its notice at most
/// this long on an idle node, for one indexed read of each feed a round.
const IDLE: Duration = Duration::from_millis(25);

/// One register's change feed.
#[derive(Clone)]
pub struct Feed {
    /// The name its cursor is kept under.
    pub name: String,
    register: Arc<dyn Register>,
}

impl Feed {
    /// The feed of `register` under `name`; `None` if the register keeps no change feed.
    pub fn new(name: impl Into<String>, register: Arc<dyn Register>) -> Option<Self> {
        register.change_feed()?;
        Some(Self {
            name: name.into(),
            register,
        })
    }
}

/// The feeds of a node's registers: one per register that keeps a change feed.
pub fn feeds(registers: &Registers) -> Vec<Feed> {
    let mut by_register: BTreeMap<usize, (String, Arc<dyn Register>)> = BTreeMap::new();
    for (offering, register) in registers {
        // The register's address identifies it: several offerings share one `Arc`.
        let key = Arc::as_ptr(register).cast::<()>() as usize;
        let entry = by_register
            .entry(key)
            .or_insert_with(|| (offering.clone(), Arc::clone(register)));
        if offering < &entry.0 {
            entry.0 = offering.clone();
        }
    }
    let mut feeds: Vec<Feed> = by_register
        .into_values()
        .filter_map(|(name, register)| Feed::new(name, register))
        .collect();
    feeds.sort_by(|a, b| a.name.cmp(&b.name));
    feeds
}

/// What one round did.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Round {
    /// Changes read.
    pub changes: usize,
    /// Notices queued.
    pub notices: u64,
}

/// Matches the next batch of `feed`'s changes (at most `limit`).
pub async fn round(
    feed: &Feed,
    store: &ExchangeStore,
    rulebook: &Rulebook,
    limit: u32,
) -> Result<Round, StoreError> {
    let Some(changes) = feed.register.change_feed() else {
        return Ok(Round::default());
    };
    let after = store.change_cursor(&feed.name).await?;
    let read = changes.changes_after(after, limit).await?;
    let Some(through) = read.last().map(|c| c.seq) else {
        return Ok(Round::default());
    };
    let count = read.len();
    let to_match: Vec<ChangeToMatch> = read
        .into_iter()
        // A subject with protected identity is told of to no one.
        .filter(|change| !change.protected_identity)
        .filter_map(|change| {
            let offering = rulebook.vocabulary.offerings.get(&change.offering)?;
            let mut events: Vec<String> = offering
                .events_of(&change.fields)
                .map(|e| e.id.clone())
                .collect();
            if events.is_empty() {
                return None;
            }
            events.sort();
            Some(ChangeToMatch {
                seq: change.seq,
                offering: change.offering,
                subject: change.subject,
                events,
                fields: change.fields,
                at: change.at,
            })
        })
        .collect();
    let notices = store.match_changes(&feed.name, through, &to_match).await?;
    changes.forget_changes(through).await?;
    Ok(Round {
        changes: count,
        notices,
    })
}

/// Runs rounds over every feed until `stop`.
pub(crate) async fn run(state: Arc<NodeState>, feeds: Vec<Feed>, mut stop: watch::Receiver<bool>) {
    loop {
        let mut busy = false;
        if let Ok(ctx) = state.exchange_context() {
            for feed in &feeds {
                match round(feed, &state.exchange, &ctx.rulebook, BATCH).await {
                    Ok(done) => {
                        state
                            .metrics
                            .matched(&feed.name, done.changes, done.notices);
                        if done.notices > 0 {
                            state.notices.queued.notify_one();
                        }
                        busy |= done.changes == BATCH as usize;
                    }
                    Err(err) => {
                        tracing::warn!(feed = %feed.name, %err, "a change feed cannot be matched")
                    }
                }
            }
        }
        if busy {
            continue;
        }
        tokio::select! {
            _ = stop.changed() => return,
            _ = tokio::time::sleep(IDLE) => {}
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;
    use time::OffsetDateTime;
    use utbyte_domain::SubjectId;
    use utbyte_store::{NewSubscription, RegisterBatch, RegisterStore};

    const FOLKBOKFORING: &str = "skv-folkbokforing";

    /// The example rulebook, loaded once for all the tests.
    fn rulebook() -> &'static Rulebook {
        static LOADED: std::sync::OnceLock<Rulebook> = std::sync::OnceLock::new();
        LOADED.get_or_init(|| {
            let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../../rulebook");
            Rulebook::load_dir(&dir).unwrap_or_else(|e| panic!("{e}"))
        })
    }

    fn person(text: &str) -> SubjectId {
        text.parse().unwrap_or_else(|e| panic!("{e}"))
    }

    async fn write(
        register: &RegisterStore,
        subject: SubjectId,
        field: &str,
        value: serde_json::Value,
    ) {
        let mut batch = RegisterBatch::new();
        batch
            .subject(subject, false)
            .record(FOLKBOKFORING, subject, field, value);
        register
            .insert(&batch)
            .await
            .unwrap_or_else(|e| panic!("{e}"));
    }

    #[tokio::test]
    async fn changes_become_notices_of_their_event_types_once_and_the_feed_is_forgotten() {
        let register = Arc::new(
            RegisterStore::open_in_memory()
                .await
                .unwrap_or_else(|e| panic!("{e}")),
        );
        let store = ExchangeStore::open_in_memory()
            .await
            .unwrap_or_else(|e| panic!("{e}"));
        let rulebook = rulebook();
        let mut registers = Registers::new();
        registers.insert("skv-inkomst".into(), register.clone() as Arc<dyn Register>);
        registers.insert(FOLKBOKFORING.into(), register.clone() as Arc<dyn Register>);
        let feeds = feeds(&registers);
        assert_eq!(feeds.len(), 1, "one register, one feed");
        assert_eq!(feeds[0].name, FOLKBOKFORING);
        let feed = &feeds[0];

        let (tolvan, other) = (person("19121212-1212"), person("19811228-9874"));
        let now = OffsetDateTime::now_utc();
        let granted = NewSubscription {
            id: "sub-1".into(),
            subscriber: "forsakringskassan".into(),
            offering: FOLKBOKFORING.into(),
            events: vec!["adress-andrad".into(), "avliden".into()],
            fields: Vec::new(),
            request: "{}".into(),
            decision_index: 1,
            created_at: now - time::Duration::minutes(1),
            ends_at: now + time::Duration::days(30),
        };
        store
            .create_subscription(&granted)
            .await
            .unwrap_or_else(|e| panic!("{e}"));
        store
            .add_subjects("sub-1", &[tolvan])
            .await
            .unwrap_or_else(|e| panic!("{e}"));

        write(&register, tolvan, "flyttdatum", json!("2026-11-30")).await; // adress-andrad
        write(&register, tolvan, "civilstand", json!("gift")).await; // not granted
        write(&register, other, "dodsdatum", json!("2026-12-01")).await; // not covered
        write(&register, tolvan, "namn", json!({"fornamn": "Tolvan"})).await; // no event type
                                                                              // Tolvan gains protected identity and moves: no one is told.
        let mut hidden = RegisterBatch::new();
        hidden.subject(tolvan, true).record(
            FOLKBOKFORING,
            tolvan,
            "flyttdatum",
            json!("2026-12-02"),
        );
        register
            .insert(&hidden)
            .await
            .unwrap_or_else(|e| panic!("{e}"));
        let mut open = RegisterBatch::new();
        open.subject(tolvan, false);
        register
            .insert(&open)
            .await
            .unwrap_or_else(|e| panic!("{e}"));
        write(&register, tolvan, "dodsdatum", json!("2026-12-01")).await; // avliden

        let done = round(feed, &store, rulebook, 3)
            .await
            .unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(
            done,
            Round {
                changes: 3,
                notices: 1
            }
        );
        let done = round(feed, &store, rulebook, 100)
            .await
            .unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(
            done,
            Round {
                changes: 3,
                notices: 1
            }
        );
        assert_eq!(
            round(feed, &store, rulebook, 100).await.ok(),
            Some(Round::default())
        );

        let notices = store
            .notices_after("forsakringskassan", 0, 10)
            .await
            .unwrap_or_else(|e| panic!("{e}"));
        let seen: Vec<(Vec<String>, Vec<String>)> = notices
            .iter()
            .map(|n| (n.events.clone(), n.fields.clone()))
            .collect();
        assert_eq!(
            seen,
            [
                (
                    vec!["adress-andrad".to_owned()],
                    vec!["flyttdatum".to_owned()]
                ),
                (vec!["avliden".to_owned()], vec!["dodsdatum".to_owned()]),
            ]
        );
        assert!(notices.iter().all(|n| n.subject == tolvan));
        // The register keeps no change once matched.
        let kept = register.change_feed().map(|f| f.changes_after(0, 100));
        let kept = match kept {
            Some(read) => read.await.unwrap_or_else(|e| panic!("{e}")),
            None => panic!("no feed"),
        };
        assert!(kept.is_empty(), "{kept:?}");
    }

    /// What the property test does, step by step.
    #[derive(Debug, Clone)]
    enum Step {
        /// A new address for subject `n`, which has protected identity after the write or not.
        Write { subject: usize, protected: bool },
        /// The subscriber cancels subscription `sub-c`.
        Cancel,
        /// The matcher runs a round.
        Match,
    }

    fn step() -> impl proptest::strategy::Strategy<Value = Step> {
        use proptest::prelude::*;
        prop_oneof![
            6 => (0..4usize, proptest::bool::weighted(0.3))
                .prop_map(|(subject, protected)| Step::Write { subject, protected }),
            1 => Just(Step::Cancel),
            3 => Just(Step::Match),
        ]
    }

    proptest::proptest! {
        #![proptest_config(proptest::test_runner::Config::with_cases(48))]

        /// No notice tells of a subject with protected identity, of a change after a
        /// subscription was cancelled, or for a subscription that has ended; every other change
        /// to a covered subject is told once.
        #[test]
        fn no_notice_after_an_end_or_of_protected_identity(
            steps in proptest::collection::vec(step(), 1..40)
        ) {
            let runtime = tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap_or_else(|e| panic!("{e}"));
            runtime.block_on(follow(steps));
        }
    }

    async fn follow(steps: Vec<Step>) {
        let register = Arc::new(
            RegisterStore::open_in_memory()
                .await
                .unwrap_or_else(|e| panic!("{e}")),
        );
        let store = ExchangeStore::open_in_memory()
            .await
            .unwrap_or_else(|e| panic!("{e}"));
        let rulebook = rulebook();
        let feed = Feed::new(FOLKBOKFORING, register.clone() as Arc<dyn Register>)
            .unwrap_or_else(|| panic!("no feed"));
        let people = [
            "19121212-1212",
            "19811228-9874",
            "19701063-2391",
            "19900101-0017",
        ]
        .map(person);
        let now = OffsetDateTime::now_utc();
        for (id, from, to) in [
            (
                "sub-a",
                now - time::Duration::minutes(1),
                now + time::Duration::days(1),
            ),
            (
                "sub-b",
                now - time::Duration::hours(2),
                now - time::Duration::hours(1),
            ),
            (
                "sub-c",
                now - time::Duration::minutes(1),
                now + time::Duration::days(1),
            ),
        ] {
            let granted = NewSubscription {
                id: id.into(),
                subscriber: "forsakringskassan".into(),
                offering: FOLKBOKFORING.into(),
                events: vec!["adress-andrad".into()],
                fields: Vec::new(),
                request: "{}".into(),
                decision_index: 1,
                created_at: from,
                ends_at: to,
            };
            store
                .create_subscription(&granted)
                .await
                .unwrap_or_else(|e| panic!("{e}"));
            store
                .add_subjects(id, &people)
                .await
                .unwrap_or_else(|e| panic!("{e}"));
        }
        // Per write: its subject, whether protected, and whether `sub-c` was cancelled before.
        let mut writes: Vec<(SubjectId, bool, bool)> = Vec::new();
        let mut cancelled = false;
        for step in steps.into_iter().chain([Step::Match]) {
            match step {
                Step::Write { subject, protected } => {
                    let mut batch = RegisterBatch::new();
                    batch.subject(people[subject], protected).record(
                        FOLKBOKFORING,
                        people[subject],
                        "flyttdatum",
                        json!(
                            format!("2026-12-{:02}", writes.len() % 28 + 1)
                                + &writes.len().to_string()
                        ),
                    );
                    register
                        .insert(&batch)
                        .await
                        .unwrap_or_else(|e| panic!("{e}"));
                    writes.push((people[subject], protected, cancelled));
                }
                Step::Cancel => {
                    store
                        .cancel_subscription("sub-c")
                        .await
                        .unwrap_or_else(|e| panic!("{e}"));
                    cancelled = true;
                }
                Step::Match => {
                    while round(&feed, &store, rulebook, 3)
                        .await
                        .unwrap_or_else(|e| panic!("{e}"))
                        .changes
                        > 0
                    {}
                }
            }
        }
        let notices = store
            .notices_after("forsakringskassan", 0, 1000)
            .await
            .unwrap_or_else(|e| panic!("{e}"));
        let told = |id: &str| -> Vec<SubjectId> {
            notices
                .iter()
                .filter(|n| n.subscription == id)
                .map(|n| n.subject)
                .collect()
        };
        let unprotected: Vec<SubjectId> = writes.iter().filter(|w| !w.1).map(|w| w.0).collect();
        // Every unprotected change, once, in order, to the subscription in force.
        assert_eq!(told("sub-a"), unprotected);
        // None for the subscription that had ended.
        assert!(told("sub-b").is_empty());
        // For the cancelled one: at most the unprotected changes made before the cancellation,
        // each once, in order.
        let before: Vec<SubjectId> = writes
            .iter()
            .filter(|w| !w.1 && !w.2)
            .map(|w| w.0)
            .collect();
        let c = told("sub-c");
        assert!(
            before.starts_with(&c),
            "{c:?} is not a prefix of {before:?}"
        );
        if !cancelled {
            assert_eq!(c, before);
        }
    }
}
