//===- minfer-search.cpp - offline per-head sparse pattern search ---------===//
//
// Reads captured q/k/v activations per layer, searches every head for the
// sparse pattern that best keeps its attention under a compute budget (see
// include/minfer/Search/Search.h), writes MInference's per-head JSON config
// and prints a per-head report.
//
//   minfer-search --q q0.npy --k k0.npy --v v0.npy [--q q1.npy ...] -o cfg.json
//   minfer-search --safetensors acts.safetensors -o cfg.json --csv report.csv
//
// Candidates are scored on the CPU (fp32 reference) or, for long layers, on
// the GPU through the CUDA runtime (GpuScorer.h): --scorer auto (default)
// takes the GPU for layers with N >= --gpu-min-len when a device and the
// kernels are there, and says on stderr which scorer each layer got and why.
// Run with --help for every option.
//
//===----------------------------------------------------------------------===//
#include "minfer/Runtime/Config.h"
#include "minfer/Search/GpuScorer.h"
#include "minfer/Search/Search.h"
#include "minfer/Search/TensorIO.h"
#include <cerrno>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <map>
#include <memory>
#include <string>
#include <vector>

using namespace minfer;
using namespace minfer::search;

namespace {

const char *kUsage =
    "usage: minfer-search (--q Q --k K --v V)... | --safetensors FILE\n"
    "                     -o CONFIG.json [options]\n"
    "\n"
    "Inputs (fp32, fp16 or bf16; q [B, H, N, D], k and v [B, Hkv, N, D]):\n"
    "  --q/--k/--v PATH         .npy files of one layer; repeat the triple\n"
    "                           once per layer, in layer order\n"
    "  --safetensors PATH       one file holding layers.<i>.q, layers.<i>.k,\n"
    "                           layers.<i>.v for i = 0, 1, ... (consecutive)\n"
    "  --layers N               search only the first N layers\n"
    "Budget and candidates:\n"
    "  --budget F               kept fraction of the causal work, (0, 1]\n"
    "                           (default 0.1)\n"
    "  --budget-flops F         or: attention FLOPs per head (4 D per kept\n"
    "                           query-key pair)\n"
    "  --patterns LIST          of stream_llm (a_shape), vertical_and_slash\n"
    "                           (vertical_slash), block_sparse (default: all)\n"
    "  --sinks LIST             a_shape sink sizes (default 16,64,128)\n"
    "  --vertical-shares LIST   budget shares of vertical columns\n"
    "                           (default 0,0.1,0.3,0.6)\n"
    "Scoring:\n"
    "  --metric recall|rel_l2   what picks the winner (default recall)\n"
    "  --tie F                  metric tolerance within which the cheaper\n"
    "                           pattern wins (default 0.005)\n"
    "  --last-rows N            evaluation rows at the end (default 64)\n"
    "  --sample-rows N          plus N rows spread over the rest (default 64)\n"
    "  --full-output-max-len N  cpu scorer: rel-L2 over all rows up to this N,\n"
    "                           else over the evaluation rows (default 8192;\n"
    "                           the gpu scorer always takes all rows)\n"
    "  --scale F                softmax scale (default 1/sqrt(D))\n"
    "  --scorer auto|cpu|gpu    cpu: the fp32 CPU reference; gpu: the CUDA\n"
    "                           runtime on bf16-rounded inputs (needs a device,\n"
    "                           the index kernels and the attention PTX, see\n"
    "                           $MINFER_PTX_DIR); auto (default): gpu for\n"
    "                           layers with N >= --gpu-min-len when it works,\n"
    "                           else cpu\n"
    "  --gpu-min-len N          auto's length threshold (default 16384)\n"
    "Outputs:\n"
    "  -o, --output PATH        the config (MInference's JSON), required\n"
    "  --csv PATH               the per-head report as CSV\n"
    "  --quiet                  no scorer and progress lines on stderr\n";

int usageError(const std::string &m) {
  std::fprintf(stderr, "minfer-search: %s\n\n%s", m.c_str(), kUsage);
  return 2;
}

int fail(const Status &st) {
  std::fprintf(stderr, "minfer-search: error: %s\n", st.message().c_str());
  return 1;
}

bool parseDouble(const std::string &s, double &out) {
  if (s.empty())
    return false;
  char *end = nullptr;
  out = std::strtod(s.c_str(), &end);
  return end && *end == '\0' && std::isfinite(out);
}

bool parseInt(const std::string &s, int64_t &out) {
  if (s.empty())
    return false;
  char *end = nullptr;
  errno = 0;
  long long v = std::strtoll(s.c_str(), &end, 10);
  out = v;
  return errno == 0 && end && *end == '\0';
}

std::vector<std::string> splitList(const std::string &s) {
  std::vector<std::string> out;
  size_t start = 0;
  while (start <= s.size()) {
    size_t comma = s.find(',', start);
    if (comma == std::string::npos)
      comma = s.size();
    out.push_back(s.substr(start, comma - start));
    start = comma + 1;
  }
  return out;
}

struct LayerFiles {
  std::string q, k, v;
};

struct Args {
  std::vector<LayerFiles> npy;
  std::string safetensors, output, csv;
  int64_t maxLayers = -1;
  double budgetFlops = -1;
  float scale = 0;
  bool quiet = false;
  enum class ScorerMode { Auto, Cpu, Gpu } scorer = ScorerMode::Auto;
  int64_t gpuMinLen = 16384;
  SearchOptions opts;
};

/// Parses argv; returns 0 to continue, else the exit code.
int parseArgs(int argc, char **argv, Args &a) {
  bool haveBudget = false;
  for (int i = 1; i < argc; ++i) {
    std::string arg = argv[i];
    if (arg == "-h" || arg == "--help") {
      std::fputs(kUsage, stdout);
      return -1;
    }
    if (arg == "--quiet") {
      a.quiet = true;
      continue;
    }
    std::string val;
    size_t eq = arg.find('=');
    if (arg.rfind("--", 0) == 0 && eq != std::string::npos) {
      val = arg.substr(eq + 1);
      arg = arg.substr(0, eq);
    } else {
      if (i + 1 >= argc)
        return usageError("option " + arg + " needs a value");
      val = argv[++i];
    }
    double d = 0;
    int64_t n = 0;
    if (arg == "--q" || arg == "--k" || arg == "--v") {
      if (arg == "--q")
        a.npy.push_back({});
      if (a.npy.empty())
        return usageError(arg + " before the layer's --q");
      std::string &slot = arg == "--q"   ? a.npy.back().q
                          : arg == "--k" ? a.npy.back().k
                                         : a.npy.back().v;
      if (!slot.empty())
        return usageError("layer " + std::to_string(a.npy.size() - 1) +
                          " has two " + arg + " options");
      slot = val;
    } else if (arg == "--safetensors") {
      a.safetensors = val;
    } else if (arg == "-o" || arg == "--output") {
      a.output = val;
    } else if (arg == "--csv") {
      a.csv = val;
    } else if (arg == "--layers") {
      if (!parseInt(val, n) || n <= 0)
        return usageError("--layers needs a positive integer, got '" + val +
                          "'");
      a.maxLayers = n;
    } else if (arg == "--budget") {
      if (!parseDouble(val, d) || !(d > 0 && d <= 1))
        return usageError("--budget needs a number in (0, 1], got '" + val +
                          "'");
      a.opts.budget = d;
      haveBudget = true;
    } else if (arg == "--budget-flops") {
      if (!parseDouble(val, d) || !(d > 0))
        return usageError("--budget-flops needs a positive number, got '" +
                          val + "'");
      a.budgetFlops = d;
    } else if (arg == "--patterns") {
      a.opts.aShape = a.opts.verticalSlash = a.opts.blockSparse = false;
      for (const std::string &p : splitList(val)) {
        if (p == "stream_llm" || p == "a_shape")
          a.opts.aShape = true;
        else if (p == "vertical_and_slash" || p == "vertical_slash")
          a.opts.verticalSlash = true;
        else if (p == "block_sparse")
          a.opts.blockSparse = true;
        else
          return usageError("unknown pattern '" + p + "' in --patterns");
      }
    } else if (arg == "--sinks") {
      a.opts.sinks.clear();
      for (const std::string &p : splitList(val)) {
        if (!parseInt(p, n) || n < 0)
          return usageError("--sinks needs non-negative integers, got '" +
                            p + "'");
        a.opts.sinks.push_back(n);
      }
    } else if (arg == "--vertical-shares") {
      a.opts.verticalShares.clear();
      for (const std::string &p : splitList(val)) {
        if (!parseDouble(p, d) || !(d >= 0 && d < 1))
          return usageError("--vertical-shares needs numbers in [0, 1), got "
                            "'" + p + "'");
        a.opts.verticalShares.push_back(d);
      }
    } else if (arg == "--metric") {
      if (val == "recall")
        a.opts.metric = Metric::Recall;
      else if (val == "rel_l2")
        a.opts.metric = Metric::RelL2;
      else
        return usageError("--metric is recall or rel_l2, got '" + val + "'");
    } else if (arg == "--tie") {
      if (!parseDouble(val, d) || d < 0)
        return usageError("--tie needs a non-negative number");
      a.opts.tieTolerance = d;
    } else if (arg == "--last-rows" || arg == "--sample-rows" ||
               arg == "--full-output-max-len") {
      if (!parseInt(val, n) || n < 0)
        return usageError(arg + " needs a non-negative integer");
      (arg == "--last-rows"     ? a.opts.scorer.lastRows
       : arg == "--sample-rows" ? a.opts.scorer.sampleRows
                                : a.opts.scorer.fullOutputMaxLen) = n;
    } else if (arg == "--scorer") {
      if (val == "auto")
        a.scorer = Args::ScorerMode::Auto;
      else if (val == "cpu")
        a.scorer = Args::ScorerMode::Cpu;
      else if (val == "gpu")
        a.scorer = Args::ScorerMode::Gpu;
      else
        return usageError("--scorer is auto, cpu or gpu, got '" + val + "'");
    } else if (arg == "--gpu-min-len") {
      if (!parseInt(val, n) || n < 0)
        return usageError("--gpu-min-len needs a non-negative integer, got '" +
                          val + "'");
      a.gpuMinLen = n;
    } else if (arg == "--scale") {
      if (!parseDouble(val, d) || !(d > 0))
        return usageError("--scale needs a positive number");
      a.scale = static_cast<float>(d);
    } else {
      return usageError("unknown option " + arg);
    }
  }
  if (a.npy.empty() == a.safetensors.empty())
    return usageError("give either --q/--k/--v per layer or --safetensors");
  for (size_t l = 0; l < a.npy.size(); ++l)
    if (a.npy[l].k.empty() || a.npy[l].v.empty())
      return usageError("layer " + std::to_string(l) +
                        " needs --q, --k and --v");
  if (a.output.empty())
    return usageError("-o/--output (the config to write) is required");
  if (haveBudget && a.budgetFlops > 0)
    return usageError("give --budget or --budget-flops, not both");
  Status st = a.opts.validate();
  if (!st.ok())
    return usageError(st.message());
  return 0;
}

/// The tensors of one layer, read from .npy files or the safetensors file.
struct Layer {
  Tensor q, k, v;
};

Status readLayer(const Args &a, const SafetensorsFile &st, int64_t l,
                 Layer &out) {
  if (!a.npy.empty()) {
    MINFER_RETURN_IF_ERROR(readNpy(a.npy[l].q, out.q));
    MINFER_RETURN_IF_ERROR(readNpy(a.npy[l].k, out.k));
    return readNpy(a.npy[l].v, out.v);
  }
  std::string p = "layers." + std::to_string(l) + ".";
  MINFER_RETURN_IF_ERROR(st.read(p + "q", out.q));
  MINFER_RETURN_IF_ERROR(st.read(p + "k", out.k));
  return st.read(p + "v", out.v);
}

/// Number of layers in the safetensors file: layers.0.q, layers.1.q, ...
Status countLayers(const SafetensorsFile &st, int64_t &layers) {
  layers = 0;
  while (st.find("layers." + std::to_string(layers) + ".q"))
    ++layers;
  if (layers == 0)
    return invalidArgument(st.path() + ": no tensor 'layers.0.q' (expected "
                                       "layers.<i>.q, layers.<i>.k, "
                                       "layers.<i>.v for i = 0, 1, ...)");
  for (int64_t l = 0; l < layers; ++l)
    for (const char *t : {"k", "v"})
      if (!st.find("layers." + std::to_string(l) + "." + t))
        return invalidArgument(st.path() + ": layer " + std::to_string(l) +
                               " has q but no 'layers." + std::to_string(l) +
                               "." + t + "'");
  return Status::success();
}

/// The scorer of each layer under --scorer / --gpu-min-len. The CUDA runtime
/// is created at most once, and each head_dim's kernels are checked once
/// (checkGpuScorerSupport), so auto falls back to the CPU before a layer
/// starts rather than failing in its middle.
class ScorerPicker {
public:
  explicit ScorerPicker(const Args &a) : a(a) {}

