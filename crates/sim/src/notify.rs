//! Notification delivery: the payment and refund notifications WeChat POSTs to a merchant's
//! `notify_url`, retried on the official schedule until acknowledged.
//!
//! A notification's body is fixed when the event happens; v3 headers are signed afresh at each
//! attempt (a retry hours later must still pass the five-minute skew check). The schedule runs
//! on the simulator's clock scaled by `notify_time_scale`: nothing here sleeps. Deliveries
//! happen when [`run_due`] is called — by the background ticker of a running simulator, or by a
//! test through `RunningSim::deliver_due_notifications`.
//!
//! Acknowledgement is judged as WeChat judges it: v2 needs HTTP 200 and a body whose
//! `return_code` is `SUCCESS`; v3 needs HTTP 200 or 204. Anything else (including a timeout,
//! 5 s) is a failed attempt.

use serde::Serialize;
use time::{Duration, OffsetDateTime};

use crate::faults::FaultKind;
use crate::state::{Api, Sim, World};

/// The official retry intervals after the first attempt, in seconds (15 retries, 24 h 4 min).
pub const RETRY_SCHEDULE_SECS: [i64; 15] = [
    15, 15, 30, 180, 600, 1200, 1800, 1800, 1800, 3600, 10800, 10800, 10800, 21600, 21600,
];

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum NotificationKind {
    Payment,
    Refund,
}

/// One delivery attempt.
#[derive(Debug, Clone, Serialize)]
pub struct Attempt {
    /// Simulator time of the attempt, RFC 3339 UTC.
    pub at: String,
    pub at_unix: i64,
    /// The HTTP status, or `None` when the request failed (refused, timeout).
    pub status: Option<u16>,
    pub reply: String,
    pub error: Option<String>,
    pub acknowledged: bool,
    /// The `Wechatpay-Signature` sent (v3), to check which key was used.
    pub serial: Option<String>,
}

/// A notification and its delivery history.
#[derive(Debug, Clone, Serialize)]
pub struct NotificationRecord {
    pub id: u64,
    /// v3 `id`; for v2 `transaction_id` or `refund_id` (v2 has no event id).
    pub event_id: String,
    pub kind: NotificationKind,
    pub api: Api,
    pub mch_id: String,
    pub url: String,
    pub body: String,
    /// A `WECHATPAY/SIGNTEST/` probe: sent once, its answer does not matter.
    pub probe: bool,
    /// Lost by an injected fault: recorded, never sent.
    pub lost: bool,
    /// Sent twice per attempt (an injected fault).
    pub duplicated: bool,
    pub acknowledged: bool,
    pub attempts: Vec<Attempt>,
    /// When the next attempt is due (unix seconds, simulator time); `None` when finished.
    pub next_attempt_unix: Option<i64>,
    #[serde(skip)]
    pub next_attempt_at: Option<OffsetDateTime>,
}

/// Queues a notification for `mch_id` whose first attempt is due now, applying any injected
/// notification fault and, for v3 merchants that asked for them, a probe first.
#[expect(
    clippy::too_many_arguments,
    reason = "one call per event kind, each field named at the call"
)]
pub fn enqueue(
    sim: &Sim,
    world: &mut World,
    kind: NotificationKind,
    api: Api,
    mch_id: &str,
    url: &str,
    event_id: String,
    body: String,
) {
    let now = sim.now();
    let probes = api == Api::V3
        && world
            .merchants
            .get(mch_id)
            .is_some_and(|m| m.signtest_probes);
    if probes {
        push(
            world,
            kind,
            api,
            mch_id,
            url,
            format!("{event_id}-probe"),
            body.clone(),
            now,
            |r| {
                r.probe = true;
            },
        );
    }
    let fault = sim.faults.take_notification(mch_id);
    push(
        world,
        kind,
        api,
        mch_id,
        url,
        event_id,
        body,
        now,
        |r| match fault.as_ref().map(|f| (f.kind, f.delay_ms)) {
            Some((FaultKind::NotificationLost, _)) => {
                r.lost = true;
                r.next_attempt_at = None;
            }
            Some((FaultKind::NotificationDuplicate, _)) => r.duplicated = true,
            Some((FaultKind::NotificationReorder, ms)) => {
                let hold = if ms == 0 { 30_000 } else { ms };
                r.next_attempt_at =
                    Some(now + Duration::milliseconds(i64::try_from(hold).unwrap_or(30_000)));
            }
            _ => {}
        },
    );
}

#[expect(clippy::too_many_arguments, reason = "private helper of enqueue")]
fn push(
    world: &mut World,
    kind: NotificationKind,
    api: Api,
    mch_id: &str,
    url: &str,
    event_id: String,
    body: String,
    now: OffsetDateTime,
    adjust: impl FnOnce(&mut NotificationRecord),
) {
    let id = u64::try_from(world.notifications.len()).unwrap_or(u64::MAX) + 1;
    let mut r = NotificationRecord {
        id,
        event_id,
        kind,
        api,
        mch_id: mch_id.to_owned(),
        url: url.to_owned(),
        body,
        probe: false,
        lost: false,
        duplicated: false,
        acknowledged: false,
        attempts: Vec::new(),
        next_attempt_unix: None,
        next_attempt_at: Some(now),
    };
    adjust(&mut r);
    r.next_attempt_unix = r.next_attempt_at.map(OffsetDateTime::unix_timestamp);
    world.notifications.push(r);
}

