#!/usr/bin/env bash
# Side-by-side recommendation benchmark: Sextant vs the design deck's Python stack
# (Flask + pandas + scikit-learn k-means + rule mapping; bench/nba/baseline/app.py).
#
#   bench/nba/run.sh                                  # 1M customers, 20 s, 16 connections, 2 threads
#   bench/nba/run.sh --customers 20000 --duration 5s --baseline-only
#   bench/nba/run.sh --sextant-url http://127.0.0.1:8080 --sextant-key KEY   # a Sextant you started
#
# Options (defaults in brackets):
#   --customers N         synthetic customers, ids 1..N [1000000]
#   --duration D          measured wrk duration per stack [20s]
#   --warmup D            un-measured wrk run before each measurement [5s]
#   --connections C       wrk connections [16]
#   --threads T           wrk threads [2]
#   --sextant-url URL     a running Sextant serving the same customers (then --sextant-key too);
#                         without it start_sextant() below imports, trains and serves one
#   --sextant-key KEY     its API key (role app)
#   --sextant-bin PATH    sextant binary [target/release/sextant, else /work/target-bench/…, else debug]
#   --baseline-only       measure the baseline only (e.g. while Sextant's endpoint is missing)
#   --wait-quiet SECS     before each measurement wait up to SECS for the CPUs to be < 15% busy [0]
#   --out FILE            Markdown results [bench/nba/results.md]
#
# Everything is bound to 127.0.0.1, every step has a time limit, and whatever the script starts
# is stopped on exit. Data lives in bench/nba/.data/ (gitignored), the venv in bench/nba/.venv/.
set -euo pipefail

BENCH="$(cd "$(dirname "$0")" && pwd)"
ROOT="$(cd "$BENCH/../.." && pwd)"

CUSTOMERS=1000000
DURATION=20s
WARMUP=5s
CONNECTIONS=16
THREADS=2
SEXTANT_URL=""
SEXTANT_KEY=""
SEXTANT_BIN="${SEXTANT_BIN:-}"
BASELINE_ONLY=0
WAIT_QUIET=0
OUT="$BENCH/results.md"
# time limits, seconds
GENERATE_TIMEOUT="${GENERATE_TIMEOUT:-900}"
BASELINE_START_TIMEOUT="${BASELINE_START_TIMEOUT:-900}"
SEXTANT_SETUP_TIMEOUT="${SEXTANT_SETUP_TIMEOUT:-3600}"
SEXTANT_START_TIMEOUT="${SEXTANT_START_TIMEOUT:-300}"

die() { echo "run.sh: $*" >&2; exit 1; }
log() { echo "[$(date +%H:%M:%S)] $*" >&2; }

while [ $# -gt 0 ]; do
  case "$1" in
    --customers) CUSTOMERS="$2"; shift 2 ;;
    --duration) DURATION="$2"; shift 2 ;;
    --warmup) WARMUP="$2"; shift 2 ;;
    --connections) CONNECTIONS="$2"; shift 2 ;;
    --threads) THREADS="$2"; shift 2 ;;
    --sextant-url) SEXTANT_URL="$2"; shift 2 ;;
    --sextant-key) SEXTANT_KEY="$2"; shift 2 ;;
    --sextant-bin) SEXTANT_BIN="$2"; shift 2 ;;
    --baseline-only) BASELINE_ONLY=1; shift ;;
    --wait-quiet) WAIT_QUIET="$2"; shift 2 ;;
    --out) OUT="$2"; shift 2 ;;
    -h|--help) sed -n '2,/^set -euo/p' "$0" | sed '$d; s/^# \{0,1\}//'; exit 0 ;;
    *) die "unknown argument: $1 (see --help)" ;;
  esac
done
[[ "$CUSTOMERS" =~ ^[1-9][0-9]*$ ]] || die "--customers must be a positive whole number"
[[ "$WAIT_QUIET" =~ ^[0-9]+$ ]] || die "--wait-quiet takes seconds"
[[ "$DURATION" =~ ^[0-9]+[smh]?$ && "$WARMUP" =~ ^[0-9]+[smh]?$ ]] || die "--duration/--warmup look like 20s, 1m"
if [ -n "$SEXTANT_URL" ] && [ -z "$SEXTANT_KEY" ]; then die "--sextant-url needs --sextant-key"; fi
case "$SEXTANT_URL" in ""|http://127.0.0.1:*|http://localhost:*) ;; *) die "--sextant-url must be on loopback (http://127.0.0.1:PORT)";; esac

