//! A throwaway PostgreSQL cluster for crash runs: `initdb` into a fresh temporary directory,
//! started on a spare loopback port with its socket inside that directory, restartable with an
//! immediate (crash) stop, and stopped and deleted when dropped.
//!
//! A crash run restarts the database under a live server, which must never happen to a server
//! someone else uses: this module only ever starts, stops and deletes the cluster it created
//! itself. It never touches port 5432, the machine's own clusters (`pg_ctlcluster`, `/var/lib/
//! postgresql`) or any `PG*` environment of the caller. PostgreSQL refuses to run as root, so a
//! root caller runs every PostgreSQL program as the `postgres` system user (`runuser`).

use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};

use anyhow::{Context, bail};

/// The port of the machine's shared server: never ours.
const SHARED_PORT: u16 = 5432;
/// The database paygate gets (created at start).
pub const DATABASE: &str = "paygate";
/// Seconds `pg_ctl` waits for a start or stop.
const PG_CTL_WAIT_SECS: &str = "60";

/// Who runs the PostgreSQL programs.
#[derive(Debug, Clone, PartialEq, Eq)]
enum RunAs {
    /// The current (unprivileged) user.
    Me,
    /// `runuser -u <name> --` (we are root).
    User { name: String, uid: u32, gid: u32 },
}

/// A running throwaway cluster.
#[derive(Debug)]
pub struct PgCluster {
    bindir: PathBuf,
    /// The temporary directory holding `data/`, `sock/` and `postgres.log`.
    root: PathBuf,
    port: u16,
    run_as: RunAs,
    running: bool,
    removed: bool,
}

impl PgCluster {
    /// Finds the PostgreSQL programs, creates and starts a cluster and its `paygate` database.
    pub fn start() -> anyhow::Result<PgCluster> {
        let bindir = find_bindir()?;
        let run_as = run_as()?;
        let root = tempfile::Builder::new()
            .prefix("paygate-pgcluster-")
            .tempdir()
            .context("creating the cluster's temporary directory")?
            .keep();
        let mut cluster = PgCluster {
            bindir,
            root,
            port: spare_port()?,
            run_as,
            running: false,
            removed: false,
        };
        cluster.create()?;
        Ok(cluster)
    }

    fn create(&mut self) -> anyhow::Result<()> {
        std::fs::create_dir_all(self.socket_dir()).context("creating the socket directory")?;
        if let RunAs::User { uid, gid, .. } = &self.run_as {
            for dir in [self.root.clone(), self.socket_dir()] {
                std::os::unix::fs::chown(&dir, Some(*uid), Some(*gid))
                    .with_context(|| format!("handing {} to the postgres user", dir.display()))?;
            }
        }
        let data = self.data_dir();
        self.run(
            "initdb",
            &[
                "-D".as_ref(),
                data.as_os_str(),
                "-U".as_ref(),
                "postgres".as_ref(),
                "--auth=trust".as_ref(),
                "--locale=C".as_ref(),
                "-E".as_ref(),
                "UTF8".as_ref(),
                "--no-sync".as_ref(),
            ],
        )?;
        self.pg_ctl_start()?;
        let port = self.port.to_string();
        self.run(
            "createdb",
            &[
                "-h".as_ref(),
                "127.0.0.1".as_ref(),
                "-p".as_ref(),
                port.as_ref(),
                "-U".as_ref(),
                "postgres".as_ref(),
                DATABASE.as_ref(),
            ],
        )?;
        Ok(())
    }

    /// `postgres://postgres@127.0.0.1:PORT/paygate` (trust authentication: no password).
    pub fn url(&self) -> String {
        format!("postgres://postgres@127.0.0.1:{}/{DATABASE}", self.port)
    }

    pub fn port(&self) -> u16 {
        self.port
    }

    /// The cluster's directory (removed on drop).
    pub fn root(&self) -> &Path {
        &self.root
    }

    /// The server's log (kept until drop; quoted in errors).
    pub fn log_path(&self) -> PathBuf {
        self.root.join("postgres.log")
    }

    /// Whether the cluster is up (as far as this handle knows).
    pub fn is_running(&self) -> bool {
        self.running
    }

    /// A crash and a restart: `pg_ctl stop -m immediate` (no checkpoint, as a power cut: the
    /// next start replays the WAL), then start again on the same port.
    pub fn restart(&mut self) -> anyhow::Result<()> {
        self.crash()?;
        self.pg_ctl_start()
    }

    /// `pg_ctl stop -m immediate`: the cluster is down until [`start_again`](Self::start_again).
    pub fn crash(&mut self) -> anyhow::Result<()> {
        self.pg_ctl_stop("immediate")
    }

