//===- AttentionKernelPairedSchedule.cpp - two query blocks' tiles -------===//
//
// The key tiles a CTA of paired query blocks (TileConfig::pairsQueryBlocks,
// block-sparse, 128 rows) visits: the merge of two 64-row query blocks'
// walks over their own index rows, in key order. A tile both walks reach is
// loaded once for both warpgroups; a warpgroup skips (KeyTile::member) the
// tiles only the other one visits. Split from AttentionKernelSchedule.cpp,
// whose RangeStream walks one block's ranges the same way.
//
//===----------------------------------------------------------------------===//
#include "AttentionKernelEmitter.h"
#include "mlir/Dialect/Arith/IR/Arith.h"
#include <array>

using namespace mlir;
using namespace mlir::minfer::detail;

namespace {
/// Block-sparse tiles of two query blocks (TileConfig::pairsQueryBlocks):
/// warpgroup w walks the ranges of index row `indexRow + w` (query block
/// 2 M + w; none past the last block) as RangeStream does without packing,
/// and the CTA visits the merge of the two walks: the tile at the smaller
/// next start, shared when both walks are there. Cursor (r0, t0, e0, r1, t1,
/// e1); a finished walk has t = e = kDone. Each warpgroup still computes each
/// of its own tiles exactly once, whatever the order of its ranges: sorted
/// ranges (the index contract) only decide how many tiles are shared. The
/// number of tiles is unknown until the walk ends, hence hasTile().
class PairedRangeStream final : public TileStream {
public:
  explicit PairedRangeStream(KernelEmitter &e) : e(e) {
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

  Value count() override { return Value(); }
  Value hasTile(ValueRange cursor) override {
    return arith::CmpIOp::create(e.b, e.loc, arith::CmpIPredicate::slt,
                                 tileStart(cursor), e.cI32(kDone));
  }

  SmallVector<Value> begin() override {
    SmallVector<Value> c = walkAt(0, e.cI32(0));
    c.append(walkAt(1, e.cI32(0)));
    return c;
  }

  SmallVector<Value> advance(ValueRange cursor) override {
    OpBuilder &b = e.b;
    Location loc = e.loc;
    auto visits = members(cursor);
    SmallVector<Value> out;
    for (int w = 0; w < 2; ++w) {
      Value r = cursor[3 * w], t = cursor[3 * w + 1], end = cursor[3 * w + 2];
      Value next = arith::AddIOp::create(b, loc, t, e.cI32(e.cfg.blockN));
      Value leave = arith::AndIOp::create(
          b, loc, visits[w],
          arith::CmpIOp::create(b, loc, arith::CmpIPredicate::sge, next, end));
      SmallVector<Type> types(3, b.getI32Type());
      out.append(e.emitIf(
          leave, types,
          [&]() -> SmallVector<Value> {
            return walkAt(w, arith::AddIOp::create(b, loc, r, e.cI32(1)));
          },
          [&]() -> SmallVector<Value> {
            return {r, arith::SelectOp::create(b, loc, visits[w], next, t),
                    end};
          }));
    }
    return out;
  }

  KeyTile describe(ValueRange cursor, Value) override {
    OpBuilder &b = e.b;
    Location loc = e.loc;
    auto visits = members(cursor);
    Value upper = arith::CmpIOp::create(b, loc, arith::CmpIPredicate::uge,
                                        e.warp, e.cIdx(4));
    KeyTile tile{tileStart(cursor),
                 arith::SelectOp::create(b, loc, upper, cursor[5], cursor[2]),
                 Value(), Value()};
    tile.member = arith::SelectOp::create(b, loc, upper, visits[1], visits[0]);
    Value zero = e.cI32(0);
    tile.loadLimit = arith::MaxSIOp::create(
        b, loc, arith::SelectOp::create(b, loc, visits[0], cursor[2], zero),
        arith::SelectOp::create(b, loc, visits[1], cursor[5], zero));
    return tile;
  }
  unsigned cursorSize() const override { return 6; }

private:
  /// Start of a finished walk; larger than any key, and + 64 stays positive.
  static constexpr int64_t kDone = 0x7fff0000;

  Value tileStart(ValueRange cursor) {
    return arith::MinSIOp::create(e.b, e.loc, cursor[1], cursor[4]);
  }
  /// Whether walk w is at the tile (i1 each).
  std::array<Value, 2> members(ValueRange cursor) {
    Value start = tileStart(cursor);
    Value live = arith::CmpIOp::create(e.b, e.loc, arith::CmpIPredicate::slt,
                                       start, e.cI32(kDone));
    std::array<Value, 2> out;
    for (int w = 0; w < 2; ++w)
      out[w] = arith::AndIOp::create(
          e.b, e.loc, live,
          arith::CmpIOp::create(e.b, e.loc, arith::CmpIPredicate::eq,
                                cursor[3 * w + 1], start));
    return out;
  }
  /// Walk w at the start of its range r: (r, start, end) clamped to [0, N],
  /// or (r, kDone, kDone) past its last range.
  SmallVector<Value> walkAt(int w, Value r) {
    OpBuilder &b = e.b;
    Location loc = e.loc;
    Value isRange = arith::CmpIOp::create(b, loc, arith::CmpIPredicate::slt, r,
                                          numRanges[w]);
    SmallVector<Type> types(2, b.getI32Type());
    SmallVector<Value> se = e.emitIf(
        isRange, types,
        [&]() -> SmallVector<Value> {
          auto [start, end] = e.loadIndexRange(rangeBase[w], r);
          // Also start <= N: a start never reaches kDone.
          return {arith::MinSIOp::create(b, loc, start, e.seqLen), end};
        },
        [&]() -> SmallVector<Value> { return {e.cI32(kDone), e.cI32(kDone)}; });
    return {r, se[0], se[1]};
  }

  KernelEmitter &e;
  Value numRanges[2], rangeBase[2];
};
} // namespace

std::unique_ptr<TileStream>
mlir::minfer::detail::createPairedRangeStream(KernelEmitter &e) {
  return std::make_unique<PairedRangeStream>(e);
}
