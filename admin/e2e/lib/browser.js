// @ts-check
/**
 * Headless Debian Chromium through playwright-core, and `uiTest`, the wrapper every browser
 * test uses. Each test gets a fresh context (fresh storage; the browser itself runs with a
 * fresh --user-data-dir) and page, and guards that fail the test on their own:
 *  - every request the page makes must go to the paygate server (data: URLs allowed);
 *  - no console error, uncaught page error or CSP violation (an HTTP error status the test
 *    provokes on purpose is allowed only when listed in `allowHttpErrors`);
 * On failure a full-page screenshot and a log of the page's requests and console go to
 * `admin/e2e/artifacts/`.
 */
import { mkdirSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { after, test } from 'node:test';

import { chromium } from 'playwright-core';

import { ARTIFACTS_DIR, CHROMIUM, CONSOLE_URL, OPERATOR, PAYGATE_ORIGIN } from './env.js';

/** @typedef {import('playwright-core').Browser} Browser */
/** @typedef {import('playwright-core').BrowserContext} BrowserContext */
/** @typedef {import('playwright-core').Page} Page */
/** @typedef {import('playwright-core').BrowserContextOptions} ContextOptions */

/** Flags for a closed network and a root user (the sandbox needs an unprivileged user). */
export const CHROMIUM_ARGS = [
  '--no-sandbox',
  '--disable-background-networking',
  '--disable-component-update',
  '--disable-sync',
  '--disable-gpu',
  '--disable-quic',
  '--no-first-run',
  '--disable-default-apps',
  '--disable-extensions',
];

/** @type {Promise<Browser> | undefined} */
let launched;

/**
 * One Chromium per test file (playwright-core gives it a fresh temporary --user-data-dir and
 * removes it on close); every test opens its own context from it.
 * @returns {Promise<Browser>}
 */
export function browser() {
  launched ??= chromium.launch({ executablePath: CHROMIUM, headless: true, args: CHROMIUM_ARGS });
  return launched;
}

/** Closes the browser, if one was started. */
export async function closeBrowser() {
  const b = launched;
  launched = undefined;
  if (b) await (await b).close();
}

let closesAfterTests = false;

/**
 * What a page did that the guards judge.
 * @typedef {{ requests: string[], foreign: string[], errors: string[], log: string[] }} Watch
 */

/**
 * Records requests and console output of every page of `context`.
 * @param {BrowserContext} context
 * @param {number[]} allowHttpErrors statuses a test provokes on purpose
 * @returns {Watch}
 */
function watch(context, allowHttpErrors) {
  /** @type {Watch} */
  const w = { requests: [], foreign: [], errors: [], log: [] };
  context.on('request', (req) => {
    const url = req.url();
    w.requests.push(`${req.method()} ${url}`);
    w.log.push(`request ${req.method()} ${url}`);
    if (url.startsWith('data:')) return;
    let origin = 'unparseable';
    try {
      origin = new URL(url).origin;
    } catch { /* counted as foreign below */ }
    if (origin !== PAYGATE_ORIGIN) w.foreign.push(url);
  });
  context.on('response', (res) => {
    w.log.push(`response ${res.status()} ${res.request().method()} ${res.url()}`);
  });
  context.on('console', (msg) => {
    const text = msg.text();
    w.log.push(`console.${msg.type()} ${text}`);
    if (msg.type() !== 'error') return;
    const http = /^Failed to load resource: the server responded with a status of (\d{3})/.exec(text);
    if (http && allowHttpErrors.includes(Number(http[1]))) return;
    w.errors.push(`console error: ${text} (${msg.location().url})`);
  });
  context.on('weberror', (err) => {
    w.log.push(`pageerror ${err.error().message}`);
    w.errors.push(`uncaught page error: ${err.error().stack ?? err.error().message}`);
  });
  return w;
}

/**
 * Makes CSP violations loud even where Chromium would only report them: every page reports
 * them as console errors, which the guard catches.
 */
const CSP_REPORTER = `
  document.addEventListener('securitypolicyviolation', (e) => {
    console.error('CSP violation: ' + e.violatedDirective + ' blocked ' + (e.blockedURI || '(inline)'));
  });
`;

/**
 * @typedef {{
 *   timeout?: number,
 *   contextOptions?: ContextOptions,
 *   allowHttpErrors?: number[],
 * }} UiTestOptions
 */

/**
 * A fresh guarded context and page (English, 1280×800 unless told otherwise). `verdict()`
 * throws when a guard was tripped.
 * @param {UiTestOptions} options
 */
export async function openGuarded(options = {}) {
  const b = await browser();
  const context = await b.newContext({
    locale: 'en-US',
    viewport: { width: 1280, height: 800 },
    ...options.contextOptions,
  });
  context.setDefaultTimeout(10_000);
  context.setDefaultNavigationTimeout(15_000);
  await context.addInitScript(CSP_REPORTER);
  const w = watch(context, options.allowHttpErrors ?? []);
  const page = await context.newPage();
  const verdict = () => {
    if (w.foreign.length > 0) {
      throw new Error(`requests left the paygate server (${PAYGATE_ORIGIN}):\n  ${w.foreign.join('\n  ')}`);
    }
    if (w.errors.length > 0) {
      throw new Error(`the page reported errors:\n  ${w.errors.join('\n  ')}`);
    }
  };
  return { context, page, watch: w, verdict };
}

/**
 * A browser test: a guarded context and page, the guards' verdict after the body, a failure
 * screenshot.
 * @param {string} name
 * @param {UiTestOptions} options
 * @param {(page: Page, context: BrowserContext, watch: Watch) => Promise<void>} body
 */
export function uiTest(name, options, body) {
  if (!closesAfterTests) {
    closesAfterTests = true;
    after(closeBrowser);
  }
  test(name, { timeout: options.timeout ?? 90_000 }, async () => {
    const { context, page, watch: w, verdict } = await openGuarded(options);
    try {
      await body(page, context, w);
      verdict();
    } catch (err) {
      await saveArtifacts(name, context, w);
      throw err;
    } finally {
      await context.close();
    }
  });
}

/**
 * @param {string} name
 * @param {BrowserContext} context
 * @param {Watch} w
 */
async function saveArtifacts(name, context, w) {
  mkdirSync(ARTIFACTS_DIR, { recursive: true });
  const slug = name.toLowerCase().replace(/[^a-z0-9]+/g, '-').replace(/^-|-$/g, '').slice(0, 80);
  const pages = context.pages();
  for (const [i, p] of pages.entries()) {
    const file = path.join(ARTIFACTS_DIR, `${slug}${pages.length > 1 ? `-${i}` : ''}.png`);
    await p.screenshot({ path: file, fullPage: true }).catch(() => {});
  }
  const urls = pages.map((p) => `page url ${p.url()}`);
  writeFileSync(path.join(ARTIFACTS_DIR, `${slug}.log`), [...urls, ...w.log, ...w.errors].join('\n') + '\n');
}

/**
 * Opens the console and signs in through the login form.
 * @param {Page} page
 * @param {{ username: string, password: string }} [who]
 */
export async function signIn(page, who = OPERATOR) {
  await page.goto(`${CONSOLE_URL}#/login`);
  await page.getByLabel('Username', { exact: true }).fill(who.username);
  await page.getByLabel('Password', { exact: true }).fill(who.password);
  await page.getByRole('button', { name: 'Sign in', exact: true }).click();
  await page.waitForURL(/#\/dashboard/);
  // Attached, not necessarily visible: on a narrow screen it is folded behind the menu.
  await mainNav(page).waitFor({ state: 'attached' });
}

/**
 * The console's main navigation.
 * @param {Page} page
 */
export function mainNav(page) {
  // includeHidden: on a narrow screen the navigation exists but is folded away.
  return page.getByRole('navigation', { includeHidden: true })
    .filter({ has: page.getByRole('link', { name: /^(Dashboard|概览)$/, includeHidden: true }) });
}

/**
 * Goes to a console route (`#/…`) of the signed-in app and waits for it to be current.
 * @param {Page} page
 * @param {string} route e.g. `/tenants/ten_…/orders`
 */
export async function goRoute(page, route) {
  await page.goto(`${CONSOLE_URL}#${route}`);
  await page.waitForURL((url) => url.hash === `#${route}` || url.hash.startsWith(`#${route}?`));
}
