#!/usr/bin/env bash
# Import benchmark: a generated shop export of ROWS purchases (default 10 million) for CUSTOMERS
# customers (default 1 million), imported into SQLite and PostgreSQL, with the rate at which the
# same file parses without storing and SQLite's own insert rate into the same schema.
# Usage: bench/import.sh [ROWS] [CUSTOMERS]
set -euo pipefail
cd "$(dirname "$0")/.."
rows=${1:-10000000}
customers=${2:-1000000}
. bench/lib.sh
file="$out/purchases-$rows-$customers.csv"
build_release generate_purchases
[ -f "$file" ] || "$gen" "$file" "$rows" "$customers" 1

measure() { # label, command...: prints label, wall seconds, peak RSS MiB
  local label=$1; shift
  /usr/bin/time -f "%e %M" -o "$out/time.txt" "$@" >"$out/last.txt"
  read -r secs kib <"$out/time.txt"
  printf '| %s | %s s | %.0f rows/s | %.0f MiB |\n' "$label" "$secs" "$(echo "$rows / $secs" | bc -l)" "$(echo "$kib / 1024" | bc -l)"
}

echo "| step | wall time | rate | peak memory |"
echo "|---|---|---|---|"
measure "parse only (import --check)" $bin import transactions "$file" --check
rm -f "$out"/bench.db*
measure "import into SQLite" $bin --db "sqlite://$out/bench.db" import transactions "$file"
measure "same file again into SQLite (all duplicates)" $bin --db "sqlite://$out/bench.db" import transactions "$file"

# The ceiling: the sqlite3 shell loading the same rows into one table with no index and no
# constraint (what SQLite itself does with the file, nothing of Rapport's).
rm -f "$out"/ceiling.db*
printf 'PRAGMA journal_mode=WAL;\nPRAGMA synchronous=NORMAL;\nCREATE TABLE raw (customer_id TEXT, date TEXT, amount TEXT, order_id TEXT);\n.mode csv\n.import --skip 1 %s raw\n' "$file" >"$out/ceiling.sql"
measure "ceiling: sqlite3 shell loads the rows into one bare table" sqlite3 "$out/ceiling.db" <"$out/ceiling.sql"

# SQLite's own rate: the same rows inserted by the sqlite3 shell into the same schema and indexes.
rm -f "$out"/raw.db*
sqlite3 "$out/raw.db" <crates/rapport/migrations/sqlite/0001_init.sql
cat >"$out/raw.sql" <<SQL
PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL; PRAGMA cache_size=-65536;
CREATE TEMP TABLE raw (customer_id TEXT, date TEXT, amount TEXT, order_id TEXT);
.mode csv
.import --skip 1 $file raw
BEGIN;
INSERT INTO customers (external_id, created_at) SELECT DISTINCT customer_id, 0 FROM raw;
INSERT INTO events (customer_id, kind, occurred_at, recorded_at, event_key, amount_cents, currency, order_id)
  SELECT c.id, 'purchase', unixepoch(r.date), 0, 'order:' || r.order_id, CAST(round(r.amount * 100) AS INTEGER), 'USD', r.order_id
  FROM raw r JOIN customers c ON c.external_id = r.customer_id ORDER BY r.rowid;
COMMIT;
SQL
measure "sqlite3 shell: CSV load + insert into the same tables" sqlite3 "$out/raw.db" <"$out/raw.sql"

if [ "${RAPPORT_TEST_POSTGRES_URL:-}" = "" ]; then
  eval "$(scripts/pg-throwaway start)"
  trap 'scripts/pg-throwaway stop "$RAPPORT_PG_DIR"' EXIT
fi
db="rapport_bench_$$"
psql -q "$RAPPORT_TEST_POSTGRES_URL" -c "CREATE DATABASE $db"
pg_url="${RAPPORT_TEST_POSTGRES_URL%/*}/$db"
measure "import into PostgreSQL" $bin --db "$pg_url" import transactions "$file"
# The ceiling: plain COPY of the same rows into an unindexed table, in the same run.
psql -q "$pg_url" -c "CREATE TABLE raw_copy (customer_id TEXT, date DATE, amount NUMERIC, order_id TEXT)"
measure "ceiling: PostgreSQL COPY of the rows into one unindexed table" \
  psql -q "$pg_url" -c "\\copy raw_copy FROM '$PWD/$file' WITH (FORMAT csv, HEADER true)"
psql -q "$RAPPORT_TEST_POSTGRES_URL" -c "DROP DATABASE $db WITH (FORCE)"
