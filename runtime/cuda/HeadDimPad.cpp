//===- HeadDimPad.cpp - calls whose head dim the kernels are not built for -===//
//
// The attention kernels exist for head dims 64 and 128 (kernel::
// isKernelHeadDim). A call with another supported head dim (a multiple of 8
// up to 128: Phi-3-mini's 96, say) runs on the kernels of kernelHeadDim(D):
// Q, K and V are copied into zero-padded rows of a buffer the runtime keeps,
// the whole call (estimate, index, kernel) runs on those copies, and the
// output's first D columns are copied back. A zero column adds nothing to
// any q . k, pooled score or estimate, so the index and the output are those
// of the unpadded call; the cost is the copies and (kernelHeadDim / D) - 1
// more kernel work.
//
//===----------------------------------------------------------------------===//
#include "RuntimeImpl.h"

namespace minfer::cuda {

namespace {
std::string num(int64_t v) { return std::to_string(v); }
} // namespace

Status Runtime::Impl::ensurePadBuffer(int64_t bytes) {
  if (bytes <= padBytes)
    return Status::success();
  if (lastUseRecorded) // the last call may still read or write it
    MINFER_CU(*api, cuEventSynchronize, lastUse);
  if (padBuffer) {
    MINFER_CU(*api, cuMemFree, padBuffer);
    padBuffer = 0;
    padBytes = 0;
  }
  CUresult r = api->cuMemAlloc(&padBuffer, static_cast<size_t>(bytes));
  if (r != kCudaSuccess) {
    padBuffer = 0;
    return Status(ErrorCode::OutOfMemory,
                  api->describe(r, "cuMemAlloc") + ": " + num(bytes >> 20) +
                      " MiB for the zero-padded Q, K, V and output of a call "
                      "whose head dim the kernels are not built for");
  }
  padBytes = bytes;
  return Status::success();
}

Status Runtime::Impl::withKernelHeadDim(
    const AttentionTensors &t, bool writesOutput, CUstream stream,
    const std::function<Status(const AttentionTensors &)> &call) {
  const int64_t kd = kernel::kernelHeadDim(t.headDim);
  if (kd == t.headDim)
    return call(t);
  ContextGuard guard(*this);
  MINFER_RETURN_IF_ERROR(guard.status());
  CUfunction copy = nullptr;
  MINFER_RETURN_IF_ERROR(indexFunction("HeadDimPad", "minfer_copy_rows", &copy));
  const int64_t qRows = t.batch * t.heads * t.seqLen;
  const int64_t kvRows = t.batch * t.kvHeads * t.seqLen;
  const int64_t rowBytes = kd * 2; // bf16 / f16
  MINFER_RETURN_IF_ERROR(ensurePadBuffer((2 * qRows + 2 * kvRows) * rowBytes));

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
  MINFER_RETURN_IF_ERROR(copyRows(reinterpret_cast<CUdeviceptr>(t.q), q, qRows, narrow, wide));
  MINFER_RETURN_IF_ERROR(copyRows(reinterpret_cast<CUdeviceptr>(t.k), k, kvRows, narrow, wide));
  MINFER_RETURN_IF_ERROR(copyRows(reinterpret_cast<CUdeviceptr>(t.v), v, kvRows, narrow, wide));
  Status st = call(p);
  if (st.ok() && writesOutput)
    st = copyRows(out, reinterpret_cast<CUdeviceptr>(t.out), qRows, wide, narrow);
  Status rec = api->check(api->cuEventRecord(lastUse, stream), "cuEventRecord");
  if (rec.ok())
    lastUseRecorded = true;
  MINFER_RETURN_IF_ERROR(st);
  return rec;
}

} // namespace minfer::cuda
