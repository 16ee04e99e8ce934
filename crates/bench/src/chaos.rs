//! `paygate bench --chaos`: a crash run. While payments flow, the server is killed with
//! SIGKILL at seeded random moments and restarted (and, on a throwaway PostgreSQL cluster, the
//! database is crash-stopped and restarted once); then the run waits for WeChat's notification
//! retries, paygate's reconciliation worker and its webhook worker to catch up, and reconciles
//! paygate's books against the simulator's (see [`crate::verify`]). Any discrepancy exits
//! non-zero with the counts.
//!
//! Only public mechanisms are used to catch up: the simulator's retry schedule (scaled by
//! `--time-scale`), a short `reconcile.*` interval in the spawned server's environment, and the
//! webhook worker. The run must never restart a database it did not create (a `--postgres-url`
//! server is never restarted), never repair what it checks, and never signal any process but
//! the server child it started. The seed fixes the fault schedule (times, downtimes), not the
//! payments' amounts or the exact interleaving, which depend on timing.

use std::collections::HashMap;
use std::io::Write as _;
use std::path::Path;
use std::sync::{Arc, Mutex, PoisonError};
use std::time::{Duration, Instant};

use anyhow::{Context, bail};
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use serde::Serialize;
use tokio::sync::watch;

use crate::load::{self, LoadEnv, LoadOptions, LoadResult, Pacing};
use crate::pgcluster::PgCluster;
use crate::pgdb::ThrowawayDb;
use crate::procs::{Database, PaygateConfig, PaygateProcess, SimOptions, SimProcess};
use crate::receiver::WebhookReceiver;
use crate::runner::{BenchArgs, DbChoice, assign_protocols, parse_mix, run_directory};
use crate::seed::{self, SeedTarget, Seeded};
use crate::verify::{self, Inputs, Reconciliation};

/// The crash-run flags of `paygate bench` (flattened into its arguments).
#[derive(Debug, Clone, clap::Args)]
pub struct ChaosArgs {
    /// Crash run: kill -9 and restart the server during the load (and restart a
    /// `--db postgres-throwaway` cluster), then reconcile against the simulator's records.
    #[arg(long)]
    pub chaos: bool,
    /// Seed of the fault schedule [default: random, printed].
    #[arg(long, value_name = "N")]
    pub chaos_seed: Option<u64>,
    /// Server kills (SIGKILL) during the load.
    #[arg(long, default_value_t = 3)]
    pub kills: u32,
    /// Fewest seconds between the end of one fault and the next kill.
    #[arg(long, default_value_t = 4.0)]
    pub kill_min_interval: f64,
    /// Most seconds between the end of one fault and the next kill.
    #[arg(long, default_value_t = 12.0)]
    pub kill_max_interval: f64,
    /// Longest time the server stays down after a kill, seconds (each downtime is random
    /// between 0.1 and this).
    #[arg(long, default_value_t = 2.0)]
    pub max_downtime: f64,
    /// Database crash-restarts during the load (`--db postgres-throwaway` only).
    #[arg(long, default_value_t = 1)]
    pub db_restarts: u32,
    /// After the load, how long to wait for paygate to catch up before judging, seconds.
    #[arg(long, default_value_t = 120.0)]
    pub settle_timeout: f64,
}

/// The server's reconciliation worker during a crash run: query orders left PENDING for 10 s
/// (the shortest age the server accepts), every 2 s.
const RECONCILE_ENV: [(&str, &str); 2] = [
    ("PAYGATE_RECONCILE__INTERVAL_SECS", "2"),
    ("PAYGATE_RECONCILE__PENDING_AGE_SECS", "10"),
];
/// Seconds of load after the last fault, so payments flow through a recovered server too.
const TAIL_SECS: f64 = 5.0;
/// Shortest downtime after a kill, seconds.
const MIN_DOWNTIME: f64 = 0.1;
/// A database restart keeps it down this long (seconds, random within).
const DB_DOWNTIME: (f64, f64) = (0.5, 3.0);

