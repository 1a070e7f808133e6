#!/usr/bin/env python3
"""ViT-B/16 (BioCLIP's shape) embedding throughput on the CPU: open_clip beside Arbor, same
machine, same threads, one run. Random weights on both sides (speed does not depend on them).

    /var/tmp/venv-torch/bin/python scripts/bench-model.py --threads 2 --image-iters 10 --text-iters 2

Arbor's side is `cargo run --release -p arbor-engine --example model_speed` (built first).
"""
import argparse, re, subprocess, time

import open_clip
import torch


def open_clip_rates(threads, image_iters, text_iters):
    torch.set_num_threads(threads)
    model = open_clip.create_model("ViT-B-16", pretrained=None).eval()
    rates = {}
    with torch.no_grad():
        for batch in (1, 8):
            pixels = torch.randn(batch, 3, 224, 224)
            model.encode_image(pixels)
            iters = image_iters if batch == 1 else -(-image_iters // batch)
            start = time.perf_counter()
            for _ in range(iters):
                model.encode_image(pixels)
            rates[f"image{batch}"] = batch * iters / (time.perf_counter() - start)
        for eot in (76, 19):
            ids = torch.zeros(256, 77, dtype=torch.long)
            ids[:, 0] = 49406
            ids[:, 1:eot] = 320
            ids[:, eot] = 49407
            model.encode_text(ids)
            start = time.perf_counter()
            for _ in range(text_iters):
                model.encode_text(ids)
            rates[f"text{eot}"] = 256 * text_iters / (time.perf_counter() - start)
    return rates


def arbor_rates(threads, image_iters, text_iters):
    env = {"RAYON_NUM_THREADS": str(threads), "PATH": "/usr/local/bin:/usr/bin:/bin:" + __import__("os").environ.get("PATH", "")}
    env.update({k: v for k, v in __import__("os").environ.items() if k.startswith("CARGO") or k in ("HOME", "RUSTUP_HOME")})
    out = subprocess.run(["cargo", "run", "--quiet", "--release", "-p", "arbor-engine", "--example", "model_speed", "--",
                          str(image_iters), str(text_iters)], check=True, capture_output=True, text=True, env=env).stdout
    rates = {f"image{b}": float(re.search(rf"encode_image batch {b}: ([\d.]+)", out).group(1)) for b in (1, 8)}
    for eot in (76, 19):
        rates[f"text{eot}"] = float(re.search(rf"end of text at {eot}: ([\d.]+)", out).group(1))
    return rates


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--image-iters", type=int, default=10)
    ap.add_argument("--text-iters", type=int, default=2)
    a = ap.parse_args()
    subprocess.run(["cargo", "build", "--quiet", "--release", "-p", "arbor-engine", "--example", "model_speed"], check=True)
    ref = open_clip_rates(a.threads, a.image_iters, a.text_iters)
    ours = arbor_rates(a.threads, a.image_iters, a.text_iters)
    print(f"torch {torch.__version__}, open_clip {open_clip.__version__}, {a.threads} threads")
    print("| workload | open_clip /s | Arbor /s | Arbor / open_clip |")
    print("|---|---|---|---|")
    for key, name in [("image1", "images, batch 1"), ("image8", "images, batch 8"), ("text76", "texts, batch 256, 77 tokens"), ("text19", "texts, batch 256, 20 tokens")]:
        print(f"| {name} | {ref[key]:.2f} | {ours[key]:.2f} | {ours[key] / ref[key]:.2f} |")


if __name__ == "__main__":
    main()
