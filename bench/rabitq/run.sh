#!/usr/bin/env bash
# The RaBitQ study (docs/bench/rabitq-study.md): builds the harness with clang (the kernels are
# compiled in from Sources/CKernels), computes the exact top-10 with numpy, then sweeps nprobe and
# the re-rank depth on the real-question set and the 1M synthetic set that `make bench-ivf` made.
#
#   bench/rabitq/run.sh [BENCH_DATA_DIR] [OUT_DIR]
# BENCH_DATA_DIR defaults to .build/bench-data (needs ivf-real/*.npy, ivf/synthetic-*.npy and the
# IVF sq8 indexes bench-ivfsq8-22344.ragx and bench-ivfsq8-1000000.ragx); OUT_DIR to .build/rabitq.
set -euo pipefail
cd "$(dirname "$0")/../.."
data=${1:-.build/bench-data}
out=${2:-.build/rabitq}
mkdir -p "$out"
clang -O3 -Wall -o "$out/rabitq_study" bench/rabitq/rabitq_study.c -ISources/CKernels/include -lm
real=$data/ivf-real
[ -f "$out/real-truth.i32" ] || python3 bench/rabitq/truth.py "$real/base.npy" "$real/sentences.npy,$real/claims.npy" "$out/real-truth.i32"
[ -f "$out/m1-truth.i32" ] || python3 bench/rabitq/truth.py "$data/ivf/synthetic-base.npy" "$data/ivf/synthetic-queries.npy" "$out/m1-truth.i32"
# The truth file holds the sentences' rows (1,000) then the claims' (1,109); the harness takes a
# query file, the truth file and the first row's index in it.
echo "== real questions: 1,000 sentences"
"$out/rabitq_study" "$data/ivf/bench-ivfsq8-22344.ragx" "$real/base.npy" "$real/sentences.npy" "$out/real-truth.i32" 0 0 1000 \
    32,48,64,96 19,50,100 3
echo "== real questions: 1,109 claims"
"$out/rabitq_study" "$data/ivf/bench-ivfsq8-22344.ragx" "$real/base.npy" "$real/claims.npy" "$out/real-truth.i32" 1000 0 1109 \
    32,48,64,96 19,50,100 3
echo "== 1M synthetic"
"$out/rabitq_study" "$data/ivf/bench-ivfsq8-1000000.ragx" "$data/ivf/synthetic-base.npy" "$data/ivf/synthetic-queries.npy" \
    "$out/m1-truth.i32" 0 0 1000 64,96,128 19,100,200 3
