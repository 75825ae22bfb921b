//===- AttentionKernelRing.cpp - TMA + mbarrier ring of K/V tiles ---------===//
//
// The K/V pipeline of paired query blocks (TileConfig::pairsQueryBlocks):
// the merged tile list (AttentionKernelPairedSchedule.cpp) streams through
// `stages` swizzled K/V buffers. Step t of the list goes to stage t % S:
//   full K[s], full V[s]  mbarriers (1 arrival + the TMA's bytes): step t's
//                         K (V) landed; phase t / S;
//   empty[s]              mbarrier (1 arrival per compute warp): all
//                         warpgroups are done with step t; phase t / S;
//   entry[s]              step t's entry (start, limits, mask), written
//                         before full K[s]'s arrival, read after its wait.
// One producer lane (lane 0 of warp 4 W) walks the merge and, for each step,
// waits for its stage's empty phase, writes the entry and issues the TMA
// copies (cp.async.bulk.tensor, 64 keys x 64 head-dim columns per copy,
// 128-byte swizzle: the wgmma layout) with expect_tx on the full barriers;
// it ends the list with a stop entry whose full K completes without data.
// The compute warpgroups never issue or spin on a stage: each waits for
// every step's K (the waits go by phase parity, so no phase may be skipped),
// reads the entry, computes the tile if its block visits it (waiting for V
// before O += P V) and arrives on empty from lane 0 by a predicated arrive.
// The warpgroups meet nowhere in the loop; one may run up to S steps ahead
// of another, and the producer up to S steps ahead of the slowest.
//
// Why a producer warp: issuing from the compute warps (the previous version
// of this ring: the last warp to release a stage issued the next tiles)
// cost 33-50 % more instructions, mostly lane-0 paths and spinning, and kept
// the loads only one tile ahead (tuning.md). One warp of 32 threads leaves
// the compute warps their registers (a producer warpgroup would need
// setmaxnreg). Why TMA and not cp.async: cp.async completes per thread, so
// every thread would have to copy every tile, tying the warpgroups together;
// and one thread issuing four bulk copies replaces 2048 16-byte copies and
// their address math per tile.
//
// The ops are inline PTX (like the wgmma chains): labels live inside the
// asm's braces, which scope them, so a block may be emitted more than once.
//
//===----------------------------------------------------------------------===//
#include "AttentionKernelEmitter.h"
#include "mlir/Dialect/Arith/IR/Arith.h"
#include "mlir/Dialect/LLVMIR/LLVMDialect.h"
#include "mlir/Dialect/LLVMIR/NVVMDialect.h"
#include "mlir/Dialect/MemRef/IR/MemRef.h"
#include <string>

using namespace mlir;
using namespace mlir::minfer::detail;

