//! Configuration layering and validation, in a `figment::Jail` (own directory and environment).
#![expect(
    clippy::result_large_err,
    reason = "figment::Jail closures return figment's own (large) Result"
)]

use std::path::PathBuf;

use figment::Jail;
use paygate_cli::config::{
    self, Backend, Config, ConfigError, Flags, LogFormat, Mode, SecretSource, Sources,
};

const KEY: &str = "v1:000102030405060708090a0b0c0d0e0f101112131415161718191a1b1c1d1e1f";

fn load(sources: &Sources, mode: Mode) -> Result<Config, ConfigError> {
    config::load(sources, mode)
}

fn prod() -> Result<Config, ConfigError> {
    load(&Sources::default(), Mode::Production)
}

/// Runs `f` in a jail with an empty environment (CI exports unrelated `PAYGATE_…` variables).
fn jail(f: impl FnOnce(&mut Jail) -> figment::error::Result<()>) {
    Jail::expect_with(|jail| {
        jail.clear_env();
        f(jail)
    });
}

fn invalid_key(err: ConfigError) -> (String, String) {
    match err {
        ConfigError::Invalid { key, origin, .. } => (key, origin),
        other => panic!("expected an invalid key, got {other}"),
    }
}

#[test]
fn defaults_without_any_configuration() {
    jail(|_| {
        let c = prod().unwrap();
        assert_eq!(c.data_dir, PathBuf::from("./data"));
        assert_eq!(c.database_url.backend(), Backend::Sqlite);
        assert_eq!(
            c.database_url.sqlite_path(),
            Some(PathBuf::from("./data/paygate.db"))
        );
        assert_eq!(c.listen.to_string(), "127.0.0.1:8080");
        assert!(c.public_url.is_none());
        assert!(c.trusted_proxies.is_empty());
        assert!(
            matches!(&c.master_key, SecretSource::File(p) if p == &PathBuf::from("./data/master.key"))
        );
        assert!(
            matches!(&c.jwt_secret, SecretSource::File(p) if p == &PathBuf::from("./data/jwt.secret"))
        );
        assert_eq!(c.admin_token_ttl_secs, 900);
        assert_eq!(c.lookup_cache_ttl_ms, 1_000);
        assert_eq!(c.log_format, LogFormat::Text);
        assert_eq!(c.reconcile, paygate_cli::config::Reconcile::default());
        assert_eq!(c.reconcile.settings().pending_age.as_secs(), 300);
        assert_eq!(
            c.upstream.wechatpay_base_url,
            "https://api.mch.weixin.qq.com"
        );
        assert_eq!(c.upstream.wechatpay_secapi_base_url, None);
        assert_eq!(c.upstream.miniprogram_base_url, "https://api.weixin.qq.com");
        assert_eq!(c.upstream.timeout_ms, 10_000);
        assert_eq!(c.upstream.timeout(), std::time::Duration::from_secs(10));
        Ok(())
    });
}

#[test]
fn file_then_environment_then_flags_each_override_the_previous() {
    jail(|jail| {
        jail.create_file(
            "paygate.toml",
            r#"
                data_dir = "/srv/paygate"
                listen = "0.0.0.0:1000"
                admin_token_ttl_secs = 600
                log_format = "json"
                [upstream]
                wechatpay_base_url = "https://file.example/"
                [reconcile]
                enabled = false
                interval_secs = 5
            "#,
        )?;
        // The file alone; derived defaults follow its data_dir.
        let c = prod().unwrap();
        assert!(!c.reconcile.enabled);
        assert_eq!(c.reconcile.interval_secs, 5);
        assert_eq!(c.reconcile.batch, 100);
        assert_eq!(c.listen.to_string(), "0.0.0.0:1000");
        assert_eq!(c.admin_token_ttl_secs, 600);
        assert_eq!(c.log_format, LogFormat::Json);
        assert_eq!(c.upstream.wechatpay_base_url, "https://file.example");
        assert_eq!(
            c.database_url.sqlite_path(),
            Some(PathBuf::from("/srv/paygate/paygate.db"))
        );

        jail.set_env("PAYGATE_LISTEN", "0.0.0.0:2000");
        jail.set_env(
            "PAYGATE_UPSTREAM__WECHATPAY_BASE_URL",
            "https://env.example",
        );
        jail.set_env("PAYGATE_TRUSTED_PROXIES", "10.0.0.0/8, 192.168.1.7");
        jail.set_env("PAYGATE_UPSTREAM__TIMEOUT_MS", "2500");
        jail.set_env("PAYGATE_LOOKUP_CACHE_TTL_MS", "0");
        // Someone else's variables under the same prefix are not keys of ours.
        jail.set_env("PAYGATE_TEST_POSTGRES_URL", "postgres://x@y/z");
        let c = prod().unwrap();
        assert_eq!(c.listen.to_string(), "0.0.0.0:2000");
        assert_eq!(c.admin_token_ttl_secs, 600);
        assert_eq!(c.upstream.wechatpay_base_url, "https://env.example");
        assert_eq!(c.upstream.timeout().as_millis(), 2500);
        assert_eq!(c.lookup_cache_ttl_ms, 0, "zero turns the cache off");
        let proxies: Vec<String> = c.trusted_proxies.iter().map(|n| n.to_string()).collect();
        assert_eq!(proxies, ["10.0.0.0/8", "192.168.1.7/32"]);

        let flags = Sources {
            config_file: None,
            flags: Flags {
                listen: Some("127.0.0.1:3000".into()),
                database_url: Some("postgres://paygate@db/paygate".into()),
                ..Flags::default()
            },
        };
        let c = load(&flags, Mode::Production).unwrap();
        assert_eq!(c.listen.to_string(), "127.0.0.1:3000");
        assert_eq!(c.database_url.backend(), Backend::Postgres);
        Ok(())
    });
}

