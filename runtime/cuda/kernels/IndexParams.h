//===- IndexParams.h - the one parameter block of the index kernels -------===//
//
// Shared by the host (g++) and the index-construction kernels (nvcc): every
// index kernel takes one `IndexParams` by value, so the host fills one struct
// per head chunk and launches each kernel with the same argument, and no
// per-call host-to-device copy is needed (the whole per-head table travels in
// the launch's parameter space, < 4 KiB; a dynamic index into it compiles to
// ld.param, not a local copy).
//
// A chunk is one batch entry b and the query heads [h0, h0 + heads); kernels
// address heads chunk-locally (hl in [0, heads)) for the index and through
// HeadDesc::qHead / kvHead (absolute in the batch entry) for Q and K.
//
//===----------------------------------------------------------------------===//
#ifndef MINFER_RUNTIME_CUDA_KERNELS_INDEXPARAMS_H
#define MINFER_RUNTIME_CUDA_KERNELS_INDEXPARAMS_H

#include <stdint.h>

#ifdef __CUDACC__
#define MINFER_HOST_DEVICE __host__ __device__
#else
#define MINFER_HOST_DEVICE
#endif

namespace minfer::cuda::kernels {

/// Heads per chunk: bounds the parameter block (see static_assert below).
constexpr int kMaxChunkHeads = 32;
/// Query rows per estimation chunk and keys per estimation subtile.
constexpr int kEstRows = 64;
/// Threads of the CTAs (the launch code and the kernels must agree).
constexpr int kEstThreads = 128;
constexpr int kBuildThreads = 256;
constexpr int kBsSelectThreads = 256;
/// minfer_bs_sharing: one warp per group of three query blocks.
constexpr int kSharingGroupsPerCta = 4;
/// Multi-CTA top-k over the vertical-slash segments (VsSelect.cu): elements
/// per CTA, threads, and the radix digits of its three passes (11, 11, 10
/// bits, most significant first).
constexpr int kTopkThreads = 256;
constexpr int kTopkChunk = 8192;
constexpr int kTopkBins = 2048;
constexpr int kTopkPasses = 3;
constexpr int kBsScoreThreads = 256;
/// Rows of up to this many scores take the CTA top-k's bitmap path
/// (TopK.cuh, topKByBitmaps): block-sparse rows up to N = 1M.
constexpr int kTopKBitmapElems = 16384;
/// Static shared memory minfer_bs_select may use (TopKShared + TopKBitmaps;
/// BsEstimate.cu asserts it): the plan stages a row in dynamic shared memory
/// only if both fit.
constexpr int kBsSelectStaticSmem = 12288;
/// Band rows of the block-sparse score scratch are a multiple of this.
constexpr int kBsTile = 64;
/// Rows/cols of the pooled-score tile of one minfer_bs_scores CTA.
constexpr int kBsScoreTile = 128;
/// Dynamic shared memory of minfer_bs_scores_wgmma (BsScoresWgmma.cu): four
/// 16 KiB panel parts (Q and K, big and small tf32) aligned to 1024 bytes.
constexpr int kBsScoresWgmmaSmem = 4 * kBsScoreTile * 128 + 1024;

enum HeadKind : int32_t {
  kHeadDense = 0,
  kHeadAShape = 1,
  kHeadVerticalSlash = 2,
  kHeadBlockSparse = 3,
};

/// Per-segment radix-select state: the key prefix (under `mask`) of the
/// k-th largest element, how many elements with exactly that prefix are
/// still to be selected, and whether the prefix is final.
struct TopkState {
  uint32_t prefix, mask, kRem, done;
};

/// Bits of the device error word.
enum ErrorBits : int32_t {
  kErrRangeOverflow = 1,  ///< a block needed more than maxRanges ranges
  kErrColumnOverflow = 2, ///< a block needed more than maxColumns columns
};

/// One query head of the chunk. All values already clamped to int32 by the
/// host.
struct HeadDesc {
  int32_t kind;      ///< HeadKind
  int32_t qHead;     ///< absolute query head in the batch entry
  int32_t kvHead;    ///< absolute kv head in the batch entry
  int32_t sink;      ///< a_shape sink tokens (clamped to N)
  int32_t local;     ///< a_shape local tokens (clamped to N)
  int32_t topK;      ///< block_sparse top_k (clamped to NB)
  int32_t vsSlot;    ///< vertical_slash estimation slot, -1 otherwise
  int32_t bsSlot;    ///< block_sparse slot, -1 otherwise
  int32_t bsKvSlot;  ///< block_sparse pooled-K slot, -1 otherwise
  int32_t lastQ;     ///< vertical_slash estimation rows, min(last_q, N)
  int32_t kVertical; ///< effective vertical budget (0: caller-given indices)
  int32_t kSlash;    ///< effective slash budget
  int32_t forcedVertical;
  int32_t forcedSlash;
  int32_t reserved0, reserved1;
};

struct IndexParams {
  // Device pointers (as integers: the host side has no CUDA types).
  uint64_t q;           ///< batch entry's Q, [H][N][D] bf16/f16
  uint64_t k;           ///< batch entry's K, [Hkv][N][D]
  uint64_t rangeCount;  ///< chunk index, [heads][NB]
  uint64_t ranges;      ///< [heads][NB][maxRanges][2]
  uint64_t columnCount; ///< [heads][NB]
  uint64_t columnIndex; ///< [heads][NB][maxColumns]
  uint64_t vsScores;    ///< [vsCount][2][nPad] f32 (vertical, slash); the
                        ///< selections overwrite them in place as int32
  uint64_t vsCounts;    ///< [vsCount][2] int32 selected counts
  uint64_t vsPartial;   ///< [vsCount][lqPad][numKeyTiles] float2 (max, sum)
  uint64_t vsRowStats;  ///< [vsCount][lqPad] float2 (max, 1 / sum)
  uint64_t bsPooledQ;   ///< [bsCount][NB][D] f32
  uint64_t bsPooledK;   ///< [kvCount][NB][D] f32
  uint64_t bsScores;    ///< [bsCount][bandRows][nbPad] f32
  uint64_t errorWord;   ///< int32, ErrorBits
  uint64_t extVertical; ///< caller-given [H][nnzV] int32 of this batch entry
  uint64_t extSlash;    ///< caller-given [H][nnzS] int32 of this batch entry
  uint64_t vsSelected;  ///< [vsCount][2][selCap] int32 ascending selections
  uint64_t topkState;   ///< [vsCount * 2] TopkState
  uint64_t topkHist;    ///< [vsCount * 2][kTopkPasses][kTopkBins] uint32
  uint64_t topkChunks;  ///< [vsCount * 2][numTopkChunks] u64 (greater << 32 | equal)
  uint64_t vsBlockCounts; ///< [vsCount][3][NB] int32: verticals < e_m,
                          ///< offsets < e_m, offsets <= s_m
  uint64_t vsRunOf;       ///< [vsCount][selCap] int32: run of each offset
  uint64_t vsRunOff;      ///< [vsCount][selCap] int2: (min, max) offset of run r
  uint64_t keptCounter;   ///< u64: query-key pairs the mask keeps (countKept)
  uint64_t tileSharing;   ///< u64[2]: merged steps, visited tiles of the
                          ///< 192-row kernel's CTAs (minfer_bs_sharing)

