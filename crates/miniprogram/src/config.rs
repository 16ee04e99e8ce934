//! How a [`MiniProgramClient`](crate::MiniProgramClient) is set up: where WeChat is, how long to
//! wait, which access-token API to use and which clock decides token expiry.

use std::sync::Arc;
use std::time::Duration as StdDuration;

use paygate_core::{Clock, SystemClock};
use time::Duration;

/// WeChat's production host for the mini-program server APIs.
pub const DEFAULT_BASE_URL: &str = "https://api.weixin.qq.com";

/// Which access-token API to use.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum TokenMode {
    /// `POST /cgi-bin/stable_token`: the same token while it is valid, so several paygate
    /// instances (or another system sharing the app) can each fetch and cache it without
    /// invalidating each other's copy.
    #[default]
    Stable,
    /// `GET /cgi-bin/token`: every call issues a new token and the previous one dies after a
    /// 5-minute grace period. Only safe when this client is the app's single token holder.
    Classic,
}

/// Client configuration. Start from [`MiniProgramConfig::default`] (or [`new`](Self::new) with a
/// clock) and override fields.
#[derive(Debug, Clone)]
pub struct MiniProgramConfig {
    /// Default [`DEFAULT_BASE_URL`]; the simulator's URL in tests and in the demo.
    pub base_url: String,
    /// Whole-request timeout of each upstream call. Default 10 s.
    pub timeout: StdDuration,
    pub token_mode: TokenMode,
    /// Fetch a new token when less than this remains. Default 5 minutes, which is also the
    /// window in which WeChat renews stable tokens and keeps the old one working.
    pub refresh_ahead: Duration,
    /// After a failed refresh-ahead (the old token still valid), wait this long before trying
    /// again, so a struggling upstream is not hit by every caller. Default 30 s.
    pub refresh_retry_after: Duration,
    /// How many apps' tokens to keep. Default 10 000.
    pub token_cache_capacity: u64,
    /// Decides token expiry; tests pass a `ManualClock`.
    pub clock: Arc<dyn Clock>,
}

impl MiniProgramConfig {
    pub fn new(clock: Arc<dyn Clock>) -> Self {
        MiniProgramConfig {
            base_url: DEFAULT_BASE_URL.to_owned(),
            timeout: StdDuration::from_secs(10),
            token_mode: TokenMode::Stable,
            refresh_ahead: Duration::minutes(5),
            refresh_retry_after: Duration::seconds(30),
            token_cache_capacity: 10_000,
            clock,
        }
    }

    pub fn with_base_url(mut self, base_url: impl Into<String>) -> Self {
        self.base_url = base_url.into();
        self
    }

    pub fn with_token_mode(mut self, mode: TokenMode) -> Self {
        self.token_mode = mode;
        self
    }

    pub fn with_timeout(mut self, timeout: StdDuration) -> Self {
        self.timeout = timeout;
        self
    }
}

impl Default for MiniProgramConfig {
    fn default() -> Self {
        Self::new(Arc::new(SystemClock))
    }
}
