//! The whole harness against the real `paygate` binary: a simulator and a server as child
//! processes, two tenants (v2 and v3), five payments each in their own phase, every one
//! refunded (v2 refunds go over the simulator's mutual-TLS listener), the report written as JSON.
//! The stack's HTTP floor is measured first, on few requests to stay fast (a debug server spends
//! a few hundred µs of CPU on each: well above the 10 ms granularity of its CPU reading).
//!
//! The binary is not built by this crate (paygate-bench must not depend on paygate-cli):
//! run `cargo build -p paygate-cli` first, or point `PAYGATE_BIN` at a binary. A missing
//! binary FAILS this test with that instruction; it is never skipped.

use clap::Parser;
use paygate_bench::runner::{self, BenchArgs};

#[derive(Debug, Parser)]
struct Cli {
    #[command(flatten)]
    bench: BenchArgs,
}

mod common;
use common::paygate_bin;

#[test]
fn five_v2_and_five_v3_payments_complete_and_are_measured() {
    let bin = paygate_bin();
    let dir = tempfile::tempdir().expect("temp dir");
    let json = dir.path().join("report.json");
    let args = [
        "bench",
        "--paygate-bin",
        bin.to_str().expect("utf-8 path"),
        "--mix",
        "v2=1,v3=1",
        "--tenants",
        "2",
        "--split-protocols",
        "--count",
        "5",
        "--concurrency",
        "2",
        "--warmup",
        "0",
        "--floor-budget-ms",
        "20",
        "--http-floor-requests",
        "300",
        "--refund-ratio",
        "1",
        "--json",
        json.to_str().expect("utf-8 path"),
    ];
    let cli = Cli::try_parse_from(args).expect("flags");
    runner::run(cli.bench, args.iter().map(|s| (*s).to_owned()).collect())
        .expect("a clean bench run");

    let report: serde_json::Value =
        serde_json::from_slice(&std::fs::read(&json).expect("JSON written")).expect("JSON");
    assert_eq!(report["errors_total"], 0, "{report:#}");
    assert_eq!(report["command_line"][0], "bench");
    assert!(report["floor"]["per_v3_payment_us"].as_f64().unwrap_or(0.0) > 0.0);
    let http_floor = &report["http_floor"]["sqlite"];
    assert_eq!(http_floor["requests"], 300, "{report:#}");
    let per_request = http_floor["server_cpu_us_per_request"]
        .as_f64()
        .expect("HTTP floor measured");
    assert!(per_request > 0.0, "{http_floor:#}");
    assert!(
        http_floor["requests_per_sec"].as_f64().unwrap_or(0.0) > 0.0,
        "{http_floor:#}"
    );
    let phases = report["phases"].as_array().expect("phases");
    let names: Vec<&str> = phases.iter().filter_map(|p| p["name"].as_str()).collect();
    assert_eq!(names, ["v2", "v3"]);
    for phase in phases {
        assert_eq!(phase["started"], 5, "{phase:#}");
        assert_eq!(phase["completed"], 5, "{phase:#}");
        assert_eq!(phase["failed"], 0, "{phase:#}");
        assert_eq!(phase["webhooks"]["rejected"], 0, "{phase:#}");
        let cpu = phase["cpu"]["per_payment_ms"]
            .as_f64()
            .expect("CPU measured");
        assert!(cpu > 0.0, "{phase:#}");
        for step in [
            "create_order",
            "pay",
            "request_payment",
            "notify_to_webhook",
            "get_order",
            "total",
            "refund",
            "refund_to_webhook",
        ] {
            assert_eq!(phase["steps"][step]["count"], 5, "{step}: {phase:#}");
        }
        assert!(
            phase["rss"]["max_kib"].as_u64().unwrap_or(0) > 0,
            "{phase:#}"
        );
    }
    // Only the v3 phase is compared with the v3 floor.
    assert!(phases[0]["cpu_floor_multiple"].is_null());
    assert!(phases[1]["cpu_floor_multiple"].as_f64().unwrap_or(0.0) > 0.0);
}
