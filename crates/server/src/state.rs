//! [`AppState`]: what every handler can reach — the store, the provider registry, the clock,
//! the settings, the metrics registry and the login limiter. Cheap to clone (one `Arc`).

use std::fmt;
use std::sync::Arc;

use paygate_core::{Clock, ProviderRegistry};
use paygate_store::Store;

use crate::auth::rate_limit::LoginLimiter;
use crate::metrics::Metrics;
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
        AppState {
            inner: Arc::new(Inner {
                store,
                registry,
                clock,
                settings,
                metrics: Metrics::new(),
                login_limiter,
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