#[test]
fn an_explicit_config_file_must_exist_and_replaces_the_default_one() {
    jail(|jail| {
        jail.create_file("paygate.toml", "listen = \"0.0.0.0:1000\"")?;
        jail.create_file("other.toml", "listen = \"0.0.0.0:4000\"")?;
        let sources = |f: &str| Sources {
            config_file: Some(PathBuf::from(f)),
            flags: Flags::default(),
        };
        let c = load(&sources("other.toml"), Mode::Production).unwrap();
        assert_eq!(c.listen.to_string(), "0.0.0.0:4000");
        let err = load(&sources("missing.toml"), Mode::Production).unwrap_err();
        assert_eq!(err.code(), "config_file_missing");
        Ok(())
    });
}

#[test]
fn a_list_in_toml_and_secrets_inline() {
    jail(|jail| {
        jail.create_file(
            "paygate.toml",
            &format!(
                "trusted_proxies = [\"::1\", \"fd00::/8\"]\nmaster_key = \"{KEY}\"\n\
                 jwt_secret = \"{}\"\n",
                "s".repeat(32)
            ),
        )?;
        let c = prod().unwrap();
        assert_eq!(c.trusted_proxies.len(), 2);
        assert!(matches!(c.master_key, SecretSource::Inline(_)));
        assert!(matches!(c.jwt_secret, SecretSource::Inline(_)));
        // Debug output never shows them.
        let shown = format!("{c:?}");
        assert!(!shown.contains("0102030405"), "{shown}");
        assert!(!shown.contains("ssssssss"), "{shown}");
        Ok(())
    });
}

#[test]
fn unknown_keys_in_the_file_are_refused_with_their_name() {
    jail(|jail| {
        jail.create_file("paygate.toml", "lissen = \"0.0.0.0:1\"")?;
        let err = prod().unwrap_err();
        assert_eq!(err.code(), "config_unreadable");
        assert!(err.to_string().contains("lissen"), "{err}");
        assert!(err.to_string().contains("paygate.toml"), "{err}");
        Ok(())
    });
}

#[test]
fn a_bad_value_names_its_key_and_its_source() {
    jail(|jail| {
        jail.set_env("PAYGATE_LISTEN", "not-an-address");
        let err = prod().unwrap_err();
        assert_eq!(err.key().as_deref(), Some("listen"));
        let text = err.to_string();
        assert!(text.contains("PAYGATE_"), "{text}");
        Ok(())
    });
}

