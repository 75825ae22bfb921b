//===- RuntimeImpl.h - state behind minfer::cuda::Runtime -------*- C++ -*-===//
//
// Private to runtime/cuda: the driver table, the device and its primary
// context, loaded modules and functions, the reusable workspace and the
// events that order it. Runtime.cpp creates it and loads kernels,
// Pipeline.cpp runs calls, AttentionLaunch.cpp marshals the kernel ABI.
//
//===----------------------------------------------------------------------===//
#ifndef MINFER_RUNTIME_CUDA_RUNTIMEIMPL_H
#define MINFER_RUNTIME_CUDA_RUNTIMEIMPL_H

#include "DriverApi.h"
#include "Plan.h"
#include "minfer/Runtime/CudaRuntime.h"

#include <functional>
#include <map>
#include <string>
#include <vector>

namespace minfer::cuda {

/// An attention kernel ready to launch, with the tile config it was built
/// for (grid, threads and shared memory come from it).
struct AttentionKernel {
  kernel::TileConfig cfg;
  CUmodule module = nullptr;
  CUfunction fn = nullptr;
  std::string source; ///< file path or "in-memory PTX" (for messages)
  /// CTAs of it one SM runs at once (the driver's occupancy query at load;
  /// 0 when the driver cannot tell: then one launch): sizes launch waves.
  int ctasPerSm = 0;
};

/// Caller-given vertical/slash indices (MInference's entry point).
struct ExternalVs {
  const int32_t *vIdx = nullptr, *sIdx = nullptr;
  int64_t nnzV = 0, nnzS = 0;
};

/// An integer RuntimeOptions field that an environment variable may also set
/// (kernelStages, blockSparseRows, verticalSlashRows, launchWaves,
/// blockSparseScores): *out =
/// `value` when it is non-zero, else $env when set and non-empty, else 0 (the
/// default; "0" in $env asks for it too). $env must be a plain decimal
/// integer: an optional '-' and digits, no leading zeros, nothing else
/// ("2x", " 2", "064" are refused).
/// Returns InvalidArgument -- `rule`, the field and variable names, and the
/// refused text -- unless *out is 0 or `allowed(*out)`.
Status intOption(int value, const char *field, const char *env,
                 const std::function<bool(int)> &allowed, const char *rule,
                 int *out);

/// The dense-fallback decision of RunOptions::denseFallback taken on the
/// call's own index. After each head chunk's index the call counts the kept
/// pairs so far (one stream synchronization) and decides, exactly:
///   Dense   they reach `threshold` of the whole call's causal work: the
///           call stops, no attention kernel ran (the caller runs the
///           dense one);
///   Sparse  even if every head not yet counted kept all its causal work,
///           the call would stay below the threshold: this chunk's kernel
///           runs on its index, and later chunks run without counting;
///   Rerun   the same, but earlier chunks held their kernels (below): the
///           call stops, and the caller runs it again without counting.
/// Neither yet (Pending): this chunk's kernel is held -- nothing is written
/// to the output -- and the next chunk counts on. Counting every chunk
/// settles it, so each chunk's index is built at most twice. With one head
/// chunk the first count decides.
struct DenseFallback {
  enum class Verdict { Pending, Dense, Sparse, Rerun };
  double threshold = 0.0;
  Verdict verdict = Verdict::Pending;
  int64_t headsCounted = 0; ///< (batch entry, head) pairs counted so far
  bool kernelsHeld = false; ///< a counted chunk ran no kernel
  /// Whether the call stops after this chunk (no sparse kernels run).
  bool stops() const {
    return verdict == Verdict::Dense || verdict == Verdict::Rerun;
  }
};

/// Attention-kernel configurations to look for, best first, for a call of
/// seqLen tokens whose sparse CTAs have `wideRows` rows (64, 128 or 192;
/// dense: 128): the wide kernel when the chip has it, then the 64-row
/// kernel of the call's sequence tier (kernel::tunedFor(kind, chip, seqLen))
/// where it differs from the default and no stage count is forced
/// (`kernelStages` > 0), then the 64-row default. So a missing wide PTX file
/// falls back to the tier's kernel, not past it.
std::vector<kernel::TileConfig>
kernelCandidates(kernel::KernelKind kind, kernel::ElemType elem,
                 int64_t headDim, kernel::Chip chip, int64_t seqLen,
                 int64_t wideRows, int kernelStages);

struct Runtime::Impl {
  const DriverApi *api = nullptr;
  DeviceInfo info;
  CUdevice dev = 0;
  CUcontext ctx = nullptr;
  bool ctxRetained = false;
  std::string ptxDir;
  int64_t budget = 0;
  /// Stages of PTX files without a tile-config line; 0: each kind's tuned
  /// value (kernel::tunedFor), as minfer-generate-kernels emits by default.
  int kernelStages = 0;
  /// RuntimeOptions::blockSparseRows after the environment (64, 128 or
  /// 192; 0: by length, kernel::defaultBlockSparseRows).
  int blockSparseRows = 0;
  /// RuntimeOptions::verticalSlashRows after the environment (64 or 192;
  /// 0: 64).
  int verticalSlashRows = 0;
  /// RuntimeOptions::launchWaves after the environment: device-fulls of
  /// CTAs per attention launch (0: AttentionLaunch::waves; -1: one launch).
  int launchWaves = 0;
  /// RuntimeOptions::blockSparseScores after the environment (1 or 2; 0:
  /// 2). True where the chip has wgmma and it was not refused.
  bool bsScoresWgmma = false;

