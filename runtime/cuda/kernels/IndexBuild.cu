//===- IndexBuild.cu - SparseIndex rows of dense/a_shape/vs heads -*- CUDA -*-===//
//
// minfer_index_build, grid (NB, heads), one CTA per (head, query block m)
// with rows [s, e), s = 64 m, e = min(N, s + 64). It writes the closed forms
// of SparseIndex.h, exactly as ref::fill*Index do:
//   dense            [0, e)
//   a_shape(S, L)    [0, min(S, e)) then [max(0, s - L + 1), e), merged
//   vertical_slash   ranges: the windows [max(s - o, 0), e - o) of the
//                    selected offsets o < e, taken by decreasing o and
//                    merged when a start <= the previous end. For a full
//                    block that is: one range from 0 for the clipped
//                    windows (o > s), joined with the run just below them
//                    if it is within 64, then one range per offset run
//                    (minfer_vs_runs) below: [s - max, e - min), written in
//                    parallel with no merging at all. The short last block
//                    (e - s < 64 merges at gaps <= e - s) goes window by
//                    window: window t opens a range iff its start exceeds
//                    window t-1's end, numbered by a CTA flag scan.
//                    columns: selected verticals j < e not covered by a
//                    window, i.e. with no selected offset in
//                    [max(0, s - j), e - j), compacted in order by a scan.
//   block_sparse     written by minfer_bs_select instead.
// Counts beyond maxRanges / maxColumns (impossible when the host sized the
// index with ref::requiredCapacity) are never written out of bounds: they
// set a bit in the error word.
//
//===----------------------------------------------------------------------===//
#include "Common.cuh"

