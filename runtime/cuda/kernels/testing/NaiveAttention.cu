//===- NaiveAttention.cu - slow, obviously-correct ABI kernels --*- CUDA -*-===//
//
// Test-only stand-ins for the MLIR-generated attention kernels, with exactly
// their symbol names and launch ABI (TileConfig.h): grid (C, 1, B), launch
// position p = blockIdx.x + first_cta = h NB + NB - 1 - m, 128 threads, 5
// parameters per flat memref, then the scalars, first_cta last. Tests register them with Runtime::addKernelPtx to check the
// runtime's launch path and index end to end without the compiler; they are
// never part of the runtime library.
//
// One warp per query row at a time (4 warps x 16 rows = the 64-row block),
// lanes split the head dimension, fp32 online softmax in the log2 domain,
// keys visited range by range (clipped to j <= i) then column by column.
// A row with no key gets zeros, as in ref::indexedAttention.
//
//===----------------------------------------------------------------------===//
#include <cuda_bf16.h>
#include <cuda_fp16.h>
#include <stdint.h>

namespace {

__device__ __forceinline__ float toF(__nv_bfloat16 x) { return __bfloat162float(x); }
__device__ __forceinline__ float toF(__half x) { return __half2float(x); }
template <typename T> __device__ __forceinline__ T fromF(float x);
template <> __device__ __forceinline__ __nv_bfloat16 fromF(float x) {
  return __float2bfloat16_rn(x);
}
template <> __device__ __forceinline__ __half fromF(float x) {
  return __float2half_rn(x);
}

enum Kind { kDense, kBlock, kVs };

template <typename T, int D, int kKind>
__device__ void naiveAttention(const T *Q, const T *K, const T *V, T *O,
                               const int32_t *rangeCount, const int32_t *ranges,
                               const int32_t *columnCount,
                               const int32_t *columnIndex, int N, int H,
                               int Hkv, int maxRanges, int maxColumns,
                               float scaleLog2, int firstCta) {
  constexpr int kPer = D / 32;
  const int NB = (N + 63) / 64;
  const int64_t p = (int64_t)blockIdx.x + firstCta;
  if (p >= (int64_t)NB * H)
    return;
  const int m = NB - 1 - (int)(p % NB), h = (int)(p / NB), b = blockIdx.z;
  const int lane = threadIdx.x & 31, warp = threadIdx.x >> 5;
  const int64_t qBase = ((int64_t)b * H + h) * N * D;
  const int64_t kvBase = ((int64_t)b * Hkv + h / (H / Hkv)) * N * D;
  const int64_t row = ((int64_t)b * H + h) * NB + m;
  for (int r = warp * 16; r < warp * 16 + 16; ++r) {
    const int i = m * 64 + r;
    if (i >= N)
      break;
    float q[kPer], acc[kPer];
#pragma unroll
    for (int u = 0; u < kPer; ++u) {
      q[u] = toF(Q[qBase + (int64_t)i * D + lane * kPer + u]) * scaleLog2;
      acc[u] = 0.0f;
    }
    float mi = -INFINITY, l = 0.0f;
    auto visit = [&](int j) {
      const T *kr = K + kvBase + (int64_t)j * D + lane * kPer;
      float s = 0.0f;
#pragma unroll
      for (int u = 0; u < kPer; ++u)
        s += q[u] * toF(kr[u]);
#pragma unroll
      for (int o = 16; o > 0; o >>= 1)
        s += __shfl_xor_sync(0xFFFFFFFFu, s, o);
      const float mNew = fmaxf(mi, s);
      const float corr = exp2f(mi - mNew), pj = exp2f(s - mNew);
      l = l * corr + pj;
      const T *vr = V + kvBase + (int64_t)j * D + lane * kPer;
#pragma unroll
      for (int u = 0; u < kPer; ++u)
        acc[u] = acc[u] * corr + pj * toF(vr[u]);
      mi = mNew;
    };
    if (kKind == kDense) {
      for (int j = 0; j <= i; ++j)
        visit(j);
    } else {
      const int nr = rangeCount[row];
      const int32_t *rg = ranges + row * maxRanges * 2;
      for (int x = 0; x < nr; ++x)
        for (int j = rg[2 * x]; j < min(rg[2 * x + 1], i + 1); ++j)
          visit(j);
      if (kKind == kVs) {
        const int nc = columnCount[row];
        const int32_t *ci = columnIndex + row * maxColumns;
        for (int x = 0; x < nc; ++x)
          if (ci[x] <= i)
            visit(ci[x]);
      }
    }
    const float inv = l > 0.0f ? 1.0f / l : 0.0f;
#pragma unroll
    for (int u = 0; u < kPer; ++u)
      O[qBase + (int64_t)i * D + lane * kPer + u] = fromF<T>(acc[u] * inv);
  }
}

} // namespace

