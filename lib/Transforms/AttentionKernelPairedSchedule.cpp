//===- AttentionKernelPairedSchedule.cpp - two query blocks' tiles -------===//
//
// The key tiles of a CTA of paired query blocks (TileConfig::pairsQueryBlocks,
// block-sparse, W = 2 or 4 blocks of 64 rows): warpgroup w computes query
// block W M + w from its own index row. The W walks over the index rows are
// merged in key order; each step of the merge is a tile that one or more
// blocks visit. Warp 0 walks at most TileConfig::pairedListSteps() steps and
// writes them to shared memory as
// one list, each entry with its mask of visiting blocks
// (writePairedTileList). The kernel streams the listed tiles through its
// TMA ring (AttentionKernelRing.cpp), so a tile both blocks visit is loaded
// once; then each warpgroup computes the tiles of its walk past the listed
// steps (RestStream: none unless a pair has more steps), without sharing.
//
// Why a list written up front rather than a merge on the fly: walking the
// merge in every warp at every tile cost 38 % more instructions than the
// 64-row kernel (ncu, bench/results/tuning.md), and the ring's producer
// needs the start of a tile several steps ahead of the consumers.
//
//===----------------------------------------------------------------------===//
#include "AttentionKernelEmitter.h"
#include "mlir/Dialect/Arith/IR/Arith.h"
#include "mlir/Dialect/MemRef/IR/MemRef.h"
#include "mlir/Dialect/SCF/IR/SCF.h"

using namespace mlir;
using namespace mlir::minfer::detail;

namespace {
/// Start of a finished walk; larger than any key, and + 64 stays positive.
constexpr int64_t kDone = 0x7fff0000;
/// Element offsets in `listSmem`: header (listed count, the W walks'
/// cursors after the listed steps, whether any walk goes on), the entries
/// (TileConfig::pairedEntryWords each).
constexpr int64_t kListCount = 0, kRestCursor = 1;
constexpr int64_t kEntries = TileConfig::kPairedListHeader;
constexpr int64_t kMaxWalks = 4;
int64_t restPendingAt(const TileConfig &cfg) {
  return kRestCursor + 3 * cfg.queryBlocksPerCta();
}
static_assert(kRestCursor + 3 * kMaxWalks < kEntries,
              "header overlaps the entries");

/// `values[w]` for this thread's warpgroup w (a select chain).
Value ofWarpgroup(KernelEmitter &e, ArrayRef<Value> values) {
  Value out = values[0];
  for (size_t w = 1; w < values.size(); ++w)
    out = arith::SelectOp::create(
        e.b, e.loc,
        arith::CmpIOp::create(e.b, e.loc, arith::CmpIPredicate::eq, e.warpgroup,
                              e.cIdx(w)),
        values[w], out);
  return out;
}
Value loadList(KernelEmitter &e, Value at) {
  return memref::LoadOp::create(e.b, e.loc, e.listSmem, ValueRange{at});
}
void storeList(KernelEmitter &e, Value value, Value at) {
  memref::StoreOp::create(e.b, e.loc, value, e.listSmem, ValueRange{at});
}

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
  SmallVector<Value, kMaxWalks> visits(ValueRange merge) {
    Value start = tileStart(merge);
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
  SmallVector<Value> mergeStep(ValueRange merge) {
    auto at = visits(merge);
    SmallVector<Value> out;
    for (int64_t w = 0; w < walks; ++w)
      out.append(stepWalk(numRanges[w], rangeBase[w],
                          merge.slice(3 * w, 3), at[w]));
    return out;
  }
};

/// This warpgroup's walk from where the listed steps left it (the header),
/// without sharing: cursor (r, t, end).
class RestStream final : public TileStream {
public:
  explicit RestStream(KernelEmitter &e) : e(e), walks(e) {
    count_ = ofWarpgroup(e, walks.numRanges);
    base = ofWarpgroup(e, walks.rangeBase);
  }
  Value count() override { return Value(); }
  Value hasTile(ValueRange c) override {
    return arith::CmpIOp::create(e.b, e.loc, arith::CmpIPredicate::slt, c[1],
                                 e.cI32(kDone));
  }
  SmallVector<Value> begin() override {
    Value first = e.addIdx(
        arith::MulIOp::create(e.b, e.loc, e.warpgroup, e.cIdx(3)), kRestCursor);
    SmallVector<Value> c;
    for (int k = 0; k < 3; ++k)
      c.push_back(loadList(e, e.addIdx(first, k)));
    return c;
  }
  SmallVector<Value> advance(ValueRange c) override {
    return walks.stepWalk(count_, base, c, Value());
  }
  KeyTile describe(ValueRange c, Value) override {
    return KeyTile{c[1], c[2], Value(), Value()};
  }
  unsigned cursorSize() const override { return 3; }

private:
  KernelEmitter &e;
  IndexWalks walks;
  Value count_, base;
};
} // namespace

