/** Small shared building blocks: labelled fields, messages, scrolling tables, pager. */
import type { ComponentChildren } from "preact";
import { ApiFailure } from "../api";
import { t } from "../i18n";

/** A label + control pair; the label's `for` is the control's id (the selector contract). */
export function Field(props: { id: string; label: string; children: ComponentChildren; error?: string | null; field?: string; hint?: string }) {
  return (
    <div class="field" data-field={props.field}>
      <label for={props.id}>{props.label}</label>
      {props.hint ? <small class="hint">{props.hint}</small> : null}
      {props.children}
      {props.error ? (
        <p class="field-error" role="alert" data-field-error={props.field}>
          {props.error}
        </p>
      ) : null}
    </div>
  );
}

/** A human message for an API failure, with its machine code for support. */
export function describeError(e: ApiFailure): string {
  if (e.status === 0) return t("err.network");
  if (e.status === 403) return t("err.forbidden");
  return `${e.message} (${e.code})`;
}

export function ErrorMsg(props: { error: ApiFailure | string | null }) {
  if (!props.error) return null;
  const text = typeof props.error === "string" ? props.error : describeError(props.error);
  return (
    <p class="msg msg-error" role="alert">
      {text}
    </p>
  );
}

export function StatusMsg(props: { text: string | null }) {
  // The live region stays in the DOM so screen readers announce changes.
  return (
    <p class={props.text ? "msg msg-ok" : "msg-empty"} role="status">
      {props.text ?? ""}
    </p>
  );
}

export function Loading(props: { when: boolean }) {
  return props.when ? <p class="muted">{t("common.loading")}</p> : null;
}

/** Tables scroll inside this box, never the page. */
export function TableWrap(props: { children: ComponentChildren; label?: string }) {
  return (
    <div class="table-wrap" tabIndex={0} role="region" aria-label={props.label ?? t("common.table")}>
      {props.children}
    </div>
  );
}

export function Pager(props: { hasPrev: boolean; hasNext: boolean; prev: () => void; next: () => void }) {
  if (!props.hasPrev && !props.hasNext) return null;
  return (
    <div class="pager">
      <button type="button" onClick={props.prev} disabled={!props.hasPrev}>
        {t("common.previous")}
      </button>
      <button type="button" onClick={props.next} disabled={!props.hasNext}>
        {t("common.next")}
      </button>
    </div>
  );
}

export function Empty(props: { when: boolean }) {
  return props.when ? <p class="muted">{t("common.empty")}</p> : null;
}

/** A raw machine code (states, statuses), shown as-is. */
export function Code(props: { value: string | null | undefined }) {
  return props.value ? <code class={`code code-${props.value.toLowerCase()}`}>{props.value}</code> : <span>—</span>;
}
