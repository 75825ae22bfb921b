#!/usr/bin/env bash
# Runs every test on a fresh Debian 12 machine: installs what is missing (apt), configures, builds,
# then runs ctest, which includes the lit suite, the ptxas checks of every generated kernel, the
# GoogleTests (GPU ones skip without a device) and the fixed-seed fuzz batch; then the MLIR-free part
# (runtime, search, their tests) again under ASan/LSan/UBSan, so error paths are checked for leaks.
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/deps.sh
minfer_install_deps
cmake -S . -B build -G Ninja -DMLIR_DIR=/usr/lib/llvm-22/lib/cmake/mlir
cmake --build build
ctest --test-dir build --output-on-failure -j "$(nproc)"
cmake -S . -B build-asan -G Ninja -DMINFER_ENABLE_COMPILER=OFF -DCMAKE_BUILD_TYPE=Debug \
  -DMINFER_SANITIZE=address,undefined
cmake --build build-asan
ctest --test-dir build-asan --output-on-failure -j "$(nproc)"