/// The interval before retry number `n` (1-based), scaled; `None` after the last one.
pub fn retry_interval(n: usize, scale: f64) -> Option<Duration> {
    let secs = *RETRY_SCHEDULE_SECS.get(n.checked_sub(1)?)?;
    // Time scale is a test/demo knob, not money: floating point is fine here.
    Some(Duration::seconds_f64(secs as f64 * scale))
}

/// One HTTP request to make.
struct Outgoing {
    index: usize,
    url: String,
    headers: Vec<(String, String)>,
    body: String,
    copies: usize,
    api: Api,
    serial: Option<String>,
}

/// Settles refunds that are due by themselves, then delivers every notification whose attempt
/// is due on the simulator's clock. Returns how many requests were sent.
pub async fn run_due(sim: &Sim) -> usize {
    let _guard = sim.delivery.lock().await;
    crate::orders::settle_due_refunds(sim);
    let now = sim.now();
    let outgoing: Vec<Outgoing> = {
        let mut world = sim.world();
        let mut due: Vec<usize> = world
            .notifications
            .iter()
            .enumerate()
            .filter(|(_, r)| r.next_attempt_at.is_some_and(|t| t <= now))
            .map(|(i, _)| i)
            .collect();
        due.sort_by_key(|i| world.notifications.get(*i).and_then(|r| r.next_attempt_at));
        let mut out = Vec::new();
        for i in due {
            let Some(r) = world.notifications.get(i).cloned() else {
                continue;
            };
            let (headers, serial) = match r.api {
                Api::V2 => (
                    vec![("Content-Type".to_owned(), "text/xml".to_owned())],
                    None,
                ),
                Api::V3 => {
                    let Some(m) = world.merchants.get_mut(&r.mch_id) else {
                        continue;
                    };
                    let signed =
                        crate::v3::signing::sign_headers(sim, m, r.body.as_bytes(), r.probe);
                    let serial = signed
                        .iter()
                        .find(|(k, _)| k == "Wechatpay-Serial")
                        .map(|(_, v)| v.clone());
                    let mut h = vec![("Content-Type".to_owned(), "application/json".to_owned())];
                    h.extend(signed);
                    (h, serial)
                }
            };
            let mut headers = headers;
            headers.push(("Request-ID".to_owned(), sim.request_id()));
            headers.push(("User-Agent".to_owned(), "Mozilla/4.0".to_owned()));
            out.push(Outgoing {
                index: i,
                url: r.url,
                headers,
                body: r.body,
                copies: if r.duplicated { 2 } else { 1 },
                api: r.api,
                serial,
            });
        }
        out
    };
    let mut sent = 0;
    for o in outgoing {
        let mut last = None;
        for _ in 0..o.copies {
            let mut req = sim.http.post(&o.url).body(o.body.clone());
            for (k, v) in &o.headers {
                req = req.header(k, v);
            }
            let result = match req.send().await {
                Ok(resp) => {
                    let status = resp.status().as_u16();
                    let reply = resp.text().await.unwrap_or_default();
                    (Some(status), reply, None)
                }
                Err(e) => (None, String::new(), Some(e.to_string())),
            };
            sent += 1;
            last = Some(result);
        }
        let Some((status, reply, error)) = last else {
            continue;
        };
        let acknowledged = match (o.api, status) {
            (Api::V3, Some(200 | 204)) => true,
            (Api::V2, Some(200)) => v2_reply_is_success(&reply),
            _ => false,
        };
        let mut world = sim.world();
        let Some(r) = world.notifications.get_mut(o.index) else {
            continue;
        };
        r.attempts.push(Attempt {
            at: paygate_core::time_fmt::to_utc_rfc3339(now),
            at_unix: now.unix_timestamp(),
            status,
            reply: reply.chars().take(1024).collect(),
            error,
            acknowledged,
            serial: o.serial,
        });
        r.acknowledged = acknowledged;
        r.next_attempt_at = if acknowledged || r.probe {
            None
        } else {
            retry_interval(r.attempts.len(), sim.settings.notify_time_scale).map(|d| now + d)
        };
        r.next_attempt_unix = r.next_attempt_at.map(OffsetDateTime::unix_timestamp);
    }
    sent
}

/// WeChat's reading of a v2 reply: the XML's `return_code` is `SUCCESS`.
fn v2_reply_is_success(reply: &str) -> bool {
    paygate_wechat_v2::xml::decode(reply.as_bytes())
        .ok()
        .and_then(|f| f.get("return_code").cloned())
        .is_some_and(|c| c == "SUCCESS")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn schedule_is_the_official_one() {
        let total: i64 = RETRY_SCHEDULE_SECS.iter().sum();
        assert_eq!(total, 86_640, "24 h 4 min");
        assert_eq!(retry_interval(1, 1.0), Some(Duration::seconds(15)));
        assert_eq!(retry_interval(4, 1.0), Some(Duration::minutes(3)));
        assert_eq!(retry_interval(15, 1.0), Some(Duration::hours(6)));
        assert_eq!(retry_interval(16, 1.0), None);
        assert_eq!(retry_interval(0, 1.0), None);
        assert_eq!(retry_interval(1, 0.1), Some(Duration::milliseconds(1500)));
    }

    #[test]
    fn v2_ack_needs_success_xml() {
        assert!(v2_reply_is_success(
            "<xml><return_code><![CDATA[SUCCESS]]></return_code><return_msg><![CDATA[OK]]></return_msg></xml>"
        ));
        assert!(!v2_reply_is_success(
            "<xml><return_code>FAIL</return_code></xml>"
        ));
        assert!(!v2_reply_is_success("SUCCESS"));
        assert!(!v2_reply_is_success(""));
    }
}
