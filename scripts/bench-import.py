#!/usr/bin/env python3
"""Full-size tree-of-life import: wall time and peak RSS of `arbor index import-pybioclip`.

Generates (once) a file shaped like BioCLIP 2's published TreeOfLife-200M tree: (768, 867,455)
float32, one unit column per taxon, 1.8 % of the columns all zero (as the published file has
15,487), and a names JSON of `[[7 ranks], common_name]` entries; then times the import with
/usr/bin/time and prints one table: wall seconds, peak RSS, index size, RSS / index.

    python3 -m venv /var/tmp/venv-bench && /var/tmp/venv-bench/bin/pip install numpy
    cargo build --release -p arbor-cli
    /var/tmp/venv-bench/bin/python scripts/bench-import.py [--taxa 867455] [--dim 768] [--graph]

Environment: ARBOR (the CLI, default $CARGO_TARGET_DIR/release/arbor), WORK (data and output,
default /var/tmp/arbor-bench-import; about 3x the matrix size on disk while it runs).
"""

import argparse
import json
import os
import re
import shutil
import subprocess
import time

import numpy as np


def generate(path_npy, path_json, taxa, dim, zero_fraction, seed=0):
    rng = np.random.default_rng(seed)
    # Written in column blocks through a memmap so the generator itself stays small.
    out = np.lib.format.open_memmap(path_npy, mode="w+", dtype="<f4", shape=(dim, taxa))
    zero = rng.random(taxa) < zero_fraction
    block = 16384
    for c0 in range(0, taxa, block):
        c1 = min(taxa, c0 + block)
        cols = rng.standard_normal((dim, c1 - c0), dtype=np.float32)
        cols /= np.linalg.norm(cols, axis=0, keepdims=True)
        cols[:, zero[c0:c1]] = 0.0
        out[:, c0:c1] = cols
    out.flush()
    del out
    names = []
    for t in range(taxa):
        g = t // 4
        names.append([["Plantae" if t % 7 == 0 else "Animalia", f"P{g % 40}", f"C{g % 400}", f"O{g % 4000}",
                       f"F{g % 40000}", f"G{g}", f"e{t}"], f"common {t}" if t % 3 else ""])
    with open(path_json, "w") as f:
        json.dump(names, f)
    return int(zero.sum())


def timed(cmd):
    start = time.time()
    run = subprocess.run(["/usr/bin/time", "-v", *cmd], capture_output=True, text=True)
    wall = time.time() - start
    if run.returncode != 0:
        raise SystemExit(f"{' '.join(cmd)} failed:\n{run.stderr}")
    rss_kb = int(re.search(r"Maximum resident set size \(kbytes\): (\d+)", run.stderr).group(1))
    return wall, rss_kb * 1024, run.stderr


def main():
    p = argparse.ArgumentParser()
    p.add_argument("--taxa", type=int, default=867_455)
    p.add_argument("--dim", type=int, default=768)
    p.add_argument("--zero-fraction", type=float, default=0.0179)
    p.add_argument("--graph", action="store_true", help="also time the import with the HNSW graph")
    a = p.parse_args()
    arbor = os.environ.get("ARBOR", os.path.join(os.environ.get("CARGO_TARGET_DIR", "target"), "release/arbor"))
    work = os.environ.get("WORK", "/var/tmp/arbor-bench-import")
    os.makedirs(work, exist_ok=True)
    npy = os.path.join(work, f"txt_emb_{a.taxa}x{a.dim}.npy")
    names = os.path.join(work, f"txt_emb_{a.taxa}.json")
    if not (os.path.exists(npy) and os.path.exists(names)):
        t0 = time.time()
        zeros = generate(npy, names, a.taxa, a.dim, a.zero_fraction)
        print(f"generated {npy}: {zeros} zero columns in {time.time() - t0:.0f} s")
    rows = []
    for label, extra in [("import (default: no graph)", [])] + ([("import --graph", ["--graph"])] if a.graph else []):
        out = os.path.join(work, "tol-index")
        shutil.rmtree(out, ignore_errors=True)
        wall, rss, log = timed([arbor, "index", "import-pybioclip", "--embeddings", npy, "--names", names,
                                "--out", out, *extra])
        size = os.path.getsize(os.path.join(out, "index.arbor"))
        rows.append((label, wall, rss, size))
        note = [line for line in log.splitlines() if line.startswith(("wrote", "note"))]
        print("\n".join(note))
    print(f"\n{a.taxa} taxa x {a.dim}, input {os.path.getsize(npy) / 1e9:.2f} GB, {os.cpu_count()} cores")
    print("| run | wall s | peak RSS GB | index GB | RSS / index |")
    print("|---|---|---|---|---|")
    for label, wall, rss, size in rows:
        print(f"| {label} | {wall:.1f} | {rss / 1e9:.2f} | {size / 1e9:.2f} | {rss / size:.2f} |")


if __name__ == "__main__":
    main()
