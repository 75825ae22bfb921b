//===- RefTestUtil.h - independent oracles for the reference tests --------===//
//
// Everything here is computed the slow, obvious way from SparseIndex.h's
// closed forms (element by element, fp64), sharing no code with the library,
// so a test comparing the two can actually fail.
//
//===----------------------------------------------------------------------===//
#ifndef MINFER_UNITTESTS_RUNTIME_REFTESTUTIL_H
#define MINFER_UNITTESTS_RUNTIME_REFTESTUTIL_H

#include "minfer/Runtime/Reference.h"
#include <algorithm>
#include <cmath>
#include <cstdint>
#include <random>
#include <string>
#include <vector>

namespace minfer::test {

using Mask = std::vector<uint8_t>; // N x N, row-major

/// Uniform [-amp, amp), deterministic.
inline std::vector<float> randomTensor(int64_t n, uint32_t seed,
                                       float amp = 1.0f) {
  std::mt19937 rng(seed);
  std::uniform_real_distribution<float> d(-amp, amp);
  std::vector<float> x(n);
  for (float &v : x)
    v = d(rng);
  return x;
}

struct Problem {
  AttentionShape s;
  std::vector<float> q, k, v;
  float scale = 0;
};

/// Random q/k/v. `qkAmp` large makes softmax peaky (more realistic sparsity).
inline Problem makeProblem(int64_t B, int64_t H, int64_t Hkv, int64_t N,
                           int64_t D, uint32_t seed, float qkAmp = 1.0f) {
  Problem p;
  p.s.batch = B, p.s.heads = H, p.s.kvHeads = Hkv, p.s.seqLen = N,
  p.s.headDim = D;
  p.q = randomTensor(p.s.qElems(), seed, qkAmp);
  p.k = randomTensor(p.s.kvElems(), seed + 1, qkAmp);
  p.v = randomTensor(p.s.kvElems(), seed + 2);
  p.scale = 1.0f / std::sqrt(static_cast<float>(D));
  return p;
}

inline int64_t blkStart(int64_t i) { return i / 64 * 64; }
inline int64_t blkEnd(int64_t i, int64_t N) {
  return std::min<int64_t>(blkStart(i) + 64, N);
}

// Closed-form masks of SparseIndex.h, element by element.
inline Mask denseMask(int64_t N) {
  Mask m(N * N, 0);
  for (int64_t i = 0; i < N; ++i)
    for (int64_t j = 0; j <= i; ++j)
      m[i * N + j] = 1;
  return m;
}

inline Mask aShapeMask(int64_t N, int64_t sink, int64_t local) {
  Mask m(N * N, 0);
  for (int64_t i = 0; i < N; ++i) {
    int64_t s = blkStart(i), e = blkEnd(i, N);
    for (int64_t j = 0; j <= i; ++j) {
      bool inSink = j < std::min(sink, e);
      bool inLocal = j >= std::max<int64_t>(0, s - local + 1) && j < e;
      m[i * N + j] = inSink || inLocal;
    }
  }
  return m;
}

/// `blocks[m]` = selected key blocks of query block m.
inline Mask blockMask(int64_t N, const std::vector<std::vector<int64_t>> &blocks) {
  Mask m(N * N, 0);
  for (int64_t i = 0; i < N; ++i) {
    const auto &sel = blocks[i / 64];
    for (int64_t j = 0; j <= i; ++j)
      m[i * N + j] =
          std::find(sel.begin(), sel.end(), j / 64) != sel.end() &&
          j < std::min<int64_t>(j / 64 * 64 + 64, blkEnd(i, N));
  }
  return m;
}

/// j <= i and (j a vertical, or some offset o < e_m with
/// max(s_m - o, 0) <= j < e_m - o).
inline Mask vsMask(int64_t N, const std::vector<int32_t> &verticals,
                   const std::vector<int32_t> &offsets) {
  // For j >= 0: max(s - o, 0) <= j  <=>  o >= s - j, and j < e - o  <=>
  // o < e - j (which implies o < e). So the test is "some selected offset in
  // [max(s - j, 0), e - j)", answered with prefix counts of the offsets.
  std::vector<uint8_t> isV(N, 0);
  std::vector<int64_t> below(N + 1, 0); // below[x] = #offsets < x
  for (int32_t v : verticals)
    isV[v] = 1;
  for (int32_t o : offsets)
    below[o + 1] = 1;
  for (int64_t x = 0; x < N; ++x)
    below[x + 1] += below[x];
  Mask m(N * N, 0);
  for (int64_t i = 0; i < N; ++i) {
    int64_t s = blkStart(i), e = blkEnd(i, N);
    for (int64_t j = 0; j <= i; ++j) {
      int64_t lo = std::max<int64_t>(s - j, 0), hi = e - j;
      m[i * N + j] = isV[j] || below[hi] - below[lo] > 0;
    }
  }
  return m;
}

/// Expands one head of an index (test-side twin of maskFromIndex).
inline Mask expandIndex(const SparseIndex &x, int64_t b, int64_t h) {
  int64_t N = x.seqLen;
  Mask m(N * N, 0);
  for (int64_t i = 0; i < N; ++i) {
    int64_t row = x.row(b, h, i / 64);
    for (int64_t r = 0; r < x.rangeCount[row]; ++r)
      for (int64_t j = x.ranges[(row * x.maxRanges + r) * 2];
           j < x.ranges[(row * x.maxRanges + r) * 2 + 1] && j <= i; ++j)
        m[i * N + j] = 1;
    for (int64_t c = 0; c < x.columnCount[row]; ++c) {
      int64_t j = x.columnIndex[row * x.maxColumns + c];
      if (j <= i)
        m[i * N + j] = 1;
    }
  }
  return m;
}

/// Every invariant of SparseIndex.h, as a failure message ("" when fine).
inline std::string indexProblem(const SparseIndex &x) {
  int64_t NB = (x.seqLen + 63) / 64;
  for (int64_t row = 0; row < x.batch * x.heads * NB; ++row) {
    int64_t m = row % NB, e = std::min<int64_t>(64 * m + 64, x.seqLen);
    int64_t nr = x.rangeCount[row], nc = x.columnCount[row];
    std::string at = "row " + std::to_string(row) + ": ";
    if (nr < 0 || nr > x.maxRanges || nc < 0 || nc > x.maxColumns)
      return at + "count out of capacity";
    const int32_t *rg = &x.ranges[row * x.maxRanges * 2];
    for (int64_t r = 0; r < nr; ++r) {
      if (!(0 <= rg[2 * r] && rg[2 * r] < rg[2 * r + 1] && rg[2 * r + 1] <= e))
        return at + "range out of bounds";
      if (r > 0 && rg[2 * r] <= rg[2 * r - 1])
        return at + "ranges not sorted/disjoint/non-adjacent";
    }
    for (int64_t c = 0; c < nc; ++c) {
      int64_t j = x.columnIndex[row * x.maxColumns + c];
      if (j < 0 || j >= e)
        return at + "column out of bounds";
      if (c > 0 && j <= x.columnIndex[row * x.maxColumns + c - 1])
        return at + "columns not sorted/unique";
      for (int64_t r = 0; r < nr; ++r)
        if (rg[2 * r] <= j && j < rg[2 * r + 1])
          return at + "column inside a range";
    }
  }
  return "";
}

/// softmax(scale q k^T) v over mask[b*H + h], fp64, zeros for empty rows.
inline std::vector<float> maskedAttention(const Problem &p,
                                          const std::vector<Mask> &masks) {
  const AttentionShape &s = p.s;
  int64_t N = s.seqLen, D = s.headDim;
  std::vector<float> out(s.qElems(), 0.0f);
  std::vector<double> sc(N);
  for (int64_t b = 0; b < s.batch; ++b)
    for (int64_t h = 0; h < s.heads; ++h) {
      const Mask &mk = masks[b * s.heads + h];
      int64_t kvh = h / (s.heads / s.kvHeads);
      const float *Q = &p.q[(b * s.heads + h) * N * D];
      const float *K = &p.k[(b * s.kvHeads + kvh) * N * D];
      const float *V = &p.v[(b * s.kvHeads + kvh) * N * D];
      float *O = &out[(b * s.heads + h) * N * D];
      for (int64_t i = 0; i < N; ++i) {
        double mx = -INFINITY;
        for (int64_t j = 0; j < N; ++j) {
          if (!mk[i * N + j])
            continue;
          double d = 0;
          for (int64_t t = 0; t < D; ++t)
            d += double(Q[i * D + t]) * K[j * D + t];
          sc[j] = d * p.scale;
          mx = std::max(mx, sc[j]);
        }
        if (mx == -INFINITY)
          continue;
        double sum = 0;
        std::vector<double> acc(D, 0.0);
        for (int64_t j = 0; j < N; ++j) {
          if (!mk[i * N + j])
            continue;
          double w = std::exp(sc[j] - mx);
          sum += w;
          for (int64_t t = 0; t < D; ++t)
            acc[t] += w * V[j * D + t];
        }
        for (int64_t t = 0; t < D; ++t)
          O[i * D + t] = float(acc[t] / sum);
      }
    }
  return out;
}

inline double maxAbsDiff(const std::vector<float> &a,
                         const std::vector<float> &b) {
  if (a.size() != b.size())
    return INFINITY;
  double d = 0;
  for (size_t i = 0; i < a.size(); ++i)
    d = std::max(d, double(std::fabs(a[i] - b[i])));
  return d;
}

/// Independent top-k: stable sort by score descending (so ties keep the lower
/// index first), forced entries first; result sorted ascending.
inline std::vector<int32_t> slowTopK(const std::vector<float> &scores,
                                     int64_t k, int64_t forced) {
  std::vector<int32_t> idx(scores.size());
  for (size_t i = 0; i < idx.size(); ++i)
    idx[i] = int32_t(i);
  auto key = [&](int32_t i) {
    return i < forced ? INFINITY : double(scores[i]);
  };
  std::stable_sort(idx.begin(), idx.end(),
                   [&](int32_t a, int32_t b) { return key(a) > key(b); });
  idx.resize(std::clamp<int64_t>(k, 0, int64_t(idx.size())));
  std::sort(idx.begin(), idx.end());
  return idx;
}

} // namespace minfer::test

#endif // MINFER_UNITTESTS_RUNTIME_REFTESTUTIL_H
