//===- CudaOperandLayoutTest.cpp - structured operands pin each GEMM ------===//
//
// Random inputs tell that a kernel is wrong, not where. These inputs make
// each half of the kernel checkable on its own (dense layer, every D and
// dtype, 130 rows: a partial last query block and key tile):
//   - uniform scores (Q = 0): out[i] is the mean of V[0..i], so only
//     O += P V and the softmax normalization matter;
//   - one-hot scores: K[j] = c e_(j mod D), Q[i] = c e_(i mod D) with c^2
//     scale = 30, so row i attends (to 1e-13) only to keys j <= i with
//     j = i mod D: S = Q K^T must place every head dimension right.
// A failure prints the worst error per 8-column group of D and per row of
// the 16-row warp tile, which points at a fragment or swizzle mistake.
//
//===----------------------------------------------------------------------===//
#include "CudaTestUtil.h"

#include <cmath>

namespace minfer::cuda::testing {
namespace {

using kernel::ElemType;

enum class Scores { Uniform, OneHot };

void runCase(Runtime &rt, int64_t D, ElemType elem, Scores scores) {
  AttentionShape s;
  s.heads = s.kvHeads = 1;
  s.seqLen = 130;
  s.headDim = D;
  const int64_t N = s.seqLen;
  const float scale = 1.0f / std::sqrt(float(D));
  DeviceAttention da;
  MINFER_ASSERT_OK(da.create(rt, s, elem, scale, /*seed=*/7));
  const float c = std::sqrt(30.0f / scale);
  for (int64_t i = 0; i < N; ++i)
    for (int64_t d = 0; d < D; ++d) {
      bool hot = scores == Scores::OneHot && d == i % D;
      setValue(da.hq, i * D + d, hot ? c : 0.0f, elem);
      setValue(da.hk, i * D + d, hot ? c : 0.0f, elem);
    }
  MINFER_ASSERT_OK(da.q.upload(da.hq.bits.data(), da.hq.bits.size() * 2));
  MINFER_ASSERT_OK(da.k.upload(da.hk.bits.data(), da.hk.bits.size() * 2));
  MINFER_ASSERT_OK(rt.sparseAttention(da.tensors, {HeadPattern::dense()}, {}));
  std::vector<float> out, want;
  MINFER_ASSERT_OK(da.downloadOut(&out));
  MINFER_ASSERT_OK(ref::denseAttention(s, da.hq.values, da.hk.values,
                                       da.hv.values, scale, want));
  std::vector<float> byGroup(D / 8, 0.0f), byRow(16, 0.0f);
  float worst = 0.0f;
  for (int64_t i = 0; i < N; ++i)
    for (int64_t d = 0; d < D; ++d) {
      float err = std::fabs(out[i * D + d] - want[i * D + d]);
      byGroup[d / 8] = std::max(byGroup[d / 8], err);
      byRow[i % 16] = std::max(byRow[i % 16], err);
      worst = std::max(worst, err);
    }
  std::string where = "worst error per 8 columns:";
  for (float e : byGroup)
    where += " " + std::to_string(e).substr(0, 6);
  where += "; per row of the 16-row warp tile:";
  for (float e : byRow)
    where += " " + std::to_string(e).substr(0, 6);
  // Values are in [-1, 1); 16-bit outputs of a mean carry ~2^-8 error.
  EXPECT_LE(worst, 2e-2f) << where;
}

void runEveryShape(Runtime &rt, Scores scores) {
  for (int64_t D : {64, 96, 128})
    for (ElemType elem : {ElemType::BF16, ElemType::F16}) {
      SCOPED_TRACE("D " + std::to_string(D) + " " + kernel::elemTypeName(elem));
      runCase(rt, D, elem, scores);
    }
}

class CudaOperandLayout : public ::testing::TestWithParam<Backend> {};

TEST_P(CudaOperandLayout, UniformScoresGiveRunningMeans) {
  MINFER_REQUIRE_BACKEND(GetParam(), rt);
  runEveryShape(*rt, Scores::Uniform);
}

TEST_P(CudaOperandLayout, OneHotScoresSelectKeys) {
  MINFER_REQUIRE_BACKEND(GetParam(), rt);
  runEveryShape(*rt, Scores::OneHot);
}

INSTANTIATE_TEST_SUITE_P(Backends, CudaOperandLayout,
                         ::testing::Values(Backend::Naive, Backend::Generated),
                         [](const ::testing::TestParamInfo<Backend> &i) {
                           return backendName(i.param);
                         });

} // namespace
} // namespace minfer::cuda::testing
