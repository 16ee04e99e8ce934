/** Both dictionaries have the same keys and the same placeholders; default language rule. */
import assert from "node:assert/strict";
import { test } from "node:test";
import { en } from "../src/i18n/en";
import { DICTIONARIES, defaultLang, format } from "../src/i18n";
import { zhCN } from "../src/i18n/zh-CN";

const placeholders = (s: string) => [...s.matchAll(/\{(\w+)\}/g)].map((m) => m[1]).sort();

test("zh-CN has exactly the English keys, none blank", () => {
  assert.deepEqual(Object.keys(zhCN).sort(), Object.keys(en).sort());
  for (const [k, v] of Object.entries(zhCN)) assert.ok(v.trim().length > 0, `zh-CN ${k} is blank`);
  assert.equal(DICTIONARIES["zh-CN"], zhCN);
});

test("placeholders match between languages", () => {
  for (const k of Object.keys(en) as (keyof typeof en)[]) {
    assert.deepEqual(placeholders(zhCN[k]), placeholders(en[k]), k);
  }
});

test("labels the browser tests rely on", () => {
  assert.equal(en["login.username"], "Username");
  assert.equal(en["login.submit"], "Sign in");
  assert.equal(en["nav.audit"], "Audit log");
  assert.equal(zhCN["nav.language"], "语言");
  assert.equal(zhCN["nav.dashboard"], "概览");
  assert.equal(zhCN["nav.tenants"], "商户");
  assert.equal(zhCN["nav.alerts"], "告警");
  assert.equal(zhCN["nav.audit"], "审计日志");
  assert.equal(zhCN["nav.signOut"], "退出登录");
  assert.equal(zhCN["login.submit"], "登录");
});

test("default language follows the first zh preference", () => {
  assert.equal(defaultLang(["zh-TW", "en"]), "zh-CN");
  assert.equal(defaultLang(["en-US", "zh-CN"]), "zh-CN");
  assert.equal(defaultLang(["en-US", "fr"]), "en");
  assert.equal(defaultLang([]), "en");
});

test("format fills placeholders and keeps unknown ones visible", () => {
  assert.equal(format("{a} and {b}", { a: 1, b: "x" }), "1 and x");
  assert.equal(format("{a} {missing}", { a: 1 }), "1 {missing}");
});
