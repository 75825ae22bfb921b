//===- ExpandSparseAttention.cpp - sparse_attention -> estimate/index/kernel ===//
//
// MInference decides each head's sparse mask online, per call. This pass makes
// that sequence explicit: for every `minfer.sparse_attention` it allocates the
// score and sparse-index buffers, emits one estimation op and one index op per
// group of heads that share a pattern kind (and, for vertical-slash, last_q),
// then a single tile-kernel op over all heads:
//   all heads dense          -> minfer.dense_attention (no index at all)
//   any head vertical-slash  -> minfer.vs_attention (ranges + gathered columns)
//   otherwise                -> minfer.block_attention (ranges only)
// One kernel launch serves mixed patterns because every index op writes the
// same SparseIndex layout (include/minfer/Runtime/SparseIndex.h).
//
//===----------------------------------------------------------------------===//
#include "minfer/Transforms/Passes.h"
#include "minfer/Kernel/TileConfig.h"
#include "mlir/Dialect/Arith/Utils/Utils.h"
#include "mlir/Dialect/MemRef/Utils/MemRefUtils.h"
#include "mlir/Dialect/Utils/StaticValueUtils.h"
#include "mlir/IR/PatternMatch.h"
#include "mlir/Transforms/GreedyPatternRewriteDriver.h"
#include <map>

using namespace mlir;

