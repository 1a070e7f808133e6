#!/usr/bin/env bash
# Peak memory of importing and of opening full-size models, beside the checkpoint's size.
#
#   cargo build --release -p arbor-cli && cargo build --release -p arbor-engine --example random_checkpoint
#   scripts/bench-weights.sh [vit-b-16 vit-l-14]
#
# For each shape: a random-weight checkpoint of the real shape (engine/examples/random_checkpoint),
# then `arbor import openclip` and `arbor model info` (which opens the model for inference) under
# /usr/bin/time; prints wall seconds, peak RSS and RSS / checkpoint. WORK (default
# /var/tmp/arbor-bench-weights) holds the files; about 3x a checkpoint's size on disk.
set -euo pipefail
T=${CARGO_TARGET_DIR:-target}/release
WORK=${WORK:-/var/tmp/arbor-bench-weights}
mkdir -p "$WORK"
echo "| model | checkpoint GB | step | wall s | peak RSS GB | RSS / checkpoint |"
echo "|---|---|---|---|---|---|"
for shape in "${@:-vit-b-16 vit-l-14}"; do
  for s in $shape; do
    dir=$WORK/$s
    [ -f "$dir/open_clip_model.safetensors" ] || "$T/examples/random_checkpoint" "$s" "$dir" 2>/dev/null
    size=$(stat -c %s "$dir/open_clip_model.safetensors")
    rm -rf "$dir/imported"
    for step in import open; do
      if [ $step = import ]; then
        cmd=("$T/arbor" import openclip --checkpoint "$dir/open_clip_model.safetensors" --config "$dir/open_clip_config.json" --out "$dir/imported")
      else
        cmd=("$T/arbor" model info "$dir/imported")
      fi
      /usr/bin/time -f "%e %M" -o "$WORK/time" "${cmd[@]}" >/dev/null 2>&1
      read -r wall kb < "$WORK/time"
      awk -v m="$s" -v st="$step" -v w="$wall" -v kb="$kb" -v sz="$size" \
        'BEGIN { printf "| %s | %.2f | %s | %.1f | %.2f | %.2f |\n", m, sz/1e9, st, w, kb*1024/1e9, kb*1024/sz }'
    done
  done
done
