/**
 * Webhook events and their deliveries: list, a drawer with one event's payload and delivery
 * attempts, resend one event, and resend every failed event in a time range.
 */
import { useState } from "preact/hooks";
import { api } from "../api";
import { Drawer } from "../components/Drawer";
import { Code, Empty, ErrorMsg, Field, Loading, Pager, StatusMsg, TableWrap, describeError } from "../components/ui";
import { formatTime, localToRfc3339 } from "../format";
import { asFailure, usePaged } from "../hooks";
import { t } from "../i18n";
import { useIsAdmin } from "../session";
import type { EventDelivery } from "../types";

export function EventsTab(props: { tenantId: string }) {
  const admin = useIsAdmin();
  const id = props.tenantId;
  const list = usePaged((cursor) => api.events(id, { cursor, limit: 50 }), [id]);
  const [open, setOpen] = useState<EventDelivery | null>(null);
  const [msg, setMsg] = useState<string | null>(null);
  const [error, setError] = useState<string | null>(null);

  const resend = async (ev: EventDelivery) => {
    setMsg(null);
    setError(null);
    try {
      const r = await api.resendEvent(id, ev.id);
      setMsg(t("events.resent", { id: r.id }));
      list.reload();
    } catch (e) {
      setError(describeError(asFailure(e)));
    }
  };

  return (
    <div>
      <h2>{t("tab.events")}</h2>
      {admin ? <ResendRange tenantId={id} onDone={(n) => (setMsg(t("events.resentMany", { n })), list.reload())} onError={setError} /> : null}
      <StatusMsg text={open ? null : msg} />
      <ErrorMsg error={open ? null : error} />
      <ErrorMsg error={list.error} />
      <Loading when={list.loading && !list.data} />
      <Empty when={!!list.data && list.data.data.length === 0} />
      {list.data && list.data.data.length > 0 ? (
        <TableWrap label={t("tab.events")}>
          <table>
            <thead>
              <tr>
                <th scope="col">{t("events.type")}</th>
                <th scope="col">{t("events.status")}</th>
                <th scope="col">{t("events.attempts")}</th>
                <th scope="col">{t("events.lastCode")}</th>
                <th scope="col">{t("common.created")}</th>
                <th scope="col">{t("common.id")}</th>
                <th scope="col">{t("common.actions")}</th>
              </tr>
            </thead>
            <tbody>
              {list.data.data.map((ev) => (
                <tr key={ev.id} data-event-id={ev.id} data-status={ev.delivery_status}>
                  <td>
                    <code>{ev.event_type}</code>
                  </td>
                  <td>
                    <Code value={ev.delivery_status} />
                  </td>
                  <td class="num">{ev.attempts}</td>
                  <td class="num">{ev.last_status_code ?? "—"}</td>
                  <td>{formatTime(ev.created_at)}</td>
                  <td>
                    <code class="id">{ev.id}</code>
                  </td>
                  <td class="nowrap">
                    <button type="button" onClick={() => setOpen(ev)}>
                      {t("events.details")}
                    </button>{" "}
                    {admin ? (
                      <button type="button" onClick={() => resend(ev)}>
                        {t("events.resend")}
                      </button>
                    ) : null}
                  </td>
                </tr>
              ))}
            </tbody>
          </table>
        </TableWrap>
      ) : null}
      <Pager {...list} />
      {open ? (
        <EventDrawer
          tenantId={id}
          event={open}
          onClose={() => setOpen(null)}
          onResent={() => list.reload()}
        />
      ) : null}
    </div>
  );
}

