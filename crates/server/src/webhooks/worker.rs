//! The delivery worker: claims due events, POSTs each to its tenant's endpoint and records
//! the attempt with what happens next (delivered, retry at a time, failed for good).
//!
//! Several instances may run on one database: an event is delivered only by the worker whose
//! claim (`claimed_until`, longer than any attempt) it holds, and per-order ordering is kept by
//! the claim itself (see `paygate_store::WebhookDeliveries::claim_due`). Requests go through
//! [`ssrf::client`]. Retry timing is [`super::schedule`]. This module never sleeps between attempts:
//! it writes `next_attempt_at` and a later run picks the event up.

use std::collections::HashMap;
use std::error::Error as _;
use std::future::Future;
use std::sync::Arc;
use std::time::{Duration, Instant};

use paygate_core::TenantId;
use paygate_store::{AlertSeverity, AttemptRecord, DeliveryStatus, NewAlert, QueuedEvent};
use rand::Rng;
use reqwest::StatusCode;
use reqwest::header::{CONTENT_TYPE, HeaderValue, RETRY_AFTER};
use secrecy::SecretString;
use time::OffsetDateTime;
use time::format_description::well_known::Rfc3339;
use tokio::sync::Semaphore;
use tokio::task::{JoinHandle, JoinSet};

use super::WebhookSettings;
use super::schedule::{MAX_ATTEMPTS, parse_retry_after, retry_delay};
use super::sign::{HEADER_ID, HEADER_SIGNATURE, HEADER_TIMESTAMP, signature_header};
use super::ssrf::{self, TargetError};
use crate::state::AppState;

/// Most attempts recorded in one transaction. The transaction holds SQLite's single writer while
/// it runs, so an unbounded batch (a whole claim's worth, ~100) made every request that writes
/// wait behind it (measured: p99 of create-order 15 → 37 ms under load); 16 keeps most of the
/// saving (the shared pages are written once per batch).
const RECORD_BATCH: usize = 16;

/// What one run did.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct DeliveryReport {
    /// Events claimed.
    pub claimed: usize,
    /// Answered 2xx.
    pub delivered: usize,
    /// Failed and scheduled again.
    pub retrying: usize,
    /// Failed for good (schedule exhausted, or 410).
    pub failed: usize,
    /// Pending events of tenants without an endpoint, marked skipped.
    pub skipped: u64,
    /// Events left for a later run because reading or writing the store failed.
    pub errors: usize,
}

/// Where a tenant's events go.
pub(super) struct Target {
    pub(super) url: String,
    pub(super) secrets: Vec<SecretString>,
}

/// The request body: the Standard Webhooks envelope around the outbox payload.
pub fn body(event: &QueuedEvent) -> Vec<u8> {
    let created_at = event.created_at.format(&Rfc3339).unwrap_or_default();
    serde_json::to_vec(&serde_json::json!({
        "id": event.id.as_str(),
        "type": event.event_type,
        "created_at": created_at,
        "tenant_id": event.tenant_id.as_str(),
        "data": event.payload,
    }))
    .unwrap_or_default()
}

/// One delivery pass at the state's `clock.now()`, with a client built for it.
pub async fn run_once(state: &AppState, settings: &WebhookSettings) -> DeliveryReport {
    match ssrf::client(settings.allow_private_targets, settings.timeout) {
        Ok(client) => run_once_with(state, settings, &client).await,
        Err(e) => {
            tracing::error!(error = %e, "webhooks: HTTP client unavailable");
            DeliveryReport {
                errors: 1,
                ..DeliveryReport::default()
            }
        }
    }
}

