//===- BsEstimate.cu - block-sparse pooled scores and selection -*- CUDA -*-===//
//
// For each block-sparse head (ref::bsEstimate + ref::fillBsIndex):
//   minfer_bs_pool_*    grid (NB, max(bsCount, kvCount), 2): 64-token means of
//                       Q (z = 0, per bs head) and K (z = 1, per kv head the
//                       bs heads read), over the block's real tokens;
//   minfer_bs_scores    grid (NB / 128, bandRows / 128, bsCount): the causal
//                       128x128 tiles of scale * pooledQ . pooledK^T for the
//                       query-block rows [bandStart, bandStart + bandRows),
//                       3xTF32 on the tensor cores (pooled values are f32:
//                       one tf32 product would round them), into a
//                       [bandRows][nbPad] scratch (mma.sync; on sm_90a the
//                       runtime runs minfer_bs_scores_wgmma instead,
//                       BsScoresWgmma.cu);
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
#include "BsScoreTile.cuh"
#include "TopK.cuh"

namespace minfer::cuda::kernels {
namespace {

template <typename T, int D> __device__ void bsPool(const IndexParams &p) {
  // 16-byte reads: D / 8 threads per token row, 128 / (D / 8) rows at a
  // time; each thread sums its columns over every kGroups-th token, then the
  // groups' partial sums are added in shared memory. All of a thread's loads
  // are independent. H100, 1M, H4 (ncu): 0.82 -> 0.73 ms against one scalar
  // column per thread, DRAM 81 -> 90 % of peak (twenty-second session).
  // Token groups as for the tile head dim (64 or 128, kernel::tileHeadDim):
  // at D = 96, 8 groups of 12 threads (threads 96-127 idle), so that every
  // column sums in the order of a zero-padded D = 128 call -- the same
  // pooled values, scores and picks.
  constexpr int kVec = 8, kPerRow = D / kVec;
  constexpr int kGroups = 128 / ((D <= 64 ? 64 : 128) / kVec);
  static_assert(D % kVec == 0 && kPerRow * kGroups <= 128 && 64 % kGroups == 0,
                "whole rows per step, whole steps per block");
  __shared__ float part[kGroups][D];
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
  const int tid = threadIdx.x, grp = tid / kPerRow, c = (tid % kPerRow) * kVec;
  float acc[kVec] = {};
#pragma unroll
  for (int i = 0; i < 64 / kGroups; ++i) {
    const int t = s + grp + i * kGroups;
    if (grp < kGroups && t < e) {
      const uint4 raw = *reinterpret_cast<const uint4 *>(src + (int64_t)t * D + c);
      const T *v = reinterpret_cast<const T *>(&raw);
#pragma unroll
      for (int k = 0; k < kVec; ++k)
        acc[k] += toFloat(v[k]);
    }
  }
  if (grp < kGroups) {
#pragma unroll
    for (int k = 0; k < kVec; ++k)
      part[grp][c + k] = acc[k];
  }
  __syncthreads();
  if (tid < D) {
    float sum = 0.0f;
#pragma unroll
    for (int g = 0; g < kGroups; ++g)
      sum += part[g][tid];
    dst[tid] = sum / (float)(e - s);
  }
}

} // namespace

#define MINFER_BS_POOL(T, TNAME, D)                                            \
  extern "C" __global__ void __launch_bounds__(128)                            \
      minfer_bs_pool_##TNAME##_d##D(IndexParams p) {                           \
    bsPool<T, D>(p);                                                           \
  }
MINFER_BS_POOL(__nv_bfloat16, bf16, 64)
MINFER_BS_POOL(__nv_bfloat16, bf16, 96)
MINFER_BS_POOL(__nv_bfloat16, bf16, 128)
MINFER_BS_POOL(__half, f16, 64)
MINFER_BS_POOL(__half, f16, 96)
MINFER_BS_POOL(__half, f16, 128)
#undef MINFER_BS_POOL

namespace {
/// c += a * b on one m16n8k8 tf32 tile (fp32 accumulation).
__device__ __forceinline__ void mmaTf32(float c[4], const uint32_t a[4],
                                        uint32_t b0, uint32_t b1) {
  asm volatile("mma.sync.aligned.m16n8k8.row.col.f32.tf32.tf32.f32 "
               "{%0, %1, %2, %3}, {%4, %5, %6, %7}, {%8, %9}, "
               "{%0, %1, %2, %3};"
               : "+f"(c[0]), "+f"(c[1]), "+f"(c[2]), "+f"(c[3])
               : "r"(a[0]), "r"(a[1]), "r"(a[2]), "r"(a[3]), "r"(b0), "r"(b1));
}

/// Four 8x4 tf32 matrices from shared memory (ldmatrix's 8x8 b16 shape):
/// register j of lane l holds matrix j's (row l / 4, column l % 4), which is
/// the m16n8k8 tf32 fragment layout of both A and B (B stored [n][k]).
__device__ __forceinline__ void ldmatrixX4(uint32_t r[4], const uint32_t *p) {
  const unsigned addr = (unsigned)__cvta_generic_to_shared(p);
  asm volatile("ldmatrix.sync.aligned.m8n8.x4.shared.b16 {%0, %1, %2, %3}, [%4];"
               : "=r"(r[0]), "=r"(r[1]), "=r"(r[2]), "=r"(r[3])
               : "r"(addr));
}
} // namespace

