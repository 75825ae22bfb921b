//===- ConfigToolTest.cpp - search -> config -> loader, and minfer-search -===//
//
// Built only with MinferConfig (the compiler build). A model whose heads have
// known structure is searched, written in MInference's format, loaded back
// with loadModelConfig: the loaded patterns and scores must equal the
// search's exactly and name the structure each head was built with. With the
// tool built, the same runs end to end through .npy and .safetensors files,
// and bad inputs must fail with their message and exit code; the scorer
// choice (--scorer, --gpu-min-len) is checked on the paths this machine has:
// without a device, --scorer gpu fails cleanly and auto falls back to cpu.
//
//===----------------------------------------------------------------------===//
#include "Synthetic.h"
#include "TestUtil.h"
#include "minfer/Runtime/Config.h"
#include "minfer/Runtime/CudaRuntime.h"
#include "minfer/Search/Search.h"
#include "minfer/Search/TensorIO.h"
#include <sys/wait.h>

using namespace minfer;
using namespace minfer::search;
using namespace minfer::search::test;

namespace {

constexpr int64_t kN = 1024, kD = 64;

/// Two layers of three heads: the kind each head is built with.
const std::vector<std::vector<HeadKind>> kModel = {
    {HeadKind::SinkLocal, HeadKind::VerticalSlash, HeadKind::BlockCluster},
    {HeadKind::BlockCluster, HeadKind::SinkLocal, HeadKind::VerticalSlash}};

PatternKind expectedKind(HeadKind k) {
  switch (k) {
  case HeadKind::SinkLocal: return PatternKind::AShape;
  case HeadKind::VerticalSlash: return PatternKind::VerticalSlash;
  case HeadKind::BlockCluster: return PatternKind::BlockSparse;
  }
  return PatternKind::Dense;
}

struct ModelTensors {
  std::vector<Tensor> q, k, v; ///< per layer, [1, 3, N, D]
};

ModelTensors makeModel() {
  ModelTensors m;
  for (size_t l = 0; l < kModel.size(); ++l) {
    Tensor q, k, v;
    makeLayer(kModel[l], kN, kD, 40 + l, q.data, k.data, v.data);
    q.shape = k.shape = v.shape = {1, int64_t(kModel[l].size()), kN, kD};
    m.q.push_back(q);
    m.k.push_back(k);
    m.v.push_back(v);
  }
  return m;
}

SearchOptions options() {
  SearchOptions o;
  o.budget = 0.4;
  return o;
}

TEST(SearchConfig, SearchWriteLoadRoundTripIsLossless) {
  ModelTensors m = makeModel();
  auto scorer = createCpuScorer();
  std::vector<HeadResult> results;
  for (size_t l = 0; l < kModel.size(); ++l) {
    LayerTensors t{m.q[l].shape, m.k[l].shape, m.v[l].shape,
                   &m.q[l].data, &m.k[l].data, &m.v[l].data};
    Status st = searchLayer(*scorer, t, l, 0, options(), results);
    ASSERT_TRUE(st.ok()) << st.str();
  }
  ModelConfig cfg;
  ASSERT_TRUE(toModelConfig(results, cfg).ok());
  ASSERT_TRUE(checkModelConfig(cfg).ok()) << checkModelConfig(cfg).str();

  TempDir dir;
  ASSERT_TRUE(dir.ok());
  std::string path = dir.file("config.json");
  ASSERT_TRUE(saveModelConfig(cfg, path).ok());
  ModelConfig loaded;
  Status st = loadModelConfig(path, loaded);
  ASSERT_TRUE(st.ok()) << st.str();
  EXPECT_TRUE(loaded == cfg);
  ASSERT_EQ(loaded.numLayers(), 2);
  ASSERT_EQ(loaded.numHeads(), 3);
  for (const HeadResult &r : results) {
    EXPECT_EQ(loaded.layers[r.layer][r.head], r.best.pattern);
    EXPECT_EQ(loaded.scores[r.layer][r.head], r.best.recall);
    EXPECT_EQ(loaded.layers[r.layer][r.head].kind,
              expectedKind(kModel[r.layer][r.head]))
        << "layer " << r.layer << " head " << r.head;
  }
}

TEST(SearchConfig, ResultsOutOfOrderAreRejected) {
  std::vector<HeadResult> r(2);
  r[0].best.pattern = r[1].best.pattern = HeadPattern::aShape(4, 64);
  r[1].head = 2;
  ModelConfig cfg;
  EXPECT_CONTAINS(toModelConfig(r, cfg).message(), "not in head order");
  r[1].head = 0;
  r[1].layer = 1;
  r.push_back(r[1]);
  r[2].head = 1;
  EXPECT_CONTAINS(toModelConfig(r, cfg).message(), "layer 1 has 2 heads");
}

#ifdef MINFER_SEARCH_TOOL

struct ToolRun {
  int rc = -1;
  std::string out, err;
};

ToolRun runTool(TempDir &dir, const std::string &args) {
  static int counter = 0;
  std::string out = dir.file("out" + std::to_string(counter) + ".txt");
  std::string err = dir.file("err" + std::to_string(counter++) + ".txt");
  std::string cmd = std::string("'") + MINFER_SEARCH_TOOL + "' " + args +
                    " >'" + out + "' 2>'" + err + "'";
  int status = std::system(cmd.c_str());
  ToolRun r;
  r.rc = WIFEXITED(status) ? WEXITSTATUS(status) : -1;
  r.out = readText(out);
  r.err = readText(err);
  return r;
}

TEST(SearchTool, NpyAndSafetensorsGiveTheSameConfig) {
  TempDir dir;
  ASSERT_TRUE(dir.ok());
  ModelTensors m = makeModel();
  std::string npyArgs;
  std::vector<std::pair<std::string, Tensor>> named;
  for (size_t l = 0; l < kModel.size(); ++l) {
    const char *names[3] = {"q", "k", "v"};
    const Tensor *ts[3] = {&m.q[l], &m.k[l], &m.v[l]};
    for (int i = 0; i < 3; ++i) {
      std::string p = dir.file(std::string(names[i]) + std::to_string(l) +
                               ".npy");
      ASSERT_TRUE(writeNpy(p, *ts[i]).ok());
      npyArgs += std::string(" --") + names[i] + " '" + p + "'";
      named.push_back({"layers." + std::to_string(l) + "." + names[i], *ts[i]});
    }
  }
  std::string st = dir.file("acts.safetensors");
  ASSERT_TRUE(writeSafetensors(st, named).ok());

  std::string cfgA = dir.file("a.json"), cfgB = dir.file("b.json");
  std::string csv = dir.file("report.csv");
  ToolRun a = runTool(dir, npyArgs + " --budget 0.4 -o '" + cfgA +
                               "' --csv '" + csv + "'");
  ASSERT_EQ(a.rc, 0) << a.err;
  ToolRun b = runTool(dir, "--safetensors '" + st + "' --budget 0.4 -o '" +
                               cfgB + "' --quiet");
  ASSERT_EQ(b.rc, 0) << b.err;
  EXPECT_EQ(readText(cfgA), readText(cfgB));
  EXPECT_EQ(a.out, b.out); // the table
  EXPECT_CONTAINS(a.err, "minfer-search: layer 2/2 head 3/3");
  EXPECT_EQ(b.err, "");

  ModelConfig cfg;
  Status s = loadModelConfig(cfgA, cfg);
  ASSERT_TRUE(s.ok()) << s.str();
  ASSERT_EQ(cfg.numLayers(), 2);
  ASSERT_EQ(cfg.numHeads(), 3);
  for (size_t l = 0; l < kModel.size(); ++l)
    for (size_t h = 0; h < kModel[l].size(); ++h)
      EXPECT_EQ(cfg.layers[l][h].kind, expectedKind(kModel[l][h]))
          << "layer " << l << " head " << h << "\n"
          << a.out;
  std::string report = readText(csv);
  EXPECT_EQ(std::count(report.begin(), report.end(), '\n'), 7);
  EXPECT_CONTAINS(report, "1,1,stream_llm,");
  EXPECT_CONTAINS(a.out, "rel_l2");

  // --layers and a FLOPs budget equal to 0.4 of dense: same first layer.
  double flops = 0.4 * 4.0 * kD * (kN * (kN + 1) / 2);
  std::string cfgC = dir.file("c.json");
  ToolRun c = runTool(dir, "--safetensors '" + st + "' --layers 1 -o '" +
                               cfgC + "' --quiet --budget-flops " +
                               std::to_string(flops));
  ASSERT_EQ(c.rc, 0) << c.err;
  ModelConfig one;
  ASSERT_TRUE(loadModelConfig(cfgC, one).ok());
  ASSERT_EQ(one.numLayers(), 1);
  EXPECT_EQ(one.layers[0], cfg.layers[0]);
}

TEST(SearchTool, BadInputsFailWithTheirMessage) {
  TempDir dir;
  ASSERT_TRUE(dir.ok());
  Tensor q, k, k2;
  q.shape = {1, 2, 256, 64};
  k.shape = {1, 1, 256, 64};
  k2.shape = {1, 1, 128, 64};
  q.data.assign(q.numel(), 0.5f);
  k.data.assign(k.numel(), 0.25f);
  k2.data.assign(k2.numel(), 0.25f);
  std::string qp = dir.file("q.npy"), kp = dir.file("k.npy"),
              k2p = dir.file("k2.npy"), bad = dir.file("bad.npy");
  ASSERT_TRUE(writeNpy(qp, q).ok());
  ASSERT_TRUE(writeNpy(kp, k).ok());
  ASSERT_TRUE(writeNpy(k2p, k2).ok());
  std::string qbytes = readText(qp);
  writeBytes(bad, qbytes.substr(0, qbytes.size() - 10));
  std::string out = " -o '" + dir.file("x.json") + "'";

  ToolRun r = runTool(dir, "--q '" + qp + "' --k '" + k2p + "' --v '" + k2p +
                               "'" + out);
  EXPECT_EQ(r.rc, 1);
  EXPECT_CONTAINS(r.err, "minfer-search: error: layer 0: sequence length (N) "
                         "mismatch: q [1, 2, 256, 64], k [1, 1, 128, 64]");
  r = runTool(dir, "--q '" + bad + "' --k '" + kp + "' --v '" + kp + "'" + out);
  EXPECT_EQ(r.rc, 1);
  EXPECT_CONTAINS(r.err, "truncated data");
  r = runTool(dir, "--q '" + kp + "' --k '" + qp + "' --v '" + qp + "'" + out);
  EXPECT_EQ(r.rc, 1);
  EXPECT_CONTAINS(r.err, "heads mismatch");
  r = runTool(dir, "--q '" + qp + "' --k '" + kp + "' --v '" + kp + "'" + out +
                       " --budget 0.01");
  EXPECT_EQ(r.rc, 1);
  EXPECT_CONTAINS(r.err, "layer 0, head 0: no candidate fits the budget");
  r = runTool(dir, "--q '" + qp + "' --k '" + kp + "' --v '" + kp + "'");
  EXPECT_EQ(r.rc, 2);
  EXPECT_CONTAINS(r.err, "-o/--output (the config to write) is required");
  r = runTool(dir, "--q '" + qp + "' --k '" + kp + "'" + out);
  EXPECT_EQ(r.rc, 2);
  EXPECT_CONTAINS(r.err, "layer 0 needs --q, --k and --v");
  r = runTool(dir, "--safetensors '" + qp + "'" + out);
  EXPECT_EQ(r.rc, 1);
  EXPECT_CONTAINS(r.err, "safetensors header too large");
  r = runTool(dir, "--budget 2" + out);
  EXPECT_EQ(r.rc, 2);
  EXPECT_CONTAINS(r.err, "--budget needs a number in (0, 1]");

  std::string st = dir.file("other.safetensors");
  ASSERT_TRUE(writeSafetensors(st, {{"model.q", q}}).ok());
  r = runTool(dir, "--safetensors '" + st + "'" + out);
  EXPECT_EQ(r.rc, 1);
  EXPECT_CONTAINS(r.err, "no tensor 'layers.0.q'");
}

/// One layer of the model as .npy files: the tool's input arguments.
std::string writeFirstLayer(TempDir &dir, const ModelTensors &m) {
  std::string args;
  const char *names[3] = {"q", "k", "v"};
  const Tensor *ts[3] = {&m.q[0], &m.k[0], &m.v[0]};
  for (int i = 0; i < 3; ++i) {
    std::string p = dir.file(std::string("layer0_") + names[i] + ".npy");
    EXPECT_TRUE(writeNpy(p, *ts[i]).ok()) << p;
    args += std::string(" --") + names[i] + " '" + p + "'";
  }
  return args;
}

bool haveCudaDevice() {
  std::unique_ptr<cuda::Runtime> rt;
  return cuda::Runtime::create(&rt).ok();
}

size_t countOf(const std::string &hay, const std::string &needle) {
  size_t n = 0;
  for (size_t p = hay.find(needle); p != std::string::npos;
       p = hay.find(needle, p + 1))
    ++n;
  return n;
}

TEST(SearchTool, ScorerChoiceIsAnnounced) {
  TempDir dir;
  ASSERT_TRUE(dir.ok());
  const std::string in = writeFirstLayer(dir, makeModel());
  const std::string cfgA = dir.file("auto.json"), cfgC = dir.file("cpu.json");
  // N = 1024 is below the default --gpu-min-len: cpu on every machine.
  ToolRun a = runTool(dir, in + " --budget 0.4 -o '" + cfgA + "'");
  ASSERT_EQ(a.rc, 0) << a.err;
  EXPECT_CONTAINS(a.err, "minfer-search: scorer cpu (N=1024 < --gpu-min-len "
                         "16384)\n");
  EXPECT_EQ(countOf(a.err, "minfer-search: scorer "), 1u) << a.err;
  ToolRun c = runTool(dir, in + " --budget 0.4 --scorer cpu --gpu-min-len 1 "
                                "-o '" + cfgC + "'");
  ASSERT_EQ(c.rc, 0) << c.err;
  EXPECT_CONTAINS(c.err, "minfer-search: scorer cpu (--scorer cpu)\n");
  EXPECT_EQ(readText(cfgA), readText(cfgC));

  ToolRun r = runTool(dir, in + " --scorer tpu -o '" + cfgC + "'");
  EXPECT_EQ(r.rc, 2);
  EXPECT_CONTAINS(r.err, "--scorer is auto, cpu or gpu, got 'tpu'");
  r = runTool(dir, in + " --gpu-min-len -3 -o '" + cfgC + "'");
  EXPECT_EQ(r.rc, 2);
  EXPECT_CONTAINS(r.err, "--gpu-min-len needs a non-negative integer");
}

TEST(SearchTool, WithoutDeviceGpuFailsAndAutoFallsBack) {
  if (haveCudaDevice())
    GTEST_SKIP() << "this machine has a CUDA device";
  TempDir dir;
  ASSERT_TRUE(dir.ok());
  const std::string in = writeFirstLayer(dir, makeModel());
  const std::string cfgG = dir.file("gpu.json"), cfgA = dir.file("auto.json"),
                    cfgC = dir.file("cpu.json");
  ToolRun g = runTool(dir, in + " --budget 0.4 --scorer gpu -o '" + cfgG + "'");
  EXPECT_EQ(g.rc, 1) << g.err;
  EXPECT_CONTAINS(g.err, "minfer-search: error: --scorer gpu: no CUDA device: ");
  EXPECT_EQ(readText(cfgG), ""); // failed before writing anything
  ToolRun a = runTool(dir, in + " --budget 0.4 --gpu-min-len 1 -o '" + cfgA +
                               "'");
  ASSERT_EQ(a.rc, 0) << a.err;
  EXPECT_CONTAINS(a.err, "minfer-search: scorer cpu (no CUDA device: ");
  ToolRun c = runTool(dir, in + " --budget 0.4 --scorer cpu -o '" + cfgC + "'");
  ASSERT_EQ(c.rc, 0) << c.err;
  EXPECT_EQ(readText(cfgA), readText(cfgC));
}

TEST(SearchTool, WithDeviceGpuRunsOrFailsCleanly) {
  if (!haveCudaDevice())
    GTEST_SKIP() << "no CUDA device";
  TempDir dir;
  ASSERT_TRUE(dir.ok());
  const std::string in = writeFirstLayer(dir, makeModel());
  const std::string cfgG = dir.file("gpu.json"), cfgA = dir.file("auto.json");
  ToolRun g = runTool(dir, in + " --budget 0.4 --scorer gpu -o '" + cfgG + "'");
  if (g.rc != 0) {
    // E.g. no attention PTX: a message, not a crash.
    EXPECT_EQ(g.rc, 1);
    EXPECT_CONTAINS(g.err, "minfer-search: error: --scorer gpu: ");
    ToolRun a = runTool(dir, in + " --budget 0.4 --gpu-min-len 1 -o '" +
                                 cfgA + "'");
    ASSERT_EQ(a.rc, 0) << a.err;
    EXPECT_CONTAINS(a.err, "minfer-search: scorer cpu (GPU scorer "
                           "unavailable: ");
    return;
  }
  EXPECT_CONTAINS(g.err, "minfer-search: scorer gpu (");
  EXPECT_CONTAINS(g.err, ", N=1024)\n");
  ModelConfig cfg;
  Status s = loadModelConfig(cfgG, cfg);
  ASSERT_TRUE(s.ok()) << s.str();
  ASSERT_EQ(cfg.numHeads(), 3);
  for (size_t h = 0; h < kModel[0].size(); ++h)
    EXPECT_EQ(cfg.layers[0][h].kind, expectedKind(kModel[0][h]))
        << "head " << h << "\n" << g.out;
}

#endif // MINFER_SEARCH_TOOL

} // namespace