/// One delivery pass with `client` (an [`ssrf::client`]), which the worker loop builds once:
/// building one reads and parses the system's CA certificates (~5 ms of CPU) and starts with an
/// empty pool, which on every poll cost more than the deliveries and reconnected to every
/// tenant each time.
pub async fn run_once_with(
    state: &AppState,
    settings: &WebhookSettings,
    client: &reqwest::Client,
) -> DeliveryReport {
    let store = state.store();
    let mut report = DeliveryReport::default();
    match store.webhook_deliveries().skip_without_endpoint().await {
        Ok(n) => report.skipped = n,
        Err(e) => {
            report.errors += 1;
            tracing::error!(code = e.code(), error = %e, "webhooks: skipping events failed");
        }
    }
    let now = state.clock().now();
    let claim_for = time::Duration::try_from(settings.claim_for()).unwrap_or(time::Duration::HOUR);
    let events = match store
        .webhook_deliveries()
        .claim_due(now, settings.batch, claim_for)
        .await
    {
        Ok(events) => events,
        Err(e) => {
            report.errors += 1;
            tracing::error!(code = e.code(), error = %e, "webhooks: claiming events failed");
            return report;
        }
    };
    report.claimed = events.len();
    let mut targets: HashMap<TenantId, (Arc<Target>, Arc<Semaphore>)> = HashMap::new();
    let mut tasks = JoinSet::new();
    for event in events {
        let entry = match targets.get(&event.tenant_id) {
            Some(entry) => entry.clone(),
            None => match load_target(state, &event.tenant_id).await {
                Ok(target) => {
                    let sem = Arc::new(Semaphore::new(settings.concurrency_per_tenant.max(1)));
                    let entry = (Arc::new(target), sem);
                    targets.insert(event.tenant_id.clone(), entry.clone());
                    entry
                }
                Err(e) => {
                    // The claim lapses and a later run tries again.
                    report.errors += 1;
                    tracing::warn!(tenant_id = %event.tenant_id, code = e.code(), error = %e,
                        "webhooks: endpoint unreadable");
                    continue;
                }
            },
        };
        let (state, client, settings) = (state.clone(), client.clone(), settings.clone());
        tasks.spawn(async move {
            let (target, sem) = entry;
            let _permit = sem.acquire_owned().await;
            attempt(&state, &client, &settings, &target, &event).await
        });
    }
    // Attempts are recorded as they finish, up to RECORD_BATCH of those that finished together
    // in one transaction: while one batch commits, the next gathers.
    while let Some(first) = tasks.join_next().await {
        let mut finished = vec![first];
        while finished.len() < RECORD_BATCH
            && let Some(more) = tasks.try_join_next()
        {
            finished.push(more);
        }
        let mut made = Vec::with_capacity(finished.len());
        for joined in finished {
            match joined {
                Ok(record) => made.push(record),
                Err(_) => report.errors += 1,
            }
        }
        record(state, &made, &mut report).await;
    }
    if let Ok(depth) = store.webhook_deliveries().queue_depth().await {
        state.metrics().set_webhook_queue_depth(depth);
    }
    report
}

pub(super) async fn load_target(
    state: &AppState,
    tenant: &TenantId,
) -> Result<Target, paygate_store::StoreError> {
    let endpoint =
        state
            .store()
            .webhooks()
            .get(tenant)
            .await?
            .ok_or(paygate_store::StoreError::NotFound {
                entity: "webhook endpoint",
            })?;
    let secrets = state.store().webhooks().signing_secrets(tenant).await?;
    Ok(Target {
        url: endpoint.url,
        secrets,
    })
}

/// What came back from one request.
pub(super) struct Response {
    pub(super) status: Option<StatusCode>,
    pub(super) retry_after: Option<Duration>,
    pub(super) latency_ms: Option<i64>,
    pub(super) error: Option<String>,
}

/// Sends one event and judges the answer (recorded by [`record`]).
async fn attempt(
    state: &AppState,
    client: &reqwest::Client,
    settings: &WebhookSettings,
    target: &Target,
    event: &QueuedEvent,
) -> AttemptRecord {
    let now = state.clock().now();
    let response = send(
        client,
        settings.allow_private_targets,
        target,
        event.id.as_str(),
        body(event),
        now,
    )
    .await;
    let record = judge(event, &response, now);
    let metrics = state.metrics();
    metrics.count_webhook_attempt(record.status);
    if let Some(ms) = response.latency_ms {
        metrics.observe_webhook_latency(ms);
    }
    record
}

