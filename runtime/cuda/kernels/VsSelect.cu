//===- VsSelect.cu - vertical/slash selections per head ----------*- CUDA -*-===//
//
// Turns each vertical-slash head's N vertical and N slash scores (2 segments
// per head) into ascending selections in vsSelected[seg][0, count), with the
// counts in vsCounts[seg]. The selection is exactly ref::topK: the k largest
// (entries below `forced` count as +inf), ties to the lower index.
//
// At N = 1M one CTA per segment would read 4 MB several times from a single
// SM; instead every pass is spread over ceil(N / 8192) CTAs per segment:
//   minfer_topk_init    state: all elements are candidates, kRem = k
//   3 x (minfer_topk_hist, minfer_topk_pick)
//                       MSD radix select on the 32-bit ordered keys with
//                       11, 11, 10-bit digits: CTA histograms of the
//                       candidates' next digit, summed with global atomics;
//                       one CTA per segment picks the digit holding the
//                       kRem-th largest and narrows the candidates. A pass
//                       whose chosen bucket holds exactly kRem elements
//                       settles the selection (`done`); later passes exit.
//   minfer_topk_count   per 8192-element chunk: #keys with a larger prefix,
//                       #keys with the same prefix
//   minfer_topk_scan    exclusive prefix of those counts over the chunks
//   minfer_topk_write   keeps prefix-larger keys and the first kRem (by
//                       index) prefix-equal ones, at position
//                       greater_before + min(equal_before, kRem): output in
//                       index order with no sort.
// Caller-given indices (MInference's v_idx, s_idx) reuse count/scan/write:
//   minfer_vs_ext_scatter marks them (any order; duplicates and values
//   outside [0, N) are ignored) in zeroed arrays, and init selects every
//   marked element.
//
//===----------------------------------------------------------------------===//
#include "TopK.cuh"

