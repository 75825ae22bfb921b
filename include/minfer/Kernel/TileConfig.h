//===- TileConfig.h - kernel tile traits shared by compiler and runtime ---===//
//
// The one place that says how the attention kernels are tiled. The MLIR
// lowering builds kernels from a TileConfig and the runtime launches them from
// the same struct, so grid, block and shared-memory sizes cannot drift apart.
// No MLIR or CUDA dependency: the GPU machine builds the runtime without MLIR.
//
//===----------------------------------------------------------------------===//
#ifndef MINFER_KERNEL_TILECONFIG_H
#define MINFER_KERNEL_TILECONFIG_H

#include <cstdint>
#include <string>

// Kernel ABI (the lowering emits it, runtime/cuda launches it; keep in sync):
//   symbol  TileConfig::kernelName(), e.g. "minfer_vs_d128_bf16"
//   launch  threads() threads, grid (C, 1, B): CTA blockIdx.x has launch
//           position p = blockIdx.x + first_cta over the call's NB H
//           positions, NB = gridX(N) = ceil(N / blockM) (64 unless a dense
//           or paired kernel asks for 128 or 192; the index keeps 64-row
//           blocks); p = head NB + NB - 1 - m (each head's heaviest causal
//           query blocks first), but a kernel may permute (m, head) over
//           the positions (sm_90a block-sparse kernels group the query
//           heads of a kv head); CTAs with p >= NB H do nothing. The
//           positions may go out in one launch (C = NB H, first_cta 0) or
//           in several (launchWavesFor);
//           sharedBytes() of dynamic shared memory.
//   params  each buffer is a flat `memref<?xT>` under MLIR's default memref
//           calling convention, i.e. 5 params: T* allocated, T* aligned,
//           i64 offset, i64 size, i64 stride (runtime passes p, p, 0, len, 1):
//             Q, K, V, O                     (T = bf16/f16; [B,H,N,D], [B,Hkv,N,D])
//             range_count, ranges            (i32; Block and VerticalSlash only)
//             column_count, column_index     (i32; VerticalSlash only)
//           then scalars: i32 seq_len, i32 heads, i32 kv_heads,
//             i32 max_ranges (Block, VerticalSlash), i32 max_columns (VerticalSlash),
//             f32 scale_log2e (= softmax scale * log2(e));
//           paired kernels (pairsQueryBlocks) then take a
//             global pointer to two CUtensorMaps (128 bytes each, 128-byte
//             aligned): K at +0 and V at +128, each over the kernel's
//             [B*Hkv, N, D] as dims {64, N, D/64, B*Hkv} (strides in
//             bytes: 2 D, 128, 2 N D), box {64, 64, D/64, 1}: one copy per
//             tile, its 64-column panels one after the other; 128-byte
//             swizzle, zero fill (pairedTensorMapBytes()). A head dim that
//             is not whole panels (96) has dims {D, N, B*Hkv} (strides 2 D,
//             2 N D), box {64, 64, 1}: a copy per panel, the columns past D
//             zero-filled;
//           last, every kernel: i32 first_cta.
//   index   SparseIndex.h layout over [B, H, NB].
namespace minfer::kernel {

/// Query rows per CTA and keys per tile. MInference's kernels use 64x64; the
/// sparse index is expressed in 64-row query blocks.
inline constexpr int64_t kBlockM = 64;
inline constexpr int64_t kBlockN = 64;

/// Head dims the attention kernels are generated for. Their shared-memory
/// tiles are tileHeadDim(d) wide (whole 128-byte swizzle panels); a 96-wide
/// kernel (Phi-3-mini) reads and writes rows of 96, loads nothing into tile
/// columns 96+ (the TMA ring zero-fills them) and runs its MMAs over 96 only:
/// 6 k16 steps of Q K^T and n = 96 for P V, 3/4 of the 128-wide kernel's
/// work and bytes.
inline bool isKernelHeadDim(int64_t d) {
  return d == 64 || d == 96 || d == 128;
}
inline int64_t tileHeadDim(int64_t d) { return d <= 64 ? 64 : 128; }

/// Head dims the runtime and the CPU reference accept: multiples of 8 (rows
/// of whole 16-byte vectors) up to 128. A head dim that is not a kernel head
/// dim runs on the kernels of kernelHeadDim(d), with Q, K and V zero-padded
/// by the runtime: a zero column adds nothing to any q . k (nor to the pooled
/// or estimated scores), and V's zero columns only give output columns that
/// the runtime drops.
inline bool isSupportedHeadDim(int64_t d) {
  return d > 0 && d <= 128 && d % 8 == 0;
}
/// The kernel head dim a call of head dim d runs on: the smallest at or
/// above d (d itself when it has kernels).
inline int64_t kernelHeadDim(int64_t d) {
  return d <= 64 ? 64 : d <= 96 ? 96 : 128;
}

enum class KernelKind { Dense, Block, VerticalSlash };
enum class ElemType { BF16, F16 };
/// SM90A is sm_90 with its architecture-specific instructions (`.target
/// sm_90a`): the kernels then use wgmma (warpgroup MMA) instead of mma.sync.
enum class Chip { SM80, SM90, SM90A };

inline const char *kernelKindName(KernelKind k) {
  switch (k) {
  case KernelKind::Dense: return "dense";
  case KernelKind::Block: return "block";
  case KernelKind::VerticalSlash: return "vs";
  }
  return "?";
}
inline const char *elemTypeName(ElemType t) {
  return t == ElemType::BF16 ? "bf16" : "f16";
}
inline const char *chipName(Chip c) {
  switch (c) {
  case Chip::SM80: return "sm_80";
  case Chip::SM90: return "sm_90";
  case Chip::SM90A: return "sm_90a";
  }
  return "?";
}

/// PTX targets a device of chip `device` loads, best first: an sm_90 (9.0)
/// device takes sm_90a (wgmma) PTX, then sm_90, then sm_80 (the driver
/// JIT-compiles older PTX). Returns how many of `out` it filled.
inline int loadableChips(Chip device, Chip out[3]) {
  int n = 0;
  if (device == Chip::SM90A)
    out[n++] = Chip::SM90A;
  if (device != Chip::SM80)
    out[n++] = Chip::SM90;
  out[n++] = Chip::SM80;
  return n;
}

/// Per-kind launch tuning, measured on an H100 (bench/results/tuning.md):
///   vertical-slash  3 K/V stages: its gathered column tiles have the longest
///                   load latency; the deeper pipeline hides it (VS at 1M
///                   tokens 325 -> 271 ms) although only 2 CTAs fit an SM;
///   block           2 stages and at least 3 CTAs per SM (ptxas caps the
///                   registers at 168, a few bytes of spills): 12 warps per
///                   SM instead of 8 hide the shared-memory latency that
///                   ncu shows as its main stall (BS 7.5 -> 6.5 ms at 128K);
///   dense           2 stages, no cap (its 128-row CTAs need the registers).
/// wgmma kernels (sm_90a) keep Q, K and V in 128-byte-swizzled tiles (no
/// padding, Q read by the tensor cores, about 128 registers):
///   block, vertical-slash  1 stage (48 KB: four CTAs per SM hide the load
///                          latency better than a second stage at two CTAs
///                          per SM: VS 128K 14.5 -> 12.0 ms, though 1M-token
///                          VS 184 -> 190 ms; BS 4.4 -> 4.0 ms);
///                          both also `.minnctapersm 4`, which holds them
///                          at 128 registers (four CTAs per SM): without
///                          it vertical-slash's packed-tile cursor takes
///                          168, block-sparse's split K/V loads
///                          (splitsKeyValueLoads) 137, at D = 128 (with
///                          it: no spills / 20 bytes);
///   dense                  2 stages (its 128-row CTAs: two per SM);
///   block, 192 rows        4 K and 7 V stages (224 KB), one CTA per SM
///                          (valueStages: a block releases a tile's K
///                          once S is computed but holds its V until the
///                          next tile's softmax is done, so V needs the
///                          deeper ring: 2-5 % faster than 5 shared K/V
///                          stages, which were 7-10 % faster than 4):
///                          three query blocks and a producer warpgroup
///                          (pairsQueryBlocks), 16 warps; setmaxnreg gives
///                          the compute warpgroups 152 registers, which
///                          their overlapped GEMMs and softmax need (at
///                          the launch's 128 ptxas serialized the wgmma);
///                          four blocks would leave too few registers. The
///                          default from kWideBlockSparse tokens
///                          (defaultBlockSparseRows);
///   vertical-slash, 192 rows  the same ring (4 K and 7 V stages): its
///                          range tiles go through TMA like block-sparse
///                          ones, the producer warp gathers each block's
///                          column strips with cp.async. Opt-in: on the
///                          benchmark's data it ties the 64-row kernels at
///                          1M random tokens and is 15-25 % slower on
///                          structured rows (tuning.md);
///   block, 128 rows        6 stages (224 KB), one CTA per SM (152 of 168
///                          registers, a producer warp): two blocks,
///                          opt-in, slower than the 192-row kernel
///                          (tuning.md).
/// Block-sparse kernels on sm_90a load K and V of a tile as separate groups
/// in their single-stage loops (splitLoads; TileConfig::splitsKeyValueLoads).
/// Longer sequences may have a tuning of their own (kSequenceTiers):
///   vertical-slash, sm_90a, >= kMidSequence   split K/V loads too: they
///                           gain 6 % at 512K (VS 65.5 -> 61.5 ms) but cost
///                           2-3 % at 128K-256K (tuning.md);
///   vertical-slash, sm_90a, >= kLongSequence  the default kernel again (one
///                           stage, four CTAs per SM, no split), launched in
///                           waves (launchWavesFor): one launch of it missed
///                           L2 at 1M tokens (36 % hits, against 84 % for the
///                           2-stage kernel at two CTAs per SM, the tier's
///                           kernel until the fourteenth session), but CTAs
///                           that start together walk their shared tiles
///                           together. H100, 1M, three passes: structured
///                           147 -> 138-144 ms, random 929-937 -> 845-880 ms
///                           against that 2-stage kernel (tuning.md).
/// The runtime takes the tuning of a call's length when its PTX exists (the
/// kernel name carries what differs from the default, see kernelName()),
/// else the default one.
inline constexpr int64_t kMidSequence = 393216;
inline constexpr int64_t kLongSequence = 786432;
inline constexpr int64_t kSequenceTiers[] = {kMidSequence, kLongSequence};
/// Query rows per block-sparse CTA when the caller does not choose
/// (RuntimeOptions::blockSparseRows = 0): on sm_90a from kWideBlockSparse
/// tokens the 192-row kernel (three query blocks sharing a producer's
/// TMA ring, TileConfig::pairsQueryBlocks), below it the 64-row one. H100,
/// same runs (bench/results/tuning.md): at 512K and 1M it wins every
/// measured block-sparse and A-shape case (total 0.91-0.99x); at 256K it
/// ties block-sparse (0.97-1.01x, A-shape 0.93-0.96x), and at 64K-128K random
/// block-sparse rows, which share few tiles, lose (1.05-1.09x). The tier
/// sits between 256K and 512K, at kMidSequence.
inline constexpr int64_t kWideBlockSparse = kMidSequence;
inline int64_t defaultBlockSparseRows(Chip chip, int64_t seqLen) {
  return chip == Chip::SM90A && seqLen >= kWideBlockSparse ? 3 * kBlockM
                                                            : kBlockM;
}
/// Between kAutoBlockSparseRows and kWideBlockSparse tokens neither kernel
/// wins every call: the 192-row one runs structured block-sparse and A-shape
/// rows 5-12 % faster at 128K but random rows, whose three blocks share few
/// tiles, 15-25 % slower (its producer then issues three steps per tile a
/// block computes). With RuntimeOptions::blockSparseRows = 0 the runtime
/// measures on the GPU, after the index is built, what the 192-row kernel's
/// CTAs would load: merged steps per tile a block visits, 1/3 when three
/// blocks visit the same tiles, 1 when they share none
/// (`minfer_bs_sharing`), and takes 192 rows at or below kWideSharingMax.
/// Measured on the benchmark's data at 64K-256K: A-shape 0.34, structured
/// block-sparse 0.52-0.60 (192 rows faster), random 0.76-0.91 (64 rows).
/// The measurement is read on the host: such calls synchronize the stream
/// once per head chunk (blockSparseRows = 64 or 192 do not).
inline constexpr int64_t kAutoBlockSparseRows = 65536;
inline constexpr double kWideSharingMax = 0.65;
inline bool measuresBlockSparseRows(Chip chip, int64_t seqLen) {
  return chip == Chip::SM90A && seqLen >= kAutoBlockSparseRows &&
         seqLen < kWideBlockSparse;
}
/// Rows per CTA for a measured merged-steps-per-visited-tile ratio.
inline int64_t blockSparseRowsForSharing(double stepsPerTile) {
  return stepsPerTile <= kWideSharingMax ? 3 * kBlockM : kBlockM;
}
struct TileTuning {
  int64_t stages = 2;
  int64_t minCtasPerSm = 0; ///< 0: no .minnctapersm directive
  bool splitLoads = false;  ///< TileConfig::splitsKeyValueLoads
  int64_t valueStages = 0;  ///< TileConfig::valueStages
  bool operator==(const TileTuning &o) const {
    return stages == o.stages && minCtasPerSm == o.minCtasPerSm &&
           splitLoads == o.splitLoads && valueStages == o.valueStages;
  }
};
/// Paired query blocks (sm_90a, block-sparse or vertical-slash): one CTA per
/// SM, the ring as deep as the shared memory allows (128 rows: 6 stages,
/// 224 KB; 192: 4 K and 7 V stages, 224 KB). They load K/V through the ring,
/// not in a single-stage key loop.
inline TileTuning pairedTuning(int64_t blockM) {
  return blockM == 2 * kBlockM ? TileTuning{6, 1, false}
                               : TileTuning{4, 1, false, 7};
}
inline TileTuning tunedFor(KernelKind kind, Chip chip = Chip::SM80,
                           int64_t seqLen = 0, int64_t blockM = kBlockM) {
  if (chip == Chip::SM90A) {
    switch (kind) {
    case KernelKind::VerticalSlash:
      if (blockM != kBlockM)
        return pairedTuning(blockM);
      return {1, 4, seqLen >= kMidSequence && seqLen < kLongSequence};
    case KernelKind::Block:
      if (blockM != kBlockM)
        return pairedTuning(blockM);
      return {1, 4, true};
    case KernelKind::Dense: return {2, 0};
    }
  }
  switch (kind) {
  case KernelKind::VerticalSlash: return {3, 0};
  case KernelKind::Block: return {2, 3};
  case KernelKind::Dense: return {2, 0};
  }
  return {};
}

/// Device-fulls of CTAs per launch of an attention call when the caller
/// does not choose (RuntimeOptions::launchWaves = 0); 0: one launch of the
/// whole grid. A launch of `w` device-fulls (the device's SMs times the
/// kernel's CTAs per SM, times w) starts its CTAs together, and CTAs of
/// neighbouring query blocks that start together walk their key-sorted
/// tile lists side by side: a tile several of them pick is read from DRAM
/// once and then hit in L2. In one launch of the whole grid, CTAs start as
/// others end, their walks drift apart, and a 1M-token block-sparse call
/// with spread-out picks reads nearly every pick from DRAM. The price is
/// each launch's tail (its last CTAs run alone), so waves pay only where
/// the CTAs of a launch do about the same work and their picks miss L2.
/// Measured on an H100 (bench/results/tuning.md), kernel ms, two or three
/// passes:
///   block-sparse heads (top-k picks), >= kWideBlockSparse tokens: 2
///     (H4 random 1M 53.4 -> 35.3, 512K 21.0-22.0 -> 16.4-17.1, H32/8
///     random 512K 171-175 -> 132; structured 1M 30.5-31.0 -> 28.8-29.3,
///     512K a tie, H32/8 structured 512K / 1M 2-6 % slower);
///   block-sparse heads on the 64-row kernel from kNarrowBlockSparseWaves
///     (256K) tokens: 2 (random 8.3 -> 7.4, H32/8 65.0 -> 58.2; structured
///     H4 a tie, H32/8 55-58 -> 54); at 128K waves cost 4-5 %, and the
///     192-row kernel at 256K (structured rows, measured sharing) 5 %;
///   A-shape-only block calls: none (their sink and window tiles stay in L2
///     anyway; waves cost 0-5 %);
///   vertical-slash on the 64-row kernel, >= kLongSequence: 1 (with the
///     default kernel, tunedFor); at 512K the split-load kernel in one
///     launch stays faster (structured 56.4 vs 57.4-61.5 ms with waves).
///     The opt-in 192-row kernel, paced by its producer, loses 1-4 % in
///     waves (random 1M 937 -> 958-972 ms): one launch.
/// sm_90a only: the mma.sync kernels were not measured.
inline constexpr int64_t kNarrowBlockSparseWaves = 262144;
inline int64_t launchWavesFor(KernelKind kind, Chip chip, int64_t seqLen,
                              bool blockSparseHeads, int64_t blockM = kBlockM) {
  if (chip != Chip::SM90A)
    return 0;
  if (kind == KernelKind::VerticalSlash)
    return blockM == kBlockM && seqLen >= kLongSequence ? 1 : 0;
  if (kind == KernelKind::Block && blockSparseHeads)
    return seqLen >= kWideBlockSparse ||
                   (blockM == kBlockM && seqLen >= kNarrowBlockSparseWaves)
               ? 2
               : 0;
  return 0;
}

/// Whether calls of seqLen tokens have a tuning of their own (a kernel other
/// than the default one for the kind and chip; the kernel of the longest
/// tier at or below seqLen).
inline bool hasLongSequenceTuning(KernelKind kind, Chip chip,
                                  int64_t seqLen = kLongSequence) {
  return !(tunedFor(kind, chip, seqLen) == tunedFor(kind, chip));
}

/// One FlashAttention-2 kernel configuration.
struct TileConfig {
  KernelKind kind = KernelKind::Dense;
  ElemType elem = ElemType::BF16;
  int64_t headDim = 128;
  Chip chip = Chip::SM80;
  int64_t blockM = kBlockM; ///< query rows per CTA
  int64_t blockN = kBlockN; ///< keys per K/V tile
  int64_t warps = 4;        ///< each warp owns blockM / warps query rows
  int64_t stages = 2;       ///< K/V shared-memory buffers (cp.async pipeline)
  /// Occupancy request to ptxas (.minnctapersm; 0: none). Compile-time only:
  /// the launch ABI does not depend on it.
  int64_t minCtasPerSm = 0;
  /// See splitsKeyValueLoads(). Compile-time only.
  bool splitLoads = false;
  /// Paired query blocks only: V buffers of the ring when it has more of
  /// them than K buffers (0: `stages`, as many as K). See valueStageCount().
  int64_t valueStages = 0;

