//===- AttentionKernelPairedSchedule.cpp - two query blocks' tiles -------===//
//
// The key tiles of a CTA of paired query blocks (TileConfig::pairsQueryBlocks,
// block-sparse, 128 rows): warpgroup w computes query block 2 M + w from its
// own index row. The two walks over the index rows are merged in key order,
// and each step of the merge is a tile both blocks visit (shared) or a tile
// of one block only (own). Warp 0 walks at most kPairedListSteps steps of the
// merge and writes three lists to shared memory (writePairedTileLists); the
// kernel then runs three key loops (AttentionKernelBuilder.cpp): the shared
// tiles, loaded once and computed by both warpgroups under CTA barriers; then
// per warpgroup, under its own barrier, its own listed tiles and the tiles
// of its walk past the listed steps (Rest: none unless a pair has more
// steps). A warpgroup never waits for a tile it does not compute, and the
// list loops read a tile with two or three shared-memory loads.
//
// Why not merge on the fly: a single merged loop in which a warpgroup skipped
// the other's tiles idled at the CTA barrier, and walking the merge in every
// warp at every tile cost 38 % more instructions than the 64-row kernel
// (ncu); both lost to 64-row CTAs (bench/results/tuning.md).
//
//===----------------------------------------------------------------------===//
#include "AttentionKernelEmitter.h"
#include "mlir/Dialect/Arith/IR/Arith.h"
#include "mlir/Dialect/MemRef/IR/MemRef.h"
#include "mlir/Dialect/SCF/IR/SCF.h"
#include <array>

using namespace mlir;
using namespace mlir::minfer::detail;

namespace {
/// Start of a finished walk; larger than any key, and + 64 stays positive.
constexpr int64_t kDone = 0x7fff0000;
constexpr int64_t kSteps = TileConfig::kPairedListSteps;
/// Element offsets in `listSmem`: header (shared count, own counts of blocks
/// 2 M and 2 M + 1, the walks' cursors after the listed steps), the lists.
constexpr int64_t kSharedCount = 0, kOwnCount[2] = {1, 2}, kRestCursor = 3;
constexpr int64_t kSharedList = TileConfig::kPairedListHeader;
constexpr int64_t kOwnList[2] = {kSharedList + 3 * kSteps,
                                 kSharedList + 5 * kSteps};

/// Whether this thread computes query block 2 M + 1 (i1).
Value isUpper(KernelEmitter &e) {
  return arith::CmpIOp::create(e.b, e.loc, arith::CmpIPredicate::ne,
                               e.warpgroup, e.cIdx(0));
}
Value loadList(KernelEmitter &e, Value at) {
  return memref::LoadOp::create(e.b, e.loc, e.listSmem, ValueRange{at});
}
void storeList(KernelEmitter &e, Value value, Value at) {
  memref::StoreOp::create(e.b, e.loc, value, e.listSmem, ValueRange{at});
}
Value notOf(KernelEmitter &e, Value i1) {
  return arith::XOrIOp::create(e.b, e.loc, i1,
                               arith::ConstantIntOp::create(e.b, e.loc, 1, 1));
}
void emitIfThen(KernelEmitter &e, Value cond, function_ref<void()> body) {
  e.emitIf(cond, TypeRange{}, [&]() -> SmallVector<Value> {
    body();
    return {};
  }, []() -> SmallVector<Value> { return {}; });
}

/// The walks over the two index rows. A walk's cursor is (r, t, end): at
/// tile t of its range r, which ends at `end`; a finished walk has
/// t = end = kDone. A walk goes over its ranges as RangeStream does without
/// packing (an empty or inverted range is one fully masked tile), so each
/// warpgroup computes each of its tiles exactly once whatever the order of
/// its ranges; sorted ranges (the index contract) only decide how many tiles
/// are shared.
struct IndexWalks {
  KernelEmitter &e;
  Value numRanges[2], rangeBase[2];

