/** The audit log: who changed what (summaries never hold a secret), optionally for one tenant. */
import { useState } from "preact/hooks";
import { api } from "../api";
import { Empty, ErrorMsg, Field, Loading, Pager, TableWrap } from "../components/ui";
import { formatTime } from "../format";
import { usePaged } from "../hooks";
import { t } from "../i18n";

export function Audit() {
  const [tenant, setTenant] = useState("");
  const [applied, setApplied] = useState("");
  const list = usePaged((cursor) => api.audit({ tenant_id: applied || undefined, cursor, limit: 50 }), [applied]);
  return (
    <section>
      <h1>{t("nav.audit")}</h1>
      <form
        class="filters"
        onSubmit={(e) => {
          e.preventDefault();
          setApplied(tenant.trim());
        }}
      >
        <Field id="audit-tenant" label={t("audit.tenantId")}>
          <input id="audit-tenant" value={tenant} placeholder="ten_…" onInput={(e) => setTenant(e.currentTarget.value)} />
        </Field>
        <button type="submit">{t("common.apply")}</button>
      </form>
      <ErrorMsg error={list.error} />
      <Loading when={list.loading && !list.data} />
      <Empty when={!!list.data && list.data.data.length === 0} />
      {list.data && list.data.data.length > 0 ? (
        <TableWrap label={t("nav.audit")}>
          <table>
            <thead>
              <tr>
                <th scope="col">{t("orders.at")}</th>
                <th scope="col">{t("audit.actor")}</th>
                <th scope="col">{t("audit.action")}</th>
                <th scope="col">{t("audit.target")}</th>
                <th scope="col">{t("audit.summary")}</th>
                <th scope="col">{t("audit.requestId")}</th>
              </tr>
            </thead>
            <tbody>
              {list.data.data.map((a) => (
                <tr key={a.id}>
                  <td class="nowrap">{formatTime(a.at)}</td>
                  <td>
                    <code>{a.actor}</code>
                  </td>
                  <td>
                    <code>{a.action}</code>
                  </td>
                  <td>
                    <code class="id">{a.target}</code>
                  </td>
                  <td>
                    <code class="summary">{JSON.stringify(a.summary)}</code>
                  </td>
                  <td>
                    <code class="id">{a.request_id ?? "—"}</code>
                  </td>
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
