//===- CudaTestUtil.h - fixtures of the CUDA runtime tests ------*- C++ -*-===//
//
// A process-wide Runtime (created once; its modules stay loaded) and the
// skip logic: GPU tests GTEST_SKIP() with the runtime's message when there is
// no device.
//
//===----------------------------------------------------------------------===//
#ifndef MINFER_UNITTESTS_CUDA_CUDATESTUTIL_H
#define MINFER_UNITTESTS_CUDA_CUDATESTUTIL_H

#include "EmbeddedPtx.h"
#include "testing/GpuTestUtil.h"

#include <gtest/gtest.h>

namespace minfer::cuda::testing {

/// The shared runtime, or nullptr (then `status` says why).
inline Runtime *sharedRuntime(Status *status = nullptr) {
  static Status st;
  static std::unique_ptr<Runtime> rt = [] {
    std::unique_ptr<Runtime> r;
    st = Runtime::create(&r);
    return r;
  }();
  if (status)
    *status = st;
  return rt.get();
}

/// The shared runtime with the naive kernels registered, or nullptr.
inline Runtime *naiveRuntime(Status *status) {
  static Status st;
  static std::unique_ptr<Runtime> rt = [] {
    std::unique_ptr<Runtime> r;
    st = Runtime::create(&r);
    if (st.ok())
      st = registerNaiveKernels(*r);
    return st.ok() ? std::move(r) : nullptr;
  }();
  *status = st;
  return rt.get();
}

/// Whether nvcc built the index kernels into the runtime.
inline bool indexKernelsBuilt() {
  return findEmbeddedPtx(kIndexKernelPtx, "IndexBuild") != nullptr;
}

#define MINFER_REQUIRE_GPU(rt)                                                 \
  Runtime *rt = nullptr;                                                       \
  do {                                                                         \
    Status minfer_st_;                                                         \
    rt = sharedRuntime(&minfer_st_);                                           \
    if (!rt)                                                                   \
      GTEST_SKIP() << "no GPU runtime: " << minfer_st_.str();                  \
    if (!indexKernelsBuilt())                                                  \
      GTEST_SKIP() << "index kernels not built (nvcc missing at configure)";   \
  } while (0)

/// Which attention kernels a test runs: the test-only naive ABI kernels or
/// the MLIR-generated PTX in Runtime::ptxDir().
enum class Backend { Naive, Generated };

inline const char *backendName(Backend b) {
  return b == Backend::Naive ? "Naive" : "Generated";
}

/// The runtime for a backend, or skip.
#define MINFER_REQUIRE_BACKEND(backend, rt)                                    \
  Runtime *rt = nullptr;                                                       \
  do {                                                                         \
    Status minfer_st_;                                                         \
    if ((backend) == Backend::Naive) {                                         \
      rt = naiveRuntime(&minfer_st_);                                          \
    } else {                                                                   \
      rt = sharedRuntime(&minfer_st_);                                         \
      std::string missing;                                                     \
      if (rt && !generatedPtxAvailable(rt->ptxDir(), rt->device().chip,        \
                                       &missing))                              \
        GTEST_SKIP() << "generated attention PTX not found (" << missing       \
                     << "); set MINFER_PTX_DIR";                               \
    }                                                                          \
    if (!rt)                                                                   \
      GTEST_SKIP() << "no GPU runtime: " << minfer_st_.str();                  \
  } while (0)

#define MINFER_ASSERT_OK(expr)                                                 \
  do {                                                                         \
    ::minfer::Status minfer_st_ = (expr);                                      \
    ASSERT_TRUE(minfer_st_.ok()) << minfer_st_.str();                          \
  } while (0)

} // namespace minfer::cuda::testing

#endif // MINFER_UNITTESTS_CUDA_CUDATESTUTIL_H
