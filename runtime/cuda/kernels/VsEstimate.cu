//===- VsEstimate.cu - vertical/slash scores of the last queries -*- CUDA -*-===//
//
// For each vertical-slash head: softmax (fp32) of the last Lq = min(last_q,
// N) query rows against every key j <= i, summed per column (vertical[j])
// and per diagonal offset o = i - j (slash[o]) -- ref::vsEstimate.
//
// A row's softmax spans all N keys, so it takes two passes over the keys:
//   minfer_vs_stats_*   grid (vs heads x key tiles): per key tile, each row's
//                       running max and sum of exp2 (log2 domain);
//   minfer_vs_combine   grid (rows / 8, vs heads): merges the tiles' (max,
//                       sum) per row;
//   minfer_vs_accum_*   grid (vs heads x key tiles): recomputes the scores,
//                       p = exp2(s - max) / sum, and accumulates column sums
//                       (each key tile owns its columns: plain stores) and
//                       diagonal sums (in shared memory, then one atomicAdd
//                       per offset per CTA).
// Scores come from tensor cores (wmma 16x16x16, bf16/f16 in, f32 out) on
// 64-row x 64-key tiles, 4 warps each owning 16 rows.
//
// Determinism: column sums are in a fixed order. An offset's diagonal is
// touched by keys [N - Lq - o, N - 1 - o], Lq consecutive keys; with key
// tiles of >= Lq keys at most two CTAs add to one slash[o], and two float
// additions into a zeroed word commute exactly. (When the host must use
// flushPerChunk for a huge last_q, more CTAs add and the last bit may vary.)
//
//===----------------------------------------------------------------------===//
#include "Common.cuh"

#include <mma.h>

