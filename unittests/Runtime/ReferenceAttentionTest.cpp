//===- ReferenceAttentionTest.cpp - dense and indexed attention -----------===//
//
// Against the test's fp64 masked softmax (RefTestUtil.h) computed from the
// closed-form masks; and every pattern at full budget against dense.
//
//===----------------------------------------------------------------------===//
#include "RefTestUtil.h"
#include <gtest/gtest.h>

using namespace minfer;
using namespace minfer::test;

TEST(DenseAttention, MatchesMaskedSoftmax) {
  struct Case {
    int64_t B, H, Hkv, N, D;
  } cases[] = {{1, 1, 1, 1, 64},  {2, 2, 1, 65, 64}, {1, 4, 2, 100, 128},
               {1, 4, 1, 129, 64}};
  for (const Case &c : cases) {
    SCOPED_TRACE("N=" + std::to_string(c.N) + " H=" + std::to_string(c.H) +
                 " Hkv=" + std::to_string(c.Hkv));
    Problem p = makeProblem(c.B, c.H, c.Hkv, c.N, c.D, uint32_t(c.N), 2.0f);
    std::vector<float> out;
    ASSERT_TRUE(ref::denseAttention(p.s, p.q, p.k, p.v, p.scale, out).ok());
    std::vector<Mask> masks(c.B * c.H, denseMask(c.N));
    EXPECT_LT(maxAbsDiff(out, maskedAttention(p, masks)), 1e-5);
  }
}

TEST(DenseAttention, FirstRowCopiesFirstValue) {
  Problem p = makeProblem(1, 1, 1, 10, 64, 4);
  std::vector<float> out;
  ASSERT_TRUE(ref::denseAttention(p.s, p.q, p.k, p.v, p.scale, out).ok());
  for (int64_t d = 0; d < 64; ++d)
    EXPECT_FLOAT_EQ(out[d], p.v[d]);
}

/// Builds one index for B x H heads: head h uses pattern (h % 3), with
/// selections that are random but valid, and returns the closed-form masks.
static SparseIndex mixedIndex(const AttentionShape &s, uint32_t seed,
                              std::vector<Mask> &masks) {
  std::mt19937 rng(seed);
  const int64_t N = s.seqLen, NB = numQueryBlocks(N);
  SparseIndex x;
  x.resize(s.batch, s.heads, N, N, N); // ample capacity
  masks.clear();
  for (int64_t b = 0; b < s.batch; ++b)
    for (int64_t h = 0; h < s.heads; ++h) {
      switch (h % 3) {
      case 0: {
        int64_t sink = rng() % 80, local = 1 + rng() % 150;
        EXPECT_TRUE(ref::fillAShapeIndex(x, b, h, sink, local).ok());
        masks.push_back(aShapeMask(N, sink, local));
        break;
      }
      case 1: {
        std::vector<float> sc(NB * NB);
        for (float &f : sc)
          f = float(rng() % 5);
        int64_t k = 1 + rng() % 3;
        EXPECT_TRUE(ref::fillBsIndex(x, b, h, sc, k).ok());
        std::vector<std::vector<int64_t>> sel(NB);
        for (int64_t m = 0; m < NB; ++m) {
          std::vector<float> row(sc.begin() + m * NB, sc.begin() + m * NB + m + 1);
          for (int32_t n : slowTopK(row, k, 0))
            sel[m].push_back(n);
        }
        masks.push_back(blockMask(N, sel));
        break;
      }
      default: {
        // Offsets >= 64 only: rows of block 0 may have an empty mask.
        std::vector<int32_t> verts, offs;
        for (int64_t j = 0; j < N; ++j) {
          if (rng() % 9 == 0 && j >= 10)
            verts.push_back(int32_t(j));
          if (rng() % 7 == 0 && j >= 64)
            offs.push_back(int32_t(j));
        }
        EXPECT_TRUE(ref::fillVsIndex(x, b, h, verts, offs).ok());
        masks.push_back(vsMask(N, verts, offs));
      }
      }
    }
  return x;
}

TEST(IndexedAttention, MatchesMaskedSoftmax) {
  struct Case {
    int64_t B, H, Hkv, N, D;
  } cases[] = {{1, 3, 3, 1, 64},   {2, 3, 1, 65, 64}, {1, 6, 2, 200, 128},
               {1, 3, 1, 129, 64}};
  for (const Case &c : cases) {
    SCOPED_TRACE("N=" + std::to_string(c.N));
    Problem p = makeProblem(c.B, c.H, c.Hkv, c.N, c.D, uint32_t(c.N + 7), 2.0f);
    std::vector<Mask> masks;
    SparseIndex x = mixedIndex(p.s, uint32_t(c.N), masks);
    std::vector<float> out;
    Status st = ref::indexedAttention(p.s, p.q, p.k, p.v, p.scale, x, out);
    ASSERT_TRUE(st.ok()) << st.str();
    EXPECT_LT(maxAbsDiff(out, maskedAttention(p, masks)), 1e-5);
  }
}