/// What to do to the system under test, when (seconds after the load starts).
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum Fault {
    /// SIGKILL the server, wait `downtime_secs`, start it again.
    KillServer { at_secs: f64, downtime_secs: f64 },
    /// `pg_ctl stop -m immediate`, wait `downtime_secs`, start the cluster again.
    RestartDatabase { at_secs: f64, downtime_secs: f64 },
}

impl Fault {
    pub fn at_secs(&self) -> f64 {
        match *self {
            Fault::KillServer { at_secs, .. } | Fault::RestartDatabase { at_secs, .. } => at_secs,
        }
    }

    pub fn downtime_secs(&self) -> f64 {
        match *self {
            Fault::KillServer { downtime_secs, .. }
            | Fault::RestartDatabase { downtime_secs, .. } => downtime_secs,
        }
    }
}

/// The knobs of a fault schedule.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct PlanOptions {
    pub kills: u32,
    pub min_interval: f64,
    pub max_interval: f64,
    pub max_downtime: f64,
    pub db_restarts: u32,
}

/// The fault schedule of `seed`: kills spaced by a random interval within
/// `[min_interval, max_interval]` after the previous fault ended, each database restart in the
/// middle of a random gap between faults. Pure: the same seed gives the same schedule.
pub fn plan(seed: u64, o: &PlanOptions) -> Vec<Fault> {
    let mut rng = StdRng::seed_from_u64(seed);
    let min = o.min_interval.max(1.0);
    let max = o.max_interval.max(min);
    let max_down = o.max_downtime.max(MIN_DOWNTIME);
    let mut faults = Vec::new();
    let mut t = 0.0;
    for _ in 0..o.kills {
        let at = t + rng.random_range(min..=max);
        let downtime = rng.random_range(MIN_DOWNTIME..=max_down);
        faults.push(Fault::KillServer {
            at_secs: round_ms(at),
            downtime_secs: round_ms(downtime),
        });
        t = at + downtime;
    }
    // Gaps: before each kill, and after the last one (of `min..max` length).
    let mut gaps: Vec<(f64, f64)> = Vec::new();
    let mut start = 0.0;
    for f in &faults {
        gaps.push((start, f.at_secs()));
        start = f.at_secs() + f.downtime_secs();
    }
    gaps.push((start, start + rng.random_range(min..=max)));
    let mut used = Vec::new();
    for _ in 0..o.db_restarts {
        // Prefer a gap no restart uses yet, so two restarts never pile up.
        let free: Vec<usize> = (0..gaps.len()).filter(|i| !used.contains(i)).collect();
        let i = if free.is_empty() {
            rng.random_range(0..gaps.len())
        } else {
            free[rng.random_range(0..free.len())]
        };
        used.push(i);
        let (a, b) = gaps[i];
        faults.push(Fault::RestartDatabase {
            at_secs: round_ms((a + b) / 2.0),
            downtime_secs: round_ms(rng.random_range(DB_DOWNTIME.0..=DB_DOWNTIME.1)),
        });
    }
    faults.sort_by(|a, b| a.at_secs().total_cmp(&b.at_secs()));
    faults
}

fn round_ms(secs: f64) -> f64 {
    (secs * 1000.0).round() / 1000.0
}

/// How long the load must run to cover `faults` and `min_secs`.
pub fn load_secs(faults: &[Fault], min_secs: f64) -> f64 {
    let end = faults
        .iter()
        .map(|f| f.at_secs() + f.downtime_secs())
        .fold(0.0, f64::max);
    min_secs.max(end + TAIL_SECS)
}

/// A fault as it happened.
#[derive(Debug, Clone, Serialize)]
pub struct FaultDone {
    pub fault: Fault,
    /// When it actually started, seconds after the load started.
    pub started_secs: f64,
    /// How long until the server (or database) answered again, seconds.
    pub recovered_after_secs: f64,
    /// e.g. `pid 123 -> 456`.
    pub detail: String,
}

