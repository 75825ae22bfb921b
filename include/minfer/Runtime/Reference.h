//===- Reference.h - fp32 CPU reference of every pattern --------*- C++ -*-===//
//
// The ground truth every kernel is checked against: plain loops in fp32 (fp64
// accumulation where it is cheap), no MLIR, no CUDA. Tensors are row-major
// float vectors: q/out [B, H, N, D], k/v [B, Hkv, N, D]; query head h reads
// kv head h / (H / Hkv). All functions validate their arguments and return a
// Status instead of asserting.
//
//===----------------------------------------------------------------------===//
#ifndef MINFER_RUNTIME_REFERENCE_H
#define MINFER_RUNTIME_REFERENCE_H

#include "minfer/Runtime/Pattern.h"
#include "minfer/Runtime/SparseIndex.h"
#include "minfer/Runtime/Status.h"
#include <cstdint>
#include <vector>
#include <utility>

namespace minfer {

struct AttentionShape {
  int64_t batch = 1, heads = 1, kvHeads = 1, seqLen = 1, headDim = 64;
  int64_t qElems() const { return batch * heads * seqLen * headDim; }
  int64_t kvElems() const { return batch * kvHeads * seqLen * headDim; }
  int64_t kvHeadOf(int64_t h) const { return h / (heads / kvHeads); }
  /// Positive sizes, heads % kvHeads == 0, headDim a multiple of 8 up to
  /// 128 (kernel::isSupportedHeadDim).
  Status validate() const;
};

/// Unsupported unless kernel::isSupportedHeadDim(headDim), the message
/// prefixed with `who` (e.g. "jit: "). The one head-dim check of the
/// reference, the runtime and the JIT.
Status checkHeadDim(int64_t headDim, const std::string &who = "");

namespace ref {

/// Causal dense attention, out = softmax(scale q k^T + causal) v.
Status denseAttention(const AttentionShape &s, const std::vector<float> &q,
                      const std::vector<float> &k, const std::vector<float> &v,
                      float scale, std::vector<float> &out);

/// Attention restricted to the executed mask of `index` (SparseIndex.h).
/// A row whose mask is empty gets zeros.
Status indexedAttention(const AttentionShape &s, const std::vector<float> &q,
                        const std::vector<float> &k,
                        const std::vector<float> &v, float scale,
                        const SparseIndex &index, std::vector<float> &out);

/// Vertical-slash estimation of one (b, h): softmax of the last `lastQ`
/// queries (clamped to N) against all keys, causal; vertical[j] = column sum,
/// slash[o] = sum on diagonal offset o = i - j. Both of size N.
Status vsEstimate(const AttentionShape &s, const std::vector<float> &q,
                  const std::vector<float> &k, int64_t b, int64_t h,
                  int64_t lastQ, float scale, std::vector<float> &vertical,
                  std::vector<float> &slash);

/// Top-k indices of `scores` (k clamped to size), entries below `forced`
/// scored +inf, ties to the lower index; returned sorted ascending.
std::vector<int32_t> topK(const std::vector<float> &scores, int64_t k,
                          int64_t forced);

/// Block-sparse estimation of one (b, h): NB x NB pooled scores, -inf above
/// the block diagonal; partial last blocks are averaged over their tokens.
Status bsEstimate(const AttentionShape &s, const std::vector<float> &q,
                  const std::vector<float> &k, int64_t b, int64_t h,
                  float scale, std::vector<float> &blockScores);

/// Index rows of one (b, h) for each pattern; `index` must be sized already
/// (SparseIndex::resize) with enough ranges/columns (see requiredCapacity).
Status fillDenseIndex(SparseIndex &index, int64_t b, int64_t h);
Status fillAShapeIndex(SparseIndex &index, int64_t b, int64_t h, int64_t sink,
                       int64_t local);
Status fillBsIndex(SparseIndex &index, int64_t b, int64_t h,
                   const std::vector<float> &blockScores, int64_t topK);
/// From selected verticals (columns) and slashes (diagonal offsets).
Status fillVsIndex(SparseIndex &index, int64_t b, int64_t h,
                   const std::vector<int32_t> &verticals,
                   const std::vector<int32_t> &slashOffsets);

/// (maxRanges, maxColumns) an index needs for these patterns at length N:
/// the max over heads of dense (1, 0); a_shape (2, 0), or (1, 0) when sink
/// and window never separate; block_sparse (min(k, ceil(NB / 2)), 0);
/// vertical_slash (max over blocks m of min(S_eff, e_m, 1 + (e_m - 1) /
/// (L_m + 1)), V_eff) with L_m = e_m - s_m and budgets from
/// vsEffectiveBudgets (derivation in ReferenceIndex.cpp). Note that a short
/// last block can need more than NB + 1 vertical-slash ranges.
std::pair<int64_t, int64_t> requiredCapacity(const LayerPatterns &patterns,
                                             int64_t seqLen,
                                             const VsOptions &opts = {});

/// The whole online pipeline on the CPU: estimation, index, execution, one
/// pattern per query head. `indexOut` (optional) receives the index.
Status sparseAttention(const AttentionShape &s, const std::vector<float> &q,
                       const std::vector<float> &k,
                       const std::vector<float> &v, float scale,
                       const LayerPatterns &patterns, std::vector<float> &out,
                       SparseIndex *indexOut = nullptr,
                       const VsOptions &opts = {});

/// Largest N maskFromIndex expands (N x N bytes = 1 GiB).
inline constexpr int64_t kMaxMaskSeqLen = 32768;

/// The executed mask of one (b, h) from an index: N x N, row-major.
/// Empty when (b, h) or the index's sizes are invalid or N > kMaxMaskSeqLen.
std::vector<uint8_t> maskFromIndex(const SparseIndex &index, int64_t b,
                                   int64_t h);

//===----------------------------------------------------------------------===//
// Additions (checks and pipeline pieces shared with the CUDA runtime's tests).
//===----------------------------------------------------------------------===//

/// Shape valid, scale finite, q/k/v sizes equal qElems/kvElems/kvElems.
Status checkAttentionInputs(const AttentionShape &s, const std::vector<float> &q,
                            const std::vector<float> &k,
                            const std::vector<float> &v, float scale);

/// Every invariant of SparseIndex.h: vector sizes match resize(), counts in
/// [0, maxRanges] / [0, maxColumns], ranges sorted, disjoint, non-adjacent,
/// 0 <= start < end <= e_m, columns sorted, unique, < e_m, in no range.
Status validateIndex(const SparseIndex &index);

/// Effective vertical-slash budgets at length N:
/// (min(max(V, forcedVertical), N), min(max(S, forcedSlash), N)).
std::pair<int64_t, int64_t> vsEffectiveBudgets(const HeadPattern &p,
                                               int64_t seqLen,
                                               const VsOptions &opts = {});

/// Estimation + index construction of sparseAttention without the attention:
/// resizes `index` to [B, H, NB] with requiredCapacity(patterns) and fills it.
Status buildIndex(const AttentionShape &s, const std::vector<float> &q,
                  const std::vector<float> &k, float scale,
                  const LayerPatterns &patterns, SparseIndex &index,
                  const VsOptions &opts = {});

/// Conversions used by tests and the runtime's host side.
uint16_t floatToBf16(float f); ///< round to nearest even
float bf16ToFloat(uint16_t h);
uint16_t floatToF16(float f);
float f16ToFloat(uint16_t h);

} // namespace ref
} // namespace minfer

#endif // MINFER_RUNTIME_REFERENCE_H
