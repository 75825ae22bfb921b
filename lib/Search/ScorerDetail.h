//===- ScorerDetail.h - helpers shared by the Scorer backends ---*- C++ -*-===//
//
// Internal to the scorers (lib/Search/CpuScorer.cpp and
// runtime/cuda/search/GpuScorer.cpp), so both answer the same questions the
// same way: the head checks of setHead, the dense softmax of one evaluation
// row (recall's reference), and the executed keys of a query row read off a
// SparseIndex.
//
//===----------------------------------------------------------------------===//
#ifndef MINFER_LIB_SEARCH_SCORERDETAIL_H
#define MINFER_LIB_SEARCH_SCORERDETAIL_H

#include "minfer/Search/Scorer.h"
#include <algorithm>
#include <cstdint>
#include <vector>

namespace minfer::search::detail {

/// Sizes consistent (q, k, v each batch * N * D), batch and scale positive,
/// N and D valid for the runtime (D a multiple of 8 up to 128, else
/// Unsupported).
Status checkHead(const HeadTensors &head);
/// InvalidArgument unless a setHead() succeeded (`ready`).
Status checkReady(bool ready);

/// P[j], j <= i: the dense causal softmax of query row i over keys `k`
/// ([N][D] of one batch entry), scale * q_i . k_j accumulated in fp32 and
/// normalized in fp64. `b` only names the batch entry in the error returned
/// when a score is not finite.
Status denseSoftmaxRow(const float *qi, const float *k, int64_t i, int64_t D,
                       float scale, int64_t b, std::vector<float> &P);

/// The ranges and columns of one (batch, head, query block) of an index,
/// counts clamped to the capacities.
struct IndexRow {
  const int32_t *ranges = nullptr, *columns = nullptr;
  int64_t numRanges = 0, numColumns = 0;
};

inline IndexRow indexRow(const SparseIndex &x, int64_t b, int64_t h,
                         int64_t m) {
  int64_t row = x.row(b, h, m);
  IndexRow r;
  r.ranges = x.ranges.data() + row * x.maxRanges * 2;
  r.columns = x.columnIndex.data() + row * x.maxColumns;
  r.numRanges = std::clamp<int64_t>(x.rangeCount[row], 0, x.maxRanges);
  r.numColumns = std::clamp<int64_t>(x.columnCount[row], 0, x.maxColumns);
  return r;
}

/// Calls f(j) for every executed key j of query row i (causal).
template <typename F>
void forEachKept(const IndexRow &r, int64_t i, F f) {
  for (int64_t t = 0; t < r.numRanges; ++t) {
    int64_t a = std::max<int64_t>(r.ranges[2 * t], 0);
    int64_t e = std::min<int64_t>(r.ranges[2 * t + 1], i + 1);
    for (int64_t j = a; j < e; ++j)
      f(j);
  }
  for (int64_t c = 0; c < r.numColumns; ++c)
    if (r.columns[c] >= 0 && r.columns[c] <= i)
      f(r.columns[c]);
}

} // namespace minfer::search::detail

#endif // MINFER_LIB_SEARCH_SCORERDETAIL_H
