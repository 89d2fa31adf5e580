#!/usr/bin/env bash
# SQLite's own share of an import: the `sqlite3` shell writing the rows that bench/import.sh
# loaded into `bench/out/ceiling.db` (run that first) into the log's tables as Rapport lays them
# out, from values already parsed into integers, nothing of Rapport's code involved. Each step is
# timed by the shell. What is left of an import's time above the sum is Rapport's own.
# Usage: bench/sqlite_floor.sh
set -euo pipefail
cd "$(dirname "$0")/.."
. bench/lib.sh
[ -f "$out/ceiling.db" ] || { echo "run bench/import.sh first (it leaves $out/ceiling.db)" >&2; exit 1; }
rm -f "$out"/floor.db*
echo "| SQLite's step | wall time |"
echo "|---|---|"
# The shell prints a time after each statement: a step's own is the second after its name.
sqlite3 "$out/floor.db" <<SQL | awk '/^step: /{name=substr($0,7); n=0; next} /^Run Time/{n++; if (n==2 && name!="") {printf "| %s | %s s |\n", name, $4; total+=$4}} END {printf "| sum | %.2f s |\n", total}'
PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL; PRAGMA cache_size=-32768; PRAGMA threads=2;
ATTACH '$out/ceiling.db' AS c;
CREATE TEMP TABLE r AS SELECT customer_id AS ext, unixepoch(date) AS t,
  CAST(round(amount * 100) AS INTEGER) AS cents, order_id FROM c.raw;
CREATE TABLE customers (id INTEGER PRIMARY KEY, external_id TEXT NOT NULL UNIQUE, name TEXT,
  email TEXT, phone TEXT, attributes TEXT NOT NULL DEFAULT '{}', created_at INTEGER NOT NULL);
CREATE TABLE events (id INTEGER PRIMARY KEY, customer_id INTEGER NOT NULL, kind TEXT NOT NULL,
  occurred_at INTEGER NOT NULL, recorded_at INTEGER NOT NULL, event_key TEXT NOT NULL UNIQUE,
  amount_cents INTEGER, currency TEXT, order_id TEXT, quantity INTEGER, data TEXT);
CREATE TEMP TABLE firsts AS SELECT ext, min(rowid) AS first FROM r GROUP BY ext ORDER BY first;
CREATE TEMP TABLE rows AS SELECT f.rowid AS cid, r.t, r.cents, r.order_id FROM r JOIN firsts f USING (ext) ORDER BY r.rowid;
.timer on
BEGIN;
SELECT 'step: customers, in order of first sight';
INSERT INTO customers (id, external_id, created_at) SELECT rowid, ext, 0 FROM firsts ORDER BY rowid;
SELECT 'step: events, keyed by order';
INSERT INTO events (customer_id, kind, occurred_at, recorded_at, event_key, amount_cents, currency, order_id)
  SELECT cid, 'purchase', t, 0, 'order:' || order_id, cents, 'USD', order_id FROM rows ORDER BY rowid;
SELECT 'step: the per-customer index';
CREATE INDEX events_customer ON events (customer_id, id);
SELECT 'step: commit';
COMMIT;
SQL
