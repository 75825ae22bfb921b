//===- AttentionKernelSoftmax.cpp - masking and online softmax (fp32) -----===//
//
// FlashAttention-2's online softmax on the C fragments of S = Q K^T. A thread
// owns rows g and g + 8 of its warp's 16 rows and, per 8-key tile j, keys
// 8 j + 2 t and 8 j + 2 t + 1; the other three lanes of its quad (same g)
// hold the rest of the row, so row maxima are reduced with two xor shuffles
// (1, 2). Row sums stay per-thread partial sums until the end.
//
// Scores are kept in raw units; with c = scale * log2(e) (the scale_log2e
// argument), p = exp2(s c - m c) and the accumulator rescale is
// exp2(m_old c - m_new c), both with ex2.approx. A row whose keys are all
// masked keeps m = -inf; its exp offset is then 0 (not -inf - -inf = NaN), so
// p = 0, l = 0 and the epilogue writes 0.
//
// Masking (-inf) is needed only on the causal diagonal, at range ends not
// multiple of 64, past N and in gathered column strips; an scf.if sends
// interior tiles past all of it at run time.
//
//===----------------------------------------------------------------------===//
#include "AttentionKernelEmitter.h"
#include "mlir/Dialect/Arith/IR/Arith.h"
#include "mlir/Dialect/GPU/IR/GPUDialect.h"
#include "mlir/Dialect/LLVMIR/LLVMDialect.h"
#include "mlir/Dialect/LLVMIR/NVVMDialect.h"
#include "mlir/Dialect/MemRef/IR/MemRef.h"
#include "mlir/Dialect/Vector/IR/VectorOps.h"
#include <limits>

using namespace mlir;
using namespace mlir::minfer::detail;

namespace {
/// max.f32. llvm.intr.maxnum rather than arith.maxnumf, which
/// convert-gpu-to-nvvm turns into a libdevice call (__nv_fmaxf).
Value maxF32(OpBuilder &b, Location loc, Value x, Value y) {
  return LLVM::MaxNumOp::create(b, loc, x, y);
}

/// Pairwise reduction of `v` (not empty): independent operations the
/// schedulers can overlap, instead of one dependent chain per row.
Value treeReduce(ArrayRef<Value> v, function_ref<Value(Value, Value)> op) {
  if (v.size() == 1)
    return v.front();
  size_t half = v.size() / 2;
  return op(treeReduce(v.take_front(half), op),
            treeReduce(v.drop_front(half), op));
}

/// Position of (key tile j, row half i, element e) in a thread's scores.
inline int64_t scoreIndex(int64_t j, int64_t i, int64_t e) {
  return 4 * j + 2 * i + e;
}
} // namespace

SmallVector<Value> KernelEmitter::unpackScores(ArrayRef<Value> sFrags) {
  SmallVector<Value> s(4 * keyTiles);
  for (int64_t j = 0; j < keyTiles; ++j)
    for (int64_t i = 0; i < 2; ++i)
      for (int64_t e = 0; e < 2; ++e)
        s[scoreIndex(j, i, e)] = vector::ExtractOp::create(
            b, loc, sFrags[j], ArrayRef<int64_t>{i, e});
  return s;
}

