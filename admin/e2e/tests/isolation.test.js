// @ts-check
// No request leaves paygate, nothing errors. Every uiTest already fails on a request to
// another origin, a console error, an uncaught error or a CSP violation; this file walks every
// page of the console under those guards, and proves the guards themselves catch what they
// claim to (so a green run means something).
import assert from 'node:assert/strict';
import { test } from 'node:test';

import { Admin, ok } from '../lib/api.js';
import { mainNav, openGuarded, signIn, uiTest } from '../lib/browser.js';
import { CONSOLE_URL, PAYGATE_ORIGIN, SIM_URL } from '../lib/env.js';
import { onboardTenantViaApi, payOrder } from '../lib/fixtures.js';
import { openTenantTab, settled } from '../lib/ui.js';

const TABS = ['apps', 'channels', 'api-keys', 'webhook', 'orders', 'refunds', 'notifications', 'events'];

uiTest('every page talks to paygate only, without errors', { timeout: 120_000 }, async (page, _context, watch) => {
  const tenant = await onboardTenantViaApi({ webhook: true });
  await payOrder({ apiKey: tenant.apiKey, appid: tenant.appid, amount: 888 });

  const documentResponse = await page.goto(CONSOLE_URL);
  assert.ok(documentResponse, 'the console answered');
  const csp = documentResponse.headers()['content-security-policy'];
  assert.ok(csp, 'the console is served with a Content-Security-Policy');
  assert.match(csp, /default-src 'self'|default-src 'none'/, 'the CSP defaults to self or none');

  await signIn(page);
  await page.getByTestId('stat-orders-created').waitFor();
  for (const [link, hash] of [['Tenants', '#/tenants'], ['Alerts', '#/alerts'], ['Audit log', '#/audit']]) {
    await mainNav(page).getByRole('link', { name: link, exact: true }).click();
    await page.waitForURL((url) => url.hash.startsWith(hash));
    await settled(page, link);
  }
  for (const tab of TABS) {
    await openTenantTab(page, tenant.id, tab);
    await page.getByRole('tab', { selected: true }).waitFor();
    await settled(page);
  }
  // The order drawer too.
  const admin = await Admin.demo();
  const orders = ok(await admin.get(`/tenants/${tenant.id}/orders`), 'orders').data;
  await openTenantTab(page, tenant.id, 'orders');
  await page.getByRole('button', { name: orders[0].out_trade_no }).click();
  await page.getByRole('dialog').waitFor();

  const api = watch.requests.filter((r) => r.includes('/admin/v1/'));
  assert.ok(api.length >= 10, `the walk made API requests (${api.length})`);
  assert.ok(watch.requests.every((r) => r.includes(PAYGATE_ORIGIN) || /^\w+ data:/.test(r)));
});

test('the guards catch a foreign request and a console error', { timeout: 30_000 }, async () => {
  const { context, page, verdict } = await openGuarded();
  try {
    // A page without the console's CSP, on purpose: it asks the simulator (another origin).
    await page.goto('data:text/html,<title>guard check</title>');
    await Promise.all([
      context.waitForEvent('request', (r) => r.url().startsWith(SIM_URL)),
      page.evaluate((url) => { fetch(`${url}/sim/clock`).catch(() => {}); }, SIM_URL),
    ]);
    assert.throws(verdict, (err) => err instanceof Error
      && err.message.includes(`${SIM_URL}/sim/clock`) && /requests left the paygate server/.test(err.message));
  } finally {
    await context.close();
  }
  const second = await openGuarded();
  try {
    await second.page.goto('data:text/html,<title>guard check</title>');
    await Promise.all([
      second.context.waitForEvent('console', (m) => m.text() === 'deliberate'),
      second.page.evaluate(() => console.error('deliberate')),
    ]);
    await Promise.all([
      second.context.waitForEvent('weberror'),
      second.page.evaluate(() => { setTimeout(() => { throw new Error('uncaught on purpose'); }); }),
    ]);
    assert.throws(second.verdict, /console error: deliberate[\s\S]*uncaught on purpose|uncaught on purpose[\s\S]*deliberate/);
  } finally {
    await second.context.close();
  }
});
