//===- minfer-gpu-check.cpp - end-to-end check of the runtime on a GPU ----===//
//
// For each attention kernel kind x D {64, 96, 128} (--dims: any multiple of 8
// up to 128; others run zero-padded) x {bf16, f16} x N x (H, Hkv)
// in {(4, 1), (4, 4)}: random inputs, one Runtime::sparseAttention call with
// a mixed per-head layer that selects that kernel, then
//   - every output element must be written (the output is NaN-poisoned);
//   - max |out - ref| over sampled rows (all rows for N <= 4096; else 256
//     rows incl. the first and last per head), the fp64 reference computed
//     over the GPU's own index, must be <= 2e-2 (bf16) / 1e-2 (f16);
//   - the GPU index is compared with ref::buildIndex (informational: random
//     inputs can have near-ties that rounding decides either way);
//   - a second, timed call reports estimate / index / kernel milliseconds.
// Exits 0 when all pass or when there is no CUDA device (with a message),
// 1 on a failure, 2 on bad usage or missing attention-kernel PTX.
//
//   minfer-gpu-check [--ptx-dir DIR] [--naive] [--lengths 100,4096]
//                    [--kinds dense,block,vs] [--dims 64,96,128] [--seed S]
//                    [--device N]
//
// --naive registers the slow reference kernels (kernels/testing) instead of
// loading generated PTX: it checks the runtime alone.
//
//   minfer-gpu-check --sweep [--lengths 1,63,64,65,4097,131072]
//                    [--heads 4/1,4/4] [--dtypes bf16,f16] [--no-reference]
//
// the reliability sweep (run under compute-sanitizer): per N x D x dtype x
// (H, Hkv), the layers above plus, per kernel kind, a layer whose every
// budget is at or beyond N (vertical/slash counts >= N, top_k >= blocks,
// sink/local >= N). Those must be clamped, never overrun, and execute exactly
// the full causal mask: the GPU-counted kept pairs must equal H N (N+1) / 2.
// --no-reference skips the CPU comparison (for sanitizer runs at large N).
//
//   minfer-gpu-check --bench [--lengths 131072,1048576] [--with-kernel]
//
// times the online index construction alone (estimate + index, no
// attention kernel unless --with-kernel) for all-vertical-slash (1000, 6096),
// all-block-sparse (top_k 100) and a mixed layer, H/Hkv = 4/1 and 32/8,
// D = 128, bf16, on tiled random inputs.
//
//===----------------------------------------------------------------------===//
#include "testing/GpuTestUtil.h"

#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <sstream>

using namespace minfer;
using namespace minfer::cuda;
using kernel::ElemType;
using kernel::KernelKind;

