//! The client's IP address, as far as it can be trusted.
//!
//! `X-Forwarded-For` is believed only when the TCP peer is a configured trusted proxy, and then
//! read from the right, skipping trusted hops: the first untrusted address is the one the
//! nearest trusted proxy saw, and anything to its left may be forged by the client.

use std::net::{IpAddr, SocketAddr};

use axum::extract::{ConnectInfo, FromRequestParts};
use axum::http::HeaderMap;
use axum::http::request::Parts;
use ipnet::IpNet;

use crate::state::AppState;

/// The client address (`None` when the server was not started with connect info, as in
/// in-process tests without a mock).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ClientIp(pub Option<IpAddr>);

fn trusted(ip: IpAddr, proxies: &[IpNet]) -> bool {
    proxies.iter().any(|net| net.contains(&ip))
}

/// Resolves the client address from the TCP peer, the headers and the trusted proxies.
pub fn resolve_client_ip(
    peer: Option<IpAddr>,
    headers: &HeaderMap,
    proxies: &[IpNet],
) -> Option<IpAddr> {
    let peer = peer?;
    if !trusted(peer, proxies) {
        return Some(peer);
    }
    let hops: Vec<IpAddr> = headers
        .get_all("x-forwarded-for")
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(','))
        .filter_map(|s| s.trim().parse().ok())
        .collect();
    hops.iter()
        .rev()
        .find(|ip| !trusted(**ip, proxies))
        .or_else(|| hops.first())
        .copied()
        .or(Some(peer))
}

impl FromRequestParts<AppState> for ClientIp {
    type Rejection = std::convert::Infallible;

    async fn from_request_parts(
        parts: &mut Parts,
        state: &AppState,
    ) -> Result<Self, Self::Rejection> {
        // The extractor (not the raw extension) so `MockConnectInfo` works in tests.
        let peer = ConnectInfo::<SocketAddr>::from_request_parts(parts, state)
            .await
            .ok()
            .map(|ConnectInfo(addr)| addr.ip());
        Ok(ClientIp(resolve_client_ip(
            peer,
            &parts.headers,
            &state.settings().trusted_proxies,
        )))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use axum::http::HeaderValue;

    fn ip(s: &str) -> IpAddr {
        s.parse().unwrap()
    }

    fn xff(v: &str) -> HeaderMap {
        let mut h = HeaderMap::new();
        h.insert("x-forwarded-for", HeaderValue::from_str(v).unwrap());
        h
    }

    #[test]
    fn untrusted_peer_is_the_client_whatever_it_claims() {
        let proxies = ["10.0.0.0/8".parse().unwrap()];
        assert_eq!(
            resolve_client_ip(Some(ip("203.0.113.9")), &xff("1.2.3.4"), &proxies),
            Some(ip("203.0.113.9"))
        );
        assert_eq!(
            resolve_client_ip(Some(ip("10.0.0.1")), &xff("1.2.3.4"), &[]),
            Some(ip("10.0.0.1"))
        );
    }

    #[test]
    fn trusted_peer_yields_the_rightmost_untrusted_hop() {
        let proxies = ["10.0.0.0/8".parse().unwrap()];
        // The client forged 6.6.6.6; the proxy appended what it saw (198.51.100.4).
        let headers = xff("6.6.6.6, 198.51.100.4, 10.0.0.7");
        assert_eq!(
            resolve_client_ip(Some(ip("10.0.0.1")), &headers, &proxies),
            Some(ip("198.51.100.4"))
        );
        assert_eq!(
            resolve_client_ip(Some(ip("10.0.0.1")), &HeaderMap::new(), &proxies),
            Some(ip("10.0.0.1"))
        );
        assert_eq!(
            resolve_client_ip(Some(ip("10.0.0.1")), &xff("10.0.0.9"), &proxies),
            Some(ip("10.0.0.9"))
        );
        assert_eq!(resolve_client_ip(None, &headers, &proxies), None);
    }
}
