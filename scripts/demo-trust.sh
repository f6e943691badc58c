#!/usr/bin/env bash
# The trust layer, live: consent taking effect immediately, an erasure, an audit verification and
# a fairness report, against the demo bank (built by scripts/demo.sh, or here if missing).
# Usage: scripts/demo-trust.sh [PORT]
set -euo pipefail
cd "$(dirname "$0")/.."
PORT="${1:-18081}"
cargo build --release -p sextant >/dev/null
BIN="${CARGO_TARGET_DIR:-target}/release/sextant"
DIR=demo
export SEXTANT_DATABASE="$DIR/sextant.db"
export SEXTANT__SECURITY__MASTER_KEY_FILE="$DIR/sextant.key"
export SEXTANT__SECURITY__ENCRYPTION_KEY_FILE="$DIR/sextant.enc.key"
export RUST_LOG=warn
if [ ! -f "$DIR/sextant.db" ]; then
  mkdir -p "$DIR"
  "$BIN" generate --customers 2000 --months 12 --out "$DIR/bank"
  "$BIN" import bank "$DIR/bank" --quiet
fi
step() { printf '\n\033[1m== %s\033[0m\n' "$*"; }
call() { # METHOD PATH KEY [BODY]
  local body=()
  [ $# -ge 4 ] && body=(-H 'content-type: application/json' -d "$4")
  curl -s -X "$1" -H "Authorization: Bearer $3" "${body[@]}" -w '  -> HTTP %{http_code}\n' "http://127.0.0.1:$PORT$2"
  echo
}

ADMIN=$("$BIN" keys create --role admin --label demo-trust 2>/dev/null)
"$BIN" serve --bind "127.0.0.1:$PORT" >/dev/null &
SERVER=$!
trap 'kill $SERVER 2>/dev/null || true' EXIT
for _ in $(seq 1 50); do curl -sf "http://127.0.0.1:$PORT/healthz" >/dev/null && break; sleep 0.1; done
CID=$(curl -s -H "Authorization: Bearer $ADMIN" "http://127.0.0.1:$PORT/v1/customers?limit=1" \
  | python3 -c 'import json, sys; print(json.load(sys.stdin)["items"][0]["id"])')
OWN=$("$BIN" keys create --role customer --customer "$CID" --label demo-trust 2>/dev/null)

step "Customer $CID asks for a peer comparison without personalization consent"
call PUT "/v1/customers/$CID/consents" "$OWN" '{"consents": {"personalization": false}}' >/dev/null
call GET "/v1/customers/$CID/peers" "$OWN"
step "The customer opts in: the same request works at once"
call PUT "/v1/customers/$CID/consents" "$OWN" '{"consents": {"personalization": true, "marketing": false}}'
call GET "/v1/customers/$CID/peers" "$OWN"
step "The customer opts out again: refused at once"
call PUT "/v1/customers/$CID/consents" "$OWN" '{"consents": {"personalization": false}}' >/dev/null
call GET "/v1/customers/$CID/peers" "$OWN"

step "Erasure of customer $CID (admin)"
call DELETE "/v1/customers/$CID" "$ADMIN"
call GET "/v1/customers/$CID" "$ADMIN"

step "Audit log verification"
"$BIN" audit verify
"$BIN" audit export --from "$(date -u -d '-1 hour' +%Y-%m-%dT%H:%M:%SZ)" 2>/dev/null | tail -n 4

step "Fairness report over the offers the bank made (by gender, age band, region)"
"$BIN" audit fairness --source offers --bootstrap 500
