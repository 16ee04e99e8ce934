//! paygate's configuration: what every key means, its default, and the validated [`Config`].
//!
//! Layers, later wins: compiled-in defaults → a TOML file (`--config F`, or `./paygate.toml`
//! when present) → `PAYGATE_…` environment variables (`__` separates nested keys:
//! `PAYGATE_UPSTREAM__WECHATPAY_BASE_URL`) → command-line flags. [`load`] extracts and validates
//! in one go; an error names the key and the layer that supplied the bad value.
//!
//! Secrets (`master_key`, `jwt_secret`) are [`SecretString`]s: this module never logs, prints
//! or `Debug`s them, and [`view`] replaces them with `"[redacted]"`. A database URL may carry a
//! password, so it is shown only through [`DatabaseUrl::redacted`].

mod load;
mod reconcile;
pub mod view;
mod webhooks;

use std::fmt;
use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::path::{Path, PathBuf};

use ipnet::IpNet;
use secrecy::SecretString;
use serde::{Deserialize, Serialize};

pub use load::{Flags, Sources, figment, from_figment, load};
pub use reconcile::{
    DEFAULT_RECONCILE_BATCH, DEFAULT_RECONCILE_INTERVAL_SECS, DEFAULT_RECONCILE_PENDING_AGE_SECS,
    Reconcile,
};
pub use webhooks::{
    DEFAULT_WEBHOOKS_BATCH, DEFAULT_WEBHOOKS_CONCURRENCY_PER_TENANT, DEFAULT_WEBHOOKS_INTERVAL_MS,
    Webhooks,
};

/// The WeChat Pay API (v2 and v3) of production.
pub const DEFAULT_WECHATPAY_BASE_URL: &str = "https://api.mch.weixin.qq.com";
/// The mini-program server API of production.
pub const DEFAULT_MINIPROGRAM_BASE_URL: &str = "https://api.weixin.qq.com";
/// `upstream.timeout_ms` when none is configured (10 s).
pub const DEFAULT_UPSTREAM_TIMEOUT_MS: u64 = 10_000;
/// `data_dir` when none is configured.
pub const DEFAULT_DATA_DIR: &str = "./data";
/// `listen` when none is configured: loopback only, so a first start exposes nothing.
pub const DEFAULT_LISTEN: SocketAddr = SocketAddr::new(IpAddr::V4(Ipv4Addr::LOCALHOST), 8080);
/// `admin_token_ttl_secs` when none is configured (15 minutes).
pub const DEFAULT_ADMIN_TOKEN_TTL_SECS: u64 = 900;
/// `lookup_cache_ttl_ms` when none is configured (1 s).
pub const DEFAULT_LOOKUP_CACHE_TTL_MS: u64 = paygate_store::DEFAULT_LOOKUP_TTL_MS;
/// The longest accepted `lookup_cache_ttl_ms`: a revocation made on another instance must not
/// wait longer than this.
pub const MAX_LOOKUP_CACHE_TTL_MS: u64 = 60_000;
/// Where a TOML file is looked for when `--config` is not given.
pub const DEFAULT_CONFIG_FILE: &str = "paygate.toml";

/// Whether `paygate serve` runs for real or as the self-contained demo (`--sim`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Mode {
    Production,
    /// WeChat is the in-process simulator: `public_url` may be plain http and defaults to the
    /// local listen URL.
    Demo,
}

/// Log line format on stderr.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum LogFormat {
    #[default]
    Text,
    Json,
}

/// The validated configuration of one paygate process.
///
/// Built by [`load`] (the binary) or by hand from [`Config::defaults_in`] (tests): fields are
/// public so an end-to-end test can point a server at its own database and upstreams.
#[derive(Debug, Clone)]
pub struct Config {
    /// Where SQLite's file, the generated key files and `demo.json` live.
    pub data_dir: PathBuf,
    pub database_url: DatabaseUrl,
    pub listen: SocketAddr,
    /// The base of the URLs WeChat calls back (notify URLs); `None` in demo mode means
    /// `http://<listen address>`.
    pub public_url: Option<url::Url>,
    /// Peers whose `X-Forwarded-For` is believed.
    pub trusted_proxies: Vec<IpNet>,
    pub master_key: SecretSource,
    pub jwt_secret: SecretSource,
    pub admin_token_ttl_secs: u64,
    /// How long API keys, tenants, channels and apps read by the payment paths may be
    /// answered from memory; a change made on another instance is seen within this time.
    pub lookup_cache_ttl_ms: u64,
    pub log_format: LogFormat,
    pub upstream: Upstream,
    pub reconcile: Reconcile,
    pub webhooks: Webhooks,
    pub rate_limits: RateLimits,
    /// Accept a plain-http `public_url` and plain-http webhook endpoint URLs, as the demo does.
    /// Only for benchmarks and tests where the simulator and the tenant backend run on this
    /// machine (`paygate bench`); never in production.
    pub allow_plain_http: bool,
}