namespace minfer::cuda::kernels {
namespace {

struct Row {
  int32_t *ranges, *columns;
  int32_t *rangeCount, *columnCount;
};

__device__ __forceinline__ Row rowOf(const IndexParams &p, int hl, int m) {
  const int64_t row = (int64_t)hl * p.numBlocks + m;
  Row r;
  r.ranges = reinterpret_cast<int32_t *>(p.ranges) + row * p.maxRanges * 2;
  r.columns = reinterpret_cast<int32_t *>(p.columnIndex) + row * p.maxColumns;
  r.rangeCount = reinterpret_cast<int32_t *>(p.rangeCount) + row;
  r.columnCount = reinterpret_cast<int32_t *>(p.columnCount) + row;
  return r;
}

/// Serial range writer for the one-or-two-range patterns (thread 0 only).
struct SerialRanges {
  int32_t *out;
  int cap, n = 0;
  bool overflow = false;
  __device__ void add(int lo, int hi) {
    if (lo >= hi)
      return;
    if (n > 0 && lo <= out[2 * n - 1]) {
      out[2 * n - 1] = max(out[2 * n - 1], hi);
      return;
    }
    if (n == cap) {
      overflow = true;
      return;
    }
    out[2 * n] = lo;
    out[2 * n + 1] = hi;
    ++n;
  }
};

/// Ranges of a full 64-row block from the precomputed offset runs (see the
/// file comment); writes them to `out` and returns their number.
__device__ int vsRangesFromRuns(const IndexParams &p, const HeadDesc &hd,
                                const int32_t *offs, int cnt, int a0, int s,
                                int e, int32_t *out) {
  const int32_t *runOf =
      reinterpret_cast<const int32_t *>(p.vsRunOf) + (int64_t)hd.vsSlot * p.selCap;
  const int2 *runOff =
      reinterpret_cast<const int2 *>(p.vsRunOff) + (int64_t)hd.vsSlot * p.selCap;
  if (cnt == 0)
    return 0;
  // Offsets in (s, e) give clipped windows [0, e - o): one range from 0.
  const bool clipped = cnt > a0;
  const int rTop = a0 > 0 ? runOf[a0 - 1] : -1;
  const bool connected = clipped && a0 > 0 && runOf[a0] == rTop;
  const int rStart = connected ? rTop - 1 : rTop; // runs rStart..0 follow
  const int lead = clipped ? 1 : 0;
  if (clipped && threadIdx.x == 0 && p.maxRanges > 0) {
    out[0] = 0;
    out[1] = e - (connected ? runOff[rTop].x : offs[a0]);
  }
  const int n = lead + rStart + 1;
  for (int x = threadIdx.x; x <= rStart; x += kBuildThreads) {
    const int ri = lead + x;
    if (ri >= p.maxRanges) {
      raiseError(p, kErrRangeOverflow);
      break;
    }
    int2 ro = runOff[rStart - x]; // windows [s - o, s - o + 64)
    // The top run may go on past e (offsets >= e reach no row here): its
    // largest offset in this block is the last one <= s.
    if (rStart - x == rTop)
      ro.y = offs[a0 - 1];
    out[2 * ri] = s - ro.y;
    out[2 * ri + 1] = e - ro.x;
  }
  if (n > p.maxRanges && threadIdx.x == 0)
    raiseError(p, kErrRangeOverflow);
  return min(n, p.maxRanges);
}

/// Ranges of any block (the short last one included) window by window:
/// window t opens a range iff its start exceeds window t-1's end; a CTA
/// flag scan numbers the ranges.
__device__ int vsRangesFromWindows(const IndexParams &p, const int32_t *offs,
                                   int cnt, int s, int e, int *scan,
                                   int32_t *out) {
  const int tid = threadIdx.x;
  int base = 0;
  for (int t0 = 0; t0 < cnt; t0 += kBuildThreads) {
    const int t = t0 + tid;
    const bool active = t < cnt;
    int start = 0, end = 0;
    bool opens = false, closes = false;
    if (active) {
      const int o = offs[cnt - 1 - t];
      start = max(s - o, 0);
      end = e - o;
      opens = t == 0 || start > e - offs[cnt - t];
      closes = t == cnt - 1 || max(s - offs[cnt - 2 - t], 0) > end;
    }
    int total;
    const int rank = blockFlagScan<kBuildThreads>(opens, &total, scan);
    const int r = base + rank + (opens ? 0 : -1); // range holding window t
    if (active && (opens || closes)) {
      if (r < p.maxRanges) {
        if (opens)
          out[2 * r] = start;
        if (closes)
          out[2 * r + 1] = end;
      } else {
        raiseError(p, kErrRangeOverflow);
      }
    }
    base += total;
  }
  return min(base, p.maxRanges);
}

/// With p.buildStage (maxRanges int2 fit in shared memory) the ranges are
/// assembled there, flushed as 8-byte vectors by consecutive threads, and
/// the column test searches them there.
__device__ void buildVs(const IndexParams &p, const HeadDesc &hd, const Row &row,
                        int m, int s, int e, int *scan, int2 *stage) {
  const int tid = threadIdx.x;
  const int32_t *cols = reinterpret_cast<const int32_t *>(p.vsSelected) +
                        (int64_t)hd.vsSlot * 2 * p.selCap;
  const int32_t *offs = cols + p.selCap;
  // Selections below e / at most s (precomputed by minfer_vs_block_counts).
  const int32_t *blockCounts =
      reinterpret_cast<const int32_t *>(p.vsBlockCounts) +
      (int64_t)hd.vsSlot * 3 * p.numBlocks;
  const int vc = blockCounts[m], cnt = blockCounts[p.numBlocks + m],
            a0 = blockCounts[2 * p.numBlocks + m];
  int32_t *out = stage ? reinterpret_cast<int32_t *>(stage) : row.ranges;
  const int numRanges =
      e - s == 64 ? vsRangesFromRuns(p, hd, offs, cnt, a0, s, e, out)
                  : vsRangesFromWindows(p, offs, cnt, s, e, scan, out);
  __syncthreads();
  if (stage) {
    int2 *dst = reinterpret_cast<int2 *>(row.ranges);
    for (int r = tid; r < numRanges; r += kBuildThreads)
      dst[r] = stage[r];
  }

  // Columns below e that no window covers: j is covered iff some selected
  // offset lies in [max(0, s - j), e - j) -- or, with the ranges staged,
  // iff the last range starting at or before j ends after j.
  int base = 0;
  for (int t0 = 0; t0 < vc; t0 += kBuildThreads) {
    const int t = t0 + tid;
    bool keep = false;
    int j = 0;
    if (t < vc) {
      j = cols[t];
      if (stage) {
        int lo = 0, hi = numRanges; // first range with start > j
        while (lo < hi) {
          const int mid = (lo + hi) >> 1;
          if (stage[mid].x <= j)
            lo = mid + 1;
          else
            hi = mid;
        }
        keep = lo == 0 || stage[lo - 1].y <= j;
      } else {
        const int x = lowerBound(offs, cnt, max(0, s - j));
        keep = !(x < cnt && offs[x] < e - j);
      }
    }
    int total;
    const int c = base + blockFlagScan<kBuildThreads>(keep, &total, scan);
    if (keep) {
      if (c < p.maxColumns)
        row.columns[c] = j;
      else
        raiseError(p, kErrColumnOverflow);
    }
    base += total;
  }
  if (tid == 0) {
    *row.rangeCount = numRanges;
    *row.columnCount = min(base, p.maxColumns);
  }
}

} // namespace

extern "C" __global__ void __launch_bounds__(kBuildThreads)
    minfer_index_build(IndexParams p) {
  __shared__ int scan[kBuildThreads / 32];
  const int m = blockIdx.x, hl = blockIdx.y;
  const HeadDesc &hd = p.head[hl];
  if (hd.kind == kHeadBlockSparse)
    return;
  const int s = m * 64, e = min(p.seqLen, s + 64);
  const Row row = rowOf(p, hl, m);
  if (hd.kind == kHeadVerticalSlash) {
    extern __shared__ int2 stage[];
    buildVs(p, hd, row, m, s, e, scan, p.buildStage ? stage : nullptr);
    return;
  }
  if (threadIdx.x != 0)
    return;
  SerialRanges w{row.ranges, p.maxRanges};
  if (hd.kind == kHeadDense) {
    w.add(0, e);
  } else { // a_shape
    w.add(0, min(hd.sink, e));
    w.add(hd.local > s ? 0 : s - hd.local + 1, e);
  }
  if (w.overflow)
    raiseError(p, kErrRangeOverflow);
  *row.rangeCount = w.n;
  *row.columnCount = 0;
}

/// grid (ceil(NB / 256), vsCount), 256 threads: for each query block m, the
/// number of selected verticals < e_m, offsets < e_m and offsets <= s_m, so
/// minfer_index_build needs no binary search over global memory.
extern "C" __global__ void __launch_bounds__(256)
    minfer_vs_block_counts(IndexParams p) {
  const int slot = blockIdx.y;
  const int m = blockIdx.x * 256 + threadIdx.x;
  if (m >= p.numBlocks)
    return;
  const int32_t *cols =
      reinterpret_cast<const int32_t *>(p.vsSelected) + (int64_t)slot * 2 * p.selCap;
  const int32_t *offs = cols + p.selCap;
  const int32_t *counts = reinterpret_cast<const int32_t *>(p.vsCounts) + 2 * slot;
  const int s = m * 64, e = min(p.seqLen, s + 64);
  int32_t *out = reinterpret_cast<int32_t *>(p.vsBlockCounts) +
                 (int64_t)slot * 3 * p.numBlocks + m;
  out[0] = lowerBound(cols, counts[0], e);
  out[p.numBlocks] = lowerBound(offs, counts[1], e);
  out[2 * p.numBlocks] = lowerBound(offs, counts[1], s + 1);
}

/// grid (vsCount), 1024 threads: splits each head's ascending slash offsets
/// into runs -- maximal sequences whose consecutive offsets differ by at
/// most 64. In a full 64-row block the windows of two consecutive offsets
/// o1 > o2 merge iff o1 - o2 <= 64 (start s - o2 <= end s - o1 + 64),
/// whatever the block, so a block's unclipped ranges are exactly the runs
/// below it: [s - max(run), e - min(run)).
extern "C" __global__ void __launch_bounds__(1024) minfer_vs_runs(IndexParams p) {
  __shared__ int scan[32];
  const int slot = blockIdx.x;
  const int32_t *offs = reinterpret_cast<const int32_t *>(p.vsSelected) +
                        (int64_t)slot * 2 * p.selCap + p.selCap;
  const int n = reinterpret_cast<const int32_t *>(p.vsCounts)[2 * slot + 1];
  int32_t *runOf = reinterpret_cast<int32_t *>(p.vsRunOf) + (int64_t)slot * p.selCap;
  int2 *runOff = reinterpret_cast<int2 *>(p.vsRunOff) + (int64_t)slot * p.selCap;
  int base = 0;
  for (int t0 = 0; t0 < n; t0 += 1024) {
    const int t = t0 + threadIdx.x;
    const bool active = t < n;
    const bool first = active && (t == 0 || offs[t] - offs[t - 1] > 64);
    const bool last = active && (t == n - 1 || offs[t + 1] - offs[t] > 64);
    int total;
    const int r = base + blockFlagScan<1024>(first, &total, scan) + (first ? 0 : -1);
    if (active) {
      runOf[t] = r;
      if (first)
        runOff[r].x = offs[t];
      if (last)
        runOff[r].y = offs[t];
    }
    base += total;
  }
}

/// grid (NB, heads), 128 threads: adds the number of (i, j) pairs of the
/// executed mask of each (head, query block) to *keptCounter, in closed form
/// per range and column (benchmarks report density and retained FLOP/s).
extern "C" __global__ void __launch_bounds__(128) minfer_count_kept(IndexParams p) {
  __shared__ unsigned long long warpSums[4];
  const int m = blockIdx.x, hl = blockIdx.y;
  const int64_t row = (int64_t)hl * p.numBlocks + m;
  const int s = m * 64, e = min(p.seqLen, s + 64);
  const int nr = reinterpret_cast<const int32_t *>(p.rangeCount)[row];
  const int nc = p.maxColumns > 0
                     ? reinterpret_cast<const int32_t *>(p.columnCount)[row]
                     : 0;
  const int32_t *rg = reinterpret_cast<const int32_t *>(p.ranges) + row * p.maxRanges * 2;
  const int32_t *ci =
      reinterpret_cast<const int32_t *>(p.columnIndex) + row * p.maxColumns;
  unsigned long long sum = 0;
  for (int r = threadIdx.x; r < nr; r += 128) {
    // Row i keeps min(i + 1 - lo, hi - lo) keys of [lo, hi) when i >= lo.
    const int64_t lo = rg[2 * r], hi = rg[2 * r + 1];
    const int64_t a = max((int64_t)s, lo), mid = min((int64_t)e, hi);
    if (mid > a) // rows [a, mid): i + 1 - lo, an arithmetic series
      sum += (unsigned long long)((mid - a) * ((a + 1 - lo) + (mid - lo)) / 2);
    const int64_t b = max(a, hi);
    if (e > b) // rows [max(a, hi), e): the whole range
      sum += (unsigned long long)((e - b) * (hi - lo));
  }
  for (int c = threadIdx.x; c < nc; c += 128) {
    const int j = ci[c];
    if (j < e) // rows [max(j, s), e)
      sum += (unsigned long long)(e - max(j, s));
  }
#pragma unroll
  for (int o = 16; o > 0; o >>= 1)
    sum += __shfl_xor_sync(0xFFFFFFFFu, sum, o);
  if ((threadIdx.x & 31) == 0)
    warpSums[threadIdx.x >> 5] = sum;
  __syncthreads();
  if (threadIdx.x == 0)
    atomicAdd(reinterpret_cast<unsigned long long *>(p.keptCounter),
              warpSums[0] + warpSums[1] + warpSums[2] + warpSums[3]);
}

/// How much the 192-row block-sparse kernel would share (kernel::
/// measuresBlockSparseRows): warp w of the CTA takes group g (query blocks
/// 3 g .. 3 g + 2 of chunk head blockIdx.y), stages the three index rows in
/// shared memory (their first kSharingCap ranges; later ones are read from
/// global memory) and its lane 0 walks them as that kernel's producer does
/// (lib/Transforms/AttentionKernelPairedSchedule.cpp: one tile per 64 keys
/// of a range from its start, an empty or inverted range one tile, ranges
/// clamped to [0, N]), counting the steps of the merge (tiles loaded once)
/// and the tiles the blocks visit; both go to tileSharing[0], [1]. The walk
/// reads shared memory because the runtime waits for this kernel before it
/// launches attention: a walk over global memory (one dependent load per
/// range) cost 0.3 ms at 128K tokens.
constexpr int kSharingCap = 192; // ranges staged per index row
extern "C" __global__ void __launch_bounds__(32 * kSharingGroupsPerCta)
    minfer_bs_sharing(IndexParams p) {
  constexpr int kDone = 0x7fff0000, kWalks = 3;
  __shared__ int2 staged[kSharingGroupsPerCta][kWalks][kSharingCap];
  const int warp = threadIdx.x >> 5, lane = threadIdx.x & 31;
  const int g = blockIdx.x * kSharingGroupsPerCta + warp, hl = blockIdx.y;
  if (3 * g >= p.numBlocks) // warp-uniform
    return;
  const int32_t *rc = reinterpret_cast<const int32_t *>(p.rangeCount);
  int n[kWalks];
  const int2 *rg[kWalks];
  for (int w = 0; w < kWalks; ++w) {
    const int m = 3 * g + w;
    const int64_t row = (int64_t)hl * p.numBlocks + min(m, p.numBlocks - 1);
    n[w] = m < p.numBlocks ? min(max(rc[row], 0), p.maxRanges) : 0;
    rg[w] = reinterpret_cast<const int2 *>(p.ranges) + row * p.maxRanges;
    for (int r = lane; r < min(n[w], kSharingCap); r += 32)
      staged[warp][w][r] = rg[w][r];
  }
  __syncwarp();
  if (lane != 0)
    return;
  int r[kWalks] = {0, 0, 0}, t[kWalks], end[kWalks];
  auto enter = [&](int w) { // walk w at the start of its range r[w]
    if (r[w] >= n[w]) {
      t[w] = end[w] = kDone;
      return;
    }
    const int2 range = r[w] < kSharingCap ? staged[warp][w][r[w]] : rg[w][r[w]];
    t[w] = min(max(range.x, 0), p.seqLen);
    end[w] = min(range.y, p.seqLen);
  };
  for (int w = 0; w < kWalks; ++w)
    enter(w);
  unsigned long long steps = 0, visits = 0;
  for (;;) {
    const int start = min(t[0], min(t[1], t[2]));
    if (start >= kDone)
      break;
    ++steps;
    for (int w = 0; w < kWalks; ++w)
      if (t[w] == start) {
        ++visits;
        if (t[w] + 64 >= end[w]) {
          ++r[w];
          enter(w);
        } else {
          t[w] += 64;
        }
      }
  }
  if (visits > 0) {
    unsigned long long *out = reinterpret_cast<unsigned long long *>(p.tileSharing);
    atomicAdd(out, steps);
    atomicAdd(out + 1, visits);
  }
}

} // namespace minfer::cuda::kernels
