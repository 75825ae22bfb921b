//===- AttentionKernelEmitter.h - shared state of the FA2 kernel builder --===//
//
// Private to lib/Transforms. The FlashAttention-2 kernel builder is split by
// concern; the pieces share one `KernelEmitter`: the builder, the TileConfig,
// the kernel arguments, per-thread and per-CTA coordinates and the shared
// memory view. Each .cpp adds one group of members:
//
//   AttentionKernelFragments.cpp  ldmatrix / mma.sync fragments, S = Q K^T,
//                                 O += P V
//   AttentionKernelWgmma.cpp      the same two GEMMs on sm_90a warpgroup MMA
//   AttentionKernelSoftmax.cpp    masking and the online softmax (fp32)
//   AttentionKernelMemory.cpp     cp.async global->shared tiles, epilogue
//                                 stores
//   AttentionKernelSchedule.cpp   which key tiles a query block visits
//   AttentionKernelPairedSchedule.cpp  ... and 2 or 3 paired query blocks
//   AttentionKernelRing.cpp       their TMA + mbarrier ring and work queues
//   AttentionKernelPairedConsumer.cpp  their compute warpgroups (overlapped
//                                 GEMMs and softmax)
//   AttentionKernelBuilder.cpp    kernel signature, prologue, pipelined loop
//
// Every register-level loop is a C++ loop, so register arrays (fragments,
// accumulators) are SmallVectors of SSA values indexed by constants only.
//
//===----------------------------------------------------------------------===//
#ifndef MINFER_LIB_TRANSFORMS_ATTENTIONKERNELEMITTER_H
#define MINFER_LIB_TRANSFORMS_ATTENTIONKERNELEMITTER_H

#include "minfer/Kernel/TileConfig.h"
#include "mlir/IR/Builders.h"
#include "mlir/IR/Value.h"
#include "llvm/ADT/STLFunctionalExtras.h"
#include "llvm/ADT/SmallVector.h"

namespace mlir::minfer::detail {

using ::minfer::kernel::KernelKind;
using ::minfer::kernel::TileConfig;

/// m16n8k16: the only tensor-core shape the kernels use.
inline constexpr int64_t kMmaM = 16, kMmaN = 8, kMmaK = 16;
/// Elements per 16-byte cp.async / vector access (2-byte element types).
inline constexpr int64_t kVecElems = 8;

/// One 64-key tile as the kernel sees it. Range tiles cover keys
/// [start, min(start + 64, limit)); column strips cover column_index
/// positions [start, min(start + 64, limit)) with limit = column_count.
///
/// A range tile may be packed (see AttentionKernelSchedule.cpp): when the
/// first segment [start, limit) is shorter than 64 keys, tile rows
/// c >= split hold the next range's keys start + c + shift, valid below
/// limit2. Unpacked tiles have split = 64, shift = 0, limit2 = limit; the
/// three are null for kinds that never pack (dense).
struct KeyTile {
  Value start;    ///< i32
  Value limit;    ///< i32
  Value isColumn; ///< i1; null when the kernel kind has no column strips
  Value valid;    ///< i1; false for prefetches past the last tile
  Value split;    ///< i32 tile row where the second segment begins, or null
  Value shift;    ///< i32 key offset of the second segment's rows
  Value limit2;   ///< i32 key limit of the second segment
  bool packable() const { return static_cast<bool>(split); }
};

/// Which rows of a key tile a copy moves: the single-stage pipeline loads K
/// and V of a tile as separate groups (AttentionKernelBuilder.cpp).
enum class TileParts { KeyAndValue, Key, Value };

/// A wgmma chain issued without waiting for it (one committed group): its
/// accumulators (flat, wgmma D order) are in flight until waitWgmma, and it
/// reads `aWords` (register A) until then.
struct PendingGemm {
  SmallVector<Value> regs;
  SmallVector<Value> aWords;
};

/// Running row statistics of the online softmax for the two rows a thread
/// owns (g and g + 8 of its warp's 16 rows). `rowMax` is in raw score units.
struct SoftmaxState {
  Value rowMax[2]; ///< f32, -inf until a finite score was seen
  Value rowSum[2]; ///< f32, per-thread partial sums (quad-reduced at the end)
  /// The four values in loop-carried order, and back.
  static constexpr unsigned kValues = 4;
  SmallVector<Value, kValues> values() const {
    return {rowMax[0], rowMax[1], rowSum[0], rowSum[1]};
  }
  static SoftmaxState fromValues(ValueRange v) {
    return {{v[0], v[1]}, {v[2], v[3]}};
  }
};

class KernelEmitter {
public:
  KernelEmitter(OpBuilder &b, Location loc, const TileConfig &cfg);

