# Sourced by the benchmark scripts, from the repository's root: where their output goes, a
# release build of what they run, and the tools they need.

out=bench/out
mkdir -p "$out"
target=${CARGO_TARGET_DIR:-target}
bin="$target/release/rapport"
gen="$target/release/examples/generate_purchases"

# Builds `rapport` in release mode, and the examples named as further arguments.
build_release() {
  local examples=()
  for example in "$@"; do examples+=(--example "$example"); done
  cargo build --release -q -p rapport --bin rapport "${examples[@]}"
}

# Installs wrk from Debian when it is missing.
need_wrk() {
  command -v wrk >/dev/null || { apt-get update -qq && apt-get install -y -qq wrk; }
}