  std::map<std::string, CUmodule> modules;          ///< embedded, by name
  std::map<std::string, CUfunction> indexFns;       ///< by symbol
  std::map<CUfunction, int64_t> dynSmemSet;         ///< opt-in already set
  std::map<std::string, std::string> registeredPtx; ///< kernelName -> PTX
  std::map<std::string, kernel::TileConfig> registeredCfg;
  std::map<std::string, AttentionKernel> attention; ///< kernelName -> loaded
  /// Resolved requests: the best candidate's name (kernelCandidates().front())
  /// -> the loaded kernel's name. A request is keyed by what it prefers, so
  /// a default kernel loaded for a short call never stands in for a
  /// longer-sequence kernel whose PTX exists. Cleared by addKernelPtx.
  std::map<std::string, std::string> resolved;

  CUdeviceptr workspace = 0;
  int64_t workspaceBytes = 0;
  /// Recorded after each call: the next call's stream waits on it (the
  /// workspace is shared), and growing the workspace waits for it.
  CUevent lastUse = nullptr;
  bool lastUseRecorded = false;
  /// Zero-padded Q, K, V and output of calls whose head dim is not a kernel
  /// head dim (HeadDimPad.cpp); shared between calls like the workspace.
  CUdeviceptr padBuffer = 0;
  int64_t padBytes = 0;
  std::vector<CUevent> timingEvents;

  ~Impl();

  /// JIT-loads PTX; failures carry the driver's error log and name `what`.
  Status loadModule(const char *ptx, const std::string &what, CUmodule *out);
  /// An index-construction kernel from the embedded PTX module `module`.
  Status indexFunction(const char *module, const char *symbol, CUfunction *out);
  /// Raises a function's dynamic shared-memory limit to `bytes` if needed.
  Status ensureDynamicSmem(CUfunction fn, int64_t bytes, const char *what);
  /// The attention kernel for (kind, elem, D) at seqLen tokens: registered
  /// PTX, else the file `<ptxDir>/<name>.<chip>.ptx` (sm_80 file as fallback
  /// on sm_90), of the first of kernelCandidates() that exists.
  /// `blockRows` > 0 asks for sparse CTAs of that many rows instead of
  /// blockSparseRows (verticalSlashRows) / the length's default.
  Status attentionKernel(kernel::KernelKind kind, kernel::ElemType elem,
                         int64_t headDim, int64_t seqLen,
                         const AttentionKernel **out, int64_t blockRows = 0);
  /// The free kernelCandidates() with this runtime's row options and
  /// forced stage count (`blockRows` > 0 wins over the row options).
  std::vector<kernel::TileConfig>
  kernelCandidates(kernel::KernelKind kind, kernel::ElemType elem,
                   int64_t headDim, kernel::Chip chip, int64_t seqLen,
                   int64_t blockRows = 0) const;
  /// Loads `ptx` as `cfg`'s kernel and caches it under cfg.kernelName().
  Status installAttention(const kernel::TileConfig &cfg, const std::string &ptx,
                          const std::string &source);
  /// Grows device buffer *buf (*size bytes) to `bytes`, after the last
  /// call's use; OutOfMemory names `what` and `why`.
  Status growBuffer(CUdeviceptr *buf, int64_t *size, int64_t bytes,
                    const std::string &what, const std::string &why);
  Status ensureWorkspace(int64_t bytes);
  /// `call` on `t`, or, when t.headDim is not a kernel head dim, on
  /// zero-padded copies of its tensors at kernelHeadDim; the padded output
  /// then goes back to t.out if `writesOutput` (HeadDimPad.cpp).
  Status withKernelHeadDim(const AttentionTensors &t, bool writesOutput,
                           CUstream stream,
                           const std::function<Status(const AttentionTensors &)> &call);
  Status event(size_t i, CUevent *out);
  Status launch(CUfunction fn, unsigned gx, unsigned gy, unsigned gz,
                unsigned threads, int64_t smem, CUstream stream, void **args,
                const char *what);