TEST(IndexedAttention, EmptyMaskRowsAreZero) {
  Problem p = makeProblem(1, 1, 1, 100, 64, 2);
  SparseIndex x;
  x.resize(1, 1, 100, 2, 2);
  // One column at 70: rows < 70 see nothing at all.
  ASSERT_TRUE(ref::fillVsIndex(x, 0, 0, {70}, {}).ok());
  std::vector<float> out;
  ASSERT_TRUE(ref::indexedAttention(p.s, p.q, p.k, p.v, p.scale, x, out).ok());
  for (int64_t i = 0; i < 100; ++i)
    for (int64_t d = 0; d < 64; ++d)
      ASSERT_FLOAT_EQ(out[i * 64 + d], i < 70 ? 0.0f : p.v[70 * 64 + d]) << i;
}

TEST(IndexedAttention, RejectsMismatchedIndex) {
  Problem p = makeProblem(1, 2, 1, 100, 64, 2);
  SparseIndex x;
  x.resize(1, 2, 99, 1, 0);
  std::vector<float> out;
  EXPECT_EQ(ref::indexedAttention(p.s, p.q, p.k, p.v, p.scale, x, out).code(),
            ErrorCode::InvalidArgument);
  x.resize(1, 1, 100, 1, 0);
  EXPECT_EQ(ref::indexedAttention(p.s, p.q, p.k, p.v, p.scale, x, out).code(),
            ErrorCode::InvalidArgument);
}

/// Every pattern at full budget is dense: heads cycle through the patterns.
static void expectFullBudgetIsDense(int64_t H, int64_t Hkv, int64_t N) {
  SCOPED_TRACE("H=" + std::to_string(H) + " Hkv=" + std::to_string(Hkv) +
               " N=" + std::to_string(N));
  Problem p = makeProblem(1, H, Hkv, N, 64, uint32_t(N * 3 + H), 2.0f);
  const int64_t NB = numQueryBlocks(N);
  const HeadPattern full[] = {
      HeadPattern::verticalSlash(N, N), HeadPattern::blockSparse(NB),
      HeadPattern::aShape(N / 2, N - N / 2), HeadPattern::aShape(0, N),
      HeadPattern::verticalSlash(N, N, 16)};
  LayerPatterns pats;
  for (int64_t h = 0; h < H; ++h)
    pats.push_back(full[(h + N) % 5]);
  std::vector<float> dense, sparse;
  ASSERT_TRUE(ref::denseAttention(p.s, p.q, p.k, p.v, p.scale, dense).ok());
  SparseIndex x;
  Status st =
      ref::sparseAttention(p.s, p.q, p.k, p.v, p.scale, pats, sparse, &x);
  ASSERT_TRUE(st.ok()) << st.str();
  EXPECT_LT(maxAbsDiff(dense, sparse), 1e-5);
  for (int64_t h = 0; h < H; ++h)
    EXPECT_TRUE(ref::maskFromIndex(x, 0, h) == denseMask(N))
        << pats[h].str();
}

TEST(SparseAttention, FullBudgetEqualsDense) {
  for (int64_t N : {1, 64, 100, 129})
    for (auto [H, Hkv] : {std::pair<int64_t, int64_t>{4, 1}, {4, 2}, {5, 5}})
      expectFullBudgetIsDense(H, Hkv, N);
}

TEST(SparseAttention, FullBudgetEqualsDenseLong) {
  expectFullBudgetIsDense(4, 1, 1000);
  expectFullBudgetIsDense(4, 2, 1000);
}

/// What the GPU runtime does with a head dim the kernels are not built for
/// (8 -> 64, 40 -> 64, 80 -> 96, 120 -> 128), and what the D = 96 kernels
/// do inside their 128-column tiles (96 -> 128): the call on Q, K, V
/// zero-padded is the same call (bit for bit: a zero column adds an exact
/// zero to every dot product and pooled score), with the output in the
/// padded output's first columns.
TEST(SparseAttention, ZeroPaddedHeadDimIsTheSameCall) {
  for (int64_t D : {8, 40, 80, 96, 120}) {
    SCOPED_TRACE("D=" + std::to_string(D));
    ASSERT_TRUE(kernel::isSupportedHeadDim(D));
    const int64_t PD = kernel::isKernelHeadDim(D) ? kernel::tileHeadDim(D)
                                                  : kernel::kernelHeadDim(D);
    ASSERT_GT(PD, D);
    Problem p = makeProblem(1, 4, 2, 300, D, uint32_t(D), 3.0f);
    Problem padded = p;
    padded.s.headDim = PD;
    auto pad = [&](const std::vector<float> &x) {
      std::vector<float> y(x.size() / D * PD, 0.0f);
      for (size_t r = 0; r < x.size() / D; ++r)
        std::copy_n(x.begin() + r * D, D, y.begin() + r * PD);
      return y;
    };
    padded.q = pad(p.q), padded.k = pad(p.k), padded.v = pad(p.v);
    const LayerPatterns pats = {HeadPattern::verticalSlash(8, 12, 32),
                                HeadPattern::blockSparse(2),
                                HeadPattern::aShape(4, 20), HeadPattern::dense()};
    std::vector<float> out, outPadded;
    SparseIndex x, xPadded;
    const VsOptions opts{3, 5};
    ASSERT_TRUE(
        ref::sparseAttention(p.s, p.q, p.k, p.v, p.scale, pats, out, &x, opts).ok());
    ASSERT_TRUE(ref::sparseAttention(padded.s, padded.q, padded.k, padded.v,
                                     p.scale, pats, outPadded, &xPadded, opts)
                    .ok());
    EXPECT_EQ(x.rangeCount, xPadded.rangeCount);
    EXPECT_EQ(x.ranges, xPadded.ranges);
    EXPECT_EQ(x.columnCount, xPadded.columnCount);
    EXPECT_EQ(x.columnIndex, xPadded.columnIndex);
    for (size_t r = 0; r < out.size() / D; ++r)
      for (int64_t d = 0; d < PD; ++d)
        ASSERT_EQ(outPadded[r * PD + d], d < D ? out[r * D + d] : 0.0f)
            << "row " << r << ", column " << d;
  }
}