// Two CTAs per SM (128 registers): their staging and MMAs overlap.
extern "C" __global__ void __launch_bounds__(kBsScoreThreads, 2)
    minfer_bs_scores(IndexParams p) {
  // A 128x128 output tile per CTA on the tensor cores, 3xTF32: each pooled
  // value is split once, when staged (splitTf32, BsScoreTile.cuh), so the
  // scores -- and the top-k picks -- match fp32 FMA up to sum order. Warp w
  // owns rows 64 (w / 4) .. + 64 and columns 32 (w % 4) .. + 32: 4 x 4
  // m16n8k8 tiles, fragments by ldmatrix from row-padded shared
  // arrays (a conflict-free stride). H100, N = 1M, H4 (ncu, tuning.md):
  // 3.0 ms, against 4.3 ms for the SIMT fp32 kernel it replaces (8x8 outputs
  // per thread) and 5.2 ms for a WMMA version that split per fragment. It is
  // bound by shared memory (L1 90 %): 64x64 warp tiles (4 warps) ran 4.8 ms;
  // 16-wide slices staged without the register prefetch below, 3.2 ms (at
  // 16 wide the prefetch spilled).
  constexpr int kT = kBsScoreTile;
  constexpr int kDc = 8;      // head-dim slice staged per step
  constexpr int kLd = kDc + 4; // 48-byte rows: ldmatrix rows hit distinct banks
  constexpr int kWarpRows = 64, kWarpCols = 32;
  static_assert(kBsScoreThreads == 256 && kT == 128,
                "8 warps of 64x32 outputs each");
  // [row][d]: Q rows are A's rows (row-major A), K rows B's columns (B
  // stored [n][k], the col-major B of mma.sync).
  __shared__ __align__(16) uint32_t aBig[kT][kLd], aSmall[kT][kLd];
  __shared__ __align__(16) uint32_t bBig[kT][kLd], bSmall[kT][kLd];
  BsScoreTile tile;
  if (!bsScoreTile(p, &tile))
    return;
  const int D = p.headDim;
  const int tid = threadIdx.x, warp = tid >> 5, lane = tid & 31;
  const int wr = (warp >> 2) * kWarpRows, wc = (warp & 3) * kWarpCols;
  // ldmatrix row addresses: lanes 8j..8j+7 give matrix j's rows.
  const int aRow = (lane & 7) + ((lane >> 3) & 1) * 8, aCol = (lane >> 4) * 4;
  const int bRow = (lane & 7) + (lane >> 4) * 8, bCol = ((lane >> 3) & 1) * 4;
  float acc[4][4][4] = {};
  // The next head-dim slice is read into registers while the MMAs of this
  // one run (16-byte reads along d, kDc / 4 threads per row; D % kDc == 0),
  // then split and stored after the barrier that frees the shared arrays.
  constexpr int kReads = kT * kDc / 4 / kBsScoreThreads;
  float4 qNext[kReads], kNext[kReads];
  auto stage = [&] {
#pragma unroll
    for (int u = 0; u < kReads; ++u) {
      const int x = tid + u * kBsScoreThreads;
      const int r = x / (kDc / 4), c = (x % (kDc / 4)) * 4;
      uint4 ab, as, bb, bs;
      splitTf32(qNext[u], ab, as);
      splitTf32(kNext[u], bb, bs);
      *reinterpret_cast<uint4 *>(&aBig[r][c]) = ab;
      *reinterpret_cast<uint4 *>(&aSmall[r][c]) = as;
      *reinterpret_cast<uint4 *>(&bBig[r][c]) = bb;
      *reinterpret_cast<uint4 *>(&bSmall[r][c]) = bs;
    }
  };
  fetchPooledSlice<kDc>(p, tile, 0, qNext, kNext);
  for (int d0 = 0; d0 < D; d0 += kDc) {
    stage();
    __syncthreads();
    if (d0 + kDc < D)
      fetchPooledSlice<kDc>(p, tile, d0 + kDc, qNext, kNext);
#pragma unroll
    for (int k = 0; k < kDc; k += 8) {
      // B fragments of the warp's 4 n tiles (two per ldmatrix.x4: k rows
      // 0-3 and 4-7 of n tile 2 jj, then of n tile 2 jj + 1), then A per m
      // tile, so that only one m tile's A fragments are live.
      uint32_t fb[2][4], fbs[2][4];
#pragma unroll
      for (int jj = 0; jj < 2; ++jj) {
        ldmatrixX4(fb[jj], &bBig[wc + 16 * jj + bRow][k + bCol]);
        ldmatrixX4(fbs[jj], &bSmall[wc + 16 * jj + bRow][k + bCol]);
      }
#pragma unroll
      for (int i = 0; i < 4; ++i) {
        uint32_t fa[4], fs[4];
        ldmatrixX4(fa, &aBig[wr + 16 * i + aRow][k + aCol]);
        ldmatrixX4(fs, &aSmall[wr + 16 * i + aRow][k + aCol]);
#pragma unroll
        for (int j = 0; j < 4; ++j) {
          const uint32_t *b = fb[j / 2] + 2 * (j % 2), *bsm = fbs[j / 2] + 2 * (j % 2);
          // The two small-part products first (CUTLASS's 3xTF32 order).
          mmaTf32(acc[i][j], fs, b[0], b[1]);
          mmaTf32(acc[i][j], fa, bsm[0], bsm[1]);
          mmaTf32(acc[i][j], fa, b[0], b[1]);
        }
      }
    }
    __syncthreads();
  }
  // Lane (g, t) of a tile holds rows g and g + 8, columns 2t and 2t + 1.
  const int g = lane >> 2, t = lane & 3;
#pragma unroll
  for (int i = 0; i < 4; ++i)
#pragma unroll
    for (int h = 0; h < 2; ++h) {
      float *row = bsScoreRow(p, tile.mLocal0 + wr + 16 * i + g + 8 * h);
      if (!row)
        continue;
#pragma unroll
      for (int j = 0; j < 4; ++j)
        storeScorePair(p, row, tile.n0 + wc + 8 * j + 2 * t, acc[i][j][2 * h],
                       acc[i][j][2 * h + 1]);
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
