//===- Pattern.h - per-head sparse patterns without MLIR --------*- C++ -*-===//
//
// The runtime's view of `#minfer.*` pattern attributes: plain structs, so the
// CPU reference, the CUDA runtime, the config loader and minfer-search share
// them and the GPU machine can build them without MLIR.
//
//===----------------------------------------------------------------------===//
#ifndef MINFER_RUNTIME_PATTERN_H
#define MINFER_RUNTIME_PATTERN_H

#include "minfer/Runtime/Status.h"
#include <cstdint>
#include <string>
#include <vector>

namespace minfer {

enum class PatternKind { Dense, AShape, VerticalSlash, BlockSparse };

struct HeadPattern {
  PatternKind kind = PatternKind::Dense;
  int64_t sink = 0, local = 0;       ///< A-shape, tokens
  int64_t vertical = 0, slash = 0;   ///< vertical-slash budgets
  int64_t lastQ = 64;                ///< vertical-slash estimation rows
  int64_t topK = 0;                  ///< block-sparse, 64x64 blocks

  static HeadPattern dense() { return {}; }
  static HeadPattern aShape(int64_t sink, int64_t local) {
    HeadPattern p; p.kind = PatternKind::AShape; p.sink = sink; p.local = local; return p;
  }
  static HeadPattern verticalSlash(int64_t v, int64_t s, int64_t lastQ = 64) {
    HeadPattern p; p.kind = PatternKind::VerticalSlash; p.vertical = v; p.slash = s;
    p.lastQ = lastQ; return p;
  }
  static HeadPattern blockSparse(int64_t topK) {
    HeadPattern p; p.kind = PatternKind::BlockSparse; p.topK = topK; return p;
  }
  bool operator==(const HeadPattern &o) const {
    return kind == o.kind && sink == o.sink && local == o.local &&
           vertical == o.vertical && slash == o.slash && lastQ == o.lastQ &&
           topK == o.topK;
  }
  /// The MLIR attribute spelling, e.g. "#minfer.a_shape<sink = 128, local = 4096>".
  std::string str() const;
  /// Budgets positive (sink may be 0), last_q a positive multiple of 16.
  Status validate() const;
};

/// Estimation constants of vertical-slash (MInference's defaults).
struct VsOptions {
  int64_t forcedVertical = 30; ///< leading columns always kept
  int64_t forcedSlash = 100;   ///< diagonals nearest the main one always kept
};

/// One layer's per-head patterns.
using LayerPatterns = std::vector<HeadPattern>;

} // namespace minfer

#endif // MINFER_RUNTIME_PATTERN_H
