//===- CudaIndexTest.cpp - GPU index construction vs the CPU reference ----===//
//
// For N in {1, 63, 64, 65, 100, 4097, 16421}, a layer mixing every pattern
// (with GQA) is indexed on the GPU (indexOnly, so no attention PTX is needed)
// and compared with the CPU reference on the same rounded inputs:
//   - dense and a_shape rows: identical;
//   - vertical-slash: scores close to ref::vsEstimate's; selections equal to
//     ref::topK's except for near-ties (elements whose reference score is
//     within rounding of the k-th); the GPU index rows identical to
//     ref::fillVsIndex of the GPU's own selections (the conversion is exact);
//   - block-sparse: selected blocks equal to ref::topK of ref::bsEstimate's
//     scores except for near-ties, rows identical where they agree.
// Also: caller-given MInference indices, and chunked/banded execution under
// a tiny workspace budget giving the same index as one chunk.
//
//===----------------------------------------------------------------------===//
#include "CudaTestUtil.h"

#include <algorithm>
#include <cmath>
#include <random>
#include <set>

namespace minfer::cuda::testing {
namespace {

using kernel::ElemType;

const int64_t kLengths[] = {1, 63, 64, 65, 100, 4097, 16421};

LayerPatterns mixedLayer() {
  return {HeadPattern::verticalSlash(40, 150, 64),
          HeadPattern::aShape(64, 300),
          HeadPattern::blockSparse(3),
          HeadPattern::dense(),
          HeadPattern::verticalSlash(100, 60, 128),
          HeadPattern::blockSparse(40)};
}

/// All rows of head (b, h) equal (counts and used entries).
::testing::AssertionResult headRowsEqual(const SparseIndex &a,
                                         const SparseIndex &c, int64_t b,
                                         int64_t h) {
  for (int64_t m = 0; m < a.numBlocks(); ++m) {
    const int64_t ra = a.row(b, h, m), rc = c.row(b, h, m);
    auto fail = [&](const std::string &what) {
      return ::testing::AssertionFailure()
             << "(b " << b << ", h " << h << ", block " << m << "): " << what;
    };
    if (a.rangeCount[ra] != c.rangeCount[rc])
      return fail("range_count " + std::to_string(a.rangeCount[ra]) + " vs " +
                  std::to_string(c.rangeCount[rc]));
    if (a.columnCount[ra] != c.columnCount[rc])
      return fail("column_count " + std::to_string(a.columnCount[ra]) +
                  " vs " + std::to_string(c.columnCount[rc]));
    for (int64_t x = 0; x < 2 * a.rangeCount[ra]; ++x)
      if (a.ranges[ra * a.maxRanges * 2 + x] != c.ranges[rc * c.maxRanges * 2 + x])
        return fail("range entry " + std::to_string(x) + ": " +
                    std::to_string(a.ranges[ra * a.maxRanges * 2 + x]) + " vs " +
                    std::to_string(c.ranges[rc * c.maxRanges * 2 + x]));
    for (int64_t x = 0; x < a.columnCount[ra]; ++x)
      if (a.columnIndex[ra * a.maxColumns + x] != c.columnIndex[rc * c.maxColumns + x])
        return fail("column " + std::to_string(x));
  }
  return ::testing::AssertionSuccess();
}

/// gpu == cpu, or they differ only in elements whose score is within
/// rounding of the selection threshold (the k-th largest reference score).
::testing::AssertionResult selectionsAgree(const std::vector<int32_t> &gpu,
                                           const std::vector<int32_t> &cpu,
                                           const std::vector<float> &scores,
                                           int64_t forced, int64_t *ties) {
  if (gpu == cpu)
    return ::testing::AssertionSuccess();
  if (gpu.size() != cpu.size())
    return ::testing::AssertionFailure()
           << "selected " << gpu.size() << " vs " << cpu.size();
  auto score = [&](int32_t i) -> double {
    return i < forced ? INFINITY : scores[i];
  };
  double thr = INFINITY;
  for (int32_t x : cpu)
    thr = std::min(thr, score(x));
  std::set<int32_t> g(gpu.begin(), gpu.end()), c(cpu.begin(), cpu.end());
  for (const std::set<int32_t> *s : {&g, &c})
    for (int32_t x : *s) {
      if (g.count(x) && c.count(x))
        continue;
      const double d = std::fabs(score(x) - thr);
      if (!(d <= 1e-3 * std::fabs(thr) + 1e-7))
        return ::testing::AssertionFailure()
               << "element " << x << " (score " << score(x)
               << ") is selected by only one side; threshold " << thr;
      ++*ties;
    }
  return ::testing::AssertionSuccess();
}

/// Blocks covered by the ranges of one index row.
std::vector<int32_t> blocksOf(const SparseIndex &x, int64_t row) {
  std::vector<int32_t> out;
  for (int64_t r = 0; r < x.rangeCount[row]; ++r) {
    const int32_t lo = x.ranges[row * x.maxRanges * 2 + 2 * r];
    const int32_t hi = x.ranges[row * x.maxRanges * 2 + 2 * r + 1];
    for (int32_t b = lo / 64; b <= (hi - 1) / 64; ++b)
      out.push_back(b);
  }
  return out;
}

struct IndexRun {
  AttentionShape s;
  float scale = 0;
  DeviceAttention da;
  SparseIndex gpu, cpu;
  std::vector<std::vector<int32_t>> sel;
  std::vector<std::vector<float>> scores;
};

void buildBoth(Runtime &rt, const LayerPatterns &layer, int64_t N, int64_t B,
               int64_t H, int64_t Hkv, int64_t D, ElemType elem, uint64_t seed,
               IndexRun *run) {
  run->s.batch = B;
  run->s.heads = H;
  run->s.kvHeads = Hkv;
  run->s.seqLen = N;
  run->s.headDim = D;
  run->scale = 1.0f / std::sqrt(float(D));
  MINFER_ASSERT_OK(run->da.create(rt, run->s, elem, run->scale, seed));
  RunOptions o;
  o.indexOnly = true;
  o.checkIndex = true;
  o.indexOut = &run->gpu;
  o.vsSelections = &run->sel;
  o.vsScores = &run->scores;
  MINFER_ASSERT_OK(rt.sparseAttention(run->da.tensors, layer, o));
  MINFER_ASSERT_OK(ref::validateIndex(run->gpu));
  MINFER_ASSERT_OK(ref::buildIndex(run->s, run->da.hq.values, run->da.hk.values,
                                   run->scale, layer, run->cpu));
  ASSERT_EQ(run->gpu.maxRanges, run->cpu.maxRanges);
  ASSERT_EQ(run->gpu.maxColumns, run->cpu.maxColumns);
}

void checkAgainstReference(const LayerPatterns &layer, IndexRun &run,
                           int64_t *ties) {
  const AttentionShape &s = run.s;
  const VsOptions vs;
  for (int64_t b = 0; b < s.batch; ++b)
    for (int64_t h = 0; h < s.heads; ++h) {
      SCOPED_TRACE("N " + std::to_string(s.seqLen) + ", b " +
                   std::to_string(b) + ", head " + std::to_string(h));
      const HeadPattern &p = layer[h];
      switch (p.kind) {
      case PatternKind::Dense:
      case PatternKind::AShape:
        EXPECT_TRUE(headRowsEqual(run.gpu, run.cpu, b, h));
        break;
      case PatternKind::VerticalSlash: {
        std::vector<float> vert, slash;
        MINFER_ASSERT_OK(ref::vsEstimate(s, run.da.hq.values, run.da.hk.values,
                                         b, h, p.lastQ, run.scale, vert, slash));
        const int64_t i = 2 * (b * s.heads + h);
        ASSERT_EQ(run.scores[i].size(), vert.size());
        for (size_t j = 0; j < vert.size(); ++j) {
          ASSERT_NEAR(run.scores[i][j], vert[j], 1e-4 + 1e-3 * vert[j]) << j;
          ASSERT_NEAR(run.scores[i + 1][j], slash[j], 1e-4 + 1e-3 * slash[j]) << j;
        }
        auto [kv, ks] = ref::vsEffectiveBudgets(p, s.seqLen, vs);
        EXPECT_TRUE(selectionsAgree(run.sel[i], ref::topK(vert, kv, vs.forcedVertical),
                                    vert, vs.forcedVertical, ties));
        EXPECT_TRUE(selectionsAgree(run.sel[i + 1], ref::topK(slash, ks, vs.forcedSlash),
                                    slash, vs.forcedSlash, ties));
        // The conversion itself is exact.
        SparseIndex fromGpu = run.gpu;
        MINFER_ASSERT_OK(ref::fillVsIndex(fromGpu, b, h, run.sel[i], run.sel[i + 1]));
        EXPECT_TRUE(headRowsEqual(run.gpu, fromGpu, b, h));
        break;
      }
      case PatternKind::BlockSparse: {
        std::vector<float> scores;
        MINFER_ASSERT_OK(ref::bsEstimate(s, run.da.hq.values, run.da.hk.values,
                                         b, h, run.scale, scores));
        const int64_t NB = numQueryBlocks(s.seqLen);
        for (int64_t m = 0; m < NB; ++m) {
          std::vector<float> row(scores.begin() + m * NB,
                                 scores.begin() + m * NB + m + 1);
          const std::vector<int32_t> g = blocksOf(run.gpu, run.gpu.row(b, h, m));
          const std::vector<int32_t> c = ref::topK(row, p.topK, 0);
          ASSERT_TRUE(selectionsAgree(g, c, row, 0, ties)) << "block " << m;
          if (g == c) {
            const int64_t rg = run.gpu.row(b, h, m), rc = run.cpu.row(b, h, m);
            ASSERT_EQ(run.gpu.rangeCount[rg], run.cpu.rangeCount[rc]) << m;
            for (int64_t x = 0; x < 2 * run.gpu.rangeCount[rg]; ++x)
              ASSERT_EQ(run.gpu.ranges[rg * run.gpu.maxRanges * 2 + x],
                        run.cpu.ranges[rc * run.cpu.maxRanges * 2 + x]);
          }
        }
        break;
      }
      }
    }
}

TEST(CudaIndex, MixedLayerMatchesReference) {
  MINFER_REQUIRE_GPU(rt);
  int64_t ties = 0;
  uint64_t seed = 11;
  for (int64_t N : kLengths) {
    // Alternate dtype and head dim; H = 6 over Hkv = 2 (GQA groups of 3).
    const bool odd = (seed++ % 2) == 1;
    IndexRun run;
    const LayerPatterns layer = mixedLayer();
    buildBoth(*rt, layer, N, 1, 6, 2, odd ? 64 : 128,
              odd ? ElemType::F16 : ElemType::BF16, seed, &run);
    if (HasFatalFailure())
      return;
    checkAgainstReference(layer, run, &ties);
    if (HasFatalFailure())
      return;
  }
  // Near-ties are legitimate but must stay rare on random inputs.
  EXPECT_LT(ties, 200);
}

TEST(CudaIndex, BatchAndFullGroups) {
  MINFER_REQUIRE_GPU(rt);
  int64_t ties = 0;
  // last_q 1024: 16 row chunks per estimation CTA and 1024-key tiles.
  const LayerPatterns layer = {HeadPattern::verticalSlash(64, 64, 1024),
                               HeadPattern::blockSparse(5),
                               HeadPattern::aShape(0, 64),
                               HeadPattern::verticalSlash(7, 500, 16)};
  IndexRun run;
  buildBoth(*rt, layer, 2000, 2, 4, 4, 128, ElemType::BF16, 99, &run);
  if (HasFatalFailure())
    return;
  checkAgainstReference(layer, run, &ties);
}

/// Both pooled-score kernels (RuntimeOptions::blockSparseScores: 1 mma.sync,
/// 2 wgmma, which is mma.sync again off sm_90a) pick the reference's blocks
/// up to near-ties: partial 128-row tiles, several column tiles, both head
/// dims and element types, top-k from 1 to past the row length. On sm_90a
/// the two kernels' indices also agree with each other up to near-ties (the
/// same products, summed in another order).
TEST(CudaIndex, BlockSparseScoreKernelsMatchReference) {
  MINFER_REQUIRE_GPU(shared);
  RuntimeOptions ro;
  ro.ptxDir = shared->ptxDir();
  ro.blockSparseScores = 3;
  std::unique_ptr<Runtime> rts[2];
  EXPECT_EQ(Runtime::create(&rts[0], ro).code(), ErrorCode::InvalidArgument);
  for (int kernel : {1, 2}) {
    ro.blockSparseScores = kernel;
    MINFER_ASSERT_OK(Runtime::create(&rts[kernel - 1], ro));
  }
  const LayerPatterns layer = {
      HeadPattern::blockSparse(1), HeadPattern::blockSparse(8),
      HeadPattern::blockSparse(100), HeadPattern::blockSparse(1000)};
  struct Case {
    int64_t n, headDim;
    ElemType elem;
  };
  const Case cases[] = {{65, 128, ElemType::BF16},
                        {8193, 64, ElemType::F16},
                        {20000, 128, ElemType::BF16},
                        {41000, 128, ElemType::F16}};
  int64_t ties = 0;
  uint64_t seed = 31;
  for (const Case &c : cases) {
    IndexRun runs[2];
    for (int kernel : {1, 2}) {
      SCOPED_TRACE("score kernel " + std::to_string(kernel));
      IndexRun &run = runs[kernel - 1];
      buildBoth(*rts[kernel - 1], layer, c.n, 1, 4, 2, c.headDim, c.elem, seed, &run);
      if (HasFatalFailure())
        return;
      checkAgainstReference(layer, run, &ties);
      if (HasFatalFailure())
        return;
    }
    ++seed;
    // Same inputs (same seed): the two GPU indices agree up to near-ties.
    std::vector<float> scores;
    for (int64_t h = 0; h < 4; ++h) {
      MINFER_ASSERT_OK(ref::bsEstimate(runs[0].s, runs[0].da.hq.values,
                                       runs[0].da.hk.values, 0, h,
                                       runs[0].scale, scores));
      const int64_t NB = numQueryBlocks(c.n);
      for (int64_t m = 0; m < NB; ++m) {
        std::vector<float> row(scores.begin() + m * NB,
                               scores.begin() + m * NB + m + 1);
        ASSERT_TRUE(selectionsAgree(blocksOf(runs[0].gpu, runs[0].gpu.row(0, h, m)),
                                    blocksOf(runs[1].gpu, runs[1].gpu.row(0, h, m)),
                                    row, 0, &ties))
            << "N " << c.n << ", head " << h << ", block " << m;
      }
    }
  }
  EXPECT_LT(ties, 200);
}

TEST(CudaIndex, ChunkedAndBandedIsIdentical) {
  MINFER_REQUIRE_GPU(rt);
  const LayerPatterns layer = mixedLayer();
  AttentionShape s;
  s.heads = 6;
  s.kvHeads = 2;
  s.seqLen = 16421;
  s.headDim = 128;
  DeviceAttention da;
  MINFER_ASSERT_OK(da.create(*rt, s, ElemType::BF16, 0.088f, 5));
  SparseIndex whole, chunked;
  RunStats a, b;
  RunOptions o;
  o.indexOnly = true;
  o.checkIndex = true;
  o.indexOut = &whole;
  o.stats = &a;
  MINFER_ASSERT_OK(rt->sparseAttention(da.tensors, layer, o));
  o.indexOut = &chunked;
  o.stats = &b;
  o.workspaceBudget = 1 << 16; // forces one head per chunk and 64-row bands
  MINFER_ASSERT_OK(rt->sparseAttention(da.tensors, layer, o));
  EXPECT_EQ(a.chunks, 1);
  EXPECT_EQ(b.chunks, 6);
  EXPECT_EQ(whole.rangeCount, chunked.rangeCount);
  EXPECT_EQ(whole.ranges, chunked.ranges);
  EXPECT_EQ(whole.columnCount, chunked.columnCount);
  EXPECT_EQ(whole.columnIndex, chunked.columnIndex);
}

TEST(CudaIndex, CallerGivenVerticalSlashIndices) {
  MINFER_REQUIRE_GPU(rt);
  for (int64_t N : kLengths) {
    AttentionShape s;
    s.batch = 2;
    s.heads = 2;
    s.kvHeads = 1;
    s.seqLen = N;
    s.headDim = 64;
    DeviceAttention da;
    MINFER_ASSERT_OK(da.create(*rt, s, ElemType::F16, 0.125f, 17));
    const int64_t nnzV = 50, nnzS = 40, heads = s.batch * s.heads;
    std::vector<int32_t> vIdx(heads * nnzV), sIdx(heads * nnzS);
    std::mt19937 gen(static_cast<uint32_t>(N));
    // Duplicates, negatives and values >= N must be ignored.
    std::uniform_int_distribution<int32_t> dist(-3, static_cast<int32_t>(N) + 3);
    for (int32_t &x : vIdx)
      x = dist(gen);
    for (int32_t &x : sIdx)
      x = dist(gen);
    sIdx[0] = 0; // the main diagonal, as MInference always selects it
    SparseIndex gpu;
    RunOptions o;
    o.indexOnly = true;
    o.checkIndex = true;
    o.indexOut = &gpu;
    MINFER_ASSERT_OK(
        verticalSlashFromHost(*rt, da.tensors, vIdx, sIdx, nnzV, nnzS, o));
    MINFER_ASSERT_OK(ref::validateIndex(gpu));
    SparseIndex want;
    want.resize(s.batch, s.heads, N, gpu.maxRanges, gpu.maxColumns);
    for (int64_t bh = 0; bh < heads; ++bh) {
      auto keep = [N](const int32_t *p, int64_t n) {
        std::vector<int32_t> out;
        for (int64_t i = 0; i < n; ++i)
          if (p[i] >= 0 && p[i] < N)
            out.push_back(p[i]);
        return out;
      };
      MINFER_ASSERT_OK(ref::fillVsIndex(want, bh / s.heads, bh % s.heads,
                                        keep(vIdx.data() + bh * nnzV, nnzV),
                                        keep(sIdx.data() + bh * nnzS, nnzS)));
    }
    EXPECT_EQ(gpu.rangeCount, want.rangeCount) << N;
    EXPECT_EQ(gpu.ranges, want.ranges) << N;
    EXPECT_EQ(gpu.columnCount, want.columnCount) << N;
    EXPECT_EQ(gpu.columnIndex, want.columnIndex) << N;
  }
}

/// RunStats::keptPairs counts exactly the pairs of the executed mask.
TEST(CudaIndex, KeptPairsMatchTheMask) {
  MINFER_REQUIRE_GPU(rt);
  const LayerPatterns layer = mixedLayer();
  AttentionShape s;
  s.batch = 2;
  s.heads = 6;
  s.kvHeads = 2;
  s.seqLen = 1000;
  s.headDim = 64;
  DeviceAttention da;
  MINFER_ASSERT_OK(da.create(*rt, s, ElemType::BF16, 0.125f, 4));
  SparseIndex gpu;
  RunStats stats;
  RunOptions o;
  o.indexOnly = true;
  o.countKept = true;
  o.indexOut = &gpu;
  o.stats = &stats;
  MINFER_ASSERT_OK(rt->sparseAttention(da.tensors, layer, o));
  double want = 0;
  for (int64_t b = 0; b < s.batch; ++b)
    for (int64_t h = 0; h < s.heads; ++h)
      for (uint8_t x : ref::maskFromIndex(gpu, b, h))
        want += x;
  EXPECT_EQ(stats.keptPairs, want);
  // Dense: the causal triangle.
  MINFER_ASSERT_OK(rt->sparseAttention(da.tensors, LayerPatterns(6), o));
  EXPECT_EQ(stats.keptPairs, 2.0 * 6 * 1000 * 1001 / 2);
}

/// Offset runs (gaps <= 64 merge in full blocks) that start below a block,
/// continue past its end, touch 0, or sit exactly 64 apart: the block's
/// ranges must still equal the window-by-window reference.
TEST(CudaIndex, OffsetRunsAcrossBlocks) {
  MINFER_REQUIRE_GPU(rt);
  const int64_t N = 1100;
  AttentionShape s;
  s.seqLen = N;
  s.headDim = 64;
  DeviceAttention da;
  MINFER_ASSERT_OK(da.create(*rt, s, ElemType::BF16, 0.125f, 8));
  std::vector<int32_t> offs = {0,   64,  128, 130, 192, 300, 364, 365,
                               429, 500, 563, 640, 704, 768, 1000, 1099};
  std::vector<int32_t> cols = {1, 65, 129, 131, 640, 700, 1098};
  SparseIndex gpu;
  RunOptions o;
  o.indexOnly = true;
  o.checkIndex = true;
  o.indexOut = &gpu;
  MINFER_ASSERT_OK(verticalSlashFromHost(*rt, da.tensors, cols, offs,
                                         (int64_t)cols.size(),
                                         (int64_t)offs.size(), o));
  MINFER_ASSERT_OK(ref::validateIndex(gpu));
  SparseIndex want;
  want.resize(1, 1, N, gpu.maxRanges, gpu.maxColumns);
  MINFER_ASSERT_OK(ref::fillVsIndex(want, 0, 0, cols, offs));
  EXPECT_TRUE(headRowsEqual(gpu, want, 0, 0));
}

/// Exact ties: identical K rows give bit-identical vertical sums on both
/// sides (each column is summed over the same rows in the same order), and
/// there are more tied columns than the budget: the selection must follow
/// ref::topK to the index (ties to the lower index, forced columns first).
TEST(CudaIndex, TopKTiesGoToTheLowerIndex) {
  MINFER_REQUIRE_GPU(rt);
  AttentionShape s;
  s.seqLen = 3000;
  s.headDim = 64;
  DeviceAttention da;
  MINFER_ASSERT_OK(da.create(*rt, s, ElemType::BF16, 0.125f, 3));
  for (int64_t i = 0; i < s.qElems(); ++i)
    setValue(da.hq, i, (i % 64) < 8 ? 0.5f : 0.0f, ElemType::BF16);
  for (int64_t j = 0; j < s.seqLen; ++j)
    for (int64_t d = 0; d < 64; ++d)
      setValue(da.hk, j * 64 + d, (j % 7 == 0) ? 0.25f : 0.0f, ElemType::BF16);
  MINFER_ASSERT_OK(da.q.upload(da.hq.bits.data(), s.qElems() * 2));
  MINFER_ASSERT_OK(da.k.upload(da.hk.bits.data(), s.kvElems() * 2));
  const LayerPatterns layer = {HeadPattern::verticalSlash(200, 300, 64)};
  SparseIndex gpu, cpu;
  std::vector<std::vector<int32_t>> sel;
  RunOptions o;
  o.indexOnly = true;
  o.indexOut = &gpu;
  o.vsSelections = &sel;
  MINFER_ASSERT_OK(rt->sparseAttention(da.tensors, layer, o));
  MINFER_ASSERT_OK(ref::buildIndex(s, da.hq.values, da.hk.values, 0.125f,
                                   layer, cpu));
  std::vector<float> vert, slash;
  MINFER_ASSERT_OK(ref::vsEstimate(s, da.hq.values, da.hk.values, 0, 0, 64,
                                   0.125f, vert, slash));
  auto [kv, ks] = ref::vsEffectiveBudgets(layer[0], s.seqLen, VsOptions{});
  EXPECT_EQ(sel[0], ref::topK(vert, kv, 30));
  // Diagonal sums of equal multisets are added in different orders on the
  // two sides, so their last bits (and thus their tie-breaks) may differ.
  int64_t ties = 0;
  EXPECT_TRUE(selectionsAgree(sel[1], ref::topK(slash, ks, 100), slash, 100,
                              &ties));
  if (ties == 0) {
    EXPECT_TRUE(headRowsEqual(gpu, cpu, 0, 0));
  }
}

} // namespace
} // namespace minfer::cuda::testing
