/** Operator sign-in. The token goes to sessionStorage only; the role comes from `GET /me`. */
import { useState } from "preact/hooks";
import { ApiFailure, api, setToken } from "../api";
import { LangSelect } from "../components/LangSelect";
import { ErrorMsg, Field } from "../components/ui";
import { asFailure } from "../hooks";
import { type Lang, t } from "../i18n";
import type { CurrentOperator } from "../types";

export function Login(props: { expired: boolean; lang: Lang; onLang: (l: Lang) => void; onLoggedIn: (me: CurrentOperator) => void }) {
  const [username, setUsername] = useState("");
  const [password, setPassword] = useState("");
  const [busy, setBusy] = useState(false);
  const [error, setError] = useState<string | null>(null);

  const submit = async (e: Event) => {
    e.preventDefault();
    setBusy(true);
    setError(null);
    try {
      const res = await api.login(username, password);
      setToken(res.token);
      const me = await api.me();
      props.onLoggedIn(me);
    } catch (err) {
      setToken(null);
      const f = asFailure(err);
      setError(loginError(f));
      setBusy(false);
    }
  };

  return (
    <main class="login">
      <form class="card login-card" onSubmit={submit}>
        <h1>{t("login.title")}</h1>
        {props.expired && !error ? (
          <p class="msg msg-error" role="alert">
            {t("login.expired")}
          </p>
        ) : null}
        <ErrorMsg error={error} />
        <Field id="login-username" label={t("login.username")}>
          <input id="login-username" name="username" autocomplete="username" required value={username} onInput={(e) => setUsername(e.currentTarget.value)} />
        </Field>
        <Field id="login-password" label={t("login.password")}>
          <input id="login-password" name="password" type="password" autocomplete="current-password" required value={password} onInput={(e) => setPassword(e.currentTarget.value)} />
        </Field>
        <button type="submit" class="primary" disabled={busy}>
          {t("login.submit")}
        </button>
        <LangSelect id="lang-login" lang={props.lang} onLang={props.onLang} />
      </form>
    </main>
  );
}

function loginError(f: ApiFailure): string {
  if (f.code === "invalid_credentials") return t("login.invalid");
  if (f.code === "too_many_login_attempts") return t("login.tooMany", { s: f.details?.retry_after_seconds ?? 60 });
  if (f.status === 0) return t("err.network");
  return `${f.message} (${f.code})`;
}
