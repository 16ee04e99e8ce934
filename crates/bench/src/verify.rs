//! The reconciliation of a crash run: paygate's books against the simulator's (WeChat's own
//! records), and paygate's events against what the tenant's webhook endpoint received.
//!
//! [`reconcile`] is pure: it takes the records and returns counts and the first offending ids
//! of each discrepancy class, so every class is tested with hand-made inputs. The `fetch_*`
//! functions read the records (simulator `GET /sim/orders`, admin API orders and events, every
//! page). This module only reads; it must never "repair" a discrepancy it finds, and never call
//! a lost event delivered: an event counts as delivered only if the receiver logged its id.

use std::collections::{BTreeMap, HashMap, HashSet};
use std::time::Duration;

use anyhow::{Context, bail};
use serde::{Deserialize, Serialize};
use serde_json::Value;

use crate::load::OrderRecord;
use crate::receiver::{PAYMENT_SUCCEEDED, REFUND_SUCCEEDED, WebhookLog};

/// How many offending ids each class keeps for the report.
pub const EXAMPLES: usize = 10;

/// An order as the simulator holds it (`GET /sim/orders`).
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
pub struct SimOrder {
    pub mch_id: String,
    pub out_trade_no: String,
    pub transaction_id: Option<String>,
    /// Fen.
    pub total: i64,
    pub trade_state: String,
    /// Money was taken (`SUCCESS` or `REFUND`).
    pub paid: bool,
}

/// A refund as the simulator holds it (`GET /sim/refunds`).
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
pub struct SimRefund {
    pub mch_id: String,
    pub out_refund_no: String,
    pub out_trade_no: String,
    /// Fen.
    pub refund: i64,
    /// `PROCESSING`, `SUCCESS`, `ABNORMAL`, `CLOSED`.
    pub status: String,
}

/// A refund as paygate's admin API shows it (`GET /admin/v1/tenants/{id}/refunds`).
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
pub struct GateRefund {
    pub id: String,
    pub order_id: String,
    pub out_refund_no: String,
    /// Fen.
    pub amount: i64,
    /// `PROCESSING`, `SUCCESS`, `ABNORMAL`, `CLOSED`.
    pub state: String,
}

/// An order as paygate's admin API shows it (`GET /admin/v1/tenants/{id}/orders`).
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
pub struct GateOrder {
    pub id: String,
    pub tenant_id: String,
    pub channel_id: String,
    pub out_trade_no: String,
    /// Fen.
    pub amount: i64,
    pub state: String,
    pub transaction_id: Option<String>,
    /// Fen refunded so far.
    #[serde(default)]
    pub refunded_amount: i64,
}

impl GateOrder {
    /// paygate says the money was taken (refunds happen only after payment).
    pub fn is_paid(&self) -> bool {
        matches!(
            self.state.as_str(),
            "PAID" | "PARTIALLY_REFUNDED" | "REFUNDED"
        )
    }
}

/// An event paygate recorded for a tenant (`GET /admin/v1/tenants/{id}/events`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct GateEvent {
    pub id: String,
    pub event_type: String,
    /// The order the event is about (`data.id`, or `data.order_id` for refund events).
    pub order_id: Option<String>,
    /// `data.id`: the order of an order event, the refund of a refund event.
    pub subject_id: Option<String>,
    /// `pending`, `delivered`, `failed` or `skipped`.
    pub delivery_status: String,
}

impl GateEvent {
    /// From the admin API's event view.
    pub fn from_view(v: &Value) -> Option<GateEvent> {
        let s = |v: &Value| v.as_str().map(str::to_owned);
        let event_type = s(&v["event_type"])?;
        let data = &v["payload"];
        let order_id = if event_type.starts_with("refund.") {
            s(&data["order_id"])
        } else {
            s(&data["id"])
        };
        Some(GateEvent {
            id: s(&v["id"])?,
            event_type,
            order_id,
            subject_id: s(&data["id"]),
            delivery_status: s(&v["delivery_status"]).unwrap_or_default(),
        })
    }
}

/// Everything a reconciliation looks at.
#[derive(Debug, Clone, Copy)]
pub struct Inputs<'a> {
    pub sim_orders: &'a [SimOrder],
    pub gate_orders: &'a [GateOrder],
    pub sim_refunds: &'a [SimRefund],
    pub gate_refunds: &'a [GateRefund],
    /// paygate channel id → the merchant id it pays into (from the seeding).
    pub channel_mch: &'a HashMap<String, String>,
    pub events: &'a [GateEvent],
    pub received: &'a WebhookLog,
    /// What the load driver created; `paid_requested` orders must end paid.
    pub client_orders: &'a [OrderRecord],
}

