// @ts-check
// Resending a webhook event from the events tab makes a new delivery attempt, as the admin
// API's webhook-deliveries list shows.
import assert from 'node:assert/strict';

import { Admin, ok } from '../lib/api.js';
import { signIn, uiTest } from '../lib/browser.js';
import { onboardTenantViaApi, payOrder } from '../lib/fixtures.js';
import { eventually } from '../lib/poll.js';
import { openTenantTab } from '../lib/ui.js';

uiTest('resends a webhook event and a new delivery attempt exists', { timeout: 120_000 }, async (page) => {
  const admin = await Admin.demo();
  const tenant = await onboardTenantViaApi({ webhook: true });
  await payOrder({ apiKey: tenant.apiKey, appid: tenant.appid, amount: 321 });

  // The payment's event, delivered once to the demo's receiver.
  const event = await eventually(async () => {
    const events = ok(await admin.get(`/tenants/${tenant.id}/events`), 'listing events').data;
    const e = events.find((/** @type {any} */ x) => x.event_type === 'payment.succeeded');
    assert.ok(e, 'a payment.succeeded event exists');
    assert.equal(e.delivery_status, 'delivered');
    return e;
  }, { timeout: 30_000, what: 'the payment.succeeded event delivered' });
  /** @returns {Promise<any[]>} */
  const attempts = async () => ok(await admin.get(`/tenants/${tenant.id}/webhook-deliveries?event_id=${event.id}`),
    'listing deliveries').data;
  const before = await attempts();
  assert.ok(before.length >= 1, 'the event was attempted');

  await signIn(page);
  await openTenantTab(page, tenant.id, 'events');
  const row = page.getByRole('row').filter({ hasText: 'payment.succeeded' });
  await row.waitFor();

  await row.getByRole('button', { name: 'Resend', exact: true }).click();
  await page.getByRole('status').filter({ hasText: /\S/ }).first().waitFor();

  const after = await eventually(async () => {
    const now = await attempts();
    assert.ok(now.length > before.length, `more than ${before.length} attempts (now ${now.length})`);
    return now;
  }, { timeout: 30_000, what: 'a new delivery attempt' });
  const fresh = after.filter((/** @type {any} */ a) => !before.some((/** @type {any} */ b) => b.id === a.id));
  assert.equal(fresh.length, 1, 'exactly one new attempt');
  assert.equal(fresh[0].event_id, event.id);

  // Details: a drawer listing the event's deliveries, the new one included.
  await page.reload();
  await row.getByRole('button', { name: 'Details', exact: true }).click();
  const drawer = page.getByRole('dialog');
  await drawer.waitFor();
  assert.ok(await drawer.getAttribute('aria-label'), 'the drawer has an aria-label');
  await eventually(async () => {
    const rows = await drawer.locator('tbody tr').count();
    assert.equal(rows, after.length, 'one drawer row per delivery attempt');
  }, { what: 'the drawer listing every attempt' });
});