SmallVector<Value> KernelEmitter::maskScores(ArrayRef<Value> s,
                                             const KeyTile &tile) {
  Type f32 = b.getF32Type();
  Value negInf = cF32(-std::numeric_limits<double>::infinity());
  int64_t blockN = cfg.blockN;

  // Does any key of the tile need a mask? Past the range end / N, or above
  // the first query row of the block (causal diagonal), or a column strip.
  // A packed tile's last rows are the second segment's (keys + shift, below
  // limit2); its first segment is full by construction.
  Value lastStart = tile.start, lastLimit = tile.limit;
  if (tile.packable()) {
    lastStart = arith::AddIOp::create(b, loc, tile.start, tile.shift);
    lastLimit = tile.limit2;
  }
  Value tileEnd = arith::AddIOp::create(b, loc, lastStart, cI32(blockN));
  Value pastLimit = arith::CmpIOp::create(b, loc, arith::CmpIPredicate::sgt,
                                          tileEnd, lastLimit);
  Value lastKey = arith::AddIOp::create(b, loc, lastStart, cI32(blockN - 1));
  // Paired query blocks: the first row of this warpgroup's block.
  Value firstRow = qRowStart;
  if (cfg.pairsQueryBlocks())
    firstRow =
        arith::AddIOp::create(b, loc, qRowStart, toI32(warpgroupFirstRow()));
  Value onDiagonal = arith::CmpIOp::create(b, loc, arith::CmpIPredicate::sgt,
                                           lastKey, firstRow);
  Value needMask = arith::OrIOp::create(b, loc, pastLimit, onDiagonal);
  if (tile.isColumn)
    needMask = arith::OrIOp::create(b, loc, needMask, tile.isColumn);

  // Query row of half i of this thread: qRowStart + 16 warp + g + 8 i.
  Value warpRow = arith::AddIOp::create(
      b, loc, arith::MulIOp::create(b, loc, warp, cIdx(cfg.rowsPerWarp())),
      group);
  Value row0 = arith::AddIOp::create(b, loc, qRowStart, toI32(warpRow));
  Value twoT = toI32(arith::MulIOp::create(b, loc, quad, cIdx(2)));
  // First key (or column_index position) of this thread: start + 2 t.
  Value first = arith::AddIOp::create(b, loc, tile.start, twoT);

  auto rangeMask = [&]() -> SmallVector<Value> {
    // key = first + 8 j + e is masked if key > row_i or key >= limit:
    //   first - row_i > -(8 j + e - 8 i)   (with row_i = row0 + 8 i)
    //   limit - first <= 8 j + e
    // In a packed tile's second segment (tile row 2 t + 8 j + e >= split)
    // the key is shifted and the limit is limit2.
    Value diag = arith::SubIOp::create(b, loc, first, row0);
    Value room = arith::SubIOp::create(b, loc, tile.limit, first);
    Value diag2, room2;
    if (tile.packable()) {
      diag2 = arith::AddIOp::create(b, loc, diag, tile.shift);
      room2 = arith::SubIOp::create(
          b, loc, arith::SubIOp::create(b, loc, tile.limit2, first),
          tile.shift);
    }
    SmallVector<Value> out(s.size());
    for (int64_t j = 0; j < keyTiles; ++j) {
      // The (diag, room) pair of key 8 j + e's segment.
      Value d[2] = {diag, diag}, r[2] = {room, room};
      for (int64_t e = 0; tile.packable() && e < 2; ++e) {
        // 2 t + off >= split  <=>  2 t >= split - off
        Value second = arith::CmpIOp::create(
            b, loc, arith::CmpIPredicate::sge, twoT,
            arith::SubIOp::create(b, loc, tile.split, cI32(kMmaN * j + e)));
        d[e] = arith::SelectOp::create(b, loc, second, diag2, diag);
        r[e] = arith::SelectOp::create(b, loc, second, room2, room);
      }
      for (int64_t i = 0; i < 2; ++i)
        for (int64_t e = 0; e < 2; ++e) {
          int64_t off = kMmaN * j + e;
          Value future = arith::CmpIOp::create(
              b, loc, arith::CmpIPredicate::sgt, d[e], cI32(8 * i - off));
          Value past = arith::CmpIOp::create(b, loc, arith::CmpIPredicate::sle,
                                             r[e], cI32(off));
          Value masked = arith::OrIOp::create(b, loc, future, past);
          int64_t idx = scoreIndex(j, i, e);
          out[idx] = arith::SelectOp::create(b, loc, masked, negInf, s[idx]);
        }
    }
    return out;
  };

  auto columnMask = [&]() -> SmallVector<Value> {
    // Position p = first + 8 j + e of column_index; masked if p >= count or
    // its key > row_i. Positions are clamped to count - 1 (>= start) so the
    // load stays inside this query block's column list.
    Value colBase = arith::MulIOp::create(b, loc, indexRow, toIdx(maxColumns));
    Value lastPos = arith::SubIOp::create(b, loc, tile.limit, cI32(1));
    Value row1 = arith::AddIOp::create(b, loc, row0, cI32(8));
    SmallVector<Value> out(s.size());
    for (int64_t j = 0; j < keyTiles; ++j)
      for (int64_t e = 0; e < 2; ++e) {
        Value pos = arith::AddIOp::create(b, loc, first, cI32(kMmaN * j + e));
        Value outside = arith::CmpIOp::create(b, loc, arith::CmpIPredicate::sge,
                                              pos, tile.limit);
        Value clamped = arith::MinSIOp::create(b, loc, pos, lastPos);
        Value key = memref::LoadOp::create(
            b, loc, columnIndex,
            ValueRange{arith::AddIOp::create(b, loc, colBase, toIdx(clamped))});
        for (int64_t i = 0; i < 2; ++i) {
          Value future = arith::CmpIOp::create(
              b, loc, arith::CmpIPredicate::sgt, key, i ? row1 : row0);
          Value masked = arith::OrIOp::create(b, loc, future, outside);
          int64_t idx = scoreIndex(j, i, e);
          out[idx] = arith::SelectOp::create(b, loc, masked, negInf, s[idx]);
        }
      }
    return out;
  };

  SmallVector<Type> types(s.size(), f32);
  return emitIf(
      needMask, types,
      [&] {
        if (!tile.isColumn)
          return rangeMask();
        return emitIf(tile.isColumn, types, columnMask, rangeMask);
      },
      [&] { return SmallVector<Value>(s.begin(), s.end()); });
}

