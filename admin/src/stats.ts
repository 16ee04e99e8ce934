/**
 * Pure aggregation of `GET /admin/v1/stats` days into the dashboard's totals. Integer sums
 * only; the success rate is in basis points with integer division, as the UI contract states.
 */
import type { DayStats } from "./types";

export interface StatTotals {
  ordersCreated: number;
  ordersCreatedPaid: number;
  ordersPaid: number;
  paidAmount: number;
  refundsSucceeded: number;
  refundedAmount: number;
  deliveriesSucceeded: number;
  deliveriesFailed: number;
  /** orders_created_paid × 10000 / orders_created (integer division); 0 when none created. */
  successRateBp: number;
  /** Delivery success in basis points; 0 when no delivery was attempted. */
  deliveryRateBp: number;
}

function ratioBp(part: number, whole: number): number {
  if (whole <= 0) return 0;
  return Number((BigInt(part) * 10000n) / BigInt(whole));
}

export function totals(days: readonly DayStats[]): StatTotals {
  const t = {
    ordersCreated: 0,
    ordersCreatedPaid: 0,
    ordersPaid: 0,
    paidAmount: 0,
    refundsSucceeded: 0,
    refundedAmount: 0,
    deliveriesSucceeded: 0,
    deliveriesFailed: 0,
  };
  for (const d of days) {
    t.ordersCreated += d.orders_created;
    t.ordersCreatedPaid += d.orders_created_paid;
    t.ordersPaid += d.orders_paid;
    t.paidAmount += d.paid_amount;
    t.refundsSucceeded += d.refunds_succeeded;
    t.refundedAmount += d.refunded_amount;
    t.deliveriesSucceeded += d.deliveries_succeeded;
    t.deliveriesFailed += d.deliveries_failed;
  }
  return {
    ...t,
    successRateBp: ratioBp(t.ordersCreatedPaid, t.ordersCreated),
    deliveryRateBp: ratioBp(t.deliveriesSucceeded, t.deliveriesSucceeded + t.deliveriesFailed),
  };
}

/** Basis points as a percent with two decimals, integer arithmetic: 9876 → "98.76%". */
export function formatBp(bp: number): string {
  const whole = Math.trunc(bp / 100);
  const frac = Math.abs(bp % 100);
  return `${whole}.${String(frac).padStart(2, "0")}%`;
}

/** Unix seconds (UTC midnight) of a `YYYY-MM-DD` day, for chart x values. */
export function dayToUnix(day: string): number {
  return Date.parse(`${day}T00:00:00Z`) / 1000;
}
