//===- HeadDimPad.cpp - calls whose head dim the kernels are not built for -===//
//
// The attention kernels exist for head dims 64, 96 and 128 (kernel::
// isKernelHeadDim). A call with another supported head dim (a multiple of 8
// up to 128: 80 or 40, say) runs on the kernels of kernelHeadDim(D), the
// next of those: Q, K and V are copied into zero-padded rows of a buffer the
// runtime keeps, the whole call (estimate, index, kernel) runs on those
// copies, and the output's first D columns are copied back. A zero column
// adds nothing to any q . k, pooled score or estimate, so the index and the
// output are those of the unpadded call; the cost is the copies and
// (kernelHeadDim / D) - 1 more kernel work.
//
//===----------------------------------------------------------------------===//
#include "RuntimeImpl.h"

namespace minfer::cuda {

Status Runtime::Impl::withKernelHeadDim(
    const AttentionTensors &t, bool writesOutput, CUstream stream,
    const std::function<Status(const AttentionTensors &)> &call) {
  if (kernel::isKernelHeadDim(t.headDim))
    return call(t);
  const int64_t kd = kernel::kernelHeadDim(t.headDim);
  ContextGuard guard(*this);
  MINFER_RETURN_IF_ERROR(guard.status());
  CUfunction copy = nullptr;
  MINFER_RETURN_IF_ERROR(indexFunction("HeadDimPad", "minfer_copy_rows", &copy));
  const int64_t qRows = t.batch * t.heads * t.seqLen;
  const int64_t kvRows = t.batch * t.kvHeads * t.seqLen;
  const int64_t rowBytes = kd * 2; // bf16 / f16
  MINFER_RETURN_IF_ERROR(growBuffer(
      &padBuffer, &padBytes, (2 * qRows + 2 * kvRows) * rowBytes,
      "padding buffer",
      "for zero-padded copies of Q, K, V and the output (head dim " +
          std::to_string(t.headDim) + " runs on the " + std::to_string(kd) +
          " kernels)"));

  AttentionTensors p = t;
  p.headDim = kd;
  const CUdeviceptr q = padBuffer, k = q + qRows * rowBytes,
                    v = k + kvRows * rowBytes, out = v + kvRows * rowBytes;
  p.q = reinterpret_cast<const void *>(q);
  p.k = reinterpret_cast<const void *>(k);
  p.v = reinterpret_cast<const void *>(v);
  p.out = reinterpret_cast<void *>(out);

  // rows of srcChunks 16-byte chunks -> rows of dstChunks (zeros past src).
  auto copyRows = [&](CUdeviceptr src, CUdeviceptr dst, int64_t rows,
                      int srcChunks, int dstChunks) {
    const int64_t total = rows * dstChunks;
    const unsigned ctas =
        static_cast<unsigned>(std::min<int64_t>((total + 255) / 256, 65535));
    void *args[] = {&src, &dst, &rows, &srcChunks, &dstChunks};
    return launch(copy, ctas, 1, 1, 256, 0, stream, args, "minfer_copy_rows");
  };
  const int narrow = static_cast<int>(t.headDim / 8), wide = static_cast<int>(kd / 8);
  // The buffer is shared between calls: wait for the last one's use.
  if (lastUseRecorded)
    MINFER_CU(*api, cuStreamWaitEvent, stream, lastUse, 0);
  Status st = copyRows(reinterpret_cast<CUdeviceptr>(t.q), q, qRows, narrow, wide);
  if (st.ok())
    st = copyRows(reinterpret_cast<CUdeviceptr>(t.k), k, kvRows, narrow, wide);
  if (st.ok())
    st = copyRows(reinterpret_cast<CUdeviceptr>(t.v), v, kvRows, narrow, wide);
  if (st.ok())
    st = call(p);
  if (st.ok() && writesOutput)
    st = copyRows(out, reinterpret_cast<CUdeviceptr>(t.out), qRows, wide, narrow);
  // Even after a failure, queued copies may use the buffer.
  Status rec = api->check(api->cuEventRecord(lastUse, stream), "cuEventRecord");
  if (rec.ok())
    lastUseRecorded = true;
  MINFER_RETURN_IF_ERROR(st);
  return rec;
}

} // namespace minfer::cuda