/// What a crash run did and found.
#[derive(Debug, Clone, Serialize)]
pub struct ChaosReport {
    pub command_line: Vec<String>,
    pub seed: u64,
    pub database: String,
    pub faults: Vec<FaultDone>,
    pub load_secs: f64,
    pub started: u64,
    pub completed: u64,
    /// Payments that ended in an error (a timeout waiting for a webhook during an outage,
    /// say): not a discrepancy by itself — the reconciliation judges.
    pub failed: u64,
    pub retries: u64,
    pub errors: std::collections::BTreeMap<String, u64>,
    /// Seconds from the end of the load until the books agreed (or the timeout).
    pub catch_up_secs: f64,
    pub reconciliation: Reconciliation,
    /// `panicked` lines in the server's log (a crash must never make the server panic).
    pub server_panics: usize,
    /// Informational: order creations refused until the client gave up with
    /// `idempotency_key_in_progress` — a claim left behind by a killed server.
    pub stuck_idempotency_keys: u64,
    pub clean: bool,
}

impl ChaosReport {
    pub fn render(&self) -> String {
        let mut out = String::new();
        out.push_str(&format!(
            "CHAOS RUN  seed {}  database {}  load {:.0} s\n",
            self.seed, self.database, self.load_secs
        ));
        out.push_str("faults:\n");
        for f in &self.faults {
            let what = match f.fault {
                Fault::KillServer { .. } => "kill -9 server",
                Fault::RestartDatabase { .. } => "crash-restart database",
            };
            out.push_str(&format!(
                "  t={:>6.1}s  {what:<24} down {:.1}s, answering again after {:.1}s  {}\n",
                f.started_secs,
                f.fault.downtime_secs(),
                f.recovered_after_secs,
                f.detail
            ));
        }
        out.push_str(&format!(
            "payments: {} started, {} completed, {} failed, {} retried requests\n",
            self.started, self.completed, self.failed, self.retries
        ));
        for (kind, n) in &self.errors {
            out.push_str(&format!("  error {kind}: {n}\n"));
        }
        out.push_str(&format!("catch-up: {:.1} s\n", self.catch_up_secs));
        out.push_str("reconciliation:\n");
        out.push_str(&self.reconciliation.render());
        out.push_str(&format!("server panics in log: {}\n", self.server_panics));
        if self.stuck_idempotency_keys > 0 {
            out.push_str(&format!(
                "WARNING: {} order creation(s) stuck on idempotency_key_in_progress after a kill \
                 (the client could not retry with its Idempotency-Key)\n",
                self.stuck_idempotency_keys
            ));
        }
        out.push_str(if self.clean {
            "RESULT: clean\n"
        } else {
            "RESULT: DISCREPANCIES\n"
        });
        out
    }
}

/// `paygate bench --chaos`: runs, prints the report (and JSON with `--json`), fails on any
/// discrepancy.
pub fn run_command(
    args: &BenchArgs,
    chaos: &ChaosArgs,
    command_line: Vec<String>,
) -> anyhow::Result<()> {
    if args.target.is_some() {
        bail!("--chaos starts its own server (it kills it): --target cannot be used");
    }
    let runtime = tokio::runtime::Runtime::new().context("starting the async runtime")?;
    let (temp, run_root) = run_directory(args.run_dir.as_ref(), "paygate-chaos-")?;
    let report = runtime.block_on(run(args, chaos, &run_root, command_line));
    let report = match report {
        Ok(r) => r,
        Err(e) => {
            if let Some(t) = temp {
                progress(&format!("logs kept in {}", t.keep().display()));
            }
            return Err(e);
        }
    };
    std::io::stdout()
        .lock()
        .write_all(report.render().as_bytes())
        .context("writing the report")?;
    if let Some(path) = &args.json {
        let json = serde_json::to_vec_pretty(&report).context("encoding the JSON report")?;
        std::fs::write(path, json).with_context(|| format!("writing {}", path.display()))?;
        progress(&format!("JSON report written to {}", path.display()));
    }
    if !report.clean {
        if let Some(t) = temp {
            progress(&format!("logs kept in {}", t.keep().display()));
        }
        bail!(
            "chaos run (seed {}): {} discrepancies, {} server panics",
            report.seed,
            report.reconciliation.discrepancies(),
            report.server_panics
        );
    }
    Ok(())
}

