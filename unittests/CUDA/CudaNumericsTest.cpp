//===- CudaNumericsTest.cpp - numerical edge cases on the GPU -------------===//
//
// What a user may feed that a random [-1, 1) test never does:
//   - large magnitudes: q, k, v up to |x| = 1e3 (logits ~1e7): every output
//     is finite and, being a convex combination of value rows, within the
//     value range of its head (the online softmax must rescale, never
//     overflow);
//   - rows whose whole sparse set is masked (caller-chosen vertical-slash
//     indices that no key of the row satisfies): the output row is exactly
//     zero -- the definition the kernels and the CPU reference share -- and
//     the rows that do see keys stay correct;
//   - determinism: the same call twice, and again after a different call
//     has reused the workspace, gives bit-identical outputs and indices
//     (no atomics decide a result).
// GPU-only; skipped without a device or, for the generated backend, without
// the generated PTX.
//
//===----------------------------------------------------------------------===//
#include "CudaTestUtil.h"

#include <cmath>
#include <cstring>

namespace minfer::cuda::testing {
namespace {

using kernel::ElemType;
using kernel::KernelKind;

/// One layer per kernel kind, mixing patterns across 4 heads.
std::vector<std::pair<KernelKind, LayerPatterns>> layersPerKernel() {
  return {{KernelKind::Dense, LayerPatterns(4, HeadPattern::dense())},
          {KernelKind::Block,
           {HeadPattern::blockSparse(4), HeadPattern::aShape(64, 256),
            HeadPattern::dense(), HeadPattern::blockSparse(1)}},
          {KernelKind::VerticalSlash,
           {HeadPattern::verticalSlash(64, 200, 32),
            HeadPattern::verticalSlash(500, 500, 16),
            HeadPattern::blockSparse(3), HeadPattern::aShape(0, 128)}}};
}

AttentionShape shape(int64_t N, int64_t D, int64_t H = 4, int64_t Hkv = 2) {
  AttentionShape s;
  s.heads = H;
  s.kvHeads = Hkv;
  s.seqLen = N;
  s.headDim = D;
  return s;
}

class CudaNumerics : public ::testing::TestWithParam<Backend> {};

TEST_P(CudaNumerics, LargeMagnitudesStayFiniteAndBounded) {
  MINFER_REQUIRE_BACKEND(GetParam(), rt);
  uint64_t seed = 100;
  for (const auto &[kind, layer] : layersPerKernel())
    for (int64_t D : {64, 96, 128})
      for (ElemType elem : {ElemType::BF16, ElemType::F16}) {
        SCOPED_TRACE(std::string(kernel::kernelKindName(kind)) + " D " +
                     std::to_string(D) + " " + kernel::elemTypeName(elem));
        const AttentionShape s = shape(777, D);
        DeviceAttention da;
        MINFER_ASSERT_OK(da.create(*rt, s, elem, 1.0f / std::sqrt(float(D)),
                                   seed++, /*magnitude=*/1000.0f));
        MINFER_ASSERT_OK(da.poison(*rt));
        RunStats stats;
        RunOptions o;
        o.stats = &stats;
        MINFER_ASSERT_OK(rt->sparseAttention(da.tensors, layer, o));
        std::vector<float> out;
        MINFER_ASSERT_OK(da.downloadOut(&out));
        EXPECT_EQ(stats.kernel, kind);
        const int64_t N = s.seqLen;
        for (int64_t h = 0; h < s.heads; ++h) {
          // Per-dimension value range of the kv head; outputs are convex
          // combinations of its rows (1 % slack for the 16-bit rounding).
          const float *V = da.hv.values.data() + s.kvHeadOf(h) * N * D;
          std::vector<float> lo(D, INFINITY), hi(D, -INFINITY);
          for (int64_t j = 0; j < N; ++j)
            for (int64_t d = 0; d < D; ++d) {
              lo[d] = std::min(lo[d], V[j * D + d]);
              hi[d] = std::max(hi[d], V[j * D + d]);
            }
          int64_t bad = 0;
          for (int64_t i = 0; i < N; ++i)
            for (int64_t d = 0; d < D; ++d) {
              const float x = out[(h * N + i) * D + d];
              const float slack = 0.01f * std::max(std::fabs(lo[d]), std::fabs(hi[d]));
              bad += !std::isfinite(x) || x < lo[d] - slack || x > hi[d] + slack;
            }
          EXPECT_EQ(bad, 0) << "head " << h << " (" << layer[h].str() << ")";
        }
      }
}

/// Row i of the causal mask sees keys j <= i; vertical column N-1 and slash
/// offsets outside [0, N) leave every row but the last with no key.
TEST_P(CudaNumerics, FullyMaskedRowsAreZero) {
  MINFER_REQUIRE_BACKEND(GetParam(), rt);
  uint64_t seed = 300;
  for (int64_t N : {64, 200, 4097})
    for (int64_t D : {64, 96, 128})
      for (ElemType elem : {ElemType::BF16, ElemType::F16}) {
        SCOPED_TRACE("N " + std::to_string(N) + " D " + std::to_string(D) +
                     " " + kernel::elemTypeName(elem));
        const AttentionShape s = shape(N, D, 2, 1);
        DeviceAttention da;
        MINFER_ASSERT_OK(
            da.create(*rt, s, elem, 1.0f / std::sqrt(float(D)), seed++));
        MINFER_ASSERT_OK(da.poison(*rt));
        // Head 0: only column N - 1 (seen by row N - 1 alone). Head 1: column
        // 0 (every row sees it: a one-key softmax returns v[0] exactly).
        const std::vector<int32_t> vIdx = {int32_t(N - 1), 0};
        const std::vector<int32_t> sIdx = {int32_t(N + 5), int32_t(N + 5)};
        MINFER_ASSERT_OK(
            verticalSlashFromHost(*rt, da.tensors, vIdx, sIdx, 1, 1));
        std::vector<float> out;
        MINFER_ASSERT_OK(da.downloadOut(&out));
        const float *V = da.hv.values.data();
        int64_t nonZero = 0, wrongLast = 0, wrongSink = 0;
        for (int64_t i = 0; i < N; ++i)
          for (int64_t d = 0; d < D; ++d) {
            const float h0 = out[i * D + d], h1 = out[(N + i) * D + d];
            if (i < N - 1)
              nonZero += h0 != 0.0f; // also catches NaN and unwritten
            else
              wrongLast += h0 != V[(N - 1) * D + d];
            wrongSink += h1 != V[d];
          }
        EXPECT_EQ(nonZero, 0) << "rows with no key must be exactly zero";
        EXPECT_EQ(wrongLast, 0) << "the last row sees one key: v[N-1]";
        EXPECT_EQ(wrongSink, 0) << "every row of head 1 sees one key: v[0]";
      }
}

TEST_P(CudaNumerics, RerunsAreBitIdentical) {
  MINFER_REQUIRE_BACKEND(GetParam(), rt);
  const auto layers = layersPerKernel();
  for (int64_t N : {1000, 8193})
    for (const auto &[kind, layer] : layers) {
      SCOPED_TRACE(std::string(kernel::kernelKindName(kind)) + " N " +
                   std::to_string(N));
      const AttentionShape s = shape(N, 128);
      DeviceAttention da;
      MINFER_ASSERT_OK(da.create(*rt, s, ElemType::BF16, 0.088f, N + 7));
      std::vector<uint16_t> first, again;
      SparseIndex firstIndex, againIndex;
      RunOptions o;
      o.indexOut = &firstIndex;
      MINFER_ASSERT_OK(rt->sparseAttention(da.tensors, layer, o));
      MINFER_ASSERT_OK(da.downloadOutBits(&first));
      for (int rerun = 0; rerun < 2; ++rerun) {
        if (rerun == 1) // another call dirties the reused workspace
          MINFER_ASSERT_OK(rt->sparseAttention(da.tensors, layers[2].second));
        MINFER_ASSERT_OK(da.poison(*rt));
        o.indexOut = &againIndex;
        MINFER_ASSERT_OK(rt->sparseAttention(da.tensors, layer, o));
        MINFER_ASSERT_OK(da.downloadOutBits(&again));
        ASSERT_EQ(first.size(), again.size());
        EXPECT_EQ(std::memcmp(first.data(), again.data(), first.size() * 2), 0)
            << "rerun " << rerun << ": output bits differ";
        EXPECT_EQ(indexRowMismatches(firstIndex, againIndex), 0)
            << "rerun " << rerun << ": index differs";
      }
    }
}

INSTANTIATE_TEST_SUITE_P(Backends, CudaNumerics,
                         ::testing::Values(Backend::Naive, Backend::Generated),
                         [](const ::testing::TestParamInfo<Backend> &i) {
                           return backendName(i.param);
                         });

} // namespace
} // namespace minfer::cuda::testing
