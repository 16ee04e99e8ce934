//! The load driver: whole payments, concurrently, as a tenant backend and a WeChat user would
//! make them — `POST /v1/orders` (with an `Idempotency-Key`) → `POST /v1/orders/{id}/pay`
//! (JSAPI) → the user pays at the simulator (`POST /sim/request-payment`) → WeChat notifies
//! paygate → paygate's `payment.succeeded` webhook reaches the bench's receiver →
//! `GET /v1/orders/{id}` says `PAID`; optionally a refund and its webhook.
//!
//! Pacing is closed-loop (`concurrency` payments always in flight: finds the saturating
//! throughput) or open-loop (`rate` payments started per second whatever the latency: the
//! latency a client sees at a given load). Each step is timed as the client sees it. Payments
//! that start during the warm-up are driven but not measured.
//!
//! In `tolerate_outages` mode (crash runs) a connection error, a timeout or a 5xx is retried
//! with backoff — the same `Idempotency-Key`, the same order — until a deadline, and counted
//! as a retry, not a failure. Every order the driver created is returned with its amount, so a
//! verifier can compare paygate's records with the simulator's.
//!
//! The driver never polls paygate while waiting for a payment (that would inflate the server
//! CPU it measures); it waits on the webhook. It never sends traffic anywhere but the server
//! and simulator it was given.

use std::collections::BTreeMap;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::{Duration, Instant};

use rand::Rng;
use serde::Serialize;
use serde_json::{Value, json};
use tokio::sync::watch;
use tokio::task::JoinSet;

use crate::procstat;
use crate::receiver::{PAYMENT_SUCCEEDED, REFUND_SUCCEEDED, WebhookLog, WebhookReceiver};
pub use crate::seed::{Protocol, Seeded, SeededTenant, seed};

/// What the driver talks to.
#[derive(Debug, Clone)]
pub struct LoadEnv {
    /// One keep-alive client for every call (see [`http_client`]).
    pub client: reqwest::Client,
    /// paygate's base URL.
    pub paygate_url: String,
    /// The simulator's base URL (`/sim/request-payment`).
    pub sim_url: String,
    /// The tenants payments are spread over, round-robin.
    pub tenants: Vec<SeededTenant>,
    pub receiver: Arc<WebhookReceiver>,
    /// The server process to measure (CPU at the window's edges, RSS every second); `None`
    /// when the server is not a local process the bench can read.
    pub server_pid: Option<u32>,
}

/// The HTTP client of a run: keep-alive, no proxy, a whole-request timeout.
pub fn http_client(timeout: Duration) -> anyhow::Result<reqwest::Client> {
    reqwest::Client::builder()
        .timeout(timeout)
        .pool_max_idle_per_host(1024)
        .no_proxy()
        .build()
        .map_err(|e| anyhow::anyhow!("building the HTTP client: {e}"))
}

/// How payments are started.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
#[serde(tag = "mode", rename_all = "snake_case")]
pub enum Pacing {
    /// `concurrency` payments in flight at all times.
    Closed { concurrency: usize },
    /// `rate` payments started per second on a fixed schedule; at most `max_in_flight` in
    /// flight (a start beyond that is skipped and counted).
    Open { rate: f64, max_in_flight: usize },
}

impl Pacing {
    pub fn describe(&self) -> String {
        match self {
            Pacing::Closed { concurrency } => format!("closed-loop, concurrency {concurrency}"),
            Pacing::Open { rate, .. } => format!("open-loop, {rate:.1} payments/s"),
        }
    }
}

/// How long, how much, what.
#[derive(Debug, Clone)]
pub struct LoadOptions {
    pub pacing: Pacing,
    /// Measured time after the warm-up; payments stop starting at its end. `None`: run
    /// until `count` payments have been started (or `stop`).
    pub duration: Option<Duration>,
    /// Start at most this many payments (warm-up included).
    pub count: Option<u64>,
    /// Payments starting in the first `warmup` are driven but not measured.
    pub warmup: Duration,
    /// Fraction (0–1) of paid orders then refunded in full.
    pub refund_ratio: f64,
    /// Retry connection errors, timeouts and 5xx (same idempotency key) until
    /// `outage_deadline` per step, as retries rather than failures.
    pub tolerate_outages: bool,
    pub outage_deadline: Duration,
    /// How long a payment waits for its webhook.
    pub webhook_timeout: Duration,
}

