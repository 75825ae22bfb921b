#!/usr/bin/env bash
# On the GPU machine (which has nvcc, cmake, ninja, PyTorch, compute-sanitizer, but no MLIR):
# build the MLIR-free parts against PTX generated on the build machine (or take binaries built
# elsewhere with -DMINFER_ENABLE_COMPILER=OFF: PREBUILT=<dir> holding minfer-gpu-check,
# MinferCudaTests, MinferGpuScorerTests, minfer-bench), then, per STAGES:
#   check    GPU unit tests (runtime, numerics, GPU scorer) + minfer-gpu-check (every kernel vs
#            the CPU reference)
#   sweep    minfer-gpu-check --sweep: N {1,63,64,65,4097,131072}, D 64/128, bf16/f16, GQA on/off,
#            budgets at and beyond N (full causal coverage counted on the GPU)
#   sanitize compute-sanitizer memcheck (with device leak check)/synccheck/racecheck (SAN_TOOLS)
#            over the sweep without the CPU reference (N 131072 with H/Hkv 2/1, 2/2, bf16, to bound
#            the instrumented run time) and over the numerics + index unit tests
#   fallback minfer-bench at N <= 16K with 5 repetitions (the short-N fallback target is judged on
#            their medians; run it before bench, which then adds results-fallback.md)
#   bench    minfer-bench + ../shared/bench/dense_anchor.py in the same run, ratio table + plot,
#            and issue 6's targets checked on the run (the anchor alone takes ~4 min on an H100,
#            H32/8 at 1M included; minfer-bench ~2 min)
# Usage: PTX=<dir of .ptx> ANCHOR=<dense_anchor.py> OUT=<results dir> STAGES="check bench" bench/run_device.sh
set -uo pipefail
cd "$(dirname "$0")/.."
PTX=${PTX:?PTX dir}; OUT=${OUT:-/tmp/minfer-out}; STAGES=${STAGES:-"check sweep sanitize fallback bench"}
FILTER=${FILTER:-.}; SAN_TOOLS=${SAN_TOOLS:-"memcheck synccheck racecheck"}
mkdir -p "$OUT"
nvidia-smi --query-gpu=name,driver_version,clocks.sm,clocks.mem --format=csv,noheader | tee "$OUT/device.txt"
if [ -n "${PREBUILT:-}" ]; then
  B=$(cd "$PREBUILT" && pwd)
  GPU_CHECK=$B/minfer-gpu-check CUDA_TESTS=$B/MinferCudaTests SCORER_TESTS=$B/MinferGpuScorerTests
  BENCH=$B/minfer-bench
  export LD_LIBRARY_PATH="$B${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH}"
else
  cmake -S . -B build-gpu -G Ninja -DMINFER_ENABLE_COMPILER=OFF -DMINFER_PTX_DIR="$PTX" \
    -DCMAKE_BUILD_TYPE=Release > "$OUT/cmake.log" 2>&1 || { tail -30 "$OUT/cmake.log"; exit 1; }
  cmake --build build-gpu -j "$(nproc)" > "$OUT/build.log" 2>&1 || { grep -B2 -A12 -m3 error "$OUT/build.log"; exit 1; }
  GPU_CHECK=build-gpu/bin/minfer-gpu-check CUDA_TESTS=build-gpu/unittests/CUDA/MinferCudaTests
  SCORER_TESTS=build-gpu/unittests/Search/MinferGpuScorerTests BENCH=build-gpu/bin/minfer-bench
