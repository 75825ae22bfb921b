//===- Pipeline.cpp - one sparse-attention call on the GPU ----------------===//
//
// Runtime::sparseAttention / verticalSlashAttention: validate on the host,
// plan (Plan.cpp), resolve every kernel before queuing any work, then per
// head chunk queue on the caller's stream
//   estimate  vs: stats -> combine -> accum   (or: scatter caller indices)
//             bs: pool (-> scores of the first band when it is the only one)
//   index     vs: multi-CTA top-k (or: compact the caller's indices),
//             index_build (dense, a_shape, vs heads), bs: per band
//             scores (wgmma on sm_90a, else mma.sync) -> select
//   kernel    the one attention kernel for the chunk's heads
// Nothing waits for the device unless RunOptions asks for timing, checks or
// debug copies. A head dim other than 64, 96 and 128 runs all of it on
// zero-padded copies of the tensors (HeadDimPad.cpp).
//
//===----------------------------------------------------------------------===//
#include "RuntimeImpl.h"

#include "minfer/Runtime/Reference.h"

#include <algorithm>

namespace minfer::cuda {

using kernel::KernelKind;
namespace k = kernels;

static std::string num(int64_t v) { return std::to_string(v); }

Status Runtime::validate(const AttentionTensors &t, const LayerPatterns &patterns,
                         const RunOptions &opts) {
  MINFER_RETURN_IF_ERROR(validateTensors(t));
  MINFER_RETURN_IF_ERROR(validatePatterns(t, patterns, opts.vs));
  if (opts.workspaceBudget < 0)
    return invalidArgument("workspace budget must be non-negative");
  if (!(opts.denseFallback >= 0.0 && opts.denseFallback <= 1.0))
    return invalidArgument("denseFallback must be a density in [0, 1], got " +
                           std::to_string(opts.denseFallback));
  if (opts.denseFallbackProbeLen < 0)
    return invalidArgument("denseFallbackProbeLen must be non-negative");
  return Status::success();
}

Status Runtime::validateVerticalSlash(const AttentionTensors &t,
                                      const int32_t *vIdx, const int32_t *sIdx,
                                      int64_t nnzV, int64_t nnzS) {
  MINFER_RETURN_IF_ERROR(validateTensors(t));
  if (!vIdx)
    return Status(ErrorCode::NullPointer, "v_idx is null");
  if (!sIdx)
    return Status(ErrorCode::NullPointer, "s_idx is null");
  if (nnzV <= 0 || nnzS <= 0)
    return invalidArgument("nnz_v and nnz_s must be positive, got " +
                           num(nnzV) + " and " + num(nnzS));
  if (nnzV > INT32_MAX / 2 || nnzS > INT32_MAX / 2)
    return invalidArgument("nnz_v / nnz_s too large");
  if (reinterpret_cast<uintptr_t>(vIdx) % 4 || reinterpret_cast<uintptr_t>(sIdx) % 4)
    return invalidArgument("v_idx and s_idx must be 4-byte aligned");
  return Status::success();
}

Status Runtime::sparseAttention(const AttentionTensors &t,
                                const LayerPatterns &patterns,
                                const RunOptions &opts, CUstream stream) {
  MINFER_RETURN_IF_ERROR(validate(t, patterns, opts));
  return impl_->withKernelHeadDim(t, !opts.indexOnly, stream,
                                  [&](const AttentionTensors &kt) {
                                    return sparseAttentionOn(kt, patterns, opts, stream);
                                  });
}

Status Runtime::sparseAttentionOn(const AttentionTensors &t,
                                  const LayerPatterns &patterns,
                                  const RunOptions &opts, CUstream stream) {
  bool dense = false;
  RunStats measured; // a call that counted its kept pairs and stopped
  if (opts.denseFallback > 0 && !opts.indexOnly && kernelKindFor(patterns) !=
                                                       kernel::KernelKind::Dense) {
    dense = densityUpperBound(patterns, t.seqLen, opts.vs) >= opts.denseFallback;
    if (dense && t.seqLen > opts.denseFallbackProbeLen) {
      // The bound says nothing here: measure the index of this call's data,
      // in the call itself (DenseFallback: its sparse kernels then run on
      // their chunks' indices, no second estimate and index, unless the
      // first chunks could not decide it).
      DenseFallback decide{opts.denseFallback};
      RunOptions counting = opts;
      counting.stats = &measured;
      MINFER_RETURN_IF_ERROR(
          impl_->run(t, &patterns, nullptr, counting, stream, &decide));
      if (!decide.stops()) { // its kernels ran (sparse, or nothing to decide)
        if (opts.stats)
          *opts.stats = measured;
        return Status::success();
      }
      dense = decide.verdict == DenseFallback::Verdict::Dense;
    }
  }
  LayerPatterns allDense;
  if (dense)
    allDense.assign(patterns.size(), HeadPattern::dense());
  Status st = impl_->run(t, dense ? &allDense : &patterns, nullptr, opts, stream);
  if (st.ok() && opts.stats) { // the stopped call's work counts too
    opts.stats->denseFallback = dense;
    opts.stats->indexBuilds += measured.indexBuilds;
    opts.stats->estimateMs += measured.estimateMs;
    opts.stats->indexMs += measured.indexMs;
    opts.stats->kernelMs += measured.kernelMs;
  }
  return st;
}

Status Runtime::verticalSlashAttention(const AttentionTensors &t,
                                       const int32_t *vIdx, const int32_t *sIdx,
                                       int64_t nnzV, int64_t nnzS,
                                       const RunOptions &opts, CUstream stream) {
  MINFER_RETURN_IF_ERROR(validateVerticalSlash(t, vIdx, sIdx, nnzV, nnzS));
  if (opts.workspaceBudget < 0)
    return invalidArgument("workspace budget must be non-negative");
  ExternalVs ext{vIdx, sIdx, nnzV, nnzS};
  return impl_->withKernelHeadDim(t, !opts.indexOnly, stream,
                                  [&](const AttentionTensors &kt) {
                                    return impl_->run(kt, nullptr, &ext, opts, stream);
                                  });
}

namespace {

/// The index kernels one call needs, resolved up front.
struct IndexFns {
  CUfunction stats = nullptr, combine = nullptr, accum = nullptr,
             scatter = nullptr, build = nullptr, pool = nullptr,
             scores = nullptr, bsSelect = nullptr, blockCounts = nullptr,
             runs = nullptr, countKept = nullptr, sharing = nullptr;
  /// Dynamic shared memory of `scores` (0: the mma.sync kernel).
  int64_t scoresSmem = 0;
  CUfunction topkInit = nullptr, topkHist = nullptr, topkPick = nullptr,
             topkCount = nullptr, topkScan = nullptr, topkWrite = nullptr;
};

/// A block-sparse call whose rows per CTA are measured per chunk
/// (kernel::measuresBlockSparseRows): the 192-row kernel, and the sums of
/// minfer_bs_sharing's counts and the kernel that ran, over the chunks.
struct RowChoice {
  const AttentionKernel *wide = nullptr;
  unsigned long long steps = 0, visits = 0;
  const AttentionKernel *ran = nullptr;
};

/// Everything one call's chunks share.
struct CallState {
  const AttentionTensors &t;
  const LayerPatterns &patterns;
  const ExternalVs *ext;
  const RunOptions &opts;
  CUstream stream;
  const CallPlan &plan;
  const IndexFns &fns;
  const AttentionKernel *attn;
  RowChoice *rows; ///< null unless rows are measured
  int64_t *launches; ///< attention kernel launches so far (RunStats)
  DenseFallback *fallback; ///< null unless the call takes the decision
};

CUdeviceptr devPtr(const void *p) { return reinterpret_cast<CUdeviceptr>(p); }

} // namespace

/// Copies the chunk's index rows into the host SparseIndex (unused entries
/// stay zero, as in the reference's).
static Status copyIndexOut(const DriverApi &api, const k::IndexParams &ip,
                           const CallPlan &plan, const Chunk &c,
                           SparseIndex *out) {
  const int64_t rows = c.heads * plan.NB, R = plan.maxRanges,
                C = plan.maxColumns;
  std::vector<int32_t> rc(rows), cc(rows), rg(rows * R * 2), ci(rows * C);
  MINFER_CU(api, cuMemcpyDtoH, rc.data(), ip.rangeCount, rows * 4);
  MINFER_CU(api, cuMemcpyDtoH, cc.data(), ip.columnCount, rows * 4);
  MINFER_CU(api, cuMemcpyDtoH, rg.data(), ip.ranges, rg.size() * 4);
  if (C > 0)
    MINFER_CU(api, cuMemcpyDtoH, ci.data(), ip.columnIndex, ci.size() * 4);
  for (int64_t hl = 0; hl < c.heads; ++hl)
    for (int64_t m = 0; m < plan.NB; ++m) {
      const int64_t src = hl * plan.NB + m;
      const int64_t dst = out->row(c.b, c.h0 + hl, m);
      const int32_t nr = std::clamp<int32_t>(rc[src], 0, (int32_t)R);
      const int32_t nc = std::clamp<int32_t>(cc[src], 0, (int32_t)C);
      out->rangeCount[dst] = rc[src];
      out->columnCount[dst] = cc[src];
      std::copy_n(rg.begin() + src * R * 2, nr * 2,
                  out->ranges.begin() + dst * R * 2);
      std::copy_n(ci.begin() + src * C, nc, out->columnIndex.begin() + dst * C);
    }
  return Status::success();
}

/// Per-slot host copies of the vertical-slash arrays (scores as floats or
/// selections as int32 with their counts).
template <typename T>
static Status copyVsArrays(const DriverApi &api, const k::IndexParams &ip,
                           const CallPlan &plan, const Chunk &c, bool selections,
                           std::vector<std::vector<T>> *out) {
  std::vector<int32_t> counts(2 * ip.vsCount, (int32_t)plan.N);
  if (selections)
    MINFER_CU(api, cuMemcpyDtoH, counts.data(), ip.vsCounts, counts.size() * 4);
  const CUdeviceptr base = selections ? ip.vsSelected : ip.vsScores;
  const int64_t stride = selections ? plan.selCap : plan.nPad;
  for (int s = 0; s < ip.vsCount; ++s)
    for (int w = 0; w < 2; ++w) {
      const int64_t h = c.h0 + ip.vsHead[s];
      std::vector<T> &dst = (*out)[2 * (c.b * plan.H + h) + w];
      dst.resize(std::clamp<int64_t>(counts[2 * s + w], 0, stride));
      if (!dst.empty())
        MINFER_CU(api, cuMemcpyDtoH, dst.data(), base + (2 * s + w) * stride * 4,
                  dst.size() * 4);
    }
  return Status::success();
}

static Status runChunk(Runtime::Impl &impl, const CallState &cs,
                       const Chunk &c, size_t ev) {
  const DriverApi &api = *impl.api;
  const CallPlan &plan = cs.plan;
  const AttentionTensors &t = cs.t;
  const IndexFns &f = cs.fns;
  const CUstream stream = cs.stream;
  const int64_t N = plan.N, D = plan.D, NB = plan.NB;
  const int64_t headBytes = N * D * 2;

  k::IndexParams ip;
  fillChunkParams(plan, cs.patterns, cs.opts.vs, c, &ip);
  const CUdeviceptr ws = impl.workspace;
  const ChunkLayout &L = plan.layout;
  ip.q = devPtr(t.q) + c.b * plan.H * headBytes;
  ip.k = devPtr(t.k) + c.b * plan.Hkv * headBytes;
  ip.rangeCount = ws + L.rangeCount;
  ip.ranges = ws + L.ranges;
  ip.columnCount = ws + L.columnCount;
  ip.columnIndex = ws + L.columnIndex;
  ip.vsScores = ws + L.vsScores;
  ip.vsCounts = ws + L.vsCounts;
  ip.vsPartial = ws + L.vsPartial;
  ip.vsRowStats = ws + L.vsRowStats;
  ip.vsSelected = ws + L.vsSelected;
  ip.topkState = ws + L.topkState;
  ip.topkHist = ws + L.topkHist;
  ip.topkChunks = ws + L.topkChunks;
  ip.vsBlockCounts = ws + L.vsBlockCounts;
  ip.vsRunOf = ws + L.vsRunOf;
  ip.vsRunOff = ws + L.vsRunOff;
  ip.bsPooledQ = ws + L.bsPooledQ;
  ip.bsPooledK = ws + L.bsPooledK;
  ip.bsScores = ws + L.bsScores;
  ip.errorWord = ws + L.errorWord;
  ip.keptCounter = ws + L.keptCounter;
  ip.tileSharing = ws + L.tileSharing;
  ip.scale = t.scale;
  ip.scaleLog2 = t.scale * 1.4426950408889634f;
  if (cs.ext) {
    ip.extVertical = devPtr(cs.ext->vIdx) + c.b * plan.H * cs.ext->nnzV * 4;
    ip.extSlash = devPtr(cs.ext->sIdx) + c.b * plan.H * cs.ext->nnzS * 4;
  }
  void *args[] = {&ip};
  const bool timing = cs.opts.timing;
  CUevent e[4] = {};
  for (int i = 0; timing && i < 4; ++i)
    MINFER_RETURN_IF_ERROR(impl.event(ev + i, &e[i]));
  if (timing)
    MINFER_CU(api, cuEventRecord, e[0], stream);

  // Estimate.
  const unsigned vsN = ip.vsCount, bsN = ip.bsCount;
  if (vsN > 0) {
    // Zeroed: slash sums accumulate atomically; external marks start empty.
    MINFER_CU(api, cuMemsetD32Async, ip.vsScores, 0u, vsN * 2 * plan.nPad, stream);
    if (cs.ext) {
      const int64_t nnz = std::max(cs.ext->nnzV, cs.ext->nnzS);
      MINFER_RETURN_IF_ERROR(impl.launch(f.scatter, (unsigned)((nnz + 255) / 256),
                                         vsN, 2, 256, 0, stream, args,
                                         "minfer_vs_ext_scatter"));
    } else {
      const unsigned estCtas = (unsigned)(plan.numKeyTiles * vsN);
      MINFER_RETURN_IF_ERROR(impl.launch(f.stats, estCtas, 1, 1, k::kEstThreads,
                                         plan.statsSmem, stream, args,
                                         "minfer_vs_stats"));
      MINFER_RETURN_IF_ERROR(impl.launch(f.combine, (unsigned)(plan.lqPad / 8),
                                         vsN, 1, 256, 0, stream, args,
                                         "minfer_vs_combine"));
      MINFER_RETURN_IF_ERROR(impl.launch(f.accum, estCtas, 1, 1, k::kEstThreads,
                                         plan.accumSmem, stream, args,
                                         "minfer_vs_accum"));
    }
  }
  const int64_t bandTilesX = (NB + k::kBsScoreTile - 1) / k::kBsScoreTile;
  auto scoreBand = [&](int64_t start) -> Status {
    ip.bandStart = static_cast<int32_t>(start);
    const int64_t rows = std::min<int64_t>(plan.bandRows, NB - start);
    return impl.launch(f.scores, (unsigned)bandTilesX,
                       (unsigned)((rows + k::kBsScoreTile - 1) / k::kBsScoreTile), bsN,
                       k::kBsScoreThreads, f.scoresSmem, stream, args,
                       "minfer_bs_scores");
  };
  const bool oneBand = plan.bandRows >= NB;
  if (bsN > 0) {
    MINFER_RETURN_IF_ERROR(impl.launch(f.pool, (unsigned)NB,
                                       std::max<unsigned>(bsN, ip.kvCount), 2,
                                       128, 0, stream, args, "minfer_bs_pool"));
    if (oneBand)
      MINFER_RETURN_IF_ERROR(scoreBand(0));
  }
  if (timing)
    MINFER_CU(api, cuEventRecord, e[1], stream);
  if (cs.opts.vsScores && vsN > 0 && !cs.ext) {
    MINFER_CU(api, cuStreamSynchronize, stream);
    MINFER_RETURN_IF_ERROR(copyVsArrays(api, ip, plan, c, false, cs.opts.vsScores));
  }

  // Index.
  if (vsN > 0) {
    // Multi-CTA radix select (VsSelect.cu); caller indices skip the passes.
    const unsigned segs = 2 * vsN, chunks = (unsigned)plan.numTopkChunks;
    MINFER_RETURN_IF_ERROR(impl.launch(f.topkInit, segs, 1, 1, 32, 0, stream,
                                       args, "minfer_topk_init"));
    if (!cs.ext) {
      MINFER_CU(api, cuMemsetD32Async, ip.topkHist, 0u,
                segs * k::kTopkPasses * k::kTopkBins, stream);
      for (int pass = 0; pass < k::kTopkPasses; ++pass) {
        void *passArgs[] = {&ip, &pass};
        MINFER_RETURN_IF_ERROR(impl.launch(f.topkHist, chunks, segs, 1,
                                           k::kTopkThreads, 0, stream, passArgs,
                                           "minfer_topk_hist"));
        MINFER_RETURN_IF_ERROR(impl.launch(f.topkPick, segs, 1, 1, 256, 0,
                                           stream, passArgs, "minfer_topk_pick"));
      }
    }
    MINFER_RETURN_IF_ERROR(impl.launch(f.topkCount, chunks, segs, 1,
                                       k::kTopkThreads, 0, stream, args,
                                       "minfer_topk_count"));
    MINFER_RETURN_IF_ERROR(impl.launch(f.topkScan, segs, 1, 1, 1024, 0, stream,
                                       args, "minfer_topk_scan"));
    MINFER_RETURN_IF_ERROR(impl.launch(f.topkWrite, chunks, segs, 1,
                                       k::kTopkThreads, 0, stream, args,
                                       "minfer_topk_write"));
    MINFER_RETURN_IF_ERROR(impl.launch(f.blockCounts, (unsigned)((NB + 255) / 256),
                                       vsN, 1, 256, 0, stream, args,
                                       "minfer_vs_block_counts"));
    MINFER_RETURN_IF_ERROR(impl.launch(f.runs, vsN, 1, 1, 1024, 0, stream, args,
                                       "minfer_vs_runs"));
  }
  if (cs.opts.vsSelections && vsN > 0) {
    MINFER_CU(api, cuStreamSynchronize, stream);
    MINFER_RETURN_IF_ERROR(
        copyVsArrays(api, ip, plan, c, true, cs.opts.vsSelections));
  }
  MINFER_RETURN_IF_ERROR(impl.launch(f.build, (unsigned)NB, (unsigned)c.heads, 1,
                                     k::kBuildThreads,
                                     vsN > 0 ? plan.buildSmem : 0, stream, args,
                                     "minfer_index_build"));
  if (bsN > 0)
    for (int64_t start = 0; start < NB; start += plan.bandRows) {
      if (!(oneBand && start == 0))
        MINFER_RETURN_IF_ERROR(scoreBand(start));
      ip.bandStart = static_cast<int32_t>(start);
      const int64_t rows = std::min<int64_t>(plan.bandRows, NB - start);
      MINFER_RETURN_IF_ERROR(impl.launch(f.bsSelect, (unsigned)rows, bsN, 1,
                                         k::kBsSelectThreads, plan.bsSelectSmem,
                                         stream, args, "minfer_bs_select"));
    }
  DenseFallback *fb =
      cs.fallback && cs.fallback->verdict == DenseFallback::Verdict::Pending
          ? cs.fallback
          : nullptr;
  if (cs.opts.countKept || fb)
    MINFER_RETURN_IF_ERROR(impl.launch(f.countKept, (unsigned)NB, (unsigned)c.heads,
                                       1, 128, 0, stream, args,
                                       "minfer_count_kept"));
  const AttentionKernel *attn = cs.attn;
  if (fb) {
    // The dense fallback on the pairs kept so far (DenseFallback): the
    // counter sums over the chunks.
    unsigned long long kept = 0;
    MINFER_CU(api, cuStreamSynchronize, stream);
    MINFER_CU(api, cuMemcpyDtoH, &kept, ws + L.keptCounter, sizeof kept);
    using Verdict = DenseFallback::Verdict;
    fb->headsCounted += c.heads;
    const double need = fb->threshold * causalPairs(plan.B * plan.H, N);
    const double uncounted = causalPairs(plan.B * plan.H - fb->headsCounted, N);
    if (double(kept) >= need)
      fb->verdict = Verdict::Dense;
    else if (double(kept) + uncounted < need)
      fb->verdict = fb->kernelsHeld ? Verdict::Rerun : Verdict::Sparse;
    else
      fb->kernelsHeld = true; // count on; this chunk's kernel waits
    if (fb->verdict != Verdict::Sparse)
      attn = nullptr;
  }
  if (cs.rows && attn) {
    // Which kernel this chunk's index suits: its sharing, read on the host.
    MINFER_CU(api, cuMemsetD32Async, ip.tileSharing, 0u, 4, stream);
    const unsigned groups = (unsigned)((NB + 2) / 3);
    MINFER_RETURN_IF_ERROR(impl.launch(
        f.sharing, (groups + k::kSharingGroupsPerCta - 1) / k::kSharingGroupsPerCta,
        (unsigned)c.heads, 1, 32 * k::kSharingGroupsPerCta, 0, stream, args,
        "minfer_bs_sharing"));
    unsigned long long counts[2] = {0, 0};
    MINFER_CU(api, cuStreamSynchronize, stream);
    MINFER_CU(api, cuMemcpyDtoH, counts, ip.tileSharing, sizeof counts);
    cs.rows->steps += counts[0];
    cs.rows->visits += counts[1];
    const double sharing = counts[1] ? double(counts[0]) / counts[1] : 1.0;
    if (kernel::blockSparseRowsForSharing(sharing) == cs.rows->wide->cfg.blockM)
      attn = cs.rows->wide;
    cs.rows->ran = attn;
  }
  if (timing)
    MINFER_CU(api, cuEventRecord, e[2], stream);

  // Kernel.
  if (attn) {
    AttentionLaunch a;
    a.q = ip.q + c.h0 * headBytes;
    a.out = devPtr(t.out) + (c.b * plan.H + c.h0) * headBytes;
    a.k = ip.k + c.kvHead0 * headBytes;
    a.v = devPtr(t.v) + (c.b * plan.Hkv + c.kvHead0) * headBytes;
    a.qElems = c.heads * N * D;
    a.kvElems = c.kvHeads * N * D;
    a.rangeCount = ip.rangeCount;
    a.ranges = ip.ranges;
    a.columnCount = ip.columnCount;
    a.columnIndex = ip.columnIndex;
    a.rows = c.heads * NB;
    a.maxRanges = plan.maxRanges;
    a.maxColumns = plan.maxColumns;
    a.seqLen = N;
    a.heads = c.heads;
    a.kvHeads = c.kvHeads;
    a.batches = 1;
    a.scaleLog2e = ip.scaleLog2;
    a.tensorMaps = impl.workspace + plan.layout.tensorMaps;
    a.waves = kernel::launchWavesFor(attn->cfg.kind, attn->cfg.chip, N,
                                     c.bsCount > 0, attn->cfg.blockM);
    MINFER_RETURN_IF_ERROR(
        launchAttention(impl, *attn, a, stream, cs.launches));
  }
  if (timing)
    MINFER_CU(api, cuEventRecord, e[3], stream);
  if (cs.opts.indexOut) {
    MINFER_CU(api, cuStreamSynchronize, stream);
    MINFER_RETURN_IF_ERROR(copyIndexOut(api, ip, plan, c, cs.opts.indexOut));
  }
  return Status::success();
}

static Status resolveIndexFns(Runtime::Impl &impl, const CallPlan &plan,
                              const AttentionTensors &t, IndexFns *f) {
  bool anyVs = false, anyBs = false;
  for (const Chunk &c : plan.chunks) {
    anyVs |= c.vsCount > 0;
    anyBs |= c.bsCount > 0;
  }
  const std::string sfx = std::string("_") + kernel::elemTypeName(t.dtype) +
                          "_d" + num(t.headDim);
  MINFER_RETURN_IF_ERROR(impl.indexFunction("IndexBuild", "minfer_index_build", &f->build));
  MINFER_RETURN_IF_ERROR(impl.indexFunction("IndexBuild", "minfer_count_kept", &f->countKept));
  if (plan.kind == KernelKind::Block)
    MINFER_RETURN_IF_ERROR(
        impl.indexFunction("IndexBuild", "minfer_bs_sharing", &f->sharing));
  if (anyVs) {
    const std::pair<const char *, CUfunction *> topk[] = {
        {"minfer_topk_init", &f->topkInit},   {"minfer_topk_hist", &f->topkHist},
        {"minfer_topk_pick", &f->topkPick},   {"minfer_topk_count", &f->topkCount},
        {"minfer_topk_scan", &f->topkScan},   {"minfer_topk_write", &f->topkWrite}};
    for (const auto &[name, fn] : topk)
      MINFER_RETURN_IF_ERROR(impl.indexFunction("VsSelect", name, fn));
    MINFER_RETURN_IF_ERROR(impl.indexFunction("IndexBuild", "minfer_vs_block_counts",
                                              &f->blockCounts));
    MINFER_RETURN_IF_ERROR(impl.indexFunction("IndexBuild", "minfer_vs_runs", &f->runs));
  }
  if (anyVs && plan.external) {
    MINFER_RETURN_IF_ERROR(impl.indexFunction("VsSelect", "minfer_vs_ext_scatter", &f->scatter));
  } else if (anyVs) {
    MINFER_RETURN_IF_ERROR(impl.indexFunction(
        "VsEstimate", ("minfer_vs_stats" + sfx).c_str(), &f->stats));
    MINFER_RETURN_IF_ERROR(impl.indexFunction("VsEstimate", "minfer_vs_combine", &f->combine));
    MINFER_RETURN_IF_ERROR(impl.indexFunction(
        "VsEstimate", ("minfer_vs_accum" + sfx).c_str(), &f->accum));
  }
  if (anyBs) {
    MINFER_RETURN_IF_ERROR(impl.indexFunction(
        "BsEstimate", ("minfer_bs_pool" + sfx).c_str(), &f->pool));
    if (impl.bsScoresWgmma) {
      MINFER_RETURN_IF_ERROR(impl.indexFunction(
          "BsScoresWgmma", "minfer_bs_scores_wgmma", &f->scores));
      f->scoresSmem = k::kBsScoresWgmmaSmem;
    } else {
      MINFER_RETURN_IF_ERROR(
          impl.indexFunction("BsEstimate", "minfer_bs_scores", &f->scores));
    }
    MINFER_RETURN_IF_ERROR(impl.indexFunction("BsEstimate", "minfer_bs_select", &f->bsSelect));
  }
  return Status::success();
}

Status Runtime::Impl::run(const AttentionTensors &t,
                          const LayerPatterns *patterns, const ExternalVs *ext,
                          const RunOptions &opts, CUstream stream,
                          DenseFallback *fallback) {
  ContextGuard guard(*this);
  MINFER_RETURN_IF_ERROR(guard.status());
  static const LayerPatterns kNone;
  const LayerPatterns &pats = patterns ? *patterns : kNone;

  PlanRequest req;
  req.tensors = &t;
  req.patterns = patterns;
  req.vs = opts.vs;
  req.budget = opts.workspaceBudget > 0 ? opts.workspaceBudget : budget;
  req.smemOptin = info.maxSharedOptin;
  req.external = ext != nullptr;
  if (ext) {
    req.nnzV = ext->nnzV;
    req.nnzS = ext->nnzS;
  }
  CallPlan plan;
  MINFER_RETURN_IF_ERROR(makePlan(req, &plan));

  // Resolve everything before queuing work, so a missing kernel leaves the
  // stream untouched.
  const AttentionKernel *attn = nullptr;
  if (!opts.indexOnly)
    MINFER_RETURN_IF_ERROR(attentionKernel(plan.kind, t.dtype, t.headDim, t.seqLen, &attn));
  // Rows per block-sparse CTA measured per chunk: attn is then the 64-row
  // kernel; a missing 192-row PTX file leaves it at that.
  RowChoice rowChoice;
  if (attn && plan.kind == KernelKind::Block && blockSparseRows == 0 &&
      attn->cfg.blockM == kernel::kBlockM &&
      kernel::measuresBlockSparseRows(info.chip, t.seqLen)) {
    const AttentionKernel *wide = nullptr;
    if (attentionKernel(plan.kind, t.dtype, t.headDim, t.seqLen, &wide,
                        3 * kernel::kBlockM)
            .ok() &&
        wide->cfg.blockM == 3 * kernel::kBlockM)
      rowChoice.wide = wide;
  }
  IndexFns fns;
  const bool indexed = plan.kind != KernelKind::Dense;
  if (indexed)
    MINFER_RETURN_IF_ERROR(resolveIndexFns(*this, plan, t, &fns));
  if (indexed)
    MINFER_RETURN_IF_ERROR(ensureWorkspace(plan.layout.total));

  if (opts.indexOut) {
    opts.indexOut->resize(plan.B, plan.H, plan.N, std::max<int64_t>(plan.maxRanges, 1),
                          plan.maxColumns);
    if (!indexed)
      for (int64_t b = 0; b < plan.B; ++b)
        for (int64_t h = 0; h < plan.H; ++h)
          MINFER_RETURN_IF_ERROR(ref::fillDenseIndex(*opts.indexOut, b, h));
  }
  if (opts.vsSelections)
    opts.vsSelections->assign(2 * plan.B * plan.H, {});
  if (opts.vsScores)
    opts.vsScores->assign(2 * plan.B * plan.H, {});

  // The workspace is shared by every call: order after the previous one.
  if (lastUseRecorded)
    MINFER_CU(*api, cuStreamWaitEvent, stream, lastUse, 0);
  Status st;
  if (indexed)
    st = api->check(api->cuMemsetD32Async(workspace + plan.layout.errorWord, 0u,
                                          1, stream),
                    "cuMemsetD32Async", "error word");
  if (indexed && st.ok() && (opts.countKept || fallback))
    st = api->check(api->cuMemsetD32Async(workspace + plan.layout.keptCounter, 0u,
                                          2, stream),
                    "cuMemsetD32Async", "kept-pair counter");
  int64_t launches = 0;
  CallState cs{t, pats, ext, opts, stream, plan, fns, attn,
               rowChoice.wide ? &rowChoice : nullptr, &launches, fallback};
  size_t ev = 0;
  // A fallback decided dense, or sparse after held kernels, stops the call.
  size_t chunksRun = 0; // their timing events were recorded
  for (size_t i = 0;
       st.ok() && !(fallback && fallback->stops()) && i < plan.chunks.size();
       ++i, ev += 4) {
    const Chunk &c = plan.chunks[i];
    ++chunksRun;
    if (indexed) {
      st = runChunk(*this, cs, c, ev);
      continue;
    }
    // Dense: one launch over all batch entries and heads.
    CUevent e0 = nullptr, e3 = nullptr;
    if (opts.timing) {
      st = event(ev, &e0);
      if (st.ok())
        st = event(ev + 3, &e3);
      if (st.ok())
        st = api->check(api->cuEventRecord(e0, stream), "cuEventRecord");
    }
    if (st.ok() && attn) {
      AttentionLaunch a;
      a.q = devPtr(t.q);
      a.k = devPtr(t.k);
      a.v = devPtr(t.v);
      a.out = devPtr(t.out);
      a.qElems = plan.B * plan.H * plan.N * plan.D;
      a.kvElems = plan.B * plan.Hkv * plan.N * plan.D;
      a.seqLen = plan.N;
      a.heads = plan.H;
      a.kvHeads = plan.Hkv;
      a.batches = plan.B;
      a.scaleLog2e = t.scale * 1.4426950408889634f;
      st = launchAttention(*this, *attn, a, stream, &launches);
    }
    if (st.ok() && opts.timing)
      st = api->check(api->cuEventRecord(e3, stream), "cuEventRecord");
  }
  // Even after a failure, queued work may use the workspace.
  Status rec = api->check(api->cuEventRecord(lastUse, stream), "cuEventRecord");
  if (rec.ok())
    lastUseRecorded = true;
  MINFER_RETURN_IF_ERROR(st);
  MINFER_RETURN_IF_ERROR(rec);

  RunStats stats;
  stats.kernel = plan.kind;
  if (attn)
    stats.attentionKernel = (rowChoice.ran ? rowChoice.ran : attn)->cfg.kernelName();
  stats.kernelLaunches = launches;
  if (rowChoice.visits)
    stats.tileSharing = double(rowChoice.steps) / rowChoice.visits;
  stats.chunks = static_cast<int64_t>(plan.chunks.size());
  stats.indexBuilds = indexed ? static_cast<int64_t>(chunksRun) : 0;
  stats.headsPerChunk = plan.headsPerChunk;
  stats.maxRanges = plan.maxRanges;
  stats.maxColumns = plan.maxColumns;
  stats.workspaceBytes = plan.layout.total;
  if (opts.timing || opts.checkIndex || opts.countKept) {
    MINFER_CU(*api, cuStreamSynchronize, stream);
  }
  if (opts.countKept) {
    if (indexed) {
      unsigned long long kept = 0;
      MINFER_CU(*api, cuMemcpyDtoH, &kept, workspace + plan.layout.keptCounter, 8);
      stats.keptPairs = static_cast<double>(kept);
    } else {
      stats.keptPairs = causalPairs(plan.B * plan.H, plan.N);
    }
  }
  if (opts.timing) {
    for (size_t i = 0; i < chunksRun; ++i) {
      const size_t b = 4 * i;
      float ms = 0;
      if (indexed) {
        MINFER_CU(*api, cuEventElapsedTime, &ms, timingEvents[b], timingEvents[b + 1]);
        stats.estimateMs += ms;
        MINFER_CU(*api, cuEventElapsedTime, &ms, timingEvents[b + 1], timingEvents[b + 2]);
        stats.indexMs += ms;
        MINFER_CU(*api, cuEventElapsedTime, &ms, timingEvents[b + 2], timingEvents[b + 3]);
      } else {
        MINFER_CU(*api, cuEventElapsedTime, &ms, timingEvents[b], timingEvents[b + 3]);
      }
      stats.kernelMs += ms;
    }
  }
  if (opts.checkIndex && indexed) {
    int32_t word = 0;
    MINFER_CU(*api, cuMemcpyDtoH, &word, workspace + plan.layout.errorWord, 4);
    if (word != 0)
      return Status(ErrorCode::CudaError,
                    std::string("the device index overflowed its capacity (") +
                        ((word & k::kErrRangeOverflow) ? "ranges > " + num(plan.maxRanges) : "") +
                        ((word & k::kErrColumnOverflow) ? " columns > " + num(plan.maxColumns) : "") +
                        "): a runtime bug, please report");
  }
  if (opts.stats)
    *opts.stats = stats;
  return Status::success();
}

} // namespace minfer::cuda
