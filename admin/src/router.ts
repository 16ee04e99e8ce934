/** Hash routes (`#/…`), so the server needs no SPA fallback. Pure parse + a hook. */
import { useEffect, useState } from "preact/hooks";

export const TABS = ["apps", "channels", "api-keys", "webhook", "orders", "refunds", "notifications", "events"] as const;
export type Tab = (typeof TABS)[number];

export type Route =
  | { page: "login" }
  | { page: "dashboard" }
  | { page: "tenants" }
  | { page: "tenant"; tenantId: string; tab: Tab }
  | { page: "alerts" }
  | { page: "audit" }
  | { page: "not-found" };

export function parseRoute(hash: string): Route {
  const path = hash.replace(/^#\/?/, "").split("?")[0] ?? "";
  const parts = path.split("/").filter(Boolean).map((p) => decodeURIComponent(p));
  const [head, id, tab] = parts;
  switch (head) {
    case undefined:
    case "dashboard":
      return { page: "dashboard" };
    case "login":
      return { page: "login" };
    case "tenants":
      if (id === undefined) return { page: "tenants" };
      if (tab === undefined) return { page: "tenant", tenantId: id, tab: "apps" };
      return (TABS as readonly string[]).includes(tab) ? { page: "tenant", tenantId: id, tab: tab as Tab } : { page: "not-found" };
    case "alerts":
      return { page: "alerts" };
    case "audit":
      return { page: "audit" };
    default:
      return { page: "not-found" };
  }
}

export function tenantHref(tenantId: string, tab: Tab = "apps"): string {
  return `#/tenants/${encodeURIComponent(tenantId)}/${tab}`;
}

export function navigate(hash: string): void {
  if (location.hash !== hash) location.hash = hash;
}

export function useRoute(): Route {
  const [hash, setHash] = useState(location.hash);
  useEffect(() => {
    const on = () => setHash(location.hash);
    window.addEventListener("hashchange", on);
    return () => window.removeEventListener("hashchange", on);
  }, []);
  return parseRoute(hash);
}
