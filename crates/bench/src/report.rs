//! What a bench run tells: a human table (throughput, per-step latency percentiles, server CPU
//! per payment, the v3 crypto floor, the HTTP floor per stack, resident memory, errors, target
//! ✓/✗ lines) and the same numbers as JSON, with the exact command line and the machine they
//! were measured on.
//!
//! Every number here comes from a [`LoadResult`], a [`Floor`], an [`HttpFloor`] or `/proc` of
//! this run; a value that was not measured is `null` in JSON and "n/a" in the table, never a
//! default.

use std::collections::BTreeMap;
use std::fmt::Write as _;

use serde::Serialize;

use crate::floor::Floor;
use crate::httpfloor::{self, HttpFloor};
use crate::load::{CpuWindow, LoadResult, Pacing, Step};
use crate::seed::Protocol;
use crate::stats::{LatencySummary, RssSummary};

/// v3: server CPU per payment at most this multiple of the crypto floor.
pub const TARGET_V3_FLOOR_MULTIPLE: f64 = 1.3;
/// v2: server CPU per payment at most this, milliseconds.
pub const TARGET_V2_CPU_MS: f64 = 0.5;
/// Client-seen p99 of `create_order` and `pay` at half the saturating load, milliseconds.
pub const TARGET_P99_MS: f64 = 20.0;
/// RSS "flat": at most this growth, KiB per minute, over the second half of a run of at least
/// [`RSS_JUDGE_MIN_SECS`].
pub const TARGET_RSS_SLOPE_KIB_PER_MIN: f64 = 256.0;
pub const RSS_JUDGE_MIN_SECS: f64 = 300.0;

/// Webhook deliveries as the receiver counted them.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct WebhookCounts {
    pub deliveries: u64,
    pub rejected: u64,
    pub redelivered: usize,
}

/// One phase of a run (one protocol mix, one database, one pacing).
#[derive(Debug, Clone, Serialize)]
pub struct PhaseReport {
    pub name: String,
    pub protocols: Vec<Protocol>,
    pub database: String,
    pub pacing: Pacing,
    /// True for the open-loop phase run at half the saturating throughput.
    pub half_load: bool,
    pub window_secs: f64,
    pub started: u64,
    pub completed_in_window: u64,
    pub completed: u64,
    pub failed: u64,
    pub payments_per_sec: f64,
    pub steps: BTreeMap<&'static str, LatencySummary>,
    pub errors: BTreeMap<String, u64>,
    pub retries: BTreeMap<String, u64>,
    pub skipped_starts: u64,
    pub start_lag: Option<LatencySummary>,
    pub cpu: Option<CpuWindow>,
    /// CPU per payment ÷ the v3 floor (v3-only phases).
    pub cpu_floor_multiple: Option<f64>,
    /// The simulator's CPU over the phase (it shares the machine), seconds.
    pub sim_cpu_secs: Option<f64>,
    /// The bench process's own CPU over the phase (client + receiver), seconds.
    pub bench_cpu_secs: Option<f64>,
    pub rss: Option<RssSummary>,
    pub webhooks: WebhookCounts,
}