TEST(SparseAttention, BudgetsBeyondNAreClamped) {
  Problem p = makeProblem(1, 3, 1, 70, 64, 8);
  LayerPatterns pats = {HeadPattern::verticalSlash(int64_t(1) << 40, 1 << 30),
                        HeadPattern::blockSparse(int64_t(1) << 50),
                        HeadPattern::aShape(int64_t(1) << 40, int64_t(1) << 40)};
  std::vector<float> dense, sparse;
  ASSERT_TRUE(ref::denseAttention(p.s, p.q, p.k, p.v, p.scale, dense).ok());
  ASSERT_TRUE(ref::sparseAttention(p.s, p.q, p.k, p.v, p.scale, pats, sparse)
                  .ok());
  EXPECT_LT(maxAbsDiff(dense, sparse), 1e-5);
}

/// Pipeline with small budgets against the test's own composition:
/// library estimation -> slowTopK / own block selection -> closed-form mask
/// -> fp64 masked softmax.
TEST(SparseAttention, SmallBudgetsMatchIndependentPipeline) {
  for (int64_t N : {100, 300}) {
    SCOPED_TRACE("N=" + std::to_string(N));
    Problem p = makeProblem(2, 4, 2, N, 64, uint32_t(N + 1), 3.0f);
    VsOptions opts{3, 5};
    LayerPatterns pats = {HeadPattern::verticalSlash(8, 12, 32),
                          HeadPattern::blockSparse(2),
                          HeadPattern::aShape(4, 20),
                          HeadPattern::verticalSlash(1, 1)};
    std::vector<float> out;
    SparseIndex x;
    Status st =
        ref::sparseAttention(p.s, p.q, p.k, p.v, p.scale, pats, out, &x, opts);
    ASSERT_TRUE(st.ok()) << st.str();
    EXPECT_EQ(indexProblem(x), "");

    std::vector<Mask> masks;
    const int64_t NB = numQueryBlocks(N);
    for (int64_t b = 0; b < 2; ++b)
      for (int64_t h = 0; h < 4; ++h) {
        const HeadPattern &hp = pats[h];
        if (hp.kind == PatternKind::VerticalSlash) {
          std::vector<float> vert, slash;
          ASSERT_TRUE(ref::vsEstimate(p.s, p.q, p.k, b, h, hp.lastQ, p.scale,
                                      vert, slash)
                          .ok());
          int64_t V = std::min(std::max(hp.vertical, opts.forcedVertical), N);
          int64_t S = std::min(std::max(hp.slash, opts.forcedSlash), N);
          masks.push_back(vsMask(N, slowTopK(vert, V, opts.forcedVertical),
                                 slowTopK(slash, S, opts.forcedSlash)));
        } else if (hp.kind == PatternKind::BlockSparse) {
          std::vector<float> sc;
          ASSERT_TRUE(
              ref::bsEstimate(p.s, p.q, p.k, b, h, p.scale, sc).ok());
          std::vector<std::vector<int64_t>> sel(NB);
          for (int64_t m = 0; m < NB; ++m) {
            std::vector<float> row(sc.begin() + m * NB,
                                   sc.begin() + m * NB + m + 1);
            for (int32_t n : slowTopK(row, hp.topK, 0))
              sel[m].push_back(n);
          }
          masks.push_back(blockMask(N, sel));
        } else {
          masks.push_back(aShapeMask(N, hp.sink, hp.local));
        }
        EXPECT_TRUE(ref::maskFromIndex(x, b, h) == masks.back())
            << "b=" << b << " " << hp.str();
      }
    EXPECT_LT(maxAbsDiff(out, maskedAttention(p, masks)), 1e-5);

    // buildIndex alone gives the same index.
    SparseIndex y;
    ASSERT_TRUE(ref::buildIndex(p.s, p.q, p.k, p.scale, pats, y, opts).ok());
    EXPECT_EQ(x.rangeCount, y.rangeCount);
    EXPECT_EQ(x.ranges, y.ranges);
    EXPECT_EQ(x.columnIndex, y.columnIndex);
  }
}
