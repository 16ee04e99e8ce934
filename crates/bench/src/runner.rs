//! The `paygate bench` command: its flags, the stack it starts (simulator, server, receiver,
//! seeded tenants), the phases it runs (one, per protocol, or the standard suite: saturation
//! then half load, per protocol and database) and the report it prints and writes. Each stack's
//! HTTP floor ([`crate::httpfloor`]) is measured once it is seeded, before its first phase, so
//! it sees the same server, database and client as the payments do.
//!
//! Children are killed when the stack is dropped (Ctrl-C stops the load first, and the report
//! of what was measured is still printed). A run with errors exits non-zero unless
//! `--allow-errors`. This module never reads credentials other than the `--admin-token` it is
//! given, and prints none.

use std::collections::BTreeMap;
use std::io::Write as _;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use anyhow::{Context, bail};
use tokio::sync::watch;

use crate::floor::{self, Floor};
use crate::httpfloor::{self, HttpFloor};
use crate::load::{self, LoadEnv, LoadOptions, Pacing};
use crate::pgdb::ThrowawayDb;
use crate::procs::{Database, PaygateConfig, PaygateProcess, SimOptions, SimProcess};
use crate::procstat;
use crate::receiver::WebhookReceiver;
use crate::report::{self, BenchReport, Machine, PhaseReport};
use crate::seed::{self, Protocol, SeedTarget, Seeded, SeededTenant};

/// Payments in flight of a closed-loop phase.
pub const DEFAULT_CONCURRENCY: usize = 32;
/// Payments in flight of a suite's saturation phase: enough that the server, not the
/// client's concurrency, limits throughput on a 2-core machine.
pub const SUITE_CONCURRENCY: usize = 128;

/// Which database `paygate bench` gives the server.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum DbChoice {
    /// A fresh SQLite file in the run directory.
    Sqlite,
    /// A fresh database on the server of `--postgres-url`, dropped afterwards.
    Postgres,
    /// A throwaway PostgreSQL cluster the run creates (initdb on a spare port) and removes;
    /// crash runs (`--chaos`) also crash-restart it. Needs the PostgreSQL server programs.
    PostgresThrowaway,
}

/// Named sets of phases.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum Suite {
    /// v2 on SQLite, v3 on SQLite, v2 on PostgreSQL (with `--postgres-url`): each closed-loop
    /// to find the saturating throughput, then open-loop at half of it for the p99 targets.
    Standard,
}

