// @ts-check
// The dashboard's figures are the data of GET /admin/v1/stats for the same range and tenant:
// the totals (`data-testid="stat-*"`, `data-value`) are checked against sums computed here
// from the API's raw per-day figures, and every per-day cell against the API's value.
import assert from 'node:assert/strict';

import { Admin, ok } from '../lib/api.js';
import { signIn, uiTest } from '../lib/browser.js';
import { onboardTenantViaApi, payOrder } from '../lib/fixtures.js';
import { eventually } from '../lib/poll.js';

/** @typedef {import('playwright-core').Page} Page */

const DAY_FIELDS = [
  'orders_created', 'orders_created_paid', 'orders_paid', 'paid_amount', 'refunds_succeeded',
  'refunded_amount', 'deliveries_succeeded', 'deliveries_failed',
];

/**
 * The dashboard totals expected from the API's days (independent of the console's code).
 * @param {any[]} days
 * @returns {Record<string, number>}
 */
export function expectedTotals(days) {
  /** @type {Record<string, number>} */
  const sum = Object.fromEntries(DAY_FIELDS.map((f) => [f, 0]));
  for (const day of days) for (const f of DAY_FIELDS) sum[f] += day[f];
  return {
    'orders-created': sum.orders_created,
    'orders-paid': sum.orders_paid,
    'paid-amount': sum.paid_amount,
    'success-rate': sum.orders_created === 0 ? 0 : Math.floor((sum.orders_created_paid * 10000) / sum.orders_created),
    'refunds-succeeded': sum.refunds_succeeded,
    'refunded-amount': sum.refunded_amount,
    'deliveries-succeeded': sum.deliveries_succeeded,
    'deliveries-failed': sum.deliveries_failed,
  };
}

/**
 * What the dashboard shows: its range and tenant, the totals and the per-day table.
 * @param {Page} page
 */
async function readDashboard(page) {
  return page.evaluate(() => {
    /** @param {string} label */
    const control = (label) => {
      const l = [...document.querySelectorAll('label')].find((x) => x.textContent?.trim() === label);
      const el = l?.htmlFor ? document.getElementById(l.htmlFor) : null;
      return el instanceof HTMLInputElement || el instanceof HTMLSelectElement ? el.value : null;
    };
    /** @type {Record<string, string | null>} */
    const totals = {};
    for (const el of document.querySelectorAll('[data-testid^="stat-"]')) {
      const name = el.getAttribute('data-testid')?.slice('stat-'.length) ?? '';
      if (name) totals[name] = el.getAttribute('data-value');
    }
    /** @type {Record<string, Record<string, string>>} */
    const days = {};
    for (const tr of document.querySelectorAll('[data-testid="stats-table"] tr[data-day]')) {
      /** @type {Record<string, string>} */
      const cells = {};
      for (const td of tr.querySelectorAll('[data-col]')) {
        cells[td.getAttribute('data-col') ?? ''] = td.getAttribute('data-value') ?? (td.textContent ?? '').trim();
      }
      days[tr.getAttribute('data-day') ?? ''] = cells;
    }
    return { from: control('From'), to: control('To'), tenant: control('Tenant'), totals, days };
  });
}

/**
 * Sets the dashboard's range and tenant and applies them.
 * @param {Page} page
 * @param {{ tenant: string, from: string, to: string }} form
 */
async function applyFilter(page, form) {
  await page.getByLabel('Tenant', { exact: true }).selectOption(form.tenant);
  await page.getByLabel('From', { exact: true }).fill(form.from);
  await page.getByLabel('To', { exact: true }).fill(form.to);
  await Promise.all([
    page.waitForResponse((r) => r.url().includes('/admin/v1/stats?') && r.url().includes(form.tenant)),
    page.getByRole('button', { name: 'Apply', exact: true }).click(),
  ]);
}

/**
 * Asserts the dashboard shows exactly the API's figures for the range and tenant it displays.
 * While they differ (a webhook delivery may land in between) the page is reloaded and the
 * same filter applied again, so what is compared is always a fresh fetch.
 * @param {Page} page
 * @param {{ tenant: string, from: string, to: string }} [form] none: the defaults
 * @returns {Promise<Record<string, number>>} the totals
 */
async function assertMatchesApi(page, form) {
  const admin = await Admin.demo();
  return eventually(async () => {
    const shown = await readDashboard(page);
    assert.ok(shown.from && shown.to, 'the dashboard shows its range in From/To');
    if (form) assert.deepEqual({ tenant: shown.tenant, from: shown.from, to: shown.to }, form, 'the filter shown');
    const query = new URLSearchParams({ from: shown.from, to: shown.to });
    if (shown.tenant) query.set('tenant_id', shown.tenant);
    const stats = ok(await admin.get(`/stats?${query}`), 'GET /admin/v1/stats');
    const expected = expectedTotals(stats.days);
    try {
      for (const [name, value] of Object.entries(expected)) {
        assert.equal(shown.totals[name], String(value), `stat-${name} data-value`);
      }
      assert.deepEqual(Object.keys(shown.days).sort(), stats.days.map((/** @type {any} */ d) => d.day).sort(),
        'the per-day table has one row per day of the range');
      for (const day of stats.days) {
        const cells = shown.days[day.day];
        for (const f of ['orders_created', 'orders_paid', 'paid_amount']) {
          assert.ok(f in cells, `the per-day table has a ${f} column`);
        }
        for (const [col, value] of Object.entries(cells)) {
          if (col in day) assert.equal(value, String(day[col]), `${day.day} ${col}`);
        }
      }
    } catch (err) {
      await page.reload();
      await page.getByTestId('stat-orders-created').waitFor();
      if (form) await applyFilter(page, form);
      throw err;
    }
    return expected;
  }, { timeout: 20_000, what: 'the dashboard showing GET /admin/v1/stats' });
}

uiTest('the dashboard shows the figures of GET /admin/v1/stats', { timeout: 120_000 }, async (page) => {
  const tenant = await onboardTenantViaApi({ webhook: true });
  const amount = 2345;
  await payOrder({ apiKey: tenant.apiKey, appid: tenant.appid, amount });
  // Let the payment's webhook delivery land first, so this tenant's figures are settled.
  const admin = await Admin.demo();
  await eventually(async () => {
    const events = ok(await admin.get(`/tenants/${tenant.id}/events`), 'events').data;
    assert.ok(events.length > 0 && events.every((/** @type {any} */ e) => e.delivery_status === 'delivered'),
      'every event delivered');
  }, { timeout: 30_000, what: 'the webhook delivered' });

  await signIn(page);
  await page.getByTestId('stat-orders-created').waitFor();
  // All tenants over the default range.
  const all = await assertMatchesApi(page);
  assert.ok(all['orders-paid'] >= 1 && all['paid-amount'] >= amount, 'the payment is counted');

  // One tenant over the last three days (UTC).
  const today = new Date();
  const form = {
    tenant: tenant.id,
    from: new Date(today.getTime() - 2 * 86_400_000).toISOString().slice(0, 10),
    to: today.toISOString().slice(0, 10),
  };
  await applyFilter(page, form);
  const one = await assertMatchesApi(page, form);
  // Known answers for this tenant: one order, paid.
  assert.equal(one['orders-created'], 1);
  assert.equal(one['orders-paid'], 1);
  assert.equal(one['paid-amount'], amount);
  assert.equal(one['success-rate'], 10000);
  assert.equal(one['deliveries-succeeded'], 1);
  assert.equal(one['deliveries-failed'], 0);
  const shown = await readDashboard(page);
  assert.equal(Object.keys(shown.days).length, 3, 'three days in the table');
});
