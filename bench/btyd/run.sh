#!/usr/bin/env bash
# BG/NBD + Gamma-Gamma on 1 million customers: lifetimes 0.11.3 (Python) vs rapport (Rust).
# One command from a clean checkout: bench/btyd/run.sh        (see bench/btyd/README.md)
#   --lifetimes-only   measure the Python side only (no cargo build, no rapport run)
#   --no-build         use the existing target/release/rapport instead of building it
# The binary is looked for under $CARGO_TARGET_DIR when it is set, as cargo builds it there.
# Everything it makes goes to bench/out/ (gitignored): the virtualenv, the purchase log, the JSON of
# both tools, /usr/bin/time output and the table btyd.md.
set -euo pipefail

HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
ROOT="$(cd "$HERE/../.." && pwd)"
OUT="$ROOT/bench/out"
VENV="$OUT/venv"
PY="$VENV/bin/python"
DATA="$OUT/btyd_purchases.csv"
TARGET="${CARGO_TARGET_DIR:-target}"
case "$TARGET" in /*) ;; *) TARGET="$ROOT/$TARGET" ;; esac
BIN="$TARGET/release/rapport"
PYTHON="${PYTHON:-python3}"

# The process is CDNOW's: customers acquired over the first 12 weeks of 1997. CDNOW's window is 78
# weeks (to 1998-06-30), which gives about 2.78 million rows here; the log and the calibration period
# end on Sunday 1998-03-01 (60.7 weeks) instead, for about 2.5 million rows (2,494,078).
CAL_END=1998-03-01
CUSTOMERS=1000000
SEED=20050101
PINS=(lifetimes==0.11.3 numpy==1.26.4 pandas==2.1.4 scipy==1.11.4)

RAPPORT=1
BUILD=1
for arg in "$@"; do
  case "$arg" in
    --lifetimes-only) RAPPORT=0 ;;
    --no-build) BUILD=0 ;;
    -h|--help) sed -n '2,8p' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;;
    *) echo "run.sh: unknown argument '$arg' (try --help)" >&2; exit 2 ;;
  esac
done

say() { printf '\n==> %s\n' "$*" >&2; }
die() { printf 'run.sh: error: %s\n' "$*" >&2; exit 1; }

[ -x /usr/bin/time ] || die "/usr/bin/time is missing (Debian: apt-get install -y time)"
mkdir -p "$OUT"

# 1. rapport first, so that a checkout without the analyze command fails before the long part.
RAPPORT_NOTE=""
if [ "$RAPPORT" = 1 ]; then
  if [ "$BUILD" = 1 ]; then
    say "cargo build --release -p rapport"
    (cd "$ROOT" && cargo build --release -p rapport) || die "cargo build --release -p rapport failed"
  fi
  [ -x "$BIN" ] || die "$BIN does not exist (build it, or use --lifetimes-only)"
  if ! help="$("$BIN" analyze --help 2>&1)"; then
    die "$BIN has no 'analyze' command, which this benchmark needs
  (rapport analyze FILE --calibration-end DATE --time-unit week --model bgnbd --json --timings).
  It said: $(printf '%s' "$help" | head -n 3)
  Use a checkout that has it, or run bench/btyd/run.sh --lifetimes-only to measure lifetimes alone."
  fi
  for flag in --calibration-end --time-unit --model --json --timings; do
    grep -q -- "$flag" <<<"$help" || die "'rapport analyze' has no $flag option (see: $BIN analyze --help)"
  done
fi

# 2. Python side: a virtualenv with the pinned packages, installed only when missing.
if [ ! -x "$PY" ]; then
  say "creating $VENV"
  "$PYTHON" -m venv "$VENV" || die "'$PYTHON -m venv' failed (Debian: apt-get install -y python3-venv)"
fi
pins_ok() {
  "$PY" - "${PINS[@]}" <<'EOF' 2>/dev/null
import importlib.metadata as md, sys
sys.exit(0 if all(md.version(n) == v for n, v in (p.split("==") for p in sys.argv[1:])) else 1)
EOF
}
if ! pins_ok; then
  say "pip install ${PINS[*]}"
  "$PY" -m pip install --disable-pip-version-check --quiet "${PINS[@]}"
  pins_ok || die "the virtualenv $VENV does not have ${PINS[*]} after pip install"
fi

# 3. The purchase log (skipped when it exists with the same parameters).
say "purchase log $DATA"
"$PY" "$HERE/generate.py" --out "$DATA" --customers "$CUSTOMERS" --seed "$SEED" --calibration-end "$CAL_END"

# 4. lifetimes, timed; then an untimed fit on the day-resolution summary for the parameter check.
say "lifetimes (timed run)"
LOAD_LIFETIMES="$(cut -d' ' -f1-3 /proc/loadavg)"
/usr/bin/time -f '%e %M' -o "$OUT/lifetimes.time" \
  "$PY" "$HERE/lifetimes_bench.py" "$DATA" --calibration-end "$CAL_END" >"$OUT/lifetimes.json"
say "lifetimes (day-resolution fit for the parameter comparison, not timed)"
"$PY" "$HERE/lifetimes_bench.py" "$DATA" --calibration-end "$CAL_END" --parity >"$OUT/lifetimes_parity.json"

# 5. rapport, from bench/out so that nothing it might create lands in the checkout.
STATUS=0
LOAD_RAPPORT=""
rm -f "$OUT/rapport.json" "$OUT/rapport.time" "$OUT/rapport.stderr"
if [ "$RAPPORT" = 1 ]; then
  say "rapport analyze (timed run)"
  LOAD_RAPPORT="$(cut -d' ' -f1-3 /proc/loadavg)"
  if (cd "$OUT" && /usr/bin/time -f '%e %M' -o "$OUT/rapport.time" \
      "$BIN" analyze "$DATA" --calibration-end "$CAL_END" --time-unit week --model bgnbd --json --timings \
      >"$OUT/rapport.json" 2>"$OUT/rapport.stderr"); then
    :
  else
    code=$?
    RAPPORT_NOTE="'rapport analyze' exited with status $code: $(tail -n 5 "$OUT/rapport.stderr" | tr '\n' ' ')"
    printf 'run.sh: error: %s\n' "$RAPPORT_NOTE" >&2
    rm -f "$OUT/rapport.json" "$OUT/rapport.time"
    STATUS=1
  fi
else
  RAPPORT_NOTE="run with --lifetimes-only"
fi

# 6. The table.
say "table (also in $OUT/btyd.md)"
"$PY" "$HERE/report.py" \
  --lifetimes "$OUT/lifetimes.json" --lifetimes-time "$OUT/lifetimes.time" \
  --parity "$OUT/lifetimes_parity.json" \
  --rapport "$OUT/rapport.json" --rapport-time "$OUT/rapport.time" --rapport-note "$RAPPORT_NOTE" \
  --load "lifetimes=$LOAD_LIFETIMES" --load "rapport=$LOAD_RAPPORT" \
  --data-info "$DATA.params.json" --calibration-end "$CAL_END" --md "$OUT/btyd.md"
exit "$STATUS"
