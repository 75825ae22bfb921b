//===- AttentionKernelMemory.cpp - cp.async tiles and the epilogue --------===//
//
// Global <-> shared traffic of the kernel, all in 16-byte pieces:
//  * Q and K/V tiles are copied with nvgpu.device_async_copy (cp.async.cg,
//    16 bytes, L1 bypassed). A row that must not be read (query row >= N,
//    key past the tile's limit or N, column strip entry past column_count,
//    prefetch past the last tile) copies 0 source bytes: cp.async zero-fills
//    it, and its source address is clamped to a valid row. Zero V rows keep
//    P V finite where p = 0.
//  * Full key tiles (64 keys below the limit) copy without any predicate.
//  * Each load is one cp.async group (nvgpu.device_async_create_group); the
//    pipeline waits with cp.async.wait_group N (nvvm), N = groups that may
//    stay in flight, then a CTA barrier.
//  * wgmma kernels keep Q, K and V 128-byte swizzled (AttentionKernelWgmma.cpp)
//    and stage O in the swizzled Q tile at the end.
//  * The epilogue writes O / l to the (no longer used) Q rows of shared
//    memory, then every thread stores 16-byte chunks of whole rows (of its
//    warpgroup's rows only for paired query blocks).
//  * A single-stage block-sparse loop copies K and V of a tile as two
//    groups (TileParts). Paired query blocks load K/V through their TMA
//    ring (AttentionKernelRing.cpp), not here.
//  * Tiles are tileDim columns, global rows headDim: with headDim 96 the
//    threads whose chunk lies in columns 96-127 copy nothing (columnInRow;
//    no MMA reads those columns) and the epilogue stores columns below 96
//    only. Copying columns 0-31 again instead, to save the branch, cost as
//    many L2 sector requests as D = 128 (bench/results/tuning.md).
//
// Thread -> chunk mapping of a 64 x T tile (T = tileDim, 128 threads, T / 8
// chunks a row): thread tid copies column 8 (tid % (T / 8)) of rows
// tid / (T / 8) + p R, R = 128 / (T / 8), p < 64 / R; consecutive threads
// write consecutive 16 bytes of a row, so global accesses are fully
// coalesced.
//
//===----------------------------------------------------------------------===//
#include "AttentionKernelEmitter.h"
#include "mlir/Dialect/Arith/IR/Arith.h"
#include "mlir/Dialect/GPU/IR/GPUDialect.h"
#include "mlir/Dialect/LLVMIR/NVVMDialect.h"
#include "mlir/Dialect/MemRef/IR/MemRef.h"
#include "mlir/Dialect/NVGPU/IR/NVGPUDialect.h"
#include "mlir/Dialect/SCF/IR/SCF.h"
#include "mlir/Dialect/Vector/IR/VectorOps.h"
#include <tuple>

using namespace mlir;
using namespace mlir::minfer::detail;

