//===- AttentionKernelRing.cpp - TMA + mbarrier ring of K/V tiles ---------===//
//
// The K/V pipeline of paired query blocks (TileConfig::pairsQueryBlocks):
// the merged tile list (AttentionKernelPairedSchedule.cpp) streams through
// `stages` swizzled K/V buffers. Tile t of the list goes to stage t % S:
//   full K[s], full V[s]  mbarriers (1 arrival + the TMA's bytes): tile t's
//                         K (V) landed; phase t / S;
//   empty[s]              mbarrier (1 arrival per warp, 8): all warps are
//                         done with tile t; phase t / S;
//   issue counter         the next tile to load (shared i32).
// A tile is loaded by TMA (cp.async.bulk.tensor, 64 keys x 64 head-dim
// columns per copy, 128-byte swizzle: the wgmma layout) as soon as its stage
// is free, by whichever thread frees it: after each step lane 0 of every
// warp arrives on empty[s] and then issues every tile whose stage is free
// (`issue`); the CAS on the counter makes each tile issued once. So the last
// warp done with tile t - S issues tile t at once, and no thread ever waits
// for a stage. A warpgroup computes only the tiles its block visits; for the
// others it waits until their K landed (the waits go by phase parity, so no
// phase may be skipped) and arrives on empty at once. The two warpgroups
// meet nowhere in the loop; one may run up to S tiles ahead of the other.
//
// Why not a producer warp: 2 x 128 consumer threads at 128 registers fill
// half an SM's registers; a 9th warp would drop the kernel to one CTA per SM
// (setmaxnreg needs whole warpgroups). Why TMA and not cp.async: cp.async
// completes per thread, so every thread would have to copy every tile, tying
// the two warpgroups together as the CTA barriers of the earlier paired
// kernel did (tuning.md); and one thread issuing four bulk copies replaces
// 2048 16-byte copies and their address math per tile.
//
// The ops are inline PTX (like the wgmma chains): labels live inside the
// asm's braces, which scope them, so a block may be emitted more than once.
//
//===----------------------------------------------------------------------===//
#include "AttentionKernelEmitter.h"
#include "mlir/Dialect/Arith/IR/Arith.h"
#include "mlir/Dialect/LLVMIR/LLVMDialect.h"
#include "mlir/Dialect/LLVMIR/NVVMDialect.h"
#include <string>

using namespace mlir;
using namespace mlir::minfer::detail;

namespace {
/// Byte offsets in the ring's control block (TileConfig::ringControlBytes).
struct ControlLayout {
  int64_t fullK, fullV, empty, counter;
  explicit ControlLayout(int64_t stages)
      : fullK(0), fullV(8 * stages), empty(16 * stages), counter(24 * stages) {}
};

void emitAsm(KernelEmitter &e, ValueRange operands, StringRef constraints,
             const std::string &text) {
  LLVM::InlineAsmOp::create(
      e.b, e.loc, TypeRange{}, operands, text, constraints,
      /*has_side_effects=*/true, /*is_align_stack=*/false,
      LLVM::tailcallkind::TailCallKind::None,
      LLVM::AsmDialectAttr::get(e.b.getContext(), LLVM::AsmDialect::AD_ATT),
      /*operand_attrs=*/ArrayAttr());
}

std::string num(int64_t v) { return std::to_string(v); }

/// try_wait's suspend-time hint: the longest a thread sleeps before it
/// re-checks the phase (it wakes as soon as the phase completes).
constexpr int64_t kSuspendHintNs = 1000000;
} // namespace

