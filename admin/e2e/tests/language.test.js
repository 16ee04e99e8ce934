// @ts-check
// Language: switching to Chinese relabels the console and persists across reloads; without
// a stored choice the browser's languages decide (zh-CN → Chinese, en-US → English).
import assert from 'node:assert/strict';

import { CONSOLE_URL } from '../lib/env.js';
import { mainNav, signIn, uiTest } from '../lib/browser.js';

const CHINESE_NAV = ['概览', '商户', '告警', '审计日志'];
const ENGLISH_NAV = ['Dashboard', 'Tenants', 'Alerts', 'Audit log'];

/**
 * @param {import('playwright-core').Page} page
 * @param {string[]} names
 */
async function assertNav(page, names) {
  for (const name of names) {
    await mainNav(page).getByRole('link', { name, exact: true }).waitFor();
  }
}

uiTest('switches to Chinese and keeps the choice across reloads', {}, async (page) => {
  await signIn(page);
  await assertNav(page, ENGLISH_NAV);
  await page.getByLabel('Language', { exact: true }).selectOption('zh-CN');
  await assertNav(page, CHINESE_NAV);
  await page.getByRole('button', { name: '退出登录', exact: true }).waitFor();
  await page.getByLabel('语言', { exact: true }).waitFor();
  assert.equal(await page.evaluate(() => document.documentElement.lang), 'zh-CN');
  assert.equal(await page.evaluate(() => localStorage.getItem('paygate.lang')), 'zh-CN');
  for (const english of ENGLISH_NAV) {
    assert.equal(await mainNav(page).getByRole('link', { name: english, exact: true }).count(), 0,
      `no English "${english}" left in the navigation`);
  }

  await page.reload();
  await assertNav(page, CHINESE_NAV);
  assert.equal(await page.evaluate(() => document.documentElement.lang), 'zh-CN');

  // Back to English, which persists too.
  await page.getByLabel('语言', { exact: true }).selectOption('en');
  await assertNav(page, ENGLISH_NAV);
  await page.reload();
  await assertNav(page, ENGLISH_NAV);
  assert.equal(await page.evaluate(() => document.documentElement.lang), 'en');
  assert.equal(await page.evaluate(() => localStorage.getItem('paygate.lang')), 'en');
});

uiTest('a zh-CN browser gets Chinese by default', { contextOptions: { locale: 'zh-CN' } }, async (page) => {
  await page.goto(CONSOLE_URL);
  await page.getByRole('button', { name: '登录', exact: true }).waitFor();
  assert.equal(await page.evaluate(() => document.documentElement.lang), 'zh-CN');
  assert.equal(await page.getByRole('button', { name: 'Sign in', exact: true }).count(), 0);
});

uiTest('an en-US browser gets English by default', { contextOptions: { locale: 'en-US' } }, async (page) => {
  await page.goto(CONSOLE_URL);
  await page.getByRole('button', { name: 'Sign in', exact: true }).waitFor();
  assert.equal(await page.evaluate(() => document.documentElement.lang), 'en');
  assert.equal(await page.getByRole('button', { name: '登录', exact: true }).count(), 0);
});

uiTest('a stored choice beats the browser\'s language', { contextOptions: { locale: 'zh-CN' } }, async (page) => {
  await page.goto(CONSOLE_URL);
  await page.evaluate(() => localStorage.setItem('paygate.lang', 'en'));
  await page.reload();
  await page.getByRole('button', { name: 'Sign in', exact: true }).waitFor();
  assert.equal(await page.evaluate(() => document.documentElement.lang), 'en');
});
