//===- AttentionKernelFragments.cpp - mma.sync fragments of the FA2 kernel ===//
//
// Tensor-core work of the kernel: Q as A fragments, S = Q K^T and O += P V
// with mma.sync m16n8k16 (fp32 accumulators; nvgpu.mma.sync for f16,
// nvvm.mma.sync for bf16, which nvgpu cannot lower), operands from shared
// memory through nvgpu.ldmatrix. Everything here is warp-level; each warp owns
// 16 query rows.
//
// Fragment layout sanity sheet (PTX ISA "mma.m16n8k16", 16-bit A/B, f32 C).
// Lane l of a warp: g = l / 4 (0..7), t = l % 4 (0..3). Each register holds
// two adjacent 16-bit elements (a vector<2xT> row of the nvgpu vectors).
//
//   A 16x16 (row-major, rows m, cols k)  vector<4x2xT>
//     a0 = A[g    ][2t, 2t+1]   a1 = A[g + 8][2t, 2t+1]
//     a2 = A[g    ][2t+8, +9]   a3 = A[g + 8][2t+8, +9]
//   B 16x8 ("col": k fastest for a fixed n)  vector<2x2xT>
//     b0 = B[2t, 2t+1][g]       b1 = B[2t+8, 2t+9][g]
//   C/D 16x8 f32  vector<2x2xf32>
//     c[0] = C[g][2t, 2t+1]     c[1] = C[g + 8][2t, 2t+1]
//
// ldmatrix.x4 loads four 8x8 matrices M0..M3 of 16-byte rows; lanes 8j..8j+7
// give the row addresses of Mj (lane 8j + r -> row r) and result register j
// of lane l holds Mj[g][2t, 2t+1] (non-transposed) or Mj[2t, 2t+1][g]
// (.trans, i.e. the transpose of what was stored).
//
//   Q (A, smem [query][d]):   lane l -> row l % 16, col 8 (l / 16) + 16 kk
//     M0 = rows 0-7 / d 0-7 -> a0, M1 = rows 8-15 -> a1, M2 = d 8-15 -> a2,
//     M3 -> a3: the A fragment in register order.
//   K (B of S = Q K^T, smem [key][d], non-transposed): B[k = d][n = key] is
//     K[key][d], so K's rows are already the B "columns":
//     lane l -> key 8 jp*2 + l % 8 + 8 (l / 16), d 16 kk + 8 ((l / 8) % 2)
//     M0, M1 = (b0, b1) of key tile 2 jp, M2, M3 = (b0, b1) of key tile 2 jp+1.
//   V (B of O = P V, smem [key][d], .trans): B[k = key][n = d] is V[key][d];
//     .trans of the stored [key][d] block gives lane l V[2t, 2t+1][g] = b0:
//     lane l -> key 16 kk + l % 16, d 16 ndp + 8 (l / 16)
//     M0, M1 = (b0, b1) of d tile 2 ndp, M2, M3 = (b0, b1) of d tile 2 ndp+1.
//   P (A of O = P V) is S's C fragments re-used in registers: key tiles 2kk
//     and 2kk+1 of S give A for keys 16kk..16kk+15:
//     a0 = S[2kk][0], a1 = S[2kk][1], a2 = S[2kk+1][0], a3 = S[2kk+1][1].
//
// Shared rows are padded to D + 8 elements (D*2 + 16 bytes), so the 8 row
// addresses of each 8x8 matrix fall into 8 different 16-byte bank groups.
//
//===----------------------------------------------------------------------===//
#include "AttentionKernelEmitter.h"
#include "mlir/Dialect/Arith/IR/Arith.h"
#include "mlir/Dialect/LLVMIR/LLVMDialect.h"
#include "mlir/Dialect/LLVMIR/NVVMDialect.h"
#include "mlir/Dialect/NVGPU/IR/NVGPUDialect.h"
#include "mlir/Dialect/Vector/IR/VectorOps.h"

using namespace mlir;
using namespace mlir::minfer::detail;

