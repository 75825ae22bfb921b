//===- ReferenceEstimateTest.cpp - vertical-slash / block-sparse estimation ===//
#include "RefTestUtil.h"
#include <gtest/gtest.h>

using namespace minfer;
using namespace minfer::test;

/// Naive fp64 vertical/slash sums of (b, h) over the last `lastQ` rows.
static void naiveVs(const Problem &p, int64_t b, int64_t h, int64_t lastQ,
                    std::vector<double> &vert, std::vector<double> &slash) {
  const int64_t N = p.s.seqLen, D = p.s.headDim;
  const int64_t kvh = h / (p.s.heads / p.s.kvHeads);
  vert.assign(N, 0.0);
  slash.assign(N, 0.0);
  for (int64_t i = std::max<int64_t>(0, N - lastQ); i < N; ++i) {
    std::vector<double> sc(i + 1);
    double mx = -INFINITY, sum = 0;
    for (int64_t j = 0; j <= i; ++j) {
      double d = 0;
      for (int64_t t = 0; t < D; ++t)
        d += double(p.q[((b * p.s.heads + h) * N + i) * D + t]) *
             p.k[((b * p.s.kvHeads + kvh) * N + j) * D + t];
      sc[j] = d * p.scale;
      mx = std::max(mx, sc[j]);
    }
    for (double &x : sc)
      sum += (x = std::exp(x - mx));
    for (int64_t j = 0; j <= i; ++j) {
      vert[j] += sc[j] / sum;
      slash[i - j] += sc[j] / sum;
    }
  }
}

TEST(VsEstimate, MatchesNaiveComputation) {
  struct Case {
    int64_t N, lastQ, H, Hkv, b, h;
  } cases[] = {{1, 64, 1, 1, 0, 0},    {50, 16, 2, 1, 1, 1},
               {100, 64, 4, 2, 0, 3},  {130, 200, 4, 1, 1, 2},
               {257, 64, 2, 2, 1, 0}};
  for (const Case &c : cases) {
    SCOPED_TRACE("N=" + std::to_string(c.N) + " lastQ=" +
                 std::to_string(c.lastQ));
    Problem p = makeProblem(2, c.H, c.Hkv, c.N, 64, 100 + c.N, 2.0f);
    std::vector<float> vert, slash;
    ASSERT_TRUE(ref::vsEstimate(p.s, p.q, p.k, c.b, c.h, c.lastQ, p.scale,
                                vert, slash)
                    .ok());
    std::vector<double> wantV, wantS;
    naiveVs(p, c.b, c.h, c.lastQ, wantV, wantS);
    ASSERT_EQ(vert.size(), size_t(c.N));
    ASSERT_EQ(slash.size(), size_t(c.N));
    double totalV = 0, totalS = 0;
    for (int64_t j = 0; j < c.N; ++j) {
      EXPECT_NEAR(vert[j], wantV[j], 1e-5) << "vertical " << j;
      EXPECT_NEAR(slash[j], wantS[j], 1e-5) << "slash " << j;
      totalV += vert[j];
      totalS += slash[j];
    }
    // Each estimated row is a softmax: both sums equal the row count.
    double rows = double(std::min(c.lastQ, c.N));
    EXPECT_NEAR(totalV, rows, 1e-3);
    EXPECT_NEAR(totalS, rows, 1e-3);
  }
}

TEST(VsEstimate, GqaReadsTheRightKvHead) {
  // H = 4 over Hkv = 2: heads 2 and 3 read kv head 1. Giving head 3 the same
  // queries as head 1 must give different sums (different keys), and the
  // same as head 1 on a problem whose two kv heads are equal.
  Problem p = makeProblem(1, 4, 2, 96, 64, 3, 2.0f);
  const int64_t per = 96 * 64;
  std::copy(p.q.begin() + per, p.q.begin() + 2 * per, p.q.begin() + 3 * per);
  std::vector<float> v1, s1, v3, s3;
  ASSERT_TRUE(ref::vsEstimate(p.s, p.q, p.k, 0, 1, 64, p.scale, v1, s1).ok());
  ASSERT_TRUE(ref::vsEstimate(p.s, p.q, p.k, 0, 3, 64, p.scale, v3, s3).ok());
  EXPECT_NE(v1, v3);
  std::copy(p.k.begin(), p.k.begin() + per, p.k.begin() + per);
  ASSERT_TRUE(ref::vsEstimate(p.s, p.q, p.k, 0, 1, 64, p.scale, v1, s1).ok());
  ASSERT_TRUE(ref::vsEstimate(p.s, p.q, p.k, 0, 3, 64, p.scale, v3, s3).ok());
  EXPECT_EQ(v1, v3);
  EXPECT_EQ(s1, s3);
}

TEST(VsEstimate, BadArguments) {
  Problem p = makeProblem(1, 2, 1, 70, 64, 1);
  std::vector<float> v, s;
  EXPECT_EQ(ref::vsEstimate(p.s, p.q, p.k, 0, 0, 0, p.scale, v, s).code(),
            ErrorCode::InvalidArgument);
  EXPECT_EQ(ref::vsEstimate(p.s, p.q, p.k, 1, 0, 64, p.scale, v, s).code(),
            ErrorCode::InvalidArgument);
  EXPECT_EQ(ref::vsEstimate(p.s, p.q, p.k, 0, 2, 64, p.scale, v, s).code(),
            ErrorCode::InvalidArgument);
  EXPECT_EQ(ref::vsEstimate(p.s, {}, p.k, 0, 0, 64, p.scale, v, s).code(),
            ErrorCode::InvalidArgument);
  EXPECT_EQ(ref::vsEstimate(p.s, p.q, p.k, 0, 0, 64, NAN, v, s).code(),
            ErrorCode::InvalidArgument);
}

