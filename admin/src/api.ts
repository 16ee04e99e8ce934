/**
 * The typed client of the public admin API (`/admin/v1`). Every call of the console goes
 * through `request`, which adds the bearer token, decodes the error envelope into
 * `ApiFailure`, and reports any 401 (outside login) to the session so the app returns to the
 * login page. It never logs or stores anything but the token in sessionStorage.
 */
import type {
  AddCredentialsBody, CreateChannelBody,
} from "./channelform";
import type {
  Alert, ApiKey, App, AuditEntry, ChannelDetail, Channel, CreatedApiKey, CredentialsVersion,
  CurrentOperator, Delivery, ErrorDetails, EventDelivery, List, LoginResponse, Notification,
  Order, OrderDetail, PingResult, Refund, Stats, Tenant, TenantStatus, Webhook,
} from "./types";

export const BASE = "/admin/v1";
export const TOKEN_KEY = "paygate.token";

/** A non-2xx answer (or a network failure, `status` 0, code `network_error`). */
export class ApiFailure extends Error {
  constructor(
    readonly status: number,
    readonly code: string,
    message: string,
    readonly details: ErrorDetails | null,
  ) {
    super(message);
  }
}

let unauthorized: () => void = () => {};

/** Sets what happens on a 401 (the app clears the session and shows the login page). */
export function onUnauthorized(handler: () => void): void {
  unauthorized = handler;
}

export function getToken(): string | null {
  try {
    return sessionStorage.getItem(TOKEN_KEY);
  } catch {
    return null;
  }
}

export function setToken(token: string | null): void {
  try {
    if (token === null) sessionStorage.removeItem(TOKEN_KEY);
    else sessionStorage.setItem(TOKEN_KEY, token);
  } catch {
    /* storage disabled: the session lasts as long as the page */
  }
}

/** Query parameters; blank, null and undefined values are left out. */
export type Query = object;

function queryString(q: Query | undefined): string {
  if (!q) return "";
  const p = new URLSearchParams();
  for (const [k, v] of Object.entries(q) as [string, unknown][]) {
    if (v === null || v === undefined || v === "") continue;
    p.set(k, String(v));
  }
  const s = p.toString();
  return s ? `?${s}` : "";
}

const seg = encodeURIComponent;

async function request<T>(method: string, path: string, opts: { query?: Query; body?: unknown } = {}): Promise<T> {
  const headers: Record<string, string> = { Accept: "application/json" };
  const token = getToken();
  if (token) headers.Authorization = `Bearer ${token}`;
  if (opts.body !== undefined) headers["Content-Type"] = "application/json";
  let res: Response;
  try {
    res = await fetch(BASE + path + queryString(opts.query), {
      method,
      headers,
      body: opts.body === undefined ? null : JSON.stringify(opts.body),
      credentials: "omit",
      cache: "no-store",
    });
  } catch {
    throw new ApiFailure(0, "network_error", "network error", null);
  }
  const text = await res.text();
  let json: unknown = null;
  try {
    json = text ? JSON.parse(text) : null;
  } catch {
    json = null;
  }
  if (!res.ok) {
    const body = (json ?? {}) as { code?: string; message?: string; details?: ErrorDetails | null };
    const failure = new ApiFailure(res.status, body.code ?? `http_${res.status}`, body.message ?? res.statusText, body.details ?? null);
    if (res.status === 401 && path !== "/login") unauthorized();
    throw failure;
  }
  return json as T;
}

export interface Page {
  cursor?: string | null;
  limit?: number;
}