to_secs() { local d="$1"; case "$d" in *h) echo $(( ${d%h} * 3600 ));; *m) echo $(( ${d%m} * 60 ));; *s) echo "${d%s}";; *) echo "$d";; esac; }

DATA="$BENCH/.data"
BANK="$DATA/bank-$CUSTOMERS"       # one bank per size, so a different --customers never reuses the wrong one
VENV="$BENCH/.venv"
mkdir -p "$DATA"

# ---------------------------------------------------------------- cleanup of what we started
PIDS=()
stop_pid() {
  local pid="$1"
  [ -n "$pid" ] || return 0
  if kill -0 "$pid" 2>/dev/null; then
    kill -TERM "$pid" 2>/dev/null || true
    for _ in $(seq 1 50); do kill -0 "$pid" 2>/dev/null || break; sleep 0.2; done
    kill -KILL "$pid" 2>/dev/null || true
  fi
  wait "$pid" 2>/dev/null || true
}
cleanup() {
  local pid
  for pid in "${PIDS[@]:-}"; do stop_pid "$pid"; done
}
trap cleanup EXIT
trap 'exit 130' INT TERM

free_port() {
  python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1]); s.close()'
}

# wait_http URL SECONDS [PID]: until URL answers 2xx, the process dies, or time is up
wait_http() {
  local url="$1" limit="$2" pid="${3:-}" start=$SECONDS
  while (( SECONDS - start < limit )); do
    if curl -fsS -o /dev/null --max-time 2 "$url" 2>/dev/null; then return 0; fi
    if [ -n "$pid" ] && ! kill -0 "$pid" 2>/dev/null; then return 1; fi
    sleep 0.5
  done
  return 1
}

# cpu_busy: percentage of all CPUs busy over the next 2 seconds, e.g. "3%"
cpu_busy() {
  local a b
  a=$(head -1 /proc/stat); sleep 2; b=$(head -1 /proc/stat)
  awk -v a="$a" -v b="$b" 'BEGIN{ split(a,x," "); split(b,y," "); t=0; i=0
    for (k=2; k<=9; k++) { d=y[k]-x[k]; t+=d; if (k==5 || k==6) i+=d }
    printf "%d%%", (t>0 ? 100*(t-i)/t : 0) }'
}

# ---------------------------------------------------------------- tools
if ! command -v wrk >/dev/null; then
  log "installing wrk (apt-get)"
  SUDO=""; [ "$(id -u)" = 0 ] || SUDO="sudo"
  timeout 600 $SUDO apt-get install -y wrk >/dev/null 2>&1 \
    || { timeout 300 $SUDO apt-get update >/dev/null && timeout 600 $SUDO apt-get install -y wrk >/dev/null; } \
    || die "could not install wrk"
fi
command -v curl >/dev/null || die "curl is needed"

REQ="$BENCH/baseline/requirements.txt"
if [ ! -x "$VENV/bin/gunicorn" ] || ! cmp -s "$REQ" "$VENV/.requirements.txt"; then
  log "creating $VENV with the pinned requirements"
  [ -x "$VENV/bin/python" ] || python3 -m venv "$VENV"
  timeout 900 "$VENV/bin/pip" install -q --disable-pip-version-check -r "$REQ"
  cp "$REQ" "$VENV/.requirements.txt"
fi

if [ -z "$SEXTANT_BIN" ]; then
  for b in "$ROOT/target/release/sextant" /work/target/release/sextant /work/target-bench/release/sextant \
           "$ROOT/target/debug/sextant" /work/target/debug/sextant; do
    if [ -x "$b" ]; then SEXTANT_BIN="$b"; break; fi
  done
fi
[ -n "$SEXTANT_BIN" ] && [ -x "$SEXTANT_BIN" ] || die "no sextant binary; build one with
  CARGO_TARGET_DIR=/work/target-bench cargo build --release -p sextant   (then --sextant-bin /work/target-bench/release/sextant)"

# ---------------------------------------------------------------- data
if [ ! -f "$BANK/manifest.json" ] || [ ! -f "$BANK/customers.csv" ]; then
  log "generating $CUSTOMERS customers × 1 month into $BANK"
  rm -rf "$BANK"
  t0=$SECONDS
  timeout "$GENERATE_TIMEOUT" "$SEXTANT_BIN" generate --customers "$CUSTOMERS" --months 1 --seed 42 --out "$BANK" >&2 \
    || die "generate failed or took longer than ${GENERATE_TIMEOUT}s"
  log "generated in $((SECONDS - t0))s, $(du -sh "$BANK" | cut -f1)"
