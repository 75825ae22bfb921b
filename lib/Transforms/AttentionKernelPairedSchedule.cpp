//===- AttentionKernelPairedSchedule.cpp - W query blocks' tiles --------===//
//
// The key tiles of a CTA of paired query blocks (TileConfig::pairsQueryBlocks,
// block-sparse or vertical-slash, W = 2 or 3 blocks of 64 rows): warpgroup w computes query
// block W M + w from its own index row. The W walks over the index rows are
// merged in key order; each step of the merge is a tile that one or more
// blocks visit. The producer (lane 0 of warp 4 W) walks the merge and
// hands each step to the TMA ring (AttentionKernelRing.cpp) with the blocks
// that visit it and their key limits, so a tile several blocks visit is
// loaded once; each visiting block gets the step through its work queue.
//
// Vertical-slash rows then have column strips, which only their own block
// visits: the producer is then a whole warp, whose lane 0 walks the ranges
// and whose lanes gather the strips together (emitColumnStrips).
//
// Why the merge runs ahead in one lane rather than in every warp: walking it
// in every warp at every tile cost 38 % more instructions than the 64-row
// kernel (ncu, bench/results/tuning.md), and the loads must be issued
// several steps ahead of the consumers anyway. Steps go straight to the
// ring and the queues, so the merged list has no length limit.
//
//===----------------------------------------------------------------------===//
#include "AttentionKernelEmitter.h"
#include "mlir/Dialect/Arith/IR/Arith.h"
#include "mlir/Dialect/GPU/IR/GPUDialect.h"
#include "mlir/Dialect/LLVMIR/NVVMDialect.h"
#include "mlir/Dialect/LLVMIR/LLVMDialect.h"
#include "mlir/Dialect/MemRef/IR/MemRef.h"
#include "mlir/Dialect/SCF/IR/SCF.h"

using namespace mlir;
using namespace mlir::minfer::detail;

namespace {
/// Start of a finished walk; larger than any key, and + 64 stays positive.
constexpr int64_t kDone = 0x7fff0000;
constexpr int64_t kMaxWalks = 4;

/// The walks over the W index rows. A walk's cursor is (r, t, end): at
/// tile t of its range r, which ends at `end`; a finished walk has
/// t = end = kDone. A walk goes over its ranges as RangeStream does without
/// packing (an empty or inverted range is one fully masked tile), so each
/// warpgroup computes each of its tiles exactly once whatever the order of
/// its ranges; sorted ranges (the index contract) only decide how many tiles
/// are shared.
struct IndexWalks {
  KernelEmitter &e;
  int64_t walks; ///< W
  SmallVector<Value, kMaxWalks> numRanges, rangeBase;
  /// Vertical-slash: each row's column count (0 past the last block) and
  /// the element of its first column.
  SmallVector<Value, kMaxWalks> numColumns, columnBase;

  explicit IndexWalks(KernelEmitter &e)
      : e(e), walks(e.cfg.queryBlocksPerCta()) {
    OpBuilder &b = e.b;
    Location loc = e.loc;
    Value first = arith::MulIOp::create(b, loc, e.qBlock, e.cIdx(walks));
    for (int64_t w = 0; w < walks; ++w) {
      // Past the last query block, row W M + w reads row W M, no ranges.
      Value inRange = arith::CmpIOp::create(
          b, loc, arith::CmpIPredicate::ult, e.addIdx(first, w), e.indexBlocks);
      Value row = e.indexRow;
      if (w > 0)
        row = arith::SelectOp::create(b, loc, inRange, e.addIdx(row, w), row);
      Value n = e.clampedIndexCount(e.rangeCount, row, e.maxRanges);
      numRanges.push_back(
          w > 0 ? arith::SelectOp::create(b, loc, inRange, n, e.cI32(0)) : n);
      rangeBase.push_back(e.rangeBaseOf(row));
      if (!e.columnCount)
        continue;
      Value c = e.clampedIndexCount(e.columnCount, row, e.maxColumns);
      numColumns.push_back(
          w > 0 ? arith::SelectOp::create(b, loc, inRange, c, e.cI32(0)) : c);
      columnBase.push_back(
          arith::MulIOp::create(b, loc, row, e.toIdx(e.maxColumns)));
    }
  }

