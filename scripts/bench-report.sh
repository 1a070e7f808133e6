#!/usr/bin/env bash
# `arbor report` on a synthetic folder of N photos (default 10,000): build time, page size, and
# how long headless Chromium takes to load and draw it, whole and filtered.
#
#   scripts/bench-report.sh [N]
#
# Photos are hard links to one fixture JPEG (so thumbnails are really decoded and encoded);
# classify-style CSV rows (5 candidates a photo over 2,000 synthetic species) are written by
# the script. Needs a release build (cargo build --release -p arbor-cli) and /usr/bin/chromium.
set -euo pipefail
cd "$(dirname "$0")/.."
arbor="${CARGO_TARGET_DIR:-target}/release/arbor"
n="${1:-10000}"
work=$(mktemp -d /var/tmp/arbor-report.XXXXXX)
trap 'rm -rf "$work"' EXIT
python3 - "$work" "$n" "$(pwd)/../shared/fixtures/openclip/images/china.jpg" <<'PY'
import csv, os, random, sys
work, n, photo = sys.argv[1], int(sys.argv[2]), sys.argv[3]
random.seed(1)
ranks = ["kingdom", "phylum", "class", "order", "family", "genus", "species_epithet"]
taxa = [["Animalia", f"Phylum{i % 3}", f"Class{i % 7}", f"Order{i % 19}", f"Family{i % 61}", f"Genus{i % 400}", f"ep{i}"] for i in range(2000)]
os.makedirs(f"{work}/photos")
with open(f"{work}/out.csv", "w", newline="") as f:
    w = csv.writer(f)
    w.writerow(["file_name"] + ranks + ["species", "common_name", "score", "error"])
    for i in range(n):
        path = f"{work}/photos/{i:06d}.jpg"
        os.link(photo, path)
        scores = sorted((random.random() for _ in range(5)), reverse=True)
        total = sum(scores) * 1.3
        for t, s in zip(random.sample(taxa, 5), scores):
            w.writerow([path] + t + [f"{t[5]} {t[6]}", "", f"{s / total:.6f}", ""])
PY
start=$(date +%s.%N)
"$arbor" report "$work/out.csv" --out "$work/report.html" 2>/dev/null
build=$(echo "$(date +%s.%N) - $start" | bc)
size=$(stat -c %s "$work/report.html")
chrome() {
    local t0 t1 dom
    t0=$(date +%s.%N)
    dom=$(timeout 120 /usr/bin/chromium --headless --no-sandbox --disable-gpu --no-first-run \
        --disable-background-networking --disable-component-update --disable-sync \
        --user-data-dir="$work/profile" --dump-dom "file://$1" 2>/dev/null)
    t1=$(date +%s.%N)
    echo "$(echo "$t1 - $t0" | bc) $(grep -o 'data-render-ms="[0-9.]*"' <<<"$dom" | grep -o '[0-9.]*') $(grep -o '<article class="card"' <<<"$dom" | wc -l)"
}
printf '<!doctype html><title>blank</title>' > "$work/blank.html"
read -r blank _ _ < <(chrome "$work/blank.html")
read -r whole whole_ms whole_cards < <(chrome "$work/report.html")
read -r filtered filtered_ms filtered_cards < <(chrome "$work/report.html#q=Family7&rank=family&min=0.2&sort=score-desc")
echo "photos,build_s,page_mb,thumbs,blank_page_s,load_s,render_ms,cards,filtered_load_s,filtered_render_ms,filtered_cards"
echo "$n,$build,$(echo "scale=1; $size / 1000000" | bc),$(ls "$work/report_thumbs" 2>/dev/null | wc -l),$blank,$whole,$whole_ms,$whole_cards,$filtered,$filtered_ms,$filtered_cards"