impl Default for LoadOptions {
    fn default() -> Self {
        LoadOptions {
            pacing: Pacing::Closed { concurrency: 16 },
            duration: Some(Duration::from_secs(20)),
            count: None,
            warmup: Duration::from_secs(3),
            refund_ratio: 0.0,
            tolerate_outages: false,
            outage_deadline: Duration::from_secs(120),
            webhook_timeout: Duration::from_secs(30),
        }
    }
}

/// The steps of a payment, each timed as the client sees it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Step {
    /// `POST /v1/orders`.
    CreateOrder,
    /// `POST /v1/orders/{id}/pay` (paygate calls WeChat's prepay API).
    Pay,
    /// `POST /sim/request-payment` (the user pays; the simulator, not paygate).
    RequestPayment,
    /// From the user's payment to the `payment.succeeded` webhook: the simulator's
    /// notification (its ticker runs every 100 ms), paygate's notify handler, the outbox and
    /// the webhook worker (which polls every `webhooks.interval_ms`).
    NotifyToWebhook,
    /// `GET /v1/orders/{id}` (must say PAID).
    GetOrder,
    /// `POST /v1/orders/{id}/refunds`.
    Refund,
    /// From the refund request to the `refund.succeeded` webhook.
    RefundToWebhook,
    /// From `POST /v1/orders` to `GET` saying PAID.
    Total,
}

impl Step {
    pub const ALL: [Step; 8] = [
        Step::CreateOrder,
        Step::Pay,
        Step::RequestPayment,
        Step::NotifyToWebhook,
        Step::GetOrder,
        Step::Refund,
        Step::RefundToWebhook,
        Step::Total,
    ];

    pub fn label(self) -> &'static str {
        match self {
            Step::CreateOrder => "create_order",
            Step::Pay => "pay",
            Step::RequestPayment => "request_payment",
            Step::NotifyToWebhook => "notify_to_webhook",
            Step::GetOrder => "get_order",
            Step::Refund => "refund",
            Step::RefundToWebhook => "refund_to_webhook",
            Step::Total => "total",
        }
    }
}

/// An order the driver created (whatever became of it).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct OrderRecord {
    pub order_id: String,
    pub out_trade_no: String,
    pub tenant_id: String,
    pub amount_fen: i64,
    /// The simulated user's payment was accepted by the simulator.
    pub paid_requested: bool,
    /// The webhook arrived and `GET` said PAID.
    pub paid_confirmed: bool,
    /// Fen refunded (accepted by paygate).
    pub refund_requested_fen: i64,
}

/// Server CPU over the measurement window.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct CpuWindow {
    /// user + system of the server process over the window.
    pub server_cpu_secs: f64,
    /// Payments completed inside the window.
    pub payments: u64,
    /// `server_cpu_secs / payments`, milliseconds.
    pub per_payment_ms: Option<f64>,
}

/// What a load run measured.
#[derive(Debug, Clone, Serialize)]
pub struct LoadResult {
    pub pacing: Pacing,
    /// Length of the measurement window, seconds.
    pub window_secs: f64,
    /// Payments started (warm-up included).
    pub started: u64,
    /// Payments completed inside the window.
    pub completed_in_window: u64,
    /// Payments completed at all.
    pub completed: u64,
    /// Payments that ended in an error.
    pub failed: u64,
    /// `completed_in_window / window_secs`.
    pub payments_per_sec: f64,
    /// Latency samples (ms) of payments started inside the window, per step.
    #[serde(skip)]
    pub samples: BTreeMap<Step, Vec<f64>>,
    /// `step:kind` → count.
    pub errors: BTreeMap<String, u64>,
    /// `step:kind` → count (only in `tolerate_outages` mode).
    pub retries: BTreeMap<String, u64>,
    /// Open loop: starts skipped because `max_in_flight` payments were in flight.
    pub skipped_starts: u64,
    /// Open loop: how late payments started against the schedule (ms).
    #[serde(skip)]
    pub start_lag_ms: Vec<f64>,
    pub cpu: Option<CpuWindow>,
    /// `(seconds since the run started, KiB)` of the server, every second.
    pub rss_samples: Vec<(f64, u64)>,
    /// Webhook deliveries accepted by the receiver during this run (duplicates included).
    pub webhook_deliveries: u64,
    /// Deliveries the receiver refused during this run (bad signature or shape).
    pub webhook_rejected: u64,
    /// Events delivered more than once, counted during this run.
    pub webhook_redelivered: usize,
    #[serde(skip)]
    pub orders: Vec<OrderRecord>,
    /// Everything the receiver has accepted so far (it may outlive several runs).
    #[serde(skip)]
    pub webhooks: WebhookLog,
}