namespace {

struct Options {
  std::string ptxDir;
  bool naive = false;
  std::vector<int64_t> lengths = {100, 4096, 16421, 65536};
  std::vector<KernelKind> kinds = {KernelKind::Dense, KernelKind::Block,
                                   KernelKind::VerticalSlash};
  uint64_t seed = 1234;
  int device = 0;
  bool bench = false, withKernel = false;
  bool lengthsGiven = false;
  bool sweep = false, reference = true;
  std::vector<std::pair<int64_t, int64_t>> heads = {{4, 1}, {4, 4}};
  std::vector<ElemType> dtypes = {ElemType::BF16, ElemType::F16};
  std::vector<int64_t> dims = {64, 96, 128};
};

bool parseList(const char *s, std::vector<std::string> *out) {
  std::stringstream ss(s);
  std::string item;
  while (std::getline(ss, item, ','))
    if (!item.empty())
      out->push_back(item);
  return !out->empty();
}

/// Parses "a,b,c" into *out with parseItem(item, &value); false (and *out
/// unspecified) on an empty list or a bad item.
template <typename T, typename F>
bool parseListOf(const char *s, std::vector<T> *out, F parseItem) {
  std::vector<std::string> items;
  if (!s || !parseList(s, &items))
    return false;
  out->clear();
  for (const std::string &x : items) {
    T value;
    if (!parseItem(x, &value))
      return false;
    out->push_back(value);
  }
  return true;
}

bool parseLength(const std::string &x, int64_t *n) {
  char *end = nullptr;
  *n = std::strtoll(x.c_str(), &end, 10);
  return !*end && *n > 0;
}

bool parseKind(const std::string &x, KernelKind *k) {
  for (KernelKind c : {KernelKind::Dense, KernelKind::Block, KernelKind::VerticalSlash})
    if (x == kernel::kernelKindName(c))
      return *k = c, true;
  return false;
}

bool parseDtype(const std::string &x, ElemType *e) {
  for (ElemType c : {ElemType::BF16, ElemType::F16})
    if (x == kernel::elemTypeName(c))
      return *e = c, true;
  return false;
}

bool parseDim(const std::string &x, int64_t *d) {
  return parseLength(x, d) && kernel::isSupportedHeadDim(*d);
}

/// "H/Hkv" with H a positive multiple of Hkv.
bool parseHeads(const std::string &x, std::pair<int64_t, int64_t> *hk) {
  long long h = 0, kv = 0;
  char tail = 0;
  if (std::sscanf(x.c_str(), "%lld/%lld%c", &h, &kv, &tail) != 2 || h <= 0 ||
      kv <= 0 || h % kv)
    return false;
  *hk = {h, kv};
  return true;
}

int usage(const char *msg) {
  std::fprintf(stderr,
               "minfer-gpu-check: %s\nusage: minfer-gpu-check [--ptx-dir DIR] "
               "[--naive] [--lengths 100,4096] [--kinds dense,block,vs] "
               "[--dims 64,96,128] "
               "[--seed S] [--device N] [--sweep [--heads 4/1,4/4] "
               "[--dtypes bf16,f16] [--no-reference]] [--bench]\n",
               msg);
  return 2;
}

/// A layer whose kernel is `kind`, mixing patterns across the 4 heads.
LayerPatterns layerFor(KernelKind kind, int64_t N) {
  const int64_t NB = numQueryBlocks(N);
  switch (kind) {
  case KernelKind::Dense:
    return LayerPatterns(4, HeadPattern::dense());
  case KernelKind::Block:
    return {HeadPattern::blockSparse(std::max<int64_t>(2, NB / 8)),
            HeadPattern::aShape(64, 1024), HeadPattern::blockSparse(4),
            HeadPattern::aShape(0, 256)};
  case KernelKind::VerticalSlash:
    return {HeadPattern::verticalSlash(1000, 6096, 64),
            HeadPattern::verticalSlash(64, 128, 128),
            HeadPattern::blockSparse(4), HeadPattern::aShape(128, 512)};
  }
  return {};
}

/// A layer of `kind` whose budgets are all at or beyond N (full coverage).
LayerPatterns layerBeyondN(KernelKind kind, int64_t N) {
  const int64_t NB = numQueryBlocks(N);
  switch (kind) {
  case KernelKind::Dense:
    return LayerPatterns(4, HeadPattern::dense());
  case KernelKind::Block:
    return {HeadPattern::blockSparse(NB), HeadPattern::aShape(N, N),
            HeadPattern::blockSparse(NB + 5), HeadPattern::aShape(2 * N + 1, 3 * N)};
  case KernelKind::VerticalSlash:
    return {HeadPattern::verticalSlash(N, N), HeadPattern::verticalSlash(3 * N + 1, 5 * N + 3),
            HeadPattern::blockSparse(NB + 2), HeadPattern::aShape(N + 1, N)};
  }
  return {};
}

/// `layer` repeated or cut to H heads.
LayerPatterns resized(const LayerPatterns &layer, int64_t H) {
  LayerPatterns out;
  for (int64_t h = 0; h < H; ++h)
    out.push_back(layer[h % layer.size()]);
  return out;
}

struct Check {
  bool fullCoverage = false; ///< kept pairs must equal the causal pairs
  bool reference = true;     ///< compare sampled rows with the CPU
  bool timed = true;         ///< a second, timed run
};

struct Result {
  bool pass = false;
  double err = 0;
  int64_t idxDiff = 0, idxRows = 0;
  RunStats stats;
  std::string note;
};

Result runOne(Runtime &rt, KernelKind kind, const LayerPatterns &layer,
              int64_t D, ElemType elem, int64_t N, int64_t H, int64_t Hkv,
              uint64_t seed, const Check &check) {
  Result res;
  AttentionShape s;
  s.batch = 1;
  s.heads = H;
  s.kvHeads = Hkv;
  s.seqLen = N;
  s.headDim = D;
  const float scale = 1.0f / std::sqrt(static_cast<float>(D));
  testing::DeviceAttention da;
  Status st = da.create(rt, s, elem, scale, seed);
  if (st.ok())
    st = da.poison(rt);
  SparseIndex gpuIndex;
  RunOptions o;
  o.indexOut = &gpuIndex;
  o.checkIndex = true;
  o.countKept = check.fullCoverage;
  o.stats = &res.stats;
  if (st.ok())
    st = rt.sparseAttention(da.tensors, layer, o);
  if (st.ok())
    st = rt.synchronize();
  if (st.ok() && res.stats.kernel != kind)
    st = Status(ErrorCode::InvalidArgument,
                std::string("ran the ") + kernel::kernelKindName(res.stats.kernel) +
                    " kernel");
  std::vector<float> out;
  if (st.ok())
    st = da.downloadOut(&out);
  if (!st.ok()) {
    res.note = st.str();
    return res;
  }
  int64_t unwritten = 0;
  for (float x : out)
    unwritten += std::isnan(x);
  const double causal = double(H) * N * (N + 1) / 2;
  if (check.fullCoverage && res.stats.keptPairs != causal)
    res.note = "kept " + std::to_string((long long)res.stats.keptPairs) +
               " of " + std::to_string((long long)causal) + " causal pairs";
  const bool covered = !check.fullCoverage || res.stats.keptPairs == causal;
  if (!check.reference) {
    res.pass = unwritten == 0 && covered;
    if (unwritten)
      res.note = std::to_string(unwritten) + " output elements unwritten (NaN)";
    return res;
  }

  // The index the CPU builds from the same (rounded) inputs (informational;
  // single-threaded estimation, so only up to 64K tokens).
  if (N <= 65536) {
    SparseIndex cpuIndex;
    st = ref::buildIndex(s, da.hq.values, da.hk.values, scale, layer, cpuIndex);
    if (!st.ok()) {
      res.note = "ref::buildIndex: " + st.str();
      return res;
    }
    res.idxDiff = testing::indexRowMismatches(gpuIndex, cpuIndex);
    res.idxRows = H * numQueryBlocks(N);
  }

  for (int64_t h = 0; h < H && st.ok(); ++h) {
    // Fewer sampled rows at long N: each is an O(N D) fp64 dot sweep.
    const std::vector<int64_t> rows =
        testing::sampleRows(N, 4097, N > 65536 ? 48 : 256, seed * 31 + h);
    std::vector<float> want;
    st = testing::referenceRows(s, da.hq.values, da.hk.values, da.hv.values,
                                scale, gpuIndex, 0, h, rows, &want);
    for (size_t x = 0; st.ok() && x < rows.size(); ++x)
      for (int64_t d = 0; d < D; ++d) {
        const float got = out[(h * N + rows[x]) * D + d];
        const double e = std::fabs(double(got) - want[x * D + d]);
        res.err = std::isnan(got) ? INFINITY : std::max(res.err, e);
      }
  }
  if (!st.ok()) {
    res.note = st.str();
    return res;
  }
  // Timed second run (module loads and allocation are warm now).
  RunOptions timed;
  timed.timing = true;
  timed.stats = &res.stats;
  st = check.timed ? rt.sparseAttention(da.tensors, layer, timed) : st;
  if (!st.ok()) {
    res.note = "timed run: " + st.str();
    return res;
  }
  const double tol = elem == ElemType::BF16 ? 2e-2 : 1e-2;
  res.pass = unwritten == 0 && res.err <= tol && covered;
  if (unwritten)
    res.note = std::to_string(unwritten) + " output elements unwritten (NaN)";
  return res;
}

/// Device buffer of `bytes` filled with a repeated random bf16 block.
Status tiledRandom(Runtime &rt, size_t bytes, uint64_t seed,
                   testing::DeviceBuffer *buf) {
  MINFER_RETURN_IF_ERROR(buf->allocate(rt, bytes));
  testing::HostTensor block;
  const size_t blockBytes = std::min<size_t>(bytes, size_t(32) << 20);
  testing::randomTensor(blockBytes / 2, ElemType::BF16, seed, &block);
  auto *base = static_cast<char *>(buf->get());
  for (size_t off = 0; off < bytes; off += blockBytes)
    MINFER_RETURN_IF_ERROR(rt.upload(base + off, block.bits.data(),
                                     std::min(blockBytes, bytes - off)));
  return Status::success();
}

int runBench(Runtime &rt, const Options &opt) {
  const std::vector<int64_t> lengths =
      opt.lengthsGiven ? opt.lengths : std::vector<int64_t>{131072, 1048576};
  std::printf("%-6s %8s %6s %6s %9s %9s %9s %7s %6s %9s\n", "layer", "N",
              "H/Hkv", "chunks", "est_ms", "idx_ms", "kernel_ms", "ms/head",
              "R", "ws_MiB");
  int failures = 0;
  for (int64_t N : lengths)
    for (auto [H, Hkv] : {std::pair<int64_t, int64_t>{4, 1}, {32, 8}}) {
      const int64_t D = 128;
      testing::DeviceBuffer q, k, out;
      Status st = tiledRandom(rt, size_t(H) * N * D * 2, opt.seed, &q);
      if (st.ok())
        st = tiledRandom(rt, size_t(Hkv) * N * D * 2, opt.seed + 1, &k);
      if (st.ok())
        st = out.allocate(rt, size_t(H) * N * D * 2);
      if (!st.ok()) {
        std::printf("N %lld H %lld: %s\n", (long long)N, (long long)H,
                    st.str().c_str());
        ++failures;
        continue;
      }
      AttentionTensors t;
      t.q = q.get();
      t.k = t.v = k.get();
      t.out = out.get();
      t.heads = H;
      t.kvHeads = Hkv;
      t.seqLen = N;
      t.headDim = D;
      t.scale = 1.0f / std::sqrt(float(D));
      LayerPatterns mixed;
      for (int64_t h = 0; h < H; ++h)
        mixed.push_back(h % 4 == 0   ? HeadPattern::blockSparse(100)
                        : h % 4 == 1 ? HeadPattern::aShape(128, 4096)
                                     : HeadPattern::verticalSlash(1000, 6096));
      const std::pair<const char *, LayerPatterns> layers[] = {
          {"vs", LayerPatterns(H, HeadPattern::verticalSlash(1000, 6096))},
          {"bs", LayerPatterns(H, HeadPattern::blockSparse(100))},
          {"mixed", mixed}};
      for (const auto &[name, layer] : layers) {
        RunStats stats;
        RunOptions o;
        o.indexOnly = !opt.withKernel;
        o.timing = true;
        o.stats = &stats;
        st = rt.sparseAttention(t, layer, o); // warm-up: modules, workspace
        if (st.ok())
          st = rt.sparseAttention(t, layer, o);
        if (!st.ok()) {
          std::printf("%-6s %8lld: %s\n", name, (long long)N, st.str().c_str());
          ++failures;
          continue;
        }
        std::printf("%-6s %8lld %3lld/%-2lld %6lld %9.3f %9.3f %9.3f %7.3f %6lld %9lld\n",
                    name, (long long)N, (long long)H, (long long)Hkv,
                    (long long)stats.chunks, stats.estimateMs, stats.indexMs,
                    stats.kernelMs, (stats.estimateMs + stats.indexMs) / H,
                    (long long)stats.maxRanges,
                    (long long)(stats.workspaceBytes >> 20));
        std::fflush(stdout);
      }
    }
  return failures ? 1 : 0;
}

} // namespace

