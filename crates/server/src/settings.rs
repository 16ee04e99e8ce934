//! What the server needs to know from the configuration, and the rules it must satisfy.
//!
//! The CLI owns the configuration file and environment; it builds a [`ServerSettings`] and
//! calls [`ServerSettings::validate`] before serving. Nothing here reads files or the
//! environment, and nothing here may print the JWT secret.

use std::fmt;
use std::time::Duration;

use ipnet::IpNet;
use paygate_core::{ChannelId, NotifyUrl};
use secrecy::{ExposeSecret, SecretString};
use url::Url;

pub use crate::auth::token_bucket::RateLimit;

/// The JWT `iss` claim of operator tokens.
pub const JWT_ISSUER: &str = "paygate";
/// The JWT `aud` claim of operator tokens.
pub const JWT_AUDIENCE: &str = "paygate-admin";
/// HS256 needs at least as many key bytes as the hash output (RFC 7518 §3.2).
pub const MIN_JWT_SECRET_BYTES: usize = 32;
/// WeChat's limit on `notify_url` (both protocol versions).
pub const MAX_NOTIFY_URL_LEN: usize = 256;
/// The longest channel id paygate accepts ([`ChannelId`] allows 1–64 characters).
const MAX_CHANNEL_ID_LEN: usize = 64;
/// The longest notify path suffix ("payment" is longer than "refund").
const LONGEST_NOTIFY_KIND: &str = "payment";

/// How operator tokens are signed and checked.
pub struct JwtSettings {
    /// The HS256 key; at least [`MIN_JWT_SECRET_BYTES`] bytes.
    pub secret: SecretString,
    /// Always [`JWT_ISSUER`] in production; a field so tests can prove a foreign issuer fails.
    pub issuer: String,
    /// Always [`JWT_AUDIENCE`] in production.
    pub audience: String,
    /// Lifetime of an issued token (default 15 minutes).
    pub ttl: Duration,
}

impl JwtSettings {
    /// Settings with the standard issuer, audience and a 15-minute lifetime.
    pub fn new(secret: SecretString) -> Self {
        JwtSettings {
            secret,
            issuer: JWT_ISSUER.to_owned(),
            audience: JWT_AUDIENCE.to_owned(),
            ttl: Duration::from_secs(15 * 60),
        }
    }
}

impl fmt::Debug for JwtSettings {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("JwtSettings")
            .field("secret", &"[redacted]")
            .field("issuer", &self.issuer)
            .field("audience", &self.audience)
            .field("ttl", &self.ttl)
            .finish()
    }
}

/// Brute-force protection of `POST /admin/v1/login`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct LoginLimits {
    /// Failures allowed per (username, client IP) within `window`.
    pub per_user_and_ip: u32,
    /// Failures allowed per client IP (all usernames) within `window`; higher, because
    /// several operators may share one NAT address.
    pub per_ip: u32,
    pub window: Duration,
}

impl Default for LoginLimits {
    fn default() -> Self {
        LoginLimits {
            per_user_and_ip: 5,
            per_ip: 20,
            window: Duration::from_secs(15 * 60),
        }
    }
}

/// Everything the HTTP layer is configured with.
#[derive(Debug)]
pub struct ServerSettings {
    /// The externally reachable base URL (`https://pay.example.com`), from which notify URLs
    /// are derived. `None` until payments are served (the admin API does not need it).
    pub public_url: Option<Url>,
    /// Demo only: accept an `http://` public URL.
    pub allow_insecure_public_url: bool,
    /// Demo only: accept `http://` webhook URLs.
    pub allow_insecure_webhook_urls: bool,
    /// Peers whose `X-Forwarded-For` is believed (reverse proxies). Empty: the TCP peer is the
    /// client.
    pub trusted_proxies: Vec<IpNet>,
    pub jwt: JwtSettings,
    pub login_limits: LoginLimits,
    /// Largest accepted request body.
    pub body_limit_bytes: usize,
    /// A request still running after this is answered with 408 `request_timeout`.
    pub request_timeout: Duration,
    /// Request-rate limits of the tenant API (`/v1`).
    pub tenant_limits: TenantLimits,
    /// Where WeChat's mini-program APIs are (`jscode2session`, access tokens, wxacode): the
    /// production host, or the simulator's URL in tests and the demo.
    pub miniprogram_base_url: String,
    /// Whole-request timeout of each mini-program API call (`upstream.timeout_ms`).
    pub miniprogram_timeout: Duration,
}

