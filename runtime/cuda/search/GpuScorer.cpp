//===- GpuScorer.cpp - the search's Scorer on the CUDA runtime ------------===//
//
// Device state per scorer: q, k, v and one output buffer, reused across
// heads of the same size. O_dense lives on the host as bf16 bits (half the
// memory of floats at long N); each evaluate() downloads O_sparse into a
// second host buffer. The only O(rows N D) host work, the dense softmax rows,
// is spread over threads; everything per candidate is O(N D) or less.
//
//===----------------------------------------------------------------------===//
#include "minfer/Search/GpuScorer.h"
#include "ScorerDetail.h"
#include "minfer/Runtime/Reference.h"
#include <algorithm>
#include <atomic>
#include <cmath>
#include <thread>

namespace minfer::search {
namespace {

using cuda::Runtime;

/// Device memory released through its Runtime when dropped or regrown.
class DeviceMem {
public:
  DeviceMem() = default;
  DeviceMem(const DeviceMem &) = delete;
  DeviceMem &operator=(const DeviceMem &) = delete;
  ~DeviceMem() { reset(); }

  /// At least `bytes` (keeps the current block when it is large enough).
  Status ensure(Runtime &rt, size_t bytes) {
    if (ptr_ && bytes_ >= bytes)
      return Status::success();
    reset();
    void *p = nullptr;
    MINFER_RETURN_IF_ERROR(rt.allocate(bytes, &p));
    rt_ = &rt;
    ptr_ = p;
    bytes_ = bytes;
    return Status::success();
  }
  void reset() {
    if (ptr_)
      (void)rt_->release(ptr_); // nothing to do about a failed free
    ptr_ = nullptr;
    bytes_ = 0;
  }
  void *get() const { return ptr_; }

private:
  Runtime *rt_ = nullptr;
  void *ptr_ = nullptr;
  size_t bytes_ = 0;
};

/// Runs task(t) for t in [0, count) on up to hardware_concurrency threads
/// (the caller's included); returns the first failure in task order.
template <typename Task>
Status parallelFor(int64_t count, Task task) {
  std::vector<Status> st(static_cast<size_t>(std::max<int64_t>(count, 0)));
  std::atomic<int64_t> next{0};
  auto work = [&] {
    for (int64_t t; (t = next.fetch_add(1)) < count;)
      st[t] = task(t);
  };
  const int64_t want = std::min<int64_t>(
      count, std::max(1u, std::thread::hardware_concurrency()));
  std::vector<std::thread> pool;
  for (int64_t i = 1; i < want; ++i) {
    try {
      pool.emplace_back(work);
    } catch (...) { // no thread: the others take its share
      break;
    }
  }
  work();
  for (std::thread &t : pool)
    t.join();
  for (Status &s : st)
    MINFER_RETURN_IF_ERROR(s);
  return Status::success();
}

class GpuScorer final : public Scorer {
public:
  GpuScorer(std::unique_ptr<Runtime> own, Runtime &r, const ScorerOptions &o)
      : owned(std::move(own)), rt(&r), opts(o) {}
  const char *name() const override { return "gpu"; }

