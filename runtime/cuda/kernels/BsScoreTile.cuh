//===- BsScoreTile.cuh - what both pooled-score kernels share ---*- CUDA -*-===//
//
// minfer_bs_scores (mma.sync, BsEstimate.cu) and minfer_bs_scores_wgmma
// (sm_90a, BsScoresWgmma.cu) compute the same 128x128 tiles of the band's
// pooled scores: the same grid, tile coordinates and causal skip, the same
// 3xTF32 split of the pooled values, and the same scratch rows. Only the
// MMAs and the staging between them differ.
//
//===----------------------------------------------------------------------===//
#ifndef MINFER_RUNTIME_CUDA_KERNELS_BSSCORETILE_CUH
#define MINFER_RUNTIME_CUDA_KERNELS_BSSCORETILE_CUH

#include "Common.cuh"

namespace minfer::cuda::kernels {

/// One CTA's output tile: rows [m0, m0 + kBsScoreTile) of the pooled query
/// blocks (mLocal0 within the band), columns [n0, n0 + kBsScoreTile), and
/// the pooled Q and K of its head (f32, [NB][D]).
struct BsScoreTile {
  int mLocal0, m0, n0;
  const float *pq, *pk;
};

/// The tile of CTA (blockIdx.x, blockIdx.y, blockIdx.z = bs slot); false
/// when it lies outside the band or entirely above the block diagonal (the
/// whole CTA returns).
__device__ __forceinline__ bool bsScoreTile(const IndexParams &p, BsScoreTile *t) {
  const int NB = p.numBlocks, D = p.headDim, slot = blockIdx.z;
  t->mLocal0 = blockIdx.y * kBsScoreTile;
  t->m0 = p.bandStart + t->mLocal0;
  t->n0 = blockIdx.x * kBsScoreTile;
  const int mLast =
      min(min(t->m0 + kBsScoreTile, p.bandStart + p.bandRows), NB) - 1;
  if (t->m0 >= NB || t->n0 > mLast)
    return false;
  t->pq = reinterpret_cast<const float *>(p.bsPooledQ) + (int64_t)slot * NB * D;
  t->pk = reinterpret_cast<const float *>(p.bsPooledK) +
          (int64_t)p.head[p.bsHead[slot]].bsKvSlot * NB * D;
  return true;
}

/// This thread's share of a head-dim slice [d0, d0 + kWidth) of the tile's
/// pooled Q and K rows, in 16-byte reads: read u covers row x / (kWidth / 4),
/// columns 4 (x % (kWidth / 4)) .. + 4, x = threadIdx.x + kBsScoreThreads u;
/// rows past the last block read as zeros.
template <int kWidth, int kReads>
__device__ __forceinline__ void fetchPooledSlice(const IndexParams &p,
                                                 const BsScoreTile &t, int d0,
                                                 float4 (&q)[kReads],
                                                 float4 (&k)[kReads]) {
  const int NB = p.numBlocks, D = p.headDim;
#pragma unroll
  for (int u = 0; u < kReads; ++u) {
    const int x = threadIdx.x + u * kBsScoreThreads;
    const int r = x / (kWidth / 4), c = (x % (kWidth / 4)) * 4;
    const float4 zero = make_float4(0.f, 0.f, 0.f, 0.f);
    q[u] = t.m0 + r < NB ? *reinterpret_cast<const float4 *>(
                               t.pq + (int64_t)(t.m0 + r) * D + d0 + c)
                         : zero;
    k[u] = t.n0 + r < NB ? *reinterpret_cast<const float4 *>(
                               t.pk + (int64_t)(t.n0 + r) * D + d0 + c)
                         : zero;
  }
}

/// tf32(x), round to nearest (ties away), as the bit pattern the MMAs read.
__device__ __forceinline__ uint32_t toTf32(float x) {
  uint32_t r;
  asm("cvt.rna.tf32.f32 %0, %1;" : "=r"(r) : "f"(x));
  return r;
}

/// 3xTF32 split of four pooled values: big = tf32(x), small = tf32(x - big).
/// Each product is then big*big' + big*small' + small*big', which keeps
/// about 22 of fp32's 24 bits (small*small' is below fp32's rounding).
__device__ __forceinline__ void splitTf32(const float4 &v, uint4 &big,
                                          uint4 &small) {
  const float f[4] = {v.x, v.y, v.z, v.w};
  uint32_t *b = &big.x, *s = &small.x;
#pragma unroll
  for (int e = 0; e < 4; ++e) {
    b[e] = toTf32(f[e]);
    s[e] = toTf32(f[e] - __uint_as_float(b[e]));
  }
}

/// Scratch row of band row `ml` of slot blockIdx.z, or null when the row is
/// past the band or past the last query block.
__device__ __forceinline__ float *bsScoreRow(const IndexParams &p, int ml) {
  if (ml >= p.bandRows || p.bandStart + ml >= p.numBlocks)
    return nullptr;
  return reinterpret_cast<float *>(p.bsScores) +
         ((int64_t)blockIdx.z * p.bandRows + ml) * p.nbPad;
}

/// row[n], row[n + 1] = scale * (a, b) for columns up to the padded row
/// (nbPad % 4 == 0; columns >= NB are never read by the selection).
__device__ __forceinline__ void storeScorePair(const IndexParams &p, float *row,
                                               int n, float a, float b) {
  if (n < p.nbPad)
    *reinterpret_cast<float2 *>(row + n) = make_float2(p.scale * a, p.scale * b);
}

} // namespace minfer::cuda::kernels

#endif // MINFER_RUNTIME_CUDA_KERNELS_BSSCORETILE_CUH
