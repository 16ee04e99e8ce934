#!/usr/bin/env bash
# Browser end-to-end tests of paygate's operator console.
#
#   admin/e2e/run.sh                      # every test in admin/e2e/tests
#   admin/e2e/run.sh tests/login.test.js  # some of them
#   admin/e2e/run.sh --screenshots        # regenerate admin/screenshots/*.png instead
#
# Starts `paygate serve --sim` on free ports in a fresh temporary directory, waits until it is
# healthy, exports what the tests need from its demo.json, runs the tests in headless Debian
# Chromium (playwright-core, no browser download) and always stops the server. The exit code
# is the tests'. Needs: the paygate binary (PAYGATE_BIN, default target/release/paygate, else
# target/debug/paygate), Node >= 20.10 with npm, and Chromium (apt-get install -y chromium).
set -euo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
repo="$(cd "$here/../.." && pwd)"

mode=test
if [[ "${1:-}" == "--screenshots" ]]; then
  mode=screenshots
  shift
fi

die() { echo "run.sh: $*" >&2; exit 2; }

chromium_bin="${PAYGATE_CHROMIUM:-/usr/bin/chromium}"
[[ -x "$chromium_bin" ]] || die "$chromium_bin is missing: apt-get install -y chromium"
command -v node >/dev/null || die "node is missing (Node >= 20.10 is needed)"
command -v npm >/dev/null || die "npm is missing"

if [[ $mode == screenshots ]] && command -v fc-list >/dev/null && [[ -z "$(fc-list :lang=zh)" ]]; then
  die "no Chinese font: the Chinese screenshots would show boxes (apt-get install -y fonts-wqy-zenhei)"
fi

if [[ -z "${PAYGATE_BIN:-}" ]]; then
  if [[ -x "$repo/target/release/paygate" ]]; then
    PAYGATE_BIN="$repo/target/release/paygate"
  else
    PAYGATE_BIN="$repo/target/debug/paygate"
  fi
fi
[[ "$PAYGATE_BIN" = /* ]] || PAYGATE_BIN="$repo/$PAYGATE_BIN"
[[ -x "$PAYGATE_BIN" ]] || die "no paygate binary at $PAYGATE_BIN: cargo build --release -p paygate-cli (or set PAYGATE_BIN)"

# Dependencies: npm ci when node_modules is missing or was installed from another lockfile.
lock_sum="$(sha256sum "$here/package-lock.json" | cut -d' ' -f1)"
if [[ ! -f "$here/node_modules/.paygate-lock-sum" || "$(cat "$here/node_modules/.paygate-lock-sum")" != "$lock_sum" ]]; then
  (cd "$here" && npm ci --no-audit --no-fund --loglevel=error)
  echo "$lock_sum" > "$here/node_modules/.paygate-lock-sum"
fi

# Artifacts (failure screenshots and logs) are those of this run only.
rm -rf "$here/artifacts"

work="$(mktemp -d "${TMPDIR:-/tmp}/paygate-console-e2e.XXXXXX")"
server_pid=""
runner_pid=""
cleanup() {
  local status=$?
  if [[ -n "$runner_pid" ]] && kill -0 "$runner_pid" 2>/dev/null; then
    kill -TERM "$runner_pid" 2>/dev/null || true
    wait "$runner_pid" 2>/dev/null || true
  fi
  if [[ -n "$server_pid" ]] && kill -0 "$server_pid" 2>/dev/null; then
    kill -TERM "$server_pid" 2>/dev/null || true
    wait "$server_pid" 2>/dev/null || true
  fi
  if [[ $status -ne 0 && -f "$work/paygate.log" ]]; then
    mkdir -p "$here/artifacts"
    cp "$work/paygate.log" "$here/artifacts/paygate.log"
    echo "run.sh: the server's log is in admin/e2e/artifacts/paygate.log" >&2
  fi
  rm -rf "$work"
  exit "$status"
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

# The server must not pick up a developer's configuration: no PAYGATE_* variables, no
# ./paygate.toml (it runs in the empty temporary directory).
unset_args=()
while IFS= read -r name; do unset_args+=(-u "$name"); done < <(env | sed -n 's/^\(PAYGATE_[A-Za-z0-9_]*\)=.*/\1/p')
data_dir="$work/data"
(
  cd "$work"
  exec env "${unset_args[@]}" RUST_LOG="${RUST_LOG:-warn}" \
    "$PAYGATE_BIN" serve --sim --listen 127.0.0.1:0 --data-dir "$data_dir"
) >"$work/paygate.log" 2>&1 &
server_pid=$!

# demo.json is written once the demo is seeded; its paygate_url carries the chosen port.
node "$here/lib/wait-ready.mjs" "$data_dir/demo.json" "$server_pid" "$work/paygate.log"

eval "$(node "$here/lib/demo-env.mjs" "$data_dir/demo.json")"
export PAYGATE_DATA_DIR="$data_dir" PAYGATE_CHROMIUM="$chromium_bin"
# Chromium's temporary profile and Playwright's files live in the run's directory, which the
# cleanup removes even when the runner was killed.
mkdir -p "$work/tmp"
export TMPDIR="$work/tmp"
echo "run.sh: $("$PAYGATE_BIN" --version 2>/dev/null || echo paygate) at $PAYGATE_URL (simulator $PAYGATE_SIM_URL)"

cd "$here"
# The runner goes to the background and is waited for, so a TERM/INT to this script is handled
# at once (bash runs traps only between foreground commands) and the cleanup stops both.
if [[ $mode == screenshots ]]; then
  node screenshots.js "$@" &
else
  if [[ $# -eq 0 ]]; then set -- tests/*.test.js; fi
  node --test --test-concurrency=1 "$@" &
fi
runner_pid=$!
set +e
wait "$runner_pid"
status=$?
set -e
runner_pid=""
exit $status