namespace {
/// Chunk mapping of a `rows` x tileDim tile over `threads` threads.
struct ChunkMap {
  int64_t chunksPerRow, rowsPerPass, passes;
  ChunkMap(const TileConfig &cfg, int64_t rows, int64_t threads)
      : chunksPerRow(cfg.tileDim() / kVecElems),
        rowsPerPass(threads / chunksPerRow), passes(rows / rowsPerPass) {}
  /// Thread `rank`'s first row and its element column: rank / chunksPerRow
  /// and (rank % chunksPerRow) * kVecElems.
  std::pair<Value, Value> threadSlot(KernelEmitter &e, Value rank) const {
    Value cpr = e.cIdx(chunksPerRow);
    Value row0 = arith::DivUIOp::create(e.b, e.loc, rank, cpr);
    Value col = arith::MulIOp::create(
        e.b, e.loc, arith::RemUIOp::create(e.b, e.loc, rank, cpr),
        e.cIdx(kVecElems));
    return {row0, col};
  }
};

/// Where each pass of a tile copy lands, `dr` rows below the thread's first
/// row: padded rows of `smem` (`col` set: [first + dr, col]) or, under wgmma,
/// the swizzled element index of the first row plus 64 elements per row
/// (passes are rowsPerPass apart, a multiple of the 8-row swizzle period, so
/// they share its swizzle).
struct CopyDst {
  Value mem, first, col;
  SmallVector<Value> at(KernelEmitter &e, int64_t dr) const {
    if (!col)
      return {e.addIdx(first, dr * TileConfig::kSwizzleBytes / 2)};
    return {e.addIdx(first, dr), col};
  }
};
/// Padded destination: shared row `tileRow` + row0, column `col`.
CopyDst paddedDst(KernelEmitter &e, Value tileRow, Value row0, Value col) {
  return {e.smem, arith::AddIOp::create(e.b, e.loc, tileRow, row0), col};
}
/// Swizzled destination in the tile of `rows` rows at element `tileBase`.
CopyDst swizzledDst(KernelEmitter &e, Value tileBase, int64_t rows, Value row0,
                    Value col) {
  return {e.kvSmem, e.swizzledIndex(tileBase, rows, row0, col), Value()};
}

/// Element (row, chunkCol + offset) of the Q tile, where the epilogue stages
/// O: a padded row, or under wgmma the swizzled tile (offset < 8 stays in the
/// 16-byte chunk at chunkCol, which the swizzle moves as a whole). `offset`
/// may be null (0).
std::pair<Value, SmallVector<Value>>
queryTileElement(KernelEmitter &e, Value row, Value chunkCol, Value offset) {
  OpBuilder &b = e.b;
  if (e.cfg.usesWgmma()) {
    Value at = e.swizzledIndex(e.cIdx(0), e.cfg.blockM, row, chunkCol);
    if (offset)
      at = arith::AddIOp::create(b, e.loc, at, offset);
    return {e.kvSmem, {at}};
  }
  Value col =
      offset ? arith::AddIOp::create(b, e.loc, offset, chunkCol) : chunkCol;
  return {e.smem, {e.addIdx(row, e.queryRow0), col}};
}
} // namespace

Value KernelEmitter::columnInRow(Value col) {
  if (headDim == tileDim)
    return Value();
  return arith::CmpIOp::create(b, loc, arith::CmpIPredicate::ult, col,
                               cIdx(headDim));
}

void KernelEmitter::ifColumnInRow(Value col, function_ref<void()> copies) {
  if (Value inRow = columnInRow(col))
    emitIfThen(inRow, copies);
  else
    copies();
}

Value KernelEmitter::asyncCopy(Value src, Value srcIndex, Value dst,
                               ValueRange dstIndices, Value valid) {
  // Without `valid` the copy is unconditional (no src-size operand).
  Value srcElems;
  if (valid)
    srcElems = arith::SelectOp::create(b, loc, valid, cIdx(kVecElems), cIdx(0));
  return nvgpu::DeviceAsyncCopyOp::create(
      b, loc, dst, dstIndices, src, ValueRange{srcIndex},
      b.getIndexAttr(kVecElems), srcElems, b.getUnitAttr());
}

void KernelEmitter::loadQueryTile() {
  ChunkMap map(cfg, cfg.blockM, cfg.consumerThreads());
  auto [row0, col] = map.threadSlot(*this, tid);
  // Rows of this block that exist: N - 64 m.
  Value rowsLeft = arith::SubIOp::create(b, loc, seqLenIdx, toIdx(qRowStart));
  CopyDst dst = cfg.usesWgmma()
                    ? swizzledDst(*this, cIdx(0), cfg.blockM, row0, col)
                    : paddedDst(*this, cIdx(queryRow0), row0, col);
  ifColumnInRow(col, [&] {
    for (int64_t p = 0; p < map.passes; ++p) {
      int64_t dr = p * map.rowsPerPass;
      Value row = addIdx(row0, dr);
      Value valid = arith::CmpIOp::create(b, loc, arith::CmpIPredicate::ult,
                                          row, rowsLeft);
      Value srcRow = arith::SelectOp::create(b, loc, valid, row, cIdx(0));
      Value srcIndex = arith::AddIOp::create(
          b, loc, qBase,
          arith::AddIOp::create(
              b, loc, arith::MulIOp::create(b, loc, srcRow, cIdx(headDim)),
              col));
      asyncCopy(q, srcIndex, dst.mem, dst.at(*this, dr), valid);
    }
  });
  // cp.async.commit_group takes every earlier copy of the thread: the group
  // needs no token list (copies inside an scf.if could not give theirs).
  nvgpu::DeviceAsyncCreateGroupOp::create(b, loc, ValueRange{});
}

