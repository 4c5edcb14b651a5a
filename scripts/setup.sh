#!/usr/bin/env bash
# What a fresh clone needs to run syncs: npm packages, the Temporal CLI, and the compiled CLI (dist/).
# With --for-tests, also Chromium and Postgres (Debian's packages) for the Web UI and Postgres tests.
set -euo pipefail
cd "$(dirname "$0")/.."
if [ ! -d node_modules ] || [ package-lock.json -nt node_modules/.package-lock.json ]; then
  npm ci --no-audit --no-fund
fi
bash scripts/install-temporal.sh
# The compiled CLI starts without transpiling (bin/bizon.mjs runs it while it is newer than every source).
if [ ! -f dist/cli.js ] || [ -n "$(find activities cli config destinations engine sources workflows ./*.ts -name '*.ts' ! -name '*.d.ts' -newer dist/cli.js -print -quit)" ]; then
  npx tsc -p tsconfig.build.json
fi
# The Postgres tests start a cluster of their own with Debian's binaries (unless BIZON_TEST_POSTGRES_URL is set).
if [ "${1:-}" = "--for-tests" ] && [ -z "${BIZON_TEST_POSTGRES_URL:-}" ] && ! ls /usr/lib/postgresql/*/bin/initdb >/dev/null 2>&1; then
  if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null; then
    echo "Installing Postgres (Debian package) for the Postgres destination tests…"
    apt-get update -qq >/dev/null
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq postgresql >/dev/null
  else
    echo "Postgres is missing: its tests need it (sudo apt-get install postgresql, or set BIZON_TEST_POSTGRES_URL)." >&2
  fi
fi
if [ "${1:-}" = "--for-tests" ] && [ ! -x "${CHROMIUM_PATH:-/usr/bin/chromium}" ]; then
  if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null; then
    echo "Installing Chromium (Debian package) for the Web UI test…"
    apt-get update -qq >/dev/null
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium >/dev/null
  else
    echo "Chromium is missing: the Web UI test needs it (sudo apt-get install chromium, or set CHROMIUM_PATH)." >&2
  fi
fi
