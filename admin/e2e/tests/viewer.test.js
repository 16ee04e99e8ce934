// @ts-check
// A viewer sees everything but no write control, and the API refuses their writes (403).
import assert from 'node:assert/strict';

import { Admin, ok } from '../lib/api.js';
import { mainNav, signIn, uiTest } from '../lib/browser.js';
import { onboardTenantViaApi, payOrder, unique } from '../lib/fixtures.js';
import { eventually } from '../lib/poll.js';
import { openTenantTab } from '../lib/ui.js';

uiTest('a viewer sees no write controls and cannot write through the API', { timeout: 120_000 }, async (page) => {
  const admin = await Admin.demo();
  const tenant = await onboardTenantViaApi({ webhook: true });
  await payOrder({ apiKey: tenant.apiKey, appid: tenant.appid, amount: 555 });
  await eventually(async () => {
    const events = ok(await admin.get(`/tenants/${tenant.id}/events`), 'events').data;
    assert.ok(events.some((/** @type {any} */ e) => e.delivery_status === 'delivered'), 'a delivered event');
  }, { timeout: 30_000, what: 'an event to show' });

  const viewer = { username: `viewer${unique()}`, password: `pw-${unique(12)}` };
  ok(await admin.post('/operators', { ...viewer, role: 'viewer' }), 'creating a viewer', 201);
  await signIn(page, viewer);

  await mainNav(page).getByRole('link', { name: 'Tenants', exact: true }).click();
  await page.getByRole('link', { name: tenant.name, exact: true }).waitFor();
  /** @param {string} name */
  const absent = async (name) => assert.equal(
    await page.getByRole('button', { name, exact: true }).count(), 0, `no "${name}" for a viewer`);
  await absent('New tenant');
  await absent('Suspend');

  await openTenantTab(page, tenant.id, 'apps');
  await page.getByRole('cell', { name: tenant.appid, exact: true }).waitFor();
  await absent('New app');

  await openTenantTab(page, tenant.id, 'channels');
  await page.getByRole('cell', { name: tenant.mchId }).first().waitFor();
  await absent('Add channel');

  await openTenantTab(page, tenant.id, 'api-keys');
  await page.getByRole('cell', { name: 'e2e backend', exact: true }).waitFor();
  await absent('New API key');
  await absent('Revoke');

  await openTenantTab(page, tenant.id, 'webhook');
  await page.getByText(/127\.0\.0\.1/).first().waitFor();
  for (const name of ['Save', 'Rotate secret', 'Pause', 'Resume', 'Send ping']) await absent(name);

  await openTenantTab(page, tenant.id, 'events');
  await page.getByRole('row').filter({ hasText: 'payment.succeeded' }).waitFor();
  await absent('Resend');
  await absent('Resend failed');

  // The API itself refuses the viewer's writes.
  const asViewer = await Admin.login(viewer);
  const write = await asViewer.post('/tenants', { name: 'viewer was here' });
  assert.equal(write.status, 403, 'POST /admin/v1/tenants as a viewer is 403');
  const resend = await asViewer.post(`/tenants/${tenant.id}/webhook/ping`);
  assert.equal(resend.status, 403, 'a webhook ping as a viewer is 403');
  assert.equal((await asViewer.get('/tenants')).status, 200, 'reading is allowed');
});
