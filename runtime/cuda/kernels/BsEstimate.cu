//===- BsEstimate.cu - block-sparse pooled scores and selection -*- CUDA -*-===//
//
// For each block-sparse head (ref::bsEstimate + ref::fillBsIndex):
//   minfer_bs_pool_*    grid (NB, max(bsCount, kvCount), 2): 64-token means of
//                       Q (z = 0, per bs head) and K (z = 1, per kv head the
//                       bs heads read), over the block's real tokens;
//   minfer_bs_scores    grid (NB / 128, bandRows / 128, bsCount): the causal
//                       128x128 tiles of scale * pooledQ . pooledK^T for the
//                       query-block rows [bandStart, bandStart + bandRows),
//                       fp32 FMA (pooled values are f32; tensor cores would
//                       round them), into a [bandRows][nbPad] scratch;
//   minfer_bs_select    grid (bandRows, bsCount): per row m, the top
//                       min(top_k, m + 1) of blocks 0..m (ctaTopK, ties to
//                       the lower block; rows longer than kTopKBitmapElems
//                       staged in shared memory when they fit, Plan.cpp),
//                       then the selected blocks as ranges
//                       [64 b, min(64 b + 64, e)), adjacent ones merged.
// The host walks the rows in bands so the score scratch stays within its
// memory budget at any N (NB^2 floats would be 1 GiB per head at N = 1M).
//
//===----------------------------------------------------------------------===//
#include "TopK.cuh"

namespace minfer::cuda::kernels {
namespace {

template <typename T, int D> __device__ void bsPool(const IndexParams &p) {
  const int m = blockIdx.x, slot = blockIdx.y, which = blockIdx.z;
  const int N = p.seqLen, NB = p.numBlocks;
  const T *src;
  float *dst;
  if (which == 0) {
    if (slot >= p.bsCount)
      return;
    src = reinterpret_cast<const T *>(p.q) +
          (int64_t)p.head[p.bsHead[slot]].qHead * N * D;
    dst = reinterpret_cast<float *>(p.bsPooledQ);
  } else {
    if (slot >= p.kvCount)
      return;
    src = reinterpret_cast<const T *>(p.k) + (int64_t)p.kvSlotHead[slot] * N * D;
    dst = reinterpret_cast<float *>(p.bsPooledK);
  }
  dst += ((int64_t)slot * NB + m) * D;
  const int s = m * 64, e = min(N, s + 64);
  const int d = threadIdx.x;
  if (d >= D)
    return;
  float acc = 0.0f;
  for (int t = s; t < e; ++t)
    acc += toFloat(src[(int64_t)t * D + d]);
  dst[d] = acc / (float)(e - s);
}

} // namespace

#define MINFER_BS_POOL(T, TNAME, D)                                            \
  extern "C" __global__ void __launch_bounds__(128)                            \
      minfer_bs_pool_##TNAME##_d##D(IndexParams p) {                           \
    bsPool<T, D>(p);                                                           \
  }
MINFER_BS_POOL(__nv_bfloat16, bf16, 64)
MINFER_BS_POOL(__nv_bfloat16, bf16, 128)
MINFER_BS_POOL(__half, f16, 64)
MINFER_BS_POOL(__half, f16, 128)
#undef MINFER_BS_POOL

