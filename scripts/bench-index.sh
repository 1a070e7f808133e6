#!/usr/bin/env bash
# Runs the vector-index comparison (/work/shared/bench/ann, see its README.md) for Arbor and its
# peers on one machine, and merges the results into one markdown report.
#
#   scripts/bench-index.sh [all|peers|arbor|report]
#
# Environment (defaults in brackets):
#   ANN        the harness folder [/work/shared/bench/ann]
#   PY         python with numpy hnswlib usearch faiss-cpu [/var/tmp/venv-ann/bin/python]
#   DATA       gen_taxa.py output [/var/tmp/ann-data/taxa-450000]
#   WORK       indexes, logs and results [/var/tmp/ann-work]
#   ARBOR      the release CLI [$CARGO_TARGET_DIR/release/arbor]
#   M          graph degree(s), comma list [32]      EFS   ef sweep [64,256,1024,2048,4096,8192]
#   NQ         queries for recall and batch QPS [2000]   ST  queries timed on one thread [500]
#   LOCK       flock file that serialises heavy steps [/tmp/arbor-bench.lock]
#
# Data (once, ~10 min on 2 cores):  $PY $ANN/gen_taxa.py --n 450000 --out $DATA
# Build the CLI first:              cargo build --release -p arbor-cli
set -euo pipefail
ANN=${ANN:-/work/shared/bench/ann}
PY=${PY:-/var/tmp/venv-ann/bin/python}
DATA=${DATA:-/var/tmp/ann-data/taxa-450000}
WORK=${WORK:-/var/tmp/ann-work}
ARBOR=${ARBOR:-${CARGO_TARGET_DIR:-target}/release/arbor}
M=${M:-32}
EFS=${EFS:-64,256,1024,2048,4096,8192}
NQ=${NQ:-2000}
ST=${ST:-500}
LOCK=${LOCK:-/tmp/arbor-bench.lock}
RES=$WORK/res
mkdir -p "$RES"
common=(--data "$DATA" --M "$M" --efc 200 --nq "$NQ" --st-queries "$ST" --lock "$LOCK" --workdir "$WORK/idx")

peers() {
  "$PY" "$ANN/bench_peers.py" "${common[@]}" --peers hnswlib,usearch-f16,faiss-hnsw --ef "$EFS" --sweep-budget-s 150 \
    --exact faiss-flat,numpy,faiss-flat-1q,numpy-1q --out "$RES/peers.json" --md "$RES/peers.md"
}

arbor() {
  # HNSW: {threads} is 1 for the one-thread run and --batch-threads (2) for the batch run.
  "$PY" "$ANN/bench_peers.py" "${common[@]}" --peers none --exact none --ef "$EFS" --cmd-name arbor \
    --cmd-build "$ARBOR index build --vectors {vectors} --taxonomy {taxonomy_csv} --out {index} --m {M} --ef-construction {efc} --threads {threads}" \
    --cmd-query "$ARBOR index query {index} --vectors {queries} -k {k} --ef {ef} --out {out} --threads {threads}" \
    --out "$RES/arbor.json" --md "$RES/arbor.md"
  # Exact scans (GEMM over 64-query blocks), f32 and f16 storage, on exact-only indexes.
  for dt in f32 f16; do
    "$PY" "$ANN/bench_peers.py" "${common[@]}" --peers none --exact none --ef 0 --cmd-name "arbor-exact-$dt" \
      --cmd-build "$ARBOR index build --vectors {vectors} --taxonomy {taxonomy_csv} --out {index} --no-graph --dtype $dt" \
      --cmd-query "$ARBOR index query {index} --vectors {queries} -k {k} --exact --out {out} --threads {threads}" \
      --keep --out "$RES/arbor-exact-$dt.json" --md "$RES/arbor-exact-$dt.md"
  done
}

report() {
  "$PY" "$ANN/bench_peers.py" report "$RES"/peers.json "$RES"/arbor.json "$RES"/arbor-exact-f32.json \
    "$RES"/arbor-exact-f16.json > "$RES/report.md"
  echo "wrote $RES/report.md"
}

case "${1:-all}" in
  all) peers; arbor; report ;;
  peers) peers ;;
  arbor) arbor ;;
  report) report ;;
  *) echo "usage: $0 [all|peers|arbor|report]" >&2; exit 2 ;;
esac
