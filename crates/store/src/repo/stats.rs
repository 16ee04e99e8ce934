//! Dashboard figures per UTC day: orders created and paid, amounts, refunds, webhook delivery
//! outcomes. Every day of the requested range is present, zeros included, so charts need no
//! gap filling. Days are computed in SQL as `ms / 86_400_000` (integer division on both
//! backends), which is the UTC day number.

use std::collections::BTreeMap;

use paygate_core::{Money, TenantId};
use time::{Date, Duration, OffsetDateTime, Time};

use crate::db::{Arg, args, to_ms};
use crate::error::StoreError;
use crate::store::Store;

const DAY_MS: i64 = 86_400_000;
/// The longest range one call may ask for.
pub const MAX_DAYS: i64 = 366;

/// One UTC day's figures.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DayStats {
    pub day: Date,
    /// Orders created that day.
    pub orders_created: i64,
    /// Of those, how many are paid by now: with `orders_created`, the success rate.
    pub orders_created_paid: i64,
    /// Orders paid that day (whenever created) and their total.
    pub orders_paid: i64,
    pub paid_amount: Money,
    /// Refunds that succeeded that day and their total.
    pub refunds_succeeded: i64,
    pub refunded_amount: Money,
    /// Webhook delivery attempts made that day, by outcome.
    pub deliveries_succeeded: i64,
    pub deliveries_failed: i64,
}

impl DayStats {
    fn empty(day: Date) -> Self {
        DayStats {
            day,
            orders_created: 0,
            orders_created_paid: 0,
            orders_paid: 0,
            paid_amount: Money::ZERO,
            refunds_succeeded: 0,
            refunded_amount: Money::ZERO,
            deliveries_succeeded: 0,
            deliveries_failed: 0,
        }
    }
}

/// `store.stats()`.
#[derive(Debug, Clone, Copy)]
pub struct Stats<'a> {
    pub(crate) store: &'a Store,
}

fn money(fen: i64) -> Result<Money, StoreError> {
    Money::from_fen(fen).map_err(|_| StoreError::Corrupt(format!("negative sum {fen}")))
}

impl Stats<'_> {
    /// Figures for each day from `from` to `to`, both inclusive, across all tenants or one.
    pub async fn daily(
        &self,
        from: Date,
        to: Date,
        tenant: Option<&TenantId>,
    ) -> Result<Vec<DayStats>, StoreError> {
        let days = (to - from).whole_days() + 1;
        if days < 1 {
            return Err(StoreError::invalid("to", "must not be before from"));
        }
        if days > MAX_DAYS {
            return Err(StoreError::invalid("from", "a range is at most 366 days"));
        }
        let start = to_ms(OffsetDateTime::new_utc(from, Time::MIDNIGHT));
        let end = start + days * DAY_MS;
        let mut out: BTreeMap<i64, DayStats> = (0..days)
            .map(|i| {
                (
                    start / DAY_MS + i,
                    DayStats::empty(from + Duration::days(i)),
                )
            })
            .collect();
        let bind = || -> Vec<Arg> { args![start, end, tenant.map(TenantId::as_str)] };
        let pool = self.store.pool();

        let created: Vec<(i64, i64, i64)> = pool
            .all(
                "SELECT created_at / 86400000, COUNT(*), CAST(COALESCE(SUM(CASE WHEN state IN \
                 ('PAID', 'PARTIALLY_REFUNDED', 'REFUNDED') THEN 1 ELSE 0 END), 0) AS BIGINT) \
                 FROM orders WHERE created_at >= $1 AND created_at < $2 \
                 AND ($3 IS NULL OR tenant_id = $3) GROUP BY created_at / 86400000",
                bind(),
            )
            .await?;
        for (day, n, paid) in created {
            if let Some(s) = out.get_mut(&day) {
                s.orders_created = n;
                s.orders_created_paid = paid;
            }
        }

        let paid: Vec<(i64, i64, i64)> = pool
            .all(
                "SELECT paid_at / 86400000, COUNT(*), CAST(COALESCE(SUM(amount), 0) AS BIGINT) \
                 FROM orders WHERE paid_at >= $1 AND paid_at < $2 \
                 AND ($3 IS NULL OR tenant_id = $3) GROUP BY paid_at / 86400000",
                bind(),
            )
            .await?;
        for (day, n, sum) in paid {
            if let Some(s) = out.get_mut(&day) {
                s.orders_paid = n;
                s.paid_amount = money(sum)?;
            }
        }

        let refunds: Vec<(i64, i64, i64)> = pool
            .all(
                "SELECT succeeded_at / 86400000, COUNT(*), CAST(COALESCE(SUM(amount), 0) AS BIGINT) \
                 FROM refunds WHERE succeeded_at >= $1 AND succeeded_at < $2 \
                 AND ($3 IS NULL OR tenant_id = $3) AND state = 'SUCCESS' \
                 GROUP BY succeeded_at / 86400000",
                bind(),
            )
            .await?;
        for (day, n, sum) in refunds {
            if let Some(s) = out.get_mut(&day) {
                s.refunds_succeeded = n;
                s.refunded_amount = money(sum)?;
            }
        }

        let deliveries: Vec<(i64, i64, i64)> = pool
            .all(
                "SELECT created_at / 86400000, \
                 CAST(SUM(CASE WHEN status = 'succeeded' THEN 1 ELSE 0 END) AS BIGINT), \
                 CAST(SUM(CASE WHEN status = 'failed' THEN 1 ELSE 0 END) AS BIGINT) \
                 FROM webhook_deliveries WHERE created_at >= $1 AND created_at < $2 \
                 AND ($3 IS NULL OR tenant_id = $3) GROUP BY created_at / 86400000",
                bind(),
            )
            .await?;
        for (day, ok, failed) in deliveries {
            if let Some(s) = out.get_mut(&day) {
                s.deliveries_succeeded = ok;
                s.deliveries_failed = failed;
            }
        }
        Ok(out.into_values().collect())
    }
}
