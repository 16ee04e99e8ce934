//! The HTTP floor: what the server spends on one HTTP exchange that does no work at all.
//!
//! A whole payment is six HTTP exchanges for the server (see [`EXCHANGES_PER_PAYMENT`]), so
//! part of its CPU per payment is HTTP alone — connection handling, parsing, the middleware
//! stack (request id, tracing, metrics, timeout), the access log — however little the handlers
//! do. To tell that part from paygate's own work, the bench sends `GET /healthz` (a handler
//! that touches neither the database nor any key) to the very server it then loads, with the
//! load's keep-alive client ([`crate::load::http_client`]) and a fixed number in flight, and
//! divides the server's CPU time over those requests by their number.
//!
//! The CPU reading is the same as a phase's (`utime + stime` of the whole server process from
//! `/proc/<pid>/stat`, background work such as the webhook worker's polling included), so it
//! moves in clock ticks (10 ms at `CLK_TCK` 100): the report carries that granularity per
//! request next to the figure. Like every bench number it is measured in this run, never
//! assumed; a request that fails or answers other than 2xx fails the measurement.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use anyhow::{Context, bail};
use serde::Serialize;
use tokio::task::JoinSet;

use crate::procstat;
use crate::report::TARGET_V2_CPU_MS;

/// HTTP exchanges the server takes part in per whole payment: 4 inbound — `POST /v1/orders`,
/// `POST /v1/orders/{id}/pay`, WeChat's (the simulator's) payment notification and
/// `GET /v1/orders/{id}` — and 2 outbound: the prepay call to WeChat during `pay` and the
/// `payment.succeeded` webhook to the tenant.
///
/// The floor is measured on inbound requests only; an outbound exchange (building a request,
/// writing it, parsing the answer on a pooled connection) is ASSUMED to cost about as much as
/// an inbound one. A refund, when a run makes one, adds exchanges not counted here.
pub const EXCHANGES_PER_PAYMENT: u32 = 6;

/// The one request the floor is made of: no database, no key, the full middleware stack.
pub const PATH: &str = "/healthz";

/// Requests in flight (each on its own keep-alive connection once warm).
pub const IN_FLIGHT: usize = 8;

/// Unmeasured requests first: connections opened and the server's lazy state warm.
pub const WARMUP_REQUESTS: u64 = 200;

/// `--http-floor-requests` by default.
pub const DEFAULT_REQUESTS: u64 = 2000;

/// One stack's HTTP floor.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct HttpFloor {
    /// `GET` of this path.
    pub path: &'static str,
    /// Measured requests (after the warm-up).
    pub requests: u64,
    pub warmup_requests: u64,
    pub in_flight: usize,
    /// Wall time of the measured requests, seconds.
    pub wall_secs: f64,
    pub requests_per_sec: f64,
    /// `utime + stime` of the server process over the measured requests, seconds.
    pub server_cpu_secs: f64,
    /// `server_cpu_secs / requests`, microseconds.
    pub server_cpu_us_per_request: f64,
    /// The CPU reading's granularity (one clock tick) divided by `requests`, microseconds.
    pub cpu_tick_us_per_request: f64,
    /// The factor of `per_payment_ms` ([`EXCHANGES_PER_PAYMENT`]).
    pub exchanges_per_payment: u32,
    /// `server_cpu_us_per_request × exchanges_per_payment`, milliseconds.
    pub per_payment_ms: f64,
}

impl HttpFloor {
    /// The floor of `requests` requests that cost the server `server_cpu` over `wall`, its CPU
    /// read in ticks of `ticks_per_second`; `None` for no request (nothing to divide by).
    pub fn from_measurement(
        requests: u64,
        server_cpu: Duration,
        wall: Duration,
        ticks_per_second: u64,
    ) -> Option<HttpFloor> {
        let us_per_request = per_request_us(server_cpu, requests)?;
        let wall_secs = wall.as_secs_f64();
        Some(HttpFloor {
            path: PATH,
            requests,
            warmup_requests: WARMUP_REQUESTS,
            in_flight: IN_FLIGHT,
            wall_secs,
            requests_per_sec: if wall_secs > 0.0 {
                requests as f64 / wall_secs
            } else {
                0.0
            },
            server_cpu_secs: server_cpu.as_secs_f64(),
            server_cpu_us_per_request: us_per_request,
            cpu_tick_us_per_request: 1e6 / ticks_per_second.max(1) as f64 / requests as f64,
            exchanges_per_payment: EXCHANGES_PER_PAYMENT,
            per_payment_ms: per_payment_ms(us_per_request),
        })
    }
}

/// Server CPU per request, microseconds; `None` for zero requests.
pub fn per_request_us(server_cpu: Duration, requests: u64) -> Option<f64> {
    (requests > 0).then(|| server_cpu.as_secs_f64() * 1e6 / requests as f64)
}

/// What [`EXCHANGES_PER_PAYMENT`] exchanges at `us_per_request` each cost, milliseconds.
pub fn per_payment_ms(us_per_request: f64) -> f64 {
    us_per_request * f64::from(EXCHANGES_PER_PAYMENT) / 1000.0
}