    /// Starts the cluster again after [`crash`](Self::crash).
    pub fn start_again(&mut self) -> anyhow::Result<()> {
        self.pg_ctl_start()
    }

    /// Runs `psql -Atc sql` against the cluster's database; returns its output, trimmed.
    pub fn psql(&self, sql: &str) -> anyhow::Result<String> {
        let port = self.port.to_string();
        let out = self.run(
            "psql",
            &[
                "-X".as_ref(),
                "-v".as_ref(),
                "ON_ERROR_STOP=1".as_ref(),
                "-h".as_ref(),
                "127.0.0.1".as_ref(),
                "-p".as_ref(),
                port.as_ref(),
                "-U".as_ref(),
                "postgres".as_ref(),
                "-d".as_ref(),
                DATABASE.as_ref(),
                "-Atc".as_ref(),
                sql.as_ref(),
            ],
        )?;
        Ok(String::from_utf8_lossy(&out.stdout).trim().to_owned())
    }

    /// Stops the cluster (fast shutdown) and deletes its directory.
    pub fn remove(mut self) -> anyhow::Result<()> {
        self.remove_now()
    }

    fn remove_now(&mut self) -> anyhow::Result<()> {
        if self.removed {
            return Ok(());
        }
        let stopped = if self.running {
            self.pg_ctl_stop("fast")
        } else {
            Ok(())
        };
        self.removed = true;
        std::fs::remove_dir_all(&self.root)
            .with_context(|| format!("removing {}", self.root.display()))?;
        stopped
    }

    fn data_dir(&self) -> PathBuf {
        self.root.join("data")
    }

    fn socket_dir(&self) -> PathBuf {
        self.root.join("sock")
    }

    fn pg_ctl_start(&mut self) -> anyhow::Result<()> {
        let options = format!(
            "-p {} -k {} -c listen_addresses=127.0.0.1 -c fsync=on -c max_connections=60 \
             -c shared_buffers=32MB",
            self.port,
            self.socket_dir().display()
        );
        let data = self.data_dir();
        let log = self.log_path();
        self.run(
            "pg_ctl",
            &[
                "-D".as_ref(),
                data.as_os_str(),
                "-l".as_ref(),
                log.as_os_str(),
                "-o".as_ref(),
                options.as_ref(),
                "-w".as_ref(),
                "-t".as_ref(),
                PG_CTL_WAIT_SECS.as_ref(),
                "start".as_ref(),
            ],
        )
        .map_err(|e| e.context(format!("log tail:\n{}", crate::procs::log_tail(&log))))?;
        self.running = true;
        Ok(())
    }

    fn pg_ctl_stop(&mut self, mode: &str) -> anyhow::Result<()> {
        let data = self.data_dir();
        self.run(
            "pg_ctl",
            &[
                "-D".as_ref(),
                data.as_os_str(),
                "-m".as_ref(),
                mode.as_ref(),
                "-w".as_ref(),
                "-t".as_ref(),
                PG_CTL_WAIT_SECS.as_ref(),
                "stop".as_ref(),
            ],
        )?;
        self.running = false;
        Ok(())
    }

    /// Runs a PostgreSQL program from `bindir` as the cluster's user, with a clean `PG*`-free,
    /// C-locale environment; fails with its stderr when it fails.
    fn run(&self, program: &str, args: &[&std::ffi::OsStr]) -> anyhow::Result<Output> {
        let path = self.bindir.join(program);
        let mut cmd = match &self.run_as {
            RunAs::Me => Command::new(&path),
            RunAs::User { name, .. } => {
                let mut c = Command::new("runuser");
                c.args(["-u", name, "--"]).arg(&path);
                c
            }
        };
        cmd.args(args);
        for (key, _) in std::env::vars_os() {
            if key.to_str().is_some_and(|k| k.starts_with("PG")) {
                cmd.env_remove(key);
            }
        }
        cmd.env("LC_ALL", "C")
            .env("LANG", "C")
            // runuser keeps the caller's working directory, which postgres may not read.
            .current_dir(&self.root)
            .stdin(Stdio::null());
        let out = cmd
            .output()
            .with_context(|| format!("running {}", path.display()))?;
        if !out.status.success() {
            bail!(
                "{program} failed ({}): {}",
                out.status,
                String::from_utf8_lossy(&out.stderr).trim()
            );
        }
        Ok(out)
    }
}

impl Drop for PgCluster {
    fn drop(&mut self) {
        if let Err(e) = self.remove_now() {
            tracing::warn!(error = %e, "throwaway PostgreSQL cluster not cleaned up");
        }
    }
}

