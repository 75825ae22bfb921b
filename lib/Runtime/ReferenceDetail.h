//===- ReferenceDetail.h - helpers private to the Reference*.cpp files ----===//
//
// Not installed, not part of the contract: the inner loops and argument checks
// the reference files share.
//
//===----------------------------------------------------------------------===//
#ifndef MINFER_LIB_RUNTIME_REFERENCEDETAIL_H
#define MINFER_LIB_RUNTIME_REFERENCEDETAIL_H

#include "minfer/Runtime/Reference.h"
#include <cmath>
#include <string>

namespace minfer::ref::detail {

inline std::string num(int64_t v) { return std::to_string(v); }

/// fp32 dot product with 8 independent partial sums: keeps the loop free of a
/// serial dependency (so it pipelines/vectorizes without -ffast-math) and is
/// slightly more accurate than one running sum.
inline float dot(const float *a, const float *b, int64_t n) {
  float s[8] = {0, 0, 0, 0, 0, 0, 0, 0};
  int64_t d = 0;
  for (; d + 8 <= n; d += 8)
    for (int u = 0; u < 8; ++u)
      s[u] += a[d + u] * b[d + u];
  float t = 0;
  for (; d < n; ++d)
    t += a[d] * b[d];
  return ((s[0] + s[1]) + (s[2] + s[3])) + ((s[4] + s[5]) + (s[6] + s[7])) + t;
}

/// Scratch reused across rows so the inner loops never allocate.
struct RowScratch {
  std::vector<float> scores;
  std::vector<double> acc;
  RowScratch(int64_t seqLen, int64_t headDim)
      : scores(seqLen), acc(headDim) {}
};

/// out[0..D) = softmax_j(scale q.k_j) v_j over the keys `forEachKey` visits
/// (it calls its argument once per key j, the same keys in the same order on
/// both calls). Scores in fp32, normalizer and output accumulated in fp64.
/// No key: zeros.
template <typename ForEachKey>
void attendRow(const float *q, const float *K, const float *V, int64_t D,
               float scale, ForEachKey forEachKey, RowScratch &w, float *out) {
  float *sc = w.scores.data();
  int64_t n = 0;
  float mx = -INFINITY;
  forEachKey([&](int64_t j) {
    float v = scale * dot(q, K + j * D, D);
    sc[n++] = v;
    mx = v > mx ? v : mx;
  });
  double *acc = w.acc.data();
  for (int64_t d = 0; d < D; ++d)
    acc[d] = 0;
  if (n == 0 || !(mx > -INFINITY)) {
    // Empty mask (or every score -inf): the contract says zeros.
    for (int64_t d = 0; d < D; ++d)
      out[d] = 0;
    return;
  }
  double sum = 0;
  int64_t t = 0;
  forEachKey([&](int64_t j) {
    double p = std::exp(static_cast<double>(sc[t++]) - mx);
    sum += p;
    const float *vr = V + j * D;
    for (int64_t d = 0; d < D; ++d)
      acc[d] += p * vr[d];
  });
  for (int64_t d = 0; d < D; ++d)
    out[d] = static_cast<float>(acc[d] / sum);
}

/// `what` has exactly `expected` elements.
inline Status checkSize(const char *what, size_t got, int64_t expected) {
  if (static_cast<int64_t>(got) == expected)
    return Status::success();
  return invalidArgument(std::string(what) + " has " + num((int64_t)got) +
                         " elements, expected " + num(expected));
}

/// b, h address a head of `index` and its vectors have the sizes resize()
/// gives them (so row pointers stay in bounds).
Status checkIndexHead(const SparseIndex &index, int64_t b, int64_t h);

/// Query block m covers rows [blockStart(m), blockEnd(m, N)).
inline int64_t blockStart(int64_t m) { return m * kernel::kBlockM; }
inline int64_t blockEnd(int64_t m, int64_t n) {
  int64_t e = blockStart(m) + kernel::kBlockM;
  return e < n ? e : n;
}

} // namespace minfer::ref::detail

#endif // MINFER_LIB_RUNTIME_REFERENCEDETAIL_H