  /// --scorer gpu: fail now, before any input is read, without a device.
  Status init() {
    if (a.scorer != Args::ScorerMode::Gpu)
      return Status::success();
    return gpuError(runtime());
  }

  /// The scorer for a layer of length N and head_dim D; announces it on
  /// stderr when the choice or its reason changes.
  Status pick(int64_t N, int64_t D, Scorer *&out) {
    std::string why;
    const bool wantGpu =
        a.scorer == Args::ScorerMode::Gpu ||
        (a.scorer == Args::ScorerMode::Auto && N >= a.gpuMinLen);
    Status st;
    if (wantGpu) {
      st = runtime();
      if (st.ok())
        st = support(D);
      if (st.ok() && !gpu)
        st = createGpuScorer(&gpu, *rt, a.opts.scorer);
      MINFER_RETURN_IF_ERROR(gpuError(st));
    }
    if (wantGpu && st.ok()) {
      out = gpu.get();
      const cuda::DeviceInfo &dev = rt->device();
      why = dev.name + ", " + kernel::chipName(dev.chip) + ", N=" +
            std::to_string(N);
    } else {
      if (!cpu)
        cpu = createCpuScorer(a.opts.scorer);
      out = cpu.get();
      if (a.scorer == Args::ScorerMode::Cpu)
        why = "--scorer cpu";
      else if (!wantGpu)
        why = "N=" + std::to_string(N) + " < --gpu-min-len " +
              std::to_string(a.gpuMinLen);
      else if (st.code() == ErrorCode::NoDevice)
        why = st.message(); // "no CUDA device: ..."
      else
        why = "GPU scorer unavailable: " + st.str();
    }
    std::string line = std::string("scorer ") + out->name() + " (" + why + ")";
    if (!a.quiet && line != announced)
      std::fprintf(stderr, "minfer-search: %s\n", line.c_str());
    announced = line;
    return Status::success();
  }

private:
  const Args &a;
  // The runtime outlives the GPU scorer that borrows it.
  std::unique_ptr<cuda::Runtime> rt;
  Status rtStatus;
  bool triedRuntime = false;
  std::map<int64_t, Status> supported; ///< by head_dim
  std::unique_ptr<Scorer> cpu, gpu;
  std::string announced;

