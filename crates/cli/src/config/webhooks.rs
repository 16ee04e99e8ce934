//! `webhooks.*`: the webhook delivery worker's keys, their defaults and their rules.

use serde::Deserialize;

use super::ConfigError;

/// `webhooks.interval_ms` when none is configured.
pub const DEFAULT_WEBHOOKS_INTERVAL_MS: u64 = 1_000;
/// `webhooks.batch` when none is configured.
pub const DEFAULT_WEBHOOKS_BATCH: u32 = 100;
/// `webhooks.concurrency_per_tenant` when none is configured.
pub const DEFAULT_WEBHOOKS_CONCURRENCY_PER_TENANT: u32 = 4;

const INTERVAL_RANGE: std::ops::RangeInclusive<u64> = 100..=3_600_000;
const BATCH_RANGE: std::ops::RangeInclusive<u32> = 1..=1_000;
const CONCURRENCY_RANGE: std::ops::RangeInclusive<u32> = 1..=64;

/// The webhook delivery worker (`webhooks.*`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Webhooks {
    /// `false`: this process delivers nothing (another instance does).
    pub enabled: bool,
    /// Milliseconds between runs.
    pub interval_ms: u64,
    /// At most this many events per run.
    pub batch: u32,
    /// At most this many requests in flight to one tenant.
    pub concurrency_per_tenant: u32,
    /// Deliver to loopback and private addresses: the demo and tests only.
    pub allow_private_targets: bool,
}

impl Default for Webhooks {
    fn default() -> Self {
        Webhooks {
            enabled: true,
            interval_ms: DEFAULT_WEBHOOKS_INTERVAL_MS,
            batch: DEFAULT_WEBHOOKS_BATCH,
            concurrency_per_tenant: DEFAULT_WEBHOOKS_CONCURRENCY_PER_TENANT,
            allow_private_targets: false,
        }
    }
}

impl Webhooks {
    /// The worker's settings.
    pub fn settings(&self) -> paygate_server::webhooks::WebhookSettings {
        paygate_server::webhooks::WebhookSettings {
            interval: std::time::Duration::from_millis(self.interval_ms),
            batch: self.batch,
            concurrency_per_tenant: usize::try_from(self.concurrency_per_tenant).unwrap_or(1),
            allow_private_targets: self.allow_private_targets,
            ..paygate_server::webhooks::WebhookSettings::default()
        }
    }
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct RawWebhooks {
    enabled: bool,
    interval_ms: u64,
    batch: u32,
    concurrency_per_tenant: u32,
    allow_private_targets: bool,
}

impl RawWebhooks {
    /// Checks the ranges; `invalid(key, message)` names the key and its origin.
    pub(super) fn check(
        self,
        invalid: &impl Fn(&str, String) -> ConfigError,
    ) -> Result<Webhooks, ConfigError> {
        if !INTERVAL_RANGE.contains(&self.interval_ms) {
            let message = format!("must be between {INTERVAL_RANGE:?} milliseconds");
            return Err(invalid("webhooks.interval_ms", message));
        }
        if !BATCH_RANGE.contains(&self.batch) {
            let message = format!("must be between {BATCH_RANGE:?}");
            return Err(invalid("webhooks.batch", message));
        }
        if !CONCURRENCY_RANGE.contains(&self.concurrency_per_tenant) {
            let message = format!("must be between {CONCURRENCY_RANGE:?}");
            return Err(invalid("webhooks.concurrency_per_tenant", message));
        }
        Ok(Webhooks {
            enabled: self.enabled,
            interval_ms: self.interval_ms,
            batch: self.batch,
            concurrency_per_tenant: self.concurrency_per_tenant,
            allow_private_targets: self.allow_private_targets,
        })
    }
}
