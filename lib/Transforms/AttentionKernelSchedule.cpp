//===- AttentionKernelSchedule.cpp - key tiles a query block visits -------===//
//
// The three kernel kinds differ only in which 64-key tiles query block m
// visits, in order:
//   Dense          tiles 0 .. (m + 1) blockM / 64 - 1, keys [64 i, 64 i + 64),
//                  limit N.
//   Block          for r < range_count: [start_r, end_r) in steps of 64, each
//                  tile [t, min(t + 64, end_r)) (limit end_r).
//   VerticalSlash  the Block tiles, then column_index positions
//                  [c, min(c + 64, column_count)) gathered 64 at a time.
// The loop is an scf.for over the tile count; a cursor (r, t, end) walks the
// sparse index so the pipelined loop can describe the tile it prefetches
// (i + stages - 1) as well as the one it computes (i). Each range yields at
// least one tile (an empty or inverted range becomes one fully masked tile),
// in count() and in advance() alike, so the two can never disagree.
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

/// Cursor (r, t, end), all i32: range r, tile start t, range end. With
/// columns, r >= range_count is the column phase (t = position, end =
/// column_count).
class RangeStream final : public TileStream {
public:
  RangeStream(KernelEmitter &e, bool withColumns)
      : e(e), withColumns(withColumns) {
    OpBuilder &b = e.b;
    Location loc = e.loc;
    Value zero = e.cI32(0);
    auto clampCount = [&](Value buffer, Value max) {
      Value n = memref::LoadOp::create(b, loc, buffer, ValueRange{e.indexRow});
      return arith::MinSIOp::create(
          b, loc, arith::MaxSIOp::create(b, loc, n, zero), max);
    };
    numRanges = clampCount(e.rangeCount, e.maxRanges);
    rangeBase = arith::MulIOp::create(
        b, loc, e.indexRow,
        arith::MulIOp::create(b, loc, e.toIdx(e.maxRanges), e.cIdx(2)));
    numColumns = withColumns ? clampCount(e.columnCount, e.maxColumns) : zero;
  }

  Value count() override {
    OpBuilder &b = e.b;
    Location loc = e.loc;
    auto loop = scf::ForOp::create(b, loc, e.cIdx(0), e.toIdx(numRanges),
                                   e.cIdx(1), ValueRange{e.cI32(0)});
    {
      OpBuilder::InsertionGuard guard(b);
      b.setInsertionPointToStart(loop.getBody());
      auto [start, end] = loadRange(e.toI32(loop.getInductionVar()));
      Value tiles = ceilTiles(arith::SubIOp::create(b, loc, end, start));
      tiles = arith::MaxSIOp::create(b, loc, tiles, e.cI32(1));
      scf::YieldOp::create(b, loc,
                           ValueRange{arith::AddIOp::create(
                               b, loc, loop.getRegionIterArgs()[0], tiles)});
    }
    Value total = loop.getResult(0);
    if (withColumns)
      total = arith::AddIOp::create(b, loc, total, ceilTiles(numColumns));
    return e.toIdx(total);
  }

  SmallVector<Value> begin() override { return enterRange(e.cI32(0)); }

  SmallVector<Value> advance(ValueRange cursor) override {
    OpBuilder &b = e.b;
    Location loc = e.loc;
    Value r = cursor[0], t = cursor[1], end = cursor[2];
    Value next = arith::AddIOp::create(b, loc, t, e.cI32(e.cfg.blockN));
    Value stay =
        arith::CmpIOp::create(b, loc, arith::CmpIPredicate::slt, next, end);
    SmallVector<Type> types(3, b.getI32Type());
    return e.emitIf(
        stay, types,
        [&]() -> SmallVector<Value> {
          return {r, next, end};
        },
        [&]() -> SmallVector<Value> {
          return enterRange(arith::AddIOp::create(b, loc, r, e.cI32(1)));
        });
  }

  KeyTile describe(ValueRange cursor, Value) override {
    Value isColumn;
    if (withColumns)
      isColumn = arith::CmpIOp::create(e.b, e.loc, arith::CmpIPredicate::sge,
                                       cursor[0], numRanges);
    return {cursor[1], cursor[2], isColumn, Value()};
  }
  unsigned cursorSize() const override { return 3; }

private:
  /// ceil(x / 64) for x >= 0 (<= 0 for x <= 0).
  Value ceilTiles(Value x) {
    int64_t n = e.cfg.blockN;
    return arith::DivSIOp::create(
        e.b, e.loc, arith::AddIOp::create(e.b, e.loc, x, e.cI32(n - 1)),
        e.cI32(n));
  }

  /// [start, end) of range r (< numRanges), clamped to [0, N].
  std::pair<Value, Value> loadRange(Value r) {
    OpBuilder &b = e.b;
    Location loc = e.loc;
    Value at = arith::AddIOp::create(
        b, loc, rangeBase,
        arith::MulIOp::create(b, loc, e.toIdx(r), e.cIdx(2)));
    Value start = memref::LoadOp::create(b, loc, e.ranges, ValueRange{at});
    Value end =
        memref::LoadOp::create(b, loc, e.ranges, ValueRange{e.addIdx(at, 1)});
    start = arith::MaxSIOp::create(b, loc, start, e.cI32(0));
    end = arith::MinSIOp::create(b, loc, end, e.seqLen);
    return {start, end};
  }

  /// Cursor at the first tile of range r, or of the column phase.
  SmallVector<Value> enterRange(Value r) {
    OpBuilder &b = e.b;
    Location loc = e.loc;
    Value isRange =
        arith::CmpIOp::create(b, loc, arith::CmpIPredicate::slt, r, numRanges);
    SmallVector<Type> types(2, b.getI32Type());
    SmallVector<Value> se = e.emitIf(
        isRange, types,
        [&]() -> SmallVector<Value> {
          auto [start, end] = loadRange(r);
          return {start, end};
        },
        [&]() -> SmallVector<Value> {
          return {e.cI32(0), numColumns};
        });
    return {r, se[0], se[1]};
  }

  KernelEmitter &e;
  bool withColumns;
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
