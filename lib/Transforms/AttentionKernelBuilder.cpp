//===- AttentionKernelBuilder.cpp - FA2 kernel assembly --------*- C++ -*-===//
//
// Assembles one FlashAttention-2 kernel from the pieces in the other
// AttentionKernel*.cpp files: signature (the ABI of TileConfig.h), CTA
// coordinates, the cp.async pipeline and the key-tile loop, the epilogue.
//
// Pipeline with S = stages >= 2 (one CTA barrier per key tile):
//   prologue: Q -> group; tiles 0 .. S-2 -> one group each;
//             wait until Q landed; barrier; Q -> registers (A fragments).
//   tile i:   wait until tile i landed (S-2 groups may stay in flight);
//             barrier   (tile i visible to all; everyone is done with i-1)
//             cp.async tile i+S-1 into stage (i+S-1) % S = the stage of i-1
//             compute tile i from stage i % S.
// With S = 1 the load of tile i+1 follows the compute of tile i and a second
// barrier; or, for kernels that split K and V (TileConfig::
// splitsKeyValueLoads), K and V are groups of their own in the one buffer:
//   tile i:   wait until K(i) landed; barrier; S = Q K(i), softmax;
//             barrier; cp.async K(i+1); wait until V(i) landed; barrier;
//             O += P V(i); barrier; cp.async V(i+1).
// Prefetches past the last tile copy nothing (zero-fill) so every
// iteration commits the same groups and the wait counts stay static.
// With S >= 2 (and 64-row CTAs) the Q tile is staged in K stage S-1, which
// the first prefetch of the loop fills only after everyone's Q is in
// registers; the epilogue stages O there again after a final barrier.
// The loop is an scf.for over the stream's tile count, or an scf.while on
// the cursor for streams without one, with "tile i + S - 1 exists" read from
// the load cursor. Paired query blocks instead have a producer warp feed
// their merged tile list through a TMA ring and per-warpgroup work queues
// (emitPairedKernelBody, AttentionKernelRing.cpp).
//
//===----------------------------------------------------------------------===//
#include "minfer/Transforms/AttentionKernelBuilder.h"
#include "AttentionKernelEmitter.h"
#include "mlir/Dialect/Arith/IR/Arith.h"
#include "mlir/Dialect/GPU/IR/GPUDialect.h"
#include "mlir/Dialect/LLVMIR/LLVMDialect.h"
#include "mlir/Dialect/LLVMIR/NVVMDialect.h"
#include "mlir/Dialect/MemRef/IR/MemRef.h"
#include "mlir/Dialect/SCF/IR/SCF.h"
#include "mlir/Dialect/Vector/IR/VectorOps.h"
#include "mlir/IR/SymbolTable.h"
#include <limits>

using namespace mlir;
using namespace mlir::minfer;
using namespace mlir::minfer::detail;
namespace kernel = ::minfer::kernel;

//===----------------------------------------------------------------------===//
// KernelEmitter basics
//===----------------------------------------------------------------------===//

KernelEmitter::KernelEmitter(OpBuilder &b, Location loc, const TileConfig &cfg)
    : b(b), loc(loc), cfg(cfg),
      elemTy(getKernelElementType(b.getContext(), cfg.elem)),
      headDim(cfg.headDim), tileDim(cfg.tileDim()),
      rowElems(cfg.smemRowElems()), queryRow0(cfg.sharedQueryRow()),
      qkSteps(cfg.headDim / kMmaK),
      keyTiles(cfg.blockN / kMmaN), pvSteps(cfg.blockN / kMmaK),
      dTiles(cfg.headDim / kMmaN) {}

Value KernelEmitter::cIdx(int64_t v) {
  return arith::ConstantIndexOp::create(b, loc, v);
}
Value KernelEmitter::cI32(int64_t v) {
  return arith::ConstantIntOp::create(b, loc, v, 32);
}
Value KernelEmitter::cF32(double v) {
  return arith::ConstantOp::create(b, loc, b.getF32FloatAttr(v));
}
Value KernelEmitter::addIdx(Value a, int64_t c) {
  if (c == 0)
    return a;
  return arith::AddIOp::create(b, loc, a, cIdx(c));
}
Value KernelEmitter::toIdx(Value i32) {
  return arith::IndexCastOp::create(b, loc, b.getIndexType(), i32);
}
Value KernelEmitter::toI32(Value idx) {
  return arith::IndexCastOp::create(b, loc, b.getI32Type(), idx);
}

