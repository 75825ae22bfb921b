//===- CudaNoDeviceTest.cpp - the runtime without a driver or GPU ---------===//
//
// A process with no libcuda (or no GPU) must get Status{NoDevice} from every
// entry point, never a crash or an abort. The forced-missing-driver cases run
// everywhere; the default-driver cases accept either outcome and check that
// it is clean.
//
//===----------------------------------------------------------------------===//
#include "CudaTestUtil.h"
#include "minfer/minfer.h"

#include <cstring>

namespace minfer::cuda::testing {
namespace {

TEST(CudaNoDevice, MissingDriverLibraryIsNoDevice) {
  RuntimeOptions o;
  o.driverPath = "/nonexistent/libcuda.so.1";
  std::unique_ptr<Runtime> rt;
  Status st = Runtime::create(&rt, o);
  EXPECT_EQ(st.code(), ErrorCode::NoDevice) << st.str();
  EXPECT_EQ(st.message().rfind("no CUDA device: ", 0), 0u) << st.message();
  EXPECT_NE(st.message().find("/nonexistent/libcuda.so.1"), std::string::npos);
  EXPECT_EQ(rt, nullptr);
}

TEST(CudaNoDevice, LibraryWithoutDriverSymbolsIsNoDevice) {
  // libc exists but has no cuInit: a broken driver install looks like this.
  RuntimeOptions o;
  o.driverPath = "libc.so.6";
  std::unique_ptr<Runtime> rt;
  Status st = Runtime::create(&rt, o);
  EXPECT_EQ(st.code(), ErrorCode::NoDevice) << st.str();
  EXPECT_NE(st.message().find("cuInit"), std::string::npos) << st.message();
}

TEST(CudaNoDevice, DefaultDriverIsCleanEitherWay) {
  std::unique_ptr<Runtime> rt;
  Status st = Runtime::create(&rt);
  if (st.ok()) {
    ASSERT_NE(rt, nullptr);
    EXPECT_GE(rt->device().ccMajor, 8);
    EXPECT_FALSE(rt->device().name.empty());
  } else {
    EXPECT_EQ(st.code(), ErrorCode::NoDevice) << st.str();
    EXPECT_EQ(st.message().rfind("no CUDA device: ", 0), 0u) << st.message();
    EXPECT_EQ(rt, nullptr);
  }
}

/// Options are checked before the driver is loaded: a bad one is
/// InvalidArgument on any machine, GPU or not.
TEST(CudaNoDevice, BadOptionsAreInvalidArgumentWithoutDriver) {
  RuntimeOptions o;
  o.driverPath = "/nonexistent/libcuda.so.1";
  std::unique_ptr<Runtime> rt;
  o.kernelStages = 4;
  EXPECT_EQ(Runtime::create(&rt, o).code(), ErrorCode::InvalidArgument);
  o.kernelStages = 0;
  o.verticalSlashRows = 128;
  EXPECT_EQ(Runtime::create(&rt, o).code(), ErrorCode::InvalidArgument);
  o.verticalSlashRows = 0;
  o.launchWaves = 65;
  EXPECT_EQ(Runtime::create(&rt, o).code(), ErrorCode::InvalidArgument);
  o.launchWaves = 0;
  o.blockSparseScores = 3;
  EXPECT_EQ(Runtime::create(&rt, o).code(), ErrorCode::InvalidArgument);
  o.blockSparseScores = 0;
  // atoi would have read "2x" as 2.
  ::setenv("MINFER_KERNEL_STAGES", "2x", 1);
  Status st = Runtime::create(&rt, o);
  ::unsetenv("MINFER_KERNEL_STAGES");
  EXPECT_EQ(st.code(), ErrorCode::InvalidArgument) << st.str();
  EXPECT_NE(st.message().find("MINFER_KERNEL_STAGES), got '2x'"),
            std::string::npos)
      << st.message();
  EXPECT_EQ(rt, nullptr);
  // Valid options reach the driver, which is missing here.
  EXPECT_EQ(Runtime::create(&rt, o).code(), ErrorCode::NoDevice);
}

TEST(CudaNoDevice, NullOutIsNullPointer) {
  EXPECT_EQ(Runtime::create(nullptr).code(), ErrorCode::NullPointer);
  EXPECT_EQ(minfer_runtime_create(nullptr, 0, nullptr), MINFER_NULL_POINTER);
}

TEST(CudaNoDevice, BadDeviceOrdinal) {
  RuntimeOptions o;
  o.device = 1 << 20;
  std::unique_ptr<Runtime> rt;
  Status st = Runtime::create(&rt, o);
  // NoDevice without a driver; InvalidArgument (ordinal out of range) with.
  EXPECT_TRUE(st.code() == ErrorCode::NoDevice ||
              st.code() == ErrorCode::InvalidArgument)
      << st.str();
}

TEST(CudaNoDevice, CApiCreateMirrorsStatus) {
  minfer_runtime_t rt = nullptr;
  minfer_status_t s = minfer_runtime_create(&rt, 0, nullptr);
  if (s == MINFER_OK) {
    ASSERT_NE(rt, nullptr);
    EXPECT_EQ(minfer_runtime_destroy(rt), MINFER_OK);
    return;
  }
  EXPECT_EQ(s, MINFER_NO_DEVICE);
  EXPECT_EQ(rt, nullptr);
  EXPECT_STREQ(minfer_status_name(s), "NoDevice");
  EXPECT_EQ(std::strncmp(minfer_last_error_message(), "NoDevice: no CUDA device",
                         24),
            0)
      << minfer_last_error_message();
  EXPECT_EQ(minfer_runtime_destroy(nullptr), MINFER_OK);
}

TEST(CudaNoDevice, StatusCodesMirrorErrorCode) {
  EXPECT_EQ((int)MINFER_OK, (int)ErrorCode::Ok);
  EXPECT_EQ((int)MINFER_INVALID_ARGUMENT, (int)ErrorCode::InvalidArgument);
  EXPECT_EQ((int)MINFER_NULL_POINTER, (int)ErrorCode::NullPointer);
  EXPECT_EQ((int)MINFER_UNSUPPORTED, (int)ErrorCode::Unsupported);
  EXPECT_EQ((int)MINFER_NO_DEVICE, (int)ErrorCode::NoDevice);
  EXPECT_EQ((int)MINFER_CUDA_ERROR, (int)ErrorCode::CudaError);
  EXPECT_EQ((int)MINFER_PTX_LOAD_FAILED, (int)ErrorCode::PtxLoadFailed);
  EXPECT_EQ((int)MINFER_OUT_OF_MEMORY, (int)ErrorCode::OutOfMemory);
  EXPECT_EQ((int)MINFER_CONFIG_ERROR, (int)ErrorCode::ConfigError);
  EXPECT_EQ((int)MINFER_COMPILE_ERROR, (int)ErrorCode::CompileError);
}

} // namespace
} // namespace minfer::cuda::testing
