//===- CudaRuntime.h - the online sparse-attention pipeline on a GPU -*- C++ -*-===//
//
// minfer::cuda::Runtime runs MInference's online step on the GPU: per head,
// estimate (vertical-slash: last-query softmax sums; block-sparse: pooled
// block scores), select (top-k), build the SparseIndex (SparseIndex.h), then
// launch ONE attention kernel over all heads -- the MLIR-generated PTX,
// loaded with the CUDA driver API per the ABI in Kernel/TileConfig.h.
//
// No CUDA headers or libraries are needed to build against this header:
// the driver is opened with dlopen at Runtime::create, and a machine without
// one gets Status{NoDevice}. Nothing here throws or aborts.
//
// Device pointers are plain `void *` (e.g. torch.Tensor.data_ptr()); tensors
// are contiguous row-major q/out [B, H, N, D], k/v [B, Hkv, N, D], 16-byte
// aligned; query head h reads kv head h / (H / Hkv).
//
// A Runtime is not thread-safe: one call at a time. Calls may use any
// stream; the runtime orders its reused scratch memory across streams itself.
//
//===----------------------------------------------------------------------===//
#ifndef MINFER_RUNTIME_CUDARUNTIME_H
#define MINFER_RUNTIME_CUDARUNTIME_H

#include "minfer/Kernel/TileConfig.h"
#include "minfer/Runtime/Pattern.h"
#include "minfer/Runtime/SparseIndex.h"
#include "minfer/Runtime/Status.h"

#include <cstddef>
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

// cuda.h's stream handle, declared identically (a TU may include both).
typedef struct CUstream_st *CUstream;

