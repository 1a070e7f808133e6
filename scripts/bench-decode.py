#!/usr/bin/env python3
"""Decode throughput per photo form, Arbor beside PIL, same machine, one run.

For every file of shared/fixtures/formats/images: PIL's `Image.open(f).convert("RGB")` (what
pybioclip does; pillow-heif registered for AVIF/HEIC) and Arbor's decode + RGB conversion
(engine/examples/decode_throughput.rs), ROUNDS times each; prints one markdown table, one row per
form (mean over the three photos), with the ratio PIL time / Arbor time (> 1: Arbor is faster).

    python3 -m venv /var/tmp/venv-bench && /var/tmp/venv-bench/bin/pip install pillow pillow-heif
    cargo build --release -p arbor-engine --features heif --example decode_throughput
    /var/tmp/venv-bench/bin/python scripts/bench-decode.py [ROUNDS]
"""

import collections
import os
import subprocess
import sys
import time

from PIL import Image

try:
    import pillow_heif

    pillow_heif.register_heif_opener()
except ImportError:
    pillow_heif = None

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
IMAGES = os.path.join(ROOT, "..", "shared", "fixtures", "formats", "images")
TARGET = os.environ.get("CARGO_TARGET_DIR", os.path.join(ROOT, "target"))
EXAMPLE = os.path.join(TARGET, "release", "examples", "decode_throughput")


def pil_ms(path, rounds):
    Image.open(path).convert("RGB")
    start = time.perf_counter()
    for _ in range(rounds):
        Image.open(path).convert("RGB")
    return (time.perf_counter() - start) * 1e3 / rounds


def main():
    rounds = int(sys.argv[1]) if len(sys.argv) > 1 else 50
    files = sorted(os.path.join(IMAGES, f) for f in os.listdir(IMAGES))
    out = subprocess.run([EXAMPLE, str(rounds), *files], capture_output=True, text=True, check=True).stdout
    arbor = {line.split("\t")[0]: float(line.split("\t")[1]) for line in out.splitlines()}
    rows = collections.defaultdict(list)
    for f in files:
        form = os.path.basename(f).split(".", 1)[1]
        try:
            pil = pil_ms(f, rounds)
        except Exception:  # noqa: BLE001 - a form PIL cannot open here is reported as such
            pil = float("nan")
        rows[form].append((pil, arbor[f]))
    print(f"{rounds} rounds per file, {os.cpu_count()} cores, Pillow {Image.__version__}, "
          f"pillow-heif {getattr(pillow_heif, '__version__', 'absent')}")
    print("| form | PIL ms | Arbor ms | PIL / Arbor |")
    print("|---|---|---|---|")
    for form, pairs in sorted(rows.items()):
        pil = sum(p for p, _ in pairs) / len(pairs)
        ours = sum(a for _, a in pairs) / len(pairs)
        print(f"| {form} | {pil:.3f} | {ours:.3f} | {pil / ours:.2f} |")


if __name__ == "__main__":
    main()