impl LoadResult {
    /// Errors of any kind.
    pub fn error_count(&self) -> u64 {
        self.errors.values().sum()
    }
}

/// Where one payment failed.
#[derive(Debug, Clone)]
struct Failure {
    step: Step,
    kind: String,
}

/// What one payment did.
#[derive(Debug, Default)]
struct Outcome {
    steps: Vec<(Step, f64)>,
    retries: Vec<String>,
    failure: Option<Failure>,
    order: Option<OrderRecord>,
}

/// Shared between the payments of a run.
#[derive(Default)]
struct Collector {
    samples: BTreeMap<Step, Vec<f64>>,
    errors: BTreeMap<String, u64>,
    retries: BTreeMap<String, u64>,
    completions: Vec<Instant>,
    failed: u64,
    orders: Vec<OrderRecord>,
    start_lag_ms: Vec<f64>,
}

/// The measurement window's edges.
#[derive(Debug, Clone, Copy)]
struct Window {
    start: Instant,
    /// `None` in count mode until the run ends.
    end: Option<Instant>,
}

impl Window {
    fn measures(&self, started: Instant) -> bool {
        started >= self.start && self.end.is_none_or(|end| started < end)
    }
}

struct Run {
    env: LoadEnv,
    opts: LoadOptions,
    collector: Mutex<Collector>,
    next_seq: AtomicU64,
    in_flight: AtomicUsize,
    window: Window,
}

impl Run {
    fn lock(&self) -> std::sync::MutexGuard<'_, Collector> {
        self.collector
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
    }

    /// The next payment's sequence number, or `None` when the count is used up.
    fn ticket(&self) -> Option<u64> {
        let seq = self.next_seq.fetch_add(1, Ordering::Relaxed);
        match self.opts.count {
            Some(n) if seq >= n => None,
            _ => Some(seq),
        }
    }

    fn record(&self, started: Instant, outcome: Outcome) {
        let measured = self.window.measures(started);
        let mut c = self.lock();
        for kind in outcome.retries {
            *c.retries.entry(kind).or_default() += 1;
        }
        if let Some(order) = outcome.order {
            c.orders.push(order);
        }
        match outcome.failure {
            Some(f) => {
                c.failed += 1;
                *c.errors
                    .entry(format!("{}:{}", f.step.label(), f.kind))
                    .or_default() += 1;
            }
            None => c.completions.push(Instant::now()),
        }
        if measured {
            for (step, ms) in outcome.steps {
                c.samples.entry(step).or_default().push(ms);
            }
        }
    }
}

