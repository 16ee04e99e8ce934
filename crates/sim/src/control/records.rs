//! The simulator's own records, read back: `GET /sim/orders` and `GET /sim/refunds` list every
//! order and refund the simulated WeChat holds, as WeChat's books would show them.
//!
//! They are the ground truth a crash test reconciles a merchant system against ("every order
//! WeChat settled is paid in paygate, none more"). Both are read-only and keyset-paged in a
//! stable order (`mch_id`, then `out_trade_no` / `out_refund_no`), so a reader walking the
//! pages while payments go on never skips or repeats a record that existed when it started.
//! They must never change the world, and never expose keys or notification bodies.

use std::collections::HashMap;

use axum::Json;
use axum::extract::{Query, State};
use paygate_core::time_fmt;
use serde::{Deserialize, Serialize};

use crate::error::SimError;
use crate::state::{Api, Order, Refund, Sim};

/// Default page size of both lists.
pub const DEFAULT_LIMIT: usize = 1000;
/// Largest page size; bigger requests are clamped (a page stays a few MB of JSON at most).
pub const MAX_LIMIT: usize = 10_000;

/// `?mch_id=&after=&limit=` of both lists.
#[derive(Debug, Clone, Default, Deserialize)]
pub struct RecordQuery {
    /// Only this merchant's records.
    pub mch_id: Option<String>,
    /// `next` of the previous page: records strictly after it are listed.
    pub after: Option<String>,
    /// Page size, 1–10 000 (clamped); default 1000.
    pub limit: Option<usize>,
}

/// One page of records.
#[derive(Debug, Clone, Serialize)]
pub struct RecordPage<T> {
    pub data: Vec<T>,
    /// Pass as `?after=` for the next page; `null` on the last page.
    pub next: Option<String>,
}

/// An order as WeChat's books hold it.
#[derive(Debug, Clone, Serialize)]
pub struct OrderRecord {
    pub api: Api,
    pub mch_id: String,
    pub appid: String,
    pub out_trade_no: String,
    /// Set once paid.
    pub transaction_id: Option<String>,
    /// Fen.
    pub total: i64,
    /// WeChat's `trade_state`: `SUCCESS`, `REFUND`, `NOTPAY`, `CLOSED`, `PAYERROR`.
    pub trade_state: &'static str,
    /// Money was taken (`SUCCESS` or `REFUND`): the order is settled.
    pub paid: bool,
    /// `JSAPI` or `NATIVE`.
    pub trade_type: &'static str,
    /// RFC 3339 UTC, simulator time.
    pub created_at: String,
    /// RFC 3339 UTC, simulator time; set once paid.
    pub success_time: Option<String>,
}

impl OrderRecord {
    fn from_order(o: &Order) -> Self {
        OrderRecord {
            api: o.api,
            mch_id: o.mch_id.clone(),
            appid: o.appid.clone(),
            out_trade_no: o.out_trade_no.clone(),
            transaction_id: o.transaction_id.clone(),
            total: o.total,
            trade_state: o.state.as_str(),
            paid: o.state.is_paid(),
            trade_type: o.trade_kind.as_str(),
            created_at: time_fmt::to_utc_rfc3339(o.created_at),
            success_time: o.success_time.map(time_fmt::to_utc_rfc3339),
        }
    }
}

/// A refund as WeChat's books hold it.
#[derive(Debug, Clone, Serialize)]
pub struct RefundRecord {
    pub api: Api,
    pub mch_id: String,
    pub out_refund_no: String,
    pub refund_id: String,
    pub out_trade_no: String,
    pub transaction_id: String,
    /// The order's total, fen.
    pub total: i64,
    /// The refunded amount, fen.
    pub refund: i64,
    /// v3 names: `PROCESSING`, `SUCCESS`, `ABNORMAL`, `CLOSED`.
    pub status: &'static str,
    pub created_at: String,
    pub success_time: Option<String>,
}

impl RefundRecord {
    fn from_refund(r: &Refund) -> Self {
        RefundRecord {
            api: r.api,
            mch_id: r.mch_id.clone(),
            out_refund_no: r.out_refund_no.clone(),
            refund_id: r.refund_id.clone(),
            out_trade_no: r.out_trade_no.clone(),
            transaction_id: r.transaction_id.clone(),
            total: r.total,
            refund: r.refund,
            status: r.state.v3(),
            created_at: time_fmt::to_utc_rfc3339(r.created_at),
            success_time: r.success_time.map(time_fmt::to_utc_rfc3339),
        }
    }
}