namespace minfer::cuda::kernels {
namespace {

__device__ __forceinline__ TopkState *stateOf(const IndexParams &p, int seg) {
  return reinterpret_cast<TopkState *>(p.topkState) + seg;
}

__device__ __forceinline__ const float *scoresOf(const IndexParams &p, int seg) {
  return reinterpret_cast<const float *>(p.vsScores) + (int64_t)seg * p.nPad;
}

/// Forced count of a segment (0 for caller-given indices).
__device__ __forceinline__ int forcedOf(const IndexParams &p, int seg) {
  if (p.extNnzV > 0)
    return 0;
  const HeadDesc &hd = p.head[p.vsHead[seg >> 1]];
  return (seg & 1) ? hd.forcedSlash : hd.forcedVertical;
}

__device__ __forceinline__ int passShift(int pass) {
  return pass == 0 ? 21 : pass == 1 ? 10 : 0;
}
__device__ __forceinline__ uint32_t passMask(int pass) {
  return pass == 2 ? 0x3FFu : 0x7FFu;
}

} // namespace

/// grid (2 vsCount), 32 threads.
extern "C" __global__ void __launch_bounds__(32) minfer_topk_init(IndexParams p) {
  if (threadIdx.x != 0)
    return;
  const int seg = blockIdx.x, n = p.seqLen;
  TopkState st;
  if (p.extNnzV > 0) {
    // Select every mark (1.0f): "equal" under a full mask, no limit.
    st = {orderedKey(1.0f), 0xFFFFFFFFu, 0x7FFFFFFFu, 1u};
  } else {
    const HeadDesc &hd = p.head[p.vsHead[seg >> 1]];
    const int k = min(n, (seg & 1) ? hd.kSlash : hd.kVertical);
    // k == n: every element (mask 0 makes all of them "equal").
    st = {0u, 0u, (uint32_t)k, k >= n ? 1u : 0u};
  }
  *stateOf(p, seg) = st;
}

/// grid (numTopkChunks, 2 vsCount), kTopkThreads threads.
extern "C" __global__ void __launch_bounds__(kTopkThreads)
    minfer_topk_hist(IndexParams p, int pass) {
  __shared__ unsigned hist[kTopkBins];
  const int seg = blockIdx.y, tid = threadIdx.x;
  const TopkState st = *stateOf(p, seg);
  if (st.done)
    return;
  for (int i = tid; i < kTopkBins; i += kTopkThreads)
    hist[i] = 0;
  __syncthreads();
  const float *scores = scoresOf(p, seg);
  const int n = p.seqLen, forced = forcedOf(p, seg);
  const int shift = passShift(pass);
  const uint32_t dmask = passMask(pass);
  const int base = blockIdx.x * kTopkChunk;
  // Coalesced: consecutive threads read consecutive 16-byte vectors.
#pragma unroll 2
  for (int j = 0; j < kTopkChunk / (kTopkThreads * 4); ++j) {
    uint32_t key[4];
    bool valid[4];
    loadKeys4(scores, base + (j * kTopkThreads + tid) * 4, n, forced, key, valid);
#pragma unroll
    for (int e = 0; e < 4; ++e)
      histAdd(hist, (key[e] >> shift) & dmask,
              valid[e] && (key[e] & st.mask) == st.prefix);
  }
  __syncthreads();
  unsigned *g = reinterpret_cast<unsigned *>(p.topkHist) +
                ((int64_t)seg * kTopkPasses + pass) * kTopkBins;
  for (int i = tid; i <= (int)dmask; i += kTopkThreads)
    if (hist[i])
      atomicAdd(g + i, hist[i]);
}

/// grid (2 vsCount), 256 threads: the digit of the kRem-th largest.
extern "C" __global__ void __launch_bounds__(256)
    minfer_topk_pick(IndexParams p, int pass) {
  __shared__ unsigned long long scan[8];
  __shared__ unsigned res[3];
  const int seg = blockIdx.x, tid = threadIdx.x;
  TopkState *sp = stateOf(p, seg);
  const TopkState st = *sp;
  if (st.done)
    return;
  const unsigned *g = reinterpret_cast<const unsigned *>(p.topkHist) +
                      ((int64_t)seg * kTopkPasses + pass) * kTopkBins;
  const int bins = (int)passMask(pass) + 1;
  // Thread t owns bins [8t, 8t + 8); `above` counts candidates in higher
  // bins. Exactly one bin has above < kRem <= above + count.
  unsigned c[8], tot = 0;
#pragma unroll
  for (int j = 0; j < 8; ++j) {
    c[j] = tid * 8 + j < bins ? g[tid * 8 + j] : 0u;
    tot += c[j];
  }
  unsigned long long total;
  const unsigned long long before = blockExclusiveScan<256>(tot, &total, scan);
  unsigned above = (unsigned)(total - before - tot);
#pragma unroll
  for (int j = 7; j >= 0; --j) {
    if (above < st.kRem && above + c[j] >= st.kRem) {
      res[0] = tid * 8 + j;
      res[1] = above;
      res[2] = c[j];
    }
    above += c[j];
  }
  __syncthreads();
  if (tid == 0) {
    TopkState out = st;
    out.prefix |= res[0] << passShift(pass);
    out.mask |= passMask(pass) << passShift(pass);
    out.kRem -= res[1];
    out.done = (res[2] == out.kRem || pass == kTopkPasses - 1) ? 1u : 0u;
    *sp = out;
  }
}

/// grid (numTopkChunks, 2 vsCount), kTopkThreads threads.
extern "C" __global__ void __launch_bounds__(kTopkThreads)
    minfer_topk_count(IndexParams p) {
  __shared__ unsigned long long scan[kTopkThreads / 32];
  const int seg = blockIdx.y, tid = threadIdx.x;
  const TopkState st = *stateOf(p, seg);
  const float *scores = scoresOf(p, seg);
  const int n = p.seqLen, forced = forcedOf(p, seg);
  const int base = blockIdx.x * kTopkChunk;
  unsigned long long local = 0;
  for (int j = 0; j < kTopkChunk / (kTopkThreads * 4); ++j) {
    uint32_t key[4];
    bool valid[4];
    loadKeys4(scores, base + (j * kTopkThreads + tid) * 4, n, forced, key, valid);
#pragma unroll
    for (int e = 0; e < 4; ++e) {
      const uint32_t m = key[e] & st.mask;
      local += valid[e] ? (m > st.prefix ? (1ull << 32) : m == st.prefix ? 1ull : 0ull)
                        : 0ull;
    }
  }
  unsigned long long total;
  blockExclusiveScan<kTopkThreads>(local, &total, scan);
  if (tid == 0)
    reinterpret_cast<unsigned long long *>(p.topkChunks)
        [(int64_t)seg * p.numTopkChunks + blockIdx.x] = total;
}

/// grid (2 vsCount), 1024 threads: exclusive prefix of the chunk counts (in
/// place) and the selection count.
extern "C" __global__ void __launch_bounds__(1024) minfer_topk_scan(IndexParams p) {
  __shared__ unsigned long long scan[32];
  const int seg = blockIdx.x;
  unsigned long long *c =
      reinterpret_cast<unsigned long long *>(p.topkChunks) + (int64_t)seg * p.numTopkChunks;
  unsigned long long carry = 0;
  for (int base = 0; base < p.numTopkChunks; base += 1024) {
    const int i = base + threadIdx.x;
    const unsigned long long v = i < p.numTopkChunks ? c[i] : 0ull;
    unsigned long long total;
    const unsigned long long before = blockExclusiveScan<1024>(v, &total, scan);
    if (i < p.numTopkChunks)
      c[i] = carry + before;
    carry += total;
  }
  if (threadIdx.x == 0) {
    const uint32_t kRem = stateOf(p, seg)->kRem;
    const uint32_t eq = (uint32_t)carry;
    reinterpret_cast<int32_t *>(p.vsCounts)[seg] =
        (int32_t)((carry >> 32) + (eq < kRem ? eq : kRem));
  }
}

/// grid (numTopkChunks, 2 vsCount), kTopkThreads threads.
extern "C" __global__ void __launch_bounds__(kTopkThreads)
    minfer_topk_write(IndexParams p) {
  __shared__ unsigned long long scan[kTopkThreads / 32];
  const int seg = blockIdx.y, tid = threadIdx.x;
  const TopkState st = *stateOf(p, seg);
  const float *scores = scoresOf(p, seg);
  int32_t *out = reinterpret_cast<int32_t *>(p.vsSelected) + (int64_t)seg * p.selCap;
  const int n = p.seqLen, forced = forcedOf(p, seg);
  const int base = blockIdx.x * kTopkChunk;
  unsigned long long carry = reinterpret_cast<const unsigned long long *>(
      p.topkChunks)[(int64_t)seg * p.numTopkChunks + blockIdx.x];
  // Rounds of 1024 consecutive elements, 4 per thread in index order.
  for (int r = 0; r < kTopkChunk / (kTopkThreads * 4); ++r) {
    const int i0 = base + (r * kTopkThreads + tid) * 4;
    if (__syncthreads_or(i0 < n) == 0)
      break;
    compactRound<kTopkThreads>(scores, i0, n, forced, st.mask, st.prefix,
                               st.kRem, out, carry, scan);
  }
}

/// grid (ceil(max(nnzV, nnzS) / 256), vsCount, 2), 256 threads.
extern "C" __global__ void __launch_bounds__(256)
    minfer_vs_ext_scatter(IndexParams p) {
  const int slot = blockIdx.y, which = blockIdx.z;
  const int nnz = which ? p.extNnzS : p.extNnzV;
  const int64_t x = (int64_t)blockIdx.x * 256 + threadIdx.x;
  if (x >= nnz)
    return;
  const HeadDesc &hd = p.head[p.vsHead[slot]];
  const int32_t *src = reinterpret_cast<const int32_t *>(
                           which ? p.extSlash : p.extVertical) +
                       (int64_t)hd.qHead * nnz;
  const int32_t v = src[x];
  // Out-of-range entries select nothing (an offset >= N has no diagonal).
  if (v >= 0 && v < p.seqLen)
    reinterpret_cast<float *>(p.vsScores)[(int64_t)(2 * slot + which) * p.nPad +
                                          v] = 1.0f;
}

} // namespace minfer::cuda::kernels