/// Drives payments as `opts` say until the duration or count is used up or `stop` turns
/// true, waits for the payments in flight, and reports.
pub async fn run_load(
    env: &LoadEnv,
    opts: &LoadOptions,
    mut stop: watch::Receiver<bool>,
) -> LoadResult {
    let webhooks_before = env.receiver.log();
    let begin = Instant::now();
    let window_start = begin + opts.warmup;
    let window_end = opts.duration.map(|d| window_start + d);
    let run = Arc::new(Run {
        env: env.clone(),
        opts: opts.clone(),
        collector: Mutex::default(),
        next_seq: AtomicU64::new(0),
        in_flight: AtomicUsize::new(0),
        window: Window {
            start: window_start,
            end: window_end,
        },
    });
    let (rss_stop, rss_task) = spawn_rss_sampler(env.server_pid, begin);
    // Closes the window when the load ends on its own (count mode) or is stopped.
    let (window_stop, window_stopped) = watch::channel(false);
    let mut outer_stop = stop.clone();
    let forward = window_stop.clone();
    let forwarder = tokio::spawn(async move {
        while outer_stop.changed().await.is_ok() {
            if *outer_stop.borrow() {
                let _ = forward.send(true);
                return;
            }
        }
    });
    let cpu_task = tokio::spawn(cpu_at(
        env.server_pid,
        window_start,
        window_end,
        window_stopped,
    ));

    let mut tasks = JoinSet::new();
    let mut skipped = 0u64;
    match opts.pacing {
        Pacing::Closed { concurrency } => {
            for _ in 0..concurrency.max(1) {
                let run = run.clone();
                let stop = stop.clone();
                tasks.spawn(async move { closed_worker(run, stop).await });
            }
        }
        Pacing::Open {
            rate,
            max_in_flight,
        } => {
            skipped = open_scheduler(&run, &mut tasks, rate, max_in_flight, &mut stop).await;
        }
    }
    while tasks.join_next().await.is_some() {}
    let finished = Instant::now();
    let _ = window_stop.send(true);
    forwarder.abort();
    let (cpu_start, cpu_end, closed_at) = cpu_task.await.unwrap_or((None, None, None));
    // A stop closes the window early; count mode closes it when the last payment ends.
    let end = closed_at
        .or(window_end)
        .unwrap_or(finished)
        .max(window_start);
    let _ = rss_stop.send(true);
    let rss_samples = rss_task.await.unwrap_or_default();

    let c = std::mem::take(&mut *run.lock());
    let webhooks = env.receiver.log();
    let completed_in_window = c
        .completions
        .iter()
        .filter(|&&t| t >= window_start && t <= end)
        .count() as u64;
    let window_secs = end.saturating_duration_since(window_start).as_secs_f64();
    let cpu = match (cpu_start, cpu_end) {
        (Some(a), Some(b)) => {
            let secs = b.saturating_sub(a).as_secs_f64();
            Some(CpuWindow {
                server_cpu_secs: secs,
                payments: completed_in_window,
                per_payment_ms: (completed_in_window > 0)
                    .then(|| secs * 1000.0 / completed_in_window as f64),
            })
        }
        _ => None,
    };
    LoadResult {
        pacing: opts.pacing,
        window_secs,
        started: run
            .next_seq
            .load(Ordering::Relaxed)
            .min(opts.count.unwrap_or(u64::MAX)),
        completed_in_window,
        completed: c.completions.len() as u64,
        failed: c.failed,
        payments_per_sec: if window_secs > 0.0 {
            completed_in_window as f64 / window_secs
        } else {
            0.0
        },
        samples: c.samples,
        errors: c.errors,
        retries: c.retries,
        skipped_starts: skipped,
        start_lag_ms: c.start_lag_ms,
        cpu,
        rss_samples,
        webhook_deliveries: webhooks.deliveries
            - webhooks_before.deliveries.min(webhooks.deliveries),
        webhook_rejected: webhooks.rejected - webhooks_before.rejected.min(webhooks.rejected),
        webhook_redelivered: webhooks
            .redelivered()
            .saturating_sub(webhooks_before.redelivered()),
        orders: c.orders,
        webhooks,
    }
}

/// Whether payments should stop starting.
fn should_stop(run: &Run, stop: &watch::Receiver<bool>) -> bool {
    *stop.borrow() || run.window.end.is_some_and(|end| Instant::now() >= end)
}

async fn closed_worker(run: Arc<Run>, stop: watch::Receiver<bool>) {
    while !should_stop(&run, &stop) {
        let Some(seq) = run.ticket() else { break };
        let started = Instant::now();
        let outcome = one_payment(&run, seq).await;
        run.record(started, outcome);
    }
}

/// When payment `i` of an open-loop run at `rate` per second is due, after the start.
pub fn scheduled_offset(i: u64, rate: f64) -> Duration {
    if rate <= 0.0 || !rate.is_finite() {
        return Duration::MAX;
    }
    Duration::from_secs_f64(i as f64 / rate)
}

async fn open_scheduler(
    run: &Arc<Run>,
    tasks: &mut JoinSet<()>,
    rate: f64,
    max_in_flight: usize,
    stop: &mut watch::Receiver<bool>,
) -> u64 {
    let begin = tokio::time::Instant::now();
    let mut skipped = 0;
    let mut i = 0u64;
    loop {
        let due = begin + scheduled_offset(i, rate);
        i += 1;
        tokio::select! {
            () = tokio::time::sleep_until(due) => {}
            // A dropped sender never stops the run (and must not spin this loop).
            Ok(()) = stop.changed() => {}
        }
        if should_stop(run, stop) {
            break;
        }
        // Reap finished payments so the set does not grow with the run.
        while tasks.try_join_next().is_some() {}
        if run.in_flight.load(Ordering::Relaxed) >= max_in_flight {
            skipped += 1;
            continue;
        }
        let Some(seq) = run.ticket() else { break };
        let lag_ms = due.elapsed().as_secs_f64() * 1000.0;
        let run = run.clone();
        run.in_flight.fetch_add(1, Ordering::Relaxed);
        tasks.spawn(async move {
            let started = Instant::now();
            let outcome = one_payment(&run, seq).await;
            if run.window.measures(started) {
                run.lock().start_lag_ms.push(lag_ms);
            }
            run.record(started, outcome);
            run.in_flight.fetch_sub(1, Ordering::Relaxed);
        });
    }
    skipped
}