TileRing::TileRing(KernelEmitter &e) : e(e) {
  const TileConfig &cfg = e.cfg;
  OpBuilder &b = e.b;
  Location loc = e.loc;
  auto shared32 = [&](int64_t offset) {
    return arith::IndexCastOp::create(b, loc, b.getI32Type(),
                                      e.addIdx(e.kvAddr, offset))
        .getResult();
  };
  controlAddr = shared32(cfg.ringControlOffset());
  // Entry 0 of the list: listSmem's i32 element pairedEntryOffset(0).
  entriesAddr = arith::IndexCastOp::create(
      b, loc, b.getI32Type(),
      arith::AddIOp::create(
          b, loc, e.addIdx(e.kvAddr, cfg.pairedListOffset()),
          arith::MulIOp::create(b, loc, pairedEntryOffset(e, e.cI32(0)),
                                e.cIdx(4))));
  keyStage0 = shared32(cfg.swizzledQueryBytes());
}

Value TileRing::stageOf(Value step) {
  return e.toIdx(arith::RemUIOp::create(e.b, e.loc, step, e.cI32(e.cfg.stages)));
}

void TileRing::init() {
  const ControlLayout at(e.cfg.stages);
  std::string s = "{\n.reg .b32 a;\n";
  for (int64_t st = 0; st < e.cfg.stages; ++st) {
    for (int64_t full : {at.fullK, at.fullV})
      s += "add.u32 a, $0, " + num(full + 8 * st) +
           ";\nmbarrier.init.shared::cta.b64 [a], 1;\n";
    s += "add.u32 a, $0, " + num(at.empty + 8 * st) + ";\nmbarrier.init.shared::cta.b64 [a], " +
         num(e.cfg.warps) + ";\n";
  }
  s += "add.u32 a, $0, " + num(at.counter) +
       ";\nst.shared.u32 [a], 0;\n"
       "fence.mbarrier_init.release.cluster;\n"
       "fence.proxy.async.shared::cta;\n}";
  emitAsm(e, {controlAddr}, "r,~{memory}", s);
}

Value TileRing::laneZero() {
  return arith::CmpIOp::create(e.b, e.loc, arith::CmpIPredicate::eq, e.lane,
                               e.cIdx(0));
}

Value TileRing::barrierOf(Value step, int64_t offset) {
  Value slot = arith::MulIOp::create(e.b, e.loc,
                                     e.toI32(stageOf(step)), e.cI32(8));
  return arith::AddIOp::create(
      e.b, e.loc, arith::AddIOp::create(e.b, e.loc, controlAddr, slot),
      e.cI32(offset));
}

void TileRing::acquireTensorMaps() {
  // The maps were written to global memory by a host copy: the tensormap
  // proxy must not use an older cached copy of them (PTX ISA, "tensormap
  // proxy"). Only lane 0 of a warp ever issues a TMA copy.
  e.emitIfThen(laneZero(), [&] {
    emitAsm(e, {e.tensorMaps}, "l,~{memory}",
            "{\n.reg .b64 v;\n"
            "fence.proxy.tensormap::generic.acquire.gpu [$0], " +
                num(TileConfig::kTensorMapBytes) +
                ";\nadd.s64 v, $0, " + num(TileConfig::kTensorMapBytes) +
                ";\nfence.proxy.tensormap::generic.acquire.gpu [v], " +
                num(TileConfig::kTensorMapBytes) + ";\n}");
  });
}

