//===- ReferencePipeline.cpp - estimate -> index -> attention -------------===//
//
// The whole online step of MInference on the CPU, one pattern per query head:
// validate everything up front, size the index with requiredCapacity, run each
// head's estimation and index construction, then execute the index.
//
//===----------------------------------------------------------------------===//
#include "ReferenceDetail.h"

namespace minfer::ref {

using detail::num;

static Status withHead(int64_t h, const Status &st) {
  if (st.ok())
    return st;
  return Status(st.code(), "head " + num(h) + ": " + st.message());
}

Status buildIndex(const AttentionShape &s, const std::vector<float> &q,
                  const std::vector<float> &k, float scale,
                  const LayerPatterns &patterns, SparseIndex &index,
                  const VsOptions &opts) {
  MINFER_RETURN_IF_ERROR(s.validate());
  if (!std::isfinite(scale))
    return invalidArgument("scale must be finite");
  MINFER_RETURN_IF_ERROR(detail::checkSize("q", q.size(), s.qElems()));
  MINFER_RETURN_IF_ERROR(detail::checkSize("k", k.size(), s.kvElems()));
  if (static_cast<int64_t>(patterns.size()) != s.heads)
    return invalidArgument("got " + num((int64_t)patterns.size()) +
                           " patterns for " + num(s.heads) + " heads");
  for (int64_t h = 0; h < s.heads; ++h)
    MINFER_RETURN_IF_ERROR(withHead(h, patterns[h].validate()));
  if (opts.forcedVertical < 0 || opts.forcedSlash < 0)
    return invalidArgument("forced vertical/slash counts must be "
                           "non-negative");

  const auto [R, C] = requiredCapacity(patterns, s.seqLen, opts);
  index.resize(s.batch, s.heads, s.seqLen, R, C);
  std::vector<float> vertical, slash, blockScores;
  for (int64_t b = 0; b < s.batch; ++b)
    for (int64_t h = 0; h < s.heads; ++h) {
      const HeadPattern &p = patterns[h];
      Status st;
      switch (p.kind) {
      case PatternKind::Dense:
        st = fillDenseIndex(index, b, h);
        break;
      case PatternKind::AShape:
        st = fillAShapeIndex(index, b, h, p.sink, p.local);
        break;
      case PatternKind::VerticalSlash: {
        st = vsEstimate(s, q, k, b, h, p.lastQ, scale, vertical, slash);
        if (!st.ok())
          break;
        auto [vEff, sEff] = vsEffectiveBudgets(p, s.seqLen, opts);
        st = fillVsIndex(index, b, h, topK(vertical, vEff, opts.forcedVertical),
                         topK(slash, sEff, opts.forcedSlash));
        break;
      }
      case PatternKind::BlockSparse:
        st = bsEstimate(s, q, k, b, h, scale, blockScores);
        if (st.ok())
          st = fillBsIndex(index, b, h, blockScores, p.topK);
        break;
      }
      MINFER_RETURN_IF_ERROR(withHead(h, st));
    }
  return Status::success();
}

Status sparseAttention(const AttentionShape &s, const std::vector<float> &q,
                       const std::vector<float> &k,
                       const std::vector<float> &v, float scale,
                       const LayerPatterns &patterns, std::vector<float> &out,
                       SparseIndex *indexOut, const VsOptions &opts) {
  MINFER_RETURN_IF_ERROR(checkAttentionInputs(s, q, k, v, scale));
  SparseIndex index;
  MINFER_RETURN_IF_ERROR(buildIndex(s, q, k, scale, patterns, index, opts));
  MINFER_RETURN_IF_ERROR(indexedAttention(s, q, k, v, scale, index, out));
  if (indexOut)
    *indexOut = std::move(index);
  return Status::success();
}

} // namespace minfer::ref