/// Records attempts that finished together, in one transaction
/// ([`paygate_store::WebhookDeliveries::record_attempts`]), and counts them in `report`. An
/// attempt not recorded is an error: its claim lapses and the event is delivered again.
async fn record(state: &AppState, made: &[AttemptRecord], report: &mut DeliveryReport) {
    if made.is_empty() {
        return;
    }
    let results = match state
        .store()
        .webhook_deliveries()
        .record_attempts(made)
        .await
    {
        Ok(results) => results,
        Err(e) => {
            report.errors += made.len();
            tracing::warn!(attempts = made.len(), code = e.code(), error = %e,
                "webhooks: recording attempts failed");
            return;
        }
    };
    for (rec, result) in made.iter().zip(results) {
        if let Err(e) = result {
            report.errors += 1;
            tracing::warn!(event_id = %rec.event_id, code = e.code(), error = %e,
                "webhooks: recording an attempt failed");
            continue;
        }
        if let Some(alert) = &rec.alert {
            state.metrics().count_alert(alert_kind(alert));
        }
        match rec.status {
            DeliveryStatus::Succeeded => report.delivered += 1,
            DeliveryStatus::Pending => report.retrying += 1,
            DeliveryStatus::Failed => report.failed += 1,
        }
        // A delivered event is in the delivery log (the admin API shows it); at the default
        // level only the attempts someone may have to act on are logged.
        if rec.status == DeliveryStatus::Succeeded {
            tracing::debug!(event_id = %rec.event_id, tenant_id = %rec.tenant_id,
                code = rec.response_status, "webhooks: delivered");
        } else {
            tracing::info!(event_id = %rec.event_id, tenant_id = %rec.tenant_id,
                status = rec.status.as_str(), code = rec.response_status,
                error = rec.error.as_deref(), "webhooks: attempt recorded");
        }
    }
}

fn alert_kind(alert: &NewAlert) -> &'static str {
    if alert.kind == "webhook_endpoint_disabled" {
        "webhook_endpoint_disabled"
    } else {
        "webhook_delivery_failed"
    }
}

/// Signs and POSTs one message; never follows a redirect (the client refuses to).
pub(super) async fn send(
    client: &reqwest::Client,
    allow_private: bool,
    target: &Target,
    id: &str,
    body: Vec<u8>,
    now: OffsetDateTime,
) -> Response {
    let fail = |error: String| Response {
        status: None,
        retry_after: None,
        latency_ms: None,
        error: Some(error),
    };
    let url = match ssrf::check_url(&target.url, allow_private) {
        Ok(url) => url,
        Err(e) => return fail(e.code().to_owned()),
    };
    let timestamp = now.unix_timestamp();
    let Ok(signature) = signature_header(&target.secrets, id, timestamp, &body) else {
        return fail("bad_signing_secret".to_owned());
    };
    let started = Instant::now();
    let sent = client
        .post(url)
        .header(CONTENT_TYPE, HeaderValue::from_static("application/json"))
        .header(HEADER_ID, id)
        .header(HEADER_TIMESTAMP, timestamp.to_string())
        .header(HEADER_SIGNATURE, signature)
        .body(body)
        .send()
        .await;
    let latency_ms = i64::try_from(started.elapsed().as_millis()).unwrap_or(i64::MAX);
    match sent {
        Ok(resp) => {
            let status = resp.status();
            let retry_after = resp
                .headers()
                .get(RETRY_AFTER)
                .and_then(|v| v.to_str().ok())
                .and_then(|v| parse_retry_after(v, now));
            Response {
                status: Some(status),
                retry_after,
                latency_ms: Some(latency_ms),
                error: (!status.is_success()).then(|| format!("HTTP {}", status.as_u16())),
            }
        }
        Err(e) => Response {
            latency_ms: Some(latency_ms),
            ..fail(describe(&e))
        },
    }
}