  explicit IndexWalks(KernelEmitter &e) : e(e) {
    OpBuilder &b = e.b;
    Location loc = e.loc;
    Value second = arith::CmpIOp::create(
        b, loc, arith::CmpIPredicate::ult,
        e.addIdx(arith::MulIOp::create(b, loc, e.qBlock, e.cIdx(2)), 1),
        e.indexBlocks);
    for (int w = 0; w < 2; ++w) {
      // Past the last query block, row 2 M + 1 reads row 2 M with no ranges.
      Value row = e.indexRow;
      if (w == 1)
        row = arith::SelectOp::create(b, loc, second, e.addIdx(row, 1), row);
      Value n = e.clampedIndexCount(e.rangeCount, row, e.maxRanges);
      numRanges[w] =
          w == 1 ? arith::SelectOp::create(b, loc, second, n, e.cI32(0)) : n;
      rangeBase[w] = e.rangeBaseOf(row);
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

  /// The merge of both walks, cursor (walk 0, walk 1): its current tile is
  /// the smaller start; walk w visits it when it is there.
  SmallVector<Value> mergeBegin() {
    SmallVector<Value> c = walkAt(numRanges[0], rangeBase[0], e.cI32(0));
    c.append(walkAt(numRanges[1], rangeBase[1], e.cI32(0)));
    return c;
  }
  Value tileStart(ValueRange merge) {
    return arith::MinSIOp::create(e.b, e.loc, merge[1], merge[4]);
  }
  std::array<Value, 2> visits(ValueRange merge) {
    Value start = tileStart(merge);
    Value live = arith::CmpIOp::create(e.b, e.loc, arith::CmpIPredicate::slt,
                                       start, e.cI32(kDone));
    std::array<Value, 2> out;
    for (int w = 0; w < 2; ++w)
      out[w] = arith::AndIOp::create(
          e.b, e.loc, live,
          arith::CmpIOp::create(e.b, e.loc, arith::CmpIPredicate::eq,
                                merge[3 * w + 1], start));
    return out;
  }
  SmallVector<Value> mergeStep(ValueRange merge) {
    auto at = visits(merge);
    SmallVector<Value> out;
    for (int w = 0; w < 2; ++w)
      out.append(stepWalk(numRanges[w], rangeBase[w],
                          merge.slice(3 * w, 3), at[w]));
    return out;
  }
};

/// Reads one of the lists written by writePairedTileLists: the cursor is the
/// entry index (i32), the count comes from the header; prefetches past the
/// end read entry kSteps - 1 at most and are marked invalid by the loop. The
/// loop is an scf.while on the cursor, not an scf.for over count(): with a
/// counted loop LLVM's strength reduction keeps more addresses live and
/// ptxas spilled 160 bytes at D = 128 (none this way).
class PairedListStream final : public TileStream {
public:
  PairedListStream(KernelEmitter &e, PairedTiles which) : e(e), which(which) {
    Value at = e.cIdx(kSharedCount);
    if (which == PairedTiles::Own)
      at = arith::SelectOp::create(e.b, e.loc, isUpper(e), e.cIdx(kOwnCount[1]),
                                   e.cIdx(kOwnCount[0]));
    numTiles = loadList(e, at);
  }

  Value count() override { return Value(); }
  Value hasTile(ValueRange c) override {
    return arith::CmpIOp::create(e.b, e.loc, arith::CmpIPredicate::slt, c[0],
                                 numTiles);
  }
  SmallVector<Value> begin() override { return {e.cI32(0)}; }
  SmallVector<Value> advance(ValueRange c) override {
    return {arith::AddIOp::create(e.b, e.loc, c[0], e.cI32(1))};
  }
  unsigned cursorSize() const override { return 1; }

  KeyTile describe(ValueRange c, Value) override {
    OpBuilder &b = e.b;
    Location loc = e.loc;
    Value i = e.toIdx(arith::MinSIOp::create(b, loc, c[0], e.cI32(kSteps - 1)));
    Value upper = isUpper(e);
    if (which == PairedTiles::Shared) {
      Value at = e.addIdx(arith::MulIOp::create(b, loc, i, e.cIdx(3)),
                          kSharedList);
      Value limit0 = loadList(e, e.addIdx(at, 1));
      Value limit1 = loadList(e, e.addIdx(at, 2));
      KeyTile tile{loadList(e, at),
                   arith::SelectOp::create(b, loc, upper, limit1, limit0),
                   Value(), Value()};
      tile.loadLimit = arith::MaxSIOp::create(b, loc, limit0, limit1);
      return tile;
    }
    Value list = arith::SelectOp::create(b, loc, upper, e.cIdx(kOwnList[1]),
                                         e.cIdx(kOwnList[0]));
    Value at = arith::AddIOp::create(
        b, loc, list, arith::MulIOp::create(b, loc, i, e.cIdx(2)));
    return KeyTile{loadList(e, at), loadList(e, e.addIdx(at, 1)), Value(),
                   Value()};
  }

private:
  KernelEmitter &e;
  PairedTiles which;
  Value numTiles; ///< i32
};

/// This warpgroup's walk from where the listed steps left it (the header),
/// without sharing: cursor (r, t, end).
class RestStream final : public TileStream {
public:
  explicit RestStream(KernelEmitter &e) : e(e), walks(e) {
    Value upper = isUpper(e);
    count_ = arith::SelectOp::create(e.b, e.loc, upper, walks.numRanges[1],
                                     walks.numRanges[0]);
    base = arith::SelectOp::create(e.b, e.loc, upper, walks.rangeBase[1],
                                   walks.rangeBase[0]);
  }
  Value count() override { return Value(); }
  Value hasTile(ValueRange c) override {
    return arith::CmpIOp::create(e.b, e.loc, arith::CmpIPredicate::slt, c[1],
                                 e.cI32(kDone));
  }
  SmallVector<Value> begin() override {
    Value first = arith::SelectOp::create(
        e.b, e.loc, isUpper(e), e.cIdx(kRestCursor + 3), e.cIdx(kRestCursor));
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

void mlir::minfer::detail::writePairedTileLists(KernelEmitter &e) {
  OpBuilder &b = e.b;
  Location loc = e.loc;
  Type i32 = b.getI32Type();
  Value walker =
      arith::CmpIOp::create(b, loc, arith::CmpIPredicate::eq, e.warp, e.cIdx(0));
  emitIfThen(e, walker, [&] {
    IndexWalks walks(e);
    Value writer = arith::CmpIOp::create(b, loc, arith::CmpIPredicate::eq,
                                         e.lane, e.cIdx(0));
    // Carried: (merge cursor, steps, shared count, own counts), all i32.
    SmallVector<Value> init = walks.mergeBegin();
    unsigned n = init.size();
    init.append({e.cI32(0), e.cI32(0), e.cI32(0), e.cI32(0)});
    SmallVector<Type> types(init.size(), i32);
    auto loop = scf::WhileOp::create(
        b, loc, types, init,
        [&](OpBuilder &, Location, ValueRange args) {
          Value room = arith::CmpIOp::create(b, loc, arith::CmpIPredicate::slt,
                                             args[n], e.cI32(kSteps));
          Value live = arith::CmpIOp::create(
              b, loc, arith::CmpIPredicate::slt,
              walks.tileStart(args.take_front(n)), e.cI32(kDone));
          scf::ConditionOp::create(
              b, loc, arith::AndIOp::create(b, loc, room, live), args);
        },
        [&](OpBuilder &, Location, ValueRange args) {
          ValueRange c = args.take_front(n);
          Value count[3] = {args[n + 1], args[n + 2], args[n + 3]};
          auto at = walks.visits(c);
          Value both = arith::AndIOp::create(b, loc, at[0], at[1]);
          Value only[2] = {
              arith::AndIOp::create(b, loc, at[0], notOf(e, at[1])),
              arith::AndIOp::create(b, loc, at[1], notOf(e, at[0]))};
          // Entry: shared (start, end 0, end 1) or own (start, end w).
          auto entry = [&](int64_t list, Value k, int64_t size) {
            return e.addIdx(
                arith::MulIOp::create(b, loc, e.toIdx(k), e.cIdx(size)), list);
          };
          Value slot = arith::SelectOp::create(
              b, loc, both, entry(kSharedList, count[0], 3),
              arith::SelectOp::create(b, loc, only[0],
                                      entry(kOwnList[0], count[1], 2),
                                      entry(kOwnList[1], count[2], 2)));
          Value limit = arith::SelectOp::create(b, loc, at[0], c[2], c[5]);
          Value start = walks.tileStart(c);
          emitIfThen(e, writer, [&] {
            storeList(e, start, slot);
            storeList(e, limit, e.addIdx(slot, 1));
            emitIfThen(e, both, [&] { storeList(e, c[5], e.addIdx(slot, 2)); });
          });
          SmallVector<Value> next = walks.mergeStep(c);
          next.push_back(arith::AddIOp::create(b, loc, args[n], e.cI32(1)));
          Value kinds[3] = {both, only[0], only[1]};
          for (int k = 0; k < 3; ++k)
            next.push_back(arith::AddIOp::create(
                b, loc, count[k], arith::ExtUIOp::create(b, loc, i32, kinds[k])));
          scf::YieldOp::create(b, loc, next);
        });
    ValueRange done = loop.getResults();
    emitIfThen(e, writer, [&] {
      for (int k = 0; k < 3; ++k)
        storeList(e, done[n + 1 + k], e.cIdx(kSharedCount + k));
      for (unsigned k = 0; k < n; ++k)
        storeList(e, done[k], e.cIdx(kRestCursor + k));
    });
  });
}

std::unique_ptr<TileStream>
mlir::minfer::detail::createPairedTileStream(KernelEmitter &e,
                                             PairedTiles which) {
  if (which == PairedTiles::Rest)
    return std::make_unique<RestStream>(e);
  return std::make_unique<PairedListStream>(e, which);
}