extern "C" __global__ void __launch_bounds__(kBsScoreThreads)
    minfer_bs_scores(IndexParams p) {
  // A 128x128 output tile per CTA, 8x8 per thread (rows ty*4 + {0..3} and
  // 64 + ty*4 + {0..3}, columns likewise with tx): four 16-byte shared loads
  // per 64 FMAs. The 64x64 tile with 4x4 per thread it replaces needed two
  // per 16 and was shared-memory-bound (ncu, N = 1M: L1 70 %, 6.2 ms).
  constexpr int kT = kBsScoreTile, kHalf = kT / 2;
  constexpr int kDc = 16;          // head-dim slice staged per step
  constexpr int kLd = kT + 4;      // keeps rows 16-byte aligned
  static_assert(kBsScoreThreads == 256 && kT == 128, "16x16 threads, 8x8 each");
  // Transposed ([d][row]) so a thread's 4 consecutive rows / columns of a
  // step are one 16-byte load.
  __shared__ __align__(16) float As[kDc][kLd], Bs[kDc][kLd];
  const int NB = p.numBlocks, D = p.headDim, slot = blockIdx.z;
  const int mLocal0 = blockIdx.y * kT;
  const int m0 = p.bandStart + mLocal0, n0 = blockIdx.x * kT;
  const int mLast = min(min(m0 + kT, p.bandStart + p.bandRows), NB) - 1;
  if (m0 >= NB || n0 > mLast)
    return; // outside the band or entirely above the block diagonal
  const float *pq = reinterpret_cast<const float *>(p.bsPooledQ) +
                    (int64_t)slot * NB * D;
  const float *pk = reinterpret_cast<const float *>(p.bsPooledK) +
                    (int64_t)p.head[p.bsHead[slot]].bsKvSlot * NB * D;
  const int tid = threadIdx.x, ty = tid >> 4, tx = tid & 15;
  float acc[8][8] = {};
  for (int d0 = 0; d0 < D; d0 += kDc) {
    // 16-byte global reads along d (4 threads per row); D % 16 == 0.
    for (int x = tid; x < kT * kDc / 4; x += kBsScoreThreads) {
      const int r = x / (kDc / 4), c = (x % (kDc / 4)) * 4;
      const float4 zero = make_float4(0.f, 0.f, 0.f, 0.f);
      const float4 a =
          m0 + r < NB
              ? *reinterpret_cast<const float4 *>(pq + (int64_t)(m0 + r) * D + d0 + c)
              : zero;
      const float4 b =
          n0 + r < NB
              ? *reinterpret_cast<const float4 *>(pk + (int64_t)(n0 + r) * D + d0 + c)
              : zero;
      As[c][r] = a.x, As[c + 1][r] = a.y, As[c + 2][r] = a.z, As[c + 3][r] = a.w;
      Bs[c][r] = b.x, Bs[c + 1][r] = b.y, Bs[c + 2][r] = b.z, Bs[c + 3][r] = b.w;
    }
    __syncthreads();
#pragma unroll 4
    for (int dd = 0; dd < kDc; ++dd) {
      float av[8], bv[8];
      *reinterpret_cast<float4 *>(av) = *reinterpret_cast<const float4 *>(&As[dd][ty * 4]);
      *reinterpret_cast<float4 *>(av + 4) =
          *reinterpret_cast<const float4 *>(&As[dd][kHalf + ty * 4]);
      *reinterpret_cast<float4 *>(bv) = *reinterpret_cast<const float4 *>(&Bs[dd][tx * 4]);
      *reinterpret_cast<float4 *>(bv + 4) =
          *reinterpret_cast<const float4 *>(&Bs[dd][kHalf + tx * 4]);
#pragma unroll
      for (int u = 0; u < 8; ++u)
#pragma unroll
        for (int v = 0; v < 8; ++v)
          acc[u][v] += av[u] * bv[v];
    }
    __syncthreads();
  }
  // Rows of the band only; columns in 16-byte stores up to the padded row
  // (nbPad % 4 == 0; columns >= NB are never read by the selection).
  float *out = reinterpret_cast<float *>(p.bsScores) +
               (int64_t)slot * p.bandRows * p.nbPad;
#pragma unroll
  for (int u = 0; u < 8; ++u) {
    const int ml = mLocal0 + (u >> 2) * kHalf + ty * 4 + (u & 3);
    if (ml >= p.bandRows || p.bandStart + ml >= NB)
      continue;
#pragma unroll
    for (int h = 0; h < 2; ++h) {
      const int n = n0 + h * kHalf + tx * 4;
      if (n < p.nbPad)
        *reinterpret_cast<float4 *>(out + (int64_t)ml * p.nbPad + n) =
            make_float4(p.scale * acc[u][4 * h], p.scale * acc[u][4 * h + 1],
                        p.scale * acc[u][4 * h + 2], p.scale * acc[u][4 * h + 3]);
    }
  }
}