void KernelEmitter::initLaneOffsets() {
  Value c8 = cIdx(8), c16 = cIdx(16);
  Value laneMod16 = arith::RemUIOp::create(b, loc, lane, c16);
  Value laneDiv16 = arith::DivUIOp::create(b, loc, lane, c16);
  Value laneMod8 = arith::RemUIOp::create(b, loc, lane, c8);
  Value laneDiv8 = arith::DivUIOp::create(b, loc, lane, c8);
  Value hi8 = arith::MulIOp::create(b, loc, laneDiv16, c8); // 8 (l / 16)
  // Q: rows of this warp in the Q tile.
  Value warpRow = arith::MulIOp::create(b, loc, warp, cIdx(cfg.rowsPerWarp()));
  qLdRow = addIdx(arith::AddIOp::create(b, loc, warpRow, laneMod16), queryRow0);
  qLdCol = hi8;
  // K: key l % 8 + 8 (l / 16), d 8 ((l / 8) % 2).
  kLdRow = arith::AddIOp::create(b, loc, laneMod8, hi8);
  Value odd8 = arith::RemUIOp::create(b, loc, laneDiv8, cIdx(2));
  kLdCol = arith::MulIOp::create(b, loc, odd8, c8);
  // V: key l % 16, d 8 (l / 16).
  vLdRow = laneMod16;
  vLdCol = hi8;
}

Value KernelEmitter::ldmatrixX4(Value row, Value col, bool transpose) {
  auto type = VectorType::get({4, 2}, elemTy);
  return nvgpu::LdMatrixOp::create(b, loc, type, smem, ValueRange{row, col},
                                   transpose, /*numTiles=*/4);
}

Value KernelEmitter::mma(Value a, Value bFrag, Value acc) {
  if (!elemTy.isBF16())
    return nvgpu::MmaSyncOp::create(b, loc, a, bFrag, acc,
                                    ArrayRef<int64_t>{kMmaM, kMmaN, kMmaK});
  // nvgpu.mma.sync has no bf16 lowering upstream (convert-nvgpu-to-nvvm:
  // "failed to deduce operand PTX types"), so bf16 goes to nvvm.mma.sync
  // directly: A and B as packed 32-bit registers in fragment order, C as
  // four f32; the instruction is the same m16n8k16 row.col f32 accumulate.
  Type f32 = b.getF32Type();
  SmallVector<Value> c;
  for (int64_t i = 0; i < 2; ++i)
    for (int64_t e = 0; e < 2; ++e)
      c.push_back(
          vector::ExtractOp::create(b, loc, acc, ArrayRef<int64_t>{i, e}));
  auto resultType =
      LLVM::LLVMStructType::getLiteral(b.getContext(), {f32, f32, f32, f32});
  Value d = NVVM::MmaOp::create(
      b, loc, resultType, fragmentWords(a), fragmentWords(bFrag), c,
      ArrayRef<int64_t>{kMmaM, kMmaN, kMmaK}, std::nullopt, std::nullopt,
      std::array<NVVM::MMATypes, 2>{NVVM::MMATypes::bf16, NVVM::MMATypes::bf16},
      std::array<NVVM::MMALayout, 2>{NVVM::MMALayout::row,
                                     NVVM::MMALayout::col});
  SmallVector<Value> out;
  for (int64_t i = 0; i < 4; ++i)
    out.push_back(LLVM::ExtractValueOp::create(b, loc, d, i));
  return vector::FromElementsOp::create(b, loc, acc.getType(), out);
}

SmallVector<Value> KernelEmitter::fragmentWords(Value frag) {
  auto i32x1 = VectorType::get({1}, b.getI32Type());
  SmallVector<Value> words;
  int64_t rows = cast<VectorType>(frag.getType()).getDimSize(0);
  for (int64_t r = 0; r < rows; ++r) {
    Value pair = vector::ExtractOp::create(b, loc, frag, ArrayRef<int64_t>{r});
    Value word = vector::BitCastOp::create(b, loc, i32x1, pair);
    words.push_back(
        vector::ExtractOp::create(b, loc, word, ArrayRef<int64_t>{0}));
  }
  return words;
}