  /// One call: sparseAttention (patterns) or verticalSlashAttention (ext).
  /// With `fallback`, the dense-fallback decision is taken inside the call
  /// (DenseFallback).
  Status run(const AttentionTensors &t, const LayerPatterns *patterns,
             const ExternalVs *ext, const RunOptions &opts, CUstream stream,
             DenseFallback *fallback = nullptr);
};

/// Applies a `// minfer-tile-config: key=value ...` line of `ptx` (keys
/// block_m, block_n, warps, stages) to `cfg`; false if there is none or it
/// is malformed (then `cfg` is unchanged).
bool applyTileConfigLine(const std::string &ptx, kernel::TileConfig *cfg);

/// The chip named by the `.target` line of `ptx` (sm_80, sm_90, sm_90a),
/// which decides the shared-memory layout of a generated kernel (wgmma on
/// sm_90a); false if there is none or it names another chip.
bool ptxTargetChip(const std::string &ptx, kernel::Chip *chip);

/// Makes the runtime's primary context current for a scope and restores the
/// caller's afterwards (PyTorch and others keep their own current context).
class ContextGuard {
public:
  explicit ContextGuard(const Runtime::Impl &impl) : api_(*impl.api) {
    status_ = api_.check(api_.cuCtxPushCurrent(impl.ctx), "cuCtxPushCurrent");
  }
  ~ContextGuard() {
    if (status_.ok()) {
      CUcontext popped = nullptr;
      api_.cuCtxPopCurrent(&popped); // cannot fail after a successful push
    }
  }
  const Status &status() const { return status_; }

private:
  const DriverApi &api_;
  Status status_;
};

/// Launches one attention kernel (TileConfig.h ABI) over query heads
/// [0, heads) x batch entries [0, batches) of the given base pointers.
struct AttentionLaunch {
  CUdeviceptr q = 0, k = 0, v = 0, out = 0;
  int64_t qElems = 0, kvElems = 0;
  CUdeviceptr rangeCount = 0, ranges = 0, columnCount = 0, columnIndex = 0;
  int64_t rows = 0, maxRanges = 0, maxColumns = 0;
  int64_t seqLen = 0, heads = 0, kvHeads = 0, batches = 1;
  float scaleLog2e = 0.0f;
  /// Paired block-sparse kernels: workspace for their K/V tensor maps
  /// (TileConfig::pairedTensorMapBytes, 256-byte aligned).
  CUdeviceptr tensorMaps = 0;
  /// Device-fulls of CTAs per launch unless Runtime::Impl::launchWaves
  /// says otherwise (kernel::launchWavesFor; 0: one launch).
  int64_t waves = 0;
};
/// Launches `kern` over all of the call's positions, in one launch or in
/// waves (Runtime::Impl::launchWaves); adds the launches to *launches.
Status launchAttention(Runtime::Impl &impl, const AttentionKernel &kern,
                       const AttentionLaunch &a, CUstream stream,
                       int64_t *launches);

} // namespace minfer::cuda

#endif // MINFER_RUNTIME_CUDA_RUNTIMEIMPL_H
