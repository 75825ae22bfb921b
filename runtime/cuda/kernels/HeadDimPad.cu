//===- HeadDimPad.cu - rows of 16-byte chunks, copied to another width -----===//
//
// A call whose head dim is not a kernel head dim (kernel::kernelHeadDim) runs
// on zero-padded copies of Q, K and V, and its output comes back from the
// padded output's first columns (Runtime::Impl::withKernelHeadDim). Both
// directions are one copy: each destination row takes the first chunks of
// its source row and zeros past the source's width.
//
//===----------------------------------------------------------------------===//
#include <stdint.h>

extern "C" __global__ void __launch_bounds__(256)
    minfer_copy_rows(const uint4 *src, uint4 *dst, int64_t rows, int srcChunks,
                     int dstChunks) {
  const int64_t total = rows * dstChunks;
  const int64_t stride = (int64_t)gridDim.x * blockDim.x;
  for (int64_t i = (int64_t)blockIdx.x * blockDim.x + threadIdx.x; i < total;
       i += stride) {
    const int64_t r = i / dstChunks;
    const int c = (int)(i - r * dstChunks);
    dst[i] = c < srcChunks ? src[r * srcChunks + c] : make_uint4(0, 0, 0, 0);
  }
}
