/**
 * The channel credential form as data: which fields each provider kind needs (named by the
 * API's field paths, so errors in `details.field` land next to them) and how the typed values
 * become the API's credentials document. Pure: no DOM, no network.
 */
import type { MessageKey } from "./i18n";
import type { ChannelKind } from "./types";

export type FieldInput = "text" | "secret" | "pem" | "select";

export interface CredField {
  /** API field path, e.g. `credentials.apiv3_key`. */
  path: string;
  label: MessageKey;
  input: FieldInput;
  required: boolean;
  options?: readonly string[];
  /** Secrets are sent once and never shown again (inputs are cleared after saving). */
  secret: boolean;
}

export const KINDS: readonly ChannelKind[] = ["wechat-v2", "wechat-v3"];

const V2: readonly CredField[] = [
  { path: "credentials.appid", label: "ch.appid", input: "text", required: true, secret: false },
  { path: "credentials.api_key", label: "ch.apiKey", input: "secret", required: true, secret: true },
  { path: "credentials.sign_type", label: "ch.signType", input: "select", required: true, options: ["MD5", "HMAC-SHA256"], secret: false },
  { path: "credentials.client_cert_pem", label: "ch.clientCertPem", input: "pem", required: false, secret: false },
  { path: "credentials.client_key_pem", label: "ch.clientKeyPem", input: "pem", required: false, secret: true },
  { path: "credentials.pkcs12_base64", label: "ch.pkcs12", input: "pem", required: false, secret: true },
];

const V3: readonly CredField[] = [
  { path: "credentials.merchant_private_key_pem", label: "ch.merchantKeyPem", input: "pem", required: true, secret: true },
  { path: "credentials.merchant_certificate_pem", label: "ch.merchantCertPem", input: "pem", required: true, secret: false },
  { path: "credentials.apiv3_key", label: "ch.apiv3Key", input: "secret", required: true, secret: true },
  { path: "credentials.platform_certificates_pem", label: "ch.platformCertsPem", input: "pem", required: false, secret: false },
  { path: "credentials.wechatpay_public_key_pem", label: "ch.publicKeyPem", input: "pem", required: false, secret: false },
  { path: "credentials.wechatpay_public_key_id", label: "ch.publicKeyId", input: "text", required: false, secret: false },
];

export function credentialFields(kind: ChannelKind): readonly CredField[] {
  return kind === "wechat-v2" ? V2 : V3;
}

/** Every field path of the create form for `kind` (for error mapping). */
export function formPaths(kind: ChannelKind, withChannel: boolean): string[] {
  const own = withChannel ? ["kind", "name", "mch_id"] : [];
  return [...own, ...credentialFields(kind).map((f) => f.path)];
}

/** Splits a text holding several PEM blocks into one string per block. */
export function splitPems(text: string): string[] {
  const blocks = text.match(/-----BEGIN [^-]+-----[\s\S]*?-----END [^-]+-----/g);
  return blocks ? blocks.map((b) => b.trim() + "\n") : text.trim() ? [text.trim()] : [];
}

export type Credentials = Record<string, string | string[]>;

/** The credentials document for `kind` from form values keyed by field path; blanks are left out. */
export function credentialsDocument(kind: ChannelKind, mchId: string, values: Record<string, string>): Credentials {
  const doc: Credentials = {};
  doc[kind === "wechat-v2" ? "mch_id" : "mchid"] = mchId.trim();
  for (const f of credentialFields(kind)) {
    const key = f.path.slice("credentials.".length);
    const raw = values[f.path] ?? "";
    const value = f.input === "secret" || f.input === "pem" ? raw : raw.trim();
    if (value.trim() === "") continue;
    doc[key] = key === "platform_certificates_pem" ? splitPems(value) : value;
  }
  return doc;
}

export interface CreateChannelBody {
  kind: ChannelKind;
  mch_id: string;
  name?: string | null;
  credentials: Credentials;
}

export interface AddCredentialsBody {
  credentials: Credentials;
}

export function createChannelBody(kind: ChannelKind, name: string, mchId: string, values: Record<string, string>): CreateChannelBody {
  const body: CreateChannelBody = { kind, mch_id: mchId.trim(), credentials: credentialsDocument(kind, mchId, values) };
  if (name.trim()) body.name = name.trim();
  return body;
}
