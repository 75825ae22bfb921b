//===- Plan.h - host-side planning of one attention call --------*- C++ -*-===//
//
// Everything decided before the device is touched: argument checks, which
// attention kernel runs, the index capacity (ref::requiredCapacity), the
// estimation geometry, how heads are grouped into chunks so that one chunk's
// index + scratch fits the workspace budget, the chunk's workspace layout,
// and its IndexParams head table. Pure host code: unit-tested without a GPU.
//
//===----------------------------------------------------------------------===//
#ifndef MINFER_RUNTIME_CUDA_PLAN_H
#define MINFER_RUNTIME_CUDA_PLAN_H

#include "kernels/IndexParams.h"
#include "minfer/Runtime/CudaRuntime.h"

#include <vector>

namespace minfer::cuda {

/// Byte offsets of one chunk's buffers in the workspace (256-aligned).
struct ChunkLayout {
  int64_t rangeCount = 0, ranges = 0, columnCount = 0, columnIndex = 0;
  int64_t vsScores = 0, vsCounts = 0, vsPartial = 0, vsRowStats = 0;
  int64_t vsSelected = 0, topkState = 0, topkHist = 0, topkChunks = 0;
  int64_t vsBlockCounts = 0, vsRunOf = 0, vsRunOff = 0;
  int64_t bsPooledQ = 0, bsPooledK = 0, bsScores = 0;
  int64_t errorWord = 0, keptCounter = 0, tileSharing = 0;
  int64_t tensorMaps = 0; ///< the paired kernel's K/V tensor maps
  int64_t total = 0;
};

/// Query heads [h0, h0 + heads) of batch entry b.
struct Chunk {
  int64_t b = 0, h0 = 0, heads = 0;
  int64_t kvHead0 = 0, kvHeads = 0; ///< kv heads the chunk's kernel sees
  int64_t vsCount = 0, bsCount = 0, kvSlots = 0;
};

struct CallPlan {
  int64_t B = 0, H = 0, Hkv = 0, N = 0, D = 0, NB = 0, group = 1;
  kernel::KernelKind kind = kernel::KernelKind::Dense;
  bool external = false; ///< vertical-slash with caller-given indices
  int64_t nnzV = 0, nnzS = 0;
  int64_t maxRanges = 0, maxColumns = 0;
  int64_t headsPerChunk = 0;
  // Vertical-slash estimation.
  int64_t lqPad = 0, keyTile = 0, numKeyTiles = 0, diagLen = 0;
  bool flushPerChunk = false;
  int64_t accumSmem = 0, statsSmem = 0;
  // Selections (vertical-slash top-k or caller indices).
  int64_t selCap = 0, numTopkChunks = 0;
  // Block-sparse.
  int64_t nPad = 0, nbPad = 0, bandRows = 0;
  bool bsRowInSmem = false;
  int64_t bsSelectSmem = 0;
  /// minfer_index_build stages a block's ranges in shared memory when
  /// maxRanges * 8 bytes fit (buildSmem > 0).
  int64_t buildSmem = 0;
  ChunkLayout layout; ///< sized for the largest chunk
  std::vector<Chunk> chunks;
};

struct PlanRequest {
  const AttentionTensors *tensors = nullptr;
  const LayerPatterns *patterns = nullptr;
  VsOptions vs;
  int64_t budget = 0;         ///< workspace bytes per chunk
  int64_t smemOptin = 232448; ///< the device's opt-in shared memory
  bool external = false;
  int64_t nnzV = 0, nnzS = 0;
};

/// Argument checks shared by Runtime::validate and the C API (no device).
Status validateTensors(const AttentionTensors &t);
Status validatePatterns(const AttentionTensors &t, const LayerPatterns &patterns,
                        const VsOptions &vs);

/// Geometry, capacity, chunks and layout. Expects validated arguments.
Status makePlan(const PlanRequest &req, CallPlan *plan);

/// The attention kernel for a layer: vs if any head is vertical-slash, else
/// block if any is not dense, else dense.
kernel::KernelKind kernelKindFor(const LayerPatterns &patterns);

/// Causal query-key pairs of `heads` (batch entry, head) pairs of n tokens.
inline double causalPairs(int64_t heads, int64_t n) {
  return double(heads) * double(n) * double(n + 1) / 2;
}

/// Upper bound of the fraction of causal query-key pairs `patterns` keep at
/// length N, from the budgets alone: a row keeps at most
/// min(i + 1, c) keys, c = 64 S + V (vertical-slash, effective budgets),
/// 64 k (block-sparse), sink + local + 64 (A-shape), N (dense).
double densityUpperBound(const LayerPatterns &patterns, int64_t seqLen,
                         const VsOptions &vs);

/// Chunk sizes the kernels' head -> kv-head mapping allows for H / Hkv =
/// group: divisors of group and multiples of group up to `heads`, capped at
/// kernels::kMaxChunkHeads; ascending.
std::vector<int64_t> chunkSizeCandidates(int64_t heads, int64_t group);

/// Fills the scalar fields and head table of `params` for `chunk` (device
/// pointers are the caller's).
void fillChunkParams(const CallPlan &plan, const LayerPatterns &patterns,
                     const VsOptions &vs, const Chunk &chunk,
                     kernels::IndexParams *params);

} // namespace minfer::cuda

#endif // MINFER_RUNTIME_CUDA_PLAN_H
