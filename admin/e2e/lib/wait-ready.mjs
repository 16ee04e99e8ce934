// @ts-check
// run.sh's readiness wait: until <data_dir>/demo.json exists and the server it names answers
// GET /healthz with 200, or fail (server exited, or 60 s passed) with the log's tail.
import { existsSync, readFileSync } from 'node:fs';

const [demoJson, pidText, logFile] = process.argv.slice(2);
const pid = Number(pidText);
const deadline = Date.now() + 60_000;

/** @param {string} why */
function fail(why) {
  const log = existsSync(logFile) ? readFileSync(logFile, 'utf8').split('\n').slice(-30).join('\n') : '';
  console.error(`run.sh: paygate did not become ready: ${why}\n--- server log (tail) ---\n${log}`);
  process.exit(1);
}

function alive() {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

for (;;) {
  if (!alive()) fail('the server exited');
  if (Date.now() > deadline) fail('timed out after 60 s');
  if (existsSync(demoJson)) {
    try {
      const { paygate_url: url } = JSON.parse(readFileSync(demoJson, 'utf8'));
      const res = await fetch(`${url}/healthz`, { signal: AbortSignal.timeout(2_000) });
      if (res.status === 200) break;
    } catch {
      // not written completely yet, or not listening yet: try again
    }
  }
  await new Promise((resolve) => setTimeout(resolve, 100));
}
