/**
 * The tenant's webhook endpoint: URL, rotate the signing secret (shown once), pause / resume,
 * send a ping. A 404 `webhook_not_found` means none is configured yet: only URL + Save show.
 */
import { useEffect, useState } from "preact/hooks";
import { api } from "../api";
import { Code, ErrorMsg, Field, Loading, StatusMsg, describeError } from "../components/ui";
import { SecretOnce } from "../components/SecretOnce";
import { type FormErrors, NO_ERRORS, mapError } from "../fielderrors";
import { formatTime } from "../format";
import { asFailure, useLoad } from "../hooks";
import { t } from "../i18n";
import { useIsAdmin } from "../session";
import type { PingResult } from "../types";

export function WebhookTab(props: { tenantId: string }) {
  const admin = useIsAdmin();
  const id = props.tenantId;
  const hook = useLoad(() => api.webhook(id), [id]);
  const missing = hook.error?.code === "webhook_not_found";
  const [url, setUrl] = useState("");
  const [errors, setErrors] = useState<FormErrors>(NO_ERRORS);
  const [secret, setSecret] = useState<string | null>(null);
  const [msg, setMsg] = useState<string | null>(null);
  const [error, setError] = useState<string | null>(null);
  const [busy, setBusy] = useState(false);

  useEffect(() => {
    if (hook.data) setUrl(hook.data.url);
  }, [hook.data]);

  const act = async (fn: () => Promise<string | null>) => {
    setBusy(true);
    setMsg(null);
    setError(null);
    try {
      setMsg(await fn());
      hook.reload();
    } catch (e) {
      setError(describeError(asFailure(e)));
    } finally {
      setBusy(false);
    }
  };

  const save = async (e: Event) => {
    e.preventDefault();
    setErrors(NO_ERRORS);
    setBusy(true);
    setMsg(null);
    setError(null);
    try {
      const saved = await api.putWebhook(id, url.trim());
      if (saved.signing_secret) setSecret(saved.signing_secret);
      setMsg(t("hook.saved"));
      hook.reload();
    } catch (err) {
      setErrors(mapError(asFailure(err), ["url"], describeError));
    } finally {
      setBusy(false);
    }
  };

  const pingText = (p: PingResult) =>
    p.ok ? t("hook.pingOk", { status: p.status_code ?? "", ms: p.latency_ms ?? "?" }) : t("hook.pingFailed", { error: p.error ?? String(p.status_code ?? "") });

  return (
    <div>
      <h2>{t("tab.webhook")}</h2>
      {hook.error && !missing ? <ErrorMsg error={hook.error} /> : null}
      <Loading when={hook.loading && !hook.data && !hook.error} />
      {missing ? <p class="muted">{t("hook.none")}</p> : null}
      {hook.data ? (
        <dl class="facts">
          <dt>{t("common.status")}</dt>
          <dd>
            {hook.data.disabled_at ? <Code value="disabled" /> : hook.data.paused ? <Code value="paused" /> : <Code value="active" />}
            {hook.data.disabled_reason ? ` ${hook.data.disabled_reason}` : ""}
          </dd>
          <dt>{t("hook.url")}</dt>
          <dd>
            <code>{hook.data.url}</code>
          </dd>
          <dt>{t("common.updated")}</dt>
          <dd>{formatTime(hook.data.updated_at)}</dd>
        </dl>
      ) : null}
      {secret ? <SecretOnce secret={secret} onDone={() => setSecret(null)} /> : null}
      <StatusMsg text={msg} />
      <ErrorMsg error={error} />
      {admin && (hook.data || missing) ? (
        <form class="card form" onSubmit={save} aria-label={t("tab.webhook")}>
          <ErrorMsg error={errors.general} />
          <Field id="hook-url" field="url" label={t("hook.url")} error={errors.fields.url ?? null}>
            <input id="hook-url" name="url" type="url" required placeholder="https://" value={url} onInput={(e) => setUrl(e.currentTarget.value)} />
          </Field>
          <div class="row">
            <button type="submit" class="primary" disabled={busy}>
              {t("common.save")}
            </button>
          </div>
        </form>
      ) : null}
      {admin && hook.data ? (
        <div class="row actions">
          <button
            type="button"
            disabled={busy}
            onClick={() =>
              act(async () => {
                const r = await api.rotateWebhookSecret(id);
                setSecret(r.signing_secret);
                return t("hook.rotated");
              })
            }
          >
            {t("hook.rotate")}
          </button>
          {hook.data.paused || hook.data.disabled_at ? (
            <button type="button" disabled={busy} onClick={() => act(async () => (await api.resumeWebhook(id), t("hook.resumed")))}>
              {t("hook.resume")}
            </button>
          ) : (
            <button type="button" disabled={busy} onClick={() => act(async () => (await api.pauseWebhook(id), t("hook.paused")))}>
              {t("hook.pause")}
            </button>
          )}
          <button type="button" disabled={busy} onClick={() => act(async () => pingText(await api.pingWebhook(id)))}>
            {t("hook.ping")}
          </button>
        </div>
      ) : null}
    </div>
  );
}
