//! The retry schedule: when a failed attempt is tried again.
//!
//! After attempt n (1-based) fails, the next one waits `SCHEDULE[n - 1]` plus up to
//! [`JITTER`] of it (so a tenant's outage does not end in a thundering herd): 5 s, 5 min,
//! 30 min, 2 h, 5 h, 10 h, 10 h, 14 h, 20 h — ten attempts over about 2.6 days (2.9 with full
//! jitter). After the tenth the event is `failed`. A 429 or 503 with `Retry-After` waits what
//! the receiver asked instead (at most [`MAX_RETRY_AFTER`]), still counting as an attempt.

use std::time::Duration;

const MIN: u64 = 60;
const HOUR: u64 = 60 * MIN;

/// Delay after each failed attempt; its length + 1 is the number of attempts.
pub const SCHEDULE: [Duration; 9] = [
    Duration::from_secs(5),
    Duration::from_secs(5 * MIN),
    Duration::from_secs(30 * MIN),
    Duration::from_secs(2 * HOUR),
    Duration::from_secs(5 * HOUR),
    Duration::from_secs(10 * HOUR),
    Duration::from_secs(10 * HOUR),
    Duration::from_secs(14 * HOUR),
    Duration::from_secs(20 * HOUR),
];

/// Attempts before an event is `failed`.
pub const MAX_ATTEMPTS: i64 = SCHEDULE.len() as i64 + 1;

/// The largest share of a delay added as jitter.
pub const JITTER: f64 = 0.1;

/// The longest `Retry-After` honoured.
pub const MAX_RETRY_AFTER: Duration = Duration::from_secs(24 * HOUR);

/// The wait after the `attempts`-th failed attempt (counted since the last resend), with
/// `unit` in `[0, 1)` scaling the jitter; `None` when the schedule is exhausted.
pub fn retry_delay(attempts: i64, unit: f64) -> Option<Duration> {
    let index = usize::try_from(attempts.checked_sub(1)?).ok()?;
    let base = *SCHEDULE.get(index)?;
    Some(base + base.mul_f64(JITTER * unit.clamp(0.0, 1.0)))
}

/// A `Retry-After` value: delay-seconds, or an HTTP date relative to `now`. Capped at
/// [`MAX_RETRY_AFTER`]; unparseable values are ignored.
pub fn parse_retry_after(value: &str, now: time::OffsetDateTime) -> Option<Duration> {
    let value = value.trim();
    let delay = if let Ok(secs) = value.parse::<u64>() {
        Duration::from_secs(secs)
    } else {
        let at = time::OffsetDateTime::parse(value, &time::format_description::well_known::Rfc2822)
            .ok()?;
        Duration::try_from(at - now).unwrap_or(Duration::ZERO)
    };
    Some(delay.min(MAX_RETRY_AFTER))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_schedule_spans_about_three_days() {
        let total: Duration = SCHEDULE.iter().sum();
        assert_eq!(
            total.as_secs(),
            5 + 5 * 60 + 30 * 60 + (2 + 5 + 10 + 10 + 14 + 20) * 3600
        );
        assert_eq!(MAX_ATTEMPTS, 10);
    }

    #[test]
    fn delays_follow_the_schedule_with_bounded_jitter() {
        assert_eq!(retry_delay(1, 0.0), Some(Duration::from_secs(5)));
        assert_eq!(retry_delay(2, 0.0), Some(Duration::from_secs(300)));
        assert_eq!(retry_delay(9, 0.0), Some(Duration::from_secs(20 * 3600)));
        assert_eq!(retry_delay(1, 1.0), Some(Duration::from_millis(5500)));
        assert_eq!(retry_delay(1, 7.0), Some(Duration::from_millis(5500)));
        assert_eq!(retry_delay(10, 0.0), None);
        assert_eq!(retry_delay(0, 0.0), None);
        assert_eq!(retry_delay(-3, 0.0), None);
    }

    #[test]
    fn retry_after_accepts_seconds_and_dates() {
        let now = time::macros::datetime!(2015-10-21 07:27:00 UTC);
        assert_eq!(
            parse_retry_after("120", now),
            Some(Duration::from_secs(120))
        );
        assert_eq!(
            parse_retry_after("Wed, 21 Oct 2015 07:28:00 GMT", now),
            Some(Duration::from_secs(60))
        );
        assert_eq!(parse_retry_after("999999999", now), Some(MAX_RETRY_AFTER));
        assert_eq!(parse_retry_after("soon", now), None);
        assert_eq!(parse_retry_after("-5", now), None);
    }
}
