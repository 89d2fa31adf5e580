#!/usr/bin/env bash
# `rapport analyze FILE --out scores.csv` on generated shop exports of ROWS purchases (default
# 2.5 million) for CUSTOMERS customers (default 1 million), in three shapes: sorted by date with
# ids such as C0000873 (bench/out/p1m.csv, the file of the earlier figures), grouped by customer
# with the same ids, and sorted by date with e-mail addresses as ids. RUNS runs of each (default
# 5), the median wall time and peak memory printed as a table, with the one-minute load average
# before each file's runs (the runs themselves keep both cores busy: about 2 after the first file).
# RAPPORT_BIN measures another build of rapport (an older one, for a before-and-after).
# Usage: bench/analyze.sh [RUNS] [ROWS] [CUSTOMERS]
set -euo pipefail
cd "$(dirname "$0")/.."
runs=${1:-5}
rows=${2:-2500000}
customers=${3:-1000000}
. bench/lib.sh
nice -n 10 cargo build --release -q -p rapport --bin rapport --example generate_purchases
bin=${RAPPORT_BIN:-$bin}
by_date="$out/p1m.csv"
[ "$rows" = 2500000 ] && [ "$customers" = 1000000 ] || by_date="$out/analyze-date-$rows-$customers.csv"
grouped="$out/analyze-customer-$rows-$customers.csv"
emails="$out/analyze-email-$rows-$customers.csv"
[ -f "$by_date" ] || "$gen" "$by_date" "$rows" "$customers" 1
[ -f "$grouped" ] || "$gen" "$grouped" "$rows" "$customers" 1 customer
[ -f "$emails" ] || "$gen" "$emails" "$rows" "$customers" 1 date email

median() { sort -g | awk '{v[NR]=$1} END {print v[int((NR+1)/2)]}'; }

measure() { # label, file: one table row of medians over $runs runs
  local label=$1 file=$2 times=() mems=() load
  load=$(cut -d' ' -f1 /proc/loadavg)
  for _ in $(seq "$runs"); do
    /usr/bin/time -f "%e %M" -o "$out/time.txt" "$bin" analyze "$file" --calibration-end 2025-12-31 \
      --model bgnbd --out "$out/scores.csv" >"$out/last.txt"
    read -r secs kib <"$out/time.txt"
    times+=("$secs")
    mems+=("$kib")
  done
  printf '| %s | %s s | %.0f MiB | %s |\n' "$label" "$(printf '%s\n' "${times[@]}" | median)" \
    "$(echo "$(printf '%s\n' "${mems[@]}" | median) / 1024" | bc -l)" "$load"
}

echo "| file | whole process (median of $runs) | peak memory (median) | load average before |"
echo "|---|---|---|---|"
measure "sorted by date, ids C0000873" "$by_date"
measure "grouped by customer, ids C0000873" "$grouped"
measure "sorted by date, e-mail ids" "$emails"
