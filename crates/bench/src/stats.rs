//! The arithmetic of the report: latency percentiles (nearest rank) and the least-squares slope
//! of resident memory over time.
//!
//! Pure functions over samples the harness measured; nothing here may invent a value for an
//! empty sample set (it answers `None`, and the report prints "n/a").

use serde::Serialize;

/// Nearest-rank percentile `p` (0 < p ≤ 100) of `sorted` (ascending): the smallest sample such
/// that at least p % of the samples are ≤ it. `None` for no samples.
pub fn percentile(sorted: &[f64], p: f64) -> Option<f64> {
    if sorted.is_empty() || !(p > 0.0 && p <= 100.0) {
        return None;
    }
    let n = sorted.len();
    // ceil(p/100 · n) as an index from 1; float error must not push 95 % of 20 to rank 20.
    let exact = p / 100.0 * n as f64;
    let rank = (exact - 1e-9).ceil().max(1.0) as usize;
    sorted.get(rank.min(n) - 1).copied()
}

/// Summary of one step's latencies, in milliseconds.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct LatencySummary {
    pub count: usize,
    pub p50_ms: f64,
    pub p95_ms: f64,
    pub p99_ms: f64,
    pub max_ms: f64,
    pub mean_ms: f64,
}

impl LatencySummary {
    /// `None` for no samples.
    pub fn of(samples_ms: &[f64]) -> Option<LatencySummary> {
        let mut sorted = samples_ms.to_vec();
        sorted.sort_by(f64::total_cmp);
        let count = sorted.len();
        Some(LatencySummary {
            count,
            p50_ms: percentile(&sorted, 50.0)?,
            p95_ms: percentile(&sorted, 95.0)?,
            p99_ms: percentile(&sorted, 99.0)?,
            max_ms: *sorted.last()?,
            mean_ms: sorted.iter().sum::<f64>() / count as f64,
        })
    }
}

/// Least-squares slope of `y` over `x` (`(x, y)` points). `None` with fewer than two distinct
/// `x` values.
pub fn slope(points: &[(f64, f64)]) -> Option<f64> {
    if points.len() < 2 {
        return None;
    }
    let n = points.len() as f64;
    let mean_x = points.iter().map(|p| p.0).sum::<f64>() / n;
    let mean_y = points.iter().map(|p| p.1).sum::<f64>() / n;
    let sxx: f64 = points.iter().map(|p| (p.0 - mean_x).powi(2)).sum();
    if sxx <= f64::EPSILON {
        return None;
    }
    let sxy: f64 = points.iter().map(|p| (p.0 - mean_x) * (p.1 - mean_y)).sum();
    Some(sxy / sxx)
}

/// Resident memory over a run: `samples` are `(seconds since start, KiB)`.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct RssSummary {
    pub start_kib: u64,
    pub end_kib: u64,
    pub max_kib: u64,
    /// KiB per minute over the second half of the samples (least squares); `None` with fewer
    /// than two samples there.
    pub slope_kib_per_min_second_half: Option<f64>,
    pub samples: usize,
    /// The first sample at or after each tenth of the run (0 %, 10 %, …, 100 %): the shape
    /// of the curve, to tell a cache that fills and levels off from a steady climb.
    pub by_tenth_kib: Vec<u64>,
}

impl RssSummary {
    pub fn of(samples: &[(f64, u64)]) -> Option<RssSummary> {
        let first = samples.first()?;
        let last = samples.last()?;
        let half = &samples[samples.len() / 2..];
        let points: Vec<(f64, f64)> = half.iter().map(|&(t, k)| (t / 60.0, k as f64)).collect();
        Some(RssSummary {
            start_kib: first.1,
            end_kib: last.1,
            max_kib: samples.iter().map(|s| s.1).max().unwrap_or(0),
            slope_kib_per_min_second_half: slope(&points),
            samples: samples.len(),
            by_tenth_kib: by_tenth(samples),
        })
    }
}