fi
ROWS=$(( $(wc -l < "$BANK/customers.csv") - 1 ))
[ "$ROWS" = "$CUSTOMERS" ] || die "$BANK/customers.csv has $ROWS customers, expected $CUSTOMERS"

# ---------------------------------------------------------------- the baseline (deck stack)
BASELINE_KEY="bl_$(head -c 16 /dev/urandom | od -An -tx1 | tr -d ' \n')"
start_baseline() {
  BASELINE_PORT=$(free_port)
  BASELINE_URL="http://127.0.0.1:$BASELINE_PORT"
  log "starting the baseline: gunicorn, 2 sync workers (one per core), --preload, on $BASELINE_URL"
  # --preload: the master reads the CSV and fits the scaler + KMeans once, the two workers fork
  # from it with the fitted model. OMP/BLAS threads = 1: two single-threaded workers on two cores
  # (also keeps OpenMP from being used before fork()).
  env -C "$BENCH/baseline" BASELINE_KEY="$BASELINE_KEY" BASELINE_CUSTOMERS_CSV="$BANK/customers.csv" \
      OMP_NUM_THREADS=1 OPENBLAS_NUM_THREADS=1 MKL_NUM_THREADS=1 \
      "$VENV/bin/gunicorn" --workers 2 --worker-class sync --preload --bind "127.0.0.1:$BASELINE_PORT" \
      --backlog 2048 --timeout 60 --log-level warning app:app >"$DATA/baseline.log" 2>&1 &
  BASELINE_PID=$!
  PIDS+=("$BASELINE_PID")
  local t0=$SECONDS
  wait_http "$BASELINE_URL/healthz" "$BASELINE_START_TIMEOUT" "$BASELINE_PID" \
    || { tail -20 "$DATA/baseline.log" >&2; die "the baseline did not become ready in ${BASELINE_START_TIMEOUT}s"; }
  BASELINE_READY_SECS=$((SECONDS - t0))
  log "baseline ready in ${BASELINE_READY_SECS}s (CSV load + StandardScaler + KMeans fit)"
}