void KernelEmitter::copyKeyRowsWith(
    Value buffer, TileParts parts,
    function_ref<void(const KeyCopySlot &)> prepare,
    function_ref<std::pair<Value, Value>(int64_t, int64_t)> sourceOf) {
  ChunkMap map(cfg, cfg.blockN, cfg.threads());
  KeyCopySlot slot;
  std::tie(slot.row0, slot.col) = map.threadSlot(*this, tid);
  bool wgmma = cfg.usesWgmma();
  CopyDst kDst =
      wgmma ? swizzledDst(*this, swizzledTileBase(buffer), cfg.blockN,
                          slot.row0, slot.col)
            : paddedDst(*this, keyBufferRow(buffer), slot.row0, slot.col);
  CopyDst vDst =
      wgmma ? swizzledDst(*this, swizzledTileBase(addIdx(buffer, cfg.stages)),
                          cfg.blockN, slot.row0, slot.col)
            : paddedDst(*this, valueBufferRow(buffer), slot.row0, slot.col);
  prepare(slot);
  ifColumnInRow(slot.col, [&] {
    for (int64_t p = 0; p < map.passes; ++p) {
      int64_t dr = p * map.rowsPerPass;
      auto [src, valid] = sourceOf(p, dr);
      if (parts != TileParts::Value)
        asyncCopy(k, src, kDst.mem, kDst.at(*this, dr), valid);
      if (parts != TileParts::Key)
        asyncCopy(v, src, vDst.mem, vDst.at(*this, dr), valid);
    }
  });
  nvgpu::DeviceAsyncCreateGroupOp::create(b, loc, ValueRange{});
}

void KernelEmitter::copyKeyRows(
    Value buffer, TileParts parts,
    function_ref<std::pair<Value, Value>(int64_t)> keyOf) {
  Value kvCol;
  copyKeyRowsWith(
      buffer, parts,
      [&](const KeyCopySlot &slot) {
        kvCol = arith::AddIOp::create(b, loc, kvBase, slot.col);
      },
      [&](int64_t p, int64_t) -> std::pair<Value, Value> {
        // keyOf gets the tile row (pass p of this thread); returns (key,
        // valid) with key already clamped to a readable row when !valid.
        auto [key, valid] = keyOf(p);
        Value src = arith::AddIOp::create(
            b, loc, kvCol, arith::MulIOp::create(b, loc, key, cIdx(headDim)));
        return {src, valid};
      });
}

void KernelEmitter::copyKeyRowsContiguous(Value buffer, TileParts parts,
                                          Value firstKey) {
  Value base;
  copyKeyRowsWith(
      buffer, parts,
      [&](const KeyCopySlot &slot) {
        Value key = arith::AddIOp::create(b, loc, firstKey, slot.row0);
        base = arith::AddIOp::create(
            b, loc, kvBase,
            arith::AddIOp::create(
                b, loc, arith::MulIOp::create(b, loc, key, cIdx(headDim)),
                slot.col));
      },
      [&](int64_t, int64_t dr) -> std::pair<Value, Value> {
        return {addIdx(base, dr * headDim), Value()};
      });
}

