//! The processes a bench run drives: `paygate sim` and `paygate serve`, each a real child
//! process of the `paygate` binary, configured the way an operator would (a generated
//! `paygate.toml`, no `PAYGATE_*` or `RUST_LOG` inherited from the caller), with their logs in
//! files of the run directory.
//!
//! A [`PaygateProcess`] or [`SimProcess`] kills its child when dropped (panic and Ctrl-C
//! included), so a run never leaves a server behind. This module must never point a server at
//! anything but the simulator it was given, and never touch a database it was not handed.

use std::io::{BufRead, BufReader, Write};
use std::net::{SocketAddr, TcpListener};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use anyhow::{Context, bail};

use crate::procstat;

/// How long a process may take to answer its health check after start.
const HEALTH_TIMEOUT: Duration = Duration::from_secs(60);

/// Which database the server under test uses.
///
/// A variant is added for each new kind of throwaway database; every variant ends up as a
/// `database_url` in the server's configuration ([`Database::url`]).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Database {
    /// A fresh SQLite file in the run's data directory.
    Sqlite,
    /// A PostgreSQL database the caller created for this run (and drops afterwards).
    Postgres { url: String },
}

impl Database {
    /// The `database_url` for a server whose data directory is `data_dir`.
    pub fn url(&self, data_dir: &Path) -> String {
        match self {
            Database::Sqlite => format!("sqlite://{}", data_dir.join("paygate.db").display()),
            Database::Postgres { url } => url.clone(),
        }
    }

    /// `sqlite` or `postgres`, for reports.
    pub fn label(&self) -> &'static str {
        match self {
            Database::Sqlite => "sqlite",
            Database::Postgres { .. } => "postgres",
        }
    }
}

/// Where a running simulator answers (what `paygate serve` needs to reach it).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SimEndpoints {
    /// `http://127.0.0.1:PORT`: WeChat Pay v2/v3, mini-program API and `/sim`.
    pub http: String,
    /// `https://127.0.0.1:PORT`: v2's `/secapi` (mutual TLS).
    pub https: String,
    /// The simulator's CA certificate (PEM file) for the HTTPS listener.
    pub ca_path: PathBuf,
}

/// How to run `paygate serve` for a bench.
#[derive(Debug, Clone)]
pub struct PaygateConfig {
    /// The `paygate` binary.
    pub bin: PathBuf,
    /// Gets `paygate.toml`, `data/` and `paygate.log`.
    pub run_dir: PathBuf,
    pub database: Database,
    pub sim: SimEndpoints,
    /// `webhooks.interval_ms` (the server's default is 1000: one poll a second).
    pub webhook_interval_ms: u64,
    /// `webhooks.batch` (the server's default is 100 events per poll).
    pub webhook_batch: u32,
    /// Extra environment for the child (e.g. `RUST_LOG` for a debugging run). Empty for a
    /// measurement: logging stays at the default level.
    pub extra_env: Vec<(String, String)>,
}

/// A `paygate serve` child process.
#[derive(Debug)]
pub struct PaygateProcess {
    config: PaygateConfig,
    child: Option<Child>,
    listen: SocketAddr,
    base_url: String,
    config_path: PathBuf,
    log_path: PathBuf,
}

impl PaygateProcess {
    /// Writes the configuration, starts `paygate serve` and waits until `/healthz` answers.
    pub async fn spawn(config: &PaygateConfig) -> anyhow::Result<PaygateProcess> {
        // The server creates `data/` itself (mode 0700); the run directory must exist.
        std::fs::create_dir_all(&config.run_dir)
            .with_context(|| format!("creating {}", config.run_dir.display()))?;
        let data_dir = config.run_dir.join("data");
        let listen = free_loopback_addr()?;
        let base_url = format!("http://{listen}");
        let config_path = config.run_dir.join("paygate.toml");
        std::fs::write(
            &config_path,
            server_toml(config, &data_dir, listen, &Secrets::random()),
        )
        .with_context(|| format!("writing {}", config_path.display()))?;
        let mut process = PaygateProcess {
            config: config.clone(),
            child: None,
            listen,
            base_url,
            config_path,
            log_path: config.run_dir.join("paygate.log"),
        };
        process.start().await?;
        Ok(process)
    }