void TileRing::issue(Value count, Value kvHeadRow) {
  const TileConfig &cfg = e.cfg;
  const ControlLayout at(cfg.stages);
  const int64_t S = cfg.stages, tileBytes = cfg.swizzledTileBytes();
  const int64_t panels = cfg.headDim / 64, panelBytes = 64 * 128;
  // $0 control, $1 count, $2 entry 0, $3 K stage 0, $4 tensor maps, $5 row.
  std::string s =
      "{\n.reg .pred p;\n"
      ".reg .b32 ctr, t, t1, s, q, par, got, start, bar, dst, off, c0;\n"
      ".reg .b64 st, vmap;\n"
      "add.u32 ctr, $0, " + num(at.counter) + ";\n"
      "add.s64 vmap, $4, " + num(TileConfig::kTensorMapBytes) + ";\n"
      "ISSUE:\n"
      "ld.volatile.shared.u32 t, [ctr];\n"
      "setp.ge.s32 p, t, $1;\n"
      "@p bra DONE;\n"
      "rem.u32 s, t, " + num(S) + ";\n"
      "setp.lt.u32 p, t, " + num(S) + ";\n"
      "@p bra CLAIM;\n"
      // Tile t - S must be released: phase t / S - 1 of empty[s] complete.
      "div.u32 q, t, " + num(S) + ";\n"
      "sub.u32 par, q, 1;\n"
      "and.b32 par, par, 1;\n"
      "mad.lo.u32 bar, s, 8, $0;\n"
      "add.u32 bar, bar, " + num(at.empty) + ";\n"
      "mbarrier.test_wait.parity.shared::cta.b64 p, [bar], par;\n"
      "@!p bra DONE;\n"
      "CLAIM:\n"
      "add.u32 t1, t, 1;\n"
      "atom.shared.cas.b32 got, [ctr], t, t1;\n"
      "setp.ne.u32 p, got, t;\n"
      "@p bra ISSUE;\n"
      "mad.lo.u32 off, t, " + num(4 * cfg.pairedEntryWords()) + ", $2;\n"
      "ld.shared.u32 start, [off];\n";
  for (int part = 0; part < 2; ++part) {
    const int64_t full = part == 0 ? at.fullK : at.fullV;
    std::string map = part == 0 ? "$4" : "vmap";
    s += "mad.lo.u32 bar, s, 8, $0;\n"
         "add.u32 bar, bar, " + num(full) + ";\n"
         "mbarrier.arrive.expect_tx.shared::cta.b64 st, [bar], " +
         num(tileBytes) + ";\n"
         "mad.lo.u32 dst, s, " + num(tileBytes) + ", $3;\n";
    if (part == 1)
      s += "add.u32 dst, dst, " + num(S * tileBytes) + ";\n";
    for (int64_t p = 0; p < panels; ++p) {
      if (p)
        s += "add.u32 dst, dst, " + num(panelBytes) + ";\n";
      s += "mov.b32 c0, " + num(64 * p) + ";\n"
           "cp.async.bulk.tensor.3d.shared::cluster.global.tile.mbarrier::"
           "complete_tx::bytes [dst], [" + map + ", {c0, start, $5}], [bar];\n";
    }
  }
  s += "bra ISSUE;\nDONE:\n}";
  emitAsm(e, {controlAddr, count, entriesAddr, keyStage0, e.tensorMaps,
              kvHeadRow},
          "r,r,r,r,l,r,~{memory}", s);
}

void TileRing::wait(Value step, bool value) {
  const ControlLayout at(e.cfg.stages);
  Value parity = arith::AndIOp::create(
      e.b, e.loc,
      arith::DivUIOp::create(e.b, e.loc, step, e.cI32(e.cfg.stages)),
      e.cI32(1));
  Value bar = barrierOf(step, value ? at.fullV : at.fullK);
  // The suspend-time hint lets a waiting thread sleep until the phase
  // completes instead of re-issuing try_wait (a spinning warp takes issue
  // slots from the warpgroups that compute).
  emitAsm(e, {bar, parity}, "r,r,~{memory}",
          "{\n.reg .pred p;\nWAIT:\n"
          "mbarrier.try_wait.parity.shared::cta.b64 p, [$0], $1, " +
              num(kSuspendHintNs) + ";\n"
          "@!p bra WAIT;\n}");
}

void TileRing::release(Value step, Value count, Value kvHeadRow) {
  const ControlLayout at(e.cfg.stages);
  e.emitIfThen(laneZero(), [&] {
    emitAsm(e, {barrierOf(step, at.empty)}, "r,~{memory}",
            "{\n.reg .b64 st;\nmbarrier.arrive.shared::cta.b64 st, [$0];\n}");
    issue(count, kvHeadRow);
  });
  // Reconverge the warp: otherwise lanes 1-31 enter the next step's wait on
  // their own and lane 0 follows as a second, one-lane instruction stream
  // (with this and the suspend hint the kernel ran 5 % faster).
  NVVM::SyncWarpOp::create(e.b, e.loc, e.cI32(-1));
}
