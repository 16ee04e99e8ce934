// @ts-check
// run.sh's bridge from demo.json to the environment the tests read (lib/env.js): prints
// `export NAME='value'` lines for the shell to eval. The values include the demo operator's
// password: they stay in the test process's environment and are never printed by run.sh.
import { readFileSync } from 'node:fs';

const demo = JSON.parse(readFileSync(process.argv[2], 'utf8'));
/** @type {Record<string, string>} */
const vars = {
  PAYGATE_URL: demo.paygate_url,
  PAYGATE_SIM_URL: demo.simulator.http,
  PAYGATE_OPERATOR_USERNAME: demo.operator.username,
  PAYGATE_OPERATOR_PASSWORD: demo.operator.password,
  PAYGATE_WEBHOOK_RECEIVER_URL: demo.webhook.url,
  PAYGATE_DEMO_TENANT_ID: demo.tenant_id,
  PAYGATE_DEMO_APPID: demo.appid,
  PAYGATE_DEMO_API_KEY: demo.api_key,
};
for (const [name, value] of Object.entries(vars)) {
  if (typeof value !== 'string' || value === '') throw new Error(`demo.json lacks ${name}`);
  process.stdout.write(`export ${name}='${value.replaceAll("'", `'\\''`)}'\n`);
}