  Status setHead(const HeadTensors &head) override {
    ready = false;
    MINFER_RETURN_IF_ERROR(detail::checkHead(head));
    B = head.batch;
    N = head.seqLen;
    D = head.headDim;
    rows = evaluationRows(N, opts);
    const int64_t elems = B * N * D;
    const size_t bytes = static_cast<size_t>(elems) * sizeof(uint16_t);

    // Round to bf16: the device gets the bits, recall's CPU rows the
    // rounded values (k whole, q only on the evaluation rows).
    std::vector<uint16_t> bits(elems);
    DeviceMem *dst[3] = {&qBuf, &vBuf, &kBuf};
    const std::vector<float> *src[3] = {&head.q, &head.v, &head.k};
    for (int t = 0; t < 3; ++t) {
      for (int64_t e = 0; e < elems; ++e)
        bits[e] = ref::floatToBf16((*src[t])[e]);
      MINFER_RETURN_IF_ERROR(dst[t]->ensure(*rt, bytes));
      MINFER_RETURN_IF_ERROR(rt->upload(dst[t]->get(), bits.data(), bytes));
    }
    std::vector<float> k(elems), q(B * rows.size() * D);
    for (int64_t e = 0; e < elems; ++e) // bits holds k's, uploaded last
      k[e] = ref::bf16ToFloat(bits[e]);
    for (int64_t b = 0; b < B; ++b)
      for (size_t r = 0; r < rows.size(); ++r)
        for (int64_t d = 0; d < D; ++d)
          q[(b * rows.size() + r) * D + d] = ref::bf16ToFloat(
              ref::floatToBf16(head.q[(b * N + rows[r]) * D + d]));
    MINFER_RETURN_IF_ERROR(outBuf.ensure(*rt, bytes));

    tensors = cuda::AttentionTensors();
    tensors.q = qBuf.get();
    tensors.k = kBuf.get();
    tensors.v = vBuf.get();
    tensors.out = outBuf.get();
    tensors.batch = B;
    tensors.heads = tensors.kvHeads = 1;
    tensors.seqLen = N;
    tensors.headDim = D;
    tensors.dtype = kernel::ElemType::BF16;
    tensors.scale = head.scale;

    MINFER_RETURN_IF_ERROR(run(HeadPattern::dense(), nullptr, denseOut));
    double ref2 = 0;
    for (uint16_t o : denseOut) {
      const double x = ref::bf16ToFloat(o);
      ref2 += x * x;
    }
    if (!std::isfinite(ref2))
      return invalidArgument("dense attention output is not finite: q/k/v "
                             "values too large for bf16");
    denseNorm2 = ref2;

    const int64_t R = static_cast<int64_t>(rows.size());
    probs.assign(B * R, {});
    MINFER_RETURN_IF_ERROR(parallelFor(B * R, [&](int64_t t) {
      const int64_t b = t / R, r = t % R;
      return detail::denseSoftmaxRow(q.data() + t * D, k.data() + b * N * D,
                                     rows[r], D, head.scale, b, probs[t]);
    }));
    ready = true;
    return Status::success();
  }

  Status density(const HeadPattern &p, double &out) override {
    MINFER_RETURN_IF_ERROR(checkReady());
    MINFER_RETURN_IF_ERROR(p.validate());
    cuda::RunStats stats;
    cuda::RunOptions ro;
    ro.vs = opts.vs;
    ro.indexOnly = true;
    ro.countKept = true; // counted on the device: no index copy
    ro.stats = &stats;
    MINFER_RETURN_IF_ERROR(rt->sparseAttention(tensors, {p}, ro));
    out = stats.keptPairs / (double(B) * double(causalPairs(N)));
    return Status::success();
  }

  Status evaluate(const HeadPattern &p, CandidateEval &out) override {
    MINFER_RETURN_IF_ERROR(checkReady());
    MINFER_RETURN_IF_ERROR(p.validate());
    out = CandidateEval();
    out.pattern = p;
    MINFER_RETURN_IF_ERROR(run(p, &index, sparseOut));

    double pairs = 0, recall = 0, diff2 = 0;
    const int64_t R = static_cast<int64_t>(rows.size());
    for (int64_t b = 0; b < B; ++b) {
      const int64_t kept = countExecuted(index, b, 0);
      if (kept < 0)
        return Status(ErrorCode::CudaError,
                      "the runtime returned a malformed index");
      pairs += static_cast<double>(kept);
      for (int64_t r = 0; r < R; ++r) {
        const int64_t i = rows[r];
        const float *P = probs[b * R + r].data();
        double mass = 0;
        detail::forEachKept(
            detail::indexRow(index, b, 0, i / kernel::kBlockM), i,
            [&](int64_t j) { mass += P[j]; });
        recall += mass;
      }
    }
    for (size_t e = 0; e < denseOut.size(); ++e) {
      const double d = double(ref::bf16ToFloat(sparseOut[e])) -
                       ref::bf16ToFloat(denseOut[e]);
      diff2 += d * d;
    }
    out.density = pairs / (double(B) * double(causalPairs(N)));
    out.recall = recall / (double(B) * double(R));
    out.relL2 =
        denseNorm2 > 0 ? std::sqrt(diff2 / denseNorm2) : std::sqrt(diff2);
    return Status::success();
  }

private:
  // Declared first so that it is destroyed after the buffers it frees.
  std::unique_ptr<Runtime> owned;
  Runtime *rt;
  ScorerOptions opts;
  DeviceMem qBuf, kBuf, vBuf, outBuf;
  cuda::AttentionTensors tensors;
  bool ready = false;
  int64_t B = 0, N = 0, D = 0;
  std::vector<int64_t> rows;
  std::vector<std::vector<float>> probs; ///< [b * rows + r][j <= rows[r]]
  std::vector<uint16_t> denseOut, sparseOut; ///< bf16 bits, [B][N][D]
  double denseNorm2 = 0;
  SparseIndex index;