    async fn start(&mut self) -> anyhow::Result<()> {
        let mut cmd = self.command();
        cmd.arg("serve")
            .stdin(Stdio::null())
            .stdout(log_file(&self.log_path)?)
            .stderr(log_file(&self.log_path)?);
        let child = cmd
            .spawn()
            .with_context(|| format!("starting {} serve", self.config.bin.display()))?;
        self.child = Some(child);
        let health = format!("{}/healthz", self.base_url);
        wait_healthy(&health, self.child.as_mut(), &self.log_path).await
    }

    /// `paygate <args…>` with this server's configuration file and environment.
    pub fn command(&self) -> Command {
        let mut cmd = clean_command(&self.config.bin);
        cmd.env("PAYGATE_CONFIG", &self.config_path);
        for (k, v) in &self.config.extra_env {
            cmd.env(k, v);
        }
        cmd
    }

    /// Runs `paygate admin <args…>` against this server's configuration; returns stdout.
    pub fn admin(&self, args: &[&str]) -> anyhow::Result<String> {
        let output = self
            .command()
            .arg("admin")
            .args(args)
            .stdin(Stdio::null())
            .output()
            .context("running paygate admin")?;
        if !output.status.success() {
            bail!(
                "paygate admin {} failed ({}): {}",
                args.first().unwrap_or(&""),
                output.status,
                String::from_utf8_lossy(&output.stderr).trim()
            );
        }
        String::from_utf8(output.stdout).context("paygate admin printed non-UTF-8")
    }

    /// The server's process id (changes on [`restart`](Self::restart)).
    pub fn pid(&self) -> u32 {
        self.child.as_ref().map_or(0, Child::id)
    }

    /// `http://127.0.0.1:PORT` (the same across restarts).
    pub fn base_url(&self) -> &str {
        &self.base_url
    }

    pub fn listen(&self) -> SocketAddr {
        self.listen
    }

    /// The server's log file (appended to across restarts).
    pub fn log_path(&self) -> &Path {
        &self.log_path
    }

    pub fn config(&self) -> &PaygateConfig {
        &self.config
    }

    /// SIGKILL, then reap: the crash a power cut would cause.
    pub fn kill9(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }

    /// SIGTERM (graceful shutdown), then SIGKILL if it has not exited within `grace`.
    pub fn stop(&mut self, grace: Duration) {
        if let Some(child) = self.child.take() {
            terminate(child, grace);
        }
    }

    /// Starts the server again on the same port, data directory and configuration (after
    /// [`kill9`](Self::kill9) or [`stop`](Self::stop); kills a live one first) and waits
    /// until it is healthy.
    pub async fn restart(&mut self) -> anyhow::Result<()> {
        self.kill9();
        self.start().await
    }

    /// CPU time (user + system, every thread) the current server process has used.
    pub fn cpu_time(&self) -> Duration {
        procstat::process_cpu_time(self.pid()).unwrap_or_default()
    }

    /// Resident memory of the server process, KiB (0 if it is not running).
    pub fn rss_kib(&self) -> u64 {
        procstat::process_rss_kib(self.pid()).unwrap_or(0)
    }
}

impl Drop for PaygateProcess {
    fn drop(&mut self) {
        self.kill9();
    }
}

/// The server's master key and JWT secret for one run: inline in the run's `paygate.toml`
/// (PostgreSQL servers generate no key files), random, thrown away with the run directory.
struct Secrets {
    master_key: String,
    jwt_secret: String,
}

impl Secrets {
    fn random() -> Secrets {
        let hex = |n: usize| -> String {
            let mut bytes = vec![0u8; n];
            rand::RngCore::fill_bytes(&mut rand::rng(), &mut bytes);
            bytes.iter().map(|b| format!("{b:02x}")).collect()
        };
        Secrets {
            master_key: format!("v1:{}", hex(32)),
            jwt_secret: hex(32),
        }
    }
}