/// The counts of a reconciliation and the first offending ids of each discrepancy.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct Reconciliation {
    /// Orders the simulator settled (money taken).
    pub settled_by_sim: usize,
    /// Orders paygate has as paid (PAID or refunded).
    pub paid_in_paygate: usize,
    /// Settled by the simulator, not paid in paygate (or unknown to it).
    pub missing_paid: usize,
    /// Paid on both sides with different amounts.
    pub wrong_amount: usize,
    /// Paid on both sides with different WeChat transaction ids.
    pub wrong_transaction_id: usize,
    /// Paid in paygate, not settled by the simulator (or unknown to it).
    pub paid_not_settled: usize,
    /// The user's payment was accepted, yet paygate does not have the order paid.
    pub requested_not_paid: usize,
    /// Paid in paygate without a `payment.succeeded` event for the tenant.
    pub paid_without_event: usize,
    /// Orders with more than one `payment.succeeded` event (a replayed notification converged
    /// twice).
    pub duplicate_payment_events: usize,
    /// Refunds the simulator completed (money returned).
    pub refunds_settled_by_sim: usize,
    /// Refunds paygate has as succeeded.
    pub refunds_succeeded_in_paygate: usize,
    /// Completed by the simulator, not succeeded in paygate (or unknown to it).
    pub refund_missing: usize,
    /// Succeeded on both sides with different amounts.
    pub refund_wrong_amount: usize,
    /// Succeeded in paygate, not completed by the simulator.
    pub refund_not_settled: usize,
    /// A paid order whose `refunded_amount` is not the sum of its succeeded refunds.
    pub wrong_refunded_amount: usize,
    /// Succeeded refunds without exactly one `refund.succeeded` event.
    pub refund_event_count_wrong: usize,
    /// Refunds paygate accepted from the client that did not end with the money returned
    /// (the simulator completes every refund it receives).
    pub refund_requested_not_done: usize,
    /// Events paygate recorded.
    pub events_total: usize,
    /// Events paygate recorded whose id the webhook receiver never logged.
    pub events_never_received: usize,
    /// Informational: events received more than once (at-least-once allows it).
    pub duplicates_received: usize,
    /// Informational: received event ids paygate does not list.
    pub received_unknown: usize,
    /// Class name → first [`EXAMPLES`] offending ids.
    pub examples: BTreeMap<String, Vec<String>>,
}

impl Reconciliation {
    /// No discrepancy of any class (the informational counts do not matter).
    pub fn is_clean(&self) -> bool {
        self.discrepancies() == 0
    }

    /// The sum of every discrepancy class.
    pub fn discrepancies(&self) -> usize {
        self.missing_paid
            + self.wrong_amount
            + self.wrong_transaction_id
            + self.paid_not_settled
            + self.requested_not_paid
            + self.paid_without_event
            + self.duplicate_payment_events
            + self.refund_missing
            + self.refund_wrong_amount
            + self.refund_not_settled
            + self.wrong_refunded_amount
            + self.refund_event_count_wrong
            + self.refund_requested_not_done
            + self.events_never_received
    }

    fn note(&mut self, class: &str, id: String) {
        let list = self.examples.entry(class.to_owned()).or_default();
        if list.len() < EXAMPLES {
            list.push(id);
        }
    }

    /// The counts as a two-column table, discrepancies marked.
    pub fn render(&self) -> String {
        let rows: [(&str, usize, bool); 21] = [
            ("settled by the simulator", self.settled_by_sim, false),
            ("paid in paygate", self.paid_in_paygate, false),
            ("settled, not paid in paygate", self.missing_paid, true),
            ("paid with the wrong amount", self.wrong_amount, true),
            (
                "paid with another transaction id",
                self.wrong_transaction_id,
                true,
            ),
            ("paid in paygate, not settled", self.paid_not_settled, true),
            ("user paid, order not paid", self.requested_not_paid, true),
            (
                "paid without payment.succeeded",
                self.paid_without_event,
                true,
            ),
            (
                "orders with 2+ payment.succeeded",
                self.duplicate_payment_events,
                true,
            ),
            (
                "refunds completed by the simulator",
                self.refunds_settled_by_sim,
                false,
            ),
            (
                "refunds succeeded in paygate",
                self.refunds_succeeded_in_paygate,
                false,
            ),
            (
                "refund completed, not in paygate",
                self.refund_missing,
                true,
            ),
            (
                "refund with the wrong amount",
                self.refund_wrong_amount,
                true,
            ),
            (
                "refund succeeded, not completed",
                self.refund_not_settled,
                true,
            ),
            (
                "order refunded_amount wrong",
                self.wrong_refunded_amount,
                true,
            ),
            (
                "refund without 1 refund.succeeded",
                self.refund_event_count_wrong,
                true,
            ),
            (
                "refund accepted, not completed",
                self.refund_requested_not_done,
                true,
            ),
            ("events recorded", self.events_total, false),
            ("events never received", self.events_never_received, true),
            (
                "events received twice or more",
                self.duplicates_received,
                false,
            ),
            (
                "received events paygate lacks",
                self.received_unknown,
                false,
            ),
        ];
        let mut out = String::new();
        for (label, n, checked) in rows {
            let mark = if checked && n > 0 {
                "  <-- DISCREPANCY"
            } else {
                ""
            };
            out.push_str(&format!("  {label:<36} {n:>8}{mark}\n"));
        }
        for (class, ids) in &self.examples {
            out.push_str(&format!("  {class}: {}\n", ids.join(", ")));
        }
        out
    }
}

