//! Building the layered figment and turning what it extracts into a validated [`Config`].

use std::net::{IpAddr, SocketAddr};
use std::path::{Path, PathBuf};

use figment::providers::{Env, Format, Serialized, Toml};
use figment::value::{Dict, Map};
use figment::{Figment, Metadata, Profile, Provider, Source};
use ipnet::IpNet;
use secrecy::{ExposeSecret, SecretString};
use serde::{Deserialize, Deserializer, Serialize};

use super::reconcile::RawReconcile;
use super::webhooks::RawWebhooks;
use super::{
    Config, ConfigError, DEFAULT_ADMIN_TOKEN_TTL_SECS, DEFAULT_CONFIG_FILE, DEFAULT_DATA_DIR,
    DEFAULT_LISTEN, DEFAULT_LOOKUP_CACHE_TTL_MS, DEFAULT_MINIPROGRAM_BASE_URL,
    DEFAULT_RECONCILE_BATCH, DEFAULT_RECONCILE_INTERVAL_SECS, DEFAULT_RECONCILE_PENDING_AGE_SECS,
    DEFAULT_UPSTREAM_TIMEOUT_MS, DEFAULT_WECHATPAY_BASE_URL, DatabaseUrl, LogFormat,
    MAX_LOOKUP_CACHE_TTL_MS, Mode, RateLimits, SecretSource, Upstream,
};

/// Top-level keys; environment variables outside this list (`PAYGATE_SIM_LISTEN`, the test
/// suite's `PAYGATE_TEST_POSTGRES_URL` …) belong to someone else and are ignored.
const KEYS: &[&str] = &[
    "data_dir",
    "database_url",
    "listen",
    "public_url",
    "trusted_proxies",
    "master_key",
    "master_key_file",
    "jwt_secret",
    "jwt_secret_file",
    "admin_token_ttl_secs",
    "lookup_cache_ttl_ms",
    "log_format",
    "upstream",
    "reconcile",
    "webhooks",
    "rate_limits",
    "allow_plain_http",
];

/// Shortest accepted JWT signing secret (the server's rule).
const MIN_JWT_SECRET_LEN: usize = paygate_server::settings::MIN_JWT_SECRET_BYTES;
/// Every rate-limit rate and burst.
const RATE_LIMIT_RANGE: std::ops::RangeInclusive<u32> = 1..=1_000_000;
/// Admin tokens live between a minute and a day.
const TTL_RANGE: std::ops::RangeInclusive<u64> = 60..=86_400;
/// Below 100 ms even a healthy WeChat call fails; above a minute a request outlives its client.
const UPSTREAM_TIMEOUT_RANGE: std::ops::RangeInclusive<u64> = 100..=60_000;

/// Where the configuration comes from besides the defaults and the environment.
#[derive(Debug, Clone, Default)]
pub struct Sources {
    /// `--config F`: must exist. `None`: `./paygate.toml` if it exists.
    pub config_file: Option<PathBuf>,
    pub flags: Flags,
}

/// Values given as command-line flags: the last layer.
#[derive(Debug, Clone, Default, Serialize)]
pub struct Flags {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub data_dir: Option<PathBuf>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub listen: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub database_url: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub public_url: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub log_format: Option<LogFormat>,
}

/// A serialized layer with a name that error messages and `config check` can show.
struct Layer<T> {
    name: &'static str,
    value: T,
}

impl<T: Serialize> Provider for Layer<T> {
    fn metadata(&self) -> Metadata {
        Metadata::named(self.name)
    }

    fn data(&self) -> Result<Map<Profile, Dict>, figment::Error> {
        Serialized::defaults(&self.value).data()
    }
}