/// The generated `paygate.toml`: every upstream at the simulator, notify URLs on the server's
/// own loopback address, plain http allowed (the simulator and the receiver run here), rate
/// limits out of the way (the bench measures the server, not its throttle).
fn server_toml(
    config: &PaygateConfig,
    data_dir: &Path,
    listen: SocketAddr,
    secrets: &Secrets,
) -> String {
    let q = |s: &str| toml_string(s);
    let data = data_dir.display().to_string();
    let ca = config.sim.ca_path.display().to_string();
    format!(
        "# Written by paygate bench for one run.\n\
         data_dir = {data}\n\
         database_url = {db}\n\
         listen = {listen}\n\
         public_url = {public}\n\
         allow_plain_http = true\n\
         master_key = {master_key}\n\
         jwt_secret = {jwt_secret}\n\
         \n\
         [upstream]\n\
         wechatpay_base_url = {http}\n\
         wechatpay_secapi_base_url = {https}\n\
         miniprogram_base_url = {http}\n\
         extra_root_ca_file = {ca}\n\
         \n\
         [webhooks]\n\
         allow_private_targets = true\n\
         interval_ms = {interval}\n\
         batch = {batch}\n\
         \n\
         [rate_limits]\n\
         tenant_per_second = 1000000\n\
         tenant_burst = 1000000\n",
        data = q(&data),
        db = q(&config.database.url(data_dir)),
        listen = q(&listen.to_string()),
        public = q(&format!("http://{listen}")),
        http = q(&config.sim.http),
        https = q(&config.sim.https),
        ca = q(&ca),
        interval = config.webhook_interval_ms,
        batch = config.webhook_batch,
        master_key = q(&secrets.master_key),
        jwt_secret = q(&secrets.jwt_secret),
    )
}

/// A TOML basic string.
fn toml_string(s: &str) -> String {
    let mut out = String::with_capacity(s.len() + 2);
    out.push('"');
    for c in s.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            c if c.is_control() => out.push_str(&format!("\\u{:04X}", u32::from(c))),
            c => out.push(c),
        }
    }
    out.push('"');
    out
}

/// How to run `paygate sim` for a bench.
#[derive(Debug, Clone)]
pub struct SimOptions {
    pub bin: PathBuf,
    /// Gets `sim.log` and `sim-ca.pem`.
    pub run_dir: PathBuf,
    /// `--time-scale`: multiplies WeChat's notification retry intervals (0.01: a retry after
    /// 150 ms instead of 15 s).
    pub time_scale: f64,
    /// `--refund-settle-after`: simulated seconds until an accepted refund succeeds.
    pub refund_settle_after_secs: u32,
}

/// A `paygate sim` child process.
#[derive(Debug)]
pub struct SimProcess {
    child: Option<Child>,
    endpoints: SimEndpoints,
}

