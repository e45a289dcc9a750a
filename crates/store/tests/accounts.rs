//! The portal's accounts and sessions: uniqueness, lockout counting, and which sessions live.

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

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
    let store = common::accounts().await;
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

/// Long enough that no test here but the idle one meets it.
const IDLE: i64 = 10_000;

on_both_engines! {
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
        let live = store.session(&token, 150, IDLE).await.unwrap().unwrap();
        assert_eq!(
            (live.account.username.as_str(), live.csrf.as_str()),
            ("anna", "csrf-1")
        );
        assert!(
            store.session(&token, 200, IDLE).await.unwrap().is_none(),
            "expired"
        );
        assert!(
            store
                .session(&[8u8; 32], 150, IDLE)
                .await
                .unwrap()
                .is_none(),
            "unknown token"
        );

        // A lock hides the session while it lasts.
        for _ in 0..5 {
            store.record_failure("anna", 150, 5, 10).await.unwrap();
        }
        assert!(store.session(&token, 155, IDLE).await.unwrap().is_none());
        assert!(store.session(&token, 161, IDLE).await.unwrap().is_some());

        // Disabling ends every session of the account.
        let mut disabled = profile(&["officer"]);
        disabled.disabled = true;
        store.update("anna", &disabled).await.unwrap();
        assert!(store.session(&token, 170, IDLE).await.unwrap().is_none());
        disabled.disabled = false;
        store.update("anna", &disabled).await.unwrap();
        assert!(
            store.session(&token, 170, IDLE).await.unwrap().is_none(),
            "ended, not hidden"
        );

        store
            .create_session(&token, "anna", "csrf-2", 170, 400)
            .await
            .unwrap();
        store.set_password("anna", "$argon2id$new").await.unwrap();
        assert!(store.session(&token, 171, IDLE).await.unwrap().is_none());
        assert!(matches!(
            store.update("nobody", &profile(&[])).await,
            Err(StoreError::NotFound { .. })
        ));

        store
            .create_session(&token, "anna", "csrf-3", 172, 400)
            .await
            .unwrap();
        store.end_session(&token).await.unwrap();
        assert!(store.session(&token, 173, IDLE).await.unwrap().is_none());
    }

    #[tokio::test]
    async fn a_session_left_idle_ends_before_its_expiry_and_use_keeps_it_alive() {
        let store = store_with("anna").await;
        let token = [3u8; 32];
        store
            .create_session(&token, "anna", "csrf", 1_000, 100_000)
            .await
            .unwrap();
        // Used every 100 s, a session with a 300 s idle timeout lives on.
        for now in (1_100..=2_000).step_by(100) {
            assert!(
                store.session(&token, now, 300).await.unwrap().is_some(),
                "{now}"
            );
        }
        // Left alone for the idle timeout, it is gone, long before its absolute expiry.
        assert!(store.session(&token, 2_300, 300).await.unwrap().is_none());
        assert!(store.session(&token, 2_301, 300).await.unwrap().is_none());
    }

    #[tokio::test]
    async fn the_identity_providers_accounts_follow_its_claims_and_never_take_a_local_one() {
        let store = store_with("anna").await;
        let mut claims = profile(&["officer"]);
        claims.display_name = "Erik Extern".into();
        let erik = store
            .sign_in_external("erik@idp", &claims, 100)
            .await
            .unwrap();
        assert!(erik.external && erik.roles == ["officer"] && erik.created_at == 100);

        // The next sign-in's claims replace the profile; a disable set here stays.
        claims.roles = vec!["reviewer".into()];
        claims.unit = "fk-kontroll".into();
        let erik = store
            .sign_in_external("erik@idp", &claims, 200)
            .await
            .unwrap();
        assert_eq!(
            (erik.roles.clone(), erik.unit.as_str()),
            (vec!["reviewer".to_owned()], "fk-kontroll")
        );
        let mut off = claims.clone();
        off.disabled = true;
        store.update("erik@idp", &off).await.unwrap();
        let erik = store
            .sign_in_external("erik@idp", &claims, 300)
            .await
            .unwrap();
        assert!(erik.disabled, "the provider's word does not lift a disable");

        // No password can be set for it, and a local account is not taken over.
        assert!(matches!(
            store.set_password("erik@idp", "$argon2id$x").await,
            Err(StoreError::NotFound { .. })
        ));
        assert!(matches!(
            store.sign_in_external("anna", &claims, 400).await,
            Err(StoreError::Duplicate { .. })
        ));
        let anna = store.get("anna").await.unwrap().unwrap();
        assert!(!anna.external && anna.roles == ["officer", "reviewer"]);
    }

    #[tokio::test]
    async fn a_sign_in_flow_is_taken_once_and_not_after_it_lapsed() {
        let store = common::accounts().await;
        let flow = utbyte_store::SignInFlow {
            state: "s".into(),
            nonce: "n".into(),
            verifier: "v".into(),
            next: "/portal/".into(),
        };
        store.begin_flow(&[1u8; 32], &flow, 100, 700).await.unwrap();
        store.begin_flow(&[2u8; 32], &flow, 100, 200).await.unwrap();
        assert_eq!(
            store.take_flow(&[1u8; 32], 150).await.unwrap(),
            Some(flow.clone())
        );
        assert_eq!(
            store.take_flow(&[1u8; 32], 150).await.unwrap(),
            None,
            "once"
        );
        assert_eq!(
            store.take_flow(&[2u8; 32], 200).await.unwrap(),
            None,
            "lapsed"
        );
        assert_eq!(
            store.take_flow(&[9u8; 32], 150).await.unwrap(),
            None,
            "unknown"
        );
    }
}