namespace minfer::cuda::kernels {
namespace {

using namespace nvcuda;

template <int D> struct EstTile {
  static constexpr int kLd = D + kEstRowLd;
};

/// 16-byte global -> shared copy that bypasses registers (sm_80 cp.async);
/// `valid` false zero-fills the destination and reads nothing.
__device__ __forceinline__ void cpAsync16(void *dst, const void *src, bool valid) {
  const unsigned d = static_cast<unsigned>(__cvta_generic_to_shared(dst));
  asm volatile("cp.async.cg.shared.global [%0], [%1], 16, %2;\n" ::"r"(d),
               "l"(src), "r"(valid ? 16 : 0));
}
__device__ __forceinline__ void cpAsyncCommit() {
  asm volatile("cp.async.commit_group;\n" ::);
}
/// Waits until at most `kPending` of this thread's groups are in flight.
template <int kPending> __device__ __forceinline__ void cpAsyncWait() {
  asm volatile("cp.async.wait_group %0;\n" ::"n"(kPending));
}

/// Starts copying rows [row0, row0 + 64) of a [N][D] matrix into shared
/// memory (ld D + 8); rows at or past `rowsValid` are zero-filled.
template <typename T, int D>
__device__ __forceinline__ void loadRowsAsync(T *dst, const T *src,
                                              int64_t row0, int rowsValid) {
  constexpr int kLd = EstTile<D>::kLd, kVecPerRow = D / 8;
  for (int v = threadIdx.x; v < kEstRows * kVecPerRow; v += kEstThreads) {
    const int r = v / kVecPerRow, c = (v % kVecPerRow) * 8;
    const bool valid = r < rowsValid;
    cpAsync16(dst + r * kLd + c, valid ? src + (row0 + r) * D + c : src, valid);
  }
}

/// ss[64][kScoreLd] = sq[64][D] * sk[64][D]^T (raw dot products).
template <typename T, int D>
__device__ __forceinline__ void scoreTile(const T *sq, const T *sk,
                                          float *ss) {
  constexpr int kLd = EstTile<D>::kLd;
  const int warp = threadIdx.x >> 5;
  wmma::fragment<wmma::accumulator, 16, 16, 16, float> acc[4];
#pragma unroll
  for (int n = 0; n < 4; ++n)
    wmma::fill_fragment(acc[n], 0.0f);
#pragma unroll
  for (int d = 0; d < D; d += 16) {
    wmma::fragment<wmma::matrix_a, 16, 16, 16, T, wmma::row_major> a;
    wmma::load_matrix_sync(a, sq + warp * 16 * kLd + d, kLd);
#pragma unroll
    for (int n = 0; n < 4; ++n) {
      // K rows are keys: read as a column-major D x 64 matrix B.
      wmma::fragment<wmma::matrix_b, 16, 16, 16, T, wmma::col_major> b;
      wmma::load_matrix_sync(b, sk + n * 16 * kLd + d, kLd);
      wmma::mma_sync(acc[n], a, b, acc[n]);
    }
  }
#pragma unroll
  for (int n = 0; n < 4; ++n)
    wmma::store_matrix_sync(ss + warp * 16 * kScoreLd + n * 16, acc[n],
                            kScoreLd, wmma::mem_row_major);
}

/// 32 consecutive floats of a score-tile row (16-byte aligned).
__device__ __forceinline__ void loadHalfRow(const float *src, float v[32]) {
#pragma unroll
  for (int q = 0; q < 8; ++q) {
    const float4 x = reinterpret_cast<const float4 *>(src)[q];
    v[4 * q] = x.x;
    v[4 * q + 1] = x.y;
    v[4 * q + 2] = x.z;
    v[4 * q + 3] = x.w;
  }
}
__device__ __forceinline__ void storeHalfRow(float *dst, const float v[32]) {
#pragma unroll
  for (int q = 0; q < 8; ++q)
    reinterpret_cast<float4 *>(dst)[q] =
        make_float4(v[4 * q], v[4 * q + 1], v[4 * q + 2], v[4 * q + 3]);
}

/// Merge of two (max, sum) pairs in the log2 domain.
__device__ __forceinline__ float2 mergeStats(float2 a, float2 b) {
  float m = fmaxf(a.x, b.x);
  if (m == -INFINITY)
    return make_float2(-INFINITY, 0.0f); // avoids exp2(-inf - -inf) = NaN
  return make_float2(m, a.y * exp2f(a.x - m) + b.y * exp2f(b.x - m));
}

struct EstHead {
  int slot, tile, N, Lq, j0, jEnd;
  int64_t qOff, kOff;
};

/// grid (vsCount * numKeyTiles): slot-fastest order, so the CTAs of heads
/// that share a kv head (adjacent slots) read the same key tile back to back
/// and all but the first find it in L2 (4x less HBM traffic for GQA 4:1).
__device__ __forceinline__ EstHead estHead(const IndexParams &p, int D) {
  EstHead e;
  e.slot = blockIdx.x % p.vsCount;
  e.tile = blockIdx.x / p.vsCount;
  const HeadDesc &hd = p.head[p.vsHead[e.slot]];
  e.N = p.seqLen;
  e.Lq = hd.lastQ;
  e.j0 = e.tile * p.keyTile;
  e.jEnd = min(e.N, e.j0 + p.keyTile);
  e.qOff = (int64_t)hd.qHead * e.N * D;
  e.kOff = (int64_t)hd.kvHead * e.N * D;
  return e;
}

/// Number of 64-key subtiles of the CTA's key range that rows up to
/// i0 + rowsValid - 1 can see (keys past the chunk's last row are masked for
/// every row).
__device__ __forceinline__ int numSubtiles(const EstHead &e, int i0,
                                           int rowsValid) {
  const int jLimit = min(e.jEnd, i0 + rowsValid);
  return jLimit > e.j0 ? (jLimit - e.j0 + 63) / 64 : 0;
}

/// One 64-query chunk (rows i0.., rowsValid) against this CTA's key range,
/// double-buffered: the Q rows and the first K subtile are issued, then
/// `issued()` runs while they land; per subtile (keys jt = j0 + 64 st) the
/// next one is prefetched, S = Q K^T lands in `ss`, and `body(jt)` runs
/// between barriers (after it, `ss` and the K buffer are free). All copies
/// have landed on return.
template <typename T, int D, typename Issued, typename Body>
__device__ void forEachScoreTile(const EstHead &e, const T *Q, const T *K,
                                 T *sq, T *sk, float *ss, int i0,
                                 int rowsValid, Issued issued, Body body) {
  constexpr int kLd = EstTile<D>::kLd;
  const int numSub = numSubtiles(e, i0, rowsValid);
  __syncthreads(); // readers of the previous chunk are done
  loadRowsAsync<T, D>(sq, Q, i0, rowsValid);
  if (numSub > 0)
    loadRowsAsync<T, D>(sk, K, e.j0, min(64, e.jEnd - e.j0));
  cpAsyncCommit();
  issued();
  for (int st = 0; st < numSub; ++st) {
    const int jt = e.j0 + st * 64;
    T *cur = sk + (st & 1) * kEstRows * kLd;
    if (st + 1 < numSub)
      loadRowsAsync<T, D>(sk + ((st + 1) & 1) * kEstRows * kLd, K, jt + 64,
                          min(64, e.jEnd - jt - 64));
    cpAsyncCommit();
    cpAsyncWait<1>(); // everything but the prefetch has landed
    __syncthreads();
    scoreTile<T, D>(sq, cur, ss);
    __syncthreads();
    body(jt);
    __syncthreads(); // ss and `cur` are free for the next subtile
  }
  cpAsyncWait<0>();
}

template <typename T, int D> __device__ void vsStats(const IndexParams &p) {
  constexpr int kLd = EstTile<D>::kLd;
  extern __shared__ __align__(128) unsigned char smem[];
  T *sq = reinterpret_cast<T *>(smem);
  T *sk = sq + kEstRows * kLd; // two K buffers: the next subtile loads
  float *ss = reinterpret_cast<float *>(sk + 2 * kEstRows * kLd);
  const EstHead e = estHead(p, D);
  const T *Q = reinterpret_cast<const T *>(p.q) + e.qOff;
  const T *K = reinterpret_cast<const T *>(p.k) + e.kOff;
  // [slot][row][tile]: the combine kernel reads each row's tiles coalesced.
  float2 *partial = reinterpret_cast<float2 *>(p.vsPartial) +
                    (int64_t)e.slot * p.lqPad * p.numKeyTiles + e.tile;
  // Thread t owns half a row: row t / 2, columns [32 (t % 2), +32).
  const int r = threadIdx.x >> 1, half = threadIdx.x & 1;

  for (int rc = 0; rc * kEstRows < e.Lq; ++rc) {
    const int i0 = e.N - e.Lq + rc * kEstRows;
    const int rowsValid = min(kEstRows, e.Lq - rc * kEstRows);
    const int i = i0 + r;
    const int lim = r < rowsValid ? min(e.jEnd, i + 1) : 0;
    float m = -INFINITY, l = 0.0f;
    forEachScoreTile<T, D>(e, Q, K, sq, sk, ss, i0, rowsValid, [] {}, [&](int jt) {
      // Keys c of this half-row with jc + c < lim are visible (causal and
      // in range); one compare per element, 16-byte shared loads.
      const int jc = jt + half * 32;
      float v[32];
      loadHalfRow(ss + r * kScoreLd + half * 32, v);
      float mx = -INFINITY;
#pragma unroll
      for (int c = 0; c < 32; ++c) {
        v[c] = jc + c < lim ? v[c] * p.scaleLog2 : -INFINITY;
        mx = fmaxf(mx, v[c]);
      }
      if (mx > -INFINITY) {
        const float mNew = fmaxf(m, mx);
        float sum = 0.0f;
#pragma unroll
        for (int c = 0; c < 32; ++c)
          sum += exp2f(v[c] - mNew); // exp2(-inf) = 0 for masked keys
        l = l * exp2f(m - mNew) + sum;
        m = mNew;
      }
    });
    float2 mine = make_float2(m, l);
    float2 other = make_float2(__shfl_xor_sync(0xFFFFFFFFu, m, 1),
                               __shfl_xor_sync(0xFFFFFFFFu, l, 1));
    // Both halves merge in the same order so the pair agrees bit for bit.
    float2 merged = half == 0 ? mergeStats(mine, other) : mergeStats(other, mine);
    if (half == 0 && r < rowsValid)
      partial[(int64_t)(rc * kEstRows + r) * p.numKeyTiles] = merged;
  }
}

template <typename T, int D> __device__ void vsAccum(const IndexParams &p) {
  constexpr int kLd = EstTile<D>::kLd;
  extern __shared__ __align__(128) unsigned char smem[];
  T *sq = reinterpret_cast<T *>(smem);
  T *sk = sq + kEstRows * kLd; // two K buffers
  float *ss = reinterpret_cast<float *>(sk + 2 * kEstRows * kLd);
  float *colAcc = ss + kEstRows * kScoreLd; // [keyTile]
  float *colPart = colAcc + p.keyTile;      // [128]
  float *diag = colPart + 128;              // [diagLen]
  float *rowM = diag + p.diagLen;           // [64]
  float *rowInv = rowM + 64;                // [64]

  const EstHead e = estHead(p, D);
  const T *Q = reinterpret_cast<const T *>(p.q) + e.qOff;
  const T *K = reinterpret_cast<const T *>(p.k) + e.kOff;
  float *vertical = reinterpret_cast<float *>(p.vsScores) +
                    (int64_t)e.slot * 2 * p.nPad;
  float *slash = vertical + p.nPad;
  const float2 *stats =
      reinterpret_cast<const float2 *>(p.vsRowStats) + (int64_t)e.slot * p.lqPad;
  const int tid = threadIdx.x;
  const int r = tid >> 1, half = tid & 1;

  for (int c = tid; c < p.keyTile; c += kEstThreads)
    colAcc[c] = 0.0f;
  for (int c = tid; c < p.diagLen; c += kEstThreads)
    diag[c] = 0.0f;

  // diag[x] accumulates offset oLo + x. Without flushPerChunk the buffer
  // spans every offset the CTA can touch: i in [N - Lq, N - Lq + lqPad),
  // j in [j0, j0 + keyTile).
  int oLo = (e.N - e.Lq) - (e.j0 + p.keyTile - 1);
  const int numChunks = (e.Lq + kEstRows - 1) / kEstRows;
  for (int rc = 0; rc < numChunks; ++rc) {
    const int i0 = e.N - e.Lq + rc * kEstRows;
    const int rowsValid = min(kEstRows, e.Lq - rc * kEstRows);
    const int i = i0 + r;
    const int lim = r < rowsValid ? min(e.jEnd, i + 1) : 0;
    if (p.flushPerChunk)
      oLo = i0 - (e.j0 + p.keyTile - 1);
    const auto loadRowStats = [&] {
      if (tid < kEstRows) {
        float2 st = tid < rowsValid ? stats[rc * kEstRows + tid]
                                    : make_float2(0.0f, 0.0f);
        rowM[tid] = st.x;
        rowInv[tid] = st.y;
      }
    };
    forEachScoreTile<T, D>(e, Q, K, sq, sk, ss, i0, rowsValid, loadRowStats, [&](int jt) {
      {
        float *srow = ss + r * kScoreLd + half * 32;
        const int jc = jt + half * 32;
        const float mr = rowM[r], inv = rowInv[r];
        float v[32];
        loadHalfRow(srow, v);
#pragma unroll
        for (int c = 0; c < 32; ++c)
          v[c] = jc + c < lim ? exp2f(v[c] * p.scaleLog2 - mr) * inv : 0.0f;
        storeHalfRow(srow, v);
      }
      __syncthreads();
      // Column sums: thread t sums rows [32 (t / 64), +32) of column t % 64.
      {
        const int col = tid & 63, rb = (tid >> 6) * 32;
        float cs = 0.0f;
#pragma unroll 8
        for (int rr = 0; rr < 32; ++rr)
          cs += ss[(rb + rr) * kScoreLd + col];
        colPart[tid] = cs;
      }
      // Diagonal sums: thread d < 127 sums the diagonal r - c = d - 63.
      float ds = 0.0f;
      if (tid < 127) {
        const int d = tid;
        const int rLo = max(0, d - 63), rHi = min(63, d);
        for (int rr = rLo; rr <= rHi; ++rr)
          ds += ss[rr * kScoreLd + rr - (d - 63)];
      }
      __syncthreads();
      if (tid < 64)
        colAcc[jt - e.j0 + tid] += colPart[tid] + colPart[tid + 64];
      if (tid < 127)
        diag[(i0 - jt) + (tid - 63) - oLo] += ds;
    });
    if (p.flushPerChunk || rc == numChunks - 1) {
      __syncthreads();
      for (int x = tid; x < p.diagLen; x += kEstThreads) {
        const int o = oLo + x;
        const float val = diag[x];
        if (o >= 0 && o < e.N && val != 0.0f)
          atomicAdd(slash + o, val);
        diag[x] = 0.0f;
      }
    }
  }
  __syncthreads();
  for (int c = tid; c < e.jEnd - e.j0; c += kEstThreads)
    vertical[e.j0 + c] = colAcc[c];
}

} // namespace

/// grid (lqPad / 8, vsCount), 256 threads: per row (one warp each), merge
/// the key tiles' (max, sum) into (max, 1 / sum), fixed reduction order.
extern "C" __global__ void __launch_bounds__(256)
    minfer_vs_combine(IndexParams p) {
  const int slot = blockIdx.y;
  const int lane = threadIdx.x & 31, r = blockIdx.x * 8 + (threadIdx.x >> 5);
  if (r >= p.head[p.vsHead[slot]].lastQ)
    return;
  const float2 *partial = reinterpret_cast<const float2 *>(p.vsPartial) +
                          ((int64_t)slot * p.lqPad + r) * p.numKeyTiles;
  float2 acc = make_float2(-INFINITY, 0.0f);
  for (int t = lane; t < p.numKeyTiles; t += 32)
    acc = mergeStats(acc, partial[t]);
#pragma unroll
  for (int o = 16; o > 0; o >>= 1) {
    float2 other = make_float2(__shfl_xor_sync(0xFFFFFFFFu, acc.x, o),
                               __shfl_xor_sync(0xFFFFFFFFu, acc.y, o));
    acc = (lane & o) ? mergeStats(other, acc) : mergeStats(acc, other);
  }
  // Every row sees key 0, so the sum is positive.
  if (lane == 0)
    reinterpret_cast<float2 *>(p.vsRowStats)[(int64_t)slot * p.lqPad + r] =
        make_float2(acc.x, 1.0f / acc.y);
}

#define MINFER_VS_ESTIMATE(T, TNAME, D)                                        \
  extern "C" __global__ void __launch_bounds__(kEstThreads)                    \
      minfer_vs_stats_##TNAME##_d##D(IndexParams p) {                          \
    vsStats<T, D>(p);                                                          \
  }                                                                            \
  extern "C" __global__ void __launch_bounds__(kEstThreads)                    \
      minfer_vs_accum_##TNAME##_d##D(IndexParams p) {                          \
    vsAccum<T, D>(p);                                                          \
  }
MINFER_VS_ESTIMATE(__nv_bfloat16, bf16, 64)
MINFER_VS_ESTIMATE(__nv_bfloat16, bf16, 96)
MINFER_VS_ESTIMATE(__nv_bfloat16, bf16, 128)
MINFER_VS_ESTIMATE(__half, f16, 64)
MINFER_VS_ESTIMATE(__half, f16, 96)
MINFER_VS_ESTIMATE(__half, f16, 128)
#undef MINFER_VS_ESTIMATE

} // namespace minfer::cuda::kernels
