//===- AttentionKernelSchedule.cpp - key tiles a query block visits -------===//
//
// The three kernel kinds differ only in which 64-key tiles query block m
// visits, in order:
//   Dense          tiles 0 .. (m + 1) blockM / 64 - 1, keys [64 i, 64 i + 64),
//                  limit N.
//   Block          for r < range_count: [start_r, end_r) in steps of 64, each
//                  tile [t, min(t + 64, end_r)) (limit end_r); a last tile
//                  shorter than 64 keys is packed with the start of range
//                  r + 1 (see RangeStream).
//   VerticalSlash  the Block tiles, then column_index positions
//                  [c, min(c + 64, column_count)) gathered 64 at a time.
//   Block, paired  (128-row CTAs, TileConfig::pairsQueryBlocks) the merge of
//                  two query blocks' Block walks, classified into tile lists
//                  (AttentionKernelPairedSchedule.cpp; not via create()).
// The loop is an scf.for over the tile count; a cursor (r, t, end) walks the
// sparse index so the pipelined loop can describe the tile it prefetches
// (i + stages - 1) as well as the one it computes (i). Each range yields at
// least one tile (an empty or inverted range becomes one fully masked tile)
// unless it closes a packed tile, in count() and in advance() alike, so the
// two can never disagree.
// Index values are clamped: range_count to [0, max_ranges], column_count to
// [0, max_columns], start >= 0, end <= N.
//
//===----------------------------------------------------------------------===//
#include "AttentionKernelEmitter.h"
#include "mlir/Dialect/Arith/IR/Arith.h"
#include "mlir/Dialect/MemRef/IR/MemRef.h"
#include "mlir/Dialect/SCF/IR/SCF.h"

using namespace mlir;
using namespace mlir::minfer::detail;

TileStream::~TileStream() = default;

Value KernelEmitter::clampedIndexCount(Value buffer, Value row, Value max) {
  Value n = memref::LoadOp::create(b, loc, buffer, ValueRange{row});
  return arith::MinSIOp::create(
      b, loc, arith::MaxSIOp::create(b, loc, n, cI32(0)), max);
}

Value KernelEmitter::rangeBaseOf(Value row) {
  return arith::MulIOp::create(
      b, loc, row, arith::MulIOp::create(b, loc, toIdx(maxRanges), cIdx(2)));
}

std::pair<Value, Value> KernelEmitter::loadIndexRange(Value rangeBase,
                                                      Value r) {
  Value at = arith::AddIOp::create(
      b, loc, rangeBase, arith::MulIOp::create(b, loc, toIdx(r), cIdx(2)));
  Value start = memref::LoadOp::create(b, loc, ranges, ValueRange{at});
  Value end = memref::LoadOp::create(b, loc, ranges, ValueRange{addIdx(at, 1)});
  start = arith::MaxSIOp::create(b, loc, start, cI32(0));
  end = arith::MinSIOp::create(b, loc, end, seqLen);
  return {start, end};
}

std::pair<Value, Value>
KernelEmitter::indexRangeOr(Value rangeBase, Value count, Value r,
                            int64_t otherStart, Value otherEnd,
                            function_ref<Value(Value)> adjustStart) {
  Value isRange =
      arith::CmpIOp::create(b, loc, arith::CmpIPredicate::slt, r, count);
  SmallVector<Type> types(2, b.getI32Type());
  SmallVector<Value> se = emitIf(
      isRange, types,
      [&]() -> SmallVector<Value> {
        auto [start, end] = loadIndexRange(rangeBase, r);
        return {adjustStart ? adjustStart(start) : start, end};
      },
      [&]() -> SmallVector<Value> {
        return {cI32(otherStart), otherEnd ? otherEnd : cI32(otherStart)};
      });
  return {se[0], se[1]};
}