/// `paygate bench`: drive whole payments through a real paygate server and the WeChat
/// simulator (separate processes) and report throughput, client-seen latency per step, server
/// CPU per payment (against the v3 crypto floor) and resident memory.
#[derive(Debug, Clone, clap::Args)]
pub struct BenchArgs {
    /// The `paygate` binary to run as server and simulator [default: this executable].
    #[arg(long, value_name = "PATH")]
    pub paygate_bin: Option<PathBuf>,
    /// Benchmark an already-running server at this URL instead of starting one (needs
    /// --admin-token and --sim-url; --target-pid to measure its CPU and memory).
    #[arg(long, value_name = "URL", requires_all = ["admin_token", "sim_url"])]
    pub target: Option<String>,
    /// Process id of the --target server (CPU and RSS are read from /proc/<pid>).
    #[arg(long, value_name = "PID", requires = "target")]
    pub target_pid: Option<u32>,
    /// An admin operator token for the --target server's admin API.
    #[arg(
        long,
        env = "PAYGATE_BENCH_ADMIN_TOKEN",
        value_name = "TOKEN",
        hide_env_values = true
    )]
    pub admin_token: Option<String>,
    /// The simulator the --target server's upstreams point at.
    #[arg(long, value_name = "URL")]
    pub sim_url: Option<String>,
    /// The server's database.
    #[arg(long, value_enum, default_value_t = DbChoice::Sqlite)]
    pub db: DbChoice,
    /// A PostgreSQL server for `--db postgres` (and the standard suite's PostgreSQL phase): a
    /// database bench_<random> is created on it and dropped at the end.
    #[arg(
        long,
        env = "PAYGATE_BENCH_POSTGRES_URL",
        value_name = "URL",
        hide_env_values = true
    )]
    pub postgres_url: Option<String>,
    /// Protocol mix of the tenants, e.g. `v2=1,v3=1` or `v3=1`.
    #[arg(long, default_value = "v2=1,v3=1")]
    pub mix: String,
    /// Number of tenants (assigned to protocols by --mix, alternating).
    #[arg(long, default_value_t = 2)]
    pub tenants: usize,
    /// Simulated payers per tenant.
    #[arg(long, default_value_t = 4)]
    pub users: usize,
    /// Closed loop: payments in flight.
    #[arg(long, default_value_t = DEFAULT_CONCURRENCY)]
    pub concurrency: usize,
    /// Closed loop in a suite's saturation phases: enough payments in flight that the server,
    /// not the client, limits throughput (a payment spends most of its ~0.5 s waiting for
    /// the notification and the webhook).
    #[arg(long, default_value_t = SUITE_CONCURRENCY)]
    pub saturation_concurrency: usize,
    /// Open loop: payments started per second (instead of --concurrency).
    #[arg(long, value_name = "PER_SEC")]
    pub rate: Option<f64>,
    /// Open loop: most payments in flight (further starts are skipped and counted).
    #[arg(long, default_value_t = 2000)]
    pub max_in_flight: usize,
    /// Measured seconds per phase (after the warm-up).
    #[arg(long, default_value_t = 20.0)]
    pub duration: f64,
    /// Instead of --duration: start this many payments per phase (then wait for them).
    #[arg(long, conflicts_with = "duration")]
    pub count: Option<u64>,
    /// Seconds of unmeasured load before each phase's window.
    #[arg(long, default_value_t = 3.0)]
    pub warmup: f64,
    /// Fraction of paid orders refunded in full (0–1).
    #[arg(long, default_value_t = 0.0)]
    pub refund_ratio: f64,
    /// Run each protocol of the mix in its own phase (a CPU figure per protocol).
    #[arg(long)]
    pub split_protocols: bool,
    /// Run a named suite of phases instead of one.
    #[arg(long, value_enum)]
    pub suite: Option<Suite>,
    /// The server's `webhooks.interval_ms` (its default, 1000, makes every payment wait up
    /// to a second for its webhook).
    #[arg(long, default_value_t = 200)]
    pub webhook_interval_ms: u64,
    /// The server's `webhooks.batch` (its default, 100, caps deliveries at 100 per interval).
    #[arg(long, default_value_t = 1000)]
    pub webhook_batch: u32,
    /// The simulator's `--time-scale` (notification retries).
    #[arg(long, default_value_t = 0.01)]
    pub time_scale: f64,
    /// CPU milliseconds spent timing each crypto-floor operation.
    #[arg(long, default_value_t = 400)]
    pub floor_budget_ms: u64,
    /// `GET /healthz` requests per stack for its HTTP floor (server CPU per bare request,
    /// measured before the first phase, after 200 unmeasured); 0: not measured.
    #[arg(long, value_name = "N", default_value_t = httpfloor::DEFAULT_REQUESTS)]
    pub http_floor_requests: u64,
    /// Seconds a payment waits for its webhook.
    #[arg(long, default_value_t = 30.0)]
    pub webhook_timeout: f64,
    /// Write every number as JSON here.
    #[arg(long, value_name = "FILE")]
    pub json: Option<PathBuf>,
    /// Where logs, configuration and the SQLite database go [default: a new temporary
    /// directory, removed after a clean run].
    #[arg(long, value_name = "DIR")]
    pub run_dir: Option<PathBuf>,
    /// `RUST_LOG` for the server (diagnosis only, e.g. `info,sqlx::query=debug` to count
    /// statements): a measurement keeps the default level.
    #[arg(long, value_name = "FILTER")]
    pub server_log: Option<String>,
    /// Exit 0 even if payments failed.
    #[arg(long)]
    pub allow_errors: bool,
    #[command(flatten)]
    pub chaos: crate::chaos::ChaosArgs,
}

/// Parses `v2=1,v3=2` into weights.
pub fn parse_mix(text: &str) -> anyhow::Result<Vec<(Protocol, u32)>> {
    let mut out = Vec::new();
    for part in text.split(',').map(str::trim).filter(|p| !p.is_empty()) {
        let (name, weight) = part.split_once('=').unwrap_or((part, "1"));
        let protocol: Protocol = name.trim().parse()?;
        let weight: u32 = weight
            .trim()
            .parse()
            .with_context(|| format!("--mix weight of {name} is not a whole number"))?;
        if weight > 0 {
            out.push((protocol, weight));
        }
    }
    if out.is_empty() {
        bail!("--mix names no protocol with a positive weight");
    }
    Ok(out)
}

