/** Mini-program apps of a tenant: list and register (the AppSecret is sent once, never shown). */
import { useState } from "preact/hooks";
import { api } from "../api";
import { Empty, ErrorMsg, Field, Loading, StatusMsg, TableWrap, describeError } from "../components/ui";
import { type FormErrors, NO_ERRORS, mapError } from "../fielderrors";
import { formatTime } from "../format";
import { asFailure, useLoad } from "../hooks";
import { t } from "../i18n";
import { useIsAdmin } from "../session";

export function AppsTab(props: { tenantId: string }) {
  const admin = useIsAdmin();
  const apps = useLoad(() => api.apps(props.tenantId), [props.tenantId]);
  const [open, setOpen] = useState(false);
  const [msg, setMsg] = useState<string | null>(null);
  return (
    <div>
      <div class="page-head">
        <h2>{t("tab.apps")}</h2>
        {admin && !open ? (
          <button type="button" class="primary" onClick={() => setOpen(true)}>
            {t("apps.new")}
          </button>
        ) : null}
      </div>
      {admin && open ? (
        <NewApp
          tenantId={props.tenantId}
          onCancel={() => setOpen(false)}
          onCreated={(name) => {
            setOpen(false);
            setMsg(t("apps.created", { name }));
            apps.reload();
          }}
        />
      ) : null}
      <StatusMsg text={msg} />
      <ErrorMsg error={apps.error} />
      <Loading when={apps.loading && !apps.data} />
      <Empty when={!!apps.data && apps.data.data.length === 0} />
      {apps.data && apps.data.data.length > 0 ? (
        <TableWrap label={t("tab.apps")}>
          <table>
            <thead>
              <tr>
                <th scope="col">{t("apps.appid")}</th>
                <th scope="col">{t("common.name")}</th>
                <th scope="col">{t("common.created")}</th>
              </tr>
            </thead>
            <tbody>
              {apps.data.data.map((a) => (
                <tr key={a.appid}>
                  <td>
                    <code>{a.appid}</code>
                  </td>
                  <td>{a.name}</td>
                  <td>{formatTime(a.created_at)}</td>
                </tr>
              ))}
            </tbody>
          </table>
        </TableWrap>
      ) : null}
    </div>
  );
}

function NewApp(props: { tenantId: string; onCancel: () => void; onCreated: (name: string) => void }) {
  const [appid, setAppid] = useState("");
  const [name, setName] = useState("");
  const [secret, setSecret] = useState("");
  const [errors, setErrors] = useState<FormErrors>(NO_ERRORS);
  const [busy, setBusy] = useState(false);
  const submit = async (e: Event) => {
    e.preventDefault();
    setBusy(true);
    setErrors(NO_ERRORS);
    try {
      const app = await api.createApp(props.tenantId, { appid: appid.trim(), name: name.trim(), secret });
      setSecret("");
      props.onCreated(app.name);
    } catch (err) {
      setErrors(mapError(asFailure(err), ["appid", "name", "secret"], describeError));
      setBusy(false);
    }
  };
  return (
    <form class="card form" onSubmit={submit} aria-label={t("apps.new")}>
      <ErrorMsg error={errors.general} />
      <Field id="app-appid" field="appid" label={t("apps.appid")} error={errors.fields.appid ?? null}>
        <input id="app-appid" name="appid" required value={appid} onInput={(e) => setAppid(e.currentTarget.value)} />
      </Field>
      <Field id="app-name" field="name" label={t("common.name")} error={errors.fields.name ?? null}>
        <input id="app-name" name="name" required value={name} onInput={(e) => setName(e.currentTarget.value)} />
      </Field>
      <Field id="app-secret" field="secret" label={t("apps.secret")} error={errors.fields.secret ?? null}>
        <input id="app-secret" name="secret" type="password" autocomplete="off" required value={secret} onInput={(e) => setSecret(e.currentTarget.value)} />
      </Field>
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