/// The report's line for the stack `label`.
pub fn render_line(label: &str, f: &HttpFloor) -> String {
    format!(
        "HTTP floor ({label}): {} × GET {}, keep-alive, {} in flight: {:.0} µs server CPU per \
         request → {} exchanges per payment ≈ {:.2} ms (v2 target {TARGET_V2_CPU_MS} ms); \
         {:.0} requests/s over {:.2} s, CPU read in steps of {:.1} µs/request",
        f.requests,
        f.path,
        f.in_flight,
        f.server_cpu_us_per_request,
        f.exchanges_per_payment,
        f.per_payment_ms,
        f.requests_per_sec,
        f.wall_secs,
        f.cpu_tick_us_per_request,
    )
}

/// Sends [`WARMUP_REQUESTS`], then `requests` measured ones, of `GET {base_url}/healthz`
/// with `client`, [`IN_FLIGHT`] at a time, reading the CPU time of process `server_pid`
/// around the measured ones. `requests` must be positive.
pub async fn measure(
    client: &reqwest::Client,
    base_url: &str,
    server_pid: u32,
    requests: u64,
) -> anyhow::Result<HttpFloor> {
    if requests == 0 {
        bail!("an HTTP floor needs at least one request");
    }
    let url = format!("{}{PATH}", base_url.trim_end_matches('/'));
    send(client, &url, WARMUP_REQUESTS).await?;
    let cpu_before = procstat::process_cpu_time(server_pid).context("the server's CPU time")?;
    let started = Instant::now();
    send(client, &url, requests).await?;
    let wall = started.elapsed();
    let cpu_after = procstat::process_cpu_time(server_pid).context("the server's CPU time")?;
    HttpFloor::from_measurement(
        requests,
        cpu_after.saturating_sub(cpu_before),
        wall,
        procstat::clock_ticks_per_second(),
    )
    .context("no request measured")
}

/// `n` requests of `GET url`, [`IN_FLIGHT`] at a time; the first failure ends them all.
async fn send(client: &reqwest::Client, url: &str, n: u64) -> anyhow::Result<()> {
    let next = Arc::new(AtomicU64::new(0));
    let mut tasks = JoinSet::new();
    for _ in 0..IN_FLIGHT {
        let (client, url, next) = (client.clone(), url.to_owned(), next.clone());
        tasks.spawn(async move {
            while next.fetch_add(1, Ordering::Relaxed) < n {
                let response = client
                    .get(&url)
                    .send()
                    .await
                    .with_context(|| format!("GET {url}"))?;
                let status = response.status();
                // Read to the end so the connection goes back to the pool.
                response
                    .bytes()
                    .await
                    .with_context(|| format!("GET {url}: reading the body"))?;
                if !status.is_success() {
                    bail!("GET {url} answered {status}");
                }
            }
            anyhow::Ok(())
        });
    }
    while let Some(done) = tasks.join_next().await {
        done.context("an HTTP floor task")??;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cpu_is_divided_by_requests_and_multiplied_by_the_exchanges() {
        // 124 ms of server CPU over 2000 requests is 62 µs each; six of them 0.372 ms.
        let f = HttpFloor::from_measurement(
            2000,
            Duration::from_millis(124),
            Duration::from_millis(800),
            100,
        )
        .unwrap();
        assert!((f.server_cpu_us_per_request - 62.0).abs() < 1e-9, "{f:?}");
        assert!((f.per_payment_ms - 0.372).abs() < 1e-9, "{f:?}");
        assert!((f.requests_per_sec - 2500.0).abs() < 1e-9, "{f:?}");
        assert!((f.server_cpu_secs - 0.124).abs() < 1e-12, "{f:?}");
        // One 10 ms tick over 2000 requests.
        assert!((f.cpu_tick_us_per_request - 5.0).abs() < 1e-9, "{f:?}");
        assert_eq!(
            (f.requests, f.in_flight, f.warmup_requests, f.path),
            (2000, 8, 200, "/healthz")
        );
    }

    #[test]
    fn no_request_is_no_floor_rather_than_a_division_by_zero() {
        assert_eq!(per_request_us(Duration::from_millis(10), 0), None);
        assert_eq!(
            HttpFloor::from_measurement(0, Duration::ZERO, Duration::ZERO, 100),
            None
        );
        assert_eq!(
            per_request_us(Duration::from_millis(10), 4),
            Some(2500.0),
            "10 ms over 4 requests"
        );
    }

    #[test]
    fn six_exchanges_four_in_two_out() {
        assert_eq!(EXCHANGES_PER_PAYMENT, 4 + 2);
        assert!((per_payment_ms(100.0) - 0.6).abs() < 1e-12);
    }

    #[test]
    fn the_line_names_the_stack_the_request_and_the_per_payment_estimate() {
        let f = HttpFloor::from_measurement(
            2000,
            Duration::from_millis(124),
            Duration::from_millis(800),
            100,
        )
        .unwrap();
        assert_eq!(
            render_line("sqlite", &f),
            "HTTP floor (sqlite): 2000 × GET /healthz, keep-alive, 8 in flight: 62 µs server \
             CPU per request → 6 exchanges per payment ≈ 0.37 ms (v2 target 0.5 ms); 2500 \
             requests/s over 0.80 s, CPU read in steps of 5.0 µs/request"
        );
    }
}