Value KernelEmitter::exp2(Value x) {
  // ex2.approx.ftz.f32 as a pure intrinsic (no inline asm side effects), so
  // LLVM may schedule it freely; libdevice's exp2f would need linking.
  return LLVM::CallIntrinsicOp::create(
             b, loc, b.getF32Type(),
             b.getStringAttr("llvm.nvvm.ex2.approx.ftz.f"), ValueRange{x})
      .getResult(0);
}

Value KernelEmitter::quadReduce(Value x, bool isMax) {
  for (int32_t offset : {1, 2}) {
    Value other = gpu::ShuffleOp::create(b, loc, x, offset, /*width=*/32,
                                         gpu::ShuffleMode::XOR)
                      .getShuffleResult();
    x = isMax ? maxF32(b, loc, x, other)
              : Value(arith::AddFOp::create(b, loc, x, other));
  }
  return x;
}

SmallVector<Value> KernelEmitter::onlineSoftmax(ArrayRef<Value> s,
                                                SoftmaxState &state,
                                                SmallVector<Value> &acc) {
  std::pair<Value, Value> alpha;
  SmallVector<Value> p = softmaxProbabilities(s, state, alpha);
  rescaleOutput(acc, alpha);
  return p;
}

SmallVector<Value>
KernelEmitter::softmaxProbabilities(ArrayRef<Value> s, SoftmaxState &state,
                                    std::pair<Value, Value> &rowScale) {
  Value negInf = cF32(-std::numeric_limits<double>::infinity());
  Value zero = cF32(0.0);
  SmallVector<Value> p(s.size());
  auto contract = arith::FastMathFlagsAttr::get(b.getContext(),
                                                arith::FastMathFlags::contract);
  Value alpha[2];
  for (int64_t i = 0; i < 2; ++i) {
    SmallVector<Value> row;
    for (int64_t j = 0; j < keyTiles; ++j)
      for (int64_t e = 0; e < 2; ++e)
        row.push_back(s[scoreIndex(j, i, e)]);
    Value rowMax = treeReduce(row, [&](Value x, Value y) {
      return maxF32(b, loc, x, y);
    });
    rowMax = quadReduce(rowMax, /*isMax=*/true);
    Value newMax = maxF32(b, loc, state.rowMax[i], rowMax);
    // Exp offset in log2 units; 0 while the row has seen no unmasked key.
    Value noKey = arith::CmpFOp::create(b, loc, arith::CmpFPredicate::OEQ,
                                        newMax, negInf);
    Value offset = arith::SelectOp::create(
        b, loc, noKey, zero, arith::MulFOp::create(b, loc, newMax, scaleLog2e));
    Value oldScaled =
        arith::MulFOp::create(b, loc, state.rowMax[i], scaleLog2e);
    alpha[i] = exp2(arith::SubFOp::create(b, loc, oldScaled, offset));
    SmallVector<Value> rowP;
    for (int64_t j = 0; j < keyTiles; ++j)
      for (int64_t e = 0; e < 2; ++e) {
        int64_t idx = scoreIndex(j, i, e);
        // s c - m c as one fma (contract).
        Value scaled =
            arith::MulFOp::create(b, loc, s[idx], scaleLog2e, contract);
        p[idx] = exp2(arith::SubFOp::create(b, loc, scaled, offset, contract));
        rowP.push_back(p[idx]);
      }
    Value sum = arith::AddFOp::create(
        b, loc, arith::MulFOp::create(b, loc, state.rowSum[i], alpha[i]),
        treeReduce(rowP, [&](Value x, Value y) {
          return arith::AddFOp::create(b, loc, x, y).getResult();
        }));
    state.rowMax[i] = newMax;
    state.rowSum[i] = sum;
  }
  rowScale = {alpha[0], alpha[1]};
  return p;
}

