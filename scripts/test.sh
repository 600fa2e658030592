#!/usr/bin/env bash
# The whole test suite: the Rust tests (unit and integration over HTTP, on SQLite,
# or on PostgreSQL when TEST_DATABASE_URL is set), then the editor's browser tests
# in headless Chromium. Installs what the browser tests need (see
# frontend-stub/tests/run.sh).
set -euo pipefail
cd "$(dirname "$0")/.."

cargo test --workspace
# The browser tests drive the server binary that cargo test has just built.
cargo build --bin iodide-server
bash frontend-stub/tests/run.sh