impl Config {
    /// The defaults with `data_dir` = `dir` and everything derived from it (SQLite database,
    /// key files): what [`load`] gives with no file, variable or flag but `data_dir`.
    pub fn defaults_in(dir: &Path) -> Config {
        Config {
            data_dir: dir.to_path_buf(),
            database_url: DatabaseUrl::sqlite_in(dir),
            listen: DEFAULT_LISTEN,
            public_url: None,
            trusted_proxies: Vec::new(),
            master_key: SecretSource::File(dir.join("master.key")),
            jwt_secret: SecretSource::File(dir.join("jwt.secret")),
            admin_token_ttl_secs: DEFAULT_ADMIN_TOKEN_TTL_SECS,
            lookup_cache_ttl_ms: DEFAULT_LOOKUP_CACHE_TTL_MS,
            log_format: LogFormat::Text,
            upstream: Upstream::default(),
            reconcile: Reconcile::default(),
            webhooks: Webhooks::default(),
            rate_limits: RateLimits::default(),
            allow_plain_http: false,
        }
    }
}

/// The remote APIs paygate calls.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Upstream {
    /// WeChat Pay v2 and v3, without a trailing slash.
    pub wechatpay_base_url: String,
    /// v2's `/secapi` (refunds over mutual TLS); `None` = `wechatpay_base_url`.
    pub wechatpay_secapi_base_url: Option<String>,
    /// The mini-program server API, without a trailing slash.
    pub miniprogram_base_url: String,
    /// Extra root CA certificates (PEM) trusted for upstream TLS, besides the system roots.
    pub extra_root_ca_file: Option<PathBuf>,
    /// Whole-request timeout (connect to last byte) of every WeChat call, in milliseconds: a
    /// call that takes longer counts as "no answer" (503 `upstream_unavailable`, retryable).
    pub timeout_ms: u64,
}

impl Upstream {
    /// [`Self::timeout_ms`] as a duration.
    pub fn timeout(&self) -> std::time::Duration {
        std::time::Duration::from_millis(self.timeout_ms)
    }
}

impl Default for Upstream {
    fn default() -> Self {
        Upstream {
            wechatpay_base_url: DEFAULT_WECHATPAY_BASE_URL.to_owned(),
            wechatpay_secapi_base_url: None,
            miniprogram_base_url: DEFAULT_MINIPROGRAM_BASE_URL.to_owned(),
            extra_root_ca_file: None,
            timeout_ms: DEFAULT_UPSTREAM_TIMEOUT_MS,
        }
    }
}

/// Request-rate limits of the tenant API (`rate_limits.*`), each a token bucket: `*_per_second`
/// tokens refill each second, up to `*_burst`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RateLimits {
    /// Every `/v1` request of one tenant.
    pub tenant_per_second: u32,
    pub tenant_burst: u32,
    /// Mini-program logins per appid.
    pub login_per_app_per_second: u32,
    pub login_per_app_burst: u32,
    /// Mini-program logins per client IP.
    pub login_per_ip_per_second: u32,
    pub login_per_ip_burst: u32,
}

impl Default for RateLimits {
    /// The server's defaults (`TenantLimits::default`), as whole numbers.
    fn default() -> Self {
        RateLimits {
            tenant_per_second: 50,
            tenant_burst: 100,
            login_per_app_per_second: 50,
            login_per_app_burst: 100,
            login_per_ip_per_second: 1,
            login_per_ip_burst: 20,
        }
    }
}

impl RateLimits {
    /// The server's limits.
    pub fn settings(&self) -> paygate_server::settings::TenantLimits {
        let limit = |per_second: u32, burst| paygate_server::settings::RateLimit {
            per_second: f64::from(per_second),
            burst,
        };
        paygate_server::settings::TenantLimits {
            per_tenant: limit(self.tenant_per_second, self.tenant_burst),
            login_per_app: limit(self.login_per_app_per_second, self.login_per_app_burst),
            login_per_ip: limit(self.login_per_ip_per_second, self.login_per_ip_burst),
        }
    }
}

