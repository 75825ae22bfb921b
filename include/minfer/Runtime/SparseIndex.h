//===- SparseIndex.h - the sparse index contract ----------------*- C++ -*-===//
//
// The index that estimation produces and the tile kernels consume, on the CPU
// (reference) and on the GPU (runtime/cuda) alike. All int32, row-major:
//
//   range_count  [B][H][NB]              number of key ranges of query block m
//   ranges       [B][H][NB][R][2]        [start, end) token ranges
//   column_count [B][H][NB]              number of gathered columns
//   column_index [B][H][NB][C]           gathered key columns
//
// with NB = ceil(N / 64), R = maxRanges, C = maxColumns. For query block m,
// rows [s_m, e_m) with s_m = 64 m and e_m = min(N, s_m + 64):
//   - ranges are sorted by start, disjoint and non-adjacent (merged), with
//     0 <= start < end <= e_m;
//   - columns are sorted ascending, unique, < e_m, and inside no range.
// The executed mask is M[i][j] = (j <= i) && (j in a range or column of
// block(i)); the kernels never count a key twice.
//
// Pattern semantics (closed forms the tests check the index against):
//   dense          one range [0, e_m)
//   a_shape(S, L)  [0, min(S, e_m)) united with [max(0, s_m - L + 1), e_m)
//   block_sparse   the top min(k, m + 1) pooled blocks b <= m, each
//                  [64 b, min(64 b + 64, e_m)); ties go to the lower block
//   vertical_slash with selected verticals V and slash offsets O:
//                  ranges = union over o in O, o < e_m, of
//                  [max(s_m - o, 0), e_m - o); columns = V below e_m minus
//                  the ranges. Selection: top-k of the estimated scores,
//                  budgets clamped to N, the first `forced_vertical` columns
//                  and the `forced_slash` smallest offsets scored +inf; ties
//                  go to the lower index.
//
//===----------------------------------------------------------------------===//
#ifndef MINFER_RUNTIME_SPARSEINDEX_H
#define MINFER_RUNTIME_SPARSEINDEX_H

#include "minfer/Kernel/TileConfig.h"
#include <cstdint>
#include <vector>

namespace minfer {

inline int64_t numQueryBlocks(int64_t seqLen) {
  return (seqLen + kernel::kBlockM - 1) / kernel::kBlockM;
}

/// Host-side sparse index for B x H heads (see file comment for layout).
struct SparseIndex {
  int64_t batch = 0, heads = 0, seqLen = 0;
  int64_t maxRanges = 0, maxColumns = 0;
  std::vector<int32_t> rangeCount, ranges, columnCount, columnIndex;

  int64_t numBlocks() const { return numQueryBlocks(seqLen); }
  void resize(int64_t b, int64_t h, int64_t n, int64_t r, int64_t c) {
    batch = b, heads = h, seqLen = n, maxRanges = r, maxColumns = c;
    int64_t rows = b * h * numBlocks();
    rangeCount.assign(rows, 0);
    ranges.assign(rows * r * 2, 0);
    columnCount.assign(rows, 0);
    columnIndex.assign(rows * (c > 0 ? c : 0), 0);
  }
  /// Flat row of (batch, head, query block).
  int64_t row(int64_t b, int64_t h, int64_t m) const {
    return (b * heads + h) * numBlocks() + m;
  }
};

} // namespace minfer

#endif // MINFER_RUNTIME_SPARSEINDEX_H