/// Request-rate limits of the tenant API, each a token bucket.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct TenantLimits {
    /// Every `/v1` request of one tenant (API key or session).
    pub per_tenant: RateLimit,
    /// `POST /v1/apps/{appid}/sessions` per appid: each login costs a `jscode2session` call,
    /// which WeChat rate-limits per app.
    pub login_per_app: RateLimit,
    /// `POST /v1/apps/{appid}/sessions` per client IP, so one client cannot use up an app's
    /// login allowance.
    pub login_per_ip: RateLimit,
}

impl Default for TenantLimits {
    fn default() -> Self {
        TenantLimits {
            per_tenant: RateLimit {
                per_second: 50.0,
                burst: 100,
            },
            login_per_app: RateLimit {
                per_second: 50.0,
                burst: 100,
            },
            login_per_ip: RateLimit {
                per_second: 1.0,
                burst: 20,
            },
        }
    }
}

impl ServerSettings {
    /// Defaults everywhere except the JWT secret, which has none.
    pub fn new(jwt: JwtSettings) -> Self {
        ServerSettings {
            public_url: None,
            allow_insecure_public_url: false,
            allow_insecure_webhook_urls: false,
            trusted_proxies: Vec::new(),
            jwt,
            login_limits: LoginLimits::default(),
            body_limit_bytes: 256 * 1024,
            request_timeout: Duration::from_secs(30),
            tenant_limits: TenantLimits::default(),
            miniprogram_base_url: paygate_miniprogram::DEFAULT_BASE_URL.to_owned(),
            miniprogram_timeout: Duration::from_secs(10),
        }
    }

    /// Checks the rules a running server relies on; the CLI calls this before serving.
    pub fn validate(&self) -> Result<(), SettingsError> {
        if self.jwt.secret.expose_secret().len() < MIN_JWT_SECRET_BYTES {
            return Err(SettingsError::JwtSecretTooShort);
        }
        if self.jwt.ttl.is_zero() {
            return Err(SettingsError::JwtTtlZero);
        }
        if self.body_limit_bytes == 0 {
            return Err(SettingsError::BodyLimitZero);
        }
        if self.request_timeout.is_zero() {
            return Err(SettingsError::RequestTimeoutZero);
        }
        // A request still running when its idempotency claim lapses would run alongside its
        // own retry.
        if self.request_timeout >= paygate_store::IDEMPOTENCY_CLAIM_LEASE {
            return Err(SettingsError::RequestTimeoutTooLong);
        }
        if let Some(url) = &self.public_url {
            check_public_url(url, self.allow_insecure_public_url)?;
        }
        let l = &self.tenant_limits;
        for limit in [l.per_tenant, l.login_per_app, l.login_per_ip] {
            if RateLimit::new(limit.per_second, limit.burst).is_none() {
                return Err(SettingsError::RateLimitNotPositive);
            }
        }
        if url::Url::parse(&self.miniprogram_base_url).is_err() {
            return Err(SettingsError::MiniProgramBaseUrl);
        }
        Ok(())
    }

    /// The URL WeChat notifies for payments of a channel, when a public URL is configured.
    pub fn payment_notify_url(&self, channel: &ChannelId) -> Option<NotifyUrl> {
        let base = self.public_url.as_ref()?;
        notify_url(base, channel.as_str(), "payment").parse().ok()
    }

    /// The URL WeChat notifies for refunds of a channel, when a public URL is configured.
    pub fn refund_notify_url(&self, channel: &ChannelId) -> Option<NotifyUrl> {
        let base = self.public_url.as_ref()?;
        notify_url(base, channel.as_str(), "refund").parse().ok()
    }
}

