//===- SearchTest.cpp - the per-head search on heads of known structure ---===//
//
// Each synthetic head (Synthetic.h) must be assigned its pattern; every
// candidate must stay within the budget measured on the runtime's executed
// index; the scorer's index must be the runtime's (ref::buildIndex).
//
//===----------------------------------------------------------------------===//
#include "Synthetic.h"
#include "minfer/Runtime/Reference.h"
#include "minfer/Search/Search.h"
#include <gtest/gtest.h>
#include <cmath>
#include <random>

using namespace minfer;
using namespace minfer::search;
using namespace minfer::search::test;

namespace {

constexpr int64_t kN = 1024, kD = 64;
constexpr double kBudget = 0.4;

SearchOptions testOptions() {
  SearchOptions o;
  o.budget = kBudget;
  return o;
}

HeadResult searchSynthetic(HeadKind kind, uint64_t seed,
                           const SearchOptions &opts = testOptions()) {
  HeadTensors h;
  h.batch = 1;
  h.seqLen = kN;
  h.headDim = kD;
  h.scale = 1.0f / std::sqrt(float(kD));
  makeHead(kind, kN, kD, seed, h.q, h.k, h.v);
  auto scorer = createCpuScorer(opts.scorer);
  HeadResult r;
  Status st = scorer->setHead(h);
  EXPECT_TRUE(st.ok()) << st.str();
  st = searchHead(*scorer, kN, opts, r);
  EXPECT_TRUE(st.ok()) << st.str();
  return r;
}

std::string describe(const HeadResult &r) {
  std::string s;
  for (const CandidateEval &e : r.candidates)
    s += e.pattern.str() + " density " + std::to_string(e.density) +
         " recall " + std::to_string(e.recall) + " relL2 " +
         std::to_string(e.relL2) + "\n";
  return s;
}

/// Best recall among the candidates of kinds other than the winner's.
double bestOtherRecall(const HeadResult &r) {
  double best = 0;
  for (const CandidateEval &e : r.candidates)
    if (e.pattern.kind != r.best.pattern.kind)
      best = std::max(best, e.recall);
  return best;
}

class SearchSynthetic : public ::testing::TestWithParam<uint64_t> {};

TEST_P(SearchSynthetic, SinkLocalHeadGetsAShape) {
  HeadResult r = searchSynthetic(HeadKind::SinkLocal, GetParam());
  EXPECT_EQ(r.best.pattern.kind, PatternKind::AShape) << describe(r);
  EXPECT_GT(r.best.recall, 0.99) << describe(r);
  EXPECT_LT(r.best.relL2, 0.05) << describe(r);
}

TEST_P(SearchSynthetic, VerticalSlashHeadGetsVerticalSlash) {
  HeadResult r = searchSynthetic(HeadKind::VerticalSlash, GetParam());
  EXPECT_EQ(r.best.pattern.kind, PatternKind::VerticalSlash) << describe(r);
  EXPECT_GT(r.best.recall, 0.75) << describe(r);
  EXPECT_GT(r.best.recall, bestOtherRecall(r) + 0.05) << describe(r);
}

TEST_P(SearchSynthetic, BlockClusterHeadGetsBlockSparse) {
  HeadResult r = searchSynthetic(HeadKind::BlockCluster, GetParam());
  EXPECT_EQ(r.best.pattern.kind, PatternKind::BlockSparse) << describe(r);
  EXPECT_GT(r.best.recall, 0.7) << describe(r);
  EXPECT_GT(r.best.recall, bestOtherRecall(r) + 0.05) << describe(r);
}

INSTANTIATE_TEST_SUITE_P(Seeds, SearchSynthetic, ::testing::Values(1, 2, 3));

TEST(SearchMetric, RelL2PicksTheSameForSinkLocalAndBlockHeads) {
  // (On the vertical-slash head the output error is dominated by the noise
  // rows before the bands start, so rel-L2 does not single it out.)
  SearchOptions o = testOptions();
  o.metric = Metric::RelL2;
  o.tieTolerance = 0.01;
  EXPECT_EQ(searchSynthetic(HeadKind::SinkLocal, 4, o).best.pattern.kind,
            PatternKind::AShape);
  EXPECT_EQ(searchSynthetic(HeadKind::BlockCluster, 4, o).best.pattern.kind,
            PatternKind::BlockSparse);
}

//===----------------------------------------------------------------------===//
// Executed density and the scorer against the runtime's reference
//===----------------------------------------------------------------------===//

std::vector<HeadPattern> mixedPatterns() {
  return {HeadPattern::dense(),
          HeadPattern::aShape(0, 1),
          HeadPattern::aShape(16, 100),
          HeadPattern::aShape(5, 5000),
          HeadPattern::verticalSlash(40, 150),
          HeadPattern::verticalSlash(700, 900),
          HeadPattern::blockSparse(1),
          HeadPattern::blockSparse(3),
          HeadPattern::blockSparse(100)};
}

void randomQkv(int64_t n, int64_t batch, uint64_t seed, std::vector<float> &q,
               std::vector<float> &k, std::vector<float> &v) {
  std::mt19937_64 rng(seed);
  std::normal_distribution<float> g(0.0f, 1.0f);
  for (auto *t : {&q, &k, &v}) {
    t->resize(batch * n * kD);
    for (float &x : *t)
      x = 1.5f * g(rng);
  }
}

TEST(SearchDensity, CountExecutedMatchesTheMask) {
  const int64_t n = 1000; // partial last block
  AttentionShape s;
  s.batch = 2;
  s.seqLen = n;
  s.headDim = kD;
  std::vector<float> q, k, v;
  randomQkv(n, 2, 7, q, k, v);
  for (const HeadPattern &p : mixedPatterns()) {
    SparseIndex idx;
    Status st = ref::buildIndex(s, q, k, 0.125f, {p}, idx);
    ASSERT_TRUE(st.ok()) << st.str();
    for (int64_t b = 0; b < 2; ++b) {
      std::vector<uint8_t> mask = ref::maskFromIndex(idx, b, 0);
      ASSERT_EQ(mask.size(), size_t(n * n));
      int64_t ones = 0;
      for (uint8_t m : mask)
        ones += m;
      EXPECT_EQ(countExecuted(idx, b, 0), ones) << p.str();
    }
  }
  SparseIndex bad;
  EXPECT_EQ(countExecuted(bad, 0, 0), -1);
}

TEST(SearchDensity, ScorerMatchesRuntimeIndexAndAttention) {
  const int64_t n = 1000, B = 2;
  const float scale = 0.125f;
  HeadTensors h;
  h.batch = B;
  h.seqLen = n;
  h.headDim = kD;
  h.scale = scale;
  randomQkv(n, B, 11, h.q, h.k, h.v);
  ScorerOptions so;
  auto scorer = createCpuScorer(so);
  ASSERT_TRUE(scorer->setHead(h).ok());
  AttentionShape s;
  s.batch = B;
  s.seqLen = n;
  s.headDim = kD;
  std::vector<int64_t> rows = evaluationRows(n, so);
  std::vector<float> dense;
  ASSERT_TRUE(ref::denseAttention(s, h.q, h.k, h.v, scale, dense).ok());
  for (const HeadPattern &p : mixedPatterns()) {
    SparseIndex idx;
    std::vector<float> sparse;
    ASSERT_TRUE(
        ref::sparseAttention(s, h.q, h.k, h.v, scale, {p}, sparse, &idx).ok());
    double pairs = 0, recall = 0, d2 = 0, r2 = 0;
    for (int64_t b = 0; b < B; ++b) {
      pairs += countExecuted(idx, b, 0);
      std::vector<uint8_t> mask = ref::maskFromIndex(idx, b, 0);
      for (int64_t i : rows) {
        // Dense softmax of row i in double.
        const float *qi = h.q.data() + (b * n + i) * kD;
        std::vector<double> sc(i + 1);
        double mx = -1e300, sum = 0, kept = 0;
        for (int64_t j = 0; j <= i; ++j) {
          double d = 0;
          for (int64_t t = 0; t < kD; ++t)
            d += double(qi[t]) * h.k[(b * n + j) * kD + t];
          sc[j] = scale * d;
          mx = std::max(mx, sc[j]);
        }
        for (int64_t j = 0; j <= i; ++j)
          sum += std::exp(sc[j] - mx);
        for (int64_t j = 0; j <= i; ++j)
          if (mask[i * n + j])
            kept += std::exp(sc[j] - mx) / sum;
        recall += kept;
      }
    }
    for (size_t t = 0; t < dense.size(); ++t) {
      d2 += double(sparse[t] - dense[t]) * (sparse[t] - dense[t]);
      r2 += double(dense[t]) * dense[t];
    }
    double density = 0;
    ASSERT_TRUE(scorer->density(p, density).ok());
    EXPECT_DOUBLE_EQ(density, pairs / (B * causalPairs(n))) << p.str();
    CandidateEval e;
    ASSERT_TRUE(scorer->evaluate(p, e).ok());
    EXPECT_DOUBLE_EQ(e.density, density) << p.str();
    EXPECT_NEAR(e.recall, recall / (B * rows.size()), 1e-5) << p.str();
    EXPECT_NEAR(e.relL2, std::sqrt(d2 / r2), 1e-5) << p.str();
  }
}

TEST(SearchDensity, SampledRelL2MatchesFullOverAllRows) {
  const int64_t n = 700;
  HeadTensors h;
  h.seqLen = n;
  h.headDim = kD;
  h.scale = 0.125f;
  randomQkv(n, 1, 5, h.q, h.k, h.v);
  ScorerOptions full, sampled;
  full.lastRows = sampled.lastRows = n; // every row is an evaluation row
  sampled.fullOutputMaxLen = 0;
  auto a = createCpuScorer(full), b = createCpuScorer(sampled);
  ASSERT_TRUE(a->setHead(h).ok());
  ASSERT_TRUE(b->setHead(h).ok());
  for (const HeadPattern &p : mixedPatterns()) {
    CandidateEval ea, eb;
    ASSERT_TRUE(a->evaluate(p, ea).ok());
    ASSERT_TRUE(b->evaluate(p, eb).ok());
    EXPECT_DOUBLE_EQ(ea.recall, eb.recall) << p.str();
    EXPECT_NEAR(ea.relL2, eb.relL2, 1e-4 + 1e-3 * ea.relL2) << p.str();
  }
}

TEST(SearchDensity, ScorerRejectsBadHeads) {
  auto scorer = createCpuScorer();
  double d = 0;
  EXPECT_FALSE(scorer->density(HeadPattern::dense(), d).ok());
  HeadTensors h;
  h.seqLen = 128;
  h.headDim = 50; // not a multiple of 8
  h.scale = 0.1f;
  h.q.assign(128 * 50, 0);
  h.k = h.v = h.q;
  EXPECT_FALSE(scorer->setHead(h).ok());
  h.headDim = 64;
  Status st = scorer->setHead(h);
  EXPECT_FALSE(st.ok());
  EXPECT_NE(st.message().find("batch * N * D"), std::string::npos);
  EXPECT_FALSE(scorer->density(HeadPattern::dense(), d).ok());
  h.q.assign(128 * 64, 1e20f); // finite, but q.k overflows fp32
  h.k = h.v = h.q;
  st = scorer->setHead(h);
  EXPECT_NE(st.message().find("is not finite"), std::string::npos)
      << st.message();
}

//===----------------------------------------------------------------------===//
// Candidates, selection
//===----------------------------------------------------------------------===//

TEST(SearchCandidates, FitTheBudgetAndAreMaximal) {
  HeadTensors h;
  h.seqLen = kN;
  h.headDim = kD;
  h.scale = 0.125f;
  makeHead(HeadKind::VerticalSlash, kN, kD, 9, h.q, h.k, h.v);
  auto scorer = createCpuScorer();
  ASSERT_TRUE(scorer->setHead(h).ok());
  for (double budget : {0.3, 0.4, 0.6}) {
    SearchOptions o = testOptions();
    o.budget = budget;
    std::vector<HeadPattern> cands;
    ASSERT_TRUE(makeCandidates(*scorer, kN, o, cands).ok());
    int kinds[4] = {0, 0, 0, 0};
    for (const HeadPattern &p : cands) {
      ++kinds[int(p.kind)];
      double d = 0, next = 0;
      ASSERT_TRUE(scorer->density(p, d).ok());
      EXPECT_LE(d, budget) << p.str();
      HeadPattern bigger = p;
      int64_t limit = kN;
      switch (p.kind) {
      case PatternKind::AShape: ++bigger.local; break;
      case PatternKind::VerticalSlash: ++bigger.slash; break;
      case PatternKind::BlockSparse:
        ++bigger.topK;
        limit = numQueryBlocks(kN);
        break;
      case PatternKind::Dense: FAIL();
      }
      if (bigger.local > limit || bigger.slash > limit || bigger.topK > limit)
        continue;
      ASSERT_TRUE(scorer->density(bigger, next).ok());
      EXPECT_GT(next, budget) << p.str() << " is not the largest that fits";
    }
    EXPECT_EQ(kinds[int(PatternKind::AShape)], 3) << budget;
    EXPECT_GE(kinds[int(PatternKind::VerticalSlash)], 2) << budget;
    EXPECT_EQ(kinds[int(PatternKind::BlockSparse)], 1) << budget;
  }
}

TEST(SearchCandidates, BudgetTooSmallIsAnError) {
  HeadTensors h;
  h.seqLen = 256;
  h.headDim = kD;
  h.scale = 0.125f;
  randomQkv(256, 1, 3, h.q, h.k, h.v);
  auto scorer = createCpuScorer();
  ASSERT_TRUE(scorer->setHead(h).ok());
  SearchOptions o;
  o.budget = 0.01;
  HeadResult r;
  Status st = searchHead(*scorer, 256, o, r);
  EXPECT_FALSE(st.ok());
  EXPECT_NE(st.message().find("no candidate fits the budget"),
            std::string::npos)
      << st.message();
  o.budget = 1.5;
  EXPECT_NE(searchHead(*scorer, 256, o, r).message().find("budget must be"),
            std::string::npos);
}

TEST(SearchCandidates, EvaluationRows) {
  ScorerOptions o;
  std::vector<int64_t> r = evaluationRows(1000, o);
  ASSERT_EQ(r.size(), 128u);
  EXPECT_TRUE(std::is_sorted(r.begin(), r.end()));
  EXPECT_EQ(r.back(), 999);
  EXPECT_EQ(r[64], 936); // the last 64 rows
  EXPECT_GE(r.front(), 0);
  EXPECT_EQ(evaluationRows(50, o).size(), 50u); // N < lastRows
  o.lastRows = 0;
  o.sampleRows = 10;
  r = evaluationRows(100, o);
  EXPECT_EQ(r, (std::vector<int64_t>{5, 15, 25, 35, 45, 55, 65, 75, 85, 95}));
}

TEST(SearchCandidates, PickBestPrefersCheapPatternsOnTies) {
  SearchOptions o;
  o.tieTolerance = 0.01;
  auto ev = [](HeadPattern p, double recall, double l2) {
    CandidateEval e;
    e.pattern = p;
    e.recall = recall;
    e.relL2 = l2;
    return e;
  };
  std::vector<CandidateEval> e = {
      ev(HeadPattern::verticalSlash(30, 100), 0.950, 0.1),
      ev(HeadPattern::blockSparse(4), 0.945, 0.2),
      ev(HeadPattern::aShape(16, 64), 0.930, 0.3)};
  EXPECT_EQ(pickBest(e, o), 1u); // block_sparse within the tie, cheaper
  e[2].recall = 0.942;
  EXPECT_EQ(pickBest(e, o), 2u); // a_shape within the tie, cheapest
  o.tieTolerance = 0;
  EXPECT_EQ(pickBest(e, o), 0u);
  o.metric = Metric::RelL2;
  EXPECT_EQ(pickBest(e, o), 0u);
  e.push_back(ev(HeadPattern::aShape(64, 32), 0.90, 0.05));
  EXPECT_EQ(pickBest(e, o), 3u);
}

//===----------------------------------------------------------------------===//
// Layers: shapes, GQA, batch, report
//===----------------------------------------------------------------------===//

TEST(SearchLayer, ShapeErrors) {
  std::vector<float> q(1 * 4 * 8 * 64), k(1 * 2 * 8 * 64);
  auto check = [&](std::vector<int64_t> qs, std::vector<int64_t> ks,
                   std::vector<int64_t> vs) {
    std::vector<float> qd(1), kd(1), vd(1);
    int64_t nq = 1, nk = 1, nv = 1;
    for (int64_t d : qs) nq *= d;
    for (int64_t d : ks) nk *= d;
    for (int64_t d : vs) nv *= d;
    qd.resize(nq);
    kd.resize(nk);
    vd.resize(nv);
    LayerTensors t{qs, ks, vs, &qd, &kd, &vd};
    return checkLayerShapes(t, "layer 2").message();
  };
  EXPECT_EQ(check({1, 4, 8, 64}, {1, 2, 8, 64}, {1, 2, 8, 64}), "");
  EXPECT_EQ(check({4, 8, 64}, {1, 2, 8, 64}, {1, 2, 8, 64}),
            "layer 2: q must have rank 4 ([B, H, N, D]), got shape [4, 8, 64]");
  EXPECT_NE(check({2, 4, 8, 64}, {1, 2, 8, 64}, {1, 2, 8, 64})
                .find("batch mismatch"),
            std::string::npos);
  EXPECT_NE(check({1, 4, 8, 64}, {1, 2, 16, 64}, {1, 2, 16, 64})
                .find("sequence length (N) mismatch"),
            std::string::npos);
  EXPECT_NE(check({1, 4, 8, 64}, {1, 2, 8, 128}, {1, 2, 8, 128})
                .find("head_dim (D) mismatch"),
            std::string::npos);
  EXPECT_NE(check({1, 4, 8, 64}, {1, 3, 8, 64}, {1, 3, 8, 64})
                .find("heads mismatch: q has 4 heads, k 3 kv heads"),
            std::string::npos);
  EXPECT_NE(check({1, 4, 8, 64}, {1, 2, 8, 64}, {1, 1, 8, 64})
                .find("v shape [1, 1, 8, 64] differs from k shape"),
            std::string::npos);
  EXPECT_NE(check({1, 4, 0, 64}, {1, 2, 8, 64}, {1, 2, 8, 64})
                .find("empty dimension"),
            std::string::npos);
  LayerTensors t{{1, 4, 8, 64}, {1, 2, 8, 64}, {1, 2, 8, 64}, &q, &k, nullptr};
  EXPECT_NE(checkLayerShapes(t, "x").message().find("v data does not match"),
            std::string::npos);
}

TEST(SearchLayer, GqaBatchAndReport) {
  // kv heads: 0 sink-local, 1 vertical-slash, 2 block-cluster; each read by
  // two query heads (H = 6, Hkv = 3); batch 2 with different seeds.
  const int64_t B = 2, H = 6, Hkv = 3, per = kN * kD;
  const HeadKind kinds[3] = {HeadKind::SinkLocal, HeadKind::VerticalSlash,
                             HeadKind::BlockCluster};
  std::vector<float> q(B * H * per), k(B * Hkv * per), v(B * Hkv * per);
  std::vector<float> hq, hk, hv;
  for (int64_t b = 0; b < B; ++b)
    for (int64_t g = 0; g < Hkv; ++g) {
      makeHead(kinds[g], kN, kD, 100 + 10 * b + g, hq, hk, hv);
      std::copy(hk.begin(), hk.end(), k.begin() + (b * Hkv + g) * per);
      std::copy(hv.begin(), hv.end(), v.begin() + (b * Hkv + g) * per);
      for (int64_t r = 0; r < 2; ++r)
        std::copy(hq.begin(), hq.end(), q.begin() + (b * H + 2 * g + r) * per);
    }
  LayerTensors t{{B, H, kN, kD}, {B, Hkv, kN, kD}, {B, Hkv, kN, kD},
                 &q, &k, &v};
  auto scorer = createCpuScorer();
  std::vector<HeadResult> results;
  int calls = 0;
  Status st = searchLayer(*scorer, t, 0, 0.0f, testOptions(), results,
                          [&](const HeadResult &r, int64_t heads) {
                            EXPECT_EQ(r.head, calls);
                            EXPECT_EQ(heads, H);
                            ++calls;
                          });
  ASSERT_TRUE(st.ok()) << st.str();
  EXPECT_EQ(calls, H);
  ASSERT_EQ(results.size(), size_t(H));
  const PatternKind want[3] = {PatternKind::AShape, PatternKind::VerticalSlash,
                               PatternKind::BlockSparse};
  for (int64_t h = 0; h < H; ++h) {
    EXPECT_EQ(results[h].layer, 0);
    EXPECT_EQ(results[h].head, h);
    EXPECT_EQ(results[h].best.pattern.kind, want[h / 2]) << describe(results[h]);
    EXPECT_LE(results[h].best.density, kBudget);
  }
  std::string csv = reportCsv(results, kBudget);
  EXPECT_EQ(csv.substr(0, csv.find('\n')),
            "layer,head,pattern,v1,v2,budget,density,recall,rel_l2");
  EXPECT_EQ(std::count(csv.begin(), csv.end(), '\n'), H + 1);
  EXPECT_NE(csv.find("\n0,2,vertical_and_slash,"), std::string::npos) << csv;
  std::string table = reportTable(results, kBudget);
  EXPECT_EQ(std::count(table.begin(), table.end(), '\n'), H + 1);
  EXPECT_NE(table.find("stream_llm"), std::string::npos) << table;
  EXPECT_NE(table.find("block_sparse"), std::string::npos) << table;
}

} // namespace