/// `n` tenants' protocols, by weight, interleaved (`v2=1,v3=1` and 4 → v2, v3, v2, v3).
pub fn assign_protocols(mix: &[(Protocol, u32)], n: usize) -> Vec<Protocol> {
    let cycle: Vec<Protocol> = mix
        .iter()
        .flat_map(|&(p, w)| std::iter::repeat_n(p, w as usize))
        .collect();
    // Interleave: v2=2,v3=1 gives v2, v3, v2 rather than v2, v2, v3 within a cycle.
    let mut interleaved = Vec::with_capacity(cycle.len());
    let mut left: Vec<(Protocol, u32)> = mix.to_vec();
    while left.iter().any(|(_, w)| *w > 0) {
        for (p, w) in left.iter_mut() {
            if *w > 0 {
                interleaved.push(*p);
                *w -= 1;
            }
        }
    }
    (0..n.max(1))
        .filter_map(|i| interleaved.get(i % interleaved.len().max(1)).copied())
        .collect()
}

/// The servers and tenants of a run on one database.
pub struct Stack {
    pub sim: Option<SimProcess>,
    pub server: Option<PaygateProcess>,
    pub database: Option<ThrowawayDb>,
    pub paygate_url: String,
    pub sim_url: String,
    pub server_pid: Option<u32>,
    pub receiver: Arc<WebhookReceiver>,
    pub seeded: Seeded,
    pub db_label: String,
}

impl std::fmt::Debug for Stack {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Stack")
            .field("paygate_url", &self.paygate_url)
            .field("sim_url", &self.sim_url)
            .field("server_pid", &self.server_pid)
            .field("db", &self.db_label)
            .finish_non_exhaustive()
    }
}

impl Stack {
    /// Stops the server and simulator and drops the throwaway database.
    pub async fn shut_down(mut self) -> anyhow::Result<()> {
        if let Some(server) = self.server.as_mut() {
            server.stop(Duration::from_secs(10));
        }
        if let Some(sim) = self.sim.as_mut() {
            sim.stop(Duration::from_secs(5));
        }
        if let Some(db) = self.database.take() {
            db.drop_now().await?;
        }
        Ok(())
    }
}

/// Starts the simulator and a server on `database` in `run_dir`, creates an admin operator,
/// and seeds one tenant per entry of `protocols`.
pub async fn start_stack(
    bin: &std::path::Path,
    run_dir: &std::path::Path,
    database: Database,
    throwaway: Option<ThrowawayDb>,
    protocols: &[Protocol],
    args: &BenchArgs,
) -> anyhow::Result<Stack> {
    let sim = SimProcess::spawn(&SimOptions {
        bin: bin.to_path_buf(),
        run_dir: run_dir.to_path_buf(),
        time_scale: args.time_scale,
        refund_settle_after_secs: 1,
    })
    .await
    .context("starting the simulator")?;
    let db_label = database.label().to_owned();
    let server = PaygateProcess::spawn(&PaygateConfig {
        bin: bin.to_path_buf(),
        run_dir: run_dir.to_path_buf(),
        database,
        sim: sim.endpoints().clone(),
        webhook_interval_ms: args.webhook_interval_ms,
        webhook_batch: args.webhook_batch,
        extra_env: args
            .server_log
            .iter()
            .map(|f| ("RUST_LOG".to_owned(), f.clone()))
            .collect(),
    })
    .await
    .context("starting paygate serve")?;
    progress(&format!(
        "server pid {} at {} (log {}); simulator pid {}",
        server.pid(),
        server.base_url(),
        server.log_path().display(),
        sim.pid()
    ));
    server
        .admin(&["create-operator", "--username", "bench", "--role", "admin"])
        .context("creating the bench operator")?;
    let token = server
        .admin(&["token", "--username", "bench", "--ttl-secs", "86400"])
        .context("issuing the bench operator's token")?
        .trim()
        .to_owned();
    let receiver = Arc::new(WebhookReceiver::spawn().await?);
    let seeded = seed::seed(
        &SeedTarget {
            paygate_url: server.base_url(),
            admin_token: &token,
            sim_url: sim.base_url(),
        },
        protocols,
        args.users,
        &receiver,
    )
    .await?;
    Ok(Stack {
        paygate_url: server.base_url().to_owned(),
        sim_url: sim.base_url().to_owned(),
        server_pid: Some(server.pid()),
        sim: Some(sim),
        server: Some(server),
        database: throwaway,
        receiver,
        seeded,
        db_label,
    })
}

