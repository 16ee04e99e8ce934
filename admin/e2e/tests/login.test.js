// @ts-check
// Signing in and out: with the mouse, by keyboard only, and a wrong password.
import assert from 'node:assert/strict';

import { CONSOLE_URL, OPERATOR } from '../lib/env.js';
import { mainNav, signIn, uiTest } from '../lib/browser.js';

uiTest('signs in with the form, lands on the dashboard, signs out', {}, async (page) => {
  await signIn(page);
  const token = await page.evaluate(() => sessionStorage.getItem('paygate.token'));
  assert.ok(token, 'the token is kept in sessionStorage paygate.token');
  assert.equal(await page.evaluate(() => localStorage.getItem('paygate.token')), null,
    'the token is never in localStorage');
  // Every main page is reachable from the navigation.
  for (const [link, hash] of [['Tenants', '#/tenants'], ['Alerts', '#/alerts'], ['Audit log', '#/audit'], ['Dashboard', '#/dashboard']]) {
    await mainNav(page).getByRole('link', { name: link, exact: true }).click();
    await page.waitForURL((url) => url.hash.startsWith(hash));
  }
  await page.getByRole('button', { name: 'Sign out', exact: true }).click();
  await page.waitForURL(/#\/login/);
  await page.getByRole('button', { name: 'Sign in', exact: true }).waitFor();
  assert.equal(await page.evaluate(() => sessionStorage.getItem('paygate.token')), null,
    'signing out forgets the token');
  // A protected route now leads back to the login page.
  await page.goto(`${CONSOLE_URL}#/tenants`);
  await page.waitForURL(/#\/login/);
});

uiTest('signs in by keyboard only (Tab, typing, Enter)', {}, async (page) => {
  await page.goto(CONSOLE_URL);
  await page.waitForURL(/#\/login/);
  await page.getByLabel('Username', { exact: true }).waitFor();
  // Tab from the top of the page until the username field has the focus.
  const focusedLabel = () => page.evaluate(() => {
    const el = document.activeElement;
    if (!(el instanceof HTMLInputElement)) return null;
    return el.labels?.[0]?.textContent?.trim() ?? null;
  });
  let steps = 0;
  while ((await focusedLabel()) !== 'Username') {
    steps += 1;
    assert.ok(steps <= 10, 'the username field is reachable within 10 Tab presses');
    await page.keyboard.press('Tab');
  }
  await page.keyboard.type(OPERATOR.username);
  await page.keyboard.press('Tab');
  assert.equal(await focusedLabel(), 'Password', 'Tab moves from Username to Password');
  await page.keyboard.type(OPERATOR.password);
  await page.keyboard.press('Enter');
  await page.waitForURL(/#\/dashboard/);
  await mainNav(page).waitFor();
});

uiTest('a wrong password shows an error and keeps the login page', { allowHttpErrors: [401] }, async (page) => {
  await page.goto(`${CONSOLE_URL}#/login`);
  await page.getByLabel('Username', { exact: true }).fill(OPERATOR.username);
  await page.getByLabel('Password', { exact: true }).fill(`${OPERATOR.password}-wrong`);
  await page.getByRole('button', { name: 'Sign in', exact: true }).click();
  await page.getByRole('alert').filter({ hasText: /\S/ }).first().waitFor();
  assert.match(page.url(), /#\/login/);
  assert.equal(await page.evaluate(() => sessionStorage.getItem('paygate.token')), null);
});