/// The database of a crash run, and what must live as long as the run.
enum RunDb {
    Sqlite,
    Cluster(Arc<Mutex<PgCluster>>),
    Shared(ThrowawayDb),
}

/// Runs one crash run in `run_root`.
pub async fn run(
    args: &BenchArgs,
    chaos: &ChaosArgs,
    run_root: &Path,
    command_line: Vec<String>,
) -> anyhow::Result<ChaosReport> {
    let seed = chaos
        .chaos_seed
        .unwrap_or_else(|| rand::rng().random_range(0..1_000_000));
    progress(&format!(
        "chaos seed {seed} (replay with --chaos-seed {seed})"
    ));
    let bin = match &args.paygate_bin {
        Some(p) => p.clone(),
        None => std::env::current_exe().context("locating the paygate binary")?,
    };
    let (database, run_db) = match args.db {
        DbChoice::Sqlite => (Database::Sqlite, RunDb::Sqlite),
        DbChoice::PostgresThrowaway => {
            let cluster = tokio::task::spawn_blocking(PgCluster::start)
                .await
                .context("the cluster start task")??;
            progress(&format!(
                "throwaway PostgreSQL cluster on port {} in {}",
                cluster.port(),
                cluster.root().display()
            ));
            let url = cluster.url();
            (
                Database::Postgres { url },
                RunDb::Cluster(Arc::new(Mutex::new(cluster))),
            )
        }
        DbChoice::Postgres => {
            let Some(server) = &args.postgres_url else {
                bail!("--db postgres needs --postgres-url");
            };
            let db = ThrowawayDb::create(server).await?;
            progress(&format!(
                "database {} (a shared server: it is never restarted)",
                db.name()
            ));
            (
                Database::Postgres {
                    url: db.url().to_owned(),
                },
                RunDb::Shared(db),
            )
        }
    };
    let db_restarts = match run_db {
        RunDb::Cluster(_) => chaos.db_restarts,
        _ => 0,
    };
    let faults = plan(
        seed,
        &PlanOptions {
            kills: chaos.kills,
            min_interval: chaos.kill_min_interval,
            max_interval: chaos.kill_max_interval,
            max_downtime: chaos.max_downtime,
            db_restarts,
        },
    );
    let secs = load_secs(&faults, args.duration);
    for f in &faults {
        progress(&format!("planned: {f:?}"));
    }
    let outcome = crash_run(
        args, chaos, &bin, run_root, database, &run_db, &faults, secs,
    )
    .await;
    let label = match &run_db {
        RunDb::Sqlite => "sqlite",
        RunDb::Cluster(_) => "postgres-throwaway",
        RunDb::Shared(_) => "postgres",
    };
    match run_db {
        RunDb::Shared(db) => db.drop_now().await?,
        RunDb::Cluster(c) => {
            // Drop stops the cluster and deletes its directory (off the async workers).
            tokio::task::spawn_blocking(move || drop(c))
                .await
                .context("the cluster removal task")?;
        }
        RunDb::Sqlite => {}
    }
    let mut report = outcome?;
    report.seed = seed;
    report.database = label.to_owned();
    report.command_line = command_line;
    Ok(report)
}

