/** Refunds of a tenant, newest first. */
import { api } from "../api";
import { Code, Empty, ErrorMsg, Loading, Pager, TableWrap } from "../components/ui";
import { formatTime } from "../format";
import { usePaged } from "../hooks";
import { t } from "../i18n";
import { formatFen } from "../money";

export function RefundsTab(props: { tenantId: string }) {
  const list = usePaged((cursor) => api.refunds(props.tenantId, { cursor, limit: 50 }), [props.tenantId]);
  return (
    <div>
      <h2>{t("tab.refunds")}</h2>
      <ErrorMsg error={list.error} />
      <Loading when={list.loading && !list.data} />
      <Empty when={!!list.data && list.data.data.length === 0} />
      {list.data && list.data.data.length > 0 ? (
        <TableWrap label={t("tab.refunds")}>
          <table>
            <thead>
              <tr>
                <th scope="col">{t("refunds.outRefundNo")}</th>
                <th scope="col">{t("orders.amount")}</th>
                <th scope="col">{t("orders.state")}</th>
                <th scope="col">{t("refunds.order")}</th>
                <th scope="col">{t("refunds.reason")}</th>
                <th scope="col">{t("common.created")}</th>
                <th scope="col">{t("refunds.succeeded")}</th>
              </tr>
            </thead>
            <tbody>
              {list.data.data.map((r) => (
                <tr key={r.id} data-state={r.state}>
                  <td>
                    <code>{r.out_refund_no}</code>
                  </td>
                  <td class="num" data-value={String(r.amount)}>
                    {formatFen(r.amount, r.currency)}
                  </td>
                  <td>
                    <Code value={r.state} />
                  </td>
                  <td>
                    <code class="id">{r.order_id}</code>
                  </td>
                  <td>{r.reason ?? "—"}</td>
                  <td>{formatTime(r.created_at)}</td>
                  <td>{formatTime(r.succeeded_at)}</td>
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
