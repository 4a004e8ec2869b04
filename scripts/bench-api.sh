#!/usr/bin/env bash
# HTTP benchmarks of dramatis next to the peers, in one run (loopback only,
# bounded): wrk through the shared peers' bench.sh (2 s warm-up, 3 x 10 s,
# medians), on SQLite and on PostgreSQL, with 1,000 characters stored for the
# benchmark user; then /health latency while 256 connections hammer login,
# and the peak-RSS cost of a 100 MB upload.
#
#   scripts/bench-api.sh            # everything, results under /tmp/api-bench
#   SKIP_PEERS=1 scripts/bench-api.sh
#   scripts/bench-api.sh --quick    # iterate: list only, c64, no upload/login flood
#
# Knobs (env or flags): --backends "sqlite postgres" (BACKENDS), --endpoints "health characters"
# (ENDPOINTS), --conns "64 256" (CONNS), --repeats 3 (REPEATS), --peers "fastapi hello" (PEERS_RUN; ""
# or --no-peers for none), --no-extras (SKIP_EXTRAS=1: no upload, no login flood). --quick is
# --endpoints characters --conns 64 --no-extras. BIN defaults to $CARGO_TARGET_DIR/release/dramatis.
# bench.sh's own env knobs pass through (QUIET_MAX_S=2 when the machine is never quiet, WARMUP, DURATION).
# The server runs in its own session with autogroup/nice -15, as bench.sh --boost runs the peers.
#
# Needs: wrk (apt-get install wrk), python3, a release build (cargo build --release -p dramatis),
# PostgreSQL on 127.0.0.1:5432 for the postgres half.
set -euo pipefail
ROOT=$(cd "$(dirname "$0")/.." && pwd)
SHARED=${SHARED:-$ROOT/../shared}
PEERS=$SHARED/peers
BIN=${BIN:-${CARGO_TARGET_DIR:-$ROOT/target}/release/dramatis}
BACKENDS=${BACKENDS:-"sqlite postgres"}
ENDPOINTS=${ENDPOINTS:-"health characters"}
CONNS=${CONNS:-"64 256"}
REPEATS=${REPEATS:-3}
PEERS_RUN=${PEERS_RUN-"fastapi hello"}
[ -n "${SKIP_PEERS:-}" ] && PEERS_RUN=""
SKIP_EXTRAS=${SKIP_EXTRAS:-}
while [ $# -gt 0 ]; do
  case "$1" in
    --backends) BACKENDS=$2; shift 2 ;;
    --endpoints) ENDPOINTS=$2; shift 2 ;;
    --conns) CONNS=$2; shift 2 ;;
    --repeats) REPEATS=$2; shift 2 ;;
    --peers) PEERS_RUN=$2; shift 2 ;;
    --no-peers) PEERS_RUN=""; shift ;;
    --no-extras) SKIP_EXTRAS=1; shift ;;
    --quick) ENDPOINTS=characters; CONNS=64; SKIP_EXTRAS=1; shift ;;
    *) echo "unknown option $1 (see the comments at the top)" >&2; exit 2 ;;
  esac
done
PORT=${PORT:-8080}
B=http://127.0.0.1:$PORT
OUT=${OUT:-/tmp/api-bench/run-$(date +%Y%m%d-%H%M%S)}
mkdir -p "$OUT"
[ -x "$BIN" ] || { echo "build first: cargo build --release -p dramatis"; exit 1; }
command -v wrk >/dev/null || { echo "wrk missing: apt-get install -y wrk"; exit 1; }