extern "C" __global__ void __launch_bounds__(kBsSelectThreads)
    minfer_bs_select(IndexParams p) {
  static_assert(sizeof(TopKShared) + sizeof(TopKBitmaps) <= kBsSelectStaticSmem,
                "Plan.cpp budgets kBsSelectStaticSmem for these");
  __shared__ TopKShared sm;
  __shared__ TopKBitmaps bm;
  const int ml = blockIdx.x, slot = blockIdx.y;
  const int m = p.bandStart + ml;
  if (m >= p.numBlocks)
    return;
  const int hl = p.bsHead[slot];
  const HeadDesc &hd = p.head[hl];
  const int e = min(p.seqLen, m * 64 + 64);
  const int64_t row = (int64_t)hl * p.numBlocks + m;
  int32_t *ranges = reinterpret_cast<int32_t *>(p.ranges) + row * p.maxRanges * 2;
  const int tid = threadIdx.x;
  const int k = min(hd.topK, m + 1);
  if (k == m + 1) {
    // Every block 0..m: one merged range.
    if (tid == 0) {
      if (p.maxRanges >= 1) {
        ranges[0] = 0;
        ranges[1] = e;
      } else {
        raiseError(p, kErrRangeOverflow);
      }
      reinterpret_cast<int32_t *>(p.rangeCount)[row] = min(1, p.maxRanges);
      reinterpret_cast<int32_t *>(p.columnCount)[row] = 0;
    }
    return;
  }
  float *scores = reinterpret_cast<float *>(p.bsScores) +
                  ((int64_t)slot * p.bandRows + ml) * p.nbPad;
  if (p.bsRowInSmem) {
    // The full-row radix passes then read shared memory instead of L2 (the
    // row is read 2-5 times).
    extern __shared__ __align__(16) float rowBuf[];
    for (int i = tid * 4; i < m + 1; i += kBsSelectThreads * 4)
      *reinterpret_cast<float4 *>(rowBuf + i) =
          *reinterpret_cast<const float4 *>(scores + i);
    __syncthreads();
    scores = rowBuf;
  }
  int32_t *sel = reinterpret_cast<int32_t *>(scores);
  ctaTopK<kBsSelectThreads>(scores, m + 1, k, 0, sel, sm, &bm);

  // Selected blocks (ascending) -> merged ranges, numbered by a scan.
  int base = 0;
  for (int t0 = 0; t0 < k; t0 += kBsSelectThreads) {
    const int t = t0 + tid;
    const bool active = t < k;
    int b = 0;
    bool opens = false, closes = false;
    if (active) {
      b = sel[t];
      opens = t == 0 || sel[t - 1] != b - 1;
      closes = t == k - 1 || sel[t + 1] != b + 1;
    }
    unsigned long long total;
    const int rank =
        (int)blockExclusiveScan<kBsSelectThreads>(opens, &total, sm.scan);
    const int r = base + rank + (opens ? 0 : -1);
    if (active && (opens || closes)) {
      if (r < p.maxRanges) {
        if (opens)
          ranges[2 * r] = b * 64;
        if (closes)
          ranges[2 * r + 1] = min(b * 64 + 64, e);
      } else {
        raiseError(p, kErrRangeOverflow);
      }
    }
    base += (int)total;
  }
  if (tid == 0) {
    reinterpret_cast<int32_t *>(p.rangeCount)[row] = min(base, p.maxRanges);
    reinterpret_cast<int32_t *>(p.columnCount)[row] = 0;
  }
}

} // namespace minfer::cuda::kernels
