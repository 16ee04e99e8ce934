//! What the kernel says a process costs: CPU time (`/proc/<pid>/stat`), resident memory
//! (`/proc/<pid>/status`) and the calling thread's CPU time (`/proc/thread-self/schedstat`).
//!
//! Parsing is pure (fed fixture text in tests); reading is one `std::fs::read_to_string`. This
//! module never writes anything under `/proc` and never guesses a number it could not read: a
//! reading that fails is an error, not a zero.

use std::path::Path;
use std::sync::OnceLock;
use std::time::Duration;

use anyhow::{Context, bail};

/// The kernel's clock ticks per second for `utime`/`stime` (`getconf CLK_TCK`, read once; 100,
/// the value of every Linux architecture paygate runs on, if `getconf` is unavailable).
pub fn clock_ticks_per_second() -> u64 {
    static TICKS: OnceLock<u64> = OnceLock::new();
    *TICKS.get_or_init(|| {
        std::process::Command::new("getconf")
            .arg("CLK_TCK")
            .output()
            .ok()
            .and_then(|o| String::from_utf8(o.stdout).ok())
            .and_then(|s| s.trim().parse().ok())
            .filter(|&t: &u64| t > 0)
            .unwrap_or(100)
    })
}

/// `utime + stime` of a `/proc/<pid>/stat` line, in clock ticks: every thread of the process,
/// living or exited (the kernel folds exited threads into the process's totals).
///
/// The command name (field 2) may contain spaces and parentheses, so fields are counted from
/// the LAST `)`.
pub fn parse_stat_cpu_ticks(stat: &str) -> anyhow::Result<u64> {
    let close = stat.rfind(')').context("no ')' in /proc/<pid>/stat")?;
    let rest = stat.get(close + 1..).unwrap_or_default();
    // After the name: field 3 (state) is index 0, so utime (14) is 11 and stime (15) is 12.
    let fields: Vec<&str> = rest.split_whitespace().collect();
    let field = |i: usize, name: &str| -> anyhow::Result<u64> {
        fields
            .get(i)
            .with_context(|| format!("/proc/<pid>/stat has no {name} field"))?
            .parse::<u64>()
            .with_context(|| format!("/proc/<pid>/stat {name} is not a number"))
    };
    Ok(field(11, "utime")? + field(12, "stime")?)
}

/// `VmRSS` of a `/proc/<pid>/status` text, in KiB.
pub fn parse_status_rss_kib(status: &str) -> anyhow::Result<u64> {
    for line in status.lines() {
        if let Some(rest) = line.strip_prefix("VmRSS:") {
            let mut parts = rest.split_whitespace();
            let value = parts.next().context("VmRSS has no value")?;
            let unit = parts.next().unwrap_or("kB");
            if unit != "kB" {
                bail!("VmRSS in unexpected unit {unit:?}");
            }
            return value.parse().context("VmRSS is not a number");
        }
    }
    bail!("no VmRSS line (a kernel thread, or the process is a zombie)")
}

/// The first field of a `schedstat` file: nanoseconds spent on a CPU.
pub fn parse_schedstat_ns(text: &str) -> anyhow::Result<u64> {
    text.split_whitespace()
        .next()
        .context("empty schedstat")?
        .parse()
        .context("schedstat run time is not a number")
}

/// CPU time (user + system, all threads) of process `pid` so far.
pub fn process_cpu_time(pid: u32) -> anyhow::Result<Duration> {
    let path = format!("/proc/{pid}/stat");
    let text = std::fs::read_to_string(&path).with_context(|| format!("reading {path}"))?;
    let ticks = parse_stat_cpu_ticks(&text)?;
    Ok(ticks_to_duration(ticks, clock_ticks_per_second()))
}

/// Resident memory of process `pid`, in KiB.
pub fn process_rss_kib(pid: u32) -> anyhow::Result<u64> {
    let path = format!("/proc/{pid}/status");
    let text = std::fs::read_to_string(&path).with_context(|| format!("reading {path}"))?;
    parse_status_rss_kib(&text)
}

/// CPU time of the calling thread, in nanoseconds (`/proc/thread-self/schedstat`, which has
/// nanosecond resolution where `stat`'s ticks have 10 ms).
pub fn thread_cpu_ns() -> anyhow::Result<u64> {
    let path = Path::new("/proc/thread-self/schedstat");
    let text = std::fs::read_to_string(path).context("reading /proc/thread-self/schedstat")?;
    parse_schedstat_ns(&text)
}

/// `ticks` clock ticks as a duration.
pub fn ticks_to_duration(ticks: u64, per_second: u64) -> Duration {
    let per_second = per_second.max(1);
    let nanos = u128::from(ticks) * 1_000_000_000 / u128::from(per_second);
    Duration::from_nanos(u64::try_from(nanos).unwrap_or(u64::MAX))
}

#[cfg(test)]
mod tests {
    use super::*;

    // A real line, with a command name that contains ") (" to prove fields count from the
    // last parenthesis.
    const STAT: &str = "4242 (pay gate) (x) S 1 4242 4242 0 -1 4194560 1603 0 0 0 \
                        731 269 0 0 20 0 9 0 123456 1000000 2500 18446744073709551615 1 1 0 0 0 \
                        0 0 4096 17663 0 0 0 17 1 0 0 0 0 0";

    #[test]
    fn stat_cpu_is_utime_plus_stime_counted_from_the_last_parenthesis() {
        assert_eq!(parse_stat_cpu_ticks(STAT).unwrap(), 731 + 269);
    }

    #[test]
    fn stat_without_enough_fields_is_an_error_not_zero() {
        assert!(parse_stat_cpu_ticks("1 (x) S 1 2").is_err());
        assert!(parse_stat_cpu_ticks("garbage").is_err());
    }

    #[test]
    fn rss_comes_from_vmrss_in_kib() {
        let status = "Name:\tpaygate\nVmPeak:\t  200000 kB\nVmRSS:\t   48812 kB\nThreads:\t9\n";
        assert_eq!(parse_status_rss_kib(status).unwrap(), 48_812);
        assert!(parse_status_rss_kib("Name:\tkthreadd\n").is_err());
    }

    #[test]
    fn schedstat_first_field_is_nanoseconds() {
        assert_eq!(
            parse_schedstat_ns("675347973 382426331 253\n").unwrap(),
            675_347_973
        );
        assert!(parse_schedstat_ns("").is_err());
    }

    #[test]
    fn ticks_convert_at_the_given_rate() {
        assert_eq!(ticks_to_duration(250, 100), Duration::from_millis(2_500));
        assert_eq!(ticks_to_duration(3, 1000), Duration::from_millis(3));
    }

    #[test]
    fn this_process_can_be_read() {
        let pid = std::process::id();
        assert!(process_rss_kib(pid).unwrap() > 0);
        // Burn a little CPU so the reading cannot legitimately be zero.
        let start = thread_cpu_ns().unwrap();
        let mut x = 0u64;
        for i in 0..5_000_000u64 {
            x = x.wrapping_mul(31).wrapping_add(i);
        }
        assert!(x != 1);
        assert!(thread_cpu_ns().unwrap() > start);
        assert!(process_cpu_time(pid).is_ok());
    }
}
