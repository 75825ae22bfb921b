//===- Search.h - offline per-head pattern search ---------------*- C++ -*-===//
//
// MInference's offline, kernel-aware search (search_pattern in
// minference/modules/minference_forward.py), made budget-explicit: for every
// head, candidates of about equal cost -- each one's executed density (the
// fraction of the N (N + 1) / 2 causal pairs its sparse index really runs,
// measured by the Scorer) as large as possible but at most `budget` -- are
//
//   a_shape(sink, local)        for each sink in `sinks`, the largest local;
//   vertical_slash(V, S)        for each V from `verticalShares` (the share
//                               of the budget spent on vertical columns,
//                               each costing ~N/2 pairs), the largest S;
//   block_sparse(top_k)         the largest top_k;
//
// then scored (recall of the dense attention mass on the last rows plus a
// row sample, relative L2 of the output against dense), and the best one
// is kept. MInference keeps the highest recall; ties (within
// `tieTolerance`) go to the pattern with the cheaper online step: a_shape
// (none), then block_sparse, then vertical_slash, as MInference's stream_llm
// wins its ties by being tried first.
//
// Measuring the executed index matters: the kernels run a slash offset o as
// a 64-wide key range per query block, so an isolated slash costs ~64 keys
// per row, not 1, and an a_shape window is block-granular.
//
//===----------------------------------------------------------------------===//
#ifndef MINFER_SEARCH_SEARCH_H
#define MINFER_SEARCH_SEARCH_H

#include "minfer/Runtime/Pattern.h"
#include "minfer/Search/Scorer.h"
#include <functional>
#include <string>
#include <vector>

namespace minfer {
struct ModelConfig;
}

namespace minfer::search {

enum class Metric { Recall, RelL2 };

struct SearchOptions {
  double budget = 0.1; ///< kept fraction of the causal work, in (0, 1]
  std::vector<int64_t> sinks = {16, 64, 128};
  std::vector<double> verticalShares = {0.0, 0.1, 0.3, 0.6};
  bool aShape = true, verticalSlash = true, blockSparse = true;
  Metric metric = Metric::Recall; ///< recall (higher) or rel-L2 (lower)
  double tieTolerance = 0.005;    ///< in units of the metric
  int64_t lastQ = 64; ///< vertical-slash estimation rows (config needs 64)
  ScorerOptions scorer;
  Status validate() const;
};

/// The outcome for one head.
struct HeadResult {
  int64_t layer = 0, head = 0;
  CandidateEval best;
  std::vector<CandidateEval> candidates; ///< every candidate evaluated
};

/// Candidates for the current head of `scorer`, fitted to the budget
/// (see the file comment). Empty when no pattern fits the budget.
Status makeCandidates(Scorer &scorer, int64_t seqLen,
                      const SearchOptions &opts,
                      std::vector<HeadPattern> &out);

/// Index of the winner among `evals` under opts.metric / tieTolerance.
size_t pickBest(const std::vector<CandidateEval> &evals,
                const SearchOptions &opts);

/// Searches the current head of `scorer` (setHead done by the caller).
Status searchHead(Scorer &scorer, int64_t seqLen, const SearchOptions &opts,
                  HeadResult &out);

/// One layer's activations: q [B, H, N, D], k and v [B, Hkv, N, D], fp32.
struct LayerTensors {
  std::vector<int64_t> qShape, kShape, vShape;
  const std::vector<float> *q = nullptr, *k = nullptr, *v = nullptr;
};

/// Shapes rank 4, batch / N / D equal, H a multiple of Hkv, v like k,
/// sizes matching; `what` prefixes the message (e.g. "layer 3").
Status checkLayerShapes(const LayerTensors &t, const std::string &what);

/// Called after each head: (layer, head, heads in the layer).
using ProgressFn = std::function<void(const HeadResult &, int64_t heads)>;

/// Searches every head of one layer; the scale defaults (scale <= 0) to
/// 1 / sqrt(D). Appends one HeadResult per head to `out`.
Status searchLayer(Scorer &scorer, const LayerTensors &t, int64_t layer,
                   float scale, const SearchOptions &opts,
                   std::vector<HeadResult> &out,
                   const ProgressFn &progress = nullptr);

/// MInference's config from the results (layers and heads in order, every
/// (layer, head) present exactly once); score = the chosen recall.
Status toModelConfig(const std::vector<HeadResult> &results,
                     ModelConfig &out);

/// "stream_llm", "vertical_and_slash", "block_sparse" or "dense".
const char *configName(PatternKind k);

/// The per-head report: an aligned table and CSV with the columns
/// layer, head, pattern, v1, v2, budget, density, recall, rel_l2.
std::string reportTable(const std::vector<HeadResult> &results, double budget);
std::string reportCsv(const std::vector<HeadResult> &results, double budget);

} // namespace minfer::search

#endif // MINFER_SEARCH_SEARCH_H
