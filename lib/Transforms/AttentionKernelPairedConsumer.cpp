//===- AttentionKernelPairedConsumer.cpp - overlapped tiles of a block ----===//
//
// A compute warpgroup of paired query blocks (TileConfig::pairsQueryBlocks)
// takes the steps its block visits from its work queue
// (AttentionKernelRing.cpp) and overlaps its GEMMs with its softmax, as
// FlashAttention-3's intra-warpgroup pipelining does. For item k after the
// first of a run:
//   S(k) = Q K(k)^T; release K(k); mask S(k)
//   issue O += P(k-1) V(k-1)                 one wgmma group
//   softmax S(k) -> P(k)                     while the group runs
//   wait_group 0   (O done); release V(k-1); O *= the softmax's factors
// so the tensor cores work through the softmax instead of waiting for it
// (without this the 192-row kernel spent 22-29 % of its time in an unhidden
// softmax, bench/results/tuning.md). The rescale of O moves after the
// wait: O += P(k-1) V(k-1) still uses the scale of tile k-1, and the new
// factor applies to both. Nothing branches while the group is in flight:
// with S(k) issued beside it and the mask (an scf.if for interior tiles)
// under it, ptxas waited for every group before the softmax (a full
// WARPGROUP.DEPBAR ahead of it in the SASS), and the overlap was lost.
//
// A block thus holds the V stage of its last step until its next item comes.
// The producer sends a flush item when it must wait for that stage; the
// block then ends the run (O += P V of its last tile, release) and starts a
// new one with the next item. A run is an scf.while inside an scf.while, so
// no in-flight accumulator crosses a block boundary: each issue and its wait
// lie in one loop body.
//
//===----------------------------------------------------------------------===//
#include "AttentionKernelEmitter.h"
#include "mlir/Dialect/Arith/IR/Arith.h"
#include "mlir/Dialect/SCF/IR/SCF.h"

using namespace mlir;
using namespace mlir::minfer::detail;

namespace {
/// The values a run carries: the step whose O += P V is pending, its P
/// fragments, the softmax state and O.
struct RunState {
  Value step; ///< i32
  SmallVector<Value> p;
  SoftmaxState softmax;
  SmallVector<Value> acc;

