//===- CpuScorer.cpp - the Scorer on the fp32 CPU reference ---------------===//
//
// Per head, setHead() computes once: the dense softmax rows of the evaluation
// rows (for recall and, above fullOutputMaxLen, the rel-L2), the dense
// output (ref::denseAttention when N <= fullOutputMaxLen), and lazily the
// vertical-slash and block-sparse estimates. A candidate's index is then the
// runtime's (the same calls ref::buildIndex makes, with the estimate reused
// across candidates), and the sparse output is ref::indexedAttention on that
// index -- or, on the evaluation rows, the dense probabilities renormalized
// over the kept keys, which is the same softmax.
//
//===----------------------------------------------------------------------===//
#include "ScorerDetail.h"
#include "minfer/Runtime/Reference.h"
#include "minfer/Search/Scorer.h"
#include <algorithm>
#include <cmath>

namespace minfer::search {

std::vector<int64_t> evaluationRows(int64_t n, const ScorerOptions &opts) {
  std::vector<int64_t> rows;
  if (n <= 0)
    return rows;
  int64_t last = std::clamp<int64_t>(opts.lastRows, 0, n);
  int64_t rest = n - last;
  int64_t sample = std::clamp<int64_t>(opts.sampleRows, 0, rest);
  // Evenly spread over [0, rest), centred in each stratum.
  for (int64_t s = 0; s < sample; ++s)
    rows.push_back((2 * s + 1) * rest / (2 * sample));
  for (int64_t i = rest; i < n; ++i)
    rows.push_back(i);
  std::sort(rows.begin(), rows.end());
  rows.erase(std::unique(rows.begin(), rows.end()), rows.end());
  return rows;
}

namespace {

using detail::forEachKept;
using detail::IndexRow;
using detail::indexRow;

bool indexConsistent(const SparseIndex &x, int64_t b, int64_t h) {
  if (b < 0 || b >= x.batch || h < 0 || h >= x.heads || x.seqLen <= 0 ||
      x.maxRanges < 0 || x.maxColumns < 0)
    return false;
  size_t rows = static_cast<size_t>(x.batch * x.heads * x.numBlocks());
  return x.rangeCount.size() == rows && x.columnCount.size() == rows &&
         x.ranges.size() == rows * x.maxRanges * 2 &&
         x.columnIndex.size() == rows * x.maxColumns;
}

} // namespace

int64_t countExecuted(const SparseIndex &x, int64_t b, int64_t h) {
  if (!indexConsistent(x, b, h))
    return -1;
  const int64_t N = x.seqLen;
  int64_t total = 0;
  for (int64_t m = 0; m < x.numBlocks(); ++m) {
    const int64_t s = m * kernel::kBlockM, e = std::min(N, s + kernel::kBlockM);
    IndexRow r = indexRow(x, b, h, m);
    for (int64_t t = 0; t < r.numRanges; ++t) {
      // Row i keeps min(max(i + 1 - a, 0), z - a) keys of range [a, z).
      int64_t a = std::max<int64_t>(r.ranges[2 * t], 0);
      int64_t z = std::min<int64_t>(r.ranges[2 * t + 1], e);
      if (z <= a)
        continue;
      int64_t lo = std::max(s, a), hi = std::min(e, z - 1);
      if (hi > lo)
        total += (hi - lo) * ((lo + 1 - a) + (hi - a)) / 2;
      lo = std::max(s, z - 1);
      if (e > lo)
        total += (e - lo) * (z - a);
    }
    for (int64_t c = 0; c < r.numColumns; ++c) {
      int64_t col = r.columns[c];
      if (col >= 0 && col < e)
        total += e - std::max(col, s);
    }
  }
  return total;
}

namespace {

class CpuScorer final : public Scorer {
public:
  explicit CpuScorer(const ScorerOptions &o) : opts(o) {}
  const char *name() const override { return "cpu"; }

  Status setHead(const HeadTensors &head) override {
    ready = false;
    MINFER_RETURN_IF_ERROR(detail::checkHead(head));
    const int64_t per = head.seqLen * head.headDim;
    shape = AttentionShape();
    shape.seqLen = head.seqLen;
    shape.headDim = head.headDim;
    N = head.seqLen;
    D = head.headDim;
    B = head.batch;
    scale = head.scale;
    full = N <= opts.fullOutputMaxLen;
    rows = evaluationRows(N, opts);
    q.assign(B, {});
    k.assign(B, {});
    v.assign(B, {});
    probs.assign(B, {});
    denseOut.assign(B, {});
    vsVertical.assign(B, {});
    vsSlash.assign(B, {});
    bsScores.assign(B, {});
    vsLastQ = -1;
    haveBs = false;
    for (int64_t b = 0; b < B; ++b) {
      q[b].assign(head.q.begin() + b * per, head.q.begin() + (b + 1) * per);
      k[b].assign(head.k.begin() + b * per, head.k.begin() + (b + 1) * per);
      v[b].assign(head.v.begin() + b * per, head.v.begin() + (b + 1) * per);
      MINFER_RETURN_IF_ERROR(denseRows(b));
      if (full) {
        MINFER_RETURN_IF_ERROR(
            ref::denseAttention(shape, q[b], k[b], v[b], scale, denseOut[b]));
        for (float o : denseOut[b])
          if (!std::isfinite(o))
            return invalidArgument("dense attention output is not finite "
                                   "(batch " + std::to_string(b) +
                                   "): q/k/v values too large for fp32");
      } else {
        denseOut[b].assign(rows.size() * D, 0.0f);
        for (size_t r = 0; r < rows.size(); ++r)
          for (int64_t j = 0; j <= rows[r]; ++j)
            for (int64_t d = 0; d < D; ++d)
              denseOut[b][r * D + d] += probs[b][r][j] * v[b][j * D + d];
      }
    }
    ready = true;
    return Status::success();
  }