impl PhaseReport {
    /// Summarises `r`; `floor` turns v3 CPU into a multiple.
    pub fn new(
        name: &str,
        protocols: Vec<Protocol>,
        database: &str,
        half_load: bool,
        r: &LoadResult,
        floor: Option<&Floor>,
    ) -> PhaseReport {
        let steps = Step::ALL
            .iter()
            .filter_map(|s| {
                let samples = r.samples.get(s)?;
                Some((s.label(), LatencySummary::of(samples)?))
            })
            .collect();
        let v3_only = protocols == [Protocol::V3];
        let cpu_floor_multiple = match (v3_only, floor, r.cpu.and_then(|c| c.per_payment_ms)) {
            (true, Some(f), Some(ms)) => f.multiple(ms),
            _ => None,
        };
        PhaseReport {
            name: name.to_owned(),
            protocols,
            database: database.to_owned(),
            pacing: r.pacing,
            half_load,
            window_secs: r.window_secs,
            started: r.started,
            completed_in_window: r.completed_in_window,
            completed: r.completed,
            failed: r.failed,
            payments_per_sec: r.payments_per_sec,
            steps,
            errors: r.errors.clone(),
            retries: r.retries.clone(),
            skipped_starts: r.skipped_starts,
            start_lag: LatencySummary::of(&r.start_lag_ms),
            cpu: r.cpu,
            cpu_floor_multiple,
            sim_cpu_secs: None,
            bench_cpu_secs: None,
            rss: RssSummary::of(&r.rss_samples),
            webhooks: WebhookCounts {
                deliveries: r.webhook_deliveries,
                rejected: r.webhook_rejected,
                redelivered: r.webhook_redelivered,
            },
        }
    }

    pub fn error_count(&self) -> u64 {
        self.errors.values().sum::<u64>() + self.webhooks.rejected
    }
}

/// The machine the numbers were measured on.
#[derive(Debug, Clone, Serialize)]
pub struct Machine {
    pub nproc: usize,
    pub cpu_model: Option<String>,
    pub kernel: Option<String>,
    pub git_rev: Option<String>,
}

impl Machine {
    /// Reads `/proc/cpuinfo`, `/proc/sys/kernel/osrelease` and `git rev-parse HEAD`
    /// (uncommitted changes are not visible in it).
    pub fn detect() -> Machine {
        let cpuinfo = std::fs::read_to_string("/proc/cpuinfo").unwrap_or_default();
        // The working directory's checkout, else the one the running binary was built in.
        let exe_dir = std::env::current_exe()
            .ok()
            .and_then(|p| p.parent().map(std::path::Path::to_path_buf));
        let git_rev = [Some(std::path::PathBuf::from(".")), exe_dir]
            .into_iter()
            .flatten()
            .find_map(|dir| {
                std::process::Command::new("git")
                    .arg("-C")
                    .arg(dir)
                    .args(["rev-parse", "--short=12", "HEAD"])
                    .output()
                    .ok()
                    .filter(|o| o.status.success())
                    .and_then(|o| String::from_utf8(o.stdout).ok())
                    .map(|s| s.trim().to_owned())
            });
        Machine {
            nproc: std::thread::available_parallelism().map_or(0, usize::from),
            cpu_model: cpu_model(&cpuinfo),
            kernel: std::fs::read_to_string("/proc/sys/kernel/osrelease")
                .ok()
                .map(|s| s.trim().to_owned()),
            git_rev,
        }
    }
}

/// The `model name` of a `/proc/cpuinfo` text.
pub fn cpu_model(cpuinfo: &str) -> Option<String> {
    cpuinfo
        .lines()
        .find(|l| l.starts_with("model name"))
        .and_then(|l| l.split_once(':'))
        .map(|(_, v)| v.trim().to_owned())
}

/// One target line.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct TargetCheck {
    pub phase: String,
    pub target: String,
    /// The measured value, in the target's unit.
    pub measured: Option<f64>,
    /// `None`: not judged (not measured, or the run was too short).
    pub pass: Option<bool>,
}