  OpBuilder &b;
  Location loc;
  const TileConfig &cfg;

  // Shapes derived from the TileConfig.
  Type elemTy;
  int64_t headDim;   ///< elements of a global Q/K/V/O row (the call's D)
  int64_t tileDim;   ///< columns of a shared tile (TileConfig::tileDim)
  int64_t rowElems;  ///< padded shared row (mma.sync): tileDim + 8
  int64_t queryRow0; ///< shared row of the Q tile / O staging
  int64_t qkSteps;   ///< headDim / 16: k-steps of S = Q K^T
  int64_t keyTiles;  ///< blockN / 8: n8 tiles of S per warp
  int64_t pvSteps;   ///< blockN / 16: k-steps of O += P V
  int64_t dTiles;    ///< headDim / 8: n8 tiles of O per warp

  // Kernel arguments (ABI order in TileConfig.h).
  Value q, k, v, o;               ///< memref<?xT>
  Value rangeCount, ranges;       ///< memref<?xi32> or null
  Value columnCount, columnIndex; ///< memref<?xi32> or null
  Value seqLen, heads, kvHeads;   ///< i32
  Value maxRanges, maxColumns;    ///< i32 or null
  Value scaleLog2e;               ///< f32
  Value tensorMaps; ///< !llvm.ptr to the K and V tensor maps (paired only)
  Value firstCta;   ///< i32: launch position of blockIdx.x = 0 (TileConfig.h)

  // Thread coordinates (index): warp, lane, g = lane / 4, t = lane % 4,
  // warpgroup = warp / 4 (wgmma kernels; null otherwise).
  Value tid, warp, lane, group, quad, warpgroup;
  /// This thread's rank in its warpgroup (tid % 128) and the warpgroup's
  /// first query row in the CTA (64 warpgroup), both index: paired query
  /// blocks, where each warpgroup owns a 64-row block.
  Value warpgroupRank();
  Value warpgroupFirstRow();
  // CTA coordinates.
  Value qBlock;    ///< index m
  Value qRowStart; ///< i32 64 m
  Value qBase;     ///< index: element offset of Q/O row 64 m of (b, h)
  Value kvBase;    ///< index: element offset of key 0 of (b, h / group)
  Value kvHeadRow; ///< i32: b Hkv + h / group, the tensor maps' outer coordinate
  Value indexRow;  ///< index: (b H + h) NB + m, row of the sparse index
                   ///< (m = 2 M, the first of the pair, for paired blocks)
  Value indexBlocks; ///< index: NB, 64-row query blocks of the index
  Value seqLenIdx; ///< index N
  // mma.sync: shared memory as TileConfig::sharedRows() x rowElems of elemTy:
  // [K stages | V stages (| Q if stages == 1)]; Q shares the last K stage.
  Value smem;
  // wgmma: the swizzled region (flat view of elemTy): Q (O staging at the
  // end), then tile t = K stage t for t < stages, V stage t - stages; and its
  // shared-window byte address (1024-byte aligned).
  Value kvSmem;
  Value kvAddr; ///< index
  // Paired query blocks: the work queues (TileConfig::pairedListBytes) as i32.
  Value listSmem;
  // Lane-dependent ldmatrix offsets (rows relative to a tile, index).
  Value qLdRow, qLdCol, kLdRow, kLdCol, vLdRow, vLdCol;

