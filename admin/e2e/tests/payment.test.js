// @ts-check
// An API key created in the console (its secret shown once), a real payment made with it
// through the tenant API, and that payment in the orders table and its drawer.
import assert from 'node:assert/strict';

import { Admin, TenantApi, ok } from '../lib/api.js';
import { signIn, uiTest } from '../lib/browser.js';
import { onboardTenantViaApi, outTradeNo, payOrder } from '../lib/fixtures.js';
import { openTenantTab, yuan } from '../lib/ui.js';

uiTest('creates an API key shown once, pays with it, finds the order and its history', { timeout: 120_000 }, async (page) => {
  const tenant = await onboardTenantViaApi();
  await signIn(page);

  // A key with every scope; its secret is shown once.
  await openTenantTab(page, tenant.id, 'api-keys');
  const keyName = `console key ${outTradeNo()}`;
  await page.getByRole('button', { name: 'New API key', exact: true }).click();
  await page.getByLabel('Name', { exact: true }).fill(keyName);
  for (const scope of ['orders:write', 'refunds:write', 'read']) {
    await page.getByLabel(scope, { exact: true }).check();
  }
  await page.getByRole('button', { name: 'Create', exact: true }).click();
  const shown = page.getByTestId('new-secret');
  await shown.waitFor();
  const secret = (await shown.evaluate((el) => (el instanceof HTMLInputElement || el instanceof HTMLTextAreaElement ? el.value : el.textContent) ?? '')).trim();
  assert.match(secret, /^pk_\S{16,}$/, 'the secret is a pk_… key');
  await page.getByRole('button', { name: 'Copy', exact: true }).waitFor();
  const me = ok(await new TenantApi(secret).get('/me'), 'the new key authenticates');
  assert.equal(me.tenant_id, tenant.id);
  assert.deepEqual([...me.scopes].sort(), ['orders:write', 'read', 'refunds:write']);

  // After a reload the secret is nowhere: not displayed, not in the DOM, not in storage.
  await page.reload();
  await page.getByRole('cell', { name: keyName, exact: true }).waitFor();
  assert.equal(await page.getByTestId('new-secret').count(), 0, 'no new-secret element after reload');
  assert.ok(!(await page.content()).includes(secret), 'the secret is not in the page after reload');
  const stored = await page.evaluate(() => JSON.stringify({ ...localStorage }) + JSON.stringify({ ...sessionStorage }));
  assert.ok(!stored.includes(secret), 'the secret is not kept in web storage');

  // A payment made with that key.
  const amount = 1234;
  const paid = await payOrder({ apiKey: secret, appid: tenant.appid, amount });
  assert.equal(paid.amount, amount);

  // The orders table: state PAID, the amount.
  await openTenantTab(page, tenant.id, 'orders');
  await page.getByRole('columnheader', { name: 'Out trade no', exact: true }).waitFor();
  const row = page.getByRole('row').filter({ hasText: paid.out_trade_no });
  await row.waitFor();
  const state = (await row.getAttribute('data-state')) ?? (await row.locator('code').allInnerTexts()).join(' ');
  assert.match(state, /\bPAID\b/, 'the row shows the raw state PAID');
  assert.ok((await row.innerText()).includes(yuan(amount)), `the row shows the amount ${yuan(amount)}`);

  // The filters find exactly this order.
  await page.getByLabel('State', { exact: true }).selectOption('PAID');
  await page.getByLabel('Out trade no', { exact: true }).fill(paid.out_trade_no);
  await page.getByRole('button', { name: 'Search', exact: true }).click();
  await page.waitForFunction((no) => {
    const rows = [...document.querySelectorAll('tbody tr')];
    return rows.length === 1 && (rows[0].textContent ?? '').includes(no);
  }, paid.out_trade_no);

  // The drawer: the order's state history, as the API has it.
  await row.getByRole('button', { name: paid.out_trade_no }).click();
  const drawer = page.getByRole('dialog');
  await drawer.waitFor();
  assert.ok(await drawer.getAttribute('aria-label'), 'the drawer has an aria-label');
  const admin = await Admin.demo();
  const detail = ok(await admin.get(`/tenants/${tenant.id}/orders/${paid.id}`), 'order detail');
  const history = detail.history.map((/** @type {any} */ h) => `${h.from}->${h.to}`);
  assert.deepEqual(history, ['CREATED->PENDING', 'PENDING->PAID']);
  const historyRows = drawer.getByRole('row').filter({ has: page.locator('code') });
  await historyRows.first().waitFor();
  const shownHistory = [];
  for (const r of await historyRows.all()) {
    const codes = await r.locator('code').allInnerTexts();
    shownHistory.push(codes.slice(0, 2).map((c) => c.trim()).join('->'));
  }
  assert.deepEqual(shownHistory, history, 'the drawer lists the history, oldest first');
});
