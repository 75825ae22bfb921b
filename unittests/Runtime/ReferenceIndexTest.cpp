//===- ReferenceIndexTest.cpp - index construction vs closed-form masks ---===//
//
// Each fill*Index result is expanded (both by maskFromIndex and by the test's
// own expansion) and compared with SparseIndex.h's closed form evaluated
// element by element; the index invariants and the requiredCapacity bound are
// checked on every index built.
//
//===----------------------------------------------------------------------===//
#include "RefTestUtil.h"
#include <gtest/gtest.h>

using namespace minfer;
using namespace minfer::test;

static const int64_t kLengths[] = {1, 63, 64, 65, 100, 129, 1000};

/// Index for B = 1, H = 2 sized by requiredCapacity of `p`, head 1 is filled.
static SparseIndex sized(const HeadPattern &p, int64_t N,
                         const VsOptions &opts = {}) {
  auto [r, c] = ref::requiredCapacity({HeadPattern::dense(), p}, N, opts);
  SparseIndex x;
  x.resize(1, 2, N, r, c);
  return x;
}

/// Invariants, capacity, and both expansions equal `want`.
static void expectMask(const SparseIndex &x, const Mask &want,
                       const std::string &what) {
  SCOPED_TRACE(what);
  EXPECT_EQ(indexProblem(x), "");
  EXPECT_TRUE(ref::validateIndex(x).ok()) << ref::validateIndex(x).str();
  EXPECT_TRUE(expandIndex(x, 0, 1) == want) << "index differs from closed form";
  EXPECT_TRUE(ref::maskFromIndex(x, 0, 1) == want)
      << "maskFromIndex differs from closed form";
}

TEST(ReferenceIndex, DenseMatchesClosedForm) {
  for (int64_t N : kLengths) {
    SparseIndex x = sized(HeadPattern::dense(), N);
    ASSERT_TRUE(ref::fillDenseIndex(x, 0, 1).ok());
    expectMask(x, denseMask(N), "N=" + std::to_string(N));
    EXPECT_EQ(x.maxRanges, 1);
    EXPECT_EQ(x.maxColumns, 0);
  }
}

TEST(ReferenceIndex, AShapeMatchesClosedForm) {
  const std::pair<int64_t, int64_t> budgets[] = {
      {0, 1},  {1, 1},   {4, 64},  {64, 64}, {63, 2},
      {100, 30}, {128, 256}, {5, 1000}, {2000, 1}, {0, 1 << 30}};
  for (int64_t N : kLengths)
    for (auto [sink, local] : budgets) {
      SparseIndex x = sized(HeadPattern::aShape(sink, local), N);
      ASSERT_TRUE(ref::fillAShapeIndex(x, 0, 1, sink, local).ok());
      expectMask(x, aShapeMask(N, sink, local),
                 "N=" + std::to_string(N) + " sink=" + std::to_string(sink) +
                     " local=" + std::to_string(local));
    }
}

/// Top min(k, m+1) blocks by score, ties to the lower block (test-side).
static std::vector<std::vector<int64_t>>
selectBlocks(const std::vector<float> &scores, int64_t NB, int64_t k) {
  std::vector<std::vector<int64_t>> sel(NB);
  for (int64_t m = 0; m < NB; ++m) {
    std::vector<int64_t> c;
    for (int64_t n = 0; n <= m; ++n)
      c.push_back(n);
    std::stable_sort(c.begin(), c.end(), [&](int64_t a, int64_t b) {
      return scores[m * NB + a] > scores[m * NB + b];
    });
    c.resize(std::min<int64_t>(k, m + 1));
    sel[m] = c;
  }
  return sel;
}

TEST(ReferenceIndex, BlockSparseMatchesClosedForm) {
  std::mt19937 rng(7);
  for (int64_t N : kLengths) {
    const int64_t NB = numQueryBlocks(N);
    // Scores from a 4-value alphabet: plenty of ties to break.
    std::vector<float> scores(NB * NB);
    for (float &s : scores)
      s = float(rng() % 4);
    for (int64_t k : {int64_t(1), int64_t(2), int64_t(3), NB, NB + 5}) {
      SparseIndex x = sized(HeadPattern::blockSparse(k), N);
      ASSERT_TRUE(ref::fillBsIndex(x, 0, 1, scores, k).ok());
      expectMask(x, blockMask(N, selectBlocks(scores, NB, k)),
                 "N=" + std::to_string(N) + " k=" + std::to_string(k));
    }
  }
}

