// @ts-check
/**
 * Regenerates admin/screenshots/*.png: every main page of the console (login, dashboard,
 * tenants, each tenant tab, alerts, audit log) at 1280 px in English, the dashboard and the
 * tenants list at 375 px, and a few pages in Chinese, over the demo tenant after a couple of
 * real payments (and a refund) so the tables are not empty. Run through `run.sh --screenshots`,
 * which starts the server. Pages are captured under the same guards as the tests: a foreign
 * request or a console error fails the run.
 */
import { mkdirSync, readdirSync, rmSync } from 'node:fs';
import path from 'node:path';

import { TenantApi, ok, sim } from './lib/api.js';
import { closeBrowser, openGuarded, signIn } from './lib/browser.js';
import { CONSOLE_URL, DEMO, E2E_DIR } from './lib/env.js';
import { payOrder } from './lib/fixtures.js';
import { settled } from './lib/ui.js';
import { eventually } from './lib/poll.js';

const OUT = path.resolve(E2E_DIR, '..', 'screenshots');
const TABS = ['apps', 'channels', 'api-keys', 'webhook', 'orders', 'refunds', 'notifications', 'events'];

/** @typedef {import('playwright-core').Page} Page */

/**
 * @typedef {{ file: string, route: string, ready: (page: Page) => Promise<unknown> }} Shot
 */

/** @type {Shot[]} */
const PAGES = [
  { file: 'dashboard', route: '/dashboard', ready: async (p) => { await settled(p); await p.getByTestId('stat-orders-created').waitFor(); } },
  { file: 'tenants', route: '/tenants', ready: (p) => settled(p) },
  ...TABS.map((tab) => ({ file: `tenant-${tab}`, route: `/tenants/${DEMO.tenantId}/${tab}`, ready: (/** @type {Page} */ p) => settled(p) })),
  { file: 'alerts', route: '/alerts', ready: (p) => settled(p) },
  { file: 'audit', route: '/audit', ready: (p) => settled(p) },
];

async function seedActivity() {
  const backend = new TenantApi(DEMO.apiKey);
  for (const amount of [1999, 4500]) await payOrder({ apiKey: DEMO.apiKey, appid: DEMO.appid, amount });
  const orders = ok(await backend.get('/orders?state=PAID&limit=1'), 'listing orders').data;
  const refund = ok(await backend.post(`/orders/${orders[0].id}/refunds`, { amount: 500, reason: 'screenshot demo' }), 'refunding');
  ok(await sim.post(`/sim/refunds/${refund.out_refund_no}/settle`, { result: 'success' }), 'settling the refund');
  ok(await sim.post('/sim/notifications/deliver'), 'delivering notifications');
  await eventually(async () => {
    const r = ok(await backend.get(`/refunds/${refund.id}`), 'reading the refund');
    if (r.state !== 'SUCCESS') throw new Error(`refund ${r.state}`);
  }, { timeout: 20_000, what: 'the refund settled' });
}

/**
 * @param {{ lang: 'en' | 'zh-CN', width: number, shots: Shot[], login?: boolean }} set
 */
async function capture(set) {
  const { context, page, verdict } = await openGuarded({
    contextOptions: {
      locale: set.lang === 'en' ? 'en-US' : 'zh-CN',
      viewport: { width: set.width, height: 800 },
      ...(set.width < 600 ? { isMobile: true, hasTouch: true } : {}),
    },
  });
  /** @param {string} name */
  const shoot = async (name) => {
    await page.waitForLoadState('networkidle');
    const file = path.join(OUT, `${name}-${set.lang}-${set.width}.png`);
    await page.screenshot({ path: file, fullPage: true, animations: 'disabled', caret: 'hide' });
    console.log(`wrote ${path.relative(path.resolve(E2E_DIR, '..', '..'), file)}`);
  };
  try {
    if (set.login) {
      await page.goto(`${CONSOLE_URL}#/login`);
      await page.getByRole('button', { name: set.lang === 'en' ? 'Sign in' : '登录', exact: true }).waitFor();
      await shoot('login');
    }
    await page.goto(`${CONSOLE_URL}#/login`);
    // Sign in in English (the helper uses the English labels), then switch.
    await page.evaluate(() => localStorage.setItem('paygate.lang', 'en'));
    await page.reload();
    await signIn(page);
    if (set.lang !== 'en') await page.evaluate((l) => localStorage.setItem('paygate.lang', l), set.lang);
    for (const shot of set.shots) {
      await page.goto(`${CONSOLE_URL}#${shot.route}`);
      await page.reload();
      await shot.ready(page);
      await shoot(shot.file);
    }
    verdict();
  } finally {
    await context.close();
  }
}

mkdirSync(OUT, { recursive: true });
for (const f of readdirSync(OUT)) if (f.endsWith('.png')) rmSync(path.join(OUT, f));
await seedActivity();
const pick = (/** @type {string[]} */ names) => PAGES.filter((p) => names.includes(p.file));
await capture({ lang: 'en', width: 1280, shots: PAGES, login: true });
await capture({ lang: 'en', width: 375, shots: pick(['dashboard', 'tenants']) });
await capture({ lang: 'zh-CN', width: 1280, shots: pick(['dashboard', 'tenants', 'tenant-orders']), login: true });
await closeBrowser();