PID=""
start() { # start BACKEND -> sets PID, DATA
  if curl -s -o /dev/null --max-time 1 "$B/health"; then echo "port $PORT already serving; stop that first" >&2; exit 1; fi
  DATA=$(mktemp -d /tmp/dramatis-bench.XXXX)
  local env=(DRAMATIS_DATA_DIR="$DATA" DRAMATIS_BIND="127.0.0.1:$PORT" DRAMATIS_LOG=warn DRAMATIS_WORKERS=0)
  if [ "$1" = postgres ]; then
    psql -h 127.0.0.1 -U postgres -d test -qc 'drop database if exists dramatis_bench with (force)' -c 'create database dramatis_bench'
    env+=(DRAMATIS_DATABASE_URL=postgres://postgres@127.0.0.1:5432/dramatis_bench DRAMATIS_DB_MAX_CONNECTIONS=16)
  fi
  # Like bench.sh --boost does for the servers it starts: an own session whose autogroup and nice are -15, so
  # the server is not starved by other sessions' builds on a shared machine (needs root; harmless otherwise).
  env "${env[@]}" setsid bash -c 'echo -15 > /proc/self/autogroup 2>/dev/null || true; exec nice -n -15 "$0" serve' \
    "$BIN" >"$DATA/server.log" 2>&1 &
  PID=$!
  for _ in $(seq 1 100); do curl -fsS "$B/health/ready" >/dev/null 2>&1 && return 0; sleep 0.1; done
  echo "server did not start: $(tail -3 "$DATA/server.log")"; exit 1
}
stop() { [ -n "$PID" ] || return 0; kill "$PID" 2>/dev/null || true; wait "$PID" 2>/dev/null || true; PID=""; }
trap stop EXIT
token() { curl -fsS -X POST "$B/api/v1/auth/login" -d 'username=testuser&password=testpass123' \
  | python3 -c 'import sys,json; print(json.load(sys.stdin)["access_token"])'; }
seed() { # 1,000 characters for testuser
  python3 - "$B" "$(token)" <<'PY'
import json, sys, urllib.request, concurrent.futures as cf
base, tok = sys.argv[1], sys.argv[2]
def one(i):
    req = urllib.request.Request(base + "/api/v1/characters", method="POST",
        data=json.dumps({"name": f"Character {i}", "description": "Seeded for the benchmark. " * 4,
                         "tags": ["bench"]}).encode(),
        headers={"authorization": "Bearer " + tok, "content-type": "application/json"})
    return urllib.request.urlopen(req).status
with cf.ThreadPoolExecutor(16) as ex:
    assert all(s == 201 for s in ex.map(one, range(1000)))
print("seeded 1000 characters")
PY
}
boost() { setsid bash -c 'echo -15 > /proc/self/autogroup 2>/dev/null || true; exec nice -n -15 "$@"' _ "$@"; }
vmhwm() { awk '/VmHWM/ {print $2}' "/proc/$1/status"; }

{ echo "date: $(date -u '+%F %T') UTC  commit: $(git -C "$ROOT" log -1 --format=%h 2>/dev/null)"
  echo "nproc: $(nproc)  uptime: $(uptime)"
  echo "backends: $BACKENDS  endpoints: $ENDPOINTS  conns: $CONNS  repeats: $REPEATS  peers: ${PEERS_RUN:-none}"
} | tee -a "$OUT/runs.log"

for backend in $BACKENDS; do
  echo "== dramatis on $backend"
  start "$backend"
  seed
  BENCH_USER=testuser BENCH_PASS=testpass123 LABEL="dramatis-$backend" OUT="$OUT/dramatis-$backend" \
    "$PEERS/fastapi_seed/bench.sh" --boost --target "$B" --pid "$PID" --endpoints "$ENDPOINTS" --conns "$CONNS" \
    --repeats "$REPEATS"
  if [ "$backend" = sqlite ] && [ -z "$SKIP_EXTRAS" ]; then
    # A fresh server, so the upload's cost is not mixed with what the load runs left in the allocator.
    stop
    start "$backend"
    echo "== 100 MB upload"
    f=/tmp/bench-upload-100M.txt
    # Exactly 100 MiB of real text (the upload limit is 100 MiB).
    [ -f "$f" ] || python3 -c "
src=open('$SHARED/data/litbank/original/1342_pride_and_prejudice.txt','rb').read()
want=100*1024*1024
data=(src*(want//len(src)+1))[:want]
open('$f','wb').write(data)
"
    # One login first: an Argon2id verification takes 19 MiB, which is the login's cost, not the upload's.
    T=$(token)
    before=$(vmhwm "$PID")
    for i in 1 2 3; do
      curl -s -o /dev/null -w "upload $i: %{http_code} in %{time_total}s\n" -X POST "$B/api/v1/documents" \
        -H "authorization: Bearer $T" -F "file=@$f;filename=big$i.txt"
    done
    after=$(vmhwm "$PID")
    echo "VmHWM before $before kB, after $after kB, delta $((after - before)) kB"
    echo "== /health while 256 connections hammer login (Argon2id)"
    cat >"$OUT/login.lua" <<'LUA'
wrk.method = "POST"
wrk.body = "username=testuser&password=testpass123"
wrk.headers["Content-Type"] = "application/x-www-form-urlencoded"
LUA
    # Both load generators boosted like the server (and like bench.sh --boost runs wrk), so on a shared machine
    # the figure is the server's latency, not wrk's wait for a core.
    boost timeout 40 wrk -t1 -c256 -d20s --timeout 30s -s "$OUT/login.lua" "$B/api/v1/auth/login" >"$OUT/login-flood.txt" 2>&1 &
    WL=$!
    sleep 3
    boost timeout 30 wrk -t1 -c64 -d10s --latency "$B/health" >"$OUT/health-under-login.txt" 2>&1
    wait $WL || true
    echo "health under login flood:"; grep -E "Requests/sec|99%|50%" "$OUT/health-under-login.txt"
    echo "login flood:"; grep -E "Requests/sec|Latency" "$OUT/login-flood.txt"
    echo "server VmHWM after login flood: $(vmhwm "$PID") kB"
  fi
  stop
done

if [[ " $PEERS_RUN " == *" fastapi "* ]]; then
  echo "== FastAPI peer, 2 workers"
  [ -x /tmp/fastapi-venv/bin/uvicorn ] || (python3 -m venv /tmp/fastapi-venv && /tmp/fastapi-venv/bin/pip install -q -r "$PEERS/fastapi_seed/requirements.txt")
  OUT="$OUT/fastapi-w2" "$PEERS/fastapi_seed/bench.sh" --boost --workers 2 --endpoints "$ENDPOINTS" --conns "$CONNS" \
    --repeats "$REPEATS" --label fastapi-w2 || true
fi
if [[ " $PEERS_RUN " == *" hello "* ]]; then
  echo "== axum hello"
  if [ ! -x /tmp/axum-hello/target/release/axum-hello ]; then
    rm -rf /tmp/axum-hello && cp -r "$PEERS/axum_hello" /tmp/axum-hello && (cd /tmp/axum-hello && cargo build --release -q)
  fi
  OUT="$OUT/axum-hello" "$PEERS/fastapi_seed/bench.sh" --boost --cmd /tmp/axum-hello/target/release/axum-hello \
    --port 8090 --endpoints health --conns "$CONNS" --repeats "$REPEATS" --label axum-hello || true
fi
{ echo "== summaries ($(date -u '+%T') UTC, uptime: $(uptime))"; cat "$OUT"/*/summary.md 2>/dev/null; } | tee -a "$OUT/runs.log"
echo "summaries: $OUT/*/summary.md, log: $OUT/runs.log"
