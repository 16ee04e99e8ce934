//! Token-bucket rate limits, in memory, keyed by a string (a tenant id, an appid, a client IP).
//!
//! Used for the per-tenant limit of the `/v1` API and for the session login limits (per appid
//! and per client IP). Time comes from paygate's [`Clock`](paygate_core::Clock) so tests move
//! it; moka only bounds memory (idle buckets are full buckets, so forgetting them is exact).
//! The state is per process: N replicas allow N times the rate, which is acceptable for a
//! fairness limit. This module must never block or sleep.

use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

use time::OffsetDateTime;

/// A rate: `per_second` tokens refill each second, up to `burst` banked.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct RateLimit {
    pub per_second: f64,
    pub burst: u32,
}

impl RateLimit {
    /// Positive rate and burst; `None` otherwise (the CLI reports it as a config error).
    pub fn new(per_second: f64, burst: u32) -> Option<Self> {
        (per_second.is_finite() && per_second > 0.0 && burst >= 1)
            .then_some(RateLimit { per_second, burst })
    }
}

#[derive(Debug)]
struct Bucket {
    tokens: f64,
    at: OffsetDateTime,
}

/// Many buckets of one rate.
#[derive(Debug)]
pub struct TokenBuckets {
    limit: RateLimit,
    buckets: moka::sync::Cache<String, Arc<Mutex<Bucket>>>,
}

impl TokenBuckets {
    pub fn new(limit: RateLimit) -> Self {
        // A bucket idle for this long has refilled completely: dropping it changes nothing.
        let refill = f64::from(limit.burst) / limit.per_second;
        let idle = Duration::from_secs_f64(refill.clamp(1.0, 86_400.0));
        TokenBuckets {
            limit,
            buckets: moka::sync::Cache::builder()
                .max_capacity(100_000)
                .time_to_idle(idle)
                .build(),
        }
    }

    /// Takes one token for `key` at `now`: `Ok(())`, or `Err(seconds)` to wait before a token
    /// is available (at least 1, rounded up so waiting exactly that long succeeds).
    pub fn take(&self, key: &str, now: OffsetDateTime) -> Result<(), u64> {
        let burst = f64::from(self.limit.burst);
        let entry = self.buckets.get_with(key.to_owned(), || {
            Arc::new(Mutex::new(Bucket {
                tokens: burst,
                at: now,
            }))
        });
        let mut b = entry.lock().unwrap_or_else(PoisonError::into_inner);
        // A clock stepping back refills nothing (never a negative elapsed time).
        let elapsed = (now - b.at).as_seconds_f64().max(0.0);
        b.tokens = (b.tokens + elapsed * self.limit.per_second).min(burst);
        if now > b.at {
            b.at = now;
        }
        if b.tokens >= 1.0 {
            b.tokens -= 1.0;
            return Ok(());
        }
        let wait = (1.0 - b.tokens) / self.limit.per_second;
        // Saturating float-to-int conversion; a wait is at most a few hours.
        Err((wait.ceil() as u64).max(1))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use paygate_core::{Clock, ManualClock};

    #[test]
    fn burst_then_refill_by_the_clock() {
        let clock = ManualClock::at_unix(1_700_000_000);
        let b = TokenBuckets::new(RateLimit::new(2.0, 3).unwrap());
        for _ in 0..3 {
            assert_eq!(b.take("ten_a", clock.now()), Ok(()));
        }
        assert_eq!(b.take("ten_a", clock.now()), Err(1));
        // Other keys have their own bucket.
        assert_eq!(b.take("ten_b", clock.now()), Ok(()));
        clock.advance(time::Duration::milliseconds(500));
        assert_eq!(b.take("ten_a", clock.now()), Ok(()));
        assert_eq!(b.take("ten_a", clock.now()), Err(1));
        // Never more than the burst, however long the wait.
        clock.advance(time::Duration::hours(1));
        for _ in 0..3 {
            assert_eq!(b.take("ten_a", clock.now()), Ok(()));
        }
        assert!(b.take("ten_a", clock.now()).is_err());
    }

    #[test]
    fn slow_rates_report_whole_seconds_to_wait() {
        let clock = ManualClock::at_unix(1_700_000_000);
        let b = TokenBuckets::new(RateLimit::new(0.1, 1).unwrap());
        assert_eq!(b.take("k", clock.now()), Ok(()));
        assert_eq!(b.take("k", clock.now()), Err(10));
        clock.advance(time::Duration::seconds(4));
        assert_eq!(b.take("k", clock.now()), Err(6));
        clock.advance(time::Duration::seconds(6));
        assert_eq!(b.take("k", clock.now()), Ok(()));
    }

    #[test]
    fn a_clock_stepping_back_grants_nothing() {
        let clock = ManualClock::at_unix(1_700_000_000);
        let b = TokenBuckets::new(RateLimit::new(1.0, 1).unwrap());
        assert_eq!(b.take("k", clock.now()), Ok(()));
        clock.advance(time::Duration::seconds(-30));
        assert!(b.take("k", clock.now()).is_err());
    }

    #[test]
    fn rates_must_be_positive() {
        assert!(RateLimit::new(0.0, 1).is_none());
        assert!(RateLimit::new(1.0, 0).is_none());
        assert!(RateLimit::new(f64::NAN, 1).is_none());
    }
}
