#!/usr/bin/env bash
# check-ptx.sh <ptxas> <ptx dir>: assembles every PTX file of the runtime's
# nvcc-built kernels (index construction and test kernels, compute_80) for
# sm_80 and sm_90, as the driver's JIT will on those GPUs. Fails on the
# first ptxas error (e.g. an instruction the target lacks).
set -euo pipefail
ptxas=$1
dir=$2
shopt -s nullglob
files=("$dir"/*.ptx)
if [ ${#files[@]} -eq 0 ]; then
  echo "no PTX in $dir" >&2
  exit 1
fi
for arch in sm_80 sm_90; do
  for f in "${files[@]}"; do
    "$ptxas" -arch=$arch -O3 "$f" -o /dev/null
    echo "ok $arch $(basename "$f")"
  done
done
