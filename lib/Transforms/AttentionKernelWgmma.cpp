//===- AttentionKernelWgmma.cpp - sm_90a warpgroup MMA of the FA2 kernel --===//
//
// S = Q K^T and O += P V on Hopper's wgmma.mma_async (chip sm_90a). Each
// warpgroup (4 warps, 128 threads) owns 64 query rows and issues
// m64nNk16 instructions:
//   S: N = blockN (keys), K = head_dim, A = Q tile, B = K tile, both read by
//      the tensor cores from shared memory ("SS" form);
//   O: N = head_dim,      K = blockN,   A = P from registers, B = V tile
//      ("RS" form).
// P in registers keeps the mma.sync code around it: the per-warp A fragment
// of wgmma is exactly mma.sync's m16n8k16 A fragment of that warp's 16 rows,
// and the f32 D fragment of register 4 j + 2 i + e is row g + 8 i, column
// 8 j + 2 t + e, i.e. mma.sync's C fragment of n8 tile j. So the online
// softmax sees the same C fragments and P is packed as before
// (AttentionKernelFragments.cpp). Q stays out of registers: ptxas (CUDA 13)
// reused the registers of a loop-invariant register A operand for softmax
// temporaries, which corrupted S from the second key tile on.
//
// Shared operands are read through 64-bit matrix descriptors. Q, K and V
// tiles are stored 128-byte swizzled (CUTLASS's Swizzle<3,4,3>): a tile of R
// rows is tileDim / 64 panels of R rows x 128 bytes (tileDim: head_dim, or
// 128 for head_dim 96, whose S takes 6 k16 steps and O N = 96, reading
// columns 0-95 of the two panels only); 16-byte chunk c of row
// r lives at chunk c ^ (r % 8) of that row. The swizzle repeats every 8 rows
// (1024 bytes), and the region is 1024-byte aligned (TileConfig::sharedBytes).
// Descriptors (PTX ISA "matrix descriptor"): address bits 4-17 in bits 0-13,
// leading byte offset >> 4 in 16-29, stride byte offset >> 4 in 32-45,
// swizzle mode 1 (128 B) in 62-63.
//   Q (A of S) and K (B of S) are K-major (head_dim contiguous): SBO = 1024
//     (next 8 rows); the k16 step kk starts 32 bytes further into panel
//     kk / 4; a warpgroup's Q rows start 64 rows (8 KB) into each Q panel.
//   V for O is MN-major (head_dim = N contiguous, .trans): LBO = panel stride
//     (blockN x 128 bytes, the next 64 head_dim columns), SBO = 1024 (next 8
//     keys); the k16 step kk starts 16 rows (2048 bytes) further.
//
// Each GEMM is one inline-asm block: wgmma.fence, the k16 steps, commit and
// wait_group 0. The asynchronous accumulator writes then complete inside the
// block, so LLVM never sees a register that is still being written.
// Overlapping kernels (the paired consumers) issue O += P V without the wait
// (issueOutputWgmma) and wait in a block of its own (waitWgmma) that takes the
// chain's accumulators in and gives them back tied ("pinned", as CUTLASS's
// warpgroup_fence_operand): LLVM cannot move a use of them above the wait,
// and the A registers the chain reads (P) are kept live up to it. ptxas
// checks the rest, not always aloud: it serializes a chain (with a warning)
// when another instruction touches those registers while the group is in
// flight, but a branch between the issue and the wait made it wait for
// every group early without one (AttentionKernelPairedConsumer.cpp).
//
//===----------------------------------------------------------------------===//
#include "AttentionKernelEmitter.h"
#include "mlir/Dialect/Arith/IR/Arith.h"
#include "mlir/Dialect/LLVMIR/LLVMDialect.h"
#include "mlir/Dialect/Vector/IR/VectorOps.h"
#include <string>

using namespace mlir;
using namespace mlir::minfer::detail;