namespace minfer::cuda {

/// The device tensors of one attention call.
struct AttentionTensors {
  const void *q = nullptr; ///< [B, H, N, D]
  const void *k = nullptr; ///< [B, Hkv, N, D]
  const void *v = nullptr; ///< [B, Hkv, N, D]
  void *out = nullptr;     ///< [B, H, N, D], may not alias q, k, v
  /// headDim: a multiple of 8 from 8 to 128 (kernels: 64, 96 and 128;
  /// others run zero-padded, see sparseAttention).
  int64_t batch = 1, heads = 1, kvHeads = 1, seqLen = 0, headDim = 128;
  kernel::ElemType dtype = kernel::ElemType::BF16;
  float scale = 0.0f; ///< softmax scale (usually 1 / sqrt(headDim)); finite
};

/// What one call did (RunOptions::stats).
struct RunStats {
  kernel::KernelKind kernel = kernel::KernelKind::Dense;
  int64_t chunks = 0;        ///< head chunks (launch groups) used
  int64_t headsPerChunk = 0;
  int64_t maxRanges = 0, maxColumns = 0; ///< index capacity per query block
  int64_t workspaceBytes = 0;            ///< scratch + index of one chunk
  /// Device time per stage (RunOptions::timing only), summed over chunks and
  /// over a dense fallback's counting pass when the call ran again:
  /// estimate = vertical-slash scores + block-sparse pooling and first-band
  /// block scores; index = top-k selections, index conversion, later bands;
  /// kernel = the attention kernel.
  float estimateMs = 0.0f, indexMs = 0.0f, kernelMs = 0.0f;
  /// Query-key pairs the executed mask keeps, over all batch entries and
  /// heads (RunOptions::countKept only; dense: B H N (N + 1) / 2).
  double keptPairs = 0.0;
  /// The call ran the dense kernel instead (RunOptions::denseFallback).
  bool denseFallback = false;
  /// Symbol of the attention kernel that ran (TileConfig::kernelName(), e.g.
  /// "minfer_vs_kv_d128_bf16" for a 512K-token call on an H100); empty for
  /// RunOptions::indexOnly.
  std::string attentionKernel;
  /// Launches of the attention kernel over all chunks: one per chunk, more
  /// with RuntimeOptions::launchWaves.
  int64_t kernelLaunches = 0;
  /// Head chunks whose index (estimate + index) the call built, counting a
  /// dense fallback's measurement (RunOptions::denseFallback): `chunks`
  /// when it decided on the first count or needed none, at most 2 x
  /// `chunks` otherwise; 0 for dense calls.
  int64_t indexBuilds = 0;
  /// Block-sparse calls whose rows per CTA were measured
  /// (kernel::measuresBlockSparseRows): the 192-row kernel's merged steps
  /// per visited tile over all chunks (1/3: three blocks share every tile;
  /// 1: none); 0 when not measured.
  double tileSharing = 0.0;
};

struct RunOptions {
  VsOptions vs; ///< forced vertical columns / slash diagonals
  /// Record events around each stage and fill RunStats' times; the call then
  /// waits for the stream before returning.
  bool timing = false;
  RunStats *stats = nullptr; ///< filled when non-null
  /// Bytes of index + scratch per head chunk; 0: the Runtime's budget.
  int64_t workspaceBudget = 0;
  /// Build the index and stop (no attention kernel, `out` untouched, no
  /// attention PTX needed). For tests and tools.
  bool indexOnly = false;
  /// Automatic dense fallback: when the kept fraction of the causal work is
  /// at least this (0: off), run the dense kernel instead, which is faster
  /// than a sparse kernel at high density (short N). Up to
  /// denseFallbackProbeLen the fraction is bounded from the budgets alone
  /// (no device work); above it, when the bound alone cannot rule the
  /// fallback out, it is counted on the GPU from the call's own index: the
  /// call waits for the stream after a head chunk's index and decides when
  /// the pairs counted so far settle it either way (always with one chunk),
  /// its sparse kernels then running on their chunks' indices. A chunk that
  /// cannot decide holds its kernel and the next chunk counts on; a sparse
  /// decision after held kernels runs the call again without counting
  /// (RunStats::indexBuilds).
  double denseFallback = 0.0;
  int64_t denseFallbackProbeLen = 32768;
  /// Count the kept query-key pairs on the GPU (RunStats::keptPairs); the
  /// call then waits for the stream.
  bool countKept = false;
  /// Wait for the stream and report the device's index-capacity check
  /// (it cannot fail when capacities come from ref::requiredCapacity).
  bool checkIndex = false;
  /// Debug copies to the host (each makes the call wait for the stream):
  /// the index, resized to [B, H, NB] with the call's capacity and unused
  /// entries zero (so it compares equal to ref::buildIndex's);
  SparseIndex *indexOut = nullptr;
  /// the vertical-slash selections, 2 lists per (b, h) at [2 (b H + h)]
  /// (verticals, ascending) and [2 (b H + h) + 1] (slash offsets,
  /// ascending); empty lists for other heads;
  std::vector<std::vector<int32_t>> *vsSelections = nullptr;
  /// and the estimated scores before selection, same layout (N floats).
  std::vector<std::vector<float>> *vsScores = nullptr;
};

struct DeviceInfo {
  int ordinal = 0;
  std::string name;
  int ccMajor = 0, ccMinor = 0;
  int multiprocessors = 0;
  int64_t maxSharedOptin = 0; ///< bytes of shared memory a CTA may opt into
  int64_t totalMemory = 0, freeMemoryAtCreate = 0;
  int driverVersion = 0;
  kernel::Chip chip = kernel::Chip::SM80; ///< sm_90 for 9.x, else sm_80
};

/// The integer options below that read an environment variable when 0 take
/// it as a plain decimal integer ("0" or empty: the default; "2x", " 2",
/// "064" are refused). Runtime::create checks them, and their variables,
/// before it loads the driver: a bad one is InvalidArgument on any machine.
struct RuntimeOptions {
  int device = 0;
  /// Directory of the attention kernels' PTX files
  /// `<TileConfig::kernelName()>.<sm_80|sm_90|sm_90a>.ptx`. Empty: $MINFER_PTX_DIR,
  /// else the directory compiled in (defaultPtxDir()).
  std::string ptxDir;
  /// Default RunOptions::workspaceBudget; 0: min(4 GiB, max(256 MiB, free
  /// memory / 4)) at creation.
  int64_t workspaceBudget = 0;
  /// K/V pipeline stages of the kernels to load (minfer-generate-kernels'
  /// `stages`; they set the shared memory, and a count other than the
  /// kind's tuned one is part of the file name, e.g. minfer_vs_s2_*).
  /// 0: $MINFER_KERNEL_STAGES, else each kind's tuned value
  /// (kernel::tunedFor, what minfer-generate-kernels emits by default),
  /// including the tunings of longer sequences (kernel::kSequenceTiers)
  /// where their files exist.
  int kernelStages = 0;
  /// Query rows per block-sparse CTA: 64, or 128 / 192 for the paired-query-
  /// block kernels (TileConfig::pairsQueryBlocks: a producer feeding a
  /// TMA + mbarrier ring; generated with `block-block-m=128` / `192`,
  /// sm_90a) where their PTX exists, else the 64-row one.
  /// 0: $MINFER_BLOCK_SPARSE_ROWS, else by length
  /// (kernel::defaultBlockSparseRows: 192 rows on sm_90a from 384K tokens,
  /// where they are faster on an H100, bench/results/tuning.md) and, from
  /// 64K tokens below that, by the tiles the index lets three blocks share,
  /// measured on the GPU (kernel::measuresBlockSparseRows; the stream is
  /// synchronized once per head chunk for it).
  int blockSparseRows = 0;
  /// Query rows per vertical-slash CTA: 64, or 192 for the paired kernel
  /// (three query blocks share their range tiles through a producer's TMA
  /// ring and the producer warp gathers each block's column strips;
  /// generated with `vs-block-m=192`, sm_90a) where its PTX exists, else the
  /// 64-row one. 0: $MINFER_VS_ROWS, else 64.
  int verticalSlashRows = 0;
  /// Attention launches in device-fulls of CTAs: each launch takes
  /// launchWaves x (SMs x the kernel's CTAs per SM) of the call's CTAs, so
  /// the CTAs of one launch start together and walk their key lists side
  /// by side, sharing K/V tiles in L2. 0: $MINFER_LAUNCH_WAVES, else by
  /// kernel and length (kernel::launchWavesFor, sm_90a: block-sparse heads
  /// from 384K tokens, from 256K on the 64-row kernel; 64-row
  /// vertical-slash from 768K); -1: one launch of the whole grid; at most 64.
  int launchWaves = 0;
  /// The block-sparse index's pooled-score kernel (3xTF32 either way):
  /// 1: mma.sync (minfer_bs_scores, any chip); 2: warpgroup MMA
  /// (minfer_bs_scores_wgmma) where the chip has it (sm_90a), else mma.sync.
  /// 0: $MINFER_BS_SCORES, else 2.
  int blockSparseScores = 0;
  /// Tests only: open this file instead of libcuda.so.1.
  std::string driverPath;
};

class Runtime {
public:
  /// Opens the driver, retains device `opts.device`'s primary context.
  /// NoDevice when there is no driver or device; Unsupported below sm_80.
  static Status create(std::unique_ptr<Runtime> *out,
                       const RuntimeOptions &opts = {});
  ~Runtime();
  Runtime(const Runtime &) = delete;
  Runtime &operator=(const Runtime &) = delete;

