#!/usr/bin/env bash
# The main demo on a fresh Debian 12 machine: installs what is missing, builds, compiles the example
# IR through the whole minfer pipeline to PTX, then runs examples/jit_attention (JIT-compiles the
# kernels in process, runs every pattern on the GPU and checks it against the CPU reference; without
# a GPU it runs the fp32 CPU reference path on a small input and says so).
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/deps.sh
minfer_install_deps
cmake -S . -B build -G Ninja -DMLIR_DIR=/usr/lib/llvm-22/lib/cmake/mlir > /dev/null
cmake --build build --target minfer-opt jit_attention
out=build/demo
rm -rf "$out/ptx" && mkdir -p "$out/ptx"  # only this run's kernels
for f in examples/*.mlir; do
  echo "== $f: minfer-expand-sparse-attention"
  build/bin/minfer-opt "$f" --minfer-expand-sparse-attention | grep -oE "minfer\.[a-z_]+" | sort | uniq -c
  echo "== $f: -> minfer-outline-tile-kernels -> minfer-to-ptx -> $out/ptx"
  build/bin/minfer-opt "$f" --pass-pipeline="builtin.module(func.func(minfer-expand-sparse-attention),minfer-outline-tile-kernels{chip=sm_90a},minfer-to-ptx{chip=sm_90a},minfer-dump-ptx{dir=$out/ptx})" > /dev/null
done
for p in "$out"/ptx/*.ptx; do
  printf '%s: %s wgmma.mma_async, %s ldmatrix, %s cp.async\n' "$(basename "$p")" \
    "$(grep -c wgmma.mma_async "$p")" "$(grep -c ldmatrix "$p")" "$(grep -c cp.async "$p")"
  if [ -x /usr/local/cuda/bin/ptxas ]; then
    /usr/local/cuda/bin/ptxas -arch=sm_90a -v "$p" -o /dev/null 2>&1 | grep -E "registers" | sed 's/^/    ptxas: /'
  fi
done
echo "== examples/jit_attention"
build/bin/jit_attention
