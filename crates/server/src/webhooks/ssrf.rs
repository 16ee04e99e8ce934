//! The SSRF guard: webhook URLs are chosen by operators on a tenant's behalf, so paygate must
//! never become a way to reach its own network. Only `http`/`https` URLs are accepted, redirects
//! are never followed, and every address is checked when it is resolved — at connect time, by
//! a custom resolver — so a hostname that resolves (or later re-resolves) to a private address
//! is refused too. IP-literal hosts bypass resolvers, so [`check_url`] checks them itself.
//!
//! `allow_private_targets` (demo and tests) turns the address checks off, never the scheme
//! check or the redirect policy.

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};
use std::sync::Arc;
use std::time::Duration;

use reqwest::dns::{Addrs, Name, Resolve, Resolving};
use url::{Host, Url};

/// Why a target was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum TargetError {
    #[error("the webhook URL is not a valid absolute URL")]
    Invalid,
    #[error("the webhook URL must use http or https")]
    Scheme,
    #[error("the webhook URL points to a non-public address ({0})")]
    Forbidden(IpAddr),
}

impl TargetError {
    pub fn code(&self) -> &'static str {
        match self {
            TargetError::Invalid => "invalid_webhook_url",
            TargetError::Scheme => "webhook_url_scheme",
            TargetError::Forbidden(_) => "webhook_target_forbidden",
        }
    }
}

/// Whether `ip` is outside the public internet: loopback, private, link-local, multicast,
/// unspecified, broadcast, "this network", reserved, CGNAT (100.64/10), IPv6 ULA (fc00::/7),
/// IPv6 link-local and site-local, and IPv4-mapped/compatible forms of any of those.
pub fn is_forbidden(ip: IpAddr) -> bool {
    match ip {
        IpAddr::V4(v4) => forbidden_v4(v4),
        IpAddr::V6(v6) => {
            if let Some(v4) = v6.to_ipv4_mapped() {
                return forbidden_v4(v4);
            }
            let seg0 = v6.segments()[0];
            v6.is_loopback()
                || v6.is_unspecified()
                || v6.is_multicast()
                || (seg0 & 0xfe00) == 0xfc00 // unique local fc00::/7
                || (seg0 & 0xffc0) == 0xfe80 // link-local fe80::/10
                || (seg0 & 0xffc0) == 0xfec0 // site-local fec0::/10 (deprecated, still routed)
                || v6.segments()[..6] == [0; 6] // IPv4-compatible ::a.b.c.d
        }
    }
}

fn forbidden_v4(ip: Ipv4Addr) -> bool {
    let [a, b, ..] = ip.octets();
    ip.is_loopback()
        || ip.is_private()
        || ip.is_link_local()
        || ip.is_multicast()
        || ip.is_unspecified()
        || ip.is_broadcast()
        || a == 0 // "this network" 0/8
        || a >= 240 // reserved 240/4
        || (a == 100 && (b & 0xc0) == 64) // CGNAT 100.64/10
}

/// Checks a URL before it is stored or used: absolute, http(s), a host, and — unless private
/// targets are allowed — not an IP literal of a forbidden address.
pub fn check_url(raw: &str, allow_private: bool) -> Result<Url, TargetError> {
    let url = Url::parse(raw).map_err(|_| TargetError::Invalid)?;
    if !matches!(url.scheme(), "http" | "https") {
        return Err(TargetError::Scheme);
    }
    let ip = match url.host() {
        None => return Err(TargetError::Invalid),
        Some(Host::Domain(_)) => None,
        Some(Host::Ipv4(v4)) => Some(IpAddr::V4(v4)),
        Some(Host::Ipv6(v6)) => Some(IpAddr::V6(v6)),
    };
    match ip {
        Some(ip) if !allow_private && is_forbidden(ip) => Err(TargetError::Forbidden(ip)),
        _ => Ok(url),
    }
}