// A flat memref<?xT> under MLIR's default calling convention.
#define MEMREF(T, n)                                                           \
  T *n##_alloc, T *n, int64_t n##_off, int64_t n##_size, int64_t n##_stride
#define AT(n) (n + n##_off)

#define NAIVE_KERNELS(T, TNAME, D)                                             \
  extern "C" __global__ void __launch_bounds__(128) minfer_dense_d##D##_##TNAME( \
      MEMREF(const T, q), MEMREF(const T, k), MEMREF(const T, v),              \
      MEMREF(T, o), int seq_len, int heads, int kv_heads, float scale_log2e,   \
      int first_cta) {                                                         \
    naiveAttention<T, D, kDense>(AT(q), AT(k), AT(v), AT(o), nullptr,          \
                                 nullptr, nullptr, nullptr, seq_len, heads,    \
                                 kv_heads, 0, 0, scale_log2e, first_cta);      \
  }                                                                            \
  extern "C" __global__ void __launch_bounds__(128) minfer_block_d##D##_##TNAME( \
      MEMREF(const T, q), MEMREF(const T, k), MEMREF(const T, v),              \
      MEMREF(T, o), MEMREF(const int32_t, rc), MEMREF(const int32_t, rg),      \
      int seq_len, int heads, int kv_heads, int max_ranges,                    \
      float scale_log2e, int first_cta) {                                      \
    naiveAttention<T, D, kBlock>(AT(q), AT(k), AT(v), AT(o), AT(rc), AT(rg),   \
                                 nullptr, nullptr, seq_len, heads, kv_heads,   \
                                 max_ranges, 0, scale_log2e, first_cta);       \
  }                                                                            \
  extern "C" __global__ void __launch_bounds__(128) minfer_vs_d##D##_##TNAME(  \
      MEMREF(const T, q), MEMREF(const T, k), MEMREF(const T, v),              \
      MEMREF(T, o), MEMREF(const int32_t, rc), MEMREF(const int32_t, rg),      \
      MEMREF(const int32_t, cc), MEMREF(const int32_t, ci), int seq_len,       \
      int heads, int kv_heads, int max_ranges, int max_columns,                \
      float scale_log2e, int first_cta) {                                      \
    naiveAttention<T, D, kVs>(AT(q), AT(k), AT(v), AT(o), AT(rc), AT(rg),      \
                              AT(cc), AT(ci), seq_len, heads, kv_heads,        \
                              max_ranges, max_columns, scale_log2e,            \
                              first_cta);                                      \
  }
NAIVE_KERNELS(__nv_bfloat16, bf16, 64)
NAIVE_KERNELS(__nv_bfloat16, bf16, 96)
NAIVE_KERNELS(__nv_bfloat16, bf16, 128)
NAIVE_KERNELS(__half, f16, 64)
NAIVE_KERNELS(__half, f16, 96)
NAIVE_KERNELS(__half, f16, 128)