TEST(ReferenceIndex, BlockSparseIgnoresScoresAboveDiagonal) {
  const int64_t N = 200, NB = 4;
  std::vector<float> scores(NB * NB, 0.0f);
  for (int64_t m = 0; m < NB; ++m)
    for (int64_t n = m + 1; n < NB; ++n)
      scores[m * NB + n] = 1e9f; // must never be picked
  SparseIndex x = sized(HeadPattern::blockSparse(1), N);
  ASSERT_TRUE(ref::fillBsIndex(x, 0, 1, scores, 1).ok());
  // All candidates tie at 0: block 0 wins everywhere.
  expectMask(x, blockMask(N, {{0}, {0}, {0}, {0}}), "ties to block 0");
}

/// Random selection of `count` distinct values in [0, N).
static std::vector<int32_t> randomSubset(int64_t N, int64_t count,
                                         std::mt19937 &rng) {
  std::vector<int32_t> all(N);
  for (int64_t i = 0; i < N; ++i)
    all[i] = int32_t(i);
  std::shuffle(all.begin(), all.end(), rng);
  all.resize(std::min(count, N));
  return all; // unsorted on purpose: fillVsIndex must not care
}

TEST(ReferenceIndex, VerticalSlashMatchesClosedForm) {
  std::mt19937 rng(11);
  VsOptions none{0, 0}; // budgets = exactly the selections below
  for (int64_t N : kLengths)
    for (int64_t budget : {int64_t(1), int64_t(3), int64_t(17), N / 2 + 1, N}) {
      std::vector<int32_t> verts = randomSubset(N, budget, rng);
      std::vector<int32_t> offs = randomSubset(N, budget, rng);
      SparseIndex x =
          sized(HeadPattern::verticalSlash(budget, budget), N, none);
      Status st = ref::fillVsIndex(x, 0, 1, verts, offs);
      ASSERT_TRUE(st.ok()) << st.str();
      expectMask(x, vsMask(N, verts, offs),
                 "N=" + std::to_string(N) + " budget=" + std::to_string(budget));
    }
}

TEST(ReferenceIndex, VerticalSlashNearDiagonalAndForcedShapes) {
  // The MInference-default shape: the first columns and nearest diagonals.
  for (int64_t N : kLengths) {
    std::vector<int32_t> verts, offs;
    for (int32_t j = 0; j < std::min<int64_t>(30, N); ++j)
      verts.push_back(j);
    for (int32_t o = 0; o < std::min<int64_t>(100, N); ++o)
      offs.push_back(o);
    SparseIndex x = sized(HeadPattern::verticalSlash(30, 100), N);
    ASSERT_TRUE(ref::fillVsIndex(x, 0, 1, verts, offs).ok());
    expectMask(x, vsMask(N, verts, offs), "N=" + std::to_string(N));
  }
}

TEST(ReferenceIndex, VerticalSlashCapacityBoundIsTight) {
  // Offsets two apart in a 1-row last block (N = 129) give single-token
  // windows separated by gaps: far more ranges than NB + 1 = 4.
  const int64_t N = 129;
  std::vector<int32_t> offs;
  for (int32_t o = 0; o < N; o += 2)
    offs.push_back(o);
  VsOptions none{0, 0};
  SparseIndex x = sized(HeadPattern::verticalSlash(1, int64_t(offs.size())),
                        N, none);
  ASSERT_TRUE(ref::fillVsIndex(x, 0, 1, {0}, offs).ok());
  int64_t last = x.rangeCount[x.row(0, 1, 2)];
  EXPECT_EQ(last, 65); // {128, 126, ..., 0}: every even token
  EXPECT_GT(last, numQueryBlocks(N) + 1);
  EXPECT_LE(last, x.maxRanges);
  expectMask(x, vsMask(N, {0}, offs), "even offsets");
}

