//===- AttentionLaunch.cpp - the attention kernels' launch ABI ------------===//
//
// The one place that marshals the ABI of Kernel/TileConfig.h:
//   grid (TileConfig::gridX(N), heads, batches), TileConfig::threads()
//   threads (a dense kernel may use 128-row CTAs; the index stays per 64
//   rows),
//   TileConfig::sharedBytes() of dynamic shared memory;
//   each buffer as a flat memref<?xT> in MLIR's default calling convention,
//   5 parameters: allocated ptr, aligned ptr, i64 offset (0), i64 size,
//   i64 stride (1) -- Q, K, V, O, then (block, vs) range_count, ranges,
//   then (vs) column_count, column_index;
//   then i32 seq_len, heads, kv_heads, (block, vs) i32 max_ranges,
//   (vs) i32 max_columns, and f32 scale_log2e.
// cuLaunchKernel takes an array of pointers to each parameter's value.
//
//===----------------------------------------------------------------------===//
#include "RuntimeImpl.h"

namespace minfer::cuda {

namespace {

/// Storage for the 5 values of one memref descriptor.
struct MemrefArg {
  CUdeviceptr allocated = 0, aligned = 0;
  int64_t offset = 0, size = 0, stride = 1;
};

/// Parameter pointers; every value lives in this object (no reallocation:
/// fixed capacity) until cuLaunchKernel has copied them.
class ArgList {
public:
  void memref(CUdeviceptr p, int64_t elems) {
    MemrefArg &m = memrefs_[numMemrefs_++];
    m.allocated = m.aligned = p;
    m.size = elems;
    ptrs_[n_++] = &m.allocated;
    ptrs_[n_++] = &m.aligned;
    ptrs_[n_++] = &m.offset;
    ptrs_[n_++] = &m.size;
    ptrs_[n_++] = &m.stride;
  }
  void i32(int32_t v) {
    int32_t &slot = ints_[numInts_++];
    slot = v;
    ptrs_[n_++] = &slot;
  }
  void f32(float v) {
    f_ = v;
    ptrs_[n_++] = &f_;
  }
  void **data() { return ptrs_; }

private:
  MemrefArg memrefs_[8];
  int32_t ints_[8] = {};
  float f_ = 0.0f;
  void *ptrs_[8 * 5 + 8 + 1] = {};
  int numMemrefs_ = 0, numInts_ = 0, n_ = 0;
};

} // namespace

Status launchAttention(Runtime::Impl &impl, const AttentionKernel &kern,
                       const AttentionLaunch &a, CUstream stream) {
  const kernel::TileConfig &cfg = kern.cfg;
  const kernel::KernelKind kind = cfg.kind;
  const bool indexed = kind != kernel::KernelKind::Dense;
  const bool vs = kind == kernel::KernelKind::VerticalSlash;
  ArgList args;
  args.memref(a.q, a.qElems);
  args.memref(a.k, a.kvElems);
  args.memref(a.v, a.kvElems);
  args.memref(a.out, a.qElems);
  if (indexed) {
    args.memref(a.rangeCount, a.rows);
    args.memref(a.ranges, a.rows * a.maxRanges * 2);
  }
  if (vs) {
    args.memref(a.columnCount, a.rows);
    args.memref(a.columnIndex, a.rows * a.maxColumns);
  }
  args.i32(static_cast<int32_t>(a.seqLen));
  args.i32(static_cast<int32_t>(a.heads));
  args.i32(static_cast<int32_t>(a.kvHeads));
  if (indexed)
    args.i32(static_cast<int32_t>(a.maxRanges));
  if (vs)
    args.i32(static_cast<int32_t>(a.maxColumns));
  args.f32(a.scaleLog2e);

  const int64_t nb = cfg.gridX(a.seqLen);
  const std::string name = cfg.kernelName();
  return impl.launch(kern.fn, static_cast<unsigned>(nb),
                     static_cast<unsigned>(a.heads),
                     static_cast<unsigned>(a.batches),
                     static_cast<unsigned>(cfg.threads()), cfg.sharedBytes(),
                     stream, args.data(), name.c_str());
}

} // namespace minfer::cuda
