#!/usr/bin/env bash
# The API's batch path alone (issue 8's target): `POST /api/v1/events/batch` with 1,000 purchases a
# request from 4 connections, on a fresh SQLite database, RUNS wrk runs of SECONDS each.
# Usage: bench/api_batch.sh [SECONDS, default 10] [RUNS, default 3]
set -euo pipefail
cd "$(dirname "$0")/.."
seconds=${1:-10}
runs=${2:-3}
. bench/lib.sh
need_wrk
build_release
export RAPPORT_BENCH_DIR="$PWD/bench/wrk" RAPPORT_BENCH_CUSTOMERS=1000000 RAPPORT_BENCH_BATCH=1000 RAPPORT_BENCH_DELAY_MS=0
rm -f "$out"/api-batch.db*
db="sqlite://$out/api-batch.db"
port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
RAPPORT_BENCH_KEY=$($bin --db "$db" keys create --name bench --role staff --json | python3 -c 'import json,sys; print(json.load(sys.stdin)["key"])')
export RAPPORT_BENCH_KEY
$bin --db "$db" serve --bind "127.0.0.1:$port" >"$out/api-batch-serve.log" 2>&1 &
pid=$!
trap 'kill $pid 2>/dev/null || true' EXIT
for _ in $(seq 100); do curl -sf "http://127.0.0.1:$port/healthz" >/dev/null && break; sleep 0.1; done
for _ in $(seq "$runs"); do
  wrk -t1 -c4 -d"${seconds}s" --timeout 10s --latency -s bench/wrk/batch.lua "http://127.0.0.1:$port/api/v1/events/batch" |
    grep '^RESULT' | python3 -c '
import re, sys
r = dict(re.findall(r"(\w+)=([\d.]+)", sys.stdin.read()))
rps = float(r["rps"])
print(f"{rps:.1f} batches/s = {rps * 1000:,.0f} events/s, p50 {r['"'"'p50_ms'"'"']} ms, p99 {r['"'"'p99_ms'"'"']} ms, errors {r['"'"'errors'"'"']}")'
done
