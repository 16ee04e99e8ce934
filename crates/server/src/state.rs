//! [`AppState`]: what every handler can reach — the store, the provider registry, the clock,
//! the settings, the metrics registry, the rate limiters and the mini-program client. Cheap to
//! clone (one `Arc`).

use std::fmt;
use std::sync::Arc;

use paygate_core::{Clock, ProviderRegistry};
use paygate_store::Store;

use paygate_miniprogram::{MiniProgramClient, MiniProgramConfig};

use crate::auth::rate_limit::LoginLimiter;
use crate::auth::token_bucket::TokenBuckets;
use crate::metrics::Metrics;
use crate::notify::limits::NotifyLimits;
use crate::settings::ServerSettings;

/// Shared state of the HTTP server.
#[derive(Clone)]
pub struct AppState {
    inner: Arc<Inner>,
}

struct Inner {
    store: Store,
    registry: Arc<ProviderRegistry>,
    clock: Arc<dyn Clock>,
    settings: ServerSettings,
    metrics: Metrics,
    login_limiter: LoginLimiter,
    notify_limits: NotifyLimits,
    tenant_limiter: TokenBuckets,
    session_app_limiter: TokenBuckets,
    session_ip_limiter: TokenBuckets,
    /// `None` only if the HTTP client could not be built; mini-program calls then answer
    /// 503 `upstream_unavailable` instead of the whole server refusing to start.
    miniprogram: Option<MiniProgramClient>,
}

impl AppState {
    /// Builds the state. Call [`ServerSettings::validate`] first: this does not re-check.
    pub fn new(
        store: Store,
        registry: Arc<ProviderRegistry>,
        clock: Arc<dyn Clock>,
        settings: ServerSettings,
    ) -> Self {
        let login_limiter = LoginLimiter::new(settings.login_limits);
        let limits = settings.tenant_limits;
        let mp_config = MiniProgramConfig::new(Arc::clone(&clock))
            .with_base_url(settings.miniprogram_base_url.clone())
            .with_timeout(settings.miniprogram_timeout);
        let miniprogram = match MiniProgramClient::new(mp_config) {
            Ok(client) => Some(client),
            Err(e) => {
                tracing::error!(error = %e, "mini-program client unavailable");
                None
            }
        };
        AppState {
            inner: Arc::new(Inner {
                store,
                registry,
                clock,
                settings,
                metrics: Metrics::new(),
                login_limiter,
                notify_limits: NotifyLimits::default(),
                tenant_limiter: TokenBuckets::new(limits.per_tenant),
                session_app_limiter: TokenBuckets::new(limits.login_per_app),
                session_ip_limiter: TokenBuckets::new(limits.login_per_ip),
                miniprogram,
            }),
        }
    }

    pub fn store(&self) -> &Store {
        &self.inner.store
    }

    pub fn registry(&self) -> &ProviderRegistry {
        &self.inner.registry
    }

    pub fn clock(&self) -> &dyn Clock {
        self.inner.clock.as_ref()
    }

    pub fn settings(&self) -> &ServerSettings {
        &self.inner.settings
    }

    pub fn metrics(&self) -> &Metrics {
        &self.inner.metrics
    }

    pub(crate) fn login_limiter(&self) -> &LoginLimiter {
        &self.inner.login_limiter
    }

    /// The notify path's per-channel alert limit.
    pub(crate) fn notify_limits(&self) -> &NotifyLimits {
        &self.inner.notify_limits
    }

    /// The per-tenant request limit of `/v1`.
    pub(crate) fn tenant_limiter(&self) -> &TokenBuckets {
        &self.inner.tenant_limiter
    }

    /// Session logins per appid and per client IP.
    pub(crate) fn session_limiters(&self) -> (&TokenBuckets, &TokenBuckets) {
        (
            &self.inner.session_app_limiter,
            &self.inner.session_ip_limiter,
        )
    }

    /// The mini-program API client (one for every tenant's apps; it caches access tokens).
    pub fn miniprogram(&self) -> Option<&MiniProgramClient> {
        self.inner.miniprogram.as_ref()
    }
}

impl fmt::Debug for AppState {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("AppState")
            .field("registry", &self.inner.registry)
            .field("clock", &self.inner.clock)
            .field("settings", &self.inner.settings)
            .finish_non_exhaustive()
    }
}
