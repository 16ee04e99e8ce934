//! A deliberately tiny Prometheus registry: request counts by method, route and status, a
//! latency histogram by method and route, `paygate_build_info`, alerts raised by kind
//! (`paygate_alerts_total{kind}`) and WeChat notifications by kind and outcome
//! (`paygate_notifications_total{kind,outcome}`), rendered in the text exposition format 0.0.4
//! at `GET /metrics`. Alert kinds and notification outcomes are fixed vocabularies, never ids.
//!
//! Labels use the matched route template (`/admin/v1/tenants/{tenant_id}`), never the raw path,
//! so ids cannot blow up the series count; unmatched requests share the route `unmatched`.
//! Durations are wall-clock (`Instant`), not paygate's `Clock`: they measure this process.

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::sync::{Mutex, PoisonError};
use std::time::Instant;

use axum::extract::{MatchedPath, Request, State};
use axum::http::header;
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};

use crate::state::AppState;

/// Upper bounds (seconds) of the latency histogram buckets.
pub const BUCKETS: [f64; 11] = [
    0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0,
];

/// The content type Prometheus expects for the text format.
pub const CONTENT_TYPE: &str = "text/plain; version=0.0.4; charset=utf-8";

#[derive(Debug, Default, Clone)]
struct Histogram {
    /// Non-cumulative counts per bucket; rendering accumulates them.
    buckets: [u64; BUCKETS.len()],
    count: u64,
    sum: f64,
}

#[derive(Debug, Default)]
struct Series {
    requests: BTreeMap<(String, String, u16), u64>,
    durations: BTreeMap<(String, String), Histogram>,
    alerts: BTreeMap<&'static str, u64>,
    notifications: BTreeMap<(&'static str, &'static str), u64>,
    webhook_attempts: BTreeMap<&'static str, u64>,
    webhook_latency: Histogram,
    webhook_queue_depth: i64,
}

/// The process's HTTP metrics.
#[derive(Debug, Default)]
pub struct Metrics {
    series: Mutex<Series>,
}

impl Metrics {
    pub fn new() -> Self {
        Self::default()
    }

    /// Records one finished request.
    pub fn observe(&self, method: &str, route: &str, status: u16, seconds: f64) {
        let mut s = self.series.lock().unwrap_or_else(PoisonError::into_inner);
        *s.requests
            .entry((method.to_owned(), route.to_owned(), status))
            .or_default() += 1;
        let h = s
            .durations
            .entry((method.to_owned(), route.to_owned()))
            .or_default();
        if let Some(i) = BUCKETS.iter().position(|le| seconds <= *le) {
            h.buckets[i] += 1;
        }
        h.count += 1;
        h.sum += seconds;
    }

    /// Counts one raised alert of `kind`.
    pub fn count_alert(&self, kind: &'static str) {
        let mut s = self.series.lock().unwrap_or_else(PoisonError::into_inner);
        *s.alerts.entry(kind).or_default() += 1;
    }

    /// Counts one notification of `kind` (`payment`/`refund`) handled with `outcome`.
    pub fn count_notification(&self, kind: &'static str, outcome: &'static str) {
        let mut s = self.series.lock().unwrap_or_else(PoisonError::into_inner);
        *s.notifications.entry((kind, outcome)).or_default() += 1;
    }

    /// Counts one webhook delivery attempt by its outcome (`succeeded`, `pending` = will
    /// retry, `failed` = for good).
    pub fn count_webhook_attempt(&self, outcome: paygate_store::DeliveryStatus) {
        let mut s = self.series.lock().unwrap_or_else(PoisonError::into_inner);
        *s.webhook_attempts.entry(outcome.as_str()).or_default() += 1;
    }

    /// Records the latency of one webhook request that got a response or timed out.
    pub fn observe_webhook_latency(&self, millis: i64) {
        let seconds = millis as f64 / 1000.0;
        let mut s = self.series.lock().unwrap_or_else(PoisonError::into_inner);
        let h = &mut s.webhook_latency;
        if let Some(i) = BUCKETS.iter().position(|le| seconds <= *le) {
            h.buckets[i] += 1;
        }
        h.count += 1;
        h.sum += seconds;
    }

