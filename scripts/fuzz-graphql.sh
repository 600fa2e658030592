#!/usr/bin/env bash
# Fuzzes /api/graphql with schemathesis (PyPI) for a bounded number of cases,
# signed in with an API token: fails on any HTTP 5xx, or any GraphQL error that is
# INTERNAL or has no code. Needs the server built (cargo build). Loopback only.
set -euo pipefail
cd "$(dirname "$0")/.."

EXAMPLES="${FUZZ_EXAMPLES:-25}"
SERVER_BIN="${IODIDE_SERVER_BIN:-${CARGO_TARGET_DIR:-target}/debug/iodide-server}"
VENV="${FUZZ_VENV:-${CARGO_TARGET_DIR:-target}/fuzz-venv}"

[ -x "$VENV/bin/st" ] || {
  python3 -m venv "$VENV"
  "$VENV/bin/pip" install --quiet "schemathesis>=3.39,<4"
}

work="$(mktemp -d)"
server_pid=""
cleanup() {
  [ -n "$server_pid" ] && kill "$server_pid" 2>/dev/null || true
  rm -rf "$work"
}
trap cleanup EXIT

export DATABASE_URL="sqlite://$work/db.sqlite?mode=rwc"
"$SERVER_BIN" user create fuzzer >/dev/null
key="$("$SERVER_BIN" token create fuzzer)"
port="$(python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')"

PORT="$port" BIND_ADDRESS=127.0.0.1 RATE_LIMIT_PER_MINUTE=1000000 RUST_LOG=error \
  "$SERVER_BIN" serve --dev >"$work/server.log" 2>&1 &
server_pid=$!
for _ in $(seq 1 50); do
  curl -sf "http://127.0.0.1:$port/__lbheartbeat__" >/dev/null && break
  sleep 0.2
done

SCHEMATHESIS_HOOKS=scripts.schemathesis_hooks "$VENV/bin/st" run \
  "http://127.0.0.1:$port/api/graphql" \
  --header "Authorization: Token $key" \
  --checks no_internal_error \
  --hypothesis-max-examples "$EXAMPLES" \
  --hypothesis-seed 20261128 \
  --hypothesis-deadline none \
  --no-color
