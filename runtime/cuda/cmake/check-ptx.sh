#!/usr/bin/env bash
# check-ptx.sh <ptxas> <ptx dir>: assembles every PTX file of the runtime's
# nvcc-built kernels (index construction and test kernels) as the driver's
# JIT will: compute_80 files for sm_80 and sm_90, `.target sm_90a` files
# (wgmma) for sm_90a. Fails on the first ptxas error (e.g. an instruction the
# target lacks).
set -euo pipefail
ptxas=$1
dir=$2
shopt -s nullglob
files=("$dir"/*.ptx)
if [ ${#files[@]} -eq 0 ]; then
  echo "no PTX in $dir" >&2
  exit 1
fi
for f in "${files[@]}"; do
  archs="sm_80 sm_90"
  if grep -q '^\.target sm_90a' "$f"; then
    archs=sm_90a
  fi
  for arch in $archs; do
    "$ptxas" -arch=$arch -O3 "$f" -o /dev/null
    echo "ok $arch $(basename "$f")"
  done
done
