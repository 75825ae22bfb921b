// Test-only entry point for ctaTopK (TopK.cuh): row r of `scores` (stride
// `ld` floats, n[r] scores, top k[r]) -> out[r * ld ...]. useBitmaps
// selects the candidate path (rows <= 16K) or the full-row radix select, so
// a test can hold both to ref::topK.
#include "TopK.cuh"

using namespace minfer::cuda::kernels;

extern "C" __global__ void __launch_bounds__(256)
    minfer_test_cta_topk(const float *scores, long long ld, const int *n,
                         const int *k, int forced, int useBitmaps,
                         int32_t *out) {
  __shared__ TopKShared sm;
  __shared__ TopKBitmaps bm;
  const int r = blockIdx.x;
  ctaTopK<256>(scores + r * ld, n[r], k[r], forced, out + r * ld, sm,
               useBitmaps ? &bm : nullptr);
}
