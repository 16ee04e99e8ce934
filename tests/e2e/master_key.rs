//! A database remembers its master key: a process started with another key refuses to start
//! (before serving anything), and says so without printing either key.

use paygate_cli::app::StartError;
use paygate_core::ManualClock;
use paygate_store::{Audit, StoreError};
use secrecy::ExposeSecret;

use crate::harness::fixtures::random_text;
use crate::harness::{Backend, TestDb, both_backends, configured, logs, random_master_key, start};

both_backends!(another_master_key_is_refused);

async fn another_master_key_is_refused(backend: Backend) {
    let db = TestDb::create(&backend).await;
    let clock = ManualClock::new(time::OffsetDateTime::now_utc());
    let jwt_secret = random_text(48);
    let key_a = random_master_key();
    let key_b = random_master_key();

    let first = start(configured(db.config(), &key_a, &jwt_secret), &clock)
        .await
        .expect("the first start records key A");
    // Something encrypted under key A.
    first
        .store()
        .tenants()
        .create(&Audit::cli(), "sealed under A", None)
        .await
        .expect("tenant");
    first.shutdown().await.expect("shutdown");

    let err = start(configured(db.config(), &key_b, &jwt_secret), &clock)
        .await
        .expect_err("key B must be refused");
    assert!(
        matches!(err, StartError::Store(StoreError::MasterKeyMismatch { .. })),
        "{err:?}"
    );
    assert_eq!(err.code(), "master_key_mismatch");
    let message = err.to_string();
    let logs = logs::captured();
    for key in [&key_a, &key_b] {
        let hex = key.expose_secret().trim_start_matches("v1:");
        assert!(!message.contains(hex), "the error shows a key: {message}");
        assert!(!logs.contains(hex), "a master key is in the logs");
    }

    // Key A still opens it, and the data is intact.
    let again = start(configured(db.config(), &key_a, &jwt_secret), &clock)
        .await
        .expect("key A still works");
    let tenants = again
        .store()
        .tenants()
        .list(&Default::default(), &Default::default())
        .await
        .expect("list");
    assert_eq!(tenants.data.len(), 1);
    assert_eq!(tenants.data[0].name, "sealed under A");
    again.shutdown().await.expect("shutdown");
}
