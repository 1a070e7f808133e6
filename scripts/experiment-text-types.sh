#!/usr/bin/env bash
# BioCLIP's text-type finding in miniature (docs/experiments.md): train the tiny model on one
# synthetic world with common-name, taxonomic+common and mixed captions, then evaluate each on
# the test split (seen and unseen species, every rank).
#
#   scripts/experiment-text-types.sh [WORKDIR] [SPECIES] [IMAGES] [EPOCHS] [SEED]
set -euo pipefail
work=${1:-/tmp/arbor-text-types}
species=${2:-96}
images=${3:-30}
epochs=${4:-30}
seed=${5:-0}
arbor=${ARBOR:-target/release/arbor}
mkdir -p "$work"
[ -d "$work/world" ] || "$arbor" synth --out "$work/world" --species "$species" --images-per-species "$images" --seed "$seed"
for text_type in common taxonomic+common mixed; do
  run="$work/run-$text_type"
  [ -f "$run/arbor-model.json" ] || "$arbor" train --data "$work/world" --out "$run" --config tiny \
    --text-type "$text_type" --epochs "$epochs" --batch-size 64 --lr 2e-3 --warmup 50 --seed "$seed" --format json > "$run.train.json"
  for eval_type in common taxonomic+common scientific; do
    "$arbor" eval --model "$run" --data "$work/world" --split test --text-type "$eval_type" --format json \
      > "$run.eval-$eval_type.json"
  done
done
/usr/bin/env python3 - "$work" <<'PY'
import json, sys, pathlib
work = pathlib.Path(sys.argv[1])
ranks = ["kingdom", "phylum", "class", "order", "family", "genus", "species"]
print("| trained with | evaluated with | split | " + " | ".join(ranks) + " | 1-shot | 5-shot |")
print("|" + "---|" * (len(ranks) + 5))
for run in ["common", "taxonomic+common", "mixed"]:
    for ev in ["common", "taxonomic+common", "scientific"]:
        r = json.loads((work / f"run-{run}.eval-{ev}.json").read_text())
        for split in ["seen", "unseen"]:
            acc = r["zero_shot"][split]
            fs = [r["few_shot"].get(k) for k in ("1", "5")]
            shots = [f"{f['mean']:.3f}" if f else "-" for f in fs] if split == "seen" else ["", ""]
            print(f"| {run} | {ev} | {split} | " + " | ".join(f"{acc[k]:.3f}" for k in ranks) + " | " + " | ".join(shots) + " |")
PY
