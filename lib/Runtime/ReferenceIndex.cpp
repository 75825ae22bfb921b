//===- ReferenceIndex.cpp - sparse index construction and checks ----------===//
//
// Builds the per-query-block rows of a SparseIndex from each pattern's closed
// form (SparseIndex.h), checks an index against the contract, computes the
// capacity an index needs, and expands an index back into its mask.
//
//===----------------------------------------------------------------------===//
#include "ReferenceDetail.h"
#include <algorithm>
#include <limits>

namespace minfer::ref {

using detail::blockEnd;
using detail::blockStart;
using detail::num;

/// Dimensions non-negative and the vectors sized as resize() sizes them.
static Status checkIndexDims(const SparseIndex &x) {
  if (x.batch < 0 || x.heads < 0 || x.seqLen < 0 || x.maxRanges < 0 ||
      x.maxColumns < 0)
    return invalidArgument("index dimensions must be non-negative");
  if (x.seqLen > std::numeric_limits<int32_t>::max())
    return invalidArgument("index seq_len exceeds int32 range");
  int64_t rows = 0, rangeInts = 0, colInts = 0;
  if (__builtin_mul_overflow(x.batch, x.heads, &rows) ||
      __builtin_mul_overflow(rows, x.numBlocks(), &rows) ||
      __builtin_mul_overflow(rows, x.maxRanges * 2, &rangeInts) ||
      __builtin_mul_overflow(rows, x.maxColumns, &colInts))
    return invalidArgument("index size overflows int64");
  MINFER_RETURN_IF_ERROR(detail::checkSize("index range_count",
                                           x.rangeCount.size(), rows));
  MINFER_RETURN_IF_ERROR(
      detail::checkSize("index ranges", x.ranges.size(), rangeInts));
  MINFER_RETURN_IF_ERROR(detail::checkSize("index column_count",
                                           x.columnCount.size(), rows));
  MINFER_RETURN_IF_ERROR(
      detail::checkSize("index column_index", x.columnIndex.size(), colInts));
  return Status::success();
}

namespace detail {
Status checkIndexHead(const SparseIndex &index, int64_t b, int64_t h) {
  MINFER_RETURN_IF_ERROR(checkIndexDims(index));
  if (b < 0 || b >= index.batch || h < 0 || h >= index.heads)
    return invalidArgument("(batch, head) = (" + num(b) + ", " + num(h) +
                           ") out of range for index [" + num(index.batch) +
                           ", " + num(index.heads) + "]");
  return Status::success();
}
} // namespace detail

Status validateIndex(const SparseIndex &x) {
  MINFER_RETURN_IF_ERROR(checkIndexDims(x));
  const int64_t NB = x.numBlocks(), R = x.maxRanges, C = x.maxColumns;
  for (int64_t b = 0; b < x.batch; ++b)
    for (int64_t h = 0; h < x.heads; ++h)
      for (int64_t m = 0; m < NB; ++m) {
        const int64_t row = x.row(b, h, m), e = blockEnd(m, x.seqLen);
        auto fail = [&](const std::string &what) {
          return invalidArgument("index (batch " + num(b) + ", head " +
                                 num(h) + ", block " + num(m) + "): " + what);
        };
        const int64_t nr = x.rangeCount[row], nc = x.columnCount[row];
        if (nr < 0 || nr > R)
          return fail("range_count " + num(nr) + " not in [0, " + num(R) + "]");
        if (nc < 0 || nc > C)
          return fail("column_count " + num(nc) + " not in [0, " + num(C) +
                      "]");
        const int32_t *rg = x.ranges.data() + row * R * 2;
        for (int64_t r = 0; r < nr; ++r) {
          int64_t lo = rg[2 * r], hi = rg[2 * r + 1];
          if (lo < 0 || lo >= hi || hi > e)
            return fail("range " + num(r) + " [" + num(lo) + ", " + num(hi) +
                        ") not within [0, " + num(e) + ") or empty");
          // Strictly after the previous end: adjacent ranges must be merged.
          if (r > 0 && lo <= rg[2 * r - 1])
            return fail("range " + num(r) +
                        " overlaps or touches the previous one");
        }
        const int32_t *cols = x.columnIndex.data() + row * C;
        int64_t r = 0;
        for (int64_t c = 0; c < nc; ++c) {
          int64_t j = cols[c];
          if (j < 0 || j >= e)
            return fail("column " + num(j) + " not in [0, " + num(e) + ")");
          if (c > 0 && j <= cols[c - 1])
            return fail("columns not strictly increasing");
          while (r < nr && rg[2 * r + 1] <= j)
            ++r;
          if (r < nr && rg[2 * r] <= j)
            return fail("column " + num(j) + " lies inside range " + num(r));
        }
      }
  return Status::success();
}

namespace {
/// Appends ranges of one index row in order of non-decreasing start, merging
/// any range that overlaps or touches the last one.
class RangeWriter {
public:
  RangeWriter(int32_t *out, int64_t cap) : out_(out), cap_(cap) {
    std::fill(out, out + 2 * cap, 0);
  }
  void add(int64_t lo, int64_t hi) {
    if (lo >= hi)
      return;
    if (n_ > 0 && lo <= out_[2 * n_ - 1]) {
      out_[2 * n_ - 1] = static_cast<int32_t>(std::max<int64_t>(
          out_[2 * n_ - 1], hi));
      return;
    }
    if (n_ == cap_) {
      overflow_ = true;
      return;
    }
    out_[2 * n_] = static_cast<int32_t>(lo);
    out_[2 * n_ + 1] = static_cast<int32_t>(hi);
    ++n_;
  }
  int64_t count() const { return n_; }
  bool overflow() const { return overflow_; }

private:
  int32_t *out_;
  int64_t cap_, n_ = 0;
  bool overflow_ = false;
};

Status capacityError(const char *what, int64_t b, int64_t h, int64_t m,
                     int64_t cap) {
  return invalidArgument("index (batch " + num(b) + ", head " + num(h) +
                         ", block " + num(m) + ") needs more than " +
                         num(cap) + " " + what +
                         "; size it with requiredCapacity");
}

/// Runs `fill(m, writer)` for every query block of (b, h), clears the row's
/// columns, and stores the range counts.
template <typename Fill>
Status fillRanges(SparseIndex &x, int64_t b, int64_t h, Fill fill) {
  for (int64_t m = 0; m < x.numBlocks(); ++m) {
    int64_t row = x.row(b, h, m);
    RangeWriter w(x.ranges.data() + row * x.maxRanges * 2, x.maxRanges);
    fill(m, w);
    if (w.overflow())
      return capacityError("ranges", b, h, m, x.maxRanges);
    x.rangeCount[row] = static_cast<int32_t>(w.count());
    x.columnCount[row] = 0;
    std::fill_n(x.columnIndex.data() + row * x.maxColumns, x.maxColumns, 0);
  }
  return Status::success();
}
} // namespace

Status fillDenseIndex(SparseIndex &index, int64_t b, int64_t h) {
  MINFER_RETURN_IF_ERROR(detail::checkIndexHead(index, b, h));
  const int64_t N = index.seqLen;
  return fillRanges(index, b, h, [&](int64_t m, RangeWriter &w) {
    w.add(0, blockEnd(m, N));
  });
}

Status fillAShapeIndex(SparseIndex &index, int64_t b, int64_t h, int64_t sink,
                       int64_t local) {
  MINFER_RETURN_IF_ERROR(detail::checkIndexHead(index, b, h));
  MINFER_RETURN_IF_ERROR(HeadPattern::aShape(sink, local).validate());
  const int64_t N = index.seqLen;
  return fillRanges(index, b, h, [&](int64_t m, RangeWriter &w) {
    int64_t s = blockStart(m), e = blockEnd(m, N);
    w.add(0, std::min(sink, e));
    // s - local + 1 computed without overflow for huge `local`.
    w.add(local > s ? 0 : s - local + 1, e);
  });
}

Status fillBsIndex(SparseIndex &index, int64_t b, int64_t h,
                   const std::vector<float> &blockScores, int64_t topKBlocks) {
  MINFER_RETURN_IF_ERROR(detail::checkIndexHead(index, b, h));
  MINFER_RETURN_IF_ERROR(HeadPattern::blockSparse(topKBlocks).validate());
  const int64_t N = index.seqLen, NB = index.numBlocks();
  MINFER_RETURN_IF_ERROR(
      detail::checkSize("block scores", blockScores.size(), NB * NB));
  std::vector<float> rowScores;
  return fillRanges(index, b, h, [&](int64_t m, RangeWriter &w) {
    // Only blocks n <= m are candidates, whatever the scores above the
    // diagonal say.
    rowScores.assign(blockScores.begin() + m * NB,
                     blockScores.begin() + m * NB + m + 1);
    for (int32_t n : topK(rowScores, topKBlocks, 0))
      w.add(n * kernel::kBlockN, std::min(n * kernel::kBlockN + kernel::kBlockN,
                                          blockEnd(m, N)));
  });
}

Status fillVsIndex(SparseIndex &index, int64_t b, int64_t h,
                   const std::vector<int32_t> &verticals,
                   const std::vector<int32_t> &slashOffsets) {
  MINFER_RETURN_IF_ERROR(detail::checkIndexHead(index, b, h));
  const int64_t N = index.seqLen;
  // Sorted, unique copies: callers may pass top-k output in any order.
  auto prepare = [N](const std::vector<int32_t> &in, const char *what,
                     std::vector<int32_t> &out) -> Status {
    out = in;
    std::sort(out.begin(), out.end());
    out.erase(std::unique(out.begin(), out.end()), out.end());
    if (!out.empty() && (out.front() < 0 || out.back() >= N))
      return invalidArgument(std::string(what) + " must be in [0, " + num(N) +
                             ")");
    return Status::success();
  };
  std::vector<int32_t> cols, offs;
  MINFER_RETURN_IF_ERROR(prepare(verticals, "vertical indices", cols));
  MINFER_RETURN_IF_ERROR(prepare(slashOffsets, "slash offsets", offs));

  for (int64_t m = 0; m < index.numBlocks(); ++m) {
    const int64_t s = blockStart(m), e = blockEnd(m, N);
    const int64_t row = index.row(b, h, m);
    int32_t *rg = index.ranges.data() + row * index.maxRanges * 2;
    RangeWriter w(rg, index.maxRanges);
    // Largest offset first = windows in order of increasing start.
    for (auto it = offs.rbegin(); it != offs.rend(); ++it)
      if (*it < e)
        w.add(std::max<int64_t>(s - *it, 0), e - *it);
    if (w.overflow())
      return capacityError("ranges", b, h, m, index.maxRanges);
    const int64_t nr = w.count();
    index.rangeCount[row] = static_cast<int32_t>(nr);

    int32_t *ci = index.columnIndex.data() + row * index.maxColumns;
    std::fill_n(ci, index.maxColumns, 0);
    int64_t nc = 0, r = 0;
    for (int32_t j : cols) {
      if (j >= e)
        break;
      while (r < nr && rg[2 * r + 1] <= j)
        ++r;
      if (r < nr && rg[2 * r] <= j)
        continue; // already covered by a range: never count a key twice
      if (nc == index.maxColumns)
        return capacityError("columns", b, h, m, index.maxColumns);
      ci[nc++] = j;
    }
    index.columnCount[row] = static_cast<int32_t>(nc);
  }
  return Status::success();
}

// Why the vertical-slash range bound holds. In block m (rows [s, e), L = e - s
// rows) each selected offset o < e contributes the window [max(s - o, 0),
// e - o) of length L, shorter only when clipped at 0. A merged range that does
// not start at 0 holds only unclipped windows, so it is >= L long; the ranges
// are separated by gaps >= 1. Hence 1 + (R - 1)(L + 1) <= e, i.e.
//   R <= 1 + (e - 1) / (L + 1),
// and R <= #offsets < e <= min(S_eff, e). NB + 1 is NOT a bound: in a short
// last block (L = 1, say) single-token windows two apart give ~e/2 ranges.
static int64_t vsMaxRanges(int64_t sEff, int64_t N) {
  int64_t best = 0;
  for (int64_t m = 0; m < numQueryBlocks(N); ++m) {
    int64_t e = blockEnd(m, N), L = e - blockStart(m);
    best = std::max(best, std::min({sEff, e, 1 + (e - 1) / (L + 1)}));
  }
  return best;
}

std::pair<int64_t, int64_t> requiredCapacity(const LayerPatterns &patterns,
                                             int64_t seqLen,
                                             const VsOptions &opts) {
  int64_t maxR = 0, maxC = 0;
  if (seqLen <= 0)
    return {0, 0};
  const int64_t N = seqLen, NB = numQueryBlocks(N);
  for (const HeadPattern &p : patterns) {
    int64_t r = 0, c = 0;
    switch (p.kind) {
    case PatternKind::Dense:
      r = 1;
      break;
    case PatternKind::AShape: {
      // Two ranges only if the sink and the window are apart in some block;
      // the gap s_m - local + 1 - sink grows with m, so check the last one.
      int64_t sLast = blockStart(NB - 1);
      r = (p.sink > 0 && p.local > 0 && p.local <= sLast && p.sink < sLast - p.local + 1) ? 2
                                                                          : 1;
      break;
    }
    case PatternKind::VerticalSlash: {
      auto [vEff, sEff] = vsEffectiveBudgets(p, N, opts);
      r = vsMaxRanges(std::max<int64_t>(sEff, 0), N);
      c = std::max<int64_t>(vEff, 0);
      break;
    }
    case PatternKind::BlockSparse:
      // Merged whole blocks among the m + 1 candidates, never adjacent: at
      // most ceil((m + 1) / 2) of them.
      r = std::clamp<int64_t>(p.topK, 0, (NB + 1) / 2);
      break;
    }
    maxR = std::max(maxR, r);
    maxC = std::max(maxC, c);
  }
  return {maxR, maxC};
}

std::vector<uint8_t> maskFromIndex(const SparseIndex &index, int64_t b,
                                   int64_t h) {
  const int64_t N = index.seqLen;
  if (!detail::checkIndexHead(index, b, h).ok() || N > kMaxMaskSeqLen)
    return {};
  std::vector<uint8_t> mask(N * N, 0);
  for (int64_t m = 0; m < index.numBlocks(); ++m) {
    const int64_t row = index.row(b, h, m);
    const int32_t *rg = index.ranges.data() + row * index.maxRanges * 2;
    const int32_t *ci = index.columnIndex.data() + row * index.maxColumns;
    // Counts are clamped so a malformed index cannot read out of bounds.
    const int64_t nr = std::clamp<int64_t>(index.rangeCount[row], 0,
                                           index.maxRanges);
    const int64_t nc = std::clamp<int64_t>(index.columnCount[row], 0,
                                           index.maxColumns);
    for (int64_t i = blockStart(m); i < blockEnd(m, N); ++i) {
      uint8_t *out = mask.data() + i * N;
      for (int64_t r = 0; r < nr; ++r)
        for (int64_t j = std::max<int64_t>(rg[2 * r], 0);
             j < std::min<int64_t>(rg[2 * r + 1], i + 1); ++j)
          out[j] = 1;
      for (int64_t c = 0; c < nc; ++c)
        if (ci[c] >= 0 && ci[c] <= i)
          out[ci[c]] = 1;
    }
  }
  return mask;
}

} // namespace minfer::ref
