//! `serve` in-process: first start on SQLite, restart, refusals.

use paygate_cli::config::{DatabaseUrl, SecretSource};
use paygate_cli::keyfile::Origin;
use secrecy::SecretString;

use crate::support::{KEY_A, KEY_B, chmod, config_in, data_dir, http, mode_of, start, tempdir};

#[tokio::test]
async fn first_start_creates_data_dir_and_key_files_then_reuses_them() {
    let dir = tempdir();
    let running = start(config_in(dir.path())).await.unwrap();
    let data = data_dir(dir.path());
    assert_eq!(mode_of(&data), 0o700);
    assert_eq!(mode_of(&data.join("master.key")), 0o600);
    assert_eq!(mode_of(&data.join("jwt.secret")), 0o600);
    assert!(data.join("paygate.db").is_file());
    assert_eq!(running.report().master_key.origin, Origin::Created);
    assert_eq!(running.report().jwt_secret.origin, Origin::Created);
    assert_ne!(running.local_addr().port(), 0);

    for path in ["/healthz", "/readyz"] {
        let res = http()
            .get(format!("{}{path}", running.base_url()))
            .send()
            .await
            .unwrap();
        assert_eq!(res.status(), 200, "{path}");
        let body: serde_json::Value = res.json().await.unwrap();
        assert_eq!(body["status"], "ok");
    }
    running.shutdown().await.unwrap();

    let key_before = std::fs::read(data.join("master.key")).unwrap();
    let running = start(config_in(dir.path())).await.unwrap();
    assert_eq!(running.report().master_key.origin, Origin::Loaded);
    assert_eq!(running.report().jwt_secret.origin, Origin::Loaded);
    assert_eq!(std::fs::read(data.join("master.key")).unwrap(), key_before);
    running.shutdown().await.unwrap();
}

#[tokio::test]
async fn a_world_readable_key_file_stops_the_start() {
    let dir = tempdir();
    start(config_in(dir.path()))
        .await
        .unwrap()
        .shutdown()
        .await
        .unwrap();
    let key = data_dir(dir.path()).join("master.key");
    chmod(&key, 0o644);
    let err = start(config_in(dir.path())).await.unwrap_err();
    assert_eq!(err.code(), "key_file_permissions");
    assert_eq!(mode_of(&key), 0o644, "paygate must not fix the mode itself");
}

#[tokio::test]
async fn another_master_key_is_refused_by_the_database() {
    let dir = tempdir();
    let mut config = config_in(dir.path());
    config.master_key = SecretSource::Inline(SecretString::from(KEY_A.to_owned()));
    start(config.clone())
        .await
        .unwrap()
        .shutdown()
        .await
        .unwrap();

    config.master_key = SecretSource::Inline(SecretString::from(KEY_B.to_owned()));
    let err = start(config.clone()).await.unwrap_err();
    assert_eq!(err.code(), "master_key_mismatch");
    assert!(!err.to_string().contains(&KEY_B[3..]), "{err}");

    // The right key still works.
    config.master_key = SecretSource::Inline(SecretString::from(KEY_A.to_owned()));
    start(config).await.unwrap().shutdown().await.unwrap();
}

#[tokio::test]
async fn a_lost_key_file_is_not_silently_replaced() {
    let dir = tempdir();
    start(config_in(dir.path()))
        .await
        .unwrap()
        .shutdown()
        .await
        .unwrap();
    let key = data_dir(dir.path()).join("master.key");
    std::fs::remove_file(&key).unwrap();
    let err = start(config_in(dir.path())).await.unwrap_err();
    assert_eq!(err.code(), "master_key_mismatch");
    // The key generated during the refused start is gone, so the real one can be put back.
    assert!(!key.exists());
}

#[tokio::test]
async fn postgres_without_a_master_key_generates_nothing() {
    let dir = tempdir();
    let mut config = config_in(dir.path());
    config.database_url = DatabaseUrl::parse("postgres://postgres@127.0.0.1:1/none").unwrap();
    let err = start(config.clone()).await.unwrap_err();
    assert_eq!(err.code(), "secret_missing");
    assert!(err.to_string().contains("PAYGATE_MASTER_KEY"), "{err}");
    assert!(
        !data_dir(dir.path()).exists(),
        "nothing may be created for PostgreSQL"
    );

    config.master_key = SecretSource::Inline(SecretString::from(KEY_A.to_owned()));
    let err = start(config).await.unwrap_err();
    assert_eq!(err.code(), "secret_missing");
    assert!(err.to_string().contains("PAYGATE_JWT_SECRET"), "{err}");
}

#[tokio::test]
async fn postgres_serves_and_refuses_another_master_key() {
    let Some(db) = crate::pg::TestDatabase::create().await else {
        return;
    };
    let dir = tempdir();
    let mut config = config_in(dir.path());
    config.database_url = DatabaseUrl::parse(&db.url).unwrap();
    config.master_key = SecretSource::Inline(SecretString::from(KEY_A.to_owned()));
    config.jwt_secret = SecretSource::Inline(SecretString::from("j".repeat(40)));
    let running = start(config.clone()).await.unwrap();
    let res = http()
        .get(format!("{}/readyz", running.base_url()))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 200);
    running.shutdown().await.unwrap();

    config.master_key = SecretSource::Inline(SecretString::from(KEY_B.to_owned()));
    assert_eq!(
        start(config).await.unwrap_err().code(),
        "master_key_mismatch"
    );
    assert!(!data_dir(dir.path()).exists());
    db.drop().await;
}
