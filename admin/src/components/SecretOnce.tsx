/**
 * A secret the API returns exactly once (API key, webhook signing secret): shown with a Copy
 * button and a warning; the parent drops it from state when dismissed, so it never comes back.
 */
import { useRef, useState } from "preact/hooks";
import { t } from "../i18n";

async function copy(text: string, el: HTMLElement | null): Promise<boolean> {
  try {
    await navigator.clipboard.writeText(text);
    return true;
  } catch {
    // Clipboard API unavailable (e.g. plain http): select the text so Ctrl+C works.
    if (el) {
      const range = document.createRange();
      range.selectNodeContents(el);
      const sel = window.getSelection();
      sel?.removeAllRanges();
      sel?.addRange(range);
    }
    return false;
  }
}

export function SecretOnce(props: { secret: string; onDone: () => void }) {
  const [copied, setCopied] = useState<boolean | null>(null);
  const codeEl = useRef<HTMLElement>(null);
  return (
    <div class="secret-once">
      <p>
        <strong>{t("secret.once")}</strong>
      </p>
      <code data-testid="new-secret" class="secret" ref={codeEl}>
        {props.secret}
      </code>
      <div class="row">
        <button type="button" onClick={async () => setCopied(await copy(props.secret, codeEl.current))}>
          {t("secret.copy")}
        </button>
        <button type="button" class="ghost" onClick={props.onDone}>
          {t("secret.done")}
        </button>
      </div>
      <p role="status" class="muted">
        {copied === true ? t("secret.copied") : copied === false ? t("secret.selected") : ""}
      </p>
    </div>
  );
}