/// Seeds tenants on a server someone else runs.
async fn target_stack(args: &BenchArgs, protocols: &[Protocol]) -> anyhow::Result<Stack> {
    let (Some(url), Some(token), Some(sim_url)) = (&args.target, &args.admin_token, &args.sim_url)
    else {
        bail!("--target needs --admin-token and --sim-url");
    };
    let receiver = Arc::new(WebhookReceiver::spawn().await?);
    let url = url.trim_end_matches('/').to_owned();
    let sim_url = sim_url.trim_end_matches('/').to_owned();
    let seeded = seed::seed(
        &SeedTarget {
            paygate_url: &url,
            admin_token: token,
            sim_url: &sim_url,
        },
        protocols,
        args.users,
        &receiver,
    )
    .await?;
    Ok(Stack {
        sim: None,
        server: None,
        database: None,
        paygate_url: url,
        sim_url,
        server_pid: args.target_pid,
        receiver,
        seeded,
        db_label: "target".into(),
    })
}

/// What the stacks of a run measured.
#[derive(Debug, Default)]
struct Measured {
    phases: Vec<PhaseReport>,
    /// Closed-loop throughput per phase group (the suite's saturation phases).
    saturation: BTreeMap<String, f64>,
    /// Per stack label.
    http_floor: BTreeMap<String, HttpFloor>,
}

/// Measures `stack`'s HTTP floor into `out` (unless `--http-floor-requests 0`, or the server
/// is not a process whose CPU this machine can read: `--target` without `--target-pid`).
async fn measure_http_floor(
    stack: &Stack,
    args: &BenchArgs,
    out: &mut BTreeMap<String, HttpFloor>,
) -> anyhow::Result<()> {
    let requests = args.http_floor_requests;
    if requests == 0 {
        return Ok(());
    }
    let Some(pid) = stack.server_pid else {
        progress("HTTP floor skipped: the server's CPU cannot be read (--target-pid)");
        return Ok(());
    };
    progress(&format!(
        "HTTP floor on {}: {requests} × GET {}",
        stack.db_label,
        httpfloor::PATH
    ));
    let client = load::http_client(Duration::from_secs(30))?;
    let f = httpfloor::measure(&client, &stack.paygate_url, pid, requests)
        .await
        .with_context(|| format!("the HTTP floor on {}", stack.db_label))?;
    progress(&httpfloor::render_line(&stack.db_label, &f));
    out.insert(stack.db_label.clone(), f);
    Ok(())
}

/// One phase to run on a stack.
#[derive(Debug, Clone)]
struct PhasePlan {
    name: String,
    protocols: Vec<Protocol>,
    pacing: Pacing,
    half_load: bool,
}

fn load_options(args: &BenchArgs, pacing: Pacing) -> LoadOptions {
    LoadOptions {
        pacing,
        duration: match args.count {
            Some(_) => None,
            None => Some(Duration::from_secs_f64(args.duration.max(0.1))),
        },
        count: args.count,
        warmup: Duration::from_secs_f64(args.warmup.max(0.0)),
        refund_ratio: args.refund_ratio,
        tolerate_outages: false,
        outage_deadline: Duration::from_secs(60),
        webhook_timeout: Duration::from_secs_f64(args.webhook_timeout.max(1.0)),
    }
}