impl SimProcess {
    /// Starts `paygate sim` on ephemeral loopback ports and waits for its `SIM_HTTP=` and
    /// `SIM_HTTPS=` lines and a healthy control API.
    pub async fn spawn(options: &SimOptions) -> anyhow::Result<SimProcess> {
        std::fs::create_dir_all(&options.run_dir)
            .with_context(|| format!("creating {}", options.run_dir.display()))?;
        let ca_path = options.run_dir.join("sim-ca.pem");
        let log_path = options.run_dir.join("sim.log");
        let mut cmd = clean_command(&options.bin);
        cmd.args([
            "sim",
            "--listen",
            "127.0.0.1:0",
            "--tls-listen",
            "127.0.0.1:0",
        ])
        .arg("--ca-out")
        .arg(&ca_path)
        .arg("--time-scale")
        .arg(options.time_scale.to_string())
        .arg("--refund-settle-after")
        .arg(options.refund_settle_after_secs.to_string())
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(log_file(&log_path)?);
        let mut child = cmd
            .spawn()
            .with_context(|| format!("starting {} sim", options.bin.display()))?;
        let stdout = child.stdout.take().context("sim stdout")?;
        // The two lines come first; the rest of stdout (nothing, today) goes to the log so the
        // simulator never writes into a closed pipe.
        let (tx, rx) = std::sync::mpsc::channel();
        let copy_log = log_path.clone();
        std::thread::spawn(move || {
            let mut lines = BufReader::new(stdout).lines();
            let (mut http, mut https) = (None, None);
            for line in lines.by_ref() {
                let Ok(line) = line else { break };
                if let Some(v) = line.strip_prefix("SIM_HTTP=") {
                    http = Some(v.trim().to_owned());
                } else if let Some(v) = line.strip_prefix("SIM_HTTPS=") {
                    https = Some(v.trim().to_owned());
                }
                if http.is_some() && https.is_some() {
                    break;
                }
            }
            let _ = tx.send((http, https));
            if let Ok(mut log) = std::fs::OpenOptions::new().append(true).open(&copy_log) {
                for line in lines.map_while(Result::ok) {
                    let _ = writeln!(log, "{line}");
                }
            }
        });
        let mut guard = SimProcess {
            child: Some(child),
            endpoints: SimEndpoints {
                http: String::new(),
                https: String::new(),
                ca_path,
            },
        };
        let (http, https) = tokio::task::spawn_blocking(move || {
            rx.recv_timeout(HEALTH_TIMEOUT).unwrap_or((None, None))
        })
        .await
        .context("waiting for the simulator")?;
        let (Some(http), Some(https)) = (http, https) else {
            bail!(
                "the simulator did not print SIM_HTTP=/SIM_HTTPS= (log: {})\n{}",
                log_path.display(),
                log_tail(&log_path)
            );
        };
        guard.endpoints.http = http;
        guard.endpoints.https = https;
        let health = format!("{}/sim/clock", guard.endpoints.http);
        wait_healthy(&health, guard.child.as_mut(), &log_path).await?;
        Ok(guard)
    }

    /// `http://127.0.0.1:PORT`.
    pub fn base_url(&self) -> &str {
        &self.endpoints.http
    }

    /// `https://127.0.0.1:PORT` (v2 refunds, mutual TLS).
    pub fn tls_base_url(&self) -> &str {
        &self.endpoints.https
    }

    /// The simulator's CA certificate (PEM).
    pub fn ca_path(&self) -> &Path {
        &self.endpoints.ca_path
    }

    /// Everything `paygate serve` needs to reach this simulator.
    pub fn endpoints(&self) -> &SimEndpoints {
        &self.endpoints
    }

    pub fn pid(&self) -> u32 {
        self.child.as_ref().map_or(0, Child::id)
    }

    /// CPU time the simulator has used (it shares the machine with the server under test).
    pub fn cpu_time(&self) -> Duration {
        procstat::process_cpu_time(self.pid()).unwrap_or_default()
    }

    /// SIGTERM, then SIGKILL after `grace`.
    pub fn stop(&mut self, grace: Duration) {
        if let Some(child) = self.child.take() {
            terminate(child, grace);
        }
    }
}

impl Drop for SimProcess {
    fn drop(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }
}

/// `bin` with an environment free of the caller's paygate configuration and log filter, so
/// that what runs is what the generated configuration says, logging at the default level.
///
/// The child gets its own process group: a Ctrl-C at the terminal stops the bench (which then
/// reports and kills its children), not the server in the middle of a payment.
fn clean_command(bin: &Path) -> Command {
    use std::os::unix::process::CommandExt as _;
    let mut cmd = Command::new(bin);
    cmd.process_group(0);
    for (key, _) in std::env::vars_os() {
        let Some(key) = key.to_str() else { continue };
        if key.starts_with("PAYGATE_") || key == "RUST_LOG" {
            cmd.env_remove(key);
        }
    }
    cmd
}

fn log_file(path: &Path) -> anyhow::Result<std::fs::File> {
    std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(path)
        .with_context(|| format!("opening {}", path.display()))
}

