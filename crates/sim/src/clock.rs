//! The simulator's own clock.
//!
//! Everything the simulator decides by time — token and login-code expiry, prepay expiry,
//! `time_expire`, v3 timestamp skew, the notification retry schedule — reads this clock, never
//! the wall clock directly. Tests freeze it and move it with `advance`; the CLI lets it run with
//! real time and still allows jumps forward through `POST /sim/clock`.

use std::sync::{Arc, Mutex, PoisonError};
use std::time::Instant;

use paygate_core::Clock;
use time::{Duration, OffsetDateTime};

/// A clock that either runs with real time or stands still, and can always be moved forward.
#[derive(Debug, Clone)]
pub struct SimClock {
    inner: Arc<Mutex<Anchor>>,
}

#[derive(Debug)]
struct Anchor {
    /// The simulated time at `at`.
    time: OffsetDateTime,
    at: Instant,
    frozen: bool,
}

impl SimClock {
    /// A clock at `start` that moves only when told to.
    pub fn frozen(start: OffsetDateTime) -> Self {
        Self::new(start, true)
    }

    /// A clock at `start` that runs at the speed of real time.
    pub fn running(start: OffsetDateTime) -> Self {
        Self::new(start, false)
    }

    fn new(start: OffsetDateTime, frozen: bool) -> Self {
        SimClock {
            inner: Arc::new(Mutex::new(Anchor {
                time: start,
                at: Instant::now(),
                frozen,
            })),
        }
    }

    /// Moves the clock forward (a negative duration moves it back: useful for skew tests).
    pub fn advance(&self, by: Duration) {
        let mut a = self.inner.lock().unwrap_or_else(PoisonError::into_inner);
        a.time += by;
    }

    /// Sets the clock to an absolute time.
    pub fn set(&self, to: OffsetDateTime) {
        let mut a = self.inner.lock().unwrap_or_else(PoisonError::into_inner);
        a.time = to;
        a.at = Instant::now();
    }

    pub fn is_frozen(&self) -> bool {
        self.inner
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .frozen
    }
}

impl Clock for SimClock {
    fn now(&self) -> OffsetDateTime {
        let a = self.inner.lock().unwrap_or_else(PoisonError::into_inner);
        if a.frozen {
            a.time
        } else {
            let elapsed = Duration::try_from(a.at.elapsed()).unwrap_or(Duration::ZERO);
            a.time + elapsed
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn frozen_clock_moves_only_when_advanced() {
        let c = SimClock::frozen(OffsetDateTime::UNIX_EPOCH);
        assert_eq!(c.unix_seconds(), 0);
        c.advance(Duration::seconds(15));
        assert_eq!(c.unix_seconds(), 15);
        let other = c.clone();
        other.advance(Duration::minutes(1));
        assert_eq!(c.unix_seconds(), 75);
    }

    #[test]
    fn running_clock_keeps_jumps() {
        let c = SimClock::running(OffsetDateTime::UNIX_EPOCH);
        c.advance(Duration::hours(2));
        assert!(c.unix_seconds() >= 7200);
    }
}