/// One whole payment; never panics, every failure is an [`Outcome`].
async fn one_payment(run: &Run, seq: u64) -> Outcome {
    let mut out = Outcome::default();
    let tenants = &run.env.tenants;
    let Some(tenant) = tenants.get((seq as usize) % tenants.len().max(1)) else {
        out.failure = Some(Failure {
            step: Step::CreateOrder,
            kind: "no_tenant".into(),
        });
        return out;
    };
    if let Err(f) = pay_flow(run, tenant, &mut out).await {
        out.failure = Some(f);
    }
    out
}

async fn pay_flow(run: &Run, tenant: &SeededTenant, out: &mut Outcome) -> Result<(), Failure> {
    let env = &run.env;
    let (amount, openid, out_trade_no, idempotency_key, refund) = {
        let mut rng = rand::rng();
        let openid = tenant
            .openids
            .get(rng.random_range(0..tenant.openids.len().max(1)))
            .cloned()
            .unwrap_or_default();
        (
            rng.random_range(1..=100_000i64),
            openid,
            format!("B{}", crate::seed::random_alnum(24)),
            format!("bench-{}", crate::seed::random_alnum(24)),
            rng.random_bool(run.opts.refund_ratio.clamp(0.0, 1.0)),
        )
    };
    let v1 = format!("{}/v1", env.paygate_url);
    let t0 = Instant::now();

    // 1. The tenant backend creates the order.
    let body = json!({
        "amount": amount, "description": "bench order", "out_trade_no": out_trade_no,
        "payer_openid": openid,
    });
    let order = call(run, out, Step::CreateOrder, &[201], || {
        env.client
            .post(format!("{v1}/orders"))
            .bearer_auth(&tenant.api_key)
            .header("Idempotency-Key", &idempotency_key)
            .json(&body)
    })
    .await?;
    let order_id = field(&order, "id", Step::CreateOrder)?;
    out.order = Some(OrderRecord {
        order_id: order_id.clone(),
        out_trade_no: out_trade_no.clone(),
        tenant_id: tenant.tenant_id.clone(),
        amount_fen: amount,
        paid_requested: false,
        paid_confirmed: false,
        refund_requested_fen: 0,
    });
    // Registered before paying: the webhook cannot come sooner.
    let paid_webhook = env.receiver.wait_for(&order_id, PAYMENT_SUCCEEDED);

    // 2. It asks paygate for the wx.requestPayment parameters (paygate calls prepay).
    let pay = call(run, out, Step::Pay, &[200], || {
        env.client
            .post(format!("{v1}/orders/{order_id}/pay"))
            .bearer_auth(&tenant.api_key)
            .json(&json!({ "trade_type": "jsapi" }))
    })
    .await?;
    let rp = &pay["request_payment"];

    // 3. The user pays in WeChat.
    let mut request = json!({ "appid": tenant.appid, "openid": openid, "result": "success" });
    for k in ["timeStamp", "nonceStr", "package", "signType", "paySign"] {
        request[k] = rp[k].clone();
    }
    request_payment(run, out, &request).await?;
    let paid_at = Instant::now();
    if let Some(o) = out.order.as_mut() {
        o.paid_requested = true;
    }

    // 4. WeChat notifies paygate; paygate tells the tenant.
    match tokio::time::timeout(run.opts.webhook_timeout, paid_webhook).await {
        Ok(Ok(arrived)) => out.steps.push((
            Step::NotifyToWebhook,
            ms(arrived.saturating_duration_since(paid_at)),
        )),
        _ => {
            return Err(Failure {
                step: Step::NotifyToWebhook,
                kind: "webhook_timeout".into(),
            });
        }
    }

    // 5. The tenant reads the order.
    let seen = call(run, out, Step::GetOrder, &[200], || {
        env.client
            .get(format!("{v1}/orders/{order_id}"))
            .bearer_auth(&tenant.api_key)
    })
    .await?;
    let state = seen["state"].as_str().unwrap_or("?");
    if state != "PAID" {
        return Err(Failure {
            step: Step::GetOrder,
            kind: format!("state_{state}"),
        });
    }
    out.steps.push((Step::Total, ms(t0.elapsed())));
    if let Some(o) = out.order.as_mut() {
        o.paid_confirmed = true;
    }

    // 6. Sometimes, a full refund.
    if refund {
        let refunded = env.receiver.wait_for(&order_id, REFUND_SUCCEEDED);
        let out_refund_no = format!("R{}", crate::seed::random_alnum(24));
        let asked = Instant::now();
        let body = json!({ "amount": amount, "out_refund_no": out_refund_no, "reason": "bench" });
        call(run, out, Step::Refund, &[200, 201], || {
            env.client
                .post(format!("{v1}/orders/{order_id}/refunds"))
                .bearer_auth(&tenant.api_key)
                .json(&body)
        })
        .await?;
        if let Some(o) = out.order.as_mut() {
            o.refund_requested_fen = amount;
        }
        match tokio::time::timeout(run.opts.webhook_timeout, refunded).await {
            Ok(Ok(arrived)) => out.steps.push((
                Step::RefundToWebhook,
                ms(arrived.saturating_duration_since(asked)),
            )),
            _ => {
                return Err(Failure {
                    step: Step::RefundToWebhook,
                    kind: "webhook_timeout".into(),
                });
            }
        }
    }
    Ok(())
}

