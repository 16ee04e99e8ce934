//! The `paygate` binary: config check, migrate, admin commands, providers, signals.

use std::io::Write;
use std::process::Stdio;

use paygate_cli::config::SecretSource;
use secrecy::{ExposeSecret, SecretString};

use crate::support::{KEY_A, config_in, data_dir, http, mode_of, paygate, run, start, tempdir};

#[test]
fn providers_lists_both_wechat_kinds() {
    let dir = tempdir();
    let (ok, out, _) = run(&mut paygate(dir.path(), &["providers"], &[]));
    assert!(ok);
    assert_eq!(out, "wechat-v2\nwechat-v3\n");
}

#[test]
fn config_check_redacts_every_secret_and_names_origins() {
    let dir = tempdir();
    std::fs::write(
        dir.path().join("paygate.toml"),
        "listen = \"0.0.0.0:9000\"\n",
    )
    .unwrap();
    let jwt = "jwt-secret-that-must-never-be-printed-0123456789";
    let env = [
        ("PAYGATE_MASTER_KEY", KEY_A),
        ("PAYGATE_JWT_SECRET", jwt),
        (
            "PAYGATE_DATABASE_URL",
            "postgres://paygate:dbpassw0rd@db:5432/paygate",
        ),
    ];
    for format in ["toml", "json"] {
        let (ok, out, err) = run(&mut paygate(
            dir.path(),
            &["config", "check", "--format", format],
            &env,
        ));
        assert!(ok, "{err}");
        for secret in [&KEY_A[3..], jwt, "dbpassw0rd"] {
            assert!(!out.contains(secret), "{format}: {out}");
            assert!(!err.contains(secret), "{format}: {err}");
        }
        assert!(out.contains("[redacted]"), "{out}");
        assert!(out.contains("PAYGATE_MASTER_KEY"), "origin missing: {out}");
        assert!(out.contains("paygate.toml"), "origin missing: {out}");
        assert!(out.contains("0.0.0.0:9000"), "{out}");
    }
    let (_, out, _) = run(&mut paygate(
        dir.path(),
        &["config", "check", "--format", "json"],
        &env,
    ));
    let json: serde_json::Value = serde_json::from_str(&out).unwrap();
    assert_eq!(json["config"]["master_key"], "[redacted]");
    assert_eq!(json["config"]["jwt_secret"], "[redacted]");
    assert!(
        json["origins"]["listen"]
            .as_str()
            .unwrap()
            .contains("paygate.toml")
    );
}

#[test]
fn config_check_fails_with_the_key_at_fault() {
    let dir = tempdir();
    let (ok, out, err) = run(&mut paygate(
        dir.path(),
        &["config", "check"],
        &[("PAYGATE_PUBLIC_URL", "http://pay.example.com")],
    ));
    assert!(!ok);
    assert!(out.is_empty(), "{out}");
    assert!(
        err.contains("public_url") && err.contains("PAYGATE_PUBLIC_URL"),
        "{err}"
    );
}

#[test]
fn migrate_creates_the_database_and_key_files() {
    let dir = tempdir();
    let (ok, _, err) = run(&mut paygate(dir.path(), &["migrate"], &[]));
    assert!(ok, "{err}");
    let data = data_dir(dir.path());
    assert!(data.join("paygate.db").is_file());
    assert_eq!(mode_of(&data.join("master.key")), 0o600);
}

