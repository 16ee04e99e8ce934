/** Notifications received from WeChat for a tenant (their bodies are never shown). */
import { api } from "../api";
import { Code, Empty, ErrorMsg, Loading, Pager, TableWrap } from "../components/ui";
import { formatTime } from "../format";
import { usePaged } from "../hooks";
import { t } from "../i18n";

export function NotificationsTab(props: { tenantId: string }) {
  const list = usePaged((cursor) => api.notifications(props.tenantId, { cursor, limit: 50 }), [props.tenantId]);
  return (
    <div>
      <h2>{t("tab.notifications")}</h2>
      <ErrorMsg error={list.error} />
      <Loading when={list.loading && !list.data} />
      <Empty when={!!list.data && list.data.data.length === 0} />
      {list.data && list.data.data.length > 0 ? (
        <TableWrap label={t("tab.notifications")}>
          <table>
            <thead>
              <tr>
                <th scope="col">{t("notif.received")}</th>
                <th scope="col">{t("notif.kind")}</th>
                <th scope="col">{t("notif.verified")}</th>
                <th scope="col">{t("notif.outcome")}</th>
                <th scope="col">{t("notif.dedupe")}</th>
                <th scope="col">{t("orders.channel")}</th>
              </tr>
            </thead>
            <tbody>
              {list.data.data.map((n) => (
                <tr key={n.id}>
                  <td>{formatTime(n.received_at)}</td>
                  <td>{n.kind}</td>
                  <td>{n.verified ? t("common.yes") : <strong class="bad">{t("common.no")}</strong>}</td>
                  <td>
                    <Code value={n.outcome} />
                  </td>
                  <td>
                    <code>{n.dedupe_key}</code>
                  </td>
                  <td>
                    <code class="id">{n.channel_id}</code>
                  </td>
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
