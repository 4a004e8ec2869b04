#!/usr/bin/env bash
# Runs every fuzz target of the reader crate for SECONDS each (default 600)
# and prints, per target, the executions and whether it found a crash.
#
#   scripts/fuzz-reader.sh [SECONDS] [TARGET...]
#
# Needs the nightly toolchain and cargo-fuzz (`cargo install cargo-fuzz`).
# Seeds come from ../shared/data/docs when it is there. Corpora, crashes and
# logs stay under crates/reader/fuzz/{corpus,artifacts,logs} (git-ignored).
# Each target is bounded by libFuzzer's -max_total_time, a 10 s per-input
# timeout and a 2 GB RSS limit, so a hang or a memory blow-up is a finding,
# not a stuck machine.
set -uo pipefail

secs=${1:-600}
shift || true
repo=$(cd "$(dirname "$0")/.." && pwd)
fuzz="$repo/crates/reader/fuzz"
docs="$repo/../shared/data/docs"
export CARGO_TARGET_DIR=${CARGO_TARGET_DIR:-$repo/target/fuzz}
cd "$fuzz"

targets=("$@")
if [ ${#targets[@]} -eq 0 ]; then
  mapfile -t targets < <(cargo +nightly fuzz list)
fi

seed() { # seed TARGET FOLDER... : copy small corpus files as seeds
  local t=$1; shift
  mkdir -p "corpus/$t"
  for folder in "$@"; do
    [ -d "$docs/$folder" ] || continue
    find "$docs/$folder" -maxdepth 1 -type f ! -name '*.ref.txt' -size -300k \
      -exec cp -n {} "corpus/$t/" \; 2>/dev/null
  done
}
seed text md
seed markdown md
seed docx docx
seed epub epub
seed pdf pdf
seed read_any md docx epub pdf
# Small PDFs made for the tests (AES-256 R6, …) are seeds too.
cp -n "$repo"/crates/reader/tests/fixtures/*.pdf corpus/pdf/ 2>/dev/null || true
if [ -d "$docs/../litbank/original" ]; then
  for f in $(ls "$docs/../litbank/original" | head -5); do
    head -c 20000 "$docs/../litbank/original/$f" > "corpus/text/$f" 2>/dev/null
  done
fi

mkdir -p logs
cargo +nightly fuzz build -O "${targets[@]}" >/dev/null 2>&1 || cargo +nightly fuzz build -O

status=0
summary=()
for t in "${targets[@]}"; do
  mkdir -p "corpus/$t" "artifacts/$t"
  echo "== $t: ${secs}s"
  cargo +nightly fuzz run -O "$t" "corpus/$t" -- \
    -max_total_time="$secs" -timeout=10 -rss_limit_mb=2048 -max_len=1048576 \
    -print_final_stats=1 >"logs/$t.log" 2>&1
  rc=$?
  runs=$(grep -Eo 'stat::number_of_executed_units: *[0-9]+' "logs/$t.log" | grep -Eo '[0-9]+$' | tail -1)
  crashes=$(find "artifacts/$t" -type f | wc -l)
  line="$t: ${runs:-?} executions in ${secs}s, exit $rc, artifacts $crashes"
  [ "$rc" -ne 0 ] && { status=1; line="$line  <-- FINDING, see crates/reader/fuzz/logs/$t.log"; }
  summary+=("$line")
  echo "$line"
done
echo
echo "Summary (${secs}s per target):"
printf '  %s\n' "${summary[@]}"
exit $status
