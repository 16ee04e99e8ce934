//! Rate limit of the notify path: an unverifiable notification raises at most one alert per
//! channel per window, so a flood of forged requests cannot fill the alert table.

use std::time::Duration;

use moka::sync::Cache;

/// The window of the limit.
pub const WINDOW: Duration = Duration::from_secs(60);

/// Per-channel "at most once per window" gate.
#[derive(Debug, Clone)]
pub struct NotifyLimits {
    alerts: Cache<String, ()>,
}

impl Default for NotifyLimits {
    fn default() -> Self {
        Self::new(WINDOW)
    }
}

impl NotifyLimits {
    pub fn new(window: Duration) -> Self {
        NotifyLimits {
            alerts: Cache::builder()
                .max_capacity(100_000)
                .time_to_live(window)
                .build(),
        }
    }

    /// `true` the first time in a window for this channel's unverified-notification alert.
    pub fn allow_alert(&self, channel: &str) -> bool {
        self.alerts
            .entry(channel.to_owned())
            .or_insert_with(|| ())
            .is_fresh()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn once_per_channel_per_window() {
        let limits = NotifyLimits::default();
        assert!(limits.allow_alert("ch_a"));
        assert!(!limits.allow_alert("ch_a"));
        assert!(limits.allow_alert("ch_b"));
    }
}