  /// A walk at the start of range r of a row with `count` ranges at `base`:
  /// (r, start, end) clamped to [0, N], or (r, kDone, kDone) past the last.
  SmallVector<Value> walkAt(Value count, Value base, Value r) {
    // Also start <= N: a start never reaches kDone.
    auto [start, end] =
        e.indexRangeOr(base, count, r, kDone, Value(), [&](Value s) {
          return arith::MinSIOp::create(e.b, e.loc, s, e.seqLen).getResult();
        });
    return {r, start, end};
  }
  /// The walk (r, t, end) after tile t when `moves`, else unchanged.
  SmallVector<Value> stepWalk(Value count, Value base, ValueRange walk,
                              Value moves) {
    OpBuilder &b = e.b;
    Location loc = e.loc;
    Value r = walk[0], t = walk[1], end = walk[2];
    Value next = arith::AddIOp::create(b, loc, t, e.cI32(e.cfg.blockN));
    Value leave = arith::CmpIOp::create(b, loc, arith::CmpIPredicate::sge, next,
                                        end);
    if (moves)
      leave = arith::AndIOp::create(b, loc, moves, leave);
    SmallVector<Type> types(3, b.getI32Type());
    return e.emitIf(
        leave, types,
        [&]() -> SmallVector<Value> {
          return walkAt(count, base, arith::AddIOp::create(b, loc, r, e.cI32(1)));
        },
        [&]() -> SmallVector<Value> {
          return {r, moves ? arith::SelectOp::create(b, loc, moves, next, t) : next,
                  end};
        });
  }

  /// The merge of the walks, cursor (walk 0, ..., walk W - 1): its current
  /// tile is the smallest start; walk w visits it when it is there.
  SmallVector<Value> mergeBegin() {
    SmallVector<Value> c;
    for (int64_t w = 0; w < walks; ++w)
      c.append(walkAt(numRanges[w], rangeBase[w], e.cI32(0)));
    return c;
  }
  Value tileStart(ValueRange merge) {
    Value start = merge[1];
    for (int64_t w = 1; w < walks; ++w)
      start = arith::MinSIOp::create(e.b, e.loc, start, merge[3 * w + 1]);
    return start;
  }
  /// Whether each walk visits the merge's tile at `start` (tileStart).
  SmallVector<Value, kMaxWalks> visits(ValueRange merge, Value start) {
    Value live = arith::CmpIOp::create(e.b, e.loc, arith::CmpIPredicate::slt,
                                       start, e.cI32(kDone));
    SmallVector<Value, kMaxWalks> out(walks);
    for (int64_t w = 0; w < walks; ++w)
      out[w] = arith::AndIOp::create(
          e.b, e.loc, live,
          arith::CmpIOp::create(e.b, e.loc, arith::CmpIPredicate::eq,
                                merge[3 * w + 1], start));
    return out;
  }
  /// The merge after its tile: the walks that visit it (`at`) move on.
  SmallVector<Value> mergeStep(ValueRange merge, ArrayRef<Value> at) {
    SmallVector<Value> out;
    for (int64_t w = 0; w < walks; ++w)
      out.append(stepWalk(numRanges[w], rangeBase[w],
                          merge.slice(3 * w, 3), at[w]));
    return out;
  }
};

} // namespace

/// How many of block w's columns lie before its first row: all but the
/// last few, if any (the columns are sorted, unique and below the block's
/// end, so at most 64 are not): the warp reads the last 64 and counts.
static Value columnsBeforeBlock(KernelEmitter &e, IndexWalks &walks,
                                int64_t w) {
  OpBuilder &b = e.b;
  Location loc = e.loc;
  Value n = walks.numColumns[w];
  Value firstRow = arith::AddIOp::create(
      b, loc, e.qRowStart, e.cI32(w * e.cfg.blockN));
  Value any = arith::CmpIOp::create(b, loc, arith::CmpIPredicate::sgt, n,
                                    e.cI32(0));
  return e.emitIf(
      any, TypeRange{b.getI32Type()},
      [&]() -> SmallVector<Value> {
        Value late = e.cI32(0);
        for (int64_t half = 0; half < 2; ++half) {
          Value p = arith::AddIOp::create(
              b, loc, n,
              arith::AddIOp::create(b, loc, e.toI32(e.lane),
                                    e.cI32(32 * half - 64)));
          Value inList = arith::CmpIOp::create(b, loc, arith::CmpIPredicate::sge,
                                               p, e.cI32(0));
          Value at = arith::AddIOp::create(
              b, loc, walks.columnBase[w],
              e.toIdx(arith::MaxSIOp::create(b, loc, p, e.cI32(0))));
          Value col =
              memref::LoadOp::create(b, loc, e.columnIndex, ValueRange{at});
          Value isLate = arith::AndIOp::create(
              b, loc, inList,
              arith::CmpIOp::create(b, loc, arith::CmpIPredicate::sge, col,
                                    firstRow));
          Value ballot = NVVM::VoteSyncOp::create(b, loc, b.getI32Type(),
                                                  e.cI32(-1), isLate,
                                                  NVVM::VoteSyncKind::ballot);
          late = arith::AddIOp::create(
              b, loc, late, LLVM::CtPopOp::create(b, loc, b.getI32Type(), ballot));
        }
        return {arith::SubIOp::create(b, loc, n, late)};
      },
      [&]() -> SmallVector<Value> { return {n}; })[0];
}

