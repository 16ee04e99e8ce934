/** API errors onto form fields, and the channel credentials document. */
import assert from "node:assert/strict";
import { test } from "node:test";
import { ApiFailure } from "../src/api";
import { createChannelBody, credentialsDocument, formPaths, splitPems } from "../src/channelform";
import { mapError } from "../src/fielderrors";
import { parseRoute } from "../src/router";

const describe = (e: ApiFailure) => `${e.message} (${e.code})`;

test("a field error lands on its field with the API's reason", () => {
  const e = new ApiFailure(422, "invalid_channel_credentials", "invalid channel credentials: apiv3_key: must be exactly 32 bytes, got 5", {
    field: "credentials.apiv3_key",
    reason: "must be exactly 32 bytes, got 5",
  });
  const m = mapError(e, formPaths("wechat-v3", true), describe);
  assert.deepEqual(m.fields, { "credentials.apiv3_key": "must be exactly 32 bytes, got 5" });
  assert.equal(m.general, null);
});

test("an indexed field maps to the field; an unknown field or none is general", () => {
  const indexed = new ApiFailure(422, "x", "m", { field: "credentials.platform_certificates_pem[1]", reason: "bad" });
  assert.deepEqual(mapError(indexed, formPaths("wechat-v3", true), describe).fields, { "credentials.platform_certificates_pem": "bad" });
  const doc = new ApiFailure(422, "invalid_channel_credentials", "doc broken", { field: "credentials", reason: "bad" });
  assert.deepEqual(mapError(doc, formPaths("wechat-v3", true), describe), { fields: {}, general: "doc broken (invalid_channel_credentials)" });
  const none = new ApiFailure(409, "channel_exists", "exists", null);
  assert.equal(mapError(none, ["name"], describe).general, "exists (channel_exists)");
  const noReason = new ApiFailure(422, "invalid_request", "name: too long", { field: "name" });
  assert.deepEqual(mapError(noReason, ["name"], describe).fields, { name: "name: too long" });
});

test("v3 document: mchid from the merchant id, PEM blocks split, blanks left out", () => {
  const cert = "-----BEGIN CERTIFICATE-----\nAAA\n-----END CERTIFICATE-----";
  const doc = credentialsDocument("wechat-v3", " 1230000109 ", {
    "credentials.merchant_private_key_pem": "KEY",
    "credentials.apiv3_key": "k".repeat(32),
    "credentials.platform_certificates_pem": `${cert}\n${cert.replace("AAA", "BBB")}\n`,
    "credentials.wechatpay_public_key_id": "  ",
  });
  assert.deepEqual(doc, {
    mchid: "1230000109",
    merchant_private_key_pem: "KEY",
    apiv3_key: "k".repeat(32),
    platform_certificates_pem: [`${cert}\n`, `${cert.replace("AAA", "BBB")}\n`],
  });
});

test("v2 body: mch_id inside and outside, optional name", () => {
  const body = createChannelBody("wechat-v2", "", "1900000109", { "credentials.appid": "wx1", "credentials.api_key": "a".repeat(32) });
  assert.deepEqual(body, { kind: "wechat-v2", mch_id: "1900000109", credentials: { mch_id: "1900000109", appid: "wx1", api_key: "a".repeat(32) } });
  assert.equal(createChannelBody("wechat-v2", " Main ", "1", {}).name, "Main");
  assert.deepEqual(splitPems(""), []);
  assert.deepEqual(splitPems("garbage"), ["garbage"]);
});

test("hash routes", () => {
  assert.deepEqual(parseRoute(""), { page: "dashboard" });
  assert.deepEqual(parseRoute("#/login"), { page: "login" });
  assert.deepEqual(parseRoute("#/tenants/ten_1/api-keys"), { page: "tenant", tenantId: "ten_1", tab: "api-keys" });
  assert.deepEqual(parseRoute("#/tenants/ten_1"), { page: "tenant", tenantId: "ten_1", tab: "apps" });
  assert.deepEqual(parseRoute("#/tenants/ten_1/bogus"), { page: "not-found" });
  assert.deepEqual(parseRoute("#/audit"), { page: "audit" });
});