#[tokio::test]
async fn create_operator_then_token_is_accepted_by_the_server() {
    let dir = tempdir();
    let (ok, out, err) = run(&mut paygate(
        dir.path(),
        &[
            "admin",
            "create-operator",
            "--username",
            "alice",
            "--role",
            "viewer",
        ],
        &[],
    ));
    assert!(ok, "{err}");
    let password = out
        .lines()
        .find_map(|l| l.strip_prefix("password: "))
        .expect("generated password printed")
        .to_owned();
    assert!(password.len() >= 12);
    assert!(
        !err.contains(&password),
        "the password is printed once, on stdout"
    );

    let (ok, token, err) = run(&mut paygate(
        dir.path(),
        &["admin", "token", "--username", "alice", "--ttl-secs", "120"],
        &[],
    ));
    assert!(ok, "{err}");
    let token = token.trim().to_owned();
    assert_eq!(token.split('.').count(), 3, "a JWT: {token}");

    let running = start(config_in(dir.path())).await.unwrap();
    let base = running.base_url().to_owned();
    let res = http()
        .get(format!("{base}/admin/v1/operators"))
        .bearer_auth(&token)
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 200);
    // A viewer cannot write.
    let res = http()
        .post(format!("{base}/admin/v1/tenants"))
        .bearer_auth(&token)
        .json(&serde_json::json!({ "name": "nope" }))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 403);
    // The generated password logs in.
    let res = http()
        .post(format!("{base}/admin/v1/login"))
        .json(&serde_json::json!({ "username": "alice", "password": password }))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 200);

    // A disabled operator gets no token.
    let alice = running
        .store()
        .operators()
        .find_by_username("alice")
        .await
        .unwrap()
        .unwrap()
        .operator;
    let disable = paygate_store::OperatorUpdate {
        disabled: Some(true),
        ..Default::default()
    };
    running
        .store()
        .operators()
        .update(&paygate_store::Audit::cli(), &alice.id, &disable)
        .await
        .unwrap();
    running.shutdown().await.unwrap();
    let (ok, out, err) = run(&mut paygate(
        dir.path(),
        &["admin", "token", "--username", "alice"],
        &[],
    ));
    assert!(!ok && out.is_empty());
    assert!(err.contains("disabled"), "{err}");

    // Unknown operators get no token.
    let (ok, out, err) = run(&mut paygate(
        dir.path(),
        &["admin", "token", "--username", "bob"],
        &[],
    ));
    assert!(!ok && out.is_empty());
    assert!(err.contains("bob"), "{err}");
}

#[test]
fn create_operator_reads_a_password_from_stdin_and_refuses_a_short_one() {
    let dir = tempdir();
    let create = |password: &str| {
        let mut child = paygate(
            dir.path(),
            &[
                "admin",
                "create-operator",
                "--username",
                "carol",
                "--role",
                "admin",
                "--password-stdin",
            ],
            &[],
        )
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
        child
            .stdin
            .take()
            .unwrap()
            .write_all(password.as_bytes())
            .unwrap();
        let out = child.wait_with_output().unwrap();
        (
            out.status.success(),
            String::from_utf8_lossy(&out.stdout).into_owned(),
        )
    };
    let (ok, _) = create("short\n");
    assert!(!ok);
    let (ok, out) = create("a long enough password\n");
    assert!(ok);
    assert!(
        !out.contains("password:"),
        "a given password is not echoed: {out}"
    );
}

