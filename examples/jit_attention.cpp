//===- jit_attention.cpp - the main demo: compile, run, check, time -------===//
//
// 1. Compiles the attention kernels for a mixed per-head pattern set with the
//    in-process JIT (minfer IR -> expand -> outline -> PTX), twice: the second
//    call is a disk-cache hit. Prints both times. (Without MLIR in the build,
//    e.g. on the GPU machine, the AOT PTX of MINFER_PTX_DIR is used instead.)
// 2. With a GPU: runs dense, vertical-slash, block-sparse and A-shape on
//    random inputs, checks small N against the fp32 CPU reference, then prints
//    per-stage times (estimate, index, kernel) and density at large N.
// 3. Without a GPU: the CPU reference path on a small N, reporting each
//    pattern's density and its error against dense attention.
//
//===----------------------------------------------------------------------===//
#include "minfer/Runtime/CudaRuntime.h"
#include "minfer/Runtime/Reference.h"
#include "testing/GpuTestUtil.h"
#ifdef MINFER_HAVE_JIT
#include "minfer/Runtime/Jit.h"
#endif

#include <cmath>
#include <cstdio>
#include <memory>
#include <random>
#include <vector>

using namespace minfer;

namespace {
struct Named {
  const char *name;
  HeadPattern pattern;
};
const Named kPatterns[] = {
    {"dense", HeadPattern::dense()},
    {"vertical_slash v=1000 s=6096", HeadPattern::verticalSlash(1000, 6096)},
    {"block_sparse top_k=100", HeadPattern::blockSparse(100)},
    {"a_shape sink=128 local=4096", HeadPattern::aShape(128, 4096)},
};

double maxAbsDiff(const std::vector<float> &a, const std::vector<float> &b) {
  double m = 0;
  for (size_t i = 0; i < a.size(); ++i)
    m = std::max(m, std::isfinite(a[i]) ? std::fabs(double(a[i]) - b[i]) : 1e30);
  return m;
}

int cpuOnly(const char *why) {
  std::printf("[cpu] %s: running the fp32 CPU reference path instead\n", why);
  AttentionShape s{1, 4, 2, 2048, 64};
  std::mt19937 gen(7);
  std::uniform_real_distribution<float> u(-1, 1);
  std::vector<float> q(s.qElems()), k(s.kvElems()), v(s.kvElems()), dense, out;
  for (auto *t : {&q, &k, &v})
    for (float &x : *t)
      x = u(gen);
  float scale = 1.0f / std::sqrt(float(s.headDim));
  if (Status st = ref::denseAttention(s, q, k, v, scale, dense); !st.ok()) {
    std::printf("error: %s\n", st.str().c_str());
    return 1;
  }
  std::printf("[cpu] N=%lld H=%lld Hkv=%lld D=%lld\n", (long long)s.seqLen,
              (long long)s.heads, (long long)s.kvHeads, (long long)s.headDim);
  const HeadPattern small[] = {HeadPattern::verticalSlash(64, 128),
                               HeadPattern::blockSparse(4),
                               HeadPattern::aShape(64, 256)};
  for (const HeadPattern &p : small) {
    SparseIndex index;
    LayerPatterns patterns(s.heads, p);
    if (Status st = ref::sparseAttention(s, q, k, v, scale, patterns, out, &index); !st.ok()) {
      std::printf("error: %s\n", st.str().c_str());
      return 1;
    }
    double kept = 0;
    for (int64_t h = 0; h < s.heads; ++h)
      for (uint8_t m : ref::maskFromIndex(index, 0, h))
        kept += m;
    double causal = double(s.seqLen) * (s.seqLen + 1) / 2 * s.heads;
    std::printf("[cpu] %-60s density %.3f  max |out - dense| %.3f\n", p.str().c_str(),
                kept / causal, maxAbsDiff(out, dense));
  }
  return 0;
}
} // namespace