/// The cursor is `mch_id:record_no`: a merchant id is digits and WeChat's `out_trade_no` /
/// `out_refund_no` charset has no `:`, so the first `:` splits it unambiguously.
fn parse_cursor(after: Option<&str>) -> Result<Option<(String, String)>, SimError> {
    let Some(after) = after else {
        return Ok(None);
    };
    let (mch, no) = after.split_once(':').ok_or_else(|| {
        SimError::BadRequest("after: is not a `next` of this list (mch_id:number)".into())
    })?;
    Ok(Some((mch.to_owned(), no.to_owned())))
}

/// Keyset paging over a map keyed by `(mch_id, number)`.
fn page<V, T>(
    map: &HashMap<(String, String), V>,
    q: &RecordQuery,
    convert: impl Fn(&V) -> T,
) -> Result<RecordPage<T>, SimError> {
    let after = parse_cursor(q.after.as_deref())?;
    let limit = q.limit.unwrap_or(DEFAULT_LIMIT).clamp(1, MAX_LIMIT);
    let mut keys: Vec<&(String, String)> = map
        .keys()
        .filter(|k| q.mch_id.as_deref().is_none_or(|m| m == k.0))
        .filter(|k| after.as_ref().is_none_or(|a| *k > a))
        .collect();
    keys.sort();
    let more = keys.len() > limit;
    keys.truncate(limit);
    let next = if more {
        keys.last().map(|(m, n)| format!("{m}:{n}"))
    } else {
        None
    };
    let data = keys
        .into_iter()
        .filter_map(|k| map.get(k))
        .map(convert)
        .collect();
    Ok(RecordPage { data, next })
}

impl Sim {
    /// One page of the orders WeChat holds, ordered by `(mch_id, out_trade_no)`.
    pub fn order_records(&self, q: &RecordQuery) -> Result<RecordPage<OrderRecord>, SimError> {
        page(&self.world().orders, q, OrderRecord::from_order)
    }

    /// One page of the refunds WeChat holds, ordered by `(mch_id, out_refund_no)`.
    pub fn refund_records(&self, q: &RecordQuery) -> Result<RecordPage<RefundRecord>, SimError> {
        page(&self.world().refunds, q, RefundRecord::from_refund)
    }
}

pub async fn list_orders(
    State(sim): State<Sim>,
    Query(q): Query<RecordQuery>,
) -> Result<Json<RecordPage<OrderRecord>>, SimError> {
    sim.order_records(&q).map(Json)
}

pub async fn list_refunds(
    State(sim): State<Sim>,
    Query(q): Query<RecordQuery>,
) -> Result<Json<RecordPage<RefundRecord>>, SimError> {
    sim.refund_records(&q).map(Json)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn map(keys: &[(&str, &str)]) -> HashMap<(String, String), u32> {
        keys.iter()
            .enumerate()
            .map(|(i, (m, n))| {
                (
                    ((*m).to_owned(), (*n).to_owned()),
                    u32::try_from(i).unwrap_or(0),
                )
            })
            .collect()
    }

    fn q(mch: Option<&str>, after: Option<&str>, limit: Option<usize>) -> RecordQuery {
        RecordQuery {
            mch_id: mch.map(str::to_owned),
            after: after.map(str::to_owned),
            limit,
        }
    }

    #[test]
    fn pages_walk_every_key_once_in_order() {
        let m = map(&[("2", "a"), ("1", "b"), ("1", "a"), ("2", "c"), ("1", "c")]);
        let mut seen = Vec::new();
        let mut after: Option<String> = None;
        let mut pages = 0;
        loop {
            let p = page(&m, &q(None, after.as_deref(), Some(2)), |v| *v).unwrap();
            pages += 1;
            seen.extend(p.data);
            match p.next {
                Some(n) => after = Some(n),
                None => break,
            }
        }
        // Values are the insertion indices: sorted keys (1,a) (1,b) (1,c) (2,a) (2,c).
        assert_eq!(seen, vec![2, 1, 4, 0, 3]);
        assert_eq!(pages, 3);
    }

    #[test]
    fn filter_by_merchant_and_exact_last_page_has_no_next() {
        let m = map(&[("2", "a"), ("1", "b"), ("1", "a")]);
        let p = page(&m, &q(Some("1"), None, Some(2)), |v| *v).unwrap();
        assert_eq!(p.data, vec![2, 1]);
        assert_eq!(p.next, None, "exactly `limit` left: no empty extra page");
        let p = page(&m, &q(None, Some("1:b"), None), |v| *v).unwrap();
        assert_eq!(p.data, vec![0]);
    }

    #[test]
    fn limit_is_clamped_and_cursor_checked() {
        let m = map(&[("1", "a"), ("1", "b")]);
        let p = page(&m, &q(None, None, Some(0)), |v| *v).unwrap();
        assert_eq!(p.data.len(), 1);
        assert_eq!(p.next.as_deref(), Some("1:a"));
        assert!(matches!(
            page(&m, &q(None, Some("no-colon"), None), |v| *v),
            Err(SimError::BadRequest(_))
        ));
    }
}
