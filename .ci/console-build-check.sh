#!/usr/bin/env bash
# The operator console (admin/) builds reproducibly and the committed admin/dist/ is exactly what
# the sources produce: the binary embeds admin/dist/, so a stale dist would ship stale code.
#
# Runs: npm ci → typecheck → unit tests → build → no diff and no untracked file in admin/dist.
# Needs node ≥ 20 and the npm registry; nothing else is downloaded.
set -euo pipefail
cd "$(dirname "$0")/../admin"

fail() {
  echo "console-build-check: $*" >&2
  echo "console-build-check: to fix, run  (cd admin && npm ci && npm run build)  and commit admin/dist/" >&2
  exit 1
}

npm ci --no-audit --no-fund
npm run typecheck
npm test
npm run build

if ! git --no-pager diff --exit-code --stat -- dist >&2; then
  fail "admin/dist/ differs from what admin/src builds (stale or hand-edited dist)"
fi
untracked=$(git status --porcelain --untracked-files=all -- dist)
if [ -n "$untracked" ]; then
  echo "$untracked" >&2
  fail "admin/dist/ has files that are not committed (or not built any more)"
fi
echo "console-build-check: admin/dist/ is up to date"