namespace {
/// Byte offsets in the ring's control block (TileConfig::ringControlBytes).
struct ControlLayout {
  int64_t fullK, fullV, empty;
  explicit ControlLayout(int64_t stages)
      : fullK(0), fullV(8 * stages), empty(16 * stages) {}
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
  auto shared32 = [&](int64_t offset) {
    return arith::IndexCastOp::create(e.b, e.loc, e.b.getI32Type(),
                                      e.addIdx(e.kvAddr, offset))
        .getResult();
  };
  controlAddr = shared32(cfg.ringControlOffset());
  keyStage0 = shared32(cfg.swizzledQueryBytes());
}

Value TileRing::stageOf(Value step) {
  return e.toIdx(arith::RemUIOp::create(e.b, e.loc, step, e.cI32(e.cfg.stages)));
}

Value TileRing::entryOf(Value step) {
  return arith::MulIOp::create(e.b, e.loc, stageOf(step),
                               e.cIdx(e.cfg.pairedEntryWords()));
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
  s += "fence.mbarrier_init.release.cluster;\n"
       "fence.proxy.async.shared::cta;\n}";
  emitAsm(e, {controlAddr}, "r,~{memory}", s);
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
  // proxy").
  emitAsm(e, {e.tensorMaps}, "l,~{memory}",
          "{\n.reg .b64 v;\n"
          "fence.proxy.tensormap::generic.acquire.gpu [$0], " +
              num(TileConfig::kTensorMapBytes) +
              ";\nadd.s64 v, $0, " + num(TileConfig::kTensorMapBytes) +
              ";\nfence.proxy.tensormap::generic.acquire.gpu [v], " +
              num(TileConfig::kTensorMapBytes) + ";\n}");
}

/// Spins on try_wait.parity of the mbarrier at $0 for parity $1. The
/// suspend-time hint lets a waiting thread sleep until the phase completes
/// instead of re-issuing try_wait (a spinning warp takes issue slots from
/// the warpgroups that compute).
static void emitParityWait(KernelEmitter &e, Value bar, Value parity) {
  emitAsm(e, {bar, parity}, "r,r,~{memory}",
          "{\n.reg .pred p;\nWAIT:\n"
          "mbarrier.try_wait.parity.shared::cta.b64 p, [$0], $1, " +
              num(kSuspendHintNs) + ";\n"
          "@!p bra WAIT;\n}");
}

/// The phase parity of step `step` on its stage's barriers: (step / S) & 1.
static Value phaseParity(KernelEmitter &e, Value step) {
  return arith::AndIOp::create(
      e.b, e.loc, arith::DivUIOp::create(e.b, e.loc, step, e.cI32(e.cfg.stages)),
      e.cI32(1));
}

void TileRing::waitFree(Value step) {
  // Step t reuses the stage of step t - S: wait for empty's phase t / S - 1,
  // i.e. parity ((t / S) & 1) ^ 1. For t < S that is the phase before the
  // first, which a fresh mbarrier reports complete.
  const ControlLayout at(e.cfg.stages);
  Value parity =
      arith::XOrIOp::create(e.b, e.loc, phaseParity(e, step), e.cI32(1));
  emitParityWait(e, barrierOf(step, at.empty), parity);
}

void TileRing::produce(Value step, ArrayRef<Value> words) {
  const TileConfig &cfg = e.cfg;
  const ControlLayout at(cfg.stages);
  const int64_t S = cfg.stages, tileBytes = cfg.swizzledTileBytes();
  const int64_t panels = cfg.headDim / 64, panelBytes = 64 * 128;
  waitFree(step);
  Value entry = entryOf(step);
  for (size_t k = 0; k < words.size(); ++k)
    memref::StoreOp::create(e.b, e.loc, words[k], e.listSmem,
                            ValueRange{e.addIdx(entry, k)});
  Value keyDst = arith::AddIOp::create(
      e.b, e.loc, keyStage0,
      arith::MulIOp::create(e.b, e.loc, e.toI32(stageOf(step)),
                            e.cI32(tileBytes)));
  // $0 full K, $1 K stage, $2 tensor maps, $3 start, $4 kv row, $5 full V.
  // The arrive (release) orders the entry's stores before the consumers'
  // wait (acquire) on full K.
  std::string s = "{\n.reg .b64 st, vmap;\n.reg .b32 dst, c0;\n"
                  "add.s64 vmap, $2, " + num(TileConfig::kTensorMapBytes) + ";\n";
  for (int part = 0; part < 2; ++part) {
    std::string bar = part == 0 ? "$0" : "$5";
    std::string map = part == 0 ? "$2" : "vmap";
    s += "mbarrier.arrive.expect_tx.shared::cta.b64 st, [" + bar + "], " +
         num(tileBytes) + ";\n";
    s += "add.u32 dst, $1, " + num(part * S * tileBytes) + ";\n";
    for (int64_t p = 0; p < panels; ++p) {
      if (p)
        s += "add.u32 dst, dst, " + num(panelBytes) + ";\n";
      s += "mov.b32 c0, " + num(64 * p) + ";\n"
           "cp.async.bulk.tensor.3d.shared::cluster.global.tile.mbarrier::"
           "complete_tx::bytes [dst], [" + map + ", {c0, $3, $4}], [" + bar +
           "];\n";
    }
  }
  s += "}";
  emitAsm(e,
          {barrierOf(step, at.fullK), keyDst, e.tensorMaps, words[0],
           e.kvHeadRow, barrierOf(step, at.fullV)},
          "r,r,l,r,r,r,~{memory}", s);
}

void TileRing::finish(Value step) {
  const ControlLayout at(e.cfg.stages);
  waitFree(step);
  Value entry = entryOf(step);
  memref::StoreOp::create(
      e.b, e.loc, e.cI32(TileConfig::kStopMask), e.listSmem,
      ValueRange{e.addIdx(entry, e.cfg.pairedEntryWords() - 1)});
  emitAsm(e, {barrierOf(step, at.fullK)}, "r,~{memory}",
          "{\n.reg .b64 st;\nmbarrier.arrive.shared::cta.b64 st, [$0];\n}");
}

void TileRing::wait(Value step, bool value) {
  const ControlLayout at(e.cfg.stages);
  emitParityWait(e, barrierOf(step, value ? at.fullV : at.fullK),
                 phaseParity(e, step));
}

void TileRing::release(Value step) {
  // One arrival per warp, from lane 0, once the warp's wgmma reads of the
  // stage are done (the caller waited for them). bar.warp.sync orders the
  // other lanes' reads of the entry before lane 0's arrive (release), so the
  // producer's next write to the slot cannot race them. Predicated, not
  // branched: a lane-0 branch split the warp and cost reconvergence stalls.
  const ControlLayout at(e.cfg.stages);
  emitAsm(e, {barrierOf(step, at.empty), e.toI32(e.lane)}, "r,r,~{memory}",
          "{\n.reg .pred p;\n.reg .b64 st;\nsetp.eq.u32 p, $1, 0;\n"
          "bar.warp.sync -1;\n"
          "@p mbarrier.arrive.shared::cta.b64 st, [$0];\n}");
}