SmallVector<Value>
KernelEmitter::emitIf(Value cond, TypeRange types,
                      function_ref<SmallVector<Value>()> thenFn,
                      function_ref<SmallVector<Value>()> elseFn) {
  auto ifOp = scf::IfOp::create(b, loc, types, cond, /*withElseRegion=*/true);
  OpBuilder::InsertionGuard guard(b);
  for (Block *block : {ifOp.thenBlock(), ifOp.elseBlock()}) {
    // Without results scf.if already has its yields; build before them.
    if (!block->empty())
      b.setInsertionPoint(block->getTerminator());
    else
      b.setInsertionPointToEnd(block);
    SmallVector<Value> values = block == ifOp.thenBlock() ? thenFn() : elseFn();
    if (!types.empty())
      scf::YieldOp::create(b, loc, values);
  }
  return SmallVector<Value>(ifOp.getResults());
}

void KernelEmitter::emitIfThen(Value cond, function_ref<void()> body) {
  emitIf(cond, TypeRange{}, [&]() -> SmallVector<Value> {
    body();
    return {};
  }, []() -> SmallVector<Value> { return {}; });
}

Value KernelEmitter::warpgroupRank() {
  return arith::RemUIOp::create(b, loc, tid, cIdx(128));
}
Value KernelEmitter::warpgroupFirstRow() {
  return arith::MulIOp::create(b, loc, warpgroup, cIdx(kernel::kBlockM));
}

Value KernelEmitter::inlineAsm(Type result, ValueRange operands,
                               const std::string &text,
                               const std::string &constraints) {
  auto op = LLVM::InlineAsmOp::create(
      b, loc, result ? TypeRange{result} : TypeRange{}, operands, text,
      constraints, /*has_side_effects=*/true, /*is_align_stack=*/false,
      LLVM::tailcallkind::TailCallKind::None,
      LLVM::AsmDialectAttr::get(b.getContext(), LLVM::AsmDialect::AD_ATT),
      /*operand_attrs=*/ArrayAttr());
  return result ? op.getResult(0) : Value();
}

void KernelEmitter::setMaxRegisters(int64_t count, bool increase) {
  if (count == 0)
    return;
  inlineAsm(Type(), {},
            std::string("setmaxnreg.") + (increase ? "inc" : "dec") +
                ".sync.aligned.u32 " + std::to_string(count) + ";",
            "~{memory}");
}

Value KernelEmitter::keyBufferRow(Value buffer) {
  return arith::MulIOp::create(b, loc, buffer, cIdx(cfg.blockN));
}
Value KernelEmitter::valueBufferRow(Value buffer) {
  return arith::AddIOp::create(
      b, loc, cIdx(cfg.stages * cfg.blockN),
      arith::MulIOp::create(b, loc, buffer, cIdx(cfg.blockN)));
}

//===----------------------------------------------------------------------===//
// Public helpers
//===----------------------------------------------------------------------===//

Type mlir::minfer::getKernelElementType(MLIRContext *ctx,
                                        kernel::ElemType elem) {
  Builder b(ctx);
  return elem == kernel::ElemType::BF16 ? Type(b.getBF16Type())
                                        : Type(b.getF16Type());
}

SmallVector<Type>
mlir::minfer::getAttentionKernelArgTypes(MLIRContext *ctx,
                                         const TileConfig &cfg) {
  Builder b(ctx);
  Type buf = MemRefType::get({ShapedType::kDynamic},
                             getKernelElementType(ctx, cfg.elem));
  Type idx = MemRefType::get({ShapedType::kDynamic}, b.getI32Type());
  Type i32 = b.getI32Type();
  bool ranges = cfg.kind != KernelKind::Dense;
  bool columns = cfg.kind == KernelKind::VerticalSlash;
  SmallVector<Type> types = {buf, buf, buf, buf};
  if (ranges)
    types.append({idx, idx});
  if (columns)
    types.append({idx, idx});
  types.append({i32, i32, i32});
  if (ranges)
    types.push_back(i32);
  if (columns)
    types.push_back(i32);
  types.push_back(b.getF32Type());
  if (cfg.pairsQueryBlocks()) // the K and V tensor maps
    types.push_back(LLVM::LLVMPointerType::get(ctx));
  types.push_back(i32); // first_cta: launch position of blockIdx.x = 0
  return types;
}

