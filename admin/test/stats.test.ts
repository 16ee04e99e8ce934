/** Dashboard totals and the success rate in basis points (integer division). */
import assert from "node:assert/strict";
import { test } from "node:test";
import { formatBp, totals } from "../src/stats";
import type { DayStats } from "../src/types";

function day(d: string, p: Partial<DayStats>): DayStats {
  return {
    day: d, orders_created: 0, orders_created_paid: 0, orders_paid: 0, paid_amount: 0, refunds_succeeded: 0,
    refunded_amount: 0, deliveries_succeeded: 0, deliveries_failed: 0, currency: "CNY", ...p,
  };
}

test("sums every field over the days", () => {
  const t = totals([
    day("2026-11-01", { orders_created: 3, orders_created_paid: 2, orders_paid: 2, paid_amount: 199, refunds_succeeded: 1, refunded_amount: 50, deliveries_succeeded: 4, deliveries_failed: 1 }),
    day("2026-11-02", { orders_created: 4, orders_created_paid: 3, orders_paid: 4, paid_amount: 1, deliveries_succeeded: 1 }),
  ]);
  assert.equal(t.ordersCreated, 7);
  assert.equal(t.ordersCreatedPaid, 5);
  assert.equal(t.ordersPaid, 6);
  assert.equal(t.paidAmount, 200);
  assert.equal(t.refundsSucceeded, 1);
  assert.equal(t.refundedAmount, 50);
  assert.equal(t.deliveriesSucceeded, 5);
  assert.equal(t.deliveriesFailed, 1);
  // 5 * 10000 / 7 = 7142.857… → 7142
  assert.equal(t.successRateBp, 7142);
  // 5 * 10000 / 6 = 8333.33… → 8333
  assert.equal(t.deliveryRateBp, 8333);
});

test("rates are 0 when nothing happened", () => {
  const t = totals([day("2026-11-01", {})]);
  assert.equal(t.successRateBp, 0);
  assert.equal(t.deliveryRateBp, 0);
  assert.equal(totals([]).ordersCreated, 0);
});

test("basis points print as a percent", () => {
  assert.equal(formatBp(7142), "71.42%");
  assert.equal(formatBp(10000), "100.00%");
  assert.equal(formatBp(5), "0.05%");
  assert.equal(formatBp(0), "0.00%");
});