void mlir::minfer::detail::writePairedTileList(KernelEmitter &e) {
  OpBuilder &b = e.b;
  Location loc = e.loc;
  Type i32 = b.getI32Type();
  Value walker =
      arith::CmpIOp::create(b, loc, arith::CmpIPredicate::eq, e.warp, e.cIdx(0));
  e.emitIfThen(walker, [&] {
    IndexWalks walks(e);
    const int64_t W = walks.walks, entryWords = e.cfg.pairedEntryWords();
    Value writer = arith::CmpIOp::create(b, loc, arith::CmpIPredicate::eq,
                                         e.lane, e.cIdx(0));
    // Carried: (merge cursor, steps), all i32.
    SmallVector<Value> init = walks.mergeBegin();
    unsigned n = init.size();
    init.push_back(e.cI32(0));
    SmallVector<Type> types(init.size(), i32);
    auto loop = scf::WhileOp::create(
        b, loc, types, init,
        [&](OpBuilder &, Location, ValueRange args) {
          Value room = arith::CmpIOp::create(b, loc, arith::CmpIPredicate::slt,
                                             args[n], e.cI32(e.cfg.pairedListSteps()));
          Value live = arith::CmpIOp::create(
              b, loc, arith::CmpIPredicate::slt,
              walks.tileStart(args.take_front(n)), e.cI32(kDone));
          scf::ConditionOp::create(
              b, loc, arith::AndIOp::create(b, loc, room, live), args);
        },
        [&](OpBuilder &, Location, ValueRange args) {
          ValueRange c = args.take_front(n);
          auto at = walks.visits(c);
          // Entry: (start, end of walk 0 .. W - 1, mask).
          Value mask = e.cI32(0);
          SmallVector<Value> words{walks.tileStart(c)};
          for (int64_t w = 0; w < W; ++w) {
            mask = arith::OrIOp::create(
                b, loc, mask,
                arith::ShLIOp::create(
                    b, loc, arith::ExtUIOp::create(b, loc, i32, at[w]),
                    e.cI32(w)));
            words.push_back(c[3 * w + 2]);
          }
          words.push_back(mask);
          Value slot = pairedEntryOffset(e, args[n]);
          e.emitIfThen(writer, [&] {
            for (int64_t k = 0; k < entryWords; ++k)
              storeList(e, words[k], e.addIdx(slot, k));
          });
          SmallVector<Value> next = walks.mergeStep(c);
          next.push_back(arith::AddIOp::create(b, loc, args[n], e.cI32(1)));
          scf::YieldOp::create(b, loc, next);
        });
    ValueRange done = loop.getResults();
    e.emitIfThen(writer, [&] {
      storeList(e, done[n], e.cIdx(kListCount));
      for (unsigned k = 0; k < n; ++k)
        storeList(e, done[k], e.cIdx(kRestCursor + k));
      // A walk goes on past the list while its start is not kDone.
      Value pending = arith::ConstantIntOp::create(b, loc, 0, 1);
      for (int64_t w = 0; w < W; ++w)
        pending = arith::OrIOp::create(
            b, loc, pending,
            arith::CmpIOp::create(b, loc, arith::CmpIPredicate::slt,
                                  done[3 * w + 1], e.cI32(kDone)));
      storeList(e, arith::ExtUIOp::create(b, loc, i32, pending),
                e.cIdx(restPendingAt(e.cfg)));
    });
  });
}

Value mlir::minfer::detail::pairedListCount(KernelEmitter &e) {
  return loadList(e, e.cIdx(kListCount));
}

Value mlir::minfer::detail::pairedRestPending(KernelEmitter &e) {
  return arith::CmpIOp::create(e.b, e.loc, arith::CmpIPredicate::ne,
                               loadList(e, e.cIdx(restPendingAt(e.cfg))),
                               e.cI32(0));
}

Value mlir::minfer::detail::pairedEntryOffset(KernelEmitter &e, Value step) {
  return e.addIdx(arith::MulIOp::create(e.b, e.loc, e.toIdx(step),
                                        e.cIdx(e.cfg.pairedEntryWords())),
                  kEntries);
}

PairedEntry mlir::minfer::detail::readPairedEntry(KernelEmitter &e,
                                                  Value step) {
  OpBuilder &b = e.b;
  Location loc = e.loc;
  Value at = pairedEntryOffset(e, step);
  Value limit = loadList(e, arith::AddIOp::create(b, loc, e.addIdx(at, 1),
                                                  e.warpgroup));
  Value bit = arith::ShLIOp::create(b, loc, e.cI32(1), e.toI32(e.warpgroup));
  Value mask =
      loadList(e, e.addIdx(at, e.cfg.pairedEntryWords() - 1));
  Value visits = arith::CmpIOp::create(
      b, loc, arith::CmpIPredicate::ne,
      arith::AndIOp::create(b, loc, mask, bit), e.cI32(0));
  return {loadList(e, at), limit, visits};
}

std::unique_ptr<TileStream>
mlir::minfer::detail::createPairedRestStream(KernelEmitter &e) {
  return std::make_unique<RestStream>(e);
}
