#!/usr/bin/env bash
# Customer search benchmark: CUSTOMERS customers (default 1 million) with ROWS purchases (default 3
# million, generated as bench/dashboard.sh does) and a profile each (a name from 50 first names and
# 50 surnames, one of them Garcia, and an e-mail made from it), imported into SQLite; then
# `rapport serve` and the customer list searched with `q=garc` (and a few others), each page
# timed RUNS times (default 5) with curl as a logged-in user. Prints how many customers match, the
# median and the slowest time to the first byte. With PG=postgres://... it does the same on
# PostgreSQL (a database of that URL it may fill; psql runs ANALYZE there after the load).
# Usage: bench/search.sh [CUSTOMERS] [ROWS] [RUNS]
set -euo pipefail
cd "$(dirname "$0")/.."
customers=${1:-1000000}
rows=${2:-3000000}
runs=${3:-5}
. bench/lib.sh
file="$out/purchases-$rows-$customers.csv"
people="$out/people-$customers.csv"
build_release generate_purchases
[ -f "$file" ] || "$gen" "$file" "$rows" "$customers" 1
# generate_purchases names customers C0000000, C0000001, ...
[ -f "$people" ] || awk -v n="$customers" 'BEGIN {
  split("Ana Ben Cara Dan Eva Finn Gia Hugo Ida Jon Kai Lea Max Nia Omar Pia Quin Rosa Sam Tea Uma Vic Wim Xia Yara Zoe Ada Bo Cy Dee Eli Fay Gus Hal Ivy Jay Kim Liv Mo Ned Ola Pat Rae Sid Tom Ulf Vi Wes Yves Zed", first, " ")
  split("Smith Jones Brown Taylor Wilson Davies Evans Thomas Johnson Roberts Walker Wright Robinson Thompson White Hughes Edwards Green Hall Wood Harris Lewis Martin Jackson Clarke Clark Turner Hill Scott Cooper Morris Ward Moore King Watson Baker Harrison Morgan Patel Young Allen Mitchell James Anderson Phillips Lee Bell Parker Davis Garcia", last, " ")
  print "customer_id,name,email,phone"
  for (i = 0; i < n; i++) {
    f = first[(i * 7) % 50 + 1]; l = last[int(i / 50) % 50 + 1]
    printf "C%07d,%s %s,%s.%s%d@example.com,+44 20 7946 %04d\n", i, f, l, tolower(f), tolower(l), i, i % 10000
  }
}' >"$people"

time_pages() { # URL: serve the database at URL and time the searches
  local url=$1 port=7980
  printf 'bench password 1\n' | "$bin" --db "$url" users create --email bench@example.com --role staff >/dev/null 2>&1 || true
  "$bin" --db "$url" serve --bind "127.0.0.1:$port" >"$out/serve-search.log" 2>&1 &
  local server=$!
  until curl -sf "http://127.0.0.1:$port/healthz" >/dev/null; do sleep 0.2; done
  local base="http://127.0.0.1:$port" jar="$out/cookies-search.txt"
  rm -f "$jar"
  local csrf
  csrf=$(curl -s -c "$jar" "$base/login" | sed -n 's/.*name="csrf" value="\([^"]*\)".*/\1/p' | head -1)
  curl -s -b "$jar" -c "$jar" -o /dev/null --data-urlencode "email=bench@example.com" \
    --data-urlencode "password=bench password 1" --data-urlencode "csrf=$csrf" "$base/login"
  echo "| page | matching | median | slowest |"
  echo "|---|---|---|---|"
  for page in "/customers?q=garc&sort=spend" "/customers?q=garc&sort=orders" "/customers?q=garc" \
    "/customers?q=GARCIA&sort=last_purchase" "/customers?q=ana%20garcia&sort=spend" \
    "/customers?q=0012345" "/customers?q=gi&sort=spend" "/customers?sort=spend"; do
    local times=()
    for _ in $(seq "$runs"); do
      times+=("$(curl -s -b "$jar" -o "$out/page.html" -w '%{time_starttransfer}' "$base$page")")
    done
    local sorted median slowest matching
    sorted=$(printf '%s\n' "${times[@]}" | sort -g)
    median=$(echo "$sorted" | sed -n "$(( (runs + 1) / 2 ))p")
    slowest=$(echo "$sorted" | tail -1)
    matching=$(sed -n 's/.*<p class="count">\([^·<]*\) ·.*/\1/p' "$out/page.html" | head -1)
    printf '| `%s` | %s | %.1f ms | %.1f ms |\n' "$page" "${matching% }" "$(echo "$median * 1000" | bc -l)" \
      "$(echo "$slowest * 1000" | bc -l)"
  done
  kill "$server"
  wait "$server" 2>/dev/null || true
}

db="$out/search-$customers.db"
if [ ! -f "$db" ]; then
  "$bin" --db "sqlite://$db" import transactions "$file"
  "$bin" --db "sqlite://$db" import customers "$people"
fi
echo "SQLite, $customers customers:"
time_pages "sqlite://$db"

if [ -n "${PG:-}" ]; then
  if [ "$("$bin" --db "$PG" customers list --limit 1 --json | head -c 2)" = "[]" ]; then
    "$bin" --db "$PG" import transactions "$file"
    "$bin" --db "$PG" import customers "$people"
  fi
  # Fresh from a bulk load the planner has no statistics until autovacuum's ANALYZE comes round
  # (a minute or so); without them it guessed a search finds 100 rows and took 700 ms.
  psql -q "$PG" -c ANALYZE
  echo "PostgreSQL, $customers customers:"
  time_pages "$PG"
fi
