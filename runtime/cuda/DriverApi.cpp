//===- DriverApi.cpp - resolve the CUDA driver API at run time ------------===//
//
// dlopen("libcuda.so.1") + dlsym for every entry point in DriverApi, then
// cuInit(0). Any failure (no library, a missing symbol, cuInit failing, zero
// devices) becomes Status{NoDevice, "no CUDA device: <why>"}: a CPU-only
// process must be able to ask for the runtime and get a clean answer.
//
//===----------------------------------------------------------------------===//
#include "DriverApi.h"

#include <dlfcn.h>
#include <memory>
#include <mutex>
#include <vector>

namespace minfer::cuda {

std::string DriverApi::describe(CUresult r, const char *call) const {
  const char *name = nullptr, *text = nullptr;
  // Both return CUDA_ERROR_INVALID_VALUE (and leave the pointer null) for a
  // code the driver does not know; fall back to the number.
  if (cuGetErrorName)
    cuGetErrorName(r, &name);
  if (cuGetErrorString)
    cuGetErrorString(r, &text);
  std::string s = std::string(call) + " failed (";
  s += name ? name : ("CUresult " + std::to_string(r));
  if (text)
    s += std::string(": ") + text;
  return s + ")";
}

Status DriverApi::check(CUresult r, const char *call,
                        const std::string &context) const {
  if (r == kCudaSuccess)
    return Status::success();
  std::string msg = describe(r, call);
  if (!context.empty())
    msg += ": " + context;
  return Status(r == kCudaErrorOutOfMemory ? ErrorCode::OutOfMemory
                                           : ErrorCode::CudaError,
                msg);
}

namespace {

Status noDevice(const std::string &why) {
  return Status(ErrorCode::NoDevice, "no CUDA device: " + why);
}

/// Resolves `name` (or, when absent, `fallback`) into `slot`.
template <typename Fn>
bool resolve(void *lib, Fn &slot, const char *name, const char *fallback,
             std::string &missing) {
  void *p = dlsym(lib, name);
  if (!p && fallback)
    p = dlsym(lib, fallback);
  slot = reinterpret_cast<Fn>(p);
  if (!p)
    missing += std::string(missing.empty() ? "" : ", ") + name;
  return p != nullptr;
}

struct Loaded {
  DriverApi api{};
  Status status;
};

/// Opens `path`, resolves every symbol and initializes the driver.
std::unique_ptr<Loaded> loadFrom(const std::string &path) {
  auto out = std::make_unique<Loaded>();
  void *lib = dlopen(path.c_str(), RTLD_NOW | RTLD_LOCAL);
  if (!lib) {
    const char *err = dlerror();
    out->status = noDevice("cannot load " + path + " (" +
                           (err ? err : "unknown dlopen error") + ")");
    return out;
  }
  // The library stays loaded for the life of the process: function pointers
  // into it are handed out and cached.
  DriverApi &a = out->api;
  std::string missing;
#define MINFER_RESOLVE(field, sym, fb) resolve(lib, a.field, sym, fb, missing)
  MINFER_RESOLVE(cuInit, "cuInit", nullptr);
  MINFER_RESOLVE(cuDriverGetVersion, "cuDriverGetVersion", nullptr);
  MINFER_RESOLVE(cuGetErrorName, "cuGetErrorName", nullptr);
  MINFER_RESOLVE(cuGetErrorString, "cuGetErrorString", nullptr);
  MINFER_RESOLVE(cuDeviceGetCount, "cuDeviceGetCount", nullptr);
  MINFER_RESOLVE(cuDeviceGet, "cuDeviceGet", nullptr);
  MINFER_RESOLVE(cuDeviceGetName, "cuDeviceGetName", nullptr);
  MINFER_RESOLVE(cuDeviceGetAttribute, "cuDeviceGetAttribute", nullptr);
  MINFER_RESOLVE(cuDevicePrimaryCtxRetain, "cuDevicePrimaryCtxRetain", nullptr);
  MINFER_RESOLVE(cuDevicePrimaryCtxRelease, "cuDevicePrimaryCtxRelease_v2",
                 nullptr);
  MINFER_RESOLVE(cuCtxPushCurrent, "cuCtxPushCurrent_v2", nullptr);
  MINFER_RESOLVE(cuCtxPopCurrent, "cuCtxPopCurrent_v2", nullptr);
  MINFER_RESOLVE(cuCtxSynchronize, "cuCtxSynchronize", nullptr);
  MINFER_RESOLVE(cuModuleLoadDataEx, "cuModuleLoadDataEx", nullptr);
  MINFER_RESOLVE(cuModuleUnload, "cuModuleUnload", nullptr);
  MINFER_RESOLVE(cuModuleGetFunction, "cuModuleGetFunction", nullptr);
  MINFER_RESOLVE(cuFuncGetAttribute, "cuFuncGetAttribute", nullptr);
  MINFER_RESOLVE(cuFuncSetAttribute, "cuFuncSetAttribute", nullptr);
  MINFER_RESOLVE(cuLaunchKernel, "cuLaunchKernel", nullptr);
  MINFER_RESOLVE(cuMemGetInfo, "cuMemGetInfo_v2", nullptr);
  MINFER_RESOLVE(cuMemAlloc, "cuMemAlloc_v2", nullptr);
  MINFER_RESOLVE(cuMemFree, "cuMemFree_v2", nullptr);
  MINFER_RESOLVE(cuMemcpyHtoD, "cuMemcpyHtoD_v2", nullptr);
  MINFER_RESOLVE(cuMemcpyDtoH, "cuMemcpyDtoH_v2", nullptr);
  MINFER_RESOLVE(cuMemcpyDtoHAsync, "cuMemcpyDtoHAsync_v2", nullptr);
  MINFER_RESOLVE(cuMemcpyHtoDAsync, "cuMemcpyHtoDAsync_v2", nullptr);
  MINFER_RESOLVE(cuMemsetD8Async, "cuMemsetD8Async", nullptr);
  MINFER_RESOLVE(cuMemsetD32Async, "cuMemsetD32Async", nullptr);
  MINFER_RESOLVE(cuStreamCreate, "cuStreamCreate", nullptr);
  MINFER_RESOLVE(cuStreamDestroy, "cuStreamDestroy_v2", nullptr);
  MINFER_RESOLVE(cuStreamSynchronize, "cuStreamSynchronize", nullptr);
  MINFER_RESOLVE(cuStreamWaitEvent, "cuStreamWaitEvent", nullptr);
  MINFER_RESOLVE(cuEventCreate, "cuEventCreate", nullptr);
  MINFER_RESOLVE(cuEventDestroy, "cuEventDestroy_v2", nullptr);
  MINFER_RESOLVE(cuEventRecord, "cuEventRecord", nullptr);
  MINFER_RESOLVE(cuEventSynchronize, "cuEventSynchronize", nullptr);
  // CUDA 12.8 added cuEventElapsedTime_v2 (cuda.h maps to it); older drivers
  // have only the original, with the same signature.
  MINFER_RESOLVE(cuEventElapsedTime, "cuEventElapsedTime_v2",
                 "cuEventElapsedTime");
#undef MINFER_RESOLVE
  a.cuTensorMapEncodeTiled = reinterpret_cast<decltype(a.cuTensorMapEncodeTiled)>(
      dlsym(lib, "cuTensorMapEncodeTiled"));
  a.cuOccupancyMaxActiveBlocksPerMultiprocessor = reinterpret_cast<
      decltype(a.cuOccupancyMaxActiveBlocksPerMultiprocessor)>(
      dlsym(lib, "cuOccupancyMaxActiveBlocksPerMultiprocessor"));
  if (!missing.empty()) {
    out->status = noDevice(path + " lacks " + missing + " (driver too old?)");
    return out;
  }
  CUresult r = a.cuInit(0);
  if (r != kCudaSuccess) {
    out->status = noDevice(a.describe(r, "cuInit"));
    return out;
  }
  int count = 0;
  r = a.cuDeviceGetCount(&count);
  if (r != kCudaSuccess) {
    out->status = noDevice(a.describe(r, "cuDeviceGetCount"));
    return out;
  }
  if (count <= 0)
    out->status = noDevice("the driver reports 0 devices");
  return out;
}

} // namespace

Status loadDriver(const DriverApi **out, const std::string &path) {
  *out = nullptr;
  if (!path.empty()) {
    // Overrides are for tests: loaded afresh, kept alive (the table may be
    // used after this returns), never shared with the default.
    static std::mutex mu;
    static std::vector<std::unique_ptr<Loaded>> keep;
    std::lock_guard<std::mutex> lock(mu);
    keep.push_back(loadFrom(path));
    if (!keep.back()->status.ok())
      return keep.back()->status;
    *out = &keep.back()->api;
    return Status::success();
  }
  // Thread-safe one-time initialization (C++11 magic statics).
  static std::unique_ptr<Loaded> loaded = loadFrom("libcuda.so.1");
  if (!loaded->status.ok())
    return loaded->status;
  *out = &loaded->api;
  return Status::success();
}

} // namespace minfer::cuda