namespace {
constexpr int64_t kRowBytes = TileConfig::kSwizzleBytes; // one swizzled row
constexpr int64_t kRowElems = kRowBytes / 2;             // 2-byte elements
constexpr int64_t kChunksPerRow = kRowBytes / 16;        // 16-byte chunks

/// The constant high part of a 128-byte-swizzle descriptor.
uint64_t descriptorHigh(int64_t leadingBytes, int64_t strideBytes) {
  return (uint64_t(1) << 62) | (uint64_t(strideBytes >> 4) << 32) |
         (uint64_t(leadingBytes >> 4) << 16);
}

/// One GEMM chain as PTX: `steps` wgmma.m64n<n>k16, accumulators $0 ..
/// $<n / 2 - 1>, B from descriptor $<bDesc> + bOffsets[s] (16-byte units),
/// A from registers $<aFirst + 4 s ...> or, when aOffsets is not empty, from
/// descriptor $<aDesc> + aOffsets[s]. The first step ignores the incoming
/// accumulators when `zeroInit`.
struct ChainOperands {
  int64_t aFirst = -1, aDesc = -1, bDesc = -1;
  SmallVector<int64_t> aOffsets, bOffsets;
};
std::string wgmmaChainAsm(int64_t n, StringRef ab, const ChainOperands &op,
                          bool transposeB, bool zeroInit, bool wait) {
  const int64_t accs = n / 2, steps = op.bOffsets.size();
  std::string acc = "{";
  for (int64_t i = 0; i < accs; ++i)
    acc += (i ? ", $" : "$") + std::to_string(i);
  acc += "}";
  std::string s = "{\n.reg .pred pz, pa;\n.reg .b32 z;\n.reg .b64 ad, bd;\n"
                  "mov.b32 z, 0;\nsetp.ne.b32 pz, z, 0;\nsetp.eq.b32 pa, z, 0;\n"
                  "wgmma.fence.sync.aligned;\n";
  auto reg = [](int64_t i) { return "$" + std::to_string(i); };
  bool aShared = !op.aOffsets.empty();
  for (int64_t st = 0; st < steps; ++st) {
    std::string a;
    if (aShared) {
      s += "add.s64 ad, " + reg(op.aDesc) + ", " +
           std::to_string(op.aOffsets[st]) + ";\n";
      a = "ad";
    } else {
      int64_t r = op.aFirst + 4 * st;
      a = "{" + reg(r) + ", " + reg(r + 1) + ", " + reg(r + 2) + ", " +
          reg(r + 3) + "}";
    }
    s += "add.s64 bd, " + reg(op.bDesc) + ", " +
         std::to_string(op.bOffsets[st]) + ";\n";
    // Register A has no transpose immediate; shared A is K-major (0).
    s += "wgmma.mma_async.sync.aligned.m64n" + std::to_string(n) + "k16.f32." +
         ab.str() + "." + ab.str() + " " + acc + ", " + a + ", bd, " +
         ((zeroInit && st == 0) ? "pz" : "pa") + ", 1, 1, " +
         (aShared ? "0, " : "") + (transposeB ? "1" : "0") + ";\n";
  }
  s += "wgmma.commit_group.sync.aligned;\n";
  if (wait)
    s += "wgmma.wait_group.sync.aligned 0;\n";
  return s + "}";
}
} // namespace

Value KernelEmitter::swizzledIndex(Value tileBase, int64_t rows, Value row,
                                   Value col) {
  Value chunk = arith::DivUIOp::create(b, loc, col, cIdx(kVecElems));
  Value panel = arith::DivUIOp::create(b, loc, chunk, cIdx(kChunksPerRow));
  Value inRow = arith::RemUIOp::create(b, loc, chunk, cIdx(kChunksPerRow));
  Value swizzled = arith::XOrIOp::create(
      b, loc, inRow, arith::RemUIOp::create(b, loc, row, cIdx(8)));
  Value panelBase =
      arith::MulIOp::create(b, loc, panel, cIdx(rows * kRowElems));
  Value rowBase = arith::MulIOp::create(b, loc, row, cIdx(kRowElems));
  Value chunkBase = arith::MulIOp::create(b, loc, swizzled, cIdx(kVecElems));
  Value sum = arith::AddIOp::create(b, loc, tileBase, panelBase);
  sum = arith::AddIOp::create(b, loc, sum, rowBase);
  return arith::AddIOp::create(b, loc, sum, chunkBase);
}

Value KernelEmitter::swizzledTileBase(Value tile) {
  return arith::AddIOp::create(
      b, loc, cIdx(cfg.swizzledQueryBytes() / 2),
      arith::MulIOp::create(b, loc, tile,
                            cIdx(cfg.swizzledTileBytes() / 2)));
}