namespace {
class DenseStream final : public TileStream {
public:
  explicit DenseStream(KernelEmitter &e) : e(e) {}
  /// Key tiles up to the block's last row: (m + 1) blockM / blockN.
  Value count() override {
    return arith::MulIOp::create(e.b, e.loc, e.addIdx(e.qBlock, 1),
                                 e.cIdx(e.cfg.blockM / e.cfg.blockN));
  }
  SmallVector<Value> begin() override { return {}; }
  SmallVector<Value> advance(ValueRange) override { return {}; }
  KeyTile describe(ValueRange, Value index) override {
    Value start =
        arith::MulIOp::create(e.b, e.loc, e.toI32(index), e.cI32(e.cfg.blockN));
    return {start, e.seqLen, Value(), Value()};
  }
  unsigned cursorSize() const override { return 0; }

private:
  KernelEmitter &e;
};

/// Cursor (r, t, end, nextStart, nextEnd), all i32: range r, tile start t,
/// range end, and range r + 1 (clamped; [0, 0) when r + 1 is not a range).
/// With columns, r >= range_count is the column phase (t = position, end =
/// column_count).
///
/// Packing: a range's last tile that holds w < 64 keys takes its other
/// 64 - w rows from the start of range r + 1 (two segments, never more), so
/// a query block visits about ceil(sum of widths / 64) range tiles instead
/// of sum(ceil(width / 64)). Vertical-slash ranges are 64 + (run length)
/// keys wide, so unpacked, most of them ended in a mostly empty tile (about
/// 30 % of the tiles at N = 1M). The walk, in count() and advance() alike:
/// per range of width W (clamped to >= 0), with `room` = free rows of an
/// open packed tile (0: none), s2 = min(W, room) rows close that tile, the
/// remaining W - s2 rows take ceil((W - s2) / 64) new tiles and leave
/// room = 64 - (W - s2) % 64 (0 when a multiple of 64); an empty range
/// with no open tile is one fully masked tile, as before. Column strips are
/// never packed. The masks take a packed tile's second segment as its
/// largest keys, which the index contract guarantees (ranges sorted by start
/// and disjoint, MinferOps.td / SparseIndex.h).
class RangeStream final : public TileStream {
public:
  /// Vertical-slash streams have columns and pack; block-sparse ranges are
  /// whole 64-key blocks (only the diagonal block is shorter), so packing
  /// would find nothing to pack.
  RangeStream(KernelEmitter &e, bool withColumns)
      : e(e), withColumns(withColumns), pack(withColumns) {
    numRanges = e.clampedIndexCount(e.rangeCount, e.indexRow, e.maxRanges);
    rangeBase = e.rangeBaseOf(e.indexRow);
    numColumns = withColumns ? e.clampedIndexCount(e.columnCount, e.indexRow,
                                                   e.maxColumns)
                             : e.cI32(0);
  }

  Value count() override {
    OpBuilder &b = e.b;
    Location loc = e.loc;
    int64_t n = e.cfg.blockN;
    SmallVector<Value> init{e.cI32(0)};
    if (pack)
      init.push_back(e.cI32(0)); // room
    auto loop = scf::ForOp::create(b, loc, e.cIdx(0), e.toIdx(numRanges),
                                   e.cIdx(1), init);
    {
      OpBuilder::InsertionGuard guard(b);
      b.setInsertionPointToStart(loop.getBody());
      Value tiles = loop.getRegionIterArgs()[0];
      auto [start, end] = e.loadIndexRange(
          rangeBase, e.toI32(loop.getInductionVar()));
      Value width = arith::SubIOp::create(b, loc, end, start);
      if (!pack) {
        Value added =
            arith::MaxSIOp::create(b, loc, ceilTiles(width), e.cI32(1));
        scf::YieldOp::create(
            b, loc, ValueRange{arith::AddIOp::create(b, loc, tiles, added)});
      } else {
        Value room = loop.getRegionIterArgs()[1];
        width = arith::MaxSIOp::create(b, loc, width, e.cI32(0));
        Value rest = arith::SubIOp::create(
            b, loc, width, arith::MinSIOp::create(b, loc, width, room));
        // New tiles: ceil(rest / 64), or the masked tile of an empty range
        // that no open tile absorbed.
        Value lone = arith::AndIOp::create(
            b, loc,
            arith::CmpIOp::create(b, loc, arith::CmpIPredicate::eq, width,
                                  e.cI32(0)),
            arith::CmpIOp::create(b, loc, arith::CmpIPredicate::eq, room,
                                  e.cI32(0)));
        Value added = arith::SelectOp::create(b, loc, lone, e.cI32(1),
                                              ceilTiles(rest));
        Value used = arith::RemSIOp::create(b, loc, rest, e.cI32(n));
        Value nextRoom = arith::SelectOp::create(
            b, loc,
            arith::CmpIOp::create(b, loc, arith::CmpIPredicate::eq, used,
                                  e.cI32(0)),
            e.cI32(0), arith::SubIOp::create(b, loc, e.cI32(n), used));
        scf::YieldOp::create(
            b, loc,
            ValueRange{arith::AddIOp::create(b, loc, tiles, added), nextRoom});
      }
    }
    Value total = loop.getResult(0);
    if (withColumns)
      total = arith::AddIOp::create(b, loc, total, ceilTiles(numColumns));
    return e.toIdx(total);
  }

  SmallVector<Value> begin() override { return cursorAt(e.cI32(0), Value()); }

  SmallVector<Value> advance(ValueRange cursor) override {
    OpBuilder &b = e.b;
    Location loc = e.loc;
    Value r = cursor[0], t = cursor[1], end = cursor[2];
    Value next = arith::AddIOp::create(b, loc, t, e.cI32(e.cfg.blockN));
    Value stay =
        arith::CmpIOp::create(b, loc, arith::CmpIPredicate::slt, next, end);
    SmallVector<Type> types(cursorSize(), b.getI32Type());
    return e.emitIf(
        stay, types,
        [&]() -> SmallVector<Value> {
          SmallVector<Value> same{r, next, end};
          same.append(cursor.begin() + 3, cursor.end());
          return same;
        },
        [&]() -> SmallVector<Value> {
          if (!pack)
            return cursorAt(arith::AddIOp::create(b, loc, r, e.cI32(1)),
                            Value());
          // The tile ended range r. If it was packed, s2 rows of range r + 1
          // went into it: continue in r + 1 after them, or at r + 2 when
          // they were all of it.
          Segment2 seg = secondSegment(cursor);
          Value width2 = arith::MaxSIOp::create(
              b, loc, arith::SubIOp::create(b, loc, cursor[4], cursor[3]),
              e.cI32(0));
          Value s2 = arith::MinSIOp::create(b, loc, width2, seg.room);
          Value inNext = arith::AndIOp::create(
              b, loc, seg.packed,
              arith::CmpIOp::create(b, loc, arith::CmpIPredicate::slt, s2,
                                    width2));
          Value skip = arith::SelectOp::create(
              b, loc, seg.packed,
              arith::SelectOp::create(b, loc, inNext, e.cI32(1), e.cI32(2)),
              e.cI32(1));
          Value offset = arith::SelectOp::create(b, loc, inNext, s2, e.cI32(0));
          return cursorAt(arith::AddIOp::create(b, loc, r, skip), offset);
        });
  }

