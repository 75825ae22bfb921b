//===- CudaTopKTest.cpp - ctaTopK against ref::topK -------------*- C++ -*-===//
//
// The block-sparse selection's CTA top-k (TopK.cuh) on crafted rows, through
// the test kernel minfer_test_cta_topk: its candidate path (rows up to 16K,
// including exact ties and the fallback when too many scores share a top
// byte) and the full-row radix select must both select exactly what
// ref::topK selects.
//
//===----------------------------------------------------------------------===//
#include "CudaTestUtil.h"
#include "DriverApi.h"
#include "minfer/Runtime/Reference.h"

#include <algorithm>
#include <cmath>
#include <random>

namespace minfer::cuda::testing {
namespace {

struct Row {
  std::vector<float> scores;
  int k;
};

/// ctaTopK over each row (bitmaps: the candidate path where it applies);
/// selections[r] holds min(k, n) indices.
Status runTopK(Runtime &rt, const std::vector<Row> &rows, int forced,
               bool bitmaps, std::vector<std::vector<int32_t>> *selections) {
  DeviceContext context;
  MINFER_RETURN_IF_ERROR(context.enter(rt));
  const DriverApi *api = &context.api();
  static CUmodule module = nullptr;
  static CUfunction fn = nullptr;
  if (!fn) {
    MINFER_RETURN_IF_ERROR(loadTestModule(*api, "TopKTest", &module));
    MINFER_CU(*api, cuModuleGetFunction, &fn, module, "minfer_test_cta_topk");
  }
  long long ld = 4;
  for (const Row &r : rows)
    ld = std::max<long long>(ld, (r.scores.size() + 3) / 4 * 4);
  const int R = static_cast<int>(rows.size());
  std::vector<float> scores(R * ld, 0.0f);
  std::vector<int32_t> ns(R), ks(R), out(R * ld, -1);
  for (int r = 0; r < R; ++r) {
    std::copy(rows[r].scores.begin(), rows[r].scores.end(),
              scores.begin() + r * ld);
    ns[r] = static_cast<int32_t>(rows[r].scores.size());
    ks[r] = rows[r].k;
  }
  DeviceBuffer ds, dn, dk, dout;
  MINFER_RETURN_IF_ERROR(ds.allocate(rt, scores.size() * 4));
  MINFER_RETURN_IF_ERROR(ds.upload(scores.data(), scores.size() * 4));
  MINFER_RETURN_IF_ERROR(uploadInts(rt, ns, &dn));
  MINFER_RETURN_IF_ERROR(uploadInts(rt, ks, &dk));
  MINFER_RETURN_IF_ERROR(uploadInts(rt, out, &dout));
  CUdeviceptr ps = reinterpret_cast<CUdeviceptr>(ds.get()),
              pn = reinterpret_cast<CUdeviceptr>(dn.get()),
              pk = reinterpret_cast<CUdeviceptr>(dk.get()),
              po = reinterpret_cast<CUdeviceptr>(dout.get());
  int useBitmaps = bitmaps ? 1 : 0;
  void *args[] = {&ps, &ld, &pn, &pk, &forced, &useBitmaps, &po};
  MINFER_CU(*api, cuLaunchKernel, fn, R, 1, 1, 256, 1, 1, 0, nullptr, args,
            nullptr);
  MINFER_RETURN_IF_ERROR(rt.synchronize());
  MINFER_RETURN_IF_ERROR(dout.download(out.data(), out.size() * 4));
  selections->assign(R, {});
  for (int r = 0; r < R; ++r)
    (*selections)[r].assign(out.begin() + r * ld,
                            out.begin() + r * ld + std::min(ks[r], ns[r]));
  return Status::success();
}

std::vector<Row> craftedRows() {
  std::mt19937 gen(7);
  std::normal_distribution<float> normal(0.0f, 1.0f);
  auto make = [&](int n, int k, auto value) {
    Row r{std::vector<float>(n), k};
    for (int i = 0; i < n; ++i)
      r.scores[i] = value(i);
    return r;
  };
  return {
      // Candidate path, few candidates per top byte.
      make(16384, 100, [&](int) { return normal(gen); }),
      // One past the candidate path's limit: the full-row select.
      make(16385, 100, [&](int) { return normal(gen); }),
      make(1000, 999, [&](int) { return normal(gen); }),
      make(2, 1, [&](int i) { return i == 0 ? -1.0f : 2.0f; }),
      // 1.0 and 0.5 share a top byte (2000 candidates); the 100th largest
      // is an exact tie among the 1.0s: the first 100 by index win.
      make(3000, 100, [&](int i) { return i % 3 == 0 ? 0.25f : (i % 3 == 1 ? 0.5f : 1.0f); }),
      // All equal: too many candidates, the fallback select.
      make(5000, 100, [&](int) { return 0.75f; }),
      // Quantized values: ties at several levels.
      make(12000, 150, [&](int) { return std::round(normal(gen) * 8.0f) / 8.0f; }),
      make(7000, 64, [&](int) { return -1.0f - std::fabs(normal(gen)) * 9.0f; }),
      // Heavy hitters above a flat background.
      make(9000, 100, [&](int i) { return i % 97 == 5 ? 3.0f + 1e-3f * (i % 7) : 1e-6f * (i % 13); }),
  };
}

TEST(CudaTopK, BothPathsMatchTheReference) {
  MINFER_REQUIRE_GPU(rt);
  const std::vector<Row> rows = craftedRows();
  for (int forced : {0, 30})
    for (bool bitmaps : {true, false}) {
      std::vector<std::vector<int32_t>> got;
      Status st = runTopK(*rt, rows, forced, bitmaps, &got);
      if (st.code() == ErrorCode::Unsupported)
        GTEST_SKIP() << st.str();
      ASSERT_TRUE(st.ok()) << st.str();
      for (size_t r = 0; r < rows.size(); ++r)
        EXPECT_EQ(got[r], ref::topK(rows[r].scores, rows[r].k, forced))
            << "row " << r << " (n " << rows[r].scores.size() << ", k "
            << rows[r].k << "), forced " << forced << ", bitmaps " << bitmaps;
    }
}

} // namespace
} // namespace minfer::cuda::testing
