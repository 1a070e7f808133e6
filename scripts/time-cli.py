#!/usr/bin/env python3
"""Times whole `arbor` processes the way bench_peers.py does, for quick checks outside the harness.

  time-cli.py INDEX_DIR DATA_DIR [--ef EF | --exact] [--nq 500] [--threads 1] [--reps 3]

Prints: cold and warm `arbor index info` (process start + open + header/meta read) after evicting
the index file from the page cache; warm one-query time; QPS = nq / (wall(nq) - wall(1)); recall@10.
"""
import argparse, os, resource, subprocess, sys, tempfile, time
import numpy as np

ap = argparse.ArgumentParser()
ap.add_argument("index"); ap.add_argument("data")
ap.add_argument("--arbor", default=os.path.join(os.environ.get("CARGO_TARGET_DIR", "target"), "release/arbor"))
ap.add_argument("--ef", type=int, default=0); ap.add_argument("--exact", action="store_true")
ap.add_argument("--nq", type=int, default=500); ap.add_argument("--threads", type=int, default=1)
ap.add_argument("--reps", type=int, default=3)
a = ap.parse_args()
f = os.path.join(a.index, "index.arbor")

def evict():
    fd = os.open(f, os.O_RDONLY); os.posix_fadvise(fd, 0, 0, os.POSIX_FADV_DONTNEED); os.close(fd)

CPU = {}  # wall time -> CPU seconds of that run, to tell a slow run from a starved one on a shared machine


def wall(argv):
    r0 = resource.getrusage(resource.RUSAGE_CHILDREN)
    t = time.perf_counter(); subprocess.run(argv, check=True, stdout=subprocess.DEVNULL); w = time.perf_counter() - t
    r1 = resource.getrusage(resource.RUSAGE_CHILDREN)
    CPU[w] = (r1.ru_utime - r0.ru_utime) + (r1.ru_stime - r0.ru_stime)
    return w

info = [a.arbor, "index", "info", a.index]
cold = []
for _ in range(a.reps):
    evict(); cold.append(wall(info))
warm = min(wall(info) for _ in range(a.reps))
print(f"index info: cold {min(cold)*1e3:.1f} ms (min of {a.reps}), warm {warm*1e3:.1f} ms")
q = np.load(os.path.join(a.data, "queries.npy"))[:a.nq]
gt = np.load(os.path.join(a.data, "gt_ids.npy"))[:a.nq, :10]
tmp = tempfile.mkdtemp()
np.save(f"{tmp}/q1.npy", q[:1]); np.save(f"{tmp}/q.npy", q)
mode = ["--exact"] if a.exact else ["--ef", str(a.ef)]
def query(qf):
    return wall([a.arbor, "index", "query", a.index, "--vectors", qf, "-k", "10", *mode, "--out", f"{tmp}/ids.npy",
                 "--threads", str(a.threads)])
evict(); c1 = query(f"{tmp}/q1.npy")
w1 = min(query(f"{tmp}/q1.npy") for _ in range(a.reps))
wn = min(query(f"{tmp}/q.npy") for _ in range(max(1, a.reps - 1)))
ids = np.load(f"{tmp}/ids.npy")
rec = (ids[:, :10, None] == gt[:, None, :]).any(2).sum(1).mean() / 10
print(f"{' '.join(mode)} threads={a.threads}: 1 query cold {c1*1e3:.0f} ms, warm {w1*1e3:.0f} ms; "
      f"{a.nq} queries {wn:.2f} s -> {a.nq/(wn-w1):.1f} QPS; recall@10 {rec:.4f}; "
      f"CPU busy {CPU[wn]/wn:.2f} of {a.threads} thread(s) in the {a.nq}-query run "
      f"(QPS per CPU-second {a.nq/max(CPU[wn]-CPU[w1], 1e-9):.1f})")
