//===- AttentionBench.cpp - Google Benchmark of every pattern and dense ---===//
//
// One benchmark per (implementation, data, N, heads): the whole online call
// (estimate -> index -> kernel) through minfer::cuda::Runtime, timed with CUDA
// events (manual time), plus counters: per-stage ms, density (fraction of the
// causal work the pattern keeps, counted on the GPU from the index), retained
// TFLOP/s (4 D flops per kept query-key pair) and the index share of the total.
// Inputs are generated on the GPU (runtime/cuda/kernels/testing/Generate.cu):
// uniform random, or structured long-context-like q/k (RoPE'd shared per-head
// bias + heavy-hitter keys). Budgets are MInference's defaults: VS v=1000
// s=6096, BS top-k=100, A-shape sink 128 + local 4096. The runtime's dense
// fallback is on (threshold kDenseFallback; counter `fallback` = 1 when the
// call ran the dense kernel).
//
// Name: <impl>/<data>/n<N>/h<H>_<Hkv>; filter with --benchmark_filter, e.g.
//   minfer-bench --benchmark_filter='/n(16384|131072)/' --benchmark_format=json
//
//===----------------------------------------------------------------------===//
#include "DriverApi.h"
#include "Plan.h"
#include "minfer/Runtime/CudaRuntime.h"
#include "testing/GpuTestUtil.h"

#include <benchmark/benchmark.h>
#include <algorithm>
#include <climits>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <memory>
#include <set>
#include <string>
#include <vector>

using namespace minfer;
using namespace minfer::cuda;

namespace {
/// The grid; registerAll adds Phi-3-mini's shape at head dims 96
/// (kernels of its own since the twenty-fourth session) and 128 ("/d96",
/// "/d128").
constexpr int64_t kHeadDim = 128;
/// Kept fraction at which a call runs the dense kernel instead.
constexpr double kDenseFallback = 0.9;

enum class Impl { Dense, VerticalSlash, BlockSparse, AShape };
enum class Data { Random, Structured };

const char *implName(Impl i) {
  switch (i) {
  case Impl::Dense: return "dense";
  case Impl::VerticalSlash: return "vs";
  case Impl::BlockSparse: return "bs";
  case Impl::AShape: return "ashape";
  }
  return "?";
}

HeadPattern patternOf(Impl i) {
  switch (i) {
  case Impl::Dense: return HeadPattern::dense();
  case Impl::VerticalSlash: return HeadPattern::verticalSlash(1000, 6096);
  case Impl::BlockSparse: return HeadPattern::blockSparse(100);
  case Impl::AShape: return HeadPattern::aShape(128, 4096);
  }
  return HeadPattern::dense();
}

/// The runtime plus the generator kernels, shared by all benchmarks.
struct Bench {
  std::unique_ptr<Runtime> rt;
  testing::DeviceContext context{/*scoped=*/false};
  const DriverApi *api = nullptr;
  CUmodule module = nullptr;
  CUfunction random = nullptr, structured = nullptr;
  Status status;

  static Bench &get() {
    static Bench b;
    return b;
  }
  Bench() { status = init(); }
  Status init() {
    MINFER_RETURN_IF_ERROR(Runtime::create(&rt));
    MINFER_RETURN_IF_ERROR(context.enter(*rt));
    api = &context.api();
    MINFER_RETURN_IF_ERROR(testing::loadTestModule(*api, "Generate", &module));
    MINFER_CU(*api, cuModuleGetFunction, &random, module, "minfer_fill_random");
    MINFER_CU(*api, cuModuleGetFunction, &structured, module, "minfer_fill_structured");
    return Status::success();
  }