/// The targets a phase can be judged on.
pub fn targets_for(phase: &PhaseReport) -> Vec<TargetCheck> {
    let mut out = Vec::new();
    let check = |target: String, measured: Option<f64>, limit: f64| TargetCheck {
        phase: phase.name.clone(),
        target,
        measured,
        pass: measured.map(|m| m <= limit),
    };
    let per_payment = phase.cpu.and_then(|c| c.per_payment_ms);
    match phase.protocols.as_slice() {
        [Protocol::V3] => out.push(check(
            format!("v3 CPU/payment ≤ {TARGET_V3_FLOOR_MULTIPLE}× crypto floor"),
            phase.cpu_floor_multiple,
            TARGET_V3_FLOOR_MULTIPLE,
        )),
        [Protocol::V2] => out.push(check(
            format!(
                "v2 CPU/payment ≤ {TARGET_V2_CPU_MS} ms ({})",
                phase.database
            ),
            per_payment,
            TARGET_V2_CPU_MS,
        )),
        _ => {}
    }
    if phase.half_load {
        for step in [Step::CreateOrder, Step::Pay] {
            out.push(check(
                format!(
                    "p99 {} ≤ {TARGET_P99_MS} ms at half the saturating load",
                    step.label()
                ),
                phase.steps.get(step.label()).map(|s| s.p99_ms),
                TARGET_P99_MS,
            ));
        }
    }
    if let Some(rss) = &phase.rss {
        let slope = rss.slope_kib_per_min_second_half;
        let long_enough = phase.window_secs >= RSS_JUDGE_MIN_SECS;
        out.push(TargetCheck {
            phase: phase.name.clone(),
            target: format!(
                "RSS flat (≤ {TARGET_RSS_SLOPE_KIB_PER_MIN} KiB/min over the second half; judged on runs ≥ {RSS_JUDGE_MIN_SECS} s)"
            ),
            measured: slope,
            pass: slope
                .filter(|_| long_enough)
                .map(|s| s <= TARGET_RSS_SLOPE_KIB_PER_MIN),
        });
    }
    out
}

/// The whole run.
#[derive(Debug, Clone, Serialize)]
pub struct BenchReport {
    pub command_line: Vec<String>,
    pub started_at: String,
    pub machine: Machine,
    /// The server settings and run options the numbers depend on.
    pub settings: serde_json::Value,
    pub floor: Option<Floor>,
    /// Server CPU per bare `GET /healthz`, per stack (database label); a stack is missing when
    /// the floor was disabled or its server's CPU could not be read.
    pub http_floor: BTreeMap<String, HttpFloor>,
    pub phases: Vec<PhaseReport>,
    /// Closed-loop throughput per phase group, payments/s (the saturating load).
    pub saturation: BTreeMap<String, f64>,
    pub targets: Vec<TargetCheck>,
    pub errors_total: u64,
}

impl BenchReport {
    /// Fills `targets` and `errors_total` from the phases.
    pub fn finish(mut self) -> BenchReport {
        self.targets = self.phases.iter().flat_map(targets_for).collect();
        self.errors_total = self.phases.iter().map(PhaseReport::error_count).sum();
        self
    }
}

fn opt(v: Option<f64>, digits: usize) -> String {
    v.map_or_else(|| "n/a".to_owned(), |v| format!("{v:.digits$}"))
}

