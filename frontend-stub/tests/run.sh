#!/usr/bin/env bash
# CI: the editor's browser tests. Needs the server built first (cargo build);
# installs Debian's Chromium if it is missing, the pinned playwright-core from
# package-lock.json, and runs node's test runner. Exits non-zero on any failure.
set -euo pipefail
cd "$(dirname "$0")"

if [ ! -x "${CHROMIUM_BIN:-/usr/bin/chromium}" ]; then
  echo "==> installing chromium"
  if [ "$(id -u)" -eq 0 ]; then
    apt-get update && apt-get install -y chromium
  else
    sudo apt-get update && sudo apt-get install -y chromium
  fi
fi

# Where cargo put it: CARGO_TARGET_DIR when set (absolute), else the workspace's target/.
SERVER_BIN="${IODIDE_SERVER_BIN:-${CARGO_TARGET_DIR:-../../target}/debug/iodide-server}"
if [ ! -x "$SERVER_BIN" ]; then
  echo "The server binary $SERVER_BIN is missing: run cargo build first (or set IODIDE_SERVER_BIN)." >&2
  exit 1
fi

export IODIDE_SERVER_BIN="$SERVER_BIN"

echo "==> npm ci"
npm ci --no-audit --no-fund

echo "==> browser tests"
node --test --test-reporter=spec