    /// Sets the number of events waiting for delivery.
    pub fn set_webhook_queue_depth(&self, depth: i64) {
        let mut s = self.series.lock().unwrap_or_else(PoisonError::into_inner);
        s.webhook_queue_depth = depth;
    }

    /// The exposition text.
    pub fn render(&self) -> String {
        let s = self.series.lock().unwrap_or_else(PoisonError::into_inner);
        let mut out = String::new();
        out.push_str("# HELP paygate_build_info Build information; the value is always 1.\n");
        out.push_str("# TYPE paygate_build_info gauge\n");
        let _ = writeln!(
            out,
            "paygate_build_info{{version=\"{}\"}} 1",
            escape(env!("CARGO_PKG_VERSION"))
        );
        out.push_str("# HELP http_requests_total HTTP requests served.\n");
        out.push_str("# TYPE http_requests_total counter\n");
        for ((method, route, status), n) in &s.requests {
            let _ = writeln!(
                out,
                "http_requests_total{{method=\"{}\",route=\"{}\",status=\"{status}\"}} {n}",
                escape(method),
                escape(route)
            );
        }
        out.push_str("# HELP http_request_duration_seconds Time to produce a response.\n");
        out.push_str("# TYPE http_request_duration_seconds histogram\n");
        for ((method, route), h) in &s.durations {
            let labels = format!("method=\"{}\",route=\"{}\"", escape(method), escape(route));
            let mut cumulative = 0;
            for (le, n) in BUCKETS.iter().zip(h.buckets) {
                cumulative += n;
                let _ = writeln!(
                    out,
                    "http_request_duration_seconds_bucket{{{labels},le=\"{le}\"}} {cumulative}"
                );
            }
            let _ = writeln!(
                out,
                "http_request_duration_seconds_bucket{{{labels},le=\"+Inf\"}} {}",
                h.count
            );
            let _ = writeln!(
                out,
                "http_request_duration_seconds_sum{{{labels}}} {}",
                h.sum
            );
            let _ = writeln!(
                out,
                "http_request_duration_seconds_count{{{labels}}} {}",
                h.count
            );
        }
        out.push_str("# HELP paygate_alerts_total Alerts raised, by kind.\n");
        out.push_str("# TYPE paygate_alerts_total counter\n");
        for (kind, n) in &s.alerts {
            let _ = writeln!(out, "paygate_alerts_total{{kind=\"{}\"}} {n}", escape(kind));
        }
        out.push_str("# HELP paygate_notifications_total WeChat notifications, by outcome.\n");
        out.push_str("# TYPE paygate_notifications_total counter\n");
        for ((kind, outcome), n) in &s.notifications {
            let _ = writeln!(
                out,
                "paygate_notifications_total{{kind=\"{}\",outcome=\"{}\"}} {n}",
                escape(kind),
                escape(outcome)
            );
        }
        render_webhooks(&mut out, &s);
        out
    }
}

fn render_webhooks(out: &mut String, s: &Series) {
    out.push_str("# HELP paygate_webhook_attempts_total Webhook delivery attempts, by outcome.\n");
    out.push_str("# TYPE paygate_webhook_attempts_total counter\n");
    for (outcome, n) in &s.webhook_attempts {
        let _ = writeln!(
            out,
            "paygate_webhook_attempts_total{{outcome=\"{}\"}} {n}",
            escape(outcome)
        );
    }
    out.push_str("# HELP paygate_webhook_queue_depth Events waiting for delivery.\n");
    out.push_str("# TYPE paygate_webhook_queue_depth gauge\n");
    let _ = writeln!(out, "paygate_webhook_queue_depth {}", s.webhook_queue_depth);
    out.push_str("# HELP paygate_webhook_latency_seconds Time to the receiver's answer.\n");
    out.push_str("# TYPE paygate_webhook_latency_seconds histogram\n");
    let h = &s.webhook_latency;
    let mut cumulative = 0;
    for (le, n) in BUCKETS.iter().zip(h.buckets) {
        cumulative += n;
        let _ = writeln!(
            out,
            "paygate_webhook_latency_seconds_bucket{{le=\"{le}\"}} {cumulative}"
        );
    }
    let _ = writeln!(
        out,
        "paygate_webhook_latency_seconds_bucket{{le=\"+Inf\"}} {}",
        h.count
    );
    let _ = writeln!(out, "paygate_webhook_latency_seconds_sum {}", h.sum);
    let _ = writeln!(out, "paygate_webhook_latency_seconds_count {}", h.count);
}