int main(int argc, char **argv) {
  Options opt;
  for (int i = 1; i < argc; ++i) {
    auto next = [&]() -> const char * { return i + 1 < argc ? argv[++i] : nullptr; };
    const char *a = argv[i];
    if (!std::strcmp(a, "--naive")) {
      opt.naive = true;
    } else if (!std::strcmp(a, "--bench")) {
      opt.bench = true;
    } else if (!std::strcmp(a, "--sweep")) {
      opt.sweep = true;
    } else if (!std::strcmp(a, "--no-reference")) {
      opt.reference = false;
    } else if (!std::strcmp(a, "--heads")) {
      if (!parseListOf(next(), &opt.heads, parseHeads))
        return usage("--heads needs a list like 4/1,4/4 (H a multiple of Hkv)");
    } else if (!std::strcmp(a, "--dims")) {
      if (!parseListOf(next(), &opt.dims, parseDim))
        return usage("--dims needs a list of head dims (multiples of 8 up to 128)");
    } else if (!std::strcmp(a, "--dtypes")) {
      if (!parseListOf(next(), &opt.dtypes, parseDtype))
        return usage("--dtypes needs a list of bf16, f16");
    } else if (!std::strcmp(a, "--with-kernel")) {
      opt.withKernel = true;
    } else if (!std::strcmp(a, "--ptx-dir")) {
      const char *v = next();
      if (!v)
        return usage("--ptx-dir needs a value");
      opt.ptxDir = v;
    } else if (!std::strcmp(a, "--lengths")) {
      if (!parseListOf(next(), &opt.lengths, parseLength))
        return usage("--lengths needs a list of positive lengths");
      opt.lengthsGiven = true;
    } else if (!std::strcmp(a, "--kinds")) {
      if (!parseListOf(next(), &opt.kinds, parseKind))
        return usage("--kinds needs a list of dense, block, vs");
    } else if (!std::strcmp(a, "--seed")) {
      const char *v = next();
      if (!v)
        return usage("--seed needs a value");
      opt.seed = std::strtoull(v, nullptr, 10);
    } else if (!std::strcmp(a, "--device")) {
      const char *v = next();
      if (!v)
        return usage("--device needs a value");
      opt.device = std::atoi(v);
    } else {
      return usage(("unknown argument " + std::string(a)).c_str());
    }
  }

  RuntimeOptions ro;
  ro.device = opt.device;
  ro.ptxDir = opt.ptxDir;
  std::unique_ptr<Runtime> rt;
  Status st = Runtime::create(&rt, ro);
  if (st.code() == ErrorCode::NoDevice) {
    std::printf("minfer-gpu-check: no CUDA device (%s); nothing to check\n",
                st.message().c_str());
    return 0;
  }
  if (!st.ok()) {
    std::fprintf(stderr, "minfer-gpu-check: %s\n", st.str().c_str());
    return 1;
  }
  const DeviceInfo &dev = rt->device();
  std::printf("device %d: %s (sm_%d%d, %d SMs, driver %d), kernels: %s\n",
              dev.ordinal, dev.name.c_str(), dev.ccMajor, dev.ccMinor,
              dev.multiprocessors, dev.driverVersion,
              opt.naive ? "naive reference kernels" : rt->ptxDir().c_str());
  if (opt.naive || (opt.bench && !opt.withKernel)) {
    st = testing::registerNaiveKernels(*rt);
    if (!st.ok()) {
      std::fprintf(stderr, "minfer-gpu-check: %s\n", st.str().c_str());
      return 1;
    }
  } else {
    std::string missing;
    if (!testing::generatedPtxAvailable(rt->ptxDir(), dev.chip, &missing)) {
      std::fprintf(stderr,
                   "minfer-gpu-check: attention-kernel PTX not found (%s); "
                   "set MINFER_PTX_DIR or --ptx-dir, or use --naive to check "
                   "the runtime with the reference kernels\n",
                   missing.c_str());
      return 2;
    }
  }

  if (opt.bench)
    return runBench(*rt, opt);
  if (opt.sweep && !opt.lengthsGiven)
    opt.lengths = {1, 63, 64, 65, 4097, 131072};
  std::printf("%-6s %-6s %4s %-5s %7s %6s %11s %13s %8s %8s %9s  %s\n",
              "kernel", "budget", "D", "dtype", "N", "H/Hkv", "max_abs_err",
              "idx_diff/rows", "est_ms", "idx_ms", "kernel_ms", "result");
  int failures = 0, runs = 0;
  for (KernelKind kind : opt.kinds)
    for (int64_t D : opt.dims)
      for (ElemType elem : opt.dtypes)
        for (int64_t N : opt.lengths)
          for (auto [H, Hkv] : opt.heads)
            for (bool beyond : {false, true}) {
              if (beyond && !opt.sweep)
                continue;
              Check check;
              check.fullCoverage = beyond;
              check.reference = opt.reference;
              check.timed = !opt.sweep;
              const LayerPatterns layer = resized(
                  beyond ? layerBeyondN(kind, N) : layerFor(kind, N), H);
              const uint64_t seed = opt.seed + 7919 * (uint64_t)runs++;
              Result r = runOne(*rt, kind, layer, D, elem, N, H, Hkv, seed, check);
              failures += !r.pass;
              std::printf("%-6s %-6s %4lld %-5s %7lld %3lld/%-2lld %11.3e "
                          "%6lld/%-6lld %8.3f %8.3f %9.3f  %s%s%s\n",
                          kernel::kernelKindName(kind), beyond ? ">=N" : "mixed",
                          (long long)D, kernel::elemTypeName(elem), (long long)N,
                          (long long)H, (long long)Hkv, r.err,
                          (long long)r.idxDiff, (long long)r.idxRows,
                          r.stats.estimateMs, r.stats.indexMs, r.stats.kernelMs,
                          r.pass ? "PASS" : "FAIL", r.note.empty() ? "" : "  ",
                          r.note.c_str());
              std::fflush(stdout);
            }
  std::printf("%d of %d configurations passed\n", runs - failures, runs);
  return failures ? 1 : 0;
}
