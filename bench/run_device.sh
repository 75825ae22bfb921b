#!/usr/bin/env bash
# On the GPU machine (which has nvcc, cmake, ninja, PyTorch, compute-sanitizer, but no MLIR):
# build the MLIR-free parts against PTX generated on the build machine, then, per STAGES:
#   check   GPU unit tests + minfer-gpu-check (every kernel vs the CPU reference)
#   sanitize compute-sanitizer memcheck/racecheck/synccheck over the check program (small N)
#   bench   minfer-bench + ../shared/bench/dense_anchor.py in the same run, ratio table + plot
# Usage: PTX=<dir of .ptx> ANCHOR=<dense_anchor.py> OUT=<results dir> STAGES="check bench" bench/run_device.sh
set -uo pipefail
cd "$(dirname "$0")/.."
PTX=${PTX:?PTX dir}; OUT=${OUT:-/tmp/minfer-out}; STAGES=${STAGES:-"check sanitize bench"}
FILTER=${FILTER:-.}
mkdir -p "$OUT"
nvidia-smi --query-gpu=name,driver_version,clocks.sm,clocks.mem --format=csv,noheader | tee "$OUT/device.txt"
cmake -S . -B build-gpu -G Ninja -DMINFER_ENABLE_COMPILER=OFF -DMINFER_PTX_DIR="$PTX" \
  -DCMAKE_BUILD_TYPE=Release > "$OUT/cmake.log" 2>&1 || { tail -30 "$OUT/cmake.log"; exit 1; }
cmake --build build-gpu -j "$(nproc)" > "$OUT/build.log" 2>&1 || { grep -B2 -A12 -m3 error "$OUT/build.log"; exit 1; }
export MINFER_PTX_DIR="$PTX"
for stage in $STAGES; do
  case $stage in
  check)
    (cd build-gpu && ctest -R "Cuda|cuda" --output-on-failure -j 4) > "$OUT/gpu-tests.log" 2>&1
    echo "gpu tests rc=$?"; grep -E "tests passed|Failed|FAILED" "$OUT/gpu-tests.log" | head -20
    build-gpu/bin/minfer-gpu-check 2>&1 | tee "$OUT/gpu-check.log" | tail -60 ;;
  sanitize)
    for tool in memcheck racecheck synccheck; do
      compute-sanitizer --tool $tool --error-exitcode 3 build-gpu/bin/minfer-gpu-check --quick \
        > "$OUT/sanitizer-$tool.log" 2>&1
      echo "compute-sanitizer $tool rc=$? $(grep -E 'ERROR SUMMARY' "$OUT/sanitizer-$tool.log" | tail -1)"
    done ;;
  bench)
    build-gpu/bin/minfer-bench --benchmark_filter="$FILTER" --benchmark_format=json \
      --benchmark_out="$OUT/bench.json" --benchmark_out_format=json > "$OUT/bench.log" 2>&1
    echo "bench rc=$?"; tail -5 "$OUT/bench.log"
    for shape in "32 8" "4 4"; do
      set -- $shape
      LENS=${ANCHOR_LENS_H32:-4096,16384,65536,131072} ; [ "$1" = 4 ] && LENS=${ANCHOR_LENS_H4:-4096,16384,65536,131072,262144,524288,1048576}
      LENS=$LENS H=$1 HKV=$2 D=128 REPS=3 python3 "${ANCHOR:?}" >> "$OUT/anchor.jsonl" 2>&1
    done
    python3 bench/report.py --bench "$OUT/bench.json" --anchor "$OUT/anchor.jsonl" \
      --table "$OUT/results.md" --plot "$OUT/time_vs_n.png" | tail -80 ;;
  esac
done
