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
python3 - "$work/src" <<'PY'
import struct, sys, zlib, os
os.makedirs(sys.argv[1])
def png(path, seed):
    w = h = 16
    raw = b"".join(b"\0" + bytes(((x * 7 + y * 13 + c * 5 + seed * 11) % 256) for x in range(w) for c in range(3)) for y in range(h))
    chunk = lambda t, d: struct.pack(">I", len(d)) + t + d + struct.pack(">I", zlib.crc32(t + d) & 0xFFFFFFFF)
    open(path, "wb").write(b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", struct.pack(">IIBBBBB", w, h, 8, 2, 0, 0, 0)) + chunk(b"IDAT", zlib.compress(raw)) + chunk(b"IEND", b""))
for i in range(64):
    png(f"{sys.argv[1]}/{i}.png", i)
PY
echo "run,photos,wall_s,peak_rss_mb,rows"
for n in "${@:-10000 100000 1000000}"; do
    photos="$work/photos-$n"
    python3 - "$work/src" "$photos" "$n" <<'PY'
import os, sys
src, dst, n = sys.argv[1], sys.argv[2], int(sys.argv[3])
for i in range(n):
    folder = f"{dst}/{i // 1000:04d}"
    if i % 1000 == 0:
        os.makedirs(folder)
    os.link(f"{src}/{i % 64}.png", f"{folder}/{i:07d}.png")
PY
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
