//===- CudaPlanTest.cpp - host-side planning, no device -------------------===//
//
// Kernel choice, index capacity (must equal ref::requiredCapacity so the GPU
// index has the reference's layout), head chunking under a memory budget
// (chunks never split a kv group in a way the kernels' head -> kv-head
// mapping cannot express), workspace layout and the per-chunk head table.
//
//===----------------------------------------------------------------------===//
#include "CudaTestUtil.h"
#include "Plan.h"
#include "RuntimeImpl.h"

#include <cstdlib>

namespace minfer::cuda::testing {
namespace {

using kernel::Chip;
using kernel::KernelKind;

AttentionTensors shape(int64_t H, int64_t Hkv, int64_t N, int64_t D = 128,
                       int64_t B = 1) {
  AttentionTensors t;
  t.q = t.k = t.v = t.out = reinterpret_cast<void *>(0x1000);
  t.batch = B;
  t.heads = H;
  t.kvHeads = Hkv;
  t.seqLen = N;
  t.headDim = D;
  t.scale = 0.1f;
  return t;
}

Status plan(const AttentionTensors &t, const LayerPatterns &p, int64_t budget,
            CallPlan *out) {
  PlanRequest r;
  r.tensors = &t;
  r.patterns = &p;
  r.budget = budget;
  return makePlan(r, out);
}

TEST(CudaPlan, KernelKind) {
  using P = HeadPattern;
  EXPECT_EQ(kernelKindFor({P::dense(), P::dense()}), KernelKind::Dense);
  EXPECT_EQ(kernelKindFor({P::dense(), P::aShape(4, 64)}), KernelKind::Block);
  EXPECT_EQ(kernelKindFor({P::blockSparse(2), P::dense()}), KernelKind::Block);
  EXPECT_EQ(kernelKindFor({P::blockSparse(2), P::verticalSlash(4, 4)}),
            KernelKind::VerticalSlash);
}

TEST(CudaPlan, ChunkSizeCandidates) {
  EXPECT_EQ(chunkSizeCandidates(32, 4), (std::vector<int64_t>{1, 2, 4, 8, 12,
                                                              16, 20, 24, 28, 32}));
  EXPECT_EQ(chunkSizeCandidates(4, 1), (std::vector<int64_t>{1, 2, 3, 4}));
  // A group larger than a chunk: only its divisors.
  EXPECT_EQ(chunkSizeCandidates(128, 128),
            (std::vector<int64_t>{1, 2, 4, 8, 16, 32}));
}

TEST(CudaPlan, DenseIsOneLaunchWithoutIndex) {
  CallPlan p;
  MINFER_ASSERT_OK(plan(shape(8, 2, 5000, 128, 3), LayerPatterns(8), 1 << 30, &p));
  EXPECT_EQ(p.kind, KernelKind::Dense);
  ASSERT_EQ(p.chunks.size(), 1u);
  EXPECT_EQ(p.chunks[0].heads, 8);
  EXPECT_EQ(p.layout.total, 0);
}

TEST(CudaPlan, CapacityIsTheReferences) {
  for (int64_t N : {1, 63, 64, 65, 100, 4097, 16421, 1 << 20}) {
    LayerPatterns layer = {HeadPattern::verticalSlash(1000, 6096),
                           HeadPattern::blockSparse(12),
                           HeadPattern::aShape(128, 4096), HeadPattern::dense()};
    CallPlan p;
    MINFER_ASSERT_OK(plan(shape(4, 1, N), layer, int64_t(1) << 40, &p));
    auto [r, c] = ref::requiredCapacity(layer, N);
    EXPECT_EQ(p.maxRanges, r) << N;
    EXPECT_EQ(p.maxColumns, c) << N;
    EXPECT_EQ(p.kind, KernelKind::VerticalSlash);
  }
}

TEST(CudaPlan, ChunksRespectBudgetAndGroups) {
  const int64_t N = 1 << 20, H = 32, Hkv = 8;
  LayerPatterns layer(H, HeadPattern::verticalSlash(1000, 6096));
  const int64_t budget = int64_t(4) << 30;
  CallPlan p;
  MINFER_ASSERT_OK(plan(shape(H, Hkv, N), layer, budget, &p));
  EXPECT_LE(p.layout.total, budget);
  EXPECT_GT(p.headsPerChunk, 0);
  EXPECT_LT(p.headsPerChunk, H); // ~0.86 GB of index per head at 1M
  int64_t covered = 0;
  for (const Chunk &c : p.chunks) {
    EXPECT_EQ(c.h0, covered);
    covered += c.heads;
    // Whole groups, or a part of one group.
    if (c.heads >= p.group) {
      EXPECT_EQ(c.heads % p.group, 0);
      EXPECT_EQ(c.kvHeads, c.heads / p.group);
    } else {
      EXPECT_EQ(p.group % c.heads, 0);
      EXPECT_EQ(c.kvHeads, 1);
    }
    EXPECT_EQ(c.kvHead0, c.h0 / p.group);
  }
  EXPECT_EQ(covered, H);
  // The estimation geometry of last_q = 64: 512-key tiles, exact diagonals.
  EXPECT_EQ(p.keyTile, 512);
  EXPECT_EQ(p.lqPad, 64);
  EXPECT_FALSE(p.flushPerChunk);
  EXPECT_EQ(p.numKeyTiles, N / 512);
}

TEST(CudaPlan, TinyBudgetStillPlansOneHeadAndBands) {
  const int64_t N = 70000;
  LayerPatterns layer = {HeadPattern::blockSparse(8), HeadPattern::blockSparse(3)};
  CallPlan p;
  // One head's index + pooled Q and K is ~0.64 MB: two do not fit in 1 MB.
  MINFER_ASSERT_OK(plan(shape(2, 2, N, 64, 2), layer, 1 << 20, &p));
  EXPECT_EQ(p.headsPerChunk, 1);
  EXPECT_EQ(p.chunks.size(), 4u); // 2 batch entries x 2 heads
  EXPECT_EQ(p.bandRows % 64, 0);
  EXPECT_GE(p.bandRows, 64);
  EXPECT_LT(p.bandRows, p.NB); // the scores need several bands
}

TEST(CudaPlan, BlockSparseRowsStagedOnlyPastTheBitmapTopK) {
  // Rows of up to kTopKBitmapElems blocks (N <= 1M) are read from L2 by the
  // selection's bitmap path; longer rows are staged in shared memory when
  // they fit the opt-in limit, and read from L2 when they do not.
  LayerPatterns layer = {HeadPattern::blockSparse(100)};
  for (int64_t N : {int64_t(4096), int64_t(1) << 20, (int64_t(1) << 20) + 64,
                    int64_t(1) << 21, int64_t(1) << 23}) {
    AttentionTensors t = shape(1, 1, N);
    PlanRequest r;
    r.tensors = &t;
    r.patterns = &layer;
    r.budget = int64_t(1) << 40;
    r.smemOptin = 227 * 1024;
    CallPlan p;
    MINFER_ASSERT_OK(makePlan(r, &p));
    const bool longRow = p.NB > kernels::kTopKBitmapElems;
    const bool fits = p.nbPad * 4 + 12288 <= r.smemOptin;
    EXPECT_EQ(p.bsRowInSmem, longRow && fits) << N;
    EXPECT_EQ(p.bsSelectSmem, p.bsRowInSmem ? p.nbPad * 4 : 0) << N;
  }
}

TEST(CudaPlan, HugeLastQFallsBackToFlushes) {
  LayerPatterns layer = {HeadPattern::verticalSlash(10, 10, 65536)};
  CallPlan p;
  PlanRequest r;
  AttentionTensors t = shape(1, 1, 100000);
  r.tensors = &t;
  r.patterns = &layer;
  r.budget = int64_t(1) << 34;
  r.smemOptin = 227 * 1024;
  MINFER_ASSERT_OK(makePlan(r, &p));
  EXPECT_TRUE(p.flushPerChunk);
  EXPECT_LE(p.accumSmem, r.smemOptin);
  EXPECT_EQ(p.lqPad, 65536);
}

TEST(CudaPlan, ChunkParamsHeadTable) {
  LayerPatterns layer = {HeadPattern::dense(),
                         HeadPattern::aShape(1 << 30, 77),
                         HeadPattern::verticalSlash(5, 3000, 256),
                         HeadPattern::blockSparse(1000),
                         HeadPattern::blockSparse(2),
                         HeadPattern::verticalSlash(20, 20, 16)};
  const int64_t N = 1000;
  CallPlan p;
  MINFER_ASSERT_OK(plan(shape(6, 3, N), layer, int64_t(1) << 30, &p));
  ASSERT_EQ(p.chunks.size(), 1u);
  kernels::IndexParams ip;
  fillChunkParams(p, layer, VsOptions{}, p.chunks[0], &ip);
  EXPECT_EQ(ip.heads, 6);
  EXPECT_EQ(ip.vsCount, 2);
  EXPECT_EQ(ip.bsCount, 2);
  EXPECT_EQ(ip.kvCount, 2); // heads 3 and 4 read kv heads 1 and 2 (group 2)
  EXPECT_EQ(ip.head[0].kind, kernels::kHeadDense);
  EXPECT_EQ(ip.head[1].sink, N); // clamped
  EXPECT_EQ(ip.head[1].local, 77);
  EXPECT_EQ(ip.head[2].vsSlot, 0);
  EXPECT_EQ(ip.head[2].lastQ, 256);
  EXPECT_EQ(ip.head[2].kVertical, 30); // max(5, forced 30)
  EXPECT_EQ(ip.head[2].kSlash, 1000);  // min(3000, N)
  EXPECT_EQ(ip.head[3].topK, 16);      // clamped to NB
  EXPECT_EQ(ip.head[4].bsSlot, 1);
  EXPECT_EQ(ip.head[4].kvHead, 2);
  EXPECT_EQ(ip.kvSlotHead[ip.head[4].bsKvSlot], 2);
  EXPECT_EQ(ip.head[5].vsSlot, 1);
  EXPECT_EQ(ip.vsHead[1], 5);
  EXPECT_EQ(ip.bsHead[0], 3);
}

TEST(CudaPlan, TileConfigLineOfPtxFiles) {
  kernel::TileConfig cfg;
  cfg.kind = KernelKind::Dense;
  EXPECT_FALSE(applyTileConfigLine(".version 8.0\n.target sm_90\n", &cfg));
  EXPECT_TRUE(applyTileConfigLine(
      "//\n// minfer-tile-config: kind=dense block_m=128 warps=8 stages=3\n"
      ".version 8.0\n",
      &cfg));
  EXPECT_EQ(cfg.blockM, 128);
  EXPECT_EQ(cfg.warps, 8);
  EXPECT_EQ(cfg.stages, 3);
  // A stage count other than the kind's default (2) is part of the name.
  EXPECT_EQ(cfg.kernelName(), "minfer_dense_m128_s3_d128_bf16");
  EXPECT_EQ(cfg.gridX(1000), 8);
  // Invalid combinations leave the config unchanged.
  kernel::TileConfig vs;
  vs.kind = KernelKind::VerticalSlash;
  EXPECT_FALSE(applyTileConfigLine("// minfer-tile-config: block_m=128 warps=8\n", &vs));
  EXPECT_EQ(vs.blockM, 64);
  EXPECT_FALSE(applyTileConfigLine("// minfer-tile-config: stages=x\n", &vs));
  EXPECT_EQ(vs.stages, 2);
}

// Head dim 96 has kernels of its own, with the shared tiles (and launch
// shared memory) of 128 columns; other supported head dims run on the next
// kernel head dim; 80 is not a kernel head dim.
TEST(CudaPlan, HeadDim96TileTraits) {
  for (Chip chip : {Chip::SM80, Chip::SM90A})
    for (KernelKind kind :
         {KernelKind::Dense, KernelKind::Block, KernelKind::VerticalSlash}) {
      kernel::TileConfig d96 =
          kernel::TileConfig::tuned(kind, kernel::ElemType::BF16, 96, chip);
      kernel::TileConfig d128 =
          kernel::TileConfig::tuned(kind, kernel::ElemType::BF16, 128, chip);
      SCOPED_TRACE(d96.kernelName() + " " + kernel::chipName(chip));
      EXPECT_EQ(d96.validate(), "");
      EXPECT_EQ(d96.tileDim(), 128);
      EXPECT_EQ(d96.sharedBytes(), d128.sharedBytes());
      EXPECT_EQ(d96.threads(), d128.threads());
      EXPECT_EQ(d96.kernelName(), std::string("minfer_") +
                                      kernel::kernelKindName(kind) +
                                      "_d96_bf16");
    }
  kernel::TileConfig d80 = kernel::TileConfig::tuned(
      KernelKind::Dense, kernel::ElemType::F16, 80, Chip::SM90A);
  EXPECT_EQ(d80.validate(), "head_dim must be 64, 96 or 128, got 80");
  const std::pair<int64_t, int64_t> next[] = {
      {8, 64}, {64, 64}, {72, 96}, {80, 96}, {96, 96}, {104, 128}, {128, 128}};
  for (auto [d, k] : next) {
    EXPECT_EQ(kernel::kernelHeadDim(d), k) << d;
    EXPECT_EQ(kernel::tileHeadDim(k), k == 64 ? 64 : 128) << k;
    EXPECT_TRUE(kernel::isKernelHeadDim(k)) << k;
  }
}

// sm_90a (wgmma) kernels: Q, K and V in unpadded swizzled tiles (the
// dynamic window itself, no slack); sparse kernels 1 stage (4 CTAs per SM),
// dense 2; an H100 prefers sm_90a PTX, then sm_90, then sm_80.
TEST(CudaPlan, WgmmaTileTraitsAndChipOrder) {
  kernel::TileConfig mma = kernel::TileConfig::tuned(
      KernelKind::VerticalSlash, kernel::ElemType::BF16, 128, Chip::SM90);
  kernel::TileConfig wg = kernel::TileConfig::tuned(
      KernelKind::VerticalSlash, kernel::ElemType::BF16, 128, Chip::SM90A);
  kernel::TileConfig wgBlock = kernel::TileConfig::tuned(
      KernelKind::Block, kernel::ElemType::BF16, 128, Chip::SM90A);
  EXPECT_FALSE(mma.usesWgmma());
  EXPECT_TRUE(wg.usesWgmma());
  EXPECT_EQ(mma.stages, 3);
  EXPECT_EQ(wg.stages, 1);
  EXPECT_EQ(wgBlock.stages, 1);
  EXPECT_FALSE(wg.queryInKeyBuffer());
  EXPECT_EQ(wg.sharedRows(), 0);
  EXPECT_EQ(wg.sharedBytes(), 64 * 128 * 2 + 2 * 64 * 128 * 2);
  EXPECT_EQ(wgBlock.sharedBytes(), 48 * 1024);
  // Four 1-stage block CTAs per SM; their single buffer holds K and V of a
  // tile loaded as two groups. Vertical-slash keeps one group per tile.
  EXPECT_EQ(wgBlock.minCtasPerSm, 4);
  EXPECT_TRUE(wgBlock.splitsKeyValueLoads());
  EXPECT_FALSE(wg.splitsKeyValueLoads());
  EXPECT_EQ(wg.kernelName(), mma.kernelName()); // same ABI, other PTX file
  // Long sequences: the sm_90a vertical-slash kernel is the default one
  // again (launched in waves, kernel::launchWavesFor); a forced 2-stage
  // kernel has a name of its own (its launch needs more shared memory).
  kernel::TileConfig wgLong = kernel::TileConfig::tuned(
      KernelKind::VerticalSlash, kernel::ElemType::BF16, 128, Chip::SM90A,
      kernel::kBlockM, kernel::kLongSequence);
  EXPECT_EQ(wgLong.kernelName(), wg.kernelName());
  EXPECT_FALSE(wgLong.splitsKeyValueLoads());
  kernel::TileConfig wgTwo = wgLong;
  wgTwo.stages = 2;
  EXPECT_EQ(wgTwo.kernelName(), "minfer_vs_s2_d128_bf16");
  EXPECT_EQ(wgTwo.sharedBytes(), 64 * 128 * 2 + 4 * 64 * 128 * 2);
  // From kMidSequence on: one stage with split K/V loads, a name of its own
  // (same launch as the default kernel).
  kernel::TileConfig wgMid = kernel::TileConfig::tuned(
      KernelKind::VerticalSlash, kernel::ElemType::BF16, 128, Chip::SM90A,
      kernel::kBlockM, kernel::kLongSequence - 1);
  EXPECT_EQ(wgMid.stages, 1);
  EXPECT_TRUE(wgMid.splitsKeyValueLoads());
  EXPECT_EQ(wgMid.kernelName(), "minfer_vs_kv_d128_bf16");
  EXPECT_EQ(wgMid.sharedBytes(), wg.sharedBytes());
  EXPECT_EQ(kernel::TileConfig::tuned(KernelKind::VerticalSlash,
                                      kernel::ElemType::BF16, 128, Chip::SM90A,
                                      kernel::kBlockM, kernel::kMidSequence)
                .kernelName(),
            "minfer_vs_kv_d128_bf16");
  EXPECT_EQ(kernel::TileConfig::tuned(KernelKind::VerticalSlash,
                                      kernel::ElemType::BF16, 128, Chip::SM90A,
                                      kernel::kBlockM,
                                      kernel::kMidSequence - 1)
                .kernelName(),
            "minfer_vs_d128_bf16");
  EXPECT_FALSE(kernel::hasLongSequenceTuning(KernelKind::VerticalSlash,
                                             Chip::SM90A));
  EXPECT_TRUE(kernel::hasLongSequenceTuning(
      KernelKind::VerticalSlash, Chip::SM90A, kernel::kLongSequence - 1));
  EXPECT_TRUE(kernel::hasLongSequenceTuning(
      KernelKind::VerticalSlash, Chip::SM90A, kernel::kMidSequence));
  EXPECT_FALSE(kernel::hasLongSequenceTuning(KernelKind::VerticalSlash,
                                             Chip::SM90A,
                                             kernel::kMidSequence - 1));
  EXPECT_FALSE(
      kernel::hasLongSequenceTuning(KernelKind::VerticalSlash, Chip::SM90));
  EXPECT_FALSE(kernel::hasLongSequenceTuning(KernelKind::Block, Chip::SM90A));
  Chip chips[3];
  ASSERT_EQ(kernel::loadableChips(Chip::SM90A, chips), 3);
  EXPECT_EQ(chips[0], Chip::SM90A);
  EXPECT_EQ(chips[1], Chip::SM90);
  EXPECT_EQ(chips[2], Chip::SM80);
  ASSERT_EQ(kernel::loadableChips(Chip::SM80, chips), 1);
  EXPECT_EQ(chips[0], Chip::SM80);
  EXPECT_STREQ(kernel::chipName(Chip::SM90A), "sm_90a");
  // The PTX's own target decides the layout a registered kernel gets.
  Chip c = Chip::SM80;
  EXPECT_TRUE(ptxTargetChip(".version 8.0\n.target sm_90a\n", &c));
  EXPECT_EQ(c, Chip::SM90A);
  EXPECT_TRUE(ptxTargetChip(".version 8.0\n.target sm_90, debug\n", &c));
  EXPECT_EQ(c, Chip::SM90);
  EXPECT_FALSE(ptxTargetChip(".version 8.0\n.target sm_100a\n", &c));
  EXPECT_FALSE(ptxTargetChip("// no target\n", &c));
  EXPECT_EQ(c, Chip::SM90);
}

// The dense-fallback bound: exact for dense, the closed form sum of
// min(i + 1, c) for each sparse pattern, and 1 once a budget covers N.
/// Launch waves by kernel and length: block-sparse heads from
/// kWideBlockSparse tokens, or from kNarrowBlockSparseWaves on the 64-row
/// kernel (2 device-fulls), vertical-slash on the 64-row kernel from
/// kLongSequence (1); never A-shape-only block calls, the 192-row
/// vertical-slash kernel, dense calls, shorter calls or mma.sync chips.
TEST(CudaPlan, LaunchWavesByKindAndLength) {
  using kernel::launchWavesFor;
  const int64_t wide = kernel::kWideBlockSparse, lng = kernel::kLongSequence;
  EXPECT_EQ(launchWavesFor(KernelKind::Block, Chip::SM90A, wide, true), 2);
  EXPECT_EQ(launchWavesFor(KernelKind::Block, Chip::SM90A, wide, true, 192), 2);
  const int64_t narrow = kernel::kNarrowBlockSparseWaves;
  EXPECT_EQ(launchWavesFor(KernelKind::Block, Chip::SM90A, narrow, true), 2);
  EXPECT_EQ(launchWavesFor(KernelKind::Block, Chip::SM90A, narrow, true, 192),
            0);
  EXPECT_EQ(launchWavesFor(KernelKind::Block, Chip::SM90A, narrow - 1, true),
            0);
  EXPECT_EQ(launchWavesFor(KernelKind::Block, Chip::SM90A, 1 << 20, false), 0);
  EXPECT_EQ(launchWavesFor(KernelKind::Block, Chip::SM90, 1 << 20, true), 0);
  EXPECT_EQ(launchWavesFor(KernelKind::VerticalSlash, Chip::SM90A, lng, true),
            1);
  EXPECT_EQ(
      launchWavesFor(KernelKind::VerticalSlash, Chip::SM90A, lng, false, 192),
      0);
  EXPECT_EQ(
      launchWavesFor(KernelKind::VerticalSlash, Chip::SM90A, lng - 1, false),
      0);
  EXPECT_EQ(launchWavesFor(KernelKind::VerticalSlash, Chip::SM80, lng, false),
            0);
  EXPECT_EQ(launchWavesFor(KernelKind::Dense, Chip::SM90A, 1 << 20, false), 0);
}

/// Kernel files the runtime looks for, best first. A wide (paired) kernel
/// whose PTX is missing falls back to the sequence tier's 64-row kernel
/// before the default one; a forced stage count drops the tiers.
TEST(CudaPlan, KernelCandidates) {
  auto names = [](KernelKind kind, Chip chip, int64_t n, int64_t wide,
                  int stages = 0) {
    std::vector<std::string> out;
    for (const kernel::TileConfig &c : kernelCandidates(
             kind, kernel::ElemType::BF16, 128, chip, n, wide, stages))
      out.push_back(c.kernelName());
    return out;
  };
  using V = std::vector<std::string>;
  const int64_t k1M = 1 << 20, k512K = 1 << 19, k128K = 1 << 17;
  EXPECT_EQ(names(KernelKind::VerticalSlash, Chip::SM90A, k1M, 192),
            (V{"minfer_vs_m192_d128_bf16", "minfer_vs_d128_bf16"}));
  EXPECT_EQ(names(KernelKind::VerticalSlash, Chip::SM90A, k512K, 192),
            (V{"minfer_vs_m192_d128_bf16", "minfer_vs_kv_d128_bf16",
               "minfer_vs_d128_bf16"}));
  EXPECT_EQ(names(KernelKind::VerticalSlash, Chip::SM90A, k1M, 64),
            (V{"minfer_vs_d128_bf16"}));
  EXPECT_EQ(names(KernelKind::VerticalSlash, Chip::SM90A, k512K, 64),
            (V{"minfer_vs_kv_d128_bf16", "minfer_vs_d128_bf16"}));
  EXPECT_EQ(names(KernelKind::VerticalSlash, Chip::SM90A, k128K, 64),
            (V{"minfer_vs_d128_bf16"}));
  EXPECT_EQ(names(KernelKind::VerticalSlash, Chip::SM90A, k1M, 64, 1),
            (V{"minfer_vs_d128_bf16"}));
  // Paired kernels need wgmma: sm_90 has only the 64-row one.
  EXPECT_EQ(names(KernelKind::Block, Chip::SM90, k1M, 192),
            (V{"minfer_block_d128_bf16"}));
  EXPECT_EQ(names(KernelKind::Block, Chip::SM90A, k1M, 192),
            (V{"minfer_block_m192_d128_bf16", "minfer_block_d128_bf16"}));
  EXPECT_EQ(names(KernelKind::Dense, Chip::SM80, k128K, 128),
            (V{"minfer_dense_m128_d128_bf16", "minfer_dense_d128_bf16"}));
}

/// The integer options an environment variable may set (kernelStages,
/// blockSparseRows, verticalSlashRows, launchWaves): a non-zero value wins
/// over the environment; 0 takes the variable if set; "0" or an empty
/// variable is the default; anything not allowed, or not a plain decimal
/// integer, is InvalidArgument naming the field, the variable and the text.
TEST(CudaPlan, IntOption) {
  const char *env = "MINFER_TEST_INT_OPTION";
  auto rows = [](int v) { return v == 64 || v == 192; };
  auto check = [&](int value, int *out) {
    return intOption(value, "testRows", env, rows, "rows must be 64 or 192",
                     out);
  };
  ::unsetenv(env);
  int out = 7;
  EXPECT_TRUE(check(0, &out).ok());
  EXPECT_EQ(out, 0);
  EXPECT_TRUE(check(192, &out).ok());
  EXPECT_EQ(out, 192);
  Status st = check(96, &out);
  EXPECT_EQ(st.code(), ErrorCode::InvalidArgument);
  EXPECT_NE(st.message().find("rows must be 64 or 192 (RuntimeOptions::testRows "
                              "or MINFER_TEST_INT_OPTION), got 96"),
            std::string::npos)
      << st.message();
  ::setenv(env, "64", 1);
  EXPECT_TRUE(check(0, &out).ok());
  EXPECT_EQ(out, 64);
  EXPECT_TRUE(check(192, &out).ok()); // the value wins
  EXPECT_EQ(out, 192);
  for (const char *dflt : {"", "0", "-0"}) {
    ::setenv(env, dflt, 1);
    EXPECT_TRUE(check(0, &out).ok()) << dflt;
    EXPECT_EQ(out, 0) << dflt;
  }
  for (const char *bad : {"128", "064", "64x", " 64", "64 ", "+64", "-64",
                          "big", "-", "99999999999"}) {
    ::setenv(env, bad, 1);
    st = check(0, &out);
    EXPECT_EQ(st.code(), ErrorCode::InvalidArgument) << bad;
    EXPECT_NE(st.message().find(std::string("got '") + bad + "'"),
              std::string::npos)
        << st.message();
  }
  // Negative values parse (launchWaves = -1 is one launch).
  ::setenv(env, "-1", 1);
  EXPECT_TRUE(intOption(0, "w", env, [](int v) { return v >= -1; }, "w", &out)
                  .ok());
  EXPECT_EQ(out, -1);
  ::unsetenv(env);
}

// Paired query blocks (128- or 192-row block-sparse CTAs): wgmma only, one
// warpgroup per 64-row block plus a producer warp, a ring as deep as an SM's
// shared memory allows, a name of their own.
TEST(CudaPlan, PairedBlockSparseTraits) {
  kernel::TileConfig paired = kernel::TileConfig::tuned(
      KernelKind::Block, kernel::ElemType::BF16, 128, Chip::SM90A, 128);
  EXPECT_EQ(paired.validate(), "");
  EXPECT_TRUE(paired.pairsQueryBlocks());
  EXPECT_EQ(paired.queryBlocksPerCta(), 2);
  EXPECT_EQ(paired.producerWarps(), 1);
  EXPECT_EQ(paired.threads(), 288);
  EXPECT_EQ(paired.consumerThreads(), 256);
  EXPECT_EQ(paired.stages, 6);
  EXPECT_EQ(paired.valueStageCount(), 6);
  EXPECT_EQ(paired.minCtasPerSm, 1);
  EXPECT_EQ(paired.kernelName(), "minfer_block_m128_d128_bf16");
  // Q, six K/V stages, the ring's 24 mbarriers (full and empty, K and V),
  // 2 x 6 queue mbarriers and 2 x 6 queue items of 3 words (step, start,
  // limit); one CTA fits an H100 SM (227 KB at most).
  EXPECT_EQ(paired.ringControlBytes(), 8 * (24 + 12));
  EXPECT_EQ(paired.pairedListBytes(), 8 * (24 + 12) + 12 * 3 * 4);
  EXPECT_EQ(paired.sharedBytes(),
            128 * 128 * 2 + 12 * 64 * 128 * 2 + paired.pairedListBytes());
  EXPECT_LE(paired.sharedBytes(), 227 * 1024);
  EXPECT_EQ(paired.pairedTensorMapBytes(), 256);
  // Three blocks: a producer warpgroup (setmaxnreg moves its registers to
  // the compute warpgroups: 128 x 56 + 384 x 152 = 64 K), four K stages and
  // seven V stages (V is held a tile longer).
  kernel::TileConfig three = kernel::TileConfig::tuned(
      KernelKind::Block, kernel::ElemType::BF16, 128, Chip::SM90A, 192);
  EXPECT_EQ(three.validate(), "");
  EXPECT_EQ(three.queryBlocksPerCta(), 3);
  EXPECT_EQ(three.threads(), 512);
  EXPECT_EQ(three.producerRegisters() * 128 + three.consumerRegisters() * 384,
            64 * 1024);
  EXPECT_EQ(paired.producerRegisters(), 0); // one producer warp, no setmaxnreg
  EXPECT_EQ(three.stages, 4);
  EXPECT_EQ(three.valueStageCount(), 7);
  EXPECT_EQ(three.kernelName(), "minfer_block_m192_d128_bf16");
  EXPECT_EQ(three.pairedListBytes(), 8 * (2 * 4 + 2 * 7 + 12) + 12 * 3 * 4);
  EXPECT_EQ(three.sharedBytes(),
            192 * 128 * 2 + 11 * 64 * 128 * 2 + three.pairedListBytes());
  EXPECT_LE(three.sharedBytes(), 227 * 1024);
  kernel::TileConfig shallow = three; // stage counts of its own: named
  shallow.stages = 3;
  EXPECT_EQ(shallow.validate(), "");
  EXPECT_EQ(shallow.kernelName(), "minfer_block_m192_s3_d128_bf16");
  shallow.valueStages = 5;
  EXPECT_EQ(shallow.kernelName(), "minfer_block_m192_s3_v5_d128_bf16");
  shallow.valueStages = 2; // fewer V than K stages
  EXPECT_NE(shallow.validate(), "");
  shallow.valueStages = 9;
  EXPECT_NE(shallow.validate(), "");
  shallow.valueStages = 8; // 3 + 8 tiles and Q: 224 KB
  EXPECT_EQ(shallow.validate(), "");
  shallow.stages = 5; // 256 KB: more than an SM has
  EXPECT_NE(shallow.validate().find("shared memory"), std::string::npos);
  EXPECT_EQ(three.gridX(193), 2);
  kernel::TileConfig deep = three;
  deep.stages = 7;
  EXPECT_NE(deep.validate(), "");
  kernel::TileConfig four = three;
  four.blockM = 256;
  four.warps = 16;
  EXPECT_NE(four.validate(), "");
  // Vertical-slash pairs three blocks too (its strips gathered by the
  // producer warp), with the same ring.
  kernel::TileConfig wideVs = kernel::TileConfig::tuned(
      KernelKind::VerticalSlash, kernel::ElemType::BF16, 128, Chip::SM90A, 192);
  EXPECT_EQ(wideVs.validate(), "");
  EXPECT_TRUE(wideVs.pairsQueryBlocks());
  EXPECT_EQ(wideVs.stages, three.stages);
  EXPECT_EQ(wideVs.valueStageCount(), three.valueStageCount());
  EXPECT_EQ(wideVs.kernelName(), "minfer_vs_m192_d128_bf16");
  // The sequence tiers tune the 64-row kernel only.
  EXPECT_EQ(kernel::TileConfig::tuned(KernelKind::VerticalSlash,
                                      kernel::ElemType::BF16, 128, Chip::SM90A,
                                      192, kernel::kLongSequence)
                .kernelName(),
            wideVs.kernelName());
  kernel::TileConfig vs128 = wideVs;
  vs128.blockM = 128;
  vs128.warps = 8;
  EXPECT_NE(vs128.validate(), "");
  // Separate V stages are a ring's: not for 64-row kernels.
  kernel::TileConfig single = kernel::TileConfig::tuned(
      KernelKind::Block, kernel::ElemType::BF16, 128, Chip::SM90A);
  EXPECT_EQ(single.valueStageCount(), single.stages);
  single.valueStages = 2;
  EXPECT_NE(single.validate(), "");
  EXPECT_EQ(kernel::TileConfig::tuned(KernelKind::Block, kernel::ElemType::BF16,
                                      128, Chip::SM90A)
                .pairedListBytes(),
            0);
  EXPECT_EQ(paired.gridX(129), 2);
  EXPECT_FALSE(kernel::TileConfig::tuned(KernelKind::Block,
                                         kernel::ElemType::BF16, 128,
                                         Chip::SM90A)
                   .pairsQueryBlocks());
  // The 128-row dense kernel reads no index: nothing to pair.
  EXPECT_FALSE(kernel::TileConfig::tuned(KernelKind::Dense,
                                         kernel::ElemType::BF16, 128,
                                         Chip::SM90A, 128)
                   .pairsQueryBlocks());
  kernel::TileConfig mma = kernel::TileConfig::tuned(
      KernelKind::Block, kernel::ElemType::BF16, 128, Chip::SM80, 128);
  EXPECT_EQ(mma.validate(),
            "128- and 192-row sparse kernels need wgmma (chip sm_90a)");
  kernel::TileConfig vs = kernel::TileConfig::tuned(
      KernelKind::VerticalSlash, kernel::ElemType::BF16, 128, Chip::SM90A,
      128);
  EXPECT_NE(vs.validate().find("only 64-row query blocks"), std::string::npos);
}

TEST(CudaPlan, DensityUpperBound) {
  VsOptions vs;
  EXPECT_DOUBLE_EQ(densityUpperBound({HeadPattern::dense()}, 1000, vs), 1.0);
  // MInference's VS budgets cover every row up to N = 64 * 6096 + 1000.
  EXPECT_DOUBLE_EQ(
      densityUpperBound({HeadPattern::verticalSlash(1000, 6096)}, 16384, vs), 1.0);
  // Block-sparse k = 4 at N = 1024: c = 256.
  double n = 1024, c = 256;
  double want = (c * (c + 1) / 2 + (n - c) * c) / (n * (n + 1) / 2);
  EXPECT_DOUBLE_EQ(densityUpperBound({HeadPattern::blockSparse(4)}, 1024, vs), want);
  // Mixed heads average; A-shape c = sink + local + 64.
  double a = 128 + 512 + 64;
  double wantA = (a * (a + 1) / 2 + (n - a) * a) / (n * (n + 1) / 2);
  EXPECT_DOUBLE_EQ(densityUpperBound({HeadPattern::aShape(128, 512), HeadPattern::dense()},
                                     1024, vs),
                   (wantA + 1.0) / 2);
  // The bound is an upper bound of what the CPU reference index keeps.
  for (int64_t len : {100, 777, 2048}) {
    for (HeadPattern p : {HeadPattern::blockSparse(3), HeadPattern::aShape(16, 100)}) {
      auto [r, cols] = ref::requiredCapacity({p}, len);
      SparseIndex index;
      index.resize(1, 1, len, r, cols);
      std::vector<float> scores(numQueryBlocks(len) * numQueryBlocks(len), 0.0f);
      Status st = p.kind == PatternKind::AShape
                      ? ref::fillAShapeIndex(index, 0, 0, p.sink, p.local)
                      : ref::fillBsIndex(index, 0, 0, scores, p.topK);
      ASSERT_TRUE(st.ok()) << st.str();
      double kept = 0;
      for (uint8_t m : ref::maskFromIndex(index, 0, 0))
        kept += m;
      EXPECT_LE(kept / (double(len) * (len + 1) / 2),
                densityUpperBound({p}, len, vs) + 1e-12) << p.str() << " N=" << len;
    }
  }
}

TEST(CudaPlan, DenseFallbackOptionIsValidated) {
  // Distinct, aligned fake device addresses: validate never dereferences.
  AttentionTensors t;
  t.q = reinterpret_cast<void *>(uintptr_t(1) << 20);
  t.k = reinterpret_cast<void *>(uintptr_t(2) << 20);
  t.v = reinterpret_cast<void *>(uintptr_t(3) << 20);
  t.out = reinterpret_cast<void *>(uintptr_t(4) << 20);
  t.seqLen = 64, t.headDim = 64;
  t.scale = 0.125f;
  RunOptions o;
  o.denseFallback = 0.9;
  Status ok = Runtime::validate(t, {HeadPattern::dense()}, o);
  ASSERT_TRUE(ok.ok()) << ok.str();
  o.denseFallback = 1.5;
  EXPECT_EQ(Runtime::validate(t, {HeadPattern::dense()}, o).code(), ErrorCode::InvalidArgument);
  o.denseFallback = 0.9;
  o.denseFallbackProbeLen = -1;
  EXPECT_EQ(Runtime::validate(t, {HeadPattern::dense()}, o).code(), ErrorCode::InvalidArgument);
}

} // namespace
} // namespace minfer::cuda::testing

