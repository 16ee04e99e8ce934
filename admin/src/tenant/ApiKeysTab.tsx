/** API keys: list, create (the secret is shown once, with Copy) and revoke. */
import { useState } from "preact/hooks";
import { api } from "../api";
import { Code, Empty, ErrorMsg, Field, Loading, Pager, StatusMsg, TableWrap, describeError } from "../components/ui";
import { SecretOnce } from "../components/SecretOnce";
import { type FormErrors, NO_ERRORS, mapError } from "../fielderrors";
import { formatTime } from "../format";
import { asFailure, usePaged } from "../hooks";
import { t } from "../i18n";
import { useIsAdmin } from "../session";
import type { ApiKey } from "../types";

export const SCOPES = ["orders:write", "refunds:write", "read"] as const;

export function ApiKeysTab(props: { tenantId: string }) {
  const admin = useIsAdmin();
  const list = usePaged((cursor) => api.apiKeys(props.tenantId, { cursor, limit: 50 }), [props.tenantId]);
  const [creating, setCreating] = useState(false);
  const [secret, setSecret] = useState<string | null>(null);
  const [msg, setMsg] = useState<string | null>(null);
  const [error, setError] = useState<string | null>(null);

  const revoke = async (k: ApiKey) => {
    setMsg(null);
    setError(null);
    try {
      await api.revokeApiKey(props.tenantId, k.id);
      setMsg(t("keys.revoked", { name: k.name }));
      list.reload();
    } catch (e) {
      setError(describeError(asFailure(e)));
    }
  };

  return (
    <div>
      <div class="page-head">
        <h2>{t("tab.apiKeys")}</h2>
        {admin && !creating ? (
          <button
            type="button"
            class="primary"
            onClick={() => {
              setSecret(null);
              setCreating(true);
            }}
          >
            {t("keys.new")}
          </button>
        ) : null}
      </div>
      {admin && creating ? (
        <NewKey
          tenantId={props.tenantId}
          onCancel={() => setCreating(false)}
          onCreated={(s, name) => {
            setCreating(false);
            setSecret(s);
            setMsg(t("keys.created", { name }));
            list.reload();
          }}
        />
      ) : null}
      {secret ? <SecretOnce secret={secret} onDone={() => setSecret(null)} /> : null}
      <StatusMsg text={msg} />
      <ErrorMsg error={error} />
      <ErrorMsg error={list.error} />
      <Loading when={list.loading && !list.data} />
      <Empty when={!!list.data && list.data.data.length === 0} />
      {list.data && list.data.data.length > 0 ? (
        <TableWrap label={t("tab.apiKeys")}>
          <table>
            <thead>
              <tr>
                <th scope="col">{t("common.name")}</th>
                <th scope="col">{t("keys.prefix")}</th>
                <th scope="col">{t("keys.scopes")}</th>
                <th scope="col">{t("keys.lastUsed")}</th>
                <th scope="col">{t("common.created")}</th>
                <th scope="col">{t("common.status")}</th>
                {admin ? <th scope="col">{t("common.actions")}</th> : null}
              </tr>
            </thead>
            <tbody>
              {list.data.data.map((k) => (
                <tr key={k.id} data-key-id={k.id}>
                  <td>{k.name}</td>
                  <td>
                    <code>{k.prefix}…</code>
                  </td>
                  <td>
                    {k.scopes.map((s) => (
                      <code key={s} class="tag">
                        {s}
                      </code>
                    ))}
                  </td>
                  <td>{formatTime(k.last_used_at)}</td>
                  <td>{formatTime(k.created_at)}</td>
                  <td>{k.revoked_at ? <Code value="revoked" /> : <Code value="active" />}</td>
                  {admin ? (
                    <td>
                      {!k.revoked_at ? (
                        <button type="button" class="danger" onClick={() => revoke(k)}>
                          {t("keys.revoke")}
                        </button>
                      ) : null}
                    </td>
                  ) : null}
                </tr>
              ))}
            </tbody>
          </table>
        </TableWrap>
      ) : null}
      <Pager {...list} />
    </div>
  );
}

function NewKey(props: { tenantId: string; onCancel: () => void; onCreated: (secret: string, name: string) => void }) {
  const [name, setName] = useState("");
  const [scopes, setScopes] = useState<string[]>(["orders:write", "refunds:write", "read"]);
  const [errors, setErrors] = useState<FormErrors>(NO_ERRORS);
  const [busy, setBusy] = useState(false);
  const submit = async (e: Event) => {
    e.preventDefault();
    setBusy(true);
    setErrors(NO_ERRORS);
    try {
      const k = await api.createApiKey(props.tenantId, { name: name.trim(), scopes });
      props.onCreated(k.secret, k.name);
    } catch (err) {
      setErrors(mapError(asFailure(err), ["name", "scopes"], describeError));
      setBusy(false);
    }
  };
  return (
    <form class="card form" onSubmit={submit} aria-label={t("keys.new")}>
      <ErrorMsg error={errors.general} />
      <Field id="key-name" field="name" label={t("common.name")} error={errors.fields.name ?? null}>
        <input id="key-name" name="name" required value={name} onInput={(e) => setName(e.currentTarget.value)} />
      </Field>
      <fieldset class="field" data-field="scopes">
        <legend>{t("keys.scopes")}</legend>
        {SCOPES.map((s) => (
          <div key={s} class="check">
            <input
              id={`key-scope-${s}`}
              type="checkbox"
              name="scopes"
              value={s}
              checked={scopes.includes(s)}
              onChange={(e) => setScopes(e.currentTarget.checked ? [...scopes, s] : scopes.filter((x) => x !== s))}
            />
            <label for={`key-scope-${s}`}>{s}</label>
          </div>
        ))}
        {errors.fields.scopes ? (
          <p class="field-error" role="alert" data-field-error="scopes">
            {errors.fields.scopes}
          </p>
        ) : null}
      </fieldset>
      <div class="row">
        <button type="submit" class="primary" disabled={busy}>
          {t("common.create")}
        </button>
        <button type="button" class="ghost" onClick={props.onCancel}>
          {t("common.cancel")}
        </button>
      </div>
    </form>
  );
}