/// Compares the books. Orders are matched on `(mch_id, out_trade_no)`: the key WeChat uses
/// (paygate sends its order's `out_trade_no` upstream unchanged).
pub fn reconcile(input: &Inputs<'_>) -> Reconciliation {
    let mut r = Reconciliation::default();
    let sim: HashMap<(&str, &str), &SimOrder> = input
        .sim_orders
        .iter()
        .map(|o| ((o.mch_id.as_str(), o.out_trade_no.as_str()), o))
        .collect();
    let mut gate: HashMap<(&str, &str), &GateOrder> = HashMap::new();
    for o in input.gate_orders {
        let mch = input
            .channel_mch
            .get(&o.channel_id)
            .map_or("?", String::as_str);
        gate.insert((mch, o.out_trade_no.as_str()), o);
    }
    let gate_by_id: HashMap<&str, &GateOrder> = input
        .gate_orders
        .iter()
        .map(|o| (o.id.as_str(), o))
        .collect();

    // WeChat's side: every settled order is paid in paygate, for the same money.
    let mut settled: Vec<&SimOrder> = input.sim_orders.iter().filter(|o| o.paid).collect();
    settled.sort_by(|a, b| (&a.mch_id, &a.out_trade_no).cmp(&(&b.mch_id, &b.out_trade_no)));
    r.settled_by_sim = settled.len();
    for s in settled {
        let label = format!("{}/{}", s.mch_id, s.out_trade_no);
        match gate.get(&(s.mch_id.as_str(), s.out_trade_no.as_str())) {
            Some(g) if g.is_paid() => {
                if g.amount != s.total {
                    r.wrong_amount += 1;
                    r.note(
                        "wrong_amount",
                        format!("{} ({} != {})", g.id, g.amount, s.total),
                    );
                }
                if g.transaction_id.is_some() && g.transaction_id != s.transaction_id {
                    r.wrong_transaction_id += 1;
                    r.note("wrong_transaction_id", g.id.clone());
                }
            }
            Some(g) => {
                r.missing_paid += 1;
                r.note("missing_paid", format!("{} ({})", g.id, g.state));
            }
            None => {
                r.missing_paid += 1;
                r.note("missing_paid", format!("{label} (unknown to paygate)"));
            }
        }
    }

    // paygate's side: nothing paid that WeChat did not settle.
    let mut paid: Vec<&GateOrder> = input.gate_orders.iter().filter(|o| o.is_paid()).collect();
    paid.sort_by(|a, b| a.id.cmp(&b.id));
    r.paid_in_paygate = paid.len();
    let mut success_events: HashMap<&str, usize> = HashMap::new();
    for e in input.events {
        if e.event_type == PAYMENT_SUCCEEDED
            && let Some(order) = &e.order_id
        {
            *success_events.entry(order.as_str()).or_default() += 1;
        }
    }
    for g in &paid {
        let mch = input
            .channel_mch
            .get(&g.channel_id)
            .map_or("?", String::as_str);
        if !sim
            .get(&(mch, g.out_trade_no.as_str()))
            .is_some_and(|s| s.paid)
        {
            r.paid_not_settled += 1;
            r.note("paid_not_settled", g.id.clone());
        }
        match success_events.get(g.id.as_str()).copied().unwrap_or(0) {
            0 => {
                r.paid_without_event += 1;
                r.note("paid_without_event", g.id.clone());
            }
            1 => {}
            n => {
                r.duplicate_payment_events += 1;
                r.note("duplicate_payment_events", format!("{} ({n})", g.id));
            }
        }
    }

    reconcile_refunds(input, &gate_by_id, &mut r);

    // The client's side: a payment the user made ends paid.
    for c in input.client_orders.iter().filter(|c| c.paid_requested) {
        if !gate_by_id
            .get(c.order_id.as_str())
            .is_some_and(|g| g.is_paid())
        {
            r.requested_not_paid += 1;
            r.note("requested_not_paid", c.order_id.clone());
        }
    }
    for c in input
        .client_orders
        .iter()
        .filter(|c| c.refund_requested_fen > 0)
    {
        let done = gate_by_id
            .get(c.order_id.as_str())
            .map_or(0, |g| g.refunded_amount);
        if done < c.refund_requested_fen {
            r.refund_requested_not_done += 1;
            r.note(
                "refund_requested_not_done",
                format!("{} ({done} of {})", c.order_id, c.refund_requested_fen),
            );
        }
    }

    // The tenant's side: every event reached the webhook at least once.
    let mut events: Vec<&GateEvent> = input.events.iter().collect();
    events.sort_by(|a, b| a.id.cmp(&b.id));
    r.events_total = events.len();
    let known: HashSet<&str> = events.iter().map(|e| e.id.as_str()).collect();
    for e in events {
        if !input.received.events.contains_key(&e.id) {
            r.events_never_received += 1;
            r.note(
                "events_never_received",
                format!("{} ({}, {})", e.id, e.event_type, e.delivery_status),
            );
        }
    }
    r.duplicates_received = input.received.redelivered();
    r.received_unknown = input
        .received
        .events
        .keys()
        .filter(|id| !known.contains(id.as_str()))
        .count();
    r
}

