//===- DriverApiCheck.cpp - DriverApi.h against the toolkit's cuda.h ------===//
//
// Compiled only when cuda.h is found at configure time: proves at compile
// time that the hand-written declarations in DriverApi.h (which let the
// runtime build without a CUDA toolkit) match the real header, so a typo in
// an enum value or a signature cannot reach a GPU. No code is generated.
//
//===----------------------------------------------------------------------===//
#include <cuda.h>

#include "DriverApi.h"

#include <type_traits>

namespace minfer::cuda {
namespace {

static_assert(sizeof(::CUresult) == sizeof(CUresult), "CUresult is an int-sized enum");
static_assert(std::is_same_v<::CUdevice, int>, "CUdevice");
static_assert(std::is_same_v<::CUdeviceptr, unsigned long long>, "CUdeviceptr");

static_assert(int(kCudaSuccess) == int(CUDA_SUCCESS));
static_assert(int(kCudaErrorOutOfMemory) == int(CUDA_ERROR_OUT_OF_MEMORY));
static_assert(int(kCudaErrorNoDevice) == int(CUDA_ERROR_NO_DEVICE));
static_assert(int(kCudaErrorNotReady) == int(CUDA_ERROR_NOT_READY));
static_assert(int(kAttrMultiprocessorCount) == int(CU_DEVICE_ATTRIBUTE_MULTIPROCESSOR_COUNT));
static_assert(int(kAttrComputeCapabilityMajor) == int(CU_DEVICE_ATTRIBUTE_COMPUTE_CAPABILITY_MAJOR));
static_assert(int(kAttrComputeCapabilityMinor) == int(CU_DEVICE_ATTRIBUTE_COMPUTE_CAPABILITY_MINOR));
static_assert(int(kAttrMaxSharedMemoryPerBlockOptin) == int(CU_DEVICE_ATTRIBUTE_MAX_SHARED_MEMORY_PER_BLOCK_OPTIN));
static_assert(int(kFuncAttrSharedSizeBytes) == int(CU_FUNC_ATTRIBUTE_SHARED_SIZE_BYTES));
static_assert(int(kFuncAttrMaxDynamicSharedSizeBytes) == int(CU_FUNC_ATTRIBUTE_MAX_DYNAMIC_SHARED_SIZE_BYTES));
static_assert(int(kJitInfoLogBuffer) == int(CU_JIT_INFO_LOG_BUFFER));
static_assert(int(kJitInfoLogBufferSizeBytes) == int(CU_JIT_INFO_LOG_BUFFER_SIZE_BYTES));
static_assert(int(kJitErrorLogBuffer) == int(CU_JIT_ERROR_LOG_BUFFER));
static_assert(int(kJitErrorLogBufferSizeBytes) == int(CU_JIT_ERROR_LOG_BUFFER_SIZE_BYTES));
static_assert(int(kJitLogVerbose) == int(CU_JIT_LOG_VERBOSE));
static_assert(int(kEventDefault) == int(CU_EVENT_DEFAULT));
static_assert(int(kEventDisableTiming) == int(CU_EVENT_DISABLE_TIMING));
static_assert(int(kTensorMapFloat16) == int(CU_TENSOR_MAP_DATA_TYPE_FLOAT16));
static_assert(int(kTensorMapBfloat16) == int(CU_TENSOR_MAP_DATA_TYPE_BFLOAT16));
static_assert(int(kTensorMapSwizzle128B) == int(CU_TENSOR_MAP_SWIZZLE_128B));
static_assert(int(kTensorMapL2Promotion256B) == int(CU_TENSOR_MAP_L2_PROMOTION_L2_256B));
static_assert(sizeof(CUtensorMap) == 128 && alignof(CUtensorMap) <= 128,
              "TileConfig::kTensorMapBytes");

/// Same arity and parameter types, with cuda.h's enums read as int.
template <typename Mine, typename Theirs> struct SameSig : std::false_type {};
template <typename... A, typename... B>
struct SameSig<CUresult (*)(A...), ::CUresult (*)(B...)>
    : std::bool_constant<sizeof...(A) == sizeof...(B) &&
                         (... && (sizeof(A) == sizeof(B)))> {};

#define MINFER_CHECK_SIG(field, sym)                                           \
  static_assert(SameSig<decltype(DriverApi::field), decltype(&::sym)>::value,  \
                #field " does not match cuda.h's " #sym)
MINFER_CHECK_SIG(cuInit, cuInit);
MINFER_CHECK_SIG(cuDriverGetVersion, cuDriverGetVersion);
MINFER_CHECK_SIG(cuGetErrorName, cuGetErrorName);
MINFER_CHECK_SIG(cuGetErrorString, cuGetErrorString);
MINFER_CHECK_SIG(cuDeviceGetCount, cuDeviceGetCount);
MINFER_CHECK_SIG(cuDeviceGet, cuDeviceGet);
MINFER_CHECK_SIG(cuDeviceGetName, cuDeviceGetName);
MINFER_CHECK_SIG(cuDeviceGetAttribute, cuDeviceGetAttribute);
MINFER_CHECK_SIG(cuDevicePrimaryCtxRetain, cuDevicePrimaryCtxRetain);
MINFER_CHECK_SIG(cuDevicePrimaryCtxRelease, cuDevicePrimaryCtxRelease_v2);
MINFER_CHECK_SIG(cuCtxPushCurrent, cuCtxPushCurrent_v2);
MINFER_CHECK_SIG(cuCtxPopCurrent, cuCtxPopCurrent_v2);
MINFER_CHECK_SIG(cuCtxSynchronize, cuCtxSynchronize);
MINFER_CHECK_SIG(cuModuleLoadDataEx, cuModuleLoadDataEx);
MINFER_CHECK_SIG(cuModuleUnload, cuModuleUnload);
MINFER_CHECK_SIG(cuModuleGetFunction, cuModuleGetFunction);
MINFER_CHECK_SIG(cuFuncGetAttribute, cuFuncGetAttribute);
MINFER_CHECK_SIG(cuFuncSetAttribute, cuFuncSetAttribute);
MINFER_CHECK_SIG(cuLaunchKernel, cuLaunchKernel);
MINFER_CHECK_SIG(cuMemGetInfo, cuMemGetInfo_v2);
MINFER_CHECK_SIG(cuMemAlloc, cuMemAlloc_v2);
MINFER_CHECK_SIG(cuMemFree, cuMemFree_v2);
MINFER_CHECK_SIG(cuMemcpyHtoD, cuMemcpyHtoD_v2);
MINFER_CHECK_SIG(cuMemcpyDtoH, cuMemcpyDtoH_v2);
MINFER_CHECK_SIG(cuMemcpyDtoHAsync, cuMemcpyDtoHAsync_v2);
MINFER_CHECK_SIG(cuMemcpyHtoDAsync, cuMemcpyHtoDAsync_v2);
MINFER_CHECK_SIG(cuTensorMapEncodeTiled, cuTensorMapEncodeTiled);
MINFER_CHECK_SIG(cuOccupancyMaxActiveBlocksPerMultiprocessor,
                 cuOccupancyMaxActiveBlocksPerMultiprocessor);
MINFER_CHECK_SIG(cuMemsetD8Async, cuMemsetD8Async);
MINFER_CHECK_SIG(cuMemsetD32Async, cuMemsetD32Async);
MINFER_CHECK_SIG(cuStreamCreate, cuStreamCreate);
MINFER_CHECK_SIG(cuStreamDestroy, cuStreamDestroy_v2);
MINFER_CHECK_SIG(cuStreamSynchronize, cuStreamSynchronize);
MINFER_CHECK_SIG(cuStreamWaitEvent, cuStreamWaitEvent);
MINFER_CHECK_SIG(cuEventCreate, cuEventCreate);
MINFER_CHECK_SIG(cuEventDestroy, cuEventDestroy_v2);
MINFER_CHECK_SIG(cuEventRecord, cuEventRecord);
MINFER_CHECK_SIG(cuEventSynchronize, cuEventSynchronize);
MINFER_CHECK_SIG(cuEventElapsedTime, cuEventElapsedTime);
#undef MINFER_CHECK_SIG

} // namespace
} // namespace minfer::cuda