/// The producer state its loops carry after the merge cursor: (step,
/// queued[W], held[W]).
struct ProducerState {
  SmallVector<Value> values;
  int64_t W;
  Value step() const { return values[0]; }
  SmallVector<Value> queued() const {
    return SmallVector<Value>(values.begin() + 1, values.begin() + 1 + W);
  }
  SmallVector<Value> held() const {
    return SmallVector<Value>(values.begin() + 1 + W, values.end());
  }
  /// The state after one more step with `queued` and `held`.
  SmallVector<Value> next(KernelEmitter &e, ArrayRef<Value> queued,
                          ArrayRef<Value> held) const {
    SmallVector<Value> out{
        arith::AddIOp::create(e.b, e.loc, step(), e.cI32(1))};
    out.append(queued.begin(), queued.end());
    out.append(held.begin(), held.end());
    return out;
  }
};

/// Vertical-slash: after the ranges, each block's columns, which only that
/// block visits. Those before the block's first row go as strips of 64
/// column_index positions, gathered by the whole producer warp; the blocks
/// take turns strip by strip so that they compute their strips side by
/// side. A column at or past the block's first row (the index allows it;
/// MInference's always-kept diagonal covers it) goes as the one-key range
/// [c, c + 1), which the consumer masks causally. `carried` is the
/// ProducerState after the ranges; returns it after the columns.
static SmallVector<Value> emitColumnStrips(KernelEmitter &e, TileRing &ring,
                                           IndexWalks &walks,
                                           ValueRange carried) {
  OpBuilder &b = e.b;
  Location loc = e.loc;
  const int64_t W = walks.walks, n = e.cfg.blockN;
  SmallVector<Value, kMaxWalks> strips;
  for (int64_t w = 0; w < W; ++w)
    strips.push_back(columnsBeforeBlock(e, walks, w));
  Value most;
  for (int64_t w = 0; w < W; ++w)
    most = w ? arith::MaxSIOp::create(b, loc, most, strips[w]).getResult()
             : strips[w];
  SmallVector<Value> init{e.cI32(0)};
  init.append(carried.begin(), carried.end());
  SmallVector<Type> types(init.size(), b.getI32Type());
  auto loop = scf::WhileOp::create(
      b, loc, types, init,
      [&](OpBuilder &, Location, ValueRange args) {
        Value more = arith::CmpIOp::create(b, loc, arith::CmpIPredicate::slt,
                                           args[0], most);
        scf::ConditionOp::create(b, loc, more, args);
      },
      [&](OpBuilder &, Location, ValueRange args) {
        Value pos = args[0];
        ProducerState state{SmallVector<Value>(args.drop_front()), W};
        for (int64_t w = 0; w < W; ++w) {
          Value has = arith::CmpIOp::create(b, loc, arith::CmpIPredicate::slt,
                                            pos, strips[w]);
          state.values = e.emitIf(
              has, TypeRange(ValueRange(state.values)),
              [&]() -> SmallVector<Value> {
                SmallVector<Value> queued = state.queued(),
                                   held = state.held();
                ring.produceStrip(state.step(), w, walks.columnBase[w], pos,
                                  strips[w], queued, held);
                return state.next(e, queued, held);
              },
              [&]() -> SmallVector<Value> { return state.values; });
        }
        SmallVector<Value> next{arith::AddIOp::create(b, loc, pos, e.cI32(n))};
        next.append(state.values);
        scf::YieldOp::create(b, loc, next);
      });
  SmallVector<Value> after(loop.getResults().drop_front());
  // The late columns: one-key ranges.
  for (int64_t w = 0; w < W; ++w) {
    auto late = scf::ForOp::create(
        b, loc, e.toIdx(strips[w]), e.toIdx(walks.numColumns[w]), e.cIdx(1),
        after,
        [&](OpBuilder &, Location, Value i, ValueRange args) {
          ProducerState state{SmallVector<Value>(args), W};
          Value key = memref::LoadOp::create(
              b, loc, e.columnIndex,
              ValueRange{arith::AddIOp::create(b, loc, walks.columnBase[w], i)});
          SmallVector<Value> queued = state.queued(), held = state.held();
          ring.produceFor(state.step(), key, w,
                          arith::AddIOp::create(b, loc, key, e.cI32(1)),
                          queued, held);
          scf::YieldOp::create(b, loc, state.next(e, queued, held));
        });
    after.assign(late.getResults().begin(), late.getResults().end());
  }
  return after;
}