  //===--- constants and arithmetic (AttentionKernelBuilder.cpp) ----------===//
  Value cIdx(int64_t v);
  Value cI32(int64_t v);
  Value cF32(double v);
  Value addIdx(Value a, int64_t c);
  Value toIdx(Value i32);
  Value toI32(Value idx);
  /// scf.if with results; each callback builds its region at `b`'s insertion
  /// point and returns the values to yield.
  SmallVector<Value> emitIf(Value cond, TypeRange types,
                            function_ref<SmallVector<Value>()> thenFn,
                            function_ref<SmallVector<Value>()> elseFn);
  /// scf.if without results or else branch; `body` builds the then region.
  void emitIfThen(Value cond, function_ref<void()> body);
  /// An llvm.inline_asm with side effects (kept in order with the others);
  /// `result` null for none. Returns the op's result or null.
  Value inlineAsm(Type result, ValueRange operands, const std::string &text,
                  const std::string &constraints);
  /// setmaxnreg.inc / .dec to `count` registers per thread of this
  /// warpgroup (all its threads execute it); nothing when count is 0.
  void setMaxRegisters(int64_t count, bool increase);
  /// Row of the shared view where stage `buffer` of K (or V) starts.
  Value keyBufferRow(Value buffer);
  Value valueBufferRow(Value buffer);

  //===--- fragments (AttentionKernelFragments.cpp) -----------------------===//
  /// Per-lane ldmatrix row/column offsets; call once before the key loop.
  void initLaneOffsets();
  Value ldmatrixX4(Value row, Value col, bool transpose);
  Value mma(Value a, Value bFrag, Value acc);
  /// The two m16n8k16 B fragments (vector<2x2xT>) of one ldmatrix.x4.
  std::pair<Value, Value> splitX4(Value x4);
  /// Q tile rows of this warp as qkSteps A fragments (vector<4x2xT>).
  SmallVector<Value> loadQueryFragments();
  /// S = Q K^T for the K tile starting at shared row `kRow`: keyTiles C
  /// fragments (vector<2x2xf32>).
  SmallVector<Value> computeScores(ArrayRef<Value> qFrags, Value kRow);
  /// P as pvSteps A fragments from 4 * keyTiles fp32 probabilities.
  SmallVector<Value> packProbabilities(ArrayRef<Value> p);
  /// acc[dTiles] += P V for the V tile starting at shared row `vRow`.
  void accumulateOutput(ArrayRef<Value> pFrags, Value vRow,
                        SmallVector<Value> &acc);
  /// The R 32-bit registers of a vector<Rx2xT> fragment (2 elements each).
  SmallVector<Value> fragmentWords(Value frag);

  //===--- wgmma (AttentionKernelWgmma.cpp) -------------------------------===//
  /// S = Q K^T on wgmma (Q and K from shared memory) for K stage `buffer`:
  /// keyTiles C fragments.
  SmallVector<Value> computeScoresWgmma(Value buffer);
  /// acc[dTiles] += P V on wgmma for V stage `buffer`.
  void accumulateOutputWgmma(ArrayRef<Value> pFrags, Value buffer,
                             SmallVector<Value> &acc);
  /// O += P V issued asynchronously (overlapping consumers), and the wait
  /// until at most `pending` newer groups are in flight; it returns the
  /// chain's accumulators as C fragments.
  PendingGemm issueOutputWgmma(ArrayRef<Value> pFrags, Value buffer,
                               ArrayRef<Value> acc);
  SmallVector<Value> waitWgmma(int64_t pending, const PendingGemm &gemm);
  /// Element index in `kvSmem` of (`row`, `col`) of the swizzled tile of
  /// `rows` rows starting at element `tileBase`; `col` a multiple of 8. Rows
  /// 8 apart share the swizzle, so copy passes add 64 * rows to this.
  Value swizzledIndex(Value tileBase, int64_t rows, Value row, Value col);
  /// First element of K / V tile `tile` (index: K stage t < stages, V stage
  /// t - stages) in `kvSmem`.
  Value swizzledTileBase(Value tile);

