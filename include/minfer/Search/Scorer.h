//===- Scorer.h - how good a sparse pattern is on one head ------*- C++ -*-===//
//
// The search asks a Scorer two questions about a candidate pattern on the
// current head: what fraction of the causal work its *executed* mask keeps
// (density, for fitting candidates to the budget) and how faithful it is
// (density, recall of the dense attention mass on the evaluation rows, and
// relative L2 of the attention output against dense). The executed mask is
// the runtime's own sparse index (SparseIndex.h), built from the same
// estimation the runtime runs online, so the density is what the kernels
// will really execute.
//
// createCpuScorer() answers on the CPU with the fp32 reference (lib/Runtime).
// createGpuScorer() (GpuScorer.h, library MinferGpuScorer) answers with the
// CUDA runtime's index construction and kernels, for long heads; it plugs
// into searchLayer unchanged.
//
//===----------------------------------------------------------------------===//
#ifndef MINFER_SEARCH_SCORER_H
#define MINFER_SEARCH_SCORER_H

#include "minfer/Runtime/Pattern.h"
#include "minfer/Runtime/SparseIndex.h"
#include "minfer/Runtime/Status.h"
#include <cstdint>
#include <memory>
#include <vector>

namespace minfer::search {

/// One query head across the batch: q, k, v each [batch][seqLen][headDim]
/// (k, v of the kv head the query head reads).
struct HeadTensors {
  int64_t batch = 1, seqLen = 0, headDim = 0;
  float scale = 0; ///< softmax scale
  std::vector<float> q, k, v;
};

/// The scores of one candidate on one head, averaged over the batch.
struct CandidateEval {
  HeadPattern pattern;
  double density = 0; ///< executed (i, j) pairs / causal pairs N(N+1)/2
  double recall = 0;  ///< mean over evaluation rows of the kept dense mass
  double relL2 = 0;   ///< ||O_sparse - O_dense|| / ||O_dense||
};

struct ScorerOptions {
  int64_t lastRows = 64;   ///< evaluation rows: the last `lastRows` queries
  int64_t sampleRows = 64; ///< ... plus this many spread over the rest
  /// rel-L2 over every row (full dense and sparse attention) when N is at
  /// most this; above it, over the evaluation rows only. (The GPU scorer
  /// always takes every row.)
  int64_t fullOutputMaxLen = 8192;
  VsOptions vs;
};

class Scorer {
public:
  virtual ~Scorer() = default;
  virtual const char *name() const = 0;
  /// Makes `head` the current head (the scorer keeps a copy) and prepares its
  /// dense reference. Fails on inconsistent sizes or an unsupported head_dim.
  virtual Status setHead(const HeadTensors &head) = 0;
  /// Executed density of `p` on the current head (no attention computed).
  virtual Status density(const HeadPattern &p, double &out) = 0;
  /// Density, recall and rel-L2 of `p` on the current head.
  virtual Status evaluate(const HeadPattern &p, CandidateEval &out) = 0;
};

std::unique_ptr<Scorer> createCpuScorer(const ScorerOptions &opts = {});

/// The evaluation rows of a length-N head for these options: the last
/// min(lastRows, N) rows and up to sampleRows rows evenly spread over the
/// others, ascending and unique.
std::vector<int64_t> evaluationRows(int64_t seqLen, const ScorerOptions &opts);

/// Executed (i, j) pairs of head (b, h) of `index`: |{(i, j) : M[i][j]}| for
/// the executed mask of SparseIndex.h, in O(ranges + columns) per block.
/// Counts are clamped to the capacities, so a malformed index cannot read out
/// of bounds; returns -1 if (b, h) or the vector sizes are inconsistent.
int64_t countExecuted(const SparseIndex &index, int64_t b, int64_t h);

/// Causal (i, j) pairs of a length-N head: N (N + 1) / 2.
inline int64_t causalPairs(int64_t seqLen) {
  return seqLen * (seqLen + 1) / 2;
}

} // namespace minfer::search

#endif // MINFER_SEARCH_SCORER_H
