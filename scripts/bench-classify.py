#!/usr/bin/env python3
"""Classifying a folder of photos end to end — decode → embed → score every taxon → write CSV —
with Arbor (`arbor classify --exact`) beside a pybioclip-equivalent pipeline (open_clip +
pybioclip's preprocessing + its dense matmul over the tree of life + softmax + top-k per
image), same ViT-B/16 weights, same taxa, same photos, same threads, one run.

    /var/tmp/venv-torch/bin/python scripts/bench-classify.py --taxa /var/tmp/ann-data/taxa-450000/taxa.csv \\
        --n-taxa 450000 --photos 32 --threads 2

Reports images/s after the first result and cold start (process start to the first result row).
The weights are random (BioCLIP's are not downloadable here); speed does not depend on them.
"""
import argparse, csv, json, os, pathlib, shutil, subprocess, sys, tempfile, time

PY_CLASSIFIER = r'''
import sys, time, csv
t0 = time.time()
import numpy as np, torch, open_clip
from PIL import Image
from torchvision import transforms
model_path, emb_path, names_path, threads, k = sys.argv[1], sys.argv[2], sys.argv[3], int(sys.argv[4]), int(sys.argv[5])
photos = sys.argv[6:]
torch.set_num_threads(threads)
model = open_clip.create_model("ViT-B-16", pretrained=model_path).eval()
txt = torch.from_numpy(np.load(emb_path))            # (D, N), pybioclip's layout
names = [l.rstrip("\n") for l in open(names_path)]
# pybioclip's preprocess_img: RGB, ToTensor, Resize((224, 224), antialias), Normalize.
pre = transforms.Compose([transforms.ToTensor(), transforms.Resize((224, 224), antialias=True),
    transforms.Normalize((0.48145466, 0.4578275, 0.40821073), (0.26862954, 0.26130258, 0.27577711))])
out = csv.writer(sys.stdout)
out.writerow(["file_name", "species", "score"])
with torch.no_grad():
    for path in photos:
        img = pre(Image.open(path).convert("RGB")).unsqueeze(0)
        f = torch.nn.functional.normalize(model.encode_image(img), dim=-1)
        probs = (model.logit_scale.exp() * f @ txt).softmax(dim=-1)[0]
        top = probs.topk(k)
        for p, i in zip(top.values.tolist(), top.indices.tolist()):
            out.writerow([path, names[i], p])
        sys.stdout.flush()
'''


def timed(cmd, env=None):
    """Runs cmd, returns (seconds to the first result row, total seconds)."""
    start = time.perf_counter()
    p = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env)
    first = None
    rows = 0
    for line in p.stdout:
        if rows == 1 and first is None:
            first = time.perf_counter() - start
        rows += 1
    err = p.stderr.read()
    if p.wait() != 0:
        sys.exit(f"{cmd[0]} failed: {err}")
    return first, time.perf_counter() - start, rows


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--taxa", required=True, help="taxonomy CSV (kingdom..species_epithet,common_name)")
    ap.add_argument("--n-taxa", type=int, default=450000)
    ap.add_argument("--photos", type=int, default=32)
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--work", default="/var/tmp/arbor-bench-classify")
    ap.add_argument("--arbor", default="target/release/arbor")
    a = ap.parse_args()
    import numpy as np, open_clip, torch
    from safetensors.torch import save_file
    work = pathlib.Path(a.work)
    work.mkdir(parents=True, exist_ok=True)
    # One random ViT-B/16, saved as open_clip would, imported into Arbor.
    ckpt = work / "vit_b_16.safetensors"
    cfg = work / "open_clip_config.json"
    model_dir = work / "model"
    if not model_dir.exists():
        torch.manual_seed(0)
        m = open_clip.create_model("ViT-B-16", pretrained=None)
        save_file({k: v.contiguous() for k, v in m.state_dict().items()}, str(ckpt))
        cfg.write_text(json.dumps({"model_cfg": open_clip.get_model_config("ViT-B-16"),
                                   "preprocess_cfg": {"mean": [0.48145466, 0.4578275, 0.40821073],
                                                      "std": [0.26862954, 0.26130258, 0.27577711]}}))
        subprocess.run([a.arbor, "import", "openclip", "--checkpoint", str(ckpt), "--config", str(cfg), "--out", str(model_dir)], check=True)
    # The tree of life: the first n taxa, random unit vectors, in both layouts.
    index_dir = work / f"index-{a.n_taxa}"
    emb = work / f"txt_emb_{a.n_taxa}.npy"
    names = work / f"names_{a.n_taxa}.txt"
    if not index_dir.exists():
        rows = list(csv.reader(open(a.taxa)))
        header, rows = rows[0], rows[1:a.n_taxa + 1]
        taxa_csv = work / f"taxa_{a.n_taxa}.csv"
        with open(taxa_csv, "w", newline="") as f:
            w = csv.writer(f); w.writerow(header); w.writerows(rows)
        names.write_text("".join(f"{r[5]} {r[6]}\n" for r in rows))
        rng = np.random.default_rng(0)
        v = rng.standard_normal((len(rows), 512), dtype=np.float32)
        v /= np.linalg.norm(v, axis=1, keepdims=True)
        np.save(work / f"rows_{a.n_taxa}.npy", v)
        np.save(emb, np.ascontiguousarray(v.T))
        subprocess.run([a.arbor, "index", "build", "--vectors", str(work / f"rows_{a.n_taxa}.npy"), "--taxonomy", str(taxa_csv),
                        "--out", str(index_dir), "--no-graph"], check=True)
    # Photos: the fixture photos (JPEG and PNG, 64 px to 2.8 MP), repeated.
    photo_dir = work / "photos"
    shutil.rmtree(photo_dir, ignore_errors=True)
    photo_dir.mkdir()
    fixtures = sorted(pathlib.Path(__file__).resolve().parents[2].joinpath("shared/fixtures/openclip/images").glob("*"))
    for i in range(a.photos):
        src = fixtures[i % len(fixtures)]
        shutil.copy(src, photo_dir / f"{i:04d}{src.suffix}")
    photos = sorted(str(p) for p in photo_dir.iterdir())
    script = work / "pybioclip_equivalent.py"
    script.write_text(PY_CLASSIFIER)
    env = dict(os.environ, RAYON_NUM_THREADS=str(a.threads), OMP_NUM_THREADS=str(a.threads))
    ref = timed([sys.executable, str(script), str(ckpt), str(emb), str(names), str(a.threads), "5", *photos], env)
    ours = timed([a.arbor, "classify", "--model", str(model_dir), "--index", str(index_dir), str(photo_dir), "--rank", "species",
                  "-k", "5", "--exact", "--format", "csv"], env)
    rate = lambda r: (a.photos - 1) / (r[1] - r[0])
    print(f"{a.photos} photos, {a.n_taxa} taxa, {a.threads} threads; torch {torch.__version__}, open_clip {open_clip.__version__}")
    print("| pipeline | cold start (s to first result) | images/s after the first | total s |")
    print("|---|---|---|---|")
    for name, r in [("pybioclip-equivalent (open_clip + numpy matmul)", ref), ("arbor classify --exact", ours)]:
        print(f"| {name} | {r[0]:.2f} | {rate(r):.2f} | {r[1]:.1f} |")
    print(f"| Arbor / reference | {ref[0] / ours[0]:.2f}x faster start | {rate(ours) / rate(ref):.2f} | |")


if __name__ == "__main__":
    main()
