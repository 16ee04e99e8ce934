// @ts-check
/**
 * What the tests know about the running paygate: read from the environment that `run.sh`
 * exports after starting `paygate serve --sim` and reading its `demo.json`. Nothing here
 * starts or stops anything; a missing variable is an immediate, named error.
 */
import path from 'node:path';
import { fileURLToPath } from 'node:url';

/** @param {string} name */
function required(name) {
  const value = process.env[name];
  if (!value) {
    throw new Error(`${name} is not set: run the tests through admin/e2e/run.sh`);
  }
  return value;
}

const here = path.dirname(fileURLToPath(import.meta.url));

/** The e2e project's folder (`admin/e2e`). */
export const E2E_DIR = path.resolve(here, '..');
/** The repository's root. */
export const REPO_DIR = path.resolve(E2E_DIR, '..', '..');
/** Where failure screenshots and logs go (gitignored). */
export const ARTIFACTS_DIR = path.join(E2E_DIR, 'artifacts');

/** The paygate server, e.g. `http://127.0.0.1:41234` (no trailing slash). */
export const PAYGATE_URL = required('PAYGATE_URL').replace(/\/+$/, '');
/** The only origin a console page may talk to. */
export const PAYGATE_ORIGIN = new URL(PAYGATE_URL).origin;
/** The console's entry point. */
export const CONSOLE_URL = `${PAYGATE_URL}/admin/`;
/** The in-process WeChat simulator's plain-HTTP base URL (its `/sim` control API). */
export const SIM_URL = required('PAYGATE_SIM_URL').replace(/\/+$/, '');
/** paygate's data directory (holds `jwt.secret`, used to mint an expired token). */
export const DATA_DIR = required('PAYGATE_DATA_DIR');

/** The demo operator (an admin). */
export const OPERATOR = {
  username: required('PAYGATE_OPERATOR_USERNAME'),
  password: required('PAYGATE_OPERATOR_PASSWORD'),
};

/** The demo's local webhook receiver (`GET` lists what arrived). */
export const WEBHOOK_RECEIVER_URL = required('PAYGATE_WEBHOOK_RECEIVER_URL');

/** The Chromium binary (Debian's package). */
export const CHROMIUM = process.env.PAYGATE_CHROMIUM || '/usr/bin/chromium';

/** The repository's throwaway merchant certificate and key (fixtures/wechatpay/v2). */
export const FIXTURES = {
  merchantCertPem: path.join(REPO_DIR, 'fixtures', 'wechatpay', 'v2', 'apiclient_cert.pem'),
  merchantKeyPem: path.join(REPO_DIR, 'fixtures', 'wechatpay', 'v2', 'apiclient_key.pem'),
};

/** The demo tenant seeded by `serve --sim`, its mini-program and an API key with every scope. */
export const DEMO = {
  tenantId: required('PAYGATE_DEMO_TENANT_ID'),
  appid: required('PAYGATE_DEMO_APPID'),
  apiKey: required('PAYGATE_DEMO_API_KEY'),
};