std::pair<Value, Value> KernelEmitter::splitX4(Value x4) {
  // Leading-dimension shuffles (vector.extract_strided_slice has no direct
  // LLVM lowering in convert-gpu-to-nvvm).
  Value lo =
      vector::ShuffleOp::create(b, loc, x4, x4, b.getDenseI64ArrayAttr({0, 1}));
  Value hi =
      vector::ShuffleOp::create(b, loc, x4, x4, b.getDenseI64ArrayAttr({2, 3}));
  return {lo, hi};
}

SmallVector<Value> KernelEmitter::loadQueryFragments() {
  SmallVector<Value> frags;
  for (int64_t kk = 0; kk < qkSteps; ++kk)
    frags.push_back(ldmatrixX4(qLdRow, addIdx(qLdCol, kk * kMmaK), false));
  return frags;
}

SmallVector<Value> KernelEmitter::computeScores(ArrayRef<Value> qFrags,
                                                Value kRow) {
  auto accType = VectorType::get({2, 2}, b.getF32Type());
  Value zero = arith::ConstantOp::create(
      b, loc, accType, DenseElementsAttr::get(accType, b.getF32FloatAttr(0)));
  SmallVector<Value> acc(keyTiles, zero);
  Value rowBase = arith::AddIOp::create(b, loc, kRow, kLdRow);
  for (int64_t kk = 0; kk < qkSteps; ++kk) {
    for (int64_t jp = 0; jp < keyTiles / 2; ++jp) {
      Value x4 = ldmatrixX4(addIdx(rowBase, 2 * kMmaN * jp),
                            addIdx(kLdCol, kk * kMmaK), /*transpose=*/false);
      auto [b0, b1] = splitX4(x4);
      acc[2 * jp] = mma(qFrags[kk], b0, acc[2 * jp]);
      acc[2 * jp + 1] = mma(qFrags[kk], b1, acc[2 * jp + 1]);
    }
  }
  return acc;
}

SmallVector<Value> KernelEmitter::packProbabilities(ArrayRef<Value> p) {
  auto f32x4x2 = VectorType::get({4, 2}, b.getF32Type());
  auto elemx4x2 = VectorType::get({4, 2}, elemTy);
  SmallVector<Value> frags;
  for (int64_t kk = 0; kk < pvSteps; ++kk) {
    // Row-major elements of vector<4x2>: a0, a1 from key tile 2kk (rows g,
    // g + 8), a2, a3 from key tile 2kk + 1.
    SmallVector<Value> elems;
    for (int64_t half = 0; half < 2; ++half)
      for (int64_t i = 0; i < 4; ++i)
        elems.push_back(p[4 * (2 * kk + half) + i]);
    Value f = vector::FromElementsOp::create(b, loc, f32x4x2, elems);
    frags.push_back(arith::TruncFOp::create(b, loc, elemx4x2, f));
  }
  return frags;
}

void KernelEmitter::accumulateOutput(ArrayRef<Value> pFrags, Value vRow,
                                     SmallVector<Value> &acc) {
  Value rowBase = arith::AddIOp::create(b, loc, vRow, vLdRow);
  for (int64_t kk = 0; kk < pvSteps; ++kk) {
    for (int64_t ndp = 0; ndp < dTiles / 2; ++ndp) {
      Value x4 =
          ldmatrixX4(addIdx(rowBase, kk * kMmaK),
                     addIdx(vLdCol, 2 * kMmaN * ndp), /*transpose=*/true);
      auto [b0, b1] = splitX4(x4);
      acc[2 * ndp] = mma(pFrags[kk], b0, acc[2 * ndp]);
      acc[2 * ndp + 1] = mma(pFrags[kk], b1, acc[2 * ndp + 1]);
    }
  }
}
