/**
 * Maps an API error onto a form: the field the API names in `details.field` gets the message
 * next to it when the form has that field; anything else is a general error at the top.
 */
import type { ApiFailure } from "./api";

export interface FormErrors {
  /** API field path (`credentials.apiv3_key`) → message. */
  fields: Record<string, string>;
  general: string | null;
}

export const NO_ERRORS: FormErrors = { fields: {}, general: null };

/**
 * `known` lists the form's field paths. A field error for an indexed path
 * (`credentials.platform_certificates_pem[1]`) lands on the field without the index.
 */
export function mapError(err: ApiFailure, known: readonly string[], describe: (e: ApiFailure) => string): FormErrors {
  const raw = err.details?.field ?? null;
  const field = raw === null ? null : raw.replace(/\[\d+\]$/, "");
  if (field !== null && known.includes(field)) {
    const reason = err.details?.reason;
    return { fields: { [field]: reason && reason.length > 0 ? reason : err.message }, general: null };
  }
  return { fields: {}, general: describe(err) };
}