#[tokio::test]
async fn rotate_master_key_keeps_secrets_readable() {
    let dir = tempdir();
    let data = data_dir(dir.path());
    let running = start(config_in(dir.path())).await.unwrap();
    let store = running.store();
    let audit = paygate_store::Audit::cli();
    let tenant = store
        .tenants()
        .create(&audit, "Rotation", None)
        .await
        .unwrap();
    let appid = "wx0123456789abcdef".parse().unwrap();
    let secret = SecretString::from("app-secret-before-rotation".to_owned());
    store
        .apps()
        .create(&audit, &tenant.id, &appid, "App", &secret)
        .await
        .unwrap();
    running.shutdown().await.unwrap();
    let old_key = std::fs::read_to_string(data.join("master.key")).unwrap();

    let (ok, out, err) = run(&mut paygate(
        dir.path(),
        &["admin", "rotate-master-key"],
        &[],
    ));
    assert!(ok, "{err}");
    assert!(out.contains("1 tenant"), "{out}");
    let new_key = std::fs::read_to_string(data.join("master.key")).unwrap();
    assert!(new_key.starts_with("v2:"), "version + 1");
    assert_ne!(new_key, old_key);
    assert_eq!(mode_of(&data.join("master.key")), 0o600);
    assert_eq!(
        std::fs::read_to_string(data.join("master.key.old-v1")).unwrap(),
        old_key
    );
    assert!(!data.join("master.key.new").exists());
    assert!(!out.contains(&new_key[3..67]) && !err.contains(&new_key[3..67]));

    // The new key opens the secret; the old one is refused.
    let running = start(config_in(dir.path())).await.unwrap();
    let read = running
        .store()
        .apps()
        .app_secret(&tenant.id, &appid)
        .await
        .unwrap();
    assert_eq!(read.expose_secret(), "app-secret-before-rotation");
    running.shutdown().await.unwrap();
    let mut old = config_in(dir.path());
    old.master_key = SecretSource::Inline(SecretString::from(old_key.trim().to_owned()));
    assert_eq!(start(old).await.unwrap_err().code(), "master_key_mismatch");
}

#[tokio::test]
async fn rotating_a_configured_key_needs_and_fills_a_new_key_file() {
    let dir = tempdir();
    let mut config = config_in(dir.path());
    config.master_key = SecretSource::Inline(SecretString::from(KEY_A.to_owned()));
    let running = start(config.clone()).await.unwrap();
    let audit = paygate_store::Audit::cli();
    let tenant = running
        .store()
        .tenants()
        .create(&audit, "T", None)
        .await
        .unwrap();
    running.shutdown().await.unwrap();

    let env = [("PAYGATE_MASTER_KEY", KEY_A)];
    let (ok, _, err) = run(&mut paygate(
        dir.path(),
        &["admin", "rotate-master-key"],
        &env,
    ));
    assert!(!ok);
    assert!(err.contains("--new-key-file"), "{err}");

    let (ok, out, err) = run(&mut paygate(
        dir.path(),
        &["admin", "rotate-master-key", "--new-key-file", "new.key"],
        &env,
    ));
    assert!(ok, "{err}");
    assert!(out.contains("PAYGATE_MASTER_KEY"), "{out}");
    let new_key = dir.path().join("new.key");
    assert_eq!(mode_of(&new_key), 0o600);
    let text = std::fs::read_to_string(&new_key).unwrap();
    assert!(text.starts_with("v2:"));

    config.master_key = SecretSource::Inline(SecretString::from(text.trim().to_owned()));
    let running = start(config).await.unwrap();
    assert!(running.store().tenants().get(&tenant.id).await.is_ok());
    running.shutdown().await.unwrap();
}

#[test]
fn serve_stops_cleanly_on_sigterm_and_sigint() {
    use std::io::{BufRead, BufReader};
    for (flag, name) in [("-TERM", "SIGTERM"), ("-INT", "SIGINT")] {
        let dir = tempdir();
        let mut child = paygate(dir.path(), &["serve", "--listen", "127.0.0.1:0"], &[])
            .stderr(Stdio::piped())
            .stdout(Stdio::null())
            .spawn()
            .unwrap();
        // The "serving" line names the docs URL; the signal follows it at once.
        let mut lines = BufReader::new(child.stderr.take().unwrap()).lines();
        let serving = lines
            .by_ref()
            .map(|l| l.unwrap())
            .find(|l| l.contains("paygate is serving"))
            .expect("serving line");
        assert!(serving.contains("/docs"), "{serving}");
        let status = std::process::Command::new("kill")
            .args([flag, &child.id().to_string()])
            .status()
            .unwrap();
        assert!(status.success());
        let rest: Vec<String> = lines.map(|l| l.unwrap()).collect();
        let exit = child.wait().unwrap();
        assert!(exit.success(), "{name}: {rest:?}");
        assert!(rest.iter().any(|l| l.contains(name)), "{rest:?}");
    }
}