/// A short, secret-free description of a transport error.
fn describe(e: &reqwest::Error) -> String {
    let mut source = e.source();
    while let Some(s) = source {
        if let Some(t) = s.downcast_ref::<TargetError>() {
            return t.code().to_owned();
        }
        source = s.source();
    }
    if e.is_timeout() {
        "timeout".to_owned()
    } else if e.is_connect() {
        "connect_failed".to_owned()
    } else {
        "request_failed".to_owned()
    }
}

/// Decides what an attempt means: delivered, retry (when), or failed for good.
fn judge(event: &QueuedEvent, response: &Response, now: OffsetDateTime) -> AttemptRecord {
    let mut record = AttemptRecord {
        tenant_id: event.tenant_id.clone(),
        event_id: event.id.clone(),
        status: DeliveryStatus::Succeeded,
        response_status: response.status.map(|s| s.as_u16()),
        latency_ms: response.latency_ms,
        error: response.error.clone(),
        next_attempt_at: None,
        disable_endpoint: None,
        alert: None,
    };
    if response.status.is_some_and(|s| s.is_success()) {
        return record;
    }
    let attempts = event.attempts_in_schedule + 1;
    if response.status == Some(StatusCode::GONE) {
        record.status = DeliveryStatus::Failed;
        record.disable_endpoint = Some("the endpoint answered 410 Gone".to_owned());
        record.alert = Some(alert(
            event,
            "webhook_endpoint_disabled",
            "The webhook endpoint answered 410 Gone and was disabled; resume it to deliver again.",
            attempts,
        ));
        return record;
    }
    let honoured = matches!(
        response.status,
        Some(StatusCode::TOO_MANY_REQUESTS | StatusCode::SERVICE_UNAVAILABLE)
    )
    .then_some(response.retry_after)
    .flatten();
    let delay = if attempts >= MAX_ATTEMPTS {
        None
    } else {
        honoured.or_else(|| retry_delay(attempts, rand::rng().random::<f64>()))
    };
    match delay {
        Some(delay) => {
            record.status = DeliveryStatus::Pending;
            record.next_attempt_at =
                Some(now + time::Duration::try_from(delay).unwrap_or(time::Duration::DAY));
        }
        None => {
            record.status = DeliveryStatus::Failed;
            record.alert = Some(alert(
                event,
                "webhook_delivery_failed",
                "A webhook could not be delivered after every retry; it can be resent.",
                attempts,
            ));
        }
    }
    record
}

fn alert(event: &QueuedEvent, kind: &str, message: &str, attempts: i64) -> NewAlert {
    NewAlert {
        tenant_id: Some(event.tenant_id.clone()),
        kind: kind.to_owned(),
        severity: AlertSeverity::Warning,
        message: message.to_owned(),
        details: serde_json::json!({
            "event_id": event.id.as_str(),
            "event_type": event.event_type,
            "attempts": attempts,
        }),
        // One alert per exhausted schedule: a resend that fails again alerts again.
        dedupe_key: Some(format!("{kind}:{}:{}", event.id, event.attempts + 1)),
    }
}

/// Runs [`run_once`] every `settings.interval` until `shutdown` completes.
pub fn spawn(
    state: AppState,
    settings: WebhookSettings,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> JoinHandle<()> {
    tokio::spawn(async move {
        let mut client = None;
        let mut ticks = tokio::time::interval(settings.interval);
        ticks.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        tokio::pin!(shutdown);
        loop {
            tokio::select! {
                () = &mut shutdown => break,
                _ = ticks.tick() => {
                    if client.is_none() {
                        match ssrf::client(settings.allow_private_targets, settings.timeout) {
                            Ok(c) => client = Some(c),
                            Err(e) => {
                                tracing::error!(error = %e, "webhooks: HTTP client unavailable");
                                continue;
                            }
                        }
                    }
                    if let Some(client) = &client {
                        run_once_with(&state, &settings, client).await;
                    }
                }
            }
        }
    })
}
