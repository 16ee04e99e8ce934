//! Finding the `paygate` binary the harness tests drive.

use std::path::PathBuf;

/// `PAYGATE_BIN`, else the `paygate` of the profile this test was built in (`<target>/debug`
/// for `cargo test`): the binary built from this very source, never a stale one from another
/// profile. A workspace test build builds it; `cargo test -p paygate-bench` alone does not
/// (paygate-bench must not depend on paygate-cli), so a missing binary fails with the fix.
pub fn paygate_bin() -> PathBuf {
    if let Some(p) = std::env::var_os("PAYGATE_BIN") {
        return PathBuf::from(p);
    }
    // <target>/<profile>/deps/<test-binary>
    let profile_dir = std::env::current_exe()
        .ok()
        .and_then(|exe| Some(exe.parent()?.parent()?.to_path_buf()));
    let candidate = profile_dir.map(|dir| dir.join("paygate"));
    match candidate {
        Some(p) if p.is_file() => p,
        other => panic!(
            "no paygate binary at {}: run `cargo build -p paygate-cli` first (or set PAYGATE_BIN)",
            other.map_or_else(|| "<unknown>".to_owned(), |p| p.display().to_string())
        ),
    }
}
