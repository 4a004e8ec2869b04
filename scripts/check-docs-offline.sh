#!/usr/bin/env bash
# Renders /api/v1/docs and /api/v1/redoc in headless Chromium with every host
# but 127.0.0.1 unresolvable, and saves screenshots: the pages must work with
# no request leaving the machine. Needs: apt-get install -y chromium.
#   scripts/check-docs-offline.sh [BASE_URL]   (default: starts target/release/dramatis on a free port)
set -euo pipefail
ROOT=$(cd "$(dirname "$0")/.." && pwd)
BASE=${1:-}
if [ -z "$BASE" ]; then
  PORT=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
  DATA=$(mktemp -d)
  DRAMATIS_DATA_DIR=$DATA DRAMATIS_WORKERS=0 "$ROOT/target/release/dramatis" serve --bind "127.0.0.1:$PORT" >"$DATA/log" 2>&1 &
  PID=$!; trap 'kill $PID' EXIT
  BASE=http://127.0.0.1:$PORT
  for _ in $(seq 1 50); do curl -fsS "$BASE/health" >/dev/null 2>&1 && break; sleep 0.1; done
fi
for page in docs redoc; do
  out=/tmp/dramatis-$page.png
  rm -f "$out"
  timeout 60 chromium --headless --no-sandbox --disable-gpu --disable-quic --no-first-run \
    --disable-background-networking --disable-component-update --disable-sync --user-data-dir="$(mktemp -d)" \
    --host-resolver-rules="MAP * ~NOTFOUND, EXCLUDE 127.0.0.1" --window-size=1280,900 --virtual-time-budget=8000 \
    --dump-dom "$BASE/api/v1/$page" >"/tmp/dramatis-$page.html" 2>/dev/null
  timeout 60 chromium --headless --no-sandbox --disable-gpu --disable-quic --no-first-run \
    --disable-background-networking --disable-component-update --disable-sync --user-data-dir="$(mktemp -d)" \
    --host-resolver-rules="MAP * ~NOTFOUND, EXCLUDE 127.0.0.1" --window-size=1280,900 --virtual-time-budget=8000 \
    --screenshot="$out" "$BASE/api/v1/$page" >/dev/null 2>&1
  case $page in
    docs) grep -q 'opblock' "/tmp/dramatis-$page.html" || { echo "FAIL: Swagger UI did not render operations"; exit 1; } ;;
    redoc) grep -q 'api-content' "/tmp/dramatis-$page.html" || { echo "FAIL: ReDoc did not render"; exit 1; } ;;
  esac
  echo "$page rendered offline: $out"
done
