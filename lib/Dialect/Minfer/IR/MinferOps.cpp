//===- MinferOps.cpp - minfer op verifiers --------------------------------===//
//
// Every shape, dtype and budget constraint the kernels and the runtime rely on
// is checked here, so that malformed IR gets a diagnostic instead of reaching a
// lowering that would assume it away.
//
//===----------------------------------------------------------------------===//
#include "minfer/Dialect/Minfer/IR/MinferOps.h"
#include "minfer/Kernel/TileConfig.h"
#include "mlir/IR/Builders.h"
#include "mlir/IR/OpImplementation.h"
#include "llvm/ADT/SmallSet.h"

using namespace mlir;
using namespace mlir::minfer;
namespace kernel = ::minfer::kernel;

#define GET_OP_CLASSES
#include "minfer/Dialect/Minfer/IR/MinferOps.cpp.inc"

namespace {
/// Two extents agree unless both are static and differ.
bool compatible(int64_t a, int64_t b) {
  return ShapedType::isDynamic(a) || ShapedType::isDynamic(b) || a == b;
}

std::string dimStr(int64_t d) {
  return ShapedType::isDynamic(d) ? std::string("?") : std::to_string(d);
}

/// The extents named by the attention operands: [B, H, Hkv, N, D].
struct AttentionShape {
  int64_t batch, heads, kvHeads, seqLen, headDim;
  int64_t queryBlocks() const {
    return ShapedType::isDynamic(seqLen)
               ? ShapedType::kDynamic
               : (seqLen + kernel::kBlockM - 1) / kernel::kBlockM;
  }
};

FailureOr<AttentionShape> verifyAttentionOperands(Operation *op, Value q,
                                                  Value k, Value v,
                                                  Value out) {
  auto qt = cast<MemRefType>(q.getType()), kt = cast<MemRefType>(k.getType());
  auto vt = cast<MemRefType>(v.getType());
  if (qt.getElementType() != kt.getElementType() ||
      qt.getElementType() != vt.getElementType())
    return op->emitOpError("query, key and value must share an element type");
  if (out) {
    auto ot = cast<MemRefType>(out.getType());
    if (ot.getElementType() != qt.getElementType())
      return op->emitOpError("output element type must match the query's");
    for (int i = 0; i < 4; ++i)
      if (!compatible(qt.getDimSize(i), ot.getDimSize(i)))
        return op->emitOpError("output shape must match query shape [B, H, N, D]");
  }
  for (int i = 0; i < 4; ++i)
    if (!compatible(kt.getDimSize(i), vt.getDimSize(i)))
      return op->emitOpError("key and value shapes must match");
  AttentionShape s{qt.getDimSize(0), qt.getDimSize(1), kt.getDimSize(1),
                   qt.getDimSize(2), qt.getDimSize(3)};
  if (!compatible(s.batch, kt.getDimSize(0)))
    return op->emitOpError("batch mismatch: query has ")
           << dimStr(s.batch) << ", key has " << dimStr(kt.getDimSize(0));
  if (!compatible(s.seqLen, kt.getDimSize(2)))
    return op->emitOpError("sequence length mismatch: query has ")
           << dimStr(s.seqLen) << ", key has " << dimStr(kt.getDimSize(2));
  if (ShapedType::isDynamic(s.headDim) || !kernel::isSupportedHeadDim(s.headDim))
    return op->emitOpError("head dim must be static 64 or 128, got ")
           << dimStr(s.headDim);
  if (!compatible(s.headDim, kt.getDimSize(3)))
    return op->emitOpError("key head dim ")
           << dimStr(kt.getDimSize(3)) << " differs from query head dim "
           << s.headDim;
  if (!ShapedType::isDynamic(s.heads) && !ShapedType::isDynamic(s.kvHeads) &&
      (s.kvHeads <= 0 || s.heads % s.kvHeads != 0))
    return op->emitOpError("query heads (")
           << s.heads << ") must be a multiple of key/value heads ("
           << s.kvHeads << ")";
  return s;
}

LogicalResult verifyScale(Operation *op, FloatAttr scale) {
  double s = scale.getValueAsDouble();
  if (!(s > 0.0) || !std::isfinite(s))
    return op->emitOpError("scale must be finite and positive, got ") << s;
  return success();
}

/// Checks `buffer` is rank `rank` and its leading dims match `expected`.
LogicalResult verifyBuffer(Operation *op, StringRef name, Value buffer,
                           int64_t rank, ArrayRef<int64_t> expected) {
  auto t = cast<MemRefType>(buffer.getType());
  if (t.getRank() != rank)
    return op->emitOpError() << name << " must have rank " << rank << ", got "
                             << t.getRank();
  for (auto [i, e] : llvm::enumerate(expected))
    if (!compatible(t.getDimSize(i), e))
      return op->emitOpError() << name << " dim " << i << " is "
                               << dimStr(t.getDimSize(i)) << ", expected "
                               << dimStr(e);
  return success();
}

/// The four sparse-index buffers over [B, H, NB].
LogicalResult verifyIndexBuffers(Operation *op, Value rangeCount, Value ranges,
                                 Value columnCount, Value columnIndex,
                                 ArrayRef<int64_t> bhnb) {
  if (failed(verifyBuffer(op, "range_count", rangeCount, 3, bhnb)) ||
      failed(verifyBuffer(op, "ranges", ranges, 5, bhnb)))
    return failure();
  if (cast<MemRefType>(ranges.getType()).getDimSize(4) != 2)
    return op->emitOpError("ranges must end in a dimension of 2 ([start, end))");
  if (columnCount &&
      (failed(verifyBuffer(op, "column_count", columnCount, 3, bhnb)) ||
       failed(verifyBuffer(op, "column_index", columnIndex, 4, bhnb))))
    return failure();
  return success();
}

LogicalResult verifyBlock(Operation *op, int64_t block) {
  if (block != kernel::kBlockM)
    return op->emitOpError("block must be ")
           << kernel::kBlockM << " (the kernel tile), got " << block;
  return success();
}

/// `heads` are distinct, in [0, H) when H is static, and each per-head budget
/// array has one positive entry per head.
LogicalResult verifyHeads(Operation *op, ArrayRef<int64_t> heads, int64_t h,
                          ArrayRef<std::pair<StringRef, ArrayRef<int64_t>>>
                              budgets = {}) {
  if (heads.empty())
    return op->emitOpError("heads must not be empty");
  llvm::SmallSet<int64_t, 8> seen;
  for (int64_t head : heads) {
    if (head < 0 || (!ShapedType::isDynamic(h) && head >= h))
      return op->emitOpError("head ") << head << " out of range [0, "
                                      << dimStr(h) << ")";
    if (!seen.insert(head).second)
      return op->emitOpError("head ") << head << " listed twice";
  }
  for (auto [name, values] : budgets) {
    if (values.size() != heads.size())
      return op->emitOpError() << name << " has " << values.size()
                               << " entries, expected one per head ("
                               << heads.size() << ")";
    for (int64_t value : values)
      if (value <= 0)
        return op->emitOpError() << name << " budgets must be positive, got "
                                 << value;
  }
  return success();
}

/// Returns [B, H, NB] of the first index buffer; B and H of score buffers.
SmallVector<int64_t> leadingDims(Value buffer, int n) {
  auto t = cast<MemRefType>(buffer.getType());
  SmallVector<int64_t> dims;
  for (int i = 0; i < n && i < t.getRank(); ++i)
    dims.push_back(t.getDimSize(i));
  return dims;
}
} // namespace

