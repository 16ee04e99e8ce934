/** Orders: filters (state, out_trade_no, UTC days), list, and a drawer with the state history. */
import { useState } from "preact/hooks";
import { api } from "../api";
import { Drawer } from "../components/Drawer";
import { Code, Empty, ErrorMsg, Field, Loading, Pager, TableWrap } from "../components/ui";
import { addDays, dayStart, formatTime } from "../format";
import { useLoad, usePaged } from "../hooks";
import { t } from "../i18n";
import { formatFen } from "../money";
import type { Order } from "../types";

export const ORDER_STATES = ["CREATED", "PENDING", "PAID", "CLOSED", "PAY_ERROR", "PARTIALLY_REFUNDED", "REFUNDED"] as const;

interface Filter {
  state: string;
  outTradeNo: string;
  from: string;
  to: string;
}

const EMPTY: Filter = { state: "", outTradeNo: "", from: "", to: "" };

export function OrdersTab(props: { tenantId: string }) {
  const [form, setForm] = useState<Filter>(EMPTY);
  const [filter, setFilter] = useState<Filter>(EMPTY);
  const list = usePaged(
    (cursor) =>
      api.orders(props.tenantId, {
        state: filter.state,
        out_trade_no: filter.outTradeNo,
        from: filter.from ? dayStart(filter.from) : "",
        // "To" is an inclusive day; the API's `to` is exclusive.
        to: filter.to ? dayStart(addDays(filter.to, 1)) : "",
        cursor,
        limit: 50,
      }),
    [props.tenantId, filter],
  );
  const [open, setOpen] = useState<Order | null>(null);

  return (
    <div>
      <h2>{t("tab.orders")}</h2>
      <form
        class="filters"
        onSubmit={(e) => {
          e.preventDefault();
          setFilter({ ...form, outTradeNo: form.outTradeNo.trim() });
        }}
      >
        <Field id="orders-state" label={t("orders.state")}>
          <select id="orders-state" value={form.state} onChange={(e) => setForm({ ...form, state: e.currentTarget.value })}>
            <option value="">{t("common.any")}</option>
            {ORDER_STATES.map((s) => (
              <option key={s} value={s}>
                {s}
              </option>
            ))}
          </select>
        </Field>
        <Field id="orders-otn" label={t("orders.outTradeNo")}>
          <input id="orders-otn" value={form.outTradeNo} onInput={(e) => setForm({ ...form, outTradeNo: e.currentTarget.value })} />
        </Field>
        <Field id="orders-from" label={t("dash.from")}>
          <input id="orders-from" type="date" value={form.from} onInput={(e) => setForm({ ...form, from: e.currentTarget.value })} />
        </Field>
        <Field id="orders-to" label={t("dash.to")}>
          <input id="orders-to" type="date" value={form.to} onInput={(e) => setForm({ ...form, to: e.currentTarget.value })} />
        </Field>
        <button type="submit" class="primary">
          {t("common.search")}
        </button>
      </form>
      <ErrorMsg error={list.error} />
      <Loading when={list.loading && !list.data} />
      <Empty when={!!list.data && list.data.data.length === 0} />
      {list.data && list.data.data.length > 0 ? (
        <TableWrap label={t("tab.orders")}>
          <table>
            <thead>
              <tr>
                <th scope="col">{t("orders.outTradeNo")}</th>
                <th scope="col">{t("orders.amount")}</th>
                <th scope="col">{t("orders.state")}</th>
                <th scope="col">{t("orders.refunded")}</th>
                <th scope="col">{t("orders.description")}</th>
                <th scope="col">{t("orders.tradeType")}</th>
                <th scope="col">{t("common.created")}</th>
              </tr>
            </thead>
            <tbody>
              {list.data.data.map((o) => (
                <tr key={o.id} data-order-id={o.id} data-state={o.state}>
                  <td>
                    <button type="button" class="link" onClick={() => setOpen(o)}>
                      {o.out_trade_no}
                    </button>
                  </td>
                  <td class="num" data-value={String(o.amount)}>
                    {formatFen(o.amount, o.currency)}
                  </td>
                  <td>
                    <Code value={o.state} />
                  </td>
                  <td class="num">{o.refunded_amount ? formatFen(o.refunded_amount, o.currency) : "—"}</td>
                  <td>{o.description}</td>
                  <td>{o.trade_type}</td>
                  <td>{formatTime(o.created_at)}</td>
                </tr>
              ))}
            </tbody>
          </table>
        </TableWrap>
      ) : null}
      <Pager {...list} />
      {open ? <OrderDrawer tenantId={props.tenantId} order={open} onClose={() => setOpen(null)} /> : null}
    </div>
  );
}

function OrderDrawer(props: { tenantId: string; order: Order; onClose: () => void }) {
  const detail = useLoad(() => api.order(props.tenantId, props.order.id), [props.order.id]);
  const refunds = useLoad(() => api.refunds(props.tenantId, { order_id: props.order.id, limit: 50 }), [props.order.id]);
  const o = detail.data ?? props.order;
  return (
    <Drawer label={t("orders.detail", { no: props.order.out_trade_no })} onClose={props.onClose} wide>
      <dl class="facts">
        <dt>{t("common.id")}</dt>
        <dd>
          <code>{o.id}</code>
        </dd>
        <dt>{t("orders.state")}</dt>
        <dd>
          <Code value={o.state} />
        </dd>
        <dt>{t("orders.amount")}</dt>
        <dd>{formatFen(o.amount, o.currency)}</dd>
        <dt>{t("orders.refunded")}</dt>
        <dd>{formatFen(o.refunded_amount, o.currency)}</dd>
        <dt>{t("orders.appid")}</dt>
        <dd>
          <code>{o.appid}</code>
        </dd>
        <dt>{t("orders.channel")}</dt>
        <dd>
          <code>{o.channel_id}</code>
        </dd>
        <dt>{t("orders.transactionId")}</dt>
        <dd>{o.transaction_id ?? "—"}</dd>
        <dt>{t("orders.paidAt")}</dt>
        <dd>{formatTime(o.paid_at)}</dd>
        <dt>{t("common.created")}</dt>
        <dd>{formatTime(o.created_at)}</dd>
      </dl>
      <h3>{t("orders.history")}</h3>
      <ErrorMsg error={detail.error} />
      <Loading when={detail.loading && !detail.data} />
      {detail.data ? (
        <TableWrap label={t("orders.history")}>
          <table data-testid="order-history">
            <thead>
              <tr>
                <th scope="col">{t("orders.from")}</th>
                <th scope="col">{t("orders.to")}</th>
                <th scope="col">{t("orders.cause")}</th>
                <th scope="col">{t("orders.at")}</th>
              </tr>
            </thead>
            <tbody>
              {detail.data.history.map((h, i) => (
                <tr key={i} data-state={h.to}>
                  <td>
                    <Code value={h.from} />
                  </td>
                  <td>
                    <Code value={h.to} />
                  </td>
                  <td>{h.cause}</td>
                  <td>{formatTime(h.at)}</td>
                </tr>
              ))}
            </tbody>
          </table>
        </TableWrap>
      ) : null}
      <h3>{t("tab.refunds")}</h3>
      <ErrorMsg error={refunds.error} />
      <Empty when={!!refunds.data && refunds.data.data.length === 0} />
      {refunds.data && refunds.data.data.length > 0 ? (
        <ul>
          {refunds.data.data.map((r) => (
            <li key={r.id}>
              <code>{r.out_refund_no}</code> {formatFen(r.amount, r.currency)} <Code value={r.state} />
            </li>
          ))}
        </ul>
      ) : null}
    </Drawer>
  );
}