fn notify_url(base: &Url, channel: &str, kind: &str) -> String {
    format!(
        "{}/notify/{channel}/{kind}",
        base.as_str().trim_end_matches('/')
    )
}

/// Checks a public base URL: https (unless the demo allows http), no credentials, query or
/// fragment, and short enough that every notify URL derived from it fits WeChat's limit.
pub fn check_public_url(url: &Url, allow_insecure: bool) -> Result<(), SettingsError> {
    match url.scheme() {
        "https" => {}
        "http" if allow_insecure => {}
        "http" => return Err(SettingsError::PublicUrlNotHttps),
        _ => return Err(SettingsError::PublicUrlScheme),
    }
    if url.host_str().is_none_or(str::is_empty) {
        return Err(SettingsError::PublicUrlNoHost);
    }
    if url.query().is_some() || url.fragment().is_some() {
        return Err(SettingsError::PublicUrlQueryOrFragment);
    }
    if !url.username().is_empty() || url.password().is_some() {
        return Err(SettingsError::PublicUrlCredentials);
    }
    let longest = notify_url(url, &"x".repeat(MAX_CHANNEL_ID_LEN), LONGEST_NOTIFY_KIND);
    if longest.len() > MAX_NOTIFY_URL_LEN {
        return Err(SettingsError::PublicUrlTooLong {
            max: MAX_NOTIFY_URL_LEN - (longest.len() - url.as_str().trim_end_matches('/').len()),
        });
    }
    Ok(())
}

/// A configuration the server refuses to run with.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SettingsError {
    #[error("the JWT secret must be at least {MIN_JWT_SECRET_BYTES} bytes")]
    JwtSecretTooShort,
    #[error("the JWT lifetime must be positive")]
    JwtTtlZero,
    #[error("the body limit must be positive")]
    BodyLimitZero,
    #[error("the request timeout must be positive")]
    RequestTimeoutZero,
    #[error("the request timeout must be shorter than the idempotency claim lease (2 minutes)")]
    RequestTimeoutTooLong,
    #[error("public_url must use https (http is allowed only in the demo)")]
    PublicUrlNotHttps,
    #[error("public_url must be an http(s) URL")]
    PublicUrlScheme,
    #[error("public_url must name a host")]
    PublicUrlNoHost,
    #[error("public_url must not have a query or a fragment")]
    PublicUrlQueryOrFragment,
    #[error("public_url must not carry a user name or password")]
    PublicUrlCredentials,
    #[error(
        "public_url is too long: notify URLs must fit in {MAX_NOTIFY_URL_LEN} characters, \
         so the base may have at most {max}"
    )]
    PublicUrlTooLong { max: usize },
    #[error("rate limits need a positive rate and a burst of at least 1")]
    RateLimitNotPositive,
    #[error("the mini-program base URL is not a valid URL")]
    MiniProgramBaseUrl,
}

