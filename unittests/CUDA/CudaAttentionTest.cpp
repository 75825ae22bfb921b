//===- CudaAttentionTest.cpp - end-to-end attention vs the reference ------===//
//
// Runs whole calls (estimate, index, kernel) and compares the outputs with
// the fp64 reference over the GPU's own index (max abs error <= 2e-2 bf16,
// 1e-2 f16), after NaN-poisoning the output. Two kernel backends:
//   naive      the test-only ABI kernels (kernels/testing), always available
//              with a GPU: checks the runtime's launch ABI and index in use;
//   generated  the MLIR-generated PTX in Runtime::ptxDir(); skipped with a
//              message when that directory lacks the files.
// Also: a full budget equals the dense kernel, missing PTX names the file,
// and the C API entry points equal the C++ API.
//
//===----------------------------------------------------------------------===//
#include "CudaTestUtil.h"
#include "EmbeddedPtx.h"
#include "minfer/minfer.h"

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <map>

#include <unistd.h>

namespace minfer::cuda::testing {
namespace {

using kernel::ElemType;

double tolerance(ElemType e) { return e == ElemType::BF16 ? 2e-2 : 1e-2; }

/// Runs `layer`, checks every output element was written and the sampled
/// rows against the reference over the GPU index; returns the output.
void runAndCheck(Runtime &rt, const AttentionShape &s, ElemType elem,
                 const LayerPatterns &layer, uint64_t seed,
                 std::vector<float> *outValues = nullptr,
                 RunStats *statsOut = nullptr,
                 SparseIndex *indexOut = nullptr, const VsOptions &vs = {}) {
  const float scale = 1.0f / std::sqrt(float(s.headDim));
  DeviceAttention da;
  MINFER_ASSERT_OK(da.create(rt, s, elem, scale, seed));
  MINFER_ASSERT_OK(da.poison(rt));
  SparseIndex index;
  RunStats stats;
  RunOptions o;
  o.vs = vs;
  o.indexOut = &index;
  o.checkIndex = true;
  o.stats = &stats;
  MINFER_ASSERT_OK(rt.sparseAttention(da.tensors, layer, o));
  MINFER_ASSERT_OK(rt.synchronize());
  if (statsOut)
    *statsOut = stats;
  if (indexOut)
    *indexOut = index;
  std::vector<float> out;
  MINFER_ASSERT_OK(da.downloadOut(&out));
  for (size_t i = 0; i < out.size(); ++i)
    ASSERT_FALSE(std::isnan(out[i])) << "output element " << i << " unwritten";
  for (int64_t b = 0; b < s.batch; ++b)
    for (int64_t h = 0; h < s.heads; ++h) {
      const std::vector<int64_t> rows = sampleRows(s.seqLen, 4097, 300, seed + h);
      std::vector<float> want;
      MINFER_ASSERT_OK(referenceRows(s, da.hq.values, da.hk.values,
                                     da.hv.values, scale, index, b, h, rows,
                                     &want));
      double err = 0;
      for (size_t x = 0; x < rows.size(); ++x)
        for (int64_t d = 0; d < s.headDim; ++d)
          err = std::max<double>(
              err, std::fabs(out[((b * s.heads + h) * s.seqLen + rows[x]) *
                                     s.headDim + d] -
                             want[x * s.headDim + d]));
      EXPECT_LE(err, tolerance(elem))
          << "b " << b << " head " << h << " (" << layer[h].str() << ")";
    }
  if (outValues)
    *outValues = std::move(out);
}

/// 4 query heads over 2 KV heads, N tokens, head dim D.
AttentionShape gqaShape(int64_t n, int64_t d) {
  AttentionShape s;
  s.heads = 4;
  s.kvHeads = 2;
  s.seqLen = n;
  s.headDim = d;
  return s;
}

class CudaAttention : public ::testing::TestWithParam<Backend> {};

/// One head of each pattern: the layer selects the vertical-slash kernel.
LayerPatterns mixedLayer() {
  return {HeadPattern::verticalSlash(100, 300, 64), HeadPattern::blockSparse(6),
          HeadPattern::aShape(64, 512), HeadPattern::dense()};
}

TEST_P(CudaAttention, MixedLayerMatchesReference) {
  MINFER_REQUIRE_BACKEND(GetParam(), rt);
  const LayerPatterns layer = mixedLayer();
  uint64_t seed = 1;
  for (int64_t N : {1, 65, 100, 1000, 4097})
    for (int64_t D : {64, 96, 128})
      for (ElemType elem : {ElemType::BF16, ElemType::F16}) {
        SCOPED_TRACE("N " + std::to_string(N) + " D " + std::to_string(D) +
                     " " + kernel::elemTypeName(elem));
        const AttentionShape s = gqaShape(N, D);
        RunStats stats;
        runAndCheck(*rt, s, elem, layer, seed++, nullptr, &stats);
        if (HasFatalFailure())
          return;
        EXPECT_EQ(stats.kernel, kernel::KernelKind::VerticalSlash);
      }
}

TEST_P(CudaAttention, EachKernelKind) {
  MINFER_REQUIRE_BACKEND(GetParam(), rt);
  const std::pair<kernel::KernelKind, LayerPatterns> layers[] = {
      {kernel::KernelKind::Dense, LayerPatterns(4, HeadPattern::dense())},
      {kernel::KernelKind::Block,
       {HeadPattern::blockSparse(3), HeadPattern::aShape(0, 200),
        HeadPattern::dense(), HeadPattern::blockSparse(50)}},
      {kernel::KernelKind::VerticalSlash,
       LayerPatterns(4, HeadPattern::verticalSlash(30, 100, 32))}};
  for (const auto &[want, layer] : layers) {
    AttentionShape s;
    s.batch = 2;
    s.heads = 4;
    s.kvHeads = 1;
    s.seqLen = 3000;
    s.headDim = 128;
    RunStats stats;
    runAndCheck(*rt, s, ElemType::BF16, layer, 42, nullptr, &stats);
    if (HasFatalFailure())
      return;
    EXPECT_EQ(stats.kernel, want);
  }
}

/// Whether `rt`'s PTX directory has the file of `kernel` for its chip (an
/// older directory may lack a tier's or a width's kernel).
bool hasPtxFile(Runtime &rt, const std::string &kernel) {
  FILE *f = std::fopen((rt.ptxDir() + "/" + kernel + "." +
                        kernel::chipName(rt.device().chip) + ".ptx")
                           .c_str(),
                       "r");
  if (f)
    std::fclose(f);
  return f != nullptr;
}

/// The kernel a call asking for `rows` query rows per CTA runs: the paired
/// kernel where the chip has it and its PTX exists, else the 64-row one.
std::string kernelForRows(Runtime &rt, kernel::KernelKind kind, ElemType elem,
                          int64_t headDim, int64_t rows) {
  const kernel::Chip chip = rt.device().chip;
  kernel::TileConfig wide =
      kernel::TileConfig::tuned(kind, elem, headDim, chip, rows);
  if (rows != kernel::kBlockM && wide.validate().empty() &&
      hasPtxFile(rt, wide.kernelName()))
    return wide.kernelName();
  return kernel::TileConfig::tuned(kind, elem, headDim, chip).kernelName();
}

/// Options on `shared`'s PTX directory, after checking that 96 rows per CTA
/// (`rows`: the option) are refused.
RuntimeOptions rowOptions(Runtime &shared, int RuntimeOptions::*rows) {
  RuntimeOptions ro;
  ro.ptxDir = shared.ptxDir();
  ro.*rows = 96;
  std::unique_ptr<Runtime> rt;
  EXPECT_EQ(Runtime::create(&rt, ro).code(), ErrorCode::InvalidArgument);
  return ro;
}

/// A call of each sequence tier runs that tier's kernel where its PTX exists
/// (sm_90a: minfer_vs_kv_* from kMidSequence, the default one again from
/// kLongSequence, in launch waves; kernel::tunedFor) -- also right after a
/// shorter call loaded another kernel -- and matches the reference; a short
/// call after them runs the default kernel again.
TEST(CudaAttentionKernelChoice, LongSequenceAfterShortCall) {
  MINFER_REQUIRE_BACKEND(Backend::Generated, rt);
  const kernel::Chip chip = rt->device().chip;
  auto tuned = [&](int64_t n) {
    return kernel::TileConfig::tuned(kernel::KernelKind::VerticalSlash,
                                     ElemType::BF16, 64, chip, kernel::kBlockM,
                                     n);
  };
  const std::string shortName = tuned(4096).kernelName();
  // Each tier's kernel; without its file (an older PTX directory) the
  // default kernel serves.
  auto expected = [&](int64_t n) {
    std::string name = tuned(n).kernelName();
    return hasPtxFile(*rt, name) ? name : shortName;
  };
  const LayerPatterns layer{HeadPattern::verticalSlash(64, 128, 32)};
  for (int64_t n : {int64_t(4096), kernel::kMidSequence, kernel::kLongSequence,
                    int64_t(4097)}) {
    SCOPED_TRACE("N " + std::to_string(n));
    AttentionShape s;
    s.seqLen = n;
    RunStats stats;
    runAndCheck(*rt, s, ElemType::BF16, layer, 11, nullptr, &stats);
    if (HasFatalFailure())
      return;
    EXPECT_EQ(stats.attentionKernel, expected(n));
  }
}

/// Asked for (RuntimeOptions::blockSparseRows = 128 or 192), block-sparse
/// layers run the paired-query-block kernel (producer warp, TMA ring) where its PTX
/// exists (sm_90a), else the 64-row one, and match the reference -- with a
/// number of query blocks that is not a multiple of the CTA's (its last
/// warpgroups have no block), at D 128 and at D 96 (a TMA copy per
/// 64-column panel, the second one zero-filled past column 96). Other
/// values are InvalidArgument.
TEST(CudaAttentionKernelChoice, PairedBlockSparseOnRequest) {
  MINFER_REQUIRE_BACKEND(Backend::Generated, shared);
  RuntimeOptions ro = rowOptions(*shared, &RuntimeOptions::blockSparseRows);
  std::unique_ptr<Runtime> rt;
  for (int rows : {128, 192})
    for (int64_t D : {128, 96}) {
      ro.blockSparseRows = rows;
      MINFER_ASSERT_OK(Runtime::create(&rt, ro));
      const std::string want = kernelForRows(*rt, kernel::KernelKind::Block,
                                             ElemType::BF16, D, rows);
      for (int64_t n : {int64_t(4097), int64_t(3000)}) {
        for (int64_t topK : {int64_t(3), int64_t(1000)}) {
          SCOPED_TRACE("rows " + std::to_string(rows) + " D " +
                       std::to_string(D) + " N " + std::to_string(n) +
                       " top-k " + std::to_string(topK));
          const AttentionShape s = gqaShape(n, D);
          RunStats stats;
          runAndCheck(*rt, s, ElemType::BF16,
                      LayerPatterns(4, HeadPattern::blockSparse(topK)), 5,
                      nullptr, &stats);
          if (HasFatalFailure())
            return;
          EXPECT_EQ(stats.attentionKernel, want);
        }
      }
    }
}

/// Columns of `ix` at or past their query block's first row: the paired
/// vertical-slash kernel hands them over as one-key ranges.
int64_t lateColumns(const SparseIndex &ix) {
  int64_t late = 0;
  for (int64_t b = 0; b < ix.batch; ++b)
    for (int64_t h = 0; h < ix.heads; ++h)
      for (int64_t m = 0; m < ix.numBlocks(); ++m) {
        const int64_t row = ix.row(b, h, m);
        for (int64_t c = 0; c < ix.columnCount[row]; ++c)
          late += ix.columnIndex[row * ix.maxColumns + c] >= 64 * m;
      }
  return late;
}

/// Asked for (RuntimeOptions::verticalSlashRows = 192), vertical-slash
/// layers run the paired kernel (ranges through the TMA ring, column strips
/// gathered by the producer warp) where its PTX exists (sm_90a), else the
/// 64-row one, and match the reference: with few and many strips per block,
/// partial strips, a block count that is not a multiple of three, and --
/// without the always-kept diagonals -- columns inside their own block
/// (one-key ranges, masked causally). Other values are InvalidArgument.
TEST(CudaAttentionKernelChoice, PairedVerticalSlashOnRequest) {
  MINFER_REQUIRE_BACKEND(Backend::Generated, shared);
  RuntimeOptions ro = rowOptions(*shared, &RuntimeOptions::verticalSlashRows);
  std::unique_ptr<Runtime> rt;
  ro.verticalSlashRows = 192;
  MINFER_ASSERT_OK(Runtime::create(&rt, ro));
  VsOptions noDiagonal;
  noDiagonal.forcedSlash = 0;
  struct Case {
    HeadPattern pattern;
    VsOptions vs;
    bool late; ///< expects columns inside their own block
  };
  const Case cases[] = {
      {HeadPattern::verticalSlash(30, 100, 32), {}, false},
      {HeadPattern::verticalSlash(1000, 60), {}, false},
      {HeadPattern::verticalSlash(300, 8), noDiagonal, true}};
  for (int64_t D : {64, 96, 128}) {
    const ElemType elem = D == 64 ? ElemType::F16 : ElemType::BF16;
    const std::string want = kernelForRows(
        *rt, kernel::KernelKind::VerticalSlash, elem, D, 192);
    for (int64_t n : {int64_t(4097), int64_t(3000), int64_t(200)})
      for (const Case &c : cases) {
        SCOPED_TRACE("D " + std::to_string(D) + " N " + std::to_string(n) +
                     " " + c.pattern.str() + " forced slash " +
                     std::to_string(c.vs.forcedSlash));
        const AttentionShape s = gqaShape(n, D);
        RunStats stats;
        SparseIndex index;
        runAndCheck(*rt, s, elem, LayerPatterns(4, c.pattern), 7 + n, nullptr,
                    &stats, &index, c.vs);
        if (HasFatalFailure())
          return;
        EXPECT_EQ(stats.attentionKernel, want);
        if (n > 1000) {
          EXPECT_EQ(lateColumns(index) > 0, c.late);
        }
      }
  }
}

/// Asked for 192 rows with only the 64-row vertical-slash PTX at hand (a
/// directory without minfer_vs_m192_*), a call of kernel::kMidSequence
/// tokens falls back to its sequence tier's kernel, not to the default one,
/// and matches the reference.
TEST(CudaAttentionKernelChoice, PairedVerticalSlashFallsBackToTier) {
  MINFER_REQUIRE_BACKEND(Backend::Generated, shared);
  const kernel::Chip chip = shared->device().chip;
  const std::string chipName = kernel::chipName(chip);
  auto name = [&](int64_t rows, int64_t n) {
    return kernel::TileConfig::tuned(kernel::KernelKind::VerticalSlash,
                                     ElemType::BF16, 64, chip, rows, n)
        .kernelName();
  };
  const std::string tier = name(kernel::kBlockM, kernel::kMidSequence);
  if (!hasPtxFile(*shared, tier) || tier == name(kernel::kBlockM, 0))
    GTEST_SKIP() << "no sequence-tier kernel " << tier << " for " << chipName;
  char dirTemplate[] = "/tmp/minfer-ptx-XXXXXX";
  ASSERT_NE(::mkdtemp(dirTemplate), nullptr);
  const std::string dir = dirTemplate;
  std::vector<std::string> copied;
  for (const std::string &kernelName : {tier, name(kernel::kBlockM, 0)}) {
    const std::string file = "/" + kernelName + "." + chipName + ".ptx";
    std::FILE *in = std::fopen((shared->ptxDir() + file).c_str(), "rb");
    std::FILE *out = std::fopen((dir + file).c_str(), "wb");
    ASSERT_TRUE(in && out) << file;
    char buf[1 << 16];
    for (size_t got; (got = std::fread(buf, 1, sizeof buf, in)) > 0;)
      std::fwrite(buf, 1, got, out);
    std::fclose(in);
    std::fclose(out);
    copied.push_back(dir + file);
  }
  RuntimeOptions ro;
  ro.ptxDir = dir;
  ro.verticalSlashRows = 192;
  std::unique_ptr<Runtime> rt;
  MINFER_ASSERT_OK(Runtime::create(&rt, ro));
  AttentionShape s;
  s.seqLen = kernel::kMidSequence;
  RunStats stats;
  runAndCheck(*rt, s, ElemType::BF16,
              LayerPatterns{HeadPattern::verticalSlash(64, 128, 32)}, 19,
              nullptr, &stats);
  for (const std::string &f : copied)
    std::remove(f.c_str());
  ::rmdir(dir.c_str());
  EXPECT_EQ(stats.attentionKernel, tier);
}

/// Left to the runtime (blockSparseRows = 0), block-sparse layers of
/// kernel::kWideBlockSparse tokens or more run the 192-row kernel where its
/// PTX exists (sm_90a, kernel::defaultBlockSparseRows), shorter ones the
/// 64-row kernel, and both match the reference; blockSparseRows = 64 keeps
/// the 64-row kernel at any length. From kWideBlockSparse tokens either
/// kernel goes out in launch waves on sm_90a.
TEST(CudaAttentionKernelChoice, WideBlockSparseByLength) {
  MINFER_REQUIRE_BACKEND(Backend::Generated, shared);
  for (int rows : {0, 64}) {
    RuntimeOptions ro;
    ro.ptxDir = shared->ptxDir();
    ro.blockSparseRows = rows;
    std::unique_ptr<Runtime> rt;
    MINFER_ASSERT_OK(Runtime::create(&rt, ro));
    const kernel::Chip chip = rt->device().chip;
    auto expected = [&](int64_t n) {
      return kernelForRows(*rt, kernel::KernelKind::Block, ElemType::BF16, 64,
                           rows ? rows
                                : kernel::defaultBlockSparseRows(chip, n));
    };
    for (int64_t n : {int64_t(4096), kernel::kWideBlockSparse + 100}) {
      SCOPED_TRACE("rows " + std::to_string(rows) + " N " + std::to_string(n));
      AttentionShape s;
      s.seqLen = n;
      RunStats stats;
      runAndCheck(*rt, s, ElemType::BF16,
                  LayerPatterns{HeadPattern::blockSparse(5)}, 13, nullptr,
                  &stats);
      if (HasFatalFailure())
        return;
      EXPECT_EQ(stats.attentionKernel, expected(n));
      // From kWideBlockSparse, block-sparse heads launch in waves on sm_90a
      // (kernel::launchWavesFor): more launches than chunks.
      const int64_t blockM =
          rows ? rows : kernel::defaultBlockSparseRows(chip, n);
      const bool waves = kernel::launchWavesFor(kernel::KernelKind::Block,
                                                chip, n, true, blockM) > 0;
      EXPECT_EQ(stats.kernelLaunches > stats.chunks, waves)
          << stats.kernelLaunches << " launches, " << stats.chunks
          << " chunks";
    }
  }
}

/// Merged steps per visited tile of the 192-row kernel's CTAs over the
/// whole index, walked as its producer walks it (one tile per 64 keys of a
/// range from its start, an empty range one tile): what minfer_bs_sharing
/// measures on the GPU, computed independently here.
double tileSharingOf(const SparseIndex &ix) {
  const int64_t NB = ix.numBlocks();
  uint64_t steps = 0, visits = 0;
  for (int64_t b = 0; b < ix.batch; ++b)
    for (int64_t h = 0; h < ix.heads; ++h)
      for (int64_t g = 0; 3 * g < NB; ++g) {
        std::map<int64_t, int> starts; // tile start -> blocks visiting it
        for (int64_t m = 3 * g; m < std::min(NB, 3 * g + 3); ++m) {
          const int64_t row = ix.row(b, h, m);
          const int64_t n = std::clamp<int64_t>(ix.rangeCount[row], 0,
                                                ix.maxRanges);
          for (int64_t r = 0; r < n; ++r) {
            const int64_t lo = std::clamp<int64_t>(
                ix.ranges[(row * ix.maxRanges + r) * 2], 0, ix.seqLen);
            const int64_t hi = std::min<int64_t>(
                ix.ranges[(row * ix.maxRanges + r) * 2 + 1], ix.seqLen);
            int64_t t = lo;
            do {
              ++starts[t];
              t += 64;
            } while (t < hi);
          }
        }
        steps += starts.size();
        for (const auto &[start, count] : starts)
          visits += count;
      }
  return visits ? double(steps) / visits : 0.0;
}

/// From kernel::kAutoBlockSparseRows tokens below kWideBlockSparse, left
/// to the runtime (blockSparseRows = 0), a block-sparse call measures how
/// many tiles the 192-row kernel's blocks would share and picks that kernel
/// only when they share enough (kernel::blockSparseRowsForSharing): A-shape
/// heads (neighbouring blocks read almost the same tiles) take 192 rows,
/// random block-sparse heads (few shared tiles) 64. The measured sharing
/// matches a CPU walk of the call's index, and both kernels match the
/// reference. Off sm_90a (or without the 192-row PTX) nothing is measured.
TEST(CudaAttentionKernelChoice, MeasuredBlockSparseRows) {
  MINFER_REQUIRE_BACKEND(Backend::Generated, shared);
  RuntimeOptions ro;
  ro.ptxDir = shared->ptxDir();
  std::unique_ptr<Runtime> rt;
  MINFER_ASSERT_OK(Runtime::create(&rt, ro));
  const kernel::Chip chip = rt->device().chip;
  auto nameOf = [&](int64_t rows) {
    return kernel::TileConfig::tuned(kernel::KernelKind::Block, ElemType::BF16,
                                     64, chip, rows)
        .kernelName();
  };
  const bool measured =
      kernel::measuresBlockSparseRows(chip, kernel::kAutoBlockSparseRows) &&
      hasPtxFile(*rt, nameOf(3 * kernel::kBlockM));
  const std::pair<const char *, LayerPatterns> layers[] = {
      {"a-shape", LayerPatterns(2, HeadPattern::aShape(64, 1024))},
      {"block-sparse", LayerPatterns(2, HeadPattern::blockSparse(40))}};
  for (const auto &[what, layer] : layers) {
    SCOPED_TRACE(what);
    AttentionShape s;
    s.heads = 2;
    s.kvHeads = 1;
    s.seqLen = kernel::kAutoBlockSparseRows + 100;
    s.headDim = 64;
    RunStats stats;
    SparseIndex index;
    runAndCheck(*rt, s, ElemType::BF16, layer, 17, nullptr, &stats, &index);
    if (HasFatalFailure())
      return;
    if (!measured) {
      EXPECT_EQ(stats.tileSharing, 0.0);
      EXPECT_EQ(stats.attentionKernel, nameOf(kernel::kBlockM));
      continue;
    }
    EXPECT_DOUBLE_EQ(stats.tileSharing, tileSharingOf(index));
    EXPECT_EQ(stats.attentionKernel,
              nameOf(kernel::blockSparseRowsForSharing(stats.tileSharing)));
    if (std::string(what) == "a-shape")
      EXPECT_LT(stats.tileSharing, 0.45);
    else
      EXPECT_GT(stats.tileSharing, 0.8);
  }
}

/// Head dims other than 64 and 128: 96 has kernels of its own (128-column
/// tiles, rows of 96, MMAs over 96), other multiples of 8 up to 128 run on
/// zero-padded copies at kernel::kernelHeadDim (HeadDimPad.cpp; 32 -> 64,
/// 80 -> 96). Every pattern matches the reference at the call's own head
/// dim, on the kernel of kernelHeadDim; an index-only call leaves the output
/// untouched; and the generated D = 96 kernels' output equals bit for bit
/// the D = 128 kernels' output on the same tensors zero-padded by the test
/// (a zero column adds exact zeros to every score; the pooled scores sum in
/// the same order), through both entry points.
TEST_P(CudaAttention, OtherHeadDimsMatchReference) {
  MINFER_REQUIRE_BACKEND(GetParam(), rt);
  const LayerPatterns layer = mixedLayer();
  uint64_t seed = 77;
  for (int64_t D : {32, 80, 96})
    for (int64_t N : {100, 4097}) {
      const ElemType elem = N == 100 ? ElemType::F16 : ElemType::BF16;
      SCOPED_TRACE("N " + std::to_string(N) + " D " + std::to_string(D));
      RunStats stats;
      runAndCheck(*rt, gqaShape(N, D), elem, layer, seed++, nullptr, &stats);
      if (HasFatalFailure())
        return;
      const std::string kernelDim =
          "_d" + std::to_string(kernel::kernelHeadDim(D)) + "_";
      EXPECT_NE(stats.attentionKernel.find(kernelDim), std::string::npos)
          << stats.attentionKernel;
    }

  // Index only: the output is never written.
  const AttentionShape s = gqaShape(3000, 96);
  DeviceAttention da;
  MINFER_ASSERT_OK(da.create(*rt, s, ElemType::BF16, 0.1f, 5));
  MINFER_ASSERT_OK(da.poison(*rt));
  RunOptions o;
  o.indexOnly = true;
  MINFER_ASSERT_OK(rt->sparseAttention(da.tensors, layer, o));
  std::vector<float> out;
  MINFER_ASSERT_OK(da.downloadOut(&out));
  for (size_t i = 0; i < out.size(); ++i)
    ASSERT_TRUE(std::isnan(out[i])) << "output element " << i << " written";

  // The same call on tensors the test pads itself (head dim 128). The naive
  // stand-ins split D over the lanes (D / 32 columns each), so their sums
  // depend on D: only the generated kernels are compared bit for bit.
  if (GetParam() == Backend::Naive)
    return;
  MINFER_ASSERT_OK(rt->sparseAttention(da.tensors, layer));
  MINFER_ASSERT_OK(da.downloadOut(&out));
  AttentionShape ps = s;
  ps.headDim = 128;
  DeviceAttention pa;
  MINFER_ASSERT_OK(pa.create(*rt, ps, ElemType::BF16, 0.1f, 5));
  auto pad = [&](const HostTensor &from, const void *to) {
    std::vector<uint16_t> bits(from.bits.size() / 96 * 128, 0);
    for (size_t r = 0; r < from.bits.size() / 96; ++r)
      std::copy_n(from.bits.begin() + r * 96, 96, bits.begin() + r * 128);
    return rt->upload(const_cast<void *>(to), bits.data(), bits.size() * 2);
  };
  MINFER_ASSERT_OK(pad(da.hq, pa.tensors.q));
  MINFER_ASSERT_OK(pad(da.hk, pa.tensors.k));
  MINFER_ASSERT_OK(pad(da.hv, pa.tensors.v));
  std::vector<float> want;
  auto expectSameOutputs = [&](const char *what) {
    MINFER_ASSERT_OK(da.downloadOut(&out));
    MINFER_ASSERT_OK(pa.downloadOut(&want));
    for (size_t r = 0; r < out.size() / 96; ++r)
      for (int64_t d = 0; d < 96; ++d)
        ASSERT_EQ(out[r * 96 + d], want[r * 128 + d])
            << what << ": row " << r << ", column " << d;
  };
  MINFER_ASSERT_OK(rt->sparseAttention(pa.tensors, layer));
  expectSameOutputs("sparseAttention");
  // MInference's vertical_slash_sparse_attention entry, caller indices.
  std::vector<int32_t> vIdx, sIdx;
  for (int64_t h = 0; h < s.heads; ++h) {
    for (int32_t c : {0, 3, 64, 1000 + int32_t(h)})
      vIdx.push_back(c);
    for (int32_t o : {0, 1, 70, 500 + int32_t(h), 2999})
      sIdx.push_back(o);
  }
  MINFER_ASSERT_OK(verticalSlashFromHost(*rt, da.tensors, vIdx, sIdx, 4, 5));
  MINFER_ASSERT_OK(verticalSlashFromHost(*rt, pa.tensors, vIdx, sIdx, 4, 5));
  expectSameOutputs("verticalSlashAttention");
}

/// With every key selected, vs and block kernels must compute dense
/// attention.
TEST_P(CudaAttention, FullBudgetEqualsDense) {
  MINFER_REQUIRE_BACKEND(GetParam(), rt);
  AttentionShape s;
  s.heads = 2;
  s.kvHeads = 1;
  s.seqLen = 2000;
  s.headDim = 64;
  std::vector<float> dense, vs, bs;
  runAndCheck(*rt, s, ElemType::F16, LayerPatterns(2, HeadPattern::dense()), 7,
              &dense);
  runAndCheck(*rt, s, ElemType::F16,
              LayerPatterns(2, HeadPattern::verticalSlash(2000, 2000)), 7, &vs);
  runAndCheck(*rt, s, ElemType::F16,
              LayerPatterns(2, HeadPattern::blockSparse(1000)), 7, &bs);
  if (HasFatalFailure())
    return;
  ASSERT_EQ(dense.size(), vs.size());
  double errVs = 0, errBs = 0;
  for (size_t i = 0; i < dense.size(); ++i) {
    errVs = std::max<double>(errVs, std::fabs(dense[i] - vs[i]));
    errBs = std::max<double>(errBs, std::fabs(dense[i] - bs[i]));
  }
  EXPECT_LE(errVs, 2e-3);
  EXPECT_LE(errBs, 2e-3);
}

/// Launched in waves of one device-full of CTAs (RuntimeOptions::
/// launchWaves = 1: several launches, first_cta > 0 from the second), the
/// generated kernels -- dense, block-sparse and vertical-slash at 64 rows
/// and, where their PTX exists, 192 -- write the same output bits as one launch
/// of the whole grid (launchWaves = -1), and matches the reference. Waves
/// outside -1..64, or a $MINFER_LAUNCH_WAVES that is not such a number, are
/// InvalidArgument.
TEST(CudaAttentionLaunch, WavesEqualOneLaunch) {
  MINFER_REQUIRE_BACKEND(Backend::Generated, shared);
  RuntimeOptions ro;
  ro.ptxDir = shared->ptxDir();
  std::unique_ptr<Runtime> bad;
  for (int waves : {-2, 65}) {
    ro.launchWaves = waves;
    EXPECT_EQ(Runtime::create(&bad, ro).code(), ErrorCode::InvalidArgument);
  }
  ro.launchWaves = 0; // the environment's, then
  for (const char *env : {"two", "1x", "-5", "100"}) {
    ::setenv("MINFER_LAUNCH_WAVES", env, 1);
    EXPECT_EQ(Runtime::create(&bad, ro).code(), ErrorCode::InvalidArgument)
        << "MINFER_LAUNCH_WAVES=" << env;
  }
  ::unsetenv("MINFER_LAUNCH_WAVES");
  struct Case {
    HeadPattern pattern;
    int rows; ///< block-sparse and vertical-slash rows per CTA
  };
  const Case cases[] = {{HeadPattern::dense(), 64},
                        {HeadPattern::blockSparse(40), 64},
                        {HeadPattern::blockSparse(40), 192},
                        {HeadPattern::verticalSlash(300, 400), 64},
                        {HeadPattern::verticalSlash(300, 400), 192},
                        {HeadPattern::aShape(128, 1024), 192}};
  // 256 query blocks x 4 heads: two or more device-fulls of every kernel
  // on an H100 (64-row sparse CTAs: 4 per SM; 192-row and dense: 1 and 2).
  const AttentionShape s = gqaShape(16384, 128);
  for (const Case &c : cases) {
    SCOPED_TRACE(c.pattern.str() + " rows " + std::to_string(c.rows));
    std::vector<float> out[2];
    RunStats stats[2];
    for (int waves : {-1, 1}) {
      ro.launchWaves = waves;
      ro.blockSparseRows = ro.verticalSlashRows = c.rows;
      std::unique_ptr<Runtime> rt;
      MINFER_ASSERT_OK(Runtime::create(&rt, ro));
      runAndCheck(*rt, s, ElemType::BF16, LayerPatterns(4, c.pattern), 11,
                  &out[waves > 0], &stats[waves > 0]);
      if (HasFatalFailure())
        return;
    }
    EXPECT_EQ(stats[0].attentionKernel, stats[1].attentionKernel);
    EXPECT_EQ(stats[0].kernelLaunches, stats[0].chunks);
    EXPECT_GT(stats[1].kernelLaunches, stats[1].chunks);
    ASSERT_EQ(out[0].size(), out[1].size());
    size_t differ = 0;
    for (size_t i = 0; i < out[0].size(); ++i)
      differ += std::memcmp(&out[0][i], &out[1][i], sizeof(float)) != 0;
    EXPECT_EQ(differ, 0u);
  }
}

/// RunOptions::denseFallback above the probe length. A call decides on its
/// own index, between a chunk's index and its kernel: the dense kernel when
/// the kept fraction reaches the threshold, its sparse kernels when it
/// cannot (DenseFallback) -- the same output bits as a call without the
/// fallback. With two head chunks (a small workspace budget) the first one
/// decides a high threshold; a threshold near the density needs both: the
/// first chunk holds its kernel, the second decides, and a sparse verdict
/// runs the call again -- each chunk's index built at most twice
/// (RunStats::indexBuilds).
TEST(CudaAttentionLaunch, DenseFallbackDecidesOnTheCallsIndex) {
  MINFER_REQUIRE_BACKEND(Backend::Generated, shared);
  AttentionShape s;
  s.heads = s.kvHeads = 4;
  s.seqLen = 4096;
  s.headDim = 128;
  DeviceAttention da;
  MINFER_ASSERT_OK(
      da.create(*shared, s, ElemType::BF16, 1.0f / std::sqrt(128.0f), 7));
  const LayerPatterns sparse(4, HeadPattern::verticalSlash(64, 64));
  auto call = [&](const LayerPatterns &layer, double threshold,
                  int64_t budget, RunStats *stats,
                  std::vector<uint16_t> *bits) {
    MINFER_ASSERT_OK(da.poison(*shared));
    RunOptions o;
    o.denseFallback = threshold;
    o.denseFallbackProbeLen = 0; // always measure
    o.workspaceBudget = budget;
    o.countKept = true;
    o.stats = stats;
    MINFER_ASSERT_OK(shared->sparseAttention(da.tensors, layer, o));
    MINFER_ASSERT_OK(shared->synchronize());
    MINFER_ASSERT_OK(da.downloadOutBits(bits));
  };
  RunStats plain, dense;
  std::vector<uint16_t> plainBits, denseBits;
  call(sparse, 0.0, 0, &plain, &plainBits);
  call(LayerPatterns(4, HeadPattern::dense()), 0.0, 0, &dense, &denseBits);
  if (HasFatalFailure())
    return;
  const double causal = 4.0 * s.seqLen * (s.seqLen + 1) / 2;
  const double density = plain.keptPairs / causal;
  ASSERT_GT(density, 0.05);
  ASSERT_LT(density, 0.95);
  ASSERT_EQ(plain.chunks, 1);
  // A budget of about half a call's workspace splits it into head chunks.
  for (int64_t budget : {int64_t(0), plain.workspaceBytes / 2}) {
    SCOPED_TRACE("budget " + std::to_string(budget));
    RunStats st;
    std::vector<uint16_t> bits;
    for (double threshold : {density + 0.02, 0.99}) { // stays sparse
      SCOPED_TRACE("threshold " + std::to_string(threshold));
      call(sparse, threshold, budget, &st, &bits);
      if (HasFatalFailure())
        return;
      EXPECT_EQ(st.chunks > 1, budget > 0);
      EXPECT_FALSE(st.denseFallback);
      EXPECT_EQ(st.attentionKernel, plain.attentionKernel);
      EXPECT_EQ(st.keptPairs, plain.keptPairs);
      EXPECT_TRUE(bits == plainBits);
      // Near the density only the last chunk decides (every chunk's kernel
      // held, then the call again); 0.99 is ruled out by the first chunk.
      const bool rerun = st.chunks > 1 && threshold < 0.99;
      EXPECT_EQ(st.indexBuilds, (rerun ? 2 : 1) * st.chunks);
    }
    const int64_t chunks = st.chunks;
    call(sparse, density - 0.02, budget, &st, &bits); // falls back
    if (HasFatalFailure())
      return;
    EXPECT_TRUE(st.denseFallback);
    EXPECT_EQ(st.attentionKernel, dense.attentionKernel);
    EXPECT_TRUE(bits == denseBits);
    // Counted once, up to the chunk that reached the threshold: the last.
    EXPECT_EQ(st.indexBuilds, chunks);
  }
}

INSTANTIATE_TEST_SUITE_P(Backends, CudaAttention,
                         ::testing::Values(Backend::Naive, Backend::Generated),
                         [](const ::testing::TestParamInfo<Backend> &i) {
                           return backendName(i.param);
                         });

TEST(CudaAttentionErrors, MissingPtxNamesTheFile) {
  RuntimeOptions ro;
  ro.ptxDir = "/nonexistent-minfer-ptx";
  std::unique_ptr<Runtime> rt;
  Status st = Runtime::create(&rt, ro);
  if (!st.ok())
    GTEST_SKIP() << "no GPU runtime: " << st.str();
  AttentionShape s;
  s.seqLen = 100;
  s.headDim = 128;
  DeviceAttention da;
  MINFER_ASSERT_OK(da.create(*rt, s, ElemType::BF16, 0.1f, 1));
  st = rt->sparseAttention(da.tensors, {HeadPattern::dense()});
  EXPECT_EQ(st.code(), ErrorCode::PtxLoadFailed);
  EXPECT_NE(st.message().find("/nonexistent-minfer-ptx/minfer_dense_d128_bf16.sm_"),
            std::string::npos)
      << st.message();
  // Index-only calls need no attention PTX.
  RunOptions o;
  o.indexOnly = true;
  EXPECT_TRUE(rt->sparseAttention(da.tensors, {HeadPattern::blockSparse(1)}, o).ok());
  // Bad PTX: the JIT's log comes back.
  kernel::TileConfig cfg;
  st = rt->addKernelPtx(cfg, ".version 8.0\n.target sm_80\nthis is not ptx\n");
  EXPECT_EQ(st.code(), ErrorCode::PtxLoadFailed);
  EXPECT_NE(st.message().find("cuModuleLoadDataEx"), std::string::npos);
}

/// The C API's MInference entry points compute what the C++ API computes.
TEST(CudaAttentionCApi, MatchesCppApi) {
  Status st;
  Runtime *rt = naiveRuntime(&st);
  if (!rt)
    GTEST_SKIP() << "no GPU runtime: " << st.str();
  minfer_runtime_t crt = nullptr;
  ASSERT_EQ(minfer_runtime_create(&crt, 0, "/nonexistent-minfer-ptx"), MINFER_OK)
      << minfer_last_error_message();
  const EmbeddedPtx *naive = findEmbeddedPtx(kTestKernelPtx, "NaiveAttention");
  ASSERT_NE(naive, nullptr);
  for (int kind = 0; kind < 3; ++kind)
    ASSERT_EQ(minfer_add_kernel_ptx(crt, kind, MINFER_F16, 64, naive->text),
              MINFER_OK)
        << minfer_last_error_message();

  AttentionShape s;
  s.heads = 2;
  s.kvHeads = 1;
  s.seqLen = 1500;
  s.headDim = 64;
  const float scale = 0.125f; // = 1/sqrt(64), what scale 0 means in the C API
  DeviceAttention da;
  MINFER_ASSERT_OK(da.create(*rt, s, ElemType::F16, scale, 21));
  const AttentionTensors &t = da.tensors;
  std::vector<float> want, got;

  // Streaming (A-shape).
  MINFER_ASSERT_OK(rt->sparseAttention(t, LayerPatterns(2, HeadPattern::aShape(4, 256))));
  MINFER_ASSERT_OK(da.downloadOut(&want));
  MINFER_ASSERT_OK(da.poison(*rt));
  ASSERT_EQ(minfer_streaming_attention(crt, t.q, t.k, t.v, t.out, 4, 256, 1, 2,
                                       1, 1500, 64, MINFER_F16, 0.0f, nullptr),
            MINFER_OK)
      << minfer_last_error_message();
  MINFER_ASSERT_OK(rt->synchronize());
  MINFER_ASSERT_OK(da.downloadOut(&got));
  EXPECT_EQ(got, want);

  // Block sparse.
  MINFER_ASSERT_OK(rt->sparseAttention(t, LayerPatterns(2, HeadPattern::blockSparse(5))));
  MINFER_ASSERT_OK(da.downloadOut(&want));
  MINFER_ASSERT_OK(da.poison(*rt));
  ASSERT_EQ(minfer_block_sparse_attention(crt, t.q, t.k, t.v, t.out, 5, 1, 2, 1,
                                          1500, 64, MINFER_F16, 0.0f, nullptr),
            MINFER_OK)
      << minfer_last_error_message();
  MINFER_ASSERT_OK(rt->synchronize());
  MINFER_ASSERT_OK(da.downloadOut(&got));
  EXPECT_EQ(got, want);

  // Mixed patterns through the struct array.
  minfer_head_pattern_t cp[2] = {};
  cp[0].kind = MINFER_VERTICAL_SLASH;
  cp[0].vertical = 50;
  cp[0].slash = 70;
  cp[1].kind = MINFER_BLOCK_SPARSE;
  cp[1].top_k = 3;
  MINFER_ASSERT_OK(rt->sparseAttention(
      t, {HeadPattern::verticalSlash(50, 70, 64), HeadPattern::blockSparse(3)}));
  MINFER_ASSERT_OK(da.downloadOut(&want));
  MINFER_ASSERT_OK(da.poison(*rt));
  ASSERT_EQ(minfer_sparse_attention(crt, t.q, t.k, t.v, t.out, 1, 2, 1, 1500, 64,
                                    MINFER_F16, 0.0f, cp, 2, nullptr),
            MINFER_OK)
      << minfer_last_error_message();
  MINFER_ASSERT_OK(rt->synchronize());
  MINFER_ASSERT_OK(da.downloadOut(&got));
  EXPECT_EQ(got, want);

  // Options and stats (minfer_sparse_attention_ex) against the C++ call with
  // the same options: vertical-slash budgets that bound the density above
  // 0.9 fall back to the dense kernel; block-sparse top-3 stays sparse.
  for (const minfer_head_pattern_t &head : {cp[0], cp[1]}) {
    const bool fallsBack = head.kind == MINFER_VERTICAL_SLASH;
    SCOPED_TRACE(fallsBack ? "vertical-slash" : "block-sparse");
    const minfer_head_pattern_t both[2] = {head, head};
    const HeadPattern hp = fallsBack ? HeadPattern::verticalSlash(50, 70, 64)
                                     : HeadPattern::blockSparse(3);
    RunStats cppStats;
    RunOptions fo;
    fo.denseFallback = 0.9;
    fo.countKept = true;
    fo.stats = &cppStats;
    MINFER_ASSERT_OK(rt->sparseAttention(t, LayerPatterns(2, hp), fo));
    MINFER_ASSERT_OK(da.downloadOut(&want));
    ASSERT_EQ(cppStats.denseFallback, fallsBack);
    MINFER_ASSERT_OK(da.poison(*rt));
    minfer_run_options_t co{};
    co.dense_fallback = 0.9;
    co.timing = co.count_kept = 1;
    minfer_run_stats_t cs{};
    ASSERT_EQ(minfer_sparse_attention_ex(crt, t.q, t.k, t.v, t.out, 1, 2, 1,
                                         1500, 64, MINFER_F16, 0.0f, both, 2,
                                         &co, &cs, nullptr),
              MINFER_OK)
        << minfer_last_error_message();
    MINFER_ASSERT_OK(rt->synchronize());
    MINFER_ASSERT_OK(da.downloadOut(&got));
    EXPECT_EQ(got, want);
    EXPECT_EQ(cs.dense_fallback, fallsBack ? 1 : 0);
    EXPECT_EQ(cs.kept_pairs, cppStats.keptPairs);
    EXPECT_DOUBLE_EQ(cs.density, cppStats.keptPairs / (2.0 * 1500 * 1501 / 2));
    if (fallsBack)
      EXPECT_EQ(cs.density, 1.0);
    else
      EXPECT_LT(cs.density, 0.5);
    EXPECT_EQ(cs.chunks, cppStats.chunks);
    EXPECT_EQ(cs.index_builds, fallsBack ? 0 : cs.chunks);
    EXPECT_GT(cs.kernel_launches, 0);
    EXPECT_GT(cs.kernel_ms, 0.0f);
    EXPECT_NE(std::string(cs.attention_kernel)
                  .find(fallsBack ? "_dense_" : "_block_"),
              std::string::npos)
        << cs.attention_kernel;
  }

  // Vertical-slash with caller indices, descending offsets as MInference.
  std::vector<int32_t> vIdx, sIdx;
  for (int h = 0; h < 2; ++h) {
    for (int i = 0; i < 20; ++i)
      vIdx.push_back((i * 37 + h) % 1500);
    for (int i = 0; i < 10; ++i)
      sIdx.push_back((9 - i) * 41 * (h + 1));
  }
  DeviceBuffer dv, ds;
  MINFER_ASSERT_OK(uploadInts(*rt, vIdx, &dv));
  MINFER_ASSERT_OK(uploadInts(*rt, sIdx, &ds));
  const auto *dvp = static_cast<const int32_t *>(dv.get());
  const auto *dsp = static_cast<const int32_t *>(ds.get());
  SparseIndex index;
  RunOptions o;
  o.indexOut = &index;
  MINFER_ASSERT_OK(rt->verticalSlashAttention(t, dvp, dsp, 20, 10, o));
  MINFER_ASSERT_OK(da.downloadOut(&want));
  for (int64_t h = 0; h < 2; ++h) {
    std::vector<int64_t> rows = sampleRows(1500, 1500, 1500, 1);
    std::vector<float> ref;
    MINFER_ASSERT_OK(referenceRows(s, da.hq.values, da.hk.values, da.hv.values,
                                   scale, index, 0, h, rows, &ref));
    for (size_t x = 0; x < rows.size(); ++x)
      for (int64_t d = 0; d < 64; ++d)
        ASSERT_NEAR(want[(h * 1500 + rows[x]) * 64 + d], ref[x * 64 + d], 1e-2);
  }
  MINFER_ASSERT_OK(da.poison(*rt));
  ASSERT_EQ(minfer_vertical_slash_attention(crt, t.q, t.k, t.v, t.out, dvp, dsp,
                                            20, 10, 1, 2, 1, 1500, 64,
                                            MINFER_F16, 0.0f, nullptr),
            MINFER_OK)
      << minfer_last_error_message();
  MINFER_ASSERT_OK(rt->synchronize());
  MINFER_ASSERT_OK(da.downloadOut(&got));
  EXPECT_EQ(got, want);
  EXPECT_EQ(minfer_runtime_destroy(crt), MINFER_OK);
}

} // namespace
} // namespace minfer::cuda::testing