/// Runs `plan` on `stack`, measuring the simulator's and the bench's own CPU alongside.
async fn run_phase(
    stack: &Stack,
    plan: &PhasePlan,
    args: &BenchArgs,
    floor: Option<&Floor>,
    stop: watch::Receiver<bool>,
) -> anyhow::Result<PhaseReport> {
    let tenants: Vec<SeededTenant> = stack
        .seeded
        .tenants
        .iter()
        .filter(|t| plan.protocols.contains(&t.protocol))
        .cloned()
        .collect();
    if tenants.is_empty() {
        bail!("phase {}: no tenant of its protocols was seeded", plan.name);
    }
    let env = LoadEnv {
        client: load::http_client(Duration::from_secs(30))?,
        paygate_url: stack.paygate_url.clone(),
        sim_url: stack.sim_url.clone(),
        tenants,
        receiver: stack.receiver.clone(),
        server_pid: stack.server_pid,
    };
    progress(&format!(
        "phase {}: {} on {}, {}",
        plan.name,
        plan.protocols
            .iter()
            .map(|p| p.label())
            .collect::<Vec<_>>()
            .join("+"),
        stack.db_label,
        plan.pacing.describe()
    ));
    let sim_before = stack.sim.as_ref().map(SimProcess::cpu_time);
    let me = std::process::id();
    let bench_before = procstat::process_cpu_time(me).ok();
    let result = load::run_load(&env, &load_options(args, plan.pacing), stop).await;
    let mut phase = PhaseReport::new(
        &plan.name,
        plan.protocols.clone(),
        &stack.db_label,
        plan.half_load,
        &result,
        floor,
    );
    phase.sim_cpu_secs = match (sim_before, stack.sim.as_ref()) {
        (Some(a), Some(sim)) => Some(sim.cpu_time().saturating_sub(a).as_secs_f64()),
        _ => None,
    };
    phase.bench_cpu_secs = match (bench_before, procstat::process_cpu_time(me).ok()) {
        (Some(a), Some(b)) => Some(b.saturating_sub(a).as_secs_f64()),
        _ => None,
    };
    progress(&format!(
        "phase {}: {:.1} payments/s, {} errors",
        plan.name,
        phase.payments_per_sec,
        phase.error_count()
    ));
    Ok(phase)
}

fn progress(line: &str) {
    // Progress goes to stderr so stdout carries only the report.
    let _ = writeln!(std::io::stderr().lock(), "bench: {line}");
}

/// `paygate bench`.
pub fn run(args: BenchArgs, command_line: Vec<String>) -> anyhow::Result<()> {
    if args.chaos.chaos {
        return crate::chaos::run_command(&args, &args.chaos, command_line);
    }
    let runtime = tokio::runtime::Runtime::new().context("starting the async runtime")?;
    let report = runtime.block_on(run_async(&args, command_line))?;
    let text = report::render_text(&report);
    std::io::stdout()
        .lock()
        .write_all(text.as_bytes())
        .context("writing the report")?;
    if let Some(path) = &args.json {
        let json = serde_json::to_vec_pretty(&report).context("encoding the JSON report")?;
        std::fs::write(path, json).with_context(|| format!("writing {}", path.display()))?;
        progress(&format!("JSON report written to {}", path.display()));
    }
    if report.errors_total > 0 && !args.allow_errors {
        bail!(
            "{} errors during the run (see ERRORS above; --allow-errors to accept)",
            report.errors_total
        );
    }
    Ok(())
}