/// The human table.
pub fn render_text(r: &BenchReport) -> String {
    let mut s = String::new();
    let m = &r.machine;
    let _ = writeln!(
        s,
        "paygate bench — {} — {} CPU(s), {}{}",
        r.started_at,
        m.nproc,
        m.cpu_model.as_deref().unwrap_or("unknown CPU"),
        m.git_rev
            .as_deref()
            .map(|g| format!(", git {g}"))
            .unwrap_or_default()
    );
    if let Some(f) = &r.floor {
        let _ = writeln!(
            s,
            "\nv3 crypto floor (RSA-{}, aws-lc-rs, one thread, CPU time): {:.0} µs per payment",
            f.rsa_bits, f.per_v3_payment_us
        );
        for i in &f.items {
            let _ = writeln!(
                s,
                "  {} × {:<58} {:>9.1} µs",
                i.per_payment, i.operation, i.cpu_us_each
            );
        }
    }
    if !r.http_floor.is_empty() {
        let _ = writeln!(s);
        for (label, f) in &r.http_floor {
            let _ = writeln!(s, "{}", httpfloor::render_line(label, f));
        }
    }
    for p in &r.phases {
        let protocols: Vec<&str> = p.protocols.iter().map(|p| p.label()).collect();
        let _ = writeln!(
            s,
            "\n== {} — {} on {} — {} — {:.1} s measured",
            p.name,
            protocols.join("+"),
            p.database,
            p.pacing.describe(),
            p.window_secs
        );
        let _ = writeln!(
            s,
            "payments: {} completed in window ({:.1}/s), {} started, {} failed{}",
            p.completed_in_window,
            p.payments_per_sec,
            p.started,
            p.failed,
            if p.skipped_starts > 0 {
                format!(", {} starts skipped (in-flight cap)", p.skipped_starts)
            } else {
                String::new()
            }
        );
        let _ = writeln!(
            s,
            "{:<20} {:>7} {:>9} {:>9} {:>9} {:>9}",
            "step (client-seen)", "n", "p50 ms", "p95 ms", "p99 ms", "max ms"
        );
        for step in Step::ALL {
            if let Some(l) = p.steps.get(step.label()) {
                let _ = writeln!(
                    s,
                    "{:<20} {:>7} {:>9.2} {:>9.2} {:>9.2} {:>9.2}",
                    step.label(),
                    l.count,
                    l.p50_ms,
                    l.p95_ms,
                    l.p99_ms,
                    l.max_ms
                );
            }
        }
        if let Some(lag) = &p.start_lag {
            let _ = writeln!(
                s,
                "open-loop start lag: p50 {:.2} ms, p99 {:.2} ms",
                lag.p50_ms, lag.p99_ms
            );
        }
        match p.cpu {
            Some(c) => {
                let _ = writeln!(
                    s,
                    "server CPU: {:.2} s over {} payments = {} ms/payment{}",
                    c.server_cpu_secs,
                    c.payments,
                    opt(c.per_payment_ms, 3),
                    p.cpu_floor_multiple
                        .map(|m| format!(" = {m:.2}× the v3 floor"))
                        .unwrap_or_default()
                );
            }
            None => {
                let _ = writeln!(s, "server CPU: n/a (server not a local process)");
            }
        }
        if p.sim_cpu_secs.is_some() || p.bench_cpu_secs.is_some() {
            let _ = writeln!(
                s,
                "sharing the machine: simulator {} s CPU, bench client {} s CPU",
                opt(p.sim_cpu_secs, 2),
                opt(p.bench_cpu_secs, 2)
            );
        }
        if let Some(rss) = &p.rss {
            let _ = writeln!(
                s,
                "server RSS: start {} KiB, end {} KiB, max {} KiB, slope {} KiB/min (second half, {} samples)",
                rss.start_kib,
                rss.end_kib,
                rss.max_kib,
                opt(rss.slope_kib_per_min_second_half, 1),
                rss.samples
            );
            let tenths: Vec<String> = rss.by_tenth_kib.iter().map(|k| k.to_string()).collect();
            let _ = writeln!(
                s,
                "server RSS at each tenth of the run (KiB): {}",
                tenths.join(" ")
            );
        }
        let _ = writeln!(
            s,
            "webhooks: {} delivered, {} redelivered, {} rejected (bad signature)",
            p.webhooks.deliveries, p.webhooks.redelivered, p.webhooks.rejected
        );
        if !p.retries.is_empty() {
            let _ = writeln!(s, "retries: {}", kv(&p.retries));
        }
        if !p.errors.is_empty() {
            let _ = writeln!(s, "ERRORS: {}", kv(&p.errors));
        }
    }
    if !r.saturation.is_empty() {
        let _ = writeln!(s, "\nsaturating throughput (closed loop):");
        for (k, v) in &r.saturation {
            let _ = writeln!(s, "  {k}: {v:.1} payments/s");
        }
    }
    if !r.targets.is_empty() {
        let _ = writeln!(s, "\ntargets:");
        for t in &r.targets {
            let mark = match t.pass {
                Some(true) => "✓",
                Some(false) => "✗",
                None => "–",
            };
            let _ = writeln!(
                s,
                "  {mark} {} [{}]: measured {}",
                t.target,
                t.phase,
                opt(t.measured, 3)
            );
        }
    }
    if r.errors_total > 0 {
        let _ = writeln!(
            s,
            "\n!!! {} ERRORS in this run: the numbers above are not a clean measurement !!!",
            r.errors_total
        );
    }
    s
}

