// @ts-check
// A phone-sized screen (375×800): the navigation is behind a menu button and no page scrolls
// sideways.
import assert from 'node:assert/strict';

import { mainNav, signIn, uiTest } from '../lib/browser.js';
import { onboardTenantViaApi, payOrder } from '../lib/fixtures.js';
import { openTenantTab, settled } from '../lib/ui.js';

/** @param {import('playwright-core').Page} page */
async function assertNoSidewaysScroll(page) {
  const { scrollWidth, innerWidth } = await page.evaluate(() => ({
    scrollWidth: document.documentElement.scrollWidth,
    innerWidth: window.innerWidth,
  }));
  assert.ok(scrollWidth <= innerWidth, `${page.url()}: scrollWidth ${scrollWidth} <= innerWidth ${innerWidth}`);
}

uiTest('at 375×800 the navigation opens from a menu button and nothing overflows', {
  timeout: 120_000,
  contextOptions: { viewport: { width: 375, height: 800 }, isMobile: true, hasTouch: true },
}, async (page) => {
  const tenant = await onboardTenantViaApi({ webhook: true });
  await payOrder({ apiKey: tenant.apiKey, appid: tenant.appid, amount: 4321 });

  await signIn(page);
  await page.getByTestId('stat-orders-created').waitFor();
  await assertNoSidewaysScroll(page);

  const tenantsLink = mainNav(page).getByRole('link', { name: 'Tenants', exact: true });
  assert.equal(await tenantsLink.isVisible(), false, 'the navigation is folded away');
  const menu = page.getByRole('button', { name: 'Menu', exact: true });
  assert.equal(await menu.getAttribute('aria-expanded'), 'false');
  await menu.click();
  assert.equal(await menu.getAttribute('aria-expanded'), 'true');
  await tenantsLink.click();
  await page.waitForURL(/#\/tenants$/);
  await page.getByRole('link', { name: tenant.name, exact: true }).waitFor();
  await assertNoSidewaysScroll(page);

  for (const tab of ['orders', 'channels', 'events']) {
    await openTenantTab(page, tenant.id, tab);
    await settled(page);
    await page.getByRole('table').first().waitFor();
    await assertNoSidewaysScroll(page);
  }

  // Every other main page through the menu.
  for (const [name, hash] of [['Alerts', '#/alerts'], ['Audit log', '#/audit'], ['Dashboard', '#/dashboard']]) {
    await menu.click();
    await mainNav(page).getByRole('link', { name, exact: true }).click();
    await page.waitForURL((url) => url.hash.startsWith(hash));
    await settled(page, name);
    await assertNoSidewaysScroll(page);
  }
});