fn defaults() -> serde_json::Value {
    serde_json::json!({
        "data_dir": DEFAULT_DATA_DIR,
        "listen": DEFAULT_LISTEN.to_string(),
        "trusted_proxies": [],
        "admin_token_ttl_secs": DEFAULT_ADMIN_TOKEN_TTL_SECS,
        "lookup_cache_ttl_ms": DEFAULT_LOOKUP_CACHE_TTL_MS,
        "log_format": "text",
        "allow_plain_http": false,
        "upstream": {
            "wechatpay_base_url": DEFAULT_WECHATPAY_BASE_URL,
            "miniprogram_base_url": DEFAULT_MINIPROGRAM_BASE_URL,
            "timeout_ms": DEFAULT_UPSTREAM_TIMEOUT_MS,
        },
        "rate_limits": {
            "tenant_per_second": RateLimits::default().tenant_per_second,
            "tenant_burst": RateLimits::default().tenant_burst,
            "login_per_app_per_second": RateLimits::default().login_per_app_per_second,
            "login_per_app_burst": RateLimits::default().login_per_app_burst,
            "login_per_ip_per_second": RateLimits::default().login_per_ip_per_second,
            "login_per_ip_burst": RateLimits::default().login_per_ip_burst,
        },
        "reconcile": {
            "enabled": true,
            "interval_secs": DEFAULT_RECONCILE_INTERVAL_SECS,
            "pending_age_secs": DEFAULT_RECONCILE_PENDING_AGE_SECS,
            "batch": DEFAULT_RECONCILE_BATCH,
        },
        "webhooks": {
            "enabled": true,
            "interval_ms": super::DEFAULT_WEBHOOKS_INTERVAL_MS,
            "batch": super::DEFAULT_WEBHOOKS_BATCH,
            "concurrency_per_tenant": super::DEFAULT_WEBHOOKS_CONCURRENCY_PER_TENANT,
            "allow_private_targets": false,
        },
    })
}

/// The layered figment (defaults → TOML file → `PAYGATE_…` → flags), not yet extracted.
pub fn figment(sources: &Sources) -> Result<Figment, ConfigError> {
    let mut figment = Figment::from(Layer {
        name: "default",
        value: defaults(),
    });
    match &sources.config_file {
        Some(path) if !path.is_file() => return Err(ConfigError::MissingFile(path.clone())),
        Some(path) => figment = figment.merge(Toml::file_exact(path)),
        // Only the working directory: a paygate.toml in a parent directory is a surprise.
        None if Path::new(DEFAULT_CONFIG_FILE).is_file() => {
            figment = figment.merge(Toml::file_exact(DEFAULT_CONFIG_FILE));
        }
        None => {}
    }
    let env = Env::prefixed("PAYGATE_").split("__").filter(|k| {
        let top = k.as_str().split('.').next().unwrap_or_default();
        KEYS.iter().any(|known| known.eq_ignore_ascii_case(top))
    });
    Ok(figment.merge(env).merge(Layer {
        name: "command-line flag",
        value: sources.flags.clone(),
    }))
}