/// The directory of `initdb` and `pg_ctl`: `pg_config --bindir`, else the newest
/// `/usr/lib/postgresql/<version>/bin` (Debian keeps them off the `PATH`).
pub fn find_bindir() -> anyhow::Result<PathBuf> {
    let has_tools = |dir: &Path| {
        ["initdb", "pg_ctl", "createdb", "psql"]
            .iter()
            .all(|p| dir.join(p).is_file())
    };
    if let Ok(out) = Command::new("pg_config").arg("--bindir").output()
        && out.status.success()
    {
        let dir = PathBuf::from(String::from_utf8_lossy(&out.stdout).trim());
        if has_tools(&dir) {
            return Ok(dir);
        }
    }
    let mut candidates: Vec<(u32, PathBuf)> = std::fs::read_dir("/usr/lib/postgresql")
        .into_iter()
        .flatten()
        .filter_map(Result::ok)
        .filter_map(|e| {
            let version = e.file_name().to_str()?.parse::<u32>().ok()?;
            Some((version, e.path().join("bin")))
        })
        .filter(|(_, dir)| has_tools(dir))
        .collect();
    candidates.sort();
    match candidates.pop() {
        Some((_, dir)) => Ok(dir),
        None => bail!(
            "PostgreSQL server programs (initdb, pg_ctl) not found: neither `pg_config --bindir` \
             nor /usr/lib/postgresql/*/bin has them (Debian: apt-get install postgresql)"
        ),
    }
}

/// The current user, or `postgres` when we are root (PostgreSQL refuses to run as root).
fn run_as() -> anyhow::Result<RunAs> {
    let status =
        std::fs::read_to_string("/proc/self/status").context("reading /proc/self/status")?;
    if effective_uid(&status) != Some(0) {
        return Ok(RunAs::Me);
    }
    let id = |flag: &str| -> anyhow::Result<u32> {
        let out = Command::new("id")
            .args([flag, "postgres"])
            .output()
            .context("running id")?;
        if !out.status.success() {
            bail!(
                "running as root needs the `postgres` system user to run a throwaway cluster \
                 (PostgreSQL refuses to run as root): id {flag} postgres failed"
            );
        }
        String::from_utf8_lossy(&out.stdout)
            .trim()
            .parse()
            .context("id printed no number")
    };
    Ok(RunAs::User {
        name: "postgres".into(),
        uid: id("-u")?,
        gid: id("-g")?,
    })
}

/// The effective uid of a `/proc/<pid>/status` text (`Uid: real effective saved fs`).
fn effective_uid(status: &str) -> Option<u32> {
    status
        .lines()
        .find_map(|l| l.strip_prefix("Uid:"))
        .and_then(|rest| rest.split_whitespace().nth(1))
        .and_then(|v| v.parse().ok())
}

/// A loopback port that was free a moment ago, never the shared server's.
fn spare_port() -> anyhow::Result<u16> {
    for _ in 0..20 {
        let port = TcpListener::bind("127.0.0.1:0")
            .and_then(|l| l.local_addr())
            .context("finding a spare port")?
            .port();
        if port != SHARED_PORT {
            return Ok(port);
        }
    }
    bail!("no spare loopback port")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn effective_uid_is_the_second_field() {
        assert_eq!(effective_uid("Name:\tx\nUid:\t1000\t0\t0\t0\n"), Some(0));
        assert_eq!(effective_uid("Uid:\t0\t1000\t0\t0\n"), Some(1000));
        assert_eq!(effective_uid("Name:\tx\n"), None);
    }

    /// The whole life of a cluster against real PostgreSQL programs. A machine without them
    /// fails here with the install hint: crash runs need them.
    #[test]
    fn a_cluster_starts_survives_a_crash_restart_and_is_removed() {
        let mut c = PgCluster::start().unwrap();
        assert_ne!(c.port(), SHARED_PORT);
        assert!(c.url().ends_with(&format!(":{}/paygate", c.port())));
        let root = c.root().to_path_buf();
        assert!(root.join("data/PG_VERSION").is_file());
        c.psql("CREATE TABLE t (v int); INSERT INTO t VALUES (42)")
            .unwrap();
        c.restart().unwrap();
        // Committed before the immediate stop: recovered from the WAL.
        assert_eq!(c.psql("SELECT v FROM t").unwrap(), "42");
        c.crash().unwrap();
        assert!(!c.is_running());
        assert!(
            c.psql("SELECT 1").is_err(),
            "a crashed cluster answers nothing"
        );
        c.start_again().unwrap();
        assert_eq!(c.psql("SELECT count(*) FROM t").unwrap(), "1");
        drop(c);
        assert!(!root.exists(), "{} left behind", root.display());
    }
}