void KernelEmitter::loadKeyTile(const KeyTile &tile, Value buffer,
                                TileParts parts) {
  ChunkMap map(cfg, cfg.blockN, cfg.threads());
  auto tileRow = [&](int64_t p) {
    Value row0 =
        arith::DivUIOp::create(b, loc, tid, cIdx(map.chunksPerRow));
    return toI32(addIdx(row0, p * map.rowsPerPass));
  };
  auto predicatedRangeRows = [&]() -> SmallVector<Value> {
    copyKeyRows(buffer, parts, [&](int64_t p) -> std::pair<Value, Value> {
      Value row = tileRow(p);
      Value key = arith::AddIOp::create(b, loc, tile.start, row);
      Value limit = tile.limit;
      if (tile.packable()) {
        // Rows past the split read the next range: key + shift, limit2.
        Value second = arith::CmpIOp::create(b, loc, arith::CmpIPredicate::sge,
                                             row, tile.split);
        key = arith::AddIOp::create(
            b, loc, key,
            arith::SelectOp::create(b, loc, second, tile.shift, cI32(0)));
        limit = arith::SelectOp::create(b, loc, second, tile.limit2, limit);
      }
      // Unsigned compare: a negative key is invalid too. limit <= N.
      Value valid = arith::AndIOp::create(
          b, loc, tile.valid,
          arith::CmpIOp::create(b, loc, arith::CmpIPredicate::ult, key,
                                limit));
      return {toIdx(arith::SelectOp::create(b, loc, valid, key, cI32(0))),
              valid};
    });
    return {};
  };
  // Interior tiles (all 64 keys below the limit, itself <= N) skip every
  // per-row predicate: plain 16-byte cp.async at constant offsets.
  auto rangeRows = [&]() -> SmallVector<Value> {
    Value end = arith::AddIOp::create(b, loc, tile.start, cI32(cfg.blockN));
    Value full = arith::AndIOp::create(
        b, loc, tile.valid,
        arith::CmpIOp::create(b, loc, arith::CmpIPredicate::sle, end,
                              tile.limit));
    emitIf(
        full, TypeRange{},
        [&]() -> SmallVector<Value> {
          copyKeyRowsContiguous(buffer, parts, toIdx(tile.start));
          return {};
        },
        predicatedRangeRows);
    return {};
  };
  auto columnRows = [&]() -> SmallVector<Value> {
    Value colBase = arith::MulIOp::create(b, loc, indexRow, toIdx(maxColumns));
    copyKeyRows(buffer, parts, [&](int64_t p) -> std::pair<Value, Value> {
      Value pos = arith::AddIOp::create(b, loc, tile.start, tileRow(p));
      Value inList = arith::AndIOp::create(
          b, loc, tile.valid,
          arith::CmpIOp::create(b, loc, arith::CmpIPredicate::ult, pos,
                                tile.limit));
      Value key = emitIf(
          inList, b.getI32Type(),
          [&]() -> SmallVector<Value> {
            Value at = arith::AddIOp::create(b, loc, colBase, toIdx(pos));
            return {
                memref::LoadOp::create(b, loc, columnIndex, ValueRange{at})};
          },
          [&]() -> SmallVector<Value> { return {cI32(0)}; })[0];
      Value valid = arith::AndIOp::create(
          b, loc, inList,
          arith::CmpIOp::create(b, loc, arith::CmpIPredicate::ult, key,
                                seqLen));
      return {toIdx(arith::SelectOp::create(b, loc, valid, key, cI32(0))),
              valid};
    });
    return {};
  };
  if (!tile.isColumn) {
    rangeRows();
    return;
  }
  emitIf(tile.isColumn, TypeRange{}, columnRows, rangeRows);
}

