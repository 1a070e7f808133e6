#!/usr/bin/env python3
"""The comparison table of scripts/bench-precision.sh (run that, not this)."""
import argparse, glob, json, os, re, shutil, subprocess, tempfile, time

import numpy as np
import onnxruntime as ort
import open_clip
import torch
from onnxruntime.quantization import QuantType, quantize_dynamic
from PIL import Image
from safetensors.torch import save_file

FIXTURES = os.path.join(os.path.dirname(__file__), "..", "..", "shared", "fixtures")


def photos():
    paths = sorted(glob.glob(f"{FIXTURES}/openclip/images/*")) + sorted(glob.glob(f"{FIXTURES}/formats/images/*"))
    # AVIF and HEIC need Arbor's `heif` feature, which the release CLI here is built without.
    return [p for p in paths if not p.lower().endswith((".avif", ".heic", ".heif"))]


def rate(fn, batch, iters):
    fn()
    start = time.perf_counter()
    n = max(1, -(-iters // batch))
    for _ in range(n):
        fn()
    return batch * n / (time.perf_counter() - start)


def cosines(a, b):
    a = a / np.linalg.norm(a, axis=1, keepdims=True)
    b = b / np.linalg.norm(b, axis=1, keepdims=True)
    return (a * b).sum(1)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("model", nargs="?", default="ViT-B-16")
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--iters", type=int, default=8)
    ap.add_argument("--target-dir", default="target")
    a = ap.parse_args()
    torch.set_num_threads(a.threads)
    torch.backends.mha.set_fastpath_enabled(False)  # the ONNX export needs plain ops
    torch.manual_seed(0)
    model = open_clip.create_model(a.model, pretrained=None).eval()
    preprocess = open_clip.image_transform(model.visual.image_size, is_train=False)
    work = tempfile.mkdtemp(prefix="arbor-precision-")
    ckpt, cfg = f"{work}/model.safetensors", f"{work}/open_clip_config.json"
    save_file({k: v.contiguous() for k, v in model.state_dict().items()}, ckpt)
    with open(cfg, "w") as f:
        json.dump({"model_cfg": open_clip.get_model_config(a.model), "preprocess_cfg": {
            "mean": list(open_clip.OPENAI_DATASET_MEAN), "std": list(open_clip.OPENAI_DATASET_STD),
            "interpolation": "bicubic", "resize_mode": "shortest"}}, f)
    arbor = f"{a.target_dir}/release/arbor"
    subprocess.run([arbor, "import", "openclip", "--checkpoint", ckpt, "--config", cfg, "--out", f"{work}/arbor"],
                   check=True, capture_output=True)

    files = photos()
    pixels = torch.stack([preprocess(Image.open(p).convert("RGB")) for p in files])
    with torch.no_grad():
        reference = model.encode_image(pixels).numpy()
    rows, notes = [], []

    def bench_torch():
        out = {}
        with torch.no_grad():
            for b in (1, 8):
                x = pixels[:b]
                out[b] = rate(lambda: model.encode_image(x), b, a.iters)
            ids = open_clip.get_tokenizer(a.model)(["a photo of Animalia Chordata Aves Passeriformes Corvidae Corvus corax"] * 256)
            out["text"] = rate(lambda: model.encode_text(ids), 256, 256)
        return out

    r = bench_torch()
    rows.append(("open_clip f32 (PyTorch)", r[1], r[8], r["text"], 1.0, 1.0, 1.0))
    own_f32 = {}

    onnx_f32, onnx_int8 = f"{work}/visual.onnx", f"{work}/visual.int8.onnx"
    torch.onnx.export(model.visual, pixels[:1], onnx_f32, input_names=["pixels"], output_names=["features"],
                      dynamic_axes={"pixels": {0: "batch"}, "features": {0: "batch"}}, opset_version=17, dynamo=False)
    quantize_dynamic(onnx_f32, onnx_int8, weight_type=QuantType.QInt8)
    for name, path in (("ONNX Runtime f32", onnx_f32), ("ONNX Runtime int8 dynamic", onnx_int8)):
        so = ort.SessionOptions()
        so.intra_op_num_threads = a.threads
        so.inter_op_num_threads = 1
        sess = ort.InferenceSession(path, so, providers=["CPUExecutionProvider"])
        x = pixels.numpy()
        feats = np.concatenate([sess.run(None, {"pixels": x[i:i + 8]})[0] for i in range(0, len(x), 8)])
        c = cosines(feats, reference)
        own = cosines(feats, own_f32.setdefault("ort", feats)).min()
        r1 = rate(lambda: sess.run(None, {"pixels": x[:1]}), 1, a.iters)
        r8 = rate(lambda: sess.run(None, {"pixels": x[:8]}), 8, a.iters)
        rows.append((name, r1, r8, None, c.min(), c.mean(), own))

    env = dict(os.environ, RAYON_NUM_THREADS=str(a.threads))
    speed = subprocess.run([f"{a.target_dir}/release/examples/precision", f"{work}/arbor", str(a.iters), "1"],
                           check=True, capture_output=True, text=True, env=env).stdout
    notes.append(speed.splitlines()[0])
    cpu = speed.splitlines()[0]
    has = lambda feature: f"{feature}: true" in cpu
    skip = {"bf16": not (has("avx512_bf16") or has("amx_bf16")), "int8": not (has("avx512_vnni") or has("amx_int8"))}
    for precision in ("f32", "bf16", "int8"):
        if skip.get(precision):
            need = "AVX512_BF16 or AMX-BF16" if precision == "bf16" else "AVX512_VNNI or AMX-INT8"
            notes.append(f"Arbor {precision}: this CPU has no {need}, so its row is skipped (the portable kernels would run)")
            continue
        out = f"{work}/arbor-{precision}.npy"
        subprocess.run([arbor, "embed", "image", "--model", f"{work}/arbor", "--preprocess", "crop", "--precision",
                        precision, "--out", out, *files], check=True, capture_output=True, env=env)
        feats = np.load(out)
        c = cosines(feats, reference)
        own = cosines(feats, own_f32.setdefault("arbor", feats)).min()
        line = next(l for l in speed.splitlines() if l.startswith(precision + " "))
        r1, r8 = (float(re.search(rf"batch {b}: ([\d.]+)", line).group(1)) for b in (1, 8))
        text = float(re.search(r"([\d.]+) texts/s", line).group(1))
        rows.append((f"Arbor {precision}", r1, r8, text, c.min(), c.mean(), own))

    print(f"{a.model}, {a.threads} threads, {len(files)} fixture photos; cosine to open_clip f32 (min, mean) and")
    print("to the same engine's f32 (min). Photos with alpha differ between PIL's convert('RGB') here and Arbor's")
    print("pipeline, in every precision: that is preprocessing, not precision.")
    for n in notes:
        print(n)
    print(f"{'engine':28} {'img/s b1':>9} {'img/s b8':>9} {'texts/s':>8} {'cos min':>9} {'cos mean':>9} {'own f32':>9}")
    for name, r1, r8, text, cmin, cmean, own in rows:
        t = f"{text:8.1f}" if text else f"{'—':>8}"
        print(f"{name:28} {r1:9.2f} {r8:9.2f} {t} {cmin:9.6f} {cmean:9.6f} {own:9.6f}")
    shutil.rmtree(work)  # the checkpoint, the Arbor model and both ONNX files: GBs for ViT-L/14


if __name__ == "__main__":
    main()
