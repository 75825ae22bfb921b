//===- OutlineTileKernels.cpp - minfer-outline-tile-kernels ---------------===//
//
// Replaces each tile-kernel op (`minfer.dense_attention`, `block_attention`,
// `vs_attention`) in host code by a `gpu.launch_func` of the generated
// FlashAttention-2 kernel of the same kind, head dim and element type. The
// launch follows the ABI of TileConfig.h: buffers as flat memref<?xT> (the
// 4-D/3-D/5-D operands are collapsed, which needs contiguous row-major
// memrefs), grid (ceil(N / 64) H, 1, B) (one launch of every position),
// TileConfig::threads() threads, TileConfig::sharedBytes() of dynamic shared
// memory, then the i32 scalars, f32 scale * log2(e) and first_cta = 0.
// Unsupported operands are reported with emitOpError;
// so are paired block-sparse kernels (their TMA tensor maps come from the
// runtime).
//
//===----------------------------------------------------------------------===//
#include "minfer/Transforms/AttentionKernelBuilder.h"
#include "minfer/Transforms/Passes.h"
#include "mlir/Dialect/GPU/IR/GPUDialect.h"
#include "mlir/Dialect/LLVMIR/LLVMDialect.h"
#include "mlir/Dialect/LLVMIR/NVVMDialect.h"
#include "mlir/Dialect/NVGPU/IR/NVGPUDialect.h"
#include "mlir/Dialect/SCF/IR/SCF.h"
#include "mlir/Dialect/Vector/IR/VectorOps.h"
#include "mlir/IR/PatternMatch.h"
#include <cmath>

using namespace mlir;
namespace kernel = ::minfer::kernel;

