/** Tenants: search (`q`) and status filter, create, suspend / resume. */
import { useState } from "preact/hooks";
import { api } from "../api";
import { Code, Empty, ErrorMsg, Field, Loading, Pager, StatusMsg, TableWrap, describeError } from "../components/ui";
import { type FormErrors, NO_ERRORS, mapError } from "../fielderrors";
import { formatTime } from "../format";
import { asFailure, usePaged } from "../hooks";
import { t } from "../i18n";
import { tenantHref } from "../router";
import { useIsAdmin } from "../session";
import type { Tenant, TenantStatus } from "../types";

export function Tenants() {
  const admin = useIsAdmin();
  const [q, setQ] = useState("");
  const [status, setStatus] = useState<TenantStatus | "">("");
  const [filter, setFilter] = useState({ q: "", status: "" as TenantStatus | "" });
  const list = usePaged((cursor) => api.tenants({ ...filter, cursor, limit: 50 }), [filter]);
  const [creating, setCreating] = useState(false);
  const [msg, setMsg] = useState<string | null>(null);
  const [error, setError] = useState<string | null>(null);

  const toggle = async (ten: Tenant) => {
    setMsg(null);
    setError(null);
    try {
      const done = ten.status === "active" ? await api.suspendTenant(ten.id) : await api.resumeTenant(ten.id);
      setMsg(t(done.status === "active" ? "tenants.resumed" : "tenants.suspended", { name: done.name }));
      list.reload();
    } catch (e) {
      setError(describeError(asFailure(e)));
    }
  };

  return (
    <section>
      <div class="page-head">
        <h1>{t("tenants.title")}</h1>
        {admin && !creating ? (
          <button type="button" class="primary" onClick={() => setCreating(true)}>
            {t("tenants.new")}
          </button>
        ) : null}
      </div>
      {admin && creating ? (
        <NewTenant
          onCancel={() => setCreating(false)}
          onCreated={(ten) => {
            setCreating(false);
            setMsg(t("tenants.created", { name: ten.name }));
            list.reload();
          }}
        />
      ) : null}
      <form
        class="filters"
        onSubmit={(e) => {
          e.preventDefault();
          setFilter({ q: q.trim(), status });
        }}
      >
        <Field id="tenants-q" label={t("common.search")}>
          <input id="tenants-q" type="search" value={q} onInput={(e) => setQ(e.currentTarget.value)} />
        </Field>
        <Field id="tenants-status" label={t("common.status")}>
          <select id="tenants-status" value={status} onChange={(e) => setStatus(e.currentTarget.value as TenantStatus | "")}>
            <option value="">{t("common.all")}</option>
            <option value="active">{t("status.active")}</option>
            <option value="suspended">{t("status.suspended")}</option>
          </select>
        </Field>
        <button type="submit">{t("common.apply")}</button>
      </form>
      <StatusMsg text={msg} />
      <ErrorMsg error={error} />
      <ErrorMsg error={list.error} />
      <Loading when={list.loading && !list.data} />
      <Empty when={!!list.data && list.data.data.length === 0} />
      {list.data && list.data.data.length > 0 ? (
        <TableWrap label={t("tenants.title")}>
          <table>
            <thead>
              <tr>
                <th scope="col">{t("common.name")}</th>
                <th scope="col">{t("common.status")}</th>
                <th scope="col">{t("tenants.contact")}</th>
                <th scope="col">{t("common.id")}</th>
                <th scope="col">{t("common.created")}</th>
                {admin ? <th scope="col">{t("common.actions")}</th> : null}
              </tr>
            </thead>
            <tbody>
              {list.data.data.map((ten) => (
                <tr key={ten.id} data-tenant-id={ten.id}>
                  <td>
                    <a href={tenantHref(ten.id)}>{ten.name}</a>
                  </td>
                  <td>
                    <Code value={ten.status} />
                  </td>
                  <td>{ten.contact_email ?? "—"}</td>
                  <td>
                    <code class="id">{ten.id}</code>
                  </td>
                  <td>{formatTime(ten.created_at)}</td>
                  {admin ? (
                    <td>
                      <button type="button" onClick={() => toggle(ten)}>
                        {ten.status === "active" ? t("tenants.suspend") : t("tenants.resume")}
                      </button>
                    </td>
                  ) : null}
                </tr>
              ))}
            </tbody>
          </table>
        </TableWrap>
      ) : null}
      <Pager {...list} />
    </section>
  );
}

function NewTenant(props: { onCancel: () => void; onCreated: (t: Tenant) => void }) {
  const [name, setName] = useState("");
  const [email, setEmail] = useState("");
  const [errors, setErrors] = useState<FormErrors>(NO_ERRORS);
  const [busy, setBusy] = useState(false);
  const submit = async (e: Event) => {
    e.preventDefault();
    setBusy(true);
    setErrors(NO_ERRORS);
    try {
      const ten = await api.createTenant({ name: name.trim(), contact_email: email.trim() || null });
      props.onCreated(ten);
    } catch (err) {
      setErrors(mapError(asFailure(err), ["name", "contact_email"], describeError));
      setBusy(false);
    }
  };
  return (
    <form class="card form" onSubmit={submit} aria-label={t("tenants.new")}>
      <h2>{t("tenants.new")}</h2>
      <ErrorMsg error={errors.general} />
      <Field id="tenant-name" field="name" label={t("common.name")} error={errors.fields.name ?? null}>
        <input id="tenant-name" name="name" required value={name} onInput={(e) => setName(e.currentTarget.value)} />
      </Field>
      <Field id="tenant-email" field="contact_email" label={t("tenants.contactEmail")} error={errors.fields.contact_email ?? null}>
        <input id="tenant-email" name="contact_email" type="email" value={email} onInput={(e) => setEmail(e.currentTarget.value)} />
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
