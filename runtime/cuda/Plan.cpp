//===- Plan.cpp - host-side planning of one attention call ----------------===//
//
// See Plan.h. The capacity comes from ref::requiredCapacity (the tight
// per-pattern bound the CPU reference sizes its index with), so the GPU index
// has the reference's exact layout, and at N = 1M a vertical-slash head with
// S = 6096 needs ~6096 ranges per block, not NB.
//
//===----------------------------------------------------------------------===//
#include "Plan.h"

#include "minfer/Runtime/Reference.h"

#include <algorithm>
#include <cmath>
#include <set>

namespace minfer::cuda {

using kernel::KernelKind;
namespace k = kernels;

static std::string num(int64_t v) { return std::to_string(v); }
static int64_t roundUp(int64_t x, int64_t m) { return (x + m - 1) / m * m; }

/// The index stores token positions as int32 and the kernels size arrays
/// with int; 2^30 leaves headroom for padding arithmetic.
constexpr int64_t kMaxSeqLen = int64_t(1) << 30;

Status validateTensors(const AttentionTensors &t) {
  const std::pair<const char *, const void *> ptrs[] = {
      {"q", t.q}, {"k", t.k}, {"v", t.v}, {"out", t.out}};
  for (const auto &[name, p] : ptrs)
    if (!p)
      return Status(ErrorCode::NullPointer, std::string(name) + " is null");
  AttentionShape shape;
  shape.batch = t.batch;
  shape.heads = t.heads;
  shape.kvHeads = t.kvHeads;
  shape.seqLen = t.seqLen;
  shape.headDim = t.headDim;
  MINFER_RETURN_IF_ERROR(shape.validate());
  if (t.dtype != kernel::ElemType::BF16 && t.dtype != kernel::ElemType::F16)
    return Status(ErrorCode::Unsupported,
                  "dtype must be bf16 or f16, got " +
                      num(static_cast<int64_t>(t.dtype)));
  // Launch grids put heads in y and batch entries in z (at most 65535).
  if (t.heads > 65535 || t.batch > 65535)
    return Status(ErrorCode::Unsupported,
                  "heads and batch must be at most 65535, got " + num(t.heads) +
                      " and " + num(t.batch));
  if (t.seqLen > kMaxSeqLen)
    return Status(ErrorCode::Unsupported,
                  "seq_len " + num(t.seqLen) + " above 2^30 is not supported");
  if (!std::isfinite(t.scale))
    return invalidArgument("scale must be finite");
  // The kernels load 16-byte vectors.
  for (const auto &[name, p] : ptrs)
    if (reinterpret_cast<uintptr_t>(p) % 16 != 0)
      return invalidArgument(std::string(name) +
                             " must be 16-byte aligned");
  // out is written while q, k, v are still read by other CTAs.
  const uintptr_t o = reinterpret_cast<uintptr_t>(t.out);
  const uintptr_t oEnd = o + uintptr_t(shape.qElems()) * 2;
  const std::pair<const char *, std::pair<const void *, int64_t>> ins[] = {
      {"q", {t.q, shape.qElems()}},
      {"k", {t.k, shape.kvElems()}},
      {"v", {t.v, shape.kvElems()}}};
  for (const auto &[name, in] : ins) {
    const uintptr_t a = reinterpret_cast<uintptr_t>(in.first);
    if (a < oEnd && o < a + uintptr_t(in.second) * 2)
      return invalidArgument(std::string("out overlaps ") + name);
  }
  return Status::success();
}

Status validatePatterns(const AttentionTensors &t, const LayerPatterns &patterns,
                        const VsOptions &vs) {
  if (static_cast<int64_t>(patterns.size()) != t.heads)
    return invalidArgument("got " + num((int64_t)patterns.size()) +
                           " patterns for " + num(t.heads) + " heads");
  for (size_t h = 0; h < patterns.size(); ++h) {
    Status st = patterns[h].validate();
    if (!st.ok())
      return Status(st.code(), "head " + num((int64_t)h) + ": " + st.message());
  }
  if (vs.forcedVertical < 0 || vs.forcedSlash < 0)
    return invalidArgument("forced vertical/slash counts must be non-negative");
  return Status::success();
}

double densityUpperBound(const LayerPatterns &patterns, int64_t seqLen,
                         const VsOptions &vs) {
  if (patterns.empty() || seqLen <= 0)
    return 0.0;
  double n = double(seqLen), kept = 0;
  for (const HeadPattern &p : patterns) {
    double c = n;
    switch (p.kind) {
    case PatternKind::Dense:
      break;
    case PatternKind::VerticalSlash:
      c = 64.0 * std::min(n, double(std::max(p.slash, vs.forcedSlash))) +
          std::min(n, double(std::max(p.vertical, vs.forcedVertical)));
      break;
    case PatternKind::BlockSparse:
      c = 64.0 * double(p.topK);
      break;
    case PatternKind::AShape:
      c = double(p.sink) + double(p.local) + 64.0;
      break;
    }
    c = std::min(c, n);
    kept += c * (c + 1) / 2 + (n - c) * c; // sum over rows of min(i + 1, c)
  }
  return kept / causalPairs(int64_t(patterns.size()), seqLen);
}

KernelKind kernelKindFor(const LayerPatterns &patterns) {
  bool anyVs = false, anySparse = false;
  for (const HeadPattern &p : patterns) {
    anyVs |= p.kind == PatternKind::VerticalSlash;
    anySparse |= p.kind != PatternKind::Dense;
  }
  return anyVs ? KernelKind::VerticalSlash
               : anySparse ? KernelKind::Block : KernelKind::Dense;
}

std::vector<int64_t> chunkSizeCandidates(int64_t heads, int64_t group) {
  std::set<int64_t> c;
  for (int64_t d = 1; d <= group && d <= k::kMaxChunkHeads; ++d)
    if (group % d == 0)
      c.insert(d);
  for (int64_t m = group; m <= heads && m <= k::kMaxChunkHeads; m += group)
    c.insert(m);
  return {c.begin(), c.end()};
}

namespace {

/// Chunks of `hc` heads per batch entry, with their per-kind head counts.
std::vector<Chunk> makeChunks(const CallPlan &p, const LayerPatterns &patterns,
                              int64_t hc) {
  std::vector<Chunk> out;
  for (int64_t b = 0; b < p.B; ++b)
    for (int64_t h0 = 0; h0 < p.H; h0 += hc) {
      Chunk c;
      c.b = b;
      c.h0 = h0;
      c.heads = std::min(hc, p.H - h0);
      c.kvHead0 = h0 / p.group;
      // hc is a multiple of the group (whole groups) or divides it (a part
      // of one group, which then reads a single kv head).
      c.kvHeads = c.heads >= p.group ? c.heads / p.group : 1;
      std::set<int64_t> kv;
      for (int64_t h = h0; h < h0 + c.heads; ++h) {
        PatternKind kind = p.external ? PatternKind::VerticalSlash
                                      : patterns[h].kind;
        c.vsCount += kind == PatternKind::VerticalSlash;
        if (kind == PatternKind::BlockSparse) {
          ++c.bsCount;
          kv.insert(h / p.group);
        }
      }
      c.kvSlots = static_cast<int64_t>(kv.size());
      out.push_back(c);
    }
  return out;
}

/// Workspace layout for chunks of `hc` heads; bandRows 0 leaves out the
/// block-sparse score scratch.
ChunkLayout layoutFor(const CallPlan &p, int64_t hc, int64_t maxVs,
                      int64_t maxBs, int64_t maxKv, int64_t bandRows) {
  ChunkLayout l;
  int64_t off = 0;
  auto take = [&](int64_t bytes) {
    int64_t at = off;
    off = roundUp(off + std::max<int64_t>(bytes, 4), 256);
    return at;
  };
  const int64_t rows = hc * p.NB;
  l.rangeCount = take(rows * 4);
  l.ranges = take(rows * p.maxRanges * 2 * 4);
  l.columnCount = take(rows * 4);
  l.columnIndex = take(rows * p.maxColumns * 4);
  l.errorWord = take(4);
  l.keptCounter = take(8);
  l.tileSharing = take(16);
  l.tensorMaps = take(2 * kernel::TileConfig::kTensorMapBytes);
  if (maxVs > 0) {
    l.vsScores = take(maxVs * 2 * p.nPad * 4);
    l.vsCounts = take(maxVs * 2 * 4);
    l.vsSelected = take(maxVs * 2 * p.selCap * 4);
    l.topkState = take(maxVs * 2 * sizeof(k::TopkState));
    l.topkHist = take(maxVs * 2 * k::kTopkPasses * k::kTopkBins * 4);
    l.topkChunks = take(maxVs * 2 * p.numTopkChunks * 8);
    l.vsBlockCounts = take(maxVs * 3 * p.NB * 4);
    l.vsRunOf = take(maxVs * p.selCap * 4);
    l.vsRunOff = take(maxVs * p.selCap * 8);
    if (!p.external) {
      l.vsPartial = take(maxVs * p.numKeyTiles * p.lqPad * 8);
      l.vsRowStats = take(maxVs * p.lqPad * 8);
    }
  }
  if (maxBs > 0) {
    l.bsPooledQ = take(maxBs * p.NB * p.D * 4);
    l.bsPooledK = take(maxKv * p.NB * p.D * 4);
    if (bandRows > 0)
      l.bsScores = take(maxBs * bandRows * p.nbPad * 4);
  }
  l.total = off;
  return l;
}

} // namespace

Status makePlan(const PlanRequest &req, CallPlan *out) {
  const AttentionTensors &t = *req.tensors;
  CallPlan p;
  p.B = t.batch;
  p.H = t.heads;
  p.Hkv = t.kvHeads;
  p.N = t.seqLen;
  p.D = t.headDim;
  p.NB = numQueryBlocks(p.N);
  p.group = p.H / p.Hkv;
  p.external = req.external;
  p.nnzV = req.nnzV;
  p.nnzS = req.nnzS;
  p.nPad = roundUp(p.N, 4);
  p.nbPad = roundUp(p.NB, 4);
  static const LayerPatterns kNone;
  const LayerPatterns &patterns = req.patterns ? *req.patterns : kNone;
  p.kind = req.external ? KernelKind::VerticalSlash : kernelKindFor(patterns);

  if (p.kind == KernelKind::Dense) {
    // No index: one launch over every head and batch entry.
    Chunk all;
    all.b = -1;
    all.heads = p.H;
    all.kvHeads = p.Hkv;
    p.chunks = {all};
    p.headsPerChunk = p.H;
    *out = p;
    return Status::success();
  }

  if (req.external) {
    LayerPatterns vs(1, HeadPattern::verticalSlash(std::max<int64_t>(p.nnzV, 1),
                                                   std::max<int64_t>(p.nnzS, 1)));
    VsOptions none;
    none.forcedVertical = none.forcedSlash = 0;
    auto [r, c] = ref::requiredCapacity(vs, p.N, none);
    p.maxRanges = std::max<int64_t>(r, 1);
    p.maxColumns = std::max<int64_t>(c, 1);
  } else {
    auto [r, c] = ref::requiredCapacity(patterns, p.N, req.vs);
    p.maxRanges = std::max<int64_t>(r, 1);
    p.maxColumns = c;
  }

  // Selections: the largest effective budget (or caller list) bounds them.
  p.numTopkChunks = (p.N + k::kTopkChunk - 1) / k::kTopkChunk;
  if (req.external) {
    p.selCap = std::min(std::max(p.nnzV, p.nnzS), p.N);
  } else {
    for (const HeadPattern &hp : patterns)
      if (hp.kind == PatternKind::VerticalSlash) {
        auto [kv, ks] = ref::vsEffectiveBudgets(hp, p.N, req.vs);
        p.selCap = std::max({p.selCap, kv, ks});
      }
  }
  p.selCap = roundUp(p.selCap, 4); // 16-byte aligned lists
  // A block-sparse row (NB scores) longer than the top-k's bitmap path takes
  // is staged in shared memory when it fits: the full-row radix select reads
  // it 2-5 times. Shorter rows are read from L2 by the bitmap path (once or
  // twice in full), which then runs more CTAs per SM (H100, N = 1M: index
  // 8.4 -> 7.4 ms random, 10.4 -> 9.7 ms structured; tuning.md).
  p.bsSelectSmem = p.nbPad * 4;
  p.bsRowInSmem = p.NB > k::kTopKBitmapElems &&
                  p.bsSelectSmem + k::kBsSelectStaticSmem <= req.smemOptin;
  if (!p.bsRowInSmem)
    p.bsSelectSmem = 0;

  // Up to 96 KiB (6096 ranges at N = 1M take 48 KiB), so that two CTAs
  // still share an SM.
  const int64_t stageBytes = p.maxRanges * 8;
  if (stageBytes <= std::min<int64_t>(96 * 1024, req.smemOptin - 1024))
    p.buildSmem = stageBytes;

  // Vertical-slash estimation geometry (see VsEstimate.cu).
  int64_t maxLq = 0;
  if (!req.external)
    for (const HeadPattern &hp : patterns)
      if (hp.kind == PatternKind::VerticalSlash)
        maxLq = std::max(maxLq, std::min(hp.lastQ, p.N));
  if (maxLq > 0) {
    p.lqPad = roundUp(maxLq, k::kEstRows);
    // Key tiles of >= Lq keys keep every diagonal sum to <= 2 CTAs
    // (deterministic); fall back to per-64-row flushes if that much shared
    // memory is not available.
    p.keyTile = std::max<int64_t>(512, p.lqPad);
    p.diagLen = p.keyTile + p.lqPad - 1;
    p.flushPerChunk = false;
    if (k::estAccumSmemBytes(p.D, p.keyTile, p.diagLen) > req.smemOptin) {
      p.keyTile = 512;
      p.diagLen = p.keyTile + k::kEstRows - 1;
      p.flushPerChunk = true;
    }
    p.numKeyTiles = (p.N + p.keyTile - 1) / p.keyTile;
    p.accumSmem = k::estAccumSmemBytes(p.D, p.keyTile, p.diagLen);
    p.statsSmem = k::estFixedSmemBytes(p.D);
  }

  // Largest chunk that fits the budget.
  const std::vector<int64_t> cands = chunkSizeCandidates(p.H, p.group);
  bool found = false;
  for (auto it = cands.rbegin(); it != cands.rend() && !found; ++it) {
    const int64_t hc = *it;
    std::vector<Chunk> chunks = makeChunks(p, patterns, hc);
    int64_t maxVs = 0, maxBs = 0, maxKv = 0;
    for (const Chunk &c : chunks) {
      maxVs = std::max(maxVs, c.vsCount);
      maxBs = std::max(maxBs, c.bsCount);
      maxKv = std::max(maxKv, c.kvSlots);
    }
    ChunkLayout fixed = layoutFor(p, hc, maxVs, maxBs, maxKv, 0);
    int64_t bandRows = 0;
    if (maxBs > 0) {
      const int64_t rowBytes = maxBs * p.nbPad * 4;
      const int64_t avail = req.budget - fixed.total - 256;
      bandRows = std::min(roundUp(p.NB, k::kBsTile),
                          avail > 0 ? avail / rowBytes / k::kBsTile * k::kBsTile : 0);
    }
    const bool last = std::next(it) == cands.rend();
    const bool fits = fixed.total <= req.budget && (maxBs == 0 || bandRows > 0);
    if (!fits && !last)
      continue;
    if (maxBs > 0 && bandRows <= 0)
      bandRows = k::kBsTile; // over budget anyway: the allocation decides
    p.bandRows = bandRows;
    p.layout = layoutFor(p, hc, maxVs, maxBs, maxKv, bandRows);
    p.chunks = std::move(chunks);
    p.headsPerChunk = hc;
    found = true;
  }
  *out = std::move(p);
  return Status::success();
}

void fillChunkParams(const CallPlan &plan, const LayerPatterns &patterns,
                     const VsOptions &vs, const Chunk &chunk,
                     k::IndexParams *ip) {
  *ip = k::IndexParams{};
  const int64_t N = plan.N;
  ip->seqLen = static_cast<int32_t>(N);
  ip->numBlocks = static_cast<int32_t>(plan.NB);
  ip->headDim = static_cast<int32_t>(plan.D);
  ip->heads = static_cast<int32_t>(chunk.heads);
  ip->maxRanges = static_cast<int32_t>(plan.maxRanges);
  ip->maxColumns = static_cast<int32_t>(plan.maxColumns);
  ip->nPad = static_cast<int32_t>(plan.nPad);
  ip->nbPad = static_cast<int32_t>(plan.nbPad);
  ip->keyTile = static_cast<int32_t>(plan.keyTile);
  ip->numKeyTiles = static_cast<int32_t>(plan.numKeyTiles);
  ip->lqPad = static_cast<int32_t>(plan.lqPad);
  ip->diagLen = static_cast<int32_t>(plan.diagLen);
  ip->flushPerChunk = plan.flushPerChunk ? 1 : 0;
  ip->bandRows = static_cast<int32_t>(plan.bandRows);
  ip->extNnzV = plan.external ? static_cast<int32_t>(plan.nnzV) : 0;
  ip->extNnzS = plan.external ? static_cast<int32_t>(plan.nnzS) : 0;
  ip->selCap = static_cast<int32_t>(plan.selCap);
  ip->numTopkChunks = static_cast<int32_t>(plan.numTopkChunks);
  ip->bsRowInSmem = plan.bsRowInSmem ? 1 : 0;
  ip->buildStage = plan.buildSmem > 0 ? 1 : 0;
  auto clampN = [N](int64_t x) {
    return static_cast<int32_t>(std::clamp<int64_t>(x, 0, N));
  };
  for (int64_t hl = 0; hl < chunk.heads; ++hl) {
    const int64_t h = chunk.h0 + hl;
    k::HeadDesc &d = ip->head[hl];
    d.qHead = static_cast<int32_t>(h);
    d.kvHead = static_cast<int32_t>(h / plan.group);
    d.vsSlot = d.bsSlot = d.bsKvSlot = -1;
    const HeadPattern hp = plan.external ? HeadPattern::verticalSlash(1, 1)
                                         : patterns[h];
    switch (hp.kind) {
    case PatternKind::Dense:
      d.kind = k::kHeadDense;
      break;
    case PatternKind::AShape:
      d.kind = k::kHeadAShape;
      d.sink = clampN(hp.sink);
      d.local = clampN(hp.local);
      break;
    case PatternKind::VerticalSlash: {
      d.kind = k::kHeadVerticalSlash;
      d.vsSlot = ip->vsCount;
      ip->vsHead[ip->vsCount++] = static_cast<int32_t>(hl);
      if (!plan.external) {
        d.lastQ = clampN(hp.lastQ);
        auto [kv, ks] = ref::vsEffectiveBudgets(hp, N, vs);
        d.kVertical = clampN(kv);
        d.kSlash = clampN(ks);
        d.forcedVertical = clampN(vs.forcedVertical);
        d.forcedSlash = clampN(vs.forcedSlash);
      }
      break;
    }
    case PatternKind::BlockSparse: {
      d.kind = k::kHeadBlockSparse;
      d.topK = static_cast<int32_t>(std::min<int64_t>(hp.topK, plan.NB));
      d.bsSlot = ip->bsCount;
      ip->bsHead[ip->bsCount++] = static_cast<int32_t>(hl);
      int32_t slot = -1;
      for (int32_t s = 0; s < ip->kvCount; ++s)
        if (ip->kvSlotHead[s] == d.kvHead)
          slot = s;
      if (slot < 0) {
        slot = ip->kvCount++;
        ip->kvSlotHead[slot] = d.kvHead;
      }
      d.bsKvSlot = slot;
      break;
    }
    }
  }
}

} // namespace minfer::cuda