//===----------------------------------------------------------------------===//
// Level 1
//===----------------------------------------------------------------------===//

LogicalResult SparseAttentionOp::verify() {
  auto shape = verifyAttentionOperands(*this, getQuery(), getKey(), getValue(),
                                       getOutput());
  if (failed(shape) || failed(verifyScale(*this, getScaleAttr())))
    return failure();
  if (ShapedType::isDynamic(shape->heads))
    return emitOpError("the number of query heads must be static");
  if (static_cast<int64_t>(getPatterns().size()) != shape->heads)
    return emitOpError("expects one pattern per query head: got ")
           << getPatterns().size() << " patterns for " << shape->heads
           << " heads";
  if (!getCausal())
    return emitOpError("only causal attention is supported (prefill)");
  for (auto [head, pattern] : llvm::enumerate(getPatterns())) {
    auto vs = dyn_cast<VerticalSlashAttr>(pattern);
    if (vs && !ShapedType::isDynamic(shape->seqLen) &&
        vs.getLastQ() > shape->seqLen)
      return emitOpError("head ")
             << head << ": last_q (" << vs.getLastQ()
             << ") exceeds the sequence length (" << shape->seqLen << ")";
  }
  return success();
}

//===----------------------------------------------------------------------===//
// Level 2
//===----------------------------------------------------------------------===//

LogicalResult VsEstimateOp::verify() {
  auto shape =
      verifyAttentionOperands(*this, getQuery(), getKey(), getKey(), Value());
  if (failed(shape) || failed(verifyScale(*this, getScaleAttr())))
    return failure();
  SmallVector<int64_t> bhn{shape->batch, shape->heads, shape->seqLen};
  if (failed(verifyBuffer(*this, "vertical_scores", getVerticalScores(), 3, bhn)) ||
      failed(verifyBuffer(*this, "slash_scores", getSlashScores(), 3, bhn)) ||
      failed(verifyHeads(*this, getHeads(), shape->heads)))
    return failure();
  if (getLastQ() <= 0 || getLastQ() % 16 != 0)
    return emitOpError("last_q must be a positive multiple of 16, got ")
           << getLastQ();
  if (!ShapedType::isDynamic(shape->seqLen) && getLastQ() > shape->seqLen)
    return emitOpError("last_q (") << getLastQ()
                                   << ") exceeds the sequence length ("
                                   << shape->seqLen << ")";
  return success();
}