/// Refunds: WeChat's completed refunds and paygate's succeeded ones agree, each with one event,
/// and each paid order's `refunded_amount` is the sum of its succeeded refunds.
fn reconcile_refunds(
    input: &Inputs<'_>,
    gate_by_id: &HashMap<&str, &GateOrder>,
    r: &mut Reconciliation,
) {
    let mch_of = |order_id: &str| -> &str {
        gate_by_id
            .get(order_id)
            .and_then(|o| input.channel_mch.get(&o.channel_id))
            .map_or("?", String::as_str)
    };
    let gate: HashMap<(&str, &str), &GateRefund> = input
        .gate_refunds
        .iter()
        .map(|g| ((mch_of(&g.order_id), g.out_refund_no.as_str()), g))
        .collect();
    let sim: HashMap<(&str, &str), &SimRefund> = input
        .sim_refunds
        .iter()
        .map(|s| ((s.mch_id.as_str(), s.out_refund_no.as_str()), s))
        .collect();
    let mut settled: Vec<&SimRefund> = input
        .sim_refunds
        .iter()
        .filter(|s| s.status == "SUCCESS")
        .collect();
    settled.sort_by(|a, b| (&a.mch_id, &a.out_refund_no).cmp(&(&b.mch_id, &b.out_refund_no)));
    r.refunds_settled_by_sim = settled.len();
    for s in settled {
        match gate.get(&(s.mch_id.as_str(), s.out_refund_no.as_str())) {
            Some(g) if g.state == "SUCCESS" => {
                if g.amount != s.refund {
                    r.refund_wrong_amount += 1;
                    r.note(
                        "refund_wrong_amount",
                        format!("{} ({} != {})", g.id, g.amount, s.refund),
                    );
                }
            }
            Some(g) => {
                r.refund_missing += 1;
                r.note("refund_missing", format!("{} ({})", g.id, g.state));
            }
            None => {
                r.refund_missing += 1;
                r.note(
                    "refund_missing",
                    format!("{}/{} (unknown to paygate)", s.mch_id, s.out_refund_no),
                );
            }
        }
    }
    let mut refund_events: HashMap<&str, usize> = HashMap::new();
    for e in input.events {
        if e.event_type == REFUND_SUCCEEDED
            && let Some(id) = &e.subject_id
        {
            *refund_events.entry(id.as_str()).or_default() += 1;
        }
    }
    let mut succeeded: Vec<&GateRefund> = input
        .gate_refunds
        .iter()
        .filter(|g| g.state == "SUCCESS")
        .collect();
    succeeded.sort_by(|a, b| a.id.cmp(&b.id));
    r.refunds_succeeded_in_paygate = succeeded.len();
    let mut refunded_by_order: HashMap<&str, i64> = HashMap::new();
    for g in succeeded {
        *refunded_by_order.entry(g.order_id.as_str()).or_default() += g.amount;
        if sim
            .get(&(mch_of(&g.order_id), g.out_refund_no.as_str()))
            .is_none_or(|s| s.status != "SUCCESS")
        {
            r.refund_not_settled += 1;
            r.note("refund_not_settled", g.id.clone());
        }
        let n = refund_events.get(g.id.as_str()).copied().unwrap_or(0);
        if n != 1 {
            r.refund_event_count_wrong += 1;
            r.note("refund_event_count_wrong", format!("{} ({n})", g.id));
        }
    }
    let mut paid: Vec<&GateOrder> = input.gate_orders.iter().filter(|o| o.is_paid()).collect();
    paid.sort_by(|a, b| a.id.cmp(&b.id));
    for o in paid {
        let sum = refunded_by_order.get(o.id.as_str()).copied().unwrap_or(0);
        if o.refunded_amount != sum {
            r.wrong_refunded_amount += 1;
            r.note(
                "wrong_refunded_amount",
                format!("{} ({} != {sum})", o.id, o.refunded_amount),
            );
        }
    }
}