async fn run_async(args: &BenchArgs, command_line: Vec<String>) -> anyhow::Result<BenchReport> {
    if !(0.0..=1.0).contains(&args.refund_ratio) {
        bail!("--refund-ratio must be between 0 and 1");
    }
    let mix = parse_mix(&args.mix)?;
    let started_at = time::OffsetDateTime::now_utc()
        .format(&time::format_description::well_known::Rfc3339)
        .unwrap_or_default();
    let (stop_tx, stop) = watch::channel(false);
    tokio::spawn(async move {
        if tokio::signal::ctrl_c().await.is_ok() {
            progress("Ctrl-C: stopping the load (the report of what was measured follows)");
            let _ = stop_tx.send(true);
        }
    });

    let budget = Duration::from_millis(args.floor_budget_ms.max(10));
    progress("measuring the v3 crypto floor");
    let floor = tokio::task::spawn_blocking(move || floor::measure(budget))
        .await
        .context("the crypto floor task")??;

    let bin = match &args.paygate_bin {
        Some(p) => p.clone(),
        None => std::env::current_exe().context("locating the paygate binary")?,
    };
    let (temp, run_root) = run_directory(args.run_dir.as_ref(), "paygate-bench-")?;

    let mut measured = Measured::default();
    match args.suite {
        Some(Suite::Standard) => {
            standard_suite(args, &bin, &run_root, &floor, &stop, &mut measured).await?;
        }
        None => {
            let protocols = assign_protocols(&mix, args.tenants);
            let stack = match &args.target {
                Some(_) => target_stack(args, &protocols).await?,
                None => {
                    let (database, throwaway) = database_for(args.db, args).await?;
                    start_stack(
                        &bin,
                        &run_root.join("stack"),
                        database,
                        throwaway,
                        &protocols,
                        args,
                    )
                    .await?
                }
            };
            let pacing = match args.rate {
                Some(rate) => Pacing::Open {
                    rate,
                    max_in_flight: args.max_in_flight,
                },
                None => Pacing::Closed {
                    concurrency: args.concurrency,
                },
            };
            let mut distinct: Vec<Protocol> = protocols.clone();
            distinct.sort();
            distinct.dedup();
            let plans: Vec<PhasePlan> = if args.split_protocols {
                distinct
                    .iter()
                    .map(|p| PhasePlan {
                        name: p.label().to_owned(),
                        protocols: vec![*p],
                        pacing,
                        half_load: false,
                    })
                    .collect()
            } else {
                vec![PhasePlan {
                    name: distinct
                        .iter()
                        .map(|p| p.label())
                        .collect::<Vec<_>>()
                        .join("+"),
                    protocols: distinct.clone(),
                    pacing,
                    half_load: false,
                }]
            };
            let outcome = async {
                if !*stop.borrow() {
                    measure_http_floor(&stack, args, &mut measured.http_floor).await?;
                }
                run_plans(&stack, &plans, args, &floor, &stop, &mut measured.phases).await
            }
            .await;
            stack.shut_down().await?;
            outcome?;
        }
    }

    let report = BenchReport {
        command_line,
        started_at,
        machine: Machine::detect(),
        settings: serde_json::json!({
            "webhooks.interval_ms": args.webhook_interval_ms,
            "webhooks.batch": args.webhook_batch,
            "rate_limits.tenant_per_second": 1_000_000,
            "sim.time_scale": args.time_scale,
            "server_log": args.server_log.as_deref().unwrap_or("default (info, sqlx=warn)"),
            "tenants": args.tenants,
            "users_per_tenant": args.users,
            "warmup_secs": args.warmup,
            "refund_ratio": args.refund_ratio,
            "mix": args.mix,
        }),
        floor: Some(floor),
        http_floor: measured.http_floor,
        phases: measured.phases,
        saturation: measured.saturation,
        targets: Vec::new(),
        errors_total: 0,
    }
    .finish();
    // Keep the logs of a run that went wrong.
    if let Some(t) = temp
        && report.errors_total > 0
    {
        let kept = t.keep();
        progress(&format!("errors: logs kept in {}", kept.display()));
    }
    Ok(report)
}

async fn run_plans(
    stack: &Stack,
    plans: &[PhasePlan],
    args: &BenchArgs,
    floor: &Floor,
    stop: &watch::Receiver<bool>,
    phases: &mut Vec<PhaseReport>,
) -> anyhow::Result<()> {
    for plan in plans {
        if *stop.borrow() {
            break;
        }
        phases.push(run_phase(stack, plan, args, Some(floor), stop.clone()).await?);
    }
    Ok(())
}

/// The server's database for `choice` (creating the throwaway PostgreSQL database).
async fn database_for(
    choice: DbChoice,
    args: &BenchArgs,
) -> anyhow::Result<(Database, Option<ThrowawayDb>)> {
    match choice {
        DbChoice::Sqlite => Ok((Database::Sqlite, None)),
        DbChoice::PostgresThrowaway => bail!(
            "--db postgres-throwaway is for crash runs (--chaos); measure PostgreSQL with \
             --db postgres --postgres-url"
        ),
        DbChoice::Postgres => {
            let Some(server) = &args.postgres_url else {
                bail!(
                    "--db postgres needs --postgres-url (a server on which to create a database)"
                );
            };
            let db = ThrowawayDb::create(server).await?;
            progress(&format!("created database {}", db.name()));
            Ok((
                Database::Postgres {
                    url: db.url().to_owned(),
                },
                Some(db),
            ))
        }
    }
}