TEST(TopK, TiesForcedAndClamping) {
  using ref::topK;
  const std::vector<float> s = {1, 3, 3, 2, 3, 0};
  EXPECT_EQ(topK(s, 2, 0), (std::vector<int32_t>{1, 2}));    // ties: lower
  EXPECT_EQ(topK(s, 3, 0), (std::vector<int32_t>{1, 2, 4}));
  EXPECT_EQ(topK(s, 4, 0), (std::vector<int32_t>{1, 2, 3, 4}));
  EXPECT_EQ(topK(s, 2, 1), (std::vector<int32_t>{0, 1}));    // 0 forced
  EXPECT_EQ(topK(s, 3, 6), (std::vector<int32_t>{0, 1, 2})); // all forced
  EXPECT_EQ(topK(s, 100, 0), (std::vector<int32_t>{0, 1, 2, 3, 4, 5}));
  EXPECT_EQ(topK(s, 0, 3), std::vector<int32_t>{});
  EXPECT_EQ(topK(s, -4, 0), std::vector<int32_t>{});
  EXPECT_EQ(topK({}, 3, 3), std::vector<int32_t>{});
  EXPECT_EQ(topK(s, 2, 100), (std::vector<int32_t>{0, 1})); // forced > size
  // Infinite scores tie with forced ones, lower index first.
  EXPECT_EQ(topK({0, INFINITY, 5}, 2, 1), (std::vector<int32_t>{0, 1}));
  // NaN ranks below everything, even -inf; deterministic.
  EXPECT_EQ(topK({NAN, -INFINITY, NAN, 1}, 2, 0),
            (std::vector<int32_t>{1, 3}));
  EXPECT_EQ(topK({NAN, NAN}, 1, 0), (std::vector<int32_t>{0}));
}

TEST(TopK, MatchesSlowReferenceOnRandomScores) {
  std::mt19937 rng(9);
  for (int trial = 0; trial < 200; ++trial) {
    int64_t n = 1 + rng() % 300;
    std::vector<float> s(n);
    for (float &x : s)
      x = float(rng() % 16); // heavy ties
    int64_t k = rng() % (n + 3), forced = rng() % (n / 2 + 2);
    EXPECT_EQ(ref::topK(s, k, forced), slowTopK(s, k, forced))
        << "n=" << n << " k=" << k << " forced=" << forced;
  }
}

TEST(BsEstimate, PartialBlockIsMeanOfRealTokens) {
  // N = 100: block 0 has 64 tokens, block 1 has 36. q is 1 in block 0 and
  // 2 in block 1; k is 3 and 4. A zero-padded mean would shrink block 1 by
  // 36/64; the real-token mean keeps it at 2 and 4.
  Problem p = makeProblem(1, 1, 1, 100, 64, 1);
  for (int64_t t = 0; t < 100; ++t)
    for (int64_t d = 0; d < 64; ++d) {
      p.q[t * 64 + d] = t < 64 ? 1.0f : 2.0f;
      p.k[t * 64 + d] = t < 64 ? 3.0f : 4.0f;
    }
  std::vector<float> sc;
  ASSERT_TRUE(ref::bsEstimate(p.s, p.q, p.k, 0, 0, 0.5f, sc).ok());
  ASSERT_EQ(sc.size(), 4u);
  EXPECT_FLOAT_EQ(sc[0], 0.5f * 64 * 1 * 3);
  EXPECT_EQ(sc[1], -INFINITY); // above the block diagonal
  EXPECT_FLOAT_EQ(sc[2], 0.5f * 64 * 2 * 3);
  EXPECT_FLOAT_EQ(sc[3], 0.5f * 64 * 2 * 4);
}

TEST(BsEstimate, MatchesNaivePooling) {
  Problem p = makeProblem(2, 4, 2, 150, 128, 21);
  const int64_t N = 150, D = 128, NB = 3, b = 1, h = 3, kvh = 1;
  std::vector<float> sc;
  ASSERT_TRUE(ref::bsEstimate(p.s, p.q, p.k, b, h, p.scale, sc).ok());
  for (int64_t m = 0; m < NB; ++m)
    for (int64_t n = 0; n < NB; ++n) {
      if (n > m) {
        EXPECT_EQ(sc[m * NB + n], -INFINITY);
        continue;
      }
      double dot = 0;
      for (int64_t d = 0; d < D; ++d) {
        double mq = 0, mk = 0;
        int64_t cq = 0, ck = 0;
        for (int64_t t = 64 * m; t < std::min<int64_t>(64 * m + 64, N); ++t, ++cq)
          mq += p.q[((b * 4 + h) * N + t) * D + d];
        for (int64_t t = 64 * n; t < std::min<int64_t>(64 * n + 64, N); ++t, ++ck)
          mk += p.k[((b * 2 + kvh) * N + t) * D + d];
        dot += (mq / cq) * (mk / ck);
      }
      EXPECT_NEAR(sc[m * NB + n], dot * p.scale, 1e-5) << m << "," << n;
    }
}
