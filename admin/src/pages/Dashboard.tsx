/**
 * The dashboard: `GET /admin/v1/stats` over a date range, all tenants or one — totals (as
 * integers with `data-value`), charts, the per-day table — and the open alerts.
 */
import { useMemo, useState } from "preact/hooks";
import { api } from "../api";
import { Chart } from "../components/Chart";
import { Code, Empty, ErrorMsg, Field, Loading, TableWrap } from "../components/ui";
import { addDays, formatTime, utcDay } from "../format";
import { useLoad } from "../hooks";
import { type MessageKey, t } from "../i18n";
import { formatFen, fenToYuanForChart } from "../money";
import { dayToUnix, formatBp, totals } from "../stats";
import type { DayStats } from "../types";

interface Range {
  from: string;
  to: string;
  tenant: string;
}

const COLUMNS: (keyof DayStats)[] = [
  "orders_created",
  "orders_created_paid",
  "orders_paid",
  "paid_amount",
  "refunds_succeeded",
  "refunded_amount",
  "deliveries_succeeded",
  "deliveries_failed",
];

const AMOUNTS = new Set<keyof DayStats>(["paid_amount", "refunded_amount"]);

export function Dashboard() {
  const today = utcDay(new Date());
  const [form, setForm] = useState<Range>({ from: addDays(today, -29), to: today, tenant: "" });
  const [applied, setApplied] = useState<Range>(form);
  const tenants = useLoad(() => api.tenants({ limit: 200 }), []);
  const stats = useLoad(() => api.stats({ from: applied.from, to: applied.to, tenant_id: applied.tenant || undefined }), [applied]);
  const alerts = useLoad(() => api.alerts({ unresolved: true, limit: 20 }), []);

  const days = stats.data?.days ?? [];
  const sum = useMemo(() => totals(days), [stats.data]);
  const x = useMemo(() => days.map((d) => dayToUnix(d.day)), [stats.data]);
  const paidSeries = useMemo(
    () => [
      { label: t("dash.paidAmountYuan"), values: days.map((d) => fenToYuanForChart(d.paid_amount)), color: "#0b6e4f" },
      { label: t("dash.paidCount"), values: days.map((d) => d.orders_paid), color: "#c2410c", right: true },
    ],
    [stats.data],
  );
  const deliverySeries = useMemo(
    () => [
      { label: t("dash.deliveriesOk"), values: days.map((d) => d.deliveries_succeeded), color: "#15803d" },
      { label: t("dash.deliveriesFailed"), values: days.map((d) => d.deliveries_failed), color: "#b91c1c" },
    ],
    [stats.data],
  );

  const stat = (name: string, label: MessageKey, value: number, text: string) => (
    <div class="stat" data-testid={`stat-${name}`} data-value={String(value)}>
      <span class="stat-label">{t(label)}</span>
      <span class="stat-value">{text}</span>
    </div>
  );

  return (
    <section>
      <h1>{t("dash.title")}</h1>
      <form
        class="filters"
        onSubmit={(e) => {
          e.preventDefault();
          // "Apply" always refreshes: unchanged filters still mean "show me the latest figures".
          if (form === applied) stats.reload();
          else setApplied(form);
          alerts.reload();
        }}
      >
        <Field id="dash-from" label={t("dash.from")}>
          <input id="dash-from" type="date" value={form.from} max={form.to} onInput={(e) => setForm({ ...form, from: e.currentTarget.value })} />
        </Field>
        <Field id="dash-to" label={t("dash.to")}>
          <input id="dash-to" type="date" value={form.to} min={form.from} onInput={(e) => setForm({ ...form, to: e.currentTarget.value })} />
        </Field>
        <Field id="dash-tenant" label={t("dash.tenant")}>
          <select id="dash-tenant" value={form.tenant} onChange={(e) => setForm({ ...form, tenant: e.currentTarget.value })}>
            <option value="">{t("dash.allTenants")}</option>
            {(tenants.data?.data ?? []).map((ten) => (
              <option key={ten.id} value={ten.id}>
                {ten.name}
              </option>
            ))}
          </select>
        </Field>
        <button type="submit" class="primary">
          {t("common.apply")}
        </button>
      </form>
      <ErrorMsg error={stats.error} />
      <Loading when={stats.loading && !stats.data} />
      {stats.data ? (
        <>
          <div class="stats-grid">
            {stat("orders-created", "dash.ordersCreated", sum.ordersCreated, String(sum.ordersCreated))}
            {stat("orders-paid", "dash.ordersPaid", sum.ordersPaid, String(sum.ordersPaid))}
            {stat("paid-amount", "dash.paidAmount", sum.paidAmount, formatFen(sum.paidAmount))}
            {stat("success-rate", "dash.successRate", sum.successRateBp, formatBp(sum.successRateBp))}
            {stat("refunds-succeeded", "dash.refundsSucceeded", sum.refundsSucceeded, String(sum.refundsSucceeded))}
            {stat("refunded-amount", "dash.refundedAmount", sum.refundedAmount, formatFen(sum.refundedAmount))}
            {stat("deliveries-succeeded", "dash.deliveriesOk", sum.deliveriesSucceeded, String(sum.deliveriesSucceeded))}
            {stat("deliveries-failed", "dash.deliveriesFailed", sum.deliveriesFailed, String(sum.deliveriesFailed))}
          </div>
          <p class="muted">{t("dash.deliveryHealth", { rate: formatBp(sum.deliveryRateBp) })}</p>
          <div class="charts">
            <Chart title={t("dash.chartPaid")} x={x} series={paidSeries} leftLabel={t("dash.yuan")} rightLabel={t("dash.count")} />
            <Chart title={t("dash.chartDeliveries")} x={x} series={deliverySeries} leftLabel={t("dash.count")} />
          </div>
          <h2>{t("dash.perDay")}</h2>
          <TableWrap label={t("dash.perDay")}>
            <table data-testid="stats-table">
              <thead>
                <tr>
                  <th scope="col">{t("dash.day")}</th>
                  {COLUMNS.map((c) => (
                    <th scope="col" key={c}>
                      {t(`col.${c}` as MessageKey)}
                    </th>
                  ))}
                </tr>
              </thead>
              <tbody>
                {days.map((d) => (
                  <tr key={d.day} data-day={d.day}>
                    <th scope="row">{d.day}</th>
                    {COLUMNS.map((c) => (
                      <td key={c} data-col={c} data-value={String(d[c])} class="num">
                        {AMOUNTS.has(c) ? formatFen(d[c] as number, d.currency) : String(d[c])}
                      </td>
                    ))}
                  </tr>
                ))}
              </tbody>
            </table>
          </TableWrap>
        </>
      ) : null}
      <h2>{t("dash.openAlerts")}</h2>
      <ErrorMsg error={alerts.error} />
      <Empty when={!!alerts.data && alerts.data.data.length === 0} />
      {alerts.data && alerts.data.data.length > 0 ? (
        <ul class="alerts">
          {alerts.data.data.map((a) => (
            <li key={a.id} class={`alert sev-${a.severity}`}>
              <Code value={a.severity} /> <strong>{a.kind}</strong> {a.message} <span class="muted">{formatTime(a.created_at)}</span>
            </li>
          ))}
        </ul>
      ) : null}
      <p>
        <a href="#/alerts">{t("dash.allAlerts")}</a>
      </p>
    </section>
  );
}
