//===- GpuScorerTest.cpp - the GPU scorer against the CPU scorer ----------===//
//
// Without a device only the creation checks run (NoDevice, null out); the
// rest GTEST_SKIP. With one, the synthetic heads of Synthetic.h, rounded to
// bf16 so both scorers see the same values, are scored by both:
//   - densities equal (exactly for dense and a_shape; vertical-slash and
//     block-sparse up to near-ties of the GPU's top-k, see CudaIndexTest);
//   - recall within 2e-3, rel-L2 within 1e-2 (bf16 outputs on the GPU);
//   - the search picks the same pattern kind, the head's true one.
// The kernels are the generated PTX when found ($MINFER_PTX_DIR), else the
// runtime's naive stand-ins, which exercise the same scorer code.
//
//===----------------------------------------------------------------------===//
#include "CudaTestUtil.h"
#include "Synthetic.h"
#include "minfer/Runtime/Reference.h"
#include "minfer/Search/GpuScorer.h"
#include "minfer/Search/Search.h"
#include <chrono>
#include <cmath>
#include <cstdio>
#include <ostream>

using namespace minfer;
using namespace minfer::search;
using namespace minfer::search::test;
using minfer::cuda::Runtime;

namespace {

const char *kMissingDriver = "/nonexistent/libcuda.so.1";

//===----------------------------------------------------------------------===//
// Creation (every machine)
//===----------------------------------------------------------------------===//

TEST(SearchGpuScorerNoDevice, MissingDriverIsNoDevice) {
  cuda::RuntimeOptions ro;
  ro.driverPath = kMissingDriver;
  std::unique_ptr<Scorer> s = createCpuScorer(); // must be reset
  Status st = createGpuScorer(&s, ScorerOptions(), ro);
  EXPECT_EQ(st.code(), ErrorCode::NoDevice) << st.str();
  EXPECT_EQ(st.message().rfind("no CUDA device: ", 0), 0u) << st.message();
  EXPECT_NE(st.message().find(kMissingDriver), std::string::npos)
      << st.message();
  EXPECT_EQ(s, nullptr);
}

TEST(SearchGpuScorerNoDevice, DefaultDriverIsCleanEitherWay) {
  std::unique_ptr<Scorer> s;
  Status st = createGpuScorer(&s);
  if (st.ok()) {
    ASSERT_NE(s, nullptr);
    EXPECT_STREQ(s->name(), "gpu");
    double d = 0;
    EXPECT_EQ(s->density(HeadPattern::dense(), d).code(),
              ErrorCode::InvalidArgument); // no head yet
    return;
  }
  EXPECT_EQ(st.code(), ErrorCode::NoDevice) << st.str();
  EXPECT_FALSE(st.message().empty());
  EXPECT_EQ(s, nullptr);
}

TEST(SearchGpuScorerNoDevice, NullOutIsNullPointer) {
  cuda::RuntimeOptions ro;
  ro.driverPath = kMissingDriver;
  EXPECT_EQ(createGpuScorer(nullptr).code(), ErrorCode::NullPointer);
  Status st = createGpuScorer(nullptr, ScorerOptions(), ro);
  EXPECT_EQ(st.code(), ErrorCode::NullPointer);
  EXPECT_FALSE(st.message().empty());
}

//===----------------------------------------------------------------------===//
// On a device
//===----------------------------------------------------------------------===//

/// A runtime that can run the scorer (generated kernels when their PTX is
/// found, else the naive ones), or nullptr and why not.
Runtime *scorerRuntime(std::string *why, bool *generated = nullptr) {
  Status st;
  Runtime *rt = cuda::testing::sharedRuntime(&st);
  if (!rt) {
    *why = "no GPU runtime: " + st.str();
    return nullptr;
  }
  if (!cuda::testing::indexKernelsBuilt()) {
    *why = "index kernels not built (nvcc missing at configure)";
    return nullptr;
  }
  std::string missing;
  const bool gen = cuda::testing::generatedPtxAvailable(
      rt->ptxDir(), rt->device().chip, &missing);
  if (generated)
    *generated = gen;
  if (gen)
    return rt;
  static bool told = false;
  if (!told)
    std::printf("[ info     ] generated PTX not found (%s): naive kernels\n",
                missing.c_str());
  told = true;
  rt = cuda::testing::naiveRuntime(&st);
  if (!rt)
    *why = "naive kernels: " + st.str();
  return rt;
}

#define REQUIRE_SCORER_RUNTIME(rt)                                             \
  std::string rt##Why;                                                         \
  Runtime *rt = scorerRuntime(&rt##Why);                                       \
  if (!rt)                                                                     \
    GTEST_SKIP() << rt##Why

#define ASSERT_OK(expr)                                                        \
  do {                                                                         \
    ::minfer::Status st_ = (expr);                                             \
    ASSERT_TRUE(st_.ok()) << st_.str();                                        \
  } while (0)

void roundToBf16(std::vector<float> &x) {
  for (float &f : x)
    f = ref::bf16ToFloat(ref::floatToBf16(f));
}

/// `batch` synthetic heads of one kind (seeds seed, seed + 1, ...), bf16.
HeadTensors syntheticHead(HeadKind kind, int64_t N, int64_t D, int64_t batch,
                          uint64_t seed) {
  HeadTensors h;
  h.batch = batch;
  h.seqLen = N;
  h.headDim = D;
  h.scale = 1.0f / std::sqrt(static_cast<float>(D));
  for (int64_t b = 0; b < batch; ++b) {
    std::vector<float> q, k, v;
    makeHead(kind, N, D, seed + b, q, k, v);
    h.q.insert(h.q.end(), q.begin(), q.end());
    h.k.insert(h.k.end(), k.begin(), k.end());
    h.v.insert(h.v.end(), v.begin(), v.end());
  }
  roundToBf16(h.q);
  roundToBf16(h.k);
  roundToBf16(h.v);
  return h;
}

PatternKind trueKind(HeadKind k) {
  switch (k) {
  case HeadKind::SinkLocal: return PatternKind::AShape;
  case HeadKind::VerticalSlash: return PatternKind::VerticalSlash;
  case HeadKind::BlockCluster: return PatternKind::BlockSparse;
  }
  return PatternKind::Dense;
}

/// At budget 0.2 the true kind of every case below wins on the CPU by a wide
/// margin (recall +0.08 or more; sink+local by the tie rule), for several
/// seeds; at 0.4 block_sparse catches up on the longer heads.
SearchOptions searchOptions() {
  SearchOptions o;
  o.budget = 0.2;
  return o;
}

/// Largest density difference allowed where the GPU's top-k may break a
/// near-tie differently from ref::topK (a few 64-wide slashes or blocks).
double tieSlack(PatternKind k) {
  return k == PatternKind::VerticalSlash || k == PatternKind::BlockSparse
             ? 2e-3
             : 0.0;
}

/// GPU density of p (index only) against the CPU scorer's.
void expectSameDensity(Scorer &cpu, Scorer &gpu, const HeadPattern &p) {
  double c = 0, g = 0;
  ASSERT_OK(cpu.density(p, c));
  ASSERT_OK(gpu.density(p, g));
  if (tieSlack(p.kind) == 0)
    EXPECT_EQ(g, c) << p.str();
  else
    EXPECT_NEAR(g, c, tieSlack(p.kind)) << p.str();
}

struct Case {
  HeadKind kind;
  int64_t N, D, batch;
};

const char *kindName(HeadKind k) {
  switch (k) {
  case HeadKind::SinkLocal: return "SinkLocal";
  case HeadKind::VerticalSlash: return "VerticalSlash";
  case HeadKind::BlockCluster: return "BlockCluster";
  }
  return "?";
}

/// "VerticalSlash_N3072_D128_B1": test names and failure messages.
std::string caseName(const Case &c) {
  return std::string(kindName(c.kind)) + "_N" + std::to_string(c.N) + "_D" +
         std::to_string(c.D) + "_B" + std::to_string(c.batch);
}
void PrintTo(const Case &c, std::ostream *os) { *os << caseName(c); }

class SearchGpuScorer : public ::testing::TestWithParam<Case> {};

TEST_P(SearchGpuScorer, MatchesCpuScorer) {
  REQUIRE_SCORER_RUNTIME(rt);
  const Case c = GetParam();
  const HeadTensors h = syntheticHead(c.kind, c.N, c.D, c.batch, 7);
  const SearchOptions opts = searchOptions();
  auto cpu = createCpuScorer(opts.scorer);
  std::unique_ptr<Scorer> gpu;
  ASSERT_OK(createGpuScorer(&gpu, *rt, opts.scorer));
  ASSERT_OK(cpu->setHead(h));
  ASSERT_OK(gpu->setHead(h));

  const int64_t N = c.N;
  for (const HeadPattern &p :
       {HeadPattern::dense(), HeadPattern::aShape(0, 1),
        HeadPattern::aShape(16, 100), HeadPattern::aShape(5, N / 2),
        HeadPattern::verticalSlash(40, 150), HeadPattern::verticalSlash(
                                                 N / 4, N / 3, 128),
        HeadPattern::blockSparse(1), HeadPattern::blockSparse(3),
        HeadPattern::blockSparse(N / 128)})
    expectSameDensity(*cpu, *gpu, p);

  // Every candidate of the CPU search, scored by both.
  HeadResult cr;
  ASSERT_OK(searchHead(*cpu, N, opts, cr));
  int64_t exact = 0;
  for (const CandidateEval &e : cr.candidates) {
    CandidateEval g;
    ASSERT_OK(gpu->evaluate(e.pattern, g));
    const std::string what = e.pattern.str();
    EXPECT_EQ(g.pattern, e.pattern);
    if (tieSlack(e.pattern.kind) == 0)
      EXPECT_EQ(g.density, e.density) << what;
    else
      EXPECT_NEAR(g.density, e.density, tieSlack(e.pattern.kind)) << what;
    exact += g.density == e.density;
    EXPECT_NEAR(g.recall, e.recall, 2e-3) << what;
    EXPECT_NEAR(g.relL2, e.relL2, 1e-2) << what;
    // density() counts on the device what evaluate() counts on the host.
    double d = 0;
    ASSERT_OK(gpu->density(e.pattern, d));
    EXPECT_EQ(d, g.density) << what;
  }
  RecordProperty("exact_densities", std::to_string(exact) + "/" +
                                        std::to_string(cr.candidates.size()));

  HeadResult gr;
  ASSERT_OK(searchHead(*gpu, N, opts, gr));
  EXPECT_EQ(cr.best.pattern.kind, trueKind(c.kind)) << cr.best.pattern.str();
  EXPECT_EQ(gr.best.pattern.kind, cr.best.pattern.kind)
      << "gpu " << gr.best.pattern.str() << " cpu " << cr.best.pattern.str();
}

INSTANTIATE_TEST_SUITE_P(
    Heads, SearchGpuScorer,
    ::testing::Values(Case{HeadKind::SinkLocal, 3072, 128, 1},
                      Case{HeadKind::VerticalSlash, 3072, 128, 1},
                      Case{HeadKind::BlockCluster, 3072, 128, 1},
                      // N not a multiple of 64, head_dim 64, batch 2
                      Case{HeadKind::SinkLocal, 2500, 64, 2},
                      Case{HeadKind::VerticalSlash, 2500, 64, 2},
                      Case{HeadKind::BlockCluster, 2500, 64, 2},
                      // Phi-3-mini's head dim: zero-padded to 128 on the GPU
                      Case{HeadKind::VerticalSlash, 2500, 96, 1}),
    [](const ::testing::TestParamInfo<Case> &i) { return caseName(i.param); });

TEST(SearchGpuScorerDevice, FullBudgetIsDense) {
  REQUIRE_SCORER_RUNTIME(rt);
  const int64_t N = 2000;
  const HeadTensors h = syntheticHead(HeadKind::VerticalSlash, N, 128, 1, 3);
  std::unique_ptr<Scorer> gpu;
  ASSERT_OK(createGpuScorer(&gpu, *rt));
  ASSERT_OK(gpu->setHead(h));
  for (const HeadPattern &p :
       {HeadPattern::verticalSlash(N, N), HeadPattern::verticalSlash(N + 7, 2 * N),
        HeadPattern::dense()}) {
    CandidateEval e;
    ASSERT_OK(gpu->evaluate(p, e));
    EXPECT_EQ(e.density, 1.0) << p.str();
    EXPECT_NEAR(e.recall, 1.0, 1e-5) << p.str();
    EXPECT_LT(e.relL2, 1e-2) << p.str();
    double d = 0;
    ASSERT_OK(gpu->density(p, d));
    EXPECT_EQ(d, 1.0) << p.str();
  }
  CandidateEval e;
  ASSERT_OK(gpu->evaluate(HeadPattern::dense(), e));
  EXPECT_LT(e.relL2, 1e-6); // the same dense run as setHead's
}

/// The three synthetic kinds as one bf16-rounded layer of N tokens.
struct SyntheticLayer {
  std::vector<HeadKind> kinds = {HeadKind::VerticalSlash, HeadKind::SinkLocal,
                                 HeadKind::BlockCluster};
  std::vector<float> q, k, v;
  std::vector<int64_t> shape;
  SyntheticLayer(int64_t N, int64_t D, uint64_t seed) {
    makeLayer(kinds, N, D, seed, q, k, v);
    roundToBf16(q);
    roundToBf16(k);
    roundToBf16(v);
    shape = {1, int64_t(kinds.size()), N, D};
  }
  LayerTensors tensors() const { return {shape, shape, shape, &q, &k, &v}; }
};

TEST(SearchGpuScorerDevice, SearchLayerPicksTheTruePatterns) {
  REQUIRE_SCORER_RUNTIME(rt);
  const SyntheticLayer layer(2500, 64, 21);
  const std::vector<HeadKind> &kinds = layer.kinds;
  const LayerTensors t = layer.tensors();
  const SearchOptions opts = searchOptions();
  auto cpu = createCpuScorer(opts.scorer);
  std::unique_ptr<Scorer> gpu;
  ASSERT_OK(createGpuScorer(&gpu, *rt, opts.scorer));
  std::vector<HeadResult> cr, gr;
  ASSERT_OK(searchLayer(*cpu, t, 0, 0, opts, cr));
  ASSERT_OK(searchLayer(*gpu, t, 0, 0, opts, gr));
  ASSERT_EQ(gr.size(), kinds.size());
  ASSERT_EQ(cr.size(), kinds.size());
  for (size_t h = 0; h < kinds.size(); ++h) {
    EXPECT_EQ(gr[h].best.pattern.kind, trueKind(kinds[h]))
        << "head " << h << ": " << gr[h].best.pattern.str();
    EXPECT_EQ(gr[h].best.pattern.kind, cr[h].best.pattern.kind) << "head " << h;
    EXPECT_NEAR(gr[h].best.recall, cr[h].best.recall, 2e-3) << "head " << h;
  }
}

/// A long sample, the GPU scorer's reason to exist: both scorers search the
/// same 64K-token layer; the search optimum (best recall under the budget)
/// must agree even where a near-tie flips which candidate reaches it. The
/// synthetic structures blur at this length, so no true kind is asserted.
/// Prints both search times (information, not a speed test).
TEST(SearchGpuScorerDevice, LongSampleMatchesCpuSearch) {
  REQUIRE_SCORER_RUNTIME(rt);
  bool generated = false;
  std::string why;
  scorerRuntime(&why, &generated);
  if (!generated)
    GTEST_SKIP() << "generated PTX not found: naive kernels are too slow at 64K";
  const int64_t N = 65536;
  const SyntheticLayer layer(N, 128, 21);
  const std::vector<HeadKind> &kinds = layer.kinds;
  const LayerTensors t = layer.tensors();
  SearchOptions opts;
  opts.budget = 0.05;
  auto cpu = createCpuScorer(opts.scorer);
  std::unique_ptr<Scorer> gpu;
  ASSERT_OK(createGpuScorer(&gpu, *rt, opts.scorer));
  std::vector<HeadResult> cr, gr;
  auto seconds = [](auto f) {
    const auto t0 = std::chrono::steady_clock::now();
    f();
    return std::chrono::duration<double>(std::chrono::steady_clock::now() - t0)
        .count();
  };
  Status cst, gst;
  const double cpuS = seconds([&] { cst = searchLayer(*cpu, t, 0, 0, opts, cr); });
  const double gpuS = seconds([&] { gst = searchLayer(*gpu, t, 0, 0, opts, gr); });
  ASSERT_OK(cst);
  ASSERT_OK(gst);
  std::printf("[ info     ] N %lld, 3 heads: cpu scorer %.1f s, gpu scorer %.1f s\n",
              (long long)N, cpuS, gpuS);
  ASSERT_EQ(gr.size(), kinds.size());
  ASSERT_EQ(cr.size(), kinds.size());
  for (size_t h = 0; h < kinds.size(); ++h) {
    std::printf("[ info     ] head %zu: cpu %s recall %.4f | gpu %s recall %.4f "
                "rel_l2 %.4f (all rows) density %.4f\n",
                h, cr[h].best.pattern.str().c_str(), cr[h].best.recall,
                gr[h].best.pattern.str().c_str(), gr[h].best.recall,
                gr[h].best.relL2, gr[h].best.density);
    EXPECT_NEAR(gr[h].best.recall, cr[h].best.recall, 1e-2) << "head " << h;
    EXPECT_LE(gr[h].best.density, opts.budget * 1.05) << "head " << h;
    EXPECT_TRUE(std::isfinite(gr[h].best.relL2)) << "head " << h;
  }
}

TEST(SearchGpuScorerDevice, BadHeadsAndReuse) {
  REQUIRE_SCORER_RUNTIME(rt);
  EXPECT_EQ(createGpuScorer(nullptr, *rt).code(), ErrorCode::NullPointer);
  std::unique_ptr<Scorer> gpu;
  ASSERT_OK(createGpuScorer(&gpu, *rt));
  CandidateEval e;
  EXPECT_EQ(gpu->evaluate(HeadPattern::dense(), e).code(),
            ErrorCode::InvalidArgument);

  HeadTensors bad = syntheticHead(HeadKind::SinkLocal, 256, 64, 1, 1);
  bad.headDim = 36; // not a multiple of 8
  bad.q.resize(256 * 36);
  bad.k.resize(256 * 36);
  bad.v.resize(256 * 36);
  Status st = gpu->setHead(bad);
  EXPECT_EQ(st.code(), ErrorCode::Unsupported) << st.str();
  EXPECT_NE(st.message().find("head_dim"), std::string::npos) << st.message();
  HeadTensors shortK = syntheticHead(HeadKind::SinkLocal, 256, 64, 1, 1);
  shortK.k.pop_back();
  EXPECT_EQ(gpu->setHead(shortK).code(), ErrorCode::InvalidArgument);
  double d = 0;
  EXPECT_EQ(gpu->density(HeadPattern::dense(), d).code(),
            ErrorCode::InvalidArgument); // the failed setHead left no head
  HeadTensors good = syntheticHead(HeadKind::SinkLocal, 256, 64, 1, 1);
  ASSERT_OK(gpu->setHead(good));
  EXPECT_EQ(gpu->density(HeadPattern::aShape(0, 0), d).code(),
            ErrorCode::InvalidArgument) << "local = 0 is not a pattern";

  // Heads of changing sizes reuse or regrow the device buffers.
  auto cpu = createCpuScorer();
  for (auto [N, D] : {std::pair<int64_t, int64_t>{256, 64}, {1000, 128},
                      {300, 128}, {1000, 64}}) {
    const HeadTensors h = syntheticHead(HeadKind::BlockCluster, N, D, 1, N);
    ASSERT_OK(cpu->setHead(h));
    ASSERT_OK(gpu->setHead(h));
    for (const HeadPattern &p :
         {HeadPattern::aShape(64, 128), HeadPattern::blockSparse(2)}) {
      expectSameDensity(*cpu, *gpu, p);
      CandidateEval c, g;
      ASSERT_OK(cpu->evaluate(p, c));
      ASSERT_OK(gpu->evaluate(p, g));
      EXPECT_NEAR(g.recall, c.recall, 2e-3) << N << " " << D << p.str();
      EXPECT_NEAR(g.relL2, c.relL2, 1e-2) << N << " " << D << p.str();
    }
  }
}

TEST(SearchGpuScorerDevice, SupportCheckAndOwnedRuntime) {
  REQUIRE_SCORER_RUNTIME(rt);
  EXPECT_TRUE(checkGpuScorerSupport(*rt, 64).ok());
  EXPECT_TRUE(checkGpuScorerSupport(*rt, 128).ok());
  EXPECT_TRUE(checkGpuScorerSupport(*rt, 96).ok()); // zero-padded to 128
  EXPECT_EQ(checkGpuScorerSupport(*rt, 100).code(), ErrorCode::Unsupported);

  // The owning factory loads the generated PTX itself.
  bool generated = false;
  std::string why;
  scorerRuntime(&why, &generated);
  if (!generated)
    GTEST_SKIP() << "generated PTX not found: the owned runtime cannot run";
  std::unique_ptr<Scorer> gpu;
  ASSERT_OK(createGpuScorer(&gpu));
  auto cpu = createCpuScorer();
  const HeadTensors h = syntheticHead(HeadKind::SinkLocal, 640, 128, 1, 5);
  ASSERT_OK(cpu->setHead(h));
  ASSERT_OK(gpu->setHead(h));
  expectSameDensity(*cpu, *gpu, HeadPattern::aShape(16, 64));
  CandidateEval c, g;
  ASSERT_OK(cpu->evaluate(HeadPattern::aShape(16, 64), c));
  ASSERT_OK(gpu->evaluate(HeadPattern::aShape(16, 64), g));
  EXPECT_NEAR(g.recall, c.recall, 2e-3);
  EXPECT_NEAR(g.relL2, c.relL2, 1e-2);
}

} // namespace
