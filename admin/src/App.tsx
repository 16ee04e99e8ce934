/**
 * The app shell: session (token → `GET /me`), language, routing, and the layout with the main
 * navigation. Any 401 from the API clears the session and shows the login page with a
 * "session expired" message.
 */
import { useEffect, useState } from "preact/hooks";
import { api, getToken, onUnauthorized, setToken } from "./api";
import { Layout } from "./components/Layout";
import { type Lang, initialLang, setLang, t } from "./i18n";
import { Alerts } from "./pages/Alerts";
import { Audit } from "./pages/Audit";
import { Dashboard } from "./pages/Dashboard";
import { Login } from "./pages/Login";
import { Tenants } from "./pages/Tenants";
import { TenantPage } from "./tenant/TenantPage";
import { navigate, useRoute } from "./router";
import { SessionContext } from "./session";
import type { CurrentOperator } from "./types";

type Auth = { state: "checking" } | { state: "out"; expired: boolean } | { state: "in"; me: CurrentOperator };

export function App() {
  const [lang, setLangState] = useState<Lang>(() => {
    const l = initialLang();
    setLang(l, false);
    return l;
  });
  const [auth, setAuth] = useState<Auth>(() => (getToken() ? { state: "checking" } : { state: "out", expired: false }));
  const route = useRoute();

  useEffect(() => {
    onUnauthorized(() => {
      setToken(null);
      setAuth({ state: "out", expired: true });
    });
    if (getToken()) {
      api.me().then(
        (me) => setAuth({ state: "in", me }),
        () => setAuth((a) => (a.state === "checking" ? { state: "out", expired: getToken() === null } : a)),
      );
    }
  }, []);

  useEffect(() => {
    if (auth.state === "out" && route.page !== "login") navigate("#/login");
    if (auth.state === "in" && route.page === "login") navigate("#/dashboard");
  }, [auth.state, route.page]);

  useEffect(() => {
    document.title = `${t("app.title")} — paygate`;
  }, [lang]);

  const changeLang = (l: Lang) => {
    setLang(l, true);
    setLangState(l);
  };

  if (auth.state === "checking") return <p class="muted center">{t("common.loading")}</p>;
  if (auth.state === "out") {
    return (
      <Login
        expired={auth.expired}
        lang={lang}
        onLang={changeLang}
        onLoggedIn={(me) => {
          setAuth({ state: "in", me });
          navigate("#/dashboard");
        }}
      />
    );
  }

  const signOut = () => {
    setToken(null);
    setAuth({ state: "out", expired: false });
  };

  return (
    <SessionContext.Provider value={auth.me}>
      <Layout route={route} me={auth.me} lang={lang} onLang={changeLang} onSignOut={signOut}>
        {route.page === "dashboard" || route.page === "login" ? <Dashboard /> : null}
        {route.page === "tenants" ? <Tenants /> : null}
        {route.page === "tenant" ? <TenantPage key={route.tenantId} tenantId={route.tenantId} tab={route.tab} /> : null}
        {route.page === "alerts" ? <Alerts /> : null}
        {route.page === "audit" ? <Audit /> : null}
        {route.page === "not-found" ? <p>{t("common.notFound")}</p> : null}
      </Layout>
    </SessionContext.Provider>
  );
}
