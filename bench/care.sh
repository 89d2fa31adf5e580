#!/usr/bin/env bash
# Care plans at scale (issue 9's targets): ROWS purchases (default 3,000,000) for CUSTOMERS
# customers (default 1,000,000), two years to 2025-12-31, imported into a fresh SQLite database;
# then, with the clock at 2026-01-01: `plans init` (the five built-in plans planned from the whole
# history) and a plan that puts a task on every purchase of the last two weeks (so the agenda
# holds tens of thousands of open tasks), the first `run-due` (every due occurrence run), a second
# `run-due` (a tick with nothing due), `agenda` (the soonest 200 of the open tasks) and the
# agenda page as the server draws it (curl, RUNS times). Whole-process wall times and peak
# memory by /usr/bin/time; the store's own time of the tick and the agenda from its debug spans.
# Usage: bench/care.sh [ROWS] [CUSTOMERS] [RUNS]
set -euo pipefail
cd "$(dirname "$0")/.."
rows=${1:-3000000}
customers=${2:-1000000}
runs=${3:-5}
. bench/lib.sh
build_release generate_purchases
file="$out/care-$rows-$customers.csv"
[ -f "$file" ] || "$gen" "$file" "$rows" "$customers" 1
rm -f "$out"/care.db*
db="sqlite://$out/care.db"
now=2026-01-01

timed() { # label, command...: one line with wall seconds and peak MiB
  local label=$1
  shift
  /usr/bin/time -f "%e %M" -o "$out/time.txt" "$@" >"$out/care-last.txt"
  read -r secs kib <"$out/time.txt"
  printf '| %s | %s s | %d MiB |\n' "$label" "$secs" $((kib / 1024))
}

echo "| step | wall time | peak memory |"
echo "|---|---|---|"
timed "import $rows purchases" "$bin" --db "$db" import transactions "$file"
timed "plans init (five built-in plans planned from the history)" "$bin" --db "$db" plans init --now "$now"
cat >"$out/care-bench.toml" <<'TOML'
[[plan]]
name = "bench: every recent purchase"
trigger = { after = "purchase", offset = "0m" }
action = { task = "Call {first_name} about the purchase of {last_purchase}", due_in = "3d" }
holdout = 0.10
expire_after = "2w"
TOML
timed "plans apply (a task for each purchase of the last two weeks)" "$bin" --db "$db" plans apply "$out/care-bench.toml" --now "$now"
timed "first run-due (every due occurrence)" "$bin" --db "$db" run-due --now "$now" --json
cat "$out/care-last.txt" | tr -d '\n '; echo
for i in $(seq "$runs"); do
  timed "run-due with nothing due ($i)" "$bin" --db "$db" run-due --now "$now"
done
RAPPORT_LOG=rapport=debug RAPPORT_LOG_SPANS=1 "$bin" --db "$db" run-due --now "$now" 2>"$out/care-tick.log" >/dev/null
echo "store time of the empty tick's claim: $(grep -o 'claim_due.*close time.busy=[^ ]*' "$out/care-tick.log" | grep -o 'busy=[^ ]*' | head -1)"
echo "open tasks: $("$bin" --db "$db" agenda --due all --limit 1000000 --json | python3 -c 'import json,sys; print(len(json.load(sys.stdin)))')"
for i in $(seq "$runs"); do
  timed "agenda (soonest 200) ($i)" "$bin" --db "$db" agenda --due all
done

# The page, as the server draws it: the request log's micros for GET /agenda?due=all.
"$bin" --db "$db" users create --email bench@example.com --role viewer <<<"bench-password-123" >/dev/null
port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
"$bin" --db "$db" serve --bind "127.0.0.1:$port" >"$out/care-serve.log" 2>&1 &
pid=$!
trap 'kill $pid 2>/dev/null || true' EXIT
for _ in $(seq 100); do curl -sf "http://127.0.0.1:$port/healthz" >/dev/null && break; sleep 0.1; done
jar="$out/care-cookies.txt"
rm -f "$jar"
login=$(curl -s -c "$jar" "http://127.0.0.1:$port/login" | grep -o 'name="csrf" value="[^"]*"' | head -1 | sed 's/.*value="//; s/"$//')
curl -s -b "$jar" -c "$jar" -o /dev/null --data-urlencode "email=bench@example.com" \
  --data-urlencode "password=bench-password-123" --data-urlencode "csrf=$login" "http://127.0.0.1:$port/login"
for _ in $(seq "$runs"); do
  curl -s -b "$jar" -o /dev/null "http://127.0.0.1:$port/agenda?due=all"
done
echo "agenda page, server micros: $(grep 'path=/agenda' "$out/care-serve.log" | grep -o 'micros=[0-9]*' | tr '\n' ' ')"
