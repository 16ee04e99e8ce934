//! `reconcile.*`: the reconciliation worker's keys, their defaults and their rules.

use serde::Deserialize;

use super::ConfigError;

/// `reconcile.interval_secs` when none is configured.
pub const DEFAULT_RECONCILE_INTERVAL_SECS: u64 = 60;
/// `reconcile.pending_age_secs` when none is configured (5 minutes).
pub const DEFAULT_RECONCILE_PENDING_AGE_SECS: u64 = 300;
/// `reconcile.batch` when none is configured.
pub const DEFAULT_RECONCILE_BATCH: u32 = 100;

/// Reconciliation runs between every second and once a day.
const INTERVAL_RANGE: std::ops::RangeInclusive<u64> = 1..=86_400;
/// Querying sooner than 10 s after the last change only races WeChat's own notification.
const AGE_RANGE: std::ops::RangeInclusive<u64> = 10..=604_800;
const BATCH_RANGE: std::ops::RangeInclusive<u32> = 1..=1_000;

/// The reconciliation worker (`reconcile.*`): queries WeChat about orders and refunds whose
/// notification is overdue, and closes expired orders.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Reconcile {
    /// `false`: this process runs no worker (another instance does).
    pub enabled: bool,
    /// Seconds between runs.
    pub interval_secs: u64,
    /// A PENDING order or PROCESSING refund untouched this long is queried.
    pub pending_age_secs: u64,
    /// At most this many orders (and as many refunds) per run.
    pub batch: u32,
}

impl Default for Reconcile {
    fn default() -> Self {
        Reconcile {
            enabled: true,
            interval_secs: DEFAULT_RECONCILE_INTERVAL_SECS,
            pending_age_secs: DEFAULT_RECONCILE_PENDING_AGE_SECS,
            batch: DEFAULT_RECONCILE_BATCH,
        }
    }
}

impl Reconcile {
    /// The worker's settings.
    pub fn settings(&self) -> paygate_server::workers::reconcile::ReconcileSettings {
        paygate_server::workers::reconcile::ReconcileSettings {
            interval: std::time::Duration::from_secs(self.interval_secs),
            pending_age: std::time::Duration::from_secs(self.pending_age_secs),
            batch: self.batch,
        }
    }
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct RawReconcile {
    enabled: bool,
    interval_secs: u64,
    pending_age_secs: u64,
    batch: u32,
}

impl RawReconcile {
    /// Checks the ranges; `invalid(key, message)` names the key and its origin.
    pub(super) fn check(
        self,
        invalid: &impl Fn(&str, String) -> ConfigError,
    ) -> Result<Reconcile, ConfigError> {
        if !INTERVAL_RANGE.contains(&self.interval_secs) {
            let message = format!("must be between {INTERVAL_RANGE:?} seconds");
            return Err(invalid("reconcile.interval_secs", message));
        }
        if !AGE_RANGE.contains(&self.pending_age_secs) {
            let message = format!("must be between {AGE_RANGE:?} seconds");
            return Err(invalid("reconcile.pending_age_secs", message));
        }
        if !BATCH_RANGE.contains(&self.batch) {
            let message = format!("must be between {BATCH_RANGE:?}");
            return Err(invalid("reconcile.batch", message));
        }
        Ok(Reconcile {
            enabled: self.enabled,
            interval_secs: self.interval_secs,
            pending_age_secs: self.pending_age_secs,
            batch: self.batch,
        })
    }
}
