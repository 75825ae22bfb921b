//===- GpuTestUtil.h - shared by the CUDA unit tests and gpu-check -*- C++ -*-===//
//
// Test support, never part of the runtime library: the naive ABI kernels
// (kernels/testing/NaiveAttention.cu) to register in place of generated PTX,
// seeded random inputs in bf16/f16 with their exact float values for the CPU
// reference, RAII device buffers through the Runtime, and an fp64 reference
// for a sample of rows over a given index (the full reference is O(N^2 D)).
//
//===----------------------------------------------------------------------===//
#ifndef MINFER_RUNTIME_CUDA_TESTING_GPUTESTUTIL_H
#define MINFER_RUNTIME_CUDA_TESTING_GPUTESTUTIL_H

#include "DriverApi.h"
#include "minfer/Runtime/CudaRuntime.h"
#include "minfer/Runtime/Reference.h"

#include <cstdint>
#include <string>
#include <vector>

namespace minfer::cuda::testing {

/// The primary context of `rt`'s device made current on this thread
/// (retained, pushed), so that test kernels launched through the driver
/// share the runtime's memory. Popped again when `scoped` and this object
/// ends; the benchmark keeps it for the life of the process.
class DeviceContext {
public:
  explicit DeviceContext(bool scoped = true) : scoped_(scoped) {}
  DeviceContext(const DeviceContext &) = delete;
  DeviceContext &operator=(const DeviceContext &) = delete;
  ~DeviceContext();
  Status enter(Runtime &rt);
  const DriverApi &api() const { return *api_; }

private:
  const DriverApi *api_ = nullptr;
  bool scoped_, pushed_ = false;
};

/// Loads the embedded test kernels of kernels/testing/<stem>.cu into the
/// current context (Unsupported when nvcc did not build them).
Status loadTestModule(const DriverApi &api, const char *stem,
                      CUmodule *module);

/// Registers the naive stand-ins for all 18 attention kernels.
Status registerNaiveKernels(Runtime &rt);

/// Whether `<dir>/<name>.<chip>.ptx` (or the sm_80 fallback on sm_90)
/// exists for every kernel kind, D in {64, 96, 128} and both dtypes.
bool generatedPtxAvailable(const std::string &dir, kernel::Chip chip,
                           std::string *missing);

/// Values uniform in [lo, hi), rounded to `elem`: `bits` for the device,
/// `values` (the rounded values as floats) for the reference.
struct HostTensor {
  std::vector<uint16_t> bits;
  std::vector<float> values;
};
void randomTensor(int64_t elems, kernel::ElemType elem, uint64_t seed,
                  HostTensor *out, float lo = -1.0f, float hi = 1.0f);
void setValue(HostTensor &t, int64_t i, float v, kernel::ElemType elem);
float elemToFloat(uint16_t bits, kernel::ElemType elem);

/// Device memory owned through a Runtime.
class DeviceBuffer {
public:
  DeviceBuffer() = default;
  DeviceBuffer(const DeviceBuffer &) = delete;
  DeviceBuffer &operator=(const DeviceBuffer &) = delete;
  ~DeviceBuffer();
  Status allocate(Runtime &rt, size_t bytes);
  Status upload(const void *src, size_t bytes);
  Status download(void *dst, size_t bytes) const;
  void *get() const { return ptr_; }

private:
  Runtime *rt_ = nullptr;
  void *ptr_ = nullptr;
};

/// q, k, v uploaded and out allocated for one shape.
struct DeviceAttention {
  DeviceBuffer q, k, v, out;
  HostTensor hq, hk, hv;
  AttentionTensors tensors;
  /// Inputs uniform in [-magnitude, magnitude), rounded to `elem`.
  Status create(Runtime &rt, const AttentionShape &s, kernel::ElemType elem,
                float scale, uint64_t seed, float magnitude = 1.0f);
  /// The raw output bits (for bit-exact comparisons).
  Status downloadOutBits(std::vector<uint16_t> *bits) const;
  /// Fills out with 0xFF bytes: NaN in bf16 and f16, so unwritten elements
  /// fail any comparison.
  Status poison(Runtime &rt);
  Status downloadOut(std::vector<float> *out) const;
};

/// A device copy of int32 `values` (index lists) in `buf`.
Status uploadInts(Runtime &rt, const std::vector<int32_t> &values,
                  DeviceBuffer *buf);

/// Runtime::verticalSlashAttention on host index lists vIdx [B, H, nnzV]
/// and sIdx [B, H, nnzS], copied to the device for the call.
Status verticalSlashFromHost(Runtime &rt, const AttentionTensors &t,
                             const std::vector<int32_t> &vIdx,
                             const std::vector<int32_t> &sIdx, int64_t nnzV,
                             int64_t nnzS, const RunOptions &opts = {});

/// fp64-accumulated attention of query rows `rows` of head (b, h) over the
/// executed mask of `index` (ranges clipped to j <= i, then columns), as
/// ref::indexedAttention computes it; out is [rows.size()][D]. Parallel over
/// rows.
Status referenceRows(const AttentionShape &s, const std::vector<float> &q,
                     const std::vector<float> &k, const std::vector<float> &v,
                     float scale, const SparseIndex &index, int64_t b, int64_t h,
                     const std::vector<int64_t> &rows, std::vector<float> *out);

/// Rows to check at length N: all when N <= maxAll, else `count` rows
/// including 0 and N - 1, the rest drawn from `seed`.
std::vector<int64_t> sampleRows(int64_t N, int64_t maxAll, int64_t count,
                                uint64_t seed);

/// Number of (b, h, m) rows where two indices differ (counts or used
/// entries); -1 if their shapes differ.
int64_t indexRowMismatches(const SparseIndex &a, const SparseIndex &b);

} // namespace minfer::cuda::testing

#endif // MINFER_RUNTIME_CUDA_TESTING_GPUTESTUTIL_H