#[expect(clippy::too_many_arguments, reason = "one call, from run")]
async fn crash_run(
    args: &BenchArgs,
    chaos: &ChaosArgs,
    bin: &Path,
    run_root: &Path,
    database: Database,
    run_db: &RunDb,
    faults: &[Fault],
    load_secs: f64,
) -> anyhow::Result<ChaosReport> {
    let sim = SimProcess::spawn(&SimOptions {
        bin: bin.to_path_buf(),
        run_dir: run_root.to_path_buf(),
        time_scale: args.time_scale,
        refund_settle_after_secs: 1,
    })
    .await
    .context("starting the simulator")?;
    let mut server = PaygateProcess::spawn(&PaygateConfig {
        bin: bin.to_path_buf(),
        run_dir: run_root.to_path_buf(),
        database,
        sim: sim.endpoints().clone(),
        webhook_interval_ms: args.webhook_interval_ms,
        webhook_batch: args.webhook_batch,
        extra_env: RECONCILE_ENV
            .iter()
            .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
            .collect(),
    })
    .await
    .context("starting paygate serve")?;
    server
        .admin(&["create-operator", "--username", "chaos", "--role", "admin"])
        .context("creating the chaos operator")?;
    let token = server
        .admin(&["token", "--username", "chaos", "--ttl-secs", "86400"])
        .context("issuing the chaos operator's token")?
        .trim()
        .to_owned();
    let receiver = Arc::new(WebhookReceiver::spawn().await?);
    let protocols = assign_protocols(&parse_mix(&args.mix)?, args.tenants);
    let seeded = seed::seed(
        &SeedTarget {
            paygate_url: server.base_url(),
            admin_token: &token,
            sim_url: sim.base_url(),
        },
        &protocols,
        args.users,
        &receiver,
    )
    .await
    .context("seeding tenants")?;
    let client = load::http_client(Duration::from_secs(10))?;
    let env = LoadEnv {
        client: client.clone(),
        paygate_url: server.base_url().to_owned(),
        sim_url: sim.base_url().to_owned(),
        tenants: seeded.tenants.clone(),
        receiver: receiver.clone(),
        // The pid changes at every restart: CPU and RSS are not what this run measures.
        server_pid: None,
    };
    let opts = LoadOptions {
        pacing: match args.rate {
            Some(rate) => Pacing::Open {
                rate,
                max_in_flight: args.max_in_flight,
            },
            None => Pacing::Closed {
                concurrency: args.concurrency,
            },
        },
        duration: Some(Duration::from_secs_f64(load_secs)),
        count: None,
        warmup: Duration::ZERO,
        refund_ratio: args.refund_ratio,
        tolerate_outages: true,
        outage_deadline: Duration::from_secs(60),
        webhook_timeout: Duration::from_secs_f64(args.webhook_timeout.max(1.0)),
    };
    progress(&format!(
        "load: {} for {load_secs:.0} s with {} faults",
        opts.pacing.describe(),
        faults.len()
    ));
    let (stop_tx, stop) = watch::channel(false);
    let ctrl_c = tokio::spawn(async move {
        if tokio::signal::ctrl_c().await.is_ok() {
            progress("Ctrl-C: stopping the load");
            let _ = stop_tx.send(true);
        }
    });
    let begin = Instant::now();
    let (result, done) = tokio::join!(
        load::run_load(&env, &opts, stop.clone()),
        inject(&mut server, run_db, faults, begin, stop.clone()),
    );
    ctrl_c.abort();
    let done = done?;
    progress(&format!(
        "load over: {} started, {} completed, {} failed; catching up (at most {:.0} s)",
        result.started, result.completed, result.failed, chaos.settle_timeout
    ));
    let (reconciliation, catch_up) = catch_up(
        &client,
        &server,
        &sim,
        &token,
        &seeded,
        &receiver,
        &result,
        Duration::from_secs_f64(chaos.settle_timeout.max(1.0)),
    )
    .await?;
    let server_panics = std::fs::read_to_string(server.log_path())
        .unwrap_or_default()
        .matches("panicked")
        .count();
    let clean = reconciliation.is_clean() && server_panics == 0;
    Ok(ChaosReport {
        command_line: Vec::new(),
        seed: 0,
        database: String::new(),
        faults: done,
        load_secs,
        started: result.started,
        completed: result.completed,
        failed: result.failed,
        retries: result.retries.values().sum(),
        errors: result.errors.clone(),
        catch_up_secs: catch_up.as_secs_f64(),
        reconciliation,
        server_panics,
        stuck_idempotency_keys: result
            .errors
            .iter()
            .filter(|(kind, _)| kind.contains("idempotency_key_in_progress"))
            .map(|(_, n)| n)
            .sum(),
        clean,
    })
}

