/** Alerts raised for operators: open ones by default, or all. */
import { useState } from "preact/hooks";
import { api } from "../api";
import { Code, Empty, ErrorMsg, Field, Loading, Pager, TableWrap } from "../components/ui";
import { formatTime } from "../format";
import { usePaged } from "../hooks";
import { t } from "../i18n";
import { tenantHref } from "../router";

export function Alerts() {
  const [unresolved, setUnresolved] = useState(true);
  const list = usePaged((cursor) => api.alerts({ unresolved, cursor, limit: 50 }), [unresolved]);
  return (
    <section>
      <h1>{t("nav.alerts")}</h1>
      <div class="filters">
        <Field id="alerts-which" label={t("alerts.show")}>
          <select id="alerts-which" value={unresolved ? "open" : "all"} onChange={(e) => setUnresolved(e.currentTarget.value === "open")}>
            <option value="open">{t("alerts.open")}</option>
            <option value="all">{t("common.all")}</option>
          </select>
        </Field>
      </div>
      <ErrorMsg error={list.error} />
      <Loading when={list.loading && !list.data} />
      <Empty when={!!list.data && list.data.data.length === 0} />
      {list.data && list.data.data.length > 0 ? (
        <TableWrap label={t("nav.alerts")}>
          <table>
            <thead>
              <tr>
                <th scope="col">{t("alerts.severity")}</th>
                <th scope="col">{t("alerts.kind")}</th>
                <th scope="col">{t("alerts.message")}</th>
                <th scope="col">{t("alerts.tenant")}</th>
                <th scope="col">{t("common.created")}</th>
                <th scope="col">{t("alerts.resolved")}</th>
              </tr>
            </thead>
            <tbody>
              {list.data.data.map((a) => (
                <tr key={a.id} data-alert-id={a.id}>
                  <td>
                    <Code value={a.severity} />
                  </td>
                  <td>
                    <code>{a.kind}</code>
                  </td>
                  <td>{a.message}</td>
                  <td>{a.tenant_id ? <a href={tenantHref(a.tenant_id)}>{a.tenant_id}</a> : "—"}</td>
                  <td>{formatTime(a.created_at)}</td>
                  <td>{formatTime(a.resolved_at)}</td>
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