  Status fill(void *ptr, int64_t heads, int64_t n, int64_t dim, int64_t group,
              Data data, bool isKey, uint64_t seed) {
    CUdeviceptr p = reinterpret_cast<CUdeviceptr>(ptr);
    long long rows = heads * n, elems = rows * dim;
    int bf16 = 1, key = isKey, heavy = 32, h = int(heads), d = int(dim),
        g = int(group);
    long long seqLen = n;
    float lo = -1.0f, hi = 1.0f, bias = 1.5f, heavyValue = 20.0f;
    unsigned long long s = seed;
    if (data == Data::Random) {
      void *args[] = {&p, &elems, &s, &bf16, &lo, &hi};
      MINFER_CU(*api, cuLaunchKernel, random, 4096, 1, 1, 256, 1, 1, 0, nullptr, args, nullptr);
    } else {
      void *args[] = {&p, &rows, &h, &seqLen, &d, &g, &s, &bf16, &key, &heavy, &bias, &heavyValue};
      MINFER_CU(*api, cuLaunchKernel, structured, 4096, 1, 1, 256, 1, 1, 0, nullptr, args, nullptr);
    }
    return rt->synchronize();
  }
};

/// Device tensors of one case, freed when the case ends.
struct Tensors {
  Runtime &rt;
  std::vector<void *> ptrs;
  explicit Tensors(Runtime &rt) : rt(rt) {}
  ~Tensors() {
    for (void *p : ptrs)
      (void)rt.release(p);
  }
  Status alloc(size_t bytes, void **p) {
    MINFER_RETURN_IF_ERROR(rt.allocate(bytes, p));
    ptrs.push_back(*p);
    return Status::success();
  }
};

/// Development aid (MINFER_BENCH_INDEX_STATS=<file>): appends, per head, the
/// shape of the sparse index this case builds -- ranges and 64-key tiles per
/// query block as if each range started a tile of its own (the kernel packs
/// vertical-slash ranges' partial tiles), the share of those tiles in ranges
/// no wider than 64 keys -- and
/// the range offsets (64 m - start, end) of the last query block of head 0,
/// to reason about K/V reuse between neighbouring query blocks.
void dumpIndexStats(Bench &b, const AttentionTensors &t,
                    const LayerPatterns &patterns, RunOptions opts,
                    const std::string &name, const char *path) {
  SparseIndex index;
  opts.indexOnly = true;
  opts.indexOut = &index;
  if (!b.rt->sparseAttention(t, patterns, opts).ok() || index.heads == 0)
    return;
  FILE *f = std::fopen(path, "a");
  if (!f)
    return;
  const int64_t nb = index.numBlocks();
  for (int64_t h = 0; h < index.heads; ++h) {
    double ranges = 0, tiles = 0, narrowTiles = 0, columns = 0;
    for (int64_t m = 0; m < nb; ++m) {
      int64_t row = index.row(0, h, m);
      int32_t rc = index.rangeCount[row];
      const int32_t *r = &index.ranges[row * index.maxRanges * 2];
      ranges += rc;
      columns += index.columnCount[row];
      for (int32_t k = 0; k < rc; ++k) {
        int64_t w = r[2 * k + 1] - r[2 * k];
        const int64_t tile = kernel::kBlockN;
        tiles += w <= 0 ? 1 : (w + tile - 1) / tile;
        narrowTiles += w <= tile ? 1 : 0;
      }
    }
    std::fprintf(f, "%s head %lld: per query block %.1f ranges, %.1f unpacked range tiles (%.1f%% in ranges <= 64 keys), %.1f columns\n",
                 name.c_str(), (long long)h, ranges / nb, tiles / nb,
                 tiles > 0 ? 100 * narrowTiles / tiles : 0.0, columns / nb);
  }
  // Key tiles two neighbouring query blocks (2 M, 2 M + 1) have in common,
  // as a 128-row CTA walking both range lists would share them.
  for (int64_t h = 0; h < index.heads; ++h) {
    double all = 0, shared = 0;
    for (int64_t m = 0; m + 1 < nb; m += 2) {
      std::set<int32_t> starts[2];
      for (int w = 0; w < 2; ++w) {
        int64_t row = index.row(0, h, m + w);
        const int32_t *r = &index.ranges[row * index.maxRanges * 2];
        for (int32_t k = 0; k < index.rangeCount[row]; ++k)
          for (int32_t t = r[2 * k]; t == r[2 * k] || t < r[2 * k + 1];
               t += int32_t(kernel::kBlockN))
            starts[w].insert(t);
      }
      all += starts[0].size() + starts[1].size();
      for (int32_t t : starts[0])
        shared += starts[1].count(t);
    }
    std::fprintf(f, "%s head %lld: neighbouring query blocks share %.1f%% of their range tiles\n",
                 name.c_str(), (long long)h, all > 0 ? 100 * 2 * shared / all : 0.0);
  }
  // The most any sharing between neighbours could save, counted in keys: for
  // groups of g = 2 and 3 query blocks, keys in the union of their ranges
  // (and columns) over the keys each block reads. 1/g: the blocks read the
  // same keys; 1: disjoint keys (an isolated slash gives block m + 1 the
  // 64 keys after block m's).
  for (int64_t h = 0; h < index.heads; ++h)
    for (int64_t g : {2, 3}) {
      double sum = 0, uni = 0, colSum = 0, colUni = 0;
      for (int64_t m = 0; m + g <= nb; m += g) {
        std::vector<std::pair<int32_t, int32_t>> iv;
        std::set<int32_t> cols;
        for (int64_t w = 0; w < g; ++w) {
          int64_t row = index.row(0, h, m + w);
          const int32_t *r = &index.ranges[row * index.maxRanges * 2];
          for (int32_t k = 0; k < index.rangeCount[row]; ++k) {
            iv.push_back({r[2 * k], r[2 * k + 1]});
            sum += std::max(0, r[2 * k + 1] - r[2 * k]);
          }
          const int32_t *c = &index.columnIndex[row * index.maxColumns];
          colSum += index.columnCount[row];
          cols.insert(c, c + index.columnCount[row]);
        }
        std::sort(iv.begin(), iv.end());
        int32_t end = INT32_MIN;
        for (auto [a, e] : iv) {
          a = std::max(a, end);
          if (e > a)
            uni += e - a;
          end = std::max(end, e);
        }
        colUni += cols.size();
      }
      std::fprintf(f, "%s head %lld: groups of %lld blocks read %.3f of their range keys and %.3f of their column keys once\n",
                   name.c_str(), (long long)h, (long long)g, sum > 0 ? uni / sum : 0.0,
                   colSum > 0 ? colUni / colSum : 0.0);
    }
  int64_t row = index.row(0, 0, nb - 1);
  const int32_t *r = &index.ranges[row * index.maxRanges * 2];
  std::fprintf(f, "%s last block ranges (offset from 64 m, width):", name.c_str());
  for (int32_t k = 0; k < index.rangeCount[row]; ++k)
    std::fprintf(f, " %lld:%d", (long long)(64 * (nb - 1) - r[2 * k]), r[2 * k + 1] - r[2 * k]);
  std::fprintf(f, "\n");
  std::fclose(f);
}

/// Spread of the attention kernel's time over the instrumented calls.
struct StageSpread {
  float kernelMin = 0, kernelMax = 0;
  int samples = 0;
};

/// Instrumented calls (RunOptions::timing) give the per-stage device times.
/// One call's kernel time varies by several % (more at 512K-1M), and the
/// retained-TFLOP/s target is judged on it, so `stats` gets the median of
/// each stage over up to kStageSamples calls, as many as fit in
/// kStageBudgetMs of measured time (at least one: the 1M-token H32/8 calls
/// take seconds each). Density and the kernel's name come from the first.
constexpr int kStageSamples = 5;
constexpr double kStageBudgetMs = 3000;
Status measureStages(Bench &b, const AttentionTensors &t,
                     const LayerPatterns &patterns, const RunOptions &plain,
                     RunStats *stats, StageSpread *spread) {
  std::vector<float> est, idx, ker;
  double spent = 0;
  for (int i = 0; i < kStageSamples && (i == 0 || spent * (i + 1) / i <= kStageBudgetMs);
       ++i) {
    RunStats one;
    RunOptions instrumented = plain;
    instrumented.timing = true;
    instrumented.countKept = i == 0;
    instrumented.stats = &one;
    MINFER_RETURN_IF_ERROR(b.rt->sparseAttention(t, patterns, instrumented));
    if (i == 0)
      *stats = one;
    est.push_back(one.estimateMs);
    idx.push_back(one.indexMs);
    ker.push_back(one.kernelMs);
    spent += one.estimateMs + one.indexMs + one.kernelMs;
  }
  auto median = [](std::vector<float> v) {
    std::sort(v.begin(), v.end());
    size_t n = v.size();
    return n % 2 ? v[n / 2] : 0.5f * (v[n / 2 - 1] + v[n / 2]);
  };
  stats->estimateMs = median(est);
  stats->indexMs = median(idx);
  stats->kernelMs = median(ker);
  spread->kernelMin = *std::min_element(ker.begin(), ker.end());
  spread->kernelMax = *std::max_element(ker.begin(), ker.end());
  spread->samples = int(ker.size());
  return Status::success();
}

void runCase(benchmark::State &state, Impl impl, Data data, int64_t n,
             int64_t heads, int64_t kvHeads, int64_t dim) {
  Bench &b = Bench::get();
  if (!b.status.ok()) {
    state.SkipWithError(b.status.str().c_str());
    return;
  }
  Tensors mem(*b.rt);
  AttentionTensors t;
  t.batch = 1, t.heads = heads, t.kvHeads = kvHeads, t.seqLen = n;
  t.headDim = dim, t.dtype = kernel::ElemType::BF16;
  t.scale = 1.0f / std::sqrt(float(dim));
  size_t qBytes = size_t(heads) * n * dim * 2, kvBytes = size_t(kvHeads) * n * dim * 2;
  void *q, *k, *v, *o;
  Status s = mem.alloc(qBytes, &q);
  if (s.ok()) s = mem.alloc(kvBytes, &k);
  if (s.ok()) s = mem.alloc(kvBytes, &v);
  if (s.ok()) s = mem.alloc(qBytes, &o);
  if (s.ok()) s = b.fill(q, heads, n, dim, heads / kvHeads, data, false, 1);
  if (s.ok()) s = b.fill(k, kvHeads, n, dim, 1, data, true, 2);
  if (s.ok()) s = b.fill(v, kvHeads, n, dim, 1, Data::Random, false, 3);
  if (!s.ok()) {
    state.SkipWithError(s.str().c_str());
    return;
  }
  t.q = q, t.k = k, t.v = v, t.out = o;
  LayerPatterns patterns(heads, patternOf(impl));

  // The automatic dense fallback is on, as a user would run it: at short N
  // (or dense-like data) the dense kernel beats a sparse one.
  RunOptions plain;
  plain.denseFallback = kDenseFallback;
  // Stage times and density from instrumented calls (they synchronize).
  RunStats stats;
  StageSpread spread;
  s = measureStages(b, t, patterns, plain, &stats, &spread);
  if (!s.ok()) {
    state.SkipWithError(s.str().c_str());
    return;
  }

  if (const char *path = std::getenv("MINFER_BENCH_INDEX_STATS"))
    dumpIndexStats(b, t, patterns, plain,
                   std::string(implName(impl)) + "/n" + std::to_string(n) + "/h" +
                       std::to_string(heads),
                   path);

  const DriverApi &api = *b.api;
  CUevent start, stop;
  api.cuEventCreate(&start, kEventDefault);
  api.cuEventCreate(&stop, kEventDefault);
  for (auto _ : state) {
    api.cuEventRecord(start, nullptr);
    s = b.rt->sparseAttention(t, patterns, plain);
    api.cuEventRecord(stop, nullptr);
    api.cuEventSynchronize(stop);
    float ms = 0;
    api.cuEventElapsedTime(&ms, start, stop);
    if (!s.ok()) {
      state.SkipWithError(s.str().c_str());
      break;
    }
    state.SetIterationTime(ms / 1e3);
  }
  api.cuEventDestroy(start);
  api.cuEventDestroy(stop);

  double total = stats.estimateMs + stats.indexMs + stats.kernelMs;
  state.SetLabel(stats.attentionKernel); // which kernel (and tuning) ran
  state.counters["n"] = double(n);
  state.counters["fallback"] = stats.denseFallback ? 1 : 0;
  // Chunk indices built, the fallback's count included (2 x chunks at most).
  state.counters["index_builds"] = double(stats.indexBuilds);
  // Attention launches: one per head chunk, more in launch waves.
  state.counters["kernel_launches"] = double(stats.kernelLaunches);
  state.counters["estimate_ms"] = stats.estimateMs;
  state.counters["index_ms"] = stats.indexMs;
  state.counters["kernel_ms"] = stats.kernelMs;
  state.counters["kernel_ms_min"] = spread.kernelMin;
  state.counters["kernel_ms_max"] = spread.kernelMax;
  state.counters["stage_samples"] = double(spread.samples);
  state.counters["density"] = stats.keptPairs / causalPairs(heads, n);
  // Retained work over the un-instrumented mean time (s per iteration).
  state.counters["tflops"] = benchmark::Counter(
      4.0 * dim * stats.keptPairs / 1e12,
      benchmark::Counter::kIsIterationInvariantRate);
  state.counters["tile_sharing"] = stats.tileSharing; // 0: not measured
  state.counters["index_share"] =
      total > 0 ? (stats.estimateMs + stats.indexMs) / total : 0.0;
}

/// Registers the benchmark grid. Large dense cases are capped (a 1M-token
/// dense prefill of 32 heads takes seconds per call).
void registerAll() {
  auto add = [](const std::string &name, Impl impl, Data data, int64_t n,
                int64_t h, int64_t hkv, int64_t dim, double work) {
    auto *bm = benchmark::RegisterBenchmark(name.c_str(), runCase, impl, data,
                                            n, h, hkv, dim);
    bm->UseManualTime()->Unit(benchmark::kMillisecond);
    // Sub-millisecond cases get more iterations: their means decide the
    // N <= 16K fallback ratios, where a few microseconds matter. The
    // 1M-token sparse calls vary by several % from call to call.
    bm->Iterations(work > 1e12 ? (impl == Impl::Dense ? 2 : 5)
                   : work > 1e11 ? 5 : work > 1e10 ? 20 : 200);
  };
  const int64_t lengths[] = {4096, 16384, 65536, 131072, 262144, 524288, 1048576};
  const std::pair<int64_t, int64_t> shapes[] = {{32, 8}, {4, 4}};
  for (auto [h, hkv] : shapes)
    for (Data data : {Data::Random, Data::Structured})
      for (Impl impl : {Impl::Dense, Impl::VerticalSlash, Impl::BlockSparse, Impl::AShape})
        for (int64_t n : lengths) {
          // Keep within a 80 GB card and a bounded run: q,k,v,o at 1M x 32 heads fit, but dense
          // at that size does not finish in reasonable time.
          double work = double(n) * n * h;
          if (impl == Impl::Dense && work > 2.2e11 * 4)
            continue;
          std::string name = std::string(implName(impl)) + "/" +
                             (data == Data::Random ? "random" : "structured") + "/n" +
                             std::to_string(n) + "/h" + std::to_string(h) + "_" + std::to_string(hkv);
          add(name, impl, data, n, h, hkv, kHeadDim, work);
        }
  // Phi-3-mini: 32 heads, no GQA, head dim 96 (its own kernels: 3/4 of the
  // work of 128), and the same shape at 128.
  for (int64_t dim : {96, 128})
    for (Impl impl : {Impl::Dense, Impl::VerticalSlash, Impl::BlockSparse, Impl::AShape})
      for (int64_t n : {int64_t(16384), int64_t(131072)})
        add(std::string(implName(impl)) + "/structured/n" + std::to_string(n) +
                "/h32_32/d" + std::to_string(dim),
            impl, Data::Structured, n, 32, 32, dim, double(n) * n * 32);
}
} // namespace

int main(int argc, char **argv) {
  registerAll();
  benchmark::Initialize(&argc, argv);
  if (benchmark::ReportUnrecognizedArguments(argc, argv))
    return 1;
  benchmark::RunSpecifiedBenchmarks();
  benchmark::Shutdown();
  return 0;
}