  SmallVector<Value> flatten() const {
    SmallVector<Value> v{step};
    v.append(p);
    v.append(softmax.values());
    v.append(acc);
    return v;
  }
  static RunState unflatten(ValueRange v, int64_t numP) {
    RunState s;
    s.step = v[0];
    s.p.assign(v.begin() + 1, v.begin() + 1 + numP);
    ValueRange st = v.drop_front(1 + numP);
    s.softmax = SoftmaxState::fromValues(st);
    s.acc.assign(st.begin() + SoftmaxState::kValues, st.end());
    return s;
  }
};

Value isStep(KernelEmitter &e, Value step, int32_t which, bool equal) {
  return arith::CmpIOp::create(
      e.b, e.loc, equal ? arith::CmpIPredicate::eq : arith::CmpIPredicate::ne,
      step, e.cI32(which));
}

/// S = Q K^T of list step `step` (the tile [start, limit)), masked, as a
/// thread holds it. K's stage is released as soon as the GEMM is done.
/// Vertical-slash: a negative limit ~count marks a column strip (column_index
/// positions [start, count)). Its keys all lie before the block's first row
/// (the producer hands later columns over as one-key ranges), so only
/// positions past the count are masked: the strip is masked as the range
/// tile [start - kStripShift, count - kStripShift), whose keys are far
/// below every row. The producer wrote its K and V with cp.async, through
/// the generic proxy, which wgmma (the async proxy) sees only after a proxy
/// fence; the strip's full K barrier completes only once its V landed too
/// (AttentionKernelRing.cpp), so this one fence covers both.
constexpr int32_t kStripShift = 1 << 30;

SmallVector<Value> maskedScores(KernelEmitter &e, TileRing &ring, Value step,
                                Value start, Value limit) {
  KeyTile tile{start, limit};
  ring.wait(step, /*value=*/false);
  if (e.cfg.kind == KernelKind::VerticalSlash) {
    OpBuilder &b = e.b;
    Location loc = e.loc;
    Value strip =
        arith::CmpIOp::create(b, loc, arith::CmpIPredicate::slt, limit,
                              e.cI32(0));
    Value count = arith::XOrIOp::create(b, loc, limit, e.cI32(-1));
    auto shifted = [&](Value v) {
      return arith::SubIOp::create(b, loc, v, e.cI32(kStripShift));
    };
    tile.start = arith::SelectOp::create(b, loc, strip, shifted(start), start);
    tile.limit = arith::SelectOp::create(b, loc, strip, shifted(count), limit);
    e.inlineAsm(Type(), {arith::ExtUIOp::create(b, loc, b.getI32Type(), strip)},
                "{\n.reg .pred p;\nsetp.ne.u32 p, $0, 0;\n"
                "@p fence.proxy.async.shared::cta;\n}",
                "r,~{memory}");
  }
  SmallVector<Value> sFrags =
      e.computeScoresWgmma(ring.stageOf(step, /*value=*/false));
  ring.release(step, /*value=*/false);
  return e.maskScores(e.unpackScores(sFrags), tile);
}

/// One run from its first item (step, start, limit): returns (index of the
/// item that ended it, that item's step, softmax state, O).
SmallVector<Value> emitRun(KernelEmitter &e, TileRing &ring, Value k,
                           ValueRange first, SoftmaxState softmax,
                           SmallVector<Value> acc) {
  OpBuilder &b = e.b;
  Location loc = e.loc;
  // The first tile: nothing in flight to overlap with.
  Value step = first[0];
  SmallVector<Value> s = maskedScores(e, ring, step, first[1], first[2]);
  RunState init{step, e.packProbabilities(e.onlineSoftmax(s, softmax, acc)),
                softmax, acc};
  const int64_t numP = init.p.size();

  SmallVector<Value> initValues{arith::AddIOp::create(b, loc, k, e.cI32(1))};
  initValues.append(init.flatten());
  // After-region arguments: item index, the item (step, start, limit), run.
  SmallVector<Type> afterTypes(ValueRange(initValues).getTypes());
  afterTypes.insert(afterTypes.begin() + 1, 3, b.getI32Type());
  auto loop = scf::WhileOp::create(
      b, loc, afterTypes, initValues,
      [&](OpBuilder &, Location, ValueRange args) {
        SmallVector<Value, 3> item = ring.nextItem(args[0]);
        // A tile item, not the stop or a flush (both negative).
        Value tile = arith::CmpIOp::create(b, loc, arith::CmpIPredicate::sge,
                                           item[0], e.cI32(0));
        SmallVector<Value> out{args[0]};
        out.append(item.begin(), item.end());
        out.append(args.begin() + 1, args.end());
        scf::ConditionOp::create(b, loc, tile, out);
      },
      [&](OpBuilder &, Location, ValueRange args) {
        Value step = args[1];
        RunState run = RunState::unflatten(args.drop_front(4), numP);
        SmallVector<Value> s = maskedScores(e, ring, step, args[2], args[3]);
        ring.wait(run.step, /*value=*/true);
        PendingGemm output = e.issueOutputWgmma(
            run.p, ring.stageOf(run.step, /*value=*/true), run.acc);
        std::pair<Value, Value> rowScale;
        SmallVector<Value> p = e.packProbabilities(
            e.softmaxProbabilities(s, run.softmax, rowScale));
        SmallVector<Value> acc = e.waitWgmma(0, output);
        ring.release(run.step, /*value=*/true);
        e.rescaleOutput(acc, rowScale);
        RunState next{step, p, run.softmax, acc};
        SmallVector<Value> yielded{
            arith::AddIOp::create(b, loc, args[0], e.cI32(1))};
        yielded.append(next.flatten());
        scf::YieldOp::create(b, loc, yielded);
      });
  // The last tile's O += P V, then its release.
  RunState last = RunState::unflatten(loop.getResults().drop_front(4), numP);
  ring.wait(last.step, /*value=*/true);
  e.accumulateOutputWgmma(last.p, ring.stageOf(last.step, /*value=*/true),
                          last.acc);
  ring.release(last.step, /*value=*/true);
  SmallVector<Value> out{loop.getResult(0), loop.getResult(1)};
  out.append(last.softmax.values());
  out.append(last.acc);
  return out;
}
} // namespace

void mlir::minfer::detail::emitPairedConsumer(KernelEmitter &e,
                                              TileRing &ring,
                                              SoftmaxState &softmax,
                                              SmallVector<Value> &acc) {
  OpBuilder &b = e.b;
  Location loc = e.loc;
  e.initOutputState(softmax, acc);
  // Runs until the stop item: carried (next item index, the step of the item
  // that ended the last run, softmax state, O).
  SmallVector<Value> init{e.cI32(0), e.cI32(TileConfig::kFlushStep)};
  init.append(softmax.values());
  init.append(acc);
  SmallVector<Type> types(ValueRange(init).getTypes());
  auto loop = scf::WhileOp::create(
      b, loc, types, init,
      [&](OpBuilder &, Location, ValueRange args) {
        scf::ConditionOp::create(
            b, loc, isStep(e, args[1], TileConfig::kStopStep, false), args);
      },
      [&](OpBuilder &, Location, ValueRange args) {
        Value k = args[0];
        SmallVector<Value, 3> item = ring.nextItem(k);
        ValueRange carried = args.drop_front(2);
        SoftmaxState st = SoftmaxState::fromValues(carried);
        SmallVector<Value> o(carried.drop_front(SoftmaxState::kValues));
        // A run never starts with a flush: the producer flushes only a
        // block that holds a step.
        SmallVector<Value> next = e.emitIf(
            isStep(e, item[0], TileConfig::kStopStep, true), types,
            [&]() -> SmallVector<Value> {
              SmallVector<Value> v{arith::AddIOp::create(b, loc, k, e.cI32(1)),
                                   item[0]};
              v.append(args.begin() + 2, args.end());
              return v;
            },
            [&]() -> SmallVector<Value> {
              SmallVector<Value> v = emitRun(e, ring, k, item, st, o);
              v[0] = arith::AddIOp::create(b, loc, v[0], e.cI32(1));
              return v;
            });
        scf::YieldOp::create(b, loc, next);
      });
  ValueRange r = loop.getResults().drop_front(2);
  softmax = SoftmaxState::fromValues(r);
  acc.assign(r.begin() + SoftmaxState::kValues, r.end());
}
