//! A tiny crash run end to end: the real `paygate` binary as simulator and server, one
//! `kill -9` of the server during the load on SQLite, then the reconciliation must come out
//! clean. Needs the binary (`cargo build -p paygate-cli`, or the workspace test build): a
//! missing one fails this test rather than skipping it.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::process::Command;

mod common;
use common::paygate_bin;

#[test]
fn one_kill_on_sqlite_reconciles_clean() {
    let bin = paygate_bin();
    let dir = tempfile::tempdir().unwrap();
    let json = dir.path().join("chaos.json");
    let out = Command::new(&bin)
        .args([
            "bench",
            "--chaos",
            "--chaos-seed",
            "11",
            "--kills",
            "1",
            "--kill-min-interval",
            "3",
            "--kill-max-interval",
            "4",
            "--max-downtime",
            "0.5",
            "--duration",
            "8",
            "--concurrency",
            "2",
            "--tenants",
            "2",
            "--users",
            "2",
            "--settle-timeout",
            "90",
        ])
        .arg("--json")
        .arg(&json)
        .arg("--run-dir")
        .arg(dir.path().join("run"))
        .arg("--paygate-bin")
        .arg(&bin)
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "chaos run failed\n{stdout}\n{stderr}");
    assert!(stdout.contains("RESULT: clean"), "{stdout}");
    let report: serde_json::Value = serde_json::from_slice(&std::fs::read(&json).unwrap()).unwrap();
    assert_eq!(report["seed"], 11);
    assert_eq!(report["database"], "sqlite");
    let faults = report["faults"].as_array().unwrap();
    assert_eq!(faults.len(), 1, "{report}");
    assert_eq!(faults[0]["fault"]["kind"], "kill_server");
    // The server really was replaced: a new process after the kill.
    let detail = faults[0]["detail"].as_str().unwrap();
    let pids: Vec<&str> = detail.trim_start_matches("pid ").split(" -> ").collect();
    assert_eq!(pids.len(), 2, "{detail}");
    assert_ne!(pids[0], pids[1]);
    let r = &report["reconciliation"];
    assert!(
        r["settled_by_sim"].as_u64().unwrap() > 0,
        "no payment settled: {r}"
    );
    assert_eq!(r["settled_by_sim"], r["paid_in_paygate"]);
    assert_eq!(r["missing_paid"], 0);
    assert_eq!(r["paid_not_settled"], 0);
    assert_eq!(r["events_never_received"], 0);
    assert_eq!(report["clean"], true);
}