  /// The tuned configuration of a kernel (tunedFor(kind, chip); dense kernels with
  /// blockM rows, warps = blockM / 16).
  static TileConfig tuned(KernelKind kind, ElemType elem, int64_t headDim,
                          Chip chip, int64_t blockM = kBlockM,
                          int64_t seqLen = 0) {
    TileConfig cfg;
    cfg.kind = kind;
    cfg.elem = elem;
    cfg.headDim = headDim;
    cfg.chip = chip;
    cfg.blockM = blockM;
    cfg.warps = blockM / 16;
    const TileTuning tuning = tunedFor(kind, chip, seqLen, blockM);
    cfg.stages = tuning.stages;
    cfg.minCtasPerSm = tuning.minCtasPerSm;
    cfg.splitLoads = tuning.splitLoads;
    cfg.valueStages = tuning.valueStages;
    return cfg;
  }

  /// Columns of the shared-memory tiles (tileHeadDim): headDim rounded up to
  /// whole 64-column panels. Global rows are headDim wide; the tiles'
  /// columns from headDim on are not loaded (cp.async) or zero-filled (TMA)
  /// and never reach an MMA.
  int64_t tileDim() const { return tileHeadDim(headDim); }

  /// Whether S = Q K^T and O += P V run on wgmma (sm_90a): one warpgroup per
  /// 64 query rows, Q and K / V read by the tensor cores straight from
  /// 128-byte-swizzled shared tiles, P as the register A operand.
  bool usesWgmma() const { return chip == Chip::SM90A; }
  /// A block-sparse kernel with 128- or 192-row CTAs: warpgroup w (warps
  /// 4 w .. 4 w + 3) computes query block W M + w, W = queryBlocksPerCta(),
  /// each with its own index row; a producer (producerWarps) merges the
  /// W rows' key tiles in key order and streams them through a ring of
  /// `stages` K/V buffers filled by TMA and guarded by mbarriers
  /// (lib/Transforms/AttentionKernelRing.cpp), each visiting block getting
  /// the step through its work queue (pairedListBytes), so a tile several
  /// blocks visit is loaded once, and a warpgroup sees only its block's
  /// tiles. Adjacent query blocks share most of their blocks (the local
  /// window, sinks, heavy-hitter columns): K/V traffic per FLOP drops by up
  /// to 1 / W, which the 64-row kernels need (they are bound by L2->SM
  /// bandwidth). On an H100 the
  /// 192-row kernel is faster at 512K-1M tokens (tuning.md), the default
  /// there (defaultBlockSparseRows).
  bool pairsQueryBlocks() const {
    return kind != KernelKind::Dense && blockM > kBlockM;
  }
  /// 64-row query blocks (and wgmma warpgroups) per CTA.
  int64_t queryBlocksPerCta() const { return blockM / kBlockM; }
  /// V buffers: `stages` unless valueStages asks for more. The paired
  /// kernels' ring keeps K and V stages apart (step t: K stage t % stages,
  /// V stage t % valueStageCount()), each with its own full and empty
  /// barriers, because a block frees K at once and V only a tile later.
  int64_t valueStageCount() const {
    return valueStages > 0 ? valueStages : stages;
  }