/// See [`RssSummary::by_tenth_kib`]; `samples` are in time order.
fn by_tenth(samples: &[(f64, u64)]) -> Vec<u64> {
    let (Some(first), Some(last)) = (samples.first(), samples.last()) else {
        return Vec::new();
    };
    let span = last.0 - first.0;
    (0..=10)
        .map(|tenth| {
            let at = first.0 + span * f64::from(tenth) / 10.0;
            samples.iter().find(|s| s.0 >= at - 1e-9).unwrap_or(last).1
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn one_to(n: usize) -> Vec<f64> {
        (1..=n).map(|i| i as f64).collect()
    }

    #[test]
    fn nearest_rank_known_answers() {
        let hundred = one_to(100);
        assert_eq!(percentile(&hundred, 50.0), Some(50.0));
        assert_eq!(percentile(&hundred, 95.0), Some(95.0));
        assert_eq!(percentile(&hundred, 99.0), Some(99.0));
        assert_eq!(percentile(&hundred, 100.0), Some(100.0));
        let twenty = one_to(20);
        // 0.95 × 20 = 19 exactly: rank 19, not 20.
        assert_eq!(percentile(&twenty, 95.0), Some(19.0));
        assert_eq!(percentile(&twenty, 99.0), Some(20.0));
        assert_eq!(percentile(&[7.0], 99.0), Some(7.0));
        // Five samples: p50 is the 3rd (ceil 2.5).
        assert_eq!(percentile(&[1.0, 2.0, 3.0, 4.0, 5.0], 50.0), Some(3.0));
    }

    #[test]
    fn no_samples_no_percentile() {
        assert_eq!(percentile(&[], 50.0), None);
        assert_eq!(percentile(&[1.0], 0.0), None);
        assert!(LatencySummary::of(&[]).is_none());
    }

    #[test]
    fn summary_sorts_its_input() {
        let s = LatencySummary::of(&[5.0, 1.0, 4.0, 2.0, 3.0]).unwrap();
        assert_eq!(s.count, 5);
        assert_eq!(s.p50_ms, 3.0);
        assert_eq!(s.p99_ms, 5.0);
        assert_eq!(s.max_ms, 5.0);
        assert!((s.mean_ms - 3.0).abs() < 1e-12);
    }

    #[test]
    fn slope_of_a_line_is_its_gradient() {
        let pts: Vec<(f64, f64)> = (0..10).map(|i| (i as f64, 3.0 * i as f64 + 7.0)).collect();
        assert!((slope(&pts).unwrap() - 3.0).abs() < 1e-9);
        assert_eq!(slope(&[(1.0, 1.0)]), None);
        assert_eq!(slope(&[(1.0, 1.0), (1.0, 5.0)]), None);
    }

    #[test]
    fn rss_slope_uses_the_second_half_in_kib_per_minute() {
        // First half: a start-up climb; second half: +60 KiB per 60 s.
        let mut samples = vec![(0.0, 1_000), (60.0, 5_000)];
        samples.extend([(120.0, 10_000), (180.0, 10_060)]);
        let s = RssSummary::of(&samples).unwrap();
        assert_eq!(s.start_kib, 1_000);
        assert_eq!(s.end_kib, 10_060);
        assert_eq!(s.max_kib, 10_060);
        assert!((s.slope_kib_per_min_second_half.unwrap() - 60.0).abs() < 1e-9);
    }

    #[test]
    fn rss_shape_is_sampled_at_each_tenth_of_the_run() {
        // 0..=100 s, one sample a second, RSS = 1000 + t: each tenth is 10 s further on.
        let samples: Vec<(f64, u64)> = (0..=100)
            .map(|t| (f64::from(t), 1_000 + t as u64))
            .collect();
        let s = RssSummary::of(&samples).unwrap();
        assert_eq!(
            s.by_tenth_kib,
            [
                1_000, 1_010, 1_020, 1_030, 1_040, 1_050, 1_060, 1_070, 1_080, 1_090, 1_100
            ]
        );
        // Uneven spacing: the first sample at or after each mark.
        let sparse = [(0.0, 1), (35.0, 2), (100.0, 3)];
        let s = RssSummary::of(&sparse).unwrap();
        assert_eq!(s.by_tenth_kib, [1, 2, 2, 2, 3, 3, 3, 3, 3, 3, 3]);
    }
}
