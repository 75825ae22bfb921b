//===- DriverApi.h - the CUDA driver API, loaded with dlopen ----*- C++ -*-===//
//
// The runtime never links libcuda: the machine that builds it has no driver,
// and a process without a GPU must get Status{NoDevice} instead of a loader
// error. This header declares the few driver types, constants and entry
// points the runtime uses (ABI-identical to cuda.h; DriverApiCheck.cpp
// static_asserts that against cuda.h when the toolkit is present), and
// DriverApi.cpp resolves them from libcuda.so.1 at run time.
//
// Every call goes through `check()`, which turns a CUresult into a Status
// that names the call and the driver's error name and string.
//
//===----------------------------------------------------------------------===//
#ifndef MINFER_RUNTIME_CUDA_DRIVERAPI_H
#define MINFER_RUNTIME_CUDA_DRIVERAPI_H

#include "minfer/Runtime/Status.h"
#include <cstddef>
#include <cstdint>
#include <string>

// Opaque handles, spelled exactly as cuda.h spells them so that a translation
// unit may include both (a repeated typedef of the same type is legal).
// CUresult is an enum in cuda.h, so it is declared inside the namespace below.
typedef int CUdevice;
typedef unsigned long long CUdeviceptr;
typedef struct CUctx_st *CUcontext;
typedef struct CUmod_st *CUmodule;
typedef struct CUfunc_st *CUfunction;
typedef struct CUstream_st *CUstream;
typedef struct CUevent_st *CUevent;

