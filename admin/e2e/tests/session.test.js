// @ts-check
// A token the API refuses — garbage, or genuine but expired — sends the console back to the
// login page instead of leaving a broken screen.
import assert from 'node:assert/strict';
import { createHmac } from 'node:crypto';
import { readFileSync } from 'node:fs';
import path from 'node:path';

import { Admin } from '../lib/api.js';
import { CONSOLE_URL, DATA_DIR } from '../lib/env.js';
import { uiTest } from '../lib/browser.js';

/**
 * A genuine operator token (right key, issuer, audience, subject) that expired a minute ago:
 * a real token's claims with `iat`/`exp` moved into the past, signed with the server's HS256
 * secret from `<data_dir>/jwt.secret`.
 */
async function expiredToken() {
  const live = (await Admin.demo()).token;
  const [header, payload] = live.split('.');
  const claims = JSON.parse(Buffer.from(payload, 'base64url').toString('utf8'));
  const now = Math.floor(Date.now() / 1000);
  claims.iat = now - 960;
  claims.exp = now - 60;
  const body = `${header}.${Buffer.from(JSON.stringify(claims)).toString('base64url')}`;
  const secret = readFileSync(path.join(DATA_DIR, 'jwt.secret'), 'utf8').trim();
  const signature = createHmac('sha256', secret).update(body).digest('base64url');
  return `${body}.${signature}`;
}

/**
 * @param {import('playwright-core').Page} page
 * @param {string} token
 */
async function assertBackToLogin(page, token) {
  await page.goto(`${CONSOLE_URL}#/login`);
  await page.evaluate((t) => sessionStorage.setItem('paygate.token', t), token);
  await page.goto(`${CONSOLE_URL}#/tenants`);
  await page.reload();
  await page.waitForURL(/#\/login/);
  await page.getByRole('button', { name: 'Sign in', exact: true }).waitFor();
  await page.getByLabel('Username', { exact: true }).waitFor();
  await page.waitForFunction(() => sessionStorage.getItem('paygate.token') === null);
}

uiTest('a garbage token in sessionStorage leads back to the login page', { allowHttpErrors: [401] }, async (page) => {
  await assertBackToLogin(page, 'not-a-jwt');
});

uiTest('an expired token leads back to the login page and says so', { allowHttpErrors: [401] }, async (page) => {
  const token = await expiredToken();
  // The server agrees the token is expired (so the test checks what it claims to).
  const probe = await fetch(`${CONSOLE_URL.replace(/\/admin\/$/, '')}/admin/v1/tenants`, {
    headers: { authorization: `Bearer ${token}` },
  });
  assert.equal(probe.status, 401);
  assert.equal((await probe.json()).code, 'token_expired');
  await assertBackToLogin(page, token);
  await page.getByRole('alert').filter({ hasText: /session has expired/i }).waitFor();
});
