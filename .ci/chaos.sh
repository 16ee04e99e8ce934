#!/usr/bin/env bash
# The short, bounded crash run of CI (`paygate bench --chaos`): under a light load, kill -9 the
# server 3 times on SQLite, then 2 times plus one crash-restart of a throwaway PostgreSQL
# cluster (created on a spare port, never the machine's server), and reconcile paygate's books
# against the simulator's each time. Exits non-zero on any discrepancy. About 2-3 minutes on
# 2 cores; the long manual run is in the README ("Crash testing").
#
# Uses the release binary CI built once (PAYGATE_BIN overrides). The seeds are fixed so a
# failure replays with the same fault schedule (payment timing still varies).
set -euo pipefail

cd "$(dirname "$0")/.."
bin="${PAYGATE_BIN:-$(pwd)/target/release/paygate}"
if ! [ -x "$bin" ]; then
  echo "error: $bin is missing: build it first (cargo build --release -p paygate-cli) or set PAYGATE_BIN" >&2
  exit 1
fi

# The throwaway cluster needs PostgreSQL's server programs (initdb, pg_ctl): Debian's package.
if ! compgen -G "/usr/lib/postgresql/*/bin/initdb" >/dev/null && ! command -v initdb >/dev/null; then
  DEBIAN_FRONTEND=noninteractive apt-get install -y -q postgresql >/dev/null \
    || { apt-get update -q >/dev/null && DEBIAN_FRONTEND=noninteractive apt-get install -y -q postgresql >/dev/null; }
fi

common=(bench --chaos --paygate-bin "$bin" --concurrency 4 --tenants 2 --users 4
  --duration 40 --kill-min-interval 4 --kill-max-interval 10 --max-downtime 2
  --settle-timeout 120)

started=$SECONDS
echo "--- chaos on SQLite: 3 kills (seed 20261124)"
timeout 300 "$bin" "${common[@]}" --db sqlite --kills 3 --chaos-seed 20261124
echo "--- chaos on a throwaway PostgreSQL cluster: 2 kills + 1 database crash-restart (seed 20261125)"
timeout 300 "$bin" "${common[@]}" --db postgres-throwaway --kills 2 --db-restarts 1 --chaos-seed 20261125
echo "chaos: both runs clean in $((SECONDS - started)) s"
