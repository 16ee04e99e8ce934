// @ts-check
/**
 * Console interactions several tests share, written against the UI contract
 * (admin/CONTRACT.md): accessible names, `name=`/`data-field` of form fields, `data-testid`.
 */
import assert from 'node:assert/strict';

import { CONSOLE_URL } from './env.js';

/** @typedef {import('playwright-core').Page} Page */
/** @typedef {import('playwright-core').Locator} Locator */

/**
 * Opens a tenant's tab by route and waits for the tab to be the selected one.
 * @param {Page} page
 * @param {string} tenantId
 * @param {string} tab one of apps|channels|api-keys|webhook|orders|refunds|notifications|events
 */
export async function openTenantTab(page, tenantId, tab) {
  await page.goto(`${CONSOLE_URL}#/tenants/${tenantId}/${tab}`);
  await page.waitForURL((url) => url.hash.startsWith(`#/tenants/${tenantId}/${tab}`));
  await page.getByRole('tablist').waitFor();
}

/**
 * The form control of an API field (`name="<field>"`, e.g. `credentials.apiv3_key`).
 * @param {Page | Locator} scope
 * @param {string} field
 */
export function field(scope, field) {
  return scope.locator(`[data-field="${field}"] [name="${field}"]`);
}

/**
 * The error shown for an API field, asserted to be next to the field: inside its wrapper or
 * referenced by the control's aria-describedby.
 * @param {Page} page
 * @param {string} name
 * @returns {Promise<string>} the error's text
 */
export async function fieldError(page, name) {
  const error = page.locator(`[data-field-error="${name}"]`);
  await error.filter({ hasText: /\S/ }).waitFor();
  assert.equal(await error.getAttribute('role'), 'alert', `the error of ${name} is role=alert`);
  const inWrapper = await page.locator(`[data-field="${name}"] [data-field-error="${name}"]`).count();
  if (inWrapper === 0) {
    const id = await error.getAttribute('id');
    const describedBy = (await page.locator(`[name="${name}"]`).getAttribute('aria-describedby')) ?? '';
    assert.ok(id && describedBy.split(/\s+/).includes(id),
      `the error of ${name} is inside [data-field="${name}"] or named by its aria-describedby`);
  }
  return (await error.innerText()).trim();
}

/**
 * Integer fen as the console shows money: 123456 → "¥1,234.56" (an independent formatter).
 * @param {number} fen
 */
export function yuan(fen) {
  const whole = Math.trunc(fen / 100).toString().replace(/\B(?=(\d{3})+(?!\d))/g, ',');
  return `¥${whole}.${String(fen % 100).padStart(2, '0')}`;
}

/**
 * Waits until the current page has its heading and no "Loading…" placeholder is left, i.e.
 * its data arrived (an empty list counts).
 * @param {Page} page
 * @param {string | RegExp} [heading] the page's `<h1>`, when known
 */
export async function settled(page, heading) {
  await page.getByRole('heading', { level: 1, ...(heading ? { name: heading } : {}) }).first().waitFor();
  await page.getByText(/^(Loading…|加载中…)$/).first().waitFor({ state: 'hidden' });
}