void mlir::minfer::detail::emitPairedProducer(KernelEmitter &e, TileRing &ring) {
  OpBuilder &b = e.b;
  Location loc = e.loc;
  Type i32 = b.getI32Type();
  IndexWalks walks(e);
  const int64_t W = walks.walks;
  // Carried: (merge cursor, step, items queued to each block, the step each
  // block holds), all i32.
  SmallVector<Value> init = walks.mergeBegin();
  const unsigned n = init.size();
  init.append(W + 1, e.cI32(0));
  init.append(W, e.cI32(TileRing::kNotHeld));
  SmallVector<Type> types(init.size(), i32);
  auto emitRanges = [&]() -> SmallVector<Value> {
    auto loop = scf::WhileOp::create(
        b, loc, types, init,
        [&](OpBuilder &, Location, ValueRange args) {
          Value live = arith::CmpIOp::create(
              b, loc, arith::CmpIPredicate::slt,
              walks.tileStart(args.take_front(n)), e.cI32(kDone));
          scf::ConditionOp::create(b, loc, live, args);
        },
        [&](OpBuilder &, Location, ValueRange args) {
          ValueRange c = args.take_front(n);
          ProducerState state{SmallVector<Value>(args.drop_front(n)), W};
          SmallVector<Value> queued = state.queued(), held = state.held();
          SmallVector<Value> limits;
          for (int64_t w = 0; w < W; ++w)
            limits.push_back(c[3 * w + 2]);
          Value start = walks.tileStart(c);
          auto visits = walks.visits(c, start);
          ring.produce(state.step(), start, limits, visits, queued, held);
          SmallVector<Value> next = walks.mergeStep(c, visits);
          next.append(state.next(e, queued, held));
          scf::YieldOp::create(b, loc, next);
        });
    return SmallVector<Value>(loop.getResults().drop_front(n));
  };
  // (step, queued[W], held[W]) after the ranges.
  SmallVector<Value> carried;
  if (!e.columnCount) {
    carried = emitRanges();
  } else {
    // The ranges run in lane 0 (the caller's whole warp waits), then every
    // lane takes lane 0's state for the strips.
    Value lane0 = arith::CmpIOp::create(b, loc, arith::CmpIPredicate::eq,
                                        e.lane, e.cIdx(0));
    SmallVector<Type> stateTypes(2 * W + 1, i32);
    carried = e.emitIf(
        lane0, stateTypes,
        [&]() -> SmallVector<Value> {
          ring.acquireTensorMaps();
          return emitRanges();
        },
        [&]() -> SmallVector<Value> {
          return SmallVector<Value>(2 * W + 1, e.cI32(0));
        });
    for (Value &v : carried)
      v = gpu::ShuffleOp::create(b, loc, v, e.cI32(0), e.cI32(32),
                                 gpu::ShuffleMode::IDX)
              .getShuffleResult();
    ring.setLeader(lane0);
    carried = emitColumnStrips(e, ring, walks, carried);
  }
  ProducerState state{carried, W};
  SmallVector<Value> queued = state.queued(), held = state.held();
  ring.finish(state.step(), queued, held);
}