/// A secret given inline (configuration / environment) or kept in a file.
#[derive(Clone)]
pub enum SecretSource {
    Inline(SecretString),
    File(PathBuf),
}

impl fmt::Debug for SecretSource {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            SecretSource::Inline(_) => f.write_str("Inline([redacted])"),
            SecretSource::File(p) => f.debug_tuple("File").field(p).finish(),
        }
    }
}

/// Which database engine a URL names.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Backend {
    Sqlite,
    Postgres,
}

/// A database URL. It may contain a password, so `Debug` and [`redacted`](Self::redacted)
/// hide it; [`expose`](Self::expose) is the one way to the real text (for connecting).
#[derive(Clone)]
pub struct DatabaseUrl {
    url: SecretString,
    backend: Backend,
}

impl DatabaseUrl {
    /// Parses `sqlite:…`, `postgres://…` or `postgresql://…`.
    pub fn parse(text: &str) -> Result<DatabaseUrl, String> {
        let backend = if text.starts_with("sqlite:") {
            Backend::Sqlite
        } else if text.starts_with("postgres://") || text.starts_with("postgresql://") {
            Backend::Postgres
        } else {
            return Err("must start with sqlite: or postgres:// (postgresql://)".to_owned());
        };
        Ok(DatabaseUrl {
            url: SecretString::from(text.to_owned()),
            backend,
        })
    }

    /// `sqlite://<dir>/paygate.db` (the store creates the file when missing).
    pub fn sqlite_in(dir: &Path) -> DatabaseUrl {
        DatabaseUrl {
            url: SecretString::from(format!("sqlite://{}", dir.join("paygate.db").display())),
            backend: Backend::Sqlite,
        }
    }

    pub fn backend(&self) -> Backend {
        self.backend
    }

    /// The URL with any password replaced by `[redacted]`, safe to log.
    pub fn redacted(&self) -> String {
        use secrecy::ExposeSecret;
        let text = self.url.expose_secret();
        match url::Url::parse(text) {
            Ok(mut u) if u.password().is_some() => {
                // Only fails for URLs that cannot have a password, which this one has.
                let _ = u.set_password(Some("[redacted]"));
                u.to_string()
            }
            Ok(_) => text.to_owned(),
            Err(_) => "[unparseable database url]".to_owned(),
        }
    }

    /// The SQLite file this URL names, if it is SQLite and names a file.
    pub fn sqlite_path(&self) -> Option<PathBuf> {
        use secrecy::ExposeSecret;
        if self.backend != Backend::Sqlite {
            return None;
        }
        let rest = self.url.expose_secret().strip_prefix("sqlite:")?;
        let rest = rest.strip_prefix("//").unwrap_or(rest);
        let path = rest.split('?').next().unwrap_or(rest);
        (!path.is_empty() && path != ":memory:").then(|| PathBuf::from(path))
    }

    /// The full URL, password included: only for handing to the database driver.
    pub fn expose(&self) -> &str {
        use secrecy::ExposeSecret;
        self.url.expose_secret()
    }
}

impl fmt::Debug for DatabaseUrl {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_tuple("DatabaseUrl")
            .field(&self.redacted())
            .finish()
    }
}

/// Why the configuration was refused. Each message names the key and the layer it came from.
#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    #[error("configuration file {0} does not exist")]
    MissingFile(PathBuf),
    #[error("{0}")]
    Extract(Box<figment::Error>),
    #[error("{key} (from {origin}): {message}")]
    Invalid {
        key: String,
        origin: String,
        message: String,
    },
}

impl ConfigError {
    /// A stable machine code.
    pub fn code(&self) -> &'static str {
        match self {
            ConfigError::MissingFile(_) => "config_file_missing",
            ConfigError::Extract(_) => "config_unreadable",
            ConfigError::Invalid { .. } => "config_invalid",
        }
    }

    /// The key at fault, when one is known.
    pub fn key(&self) -> Option<String> {
        match self {
            ConfigError::MissingFile(_) => None,
            ConfigError::Extract(e) => (!e.path.is_empty()).then(|| e.path.join(".")),
            ConfigError::Invalid { key, .. } => Some(key.clone()),
        }
    }
}

#[cfg(test)]
mod rate_limit_tests {
    use super::RateLimits;

    #[test]
    fn cli_defaults_are_the_servers() {
        assert_eq!(
            RateLimits::default().settings(),
            paygate_server::settings::TenantLimits::default()
        );
    }
}