  KeyTile describe(ValueRange cursor, Value) override {
    OpBuilder &b = e.b;
    Location loc = e.loc;
    KeyTile tile{cursor[1], cursor[2], Value(), Value()};
    if (withColumns)
      tile.isColumn = arith::CmpIOp::create(b, loc, arith::CmpIPredicate::sge,
                                            cursor[0], numRanges);
    if (!pack)
      return tile;
    Segment2 seg = secondSegment(cursor);
    tile.split = arith::SelectOp::create(b, loc, seg.packed, seg.w1,
                                         e.cI32(e.cfg.blockN));
    tile.shift = arith::SelectOp::create(
        b, loc, seg.packed, arith::SubIOp::create(b, loc, cursor[3], cursor[2]),
        e.cI32(0));
    tile.limit2 =
        arith::SelectOp::create(b, loc, seg.packed, cursor[4], cursor[2]);
    return tile;
  }
  unsigned cursorSize() const override { return pack ? 5 : 3; }

private:
  /// The keys w of the cursor's tile in its own range, whether the tile is
  /// packed (a range tile with 0 < w < 64 and a range after it) and the free
  /// rows 64 - w it offers.
  struct Segment2 {
    Value w1, packed, room;
  };
  Segment2 secondSegment(ValueRange cursor) {
    OpBuilder &b = e.b;
    Location loc = e.loc;
    Value w1 = arith::SubIOp::create(b, loc, cursor[2], cursor[1]);
    Value hasNext = arith::CmpIOp::create(
        b, loc, arith::CmpIPredicate::slt,
        arith::AddIOp::create(b, loc, cursor[0], e.cI32(1)), numRanges);
    Value partial = arith::AndIOp::create(
        b, loc,
        arith::CmpIOp::create(b, loc, arith::CmpIPredicate::sgt, w1,
                              e.cI32(0)),
        arith::CmpIOp::create(b, loc, arith::CmpIPredicate::slt, w1,
                              e.cI32(e.cfg.blockN)));
    // hasNext implies r < range_count: never a column strip.
    Value packed = arith::AndIOp::create(b, loc, hasNext, partial);
    return {w1, packed,
            arith::SubIOp::create(b, loc, e.cI32(e.cfg.blockN), w1)};
  }

  /// ceil(x / 64) for x >= 0 (<= 0 for x <= 0).
  Value ceilTiles(Value x) {
    int64_t n = e.cfg.blockN;
    return arith::DivSIOp::create(
        e.b, e.loc, arith::AddIOp::create(e.b, e.loc, x, e.cI32(n - 1)),
        e.cI32(n));
  }

  /// [start + offset, end) of range r (offset may be null), or
  /// [0, elseEnd) when r is not a range.
  std::pair<Value, Value> rangeOr(Value r, Value offset, Value elseEnd) {
    return e.indexRangeOr(rangeBase, numRanges, r, 0, elseEnd, [&](Value s) {
      return offset ? arith::AddIOp::create(e.b, e.loc, s, offset).getResult()
                    : s;
    });
  }

  /// Cursor at key start + offset of range r (offset null or 0 unless r
  /// continues a packed tile), or at the start of the column phase; packing
  /// cursors also hold range r + 1 ([0, 0) when there is none).
  SmallVector<Value> cursorAt(Value r, Value offset) {
    auto [start, end] = rangeOr(r, offset, numColumns);
    if (!pack)
      return {r, start, end};
    auto [nextStart, nextEnd] =
        rangeOr(arith::AddIOp::create(e.b, e.loc, r, e.cI32(1)), Value(),
                e.cI32(0));
    return {r, start, end, nextStart, nextEnd};
  }

  KernelEmitter &e;
  bool withColumns, pack;
  Value numRanges, rangeBase, numColumns;
};

} // namespace

std::unique_ptr<TileStream> TileStream::create(KernelEmitter &e) {
  switch (e.cfg.kind) {
  case KernelKind::Dense:
    return std::make_unique<DenseStream>(e);
  case KernelKind::Block:
    return std::make_unique<RangeStream>(e, /*withColumns=*/false);
  case KernelKind::VerticalSlash:
    return std::make_unique<RangeStream>(e, /*withColumns=*/true);
  }
  return nullptr;
}
