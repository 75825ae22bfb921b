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
// Rows of up to 16K scores (block-sparse rows up to N = 1M) take a shorter
// path, topKByBitmaps: once few elements share the k-th largest key's
// prefix, only those are read again, and the indices are written from
// bitmaps with a single CTA scan.
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

/// Rows of up to kTopKBitmapElems (IndexParams.h) scores take ctaTopK's
/// bitmap path: bitmaps of the selected / candidate elements and the
/// candidates' indices.
constexpr int kTopKCandidates = 2048;
struct TopKBitmaps {
  uint32_t sel[kTopKBitmapElems / 32], cand[kTopKBitmapElems / 32];
  uint16_t index[kTopKCandidates];
  unsigned count;
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

/// Zeroes the histogram (all threads; the caller's barrier publishes it).
template <int kThreads> __device__ __forceinline__ void clearHist(TopKShared &sm) {
  for (int i = threadIdx.x; i < 256; i += kThreads)
    sm.hist[i] = 0;
}

/// A radix select in progress: the prefix of the k-th largest key so far
/// (`mask`: its known bits), how many elements above it are still to be
/// selected (kRem) and how many share it (eq).
struct RadixState {
  uint32_t prefix, mask, kRem, eq;
};

/// After a histogram pass over the bits at `shift`: extends the prefix by
/// the digit whose bin holds the kRem-th largest remaining element, and
/// counts the elements in higher bins (taken off kRem) and in that bin (eq).
/// Every thread calls it; it ends with everyone having read the answer, so
/// the next pass may reset the histogram.
__device__ __forceinline__ void takeDigit(TopKShared &sm, int shift,
                                          RadixState &st) {
  const int tid = threadIdx.x;
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
      if (above < st.kRem && above + c[j] >= st.kRem) {
        sm.digit = tid * 8 + j;
        sm.gt = above;
        sm.eq = c[j];
      }
      above += c[j];
    }
  }
  __syncthreads();
  st.prefix |= sm.digit << shift;
  st.mask |= 0xFFu << shift;
  st.kRem -= sm.gt;
  st.eq = sm.eq;
  __syncthreads(); // everyone has read sm.* before the next pass resets it
}

/// One radix pass over the whole row: histogram of the 8 bits at `shift` of
/// the elements sharing st.prefix, then takeDigit.
template <int kThreads>
__device__ void rowRadixPass(const float *scores, int n, int forced, int shift,
                             RadixState &st, TopKShared &sm) {
  constexpr int kTile = kThreads * 4;
  clearHist<kThreads>(sm);
  __syncthreads();
  // Trip count uniform across the warp: histAdd needs all 32 lanes.
  for (int base = 0; base < n; base += kTile) {
    uint32_t key[4];
    bool valid[4];
    loadKeys4(scores, base + threadIdx.x * 4, n, forced, key, valid);
#pragma unroll
    for (int e = 0; e < 4; ++e)
      histAdd(sm.hist, (key[e] >> shift) & 0xFFu,
              valid[e] && (key[e] & st.mask) == st.prefix);
  }
  takeDigit(sm, shift, st);
}

/// Key of element i (entries below `forced` count as +inf).
__device__ __forceinline__ uint32_t loadKey(const float *scores, int i,
                                            int forced) {
  return i < forced ? kInfKey : orderedKey(scores[i]);
}