  //===--- softmax (AttentionKernelSoftmax.cpp) ---------------------------===//
  /// The 4 * keyTiles scores of a thread, index 4 j + 2 i + e is row g + 8 i,
  /// key 8 j + 2 t + e.
  SmallVector<Value> unpackScores(ArrayRef<Value> sFrags);
  /// -inf where the key is causal-future, past the tile's limit or (strips)
  /// past column_count; interior tiles skip all of it at run time.
  SmallVector<Value> maskScores(ArrayRef<Value> s, const KeyTile &tile);
  /// Updates `state`, rescales `acc` and returns exp2 probabilities.
  SmallVector<Value> onlineSoftmax(ArrayRef<Value> s, SoftmaxState &state,
                                   SmallVector<Value> &acc);
  /// onlineSoftmax in two halves, for a caller whose O += P V of the
  /// previous tile is still in flight: the probabilities and the state
  /// update (`rowScale`: the factors of rows g and g + 8 that O still needs),
  /// then the rescale of O once it may be touched.
  SmallVector<Value> softmaxProbabilities(ArrayRef<Value> s,
                                          SoftmaxState &state,
                                          std::pair<Value, Value> &rowScale);
  void rescaleOutput(SmallVector<Value> &acc, std::pair<Value, Value> rowScale);
  /// The softmax state and O accumulators before the first key tile.
  void initOutputState(SoftmaxState &state, SmallVector<Value> &acc);
  /// 1 / l per row (0 for rows that saw no key), after the quad reduction.
  std::pair<Value, Value> finalRowScale(const SoftmaxState &state);
  Value exp2(Value x);
  Value quadReduce(Value x, bool isMax);

  //===--- the sparse index (AttentionKernelSchedule.cpp) -----------------===//
  /// Entry count of index row `row` in `buffer` (range_count or
  /// column_count), clamped to [0, max].
  Value clampedIndexCount(Value buffer, Value row, Value max);
  /// Element of `ranges` where index row `row`'s ranges start.
  Value rangeBaseOf(Value row);
  /// [start, end) of range r of the row at `rangeBase`, start >= 0, end <= N.
  std::pair<Value, Value> loadIndexRange(Value rangeBase, Value r);
  /// loadIndexRange(rangeBase, r) with `adjustStart` (if set) applied to the
  /// start when r < count (i32), else [otherStart, otherEnd): the range
  /// walks' step onto range r.
  std::pair<Value, Value>
  indexRangeOr(Value rangeBase, Value count, Value r, int64_t otherStart,
               Value otherEnd, function_ref<Value(Value)> adjustStart = {});

  //===--- memory (AttentionKernelMemory.cpp) -----------------------------===//
  /// cp.async the Q tile (rows >= N zero-filled) and commit it as a group.
  void loadQueryTile();
  /// cp.async K and V (or one of them) of `tile` into stage `buffer`;
  /// commits one group.
  void loadKeyTile(const KeyTile &tile, Value buffer,
                   TileParts parts = TileParts::KeyAndValue);
  /// Paired vertical-slash kernels: the 32 lanes of a warp cp.async the K
  /// and V rows of the column strip at column_index positions [pos, pos +
  /// 64) of the index row at element `colBase` (rows at or past `count`
  /// zero-filled) into the swizzled tiles at elements `kTile` and `vTile`
  /// (swizzledTileBase). Nothing waits for the copies: the caller makes an
  /// mbarrier track them (AttentionKernelRing.cpp).
  void gatherColumnStrip(Value kTile, Value vTile, Value colBase, Value pos,
                         Value count);
  void waitGroups(int64_t pendingAllowed);
  void barrier();
  /// Barrier of this thread's warpgroup only (named barrier 1 + warpgroup,
  /// 128 threads): the per-warpgroup epilogue of paired query blocks.
  void warpgroupBarrier();
  /// O / l to elemTy, through shared memory, 16-byte stores; rows >= N
  /// skipped. `perWarpgroup`: each warpgroup stores its own 64 rows under
  /// its own barrier (paired query blocks, whose warpgroups finish apart).
  void storeOutput(ArrayRef<Value> acc, std::pair<Value, Value> rowScale,
                   bool perWarpgroup = false);

private:
  /// This thread's place in a 64-row K/V copy: its tile row in pass 0 and its
  /// 16-byte column.
  struct KeyCopySlot {
    Value row0, col; ///< first tile row, column of the 16-byte chunk
  };
  /// The shared part of both K/V copies: `prepare` runs once with the slot
  /// (for loop-invariant source math), `sourceOf(pass, rowOffset)` gives each
  /// pass's (source element index, valid or null for unconditional).
  void copyKeyRowsWith(
      Value buffer, TileParts parts,
      function_ref<void(const KeyCopySlot &)> prepare,
      function_ref<std::pair<Value, Value>(int64_t, int64_t)> sourceOf);
  /// Copies 64 rows (key rows from `keyOf(row)` or zero-fill) of K and V.
  void copyKeyRows(Value buffer, TileParts parts,
                   function_ref<std::pair<Value, Value>(int64_t)> keyOf);
  /// Copies the 64 consecutive keys from `firstKey` (index), all readable.
  void copyKeyRowsContiguous(Value buffer, TileParts parts, Value firstKey);
  /// Whether shared column `col` is inside a global row (null: always).
  /// Tiles are tileDim wide, global rows headDim (96 in 128-column tiles).
  Value columnInRow(Value col);
  /// `copies` where the thread's chunk at shared column `col` is inside a
  /// global row; a chunk past it (columns 96-127 at headDim 96) copies
  /// nothing: no MMA reads those columns.
  void ifColumnInRow(Value col, function_ref<void()> copies);
  Value asyncCopy(Value src, Value srcIndex, Value dst, ValueRange dstIndices,
                  Value valid);
  /// The O += P V chain behind both forms (AttentionKernelWgmma.cpp): flat
  /// accumulators, waited for inside the chain when `wait`.
  PendingGemm outputChain(ArrayRef<Value> pFrags, Value buffer,
                          ArrayRef<Value> acc, bool wait);
};

/// Tile schedule of one kernel kind: a cursor walks the key tiles of a query
/// block in order; tile i of the loop is described by (cursor_i, i).
class TileStream {
public:
  virtual ~TileStream();
  /// Number of tiles (index), or null when the stream only knows its end
  /// as it walks (hasTile); the loop is then an scf.while.
  virtual Value count() = 0;
  /// Whether `cursor` is at a tile (i1); only for streams without count().
  virtual Value hasTile(ValueRange cursor) { return Value(); }
  /// Cursor of tile 0 (possibly empty: dense tiles are a function of i).
  virtual SmallVector<Value> begin() = 0;
  virtual SmallVector<Value> advance(ValueRange cursor) = 0;
  /// The tile at `cursor`, the `index`-th of the stream (index).
  virtual KeyTile describe(ValueRange cursor, Value index) = 0;
  virtual unsigned cursorSize() const = 0;

