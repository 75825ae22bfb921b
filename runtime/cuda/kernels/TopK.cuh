//===- TopK.cuh - exact CTA-wide top-k by radix select ----------*- CUDA -*-===//
//
// Key loading and warp-aggregated histogram helpers (shared with the
// multi-CTA selection of VsSelect.cu), and ctaTopK, used per block-sparse
// row. ctaTopK selects exactly what ref::topK selects: the k largest of n scores
// (entries below `forced` count as +inf), ties to the lower index, and writes
// their indices in ascending order.
//
// Method: a most-significant-digit radix select over the 32-bit ordered keys
// (8 bits per pass, histogram in shared memory) finds the key prefix of the
// k-th largest element; the pass loop stops as soon as the elements sharing
// that prefix are exactly the ones still needed (usually after 2-3 passes on
// real scores). A final pass then keeps every element whose prefix is larger,
// plus the first `kRem` (by index) whose prefix is equal, compacting them in
// index order with a CTA scan. One CTA reads the n scores 2-5 times from
// global memory (L2 for the block-sparse rows), with no sort at all.
//
// The output may alias the scores (selections are written in place): the
// element that lands in out[pos] has index >= pos, and a tile's keys are all
// read before the scan barrier that precedes its writes.
//
//===----------------------------------------------------------------------===//
#ifndef MINFER_RUNTIME_CUDA_KERNELS_TOPK_CUH
#define MINFER_RUNTIME_CUDA_KERNELS_TOPK_CUH

#include "Common.cuh"

namespace minfer::cuda::kernels {

struct TopKShared {
  unsigned hist[256];
  unsigned long long scan[32];
  unsigned digit, gt, eq;
};

/// Adds 1 to hist[bin] for each active lane, one shared atomic per distinct
/// bin in the warp: scores cluster in few bins (most attention mass is tiny),
/// and 32 lanes hitting one address would serialize.
__device__ __forceinline__ void histAdd(unsigned *hist, unsigned bin,
                                        bool active) {
  unsigned act = __ballot_sync(0xFFFFFFFFu, active);
  if (active) {
    unsigned peers = __match_any_sync(act, bin);
    if ((int)(threadIdx.x & 31) == __ffs(peers) - 1)
      atomicAdd(&hist[bin], (unsigned)__popc(peers));
  }
}

/// Keys of elements [i0, i0 + 4): a 16-byte load when all four are in range
/// (`scores` is 16-byte aligned and i0 % 4 == 0), scalar loads at the tail.
__device__ __forceinline__ void loadKeys4(const float *scores, int i0, int n,
                                          int forced, uint32_t key[4],
                                          bool valid[4]) {
  if (i0 + 3 < n) {
    float4 v = *reinterpret_cast<const float4 *>(scores + i0);
    key[0] = orderedKey(v.x);
    key[1] = orderedKey(v.y);
    key[2] = orderedKey(v.z);
    key[3] = orderedKey(v.w);
#pragma unroll
    for (int e = 0; e < 4; ++e)
      valid[e] = true;
  } else {
#pragma unroll
    for (int e = 0; e < 4; ++e) {
      valid[e] = i0 + e < n;
      key[e] = valid[e] ? orderedKey(scores[i0 + e]) : 0u;
    }
  }
#pragma unroll
  for (int e = 0; e < 4; ++e)
    if (i0 + e < forced)
      key[e] = kInfKey;
}

/// Writes min(k, n) indices (ascending) to out. Every thread of the CTA must
/// call it with the same arguments; k >= 1.
template <int kThreads>
__device__ void ctaTopK(const float *scores, int n, int k, int forced,
                        int32_t *out, TopKShared &sm) {
  const int tid = threadIdx.x;
  if (k >= n) {
    for (int i = tid; i < n; i += kThreads)
      out[i] = i;
    __syncthreads();
    return;
  }
  constexpr int kTile = kThreads * 4;
  uint32_t prefix = 0, mask = 0, kRem = (uint32_t)k;
  for (int shift = 24; shift >= 0; shift -= 8) {
    for (int i = tid; i < 256; i += kThreads)
      sm.hist[i] = 0;
    __syncthreads();
    // Trip count uniform across the warp: histAdd needs all 32 lanes.
    for (int base = 0; base < n; base += kTile) {
      uint32_t key[4];
      bool valid[4];
      loadKeys4(scores, base + tid * 4, n, forced, key, valid);
#pragma unroll
      for (int e = 0; e < 4; ++e)
        histAdd(sm.hist, (key[e] >> shift) & 0xFFu,
                valid[e] && (key[e] & mask) == prefix);
    }
    __syncthreads();
    if (tid < 32) {
      // Lane l owns bins [8l, 8l + 8); `above` counts elements in higher
      // bins. Exactly one bin has above < kRem <= above + count.
      unsigned c[8], tot = 0;
#pragma unroll
      for (int j = 0; j < 8; ++j) {
        c[j] = sm.hist[tid * 8 + j];
        tot += c[j];
      }
      unsigned incl = tot; // suffix sum over lanes >= this one
#pragma unroll
      for (int o = 1; o < 32; o <<= 1) {
        unsigned y = __shfl_down_sync(0xFFFFFFFFu, incl, o);
        if (tid + o < 32)
          incl += y;
      }
      unsigned above = incl - tot;
#pragma unroll
      for (int j = 7; j >= 0; --j) {
        if (above < kRem && above + c[j] >= kRem) {
          sm.digit = tid * 8 + j;
          sm.gt = above;
          sm.eq = c[j];
        }
        above += c[j];
      }
    }
    __syncthreads();
    const uint32_t digit = sm.digit, gt = sm.gt, eq = sm.eq;
    prefix |= digit << shift;
    mask |= 0xFFu << shift;
    kRem -= gt;
    __syncthreads(); // everyone has read sm.* before the next pass resets it
    if (eq == kRem)
      break; // all elements with this prefix are selected: no tie to break
  }

  // Compaction in index order. Counters are packed (greater << 32 | equal).
  unsigned long long carry = 0;
  for (int base = 0; base < n; base += kTile) {
    const int i0 = base + tid * 4;
    uint32_t key[4];
    bool valid[4], gt[4], eq[4];
    loadKeys4(scores, i0, n, forced, key, valid);
    unsigned long long local = 0;
#pragma unroll
    for (int e = 0; e < 4; ++e) {
      uint32_t m = key[e] & mask;
      gt[e] = valid[e] && m > prefix;
      eq[e] = valid[e] && m == prefix;
      local += ((unsigned long long)gt[e] << 32) | (unsigned long long)eq[e];
    }
    unsigned long long total;
    unsigned long long before =
        carry + blockExclusiveScan<kThreads>(local, &total, sm.scan);
    uint32_t gtB = (uint32_t)(before >> 32), eqB = (uint32_t)before;
#pragma unroll
    for (int e = 0; e < 4; ++e) {
      if (gt[e] || (eq[e] && eqB < kRem))
        out[gtB + (eqB < kRem ? eqB : kRem)] = i0 + e;
      gtB += gt[e];
      eqB += eq[e];
    }
    carry += total;
  }
  __syncthreads();
}

} // namespace minfer::cuda::kernels

#endif // MINFER_RUNTIME_CUDA_KERNELS_TOPK_CUH