  int32_t seqLen, numBlocks, headDim, heads;
  int32_t maxRanges, maxColumns;
  int32_t nPad;         ///< stride of the vs score arrays (N rounded to 4)
  int32_t nbPad;        ///< stride of a pooled-score row (NB rounded to 4)
  int32_t keyTile;      ///< keys per estimation CTA (multiple of 64)
  int32_t numKeyTiles;  ///< ceil(N / keyTile)
  int32_t lqPad;        ///< max lastQ of the chunk rounded up to 64
  int32_t diagLen;      ///< floats of the estimation diagonal buffer
  int32_t flushPerChunk;///< 1: flush diagonal sums after every 64 rows
  int32_t vsCount, bsCount, kvCount;
  int32_t bandStart, bandRows; ///< block_sparse rows scored per launch
  int32_t extNnzV, extNnzS;
  float scaleLog2; ///< softmax scale * log2(e)
  float scale;     ///< softmax scale
  int32_t selCap;     ///< stride of vsSelected (max selection size)
  int32_t numTopkChunks; ///< ceil(N / kTopkChunk)
  int32_t bsRowInSmem;///< 1: minfer_bs_select stages its row in shared memory
  int32_t buildStage; ///< 1: minfer_index_build stages ranges in shared memory

  int32_t vsHead[kMaxChunkHeads];     ///< chunk-local head of each vs slot
  int32_t bsHead[kMaxChunkHeads];     ///< chunk-local head of each bs slot
  int32_t kvSlotHead[kMaxChunkHeads]; ///< absolute kv head of each K slot
  HeadDesc head[kMaxChunkHeads];      ///< chunk-local heads
};

/// Dynamic shared memory of the vertical-slash estimation kernels (host and
/// device must agree): Q rows + 2 x K rows (bf16/f16, rows padded by 8 elements so
/// that wmma loads spread over banks) + one 64x64 f32 score tile (row stride
/// 68: wmma stores need a multiple of 4), and for the accumulation pass the
/// column sums of the key tile, 128 partial column sums, the diagonal buffer
/// and 2 x 64 row statistics.
constexpr int kEstRowLd = 8;  ///< padding elements per bf16 row
constexpr int kScoreLd = 68;  ///< floats per score-tile row
MINFER_HOST_DEVICE constexpr int estFixedSmemBytes(int headDim) {
  // Q rows + 2 K buffers (cp.async double buffering) + the score tile.
  return 3 * kEstRows * (headDim + kEstRowLd) * 2 + kEstRows * kScoreLd * 4;
}
MINFER_HOST_DEVICE constexpr int estAccumSmemBytes(int headDim, int keyTile,
                                                   int diagLen) {
  return estFixedSmemBytes(headDim) + (keyTile + 128 + diagLen + 128) * 4;
}

// cuLaunchKernel's parameter space is 4 KiB on every driver the runtime
// supports (CUDA 12.1 raised it to 32 KiB only for Volta+ with new PTX).
static_assert(sizeof(IndexParams) <= 4000, "IndexParams must fit in 4 KiB");
static_assert(sizeof(HeadDesc) == 64, "HeadDesc layout is shared host/device");
static_assert(sizeof(IndexParams) % 8 == 0, "8-byte aligned parameter block");

} // namespace minfer::cuda::kernels

#endif // MINFER_RUNTIME_CUDA_KERNELS_INDEXPARAMS_H