impl SettingsError {
    /// A stable machine code.
    pub fn code(&self) -> &'static str {
        match self {
            SettingsError::JwtSecretTooShort => "jwt_secret_too_short",
            SettingsError::JwtTtlZero => "jwt_ttl_zero",
            SettingsError::BodyLimitZero => "body_limit_zero",
            SettingsError::RequestTimeoutZero => "request_timeout_zero",
            SettingsError::RequestTimeoutTooLong => "request_timeout_too_long",
            SettingsError::PublicUrlNotHttps => "public_url_not_https",
            SettingsError::PublicUrlScheme => "public_url_scheme",
            SettingsError::PublicUrlNoHost => "public_url_no_host",
            SettingsError::PublicUrlQueryOrFragment => "public_url_query_or_fragment",
            SettingsError::PublicUrlCredentials => "public_url_credentials",
            SettingsError::PublicUrlTooLong { .. } => "public_url_too_long",
            SettingsError::RateLimitNotPositive => "rate_limit_not_positive",
            SettingsError::MiniProgramBaseUrl => "miniprogram_base_url_invalid",
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn settings(public_url: Option<&str>) -> ServerSettings {
        let mut s = ServerSettings::new(JwtSettings::new(SecretString::from("k".repeat(32))));
        s.public_url = public_url.map(|u| Url::parse(u).unwrap());
        s
    }

    #[test]
    fn defaults_are_valid_and_secret_is_redacted() {
        let s = settings(Some("https://pay.example.com"));
        assert_eq!(s.validate(), Ok(()));
        assert!(!format!("{s:?}").contains("kkkk"));
    }

    #[test]
    fn request_timeout_must_be_positive_and_within_the_idempotency_lease() {
        let mut s = settings(None);
        s.request_timeout = Duration::ZERO;
        assert_eq!(s.validate(), Err(SettingsError::RequestTimeoutZero));
        s.request_timeout = Duration::from_secs(119);
        assert_eq!(s.validate(), Ok(()));
        s.request_timeout = Duration::from_secs(120);
        assert_eq!(s.validate(), Err(SettingsError::RequestTimeoutTooLong));
    }

    #[test]
    fn rate_limits_and_miniprogram_url_are_checked() {
        let mut s = settings(None);
        s.tenant_limits.login_per_ip.burst = 0;
        assert_eq!(s.validate(), Err(SettingsError::RateLimitNotPositive));
        let mut s = settings(None);
        s.tenant_limits.per_tenant.per_second = 0.0;
        assert_eq!(s.validate(), Err(SettingsError::RateLimitNotPositive));
        let mut s = settings(None);
        s.miniprogram_base_url = "not a url".into();
        assert_eq!(s.validate(), Err(SettingsError::MiniProgramBaseUrl));
    }

    #[test]
    fn short_jwt_secret_is_refused() {
        let mut s = settings(None);
        s.jwt.secret = SecretString::from("k".repeat(31));
        assert_eq!(s.validate(), Err(SettingsError::JwtSecretTooShort));
    }

    #[test]
    fn public_url_rules() {
        let check = |u: &str, insecure| check_public_url(&Url::parse(u).unwrap(), insecure);
        assert_eq!(check("https://pay.example.com/base/", false), Ok(()));
        assert_eq!(
            check("http://pay.example.com", false),
            Err(SettingsError::PublicUrlNotHttps)
        );
        assert_eq!(check("http://127.0.0.1:8080", true), Ok(()));
        assert_eq!(
            check("ftp://pay.example.com", true),
            Err(SettingsError::PublicUrlScheme)
        );
        assert_eq!(
            check("https://pay.example.com/?a=1", false),
            Err(SettingsError::PublicUrlQueryOrFragment)
        );
        assert_eq!(
            check("https://pay.example.com/#x", false),
            Err(SettingsError::PublicUrlQueryOrFragment)
        );
        assert_eq!(
            check("https://u:p@pay.example.com/", false),
            Err(SettingsError::PublicUrlCredentials)
        );
    }

    #[test]
    fn public_url_length_leaves_room_for_every_notify_url() {
        // 256 − "/notify/" (8) − 64-char channel id − "/payment" (8) = 176 characters of base.
        let base = |n: usize| format!("https://{}.com", "a".repeat(n - "https://.com".len()));
        let ok = base(176);
        assert_eq!(ok.len(), 176);
        assert_eq!(check_public_url(&Url::parse(&ok).unwrap(), false), Ok(()));
        let too_long = base(177);
        assert_eq!(
            check_public_url(&Url::parse(&too_long).unwrap(), false),
            Err(SettingsError::PublicUrlTooLong { max: 176 })
        );
    }

    #[test]
    fn notify_urls_are_derived_from_the_public_url() {
        let s = settings(Some("https://pay.example.com/gw/"));
        let ch: ChannelId = "ch_1".parse().unwrap();
        assert_eq!(
            s.payment_notify_url(&ch).map(|u| u.to_string()),
            Some("https://pay.example.com/gw/notify/ch_1/payment".to_owned())
        );
        assert_eq!(
            s.refund_notify_url(&ch).map(|u| u.to_string()),
            Some("https://pay.example.com/gw/notify/ch_1/refund".to_owned())
        );
        assert!(settings(None).payment_notify_url(&ch).is_none());
    }
}
