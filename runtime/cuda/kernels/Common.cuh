//===- Common.cuh - device helpers of the index kernels ---------*- CUDA -*-===//
//
// Element-type traits, a CTA-wide exclusive scan, and the order-preserving
// float -> uint32 key the top-k selections rank by.
//
//===----------------------------------------------------------------------===//
#ifndef MINFER_RUNTIME_CUDA_KERNELS_COMMON_CUH
#define MINFER_RUNTIME_CUDA_KERNELS_COMMON_CUH

#include "IndexParams.h"

#include <cuda_bf16.h>
#include <cuda_fp16.h>
#include <stdint.h>

namespace minfer::cuda::kernels {

constexpr float kLog2e = 1.4426950408889634f;

/// Ranks floats like ref::topK: larger first; -0 == +0 (the reference
/// compares floats, so the two tie and go to the lower index); NaN below
/// everything, -inf included.
__device__ __forceinline__ uint32_t orderedKey(float f) {
  uint32_t u = __float_as_uint(f);
  if ((u & 0x7FFFFFFFu) > 0x7F800000u)
    return 0u; // NaN
  if ((u & 0x7FFFFFFFu) == 0u)
    u = 0u; // -0 -> +0
  return (u & 0x80000000u) ? ~u : (u | 0x80000000u);
}

/// Key of +inf: what the reference scores forced entries with.
constexpr uint32_t kInfKey = 0xFF800000u;

__device__ __forceinline__ float toFloat(__nv_bfloat16 x) {
  return __bfloat162float(x);
}
__device__ __forceinline__ float toFloat(__half x) { return __half2float(x); }

/// Inclusive prefix sum of `v` over the lanes of the (full) warp.
template <typename T> __device__ __forceinline__ T warpInclusiveScan(T v) {
  const int lane = threadIdx.x & 31;
#pragma unroll
  for (int o = 1; o < 32; o <<= 1) {
    const T y = __shfl_up_sync(0xFFFFFFFFu, v, o);
    if (lane >= o)
      v += y;
  }
  return v;
}

/// Exclusive prefix sum over the CTA of one 64-bit value per thread (callers
/// pack two 32-bit counters into it). All threads must call it; it begins
/// with a barrier, so back-to-back calls may reuse `smem` (kThreads / 32
/// entries). `total` receives the CTA-wide sum.
template <int kThreads>
__device__ __forceinline__ unsigned long long
blockExclusiveScan(unsigned long long v, unsigned long long *total,
                   unsigned long long *smem) {
  static_assert(kThreads % 32 == 0 && kThreads <= 1024, "whole warps");
  constexpr int kWarps = kThreads / 32;
  const int lane = threadIdx.x & 31, warp = threadIdx.x >> 5;
  const unsigned long long x = warpInclusiveScan(v);
  __syncthreads(); // the previous call's readers are done with smem
  if (lane == 31)
    smem[warp] = x;
  __syncthreads();
  unsigned long long before = 0, sum = 0;
#pragma unroll
  for (int w = 0; w < kWarps; ++w) {
    unsigned long long s = smem[w];
    before += (w < warp) ? s : 0ull;
    sum += s;
  }
  *total = sum;
  return before + x - v;
}

/// Exclusive prefix count over the CTA of one flag per thread, with ballots
/// (a few instructions instead of a shuffle scan). All threads must call it;
/// it begins with a barrier, so back-to-back calls may reuse `smem`
/// (kThreads / 32 ints). `total` receives the number of set flags.
template <int kThreads>
__device__ __forceinline__ int blockFlagScan(bool flag, int *total, int *smem) {
  constexpr int kWarps = kThreads / 32;
  const int lane = threadIdx.x & 31, warp = threadIdx.x >> 5;
  const unsigned bits = __ballot_sync(0xFFFFFFFFu, flag);
  __syncthreads(); // the previous call's readers are done with smem
  if (lane == 0)
    smem[warp] = __popc(bits);
  __syncthreads();
  int before = __popc(bits & ((1u << lane) - 1u)), sum = 0;
#pragma unroll
  for (int w = 0; w < kWarps; ++w) {
    const int c = smem[w];
    before += w < warp ? c : 0;
    sum += c;
  }
  *total = sum;
  return before;
}

/// First index in sorted a[0, n) with a[i] >= x.
__device__ __forceinline__ int lowerBound(const int32_t *a, int n, int32_t x) {
  int lo = 0, hi = n;
  while (lo < hi) {
    int mid = (lo + hi) >> 1;
    if (a[mid] < x)
      lo = mid + 1;
    else
      hi = mid;
  }
  return lo;
}

__device__ __forceinline__ void raiseError(const IndexParams &p, int bits) {
  atomicOr(reinterpret_cast<int *>(p.errorWord), bits);
}

} // namespace minfer::cuda::kernels

#endif // MINFER_RUNTIME_CUDA_KERNELS_COMMON_CUH
