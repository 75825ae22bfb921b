//===- Jit.h - compile attention kernels in process, with a disk cache -*- C++ -*-===//
//
// minfer::jit turns a request (shape class, dtype, head dim, per-head
// patterns, chip) into PTX by running the real compiler in process: it builds
// a `minfer.sparse_attention` function for the request, runs
//   minfer-expand-sparse-attention -> minfer-outline-tile-kernels ->
//   minfer-to-ptx
// and returns the PTX of every kernel the expansion asked for. Results are
// cached on disk, keyed by a hash of the input IR, the pipeline and the chip
// (directory: JitOptions::cacheDir, else $MINFER_CACHE_DIR, else
// $XDG_CACHE_HOME/minfer or ~/.cache/minfer). Needs MLIR (not built on
// machines without it); the CUDA runtime consumes the PTX through
// Runtime::addKernelPtx.
//
//===----------------------------------------------------------------------===//
#ifndef MINFER_RUNTIME_JIT_H
#define MINFER_RUNTIME_JIT_H

#include "minfer/Kernel/TileConfig.h"
#include "minfer/Runtime/Pattern.h"
#include "minfer/Runtime/Status.h"
#include <string>
#include <vector>

namespace minfer::jit {

struct JitRequest {
  /// B and N stay dynamic. headDim: a multiple of 8 up to 128; the kernels
  /// are compiled for kernel::kernelHeadDim(headDim) (64, 96 or 128; the
  /// runtime pads the others).
  int64_t heads = 1, kvHeads = 1, headDim = 128;
  kernel::ElemType dtype = kernel::ElemType::BF16;
  kernel::Chip chip = kernel::Chip::SM80;
  LayerPatterns patterns; ///< one per query head
  float scale = 0.0f;     ///< 0: 1 / sqrt(headDim)
};

struct JitOptions {
  std::string cacheDir; ///< empty: environment / home default
  bool useCache = true;
};

struct CompiledKernel {
  kernel::TileConfig config;
  std::string ptx;
};

struct JitResult {
  std::vector<CompiledKernel> kernels;
  std::string inputIR;  ///< the minfer IR that was compiled
  std::string cacheKey; ///< hex hash of IR + pipeline + chip
  bool cacheHit = false;
  double compileMs = 0; ///< wall time of this call (pipeline or cache read)
};

/// The `minfer` IR for a request (what gets compiled).
Status buildRequestIR(const JitRequest &request, std::string &ir);

/// Compiles (or loads from the cache) the kernels of a request.
Status compile(const JitRequest &request, JitResult &result,
               const JitOptions &options = {});

/// The cache directory `options` resolves to.
std::string cacheDirectory(const JitOptions &options);

} // namespace minfer::jit

#endif // MINFER_RUNTIME_JIT_H
