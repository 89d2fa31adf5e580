#!/usr/bin/env bash
# Dashboard benchmark: CUSTOMERS customers (default 1 million) with ROWS purchases (default 3
# million) generated, imported into SQLite, fitted and scored; then `rapport serve` and each page
# timed RUNS times (default 7) with curl as a logged-in user. Prints the median and the slowest
# server time per page (curl's time to the first byte on loopback).
# Usage: bench/dashboard.sh [CUSTOMERS] [ROWS] [RUNS]
set -euo pipefail
cd "$(dirname "$0")/.."
customers=${1:-1000000}
rows=${2:-3000000}
runs=${3:-7}
. bench/lib.sh
file="$out/purchases-$rows-$customers.csv"
db="$out/dashboard-$customers.db"
build_release generate_purchases
[ -f "$file" ] || "$gen" "$file" "$rows" "$customers" 1
if [ ! -f "$db" ]; then
  "$bin" --db "sqlite://$db" import transactions "$file"
  "$bin" --db "sqlite://$db" fit
  "$bin" --db "sqlite://$db" score
fi
printf 'bench password 1\n' | "$bin" --db "sqlite://$db" users create --email bench@example.com --role staff 2>/dev/null || true

port=7979
"$bin" --db "sqlite://$db" serve --bind "127.0.0.1:$port" >"$out/serve.log" 2>&1 &
server=$!
trap 'kill $server' EXIT
until curl -sf "http://127.0.0.1:$port/healthz" >/dev/null; do sleep 0.2; done

base="http://127.0.0.1:$port"
jar="$out/cookies.txt"
rm -f "$jar"
csrf=$(curl -s -c "$jar" "$base/login" | sed -n 's/.*name="csrf" value="\([^"]*\)".*/\1/p' | head -1)
curl -s -b "$jar" -c "$jar" -o /dev/null --data-urlencode "email=bench@example.com" \
  --data-urlencode "password=bench password 1" --data-urlencode "csrf=$csrf" "$base/login"
# The overview's figures are computed in the background after login: wait until they are there.
until curl -s -b "$jar" "$base/" | grep -q "Figures as of"; do sleep 1; done

some=$(curl -s -b "$jar" "$base/customers?sort=clv" | sed -n 's/.*href="\/customers\/\([^"?]*\)".*/\1/p' | head -1)
cursor=$(curl -s -b "$jar" "$base/customers" | sed -n 's/.*href="\([^"]*\)" rel="next".*/\1/p' | sed 's/&#38;/\&/g' | head -1)
pages=(
  "/"
  "/customers"
  "$cursor"
  "/customers?sort=clv"
  "/customers?sort=p_alive"
  "/customers?sort=last_purchase"
  "/customers?stage=client&sort=clv"
  "/customers?segment=at_risk&sort=clv"
  "/customers?q=C00012"
  "/customers/$some"
  "/at-risk"
)
echo "| page | median | slowest | bytes |"
echo "|---|---|---|---|"
for page in "${pages[@]}"; do
  times=()
  for _ in $(seq "$runs"); do
    times+=("$(curl -s -b "$jar" -o "$out/page.html" -w '%{time_starttransfer}' "$base$page")")
  done
  sorted=$(printf '%s\n' "${times[@]}" | sort -g)
  median=$(echo "$sorted" | sed -n "$(( (runs + 1) / 2 ))p")
  slowest=$(echo "$sorted" | tail -1)
  printf '| `%s` | %.1f ms | %.1f ms | %s |\n' "$page" "$(echo "$median * 1000" | bc -l)" \
    "$(echo "$slowest * 1000" | bc -l)" "$(wc -c <"$out/page.html")"
done
