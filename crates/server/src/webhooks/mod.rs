//! Webhooks to tenant backends: every outbox event (`payment.succeeded`, `refund.failed`, …)
//! is POSTed to the tenant's endpoint, signed the Standard Webhooks way, retried on a schedule
//! of about three days, in order per order.
//!
//! [`sign`] is the pure signing code, [`schedule`] the retry timing, [`ssrf`] the guard that
//! keeps deliveries off paygate's own network, [`worker`] the delivery loop, [`admin`] the
//! operator endpoints (pause, resume, ping, resend). This module must
//! never log a signing secret or a request body (bodies hold customer data), and never follow
//! a redirect.

pub mod admin;
pub mod schedule;
pub mod sign;
pub mod ssrf;
pub mod worker;

use std::time::Duration;

/// How the delivery worker runs (`webhooks.*` in the configuration).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WebhookSettings {
    /// Time between runs.
    pub interval: Duration,
    /// At most this many events per run.
    pub batch: u32,
    /// At most this many requests in flight to one tenant.
    pub concurrency_per_tenant: usize,
    /// Deliver to loopback/private addresses (demo and tests only).
    pub allow_private_targets: bool,
    /// A delivery not answered with 2xx within this time failed.
    pub timeout: Duration,
}

impl WebhookSettings {
    /// How long a claim lasts: longer than any attempt can take, so a live worker's claim
    /// never lapses under it, short enough that a dead worker's events move on soon.
    pub fn claim_for(&self) -> Duration {
        self.timeout * 2 + Duration::from_secs(30)
    }
}

impl Default for WebhookSettings {
    fn default() -> Self {
        WebhookSettings {
            interval: Duration::from_millis(1000),
            batch: 100,
            concurrency_per_tenant: 4,
            allow_private_targets: false,
            timeout: Duration::from_secs(15),
        }
    }
}