  Status runtime() {
    if (!triedRuntime)
      rtStatus = cuda::Runtime::create(&rt);
    triedRuntime = true;
    return rtStatus;
  }
  Status support(int64_t D) {
    auto it = supported.find(D);
    if (it == supported.end())
      it = supported.emplace(D, checkGpuScorerSupport(*rt, D)).first;
    return it->second;
  }
  /// A GPU failure is an error with --scorer gpu (auto falls back).
  Status gpuError(const Status &st) const {
    if (st.ok() || a.scorer != Args::ScorerMode::Gpu)
      return Status::success();
    return Status(st.code(), "--scorer gpu: " + st.message());
  }
};

} // namespace

int main(int argc, char **argv) {
  Args a;
  int rc = parseArgs(argc, argv, a);
  if (rc != 0)
    return rc < 0 ? 0 : rc;

  SafetensorsFile st;
  int64_t layers = static_cast<int64_t>(a.npy.size());
  if (!a.safetensors.empty()) {
    Status s = st.open(a.safetensors);
    if (s.ok())
      s = countLayers(st, layers);
    if (!s.ok())
      return fail(s);
  }
  if (a.maxLayers > 0 && a.maxLayers < layers)
    layers = a.maxLayers;

  ScorerPicker picker(a);
  if (Status s = picker.init(); !s.ok())
    return fail(s);
  std::vector<HeadResult> results;
  const auto t0 = std::chrono::steady_clock::now();
  for (int64_t l = 0; l < layers; ++l) {
    Layer t;
    Status s = readLayer(a, st, l, t);
    if (!s.ok())
      return fail(s);
    LayerTensors lt{t.q.shape, t.k.shape, t.v.shape, &t.q.data, &t.k.data,
                    &t.v.data};
    s = checkLayerShapes(lt, "layer " + std::to_string(l));
    if (!s.ok())
      return fail(s);
    if (a.budgetFlops > 0) {
      // 2 D FLOPs for q.k and 2 D for p.v per kept pair.
      const int64_t N = t.q.shape[2], D = t.q.shape[3];
      double dense = 4.0 * double(D) * double(causalPairs(N));
      a.opts.budget = std::min(1.0, a.budgetFlops / dense);
    }
    auto progress = [&](const HeadResult &r, int64_t heads) {
      if (a.quiet)
        return;
      double secs = std::chrono::duration<double>(
                        std::chrono::steady_clock::now() - t0)
                        .count();
      std::fprintf(stderr,
                   "minfer-search: layer %lld/%lld head %lld/%lld: %s "
                   "(recall %.4f, density %.4f)  %.1f s\n",
                   (long long)l + 1, (long long)layers,
                   (long long)r.head + 1, (long long)heads,
                   configName(r.best.pattern.kind), r.best.recall,
                   r.best.density, secs);
    };
    Scorer *scorer = nullptr;
    s = picker.pick(t.q.shape[2], t.q.shape[3], scorer);
    if (!s.ok())
      return fail(s);
    s = searchLayer(*scorer, lt, l, a.scale, a.opts, results, progress);
    if (!s.ok())
      return fail(s);
  }

  ModelConfig cfg;
  Status s = toModelConfig(results, cfg);
  if (s.ok())
    s = saveModelConfig(cfg, a.output);
  if (!s.ok())
    return fail(s);
  std::fputs(reportTable(results, a.opts.budget).c_str(), stdout);
  if (!a.csv.empty()) {
    std::FILE *f = std::fopen(a.csv.c_str(), "wb");
    std::string csv = reportCsv(results, a.opts.budget);
    if (!f || std::fwrite(csv.data(), 1, csv.size(), f) != csv.size()) {
      if (f)
        std::fclose(f);
      return fail(invalidArgument("cannot write the CSV report to '" + a.csv +
                                  "'"));
    }
    if (std::fclose(f) != 0)
      return fail(invalidArgument("cannot write the CSV report to '" + a.csv +
                                  "'"));
  }
  return 0;
}