/// Carries out `faults` on their schedule (each after the previous one has recovered).
async fn inject(
    server: &mut PaygateProcess,
    run_db: &RunDb,
    faults: &[Fault],
    begin: Instant,
    stop: watch::Receiver<bool>,
) -> anyhow::Result<Vec<FaultDone>> {
    let mut done = Vec::new();
    for fault in faults {
        let due = begin + Duration::from_secs_f64(fault.at_secs());
        tokio::time::sleep_until(due.into()).await;
        if *stop.borrow() {
            break;
        }
        let started = Instant::now();
        let downtime = Duration::from_secs_f64(fault.downtime_secs());
        let detail = match fault {
            Fault::KillServer { .. } => {
                let before = server.pid();
                server.kill9();
                tokio::time::sleep(downtime).await;
                server
                    .restart()
                    .await
                    .context("restarting the server after kill -9")?;
                format!("pid {before} -> {}", server.pid())
            }
            Fault::RestartDatabase { .. } => {
                let RunDb::Cluster(cluster) = run_db else {
                    bail!("a database restart was planned for a database this run did not create");
                };
                let c = cluster.clone();
                blocking(move || lock(&c).crash()).await?;
                tokio::time::sleep(downtime).await;
                let c = cluster.clone();
                blocking(move || lock(&c).start_again()).await?;
                "pg_ctl stop -m immediate; start".to_owned()
            }
        };
        let f = FaultDone {
            fault: *fault,
            started_secs: started.duration_since(begin).as_secs_f64(),
            recovered_after_secs: started.elapsed().as_secs_f64(),
            detail,
        };
        progress(&format!(
            "t={:.1}s {:?}: recovered after {:.1}s ({})",
            f.started_secs, fault, f.recovered_after_secs, f.detail
        ));
        done.push(f);
    }
    Ok(done)
}

fn lock(c: &Mutex<PgCluster>) -> std::sync::MutexGuard<'_, PgCluster> {
    c.lock().unwrap_or_else(PoisonError::into_inner)
}

async fn blocking(f: impl FnOnce() -> anyhow::Result<()> + Send + 'static) -> anyhow::Result<()> {
    tokio::task::spawn_blocking(f)
        .await
        .context("a database task")?
}

/// Reconciles once a second until clean or `timeout`; returns the last reconciliation and
/// how long it took.
#[expect(clippy::too_many_arguments, reason = "one call, from crash_run")]
async fn catch_up(
    client: &reqwest::Client,
    server: &PaygateProcess,
    sim: &SimProcess,
    token: &str,
    seeded: &Seeded,
    receiver: &WebhookReceiver,
    load: &LoadResult,
    timeout: Duration,
) -> anyhow::Result<(Reconciliation, Duration)> {
    let begin = Instant::now();
    let channel_mch: HashMap<String, String> = seeded
        .tenants
        .iter()
        .map(|t| (t.channel_id.clone(), t.mch_id.clone()))
        .collect();
    let mut last_print = Instant::now();
    loop {
        let sim_orders = verify::fetch_sim_orders(client, sim.base_url()).await?;
        let sim_refunds = verify::fetch_sim_refunds(client, sim.base_url()).await?;
        let mut gate_orders = Vec::new();
        let mut gate_refunds = Vec::new();
        let mut events = Vec::new();
        for t in &seeded.tenants {
            gate_orders.extend(
                verify::fetch_gate_orders(client, server.base_url(), token, &t.tenant_id).await?,
            );
            gate_refunds.extend(
                verify::fetch_gate_refunds(client, server.base_url(), token, &t.tenant_id).await?,
            );
            events.extend(
                verify::fetch_gate_events(client, server.base_url(), token, &t.tenant_id).await?,
            );
        }
        let received = receiver.log();
        let r = verify::reconcile(&Inputs {
            sim_orders: &sim_orders,
            gate_orders: &gate_orders,
            sim_refunds: &sim_refunds,
            gate_refunds: &gate_refunds,
            channel_mch: &channel_mch,
            events: &events,
            received: &received,
            client_orders: &load.orders,
        });
        if r.is_clean() || begin.elapsed() >= timeout {
            return Ok((r, begin.elapsed()));
        }
        if last_print.elapsed() >= Duration::from_secs(5) {
            progress(&format!(
                "catching up: {} discrepancies ({} settled, {} paid, {} events unreceived)",
                r.discrepancies(),
                r.settled_by_sim,
                r.paid_in_paygate,
                r.events_never_received
            ));
            last_print = Instant::now();
        }
        // Polling a separate process's books: there is no event to wait on.
        tokio::time::sleep(Duration::from_secs(1)).await;
    }
}

