/**
 * The admin API's JSON shapes (`openapi/openapi.json`, `/admin/v1`), as the console uses them.
 * Amounts are integer fen; times are RFC 3339 strings.
 */

export type Role = "admin" | "viewer";

export interface CurrentOperator {
  id: string;
  username: string;
  role: Role;
}

export interface LoginResponse {
  token: string;
  token_type: string;
  expires_at: string;
}

export interface ErrorDetails {
  field?: string | null;
  reason?: string | null;
  required_scope?: string | null;
  retry_after_seconds?: number | null;
  upstream_code?: string | null;
  available_amount?: number | null;
  retryable?: boolean | null;
}

export interface ErrorBody {
  code: string;
  message: string;
  details?: ErrorDetails | null;
}

export interface List<T> {
  data: T[];
  next_cursor?: string | null;
}

export type TenantStatus = "active" | "suspended";

export interface Tenant {
  id: string;
  name: string;
  status: TenantStatus;
  contact_email?: string | null;
  default_channel_id?: string | null;
  created_at: string;
  updated_at: string;
}

export interface App {
  appid: string;
  tenant_id: string;
  name: string;
  created_at: string;
  updated_at: string;
}

export type ChannelKind = "wechat-v2" | "wechat-v3";

export interface CredentialsVersion {
  version: number;
  created_at: string;
  current: boolean;
  retired_at?: string | null;
  appid?: string | null;
  merchant_serial?: string | null;
  certificate_not_after?: string | null;
}

export interface Channel {
  id: string;
  tenant_id: string;
  kind: string;
  mch_id: string;
  name: string;
  status: "active" | "disabled";
  current_version: number;
  created_at: string;
  updated_at: string;
}

export interface ChannelDetail extends Channel {
  versions: CredentialsVersion[];
}

export interface ApiKey {
  id: string;
  tenant_id: string;
  name: string;
  prefix: string;
  scopes: string[];
  created_at: string;
  last_used_at?: string | null;
  revoked_at?: string | null;
}

export interface CreatedApiKey extends ApiKey {
  secret: string;
}

export interface Webhook {
  url: string;
  paused: boolean;
  signing_secret?: string | null;
  disabled_at?: string | null;
  disabled_reason?: string | null;
  created_at: string;
  updated_at: string;
}

export interface PingResult {
  ok: boolean;
  status_code?: number | null;
  latency_ms?: number | null;
  error?: string | null;
}

export interface Order {
  id: string;
  tenant_id: string;
  appid: string;
  channel_id: string;
  out_trade_no: string;
  amount: number;
  currency: string;
  description: string;
  trade_type: string;
  state: string;
  refunded_amount: number;
  transaction_id?: string | null;
  payer_openid?: string | null;
  attach?: string | null;
  paid_at?: string | null;
  expires_at?: string | null;
  created_at: string;
  updated_at: string;
}

export interface Transition {
  from: string;
  to: string;
  cause: string;
  at: string;
}

export interface OrderDetail extends Order {
  history: Transition[];
}

export interface Refund {
  id: string;
  tenant_id: string;
  order_id: string;
  out_refund_no: string;
  amount: number;
  currency: string;
  state: string;
  reason?: string | null;
  refund_id?: string | null;
  succeeded_at?: string | null;
  created_at: string;
  updated_at: string;
}

export interface Notification {
  id: string;
  tenant_id: string;
  channel_id: string;
  kind: string;
  dedupe_key: string;
  verified: boolean;
  outcome: string;
  received_at: string;
}

export interface EventDelivery {
  id: string;
  tenant_id: string;
  event_type: string;
  payload: unknown;
  created_at: string;
  delivery_status: string;
  attempts: number;
  delivered_at?: string | null;
  last_status_code?: number | null;
  last_latency_ms?: number | null;
  next_attempt_at?: string | null;
}

export interface Delivery {
  id: string;
  tenant_id: string;
  event_id: string;
  attempt: number;
  status: string;
  response_status?: number | null;
  latency_ms?: number | null;
  error?: string | null;
  next_attempt_at?: string | null;
  created_at: string;
}

export interface DayStats {
  day: string;
  orders_created: number;
  orders_created_paid: number;
  orders_paid: number;
  paid_amount: number;
  refunds_succeeded: number;
  refunded_amount: number;
  deliveries_succeeded: number;
  deliveries_failed: number;
  currency: string;
}

export interface Stats {
  from: string;
  to: string;
  tenant_id?: string | null;
  days: DayStats[];
}

export interface Alert {
  id: string;
  kind: string;
  severity: string;
  message: string;
  details: unknown;
  tenant_id?: string | null;
  created_at: string;
  resolved_at?: string | null;
}

export interface AuditEntry {
  id: string;
  actor: string;
  action: string;
  target: string;
  summary: unknown;
  tenant_id?: string | null;
  request_id?: string | null;
  at: string;
}
