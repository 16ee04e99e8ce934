// @ts-check
/**
 * Set-up through the APIs, for tests whose subject is not the set-up itself: a simulator
 * merchant and mini-program of their own (so no test disturbs the demo's merchant), tenants
 * onboarded through the admin API, and a complete JSAPI payment played by the tenant's
 * backend, the mini-program and the simulated WeChat user. Every step checks its answer.
 */
import { randomBytes, randomInt } from 'node:crypto';
import { readFileSync } from 'node:fs';

import { Admin, TenantApi, ok, request, sim } from './api.js';
import { FIXTURES, PAYGATE_URL, WEBHOOK_RECEIVER_URL } from './env.js';
import { eventually } from './poll.js';

export const MERCHANT_CERT_PEM = readFileSync(FIXTURES.merchantCertPem, 'utf8');
export const MERCHANT_KEY_PEM = readFileSync(FIXTURES.merchantKeyPem, 'utf8');

/** Every scope an API key can have. */
export const ALL_SCOPES = ['orders:write', 'refunds:write', 'read'];

/**
 * A short unique suffix for names (letters and digits).
 * @param {number} [bytes]
 */
export function unique(bytes = 4) {
  return randomBytes(bytes).toString('hex');
}

/** An out_trade_no of this run (6–32 characters). */
export function outTradeNo() {
  return `e2e${Date.now().toString(36)}${unique(3)}`;
}

/**
 * @typedef {{ mchId: string, v2Key: string, v3Key: string,
 *   publicKeyPem: string, publicKeyId: string }} SimMerchant
 */

/**
 * Registers a new merchant with the simulator, signed with the repository's test merchant
 * certificate; WeChat Pay "public key" mode, as the demo's.
 * @returns {Promise<SimMerchant>}
 */
export async function registerSimMerchant() {
  const mchId = `19${randomInt(10_000_000, 99_999_999)}`;
  const v2Key = randomBytes(16).toString('hex');
  const v3Key = randomBytes(16).toString('hex');
  const platform = ok(await sim.post('/sim/merchants', {
    mch_id: mchId,
    v2_key: v2Key,
    v3_key: v3Key,
    merchant_cert_pem: MERCHANT_CERT_PEM,
    mode: 'public_key',
  }), 'registering a simulator merchant');
  return {
    mchId,
    v2Key,
    v3Key,
    publicKeyPem: platform.public_key_pem,
    publicKeyId: platform.public_key_id,
  };
}

/**
 * Registers a new mini-program with the simulator.
 * @returns {Promise<{ appid: string, secret: string }>}
 */
export async function registerSimApp() {
  const appid = `wx${randomBytes(8).toString('hex')}`;
  const secret = randomBytes(16).toString('hex');
  ok(await sim.post('/sim/apps', { appid, secret }), 'registering a simulator app');
  return { appid, secret };
}

/**
 * The v3 credentials document of a simulator merchant.
 * @param {SimMerchant} merchant
 */
export function v3Credentials(merchant) {
  return {
    mchid: merchant.mchId,
    merchant_private_key_pem: MERCHANT_KEY_PEM,
    merchant_certificate_pem: MERCHANT_CERT_PEM,
    apiv3_key: merchant.v3Key,
    wechatpay_public_key_pem: merchant.publicKeyPem,
    wechatpay_public_key_id: merchant.publicKeyId,
  };
}

/**
 * @typedef {{ id: string, name: string, appid: string, mchId: string, channelId: string,
 *   apiKey: string }} Onboarded
 */

/**
 * A tenant onboarded through the admin API: its own simulator merchant and app, a v3
 * channel, an API key with every scope and, when asked, the demo's webhook receiver.
 * @param {{ name?: string, webhook?: boolean }} [options]
 * @returns {Promise<Onboarded>}
 */
export async function onboardTenantViaApi(options = {}) {
  const admin = await Admin.demo();
  const [merchant, app] = await Promise.all([registerSimMerchant(), registerSimApp()]);
  const name = options.name ?? `E2E tenant ${unique()}`;
  const tenant = ok(await admin.post('/tenants', { name }), 'creating a tenant');
  ok(await admin.post(`/tenants/${tenant.id}/apps`, {
    appid: app.appid, name: 'E2E mini-program', secret: app.secret,
  }), 'creating an app');
  const channel = ok(await admin.post(`/tenants/${tenant.id}/channels`, {
    kind: 'wechat-v3', mch_id: merchant.mchId, credentials: v3Credentials(merchant),
  }), 'creating a v3 channel');
  const key = ok(await admin.post(`/tenants/${tenant.id}/api-keys`, {
    name: 'e2e backend', scopes: ALL_SCOPES,
  }), 'creating an API key');
  if (options.webhook) {
    ok(await admin.put(`/tenants/${tenant.id}/webhook`, { url: WEBHOOK_RECEIVER_URL }), 'setting the webhook');
  }
  return {
    id: tenant.id, name, appid: app.appid, mchId: merchant.mchId, channelId: channel.id,
    apiKey: key.secret,
  };
}

/**
 * A whole JSAPI payment: the backend creates the order (API key), a simulated user logs in to
 * the mini-program and pays (session), the simulator settles it and notifies paygate; waits
 * until the tenant API says PAID.
 * @param {{ apiKey: string, appid: string, amount: number, channelId?: string,
 *   outTradeNo?: string, timeout?: number }} input
 * @returns {Promise<any>} the order as `GET /v1/orders/{id}` returns it
 */
export async function payOrder(input) {
  const backend = new TenantApi(input.apiKey);
  const order = ok(await backend.post('/orders', {
    amount: input.amount,
    description: 'E2E test order',
    out_trade_no: input.outTradeNo ?? outTradeNo(),
    ...(input.channelId ? { channel_id: input.channelId } : {}),
  }), 'creating an order');

  const { openid } = ok(await sim.post(`/sim/apps/${input.appid}/users`), 'creating a simulator user');
  const { code } = ok(await sim.post(`/sim/apps/${input.appid}/users/${openid}/login-code`), 'wx.login');
  const session = ok(await request(`${PAYGATE_URL}/v1/apps/${input.appid}/sessions`, { body: { code } }),
    'creating a mini-program session');
  const pay = ok(await new TenantApi(session.session_token).post(`/orders/${order.id}/pay`, {
    trade_type: 'jsapi',
  }), 'paying (prepay)');
  ok(await sim.post('/sim/request-payment', {
    ...pay.request_payment, appid: input.appid, openid, result: 'success',
  }), 'wx.requestPayment');
  // Deliver the payment notification now instead of waiting for the simulator's ticker.
  ok(await sim.post('/sim/notifications/deliver'), 'delivering notifications');

  return eventually(async () => {
    const current = ok(await backend.get(`/orders/${order.id}`), 'reading the order');
    if (current.state !== 'PAID') throw new Error(`order ${order.id} is ${current.state}`);
    return current;
  }, { timeout: input.timeout ?? 20_000, what: `order ${order.id} PAID` });
}