/// Label values escape backslash, double quote and newline (exposition format rules).
fn escape(value: &str) -> String {
    value
        .replace('\\', "\\\\")
        .replace('"', "\\\"")
        .replace('\n', "\\n")
}

/// Middleware recording every request that reaches the router.
pub(crate) async fn track(State(state): State<AppState>, req: Request, next: Next) -> Response {
    let method = req.method().as_str().to_owned();
    let route = req
        .extensions()
        .get::<MatchedPath>()
        .map_or("unmatched", MatchedPath::as_str)
        .to_owned();
    let started = Instant::now();
    let response = next.run(req).await;
    state.metrics().observe(
        &method,
        &route,
        response.status().as_u16(),
        started.elapsed().as_secs_f64(),
    );
    response
}

/// Prometheus metrics in the text exposition format.
#[utoipa::path(
    get,
    path = "/metrics",
    tag = "ops",
    responses((status = 200, description = "Prometheus text format 0.0.4", body = String, content_type = "text/plain"))
)]
pub async fn get_metrics(State(state): State<AppState>) -> impl IntoResponse {
    (
        [(header::CONTENT_TYPE, CONTENT_TYPE)],
        state.metrics().render(),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn renders_counters_and_cumulative_buckets() {
        let m = Metrics::new();
        m.observe("GET", "/admin/v1/tenants", 200, 0.003);
        m.observe("GET", "/admin/v1/tenants", 200, 0.2);
        m.observe("GET", "/admin/v1/tenants", 404, 20.0);
        let text = m.render();
        assert!(text.contains(
            "http_requests_total{method=\"GET\",route=\"/admin/v1/tenants\",status=\"200\"} 2\n"
        ));
        assert!(text.contains("status=\"404\"} 1\n"));
        let bucket = |le: &str| {
            format!(
                "http_request_duration_seconds_bucket{{method=\"GET\",route=\"/admin/v1/tenants\",le=\"{le}\"}}"
            )
        };
        assert!(text.contains(&format!("{} 1\n", bucket("0.005"))), "{text}");
        assert!(text.contains(&format!("{} 2\n", bucket("0.25"))));
        assert!(text.contains(&format!("{} 2\n", bucket("10"))));
        assert!(text.contains(&format!("{} 3\n", bucket("+Inf"))));
        assert!(text.contains(
            "http_request_duration_seconds_count{method=\"GET\",route=\"/admin/v1/tenants\"} 3\n"
        ));
        assert!(text.contains("paygate_build_info{version=\""));
    }

    #[test]
    fn counts_alerts_and_notifications() {
        let m = Metrics::new();
        m.count_alert("amount_mismatch");
        m.count_alert("amount_mismatch");
        m.count_notification("payment", "acknowledged");
        let text = m.render();
        assert!(text.contains("paygate_alerts_total{kind=\"amount_mismatch\"} 2\n"));
        assert!(text.contains(
            "paygate_notifications_total{kind=\"payment\",outcome=\"acknowledged\"} 1\n"
        ));
    }

    #[test]
    fn label_values_are_escaped() {
        assert_eq!(escape("a\"b\\c\nd"), "a\\\"b\\\\c\\nd");
    }
}
