// @ts-check
// Onboarding a tenant entirely through the console: tenant, mini-program, a WeChat Pay v2 and
// a v3 channel (one PEM uploaded as a file, another pasted, in each). The credentials come
// from the simulator; payments on both channels prove they were stored intact.
import assert from 'node:assert/strict';

import { Admin, ok } from '../lib/api.js';
import { mainNav, signIn, uiTest } from '../lib/browser.js';
import { FIXTURES } from '../lib/env.js';
import {
  ALL_SCOPES, MERCHANT_CERT_PEM, MERCHANT_KEY_PEM, payOrder, registerSimApp, registerSimMerchant, unique,
} from '../lib/fixtures.js';
import { field, fieldError, openTenantTab } from '../lib/ui.js';

uiTest('onboards a tenant with an app, a v2 and a v3 channel', { timeout: 150_000 }, async (page) => {
  const [merchant, app] = await Promise.all([registerSimMerchant(), registerSimApp()]);
  const name = `Onboarded ${unique()}`;
  await signIn(page);

  // Tenant.
  await mainNav(page).getByRole('link', { name: 'Tenants', exact: true }).click();
  await page.getByRole('button', { name: 'New tenant', exact: true }).click();
  await page.getByLabel('Name', { exact: true }).fill(name);
  await page.getByRole('button', { name: 'Create', exact: true }).click();
  // The console may open the new tenant or stay on the list; either way the list links to it.
  const link = page.getByRole('link', { name, exact: true });
  await Promise.race([page.waitForURL(/#\/tenants\/ten_/), link.waitFor()]);
  if (!(await link.isVisible())) {
    await mainNav(page).getByRole('link', { name: 'Tenants', exact: true }).click();
  }
  await link.click();
  await page.waitForURL(/#\/tenants\/ten_[^/]+/);
  const tenantId = /#\/tenants\/(ten_[^/?]+)/.exec(page.url())?.[1];
  assert.ok(tenantId, 'the tenant link leads to #/tenants/<ten_id>/…');

  // Mini-program.
  await openTenantTab(page, tenantId, 'apps');
  await page.getByRole('button', { name: 'New app', exact: true }).click();
  await page.getByLabel('App ID', { exact: true }).fill(app.appid);
  await page.getByLabel('Name', { exact: true }).fill('Onboarded mini-program');
  await page.getByLabel('App secret', { exact: true }).fill(app.secret);
  await page.getByRole('button', { name: 'Create', exact: true }).click();
  await page.getByRole('cell', { name: app.appid, exact: true }).waitFor();

  // WeChat Pay API v2: the client certificate uploaded as a file, the key pasted.
  await openTenantTab(page, tenantId, 'channels');
  await page.getByRole('button', { name: 'Add channel', exact: true }).click();
  await page.getByLabel('Provider', { exact: true }).selectOption('wechat-v2');
  await page.getByLabel('Merchant ID', { exact: true }).fill(merchant.mchId);
  await page.getByLabel('App ID', { exact: true }).fill(app.appid);
  await page.getByLabel('API key', { exact: true }).fill(merchant.v2Key);
  await page.getByLabel('Sign type', { exact: true }).selectOption('MD5');
  await page.getByLabel('Client certificate PEM file', { exact: true }).setInputFiles(FIXTURES.merchantCertPem);
  await page.getByLabel('Client key PEM', { exact: true }).fill(MERCHANT_KEY_PEM);
  await page.getByRole('button', { name: 'Save', exact: true }).click();
  await page.getByRole('cell', { name: 'wechat-v2', exact: true }).waitFor();

  // WeChat Pay API v3: the private key uploaded as a file, the certificate and WeChat Pay's
  // public key pasted.
  await page.getByRole('button', { name: 'Add channel', exact: true }).click();
  await page.getByLabel('Provider', { exact: true }).selectOption('wechat-v3');
  await page.getByLabel('Merchant ID', { exact: true }).fill(merchant.mchId);
  await page.getByLabel('Merchant private key PEM file', { exact: true }).setInputFiles(FIXTURES.merchantKeyPem);
  await page.getByLabel('Merchant certificate PEM', { exact: true }).fill(MERCHANT_CERT_PEM);
  await page.getByLabel('APIv3 key', { exact: true }).fill(merchant.v3Key);
  await page.getByLabel('WeChat Pay public key PEM', { exact: true }).fill(merchant.publicKeyPem);
  await page.getByLabel('WeChat Pay public key ID', { exact: true }).fill(merchant.publicKeyId);
  await page.getByRole('button', { name: 'Save', exact: true }).click();
  await page.getByRole('cell', { name: 'wechat-v3', exact: true }).waitFor();
  // No credential value is ever shown back.
  const text = await page.locator('body').innerText();
  for (const secret of [merchant.v2Key, merchant.v3Key, app.secret]) {
    assert.ok(!text.includes(secret), 'a secret the operator typed is not displayed');
  }

  // The API agrees, and both channels really pay.
  const admin = await Admin.demo();
  const channels = ok(await admin.get(`/tenants/${tenantId}/channels`), 'listing channels').data;
  const byKind = Object.fromEntries(channels.map((/** @type {any} */ c) => [c.kind, c]));
  assert.deepEqual(Object.keys(byKind).sort(), ['wechat-v2', 'wechat-v3']);
  assert.equal(byKind['wechat-v2'].mch_id, merchant.mchId);
  assert.equal(byKind['wechat-v3'].mch_id, merchant.mchId);
  const apps = ok(await admin.get(`/tenants/${tenantId}/apps`), 'listing apps').data;
  assert.deepEqual(apps.map((/** @type {any} */ a) => a.appid), [app.appid]);

  const key = ok(await admin.post(`/tenants/${tenantId}/api-keys`, { name: 'check', scopes: ALL_SCOPES }), 'API key');
  for (const kind of ['wechat-v2', 'wechat-v3']) {
    const paid = await payOrder({ apiKey: key.secret, appid: app.appid, amount: 101, channelId: byKind[kind].id });
    assert.equal(paid.state, 'PAID', `a payment on the ${kind} channel settles`);
  }
});

uiTest('shows a bad key\'s validation error next to its field', { allowHttpErrors: [400, 422] }, async (page) => {
  const admin = await Admin.demo();
  const merchant = await registerSimMerchant();
  const tenant = ok(await admin.post('/tenants', { name: `Validation ${unique()}` }), 'creating a tenant');
  await signIn(page);
  await openTenantTab(page, tenant.id, 'channels');
  await page.getByRole('button', { name: 'Add channel', exact: true }).click();
  await page.getByLabel('Provider', { exact: true }).selectOption('wechat-v3');
  await page.getByLabel('Merchant ID', { exact: true }).fill(merchant.mchId);
  await page.getByLabel('Merchant private key PEM', { exact: true }).fill(MERCHANT_KEY_PEM);
  await page.getByLabel('Merchant certificate PEM', { exact: true }).fill(MERCHANT_CERT_PEM);
  await page.getByLabel('WeChat Pay public key PEM', { exact: true }).fill(merchant.publicKeyPem);
  await page.getByLabel('WeChat Pay public key ID', { exact: true }).fill(merchant.publicKeyId);

  // An APIv3 key of the wrong length (31 bytes).
  await field(page, 'credentials.apiv3_key').fill(merchant.v3Key.slice(1));
  await page.getByRole('button', { name: 'Save', exact: true }).click();
  const keyError = await fieldError(page, 'credentials.apiv3_key');
  assert.match(keyError, /32/, 'the error says what length is wanted');

  // Fixed, but a private key that is not one.
  await field(page, 'credentials.apiv3_key').fill(merchant.v3Key);
  await field(page, 'credentials.merchant_private_key_pem')
    .fill('-----BEGIN PRIVATE KEY-----\nbm90IGEga2V5\n-----END PRIVATE KEY-----\n');
  await page.getByRole('button', { name: 'Save', exact: true }).click();
  await fieldError(page, 'credentials.merchant_private_key_pem');
  assert.equal(await page.locator('[data-field-error="credentials.apiv3_key"]').filter({ hasText: /\S/ }).count(), 0,
    'the fixed field\'s error is gone');

  const channels = ok(await admin.get(`/tenants/${tenant.id}/channels`), 'listing channels').data;
  assert.equal(channels.length, 0, 'nothing was created');
});