fn progress(line: &str) {
    let _ = writeln!(std::io::stderr().lock(), "chaos: {line}");
}

#[cfg(test)]
mod tests {
    use super::*;

    fn opts(kills: u32, db_restarts: u32) -> PlanOptions {
        PlanOptions {
            kills,
            min_interval: 4.0,
            max_interval: 12.0,
            max_downtime: 2.0,
            db_restarts,
        }
    }

    #[test]
    fn a_seed_fixes_the_schedule() {
        assert_eq!(plan(7, &opts(3, 1)), plan(7, &opts(3, 1)));
        assert_ne!(plan(7, &opts(3, 1)), plan(8, &opts(3, 1)));
    }

    #[test]
    fn kills_are_spaced_within_the_interval_and_downtimes_bounded() {
        for seed in 0..200 {
            let faults = plan(seed, &opts(4, 0));
            assert_eq!(faults.len(), 4);
            let mut free_from = 0.0;
            for f in &faults {
                let Fault::KillServer {
                    at_secs,
                    downtime_secs,
                } = *f
                else {
                    panic!("only kills planned: {f:?}")
                };
                let gap = at_secs - free_from;
                assert!((3.999..=12.001).contains(&gap), "seed {seed}: gap {gap}");
                assert!((0.1..=2.0).contains(&downtime_secs), "seed {seed}");
                free_from = at_secs + downtime_secs;
            }
        }
    }

    #[test]
    fn database_restarts_fall_between_kills() {
        for seed in 0..200 {
            let faults = plan(seed, &opts(2, 1));
            let kills: Vec<&Fault> = faults
                .iter()
                .filter(|f| matches!(f, Fault::KillServer { .. }))
                .collect();
            let db: Vec<&Fault> = faults
                .iter()
                .filter(|f| matches!(f, Fault::RestartDatabase { .. }))
                .collect();
            assert_eq!((kills.len(), db.len()), (2, 1));
            let at = db[0].at_secs();
            for k in kills {
                let (a, b) = (k.at_secs(), k.at_secs() + k.downtime_secs());
                assert!(!(a..=b).contains(&at), "seed {seed}: restart during a kill");
            }
            assert!((0.5..=3.0).contains(&db[0].downtime_secs()));
            // Sorted by time.
            assert!(faults.windows(2).all(|w| w[0].at_secs() <= w[1].at_secs()));
        }
        // No kills: the restart still happens, within the first interval.
        let only = plan(3, &opts(0, 1));
        assert_eq!(only.len(), 1);
        assert!((2.0..=6.0).contains(&only[0].at_secs()), "{only:?}");
    }

    #[test]
    fn flags_parse_with_their_defaults() {
        use clap::Parser;
        #[derive(Debug, Parser)]
        struct Cli {
            #[command(flatten)]
            chaos: ChaosArgs,
        }
        let c = Cli::try_parse_from(["bench"]).unwrap().chaos;
        assert!(!c.chaos);
        assert_eq!((c.kills, c.db_restarts, c.chaos_seed), (3, 1, None));
        assert_eq!(c.settle_timeout, 120.0);
        let c = Cli::try_parse_from(["bench", "--chaos", "--chaos-seed", "9", "--kills", "0"])
            .unwrap()
            .chaos;
        assert!(c.chaos);
        assert_eq!((c.kills, c.chaos_seed), (0, Some(9)));
    }

    #[test]
    fn the_load_covers_every_fault() {
        let faults = [
            Fault::KillServer {
                at_secs: 30.0,
                downtime_secs: 2.0,
            },
            Fault::RestartDatabase {
                at_secs: 10.0,
                downtime_secs: 1.0,
            },
        ];
        assert_eq!(load_secs(&faults, 20.0), 37.0);
        assert_eq!(load_secs(&faults, 60.0), 60.0);
        assert_eq!(load_secs(&[], 20.0), 20.0);
    }
}
