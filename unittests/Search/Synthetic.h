//===- Synthetic.h - heads with a known sparse structure --------*- C++ -*-===//
//
// q/k/v generators for the search tests. Each head's q and k are built so its
// attention has one dominant structure:
//   SinkLocal      the first 4 keys plus a short window before the query
//                  (low-frequency rotary features + a sink feature);
//   VerticalSlash  a few heavy key columns far from the start, plus diagonal
//                  bands at fixed offsets far from the main diagonal (random
//                  position codes: q_i carries code(i - o), k_j code(j));
//   BlockCluster   64-token blocks assigned to clusters, q and k of a block
//                  near their cluster's centre, so same-cluster 64x64 blocks
//                  dominate.
//
//===----------------------------------------------------------------------===//
#ifndef MINFER_UNITTESTS_SEARCH_SYNTHETIC_H
#define MINFER_UNITTESTS_SEARCH_SYNTHETIC_H

#include <cstdint>
#include <vector>

namespace minfer::search::test {

enum class HeadKind { SinkLocal, VerticalSlash, BlockCluster };

/// Fills q[n][d], k[n][d], v[n][d] (each seqLen * headDim) for one head.
void makeHead(HeadKind kind, int64_t seqLen, int64_t headDim, uint64_t seed,
              std::vector<float> &q, std::vector<float> &k,
              std::vector<float> &v);

/// A layer [1, H, N, D] with H = kinds.size() and Hkv = H: head h of kind
/// kinds[h].
void makeLayer(const std::vector<HeadKind> &kinds, int64_t seqLen,
               int64_t headDim, uint64_t seed, std::vector<float> &q,
               std::vector<float> &k, std::vector<float> &v);

/// Heavy columns and band offsets of the VerticalSlash head.
std::vector<int64_t> verticalColumns(int64_t seqLen);
std::vector<int64_t> slashOffsets(int64_t seqLen);

} // namespace minfer::search::test

#endif // MINFER_UNITTESTS_SEARCH_SYNTHETIC_H