/// ctaTopK for rows of at most kTopKBitmapElems. Radix passes over the whole
/// row run only until at most kTopKCandidates elements share the prefix of
/// the k-th largest key (usually after one or two); one more pass marks the
/// elements above the prefix in a bitmap and lists those sharing it (the
/// candidates); the remaining radix passes read only the candidates; a
/// single CTA scan over the bitmaps writes the indices in order. (The
/// full-row select reads the row once per pass and compacts with one CTA
/// scan per 4 x kThreads elements.) Same selection, ties to the lower index.
template <int kThreads>
__device__ void topKByBitmaps(const float *scores, int n, int k, int forced,
                              int32_t *out, TopKShared &sm, TopKBitmaps &bm) {
  const int tid = threadIdx.x, lane = tid & 31;
  RadixState st{0u, 0u, (uint32_t)k, 0u};
  int shift = 24;
  for (;; shift -= 8) {
    rowRadixPass<kThreads>(scores, n, forced, shift, st, sm);
    if (st.eq == st.kRem || st.eq <= (uint32_t)kTopKCandidates || shift == 0)
      break; // uniform: every thread read the same eq
  }
  // Undecided elements sharing the prefix are listed for further passes;
  // otherwise they are all selected (eq == kRem) or exact ties.
  const bool listed = st.eq != st.kRem && shift > 0;
  // Aliases: the candidate passes below extend the prefix.
  const uint32_t &prefix = st.prefix, &mask = st.mask, &kRem = st.kRem;
  if (tid == 0)
    bm.count = 0;
  __syncthreads();

  // Four consecutive elements per thread and step (one 16-byte load): the
  // nibbles of 8 lanes make one bitmap word. (One element per thread and a
  // ballot per word took half the selection's instructions.)
  const int nWords = (n + 31) / 32;
  for (int base = 0; base < nWords * 32; base += 4 * kThreads) {
    const int i0 = base + tid * 4;
    uint32_t key[4];
    bool valid[4];
    loadKeys4(scores, i0, n, forced, key, valid);
    unsigned selNib = 0, candNib = 0;
#pragma unroll
    for (int e = 0; e < 4; ++e) {
      const uint32_t m = key[e] & mask;
      selNib |= (valid[e] && m > prefix ? 1u : 0u) << e;
      candNib |= (valid[e] && m == prefix ? 1u : 0u) << e;
    }
    unsigned selWord = selNib << (4 * (lane & 7));
    unsigned candWord = candNib << (4 * (lane & 7));
#pragma unroll
    for (int o = 1; o < 8; o <<= 1) {
      selWord |= __shfl_xor_sync(0xFFFFFFFFu, selWord, o);
      candWord |= __shfl_xor_sync(0xFFFFFFFFu, candWord, o);
    }
    if ((lane & 7) == 0 && i0 < nWords * 32) {
      bm.sel[i0 >> 5] = selWord;
      bm.cand[i0 >> 5] = candWord;
    }
    if (listed) {
      // Slots by a warp scan of the lanes' candidate counts, one atomic.
      const unsigned count = __popc(candNib);
      const unsigned incl = warpInclusiveScan(count);
      const unsigned warpTotal = __shfl_sync(0xFFFFFFFFu, incl, 31);
      unsigned at = 0;
      if (lane == 0 && warpTotal)
        at = atomicAdd(&bm.count, warpTotal);
      at = __shfl_sync(0xFFFFFFFFu, at, 0) + incl - count;
#pragma unroll
      for (int e = 0; e < 4; ++e)
        if ((candNib >> e) & 1u)
          bm.index[at++] = (uint16_t)(i0 + e);
    }
  }
  __syncthreads();

  if (listed) {
    const int count = (int)bm.count; // == eq <= kTopKCandidates
    for (shift -= 8; shift >= 0 && st.eq != st.kRem; shift -= 8) {
      clearHist<kThreads>(sm);
      __syncthreads();
      for (int c0 = 0; c0 < count; c0 += kThreads) {
        const int c = c0 + tid;
        const bool valid = c < count;
        const uint32_t key = valid ? loadKey(scores, bm.index[c], forced) : 0u;
        histAdd(sm.hist, (key >> shift) & 0xFFu,
                valid && (key & mask) == prefix);
      }
      takeDigit(sm, shift, st);
    }
    // Re-mark the candidates under the final prefix.
    for (int w = tid; w < nWords; w += kThreads)
      bm.cand[w] = 0;
    __syncthreads();
    for (int c = tid; c < count; c += kThreads) {
      const int i = bm.index[c];
      const uint32_t m = loadKey(scores, i, forced) & mask;
      if (m > prefix)
        atomicOr(&bm.sel[i >> 5], 1u << (i & 31));
      else if (m == prefix)
        atomicOr(&bm.cand[i >> 5], 1u << (i & 31));
    }
    __syncthreads();
  }
  // All keys are read: `out` may alias the scores from here on. Selected:
  // every `sel` element and the first kRem `cand` elements by index (all of
  // them unless they are exact ties).
  // Thread t owns words [t W, t W + W); one scan gives its first slots.
  const int wordsPer = (nWords + kThreads - 1) / kThreads;
  const int w0 = min(tid * wordsPer, nWords), w1 = min(w0 + wordsPer, nWords);
  unsigned long long local = 0;
  for (int w = w0; w < w1; ++w)
    local += ((unsigned long long)__popc(bm.sel[w]) << 32) |
             (unsigned long long)__popc(bm.cand[w]);
  unsigned long long total;
  const unsigned long long before =
      blockExclusiveScan<kThreads>(local, &total, sm.scan);
  uint32_t selB = (uint32_t)(before >> 32), tieB = (uint32_t)before;
  for (int w = w0; w < w1; ++w) {
    const uint32_t sw = bm.sel[w];
    uint32_t any = sw | bm.cand[w];
    while (any) {
      const int b = __ffs(any) - 1;
      any &= any - 1;
      if ((sw >> b) & 1u) {
        out[selB + min(tieB, kRem)] = w * 32 + b;
        ++selB;
      } else {
        if (tieB < kRem)
          out[selB + tieB] = w * 32 + b;
        ++tieB;
      }
    }
  }
  __syncthreads();
}