/// The last lines of a log, for an error message.
pub fn log_tail(path: &Path) -> String {
    let text = std::fs::read_to_string(path).unwrap_or_default();
    let lines: Vec<&str> = text.lines().collect();
    lines[lines.len().saturating_sub(15)..].join("\n")
}

/// SIGTERM through `kill(1)` (this crate has no unsafe code and no libc), then SIGKILL.
fn terminate(mut child: Child, grace: Duration) {
    let _ = Command::new("kill")
        .args(["-TERM", &child.id().to_string()])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status();
    let deadline = Instant::now() + grace;
    while Instant::now() < deadline {
        if let Ok(Some(_)) = child.try_wait() {
            return;
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    let _ = child.kill();
    let _ = child.wait();
}

/// A loopback address with a port that was free a moment ago (the server binds it itself, so
/// a restart can reuse it).
pub fn free_loopback_addr() -> anyhow::Result<SocketAddr> {
    let listener = TcpListener::bind("127.0.0.1:0").context("finding a free port")?;
    listener.local_addr().context("finding a free port")
}

/// Polls `url` until it answers 200, failing early (with the log's tail) if the child exits.
async fn wait_healthy(url: &str, child: Option<&mut Child>, log: &Path) -> anyhow::Result<()> {
    let Some(child) = child else {
        bail!("no process to wait for");
    };
    let client = reqwest::Client::builder()
        .timeout(Duration::from_secs(2))
        .build()
        .context("building the health-check client")?;
    let deadline = Instant::now() + HEALTH_TIMEOUT;
    loop {
        if let Ok(Some(status)) = child.try_wait() {
            bail!(
                "the process exited ({status}) before it was healthy; log {}:\n{}",
                log.display(),
                log_tail(log)
            );
        }
        if let Ok(r) = client.get(url).send().await
            && r.status().is_success()
        {
            return Ok(());
        }
        if Instant::now() > deadline {
            bail!(
                "{url} did not answer within {HEALTH_TIMEOUT:?}; log {}:\n{}",
                log.display(),
                log_tail(log)
            );
        }
        // Start-up polling, not synchronisation between tests: the child is a separate process.
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn toml_strings_are_escaped() {
        assert_eq!(toml_string(r#"a"b\c"#), r#""a\"b\\c""#);
        assert_eq!(toml_string("x\ny"), "\"x\\u000Ay\"");
    }

    #[test]
    fn generated_config_points_everything_at_the_simulator() {
        let config = PaygateConfig {
            bin: PathBuf::from("/bin/paygate"),
            run_dir: PathBuf::from("/tmp/run"),
            database: Database::Postgres {
                url: "postgres://postgres@127.0.0.1:5432/bench_x".into(),
            },
            sim: SimEndpoints {
                http: "http://127.0.0.1:1".into(),
                https: "https://127.0.0.1:2".into(),
                ca_path: PathBuf::from("/tmp/run/sim-ca.pem"),
            },
            webhook_interval_ms: 200,
            webhook_batch: 500,
            extra_env: Vec::new(),
        };
        let listen: SocketAddr = "127.0.0.1:4000".parse().unwrap();
        let secrets = Secrets {
            master_key: "v1:00".into(),
            jwt_secret: "j".into(),
        };
        let text = server_toml(&config, Path::new("/tmp/run/data"), listen, &secrets);
        for line in [
            "database_url = \"postgres://postgres@127.0.0.1:5432/bench_x\"",
            "public_url = \"http://127.0.0.1:4000\"",
            "allow_plain_http = true",
            "wechatpay_base_url = \"http://127.0.0.1:1\"",
            "wechatpay_secapi_base_url = \"https://127.0.0.1:2\"",
            "interval_ms = 200",
            "batch = 500",
            "master_key = \"v1:00\"",
        ] {
            assert!(text.contains(line), "{line} missing from\n{text}");
        }
        assert_eq!(
            Database::Sqlite.url(Path::new("/d")),
            "sqlite:///d/paygate.db"
        );
    }
}