/// Every order the simulator holds, all pages.
pub async fn fetch_sim_orders(
    client: &reqwest::Client,
    sim_url: &str,
) -> anyhow::Result<Vec<SimOrder>> {
    fetch_sim_records(client, &format!("{sim_url}/sim/orders")).await
}

/// Every refund the simulator holds, all pages.
pub async fn fetch_sim_refunds(
    client: &reqwest::Client,
    sim_url: &str,
) -> anyhow::Result<Vec<SimRefund>> {
    fetch_sim_records(client, &format!("{sim_url}/sim/refunds")).await
}

/// Every record of a simulator list (`{"data": [...], "next": ...}`), all pages.
async fn fetch_sim_records<T: serde::de::DeserializeOwned>(
    client: &reqwest::Client,
    url: &str,
) -> anyhow::Result<Vec<T>> {
    let mut out = Vec::new();
    let mut after: Option<String> = None;
    loop {
        let mut params = vec![("limit", "5000")];
        if let Some(a) = &after {
            params.push(("after", a.as_str()));
        }
        let page = get_json(client.get(with_query(url, &params)?), "/sim records").await?;
        let data: Vec<T> = serde_json::from_value(page["data"].clone())
            .context("/sim records: unexpected record shape")?;
        out.extend(data);
        match page["next"].as_str() {
            Some(n) => after = Some(n.to_owned()),
            None => return Ok(out),
        }
    }
}

/// Every item of an admin API list (`{"data": [...], "next_cursor": ...}`), all pages.
async fn admin_list(
    client: &reqwest::Client,
    url: &str,
    token: &str,
) -> anyhow::Result<Vec<Value>> {
    let mut out = Vec::new();
    let mut cursor: Option<String> = None;
    loop {
        let mut params = vec![("limit", "200")];
        if let Some(c) = &cursor {
            params.push(("cursor", c.as_str()));
        }
        let req = client.get(with_query(url, &params)?).bearer_auth(token);
        let page = get_json(req, "admin list").await?;
        let Some(data) = page["data"].as_array() else {
            bail!("admin list: no data array");
        };
        out.extend(data.iter().cloned());
        match page["next_cursor"].as_str() {
            Some(c) => cursor = Some(c.to_owned()),
            None => return Ok(out),
        }
    }
}

/// Every order of `tenant_id` in paygate.
pub async fn fetch_gate_orders(
    client: &reqwest::Client,
    paygate_url: &str,
    token: &str,
    tenant_id: &str,
) -> anyhow::Result<Vec<GateOrder>> {
    let url = format!("{paygate_url}/admin/v1/tenants/{tenant_id}/orders");
    admin_list(client, &url, token)
        .await?
        .into_iter()
        .map(|v| serde_json::from_value(v).context("admin orders: unexpected order shape"))
        .collect()
}

/// Every refund of `tenant_id` in paygate.
pub async fn fetch_gate_refunds(
    client: &reqwest::Client,
    paygate_url: &str,
    token: &str,
    tenant_id: &str,
) -> anyhow::Result<Vec<GateRefund>> {
    let url = format!("{paygate_url}/admin/v1/tenants/{tenant_id}/refunds");
    admin_list(client, &url, token)
        .await?
        .into_iter()
        .map(|v| serde_json::from_value(v).context("admin refunds: unexpected refund shape"))
        .collect()
}

/// Every event paygate recorded for `tenant_id`.
pub async fn fetch_gate_events(
    client: &reqwest::Client,
    paygate_url: &str,
    token: &str,
    tenant_id: &str,
) -> anyhow::Result<Vec<GateEvent>> {
    let url = format!("{paygate_url}/admin/v1/tenants/{tenant_id}/events");
    admin_list(client, &url, token)
        .await?
        .iter()
        .map(|v| GateEvent::from_view(v).context("admin events: unexpected event shape"))
        .collect()
}

/// `base?k=v&…`, percent-encoded.
fn with_query(base: &str, params: &[(&str, &str)]) -> anyhow::Result<url::Url> {
    url::Url::parse_with_params(base, params).with_context(|| format!("bad URL {base}"))
}