  static std::unique_ptr<TileStream> create(KernelEmitter &e);
};

//===--- the TMA ring of paired query blocks (AttentionKernelRing.cpp) ---===//
/// Step t of the merged tile list goes to K stage t % stages and V stage
/// t % valueStageCount(); each warpgroup receives the steps its block
/// visits through its own work queue.
/// `step` and item counts are i32.
class TileRing {
public:
  explicit TileRing(KernelEmitter &e);
  /// Thread 0 only: initializes the mbarriers (the caller publishes them
  /// with a CTA barrier).
  void init();
  //--- the producer (lane 0 of warp 4 W; the only TMA issuer)
  /// Acquires the tensor maps through the tensormap proxy (the host wrote
  /// them before the launch).
  void acquireTensorMaps();
  /// Issues list step `step`, the tile at key `start`: waits until its K
  /// and V stages are free, issues the TMA copies of K and V, arrives on the
  /// stages' empty barriers for the warps of the blocks that do not visit it
  /// (`visits`, i1 per block) and queues (step, start, limits[w]) to each
  /// block w that does; `queued` (items queued per block) is updated.
  /// `held[w]` is the last step queued to block w whose V it may still hold
  /// (kNotHeld once flushed): before waiting for V(step - SV)'s release the
  /// producer queues a flush item to a block that holds step - SV.
  void produce(Value step, Value start, ArrayRef<Value> limits,
               ArrayRef<Value> visits, SmallVectorImpl<Value> &queued,
               SmallVectorImpl<Value> &held);
  /// produce() for a tile only block w visits, with key limit `limit`.
  void produceFor(Value step, Value start, int64_t w, Value limit,
                  SmallVectorImpl<Value> &queued, SmallVectorImpl<Value> &held);
  /// Paired vertical-slash kernels, all 32 lanes of the producer warp:
  /// issues list step `step`, the column strip at column_index positions
  /// [pos, pos + 64) of block w's index row (at element `colBase`, `count`
  /// columns), which only block w visits: the lanes gather its K and V
  /// rows with cp.async and make the full barriers track the copies; the
  /// leader queues (step, pos, ~count) to block w (a negative limit marks a
  /// strip).
  void produceStrip(Value step, int64_t w, Value colBase, Value pos,
                    Value count, SmallVectorImpl<Value> &queued,
                    SmallVectorImpl<Value> &held);
  /// From here on the producer runs in a whole warp: queue items and
  /// arrivals are made by the lanes where `lane0` (i1) holds. Before it,
  /// by the calling thread.
  void setLeader(Value lane0) { leader = lane0; }
  /// Ends every queue once the steps before `step` are issued.
  void finish(Value step, SmallVectorImpl<Value> &queued,
              SmallVectorImpl<Value> &held);
  /// `held` of a block that holds no step (never equal to step - SV).
  static constexpr int32_t kNotHeld = -(1 << 30);
  //--- the consumers (every thread of the compute warpgroups)
  /// Waits for this warpgroup's queue item `k` and reads it: the list step
  /// (TileConfig::kStopStep at the end), the tile's first key and this
  /// block's key limit.
  SmallVector<Value, 3> nextItem(Value k);
  /// Waits until the K (or V, `value`) of list step `step` landed.
  void wait(Value step, bool value);
  /// This warp is done with the K (or V, `value`) of step `step`: lane 0
  /// arrives on its stage's empty barrier (a predicated arrive, no branch).
  void release(Value step, bool value);
  /// The K (or V, `value`) stage (index) of list step `step`; the V tile
  /// of stage v is tile stages + v (KernelEmitter::swizzledTileBase).
  Value stageOf(Value step, bool value);

private:
  /// Stages of the K (or V, `value`) ring.
  int64_t stageCount(bool value) const;
  /// Arrivals that complete a full barrier's phase: 1 (the TMA issuer's,
  /// with the bytes) unless the producer warp also gathers strips
  /// (vertical-slash): then 32, one per lane's copies, and a TMA step's
  /// issuer arrives for all of them.
  int64_t fullArrivals() const;
  /// The i32 shared address of the full (or `empty`) mbarrier of `step`'s
  /// K (or V, `value`) stage.
  Value barrierOf(Value step, bool value, bool empty);
  /// Warpgroup w's (index) queue slot of item `k`: its mbarrier's i32
  /// shared address, and its first word in `listSmem` (index).
  Value queueBarrierOf(Value w, Value k);
  Value queueItemOf(Value w, Value k);
  /// Waits until `step`'s K (or V, `value`) stage was released by the
  /// consumers of the step n before it, n the ring's stages (at once for
  /// the first n steps).
  void waitFree(Value step, bool value);
  /// Queues (step, start, limits[w]) to each block w that visits the step,
  /// and arrives on the step's empty barriers for the others' warps.
  void handOut(Value step, Value start, ArrayRef<Value> limits,
               ArrayRef<Value> visits, SmallVectorImpl<Value> &queued,
               SmallVectorImpl<Value> &held);
  /// Runs `body` on the leader only (everywhere without one).
  void onLeader(function_ref<void()> body);
  /// Queues `words` as block w's item `k` and publishes it; returns k + 1.
  Value queueItem(int64_t w, Value k, ArrayRef<Value> words);
  /// Flushes the blocks that hold step - SV (see produce), then waitFree
  /// for K and V.
  void flushAndWaitFree(Value step, SmallVectorImpl<Value> &queued,
                        SmallVectorImpl<Value> &held);
  KernelEmitter &e;
  Value controlAddr, keyStage0; ///< i32 shared addresses
  Value leader;                 ///< i1, or null (setLeader)
};

//===--- paired query blocks (AttentionKernelPairedSchedule.cpp) ---------===//
/// The producer: walks the merge of the W query blocks' index rows and hands
/// each step to `ring` (produce), then ends the queues (finish).
void emitPairedProducer(KernelEmitter &e, TileRing &ring);

//===--- (AttentionKernelPairedConsumer.cpp) ------------------------------===//
/// A compute warpgroup: its block's tiles from its work queue, each tile's
/// S and softmax overlapped with the previous tile's O += P V; returns the
/// final softmax state and O.
void emitPairedConsumer(KernelEmitter &e, TileRing &ring,
                        SoftmaxState &softmax, SmallVector<Value> &acc);

} // namespace mlir::minfer::detail

#endif // MINFER_LIB_TRANSFORMS_ATTENTIONKERNELEMITTER_H
