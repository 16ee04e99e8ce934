//! [`MiniProgramClient`]: one instance serves every tenant's apps.
//!
//! It holds no credentials. Each call takes the app's [`AppCredentials`](crate::AppCredentials),
//! and the only per-app state is the access-token cache (keyed by appid + secret digest). Clone it
//! freely: clones share the HTTP connection pool and the token cache.

use std::sync::Arc;

use paygate_core::Clock;

use crate::config::MiniProgramConfig;
use crate::error::{MiniProgramError, Result};
use crate::http::Transport;
use crate::token::{TokenCache, new_cache};

#[derive(Clone)]
pub struct MiniProgramClient {
    pub(crate) config: Arc<MiniProgramConfig>,
    pub(crate) transport: Transport,
    pub(crate) tokens: TokenCache,
}

impl MiniProgramClient {
    /// A client with its own HTTP connection pool.
    pub fn new(config: MiniProgramConfig) -> Result<Self> {
        let http =
            reqwest::Client::builder()
                .build()
                .map_err(|_| MiniProgramError::InvalidArgument {
                    field: "http_client",
                    reason: "could not be built",
                })?;
        Self::with_http_client(config, http)
    }

    /// A client that shares an existing `reqwest::Client` (its pool and TLS settings). The
    /// configured timeout is applied per request.
    pub fn with_http_client(config: MiniProgramConfig, http: reqwest::Client) -> Result<Self> {
        let transport = Transport::new(http, &config.base_url, config.timeout)?;
        let tokens = new_cache(config.token_cache_capacity);
        Ok(MiniProgramClient {
            config: Arc::new(config),
            transport,
            tokens,
        })
    }

    pub fn config(&self) -> &MiniProgramConfig {
        &self.config
    }

    pub(crate) fn clock(&self) -> &dyn Clock {
        self.config.clock.as_ref()
    }
}

impl std::fmt::Debug for MiniProgramClient {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("MiniProgramClient")
            .field("config", &self.config)
            .field("cached_tokens", &self.tokens.entry_count())
            .finish()
    }
}
