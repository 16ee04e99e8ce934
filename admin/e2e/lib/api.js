// @ts-check
/**
 * HTTP clients the tests use besides the browser: paygate's admin API (as an operator), its
 * tenant API (as a tenant's backend, with an API key or a mini-program session) and the
 * simulator's `/sim` control API (as WeChat and its users). They return status and parsed
 * body and never throw on a 4xx/5xx, so tests can assert refusals; `ok()` is for set-up
 * steps that must succeed. Secrets are never printed in errors.
 */
import { OPERATOR, PAYGATE_URL, SIM_URL } from './env.js';

/**
 * @typedef {{ status: number, body: any }} Reply
 */

/**
 * @param {string} url
 * @param {{ method?: string, token?: string, body?: unknown }} [options]
 * @returns {Promise<Reply>}
 */
export async function request(url, options = {}) {
  /** @type {Record<string, string>} */
  const headers = { accept: 'application/json' };
  if (options.token) headers.authorization = `Bearer ${options.token}`;
  /** @type {string | undefined} */
  let payload;
  if (options.body !== undefined) {
    headers['content-type'] = 'application/json';
    payload = JSON.stringify(options.body);
  }
  const response = await fetch(url, {
    method: options.method ?? (payload === undefined ? 'GET' : 'POST'),
    headers,
    body: payload,
    signal: AbortSignal.timeout(15_000),
  });
  const text = await response.text();
  let body;
  try {
    body = text ? JSON.parse(text) : null;
  } catch {
    body = text;
  }
  return { status: response.status, body };
}

/**
 * The body of a reply whose status is `expected` (default any 2xx), else a descriptive error.
 * @param {Reply} reply
 * @param {string} what
 * @param {number} [expected]
 */
export function ok(reply, what, expected) {
  const good = expected === undefined ? reply.status >= 200 && reply.status < 300 : reply.status === expected;
  if (!good) {
    const detail = typeof reply.body === 'object' && reply.body !== null
      ? `${reply.body.code ?? ''} ${reply.body.message ?? ''}`.trim()
      : String(reply.body).slice(0, 200);
    throw new Error(`${what}: HTTP ${reply.status}${expected ? ` (wanted ${expected})` : ''}: ${detail}`);
  }
  return reply.body;
}

/** The admin API as one operator. */
export class Admin {
  /** @param {string} token */
  constructor(token) {
    this.token = token;
  }

  /**
   * Logs in (`POST /admin/v1/login`).
   * @param {{ username: string, password: string }} credentials
   */
  static async login(credentials) {
    const reply = await request(`${PAYGATE_URL}/admin/v1/login`, { body: credentials });
    return new Admin(ok(reply, `login as ${credentials.username}`).token);
  }

  /** The demo operator (an admin), logged in once per test process. */
  static demo() {
    adminPromise ??= Admin.login(OPERATOR);
    return adminPromise;
  }

  /** @param {string} path */
  get(path) {
    return request(`${PAYGATE_URL}/admin/v1${path}`, { token: this.token });
  }

  /** @param {string} path @param {unknown} [body] */
  post(path, body = {}) {
    return request(`${PAYGATE_URL}/admin/v1${path}`, { token: this.token, body });
  }

  /** @param {string} path @param {unknown} body */
  put(path, body) {
    return request(`${PAYGATE_URL}/admin/v1${path}`, { token: this.token, body, method: 'PUT' });
  }

  /** @param {string} path @param {unknown} body */
  patch(path, body) {
    return request(`${PAYGATE_URL}/admin/v1${path}`, { token: this.token, body, method: 'PATCH' });
  }
}

/** @type {Promise<Admin> | undefined} */
let adminPromise;

/** The tenant API (`/v1`) with an API key or a mini-program session token. */
export class TenantApi {
  /** @param {string} bearer */
  constructor(bearer) {
    this.bearer = bearer;
  }

  /** @param {string} path */
  get(path) {
    return request(`${PAYGATE_URL}/v1${path}`, { token: this.bearer });
  }

  /** @param {string} path @param {unknown} [body] */
  post(path, body = {}) {
    return request(`${PAYGATE_URL}/v1${path}`, { token: this.bearer, body });
  }
}

/** The simulator's control API. */
export const sim = {
  /** @param {string} path */
  get(path) {
    return request(`${SIM_URL}${path}`);
  },
  /** @param {string} path @param {unknown} [body] */
  post(path, body = {}) {
    return request(`${SIM_URL}${path}`, { body });
  },
};