async fn get_json(req: reqwest::RequestBuilder, what: &str) -> anyhow::Result<Value> {
    let resp = req
        .timeout(Duration::from_secs(30))
        .send()
        .await
        .with_context(|| format!("GET {what}"))?;
    let status = resp.status();
    let body = resp.bytes().await.with_context(|| format!("GET {what}"))?;
    if !status.is_success() {
        bail!(
            "GET {what} answered {status}: {}",
            String::from_utf8_lossy(&body)
                .chars()
                .take(300)
                .collect::<String>()
        );
    }
    serde_json::from_slice(&body).with_context(|| format!("GET {what}: not JSON"))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::receiver::WebhookRecord;

    const MCH: &str = "1900000001";

    fn sim(no: &str, total: i64, paid: bool) -> SimOrder {
        SimOrder {
            mch_id: MCH.into(),
            out_trade_no: no.into(),
            transaction_id: paid.then(|| format!("4200{no}")),
            total,
            trade_state: if paid { "SUCCESS" } else { "NOTPAY" }.into(),
            paid,
        }
    }

    fn gate(id: &str, no: &str, amount: i64, state: &str) -> GateOrder {
        GateOrder {
            id: id.into(),
            tenant_id: "ten_1".into(),
            channel_id: "ch_1".into(),
            out_trade_no: no.into(),
            amount,
            state: state.into(),
            transaction_id: (state == "PAID").then(|| format!("4200{no}")),
            refunded_amount: 0,
        }
    }

    fn event(id: &str, order: &str) -> GateEvent {
        GateEvent {
            id: id.into(),
            event_type: PAYMENT_SUCCEEDED.into(),
            order_id: Some(order.into()),
            subject_id: Some(order.into()),
            delivery_status: "delivered".into(),
        }
    }

    fn refund_event(id: &str, refund: &str, order: &str) -> GateEvent {
        GateEvent {
            id: id.into(),
            event_type: REFUND_SUCCEEDED.into(),
            order_id: Some(order.into()),
            subject_id: Some(refund.into()),
            delivery_status: "delivered".into(),
        }
    }

    fn sim_refund(no: &str, order_no: &str, fen: i64, status: &str) -> SimRefund {
        SimRefund {
            mch_id: MCH.into(),
            out_refund_no: no.into(),
            out_trade_no: order_no.into(),
            refund: fen,
            status: status.into(),
        }
    }

    fn gate_refund(id: &str, order: &str, no: &str, fen: i64, state: &str) -> GateRefund {
        GateRefund {
            id: id.into(),
            order_id: order.into(),
            out_refund_no: no.into(),
            amount: fen,
            state: state.into(),
        }
    }

    fn received(ids: &[(&str, u32)]) -> WebhookLog {
        let mut log = WebhookLog::default();
        for (id, n) in ids {
            log.events.insert(
                (*id).into(),
                WebhookRecord {
                    event_type: PAYMENT_SUCCEEDED.into(),
                    tenant_id: "ten_1".into(),
                    order_id: None,
                    deliveries: *n,
                },
            );
        }
        log
    }

    fn client(order_id: &str, paid_requested: bool) -> OrderRecord {
        OrderRecord {
            order_id: order_id.into(),
            out_trade_no: String::new(),
            tenant_id: "ten_1".into(),
            amount_fen: 1,
            paid_requested,
            paid_confirmed: false,
            refund_requested_fen: 0,
        }
    }

    struct Case {
        sim: Vec<SimOrder>,
        gate: Vec<GateOrder>,
        sim_refunds: Vec<SimRefund>,
        gate_refunds: Vec<GateRefund>,
        events: Vec<GateEvent>,
        received: WebhookLog,
        client: Vec<OrderRecord>,
    }

    impl Case {
        /// Two paid orders and an unpaid one, every event received: clean.
        fn clean() -> Case {
            Case {
                sim: vec![sim("A", 100, true), sim("B", 250, true), sim("C", 9, false)],
                gate: vec![
                    gate("ord_a", "A", 100, "PAID"),
                    gate("ord_b", "B", 250, "PAID"),
                    gate("ord_c", "C", 9, "PENDING"),
                    // Created, never sent upstream: WeChat does not know it. Fine.
                    gate("ord_d", "D", 5, "CREATED"),
                ],
                sim_refunds: Vec::new(),
                gate_refunds: Vec::new(),
                events: vec![event("evt_a", "ord_a"), event("evt_b", "ord_b")],
                received: received(&[("evt_a", 1), ("evt_b", 1)]),
                client: vec![client("ord_a", true), client("ord_c", false)],
            }
        }

        fn run(&self) -> Reconciliation {
            let channel_mch = HashMap::from([("ch_1".to_owned(), MCH.to_owned())]);
            reconcile(&Inputs {
                sim_orders: &self.sim,
                gate_orders: &self.gate,
                sim_refunds: &self.sim_refunds,
                gate_refunds: &self.gate_refunds,
                channel_mch: &channel_mch,
                events: &self.events,
                received: &self.received,
                client_orders: &self.client,
            })
        }
    }

    #[test]
    fn agreeing_books_are_clean() {
        let r = Case::clean().run();
        assert!(r.is_clean(), "{r:?}");
        assert_eq!(r.settled_by_sim, 2);
        assert_eq!(r.paid_in_paygate, 2);
        assert_eq!(r.events_total, 2);
        assert!(r.examples.is_empty());
        // Refunded orders were paid: still clean when WeChat says REFUND.
        let mut c = Case::clean();
        c.gate[0].state = "REFUNDED".into();
        c.sim[0].trade_state = "REFUND".into();
        assert!(c.run().is_clean());
    }

    #[test]
    fn a_settled_order_left_pending_is_missing() {
        let mut c = Case::clean();
        c.gate[1].state = "PENDING".into();
        c.gate[1].transaction_id = None;
        let r = c.run();
        assert_eq!(r.missing_paid, 1);
        assert_eq!(r.examples["missing_paid"], ["ord_b (PENDING)"]);
        assert_eq!(r.discrepancies(), 1);
        // Unknown to paygate altogether.
        let mut c = Case::clean();
        c.gate.remove(1);
        c.events.remove(1);
        c.received = received(&[("evt_a", 1)]);
        let r = c.run();
        assert_eq!(r.missing_paid, 1);
        assert_eq!(
            r.examples["missing_paid"],
            [format!("{MCH}/B (unknown to paygate)")]
        );
    }

    #[test]
    fn a_different_amount_or_transaction_is_caught() {
        let mut c = Case::clean();
        c.gate[0].amount = 101;
        let r = c.run();
        assert_eq!(r.wrong_amount, 1);
        assert_eq!(r.discrepancies(), 1);
        let mut c = Case::clean();
        c.gate[0].transaction_id = Some("4200other".into());
        assert_eq!(c.run().wrong_transaction_id, 1);
    }

    #[test]
    fn paid_without_settlement_is_caught() {
        let mut c = Case::clean();
        c.gate[2].state = "PAID".into();
        c.events.push(event("evt_c", "ord_c"));
        c.received = received(&[("evt_a", 1), ("evt_b", 1), ("evt_c", 1)]);
        let r = c.run();
        assert_eq!(r.paid_not_settled, 1);
        assert_eq!(r.examples["paid_not_settled"], ["ord_c"]);
        assert_eq!(r.discrepancies(), 1);
        // Paid for an order WeChat never saw.
        let mut c = Case::clean();
        c.gate[3].state = "PAID".into();
        c.events.push(event("evt_d", "ord_d"));
        c.received = received(&[("evt_a", 1), ("evt_b", 1), ("evt_d", 1)]);
        assert_eq!(c.run().paid_not_settled, 1);
    }

    #[test]
    fn a_user_payment_that_did_not_end_paid_is_caught() {
        let mut c = Case::clean();
        c.client.push(client("ord_c", true));
        let r = c.run();
        assert_eq!(r.requested_not_paid, 1);
        assert_eq!(r.examples["requested_not_paid"], ["ord_c"]);
        // An order the client thought it paid but paygate never listed.
        let mut c = Case::clean();
        c.client.push(client("ord_zz", true));
        assert_eq!(c.run().requested_not_paid, 1);
    }

    #[test]
    fn events_missing_duplicated_or_lost_are_caught() {
        // Paid without any payment.succeeded.
        let mut c = Case::clean();
        c.events.remove(1);
        c.received = received(&[("evt_a", 1)]);
        let r = c.run();
        assert_eq!(r.paid_without_event, 1);
        assert_eq!(r.examples["paid_without_event"], ["ord_b"]);
        // Two payment.succeeded for one order: a replayed notification converged twice.
        let mut c = Case::clean();
        c.events.push(event("evt_a2", "ord_a"));
        c.received = received(&[("evt_a", 1), ("evt_b", 1), ("evt_a2", 1)]);
        let r = c.run();
        assert_eq!(r.duplicate_payment_events, 1);
        assert_eq!(r.examples["duplicate_payment_events"], ["ord_a (2)"]);
        // Recorded, never received.
        let mut c = Case::clean();
        c.received = received(&[("evt_a", 1)]);
        let r = c.run();
        assert_eq!(r.events_never_received, 1);
        assert_eq!(
            r.examples["events_never_received"],
            ["evt_b (payment.succeeded, delivered)"]
        );
        assert!(!r.is_clean());
    }

    /// Case::clean plus a full refund of order A, completed on both sides, event received.
    fn refunded() -> Case {
        let mut c = Case::clean();
        c.gate[0].state = "REFUNDED".into();
        c.gate[0].refunded_amount = 100;
        c.sim[0].trade_state = "REFUND".into();
        c.sim_refunds = vec![sim_refund("R1", "A", 100, "SUCCESS")];
        c.gate_refunds = vec![gate_refund("ref_1", "ord_a", "R1", 100, "SUCCESS")];
        c.events.push(refund_event("evt_r1", "ref_1", "ord_a"));
        c.received = received(&[("evt_a", 1), ("evt_b", 1), ("evt_r1", 1)]);
        c
    }

    #[test]
    fn agreeing_refunds_are_clean() {
        let r = refunded().run();
        assert!(r.is_clean(), "{r:?}");
        assert_eq!(r.refunds_settled_by_sim, 1);
        assert_eq!(r.refunds_succeeded_in_paygate, 1);
        // Still processing on both sides: nothing to compare yet.
        let mut c = refunded();
        c.sim_refunds[0].status = "PROCESSING".into();
        c.gate_refunds[0].state = "PROCESSING".into();
        c.gate[0].refunded_amount = 0;
        c.events.pop();
        c.received = received(&[("evt_a", 1), ("evt_b", 1)]);
        assert!(c.run().is_clean());
    }

    #[test]
    fn refund_discrepancies_are_caught() {
        // WeChat returned the money; paygate still says PROCESSING.
        let mut c = refunded();
        c.gate_refunds[0].state = "PROCESSING".into();
        c.gate[0].refunded_amount = 0;
        let r = c.run();
        assert_eq!(r.refund_missing, 1);
        assert_eq!(r.examples["refund_missing"], ["ref_1 (PROCESSING)"]);
        // Unknown to paygate altogether.
        let mut c = refunded();
        c.gate_refunds.clear();
        c.gate[0].refunded_amount = 0;
        c.events.pop();
        c.received = received(&[("evt_a", 1), ("evt_b", 1)]);
        assert_eq!(c.run().refund_missing, 1);
        // Another amount.
        let mut c = refunded();
        c.sim_refunds[0].refund = 99;
        let r = c.run();
        assert_eq!((r.refund_wrong_amount, r.discrepancies()), (1, 1));
        // paygate says succeeded; WeChat closed it.
        let mut c = refunded();
        c.sim_refunds[0].status = "CLOSED".into();
        let r = c.run();
        assert_eq!((r.refund_not_settled, r.discrepancies()), (1, 1));
        // The order's refunded_amount disagrees with its refunds.
        let mut c = refunded();
        c.gate[0].refunded_amount = 200;
        let r = c.run();
        assert_eq!(r.wrong_refunded_amount, 1);
        assert_eq!(r.examples["wrong_refunded_amount"], ["ord_a (200 != 100)"]);
        // No event, or two.
        let mut c = refunded();
        c.events.pop();
        c.received = received(&[("evt_a", 1), ("evt_b", 1)]);
        assert_eq!(c.run().refund_event_count_wrong, 1);
        let mut c = refunded();
        c.events.push(refund_event("evt_r1b", "ref_1", "ord_a"));
        c.received = received(&[("evt_a", 1), ("evt_b", 1), ("evt_r1", 1), ("evt_r1b", 1)]);
        let r = c.run();
        assert_eq!(r.examples["refund_event_count_wrong"], ["ref_1 (2)"]);
        // The client's refund was accepted; the money never went back.
        let mut c = refunded();
        c.client[0].refund_requested_fen = 100;
        assert!(c.run().is_clean());
        c.client.push(OrderRecord {
            refund_requested_fen: 250,
            ..client("ord_b", true)
        });
        let r = c.run();
        assert_eq!(r.refund_requested_not_done, 1);
        assert_eq!(
            r.examples["refund_requested_not_done"],
            ["ord_b (0 of 250)"]
        );
    }

    #[test]
    fn duplicates_and_strangers_are_informational() {
        let mut c = Case::clean();
        c.received = received(&[("evt_a", 3), ("evt_b", 1), ("evt_other", 1)]);
        let r = c.run();
        assert_eq!(r.duplicates_received, 1);
        assert_eq!(r.received_unknown, 1);
        assert!(r.is_clean());
        let text = r.render();
        assert!(text.contains("events received twice or more"));
        assert!(!text.contains("DISCREPANCY"));
    }

    #[test]
    fn examples_are_capped_and_the_table_marks_discrepancies() {
        let mut c = Case::clean();
        for i in 0..25 {
            c.sim.push(sim(&format!("X{i:02}"), 1, true));
        }
        let r = c.run();
        assert_eq!(r.missing_paid, 25);
        assert_eq!(r.examples["missing_paid"].len(), EXAMPLES);
        assert!(r.render().contains("<-- DISCREPANCY"));
    }

    #[test]
    fn admin_event_views_name_their_order() {
        let paid = serde_json::json!({"id": "evt_1", "event_type": "payment.succeeded",
            "payload": {"id": "ord_1"}, "delivery_status": "pending"});
        let e = GateEvent::from_view(&paid).unwrap();
        assert_eq!(e.order_id.as_deref(), Some("ord_1"));
        assert_eq!(e.delivery_status, "pending");
        let refund = serde_json::json!({"id": "evt_2", "event_type": "refund.succeeded",
            "payload": {"id": "rf_1", "order_id": "ord_1"}, "delivery_status": "delivered"});
        assert_eq!(
            GateEvent::from_view(&refund).unwrap().order_id.as_deref(),
            Some("ord_1")
        );
        assert!(GateEvent::from_view(&serde_json::json!({"id": "x"})).is_none());
    }
}