TEST(ReferenceIndex, CapacityNeverExceededByAdversarialSelections) {
  std::mt19937 rng(5);
  VsOptions none{0, 0};
  for (int64_t N : kLengths)
    for (int64_t stride : {1, 2, 3, 65, 66}) {
      std::vector<int32_t> offs;
      for (int64_t o = int64_t(rng() % 3); o < N; o += stride)
        offs.push_back(int32_t(o));
      if (offs.empty())
        continue;
      std::vector<int32_t> verts = randomSubset(N, int64_t(offs.size()), rng);
      int64_t S = int64_t(offs.size());
      SparseIndex x = sized(HeadPattern::verticalSlash(S, S), N, none);
      Status st = ref::fillVsIndex(x, 0, 1, verts, offs);
      ASSERT_TRUE(st.ok()) << "N=" << N << " stride=" << stride << ": "
                           << st.str();
      EXPECT_EQ(indexProblem(x), "");
    }
  // Random lengths and selections of every size.
  for (int trial = 0; trial < 300; ++trial) {
    int64_t N = 1 + rng() % 400, S = 1 + rng() % N, V = 1 + rng() % N;
    std::vector<int32_t> offs = randomSubset(N, S, rng);
    std::vector<int32_t> verts = randomSubset(N, V, rng);
    SparseIndex x = sized(HeadPattern::verticalSlash(V, S), N, none);
    Status st = ref::fillVsIndex(x, 0, 1, verts, offs);
    ASSERT_TRUE(st.ok()) << "N=" << N << " S=" << S << ": " << st.str();
  }
  // Block-sparse: every other block selected is the worst case.
  for (int64_t N : kLengths) {
    int64_t NB = numQueryBlocks(N);
    std::vector<float> scores(NB * NB);
    for (int64_t m = 0; m < NB; ++m)
      for (int64_t n = 0; n < NB; ++n)
        scores[m * NB + n] = float((m - n) % 2 == 0);
    SparseIndex x = sized(HeadPattern::blockSparse(NB), N);
    EXPECT_TRUE(ref::fillBsIndex(x, 0, 1, scores, (NB + 1) / 2).ok());
  }
}

TEST(ReferenceIndex, RequiredCapacityValues) {
  using ref::requiredCapacity;
  EXPECT_EQ(requiredCapacity({HeadPattern::dense()}, 1000),
            std::make_pair(int64_t(1), int64_t(0)));
  // Sink and window apart in the last block only if 5 < 960 - 100 + 1.
  EXPECT_EQ(requiredCapacity({HeadPattern::aShape(5, 100)}, 1000).first, 2);
  EXPECT_EQ(requiredCapacity({HeadPattern::aShape(0, 100)}, 1000).first, 1);
  EXPECT_EQ(requiredCapacity({HeadPattern::aShape(900, 100)}, 1000).first, 1);
  EXPECT_EQ(requiredCapacity({HeadPattern::aShape(5, 2000)}, 1000).first, 1);
  // NB = 16: at most 8 non-adjacent block ranges.
  EXPECT_EQ(requiredCapacity({HeadPattern::blockSparse(3)}, 1000).first, 3);
  EXPECT_EQ(requiredCapacity({HeadPattern::blockSparse(100)}, 1000).first, 8);
  // Vertical budget clamps to N; forced minimums apply.
  EXPECT_EQ(requiredCapacity({HeadPattern::verticalSlash(5000, 1)}, 1000).second,
            1000);
  EXPECT_EQ(requiredCapacity({HeadPattern::verticalSlash(1, 1)}, 1000).second,
            30);
  EXPECT_EQ(requiredCapacity({HeadPattern::verticalSlash(1, 1)}, 1000,
                             VsOptions{0, 0}),
            std::make_pair(int64_t(1), int64_t(1)));
  // Slash budget 1 is raised to the 100 forced diagonals. Full blocks fit
  // at most 1 + (960 - 1) / 65 = 15 ranges, but the 40-row last block
  // (e = 1000) fits 1 + 999 / 41 = 25.
  EXPECT_EQ(requiredCapacity({HeadPattern::verticalSlash(40, 1)}, 1000),
            std::make_pair(int64_t(25), int64_t(40)));
  EXPECT_EQ(requiredCapacity({HeadPattern::verticalSlash(40, 1)}, 960),
            std::make_pair(int64_t(15), int64_t(40)));
  EXPECT_EQ(requiredCapacity({HeadPattern::verticalSlash(40, 7)}, 1000,
                             VsOptions{0, 0}),
            std::make_pair(int64_t(7), int64_t(40)));
  // Max over heads; empty layer or N <= 0 needs nothing.
  EXPECT_EQ(requiredCapacity({HeadPattern::dense(), HeadPattern::blockSparse(5),
                              HeadPattern::verticalSlash(40, 3)},
                             1000, VsOptions{0, 0}),
            std::make_pair(int64_t(5), int64_t(40)));
  EXPECT_EQ(requiredCapacity({}, 1000), std::make_pair(int64_t(0), int64_t(0)));
  EXPECT_EQ(requiredCapacity({HeadPattern::dense()}, 0),
            std::make_pair(int64_t(0), int64_t(0)));
}

