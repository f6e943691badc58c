#!/usr/bin/env bash
# GBDT training time and ROC-AUC on the synthetic bank: sextant's GBDT (perpetual) against
# scikit-learn's HistGradientBoostingClassifier, on the same point-in-time churn table exported
# by `sextant model export-bank`. Run from the repository root:
#
#   bash bench/gbdt/run.sh            # CUSTOMERS=20000 MONTHS=12 by default
#
# Downloads nothing but the pinned scikit-learn / numpy wheels from PyPI into a venv.
set -euo pipefail
CUSTOMERS=${CUSTOMERS:-20000}
MONTHS=${MONTHS:-12}
CUTOFF=${CUTOFF:-2026-08-02T00:00:00Z}
TARGET_DIR=${CARGO_TARGET_DIR:-target}
WORK=${WORK:-$TARGET_DIR/bench-gbdt}
HERE=$(cd "$(dirname "$0")" && pwd)

cargo build --release -p sextant
S=$(cd "$TARGET_DIR/release" && pwd)/sextant
mkdir -p "$WORK"
WORK=$(cd "$WORK" && pwd)
# Run inside WORK: sextant creates its key files in the working directory.
cd "$WORK"
export SEXTANT_DATABASE="$WORK/bank.db"
if [ ! -f "$WORK/churn.csv" ]; then
  rm -rf "$WORK/bank" "$WORK/bank.db"*
  "$S" generate --customers "$CUSTOMERS" --months "$MONTHS" --seed 42 --out "$WORK/bank"
  "$S" import bank "$WORK/bank" > /dev/null
  "$S" model export-bank --target churn --cutoff "$CUTOFF" --out "$WORK/churn.csv"
fi

if [ ! -x "$WORK/venv/bin/python" ]; then
  python3 -m venv "$WORK/venv"
  "$WORK/venv/bin/pip" install --quiet -r "$HERE/requirements.txt"
fi

# sextant: 5-fold CV (same folds for every model), then one timed fit on all rows without
# calibration (what scikit-learn's fit does too).
"$S" model evaluate --data "$WORK/churn.csv" --target label --id customer_id --folds 5 --seed 42 \
  --json > "$WORK/sextant-cv.json"
"$S" model train --data "$WORK/churn.csv" --target label --id customer_id --calibration-folds 0 \
  --name bench_gbdt > "$WORK/sextant-fit.txt"
# Best of 3 fits, like scikit-learn below.
for _ in 1 2; do
  "$S" model train --data "$WORK/churn.csv" --target label --id customer_id --calibration-folds 0 \
    --name bench_gbdt >> "$WORK/sextant-fit.txt"
done

"$WORK/venv/bin/python" "$HERE/compare.py" "$WORK/churn.csv" "$WORK/sextant-cv.json" "$WORK/sextant-fit.txt"