export const api = {
  login: (username: string, password: string) => request<LoginResponse>("POST", "/login", { body: { username, password } }),
  me: () => request<CurrentOperator>("GET", "/me"),

  stats: (q: { from?: string; to?: string; tenant_id?: string }) => request<Stats>("GET", "/stats", { query: q }),
  alerts: (q: { unresolved?: boolean; tenant_id?: string } & Page) => request<List<Alert>>("GET", "/alerts", { query: q }),
  audit: (q: { tenant_id?: string } & Page) => request<List<AuditEntry>>("GET", "/audit-log", { query: q }),

  tenants: (q: { q?: string; status?: TenantStatus | "" } & Page) => request<List<Tenant>>("GET", "/tenants", { query: q }),
  tenant: (id: string) => request<Tenant>("GET", `/tenants/${seg(id)}`),
  createTenant: (body: { name: string; contact_email?: string | null }) => request<Tenant>("POST", "/tenants", { body }),
  suspendTenant: (id: string) => request<Tenant>("POST", `/tenants/${seg(id)}/suspend`),
  resumeTenant: (id: string) => request<Tenant>("POST", `/tenants/${seg(id)}/resume`),

  apps: (t: string) => request<List<App>>("GET", `/tenants/${seg(t)}/apps`),
  createApp: (t: string, body: { appid: string; name: string; secret: string }) => request<App>("POST", `/tenants/${seg(t)}/apps`, { body }),

  channels: (t: string, q: Page) => request<List<Channel>>("GET", `/tenants/${seg(t)}/channels`, { query: { ...q } }),
  channel: (t: string, c: string) => request<ChannelDetail>("GET", `/tenants/${seg(t)}/channels/${seg(c)}`),
  createChannel: (t: string, body: CreateChannelBody) => request<ChannelDetail>("POST", `/tenants/${seg(t)}/channels`, { body }),
  addCredentials: (t: string, c: string, body: AddCredentialsBody) =>
    request<CredentialsVersion>("POST", `/tenants/${seg(t)}/channels/${seg(c)}/credentials`, { body }),
  retireCredentials: (t: string, c: string, version: number) =>
    request<CredentialsVersion>("DELETE", `/tenants/${seg(t)}/channels/${seg(c)}/credentials/${version}`),

  apiKeys: (t: string, q: Page) => request<List<ApiKey>>("GET", `/tenants/${seg(t)}/api-keys`, { query: { ...q } }),
  createApiKey: (t: string, body: { name: string; scopes: string[] }) => request<CreatedApiKey>("POST", `/tenants/${seg(t)}/api-keys`, { body }),
  revokeApiKey: (t: string, k: string) => request<ApiKey>("DELETE", `/tenants/${seg(t)}/api-keys/${seg(k)}`),

  webhook: (t: string) => request<Webhook>("GET", `/tenants/${seg(t)}/webhook`),
  putWebhook: (t: string, url: string) => request<Webhook>("PUT", `/tenants/${seg(t)}/webhook`, { body: { url } }),
  rotateWebhookSecret: (t: string) => request<{ signing_secret: string }>("POST", `/tenants/${seg(t)}/webhook/rotate-secret`),
  pauseWebhook: (t: string) => request<Webhook>("POST", `/tenants/${seg(t)}/webhook/pause`),
  resumeWebhook: (t: string) => request<Webhook>("POST", `/tenants/${seg(t)}/webhook/resume`),
  pingWebhook: (t: string) => request<PingResult>("POST", `/tenants/${seg(t)}/webhook/ping`),

  orders: (t: string, q: { state?: string; out_trade_no?: string; from?: string; to?: string } & Page) =>
    request<List<Order>>("GET", `/tenants/${seg(t)}/orders`, { query: q }),
  order: (t: string, o: string) => request<OrderDetail>("GET", `/tenants/${seg(t)}/orders/${seg(o)}`),
  refunds: (t: string, q: { order_id?: string } & Page) => request<List<Refund>>("GET", `/tenants/${seg(t)}/refunds`, { query: q }),
  notifications: (t: string, q: Page) => request<List<Notification>>("GET", `/tenants/${seg(t)}/notifications`, { query: { ...q } }),
  events: (t: string, q: Page) => request<List<EventDelivery>>("GET", `/tenants/${seg(t)}/events`, { query: { ...q } }),
  deliveries: (t: string, q: { event_id?: string } & Page) => request<List<Delivery>>("GET", `/tenants/${seg(t)}/webhook-deliveries`, { query: q }),
  resendEvent: (t: string, e: string) => request<EventDelivery>("POST", `/tenants/${seg(t)}/events/${seg(e)}/resend`),
  resendFailed: (t: string, body: { from: string; to: string }) => request<{ resent: number }>("POST", `/tenants/${seg(t)}/events/resend`, { body }),
};
