/**
 * Hand-written i18n: two typed dictionaries (`en`, `zh-CN`). `zh-CN` is typed as
 * `Messages`, so a key missing from it (or one it adds) is a compile error. Placeholders are
 * `{name}`. The language is kept in localStorage `paygate.lang`; the default follows
 * `navigator.languages` (the first tag starting with `zh` → Chinese).
 */
import { en } from "./en";
import { zhCN } from "./zh-CN";

export type MessageKey = keyof typeof en;
export type Messages = { readonly [K in MessageKey]: string };
export type Lang = "en" | "zh-CN";

export const LANG_KEY = "paygate.lang";
export const DICTIONARIES: Record<Lang, Messages> = { en, "zh-CN": zhCN };

/** The default language for a browser's preference list. */
export function defaultLang(languages: readonly string[]): Lang {
  return languages.some((l) => l.toLowerCase().startsWith("zh")) ? "zh-CN" : "en";
}

/** Fills `{name}` placeholders; unknown placeholders stay visible so they are noticed. */
export function format(template: string, vars?: Record<string, string | number>): string {
  if (!vars) return template;
  return template.replace(/\{(\w+)\}/g, (m, k: string) => (k in vars ? String(vars[k]) : m));
}

let current: Lang = "en";

export function initialLang(): Lang {
  try {
    const saved = localStorage.getItem(LANG_KEY);
    if (saved === "en" || saved === "zh-CN") return saved;
  } catch {
    /* storage disabled */
  }
  const prefs = typeof navigator !== "undefined" ? navigator.languages ?? [navigator.language] : [];
  return defaultLang(prefs);
}

export function setLang(lang: Lang, persist: boolean): void {
  current = lang;
  if (typeof document !== "undefined") document.documentElement.lang = lang;
  if (persist) {
    try {
      localStorage.setItem(LANG_KEY, lang);
    } catch {
      /* storage disabled */
    }
  }
}

export function getLang(): Lang {
  return current;
}

/** The current language's text for `key`. */
export function t(key: MessageKey, vars?: Record<string, string | number>): string {
  return format(DICTIONARIES[current][key], vars);
}
