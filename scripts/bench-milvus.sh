#!/usr/bin/env bash
# Export throughput and search latency through Milvus beside the local collection, one run:
# a collection of N synthetic photos (default 20,000 hard links to 64 tiny PNGs, embedded by the
# fixtures' tiny model), exported to the Milvus at $ARBOR_MILVUS (default 127.0.0.1:19530), then
# 20 text queries each way; then, in one process, recall@10 and latency by ef on N random 32-d
# vectors (milvus/examples/recall.rs). Needs a release build (`cargo build --release -p arbor-cli
# -p arbor-milvus --example recall`) and a running Milvus (see README).
set -euo pipefail
cd "$(dirname "$0")/.."
arbor="${CARGO_TARGET_DIR:-target}/release/arbor"
server="${ARBOR_MILVUS:-127.0.0.1:19530}"
n="${1:-20000}"
fixtures=../shared/fixtures/openclip
work=$(mktemp -d /var/tmp/arbor-milvus-bench.XXXXXX)
trap 'rm -rf "$work"' EXIT
"$arbor" import openclip --checkpoint "$fixtures/tiny_gelu/model.safetensors" \
    --config "$fixtures/tiny_gelu/open_clip_config.json" --out "$work/model" >/dev/null 2>&1
python3 scripts/tiny_photos.py "$work/photos" "$n"
"$arbor" collection build --model "$work/model" "$work/photos" --out "$work/coll" --batch-size 32 >/dev/null 2>&1
name="bench_$$_$(date +%s)"
t0=$(date +%s.%N)
"$arbor" collection export "$work/coll" --to "milvus://$server/$name" --m 16 --ef-construction 200 2>/dev/null
t1=$(date +%s.%N)
export_s=$(echo "$t1 - $t0" | bc)
time_queries() {
    local t0 t1
    t0=$(date +%s.%N)
    for q in $(seq 1 20); do
        "$arbor" search --collection "$1" --model "$work/model" --text "photo number $q" -k 10 --ef 256 --format json >/dev/null
    done
    t1=$(date +%s.%N)
    echo "scale=1; ($t1 - $t0) * 1000 / 20" | bc
}
local_ms=$(time_queries "$work/coll")
milvus_ms=$(time_queries "milvus://$server/$name")
echo "photos,export_s,export_photos_per_s,local_search_ms,milvus_search_ms"
echo "$n,$export_s,$(echo "scale=0; $n / $export_s" | bc),$local_ms,$milvus_ms"
echo "(export: inserts, flush, index build and the wait until Milvus serves it; search times are whole"
echo " \`arbor search\` runs: process start, model load, query embedding and the search)"
ARBOR_MILVUS="$server" "$(dirname "$arbor")/examples/recall" "$n" 32 16 200
