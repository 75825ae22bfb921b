//===- AttentionKernelRing.cpp - TMA + mbarrier ring of K/V tiles ---------===//
//
// The K/V pipeline of paired query blocks (TileConfig::pairsQueryBlocks):
// the merged tile list (AttentionKernelPairedSchedule.cpp) streams through
// S = `stages` swizzled K buffers and SV = valueStageCount() V buffers.
// Step t of the list goes to K stage t % S and V stage t % SV:
//   full K[s], full V[v]    mbarriers (1 arrival + the TMA's bytes): step
//                           t's K (V) landed; phase t / S (t / SV);
//   empty K[s], empty V[v]  mbarriers (1 arrival per compute warp): every
//                           block is done with step t's K (V); phase t / S
//                           (t / SV);
//   queue[w][j]             mbarrier (1 arrival) and item (step, first key,
//                           key limit) of block w's j-th visited step, in
//                           slot j % S; phase j / S.
// K and V have rings of their own because a block is done with K(t) as
// soon as S(t) is computed but holds V(t) until its next tile's softmax is
// done (below): with one stage per step, K(t) sat idle in a stage for a
// whole tile. The 192-row kernel's 4 K and 7 V stages ran 2-5 % faster
// than 5 shared ones (and 4 K stages faster than 5: bench/results/
// tuning.md).
//
// One producer lane (lane 0 of warp 4 W) walks the merge and, for each step,
// waits for its K and V stages' empty phases, issues the TMA copies
// (cp.async.bulk.tensor, one copy per K or V tile of 64 keys: the
// tensor maps' box holds every 64-column panel, 128-byte swizzled, the wgmma
// layout) with expect_tx on the full barriers, arrives on
// both empty barriers for the 4 warps of each block that does not visit the
// step, and queues the step to each block that does; at the end it queues a
// stop item to every block. A compute warpgroup takes its items in order
// and, for each, waits for the step's K, computes S and arrives on empty K
// from lane 0, then waits for V before O += P V and arrives on empty V. It
// never sees the steps of other blocks: no per-step cost for tiles it does
// not compute. The warpgroups meet nowhere; the ring only bounds how far
// apart they get (S steps).
//
// Vertical-slash column strips (gathered rows, which TMA cannot load) are
// filled by the producer warp's 32 lanes with cp.async (produceStrip): the
// full barriers then expect 32 arrivals, one cp.async.mbarrier.arrive.noinc
// per lane on a strip, the issuer's expect_tx arrive plus 31 on a TMA step;
// the stage is written through the generic proxy, so the producer fences
// before it and a consumer after its wait (AttentionKernelPairedConsumer.cpp).
//
// Consumers overlap each tile's S = Q K^T and softmax with the previous
// tile's O += P V (AttentionKernelPairedConsumer.cpp), so a block releases a
// step's V only when it has its next item: it holds its last V meanwhile.
// Before waiting for V(t - SV)'s release the producer therefore sends a
// flush item to a block whose last item is step t - SV; the block finishes
// that tile and releases it. No other wait of the producer depends on a
// consumer's next item (K is released before a block asks for its next
// item), so the ring cannot deadlock.
//
// Why parity waits are safe here: an item of step t is queued after step t
// was issued, which waited for the release of K(t - S) and V(t - SV), so
// full K and full V are in step t's phase or done with it when a block
// waits for them; and queue slot j % S is rewritten only for item j + S.
// If items j .. j + S - 1 are all tiles, item j + S is for a step t' at
// least S after item j's step u; the producer issued step u + S (at or
// before t') only once K(u) was released, which the block does after
// reading item j. Otherwise a flush item lies between, and a flush item is
// read before the producer writes again: it waits for the flushed step's
// release right after queueing it.
//
// Why a producer warp: issuing from the compute warps (the previous version
// of this ring) cost 33-50 % more instructions, mostly lane-0 paths and
// spinning, and kept the loads only one tile ahead (tuning.md). With three
// blocks the producer is a whole warpgroup (one lane works) so that
// setmaxnreg can hand its registers to the compute warpgroups
// (TileConfig::consumerRegisters). Why TMA and
// not cp.async: cp.async completes per thread, so every thread would have to
// copy every tile, tying the warpgroups together; and one thread issuing
// two bulk copies replaces 2048 16-byte copies and their address math.
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
  int64_t fullK, fullV, emptyK, emptyV, queue;
  explicit ControlLayout(const TileConfig &cfg) {
    const int64_t s = cfg.stages, sv = cfg.valueStageCount();
    fullK = 0;
    fullV = fullK + 8 * s;
    emptyK = fullV + 8 * sv;
    emptyV = emptyK + 8 * s;
    queue = emptyV + 8 * sv;
  }
};