namespace mlir::minfer {
#define GEN_PASS_DEF_MINFEROUTLINETILEKERNELS
#include "minfer/Transforms/Passes.h.inc"

namespace {
/// The operands of one tile-kernel op, in kernel ABI order.
struct TileKernelOperands {
  kernel::KernelKind kind;
  Value query, key, value, output;
  Value rangeCount, ranges, columnCount, columnIndex;
  FloatAttr scale;
};

std::optional<TileKernelOperands> getOperands(Operation *op) {
  if (auto d = dyn_cast<DenseAttentionOp>(op))
    return TileKernelOperands{kernel::KernelKind::Dense,
                              d.getQuery(),
                              d.getKey(),
                              d.getValue(),
                              d.getOutput(),
                              {},
                              {},
                              {},
                              {},
                              d.getScaleAttr()};
  if (auto bl = dyn_cast<BlockAttentionOp>(op))
    return TileKernelOperands{kernel::KernelKind::Block,
                              bl.getQuery(),
                              bl.getKey(),
                              bl.getValue(),
                              bl.getOutput(),
                              bl.getRangeCount(),
                              bl.getRanges(),
                              {},
                              {},
                              bl.getScaleAttr()};
  if (auto vs = dyn_cast<VsAttentionOp>(op))
    return TileKernelOperands{kernel::KernelKind::VerticalSlash,
                              vs.getQuery(),
                              vs.getKey(),
                              vs.getValue(),
                              vs.getOutput(),
                              vs.getRangeCount(),
                              vs.getRanges(),
                              vs.getColumnCount(),
                              vs.getColumnIndex(),
                              vs.getScaleAttr()};
  return std::nullopt;
}

/// Checks the operand can be passed as a flat buffer: identity layout
/// (contiguous row-major) in the default (global) memory space.
LogicalResult checkFlattenable(Operation *op, StringRef name, Value v) {
  auto type = cast<MemRefType>(v.getType());
  if (!type.getLayout().isIdentity())
    return op->emitOpError() << name
                             << " must be a contiguous row-major memref "
                                "(identity layout) to be passed to the kernel";
  if (type.getMemorySpace())
    return op->emitOpError()
           << name << " must be in the default (global) memory space";
  return success();
}

/// memref<AxBx...xT> -> memref<?xT>.
Value flatten(OpBuilder &b, Location loc, Value v) {
  auto type = cast<MemRefType>(v.getType());
  ReassociationIndices all;
  for (int64_t i = 0; i < type.getRank(); ++i)
    all.push_back(i);
  Value flat = v;
  if (type.getRank() != 1) {
    // Explicit result type: the inferred one folds a static 0 extent next to a
    // `?` into a static 0, which collapse_shape's verifier then rejects.
    int64_t size = 1;
    for (int64_t d : type.getShape())
      size = ShapedType::isDynamic(d) || ShapedType::isDynamic(size)
                 ? ShapedType::kDynamic
                 : size * d;
    auto collapsed = MemRefType::get({size}, type.getElementType());
    flat = memref::CollapseShapeOp::create(b, loc, collapsed, v,
                                           ArrayRef<ReassociationIndices>{all});
  }
  auto dynType = MemRefType::get({ShapedType::kDynamic}, type.getElementType());
  if (flat.getType() != dynType)
    flat = memref::CastOp::create(b, loc, dynType, flat);
  return flat;
}

Value dimI32(OpBuilder &b, Location loc, Value v, int64_t dim) {
  Value d = memref::DimOp::create(b, loc, v, dim);
  return arith::IndexCastOp::create(b, loc, b.getI32Type(), d);
}

struct OutlineTileKernelsPass final
    : impl::MinferOutlineTileKernelsBase<OutlineTileKernelsPass> {
  using Base::Base;

  LogicalResult outline(Operation *op, const TileKernelOperands &ops,
                        kernel::Chip chipValue) {
    ModuleOp module = getOperation();
    Location loc = op->getLoc();
    auto qType = cast<MemRefType>(ops.query.getType());
    Type elem = qType.getElementType();
    kernel::TileConfig cfg = kernel::TileConfig::tuned(
        ops.kind, kernel::ElemType::BF16, 128, chipValue,
        blockMOption(ops.kind, denseBlockM, blockBlockM));
    if (stages > 0)
      cfg.stages = stages;
    if (minCtasPerSm >= 0)
      cfg.minCtasPerSm = minCtasPerSm;
    if (elem.isBF16())
      cfg.elem = kernel::ElemType::BF16;
    else if (elem.isF16())
      cfg.elem = kernel::ElemType::F16;
    else
      return op->emitOpError()
             << "has no tensor-core kernel for element type " << elem
             << " (mma.sync m16n8k16 needs bf16 or f16)";
    int64_t d = qType.getDimSize(3);
    if (ShapedType::isDynamic(d) || !kernel::isKernelHeadDim(d))
      return op->emitOpError("needs a static head dim of 64, 96 or 128");
    cfg.headDim = d;
    if (std::string err = cfg.validate(); !err.empty())
      return op->emitOpError() << "invalid kernel configuration: " << err;
    // The paired kernels' last argument is a device pointer to TMA tensor
    // maps, which the runtime encodes through the driver for each call;
    // host IR has no way to build them.
    if (cfg.pairsQueryBlocks())
      return op->emitOpError()
             << "paired block-sparse kernels (block-block-m=" << cfg.blockM
             << ") read K and V through TMA tensor maps that only the minfer "
                "runtime builds; outline 64-row block-sparse kernels instead";

    SmallVector<std::pair<StringRef, Value>> buffers = {{"query", ops.query},
                                                        {"key", ops.key},
                                                        {"value", ops.value},
                                                        {"output", ops.output}};
    if (ops.rangeCount)
      buffers.append({{"range_count", ops.rangeCount}, {"ranges", ops.ranges}});
    if (ops.columnCount)
      buffers.append({{"column_count", ops.columnCount},
                      {"column_index", ops.columnIndex}});
    for (auto [name, v] : buffers)
      if (failed(checkFlattenable(op, name, v)))
        return failure();

    FailureOr<gpu::GPUFuncOp> func =
        getOrCreateAttentionKernel(module, loc, cfg);
    if (failed(func))
      return failure();

    OpBuilder b(op);
    SmallVector<Value> args;
    for (auto [name, v] : buffers)
      args.push_back(flatten(b, loc, v));
    Value seqLen = dimI32(b, loc, ops.query, 2);
    args.push_back(seqLen);
    args.push_back(dimI32(b, loc, ops.query, 1));
    args.push_back(dimI32(b, loc, ops.key, 1));
    if (ops.ranges)
      args.push_back(dimI32(b, loc, ops.ranges, 3));
    if (ops.columnIndex)
      args.push_back(dimI32(b, loc, ops.columnIndex, 3));
    double scaleLog2e = ops.scale.getValueAsDouble() * M_LOG2E;
    args.push_back(arith::ConstantOp::create(
        b, loc, b.getF32FloatAttr(static_cast<float>(scaleLog2e))));
    args.push_back(arith::ConstantIntOp::create(b, loc, 0, 32)); // first_cta

    // One launch of all NB H positions.
    Value n = memref::DimOp::create(b, loc, ops.query, 2);
    Value numBlocks = arith::CeilDivUIOp::create(
        b, loc, n, arith::ConstantIndexOp::create(b, loc, cfg.blockM));
    Value heads = memref::DimOp::create(b, loc, ops.query, 1);
    Value positions = arith::MulIOp::create(b, loc, numBlocks, heads);
    Value batch = memref::DimOp::create(b, loc, ops.query, 0);
    Value one = arith::ConstantIndexOp::create(b, loc, 1);
    Value threads = arith::ConstantIndexOp::create(b, loc, cfg.threads());
    Value smemBytes =
        arith::ConstantIntOp::create(b, loc, cfg.sharedBytes(), 32);
    gpu::LaunchFuncOp::create(
        b, loc, *func, gpu::KernelDim3{positions, one, batch},
        gpu::KernelDim3{threads, one, one}, smemBytes, args);
    op->erase();
    return success();
  }

  void runOnOperation() override {
    std::optional<kernel::Chip> chipValue = parseChip(chip);
    if (!chipValue) {
      getOperation().emitError()
          << "minfer-outline-tile-kernels: unknown chip '" << chip
          << "' (expected sm_80, sm_90 or sm_90a)";
      return signalPassFailure();
    }
    SmallVector<std::pair<Operation *, TileKernelOperands>> work;
    getOperation().walk([&](Operation *op) {
      if (op->getParentOfType<gpu::GPUModuleOp>())
        return;
      if (std::optional<TileKernelOperands> ops = getOperands(op))
        work.emplace_back(op, *ops);
    });
    bool failedAny = false;
    for (auto &[op, ops] : work)
      failedAny |= failed(outline(op, ops, *chipValue));
    if (failedAny)
      signalPassFailure();
  }
};
} // namespace
} // namespace mlir::minfer