/// One rejected value per case: (key, env var, value, expected message fragment).
#[test]
fn each_validation_rule_rejects_with_key_and_origin() {
    let long = format!("https://{}.example", "a".repeat(200));
    let cases: &[(&str, &str, &str, &str)] = &[
        (
            "database_url",
            "PAYGATE_DATABASE_URL",
            "mysql://x",
            "sqlite:",
        ),
        (
            "public_url",
            "PAYGATE_PUBLIC_URL",
            "http://pay.example",
            "https",
        ),
        (
            "public_url",
            "PAYGATE_PUBLIC_URL",
            "https://pay.example/?a=1",
            "query",
        ),
        (
            "public_url",
            "PAYGATE_PUBLIC_URL",
            "https://u:p@pay.example",
            "user name",
        ),
        (
            "public_url",
            "PAYGATE_PUBLIC_URL",
            "ftp://pay.example",
            "http(s)",
        ),
        ("public_url", "PAYGATE_PUBLIC_URL", &long, "256"),
        (
            "trusted_proxies",
            "PAYGATE_TRUSTED_PROXIES",
            "10.0.0.0/33",
            "CIDR",
        ),
        ("master_key", "PAYGATE_MASTER_KEY", "v1:abcd", "64"),
        (
            "master_key",
            "PAYGATE_MASTER_KEY",
            &KEY.replace("v1", "v0"),
            "version",
        ),
        ("jwt_secret", "PAYGATE_JWT_SECRET", "short-secret", "32"),
        (
            "admin_token_ttl_secs",
            "PAYGATE_ADMIN_TOKEN_TTL_SECS",
            "5",
            "between",
        ),
        (
            "lookup_cache_ttl_ms",
            "PAYGATE_LOOKUP_CACHE_TTL_MS",
            "60001",
            "between",
        ),
        (
            "reconcile.interval_secs",
            "PAYGATE_RECONCILE__INTERVAL_SECS",
            "0",
            "between",
        ),
        (
            "reconcile.pending_age_secs",
            "PAYGATE_RECONCILE__PENDING_AGE_SECS",
            "5",
            "between",
        ),
        (
            "reconcile.batch",
            "PAYGATE_RECONCILE__BATCH",
            "1001",
            "between",
        ),
        (
            "upstream.wechatpay_base_url",
            "PAYGATE_UPSTREAM__WECHATPAY_BASE_URL",
            "ftp://x",
            "http",
        ),
        (
            "upstream.miniprogram_base_url",
            "PAYGATE_UPSTREAM__MINIPROGRAM_BASE_URL",
            "nope",
            "URL",
        ),
        (
            "upstream.wechatpay_secapi_base_url",
            "PAYGATE_UPSTREAM__WECHATPAY_SECAPI_BASE_URL",
            "https://x/?q",
            "query",
        ),
        (
            "upstream.timeout_ms",
            "PAYGATE_UPSTREAM__TIMEOUT_MS",
            "99",
            "between",
        ),
        (
            "upstream.timeout_ms",
            "PAYGATE_UPSTREAM__TIMEOUT_MS",
            "60001",
            "between",
        ),
        (
            "upstream.extra_root_ca_file",
            "PAYGATE_UPSTREAM__EXTRA_ROOT_CA_FILE",
            "/nonexistent/ca.pem",
            "readable",
        ),
    ];
    for (key, var, value, fragment) in cases {
        jail(|jail| {
            jail.set_env(var, value);
            let err = prod().unwrap_err();
            let text = err.to_string();
            assert_eq!(err.code(), "config_invalid", "{var}={value}: {text}");
            let (k, origin) = invalid_key(err);
            assert_eq!(&k, key, "{text}");
            assert!(origin.contains(var), "{var}: origin {origin}");
            assert!(text.contains(fragment), "{var}={value}: {text}");
            // The rejected value of a secret never appears in the message.
            if key.contains("key") || key.contains("secret") {
                assert!(!text.contains(*value), "{text}");
            }
            Ok(())
        });
    }
}

#[test]
fn secret_given_twice_is_ambiguous() {
    jail(|jail| {
        jail.set_env("PAYGATE_MASTER_KEY", KEY);
        jail.set_env("PAYGATE_MASTER_KEY_FILE", "/etc/paygate/master.key");
        let (key, _) = invalid_key(prod().unwrap_err());
        assert_eq!(key, "master_key");
        jail.clear_env();
        jail.set_env("PAYGATE_JWT_SECRET", "j".repeat(40));
        jail.set_env("PAYGATE_JWT_SECRET_FILE", "/etc/paygate/jwt");
        let (key, _) = invalid_key(prod().unwrap_err());
        assert_eq!(key, "jwt_secret");
        Ok(())
    });
}

#[test]
fn plain_http_public_url_only_in_the_demo() {
    jail(|jail| {
        jail.set_env("PAYGATE_PUBLIC_URL", "http://127.0.0.1:8080");
        assert!(prod().is_err());
        let c = load(&Sources::default(), Mode::Demo).unwrap();
        assert_eq!(
            c.public_url.map(|u| u.to_string()),
            Some("http://127.0.0.1:8080/".to_owned())
        );
        Ok(())
    });
}

