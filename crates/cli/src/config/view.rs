//! The effective configuration as `paygate config check` prints it: every secret replaced by
//! `"[redacted]"`, the database password hidden, and where each value came from.

use std::collections::BTreeMap;

use figment::Figment;
use serde_json::{Value, json};

use super::{Config, SecretSource};

/// What replaces a secret.
pub const REDACTED: &str = "[redacted]";

/// The configuration as a JSON tree with no secret in it (same keys as the TOML file).
pub fn redacted(config: &Config) -> Value {
    let mut top = serde_json::Map::new();
    top.insert("data_dir".into(), path(&config.data_dir));
    top.insert("database_url".into(), config.database_url.redacted().into());
    top.insert("listen".into(), config.listen.to_string().into());
    if let Some(url) = &config.public_url {
        top.insert("public_url".into(), url.as_str().into());
    }
    top.insert(
        "trusted_proxies".into(),
        config
            .trusted_proxies
            .iter()
            .map(|n| Value::from(n.to_string()))
            .collect(),
    );
    secret(&mut top, "master_key", &config.master_key);
    secret(&mut top, "jwt_secret", &config.jwt_secret);
    top.insert(
        "admin_token_ttl_secs".into(),
        config.admin_token_ttl_secs.into(),
    );
    top.insert(
        "lookup_cache_ttl_ms".into(),
        config.lookup_cache_ttl_ms.into(),
    );
    top.insert(
        "log_format".into(),
        serde_json::to_value(config.log_format).unwrap_or(Value::Null),
    );
    top.insert("allow_plain_http".into(), config.allow_plain_http.into());
    let up = &config.upstream;
    let mut upstream = serde_json::Map::new();
    upstream.insert(
        "wechatpay_base_url".into(),
        up.wechatpay_base_url.as_str().into(),
    );
    if let Some(u) = &up.wechatpay_secapi_base_url {
        upstream.insert("wechatpay_secapi_base_url".into(), u.as_str().into());
    }
    upstream.insert(
        "miniprogram_base_url".into(),
        up.miniprogram_base_url.as_str().into(),
    );
    if let Some(p) = &up.extra_root_ca_file {
        upstream.insert("extra_root_ca_file".into(), path(p));
    }
    upstream.insert("timeout_ms".into(), up.timeout_ms.into());
    top.insert("upstream".into(), Value::Object(upstream));
    let rl = &config.rate_limits;
    top.insert(
        "rate_limits".into(),
        json!({
            "tenant_per_second": rl.tenant_per_second,
            "tenant_burst": rl.tenant_burst,
            "login_per_app_per_second": rl.login_per_app_per_second,
            "login_per_app_burst": rl.login_per_app_burst,
            "login_per_ip_per_second": rl.login_per_ip_per_second,
            "login_per_ip_burst": rl.login_per_ip_burst,
        }),
    );
    let rc = &config.reconcile;
    top.insert(
        "reconcile".into(),
        json!({
            "enabled": rc.enabled,
            "interval_secs": rc.interval_secs,
            "pending_age_secs": rc.pending_age_secs,
            "batch": rc.batch,
        }),
    );
    let wh = &config.webhooks;
    top.insert(
        "webhooks".into(),
        json!({
            "enabled": wh.enabled,
            "interval_ms": wh.interval_ms,
            "batch": wh.batch,
            "concurrency_per_tenant": wh.concurrency_per_tenant,
            "allow_private_targets": wh.allow_private_targets,
        }),
    );
    Value::Object(top)
}

fn path(p: &std::path::Path) -> Value {
    p.display().to_string().into()
}

fn secret(map: &mut serde_json::Map<String, Value>, key: &str, source: &SecretSource) {
    match source {
        SecretSource::Inline(_) => {
            map.insert(key.to_owned(), REDACTED.into());
        }
        SecretSource::File(p) => {
            map.insert(format!("{key}_file"), path(p));
        }
    }
}

/// Where each key of [`redacted`] came from (dotted key → layer).
pub fn origins(figment: &Figment, tree: &Value) -> BTreeMap<String, String> {
    let mut out = BTreeMap::new();
    walk(figment, tree, "", &mut out);
    out
}

fn walk(figment: &Figment, tree: &Value, prefix: &str, out: &mut BTreeMap<String, String>) {
    let Value::Object(map) = tree else { return };
    for (k, v) in map {
        let key = if prefix.is_empty() {
            k.clone()
        } else {
            format!("{prefix}.{k}")
        };
        if v.is_object() {
            walk(figment, v, &key, out);
        } else {
            out.insert(key.clone(), super::load::origin(figment, &key));
        }
    }
}

/// `{"config": …, "origins": …}`.
pub fn to_json(tree: &Value, origins: &BTreeMap<String, String>) -> Value {
    json!({ "config": tree, "origins": origins })
}

/// TOML, each value followed by a comment naming its origin.
pub fn to_toml(tree: &Value, origins: &BTreeMap<String, String>) -> String {
    let mut out = String::from("# effective paygate configuration; secrets are redacted\n");
    let Value::Object(map) = tree else {
        return out;
    };
    let line = |out: &mut String, key: &str, full: &str, v: &Value| {
        let origin = origins.get(full).map(String::as_str).unwrap_or("default");
        out.push_str(&format!("{key} = {}  # {origin}\n", toml_value(v)));
    };
    for (k, v) in map.iter().filter(|(_, v)| !v.is_object()) {
        line(&mut out, k, k, v);
    }
    for (table, v) in map.iter().filter(|(_, v)| v.is_object()) {
        out.push_str(&format!("\n[{table}]\n"));
        if let Value::Object(inner) = v {
            for (k, v) in inner {
                line(&mut out, k, &format!("{table}.{k}"), v);
            }
        }
    }
    out
}

/// Scalars and arrays only; a JSON string literal is a valid TOML basic string.
fn toml_value(v: &Value) -> String {
    match v {
        Value::Array(items) => {
            let inner: Vec<String> = items.iter().map(toml_value).collect();
            format!("[{}]", inner.join(", "))
        }
        Value::Null => "\"\"".to_owned(),
        other => other.to_string(),
    }
}
