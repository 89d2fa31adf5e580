#!/usr/bin/env bash
# API benchmark with wrk on loopback (issue 4): single-event POSTs and batches on a fresh SQLite
# database, GET /api/v1/customers/{id} on one with 1 million customers (10 million purchases,
# fitted and scored), and the ceiling: a minimal axum server answering a constant, in the same run.
# Usage: bench/api.sh [SECONDS per run, default 10] [RUNS, default 3]
# Prints one markdown table (medians of RUNS) and writes it to bench/out/api.md.
set -euo pipefail
cd "$(dirname "$0")/.."
seconds=${1:-10}
runs=${2:-3}
. bench/lib.sh
need_wrk
build_release generate_purchases ceiling_server
file="$out/purchases-10000000-1000000.csv"
[ -f "$file" ] || "$gen" "$file" 10000000 1000000 1
big="$out/api-1m.db"
if [ ! -f "$big" ]; then
  echo "preparing $big: import, fit and score (a few minutes, once)" >&2
  $bin --db "sqlite://$big" import transactions "$file" >/dev/null
  $bin --db "sqlite://$big" fit >/dev/null
  $bin --db "sqlite://$big" score >/dev/null
fi

export RAPPORT_BENCH_DIR="$PWD/bench/wrk" RAPPORT_BENCH_CUSTOMERS=1000000
free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }
pids=()
trap 'kill "${pids[@]}" 2>/dev/null || true' EXIT

wait_for() { for _ in $(seq 100); do curl -sf "$1" >/dev/null && return; sleep 0.1; done; echo "no answer from $1" >&2; exit 1; }

# run LABEL URL SCRIPT [BATCH] [CONNECTIONS] [DELAY_MS]: RUNS wrk runs, prints the median run's figures.
run() {
  local label=$1 url=$2 script=$3 batch=${4:-1} connections=${5:-64} pause=${6:-0}
  local results=()
  for _ in $(seq "$runs"); do
    results+=("$(RAPPORT_BENCH_BATCH=$batch RAPPORT_BENCH_DELAY_MS=$pause wrk -t1 -c"$connections" -d"${seconds}s" --timeout 10s --latency -s "bench/wrk/$script" "$url" | grep '^RESULT')")
  done
  printf '%s\n' "${results[@]}" | python3 -c '
import re, sys, statistics
label, batch = sys.argv[1], int(sys.argv[2])
runs = [dict((k, float(v)) for k, v in re.findall(r"(\w+)=([\d.]+)", line)) for line in sys.stdin]
rps = statistics.median(r["rps"] for r in runs)
mid = min(runs, key=lambda r: abs(r["rps"] - rps))
errors = int(sum(r["errors"] for r in runs))
p50, p99 = mid["p50_ms"], mid["p99_ms"]
print("\t".join([label, f"{rps:.0f}", f"{rps * batch:.0f}", f"{p50:.2f}", f"{p99:.2f}", str(errors)]))
' "$label" "$batch"
}

ceiling_port=$(free_port)
"$target/release/examples/ceiling_server" "127.0.0.1:$ceiling_port" & pids+=($!)
wait_for "http://127.0.0.1:$ceiling_port/"
ceiling_get=$(run "ceiling: constant GET" "http://127.0.0.1:$ceiling_port/" ceiling.lua)
ceiling_post=$(run "ceiling: constant POST" "http://127.0.0.1:$ceiling_port/" event.lua)
kill "${pids[-1]}"

serve() { # database URL -> sets $base and $RAPPORT_BENCH_KEY
  local port; port=$(free_port)
  RAPPORT_BENCH_KEY=$($bin --db "$1" keys create --name bench --role staff --json | python3 -c 'import json,sys; print(json.load(sys.stdin)["key"])')
  export RAPPORT_BENCH_KEY
  $bin --db "$1" serve --bind "127.0.0.1:$port" >"$out/api-serve.log" 2>&1 & pids+=($!)
  base="http://127.0.0.1:$port"
  wait_for "$base/healthz"
}

rm -f "$out"/api-writes.db*
serve "sqlite://$out/api-writes.db"
single=$(run "POST /api/v1/events (one purchase)" "$base/api/v1/events" event.lua)
# A few clients sending big batches, as shop systems do; 64 would only queue behind one writer.
batch=$(run "POST /api/v1/events/batch (1,000 purchases, 4 connections)" "$base/api/v1/events/batch" batch.lua 1000 4)
kill "${pids[-1]}"; wait "${pids[-1]}" 2>/dev/null || true

serve "sqlite://$big"
get=$(run "GET /api/v1/customers/{id} (1M customers), saturated" "$base/api/v1/customers/C0000001" customer.lua)
# Paced: 64 connections each waiting 5 ms between requests aim at about 10,000 requests/s.
paced=$(run "GET /api/v1/customers/{id} (1M customers), paced" "$base/api/v1/customers/C0000001" customer.lua 1 64 5)
kill "${pids[-1]}"; wait "${pids[-1]}" 2>/dev/null || true

{
  echo "| request | requests/s | events/s | p50 | p99 | share of ceiling | non-2xx or errors |"
  echo "|---|---:|---:|---:|---:|---:|---:|"
  for line in "$ceiling_get" "$ceiling_post" "$single" "$batch" "$get" "$paced"; do
    IFS=$'\t' read -r label rps eps p50 p99 errors <<<"$line"
    case $label in
      "POST /api/v1/events "*) ceiling=$(cut -f2 <<<"$ceiling_post") ;;
      "POST /api/v1/events/batch"*) ceiling=$(cut -f2 <<<"$ceiling_post") ;;
      ceiling*) ceiling=$rps ;;
      *) ceiling=$(cut -f2 <<<"$ceiling_get") ;;
    esac
    share=$(python3 -c "print(f'{100 * $rps / $ceiling:.0f} %')")
    echo "| $label | $rps | $eps | $p50 ms | $p99 ms | $share | $errors |"
  done
  echo
  echo "wrk -t1 -c64 (batches: -c4) -d${seconds}s --timeout 10s, median of $runs runs; $(nproc) cores; load average after: $(cut -d' ' -f1-3 /proc/loadavg)"
} | tee "$out/api.md"
