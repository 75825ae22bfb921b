//===- ReferenceEstimate.cpp - online pattern estimation ------------------===//
//
// What the online step computes before building an index (MInference 1.0):
//   - vertical-slash: softmax of the last `lastQ` query rows against every
//     key, summed per column (vertical) and per diagonal offset (slash), then
//     top-k with the leading columns / nearest diagonals forced in;
//   - block-sparse: mean-pooled 64-token blocks of q and k scored against
//     each other (causal at block level).
//
//===----------------------------------------------------------------------===//
#include "ReferenceDetail.h"
#include <algorithm>
#include <numeric>

namespace minfer::ref {

using detail::num;

/// q, k sizes and that (b, h) is a head of the shape.
static Status checkEstimateArgs(const AttentionShape &s,
                                const std::vector<float> &q,
                                const std::vector<float> &k, int64_t b,
                                int64_t h, float scale) {
  MINFER_RETURN_IF_ERROR(s.validate());
  if (!std::isfinite(scale))
    return invalidArgument("scale must be finite");
  MINFER_RETURN_IF_ERROR(detail::checkSize("q", q.size(), s.qElems()));
  MINFER_RETURN_IF_ERROR(detail::checkSize("k", k.size(), s.kvElems()));
  if (b < 0 || b >= s.batch || h < 0 || h >= s.heads)
    return invalidArgument("(batch, head) = (" + num(b) + ", " + num(h) +
                           ") out of range for [" + num(s.batch) + ", " +
                           num(s.heads) + "]");
  return Status::success();
}

Status vsEstimate(const AttentionShape &s, const std::vector<float> &q,
                  const std::vector<float> &k, int64_t b, int64_t h,
                  int64_t lastQ, float scale, std::vector<float> &vertical,
                  std::vector<float> &slash) {
  MINFER_RETURN_IF_ERROR(checkEstimateArgs(s, q, k, b, h, scale));
  if (lastQ <= 0)
    return invalidArgument("last_q must be positive, got " + num(lastQ));
  const int64_t N = s.seqLen, D = s.headDim;
  const int64_t rows = std::min(lastQ, N);
  const float *Q = q.data() + (b * s.heads + h) * N * D;
  const float *K = k.data() + (b * s.kvHeads + s.kvHeadOf(h)) * N * D;

  std::vector<double> vert(N, 0.0), diag(N, 0.0);
  std::vector<float> sc(N);
  for (int64_t i = N - rows; i < N; ++i) {
    float mx = -INFINITY;
    for (int64_t j = 0; j <= i; ++j) {
      sc[j] = scale * detail::dot(Q + i * D, K + j * D, D);
      mx = std::max(mx, sc[j]);
    }
    double sum = 0;
    for (int64_t j = 0; j <= i; ++j)
      sum += std::exp(static_cast<double>(sc[j]) - mx);
    for (int64_t j = 0; j <= i; ++j) {
      double p = std::exp(static_cast<double>(sc[j]) - mx) / sum;
      vert[j] += p;
      diag[i - j] += p;
    }
  }
  vertical.assign(vert.begin(), vert.end());
  slash.assign(diag.begin(), diag.end());
  return Status::success();
}

std::vector<int32_t> topK(const std::vector<float> &scores, int64_t k,
                          int64_t forced) {
  const int64_t n = static_cast<int64_t>(scores.size());
  k = std::clamp<int64_t>(k, 0, n);
  // NaN ranks below everything (including -inf) so the order stays total and
  // the result deterministic.
  auto key = [&](int64_t i) -> float {
    if (i < forced)
      return INFINITY;
    float v = scores[i];
    return std::isnan(v) ? -INFINITY : v;
  };
  auto better = [&](int32_t a, int32_t b) {
    float ka = key(a), kb = key(b);
    bool nanA = a >= forced && std::isnan(scores[a]);
    bool nanB = b >= forced && std::isnan(scores[b]);
    if (nanA != nanB)
      return nanB; // the non-NaN one is better
    if (ka != kb)
      return ka > kb;
    return a < b; // ties to the lower index
  };
  std::vector<int32_t> idx(n);
  std::iota(idx.begin(), idx.end(), 0);
  if (k < n)
    std::nth_element(idx.begin(), idx.begin() + k, idx.end(), better);
  idx.resize(k);
  std::sort(idx.begin(), idx.end());
  return idx;
}

Status bsEstimate(const AttentionShape &s, const std::vector<float> &q,
                  const std::vector<float> &k, int64_t b, int64_t h,
                  float scale, std::vector<float> &blockScores) {
  MINFER_RETURN_IF_ERROR(checkEstimateArgs(s, q, k, b, h, scale));
  const int64_t N = s.seqLen, D = s.headDim, NB = numQueryBlocks(N);
  const float *Q = q.data() + (b * s.heads + h) * N * D;
  const float *K = k.data() + (b * s.kvHeads + s.kvHeadOf(h)) * N * D;

  // Mean over the block's real tokens (a partial last block is not padded
  // with zeros, unlike MInference's reshape-and-mean).
  auto pool = [&](const float *X, std::vector<float> &pooled) {
    pooled.assign(NB * D, 0.0f);
    std::vector<double> acc(D);
    for (int64_t m = 0; m < NB; ++m) {
      std::fill(acc.begin(), acc.end(), 0.0);
      int64_t lo = detail::blockStart(m), hi = detail::blockEnd(m, N);
      for (int64_t t = lo; t < hi; ++t)
        for (int64_t d = 0; d < D; ++d)
          acc[d] += X[t * D + d];
      for (int64_t d = 0; d < D; ++d)
        pooled[m * D + d] = static_cast<float>(acc[d] / double(hi - lo));
    }
  };
  std::vector<float> pq, pk;
  pool(Q, pq);
  pool(K, pk);
  blockScores.assign(NB * NB, -INFINITY);
  for (int64_t m = 0; m < NB; ++m)
    for (int64_t n = 0; n <= m; ++n)
      blockScores[m * NB + n] =
          scale * detail::dot(pq.data() + m * D, pk.data() + n * D, D);
  return Status::success();
}

std::pair<int64_t, int64_t> vsEffectiveBudgets(const HeadPattern &p,
                                               int64_t seqLen,
                                               const VsOptions &opts) {
  int64_t n = std::max<int64_t>(seqLen, 0);
  return {std::min(std::max(p.vertical, opts.forcedVertical), n),
          std::min(std::max(p.slash, opts.forcedSlash), n)};
}

} // namespace minfer::ref
