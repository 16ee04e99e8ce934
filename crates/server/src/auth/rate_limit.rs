//! Login brute-force protection: failed attempts counted per (username, client IP) and per
//! client IP in a sliding window, in memory.
//!
//! Time comes from paygate's [`Clock`](paygate_core::Clock) (so tests move it); moka only
//! bounds memory. The state is per process: several replicas each allow the limit, which is
//! acceptable for an operator login. Usernames are compared case-insensitively here so that
//! case variations do not multiply the allowance.

use std::collections::VecDeque;
use std::net::IpAddr;
use std::sync::{Arc, Mutex, PoisonError};

use time::OffsetDateTime;

use crate::settings::LoginLimits;

type Failures = Arc<Mutex<VecDeque<OffsetDateTime>>>;

/// Counts failed logins and says when a key is blocked.
#[derive(Debug)]
pub struct LoginLimiter {
    limits: LoginLimits,
    window: time::Duration,
    failures: moka::sync::Cache<String, Failures>,
}

fn pair_key(username: &str, ip: Option<IpAddr>) -> String {
    format!("user\0{}\0{}", username.to_lowercase(), ip_label(ip))
}

fn ip_key(ip: Option<IpAddr>) -> String {
    format!("ip\0{}", ip_label(ip))
}

fn ip_label(ip: Option<IpAddr>) -> String {
    ip.map_or_else(|| "unknown".to_owned(), |ip| ip.to_string())
}

impl LoginLimiter {
    pub fn new(limits: LoginLimits) -> Self {
        let window = time::Duration::try_from(limits.window).unwrap_or(time::Duration::MINUTE);
        LoginLimiter {
            limits,
            window,
            failures: moka::sync::Cache::builder()
                .max_capacity(100_000)
                .time_to_idle(limits.window)
                .build(),
        }
    }

    /// `Err(seconds)` when either key is over its limit: how long until one failure expires.
    pub fn check(
        &self,
        username: &str,
        ip: Option<IpAddr>,
        now: OffsetDateTime,
    ) -> Result<(), u64> {
        let pair = self.blocked_for(&pair_key(username, ip), self.limits.per_user_and_ip, now);
        let by_ip = self.blocked_for(&ip_key(ip), self.limits.per_ip, now);
        match pair.max(by_ip) {
            Some(secs) => Err(secs),
            None => Ok(()),
        }
    }

    pub fn record_failure(&self, username: &str, ip: Option<IpAddr>, now: OffsetDateTime) {
        for key in [pair_key(username, ip), ip_key(ip)] {
            let entry = self.failures.get_with(key, Failures::default);
            let mut times = entry.lock().unwrap_or_else(PoisonError::into_inner);
            self.prune(&mut times, now);
            times.push_back(now);
        }
    }

    /// A successful login forgets that user's failures from that IP (not the IP's total).
    pub fn record_success(&self, username: &str, ip: Option<IpAddr>) {
        self.failures.invalidate(&pair_key(username, ip));
    }

    fn prune(&self, times: &mut VecDeque<OffsetDateTime>, now: OffsetDateTime) {
        while times.front().is_some_and(|t| *t + self.window <= now) {
            times.pop_front();
        }
    }

    fn blocked_for(&self, key: &str, limit: u32, now: OffsetDateTime) -> Option<u64> {
        let entry = self.failures.get(key)?;
        let mut times = entry.lock().unwrap_or_else(PoisonError::into_inner);
        self.prune(&mut times, now);
        if times.len() < limit as usize {
            return None;
        }
        // Blocked until enough failures age out to get below the limit again.
        let index = times.len() - limit as usize;
        let until = times.get(index).map(|t| *t + self.window)?;
        // Round up: a client that waits exactly Retry-After seconds must not be refused again.
        let left = until - now;
        let mut secs = left.whole_seconds();
        if left > time::Duration::seconds(secs) {
            secs += 1;
        }
        let secs = secs.max(1);
        Some(u64::try_from(secs).unwrap_or(1))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    fn limiter() -> LoginLimiter {
        LoginLimiter::new(LoginLimits {
            per_user_and_ip: 3,
            per_ip: 5,
            window: Duration::from_secs(900),
        })
    }

    fn t(secs: i64) -> OffsetDateTime {
        OffsetDateTime::from_unix_timestamp(1_700_000_000 + secs).unwrap()
    }

    const IP: Option<IpAddr> = Some(IpAddr::V4(std::net::Ipv4Addr::new(203, 0, 113, 7)));
    const OTHER_IP: Option<IpAddr> = Some(IpAddr::V4(std::net::Ipv4Addr::new(203, 0, 113, 8)));

    #[test]
    fn blocks_a_user_and_ip_pair_then_releases_with_time() {
        let l = limiter();
        for i in 0..3 {
            assert_eq!(l.check("alice", IP, t(i)), Ok(()));
            l.record_failure("alice", IP, t(i));
        }
        assert_eq!(l.check("alice", IP, t(10)), Err(890));
        assert_eq!(l.check("ALICE", IP, t(10)), Err(890), "case-insensitive");
        assert_eq!(l.check("alice", OTHER_IP, t(10)), Ok(()));
        assert_eq!(l.check("bob", IP, t(10)), Ok(()));
        // The first failure (t=0) ages out at t=900.
        assert_eq!(l.check("alice", IP, t(899)), Err(1));
        assert_eq!(l.check("alice", IP, t(900)), Ok(()));
    }

    #[test]
    fn blocks_an_ip_across_usernames() {
        let l = limiter();
        for (i, user) in ["a", "b", "c", "d", "e"].iter().enumerate() {
            l.record_failure(user, IP, t(i as i64));
        }
        assert!(l.check("f", IP, t(5)).is_err());
        assert_eq!(l.check("f", OTHER_IP, t(5)), Ok(()));
    }

    #[test]
    fn success_clears_the_pair_only() {
        let l = limiter();
        for i in 0..3 {
            l.record_failure("alice", IP, t(i));
        }
        l.record_success("alice", IP);
        assert_eq!(l.check("alice", IP, t(3)), Ok(()));
        l.record_failure("bob", IP, t(4));
        l.record_failure("bob", IP, t(5));
        // The IP has 5 failures in the window even though alice's pair was cleared.
        assert!(l.check("carol", IP, t(6)).is_err());
    }
}