  Status density(const HeadPattern &p, double &out) override {
    MINFER_RETURN_IF_ERROR(checkReady());
    double sum = 0;
    for (int64_t b = 0; b < B; ++b) {
      MINFER_RETURN_IF_ERROR(buildIndex(p, b));
      sum += static_cast<double>(countExecuted(index, 0, 0));
    }
    out = sum / (double(B) * double(causalPairs(N)));
    return Status::success();
  }

  Status evaluate(const HeadPattern &p, CandidateEval &out) override {
    MINFER_RETURN_IF_ERROR(checkReady());
    out = CandidateEval();
    out.pattern = p;
    double pairs = 0, recall = 0, diff2 = 0, ref2 = 0;
    std::vector<float> sparse;
    std::vector<double> acc(D);
    for (int64_t b = 0; b < B; ++b) {
      MINFER_RETURN_IF_ERROR(buildIndex(p, b));
      pairs += static_cast<double>(countExecuted(index, 0, 0));
      if (full) {
        MINFER_RETURN_IF_ERROR(ref::indexedAttention(shape, q[b], k[b], v[b],
                                                     scale, index, sparse));
        for (int64_t t = 0; t < N * D; ++t) {
          double d = double(sparse[t]) - denseOut[b][t];
          diff2 += d * d;
          ref2 += double(denseOut[b][t]) * denseOut[b][t];
        }
      }
      for (size_t r = 0; r < rows.size(); ++r) {
        const int64_t i = rows[r];
        const float *P = probs[b][r].data();
        IndexRow ir = indexRow(index, 0, 0, i / kernel::kBlockM);
        double kept = 0;
        std::fill(acc.begin(), acc.end(), 0.0);
        forEachKept(ir, i, [&](int64_t j) {
          kept += P[j];
          if (!full)
            for (int64_t d = 0; d < D; ++d)
              acc[d] += double(P[j]) * v[b][j * D + d];
        });
        recall += kept;
        if (!full)
          for (int64_t d = 0; d < D; ++d) {
            double o = kept > 0 ? acc[d] / kept : 0.0;
            double ref = denseOut[b][r * D + d];
            diff2 += (o - ref) * (o - ref);
            ref2 += ref * ref;
          }
      }
    }
    out.density = pairs / (double(B) * double(causalPairs(N)));
    out.recall = recall / (double(B) * double(rows.size()));
    out.relL2 = ref2 > 0 ? std::sqrt(diff2 / ref2) : std::sqrt(diff2);
    return Status::success();
  }

private:
  ScorerOptions opts;
  bool ready = false, full = true;
  AttentionShape shape; ///< one head: [1, 1, N, D]
  int64_t N = 0, D = 0, B = 0;
  float scale = 1;
  std::vector<int64_t> rows;
  std::vector<std::vector<float>> q, k, v, denseOut;
  std::vector<std::vector<std::vector<float>>> probs; ///< [b][row][j <= i]
  std::vector<std::vector<float>> vsVertical, vsSlash, bsScores;
  int64_t vsLastQ = -1;
  bool haveBs = false;
  SparseIndex index;

  Status checkReady() const { return detail::checkReady(ready); }

  /// Dense softmax of each evaluation row of batch b.
  Status denseRows(int64_t b) {
    probs[b].assign(rows.size(), {});
    for (size_t r = 0; r < rows.size(); ++r)
      MINFER_RETURN_IF_ERROR(detail::denseSoftmaxRow(
          q[b].data() + rows[r] * D, k[b].data(), rows[r], D, scale, b,
          probs[b][r]));
    return Status::success();
  }

  /// The runtime's index of pattern p on batch b into `index` ([1, 1, NB]).
  Status buildIndex(const HeadPattern &p, int64_t b) {
    MINFER_RETURN_IF_ERROR(p.validate());
    auto [R, C] = ref::requiredCapacity({p}, N, opts.vs);
    index.resize(1, 1, N, R, C);
    switch (p.kind) {
    case PatternKind::Dense:
      return ref::fillDenseIndex(index, 0, 0);
    case PatternKind::AShape:
      return ref::fillAShapeIndex(index, 0, 0, p.sink, p.local);
    case PatternKind::BlockSparse:
      if (!haveBs) {
        for (int64_t bb = 0; bb < B; ++bb)
          MINFER_RETURN_IF_ERROR(
              ref::bsEstimate(shape, q[bb], k[bb], 0, 0, scale, bsScores[bb]));
        haveBs = true;
      }
      return ref::fillBsIndex(index, 0, 0, bsScores[b], p.topK);
    case PatternKind::VerticalSlash: {
      if (vsLastQ != p.lastQ) {
        for (int64_t bb = 0; bb < B; ++bb)
          MINFER_RETURN_IF_ERROR(ref::vsEstimate(shape, q[bb], k[bb], 0, 0,
                                                 p.lastQ, scale, vsVertical[bb],
                                                 vsSlash[bb]));
        vsLastQ = p.lastQ;
      }
      auto [vEff, sEff] = ref::vsEffectiveBudgets(p, N, opts.vs);
      return ref::fillVsIndex(
          index, 0, 0, ref::topK(vsVertical[b], vEff, opts.vs.forcedVertical),
          ref::topK(vsSlash[b], sEff, opts.vs.forcedSlash));
    }
    }
    return invalidArgument("unknown pattern kind");
  }
};

} // namespace

std::unique_ptr<Scorer> createCpuScorer(const ScorerOptions &opts) {
  return std::make_unique<CpuScorer>(opts);
}

} // namespace minfer::search
