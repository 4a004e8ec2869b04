#!/usr/bin/env bash
# Issue 6's performance targets, in one process (crates/server/examples/bench_chat.rs): the server's own
# time per chat turn on Pride and Prejudice with a 50-message conversation (t_in, t_out; LLM through a
# scripted local model, and extractive), GET /search over the 100 LitBank novels (cold/warm, all
# documents and per document, 1 and 4 clients, memory), and 200 concurrent streaming chats.
#
#   scripts/bench-chat.sh                 # everything (~10 minutes on 2 cores)
#   scripts/bench-chat.sh chat            # 1. and 3. only; also: search, concurrency
#   BENCH_TURNS=50 BENCH_QUERIES=200 BENCH_STREAMS=200 scripts/bench-chat.sh
#
# Output: a markdown table on stdout (also kept in $OUT, default /tmp/bench-chat.txt), preceded by
# nproc and the load average. Needs ../shared/data (docs/bench/pride_and_prejudice.epub,
# litbank/original/*.txt).
set -euo pipefail
ROOT=$(cd "$(dirname "$0")/.." && pwd)
OUT=${OUT:-/tmp/bench-chat.txt}
cd "$ROOT"
cargo build --release -p dramatis-server --example bench_chat
{
    echo "# $(date -u '+%Y-%m-%d %H:%M UTC'), commit $(git rev-parse --short HEAD 2>/dev/null || echo '?')"
    echo "# nproc $(nproc); before: $(uptime)"
    cargo run --quiet --release -p dramatis-server --example bench_chat -- "${1:-all}"
    echo "# after: $(uptime)"
} 2>&1 | tee "$OUT"