LogicalResult BsEstimateOp::verify() {
  auto shape =
      verifyAttentionOperands(*this, getQuery(), getKey(), getKey(), Value());
  if (failed(shape) || failed(verifyScale(*this, getScaleAttr())) ||
      failed(verifyBlock(*this, getBlock())))
    return failure();
  int64_t nb = shape->queryBlocks();
  return failure(
      failed(verifyBuffer(*this, "block_scores", getBlockScores(), 4,
                          {shape->batch, shape->heads, nb, nb})) ||
      failed(verifyHeads(*this, getHeads(), shape->heads)));
}

LogicalResult BuildVsIndexOp::verify() {
  auto bhn = leadingDims(getVerticalScores(), 3);
  if (failed(verifyBuffer(*this, "vertical_scores", getVerticalScores(), 3, {})) ||
      failed(verifyBuffer(*this, "slash_scores", getSlashScores(), 3, bhn)) ||
      failed(verifyBlock(*this, getBlock())))
    return failure();
  int64_t nb = ShapedType::isDynamic(bhn[2])
                   ? ShapedType::kDynamic
                   : (bhn[2] + kernel::kBlockM - 1) / kernel::kBlockM;
  if (failed(verifyIndexBuffers(*this, getRangeCount(), getRanges(),
                                getColumnCount(), getColumnIndex(),
                                {bhn[0], bhn[1], nb})) ||
      failed(verifyHeads(*this, getHeads(), bhn[1],
                         {{"vertical", getVertical()}, {"slash", getSlash()}})))
    return failure();
  if (getForcedVerticalAttr().getInt() < 0 || getForcedSlashAttr().getInt() < 0)
    return emitOpError("forced_vertical and forced_slash must be non-negative");
  return success();
}

LogicalResult BuildBsIndexOp::verify() {
  auto bhnb = leadingDims(getBlockScores(), 3);
  if (failed(verifyBuffer(*this, "block_scores", getBlockScores(), 4, {})) ||
      failed(verifyBlock(*this, getBlock())) ||
      failed(verifyIndexBuffers(*this, getRangeCount(), getRanges(),
                                getColumnCount(), getColumnIndex(), bhnb)))
    return failure();
  return verifyHeads(*this, getHeads(), bhnb[1], {{"top_k", getTopK()}});
}

LogicalResult BuildAShapeIndexOp::verify() {
  auto bhnb = leadingDims(getRangeCount(), 3);
  if (failed(verifyBlock(*this, getBlock())) ||
      failed(verifyIndexBuffers(*this, getRangeCount(), getRanges(),
                                getColumnCount(), getColumnIndex(), bhnb)) ||
      failed(verifyHeads(*this, getHeads(), bhnb[1], {{"local", getLocal()}})))
    return failure();
  if (getSink().size() != getHeads().size())
    return emitOpError("sink has ") << getSink().size()
                                    << " entries, expected one per head ("
                                    << getHeads().size() << ")";
  for (int64_t sink : getSink())
    if (sink < 0)
      return emitOpError("sink must be non-negative, got ") << sink;
  return success();
}

LogicalResult BuildDenseIndexOp::verify() {
  auto bhnb = leadingDims(getRangeCount(), 3);
  if (failed(verifyBlock(*this, getBlock())) ||
      failed(verifyIndexBuffers(*this, getRangeCount(), getRanges(),
                                getColumnCount(), getColumnIndex(), bhnb)))
    return failure();
  return verifyHeads(*this, getHeads(), bhnb[1]);
}

//===----------------------------------------------------------------------===//
// Level 3
//===----------------------------------------------------------------------===//

namespace {
template <typename KernelOp>
LogicalResult verifyKernelOp(KernelOp op, Value columnCount = Value(),
                             Value columnIndex = Value()) {
  auto shape = verifyAttentionOperands(op, op.getQuery(), op.getKey(),
                                       op.getValue(), op.getOutput());
  if (failed(shape) || failed(verifyScale(op, op.getScaleAttr())))
    return failure();
  if (!op.getCausal())
    return op.emitOpError("only causal attention is supported (prefill)");
  return success();
}
} // namespace

LogicalResult DenseAttentionOp::verify() { return verifyKernelOp(*this); }

LogicalResult BlockAttentionOp::verify() {
  if (failed(verifyKernelOp(*this)))
    return failure();
  auto q = cast<MemRefType>(getQuery().getType());
  int64_t n = q.getDimSize(2);
  int64_t nb = ShapedType::isDynamic(n) ? n
                                        : (n + kernel::kBlockM - 1) / kernel::kBlockM;
  return verifyIndexBuffers(*this, getRangeCount(), getRanges(), Value(),
                            Value(), {q.getDimSize(0), q.getDimSize(1), nb});
}

LogicalResult VsAttentionOp::verify() {
  if (failed(verifyKernelOp(*this)))
    return failure();
  auto q = cast<MemRefType>(getQuery().getType());
  int64_t n = q.getDimSize(2);
  int64_t nb = ShapedType::isDynamic(n) ? n
                                        : (n + kernel::kBlockM - 1) / kernel::kBlockM;
  return verifyIndexBuffers(*this, getRangeCount(), getRanges(),
                            getColumnCount(), getColumnIndex(),
                            {q.getDimSize(0), q.getDimSize(1), nb});
}
