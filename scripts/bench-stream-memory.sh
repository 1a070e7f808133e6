#!/usr/bin/env bash
# Peak memory of `arbor classify` over folders of N photos (N = 10^4 ... 10^6 by default), to
# show it stays flat: the walk streams, queues are bounded, resume keeps 8-byte hashes.
#
#   scripts/bench-stream-memory.sh [N ...]
#
# Photos are hard links to a few tiny PNGs (1000 per folder), so a million cost directory
# entries, not disk. The model is the fixtures' tiny CLIP, so the figure is Arbor's own
# per-photo memory, not the model's. Needs a release build (cargo build --release -p arbor-cli)
# and GNU time. Prints two lines per N: a whole run, then a run killed half-way resumed
# (`--resume`): photos, wall seconds, peak RSS (MB), output rows.
set -euo pipefail
cd "$(dirname "$0")/.."
arbor="${CARGO_TARGET_DIR:-target}/release/arbor"
fixtures=../shared/fixtures/openclip
work=$(mktemp -d /var/tmp/arbor-stream.XXXXXX)
trap 'rm -rf "$work"' EXIT
"$arbor" import openclip --checkpoint "$fixtures/tiny_gelu/model.safetensors" \
    --config "$fixtures/tiny_gelu/open_clip_config.json" --out "$work/model" >/dev/null 2>&1
echo "run,photos,wall_s,peak_rss_mb,rows"
for n in "${@:-10000 100000 1000000}"; do
    photos="$work/photos-$n"
    python3 scripts/tiny_photos.py "$photos" "$n"
    out="$work/out-$n.csv"
    run() {
        /usr/bin/time -f "%e %M" -o "$work/time" "$arbor" classify --model "$work/model" --cls "a cat,a dog" \
            "$photos" --format csv --output "$out" --batch-size 32 "$@" 2>/dev/null || true
        read -r wall rss < "$work/time"
        echo "$run,$n,$wall,$((rss / 1024)),$(($(wc -l < "$out") - 1))"
    }
    run=whole run
    # Killed half-way (mid-row), then resumed.
    truncate -s $(($(stat -c %s "$out") / 2 + 7)) "$out"
    run=resumed run --resume
    rm -rf "$photos" "$out"
done