std::optional<kernel::KernelKind> mlir::minfer::parseKernelKind(StringRef s) {
  if (s == "dense")
    return KernelKind::Dense;
  if (s == "block")
    return KernelKind::Block;
  if (s == "vs")
    return KernelKind::VerticalSlash;
  return std::nullopt;
}
std::optional<kernel::ElemType> mlir::minfer::parseElemType(StringRef s) {
  if (s == "bf16")
    return kernel::ElemType::BF16;
  if (s == "f16")
    return kernel::ElemType::F16;
  return std::nullopt;
}
std::optional<kernel::Chip> mlir::minfer::parseChip(StringRef s) {
  if (s == "sm_80")
    return kernel::Chip::SM80;
  if (s == "sm_90")
    return kernel::Chip::SM90;
  if (s == "sm_90a")
    return kernel::Chip::SM90A;
  return std::nullopt;
}

//===----------------------------------------------------------------------===//
// Kernel body
//===----------------------------------------------------------------------===//

namespace {
void bindArguments(KernelEmitter &e, Block &entry) {
  const TileConfig &cfg = e.cfg;
  auto args = entry.getArguments();
  unsigned n = 0;
  e.q = args[n++], e.k = args[n++], e.v = args[n++], e.o = args[n++];
  bool ranges = cfg.kind != KernelKind::Dense;
  bool columns = cfg.kind == KernelKind::VerticalSlash;
  if (ranges)
    e.rangeCount = args[n++], e.ranges = args[n++];
  if (columns)
    e.columnCount = args[n++], e.columnIndex = args[n++];
  e.seqLen = args[n++], e.heads = args[n++], e.kvHeads = args[n++];
  if (ranges)
    e.maxRanges = args[n++];
  if (columns)
    e.maxColumns = args[n++];
  e.scaleLog2e = args[n++];
  if (cfg.pairsQueryBlocks())
    e.tensorMaps = args[n++];
  e.firstCta = args[n++];
}

/// Thread and CTA coordinates, base offsets, the shared-memory view.
void emitCoordinates(KernelEmitter &e, Value position, Value numBlocks) {
  OpBuilder &b = e.b;
  Location loc = e.loc;
  const TileConfig &cfg = e.cfg;
  e.tid = gpu::ThreadIdOp::create(b, loc, gpu::Dimension::x);
  Value c32 = e.cIdx(32), c4 = e.cIdx(4);
  e.warp = arith::DivUIOp::create(b, loc, e.tid, c32);
  e.lane = arith::RemUIOp::create(b, loc, e.tid, c32);
  e.group = arith::DivUIOp::create(b, loc, e.lane, c4);
  e.quad = arith::RemUIOp::create(b, loc, e.lane, c4);
  if (cfg.usesWgmma()) {
    e.warpgroup = arith::DivUIOp::create(b, loc, e.warp, c4);
    // Paired query blocks: the warpgroup picks the block, so its index row,
    // work queue and Q / O rows all derive from it. Read through redux.sync,
    // whose result is warp-uniform by definition, ptxas keeps them in
    // uniform registers instead of per-thread ones (from %tid.x it cannot
    // tell): H100, 192-row block-sparse kernel 2-24 % faster, 5-8 % less code
    // (tuning.md, twentieth session). The 128-row dense kernel ran 3 %
    // slower with it and keeps %tid.x.
    if (cfg.pairsQueryBlocks())
      e.warpgroup = e.toIdx(
          e.inlineAsm(b.getI32Type(), {e.toI32(e.warpgroup)},
                      "redux.sync.max.u32 $0, $1, 0xffffffff;", "=r,r"));
  }

  // GQA: kv head = h / (H / Hkv); a degenerate ratio falls back to 1.
  Value ratio;
  auto groupSize = [&] {
    if (!ratio) {
      Value one = e.cI32(1);
      ratio = arith::DivUIOp::create(
          b, loc, e.heads, arith::MaxUIOp::create(b, loc, e.kvHeads, one));
      ratio = arith::MaxUIOp::create(b, loc, ratio, one);
    }
    return ratio;
  };

  // Launch position p (blockIdx.x + first_cta, below NB H; TileConfig.h):
  // head = p / NB, m = NB - 1 - p % NB (heaviest causal query blocks
  // first, the heads one after the other). Block-sparse wgmma kernels map
  // p to (kv head, query block from the heaviest, query head of the group)
  // instead, so the H / Hkv query heads that read the same K/V run side by
  // side and share its blocks in L2 (H32/8, 1M tokens: 388 -> 333 ms; dense
  // and vertical-slash measured 2-3 % slower, and the mma.sync block
  // kernels would spill at their 168-register cap). When H is not a
  // multiple of Hkv the plain map applies.
  Value batch = gpu::BlockIdOp::create(b, loc, gpu::Dimension::z);
  e.seqLenIdx = e.toIdx(e.seqLen);
  Value head = arith::DivUIOp::create(b, loc, position, numBlocks);
  Value fromHeaviest = arith::RemUIOp::create(b, loc, position, numBlocks);
  if (cfg.kind == KernelKind::Block && cfg.usesWgmma()) {
    Value group = e.toIdx(groupSize());
    Value rest = arith::DivUIOp::create(b, loc, position, group);
    Value grouped = arith::CmpIOp::create(
        b, loc, arith::CmpIPredicate::eq,
        arith::MulIOp::create(b, loc, ratio, e.kvHeads), e.heads);
    Value groupHead = arith::AddIOp::create(
        b, loc,
        arith::MulIOp::create(
            b, loc, arith::DivUIOp::create(b, loc, rest, numBlocks), group),
        arith::RemUIOp::create(b, loc, position, group));
    head = arith::SelectOp::create(b, loc, grouped, groupHead, head);
    fromHeaviest = arith::SelectOp::create(
        b, loc, grouped, arith::RemUIOp::create(b, loc, rest, numBlocks),
        fromHeaviest);
  }
  e.qBlock =
      arith::SubIOp::create(b, loc, e.addIdx(numBlocks, -1), fromHeaviest);
  Value rowStart = arith::MulIOp::create(b, loc, e.qBlock, e.cIdx(cfg.blockM));
  e.qRowStart = e.toI32(rowStart);
  Value kvHead = arith::DivUIOp::create(b, loc, head, e.toIdx(groupSize()));

  // All element offsets in index (i64): B H N D exceeds 2^31.
  Value d = e.cIdx(cfg.headDim);
  Value bh = arith::AddIOp::create(
      b, loc, arith::MulIOp::create(b, loc, batch, e.toIdx(e.heads)), head);
  Value qRow = arith::AddIOp::create(
      b, loc, arith::MulIOp::create(b, loc, bh, e.seqLenIdx), rowStart);
  e.qBase = arith::MulIOp::create(b, loc, qRow, d);
  Value bhkv = arith::AddIOp::create(
      b, loc, arith::MulIOp::create(b, loc, batch, e.toIdx(e.kvHeads)), kvHead);
  e.kvBase = arith::MulIOp::create(
      b, loc, arith::MulIOp::create(b, loc, bhkv, e.seqLenIdx), d);
  e.kvHeadRow = e.toI32(bhkv);
  // The index has 64-row blocks: a paired CTA's first row is block W M.
  e.indexBlocks = numBlocks;
  Value firstIndexBlock = e.qBlock;
  if (cfg.pairsQueryBlocks()) {
    e.indexBlocks = arith::DivUIOp::create(
        b, loc, e.addIdx(e.seqLenIdx, kernel::kBlockM - 1),
        e.cIdx(kernel::kBlockM));
    firstIndexBlock =
        arith::MulIOp::create(b, loc, e.qBlock, e.cIdx(cfg.queryBlocksPerCta()));
  }
  e.indexRow = arith::AddIOp::create(
      b, loc, arith::MulIOp::create(b, loc, bh, e.indexBlocks),
      firstIndexBlock);

  auto wg =
      gpu::AddressSpaceAttr::get(b.getContext(), gpu::AddressSpace::Workgroup);
  auto raw = MemRefType::get({ShapedType::kDynamic}, b.getI8Type(),
                             MemRefLayoutAttrInterface(), wg);
  Value dyn = gpu::DynamicSharedMemoryOp::create(b, loc, raw);
  if (!cfg.usesWgmma()) {
    // Dynamic shared memory as one [rows x (D + 8)] view (TileConfig layout).
    auto view = MemRefType::get({cfg.sharedRows(), e.rowElems}, e.elemTy,
                                MemRefLayoutAttrInterface(), wg);
    e.smem =
        memref::ViewOp::create(b, loc, view, dyn, e.cIdx(0), ValueRange{});
    return;
  }
  // wgmma's swizzled Q / K / V region is the dynamic shared window itself,
  // which must be 1024-byte aligned (TileConfig::sharedBytes): trap rather
  // than compute with a shifted swizzle if it ever is not.
  const int64_t atom = kernel::TileConfig::kSwizzleAtomBytes;
  e.kvAddr = memref::ExtractAlignedPointerAsIndexOp::create(b, loc, dyn);
  Value misaligned = arith::CmpIOp::create(
      b, loc, arith::CmpIPredicate::ne,
      arith::AndIOp::create(b, loc, e.kvAddr, e.cIdx(atom - 1)), e.cIdx(0));
  e.emitIfThen(misaligned, [&] { LLVM::Trap::create(b, loc); });
  int64_t listBytes = cfg.pairedListBytes();
  auto kvView = MemRefType::get({(cfg.sharedBytes() - listBytes) / 2},
                                e.elemTy, MemRefLayoutAttrInterface(), wg);
  e.kvSmem =
      memref::ViewOp::create(b, loc, kvView, dyn, e.cIdx(0), ValueRange{});
  if (listBytes) { // after the ring's control words
    int64_t offset = cfg.pairedListOffset();
    auto listView = MemRefType::get({(cfg.sharedBytes() - offset) / 4},
                                    b.getI32Type(), MemRefLayoutAttrInterface(),
                                    wg);
    e.listSmem = memref::ViewOp::create(b, loc, listView, dyn, e.cIdx(offset),
                                        ValueRange{});
  }
}

/// Loop-carried values: cursors, softmax state and O accumulators.
struct LoopState {
  SmallVector<Value> cursor;               ///< load cursor (tile i + S - 1);
                                           ///< empty with stages == 1
  SmallVector<SmallVector<Value>> pending; ///< cursors of tiles i .. i+S-2
  SoftmaxState softmax;
  SmallVector<Value> acc;

