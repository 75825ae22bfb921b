//===- AttentionLaunch.cpp - the attention kernels' launch ABI ------------===//
//
// The one place that marshals the ABI of Kernel/TileConfig.h:
//   grid (C, 1, batches) over the NB H launch positions (NB =
//   TileConfig::gridX(N)), TileConfig::threads() threads (a dense kernel
//   may use 128-row CTAs; the index stays per 64 rows): one launch of
//   every position (first_cta 0) or launches of AttentionLaunch::waves
//   (or Runtime::Impl::launchWaves) device-fulls of CTAs each;
//   TileConfig::sharedBytes() of dynamic shared memory;
//   each buffer as a flat memref<?xT> in MLIR's default calling convention,
//   5 parameters: allocated ptr, aligned ptr, i64 offset (0), i64 size,
//   i64 stride (1) -- Q, K, V, O, then (block, vs) range_count, ranges,
//   then (vs) column_count, column_index;
//   then i32 seq_len, heads, kv_heads, (block, vs) i32 max_ranges,
//   (vs) i32 max_columns, and f32 scale_log2e;
//   then (paired kernels) the device address of the K and V tensor
//   maps, encoded here and copied to the workspace in stream order;
//   last, i32 first_cta (the launch position of blockIdx.x = 0).
// cuLaunchKernel takes an array of pointers to each parameter's value.
//
//===----------------------------------------------------------------------===//
#include "RuntimeImpl.h"

#include <algorithm>

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
  int32_t &i32(int32_t v) {
    int32_t &slot = ints_[numInts_++];
    slot = v;
    ptrs_[n_++] = &slot;
    return slot;
  }
  void f32(float v) {
    f_ = v;
    ptrs_[n_++] = &f_;
  }
  void ptr(CUdeviceptr p) {
    p_ = p;
    ptrs_[n_++] = &p_;
  }
  void **data() { return ptrs_; }

private:
  MemrefArg memrefs_[8];
  int32_t ints_[8] = {};
  float f_ = 0.0f;
  CUdeviceptr p_ = 0;
  void *ptrs_[8 * 5 + 8 + 2] = {};
  int numMemrefs_ = 0, numInts_ = 0, n_ = 0;
};

/// Encodes the tensor maps of a paired kernel (TileConfig.h's ABI: K then V,
/// each [B * Hkv, N, D] seen as dims {64, N, D / 64, B * Hkv}, box
/// {64, blockN, D / 64, 1}: one copy lands a whole tile, its 64-column
/// panels one after the other as the swizzled tile keeps them; 128-byte
/// swizzle, zero fill) and copies them to `a.tensorMaps` on `stream`. Rows
/// that are not whole panels (D = 96) are dims {D, N, B * Hkv}, box
/// {64, blockN, 1}: the kernel copies each panel, the TMA zero-filling the
/// columns past D. A small pageable copy is staged by the driver before the
/// call returns, so `maps` may go out of scope; every call uses the same
/// workspace slot, in stream order.
Status copyTensorMaps(Runtime::Impl &impl, const kernel::TileConfig &cfg,
                      const AttentionLaunch &a, CUstream stream) {
  const DriverApi &api = *impl.api;
  if (!api.cuTensorMapEncodeTiled)
    return Status(ErrorCode::Unsupported,
                  "paired kernels need cuTensorMapEncodeTiled "
                  "(a CUDA 12+ driver)");
  if (!a.tensorMaps)
    return Status(ErrorCode::InvalidArgument, "no workspace for the tensor maps");
  alignas(128) uint64_t maps[2][kernel::TileConfig::kTensorMapBytes / 8] = {};
  const uint64_t d = static_cast<uint64_t>(cfg.headDim);
  const uint64_t n = static_cast<uint64_t>(a.seqLen);
  const uint64_t heads = static_cast<uint64_t>(a.kvHeads * a.batches);
  const unsigned rows = static_cast<unsigned>(cfg.blockN);
  const bool perPanel = cfg.headDim != cfg.tileDim();
  const uint64_t panels = d / 64;
  // Whole panels: bytes between rows, panels (128 bytes: not increasing,
  // which TMA allows), and heads. Per panel: between rows and heads.
  const uint64_t dims[4] = {perPanel ? d : 64, n, perPanel ? heads : panels,
                            heads};
  const uint64_t strides[3] = {d * 2, perPanel ? n * d * 2 : 128, n * d * 2};
  const unsigned box[4] = {
      64, rows, perPanel ? 1u : static_cast<unsigned>(panels), 1};
  const unsigned unit[4] = {1, 1, 1, 1};
  const unsigned rank = perPanel ? 3 : 4;
  const int type = cfg.elem == kernel::ElemType::BF16 ? kTensorMapBfloat16
                                                      : kTensorMapFloat16;
  const CUdeviceptr src[2] = {a.k, a.v};
  for (int i = 0; i < 2; ++i)
    MINFER_RETURN_IF_ERROR(api.check(
        api.cuTensorMapEncodeTiled(
            maps[i], type, rank, reinterpret_cast<void *>(src[i]), dims,
            strides, box, unit, /*interleave none*/ 0, kTensorMapSwizzle128B,
            kTensorMapL2Promotion256B, /*zero fill*/ 0),
        "cuTensorMapEncodeTiled", i == 0 ? "K" : "V"));
  return api.check(api.cuMemcpyHtoDAsync(a.tensorMaps, maps, sizeof(maps), stream),
                   "cuMemcpyHtoDAsync", "tensor maps");
}

} // namespace

Status launchAttention(Runtime::Impl &impl, const AttentionKernel &kern,
                       const AttentionLaunch &a, CUstream stream,
                       int64_t *launches) {
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
  if (cfg.pairsQueryBlocks()) {
    MINFER_RETURN_IF_ERROR(copyTensorMaps(impl, cfg, a, stream));
    args.ptr(a.tensorMaps);
  }

  int32_t &firstCta = args.i32(0);

  const std::string name = cfg.kernelName();
  const int64_t positions = cfg.gridX(a.seqLen) * a.heads;
  int64_t perLaunch = positions;
  const int64_t waves = impl.launchWaves < 0   ? 0
                        : impl.launchWaves > 0 ? impl.launchWaves
                                               : a.waves;
  if (waves > 0 && kern.ctasPerSm > 0) {
    // Positions the device runs at once: its SMs times the kernel's CTAs
    // per SM, over the batches that share each position.
    const int64_t resident = int64_t(kern.ctasPerSm) *
                             impl.info.multiprocessors /
                             std::max<int64_t>(1, a.batches);
    perLaunch = std::max<int64_t>(1, waves * resident);
  }
  for (int64_t first = 0; first < positions; first += perLaunch) {
    firstCta = static_cast<int32_t>(first);
    MINFER_RETURN_IF_ERROR(impl.launch(
        kern.fn, static_cast<unsigned>(std::min(perLaunch, positions - first)),
        1, static_cast<unsigned>(a.batches),
        static_cast<unsigned>(cfg.threads()), cfg.sharedBytes(), stream,
        args.data(), name.c_str()));
    ++*launches;
  }
  return Status::success();
}

} // namespace minfer::cuda