function ResendRange(props: { tenantId: string; onDone: (n: number) => void; onError: (e: string | null) => void }) {
  const [from, setFrom] = useState("");
  const [to, setTo] = useState("");
  const [busy, setBusy] = useState(false);
  const submit = async (e: Event) => {
    e.preventDefault();
    setBusy(true);
    props.onError(null);
    try {
      const r = await api.resendFailed(props.tenantId, { from: localToRfc3339(from), to: localToRfc3339(to) });
      props.onDone(r.resent);
    } catch (err) {
      props.onError(describeError(asFailure(err)));
    } finally {
      setBusy(false);
    }
  };
  return (
    <form class="filters" onSubmit={submit} aria-label={t("events.resendFailed")}>
      <Field id="resend-from" label={t("dash.from")}>
        <input id="resend-from" type="datetime-local" required value={from} onInput={(e) => setFrom(e.currentTarget.value)} />
      </Field>
      <Field id="resend-to" label={t("dash.to")}>
        <input id="resend-to" type="datetime-local" required value={to} onInput={(e) => setTo(e.currentTarget.value)} />
      </Field>
      <button type="submit" disabled={busy}>
        {t("events.resendFailed")}
      </button>
    </form>
  );
}

function EventDrawer(props: { tenantId: string; event: EventDelivery; onClose: () => void; onResent: () => void }) {
  const admin = useIsAdmin();
  const deliveries = usePaged((cursor) => api.deliveries(props.tenantId, { event_id: props.event.id, cursor, limit: 50 }), [props.event.id]);
  const [msg, setMsg] = useState<string | null>(null);
  const [error, setError] = useState<string | null>(null);
  // The resend answer is the event's new delivery state; show it instead of the list's copy.
  const [ev, setEv] = useState<EventDelivery>(props.event);

  const resend = async () => {
    setMsg(null);
    setError(null);
    try {
      setEv(await api.resendEvent(props.tenantId, ev.id));
      setMsg(t("events.resent", { id: ev.id }));
      deliveries.reload();
      props.onResent();
    } catch (e) {
      setError(describeError(asFailure(e)));
    }
  };

  return (
    <Drawer label={t("events.detail", { type: ev.event_type })} onClose={props.onClose} wide>
      <dl class="facts">
        <dt>{t("common.id")}</dt>
        <dd>
          <code>{ev.id}</code>
        </dd>
        <dt>{t("events.status")}</dt>
        <dd>
          <Code value={ev.delivery_status} />
        </dd>
        <dt>{t("events.attempts")}</dt>
        <dd>{ev.attempts}</dd>
        <dt>{t("events.nextAttempt")}</dt>
        <dd>{formatTime(ev.next_attempt_at)}</dd>
      </dl>
      {admin ? (
        <button type="button" onClick={resend}>
          {t("events.resend")}
        </button>
      ) : null}
      <StatusMsg text={msg} />
      <ErrorMsg error={error} />
      <h3>{t("events.deliveries")}</h3>
      <ErrorMsg error={deliveries.error} />
      <Loading when={deliveries.loading && !deliveries.data} />
      <Empty when={!!deliveries.data && deliveries.data.data.length === 0} />
      {deliveries.data && deliveries.data.data.length > 0 ? (
        <TableWrap label={t("events.deliveries")}>
          <table data-testid="deliveries">
            <thead>
              <tr>
                <th scope="col">{t("events.attempt")}</th>
                <th scope="col">{t("events.status")}</th>
                <th scope="col">{t("events.httpStatus")}</th>
                <th scope="col">{t("events.latency")}</th>
                <th scope="col">{t("events.error")}</th>
                <th scope="col">{t("orders.at")}</th>
              </tr>
            </thead>
            <tbody>
              {deliveries.data.data.map((d) => (
                <tr key={d.id} data-status={d.status}>
                  <td class="num">{d.attempt}</td>
                  <td>
                    <Code value={d.status} />
                  </td>
                  <td class="num">{d.response_status ?? "—"}</td>
                  <td class="num">{d.latency_ms ?? "—"}</td>
                  <td>{d.error ?? "—"}</td>
                  <td>{formatTime(d.created_at)}</td>
                </tr>
              ))}
            </tbody>
          </table>
        </TableWrap>
      ) : null}
      <Pager {...deliveries} />
      <h3>{t("events.payload")}</h3>
      <pre class="payload">{JSON.stringify(ev.payload, null, 2)}</pre>
    </Drawer>
  );
}
