//! The portal's accounts and sessions: uniqueness, lockout counting, and which sessions live.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use utbyte_store::{AccountProfile, AccountStore, Failure, StoreError};

fn profile(roles: &[&str]) -> AccountProfile {
    AccountProfile {
        display_name: "Anna Handläggare".into(),
        unit: "malmo-ekonomiskt-bistand".into(),
        officer_role: "handlaggare".into(),
        roles: roles.iter().map(|r| r.to_string()).collect(),
        disabled: false,
    }
}

async fn store_with(username: &str) -> AccountStore {
    let store = AccountStore::open_in_memory().await.unwrap();
    store
        .create(
            username,
            &profile(&["reviewer", "officer"]),
            "$argon2id$v=19$x",
            100,
        )
        .await
        .unwrap();
    store
}

#[tokio::test]
async fn usernames_are_unique_and_roles_come_back_sorted() {
    let store = store_with("anna").await;
    let again = store
        .create("anna", &profile(&[]), "$argon2id$y", 101)
        .await;
    assert!(matches!(again, Err(StoreError::Duplicate { .. })));
    let anna = store.get("anna").await.unwrap().unwrap();
    assert_eq!(anna.roles, ["officer", "reviewer"]);
    assert_eq!(anna.password_hash, "$argon2id$v=19$x");
    assert!(store.get("bertil").await.unwrap().is_none());
    for bad in ["", "two words", &"x".repeat(200)] {
        assert!(matches!(
            store.create(bad, &profile(&[]), "h", 1).await,
            Err(StoreError::InvalidInput { .. })
        ));
    }
    assert_eq!(store.list().await.unwrap().len(), 1);
}

#[tokio::test]
async fn the_fifth_failure_locks_and_a_success_clears() {
    let store = store_with("anna").await;
    for n in 1..5 {
        assert_eq!(
            store.record_failure("anna", 1000, 5, 900).await.unwrap(),
            Failure::Counted(n)
        );
    }
    assert_eq!(
        store.record_failure("anna", 1000, 5, 900).await.unwrap(),
        Failure::Locked(1900)
    );
    let anna = store.get("anna").await.unwrap().unwrap();
    assert!(anna.locked_at(1899));
    assert!(!anna.locked_at(1900));
    assert_eq!(
        store.record_failure("nobody", 1000, 5, 900).await.unwrap(),
        Failure::Unknown
    );
    store.clear_failures("anna").await.unwrap();
    let anna = store.get("anna").await.unwrap().unwrap();
    assert_eq!((anna.failed_attempts, anna.locked_until), (0, None));
}

#[tokio::test]
async fn sessions_end_on_expiry_lock_disable_and_password_change() {
    let store = store_with("anna").await;
    let token = [7u8; 32];
    store
        .create_session(&token, "anna", "csrf-1", 100, 200)
        .await
        .unwrap();
    let live = store.session(&token, 150).await.unwrap().unwrap();
    assert_eq!(
        (live.account.username.as_str(), live.csrf.as_str()),
        ("anna", "csrf-1")
    );
    assert!(
        store.session(&token, 200).await.unwrap().is_none(),
        "expired"
    );
    assert!(
        store.session(&[8u8; 32], 150).await.unwrap().is_none(),
        "unknown token"
    );

    // A lock hides the session while it lasts.
    for _ in 0..5 {
        store.record_failure("anna", 150, 5, 10).await.unwrap();
    }
    assert!(store.session(&token, 155).await.unwrap().is_none());
    assert!(store.session(&token, 161).await.unwrap().is_some());

    // Disabling ends every session of the account.
    let mut disabled = profile(&["officer"]);
    disabled.disabled = true;
    store.update("anna", &disabled).await.unwrap();
    assert!(store.session(&token, 170).await.unwrap().is_none());
    disabled.disabled = false;
    store.update("anna", &disabled).await.unwrap();
    assert!(
        store.session(&token, 170).await.unwrap().is_none(),
        "ended, not hidden"
    );

    store
        .create_session(&token, "anna", "csrf-2", 170, 400)
        .await
        .unwrap();
    store.set_password("anna", "$argon2id$new").await.unwrap();
    assert!(store.session(&token, 171).await.unwrap().is_none());
    assert!(matches!(
        store.update("nobody", &profile(&[])).await,
        Err(StoreError::NotFound { .. })
    ));

    store
        .create_session(&token, "anna", "csrf-3", 172, 400)
        .await
        .unwrap();
    store.end_session(&token).await.unwrap();
    assert!(store.session(&token, 173).await.unwrap().is_none());
}