void emitAsm(KernelEmitter &e, ValueRange operands, StringRef constraints,
             const std::string &text) {
  e.inlineAsm(Type(), operands, text, constraints.str());
}

std::string num(int64_t v) { return std::to_string(v); }

/// `count` arrivals on the mbarrier at `bar` (i32 shared address).
void emitArrive(KernelEmitter &e, Value bar, int64_t count = 1) {
  emitAsm(e, {bar}, "r,~{memory}",
          "{\n.reg .b64 st;\nmbarrier.arrive.shared::cta.b64 st, [$0]" +
              (count == 1 ? std::string() : ", " + num(count)) + ";\n}");
}

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

int64_t TileRing::fullArrivals() const {
  return e.cfg.kind == KernelKind::VerticalSlash ? 32 : 1;
}

int64_t TileRing::stageCount(bool value) const {
  return value ? e.cfg.valueStageCount() : e.cfg.stages;
}

Value TileRing::stageOf(Value step, bool value) {
  return e.toIdx(
      arith::RemUIOp::create(e.b, e.loc, step, e.cI32(stageCount(value))));
}

/// Queue slot (index) of warpgroup w's item k: w S + k % S.
static Value queueSlot(KernelEmitter &e, TileRing &ring, Value w, Value k) {
  return arith::AddIOp::create(
      e.b, e.loc, arith::MulIOp::create(e.b, e.loc, w, e.cIdx(e.cfg.stages)),
      ring.stageOf(k, /*value=*/false));
}

Value TileRing::queueBarrierOf(Value w, Value k) {
  Value slot = queueSlot(e, *this, w, k);
  return arith::AddIOp::create(
      e.b, e.loc, controlAddr,
      e.toI32(e.addIdx(arith::MulIOp::create(e.b, e.loc, slot, e.cIdx(8)),
                       ControlLayout(e.cfg).queue)));
}

Value TileRing::queueItemOf(Value w, Value k) {
  return arith::MulIOp::create(e.b, e.loc, queueSlot(e, *this, w, k),
                               e.cIdx(TileConfig::kQueueItemWords));
}

void TileRing::init() {
  const ControlLayout at(e.cfg);
  const int64_t S = e.cfg.stages, SV = e.cfg.valueStageCount(),
                W = e.cfg.queryBlocksPerCta();
  std::string s = "{\n.reg .b32 a;\n";
  auto initAt = [&](int64_t offset, int64_t count) {
    s += "add.u32 a, $0, " + num(offset) +
         ";\nmbarrier.init.shared::cta.b64 [a], " + num(count) + ";\n";
  };
  const int64_t fill = fullArrivals();
  for (int64_t st = 0; st < S; ++st) {
    initAt(at.fullK + 8 * st, fill);
    initAt(at.emptyK + 8 * st, e.cfg.warps);
  }
  for (int64_t st = 0; st < SV; ++st) {
    initAt(at.fullV + 8 * st, fill);
    initAt(at.emptyV + 8 * st, e.cfg.warps);
  }
  for (int64_t q = 0; q < W * S; ++q)
    initAt(at.queue + 8 * q, 1);
  s += "fence.mbarrier_init.release.cluster;\n"
       "fence.proxy.async.shared::cta;\n}";
  emitAsm(e, {controlAddr}, "r,~{memory}", s);
}

