#!/usr/bin/env bash
# Interoperability suite: SDKs nobody on this project wrote (wechatpy, wechatpayv3) drive the
# paygate simulator, and the Standard Webhooks library verifies paygate's webhook signatures. Usage: interop/run.sh [VENV_DIR]   (default: target/interop-venv)
# Creates (or reuses) the venv, installs interop/requirements.txt, builds `paygate` and starts
# `paygate sim` on loopback (ports chosen by the OS), runs every script and ends with "N passed, M failed".
set -uo pipefail

here="$(cd "$(dirname "$0")" && pwd)"
repo="$(dirname "$here")"
venv="${1:-$repo/target/interop-venv}"

if [ ! -x "$venv/bin/python" ]; then
  python3 -m venv "$venv" || { echo "cannot create venv $venv"; echo "0 passed, 1 failed"; exit 1; }
fi
"$venv/bin/pip" install --quiet --disable-pip-version-check -r "$here/requirements.txt" \
  || { echo "pip install failed"; echo "0 passed, 1 failed"; exit 1; }

(cd "$repo" && cargo build --quiet --locked -p paygate-cli \
  && cargo build --quiet --locked -p paygate-server --example webhook_sample) \
  || { echo "cannot build the simulator"; echo "0 passed, 1 failed"; exit 1; }
target_dir="$(cd "$repo" && cargo metadata --format-version 1 --no-deps | "$venv/bin/python" -c 'import json,sys; print(json.load(sys.stdin)["target_directory"])')"
bin="$target_dir/debug/paygate"
export WEBHOOK_SAMPLE_BIN="$target_dir/debug/examples/webhook_sample"

work="$(mktemp -d)"
"$bin" sim --listen 127.0.0.1:0 --tls-listen 127.0.0.1:0 --refund-settle-after 0 \
  --ca-out "$work/ca.pem" >"$work/sim.out" 2>"$work/sim.err" &
sim_pid=$!
cleanup() { kill "$sim_pid" 2>/dev/null; wait "$sim_pid" 2>/dev/null; rm -rf "$work"; }
trap cleanup EXIT

for _ in $(seq 1 100); do
  grep -q '^SIM_HTTPS=' "$work/sim.out" 2>/dev/null && break
  sleep 0.1
done
SIM_HTTP="$(sed -n 's/^SIM_HTTP=//p' "$work/sim.out")"
SIM_HTTPS="$(sed -n 's/^SIM_HTTPS=//p' "$work/sim.out")"
if [ -z "$SIM_HTTP" ] || [ -z "$SIM_HTTPS" ]; then
  echo "simulator did not start:"; cat "$work/sim.err"; echo "0 passed, 1 failed"; exit 1
fi
export SIM_HTTP SIM_HTTPS SIM_CA="$work/ca.pem"

passed=0; failed=0
for script in wechatpy_miniprogram.py wechatpy_pay.py wechatpayv3_pay.py standardwebhooks_verify.py; do
  out="$(cd "$here" && "$venv/bin/python" "$script" 2>"$work/$script.err")"
  status=$?
  echo "$out" | grep -E '^(PASS|FAIL) '
  p=$(echo "$out" | grep -c '^PASS ')
  f=$(echo "$out" | grep -c '^FAIL ')
  if [ "$status" -ne 0 ] && [ "$f" -eq 0 ]; then
    echo "FAIL $script crashed:"; tail -20 "$work/$script.err"; f=1
  elif [ "$f" -ne 0 ]; then
    tail -40 "$work/$script.err"
  fi
  passed=$((passed + p)); failed=$((failed + f))
done

echo "$passed passed, $failed failed"
[ "$failed" -eq 0 ]