/// `POST /sim/request-payment`. After a retried attempt, `ORDERPAID` means an earlier attempt
/// went through.
async fn request_payment(run: &Run, out: &mut Outcome, body: &Value) -> Result<(), Failure> {
    let url = format!("{}/sim/request-payment", run.env.sim_url);
    let retried_before = out.retries.len();
    match call(run, out, Step::RequestPayment, &[200], || {
        run.env.client.post(&url).json(body)
    })
    .await
    {
        Ok(_) => Ok(()),
        Err(f) if out.retries.len() > retried_before && f.kind.contains("ORDERPAID") => Ok(()),
        Err(f) => Err(f),
    }
}

fn field(v: &Value, name: &str, step: Step) -> Result<String, Failure> {
    v[name].as_str().map(str::to_owned).ok_or_else(|| Failure {
        step,
        kind: format!("no_{name}"),
    })
}

fn ms(d: Duration) -> f64 {
    d.as_secs_f64() * 1000.0
}

/// Whether a failed attempt may be retried in `tolerate_outages` mode.
fn transient(status: Option<u16>, body_code: &str) -> bool {
    match status {
        None => true,
        Some(s) => s >= 500 || s == 429 || body_code == "idempotency_key_in_progress",
    }
}

/// Sends the request `make` builds, expecting one of `expect`; times the step (retries
/// included) and records it. Retries transient failures in `tolerate_outages` mode.
async fn call(
    run: &Run,
    out: &mut Outcome,
    step: Step,
    expect: &[u16],
    make: impl Fn() -> reqwest::RequestBuilder,
) -> Result<Value, Failure> {
    let started = Instant::now();
    let deadline = started + run.opts.outage_deadline;
    let mut backoff = Duration::from_millis(50);
    loop {
        let (status, kind, body) = match make().send().await {
            Ok(resp) => {
                let status = resp.status().as_u16();
                match resp.bytes().await {
                    Ok(bytes) => {
                        let body: Value = serde_json::from_slice(&bytes).unwrap_or(Value::Null);
                        if expect.contains(&status) {
                            out.steps.push((step, ms(started.elapsed())));
                            return Ok(body);
                        }
                        let code = body["code"].as_str().unwrap_or("").to_owned();
                        (Some(status), format!("http_{status}:{code}"), body)
                    }
                    Err(e) => (Some(status), error_kind(&e), Value::Null),
                }
            }
            Err(e) => (None, error_kind(&e), Value::Null),
        };
        let code = body["code"].as_str().unwrap_or("");
        if run.opts.tolerate_outages && transient(status, code) && Instant::now() < deadline {
            out.retries.push(format!("{}:{kind}", step.label()));
            tokio::time::sleep(backoff).await;
            backoff = (backoff * 2).min(Duration::from_secs(1));
            continue;
        }
        return Err(Failure { step, kind });
    }
}