void KernelEmitter::gatherColumnStrip(Value kTile, Value vTile, Value colBase,
                                     Value pos, Value count) {
  // Each lane reads the keys of strip rows lane and lane + 32 (-1: none).
  // A tile row is T / 8 16-byte chunks (T = tileDim); a pass copies
  // 32 / (T / 8) whole rows, one chunk per lane, so each row's bytes go out
  // as one coalesced request (a lane per row would ask L2 for each 32-byte
  // sector twice).
  Value laneI32 = toI32(lane);
  Value last = arith::SubIOp::create(b, loc, count, cI32(1));
  Value keys[2];
  for (int64_t half = 0; half < 2; ++half) {
    Value p = arith::AddIOp::create(
        b, loc, pos, arith::AddIOp::create(b, loc, laneI32, cI32(32 * half)));
    Value inList =
        arith::CmpIOp::create(b, loc, arith::CmpIPredicate::slt, p, count);
    Value at = arith::AddIOp::create(
        b, loc, colBase, toIdx(arith::MinSIOp::create(b, loc, p, last)));
    Value col = memref::LoadOp::create(b, loc, columnIndex, ValueRange{at});
    Value ok = arith::AndIOp::create(
        b, loc, inList,
        arith::CmpIOp::create(b, loc, arith::CmpIPredicate::ult, col, seqLen));
    keys[half] = arith::SelectOp::create(b, loc, ok, col, cI32(-1));
  }
  const int64_t chunksPerRow = tileDim / kVecElems;
  const int64_t rowsPerPass = 32 / chunksPerRow;
  Value rowInPass = arith::DivUIOp::create(b, loc, lane, cIdx(chunksPerRow));
  Value chunkCol = arith::MulIOp::create(
      b, loc, arith::RemUIOp::create(b, loc, lane, cIdx(chunksPerRow)),
      cIdx(kVecElems));
  Value srcCol = arith::AddIOp::create(b, loc, kvBase, chunkCol);
  Value inRow = columnInRow(chunkCol);
  // A loop, not unrolled: the producer warpgroup has 56 registers
  // (TileConfig::producerRegisters), and 32 unrolled passes spilled.
  auto passes = scf::ForOp::create(b, loc, cIdx(0), cIdx(cfg.blockN),
                                   cIdx(rowsPerPass));
  OpBuilder::InsertionGuard guard(b);
  b.setInsertionPointToStart(passes.getBody());
  {
    Value firstRow = passes.getInductionVar();
    Value row = arith::AddIOp::create(b, loc, rowInPass, firstRow);
    Value secondHalf = arith::CmpIOp::create(b, loc, arith::CmpIPredicate::uge,
                                             firstRow, cIdx(32));
    Value key = gpu::ShuffleOp::create(
                    b, loc,
                    arith::SelectOp::create(b, loc, secondHalf, keys[1],
                                            keys[0]),
                    toI32(arith::RemUIOp::create(b, loc, row, cIdx(32))),
                    cI32(32), gpu::ShuffleMode::IDX)
                    .getShuffleResult();
    Value valid =
        arith::CmpIOp::create(b, loc, arith::CmpIPredicate::sge, key, cI32(0));
    Value src = arith::AddIOp::create(
        b, loc, srcCol,
        arith::MulIOp::create(
            b, loc,
            toIdx(arith::SelectOp::create(b, loc, valid, key, cI32(0))),
            cIdx(headDim)));
    auto copies = [&] {
      asyncCopy(k, src, kvSmem,
                ValueRange{swizzledIndex(kTile, cfg.blockN, row, chunkCol)},
                valid);
      asyncCopy(v, src, kvSmem,
                ValueRange{swizzledIndex(vTile, cfg.blockN, row, chunkCol)},
                valid);
    };
    if (inRow)
      emitIfThen(inRow, copies);
    else
      copies();
  }
}

void KernelEmitter::waitGroups(int64_t pendingAllowed) {
  NVVM::CpAsyncWaitGroupOp::create(b, loc,
                                   static_cast<uint32_t>(pendingAllowed));
  // cp.async writes through the generic proxy; wgmma reads shared memory
  // through the async proxy, which needs this fence (before the barrier that
  // publishes the tile) to see them.
  if (cfg.usesWgmma())
    NVVM::FenceProxyOp::create(
        b, loc,
        NVVM::ProxyKindAttr::get(b.getContext(), NVVM::ProxyKind::async_shared),
        NVVM::SharedSpaceAttr::get(b.getContext(), NVVM::SharedSpace::shared_cta));
}

void KernelEmitter::barrier() { gpu::BarrierOp::create(b, loc); }

