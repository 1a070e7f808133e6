#!/usr/bin/env python3
"""Training steps/s of the tiny CLIP config: open_clip (PyTorch) beside Arbor (burn), same
config, same batch, same captions, same threads, one run. Writes a Markdown table.

    /var/tmp/venv-torch/bin/python scripts/bench-train.py --threads 1,2 --batch 64 --steps 20

Needs torch and open_clip_torch; Arbor's side is `cargo run --release -p arbor-trainer
--example train_step` (built first so compile time is not timed).
"""
import argparse, json, math, subprocess, time

import open_clip
import torch


def captions(n):
    return [f"a photo of Fodaemia Staelota Cutrida Liopasiformes Cistougidae Vupus species{i} with common name golden warbler." for i in range(n)]


def torch_steps(threads, batch, steps, warmup):
    torch.set_num_threads(threads)
    torch.manual_seed(0)
    # Arbor's ClipConfig::tiny(): the same shapes, exact GELU.
    model = open_clip.model.CLIP(
        embed_dim=32,
        vision_cfg=dict(image_size=64, patch_size=16, width=64, layers=2, head_width=16, mlp_ratio=4.0),
        text_cfg=dict(context_length=77, vocab_size=49408, width=64, heads=4, layers=2),
    )
    model.train()
    # open_clip's param groups and AdamW settings (betas 0.9/0.98, eps 1e-6).
    exclude = lambda n, p: p.ndim < 2 or "bn" in n or "ln" in n or "bias" in n or "logit_scale" in n
    named = list(model.named_parameters())
    groups = [
        {"params": [p for n, p in named if exclude(n, p)], "weight_decay": 0.0},
        {"params": [p for n, p in named if not exclude(n, p)], "weight_decay": 0.2},
    ]
    optimizer = torch.optim.AdamW(groups, lr=1e-4, betas=(0.9, 0.98), eps=1e-6)
    loss_fn = open_clip.loss.ClipLoss()
    images = torch.randn(batch, 3, 64, 64)
    texts = open_clip.get_tokenizer("ViT-B-16")(captions(batch))
    for step in range(warmup + steps):
        if step == warmup:
            start = time.perf_counter()
        optimizer.zero_grad()
        image_features, text_features, logit_scale = model(images, texts)
        loss = loss_fn(image_features, text_features, logit_scale)
        loss.backward()
        optimizer.step()
        with torch.no_grad():
            model.logit_scale.clamp_(0, math.log(100))
    seconds = time.perf_counter() - start
    return {"impl": "open_clip", "threads": threads, "batch": batch, "steps": steps,
            "steps_per_s": steps / seconds, "images_per_s": steps * batch / seconds, "last_loss": loss.item()}


def arbor_steps(threads, batch, steps, warmup):
    out = subprocess.run(
        ["cargo", "run", "--quiet", "--release", "-p", "arbor-trainer", "--example", "train_step", "--",
         "--threads", str(threads), "--batch", str(batch), "--steps", str(steps), "--warmup", str(warmup)],
        check=True, capture_output=True, text=True)
    return json.loads(out.stdout.strip().splitlines()[-1])


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--threads", default="1,2")
    ap.add_argument("--batch", type=int, default=64)
    ap.add_argument("--steps", type=int, default=20)
    ap.add_argument("--warmup", type=int, default=3)
    a = ap.parse_args()
    subprocess.run(["cargo", "build", "--quiet", "--release", "-p", "arbor-trainer", "--example", "train_step"], check=True)
    print(f"torch {torch.__version__}, open_clip {open_clip.__version__}")
    print("| threads | open_clip steps/s | Arbor steps/s | Arbor / open_clip |")
    print("|---|---|---|---|")
    for t in [int(x) for x in a.threads.split(",")]:
        ref = torch_steps(t, a.batch, a.steps, a.warmup)
        ours = arbor_steps(t, a.batch, a.steps, a.warmup)
        print(f"| {t} | {ref['steps_per_s']:.2f} | {ours['steps_per_s']:.2f} | {ours['steps_per_s'] / ref['steps_per_s']:.2f} |", flush=True)


if __name__ == "__main__":
    main()