void KernelEmitter::rescaleOutput(SmallVector<Value> &acc,
                                  std::pair<Value, Value> rowScale) {
  // Row g by the first factor, row g + 8 by the second. A factor is exactly
  // 1 (ex2 of 0) when its row's maximum did not grow, which is most tiles
  // of a long row: a warp whose 16 rows all kept theirs skips the 4 D
  // multiplies (a vote, so the branch is warp-uniform).
  auto [a0, a1] = rowScale;
  Value one = cF32(1.0);
  Value changed = arith::OrIOp::create(
      b, loc,
      arith::CmpFOp::create(b, loc, arith::CmpFPredicate::UNE, a0, one),
      arith::CmpFOp::create(b, loc, arith::CmpFPredicate::UNE, a1, one));
  Value anyChanged = NVVM::VoteSyncOp::create(
      b, loc, b.getI1Type(), cI32(-1), changed, NVVM::VoteSyncKind::any);
  SmallVector<Type> types(acc.size(), acc.front().getType());
  SmallVector<Value> in(acc);
  acc = emitIf(
      anyChanged, types,
      [&]() -> SmallVector<Value> {
        auto accType = VectorType::get({2, 2}, b.getF32Type());
        Value scale = vector::FromElementsOp::create(
            b, loc, accType, ValueRange{a0, a0, a1, a1});
        SmallVector<Value> out;
        for (Value a : in)
          out.push_back(arith::MulFOp::create(b, loc, a, scale));
        return out;
      },
      [&]() -> SmallVector<Value> { return in; });
}

void KernelEmitter::initOutputState(SoftmaxState &state,
                                    SmallVector<Value> &acc) {
  Value negInf = cF32(-std::numeric_limits<double>::infinity());
  Value zero = cF32(0.0);
  state = {{negInf, negInf}, {zero, zero}};
  auto accType = VectorType::get({2, 2}, b.getF32Type());
  Value accZero = arith::ConstantOp::create(
      b, loc, accType, DenseElementsAttr::get(accType, b.getF32FloatAttr(0)));
  acc.assign(dTiles, accZero);
}

std::pair<Value, Value>
KernelEmitter::finalRowScale(const SoftmaxState &state) {
  Value zero = cF32(0.0), one = cF32(1.0);
  Value inv[2];
  for (int64_t i = 0; i < 2; ++i) {
    Value l = quadReduce(state.rowSum[i], /*isMax=*/false);
    Value empty =
        arith::CmpFOp::create(b, loc, arith::CmpFPredicate::OEQ, l, zero);
    inv[i] = arith::SelectOp::create(b, loc, empty, zero,
                                     arith::DivFOp::create(b, loc, one, l));
  }
  return {inv[0], inv[1]};
}
