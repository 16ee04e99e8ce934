//! The provider registry of this build: which payment protocols exist and where they connect.
//!
//! The only place that names the provider crates; the server sees nothing but the
//! [`ProviderRegistry`]. It must never hard-code an upstream URL: they come from configuration
//! (or from the simulator in demo mode).

use std::sync::Arc;
use std::time::Duration;

use paygate_core::{Clock, ProviderKind, ProviderRegistry};

/// Where the providers connect, with file contents already read.
#[derive(Debug, Clone)]
pub struct ProviderEndpoints {
    pub wechatpay_base_url: String,
    pub wechatpay_secapi_base_url: Option<String>,
    /// Extra trusted root certificates (PEM) for upstream TLS.
    pub extra_root_ca_pem: Option<String>,
    /// Whole-request timeout of every upstream call (`upstream.timeout_ms`).
    pub timeout: Duration,
}

/// Built providers are cached per channel and credentials version; this bounds the cache.
const PROVIDER_CACHE_CAPACITY: u64 = 10_000;

/// A registry with `wechat-v2` and `wechat-v3`.
pub fn registry(endpoints: &ProviderEndpoints, clock: Arc<dyn Clock>) -> ProviderRegistry {
    let mut registry = ProviderRegistry::new(PROVIDER_CACHE_CAPACITY);
    let v2 = paygate_wechat_v2::V2Config {
        base_url: endpoints.wechatpay_base_url.clone(),
        secapi_base_url: endpoints.wechatpay_secapi_base_url.clone(),
        extra_root_ca_pem: endpoints.extra_root_ca_pem.clone(),
        timeout: endpoints.timeout,
    };
    registry.register(
        ProviderKind::WechatV2,
        paygate_wechat_v2::constructor_with_clock(v2, clock.clone()),
        paygate_wechat_v2::credentials_validator(),
    );
    let v3 = paygate_wechat_v3::V3Config {
        base_url: endpoints.wechatpay_base_url.clone(),
        extra_root_ca_pem: endpoints.extra_root_ca_pem.clone(),
        timeout: endpoints.timeout,
        ..paygate_wechat_v3::V3Config::default()
    };
    registry.register(
        ProviderKind::WechatV3,
        paygate_wechat_v3::constructor(v3, clock),
        paygate_wechat_v3::credentials_validator(),
    );
    registry
}

/// The kinds a registry supports, sorted by name (for `paygate providers`).
pub fn kinds(registry: &ProviderRegistry) -> Vec<ProviderKind> {
    let mut kinds: Vec<_> = registry.kinds().collect();
    kinds.sort_by_key(|k| k.as_str());
    kinds
}
