/**
 * The page frame: header (brand, menu button on narrow screens, language, operator, sign out),
 * the main navigation and the content. On narrow screens the navigation collapses behind the
 * menu button, which is a real button with `aria-expanded`.
 */
import type { ComponentChildren } from "preact";
import { useEffect, useState } from "preact/hooks";
import { type Lang, type MessageKey, t } from "../i18n";
import type { Route } from "../router";
import type { CurrentOperator } from "../types";
import { LangSelect } from "./LangSelect";

const LINKS: { href: string; label: MessageKey; pages: Route["page"][] }[] = [
  { href: "#/dashboard", label: "nav.dashboard", pages: ["dashboard"] },
  { href: "#/tenants", label: "nav.tenants", pages: ["tenants", "tenant"] },
  { href: "#/alerts", label: "nav.alerts", pages: ["alerts"] },
  { href: "#/audit", label: "nav.audit", pages: ["audit"] },
];

export function Layout(props: { route: Route; me: CurrentOperator; lang: Lang; onLang: (l: Lang) => void; onSignOut: () => void; children: ComponentChildren }) {
  const [open, setOpen] = useState(false);
  // A followed link closes the menu.
  useEffect(() => setOpen(false), [props.route]);
  return (
    <div class="shell">
      <header class="topbar">
        <a class="brand" href="#/dashboard">
          <img src="favicon.svg" alt="" width={24} height={24} />
          <span>paygate</span>
        </a>
        <button type="button" class="menu-button" aria-expanded={open} aria-controls="main-nav" onClick={() => setOpen(!open)}>
          {t("nav.menu")}
        </button>
        <nav id="main-nav" class={open ? "mainnav open" : "mainnav"} aria-label={t("nav.main")}>
          <ul>
            {LINKS.map((l) => (
              <li key={l.href}>
                <a href={l.href} aria-current={l.pages.includes(props.route.page) ? "page" : undefined}>
                  {t(l.label)}
                </a>
              </li>
            ))}
          </ul>
          <div class="nav-tools">
            <LangSelect id="lang-nav" lang={props.lang} onLang={props.onLang} />
            <span class="who" title={props.me.id}>
              {props.me.username} · {t(props.me.role === "admin" ? "role.admin" : "role.viewer")}
            </span>
            <button type="button" onClick={props.onSignOut}>
              {t("nav.signOut")}
            </button>
          </div>
        </nav>
      </header>
      <main id="content" class="content">
        {props.children}
      </main>
    </div>
  );
}
