//! Shared helpers: temporary data directories, an in-process server, the `paygate` binary with
//! a clean environment, and an HTTP client.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use paygate_cli::app::{self, Running, StartError, StartOptions};
use paygate_cli::config::{Config, Mode};

/// A master key in the file format (`v1:<64 hex>`), distinct from any generated one.
pub const KEY_A: &str = "v1:000102030405060708090a0b0c0d0e0f101112131415161718191a1b1c1d1e1f";
pub const KEY_B: &str = "v1:1f1e1d1c1b1a191817161514131211100f0e0d0c0b0a09080706050403020100";

pub fn tempdir() -> tempfile::TempDir {
    tempfile::tempdir().expect("temp dir")
}

/// The defaults under `dir/data`, listening on an ephemeral port.
pub fn config_in(dir: &Path) -> Config {
    let mut config = Config::defaults_in(&dir.join("data"));
    config.listen = "127.0.0.1:0".parse().unwrap();
    config
}

pub async fn start(config: Config) -> Result<Running, StartError> {
    app::start(StartOptions::new(config)).await
}

pub async fn start_demo(config: Config) -> Result<Running, StartError> {
    let mut options = StartOptions::new(config);
    options.mode = Mode::Demo;
    app::start(options).await
}

pub fn http() -> reqwest::Client {
    reqwest::Client::new()
}

pub fn mode_of(path: &Path) -> u32 {
    use std::os::unix::fs::PermissionsExt;
    std::fs::metadata(path).unwrap().permissions().mode() & 0o777
}

pub fn chmod(path: &Path, mode: u32) {
    use std::os::unix::fs::PermissionsExt;
    std::fs::set_permissions(path, std::fs::Permissions::from_mode(mode)).unwrap();
}

/// The `paygate` binary run in `cwd` with an empty environment (so neither CI's nor another
/// test's `PAYGATE_…` variables leak in) plus `env`.
pub fn paygate(cwd: &Path, args: &[&str], env: &[(&str, &str)]) -> Command {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_paygate"));
    cmd.current_dir(cwd).env_clear().args(args);
    if let Some(path) = std::env::var_os("PATH") {
        cmd.env("PATH", path);
    }
    for (k, v) in env {
        cmd.env(k, v);
    }
    cmd
}

/// Runs to completion; returns (success, stdout, stderr).
pub fn run(cmd: &mut Command) -> (bool, String, String) {
    let Output {
        status,
        stdout,
        stderr,
    } = cmd.output().expect("run paygate");
    (
        status.success(),
        String::from_utf8_lossy(&stdout).into_owned(),
        String::from_utf8_lossy(&stderr).into_owned(),
    )
}

pub fn data_dir(dir: &Path) -> PathBuf {
    dir.join("data")
}