/// Resolves with the system resolver, then drops forbidden addresses; no address left is an
/// error, so the connection is never attempted.
#[derive(Debug, Clone, Copy)]
struct GuardedResolver;

impl Resolve for GuardedResolver {
    fn resolve(&self, name: Name) -> Resolving {
        let host = name.as_str().to_owned();
        Box::pin(async move {
            let all: Vec<SocketAddr> = tokio::net::lookup_host((host.as_str(), 0)).await?.collect();
            let allowed: Vec<SocketAddr> = all
                .iter()
                .copied()
                .filter(|a| !is_forbidden(a.ip()))
                .collect();
            if allowed.is_empty() {
                let first = all
                    .first()
                    .map_or(IpAddr::V6(Ipv6Addr::UNSPECIFIED), SocketAddr::ip);
                return Err(Box::new(TargetError::Forbidden(first)) as _);
            }
            let addrs: Addrs = Box::new(allowed.into_iter());
            Ok(addrs)
        })
    }
}

/// The HTTP client of the delivery worker: no redirects, no proxies, `timeout` per request,
/// and (unless `allow_private`) the guarded resolver.
pub fn client(allow_private: bool, timeout: Duration) -> reqwest::Result<reqwest::Client> {
    let mut builder = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .no_proxy()
        .timeout(timeout)
        .user_agent(concat!("paygate-webhooks/", env!("CARGO_PKG_VERSION")));
    if !allow_private {
        builder = builder.dns_resolver(Arc::new(GuardedResolver));
    }
    builder.build()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn refuses_every_non_public_class() {
        for ip in [
            "127.0.0.1",
            "10.1.2.3",
            "172.16.0.1",
            "192.168.1.1",
            "169.254.169.254",
            "224.0.0.1",
            "0.0.0.0",
            "255.255.255.255",
            "100.64.0.1",
            "100.127.255.254",
            "240.0.0.1",
            "::1",
            "::",
            "fc00::1",
            "fd12:3456::1",
            "fe80::1",
            "ff02::1",
            "::ffff:127.0.0.1",
            "::ffff:10.0.0.1",
        ] {
            let parsed: IpAddr = ip.parse().unwrap_or(IpAddr::V4(Ipv4Addr::UNSPECIFIED));
            assert!(is_forbidden(parsed), "{ip} must be refused");
        }
    }

    #[test]
    fn accepts_public_addresses() {
        for ip in [
            "8.8.8.8",
            "100.128.0.1",
            "100.63.255.255",
            "2001:4860:4860::8888",
            "1.1.1.1",
        ] {
            let parsed: IpAddr = ip.parse().unwrap_or(IpAddr::V4(Ipv4Addr::LOCALHOST));
            assert!(!is_forbidden(parsed), "{ip} is public");
        }
    }

    #[test]
    fn checks_scheme_and_ip_literals() {
        assert_eq!(
            check_url("ftp://example.com/x", false),
            Err(TargetError::Scheme)
        );
        assert_eq!(
            check_url("file:///etc/passwd", true),
            Err(TargetError::Scheme)
        );
        assert_eq!(check_url("not a url", false), Err(TargetError::Invalid));
        assert!(matches!(
            check_url("http://127.0.0.1:8080/hook", false),
            Err(TargetError::Forbidden(_))
        ));
        assert!(matches!(
            check_url("http://[::1]/hook", false),
            Err(TargetError::Forbidden(_))
        ));
        assert!(check_url("http://127.0.0.1:8080/hook", true).is_ok());
        assert!(check_url("https://hooks.example.com/paygate", false).is_ok());
    }

    #[tokio::test]
    async fn a_hostname_resolving_to_loopback_is_refused_at_resolution() {
        let name: Name = "localhost".parse().unwrap_or_else(|_| unreachable!());
        let result = GuardedResolver.resolve(name).await;
        assert!(
            result.is_err(),
            "localhost must not resolve to an allowed address"
        );
    }
}
