#!/usr/bin/env bash
# HTTP benchmarks of dramatis next to the peers, in one run (loopback only,
# bounded): wrk through the shared peers' bench.sh (2 s warm-up, 3 x 10 s,
# medians), on SQLite and on PostgreSQL, with 1,000 characters stored for the
# benchmark user; then /health latency while 256 connections hammer login,
# and the peak-RSS cost of a 100 MB upload.
#
#   scripts/bench-api.sh            # everything, results under /tmp/api-bench
#   SKIP_PEERS=1 scripts/bench-api.sh
#
# Needs: wrk (apt-get install wrk), python3, a release build (cargo build --release -p dramatis),
# PostgreSQL on 127.0.0.1:5432 for the postgres half.
set -euo pipefail
ROOT=$(cd "$(dirname "$0")/.." && pwd)
SHARED=${SHARED:-$ROOT/../shared}
PEERS=$SHARED/peers
BIN=${BIN:-$ROOT/target/release/dramatis}
PORT=${PORT:-8080}
B=http://127.0.0.1:$PORT
OUT=${OUT:-/tmp/api-bench}
mkdir -p "$OUT"
[ -x "$BIN" ] || { echo "build first: cargo build --release -p dramatis"; exit 1; }
command -v wrk >/dev/null || { echo "wrk missing: apt-get install -y wrk"; exit 1; }

start() { # start BACKEND -> sets PID, DATA
  DATA=$(mktemp -d /tmp/dramatis-bench.XXXX)
  local env=(DRAMATIS_DATA_DIR="$DATA" DRAMATIS_BIND="127.0.0.1:$PORT" DRAMATIS_LOG=warn DRAMATIS_WORKERS=0)
  if [ "$1" = postgres ]; then
    psql -h 127.0.0.1 -U postgres -d test -qc 'drop database if exists dramatis_bench with (force)' -c 'create database dramatis_bench'
    env+=(DRAMATIS_DATABASE_URL=postgres://postgres@127.0.0.1:5432/dramatis_bench DRAMATIS_DB_MAX_CONNECTIONS=16)
  fi
  env "${env[@]}" "$BIN" serve >"$DATA/server.log" 2>&1 &
  PID=$!
  for _ in $(seq 1 100); do curl -fsS "$B/health/ready" >/dev/null 2>&1 && return 0; sleep 0.1; done
  echo "server did not start: $(tail -3 "$DATA/server.log")"; exit 1
}
stop() { kill "$PID" 2>/dev/null || true; wait "$PID" 2>/dev/null || true; }
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
vmhwm() { awk '/VmHWM/ {print $2}' "/proc/$1/status"; }

for backend in sqlite postgres; do
  echo "== dramatis on $backend"
  start "$backend"
  seed
  BENCH_USER=testuser BENCH_PASS=testpass123 LABEL="dramatis-$backend" OUT="$OUT/dramatis-$backend" \
    "$PEERS/fastapi_seed/bench.sh" --boost --target "$B" --pid "$PID" --endpoints "health characters" --conns "64 256"
  if [ "$backend" = sqlite ]; then
    echo "== 100 MB upload"
    f=/tmp/bench-upload-100M.txt
    # Exactly 100 MiB of real text (the upload limit is 100 MiB).
    [ -f "$f" ] || python3 -c "
src=open('$SHARED/data/litbank/original/1342_pride_and_prejudice.txt','rb').read()
want=100*1024*1024
data=(src*(want//len(src)+1))[:want]
open('$f','wb').write(data)
"
    before=$(vmhwm "$PID")
    for i in 1 2 3; do
      curl -s -o /dev/null -w "upload $i: %{http_code} in %{time_total}s\n" -X POST "$B/api/v1/documents" \
        -H "authorization: Bearer $(token)" -F "file=@$f;filename=big$i.txt"
    done
    after=$(vmhwm "$PID")
    echo "VmHWM before $before kB, after $after kB, delta $((after - before)) kB"
    echo "== /health while 256 connections hammer login (Argon2id)"
    cat >"$OUT/login.lua" <<'LUA'
wrk.method = "POST"
wrk.body = "username=testuser&password=testpass123"
wrk.headers["Content-Type"] = "application/x-www-form-urlencoded"
LUA
    timeout 40 wrk -t1 -c256 -d20s --timeout 30s -s "$OUT/login.lua" "$B/api/v1/auth/login" >"$OUT/login-flood.txt" 2>&1 &
    WL=$!
    sleep 3
    timeout 30 wrk -t1 -c64 -d10s --latency "$B/health" >"$OUT/health-under-login.txt" 2>&1
    wait $WL || true
    echo "health under login flood:"; grep -E "Requests/sec|99%|50%" "$OUT/health-under-login.txt"
    echo "login flood:"; grep -E "Requests/sec|Latency" "$OUT/login-flood.txt"
    echo "server VmHWM after login flood: $(vmhwm "$PID") kB"
  fi
  stop
done

if [ -z "${SKIP_PEERS:-}" ]; then
  echo "== FastAPI peer, 2 workers"
  [ -x /tmp/fastapi-venv/bin/uvicorn ] || (python3 -m venv /tmp/fastapi-venv && /tmp/fastapi-venv/bin/pip install -q -r "$PEERS/fastapi_seed/requirements.txt")
  "$PEERS/fastapi_seed/bench.sh" --boost --workers 2 --endpoints "health characters" --conns "64 256" --label fastapi-w2 || true
  echo "== axum hello"
  if [ ! -x /tmp/axum-hello/target/release/axum-hello ]; then
    rm -rf /tmp/axum-hello && cp -r "$PEERS/axum_hello" /tmp/axum-hello && (cd /tmp/axum-hello && cargo build --release -q)
  fi
  "$PEERS/fastapi_seed/bench.sh" --boost --cmd /tmp/axum-hello/target/release/axum-hello --port 8090 \
    --endpoints health --conns "64 256" --label axum-hello || true
fi
echo "summaries: ls /tmp/api-bench/*/summary.md"
