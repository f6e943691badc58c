#!/usr/bin/env bash
# The demo on the embedded default: build, generate a synthetic bank, import it into
# demo/sextant.db, create an admin key, and serve the API and docs on http://127.0.0.1:8080.
# Extra arguments go to `sextant demo` (e.g. --customers 10000 --bind 0.0.0.0:8080).
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/setup-models.sh
cargo build --release -p sextant
exec "${CARGO_TARGET_DIR:-target}/release/sextant" demo "$@"