/// v2 and v3 on SQLite, v2 on PostgreSQL: saturation, then half of it.
async fn standard_suite(
    args: &BenchArgs,
    bin: &std::path::Path,
    run_root: &std::path::Path,
    floor: &Floor,
    stop: &watch::Receiver<bool>,
    out: &mut Measured,
) -> anyhow::Result<()> {
    let mut groups = vec![(DbChoice::Sqlite, vec![Protocol::V2, Protocol::V3])];
    if args.postgres_url.is_some() {
        groups.push((DbChoice::Postgres, vec![Protocol::V2]));
    } else {
        progress("no --postgres-url: the PostgreSQL phases are skipped");
    }
    for (choice, protocols) in groups {
        if *stop.borrow() {
            break;
        }
        let (database, throwaway) = database_for(choice, args).await?;
        let label = database.label().to_owned();
        let stack = start_stack(
            bin,
            &run_root.join(&label),
            database,
            throwaway,
            &protocols,
            args,
        )
        .await?;
        let outcome = async {
            if !*stop.borrow() {
                measure_http_floor(&stack, args, &mut out.http_floor).await?;
            }
            for &protocol in &protocols {
                let group = format!("{}-{label}", protocol.label());
                let sat = PhasePlan {
                    name: format!("{group}-saturation"),
                    protocols: vec![protocol],
                    pacing: Pacing::Closed {
                        concurrency: args.saturation_concurrency,
                    },
                    half_load: false,
                };
                let phase = run_phase(&stack, &sat, args, Some(floor), stop.clone()).await?;
                let top = phase.payments_per_sec;
                out.phases.push(phase);
                out.saturation.insert(group.clone(), top);
                if *stop.borrow() || top <= 0.0 {
                    break;
                }
                let half = PhasePlan {
                    name: format!("{group}-half-load"),
                    protocols: vec![protocol],
                    pacing: Pacing::Open {
                        rate: top / 2.0,
                        max_in_flight: args.max_in_flight,
                    },
                    half_load: true,
                };
                out.phases
                    .push(run_phase(&stack, &half, args, Some(floor), stop.clone()).await?);
            }
            anyhow::Ok(())
        }
        .await;
        stack.shut_down().await?;
        outcome?;
    }
    Ok(())
}

/// The run directory: `--run-dir` as given, or a fresh temporary one named `<prefix>…` (the
/// caller removes it at the end, or keeps it when the run failed).
pub(crate) fn run_directory(
    requested: Option<&PathBuf>,
    prefix: &str,
) -> anyhow::Result<(Option<tempfile::TempDir>, PathBuf)> {
    let (temp, root) = match requested {
        Some(dir) => (None, dir.clone()),
        None => {
            let temp = tempfile::Builder::new()
                .prefix(prefix)
                .tempdir()
                .context("creating the run directory")?;
            let root = temp.path().to_path_buf();
            (Some(temp), root)
        }
    };
    progress(&format!("run directory {}", root.display()));
    Ok((temp, root))
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::Parser;

    #[derive(Debug, Parser)]
    struct Cli {
        #[command(flatten)]
        bench: BenchArgs,
    }

    #[test]
    fn mixes_parse_and_interleave() {
        let mix = parse_mix("v2=1,v3=1").unwrap();
        assert_eq!(
            assign_protocols(&mix, 4),
            [Protocol::V2, Protocol::V3, Protocol::V2, Protocol::V3]
        );
        let mix = parse_mix("v2=2, v3=1").unwrap();
        assert_eq!(
            assign_protocols(&mix, 3),
            [Protocol::V2, Protocol::V3, Protocol::V2]
        );
        assert_eq!(
            assign_protocols(&parse_mix("v3").unwrap(), 2),
            [Protocol::V3; 2]
        );
        assert!(parse_mix("v2=0").is_err());
        assert!(parse_mix("v4=1").is_err());
        assert!(parse_mix("v2=x").is_err());
    }

    #[test]
    fn flags_parse_with_their_documented_defaults() {
        let cli = Cli::try_parse_from(["bench"]).unwrap();
        assert_eq!(cli.bench.db, DbChoice::Sqlite);
        assert_eq!(cli.bench.concurrency, 32);
        assert_eq!(cli.bench.saturation_concurrency, 128);
        assert_eq!(cli.bench.webhook_interval_ms, 200);
        assert_eq!(cli.bench.http_floor_requests, 2000);
        let cli = Cli::try_parse_from(["bench", "--suite", "standard", "--rate", "50"]).unwrap();
        assert_eq!(cli.bench.suite, Some(Suite::Standard));
        assert_eq!(cli.bench.rate, Some(50.0));
        // --target without the admin token and simulator it needs is refused.
        assert!(Cli::try_parse_from(["bench", "--target", "http://127.0.0.1:1"]).is_err());
        assert!(Cli::try_parse_from(["bench", "--count", "5", "--duration", "3"]).is_err());
    }

    #[test]
    fn count_mode_has_no_duration() {
        let cli = Cli::try_parse_from(["bench", "--count", "10"]).unwrap();
        let o = load_options(&cli.bench, Pacing::Closed { concurrency: 2 });
        assert_eq!(o.duration, None);
        assert_eq!(o.count, Some(10));
    }
}