namespace {
/// Runs one chain through llvm.inline_asm: the A words of every step (none:
/// A from the `aDesc` descriptor), the descriptors, and the incoming
/// accumulators (none: zero-init) tied to the outputs. Returns the n / 2
/// accumulators, in flight unless `wait`.
SmallVector<Value> emitWgmmaChain(KernelEmitter &e, int64_t n,
                                  ArrayRef<SmallVector<Value>> aWords,
                                  Value aDesc, Value bDesc, ChainOperands op,
                                  bool transposeB, ArrayRef<Value> accIn,
                                  bool wait = true) {
  OpBuilder &b = e.b;
  const int64_t accs = n / 2;
  SmallVector<Value> operands;
  std::string constraints;
  for (int64_t i = 0; i < accs; ++i)
    constraints += "=f,";
  int64_t next = accs;
  op.aFirst = next;
  for (const auto &words : aWords)
    for (Value w : words) {
      operands.push_back(w);
      constraints += "r,";
      ++next;
    }
  if (aDesc) {
    op.aDesc = next++;
    operands.push_back(aDesc);
    constraints += "l,";
  }
  op.bDesc = next++;
  operands.push_back(bDesc);
  constraints += "l";
  for (int64_t i = 0; i < static_cast<int64_t>(accIn.size()); ++i) {
    operands.push_back(accIn[i]);
    constraints += "," + std::to_string(i);
  }
  constraints += ",~{memory}";
  StringRef ab = e.elemTy.isBF16() ? "bf16" : "f16";
  SmallVector<Type> fields(accs, b.getF32Type());
  auto resultType = LLVM::LLVMStructType::getLiteral(b.getContext(), fields);
  Value result = e.inlineAsm(
      resultType, operands,
      wgmmaChainAsm(n, ab, op, transposeB, accIn.empty(), wait), constraints);
  SmallVector<Value> out;
  for (int64_t i = 0; i < accs; ++i)
    out.push_back(LLVM::ExtractValueOp::create(b, e.loc, result, i));
  return out;
}

/// A 128-byte-swizzle descriptor (i64) for shared byte address `addr`.
/// The start-address field holds address bits 4-17 only. Shared addresses
/// can carry more: in a cluster launch the executing CTA's window sits at
/// its rank's place in the cluster window: an H100 gives a rank-1 CTA
/// 0x1000800 where rank 0 sees 0x800. Unmasked, bit 24 lands in the
/// leading-byte-offset field, and a 2-CTA cluster launch of these kernels
/// computed wrong outputs on every rank-1 CTA (bench/results/tuning.md,
/// eighteenth session). CUTLASS's 14-bit bitfield and MLIR's own nvgpu
/// descriptor lowering drop those bits the same way.
Value descriptorAt(KernelEmitter &e, Value addr, uint64_t high) {
  OpBuilder &b = e.b;
  constexpr int64_t kStartAddressMask = (int64_t(1) << 18) - 1;
  Value low = arith::AndIOp::create(b, e.loc, addr, e.cIdx(kStartAddressMask));
  Value units = arith::ShRUIOp::create(b, e.loc, low, e.cIdx(4));
  Value i64 = arith::IndexCastOp::create(b, e.loc, b.getI64Type(), units);
  Value hi = arith::ConstantIntOp::create(b, e.loc, static_cast<int64_t>(high),
                                          64);
  return arith::OrIOp::create(b, e.loc, i64, hi);
}

/// The descriptor of swizzled K / V tile `tile` with the given high bits.
Value tileDescriptor(KernelEmitter &e, Value tile, uint64_t high) {
  Value bytes = arith::MulIOp::create(e.b, e.loc, e.swizzledTileBase(tile),
                                      e.cIdx(2));
  return descriptorAt(e, arith::AddIOp::create(e.b, e.loc, e.kvAddr, bytes),
                      high);
}

/// k16 step offsets (16-byte units) of a K-major operand of `rows` rows:
/// 32 bytes per step inside a 128-byte panel row, then the next panel.
SmallVector<int64_t> kMajorOffsets(int64_t steps, int64_t rows) {
  SmallVector<int64_t> offsets;
  for (int64_t kk = 0; kk < steps; ++kk) {
    int64_t panel = kk * kMmaK / kRowElems, within = kk * kMmaK % kRowElems;
    offsets.push_back((panel * rows * kRowBytes + within * 2) / 16);
  }
  return offsets;
}

/// Registers of C fragments (vector<2x2xf32>) in wgmma D order, and back.
SmallVector<Value> flattenAcc(KernelEmitter &e, ArrayRef<Value> frags) {
  SmallVector<Value> out;
  for (Value f : frags)
    for (int64_t i = 0; i < 2; ++i)
      for (int64_t j = 0; j < 2; ++j)
        out.push_back(vector::ExtractOp::create(e.b, e.loc, f,
                                                ArrayRef<int64_t>{i, j}));
  return out;
}
SmallVector<Value> groupAcc(KernelEmitter &e, ArrayRef<Value> regs) {
  auto type = VectorType::get({2, 2}, e.b.getF32Type());
  SmallVector<Value> frags;
  for (size_t j = 0; j < regs.size(); j += 4)
    frags.push_back(vector::FromElementsOp::create(e.b, e.loc, type,
                                                   regs.slice(j, 4)));
  return frags;
}
} // namespace