  SmallVector<Value> flatten() const {
    SmallVector<Value> v(cursor);
    for (const auto &c : pending)
      v.append(c);
    v.append(softmax.values());
    v.append(acc);
    return v;
  }
  static LoopState unflatten(ValueRange v, unsigned loadCursorSize,
                             unsigned cursorSize, unsigned numPending,
                             unsigned numAcc) {
    LoopState s;
    unsigned n = 0;
    auto take = [&](unsigned k) {
      SmallVector<Value> r(v.begin() + n, v.begin() + n + k);
      n += k;
      return r;
    };
    s.cursor = take(loadCursorSize);
    for (unsigned p = 0; p < numPending; ++p)
      s.pending.push_back(take(cursorSize));
    s.softmax = SoftmaxState::fromValues(take(SoftmaxState::kValues));
    s.acc = take(numAcc);
    return s;
  }
};

/// Points inside one tile's compute where the split single-stage pipeline
/// syncs and loads (emitKeyLoop).
enum class TileStep { ValuesNext, ValuesDone };

/// S = Q K^T, mask, online softmax, O += P V for one tile in `buffer`;
/// `at` (if set) runs before O += P V (S and the softmax are done, K is no
/// longer read) and after it (V no longer read).
void emitTileCompute(KernelEmitter &e, ArrayRef<Value> qFrags,
                     const KeyTile &tile, Value buffer, LoopState &state,
                     function_ref<void(TileStep)> at = nullptr) {
  bool wgmma = e.cfg.usesWgmma();
  SmallVector<Value> sFrags =
      wgmma ? e.computeScoresWgmma(buffer)
            : e.computeScores(qFrags, e.keyBufferRow(buffer));
  SmallVector<Value> s = e.maskScores(e.unpackScores(sFrags), tile);
  SmallVector<Value> p = e.onlineSoftmax(s, state.softmax, state.acc);
  SmallVector<Value> pFrags = e.packProbabilities(p);
  if (at)
    at(TileStep::ValuesNext);
  if (wgmma)
    e.accumulateOutputWgmma(pFrags, buffer, state.acc);
  else
    e.accumulateOutput(pFrags, e.valueBufferRow(buffer), state.acc);
  if (at)
    at(TileStep::ValuesDone);
}

/// Loads the Q tile, prefetches the first tiles of `stream` into the
/// `stages` K/V buffers and runs its key loop (the CTA's threads share the
/// buffers: CTA barriers); returns the softmax state and O accumulators
/// after it. Under mma.sync Q moves to registers before the loop. The
/// prefetches past the last tile are drained at the end (all groups waited,
/// then a barrier), so the buffers are free afterwards.
LoopState emitKeyLoop(KernelEmitter &e, TileStream &stream) {
  OpBuilder &b = e.b;
  Location loc = e.loc;
  const int64_t stages = e.cfg.stages;
  auto sync = [&] { e.barrier(); };
  Value numTiles = stream.count();
  e.loadQueryTile();
  auto tileAt = [&](ValueRange cursor, Value index) {
    KeyTile t = stream.describe(cursor, index);
    t.valid = numTiles ? arith::CmpIOp::create(b, loc, arith::CmpIPredicate::ult,
                                               index, numTiles)
                       : stream.hasTile(cursor);
    return t;
  };

  // Prologue: tiles 0 .. S-2, or with one stage K(0) and V(0) as two groups.
  LoopState init;
  init.cursor = stream.begin();
  const bool split = stages == 1 && e.cfg.splitsKeyValueLoads();
  int64_t groups = 0;
  if (split) {
    KeyTile first = tileAt(init.cursor, e.cIdx(0));
    e.loadKeyTile(first, e.cIdx(0), TileParts::Key);
    e.loadKeyTile(first, e.cIdx(0), TileParts::Value);
    groups = 2;
    init.pending.push_back(init.cursor);
  }
  const int64_t prefetched = split ? 0 : std::max<int64_t>(stages - 1, 1);
  for (int64_t s = 0; s < prefetched; ++s, ++groups) {
    Value index = e.cIdx(s);
    e.loadKeyTile(tileAt(init.cursor, index), index);
    init.pending.push_back(init.cursor);
    if (stages > 1)
      init.cursor = stream.advance(init.cursor);
  }
  if (stages == 1) // the loop computes `pending[0]` and loads its successor
    init.cursor.clear();
  e.waitGroups(groups); // Q's group is the oldest
  sync();
  SmallVector<Value> qFrags;
  if (!e.cfg.usesWgmma())
    qFrags = e.loadQueryFragments();
  e.initOutputState(init.softmax, init.acc);

  // Key-tile loop: an scf.for over count() tiles, or an scf.while that runs
  // while the computed tile's cursor is at a tile (streams without count()).
  unsigned cursorSize = stream.cursorSize();
  unsigned numPending = init.pending.size();
  unsigned loadCursorSize = init.cursor.size();
  auto unflatten = [&](ValueRange v) {
    return LoopState::unflatten(v, loadCursorSize, cursorSize, numPending,
                                e.dTiles);
  };
  auto iteration = [&](Value i, LoopState st) {
    KeyTile tile = stream.describe(st.pending[0], i);
    LoopState next;
    if (stages > 1) {
      e.waitGroups(stages - 2);
      sync();
      Value loadIndex = e.addIdx(i, stages - 1);
      Value stage = arith::RemUIOp::create(b, loc, loadIndex, e.cIdx(stages));
      e.loadKeyTile(tileAt(st.cursor, loadIndex), stage);
      Value buffer = arith::RemUIOp::create(b, loc, i, e.cIdx(stages));
      emitTileCompute(e, qFrags, tile, buffer, st);
      next.cursor = stream.advance(st.cursor);
      next.pending.assign(st.pending.begin() + 1, st.pending.end());
      next.pending.push_back(st.cursor);
    } else if (!split) {
      e.waitGroups(0);
      sync();
      Value buffer = e.cIdx(0);
      emitTileCompute(e, qFrags, tile, buffer, st);
      sync();
      SmallVector<Value> succ = stream.advance(st.pending[0]);
      e.loadKeyTile(tileAt(succ, e.addIdx(i, 1)), buffer);
      next.pending.push_back(succ);
    } else {
      // One buffer, K and V in groups of their own: K(i+1) loads while
      // tile i's O += P V runs, V(i+1) while S(i+1) and its softmax do.
      e.waitGroups(1); // K(i); V(i) may still be in flight
      sync();
      Value buffer = e.cIdx(0);
      SmallVector<Value> succ;
      Value nextIndex = e.addIdx(i, 1);
      // K(i+1) is issued once P is packed, not right after S: with the S
      // fragments still live the copy's registers took the block kernel
      // from 137 to 168 registers (vertical-slash spilled 100 bytes).
      emitTileCompute(e, qFrags, tile, buffer, st, [&](TileStep step) {
        switch (step) {
        case TileStep::ValuesNext:
          sync(); // everyone's S read K(i)
          succ = stream.advance(st.pending[0]);
          e.loadKeyTile(tileAt(succ, nextIndex), buffer, TileParts::Key);
          e.waitGroups(1); // V(i); K(i+1) may still be in flight
          sync();
          break;
        case TileStep::ValuesDone:
          sync(); // everyone's O += P V read V(i)
          e.loadKeyTile(tileAt(succ, nextIndex), buffer, TileParts::Value);
          break;
        }
      });
      next.pending.push_back(succ);
    }
    next.softmax = st.softmax;
    next.acc = st.acc;
    return next;
  };
  LoopState done;
  if (numTiles) {
    auto loop = scf::ForOp::create(b, loc, e.cIdx(0), numTiles, e.cIdx(1),
                                   init.flatten());
    OpBuilder::InsertionGuard guard(b);
    b.setInsertionPointToStart(loop.getBody());
    LoopState next =
        iteration(loop.getInductionVar(), unflatten(loop.getRegionIterArgs()));
    scf::YieldOp::create(b, loc, next.flatten());
    done = unflatten(loop.getResults());
  } else {
    SmallVector<Value> initValues{e.cIdx(0)};
    initValues.append(init.flatten());
    auto loop = scf::WhileOp::create(
        b, loc, ValueRange(initValues).getTypes(), initValues,
        [&](OpBuilder &, Location, ValueRange args) {
          Value more = stream.hasTile(unflatten(args.drop_front()).pending[0]);
          scf::ConditionOp::create(b, loc, more, args);
        },
        [&](OpBuilder &, Location, ValueRange args) {
          LoopState next = iteration(args[0], unflatten(args.drop_front()));
          SmallVector<Value> yielded{e.addIdx(args[0], 1)};
          yielded.append(next.flatten());
          scf::YieldOp::create(b, loc, yielded);
        });
    done = unflatten(loop.getResults().drop_front());
  }
  // Drain the (zero-fill) prefetches past the last tile, and let every
  // thread finish its last tile before the buffers are reused.
  e.waitGroups(0);
  sync();
  return done;
}

/// Paired query blocks (TileConfig::pairsQueryBlocks): the compute warps
/// load their Q rows and thread 0 sets up the TMA ring
/// (AttentionKernelRing.cpp); after one CTA barrier the producer's first
/// lane walks the merged tile list and feeds the ring
/// (AttentionKernelPairedSchedule.cpp), while each compute warpgroup takes
/// the steps its block visits from its work queue, computes them with its
/// GEMMs overlapping its softmax (AttentionKernelPairedConsumer.cpp), then
/// stores its rows. A producer warpgroup first gives registers to the
/// compute warpgroups (setmaxnreg). No CTA barrier after the first.
void emitPairedKernelBody(KernelEmitter &e) {
  OpBuilder &b = e.b;
  Location loc = e.loc;
  const TileConfig &cfg = e.cfg;
  Value producer = arith::CmpIOp::create(b, loc, arith::CmpIPredicate::uge,
                                         e.warp, e.cIdx(cfg.warps));
  Value computes = arith::CmpIOp::create(b, loc, arith::CmpIPredicate::ult,
                                         e.warp, e.cIdx(cfg.warps));
  e.emitIfThen(computes, [&] { e.loadQueryTile(); });
  TileRing ring(e);
  e.emitIfThen(arith::CmpIOp::create(b, loc, arith::CmpIPredicate::eq, e.tid,
                                     e.cIdx(0)),
               [&] { ring.init(); });
  e.waitGroups(0); // the Q tile
  e.barrier();     // Q and the barriers visible to all
  e.emitIf(
      producer, TypeRange{},
      [&]() -> SmallVector<Value> {
        e.setMaxRegisters(cfg.producerRegisters(), /*increase=*/false);
        // Block-sparse: the producer is one thread. Vertical-slash: one
        // warp, whose lanes gather the column strips (its lane 0 walks the
        // ranges).
        if (cfg.kind == KernelKind::VerticalSlash) {
          e.emitIfThen(arith::CmpIOp::create(b, loc, arith::CmpIPredicate::eq,
                                             e.warp, e.cIdx(cfg.warps)),
                       [&] { emitPairedProducer(e, ring); });
          return {};
        }
        Value lane0 = arith::CmpIOp::create(b, loc, arith::CmpIPredicate::eq,
                                            e.tid, e.cIdx(cfg.warps * 32));
        e.emitIfThen(lane0, [&] {
          ring.acquireTensorMaps();
          emitPairedProducer(e, ring);
        });
        return {};
      },
      [&]() -> SmallVector<Value> {
        e.setMaxRegisters(cfg.consumerRegisters(), /*increase=*/true);
        SoftmaxState softmax;
        SmallVector<Value> acc;
        emitPairedConsumer(e, ring, softmax, acc);
        // Epilogue: each warpgroup stages and stores its own 64 rows.
        e.storeOutput(acc, e.finalRowScale(softmax), /*perWarpgroup=*/true);
        return {};
      });
}

void emitKernelBody(KernelEmitter &e) {
  e.initLaneOffsets();
  if (e.cfg.pairsQueryBlocks())
    return emitPairedKernelBody(e);
  std::unique_ptr<TileStream> stream = TileStream::create(e);
  LoopState state = emitKeyLoop(e, *stream);
  // Epilogue: O is staged over the Q rows (storeOutput's own barrier
  // publishes it).
  e.storeOutput(state.acc, e.finalRowScale(state.softmax),
                /*perWarpgroup=*/false);
}
} // namespace