Value TileRing::barrierOf(Value step, bool value, bool empty) {
  const ControlLayout at(e.cfg);
  const int64_t offset =
      value ? (empty ? at.emptyV : at.fullV) : (empty ? at.emptyK : at.fullK);
  Value slot = arith::MulIOp::create(e.b, e.loc,
                                     e.toI32(stageOf(step, value)), e.cI32(8));
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

/// The phase parity of item or step `step` on barriers of a ring of `n`
/// stages: (step / n) & 1.
static Value phaseParity(KernelEmitter &e, Value step, int64_t n) {
  return arith::AndIOp::create(
      e.b, e.loc, arith::DivUIOp::create(e.b, e.loc, step, e.cI32(n)),
      e.cI32(1));
}

void TileRing::waitFree(Value step, bool value) {
  // Step t reuses the stage of step t - n: wait for empty's phase t / n - 1,
  // i.e. parity ((t / n) & 1) ^ 1. For t < n that is the phase before the
  // first, which a fresh mbarrier reports complete.
  Value parity = arith::XOrIOp::create(
      e.b, e.loc, phaseParity(e, step, stageCount(value)), e.cI32(1));
  emitParityWait(e, barrierOf(step, value, /*empty=*/true), parity);
}

void TileRing::onLeader(function_ref<void()> body) {
  if (leader)
    e.emitIfThen(leader, body);
  else
    body();
}

Value TileRing::queueItem(int64_t w, Value k, ArrayRef<Value> words) {
  // The arrive releases the item's stores to the block's wait.
  onLeader([&] {
    Value wg = e.cIdx(w);
    Value item = queueItemOf(wg, k);
    for (size_t i = 0; i < words.size(); ++i)
      memref::StoreOp::create(e.b, e.loc, words[i], e.listSmem,
                              ValueRange{e.addIdx(item, i)});
    emitArrive(e, queueBarrierOf(wg, k));
  });
  return arith::AddIOp::create(e.b, e.loc, k, e.cI32(1));
}

void TileRing::flushAndWaitFree(Value step, SmallVectorImpl<Value> &queued,
                                SmallVectorImpl<Value> &held) {
  // Only V is held across items: a block releases K before it asks for its
  // next item.
  Value freed = arith::SubIOp::create(e.b, e.loc, step,
                                      e.cI32(stageCount(/*value=*/true)));
  for (size_t w = 0; w < held.size(); ++w) {
    Value holds = arith::CmpIOp::create(e.b, e.loc, arith::CmpIPredicate::eq,
                                        held[w], freed);
    queued[w] = e.emitIf(
        holds, TypeRange{e.b.getI32Type()},
        [&]() -> SmallVector<Value> {
          return {queueItem(w, queued[w], {e.cI32(TileConfig::kFlushStep)})};
        },
        [&]() -> SmallVector<Value> { return {queued[w]}; })[0];
    held[w] = arith::SelectOp::create(e.b, e.loc, holds,
                                      e.cI32(kNotHeld), held[w]);
  }
  waitFree(step, /*value=*/false);
  waitFree(step, /*value=*/true);
}

void TileRing::produce(Value step, Value start, ArrayRef<Value> limits,
                       ArrayRef<Value> visits, SmallVectorImpl<Value> &queued,
                       SmallVectorImpl<Value> &held) {
  const TileConfig &cfg = e.cfg;
  const int64_t S = cfg.stages, tileBytes = cfg.swizzledTileBytes();
  flushAndWaitFree(step, queued, held);
  // V stage v is tile S + v after the K stages.
  auto stageAddr = [&](bool value) {
    Value tile = e.toI32(stageOf(step, value));
    if (value)
      tile = arith::AddIOp::create(e.b, e.loc, tile, e.cI32(S));
    return arith::AddIOp::create(
        e.b, e.loc, keyStage0,
        arith::MulIOp::create(e.b, e.loc, tile, e.cI32(tileBytes)));
  };
  // One copy per tile: the tensor maps' box is every 64-column panel of 64
  // rows, panel after panel (the swizzled tile's layout; TileConfig.h).
  // Rows narrower than the tile (head dim 96) take a copy per panel from a
  // [B*Hkv, N, D] map instead; the second panel's columns past D are the
  // TMA's zero fill, which counts toward the expected bytes like any other.
  // $0 full K, $1 K stage, $2 tensor maps, $3 start, $4 kv row, $5 full V,
  // $6 V stage.
  const bool perPanel = cfg.headDim != cfg.tileDim();
  const int64_t panelBytes = cfg.blockN * TileConfig::kSwizzleBytes;
  std::string s = std::string("{\n.reg .b64 st, vmap;\n.reg .b32 c0") +
                  (perPanel ? ", col, dst" : "") + ";\n"
                  "mov.b32 c0, 0;\n"
                  "add.s64 vmap, $2, " + num(TileConfig::kTensorMapBytes) + ";\n";
  for (int part = 0; part < 2; ++part) {
    std::string bar = part == 0 ? "$0" : "$5";
    std::string map = part == 0 ? "$2" : "vmap";
    std::string dst = part == 0 ? "$1" : "$6";
    s += "mbarrier.arrive.expect_tx.shared::cta.b64 st, [" + bar + "], " +
         num(tileBytes) + ";\n";
    if (fullArrivals() > 1) // the arrivals of the other lanes (fullArrivals)
      s += "mbarrier.arrive.shared::cta.b64 st, [" + bar + "], " +
           num(fullArrivals() - 1) + ";\n";
    if (!perPanel) {
      s += "cp.async.bulk.tensor.4d.shared::cluster.global.tile.mbarrier::"
           "complete_tx::bytes [" + dst + "], [" + map +
           ", {c0, $3, c0, $4}], [" + bar + "];\n";
      continue;
    }
    for (int64_t panel = 0; panel < cfg.tileDim() / 64; ++panel) {
      s += "mov.b32 col, " + num(64 * panel) + ";\n";
      s += "add.u32 dst, " + dst + ", " + num(panel * panelBytes) + ";\n";
      s += "cp.async.bulk.tensor.3d.shared::cluster.global.tile.mbarrier::"
           "complete_tx::bytes [dst], [" + map + ", {col, $3, $4}], [" +
           bar + "];\n";
    }
  }
  s += "}";
  onLeader([&] {
    emitAsm(e,
            {barrierOf(step, false, false), stageAddr(false), e.tensorMaps,
             start, e.kvHeadRow, barrierOf(step, true, false), stageAddr(true)},
            "r,r,l,r,r,r,r,~{memory}", s);
  });
  handOut(step, start, limits, visits, queued, held);
}

void TileRing::handOut(Value step, Value start, ArrayRef<Value> limits,
                       ArrayRef<Value> visits, SmallVectorImpl<Value> &queued,
                       SmallVectorImpl<Value> &held) {
  // Each block: its item, or the arrivals of its warps on both empties.
  Value emptyK = barrierOf(step, false, true);
  Value emptyV = barrierOf(step, true, true);
  const int64_t warpsPerBlock = e.cfg.warps / e.cfg.queryBlocksPerCta();
  for (size_t w = 0; w < visits.size(); ++w) {
    queued[w] = e.emitIf(
        visits[w], TypeRange{e.b.getI32Type()},
        [&]() -> SmallVector<Value> {
          return {queueItem(w, queued[w], {step, start, limits[w]})};
        },
        [&]() -> SmallVector<Value> {
          onLeader([&] {
            emitArrive(e, emptyK, warpsPerBlock);
            emitArrive(e, emptyV, warpsPerBlock);
          });
          return {queued[w]};
        })[0];
    held[w] = arith::SelectOp::create(e.b, e.loc, visits[w], step, held[w]);
  }
}

/// The limits and visits of a step only block w visits: every block's
/// limit `limit` (the others' is not read), visits true for w alone.
static std::pair<SmallVector<Value, 4>, SmallVector<Value, 4>>
onlyBlock(KernelEmitter &e, int64_t w, Value limit) {
  SmallVector<Value, 4> limits, visits;
  for (int64_t b = 0; b < e.cfg.queryBlocksPerCta(); ++b) {
    limits.push_back(limit);
    visits.push_back(arith::ConstantIntOp::create(e.b, e.loc, b == w, 1));
  }
  return {limits, visits};
}

void TileRing::produceFor(Value step, Value start, int64_t w, Value limit,
                          SmallVectorImpl<Value> &queued,
                          SmallVectorImpl<Value> &held) {
  auto [limits, visits] = onlyBlock(e, w, limit);
  produce(step, start, limits, visits, queued, held);
}

void TileRing::produceStrip(Value step, int64_t w, Value colBase, Value pos,
                            Value count, SmallVectorImpl<Value> &queued,
                            SmallVectorImpl<Value> &held) {
  const int64_t S = e.cfg.stages;
  flushAndWaitFree(step, queued, held);
  // The stages were last read by wgmma through the async proxy; the copies
  // write through the generic one.
  emitAsm(e, {}, "~{memory}", "fence.proxy.async.shared::cta;");
  e.gatherColumnStrip(
      e.swizzledTileBase(stageOf(step, /*value=*/false)),
      e.swizzledTileBase(e.addIdx(stageOf(step, /*value=*/true), S)), colBase,
      pos, count);
  // Each lane's copies arrive once on each full barrier when they have
  // landed (.noinc: these are the fullArrivals() arrivals the phase
  // expects). The arrive tracks all of the lane's earlier copies, so K's
  // phase completes only once V landed too.
  emitAsm(e, {barrierOf(step, false, false), barrierOf(step, true, false)},
          "r,r,~{memory}",
          "cp.async.mbarrier.arrive.noinc.shared::cta.b64 [$0];\n"
          "cp.async.mbarrier.arrive.noinc.shared::cta.b64 [$1];");
  // Items of strips carry ~count as their limit (negative: a strip;
  // AttentionKernelPairedConsumer.cpp).
  auto [limits, visits] = onlyBlock(
      e, w, arith::XOrIOp::create(e.b, e.loc, count, e.cI32(-1)));
  handOut(step, pos, limits, visits, queued, held);
}

void TileRing::finish(Value step, SmallVectorImpl<Value> &queued,
                      SmallVectorImpl<Value> &held) {
  // The queue slots of the stop items held items of steps before
  // step - S + 1: free once K(step - S) was released.
  flushAndWaitFree(step, queued, held);
  for (size_t w = 0; w < queued.size(); ++w)
    queued[w] = queueItem(w, queued[w], {e.cI32(TileConfig::kStopStep)});
}

SmallVector<Value, 3> TileRing::nextItem(Value k) {
  emitParityWait(e, queueBarrierOf(e.warpgroup, k),
                 phaseParity(e, k, stageCount(/*value=*/false)));
  Value item = queueItemOf(e.warpgroup, k);
  SmallVector<Value, 3> words;
  for (int64_t w = 0; w < TileConfig::kQueueItemWords; ++w)
    words.push_back(memref::LoadOp::create(e.b, e.loc, e.listSmem,
                                           ValueRange{e.addIdx(item, w)}));
  return words;
}

void TileRing::wait(Value step, bool value) {
  emitParityWait(e, barrierOf(step, value, /*empty=*/false),
                 phaseParity(e, step, stageCount(value)));
}

void TileRing::release(Value step, bool value) {
  // One arrival per warp, from lane 0, once the warp's wgmma reads of the
  // stage are done (the caller waited for them). bar.warp.sync orders the
  // other lanes' reads of the queue item before lane 0's arrive (release),
  // so the producer's next write to the slot cannot race them. Predicated,
  // not branched: a lane-0 branch split the warp and cost reconvergence
  // stalls.
  emitAsm(e, {barrierOf(step, value, /*empty=*/true), e.toI32(e.lane)},
          "r,r,~{memory}",
          "{\n.reg .pred p;\n.reg .b64 st;\nsetp.eq.u32 p, $1, 0;\n"
          "bar.warp.sync -1;\n"
          "@p mbarrier.arrive.shared::cta.b64 st, [$0];\n}");
}