fi
export MINFER_PTX_DIR=$(cd "$PTX" && pwd)
for stage in $STAGES; do
  case $stage in
  check)
    for t in "$CUDA_TESTS" "$SCORER_TESTS"; do
      name=$(basename "$t")
      "$t" > "$OUT/$name.log" 2>&1
      echo "$name rc=$? $(grep -E '^\[  (PASSED|FAILED) ' "$OUT/$name.log" | tr '\n' ' ')"
      grep -E '^\[  FAILED|Failure|info ' "$OUT/$name.log" | head -20
    done
    "$GPU_CHECK" --lengths "${CHECK_LENGTHS:-100,4096,16421}" > "$OUT/gpu-check.log" 2>&1
    echo "gpu-check rc=$? $(tail -1 "$OUT/gpu-check.log")"; grep FAIL "$OUT/gpu-check.log" | head ;;
  sweep)
    "$GPU_CHECK" --sweep --lengths 1,63,64,65,4097 > "$OUT/sweep.log" 2>&1
    echo "sweep N<=4097 rc=$? $(tail -1 "$OUT/sweep.log")"
    "$GPU_CHECK" --sweep --lengths 131072 > "$OUT/sweep-131072.log" 2>&1
    echo "sweep N=131072 rc=$? $(tail -1 "$OUT/sweep-131072.log")"
    grep FAIL "$OUT"/sweep*.log | head -20 ;;
  sanitize)
    for tool in $SAN_TOOLS; do
      extra=""; [ "$tool" = memcheck ] && extra="--leak-check full" # device allocations freed too
      for args in "--lengths 1,63,64,65,4097" "--lengths 131072 --heads 2/1,2/2 --dtypes bf16"; do
        tag=$tool-$(echo "$args" | cut -d' ' -f2 | tr ',' '_')
        timeout "${SAN_TIMEOUT:-300}" compute-sanitizer --tool "$tool" $extra --error-exitcode 3 \
          "$GPU_CHECK" --sweep --no-reference $args > "$OUT/sanitizer-$tag.log" 2>&1
        echo "compute-sanitizer $tool [$args] rc=$? $(grep -E 'ERROR SUMMARY' "$OUT/sanitizer-$tag.log" | tail -1) $(grep -E 'configurations passed' "$OUT/sanitizer-$tag.log")"
      done
      # The caller-index vertical-slash path, empty rows, large magnitudes, GQA index kernels.
      timeout "${SAN_TIMEOUT:-300}" compute-sanitizer --tool "$tool" $extra --error-exitcode 3 \
        "$CUDA_TESTS" --gtest_filter='*Numerics*Generated*:CudaIndex*' > "$OUT/sanitizer-$tool-gtest.log" 2>&1
      echo "compute-sanitizer $tool [numerics+index gtests] rc=$? $(grep -E 'ERROR SUMMARY' "$OUT/sanitizer-$tool-gtest.log" | tail -1) $(grep -E '^\[  (PASSED|FAILED) ' "$OUT/sanitizer-$tool-gtest.log" | tr '\n' ' ')"
    done ;;
  fallback)
    # Short calls (0.1-4 ms) vary by up to 15 % between single means: medians of 5 repetitions.
    "$BENCH" --benchmark_filter='/n(4096|16384)/' --benchmark_repetitions=5 \
      --benchmark_report_aggregates_only=true --benchmark_format=json \
      --benchmark_out="$OUT/bench-fallback.json" --benchmark_out_format=json > "$OUT/bench-fallback.log" 2>&1
    echo "fallback bench rc=$?" ;;
  bench)
    "$BENCH" --benchmark_filter="$FILTER" --benchmark_format=json \
      --benchmark_out="$OUT/bench.json" --benchmark_out_format=json > "$OUT/bench.log" 2>&1
    echo "bench rc=$?"; tail -5 "$OUT/bench.log"
    for shape in "32 8" "4 4"; do
      set -- $shape
      LENS=${ANCHOR_LENS_H32-4096,16384,65536,131072,262144,524288} ; [ "$1" = 4 ] && LENS=${ANCHOR_LENS_H4-4096,16384,65536,131072,262144,524288,1048576}
      [ -n "$LENS" ] && LENS=$LENS H=$1 HKV=$2 D=128 REPS=3 python3 "${ANCHOR:?}" >> "$OUT/anchor.jsonl" 2>&1
    done
    # H32/8 at 1M: a cuDNN call takes ~19 s and a flash call ~30 s on an H100, so one timed
    # repetition after the warm-up (ANCHOR_LENS_H32_LONG= skips it).
    LONG=${ANCHOR_LENS_H32_LONG-1048576}
    [ -n "$LONG" ] && LENS=$LONG H=32 HKV=8 D=128 REPS=1 python3 "${ANCHOR:?}" >> "$OUT/anchor.jsonl" 2>&1
    FB=(); [ -s "$OUT/bench-fallback.json" ] &&
      FB=(--fallback-bench "$OUT/bench-fallback.json" --fallback "$OUT/results-fallback.md")
    python3 bench/report.py --bench "$OUT/bench.json" --anchor "$OUT/anchor.jsonl" \
      --table "$OUT/results.md" --plot "$OUT/time_vs_n.png" "${FB[@]}" | tail -80 ;;
  esac
done