//===----------------------------------------------------------------------===//
// Entry points
//===----------------------------------------------------------------------===//

FailureOr<gpu::GPUFuncOp>
mlir::minfer::buildAttentionKernel(OpBuilder &builder, Location loc,
                                   gpu::GPUModuleOp module,
                                   const TileConfig &cfg) {
  if (std::string err = cfg.validate(); !err.empty())
    return emitError(loc) << "invalid kernel tile config: " << err;
  std::string name = cfg.kernelName();
  if (SymbolTable::lookupSymbolIn(module, name))
    return emitError(loc) << "symbol '" << name
                          << "' already exists in gpu.module @"
                          << module.getName();

  OpBuilder::InsertionGuard guard(builder);
  builder.setInsertionPointToEnd(module.getBody());
  MLIRContext *ctx = builder.getContext();
  auto funcType =
      builder.getFunctionType(getAttentionKernelArgTypes(ctx, cfg), {});
  auto func = gpu::GPUFuncOp::create(builder, loc, name, funcType);
  func->setAttr(gpu::GPUDialect::getKernelFuncAttrName(),
                builder.getUnitAttr());
  int32_t threads = static_cast<int32_t>(cfg.threads());
  func.setKnownBlockSizeAttr(builder.getDenseI32ArrayAttr({threads, 1, 1}));
  if (cfg.minCtasPerSm > 0) // .minnctapersm: ptxas fits registers to it
    func->setAttr(NVVM::NVVMDialect::getMinctasmAttrName(),
                  builder.getI32IntegerAttr(cfg.minCtasPerSm));

  Block &entry = func.getBody().front();
  builder.setInsertionPointToStart(&entry);
  KernelEmitter e(builder, loc, cfg);
  bindArguments(e, entry);
  // Launch position p = blockIdx.x + first_cta; CTAs at or past NB H (a
  // grid wider than the call) do nothing.
  Value position = arith::AddIOp::create(
      builder, loc, gpu::BlockIdOp::create(builder, loc, gpu::Dimension::x),
      e.toIdx(e.firstCta));
  Value n = e.toIdx(e.seqLen);
  Value numBlocks = arith::DivUIOp::create(
      builder, loc, e.addIdx(n, cfg.blockM - 1), e.cIdx(cfg.blockM));
  Value inGrid = arith::CmpIOp::create(
      builder, loc, arith::CmpIPredicate::ult, position,
      arith::MulIOp::create(builder, loc, numBlocks, e.toIdx(e.heads)));
  auto guardIf =
      scf::IfOp::create(builder, loc, inGrid, /*withElseRegion=*/false);
  builder.setInsertionPoint(guardIf.thenBlock()->getTerminator());
  emitCoordinates(e, position, numBlocks);
  emitKernelBody(e);
  builder.setInsertionPointToEnd(&entry);
  gpu::ReturnOp::create(builder, loc);
  return func;
}

FailureOr<gpu::GPUFuncOp>
mlir::minfer::getOrCreateAttentionKernel(ModuleOp top, Location loc,
                                         const TileConfig &cfg) {
  std::string name = cfg.kernelName();
  if (auto module = top.lookupSymbol<gpu::GPUModuleOp>(name)) {
    if (auto func = module.lookupSymbol<gpu::GPUFuncOp>(name))
      return func;
    return emitError(loc) << "gpu.module @" << name
                          << " exists but has no kernel of that name";
  }
  if (top.lookupSymbol(name))
    return emitError(loc) << "symbol '" << name
                          << "' is taken by something other than a gpu.module";
  top->setAttr(gpu::GPUDialect::getContainerModuleAttrName(),
               UnitAttr::get(top.getContext()));
  OpBuilder builder(top.getContext());
  builder.setInsertionPointToEnd(top.getBody());
  auto module = gpu::GPUModuleOp::create(builder, loc, name);
  FailureOr<gpu::GPUFuncOp> func =
      buildAttentionKernel(builder, loc, module, cfg);
  if (failed(func))
    module->erase();
  return func;
}
