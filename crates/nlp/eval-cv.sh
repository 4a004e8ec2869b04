#!/usr/bin/env bash
# Cross-validated harness figures: refits the name tagger on 4/5 of the train
# books, scores the analysis of the other 1/5 with the harness, five times, and
# (SAVE_OUTPUTS=DIR keeps every JSON)
# sums the counts. Usage (from the repo root): bash crates/nlp/eval-cv.sh [OUT.json]
# (TRAIN_ARGS="--o-penalty 4 ..." passes options to train_ner)
set -euo pipefail
LB=${LITBANK:-../shared/data/litbank}
T=${CARGO_TARGET_DIR:-target}
OUT=${1:-/tmp/nlp-cv.json}
D=$(mktemp -d)
cargo build -p nlp --release --example analyze --example train_ner
"$T/release/examples/train_ner" --litbank "$LB" --folds 5 --fold-dir "$D" --out "$D/all.bin" ${TRAIN_ARGS:-} 2>&1 | grep -E "cross|held" >&2
for k in 0 1 2 3 4; do
  python3 ../shared/eval/litbank_eval.py --mirror "$LB" --books "$D/fold-$k.txt" \
    --cmd "$T/release/examples/analyze {} --model $D/fold-$k.bin" --json "$D/fold-$k.json" ${SAVE_OUTPUTS:+--save-outputs "$SAVE_OUTPUTS"} >/dev/null
done
python3 - "$D" "$OUT" <<'PY'
import json, sys, importlib.util
d, out = sys.argv[1], sys.argv[2]
spec = importlib.util.spec_from_file_location("h", "../shared/eval/litbank_eval.py")
h = importlib.util.module_from_spec(spec); sys.modules["h"] = h; spec.loader.exec_module(h)
from collections import Counter
c = Counter()
for k in range(5):
    c.update(json.load(open(f"{d}/fold-{k}.json"))["totals"]["counts"])
r = h.derive(c)
json.dump({"totals": r}, open(out, "w"), indent=1)
for k, v in r.items():
    if k != "counts":
        print(f"{k:28s} {v:.3f}")
PY
rm -rf "$D"