namespace mlir::minfer {
#define GEN_PASS_DEF_MINFEREXPANDSPARSEATTENTION
#include "minfer/Transforms/Passes.h.inc"

namespace {
namespace kernel = ::minfer::kernel;

struct ExpandOptions {
  int64_t lastQ;          ///< 0: keep each pattern's last_q
  int64_t forcedVertical; ///< leading columns every VS head keeps
  int64_t forcedSlash;    ///< diagonals every VS head keeps
};

/// Heads of one op grouped by what they need emitted.
struct HeadGroups {
  std::map<int64_t, SmallVector<int64_t>> vsByLastQ; ///< last_q -> heads
  SmallVector<int64_t> blockSparse, aShape, dense;
  int64_t maxRanges = 1, maxColumns = 1;
};

HeadGroups groupHeads(ArrayAttr patterns, const ExpandOptions &opts) {
  HeadGroups g;
  for (auto [h, attr] : llvm::enumerate(patterns)) {
    int64_t head = h;
    if (auto vs = dyn_cast<VerticalSlashAttr>(attr)) {
      g.vsByLastQ[opts.lastQ > 0 ? opts.lastQ : vs.getLastQ()].push_back(head);
      // Each merged slash range comes from at least one selected slash, and
      // every column is a selected vertical: the budgets bound both lists.
      g.maxRanges = std::max(g.maxRanges,
                             std::max(vs.getSlash(), opts.forcedSlash));
      g.maxColumns = std::max(g.maxColumns,
                              std::max(vs.getVertical(), opts.forcedVertical));
    } else if (auto bs = dyn_cast<BlockSparseAttr>(attr)) {
      g.blockSparse.push_back(head);
      g.maxRanges = std::max(g.maxRanges, bs.getTopK());
    } else if (isa<AShapeAttr>(attr)) {
      g.aShape.push_back(head);
      g.maxRanges = std::max<int64_t>(g.maxRanges, 2); // sink + local window
    } else {
      g.dense.push_back(head);
    }
  }
  return g;
}

struct ExpandSparseAttentionPattern final
    : OpRewritePattern<SparseAttentionOp> {
  ExpandSparseAttentionPattern(MLIRContext *ctx, ExpandOptions opts)
      : OpRewritePattern(ctx), opts(opts) {}

  LogicalResult matchAndRewrite(SparseAttentionOp op,
                                PatternRewriter &rewriter) const override {
    Location loc = op.getLoc();
    auto qType = cast<MemRefType>(op.getQuery().getType());
    int64_t heads = qType.getDimSize(1);
    HeadGroups g = groupHeads(op.getPatterns(), opts);
    FloatAttr scale = op.getScaleAttr();

    if (g.dense.size() == static_cast<size_t>(heads)) {
      rewriter.replaceOpWithNewOp<DenseAttentionOp>(
          op, op.getQuery(), op.getKey(), op.getValue(), op.getOutput(), scale,
          op.getCausalAttr());
      return success();
    }

    // Extents: B and N may be dynamic; NB = ceil(N / 64).
    OpFoldResult batch = memref::getMixedSize(rewriter, loc, op.getQuery(), 0);
    OpFoldResult seqLen = memref::getMixedSize(rewriter, loc, op.getQuery(), 2);
    Value seqLenValue = getValueOrCreateConstantIndexOp(rewriter, loc, seqLen);
    int64_t staticN = qType.getDimSize(2);
    OpFoldResult numBlocks;
    int64_t maxRanges = g.maxRanges;
    if (ShapedType::isDynamic(staticN)) {
      Value blockM =
          arith::ConstantIndexOp::create(rewriter, loc, kernel::kBlockM);
      numBlocks = arith::CeilDivUIOp::create(rewriter, loc, seqLenValue, blockM)
                      .getResult();
    } else {
      int64_t nb = (staticN + kernel::kBlockM - 1) / kernel::kBlockM;
      numBlocks = rewriter.getIndexAttr(nb);
      // Merged ranges are disjoint, non-empty and end at most at N. (NB + 1
      // is not a bound: a short last block can hold one range per offset.)
      maxRanges = std::min(maxRanges, staticN);
    }

    SmallVector<Value> allocated;
    auto alloc = [&](ArrayRef<OpFoldResult> sizes, Type elem) -> Value {
      SmallVector<int64_t> shape;
      SmallVector<Value> dynamic;
      dispatchIndexOpFoldResults(sizes, dynamic, shape);
      Value buffer = memref::AllocOp::create(
          rewriter, loc, MemRefType::get(shape, elem), dynamic);
      allocated.push_back(buffer);
      return buffer;
    };
    OpFoldResult h = rewriter.getIndexAttr(heads);
    Type i32 = rewriter.getI32Type(), f32 = rewriter.getF32Type();
    Value rangeCount = alloc({batch, h, numBlocks}, i32);
    Value ranges = alloc({batch, h, numBlocks, rewriter.getIndexAttr(maxRanges),
                          rewriter.getIndexAttr(2)},
                         i32);
    Value columnCount = alloc({batch, h, numBlocks}, i32);
    Value columnIndex =
        alloc({batch, h, numBlocks, rewriter.getIndexAttr(g.maxColumns)}, i32);

    for (auto &[lastQ, vsHeads] : g.vsByLastQ) {
      SmallVector<int64_t> vertical, slash;
      for (int64_t h : vsHeads) {
        auto vs = cast<VerticalSlashAttr>(op.getPatterns()[h]);
        vertical.push_back(vs.getVertical());
        slash.push_back(vs.getSlash());
      }
      Value vScores = alloc({batch, h, seqLen}, f32);
      Value sScores = alloc({batch, h, seqLen}, f32);
      VsEstimateOp::create(rewriter, loc, op.getQuery(), op.getKey(), vScores,
                           sScores, rewriter.getDenseI64ArrayAttr(vsHeads),
                           rewriter.getI64IntegerAttr(lastQ), scale);
      BuildVsIndexOp::create(rewriter, loc, vScores, sScores, rangeCount,
                             ranges, columnCount, columnIndex, vsHeads,
                             vertical, slash, opts.forcedVertical,
                             opts.forcedSlash, kernel::kBlockM);
    }
    if (!g.blockSparse.empty()) {
      SmallVector<int64_t> topK;
      for (int64_t h : g.blockSparse)
        topK.push_back(cast<BlockSparseAttr>(op.getPatterns()[h]).getTopK());
      Value blockScores = alloc({batch, h, numBlocks, numBlocks}, f32);
      BsEstimateOp::create(rewriter, loc, op.getQuery(), op.getKey(),
                           blockScores,
                           rewriter.getDenseI64ArrayAttr(g.blockSparse),
                           rewriter.getI64IntegerAttr(kernel::kBlockM), scale);
      BuildBsIndexOp::create(rewriter, loc, blockScores, rangeCount, ranges,
                             columnCount, columnIndex, seqLenValue, g.blockSparse,
                             topK, kernel::kBlockM);
    }
    if (!g.aShape.empty()) {
      SmallVector<int64_t> sink, local;
      for (int64_t h : g.aShape) {
        auto a = cast<AShapeAttr>(op.getPatterns()[h]);
        sink.push_back(a.getSink());
        local.push_back(a.getLocal());
      }
      BuildAShapeIndexOp::create(rewriter, loc, seqLenValue, rangeCount, ranges,
                                 columnCount, columnIndex, g.aShape, sink,
                                 local, kernel::kBlockM);
    }
    if (!g.dense.empty())
      BuildDenseIndexOp::create(rewriter, loc, seqLenValue, rangeCount, ranges,
                                columnCount, columnIndex, g.dense,
                                kernel::kBlockM);

    if (!g.vsByLastQ.empty())
      VsAttentionOp::create(rewriter, loc, op.getQuery(), op.getKey(),
                            op.getValue(), rangeCount, ranges, columnCount,
                            columnIndex, op.getOutput(), scale,
                            op.getCausalAttr());
    else
      BlockAttentionOp::create(rewriter, loc, op.getQuery(), op.getKey(),
                               op.getValue(), rangeCount, ranges,
                               op.getOutput(), scale, op.getCausalAttr());
    for (Value buffer : allocated)
      memref::DeallocOp::create(rewriter, loc, buffer);
    rewriter.eraseOp(op);
    return success();
  }

  ExpandOptions opts;
};

struct ExpandSparseAttentionPass final
    : impl::MinferExpandSparseAttentionBase<ExpandSparseAttentionPass> {
  using Base::Base;

  void runOnOperation() override {
    if (blockSize != kernel::kBlockM) {
      getOperation().emitError("minfer-expand-sparse-attention: block-size must be ")
          << kernel::kBlockM << " (the kernel tile), got "
          << static_cast<int64_t>(blockSize);
      return signalPassFailure();
    }
    if (lastQ < 0 || lastQ % 16 != 0 || forcedVertical < 0 || forcedSlash < 0) {
      getOperation().emitError("minfer-expand-sparse-attention: last-q must be 0 "
                               "or a positive multiple of 16 and forced counts "
                               "non-negative");
      return signalPassFailure();
    }
    // The verifier checks each pattern's own last_q against a static N; the
    // override bypasses it, so check it here rather than emit invalid IR.
    bool tooLong = false;
    getOperation().walk([&](SparseAttentionOp op) {
      int64_t n = cast<MemRefType>(op.getQuery().getType()).getDimSize(2);
      bool hasVs = llvm::any_of(op.getPatterns(), [](Attribute a) {
        return isa<VerticalSlashAttr>(a);
      });
      if (hasVs && lastQ > 0 && !ShapedType::isDynamic(n) && lastQ > n) {
        op.emitOpError("last-q override (")
            << static_cast<int64_t>(lastQ)
            << ") exceeds the sequence length (" << n << ")";
        tooLong = true;
      }
    });
    if (tooLong)
      return signalPassFailure();
    RewritePatternSet patterns(&getContext());
    patterns.add<ExpandSparseAttentionPattern>(
        &getContext(), ExpandOptions{lastQ, forcedVertical, forcedSlash});
    if (failed(applyPatternsGreedily(getOperation(), std::move(patterns))))
      return signalPassFailure();
  }
};
} // namespace
} // namespace mlir::minfer