fn error_kind(e: &reqwest::Error) -> String {
    if e.is_timeout() {
        "timeout".into()
    } else if e.is_connect() {
        "connect".into()
    } else if e.is_body() || e.is_decode() {
        "body".into()
    } else {
        "request".into()
    }
}

/// Server CPU time at the window's start and end (sleeping until each; a stop ends the window
/// early), with the instant the window actually ended (`None`: it ends with the run).
async fn cpu_at(
    pid: Option<u32>,
    start: Instant,
    end: Option<Instant>,
    mut stop: watch::Receiver<bool>,
) -> (Option<Duration>, Option<Duration>, Option<Instant>) {
    let read = || pid.and_then(|p| procstat::process_cpu_time(p).ok());
    let stopped = async move {
        if *stop.borrow() {
            return;
        }
        while stop.changed().await.is_ok() {
            if *stop.borrow() {
                return;
            }
        }
        // The sender is gone: no stop will come.
        std::future::pending::<()>().await;
    };
    tokio::pin!(stopped);
    tokio::select! {
        () = tokio::time::sleep_until(start.into()) => {}
        () = &mut stopped => return (None, None, Some(Instant::now())),
    }
    let a = read();
    let Some(end) = end else {
        // Count mode: the run's end closes the window; a stop closes it early.
        stopped.await;
        return (a, read(), Some(Instant::now()));
    };
    tokio::select! {
        () = tokio::time::sleep_until(end.into()) => (a, read(), Some(end)),
        () = &mut stopped => (a, read(), Some(Instant::now())),
    }
}

/// Samples the server's RSS every second until told to stop.
fn spawn_rss_sampler(
    pid: Option<u32>,
    begin: Instant,
) -> (
    watch::Sender<bool>,
    tokio::task::JoinHandle<Vec<(f64, u64)>>,
) {
    let (tx, mut rx) = watch::channel(false);
    let task = tokio::spawn(async move {
        let mut samples = Vec::new();
        let Some(pid) = pid else { return samples };
        let mut tick = tokio::time::interval(Duration::from_secs(1));
        loop {
            tokio::select! {
                _ = tick.tick() => {
                    if let Ok(kib) = procstat::process_rss_kib(pid) {
                        samples.push((begin.elapsed().as_secs_f64(), kib));
                    }
                }
                _ = rx.changed() => break,
            }
        }
        if let Ok(kib) = procstat::process_rss_kib(pid) {
            samples.push((begin.elapsed().as_secs_f64(), kib));
        }
        samples
    });
    (tx, task)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn open_loop_schedule_is_evenly_spaced() {
        assert_eq!(scheduled_offset(0, 50.0), Duration::ZERO);
        assert_eq!(scheduled_offset(1, 50.0), Duration::from_millis(20));
        assert_eq!(scheduled_offset(150, 50.0), Duration::from_secs(3));
        assert_eq!(scheduled_offset(3, 0.0), Duration::MAX);
    }

    #[test]
    fn only_outages_are_retried() {
        assert!(transient(None, ""));
        assert!(transient(Some(503), "upstream_unavailable"));
        assert!(transient(Some(409), "idempotency_key_in_progress"));
        assert!(!transient(Some(422), "invalid_request"));
        assert!(!transient(Some(404), "order_not_found"));
    }

    #[test]
    fn the_window_measures_payments_started_inside_it() {
        let now = Instant::now();
        let w = Window {
            start: now,
            end: Some(now + Duration::from_secs(10)),
        };
        assert!(w.measures(now));
        assert!(w.measures(now + Duration::from_secs(9)));
        assert!(!w.measures(now + Duration::from_secs(10)));
        let open = Window {
            start: now + Duration::from_secs(1),
            end: None,
        };
        assert!(!open.measures(now));
        assert!(open.measures(now + Duration::from_secs(100)));
    }

    #[test]
    fn steps_have_distinct_labels() {
        let mut labels: Vec<&str> = Step::ALL.iter().map(|s| s.label()).collect();
        labels.sort_unstable();
        labels.dedup();
        assert_eq!(labels.len(), Step::ALL.len());
    }
}