  Status checkReady() const { return detail::checkReady(ready); }

  /// Runs `p` on the current head into `out` (host copy of the output);
  /// with `idx`, also copies the executed index there ([B, 1, NB]).
  Status run(const HeadPattern &p, SparseIndex *idx,
             std::vector<uint16_t> &out) {
    cuda::RunOptions ro;
    ro.vs = opts.vs;
    ro.indexOut = idx;
    MINFER_RETURN_IF_ERROR(rt->sparseAttention(tensors, {p}, ro));
    MINFER_RETURN_IF_ERROR(rt->synchronize());
    out.resize(static_cast<size_t>(B * N * D));
    return rt->download(out.data(), outBuf.get(),
                        out.size() * sizeof(uint16_t));
  }
};

} // namespace

Status createGpuScorer(std::unique_ptr<Scorer> *out, const ScorerOptions &opts,
                       const cuda::RuntimeOptions &ropts) {
  if (!out)
    return Status(ErrorCode::NullPointer, "createGpuScorer: out is null");
  out->reset();
  std::unique_ptr<Runtime> rt;
  MINFER_RETURN_IF_ERROR(Runtime::create(&rt, ropts));
  Runtime &r = *rt;
  *out = std::make_unique<GpuScorer>(std::move(rt), r, opts);
  return Status::success();
}

Status createGpuScorer(std::unique_ptr<Scorer> *out, cuda::Runtime &rt,
                       const ScorerOptions &opts) {
  if (!out)
    return Status(ErrorCode::NullPointer, "createGpuScorer: out is null");
  *out = std::make_unique<GpuScorer>(nullptr, rt, opts);
  return Status::success();
}

Status checkGpuScorerSupport(cuda::Runtime &rt, int64_t headDim) {
  using kernel::KernelKind;
  for (KernelKind k :
       {KernelKind::Dense, KernelKind::Block, KernelKind::VerticalSlash})
    MINFER_RETURN_IF_ERROR(rt.loadKernel(k, kernel::ElemType::BF16, headDim));
  // The index kernels load on first use: index two heads of zeros, one
  // query block long (q, k and v may share memory; out may not).
  const int64_t n = kernel::kBlockM;
  const size_t bytes = static_cast<size_t>(2 * n * headDim) * sizeof(uint16_t);
  DeviceMem in, out;
  MINFER_RETURN_IF_ERROR(in.ensure(rt, bytes));
  MINFER_RETURN_IF_ERROR(out.ensure(rt, bytes));
  MINFER_RETURN_IF_ERROR(rt.fill(in.get(), 0, bytes));
  cuda::AttentionTensors t;
  t.q = t.k = t.v = in.get();
  t.out = out.get();
  t.heads = t.kvHeads = 2;
  t.seqLen = n;
  t.headDim = headDim;
  t.scale = 1.0f / std::sqrt(static_cast<float>(headDim));
  cuda::RunOptions ro;
  ro.indexOnly = true;
  MINFER_RETURN_IF_ERROR(rt.sparseAttention(
      t, {HeadPattern::verticalSlash(1, 1), HeadPattern::blockSparse(1)}, ro));
  return rt.synchronize();
}

} // namespace minfer::search