SmallVector<Value> KernelEmitter::computeScoresWgmma(Value buffer) {
  // This warpgroup's 64 Q rows start 64 x 128 bytes into each Q panel.
  Value qAddr = arith::AddIOp::create(
      b, loc, kvAddr,
      arith::MulIOp::create(b, loc, warpgroup, cIdx(64 * kRowBytes)));
  uint64_t kMajor = descriptorHigh(16, 8 * kRowBytes);
  ChainOperands op;
  op.aOffsets = kMajorOffsets(qkSteps, cfg.blockM);
  op.bOffsets = kMajorOffsets(qkSteps, cfg.blockN);
  return groupAcc(*this,
                  emitWgmmaChain(*this, cfg.blockN, {},
                                 descriptorAt(*this, qAddr, kMajor),
                                 tileDescriptor(*this, buffer, kMajor), op,
                                 /*transposeB=*/false, {}));
}

void KernelEmitter::accumulateOutputWgmma(ArrayRef<Value> pFrags, Value buffer,
                                          SmallVector<Value> &acc) {
  acc = groupAcc(*this, outputChain(pFrags, buffer, acc, /*wait=*/true).regs);
}

PendingGemm KernelEmitter::outputChain(ArrayRef<Value> pFrags, Value buffer,
                                       ArrayRef<Value> acc, bool wait) {
  SmallVector<SmallVector<Value>> words;
  ChainOperands op;
  for (int64_t kk = 0; kk < pvSteps; ++kk) {
    words.push_back(fragmentWords(pFrags[kk]));
    op.bOffsets.push_back(kk * kMmaK * kRowBytes / 16);
  }
  Value desc = tileDescriptor(
      *this, addIdx(buffer, cfg.stages),
      descriptorHigh(cfg.blockN * kRowBytes, 8 * kRowBytes));
  PendingGemm out;
  out.regs = emitWgmmaChain(*this, headDim, words, Value(), desc, op,
                            /*transposeB=*/true, flattenAcc(*this, acc), wait);
  for (const auto &w : words)
    out.aWords.append(w);
  return out;
}

PendingGemm KernelEmitter::issueOutputWgmma(ArrayRef<Value> pFrags,
                                            Value buffer, ArrayRef<Value> acc) {
  return outputChain(pFrags, buffer, acc, /*wait=*/false);
}

SmallVector<Value> KernelEmitter::waitWgmma(int64_t pending,
                                            const PendingGemm &gemm) {
  // Outputs: the accumulators; inputs: the same, tied, then the A words
  // (read-only: live until here).
  const int64_t accs = gemm.regs.size();
  SmallVector<Value> operands(gemm.regs);
  std::string constraints;
  for (int64_t i = 0; i < accs; ++i)
    constraints += "=f,";
  for (int64_t i = 0; i < accs; ++i)
    constraints += std::to_string(i) + ",";
  for (Value w : gemm.aWords) {
    operands.push_back(w);
    constraints += "r,";
  }
  constraints += "~{memory}";
  SmallVector<Type> fields(accs, b.getF32Type());
  Value result = inlineAsm(
      LLVM::LLVMStructType::getLiteral(b.getContext(), fields), operands,
      "wgmma.wait_group.sync.aligned " + std::to_string(pending) + ";",
      constraints);
  SmallVector<Value> regs;
  for (int64_t i = 0; i < accs; ++i)
    regs.push_back(LLVM::ExtractValueOp::create(b, loc, result, i));
  return groupAcc(*this, regs);
}
