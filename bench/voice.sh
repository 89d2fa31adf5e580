#!/usr/bin/env bash
# The voice of the customer at scale (issue 10's speed targets), on a fresh SQLite database:
# 1. a survey answer through the public form with CUSTOMERS customers (default 1,000,000, from
#    1.5 purchases each): ANSWERS of them (default 200) gave e-mail consent, get the NPS survey
#    by `surveys send --customers`, and each link taken from the outbox is answered once by a
#    form POST (score and comment) to `rapport serve`; the server's own time per answer is its
#    request log's `micros`;
# 2. the voice page with RESPONSES answers (default 100,000; written straight into the responses
#    table with scores, categories, comments and times spread over two years, as the projection
#    would hold them): the time its figures take in the background (its debug line), then RUNS
#    views of the page (request log micros); then RUNS views of the report page for the last
#    quarter and for one 18 months before it.
# Usage: bench/voice.sh [CUSTOMERS] [ANSWERS] [RESPONSES] [RUNS]
set -euo pipefail
cd "$(dirname "$0")/.."
customers=${1:-1000000}
answers=${2:-200}
responses=${3:-100000}
runs=${4:-5}
. bench/lib.sh
build_release generate_purchases
rows=$((customers * 3 / 2))
file="$out/voice-$rows-$customers.csv"
[ -f "$file" ] || "$gen" "$file" "$rows" "$customers" 1
rm -f "$out"/voice.db*
db="sqlite://$out/voice.db"
"$bin" --db "$db" import transactions "$file" >/dev/null

# The first ANSWERS customers of the file consent to e-mail and are sent the NPS survey.
python3 - "$file" "$answers" "$out/voice-profiles.csv" "$out/voice-ids.txt" <<'PY'
import csv, sys
source, n, profiles, ids = sys.argv[1], int(sys.argv[2]), sys.argv[3], sys.argv[4]
seen = []
with open(source) as f:
    for row in csv.DictReader(f):
        if row["customer_id"] not in seen:
            seen.append(row["customer_id"])
            if len(seen) == n:
                break
with open(profiles, "w") as f:
    f.write("customer_id,name,email,email_consent\n")
    for c in seen:
        f.write(f"{c},Bench {c},{c.lower()}@example.com,yes\n")
with open(ids, "w") as f:
    f.write("\n".join(seen) + "\n")
PY
"$bin" --db "$db" import customers "$out/voice-profiles.csv" >/dev/null
"$bin" --db "$db" surveys init >/dev/null
"$bin" --db "$db" surveys send nps --customers "$out/voice-ids.txt"
python3 - "$out/voice.db" >"$out/voice-links.txt" <<'PY'
import re, sqlite3, sys
for (body,) in sqlite3.connect(sys.argv[1]).execute("SELECT text_body FROM mail_messages"):
    print(re.search(r"/s/[A-Za-z0-9_-]+", body).group(0))
PY
echo "survey links: $(wc -l <"$out/voice-links.txt")"

port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
serve() {
  RAPPORT_LOG=rapport=debug RAPPORT_SERVER_PUBLIC_FORMS_PER_MINUTE=1000000 \
    RAPPORT_SERVER_PUBLIC_PAGES_PER_MINUTE=1000000 \
    "$bin" --db "$db" serve --bind "127.0.0.1:$port" >"$out/voice-serve.log" 2>&1 &
  pid=$!
  for _ in $(seq 100); do curl -sf "http://127.0.0.1:$port/healthz" >/dev/null && break; sleep 0.1; done
}
serve
trap 'kill $pid 2>/dev/null || true' EXIT
while read -r path; do
  curl -s -o /dev/null -X POST --data "score=3&comment=The+delivery+was+late+again" "http://127.0.0.1:$port$path"
done <"$out/voice-links.txt"
kill "$pid"; wait "$pid" 2>/dev/null || true
grep 'method=POST' "$out/voice-serve.log" | grep 'path=/s/' | grep -o 'micros=[0-9]*' | cut -d= -f2 | sort -n |
  awk '{ v[NR] = $1 } END { printf "survey answers: %d, server micros: median %d, p90 %d, max %d\n", NR, v[int((NR + 1) / 2)], v[int(NR * 0.9)], v[NR] }'
echo "answers stored: $(python3 -c "import sqlite3; print(sqlite3.connect('$out/voice.db').execute('SELECT count(*) FROM survey_responses').fetchone()[0])")"

# RESPONSES answers for the voice page, as the projection holds them.
python3 - "$out/voice.db" "$responses" <<'PY'
import json, random, sqlite3, sys
db, n = sqlite3.connect(sys.argv[1]), int(sys.argv[2])
random.seed(7)
ids = [r[0] for r in db.execute("SELECT id FROM customers ORDER BY id LIMIT 200000")]
said = ["Late delivery again", "Friendly staff, great advice", "Too expensive for what you get",
        "Great quality, it lasts", "The item arrived broken", "Fast delivery and easy returns",
        "Rude support on the phone", "Helpful advice on sizes", "Delivery took two weeks", None, None]
start = 1_704_067_200
rows = []
for i in range(n):
    score = random.choice([0, 2, 3, 5, 6, 7, 8, 8, 9, 9, 10, 10, 10])
    category = "detractor" if score <= 6 else "passive" if score <= 8 else "promoter"
    comment = random.choice(said)
    answers = {"score": score} if comment is None else {"score": score, "comment": comment}
    rows.append(("nps", 1, "nps", random.choice(ids), score, category, comment, json.dumps(answers),
                 start + random.randrange(730 * 86_400)))
db.executemany("INSERT INTO survey_responses (survey, version, survey_kind, customer_id, score, category, "
               "comment, answers, answered_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)", rows)
db.commit()
PY
echo "responses: $(python3 -c "import sqlite3; print(sqlite3.connect('$out/voice.db').execute('SELECT count(*) FROM survey_responses').fetchone()[0])")"

"$bin" --db "$db" users create --email bench@example.com --role viewer <<<"bench-password-123" >/dev/null
serve
jar="$out/voice-cookies.txt"
rm -f "$jar"
login=$(curl -s -c "$jar" "http://127.0.0.1:$port/login" | grep -o 'name="csrf" value="[^"]*"' | head -1 | sed 's/.*value="//; s/"$//')
curl -s -b "$jar" -c "$jar" -o /dev/null --data-urlencode "email=bench@example.com" \
  --data-urlencode "password=bench-password-123" --data-urlencode "csrf=$login" "http://127.0.0.1:$port/login"
for _ in $(seq 600); do
  curl -s -b "$jar" "http://127.0.0.1:$port/voice" | grep -q "being computed" || break
  sleep 0.2
done
echo "voice figures computed in the background: $(grep "the voice page's figures" "$out/voice-serve.log" | grep -o 'elapsed=[^ ]*' | head -1)"
for _ in $(seq "$runs"); do
  curl -s -b "$jar" -o /dev/null "http://127.0.0.1:$port/voice"
done
echo "voice page, server micros: $(grep 'path=/voice ' "$out/voice-serve.log" | grep -o 'micros=[0-9]*' | tail -n "$runs" | tr '\n' ' ')"
for period in 2025-Q4 2024-Q2; do
  for _ in $(seq "$runs"); do
    curl -s -b "$jar" -o /dev/null "http://127.0.0.1:$port/voice/report?period=$period"
  done
  echo "report page $period, server micros: $(grep "path=/voice/report" "$out/voice-serve.log" | grep -o 'micros=[0-9]*' | tail -n "$runs" | tr '\n' ' ')"
done
