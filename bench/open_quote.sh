#!/usr/bin/env bash
# Issue 12's acceptance: a 100,000-row file with an unterminated quote on line 2 must fail in under
# a second, naming line 2, and store nothing. Prints the median of 5 runs of the release binary.
# ROWS sets the rows, QUOTE_ROW the data row (from 0) whose customer id opens the stray quote.
set -euo pipefail
cd "$(dirname "$0")/.."
ROWS=${ROWS:-100000}
QUOTE_ROW=${QUOTE_ROW:-0}
LINE=$((QUOTE_ROW + 2))
BIN=${CARGO_TARGET_DIR:-target}/release/rapport
[ -x "$BIN" ] || cargo build --release --bin rapport
OUT=$(mktemp -d)
trap 'rm -rf "$OUT"' EXIT
python3 - "$OUT/quote.csv" "$ROWS" "$QUOTE_ROW" <<'PY'
import sys
path, rows, at = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
with open(path, "w") as f:
    f.write("customer_id,date,amount,order_id\n")
    for i in range(rows):
        quote = '"' if i == at else ''
        f.write(f"{quote}c{i // 10},2024-01-{1 + i % 28:02d},{1 + i % 50}.00,O{i}\n")
PY
times=()
for run in 1 2 3 4 5; do
    rm -f "$OUT/db.sqlite"
    start=$(date +%s.%N)
    if "$BIN" --db "sqlite://$OUT/db.sqlite" import transactions "$OUT/quote.csv" 2>"$OUT/err"; then
        echo "the import succeeded: the defect is back" >&2; exit 1
    fi
    end=$(date +%s.%N)
    grep -q "line $LINE:" "$OUT/err" || { echo "the error does not name line $LINE: $(cat "$OUT/err")" >&2; exit 1; }
    times+=("$(echo "$end - $start" | bc)")
done
stored=$("$BIN" --db "sqlite://$OUT/db.sqlite" customers list --json | python3 -c 'import json,sys; print(len(json.load(sys.stdin)))')
median=$(printf '%s\n' "${times[@]}" | sort -n | sed -n 3p)
echo "median of 5: ${median} s for $ROWS rows; customers stored: $stored"
head -c 300 "$OUT/err"; echo