  const DeviceInfo &device() const;
  const std::string &ptxDir() const;
  /// The PTX directory compiled in (${CMAKE_BINARY_DIR}/ptx or
  /// -DMINFER_PTX_DIR).
  static const char *defaultPtxDir();

  /// Registers attention-kernel PTX in memory (what the JIT does); it takes
  /// precedence over files for cfg.kernelName() on this device and is
  /// launched with `cfg`'s grid, threads and shared memory. The module is
  /// loaded now: PtxLoadFailed carries the driver's JIT log. For dense
  /// layers a registered 128-row kernel (blockM 128) is preferred.
  /// InvalidArgument if the PTX's `.target` (sm_90a: wgmma layout) and
  /// cfg.chip disagree on the kernel's shared-memory layout.
  Status addKernelPtx(const kernel::TileConfig &cfg, std::string ptx);
  /// Loads the attention kernel a call would use (for tools: fail early).
  Status loadKernel(kernel::KernelKind kind, kernel::ElemType elem,
                    int64_t headDim);

  /// Every argument check of sparseAttention, without a device.
  static Status validate(const AttentionTensors &t, const LayerPatterns &patterns,
                         const RunOptions &opts = {});
  /// Mixed per-head patterns (patterns.size() == heads) in one call: the
  /// index of every head is built on the GPU, then one attention kernel runs
  /// for all heads -- `vs` if any head is vertical-slash, else `block` if any
  /// is not dense, else `dense` (chunked by heads only when the index would
  /// exceed the workspace budget). Asynchronous on `stream` unless
  /// RunOptions asks for timing or debug copies. A head dim other than 64,
  /// 96 and 128 (a multiple of 8 up to 128) runs on the kernels of
  /// kernel::kernelHeadDim with zero-padded copies of the tensors, kept in a
  /// buffer of 2 (B H + B Hkv) N kernelHeadDim elements (HeadDimPad.cpp).
  Status sparseAttention(const AttentionTensors &t, const LayerPatterns &patterns,
                         const RunOptions &opts = {}, CUstream stream = nullptr);

  /// Every argument check of verticalSlashAttention, without a device.
  static Status validateVerticalSlash(const AttentionTensors &t,
                                      const int32_t *vIdx, const int32_t *sIdx,
                                      int64_t nnzV, int64_t nnzS);
  /// MInference's vertical_slash_sparse_attention: caller-chosen vertical
  /// columns vIdx [B, H, nnzV] and slash offsets sIdx [B, H, nnzS] (o = i - j;
  /// MInference passes them sorted descending) as int32 device arrays, in
  /// any order; duplicates and values outside [0, N) are ignored.
  Status verticalSlashAttention(const AttentionTensors &t, const int32_t *vIdx,
                                const int32_t *sIdx, int64_t nnzV, int64_t nnzS,
                                const RunOptions &opts = {},
                                CUstream stream = nullptr);

  // Device memory through the runtime's driver (tools and tests need no
  // CUDA headers). Copies are synchronous.
  Status allocate(size_t bytes, void **ptr);
  Status release(void *ptr);
  Status upload(void *dst, const void *src, size_t bytes);
  Status download(void *dst, const void *src, size_t bytes);
  Status fill(void *dst, uint8_t byte, size_t bytes, CUstream stream = nullptr);
  Status synchronize(CUstream stream = nullptr);

  struct Impl;

private:
  explicit Runtime(std::unique_ptr<Impl> impl);
  /// sparseAttention on tensors of a kernel head dim.
  Status sparseAttentionOn(const AttentionTensors &t, const LayerPatterns &patterns,
                           const RunOptions &opts, CUstream stream);
  std::unique_ptr<Impl> impl_;
};

} // namespace minfer::cuda

#endif // MINFER_RUNTIME_CUDARUNTIME_H
