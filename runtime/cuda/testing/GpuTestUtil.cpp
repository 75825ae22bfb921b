//===- GpuTestUtil.cpp - test support for the CUDA runtime ----------------===//
//
// See GpuTestUtil.h.
//
//===----------------------------------------------------------------------===//
#include "testing/GpuTestUtil.h"

#include "EmbeddedPtx.h"

#include <algorithm>
#include <cmath>
#include <fstream>
#include <random>
#include <set>
#include <thread>

namespace minfer::cuda::testing {

using kernel::ElemType;
using kernel::KernelKind;

/// The 18 attention kernels (kind x dtype x D) with 64-row tiles, as tuned
/// for sm_80 (so their names carry no stage suffix); stops at the first
/// config for which fn returns false.
template <typename Fn> bool forEachKernelConfig(Fn &&fn) {
  for (KernelKind kind :
       {KernelKind::Dense, KernelKind::Block, KernelKind::VerticalSlash})
    for (ElemType elem : {ElemType::BF16, ElemType::F16})
      for (int64_t d : {64, 96, 128}) {
        kernel::TileConfig cfg =
            kernel::TileConfig::tuned(kind, elem, d, kernel::Chip::SM80);
        if (!fn(cfg))
          return false;
      }
  return true;
}

DeviceContext::~DeviceContext() {
  if (scoped_ && pushed_) {
    CUcontext c;
    (void)api_->cuCtxPopCurrent(&c);
  }
}

Status DeviceContext::enter(Runtime &rt) {
  MINFER_RETURN_IF_ERROR(loadDriver(&api_));
  CUdevice dev;
  CUcontext ctx;
  MINFER_CU(*api_, cuDeviceGet, &dev, rt.device().ordinal);
  MINFER_CU(*api_, cuDevicePrimaryCtxRetain, &ctx, dev);
  MINFER_CU(*api_, cuCtxPushCurrent, ctx);
  pushed_ = true;
  return Status::success();
}

Status loadTestModule(const DriverApi &api, const char *stem,
                      CUmodule *module) {
  const EmbeddedPtx *ptx = findEmbeddedPtx(kTestKernelPtx, stem);
  if (!ptx)
    return Status(ErrorCode::Unsupported,
                  std::string(stem) + ".cu was not compiled (no nvcc)");
  MINFER_CU(api, cuModuleLoadDataEx, module, ptx->text, 0, nullptr, nullptr);
  return Status::success();
}

Status registerNaiveKernels(Runtime &rt) {
  const EmbeddedPtx *e = findEmbeddedPtx(kTestKernelPtx, "NaiveAttention");
  if (!e)
    return Status(ErrorCode::Unsupported,
                  "naive test kernels were not built (nvcc not found)");
  Status st;
  forEachKernelConfig([&](kernel::TileConfig cfg) {
    // The naive kernels are compute_80 PTX (no shared-memory layout of
    // their own); sm_80 keeps addKernelPtx's target check consistent.
    cfg.chip = kernel::Chip::SM80;
    st = rt.addKernelPtx(cfg, std::string(e->text, e->size));
    return st.ok();
  });
  return st;
}

bool generatedPtxAvailable(const std::string &dir, kernel::Chip chip,
                           std::string *missing) {
  return forEachKernelConfig([&](kernel::TileConfig cfg) {
    KernelKind kind = cfg.kind;
    bool found = false;
    // Dense kernels may come with 128-row CTAs (Runtime prefers them).
    for (int64_t blockM : {int64_t(64), int64_t(128)}) {
      if (blockM == 128 && kind != KernelKind::Dense)
        continue;
      cfg.blockM = blockM;
      cfg.warps = blockM / 16;
      const std::string base = dir + "/" + cfg.kernelName() + ".";
      kernel::Chip chips[3];
      for (int c = 0, n = kernel::loadableChips(chip, chips); c < n; ++c)
        found |= static_cast<bool>(
            std::ifstream(base + kernel::chipName(chips[c]) + ".ptx"));
    }
    if (!found) {
      cfg.blockM = 64;
      cfg.warps = 4;
      if (missing)
        *missing = dir + "/" + cfg.kernelName() + "." + kernel::chipName(chip) +
                   ".ptx";
      return false;
    }
    return true;
  });
}

float elemToFloat(uint16_t bits, ElemType elem) {
  return elem == ElemType::BF16 ? ref::bf16ToFloat(bits)
                                : ref::f16ToFloat(bits);
}

void setValue(HostTensor &t, int64_t i, float v, ElemType elem) {
  t.bits[i] = elem == ElemType::BF16 ? ref::floatToBf16(v) : ref::floatToF16(v);
  t.values[i] = elemToFloat(t.bits[i], elem);
}

void randomTensor(int64_t elems, ElemType elem, uint64_t seed, HostTensor *out,
                  float lo, float hi) {
  std::mt19937_64 gen(seed);
  std::uniform_real_distribution<float> dist(lo, hi);
  out->bits.resize(elems);
  out->values.resize(elems);
  for (int64_t i = 0; i < elems; ++i)
    setValue(*out, i, dist(gen), elem);
}

DeviceBuffer::~DeviceBuffer() {
  if (rt_ && ptr_)
    (void)rt_->release(ptr_);
}

Status DeviceBuffer::allocate(Runtime &rt, size_t bytes) {
  if (rt_ && ptr_)
    MINFER_RETURN_IF_ERROR(rt_->release(ptr_));
  rt_ = &rt;
  ptr_ = nullptr;
  return rt.allocate(std::max<size_t>(bytes, 16), &ptr_);
}

Status DeviceBuffer::upload(const void *src, size_t bytes) {
  return rt_->upload(ptr_, src, bytes);
}

Status DeviceBuffer::download(void *dst, size_t bytes) const {
  return rt_->download(dst, ptr_, bytes);
}

Status DeviceAttention::create(Runtime &rt, const AttentionShape &s,
                               ElemType elem, float scale, uint64_t seed,
                               float magnitude) {
  randomTensor(s.qElems(), elem, seed * 3 + 1, &hq, -magnitude, magnitude);
  randomTensor(s.kvElems(), elem, seed * 3 + 2, &hk, -magnitude, magnitude);
  randomTensor(s.kvElems(), elem, seed * 3 + 3, &hv, -magnitude, magnitude);
  MINFER_RETURN_IF_ERROR(q.allocate(rt, s.qElems() * 2));
  MINFER_RETURN_IF_ERROR(k.allocate(rt, s.kvElems() * 2));
  MINFER_RETURN_IF_ERROR(v.allocate(rt, s.kvElems() * 2));
  MINFER_RETURN_IF_ERROR(out.allocate(rt, s.qElems() * 2));
  MINFER_RETURN_IF_ERROR(q.upload(hq.bits.data(), s.qElems() * 2));
  MINFER_RETURN_IF_ERROR(k.upload(hk.bits.data(), s.kvElems() * 2));
  MINFER_RETURN_IF_ERROR(v.upload(hv.bits.data(), s.kvElems() * 2));
  tensors = AttentionTensors{};
  tensors.q = q.get();
  tensors.k = k.get();
  tensors.v = v.get();
  tensors.out = out.get();
  tensors.batch = s.batch;
  tensors.heads = s.heads;
  tensors.kvHeads = s.kvHeads;
  tensors.seqLen = s.seqLen;
  tensors.headDim = s.headDim;
  tensors.dtype = elem;
  tensors.scale = scale;
  return Status::success();
}

Status DeviceAttention::poison(Runtime &rt) {
  const size_t bytes =
      tensors.batch * tensors.heads * tensors.seqLen * tensors.headDim * 2;
  MINFER_RETURN_IF_ERROR(rt.fill(out.get(), 0xFF, bytes));
  return rt.synchronize();
}

Status DeviceAttention::downloadOutBits(std::vector<uint16_t> *bits) const {
  bits->resize(tensors.batch * tensors.heads * tensors.seqLen *
               tensors.headDim);
  return out.download(bits->data(), bits->size() * 2);
}

Status DeviceAttention::downloadOut(std::vector<float> *o) const {
  std::vector<uint16_t> bits;
  MINFER_RETURN_IF_ERROR(downloadOutBits(&bits));
  const int64_t n = static_cast<int64_t>(bits.size());
  o->resize(n);
  for (int64_t i = 0; i < n; ++i)
    (*o)[i] = elemToFloat(bits[i], tensors.dtype);
  return Status::success();
}

Status uploadInts(Runtime &rt, const std::vector<int32_t> &values,
                  DeviceBuffer *buf) {
  MINFER_RETURN_IF_ERROR(buf->allocate(rt, values.size() * 4));
  return buf->upload(values.data(), values.size() * 4);
}

Status verticalSlashFromHost(Runtime &rt, const AttentionTensors &t,
                             const std::vector<int32_t> &vIdx,
                             const std::vector<int32_t> &sIdx, int64_t nnzV,
                             int64_t nnzS, const RunOptions &opts) {
  DeviceBuffer dv, ds;
  MINFER_RETURN_IF_ERROR(uploadInts(rt, vIdx, &dv));
  MINFER_RETURN_IF_ERROR(uploadInts(rt, sIdx, &ds));
  MINFER_RETURN_IF_ERROR(rt.verticalSlashAttention(
      t, static_cast<const int32_t *>(dv.get()),
      static_cast<const int32_t *>(ds.get()), nnzV, nnzS, opts));
  // The buffers are freed on return: let the call finish with them first.
  return rt.synchronize();
}

Status referenceRows(const AttentionShape &s, const std::vector<float> &q,
                     const std::vector<float> &k, const std::vector<float> &v,
                     float scale, const SparseIndex &index, int64_t b,
                     int64_t h, const std::vector<int64_t> &rows,
                     std::vector<float> *out) {
  MINFER_RETURN_IF_ERROR(ref::checkAttentionInputs(s, q, k, v, scale));
  MINFER_RETURN_IF_ERROR(ref::validateIndex(index));
  const int64_t N = s.seqLen, D = s.headDim;
  if (index.batch != s.batch || index.heads != s.heads || index.seqLen != N)
    return invalidArgument("index shape does not match the attention shape");
  out->assign(rows.size() * D, 0.0f);
  const float *Q = q.data() + (b * s.heads + h) * N * D;
  const int64_t kv = b * s.kvHeads + s.kvHeadOf(h);
  const float *K = k.data() + kv * N * D, *V = v.data() + kv * N * D;
  auto work = [&](size_t lo, size_t hi) {
    std::vector<double> sc, acc(D);
    std::vector<int64_t> keys;
    for (size_t x = lo; x < hi; ++x) {
      const int64_t i = rows[x], m = i / kernel::kBlockM;
      const int64_t row = index.row(b, h, m);
      keys.clear();
      const int32_t *rg = index.ranges.data() + row * index.maxRanges * 2;
      for (int64_t r = 0; r < index.rangeCount[row]; ++r)
        for (int64_t j = rg[2 * r]; j < std::min<int64_t>(rg[2 * r + 1], i + 1);
             ++j)
          keys.push_back(j);
      const int32_t *ci = index.columnIndex.data() + row * index.maxColumns;
      for (int64_t c = 0; c < index.columnCount[row]; ++c)
        if (ci[c] <= i)
          keys.push_back(ci[c]);
      float *o = out->data() + x * D;
      if (keys.empty())
        continue; // zeros, as the reference
      sc.resize(keys.size());
      double mx = -INFINITY;
      for (size_t t = 0; t < keys.size(); ++t) {
        double d = 0;
        for (int64_t e = 0; e < D; ++e)
          d += double(Q[i * D + e]) * K[keys[t] * D + e];
        sc[t] = d * scale;
        mx = std::max(mx, sc[t]);
      }
      std::fill(acc.begin(), acc.end(), 0.0);
      double sum = 0;
      for (size_t t = 0; t < keys.size(); ++t) {
        double p = std::exp(sc[t] - mx);
        sum += p;
        for (int64_t e = 0; e < D; ++e)
          acc[e] += p * V[keys[t] * D + e];
      }
      for (int64_t e = 0; e < D; ++e)
        o[e] = static_cast<float>(acc[e] / sum);
    }
  };
  const size_t n = rows.size();
  const size_t threads = std::max<size_t>(
      1, std::min<size_t>(std::thread::hardware_concurrency(), n / 4 + 1));
  std::vector<std::thread> pool;
  for (size_t t = 0; t < threads; ++t)
    pool.emplace_back(work, n * t / threads, n * (t + 1) / threads);
  for (std::thread &th : pool)
    th.join();
  return Status::success();
}

std::vector<int64_t> sampleRows(int64_t N, int64_t maxAll, int64_t count,
                                uint64_t seed) {
  std::vector<int64_t> rows;
  if (N <= maxAll || count >= N) {
    for (int64_t i = 0; i < N; ++i)
      rows.push_back(i);
    return rows;
  }
  std::set<int64_t> pick = {0, N - 1};
  std::mt19937_64 gen(seed);
  std::uniform_int_distribution<int64_t> dist(0, N - 1);
  while (static_cast<int64_t>(pick.size()) < count)
    pick.insert(dist(gen));
  return {pick.begin(), pick.end()};
}

int64_t indexRowMismatches(const SparseIndex &a, const SparseIndex &b) {
  if (a.batch != b.batch || a.heads != b.heads || a.seqLen != b.seqLen)
    return -1;
  int64_t bad = 0;
  for (int64_t bb = 0; bb < a.batch; ++bb)
    for (int64_t h = 0; h < a.heads; ++h)
      for (int64_t m = 0; m < a.numBlocks(); ++m) {
        const int64_t ra = a.row(bb, h, m), rb = b.row(bb, h, m);
        bool same = a.rangeCount[ra] == b.rangeCount[rb] &&
                    a.columnCount[ra] == b.columnCount[rb];
        const int64_t nr = std::min<int64_t>(
            a.rangeCount[ra], std::min(a.maxRanges, b.maxRanges));
        const int64_t nc = std::min<int64_t>(
            a.columnCount[ra], std::min(a.maxColumns, b.maxColumns));
        for (int64_t x = 0; same && x < 2 * nr; ++x)
          same = a.ranges[ra * a.maxRanges * 2 + x] ==
                 b.ranges[rb * b.maxRanges * 2 + x];
        for (int64_t x = 0; same && x < nc; ++x)
          same = a.columnIndex[ra * a.maxColumns + x] ==
                 b.columnIndex[rb * b.maxColumns + x];
        bad += !same;
      }
  return bad;
}

} // namespace minfer::cuda::testing