namespace minfer::cuda {

/// cuda.h's CUresult enum, as the int it is passed as.
using CUresult = int;

/// The subset of cuda.h's enums the runtime uses (values from CUDA 13's
/// cuda.h; stable across driver versions).
enum : int {
  kCudaSuccess = 0,
  kCudaErrorOutOfMemory = 2,
  kCudaErrorNoDevice = 100,
  kCudaErrorNotReady = 600,
  // CUdevice_attribute
  kAttrMultiprocessorCount = 16,
  kAttrComputeCapabilityMajor = 75,
  kAttrComputeCapabilityMinor = 76,
  kAttrMaxSharedMemoryPerBlockOptin = 97,
  // CUfunction_attribute
  kFuncAttrSharedSizeBytes = 1, ///< static shared memory of a function
  kFuncAttrMaxDynamicSharedSizeBytes = 8,
  // CUjit_option
  kJitInfoLogBuffer = 3,
  kJitInfoLogBufferSizeBytes = 4,
  kJitErrorLogBuffer = 5,
  kJitErrorLogBufferSizeBytes = 6,
  kJitLogVerbose = 12,
  // CUevent_flags
  kEventDefault = 0,
  kEventDisableTiming = 2,
  // CUtensorMapDataType, CUtensorMapSwizzle, CUtensorMapL2promotion
  kTensorMapFloat16 = 6,
  kTensorMapBfloat16 = 9,
  kTensorMapSwizzle128B = 3,
  kTensorMapL2Promotion256B = 3,
};

/// Function pointers resolved from libcuda. Names without the `_v2` suffix
/// are resolved to the versioned symbol cuda.h maps them to.
struct DriverApi {
  CUresult (*cuInit)(unsigned);
  CUresult (*cuDriverGetVersion)(int *);
  CUresult (*cuGetErrorName)(CUresult, const char **);
  CUresult (*cuGetErrorString)(CUresult, const char **);
  CUresult (*cuDeviceGetCount)(int *);
  CUresult (*cuDeviceGet)(CUdevice *, int);
  CUresult (*cuDeviceGetName)(char *, int, CUdevice);
  CUresult (*cuDeviceGetAttribute)(int *, int, CUdevice);
  CUresult (*cuDevicePrimaryCtxRetain)(CUcontext *, CUdevice);
  CUresult (*cuDevicePrimaryCtxRelease)(CUdevice);             // _v2
  CUresult (*cuCtxPushCurrent)(CUcontext);                      // _v2
  CUresult (*cuCtxPopCurrent)(CUcontext *);                     // _v2
  CUresult (*cuCtxSynchronize)();
  CUresult (*cuModuleLoadDataEx)(CUmodule *, const void *, unsigned, int *,
                                 void **);
  CUresult (*cuModuleUnload)(CUmodule);
  CUresult (*cuModuleGetFunction)(CUfunction *, CUmodule, const char *);
  CUresult (*cuFuncGetAttribute)(int *, int, CUfunction);
  CUresult (*cuFuncSetAttribute)(CUfunction, int, int);
  CUresult (*cuLaunchKernel)(CUfunction, unsigned, unsigned, unsigned,
                             unsigned, unsigned, unsigned, unsigned, CUstream,
                             void **, void **);
  CUresult (*cuMemGetInfo)(size_t *, size_t *);                 // _v2
  CUresult (*cuMemAlloc)(CUdeviceptr *, size_t);                // _v2
  CUresult (*cuMemFree)(CUdeviceptr);                           // _v2
  CUresult (*cuMemcpyHtoD)(CUdeviceptr, const void *, size_t);  // _v2
  CUresult (*cuMemcpyDtoH)(void *, CUdeviceptr, size_t);        // _v2
  CUresult (*cuMemcpyDtoHAsync)(void *, CUdeviceptr, size_t, CUstream); // _v2
  CUresult (*cuMemcpyHtoDAsync)(CUdeviceptr, const void *, size_t, CUstream); // _v2
  CUresult (*cuMemsetD8Async)(CUdeviceptr, unsigned char, size_t, CUstream);
  CUresult (*cuMemsetD32Async)(CUdeviceptr, unsigned, size_t, CUstream);
  CUresult (*cuStreamCreate)(CUstream *, unsigned);
  CUresult (*cuStreamDestroy)(CUstream);                        // _v2
  CUresult (*cuStreamSynchronize)(CUstream);
  CUresult (*cuStreamWaitEvent)(CUstream, CUevent, unsigned);
  CUresult (*cuEventCreate)(CUevent *, unsigned);
  CUresult (*cuEventDestroy)(CUevent);                          // _v2
  CUresult (*cuEventRecord)(CUevent, CUstream);
  CUresult (*cuEventSynchronize)(CUevent);
  CUresult (*cuEventElapsedTime)(float *, CUevent, CUevent);    // _v2 or v1
  /// CUDA 12+ drivers only; null when the driver lacks it (the paired
  /// block-sparse kernel, which reads K and V through TMA, then fails to
  /// launch with an error Status). The enums are passed as int.
  CUresult (*cuTensorMapEncodeTiled)(void *, int, unsigned, void *,
                                     const uint64_t *, const uint64_t *,
                                     const unsigned *, const unsigned *, int,
                                     int, int, int);

  /// Null when the driver lacks it: attention calls then go out in one
  /// launch whatever Runtime::Impl::launchWaves asks (AttentionKernel::
  /// ctasPerSm stays 0).
  CUresult (*cuOccupancyMaxActiveBlocksPerMultiprocessor)(int *, CUfunction,
                                                          int, size_t);

  /// "cuMemAlloc (CUDA_ERROR_OUT_OF_MEMORY: out of memory)".
  std::string describe(CUresult r, const char *call) const;
  /// Ok, or Status{CudaError / OutOfMemory, describe(r, call) + context}.
  Status check(CUresult r, const char *call, const std::string &context = "") const;
};

/// Loads the driver library once per process (further calls return the same
/// table) and calls cuInit(0). `path` overrides the library name (tests use a
/// path that does not exist to exercise the no-driver path); an overridden
/// path is loaded afresh and never cached. Failure: Status{NoDevice,
/// "no CUDA device: ..."}; never aborts.
Status loadDriver(const DriverApi **out, const std::string &path = "");

} // namespace minfer::cuda

/// Returns the Status of a driver call through `api` if it failed.
#define MINFER_CU(api, call, ...)                                              \
  MINFER_RETURN_IF_ERROR((api).check((api).call(__VA_ARGS__), #call))

#endif // MINFER_RUNTIME_CUDA_DRIVERAPI_H