/// Loads and validates the configuration for `mode`.
pub fn load(sources: &Sources, mode: Mode) -> Result<Config, ConfigError> {
    from_figment(&figment(sources)?, mode)
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct Raw {
    data_dir: PathBuf,
    database_url: Option<String>,
    listen: SocketAddr,
    public_url: Option<String>,
    #[serde(deserialize_with = "string_or_list")]
    trusted_proxies: Vec<String>,
    master_key: Option<SecretString>,
    master_key_file: Option<PathBuf>,
    jwt_secret: Option<SecretString>,
    jwt_secret_file: Option<PathBuf>,
    admin_token_ttl_secs: u64,
    lookup_cache_ttl_ms: u64,
    log_format: LogFormat,
    upstream: RawUpstream,
    reconcile: RawReconcile,
    webhooks: RawWebhooks,
    rate_limits: RawRateLimits,
    allow_plain_http: bool,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawRateLimits {
    tenant_per_second: u32,
    tenant_burst: u32,
    login_per_app_per_second: u32,
    login_per_app_burst: u32,
    login_per_ip_per_second: u32,
    login_per_ip_burst: u32,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawUpstream {
    wechatpay_base_url: String,
    wechatpay_secapi_base_url: Option<String>,
    miniprogram_base_url: String,
    extra_root_ca_file: Option<PathBuf>,
    timeout_ms: u64,
}

/// A TOML list, or (handier in an environment variable) one comma-separated string.
fn string_or_list<'de, D: Deserializer<'de>>(d: D) -> Result<Vec<String>, D::Error> {
    #[derive(Deserialize)]
    #[serde(untagged)]
    enum Either {
        One(String),
        Many(Vec<String>),
    }
    Ok(match Either::deserialize(d)? {
        Either::One(s) => s
            .split(',')
            .map(str::trim)
            .filter(|s| !s.is_empty())
            .map(str::to_owned)
            .collect(),
        Either::Many(v) => v,
    })
}

/// Extracts and validates.
pub fn from_figment(figment: &Figment, mode: Mode) -> Result<Config, ConfigError> {
    let raw: Raw = figment
        .extract()
        .map_err(|e| ConfigError::Extract(Box::new(e)))?;
    let invalid = |key: &str, message: String| ConfigError::Invalid {
        key: key.to_owned(),
        origin: origin(figment, key),
        message,
    };

    if raw.data_dir.as_os_str().is_empty() {
        return Err(invalid("data_dir", "must not be empty".into()));
    }
    let database_url = match &raw.database_url {
        Some(text) => DatabaseUrl::parse(text).map_err(|m| invalid("database_url", m))?,
        None => DatabaseUrl::sqlite_in(&raw.data_dir),
    };
    let public_url = raw
        .public_url
        .as_deref()
        .filter(|s| !s.is_empty())
        .map(|s| check_public_url(s, mode, raw.allow_plain_http))
        .transpose()
        .map_err(|m| invalid("public_url", m))?;
    let trusted_proxies = raw
        .trusted_proxies
        .iter()
        .map(|s| parse_proxy(s))
        .collect::<Result<Vec<_>, _>>()
        .map_err(|m| invalid("trusted_proxies", m))?;
    let master_key = match (raw.master_key, raw.master_key_file) {
        (Some(_), Some(_)) => {
            return Err(invalid(
                "master_key",
                "set master_key or master_key_file, not both".into(),
            ));
        }
        (Some(key), None) => {
            crate::keyfile::parse_master_key(key.expose_secret())
                .map_err(|e| invalid("master_key", e.to_string()))?;
            SecretSource::Inline(key)
        }
        (None, file) => SecretSource::File(file.unwrap_or_else(|| raw.data_dir.join("master.key"))),
    };
    let jwt_secret = match (raw.jwt_secret, raw.jwt_secret_file) {
        (Some(_), Some(_)) => {
            return Err(invalid(
                "jwt_secret",
                "set jwt_secret or jwt_secret_file, not both".into(),
            ));
        }
        (Some(secret), None) => {
            // Trimmed like a secret file's content, so both forms sign alike.
            let secret = SecretString::from(secret.expose_secret().trim().to_owned());
            if secret.expose_secret().len() < MIN_JWT_SECRET_LEN {
                return Err(invalid(
                    "jwt_secret",
                    format!("must be at least {MIN_JWT_SECRET_LEN} characters"),
                ));
            }
            SecretSource::Inline(secret)
        }
        (None, file) => SecretSource::File(file.unwrap_or_else(|| raw.data_dir.join("jwt.secret"))),
    };
    if !TTL_RANGE.contains(&raw.admin_token_ttl_secs) {
        return Err(invalid(
            "admin_token_ttl_secs",
            format!(
                "must be between {} and {} seconds",
                TTL_RANGE.start(),
                TTL_RANGE.end()
            ),
        ));
    }
    let up = raw.upstream;
    if !UPSTREAM_TIMEOUT_RANGE.contains(&up.timeout_ms) {
        let message = format!("must be between {UPSTREAM_TIMEOUT_RANGE:?} milliseconds");
        return Err(invalid("upstream.timeout_ms", message));
    }
    let upstream = Upstream {
        wechatpay_base_url: check_upstream_url(&up.wechatpay_base_url)
            .map_err(|m| invalid("upstream.wechatpay_base_url", m))?,
        wechatpay_secapi_base_url: up
            .wechatpay_secapi_base_url
            .as_deref()
            .filter(|s| !s.is_empty())
            .map(check_upstream_url)
            .transpose()
            .map_err(|m| invalid("upstream.wechatpay_secapi_base_url", m))?,
        miniprogram_base_url: check_upstream_url(&up.miniprogram_base_url)
            .map_err(|m| invalid("upstream.miniprogram_base_url", m))?,
        extra_root_ca_file: match up.extra_root_ca_file {
            Some(p) if !p.is_file() => {
                return Err(invalid(
                    "upstream.extra_root_ca_file",
                    format!("{} is not a readable file", p.display()),
                ));
            }
            other => other,
        },
        timeout_ms: up.timeout_ms,
    };
    let rl = raw.rate_limits;
    for (key, value) in [
        ("rate_limits.tenant_per_second", rl.tenant_per_second),
        ("rate_limits.tenant_burst", rl.tenant_burst),
        (
            "rate_limits.login_per_app_per_second",
            rl.login_per_app_per_second,
        ),
        ("rate_limits.login_per_app_burst", rl.login_per_app_burst),
        (
            "rate_limits.login_per_ip_per_second",
            rl.login_per_ip_per_second,
        ),
        ("rate_limits.login_per_ip_burst", rl.login_per_ip_burst),
    ] {
        if !RATE_LIMIT_RANGE.contains(&value) {
            return Err(invalid(
                key,
                format!(
                    "must be between {} and {}",
                    RATE_LIMIT_RANGE.start(),
                    RATE_LIMIT_RANGE.end()
                ),
            ));
        }
    }
    let rate_limits = RateLimits {
        tenant_per_second: rl.tenant_per_second,
        tenant_burst: rl.tenant_burst,
        login_per_app_per_second: rl.login_per_app_per_second,
        login_per_app_burst: rl.login_per_app_burst,
        login_per_ip_per_second: rl.login_per_ip_per_second,
        login_per_ip_burst: rl.login_per_ip_burst,
    };
    let reconcile = raw.reconcile.check(&invalid)?;
    let webhooks = raw.webhooks.check(&invalid)?;
    if raw.lookup_cache_ttl_ms > MAX_LOOKUP_CACHE_TTL_MS {
        return Err(invalid(
            "lookup_cache_ttl_ms",
            format!("must be between 0 and {MAX_LOOKUP_CACHE_TTL_MS} milliseconds"),
        ));
    }
    Ok(Config {
        data_dir: raw.data_dir,
        database_url,
        listen: raw.listen,
        public_url,
        trusted_proxies,
        master_key,
        jwt_secret,
        admin_token_ttl_secs: raw.admin_token_ttl_secs,
        lookup_cache_ttl_ms: raw.lookup_cache_ttl_ms,
        log_format: raw.log_format,
        upstream,
        reconcile,
        webhooks,
        rate_limits,
        allow_plain_http: raw.allow_plain_http,
    })
}

/// Which layer supplied `key`, with the file or variable name when there is one.
pub(super) fn origin(figment: &Figment, key: &str) -> String {
    let Some(meta) = figment.find_metadata(key) else {
        return "default, derived from data_dir".to_owned();
    };
    let keys: Vec<&str> = key.split('.').collect();
    match &meta.source {
        Some(Source::File(path)) => format!("{} {}", meta.name, path.display()),
        _ if meta.name.contains("environment") => {
            format!(
                "environment variable PAYGATE_{}",
                keys.join("__").to_ascii_uppercase()
            )
        }
        _ => meta.name.to_string(),
    }
}

/// The server's rules for `public_url` (https, no query, short enough for every notify URL);
/// plain http only for the demo or with `allow_plain_http`.
pub fn check_public_url(
    text: &str,
    mode: Mode,
    allow_plain_http: bool,
) -> Result<url::Url, String> {
    let url = url::Url::parse(text).map_err(|e| format!("is not a URL: {e}"))?;
    let insecure = mode == Mode::Demo || allow_plain_http;
    paygate_server::settings::check_public_url(&url, insecure).map_err(|e| {
        let text = e.to_string();
        text.strip_prefix("public_url ").unwrap_or(&text).to_owned()
    })?;
    Ok(url)
}

/// An http(s) base URL without query, returned without a trailing slash.
fn check_upstream_url(text: &str) -> Result<String, String> {
    let url = url::Url::parse(text).map_err(|e| format!("is not a URL: {e}"))?;
    if !matches!(url.scheme(), "http" | "https") {
        return Err("must be an http or https URL".into());
    }
    if url.query().is_some() || url.fragment().is_some() {
        return Err("must not have a query or fragment".into());
    }
    Ok(text.trim_end_matches('/').to_owned())
}

/// An address (`10.0.0.1`) or a network (`10.0.0.0/8`).
fn parse_proxy(text: &str) -> Result<IpNet, String> {
    let text = text.trim();
    if let Ok(net) = text.parse::<IpNet>() {
        return Ok(net);
    }
    text.parse::<IpAddr>()
        .map(IpNet::from)
        .map_err(|_| format!("{text:?} is neither an IP address nor a CIDR network"))
}