# ---------------------------------------------------------------- Sextant
# ======================================================================================
# start_sextant(): sets SEXTANT_URL and SEXTANT_KEY (a key with role app) for a Sextant serving
# the same $CUSTOMERS customers from $BANK on 127.0.0.1, and adds the server's pid to PIDS so the
# trap stops it. The import, feature table, segments and collaborative filtering are done once
# per size and reused (marker file $SDIR/.ready).
# ======================================================================================
start_sextant() {
  local SDIR="$DATA/sextant-$CUSTOMERS"
  local S="$SEXTANT_BIN"
  case "$S" in */debug/*) log "WARNING: $S is a debug build: its numbers are not Sextant's (use --sextant-bin)";; esac
  mkdir -p "$SDIR"
  # sextant.db, sextant.key and sextant.enc.key live in $SDIR (the defaults are relative to cwd)
  if [ ! -f "$SDIR/.ready" ]; then
    log "Sextant: importing $BANK into $SDIR/sextant.db, features, segments (once per size)"
    ( cd "$SDIR"
      step() { local t0=$SECONDS; timeout "$SEXTANT_SETUP_TIMEOUT" "$S" --database sextant.db "$@" || return 1
               echo "STEP sextant $* took $((SECONDS - t0))s"; echo "[$(date +%H:%M:%S)] sextant $* took $((SECONDS - t0))s" >&3; }
      rm -f sextant.db sextant.db-wal sextant.db-shm
      step import bank "$BANK"
      step features refresh --quiet
      step segment train --promote
      step recommend train
    ) 3>&2 >"$SDIR/setup.log" 2>&1 || { tail -20 "$SDIR/setup.log" >&2; die "Sextant setup failed (see $SDIR/setup.log)"; }
    touch "$SDIR/.ready"
  fi
  SEXTANT_KEY=$(cd "$SDIR" && "$S" --database sextant.db keys create --role app --label bench 2>/dev/null \
                  | grep -oE 'sx_[A-Za-z0-9_]+' | tail -1)
  [ -n "$SEXTANT_KEY" ] || die "could not create a Sextant API key"
  local port; port=$(free_port)
  SEXTANT_URL="http://127.0.0.1:$port"
  log "starting Sextant ($S) on $SEXTANT_URL"
  env -C "$SDIR" SEXTANT__LOG__LEVEL=warn "$S" --database sextant.db serve --bind "127.0.0.1:$port" \
    >"$SDIR/serve.log" 2>&1 &
  SEXTANT_PID=$!
  PIDS+=("$SEXTANT_PID")
  wait_http "$SEXTANT_URL/readyz" "$SEXTANT_START_TIMEOUT" "$SEXTANT_PID" \
    || { tail -20 "$SDIR/serve.log" >&2; die "Sextant did not become ready in ${SEXTANT_START_TIMEOUT}s"; }
}

# ---------------------------------------------------------------- load
# probe URL KEY: one request for customer 1 must be 2xx before we measure anything
probe() {
  local code
  code=$(curl -sS -o "$DATA/probe.json" -w '%{http_code}' --max-time 10 \
    -H "Authorization: Bearer $2" "$1/v1/customers/1/recommendations?limit=3&channel=app" || true)
  if [[ "$code" != 2* ]]; then
    echo "run.sh: probe of $1 answered HTTP $code: $(head -c 300 "$DATA/probe.json" 2>/dev/null)" >&2
    return 1
  fi
}

# bench NAME URL KEY: warm-up, then the measured run; sets R_<field> from BENCH_RESULT
bench() {
  local name="$1" url="$2" key="$3" dur_s warm_s raw
  dur_s=$(to_secs "$DURATION"); warm_s=$(to_secs "$WARMUP")
  # the machine should be quiet: measure how busy the CPUs are for 2 s before the warm-up
  # (shown in the report); the servers are idle then, so this is somebody else's work
  BUSY[$name]=$(cpu_busy)
  local waited=0
  while [ "${BUSY[$name]%%%}" -gt 15 ] && [ "$waited" -lt "$WAIT_QUIET" ]; do
    [ "$waited" -gt 0 ] || log "$name: CPUs ${BUSY[$name]} busy; waiting up to ${WAIT_QUIET}s for them to be quiet"
    sleep 3; waited=$((waited + 5)); BUSY[$name]=$(cpu_busy)
  done
  if [ "${BUSY[$name]%%%}" -gt 15 ]; then
    log "WARNING: CPUs ${BUSY[$name]} busy before measuring $name: something else is running; numbers will suffer"
  fi
  if [ "$warm_s" -gt 0 ]; then
    log "$name: warm-up $WARMUP"
    timeout $((warm_s + 30)) wrk -t"$THREADS" -c"$CONNECTIONS" -d"$WARMUP" --timeout 5s \
      -s "$BENCH/wrk/recommend.lua" "$url" -- "$CUSTOMERS" "$key" >/dev/null 2>&1 || true
  fi
  log "$name: wrk -t$THREADS -c$CONNECTIONS -d$DURATION --latency --timeout 5s"
  raw="$DATA/wrk-$name.txt"
  timeout $((dur_s + 60)) wrk -t"$THREADS" -c"$CONNECTIONS" -d"$DURATION" --latency --timeout 5s \
    -s "$BENCH/wrk/recommend.lua" "$url" -- "$CUSTOMERS" "$key" >"$raw" 2>&1 \
    || { cat "$raw" >&2; die "wrk against $name failed"; }
  cat "$raw" >&2
  local line; line=$(grep '^BENCH_RESULT' "$raw") || die "no BENCH_RESULT from wrk against $name"
  for kv in ${line#BENCH_RESULT }; do
    printf -v "R_${kv%%=*}" '%s' "${kv#*=}"
  done
}

declare -A RPS P50 P99 NON2XX SOCKERR REQS BUSY
record() {
  RPS[$1]=$R_rps; P50[$1]=$R_p50_ms; P99[$1]=$R_p99_ms; NON2XX[$1]=$R_non2xx
  SOCKERR[$1]=$R_socket_errors; REQS[$1]=$R_requests
}

start_baseline
probe "$BASELINE_URL" "$BASELINE_KEY" || die "the baseline does not answer the recommendations route"
log "baseline sample: $(head -c 200 "$DATA/probe.json")"

SEXTANT_NOTE=""
if [ "$BASELINE_ONLY" = 0 ]; then
  if [ -z "$SEXTANT_URL" ]; then start_sextant; fi
  if ! probe "$SEXTANT_URL" "$SEXTANT_KEY"; then
    SEXTANT_NOTE="Sextant at $SEXTANT_URL did not answer the recommendations route with 2xx; not measured."
    log "$SEXTANT_NOTE"
  fi
fi

# One after the other, identical parameters. The baseline is stopped before Sextant is measured
# so that its idle workers take nothing from the 2 cores (Sextant, started earlier, idles meanwhile).
bench baseline "$BASELINE_URL" "$BASELINE_KEY"; record baseline
stop_pid "$BASELINE_PID"
if [ "$BASELINE_ONLY" = 0 ] && [ -z "$SEXTANT_NOTE" ]; then
  bench sextant "$SEXTANT_URL" "$SEXTANT_KEY"; record sextant
fi

# ---------------------------------------------------------------- report
ratio=""; verdict="not measured"
if [ -n "${RPS[sextant]:-}" ]; then
  ratio=$(awk -v a="${RPS[sextant]}" -v b="${RPS[baseline]}" 'BEGIN{ if (b>0) printf "%.1f", a/b; else print "inf" }')
  verdict=$(awk -v r="$ratio" -v p="${P99[sextant]}" -v e="${NON2XX[sextant]}" -v s="${SOCKERR[sextant]}" \
    'BEGIN{ ok = (r+0 >= 20 && p+0 < 2 && e+0 == 0 && s+0 == 0); print (ok ? "MET" : "NOT MET") " (p99 < 2 ms, ≥ 20× throughput, no errors)" }')
fi
cpu=$(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2- | sed 's/^ *//')
pins=$(grep -vE '^\s*(#|$)' "$BENCH/baseline/requirements.txt" | tr '\n' ' ' | sed 's/ $//')
row() { # name label
  printf '| %s | %s | %s | %s | %s | %s | %s | %s |\n' "$2" "${RPS[$1]}" "${P50[$1]}" "${P99[$1]}" "${NON2XX[$1]}" "${SOCKERR[$1]}" "${REQS[$1]}" "${BUSY[$1]}"
}
{
  echo "# Recommendation benchmark: Sextant vs the design deck's Python stack"
  echo
  echo "$(date -u +%Y-%m-%dT%H:%M:%SZ), $(nproc) cores ($cpu), loopback only, $CUSTOMERS synthetic customers (seed 42)."
  echo "Load, one stack after the other: \`wrk -t$THREADS -c$CONNECTIONS -d$DURATION --latency --timeout 5s -s bench/nba/wrk/recommend.lua URL -- $CUSTOMERS KEY\`"
  echo "(customer id uniform in 1..$CUSTOMERS, \`GET /v1/customers/<id>/recommendations?limit=3&channel=app\`), each after a $WARMUP warm-up."
  echo
  echo "| stack | requests/s | p50 (ms) | p99 (ms) | non-2xx | socket errors | requests | CPU busy before |"
  echo "|---|---:|---:|---:|---:|---:|---:|---:|"
  row baseline "Python baseline (Flask + pandas + scikit-learn, gunicorn 2 sync workers)"
  if [ -n "${RPS[sextant]:-}" ]; then row sextant "Sextant ($SEXTANT_BIN)"; fi
  echo
  if [ -n "$ratio" ]; then echo "Throughput ratio Sextant / baseline: **${ratio}×**. Target: $verdict."
  else echo "Throughput ratio Sextant / baseline: not measured (Sextant was not run)."; fi
  if [ -n "$SEXTANT_NOTE" ]; then echo; echo "$SEXTANT_NOTE"; fi
  echo
  echo "Baseline ($pins): pandas reads customers.csv; StandardScaler + KMeans(k=5, n_init=3,"
  echo "random_state=42) fitted at start (ready after ${BASELINE_READY_SECS}s); per request: DataFrame lookup,"
  echo "scale, KMeans.predict, cluster rule table, eligibility filter (min income, product risk ≤ customer's)."
  echo "gunicorn with 2 sync workers (one per core), --preload, OMP/BLAS threads 1. Sync workers close the"
  echo "connection after every response (no keep-alive), as this stack does; wrk reconnects."
} > "$OUT.tmp"
mv "$OUT.tmp" "$OUT"
echo >&2
cat "$OUT"
# Sextant was asked for but could not be measured: say so in the exit status too
[ -z "$SEXTANT_NOTE" ] || exit 2