fn kv(m: &BTreeMap<String, u64>) -> String {
    m.iter()
        .map(|(k, v)| format!("{k}={v}"))
        .collect::<Vec<_>>()
        .join(", ")
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::floor::FloorItem;
    use crate::receiver::WebhookLog;

    fn result(pacing: Pacing, cpu_ms: Option<f64>) -> LoadResult {
        let mut samples = BTreeMap::new();
        samples.insert(Step::CreateOrder, (1..=100).map(f64::from).collect());
        samples.insert(Step::Pay, vec![3.0; 10]);
        LoadResult {
            pacing,
            window_secs: 10.0,
            started: 120,
            completed_in_window: 100,
            completed: 118,
            failed: 0,
            payments_per_sec: 10.0,
            samples,
            errors: BTreeMap::new(),
            retries: BTreeMap::new(),
            skipped_starts: 0,
            start_lag_ms: vec![],
            cpu: cpu_ms.map(|ms| CpuWindow {
                server_cpu_secs: ms * 100.0 / 1000.0,
                payments: 100,
                per_payment_ms: Some(ms),
            }),
            rss_samples: vec![(0.0, 1000), (1.0, 1000), (2.0, 1000)],
            webhook_deliveries: 100,
            webhook_rejected: 0,
            webhook_redelivered: 0,
            orders: vec![],
            webhooks: WebhookLog::default(),
        }
    }

    fn floor() -> Floor {
        Floor::from_items(
            vec![FloorItem {
                operation: "RSA",
                per_payment: 4,
                cpu_us_each: 250.0,
                iterations: 10,
            }],
            2048,
        )
    }

    #[test]
    fn v3_cpu_is_judged_against_the_floor_and_p99_at_half_load() {
        let closed = result(Pacing::Closed { concurrency: 8 }, Some(2.6));
        let p = PhaseReport::new(
            "v3",
            vec![Protocol::V3],
            "sqlite",
            false,
            &closed,
            Some(&floor()),
        );
        assert!((p.cpu_floor_multiple.unwrap() - 2.6).abs() < 1e-9);
        let t = targets_for(&p);
        assert_eq!(t[0].pass, Some(false), "{t:?}");
        // A 10 s run does not judge RSS.
        assert_eq!(t.last().unwrap().pass, None);

        let open = result(
            Pacing::Open {
                rate: 5.0,
                max_in_flight: 100,
            },
            Some(0.4),
        );
        let p = PhaseReport::new("v2-half", vec![Protocol::V2], "postgres", true, &open, None);
        let t = targets_for(&p);
        assert_eq!(t[0].pass, Some(true));
        assert!(t[0].target.contains("postgres"));
        // p99 of 1..=100 is 99 ms: over 20; pay's is 3 ms.
        let create = t
            .iter()
            .find(|t| t.target.contains("create_order"))
            .unwrap();
        assert_eq!((create.measured, create.pass), (Some(99.0), Some(false)));
        let pay = t.iter().find(|t| t.target.contains("p99 pay")).unwrap();
        assert_eq!(pay.pass, Some(true));
    }

    #[test]
    fn json_has_every_number_and_the_text_flags_errors() {
        let mut r = result(Pacing::Closed { concurrency: 8 }, None);
        r.errors.insert("pay:http_502:upstream_rejected".into(), 2);
        let phase = PhaseReport::new(
            "mixed",
            vec![Protocol::V2, Protocol::V3],
            "sqlite",
            false,
            &r,
            None,
        );
        let report = BenchReport {
            command_line: vec!["paygate".into(), "bench".into()],
            started_at: "2026-11-24T00:00:00Z".into(),
            machine: Machine {
                nproc: 2,
                cpu_model: Some("Test CPU".into()),
                kernel: None,
                git_rev: None,
            },
            settings: serde_json::json!({"webhook_interval_ms": 200}),
            floor: Some(floor()),
            http_floor: BTreeMap::new(),
            phases: vec![phase],
            saturation: BTreeMap::new(),
            targets: vec![],
            errors_total: 0,
        }
        .finish();
        assert_eq!(report.errors_total, 2);
        let json = serde_json::to_value(&report).unwrap();
        assert_eq!(json["command_line"][1], "bench");
        assert_eq!(json["machine"]["nproc"], 2);
        assert_eq!(json["floor"]["per_v3_payment_us"], 1000.0);
        let p = &json["phases"][0];
        assert_eq!(p["steps"]["create_order"]["p99_ms"], 99.0);
        assert_eq!(p["pacing"]["mode"], "closed");
        assert_eq!(p["cpu"], serde_json::Value::Null);
        assert_eq!(p["errors"]["pay:http_502:upstream_rejected"], 2);
        let text = render_text(&report);
        assert!(
            text.contains("ERRORS: pay:http_502:upstream_rejected=2"),
            "{text}"
        );
        assert!(text.contains("2 ERRORS in this run"), "{text}");
        assert!(text.contains("server CPU: n/a"), "{text}");
        // No HTTP floor measured: no line, an empty object.
        assert!(!text.contains("HTTP floor"), "{text}");
        assert_eq!(json["http_floor"], serde_json::json!({}));
    }

    #[test]
    fn http_floor_is_one_json_entry_and_one_line_per_stack() {
        let floor_of = |cpu_ms| {
            HttpFloor::from_measurement(
                2000,
                std::time::Duration::from_millis(cpu_ms),
                std::time::Duration::from_secs(1),
                100,
            )
            .unwrap()
        };
        let report = BenchReport {
            command_line: vec![],
            started_at: String::new(),
            machine: Machine {
                nproc: 2,
                cpu_model: None,
                kernel: None,
                git_rev: None,
            },
            settings: serde_json::Value::Null,
            floor: None,
            http_floor: BTreeMap::from([
                ("postgres".to_owned(), floor_of(180)),
                ("sqlite".to_owned(), floor_of(124)),
            ]),
            phases: vec![],
            saturation: BTreeMap::new(),
            targets: vec![],
            errors_total: 0,
        }
        .finish();
        let json = serde_json::to_value(&report).unwrap();
        assert_eq!(json["http_floor"]["sqlite"]["requests"], 2000);
        assert_eq!(
            json["http_floor"]["sqlite"]["server_cpu_us_per_request"],
            62.0
        );
        assert_eq!(
            json["http_floor"]["postgres"]["server_cpu_us_per_request"],
            90.0
        );
        assert_eq!(json["http_floor"]["postgres"]["exchanges_per_payment"], 6);
        let text = render_text(&report);
        let lines: Vec<&str> = text
            .lines()
            .filter(|l| l.starts_with("HTTP floor"))
            .collect();
        assert_eq!(lines.len(), 2, "{text}");
        assert!(
            lines[1].starts_with("HTTP floor (sqlite): 2000 × GET /healthz, keep-alive, 8 in flight: 62 µs server CPU per request → 6 exchanges per payment ≈ 0.37 ms"),
            "{text}"
        );
        assert!(
            lines[0].contains("(postgres)") && lines[0].contains("≈ 0.54 ms"),
            "{text}"
        );
    }

    #[test]
    fn cpu_model_is_read_from_cpuinfo() {
        let text = "processor\t: 0\nmodel name\t: AMD EPYC 7B13\nflags\t: fpu\n";
        assert_eq!(cpu_model(text).as_deref(), Some("AMD EPYC 7B13"));
        assert_eq!(cpu_model(""), None);
    }
}