int main() {
  using namespace minfer::cuda;
  std::unique_ptr<Runtime> rt;
  Status created = Runtime::create(&rt);

#ifdef MINFER_HAVE_JIT
  kernel::Chip chip = created.ok() ? rt->device().chip : kernel::Chip::SM90A;
  // Compile the four kernel kinds the patterns need, cold and then warm.
  for (const Named &n : kPatterns) {
    jit::JitRequest req;
    req.heads = 4, req.kvHeads = 4, req.headDim = 128, req.chip = chip;
    req.patterns.assign(4, n.pattern);
    jit::JitResult cold, warm;
    jit::JitOptions fresh;
    fresh.useCache = false;
    Status st = jit::compile(req, cold, fresh);
    if (st.ok())
      st = jit::compile(req, cold); // populate the cache
    if (st.ok())
      st = jit::compile(req, warm);
    if (!st.ok()) {
      std::printf("[jit] %s: %s\n", n.name, st.str().c_str());
      return 1;
    }
    std::printf("[jit] %-30s -> %s.%s: compile %.0f ms, cache hit %.2f ms (%zu bytes PTX, key %s)\n",
                n.name, warm.kernels[0].config.kernelName().c_str(), kernel::chipName(chip),
                cold.compileMs, warm.compileMs, warm.kernels[0].ptx.size(), warm.cacheKey.c_str());
    if (created.ok())
      if (Status a = rt->addKernelPtx(warm.kernels[0].config, warm.kernels[0].ptx); !a.ok()) {
        std::printf("[jit] loading PTX failed: %s\n", a.str().c_str());
        return 1;
      }
  }
#else
  std::printf("[jit] built without MLIR: using AOT PTX from %s\n",
              created.ok() ? rt->ptxDir().c_str() : "(no device)");
#endif
  if (!created.ok())
    return cpuOnly(created.str().c_str());

  std::printf("[gpu] %s (sm_%d%d, %d SMs)\n", rt->device().name.c_str(),
              rt->device().ccMajor, rt->device().ccMinor, rt->device().multiprocessors);
  for (int64_t n : {1000, 131072}) {
    AttentionShape s{1, 4, 4, n, 128};
    float scale = 1.0f / std::sqrt(128.0f);
    testing::DeviceAttention dev;
    if (Status st = dev.create(*rt, s, kernel::ElemType::BF16, scale, 11); !st.ok()) {
      std::printf("error: %s\n", st.str().c_str());
      return 1;
    }
    for (const Named &p : kPatterns) {
      LayerPatterns patterns(s.heads, p.pattern);
      RunStats stats;
      RunOptions opts;
      opts.timing = opts.countKept = true;
      opts.stats = &stats;
      SparseIndex index;
      if (n <= 4096)
        opts.indexOut = &index;
      Status st = dev.poison(*rt);
      if (st.ok())
        st = rt->sparseAttention(dev.tensors, patterns, opts); // warm-up + index
      if (st.ok())
        st = rt->sparseAttention(dev.tensors, patterns, opts);
      if (!st.ok()) {
        std::printf("error (%s): %s\n", p.name, st.str().c_str());
        return 1;
      }
      double density = stats.keptPairs / (double(n) * (n + 1) / 2 * s.heads);
      std::printf("[gpu] N=%-7lld %-30s estimate %7.3f ms  index %7.3f ms  kernel %8.3f ms  density %.4f\n",
                  (long long)n, p.name, stats.estimateMs, stats.indexMs, stats.kernelMs, density);
      if (n <= 4096) { // check every row against the fp32 CPU reference
        std::vector<float> got, want;
        st = dev.downloadOut(&got);
        if (st.ok())
          st = ref::indexedAttention(s, dev.hq.values, dev.hk.values, dev.hv.values, scale, index, want);
        if (!st.ok()) {
          std::printf("error: %s\n", st.str().c_str());
          return 1;
        }
        double err = maxAbsDiff(got, want);
        std::printf("       max |gpu - cpu reference| = %.2e  %s\n", err, err <= 2e-2 ? "ok" : "FAIL");
        if (err > 2e-2)
          return 1;
      }
    }
  }
  return 0;
}
