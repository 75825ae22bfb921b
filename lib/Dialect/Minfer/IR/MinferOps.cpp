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
#include <limits>

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

/// The static one of two compatible extents, if any. Joining before comparing
/// keeps `?` from bridging two different static extents (1 vs ? vs 2).
int64_t join(int64_t a, int64_t b) { return ShapedType::isDynamic(a) ? b : a; }

std::string dimStr(int64_t d) {
  return ShapedType::isDynamic(d) ? std::string("?") : std::to_string(d);
}

/// Token positions are int32 in the sparse index and the kernel ABI.
constexpr int64_t kMaxSeqLen = std::numeric_limits<int32_t>::max();

/// ceil(n / 64) without overflow; dynamic stays dynamic.
int64_t ceilBlocks(int64_t n) {
  if (ShapedType::isDynamic(n))
    return n;
  return n / kernel::kBlockM + (n % kernel::kBlockM != 0 ? 1 : 0);
}

LogicalResult verifySeqLen(Operation *op, int64_t n) {
  if (!ShapedType::isDynamic(n) && n > kMaxSeqLen)
    return op->emitOpError("sequence length ")
           << n << " exceeds the int32 sparse index range (" << kMaxSeqLen
           << ")";
  return success();
}

/// The extents named by the attention operands: [B, H, Hkv, N, D], each the
/// static one among all operands that carry it.
struct AttentionShape {
  int64_t batch, heads, kvHeads, seqLen, headDim;
  int64_t queryBlocks() const { return ceilBlocks(seqLen); }
};

