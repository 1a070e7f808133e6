#!/usr/bin/env bash
# Does a lower precision change the answer? Exact-mode `arbor classify` of 200 photos against a
# 450K-taxon benchmark tree (the ANN harness's synthetic tree of life, hierarchical 512-d taxon
# vectors) with a random full-size ViT-B/16, at f32, bf16 and int8: the fraction of photos with
# f32's top-1 species, and with f32's top-5 set.
#
#   scripts/bench-precision-classify.sh
#
# Environment: PY (python with numpy) [/var/tmp/venv-ort/bin/python], DATA (gen_taxa.py output,
# made here if missing: ~2 min) [/var/tmp/ann-data/taxa-450000-q10], WORK [/var/tmp/arbor-precision-classify].
# Both hold about 2.5 GB; remove them when done.
set -euo pipefail
cd "$(dirname "$0")/.."
T=${CARGO_TARGET_DIR:-target}
PY=${PY:-/var/tmp/venv-ort/bin/python}
DATA=${DATA:-/var/tmp/ann-data/taxa-450000-q10}
WORK=${WORK:-/var/tmp/arbor-precision-classify}
ARBOR=$T/release/arbor
if ! "$PY" -c "import numpy" 2>/dev/null; then
    python3 -m venv "$(dirname "$(dirname "$PY")")" && "$PY" -m pip install -q numpy
fi
cargo build --quiet --release -p arbor-cli --bin arbor
cargo build --quiet --release -p arbor-engine --example random_checkpoint
[ -f "$DATA/vectors.npy" ] || "$PY" /work/shared/bench/ann/gen_taxa.py --n 450000 --queries 10 --out "$DATA"
mkdir -p "$WORK"
[ -d "$WORK/tol" ] || "$ARBOR" index build --vectors "$DATA/vectors.npy" --taxonomy "$DATA/taxa.csv" --out "$WORK/tol"
if [ ! -d "$WORK/model" ]; then
    "$T/release/examples/random_checkpoint" vit-b-16 "$WORK/ckpt"
    "$ARBOR" import openclip --checkpoint "$WORK/ckpt/open_clip_model.safetensors" \
        --config "$WORK/ckpt/open_clip_config.json" --out "$WORK/model"
    rm -rf "$WORK/ckpt"
fi
if [ ! -d "$WORK/photos" ]; then
    # The fixture photos Arbor decodes without the heif feature, and painted photos of a
    # synthetic tree of life to make 200.
    mkdir -p "$WORK/photos"
    for f in ../shared/fixtures/openclip/images/* ../shared/fixtures/formats/images/*; do
        case "$f" in *.avif|*.heic) continue ;; esac
        cp "$f" "$WORK/photos/"
    done
    have=$(ls "$WORK/photos" | wc -l)
    "$ARBOR" synth --out "$WORK/synth" --species 40 --images-per-species 5 --image-size 224 > /dev/null
    find "$WORK/synth" -name '*.png' | sort | head -n $((200 - have)) | while read -r p; do
        cp "$p" "$WORK/photos/synth_$(basename "$(dirname "$p")")_$(basename "$p")"
    done
    rm -rf "$WORK/synth"
fi
for p in f32 bf16 int8; do
    /usr/bin/time -f "$p: %e s, %M KB peak" "$ARBOR" classify --model "$WORK/model" --index "$WORK/tol" --exact -k 5 \
        --format jsonl --precision "$p" --output "$WORK/$p.jsonl" "$WORK/photos" 2> "$WORK/$p.log" || true
    tail -1 "$WORK/$p.log"
done
"$PY" - "$WORK" <<'PY'
import json, sys
work = sys.argv[1]
def answers(p):
    rows = {}
    for line in open(f"{work}/{p}.jsonl"):
        r = json.loads(line)
        rows.setdefault(r["file_name"], []).append(r)
    return {k: [x["species"] for x in sorted(v, key=lambda x: -x["score"])] for k, v in rows.items()}
ref = answers("f32")
print(f"{len(ref)} photos, 450K taxa, exact softmax, top-5")
for p in ("bf16", "int8"):
    a = answers(p)
    top1 = sum(a[k][0] == ref[k][0] for k in ref) / len(ref)
    top5 = sum(set(a[k][:5]) == set(ref[k][:5]) for k in ref) / len(ref)
    print(f"{p}: same top-1 {top1:.1%}, same top-5 set {top5:.1%}")
PY