/// One round of the top-k compaction in index order (every thread of the
/// CTA calls it): this thread's 4 elements from i0 (loadKeys4) are selected
/// if their masked key is above `prefix`, or equal to it with fewer than
/// kRem equal ones before them, and their indices are written to `out` in
/// index order. `carry` counts the elements of earlier rounds, packed
/// (greater << 32 | equal); the round adds its own.
template <int kThreads>
__device__ __forceinline__ void
compactRound(const float *scores, int i0, int n, int forced, uint32_t mask,
             uint32_t prefix, uint32_t kRem, int32_t *out,
             unsigned long long &carry, unsigned long long *scan) {
  uint32_t key[4];
  bool valid[4], gt[4], eq[4];
  loadKeys4(scores, i0, n, forced, key, valid);
  unsigned long long local = 0;
#pragma unroll
  for (int e = 0; e < 4; ++e) {
    const uint32_t m = key[e] & mask;
    gt[e] = valid[e] && m > prefix;
    eq[e] = valid[e] && m == prefix;
    local += ((unsigned long long)gt[e] << 32) | (unsigned long long)eq[e];
  }
  unsigned long long total;
  const unsigned long long before =
      carry + blockExclusiveScan<kThreads>(local, &total, scan);
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

/// Writes min(k, n) indices (ascending) to out. Every thread of the CTA must
/// call it with the same arguments; k >= 1. With `bm`, rows of up to
/// kTopKBitmapElems take topKByBitmaps.
template <int kThreads>
__device__ void ctaTopK(const float *scores, int n, int k, int forced,
                        int32_t *out, TopKShared &sm,
                        TopKBitmaps *bm = nullptr) {
  const int tid = threadIdx.x;
  if (k >= n) {
    for (int i = tid; i < n; i += kThreads)
      out[i] = i;
    __syncthreads();
    return;
  }
  if (bm && n <= kTopKBitmapElems) {
    topKByBitmaps<kThreads>(scores, n, k, forced, out, sm, *bm);
    return;
  }
  constexpr int kTile = kThreads * 4;
  RadixState st{0u, 0u, (uint32_t)k, 0u};
  for (int shift = 24; shift >= 0; shift -= 8) {
    rowRadixPass<kThreads>(scores, n, forced, shift, st, sm);
    if (st.eq == st.kRem)
      break; // all elements with this prefix are selected: no tie to break
  }
  const uint32_t prefix = st.prefix, mask = st.mask, kRem = st.kRem;

  // Compaction in index order. Counters are packed (greater << 32 | equal).
  unsigned long long carry = 0;
  for (int base = 0; base < n; base += kTile) {
    const int i0 = base + tid * 4;
    compactRound<kThreads>(scores, i0, n, forced, mask, prefix, kRem, out,
                           carry, sm.scan);
  }
  __syncthreads();
}

} // namespace minfer::cuda::kernels

#endif // MINFER_RUNTIME_CUDA_KERNELS_TOPK_CUH