#[test]
fn allow_plain_http_admits_an_http_public_url_outside_the_demo() {
    jail(|jail| {
        jail.set_env("PAYGATE_PUBLIC_URL", "http://127.0.0.1:8080");
        jail.set_env("PAYGATE_ALLOW_PLAIN_HTTP", "false");
        let (key, _) = invalid_key(prod().unwrap_err());
        assert_eq!(key, "public_url");
        jail.set_env("PAYGATE_ALLOW_PLAIN_HTTP", "true");
        let c = prod().unwrap();
        assert!(c.allow_plain_http);
        assert_eq!(
            c.public_url.map(|u| u.to_string()),
            Some("http://127.0.0.1:8080/".to_owned())
        );
        Ok(())
    });
}

#[test]
fn the_origin_of_a_value_from_a_file_names_the_file() {
    jail(|jail| {
        jail.create_file("paygate.toml", "admin_token_ttl_secs = 1")?;
        let (key, origin) = invalid_key(prod().unwrap_err());
        assert_eq!(key, "admin_token_ttl_secs");
        assert!(origin.contains("paygate.toml"), "{origin}");
        Ok(())
    });
}

#[test]
fn database_url_password_is_hidden_in_debug_and_redacted() {
    let url =
        config::DatabaseUrl::parse("postgres://paygate:hunter2secret@db:5432/paygate").unwrap();
    assert!(!format!("{url:?}").contains("hunter2secret"));
    assert!(!url.redacted().contains("hunter2secret"));
    assert!(url.redacted().contains("db:5432"));
    assert!(url.expose().contains("hunter2secret"));
}

/// Every key `paygate.example.toml` documents (commented out) is a real key with a valid
/// example value.
#[test]
fn the_example_file_documents_real_keys() {
    let example = std::fs::read_to_string(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../../paygate.example.toml"
    ))
    .unwrap();
    // Inline secrets are placeholders and would conflict with their *_file twins; the CA
    // file does not exist here.
    let skip = ["master_key =", "jwt_secret =", "extra_root_ca_file ="];
    let mut uncommented = String::new();
    let mut keys = 0;
    for line in example.lines() {
        match line.strip_prefix("# ") {
            Some(rest) if rest.split(' ').nth(1) == Some("=") => {
                keys += 1;
                if skip.iter().any(|s| rest.starts_with(s)) {
                    uncommented.push_str(line);
                } else {
                    uncommented.push_str(rest);
                }
            }
            _ => uncommented.push_str(line),
        }
        uncommented.push('\n');
    }
    // Every key of the configuration, once.
    assert_eq!(keys, 31);
    jail(|jail| {
        jail.create_file("paygate.toml", &uncommented)?;
        let c = prod().unwrap();
        assert_eq!(c.database_url.backend(), Backend::Postgres);
        assert_eq!(c.trusted_proxies.len(), 2);
        assert_eq!(c.webhooks, paygate_cli::config::Webhooks::default());
        Ok(())
    });
}

#[test]
fn webhook_worker_keys_are_range_checked() {
    jail(|jail| {
        jail.set_env("PAYGATE_WEBHOOKS__INTERVAL_MS", "250");
        jail.set_env("PAYGATE_WEBHOOKS__ALLOW_PRIVATE_TARGETS", "true");
        let c = prod().unwrap();
        assert_eq!(c.webhooks.interval_ms, 250);
        assert!(c.webhooks.allow_private_targets);
        let settings = c.webhooks.settings();
        assert_eq!(settings.interval, std::time::Duration::from_millis(250));
        assert!(settings.allow_private_targets);
        for (key, bad) in [
            ("PAYGATE_WEBHOOKS__INTERVAL_MS", "10"),
            ("PAYGATE_WEBHOOKS__BATCH", "0"),
            ("PAYGATE_WEBHOOKS__CONCURRENCY_PER_TENANT", "65"),
        ] {
            jail.set_env(key, bad);
            let err = prod().unwrap_err().to_string();
            assert!(err.contains("webhooks."), "{key}={bad}: {err}");
            jail.set_env(
                key,
                match key {
                    "PAYGATE_WEBHOOKS__INTERVAL_MS" => "250",
                    "PAYGATE_WEBHOOKS__BATCH" => "100",
                    _ => "4",
                },
            );
        }
        Ok(())
    });
}

#[test]
fn defaults_in_matches_what_load_gives_for_that_data_dir() {
    jail(|jail| {
        jail.set_env("PAYGATE_DATA_DIR", "/srv/pg");
        let loaded = prod().unwrap();
        let built = Config::defaults_in(std::path::Path::new("/srv/pg"));
        assert_eq!(format!("{loaded:?}"), format!("{built:?}"));
        Ok(())
    });
}
