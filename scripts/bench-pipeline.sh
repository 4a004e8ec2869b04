#!/usr/bin/env bash
# Issue 5's throughput benchmark: the 100 LitBank novels uploaded by 4 concurrent clients to `dramatis serve` on
# the embedded default (SQLite, local files, 2 workers), from the first upload to the last document `ready`,
# against `dramatis analyze` on the same files with both cores (2 processes) in the same run.
#
#   bash scripts/bench-pipeline.sh [RUNS]     (default 3 runs of each; prints medians)
#
# Besides wall times it prints the CPU seconds (user + system) each side used: on a machine shared with other
# work the wall times swing with everyone else's load, the CPU seconds much less.
set -euo pipefail
cd "$(dirname "$0")/.."
RUNS=${1:-3}
BIN=${DRAMATIS_BIN:-target/release/dramatis}
TEXTS=../shared/data/litbank/original
[ -x "$BIN" ] || cargo build --release -q -p dramatis
ls "$TEXTS"/*.txt >/dev/null
N=$(ls "$TEXTS"/*.txt | wc -l)
MB=$(du -cm "$TEXTS"/*.txt | tail -1 | cut -f1)
echo "machine: $(nproc) cores, load: $(cut -d' ' -f1-3 /proc/loadavg); $N files, ${MB} MB"

now() { date +%s.%N; }
median() { sort -n | awk '{a[NR]=$1} END {print (NR%2 ? a[(NR+1)/2] : (a[NR/2]+a[NR/2+1])/2)}'; }

analyze_once() {
  local t0 t1 cpu
  t0=$(now)
  cpu=$( { /usr/bin/time -f '%U %S' bash -c "ls '$TEXTS'/*.txt | xargs -P 2 -I{} '$BIN' analyze {} --format json >/dev/null"; } 2>&1 | tail -1)
  t1=$(now)
  echo "$(echo "$t1 - $t0" | bc) $(echo "$cpu" | awk '{print $1 + $2}')"
}

pipeline_once() {
  local dir port pid t0 t1 T total ready
  dir=$(mktemp -d /tmp/bench-pipeline.XXXX)
  port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
  DRAMATIS_DATA_DIR=$dir DRAMATIS_LOG=warn DRAMATIS_MAX_UPLOAD_MB=100 "$BIN" serve --bind 127.0.0.1:$port \
    >"$dir/server.log" 2>&1 &
  pid=$!
  for _ in $(seq 1 100); do curl -fs "http://127.0.0.1:$port/health/ready" >/dev/null 2>&1 && break; sleep 0.1; done
  local B=http://127.0.0.1:$port
  T=$(curl -fsS -X POST $B/api/v1/auth/login -d 'username=testuser&password=testpass123' |
    python3 -c 'import sys,json; print(json.load(sys.stdin)["access_token"])')
  t0=$(now)
  ls "$TEXTS"/*.txt | xargs -P 4 -I{} curl -fsS -o /dev/null -X POST $B/api/v1/documents \
    -H "authorization: Bearer $T" -F "file=@{}"
  # Polling must cost next to nothing (no interpreter start-ups): curl and grep, 4 times a second.
  total() { curl -fsS "$B/api/v1/documents?status=$1&limit=1" -H "authorization: Bearer $T" | grep -o '"total":[0-9]*' | cut -d: -f2; }
  while :; do
    ready=$(total ready); failed=$(total failed)
    [ $((ready + failed)) -ge "$N" ] && break
    sleep 0.25
  done
  t1=$(now)
  [ "$failed" = 0 ] || echo "WARNING: $failed documents failed" >&2
  local cpu
  cpu=$(awk -v t="$(getconf CLK_TCK)" '{print ($14 + $15) / t}' "/proc/$pid/stat")
  kill "$pid"; wait "$pid" 2>/dev/null || true
  rm -rf "$dir"
  echo "$(echo "$t1 - $t0" | bc) $cpu"
}

A=(); P=()
for i in $(seq 1 "$RUNS"); do
  read -r a ac < <(analyze_once); read -r p pc < <(pipeline_once)
  echo "run $i: dramatis analyze ×2 processes ${a}s (CPU ${ac}s); upload (4 clients) → all ready ${p}s (server CPU ${pc}s)"
  A+=("$a"); P+=("$p")
done
am=$(printf '%s\n' "${A[@]}" | median); pm=$(printf '%s\n' "${P[@]}" | median)
echo "median: analyze ${am}s ($(echo "$N / $am" | bc -l | cut -c1-5) books/s); pipeline ${pm}s ($(echo "$N / $pm" | bc -l | cut -c1-5) books/s)"
echo "pipeline throughput = $(echo "100 * $am / $pm" | bc -l | cut -c1-5)% of dramatis analyze (target >= 70%)"
echo "load after: $(cut -d' ' -f1-3 /proc/loadavg)"
