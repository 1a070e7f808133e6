#!/usr/bin/env bash
# Arbor's f32/bf16/int8 towers beside open_clip (PyTorch f32) and ONNX Runtime (f32 and dynamic
# int8) on this machine, in one run: images/s at batch 1 and 8, texts/s, cosine to open_clip f32.
#
#   scripts/bench-precision.sh [ViT-B-16|ViT-L-14] [--threads 2] [--iters 8]
#
# The peers go into their own virtualenv (/var/tmp/venv-ort, made here if missing). Random
# weights on every side (speed does not depend on them; fidelity is measured on random weights,
# as the issue asks): open_clip draws them, saves them, and Arbor imports that checkpoint.
set -euo pipefail
cd "$(dirname "$0")/.."
VENV=${ARBOR_BENCH_VENV:-/var/tmp/venv-ort}
if [ ! -x "$VENV/bin/python" ] || ! "$VENV/bin/python" -c "import torch, open_clip, onnxruntime, onnx" 2>/dev/null; then
    python3 -m venv "$VENV"
    "$VENV/bin/pip" install -q torch open_clip_torch onnxruntime onnx onnxscript safetensors numpy
fi
export CARGO_TARGET_DIR=${CARGO_TARGET_DIR:-target}
cargo build --quiet --release -p arbor-cli --bin arbor
cargo build --quiet --release -p arbor-engine --example precision
exec "$VENV/bin/python" scripts/bench_precision.py --target-dir "$CARGO_TARGET_DIR" "$@"
