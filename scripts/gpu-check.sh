#!/usr/bin/env bash
# The CUDA checks of the model (issue 3), in one go: the open_clip fixture parity tests on burn's
# CUDA backend, then ViT-B/16 throughput on CUDA beside the CPU.
#
#   scripts/gpu-check.sh build OUT   # here: build the two CUDA binaries into OUT (needs crates.io)
#   scripts/gpu-check.sh run OUT     # on the GPU machine: run them (needs ../shared/fixtures)
#   scripts/gpu-check.sh             # both, where one machine has the registry and the GPU
#
# The device tool's machines cannot reach crates.io, so build here and carry OUT (the two stripped
# binaries and a copy of the fixtures) with the working tree. Paste the output into
# docs/benchmarks.md, "Model throughput beside open_clip".
#
# Status: written and built against burn 0.21's CUDA backend (`cargo check --features cuda` in CI);
# never run — no GPU has been lent to the sessions that wrote it.
set -euo pipefail
cd "$(dirname "$0")/.."
mode=${1:-all}
out=${2:-target/gpu-check}

build() {
  mkdir -p "$out"
  local json
  json=$(cargo test --release -p arbor-engine --features cuda --test model --no-run --message-format=json)
  local test_bin
  test_bin=$(grep -o '"executable":"[^"]*model-[^"]*"' <<<"$json" | tail -1 | cut -d'"' -f4)
  cp "$test_bin" "$out/model-parity"
  cargo build --release -p arbor-engine --features cuda --example model_speed
  cp "${CARGO_TARGET_DIR:-target}/release/examples/model_speed" "$out/model_speed"
  strip "$out/model-parity" "$out/model_speed"
  # The fixtures live outside the repository (../shared); the GPU machine gets a copy in OUT.
  rm -rf "$out/fixtures" && cp -r ../shared/fixtures/openclip "$out/fixtures"
  ls -la "$out"
}

run() {
  nvidia-smi --query-gpu=name,memory.total,driver_version --format=csv
  local fixtures="$PWD/$out/fixtures"
  [ -d "$fixtures" ] || fixtures="$PWD/../shared/fixtures/openclip"
  ARBOR_FIXTURES="$fixtures" "$out/model-parity" --test-threads 1 --nocapture
  echo "--- CUDA"
  "$out/model_speed" 50 10 cuda
  echo "--- CPU (same machine)"
  "$out/model_speed" 10 2 cpu
}

case "$mode" in
  build) build ;;
  run) run ;;
  all) build; run ;;
  *) echo "usage: $0 [build|run|all] [OUT]" >&2; exit 2 ;;
esac
