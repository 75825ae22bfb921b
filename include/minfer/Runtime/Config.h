//===- Config.h - MInference's per-head pattern config ----------*- C++ -*-===//
//
// MInference ships one JSON file per model: a list with one object per layer,
// each mapping a head index ("0", "1", ...) to
//   [pattern, value1, value2, score]
// with pattern and values mapped to minfer patterns as
//   "vertical_and_slash"  -> verticalSlash(vertical = value1, slash = value2)
//   "stream_llm"          -> aShape(sink = value1, local = value2)
//   "block_sparse"        -> blockSparse(top_k = value1); value2 is ignored
//   "dense"               -> dense (a minfer extension MInference can't read;
//                            values ignored)
// and score the search's float score, kept as is. Budgets are positive
// integers (a stream_llm sink may be 0), as HeadPattern::validate() requires.
// Every error is ErrorCode::ConfigError and names the layer and head.
//
// The library (MinferConfig) uses llvm::json and is built only with the
// compiler; this header itself is plain C++.
//
//===----------------------------------------------------------------------===//
#ifndef MINFER_RUNTIME_CONFIG_H
#define MINFER_RUNTIME_CONFIG_H

#include "minfer/Runtime/Pattern.h"
#include "minfer/Runtime/Status.h"
#include <string>
#include <vector>

namespace minfer {

/// A model's per-head patterns: layers[l][h], with the search score of each
/// head in scores[l][h] (same shape). Every layer has the same head count.
struct ModelConfig {
  std::vector<LayerPatterns> layers;
  std::vector<std::vector<double>> scores;

  int64_t numLayers() const { return static_cast<int64_t>(layers.size()); }
  int64_t numHeads() const {
    return layers.empty() ? 0 : static_cast<int64_t>(layers[0].size());
  }
  bool operator==(const ModelConfig &o) const {
    return layers == o.layers && scores == o.scores;
  }
};

/// The pattern names accepted in a config file, for messages and tools:
/// "vertical_and_slash, stream_llm, block_sparse, dense".
const char *configPatternNames();

/// Parses the text of a config file. `out` is only written on success.
Status parseModelConfig(const std::string &jsonText, ModelConfig &out);
/// Reads and parses the file at `path`.
Status loadModelConfig(const std::string &path, ModelConfig &out);

/// MInference's format, one layer per line, heads in index order; what
/// parseModelConfig reads back to an equal ModelConfig. block_sparse is
/// written [name, top_k, top_k, score], dense [name, 0, 0, score]. Not representable and
/// therefore not written: last_q (the format has no field; it reads back as
/// 64). A missing score is written as 0. Use checkModelConfig first (or
/// saveModelConfig) to be sure nothing is lost.
std::string writeModelConfig(const ModelConfig &cfg);

/// Whether writeModelConfig round-trips `cfg` exactly: scores shaped like
/// layers, the same head count in every layer, at least one head, every
/// pattern valid, last_q 64, scores finite.
Status checkModelConfig(const ModelConfig &cfg);

/// checkModelConfig, then writes writeModelConfig(cfg) to `path`.
Status saveModelConfig(const ModelConfig &cfg, const std::string &path);

} // namespace minfer

#endif // MINFER_RUNTIME_CONFIG_H
