/** One tenant: header (status, suspend / resume) and the tabs, each a link (`#/tenants/<id>/<tab>`). */
import { useState } from "preact/hooks";
import { api } from "../api";
import { Code, ErrorMsg, Loading, StatusMsg, describeError } from "../components/ui";
import { asFailure, useLoad } from "../hooks";
import { type MessageKey, t } from "../i18n";
import { TABS, type Tab, tenantHref } from "../router";
import { useIsAdmin } from "../session";
import { ApiKeysTab } from "./ApiKeysTab";
import { AppsTab } from "./AppsTab";
import { ChannelsTab } from "./ChannelsTab";
import { EventsTab } from "./EventsTab";
import { NotificationsTab } from "./NotificationsTab";
import { OrdersTab } from "./OrdersTab";
import { RefundsTab } from "./RefundsTab";
import { WebhookTab } from "./WebhookTab";

const TAB_LABELS: Record<Tab, MessageKey> = {
  apps: "tab.apps",
  channels: "tab.channels",
  "api-keys": "tab.apiKeys",
  webhook: "tab.webhook",
  orders: "tab.orders",
  refunds: "tab.refunds",
  notifications: "tab.notifications",
  events: "tab.events",
};

export function TenantPage(props: { tenantId: string; tab: Tab }) {
  const admin = useIsAdmin();
  const tenant = useLoad(() => api.tenant(props.tenantId), [props.tenantId]);
  const [msg, setMsg] = useState<string | null>(null);
  const [error, setError] = useState<string | null>(null);
  const id = props.tenantId;

  const toggle = async () => {
    if (!tenant.data) return;
    setMsg(null);
    setError(null);
    try {
      const done = tenant.data.status === "active" ? await api.suspendTenant(id) : await api.resumeTenant(id);
      setMsg(t(done.status === "active" ? "tenants.resumed" : "tenants.suspended", { name: done.name }));
      tenant.reload();
    } catch (e) {
      setError(describeError(asFailure(e)));
    }
  };

  return (
    <section>
      <p class="crumbs">
        <a href="#/tenants">{t("nav.tenants")}</a> /
      </p>
      <ErrorMsg error={tenant.error} />
      <Loading when={tenant.loading && !tenant.data} />
      {tenant.data ? (
        <div class="page-head">
          <h1>
            {tenant.data.name} <Code value={tenant.data.status} />
          </h1>
          <code class="id">{tenant.data.id}</code>
          {admin ? (
            <button type="button" onClick={toggle}>
              {tenant.data.status === "active" ? t("tenants.suspend") : t("tenants.resume")}
            </button>
          ) : null}
        </div>
      ) : null}
      <StatusMsg text={msg} />
      <ErrorMsg error={error} />
      <div class="tabs" role="tablist" aria-label={t("tab.label")}>
        {TABS.map((tab) => (
          <a key={tab} role="tab" id={`tab-${tab}`} href={tenantHref(id, tab)} aria-selected={tab === props.tab} aria-controls="tabpanel" onKeyDown={onTabKey}>
            {t(TAB_LABELS[tab])}
          </a>
        ))}
      </div>
      <div id="tabpanel" role="tabpanel" aria-labelledby={`tab-${props.tab}`} class="tabpanel">
        {props.tab === "apps" ? <AppsTab tenantId={id} /> : null}
        {props.tab === "channels" ? <ChannelsTab tenantId={id} /> : null}
        {props.tab === "api-keys" ? <ApiKeysTab tenantId={id} /> : null}
        {props.tab === "webhook" ? <WebhookTab tenantId={id} /> : null}
        {props.tab === "orders" ? <OrdersTab tenantId={id} /> : null}
        {props.tab === "refunds" ? <RefundsTab tenantId={id} /> : null}
        {props.tab === "notifications" ? <NotificationsTab tenantId={id} /> : null}
        {props.tab === "events" ? <EventsTab tenantId={id} /> : null}
      </div>
    </section>
  );
}

/** Arrow keys move between tabs (the WAI-ARIA tabs pattern); Enter follows the link. */
function onTabKey(e: KeyboardEvent) {
  if (e.key !== "ArrowRight" && e.key !== "ArrowLeft") return;
  const tabs = Array.from((e.currentTarget as HTMLElement).parentElement?.querySelectorAll<HTMLAnchorElement>('[role="tab"]') ?? []);
  const i = tabs.indexOf(e.currentTarget as HTMLAnchorElement);
  const next = tabs[(i + (e.key === "ArrowRight" ? 1 : tabs.length - 1)) % tabs.length];
  if (next) {
    e.preventDefault();
    next.focus();
  }
}