FailureOr<AttentionShape> verifyAttentionOperands(Operation *op, Value q,
                                                  Value k, Value v,
                                                  Value out) {
  auto qt = cast<MemRefType>(q.getType()), kt = cast<MemRefType>(k.getType());
  auto vt = cast<MemRefType>(v.getType());
  if (qt.getElementType() != kt.getElementType() ||
      qt.getElementType() != vt.getElementType())
    return op->emitOpError("query, key and value must share an element type");
  SmallVector<int64_t, 4> qo(qt.getShape()), kv(kt.getShape());
  if (out) {
    auto ot = cast<MemRefType>(out.getType());
    if (ot.getElementType() != qt.getElementType())
      return op->emitOpError("output element type must match the query's");
    for (int i = 0; i < 4; ++i) {
      if (!compatible(qt.getDimSize(i), ot.getDimSize(i)))
        return op->emitOpError("output shape must match query shape [B, H, N, D]");
      qo[i] = join(qo[i], ot.getDimSize(i));
    }
  }
  for (int i = 0; i < 4; ++i) {
    if (!compatible(kt.getDimSize(i), vt.getDimSize(i)))
      return op->emitOpError("key and value shapes must match");
    kv[i] = join(kv[i], vt.getDimSize(i));
  }
  AttentionShape s{join(qo[0], kv[0]), qo[1], kv[1], join(qo[2], kv[2]),
                   qt.getDimSize(3)};
  if (!compatible(qo[0], kv[0]))
    return op->emitOpError("batch mismatch: query has ")
           << dimStr(qo[0]) << ", key has " << dimStr(kv[0]);
  if (!compatible(qo[2], kv[2]))
    return op->emitOpError("sequence length mismatch: query has ")
           << dimStr(qo[2]) << ", key has " << dimStr(kv[2]);
  if (failed(verifySeqLen(op, s.seqLen)))
    return failure();
  if (ShapedType::isDynamic(s.headDim) || !kernel::isKernelHeadDim(s.headDim))
    return op->emitOpError("head dim must be static 64, 96 or 128, got ")
           << dimStr(s.headDim);
  if (!compatible(s.headDim, kv[3]))
    return op->emitOpError("key head dim ")
           << dimStr(kv[3]) << " differs from query head dim " << s.headDim;
  if (!ShapedType::isDynamic(s.kvHeads) && s.kvHeads <= 0)
    return op->emitOpError("key/value heads must be positive, got ")
           << s.kvHeads;
  if (!ShapedType::isDynamic(s.heads) && !ShapedType::isDynamic(s.kvHeads) &&
      s.heads % s.kvHeads != 0)
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

/// Replaces dynamic entries of `dims` by the static leading dims of `buffer`
/// (which verifyBuffer has checked compatible).
void joinLeading(MutableArrayRef<int64_t> dims, Value buffer) {
  auto t = cast<MemRefType>(buffer.getType());
  for (size_t i = 0; i < dims.size(); ++i)
    dims[i] = join(dims[i], t.getDimSize(i));
}

/// The four sparse-index buffers over [B, H, NB]; each buffer's static dims
/// also constrain the buffers after it.
LogicalResult verifyIndexBuffers(Operation *op, Value rangeCount, Value ranges,
                                 Value columnCount, Value columnIndex,
                                 ArrayRef<int64_t> expected) {
  SmallVector<int64_t, 3> bhnb(3, ShapedType::kDynamic);
  llvm::copy(expected, bhnb.begin());
  auto check = [&](StringRef name, Value buffer, int64_t rank) {
    if (failed(verifyBuffer(op, name, buffer, rank, bhnb)))
      return failure();
    joinLeading(bhnb, buffer);
    return success();
  };
  if (failed(check("range_count", rangeCount, 3)) ||
      failed(check("ranges", ranges, 5)))
    return failure();
  if (cast<MemRefType>(ranges.getType()).getDimSize(4) != 2)
    return op->emitOpError("ranges must end in a dimension of 2 ([start, end))");
  if (columnCount && (failed(check("column_count", columnCount, 3)) ||
                      failed(check("column_index", columnIndex, 4))))
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

/// Pooled block scores pair every query block with every key block.
LogicalResult verifySquareScores(Operation *op, MemRefType scores) {
  if (!compatible(scores.getDimSize(2), scores.getDimSize(3)))
    return op->emitOpError("block_scores must be [B, H, NB, NB], got ")
           << dimStr(scores.getDimSize(2)) << " query blocks and "
           << dimStr(scores.getDimSize(3)) << " key blocks";
  return success();
}

/// The first `n` dims of `buffer` (fewer when its rank is lower).
SmallVector<int64_t> leadingDims(Value buffer, int n) {
  auto t = cast<MemRefType>(buffer.getType());
  SmallVector<int64_t> dims;
  for (int i = 0; i < n && i < t.getRank(); ++i)
    dims.push_back(t.getDimSize(i));
  return dims;
}

/// H of an index op whose four buffers verifyIndexBuffers accepted: the
/// static one among them, if any.
template <typename IndexOp>
int64_t indexHeads(IndexOp op) {
  int64_t h = ShapedType::kDynamic;
  for (Value buffer : {op.getRangeCount(), op.getRanges(), op.getColumnCount(),
                       op.getColumnIndex()})
    h = join(h, cast<MemRefType>(buffer.getType()).getDimSize(1));
  return h;
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
  // The query's own H: the expansion sizes its buffers from the query type.
  if (getQuery().getType().isDynamicDim(1))
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
  if (failed(verifyBuffer(*this, "vertical_scores", getVerticalScores(), 3, bhn)))
    return failure();
  joinLeading(bhn, getVerticalScores());
  if (failed(verifyBuffer(*this, "slash_scores", getSlashScores(), 3, bhn)) ||
      failed(verifyHeads(*this, getHeads(), shape->heads)))
    return failure();
  joinLeading(bhn, getSlashScores());
  int64_t n = bhn[2]; // N, also when only a score buffer has it static
  if (failed(verifySeqLen(*this, n)))
    return failure();
  if (getLastQ() <= 0 || getLastQ() % 16 != 0)
    return emitOpError("last_q must be a positive multiple of 16, got ")
           << getLastQ();
  if (!ShapedType::isDynamic(n) && static_cast<int64_t>(getLastQ()) > n)
    return emitOpError("last_q (") << getLastQ()
                                   << ") exceeds the sequence length (" << n
                                   << ")";
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
      failed(verifySquareScores(*this, getBlockScores().getType())) ||
      failed(verifyHeads(*this, getHeads(), shape->heads)));
}

LogicalResult BuildVsIndexOp::verify() {
  if (failed(verifyBuffer(*this, "vertical_scores", getVerticalScores(), 3, {})))
    return failure();
  auto bhn = leadingDims(getVerticalScores(), 3);
  if (failed(verifyBuffer(*this, "slash_scores", getSlashScores(), 3, bhn)))
    return failure();
  joinLeading(bhn, getSlashScores());
  if (failed(verifySeqLen(*this, bhn[2])) ||
      failed(verifyBlock(*this, getBlock())) ||
      failed(verifyIndexBuffers(*this, getRangeCount(), getRanges(),
                                getColumnCount(), getColumnIndex(),
                                {bhn[0], bhn[1], ceilBlocks(bhn[2])})) ||
      failed(verifyHeads(*this, getHeads(), join(bhn[1], indexHeads(*this)),
                         {{"vertical", getVertical()}, {"slash", getSlash()}})))
    return failure();
  if (getForcedVerticalAttr().getInt() < 0 || getForcedSlashAttr().getInt() < 0)
    return emitOpError("forced_vertical and forced_slash must be non-negative");
  return success();
}

LogicalResult BuildBsIndexOp::verify() {
  if (failed(verifyBuffer(*this, "block_scores", getBlockScores(), 4, {})))
    return failure();
  auto scores = getBlockScores().getType();
  if (failed(verifySquareScores(*this, scores)))
    return failure();
  SmallVector<int64_t> bhnb{scores.getDimSize(0), scores.getDimSize(1),
                            join(scores.getDimSize(2), scores.getDimSize(3))};
  if (failed(verifyBlock(*this, getBlock())) ||
      failed(verifyIndexBuffers(*this, getRangeCount(), getRanges(),
                                getColumnCount(), getColumnIndex(), bhnb)))
    return failure();
  return verifyHeads(*this, getHeads(), indexHeads(*this),
                     {{"top_k", getTopK()}});
}

LogicalResult BuildAShapeIndexOp::verify() {
  if (failed(verifyBlock(*this, getBlock())) ||
      failed(verifyIndexBuffers(*this, getRangeCount(), getRanges(),
                                getColumnCount(), getColumnIndex(), {})) ||
      failed(verifyHeads(*this, getHeads(), indexHeads(*this),
                         {{"local", getLocal()}})))
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
  if (failed(verifyBlock(*this, getBlock())) ||
      failed(verifyIndexBuffers(*this, getRangeCount(), getRanges(),
                                getColumnCount(), getColumnIndex(), {})))
    return failure();
  return verifyHeads(*this, getHeads(), indexHeads(*this));
}

//===----------------------------------------------------------------------===//
// Level 3
//===----------------------------------------------------------------------===//

namespace {
template <typename KernelOp>
FailureOr<AttentionShape> verifyKernelOp(KernelOp op) {
  auto shape = verifyAttentionOperands(op, op.getQuery(), op.getKey(),
                                       op.getValue(), op.getOutput());
  if (failed(shape) || failed(verifyScale(op, op.getScaleAttr())))
    return failure();
  if (!op.getCausal())
    return op.emitOpError("only causal attention is supported (prefill)");
  return shape;
}
} // namespace

LogicalResult DenseAttentionOp::verify() { return verifyKernelOp(*this); }

LogicalResult BlockAttentionOp::verify() {
  auto shape = verifyKernelOp(*this);
  if (failed(shape))
    return failure();
  return verifyIndexBuffers(*this, getRangeCount(), getRanges(), Value(),
                            Value(),
                            {shape->batch, shape->heads, shape->queryBlocks()});
}

LogicalResult VsAttentionOp::verify() {
  auto shape = verifyKernelOp(*this);
  if (failed(shape))
    return failure();
  return verifyIndexBuffers(*this, getRangeCount(), getRanges(),
                            getColumnCount(), getColumnIndex(),
                            {shape->batch, shape->heads, shape->queryBlocks()});
}