  /// Whether a single-stage key loop (sm_90a: the 64-row block-sparse
  /// kernel, vertical-slash from kMidSequence tokens) loads a tile's K and V as separate cp.async groups:
  /// K(i+1) while O += P V(i) runs, V(i+1) while S(i+1) does, in the same
  /// shared memory. Measured on an H100 (tuning.md) it gains 4-5 % for
  /// block-sparse at 128K, and for vertical-slash 6 % at 512K but costs
  /// 2-3 % below (its gathered strips read their column index once per copy).
  bool splitsKeyValueLoads() const { return splitLoads; }

  /// Shared-memory rows of the padded (ldmatrix) layout are D + 8 elements
  /// (16 bytes extra) so that the 8 row addresses of one ldmatrix hit
  /// distinct banks (mma.sync kernels only).
  int64_t smemRowElems() const { return tileDim() + 8; }
  /// Paired query blocks add a producer (lane 0 of warp 4 W walks the merged
  /// tile list and issues the ring's TMA copies; it computes nothing). Two
  /// blocks: one warp (9 warps keep 168 registers, enough for the
  /// overlapped consumers). Three: a whole warpgroup, so that setmaxnreg can
  /// give its registers to the compute warpgroups (producerRegisters).
  int64_t producerWarps() const {
    if (!pairsQueryBlocks())
      return 0;
    return queryBlocksPerCta() > 2 ? 4 : 1;
  }
  /// setmaxnreg targets of a producer warpgroup and of the compute
  /// warpgroups (0: no setmaxnreg). 16 warps launch at 128 registers; the
  /// split keeps the register file (64 K) full: 128 x 56 + 384 x 152.
  int64_t producerRegisters() const { return producerWarps() == 4 ? 56 : 0; }
  int64_t consumerRegisters() const { return producerWarps() == 4 ? 152 : 0; }
  int64_t threads() const { return (warps + producerWarps()) * 32; }
  /// The threads that own query rows (all but the producer's).
  int64_t consumerThreads() const { return warps * 32; }
  int64_t rowsPerWarp() const { return blockM / warps; }
  /// Whether the Q tile is staged in the last K buffer rather than in rows of
  /// its own: needs a second stage (Q moves to registers before the last
  /// buffer is first filled) and blockM <= blockN. Dropping the separate Q
  /// tile (87 -> 70 KB at D = 128) lets 3 CTAs share an H100 SM.
  bool queryInKeyBuffer() const {
    return !usesWgmma() && stages > 1 && blockM <= blockN;
  }
  /// Rows of the padded view (mma.sync): `stages` K tiles, `stages` V tiles,
  /// then the Q tile unless it lives in the last K buffer. None under wgmma.
  int64_t sharedRows() const {
    if (usesWgmma())
      return 0;
    return (queryInKeyBuffer() ? 0 : blockM) + 2 * stages * blockN;
  }
  /// First shared row of the Q tile (and of the epilogue's O staging).
  int64_t sharedQueryRow() const {
    return queryInKeyBuffer() ? (stages - 1) * blockN : 2 * stages * blockN;
  }
  /// wgmma's swizzled tiles: a tile of R rows is tileDim() / 64 panels of R
  /// rows x 128 bytes. The region is Q (blockM rows; O is staged there at the
  /// end), then `stages` K and valueStageCount() V tiles of blockN rows.
  /// The swizzle pattern repeats every 1024 bytes and the descriptors assume
  /// an aligned repeat: the region starts at the dynamic shared window, which
  /// CUDA places 1024-byte aligned (the kernels trap if it is not). No slack:
  /// that 1 KB would keep a 3-stage vertical-slash CTA (112 KB) from sharing an SM.
  static constexpr int64_t kSwizzleBytes = 128, kSwizzleAtomBytes = 1024;
  int64_t swizzledQueryBytes() const { return blockM * tileDim() * 2; }
  int64_t swizzledTileBytes() const { return blockN * tileDim() * 2; }
  /// Paired query blocks keep, after the swizzled tiles, the ring's control
  /// words: a full and an empty mbarrier per K stage and per V stage, then
  /// per warpgroup `stages` queue mbarriers (8 bytes each); then each
  /// warpgroup's work queue of `stages` items, kQueueItemWords i32 each
  /// (list step, first key, this block's key limit; step kStopStep ends it,
  /// kFlushStep asks the block to finish the tile it still holds).
  static constexpr int64_t kQueueItemWords = 3;
  /// Dynamic shared memory one CTA may use on sm_90 (227 KB).
  static constexpr int64_t kMaxSharedBytesPerCta = 227 * 1024;
  static constexpr int32_t kStopStep = -1;
  static constexpr int32_t kFlushStep = -2;
  int64_t ringControlBytes() const {
    return pairsQueryBlocks() ? 8 * ((2 + queryBlocksPerCta()) * stages +
                                     2 * valueStageCount())
                              : 0;
  }
  int64_t pairedListBytes() const {
    if (!pairsQueryBlocks())
      return 0;
    return ringControlBytes() +
           queryBlocksPerCta() * stages * kQueueItemWords * 4;
  }
  /// Byte offsets in the dynamic shared memory of the ring's control words
  /// and of the work queues that follow them.
  int64_t ringControlOffset() const { return sharedBytes() - pairedListBytes(); }
  int64_t pairedListOffset() const {
    return ringControlOffset() + ringControlBytes();
  }
  /// The K and V tensor maps of a paired kernel's launch (ABI above).
  static constexpr int64_t kTensorMapBytes = 128;
  int64_t pairedTensorMapBytes() const {
    return pairsQueryBlocks() ? 2 * kTensorMapBytes : 0;
  }
  /// Dynamic shared memory in bytes (2-byte elements).
  int64_t sharedBytes() const {
    if (usesWgmma())
      return swizzledQueryBytes() +
             (stages + valueStageCount()) * swizzledTileBytes() +
             pairedListBytes();
    return sharedRows() * smemRowElems() * 2;
  }
  /// Grid x: query blocks of blockM rows (= numQueryBlocks() for 64 rows).
  int64_t gridX(int64_t seqLen) const { return (seqLen + blockM - 1) / blockM; }
  /// Kernel symbol, e.g. "minfer_vs_d128_bf16"; a dense kernel with 128-row
  /// CTAs is "minfer_dense_m128_d128_bf16"; a stage count other than the
  /// chip's default for the kind (it sizes the shared memory of the launch)
  /// shows as "_s<stages>", and split K/V loads other than the default as
  /// "_kv" (or "_nokv"), V stages other than the default as "_v<n>": the
  /// sm_90a vertical-slash kernels for longer sequences are
  /// "minfer_vs_kv_d128_bf16" (and, forced to 2 stages, "minfer_vs_s2_d128_bf16").
  std::string kernelName() const {
    std::string m = blockM == kBlockM ? "" : "_m" + std::to_string(blockM);
    const TileTuning base = tunedFor(kind, chip, 0, blockM);
    if (stages != base.stages)
      m += "_s" + std::to_string(stages);
    if (splitLoads != base.splitLoads)
      m += splitLoads ? "_kv" : "_nokv";
    if (valueStages != base.valueStages)
      m += "_v" + std::to_string(valueStageCount());
    return std::string("minfer_") + kernelKindName(kind) + m + "_d" +
           std::to_string(headDim) + "_" + elemTypeName(elem);
  }
  /// Returns an empty string when valid, else what is wrong.
  std::string validate() const {
    if (!isKernelHeadDim(headDim))
      return "head_dim must be 64, 96 or 128, got " + std::to_string(headDim);
    if (blockN != 64)
      return "only 64-key tiles are supported";
    // The sparse index is per 64-row query block. The dense kernel reads no
    // index and may also take 128-row CTAs (8 warps), halving K/V traffic
    // per FLOP; its grid is then gridX(N) = ceil(N / 128). Block-sparse
    // kernels on wgmma may pair query blocks (pairsQueryBlocks()).
    bool wide = (blockM == 2 * kBlockM && kind != KernelKind::VerticalSlash) ||
                (blockM == 3 * kBlockM && kind != KernelKind::Dense);
    if (blockM != 64 && !wide)
      return "only 64-row query blocks are supported (128 for dense and "
             "block-sparse kernels, 192 for block-sparse and vertical-slash)";
    if (wide && kind != KernelKind::Dense && !usesWgmma())
      return "128- and 192-row sparse kernels need wgmma (chip sm_90a)";
    if (warps * 16 != blockM)
      return "each warp owns 16 query rows: warps must be blockM / 16";
    if (stages < 1 || stages > (pairsQueryBlocks() ? 6 : 3))
      return "stages must be 1, 2 or 3 (up to 6 for paired block-sparse), "
             "got " + std::to_string(stages);
    if (valueStages != 0 &&
        (!pairsQueryBlocks() || valueStages < stages || valueStages > 8))
      return "value stages need paired query blocks and must be 0 (as many "
             "as K stages) or from `stages` to 8, got " +
             std::to_string(valueStages);
    // One CTA of a paired kernel must fit an SM's shared memory (sm_90).
    if (pairsQueryBlocks() && sharedBytes() > kMaxSharedBytesPerCta)
      return "the ring's stages need " + std::to_string(sharedBytes()) +
             " bytes of shared memory, more than a CTA may have (" +
             std::to_string(kMaxSharedBytesPerCta) + ")";
    if (minCtasPerSm < 0 || minCtasPerSm > 32)
      return "min CTAs per SM must be 0 (none) to 32, got " +
             std::to_string(minCtasPerSm);
    return "";
  }
};

} // namespace minfer::kernel

#endif // MINFER_KERNEL_TILECONFIG_H
