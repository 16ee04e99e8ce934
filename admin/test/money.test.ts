/** Integer fen formatting: known answers, including the edges where floats would go wrong. */
import assert from "node:assert/strict";
import { test } from "node:test";
import { formatFen } from "../src/money";

test("formats fen as yuan with grouping", () => {
  assert.equal(formatFen(123456), "¥1,234.56");
  assert.equal(formatFen(0), "¥0.00");
  assert.equal(formatFen(1), "¥0.01");
  assert.equal(formatFen(10), "¥0.10");
  assert.equal(formatFen(100), "¥1.00");
  assert.equal(formatFen(99999), "¥999.99");
  assert.equal(formatFen(100000), "¥1,000.00");
  assert.equal(formatFen(123456789012), "¥1,234,567,890.12");
});

test("negative amounts put the sign before the symbol", () => {
  assert.equal(formatFen(-5), "-¥0.05");
  assert.equal(formatFen(-123456), "-¥1,234.56");
});

test("no float rounding at the edge of safe integers", () => {
  // 2^53 - 1 fen: a float division by 100 would print …740,991.0 or round.
  assert.equal(formatFen(Number.MAX_SAFE_INTEGER), "¥90,071,992,547,409.91");
  assert.equal(formatFen(9007199254740993n), "¥90,071,992,547,409.93");
  // 0.29 * 100 = 28.999999999999996 in floats; integers are never touched that way.
  assert.equal(formatFen(29), "¥0.29");
});

test("refuses non-integers and names other currencies", () => {
  assert.equal(formatFen(1.5), "—");
  assert.equal(formatFen(Number.NaN), "—");
  assert.equal(formatFen(250, "USD"), "USD 2.50");
});