TEST(ReferenceIndex, FillErrorsAreStatuses) {
  SparseIndex x;
  x.resize(1, 2, 100, 1, 1);
  EXPECT_EQ(ref::fillDenseIndex(x, 0, 2).code(), ErrorCode::InvalidArgument);
  EXPECT_EQ(ref::fillDenseIndex(x, -1, 0).code(), ErrorCode::InvalidArgument);
  // Capacity 1 cannot hold two separate slash windows.
  Status st = ref::fillVsIndex(x, 0, 0, {}, {0, 70});
  EXPECT_EQ(st.code(), ErrorCode::InvalidArgument);
  EXPECT_NE(st.message().find("requiredCapacity"), std::string::npos);
  EXPECT_EQ(ref::fillVsIndex(x, 0, 0, {0, 1}, {0}).code(),
            ErrorCode::InvalidArgument); // block 1 needs columns {0, 1}
  EXPECT_EQ(ref::fillVsIndex(x, 0, 0, {-1}, {0}).code(),
            ErrorCode::InvalidArgument);
  EXPECT_EQ(ref::fillVsIndex(x, 0, 0, {0}, {100}).code(),
            ErrorCode::InvalidArgument);
  EXPECT_EQ(ref::fillAShapeIndex(x, 0, 0, 4, 0).code(),
            ErrorCode::InvalidArgument);
  EXPECT_EQ(ref::fillBsIndex(x, 0, 0, std::vector<float>(3), 1).code(),
            ErrorCode::InvalidArgument);
  EXPECT_EQ(ref::fillBsIndex(x, 0, 0, std::vector<float>(4), 0).code(),
            ErrorCode::InvalidArgument);
  // Vectors not sized by resize(): refused, not read out of bounds.
  SparseIndex broken = x;
  broken.ranges.pop_back();
  EXPECT_EQ(ref::fillDenseIndex(broken, 0, 0).code(),
            ErrorCode::InvalidArgument);
  EXPECT_TRUE(ref::maskFromIndex(broken, 0, 0).empty());
  EXPECT_TRUE(ref::maskFromIndex(x, 0, 5).empty());
}

TEST(ReferenceIndex, ValidateIndexCatchesEachViolation) {
  SparseIndex good;
  good.resize(1, 1, 100, 3, 2);
  ASSERT_TRUE(ref::fillVsIndex(good, 0, 0, {1, 50}, {0, 40}).ok());
  ASSERT_TRUE(ref::validateIndex(good).ok());
  // Block 1 (rows 64..99): ranges [24, 60), [64, 100); columns {1}.
  const int64_t row = good.row(0, 0, 1);
  ASSERT_EQ(good.rangeCount[row], 2);
  ASSERT_EQ(good.ranges[row * 6 + 0], 24);
  ASSERT_EQ(good.ranges[row * 6 + 3], 100);
  ASSERT_EQ(good.columnCount[row], 1);

  auto expectBad = [&](const char *what, auto mutate) {
    SparseIndex x = good;
    mutate(x);
    Status st = ref::validateIndex(x);
    EXPECT_EQ(st.code(), ErrorCode::InvalidArgument) << what;
    // The executor refuses it too rather than counting keys twice.
    std::vector<float> t(6400, 0.5f), out;
    EXPECT_FALSE(ref::indexedAttention(AttentionShape{1, 1, 1, 100, 64}, t, t,
                                       t, 1.0f, x, out)
                     .ok())
        << what;
  };
  expectBad("count > capacity", [&](SparseIndex &x) { x.rangeCount[row] = 4; });
  expectBad("negative count", [&](SparseIndex &x) { x.columnCount[row] = -1; });
  expectBad("end past e_m", [&](SparseIndex &x) { x.ranges[row * 6 + 3] = 101; });
  expectBad("empty range", [&](SparseIndex &x) { x.ranges[row * 6 + 1] = 24; });
  expectBad("adjacent", [&](SparseIndex &x) { x.ranges[row * 6 + 1] = 64; });
  expectBad("overlap", [&](SparseIndex &x) { x.ranges[row * 6 + 2] = 50; });
  expectBad("column in range", [&](SparseIndex &x) {
    x.columnIndex[row * 2] = 30;
  });
  expectBad("columns unsorted", [&](SparseIndex &x) {
    x.columnCount[row] = 2;
    x.columnIndex[row * 2] = 5;
    x.columnIndex[row * 2 + 1] = 3;
  });
  expectBad("column past e_m", [&](SparseIndex &x) {
    x.columnCount[x.row(0, 0, 0)] = 1;
    x.columnIndex[x.row(0, 0, 0) * 2] = 64;
  });
  expectBad("size mismatch", [&](SparseIndex &x) { x.columnIndex.push_back(0); });
}