void KernelEmitter::warpgroupBarrier() {
  Value id = toI32(addIdx(warpgroup, 1));
  NVVM::BarrierOp::create(b, loc, Type(), id, cI32(128),
                          NVVM::BarrierReductionAttr(), Value());
}

void KernelEmitter::storeOutput(ArrayRef<Value> acc,
                                std::pair<Value, Value> rowScale,
                                bool perWarpgroup) {
  // 1. Registers -> shared (this warp's own 16 Q rows): row 16 w + g + 8 i,
  //    columns 8 nd + 2 t, 2t + 1.
  auto f32x2 = VectorType::get({2}, b.getF32Type());
  auto elemx2 = VectorType::get({2}, elemTy);
  Value warpRow = arith::AddIOp::create(
      b, loc, arith::MulIOp::create(b, loc, warp, cIdx(cfg.rowsPerWarp())),
      group);
  Value twoT = arith::MulIOp::create(b, loc, quad, cIdx(2));
  Value scales[2] = {rowScale.first, rowScale.second};
  for (int64_t nd = 0; nd < dTiles; ++nd)
    for (int64_t i = 0; i < 2; ++i) {
      Value pair =
          vector::ExtractOp::create(b, loc, acc[nd], ArrayRef<int64_t>{i});
      Value s = vector::BroadcastOp::create(b, loc, f32x2, scales[i]);
      Value out = arith::TruncFOp::create(
          b, loc, elemx2, arith::MulFOp::create(b, loc, pair, s));
      auto [mem, at] = queryTileElement(*this, addIdx(warpRow, 8 * i),
                                        cIdx(kMmaN * nd), twoT);
      vector::StoreOp::create(b, loc, out, mem, at,
                              /*nontemporal=*/false, llvm::MaybeAlign(4));
    }
  // 2. Shared -> global, 16 bytes per thread and pass; rows >= N (and
  //    columns past headDim) skipped.
  //    The CTA's rows, or this warpgroup's 64 (its 128 threads).
  Value rank = tid, firstRow = cIdx(0);
  int64_t rows = cfg.blockM, threads = cfg.consumerThreads();
  if (perWarpgroup) {
    warpgroupBarrier();
    rank = warpgroupRank();
    firstRow = warpgroupFirstRow();
    rows = ::minfer::kernel::kBlockM;
    threads = 128;
  } else {
    barrier();
  }
  ChunkMap map(cfg, rows, threads);
  auto [row0, col] = map.threadSlot(*this, rank);
  Value colInRow = columnInRow(col);
  row0 = arith::AddIOp::create(b, loc, row0, firstRow);
  Value rowsLeft = arith::SubIOp::create(b, loc, seqLenIdx, toIdx(qRowStart));
  auto vecType = VectorType::get({kVecElems}, elemTy);
  for (int64_t p = 0; p < map.passes; ++p) {
    Value row = addIdx(row0, p * map.rowsPerPass);
    Value valid =
        arith::CmpIOp::create(b, loc, arith::CmpIPredicate::ult, row, rowsLeft);
    if (colInRow)
      valid = arith::AndIOp::create(b, loc, valid, colInRow);
    auto ifOp = scf::IfOp::create(b, loc, valid, /*withElseRegion=*/false);
    OpBuilder::InsertionGuard guard(b);
    b.setInsertionPoint(ifOp.thenBlock()->getTerminator());
    auto [mem, at] = queryTileElement(*this, row, col, Value());
    Value chunk = vector::LoadOp::create(b, loc, vecType, mem, at,
                                         /*nontemporal=*/false,
                                         llvm::MaybeAlign(16));
    Value dst = arith::AddIOp::create(
        b, loc, qBase,
        arith::AddIOp::create(
            b, loc, arith::MulIOp::create(b, loc, row, cIdx(headDim)), col));
    vector::StoreOp::create(b, loc, chunk, o, ValueRange{dst},
                            /*nontemporal=*/false, llvm::MaybeAlign(16));
  }
}
