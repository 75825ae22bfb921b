//===- Runtime.cpp - device, context, modules and memory of a Runtime -----===//
//
// Runtime::create opens the driver (DriverApi.cpp), picks the device, retains
// its primary context (shared with PyTorch and the CUDA runtime API, so
// device pointers from either work here) and reads the device limits the
// planner needs. Modules load lazily: the index kernels from the PTX embedded
// at build time, the attention kernels from registered PTX or from files.
//
//===----------------------------------------------------------------------===//
#include "EmbeddedPtx.h"
#include "RuntimeImpl.h"
#include "minfer/Runtime/Reference.h"

#include <algorithm>
#include <cstdlib>
#include <fstream>
#include <climits>
#include <cstring>
#include <sstream>

#ifndef MINFER_DEFAULT_PTX_DIR
#define MINFER_DEFAULT_PTX_DIR "ptx"
#endif

namespace minfer::cuda {

using kernel::TileConfig;

static std::string num(int64_t v) { return std::to_string(v); }

Status intOption(int value, const char *field, const char *env,
                 const std::function<bool(int)> &allowed, const char *rule,
                 int *out) {
  *out = value;
  std::string refused = std::to_string(value);
  if (value == 0)
    if (const char *s = std::getenv(env); s && *s) {
      // Strict decimal: '-'? then digits, the first not '0' unless alone.
      const char *d = s + (*s == '-');
      size_t digits = std::strspn(d, "0123456789");
      bool plain = digits > 0 && digits <= 9 && d[digits] == '\0' &&
                   (d[0] != '0' || digits == 1);
      *out = plain ? std::atoi(s) : INT_MIN;
      refused = std::string("'") + s + "'";
    }
  if (*out == 0 || (*out != INT_MIN && allowed(*out)))
    return Status::success();
  return invalidArgument(std::string(rule) + " (RuntimeOptions::" + field +
                         " or " + env + "), got " + refused);
}

Runtime::Impl::~Impl() {
  if (!api || !ctx)
    return;
  ContextGuard guard(*this);
  if (guard.status().ok()) {
    // Pending work may still use the workspace.
    if (lastUseRecorded)
      api->cuEventSynchronize(lastUse);
    if (workspace)
      api->cuMemFree(workspace);
    if (padBuffer)
      api->cuMemFree(padBuffer);
    for (CUevent e : timingEvents)
      api->cuEventDestroy(e);
    if (lastUse)
      api->cuEventDestroy(lastUse);
    for (auto &[name, mod] : modules)
      api->cuModuleUnload(mod);
    for (auto &[name, k] : attention)
      api->cuModuleUnload(k.module);
  }
  if (ctxRetained)
    api->cuDevicePrimaryCtxRelease(dev);
}

Runtime::Runtime(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}
Runtime::~Runtime() = default;

const DeviceInfo &Runtime::device() const { return impl_->info; }
const std::string &Runtime::ptxDir() const { return impl_->ptxDir; }
const char *Runtime::defaultPtxDir() { return MINFER_DEFAULT_PTX_DIR; }

Status Runtime::create(std::unique_ptr<Runtime> *out,
                       const RuntimeOptions &opts) {
  if (!out)
    return Status(ErrorCode::NullPointer, "Runtime::create: out is null");
  out->reset();
  if (opts.workspaceBudget < 0)
    return invalidArgument("workspace budget must be non-negative");
  auto impl = std::make_unique<Impl>();
  // Options first: a bad one is InvalidArgument with or without a GPU.
  MINFER_RETURN_IF_ERROR(intOption(
      opts.kernelStages, "kernelStages", "MINFER_KERNEL_STAGES",
      [](int v) { return v >= 1 && v <= 3; },
      "kernel stages must be 1, 2 or 3 (0: each kind's tuned stages)",
      &impl->kernelStages));
  MINFER_RETURN_IF_ERROR(intOption(
      opts.blockSparseRows, "blockSparseRows", "MINFER_BLOCK_SPARSE_ROWS",
      [](int v) { return v == 64 || v == 128 || v == 192; },
      "block-sparse rows per CTA must be 0 (by length), 64, 128 or 192",
      &impl->blockSparseRows));
  MINFER_RETURN_IF_ERROR(intOption(
      opts.verticalSlashRows, "verticalSlashRows", "MINFER_VS_ROWS",
      [](int v) { return v == 64 || v == 192; },
      "vertical-slash rows per CTA must be 0 (default), 64 or 192",
      &impl->verticalSlashRows));
  MINFER_RETURN_IF_ERROR(intOption(
      opts.launchWaves, "launchWaves", "MINFER_LAUNCH_WAVES",
      [](int v) { return v >= -1 && v <= 64; },
      "launch waves must be -1 (one launch), 0 (by kernel and length) or 1 "
      "to 64",
      &impl->launchWaves));
  int bsScores = 0;
  MINFER_RETURN_IF_ERROR(intOption(
      opts.blockSparseScores, "blockSparseScores", "MINFER_BS_SCORES",
      [](int v) { return v == 1 || v == 2; },
      "the block-sparse score kernel must be 0 (default), 1 (mma.sync) or 2 "
      "(wgmma where the chip has it)",
      &bsScores));
  MINFER_RETURN_IF_ERROR(loadDriver(&impl->api, opts.driverPath));
  const DriverApi &api = *impl->api;
  int count = 0;
  MINFER_CU(api, cuDeviceGetCount, &count);
  if (opts.device < 0 || opts.device >= count)
    return invalidArgument("device " + num(opts.device) + " out of range (" +
                           num(count) + " CUDA devices)");
  DeviceInfo &info = impl->info;
  info.ordinal = opts.device;
  MINFER_CU(api, cuDeviceGet, &impl->dev, opts.device);
  char name[256] = {0};
  MINFER_CU(api, cuDeviceGetName, name, (int)sizeof(name) - 1, impl->dev);
  info.name = name;
  int smem = 0;
  MINFER_CU(api, cuDeviceGetAttribute, &info.ccMajor,
            kAttrComputeCapabilityMajor, impl->dev);
  MINFER_CU(api, cuDeviceGetAttribute, &info.ccMinor,
            kAttrComputeCapabilityMinor, impl->dev);
  MINFER_CU(api, cuDeviceGetAttribute, &info.multiprocessors,
            kAttrMultiprocessorCount, impl->dev);
  MINFER_CU(api, cuDeviceGetAttribute, &smem,
            kAttrMaxSharedMemoryPerBlockOptin, impl->dev);
  MINFER_CU(api, cuDriverGetVersion, &info.driverVersion);
  info.maxSharedOptin = smem;
  if (info.ccMajor < 8)
    return Status(ErrorCode::Unsupported,
                  info.name + " has compute capability " + num(info.ccMajor) +
                      "." + num(info.ccMinor) + "; minfer needs 8.0 or newer");
  // sm_90a (wgmma) instructions exist on compute capability 9.0 only.
  info.chip = info.ccMajor != 9   ? kernel::Chip::SM80
              : info.ccMinor == 0 ? kernel::Chip::SM90A
                                  : kernel::Chip::SM90;
  impl->bsScoresWgmma = bsScores != 1 && info.chip == kernel::Chip::SM90A;

  MINFER_CU(api, cuDevicePrimaryCtxRetain, &impl->ctx, impl->dev);
  impl->ctxRetained = true;
  {
    ContextGuard guard(*impl);
    MINFER_RETURN_IF_ERROR(guard.status());
    size_t freeBytes = 0, totalBytes = 0;
    MINFER_CU(api, cuMemGetInfo, &freeBytes, &totalBytes);
    info.totalMemory = static_cast<int64_t>(totalBytes);
    info.freeMemoryAtCreate = static_cast<int64_t>(freeBytes);
    MINFER_CU(api, cuEventCreate, &impl->lastUse, kEventDisableTiming);
  }

  if (!opts.ptxDir.empty())
    impl->ptxDir = opts.ptxDir;
  else if (const char *env = std::getenv("MINFER_PTX_DIR"); env && *env)
    impl->ptxDir = env;
  else
    impl->ptxDir = defaultPtxDir();

  constexpr int64_t kMiB = int64_t(1) << 20;
  impl->budget = opts.workspaceBudget > 0
                     ? opts.workspaceBudget
                     : std::min<int64_t>(4096 * kMiB,
                                         std::max<int64_t>(256 * kMiB,
                                                           info.freeMemoryAtCreate / 4));
  out->reset(new Runtime(std::move(impl)));
  return Status::success();
}

//===----------------------------------------------------------------------===//
// Modules and functions
//===----------------------------------------------------------------------===//

Status Runtime::Impl::loadModule(const char *ptx, const std::string &what,
                                 CUmodule *out) {
  // The JIT writes its diagnostics into these buffers; the sizes go in as
  // pointer-sized integers (the driver API's convention for JIT options).
  std::vector<char> errLog(16384, '\0'), infoLog(4096, '\0');
  int options[] = {kJitErrorLogBuffer, kJitErrorLogBufferSizeBytes,
                   kJitInfoLogBuffer, kJitInfoLogBufferSizeBytes};
  void *values[] = {errLog.data(), reinterpret_cast<void *>(errLog.size()),
                    infoLog.data(), reinterpret_cast<void *>(infoLog.size())};
  CUresult r = api->cuModuleLoadDataEx(out, ptx, 4, options, values);
  if (r == kCudaSuccess)
    return Status::success();
  errLog.back() = '\0';
  std::string msg = api->describe(r, "cuModuleLoadDataEx") + " loading " + what;
  if (errLog[0])
    msg += "; JIT log: " + std::string(errLog.data());
  return Status(ErrorCode::PtxLoadFailed, msg);
}

Status Runtime::Impl::indexFunction(const char *module, const char *symbol,
                                    CUfunction *out) {
  auto f = indexFns.find(symbol);
  if (f != indexFns.end()) {
    *out = f->second;
    return Status::success();
  }
  auto m = modules.find(module);
  if (m == modules.end()) {
    const EmbeddedPtx *e = findEmbeddedPtx(kIndexKernelPtx, module);
    if (!e)
      return Status(ErrorCode::Unsupported,
                    std::string("the index kernels (") + module +
                        ") were not built: nvcc was not found when the "
                        "project was configured");
    CUmodule mod = nullptr;
    MINFER_RETURN_IF_ERROR(
        loadModule(e->text, std::string("embedded index kernels ") + module, &mod));
    m = modules.emplace(module, mod).first;
  }
  CUfunction fn = nullptr;
  MINFER_RETURN_IF_ERROR(api->check(api->cuModuleGetFunction(&fn, m->second, symbol),
                                    "cuModuleGetFunction", symbol));
  indexFns.emplace(symbol, fn);
  *out = fn;
  return Status::success();
}

Status Runtime::Impl::ensureDynamicSmem(CUfunction fn, int64_t bytes,
                                        const char *what) {
  int64_t &set = dynSmemSet[fn];
  if (bytes <= set)
    return Status::success();
  // Static + dynamic shared memory must fit the device; up to 48 KB in all
  // it needs no opt-in. Generated kernels declare a small static variable
  // (the dynamic window's symbol), so the function's static size counts.
  int staticBytes = 0;
  MINFER_RETURN_IF_ERROR(api->check(
      api->cuFuncGetAttribute(&staticBytes, kFuncAttrSharedSizeBytes, fn),
      "cuFuncGetAttribute(SHARED_SIZE_BYTES)", what));
  if (staticBytes + bytes > info.maxSharedOptin)
    return Status(ErrorCode::Unsupported,
                  std::string(what) + " needs " + num(bytes) + " + " +
                      num(staticBytes) +
                      " (static) bytes of shared memory; " + info.name +
                      " allows " + num(info.maxSharedOptin));
  if (staticBytes + bytes <= 48 * 1024)
    return Status::success(); // the default limit already allows it
  MINFER_RETURN_IF_ERROR(api->check(
      api->cuFuncSetAttribute(fn, kFuncAttrMaxDynamicSharedSizeBytes, (int)bytes),
      "cuFuncSetAttribute(MAX_DYNAMIC_SHARED_SIZE_BYTES)", what));
  set = bytes;
  return Status::success();
}

Status Runtime::Impl::installAttention(const TileConfig &cfg,
                                       const std::string &ptx,
                                       const std::string &source) {
  const std::string name = cfg.kernelName();
  AttentionKernel k;
  k.cfg = cfg;
  k.source = source;
  MINFER_RETURN_IF_ERROR(loadModule(ptx.c_str(), name + " from " + source, &k.module));
  Status st = api->check(api->cuModuleGetFunction(&k.fn, k.module, name.c_str()),
                         "cuModuleGetFunction",
                         name + " in " + source + " (symbol missing?)");
  if (st.ok())
    st = ensureDynamicSmem(k.fn, cfg.sharedBytes(), name.c_str());
  // Only a hint for launch waves: a failed query leaves 0 (one launch).
  if (st.ok() && api->cuOccupancyMaxActiveBlocksPerMultiprocessor &&
      api->cuOccupancyMaxActiveBlocksPerMultiprocessor(
          &k.ctasPerSm, k.fn, static_cast<int>(cfg.threads()),
          static_cast<size_t>(cfg.sharedBytes())) != kCudaSuccess)
    k.ctasPerSm = 0;
  if (!st.ok()) {
    api->cuModuleUnload(k.module);
    return Status(st.code() == ErrorCode::CudaError ? ErrorCode::PtxLoadFailed
                                                    : st.code(),
                  st.message());
  }
  auto old = attention.find(name);
  if (old != attention.end()) {
    api->cuModuleUnload(old->second.module);
    attention.erase(old);
  }
  attention.emplace(name, k);
  return Status::success();
}

static bool readFile(const std::string &path, std::string *out) {
  std::ifstream in(path, std::ios::binary);
  if (!in)
    return false;
  std::ostringstream ss;
  ss << in.rdbuf();
  *out = ss.str();
  return static_cast<bool>(in) || in.eof();
}

bool applyTileConfigLine(const std::string &ptx, TileConfig *cfg) {
  static const char kTag[] = "minfer-tile-config:";
  const size_t at = ptx.find(kTag);
  if (at == std::string::npos)
    return false;
  const size_t eol = ptx.find('\n', at);
  std::istringstream line(ptx.substr(at + sizeof(kTag) - 1,
                                     eol == std::string::npos ? std::string::npos
                                                              : eol - at - sizeof(kTag) + 1));
  TileConfig out = *cfg;
  std::string item;
  while (line >> item) {
    const size_t eq = item.find('=');
    if (eq == std::string::npos)
      continue; // other words (e.g. kind=...) are informational
    const std::string key = item.substr(0, eq);
    char *end = nullptr;
    const long v = std::strtol(item.c_str() + eq + 1, &end, 10);
    const bool isNum = end && *end == '\0' && eq + 1 < item.size();
    if (key == "block_m" || key == "block_n" || key == "warps" || key == "stages") {
      if (!isNum)
        return false;
      (key == "block_m" ? out.blockM
       : key == "block_n" ? out.blockN
       : key == "warps" ? out.warps
                        : out.stages) = v;
    }
  }
  if (!out.validate().empty())
    return false;
  *cfg = out;
  return true;
}

bool ptxTargetChip(const std::string &ptx, kernel::Chip *chip) {
  static const char kTag[] = ".target ";
  const size_t at = ptx.find(kTag);
  if (at == std::string::npos)
    return false;
  const size_t begin = at + sizeof(kTag) - 1;
  const size_t end = ptx.find_first_of(", \t\r\n", begin);
  const std::string name = ptx.substr(begin, end == std::string::npos
                                                 ? std::string::npos
                                                 : end - begin);
  for (kernel::Chip c :
       {kernel::Chip::SM80, kernel::Chip::SM90, kernel::Chip::SM90A})
    if (name == kernel::chipName(c)) {
      *chip = c;
      return true;
    }
  return false;
}

std::vector<TileConfig> kernelCandidates(kernel::KernelKind kind,
                                         kernel::ElemType elem, int64_t headDim,
                                         kernel::Chip chip, int64_t seqLen,
                                         int64_t wideRows, int kernelStages) {
  std::vector<TileConfig> cands;
  auto add = [&](int64_t blockM) {
    TileConfig cfg = TileConfig::tuned(kind, elem, headDim, chip, blockM);
    if (kernelStages > 0)
      cfg.stages = kernelStages;
    // A chip may not have the wide configuration (128/192-row sparse
    // kernels need wgmma); the 64-row one is always asked for.
    if (blockM == kernel::kBlockM || cfg.validate().empty())
      cands.push_back(cfg);
  };
  if (wideRows != kernel::kBlockM)
    add(wideRows);
  // The sequence tiers tune the 64-row kernels.
  if (kernelStages == 0 && kernel::hasLongSequenceTuning(kind, chip, seqLen))
    cands.push_back(
        TileConfig::tuned(kind, elem, headDim, chip, kernel::kBlockM, seqLen));
  add(kernel::kBlockM);
  return cands;
}

std::vector<TileConfig>
Runtime::Impl::kernelCandidates(kernel::KernelKind kind, kernel::ElemType elem,
                                int64_t headDim, kernel::Chip chip,
                                int64_t seqLen, int64_t blockRows) const {
  // Dense layers take a 128-row kernel when one exists (half the K/V traffic
  // per FLOP); sparse ones the rows asked for.
  const int64_t wide =
      kind == kernel::KernelKind::Dense ? 128
      : blockRows                       ? blockRows
      : kind == kernel::KernelKind::Block
          ? (blockSparseRows ? blockSparseRows
                             : kernel::defaultBlockSparseRows(chip, seqLen))
          : (verticalSlashRows ? verticalSlashRows : kernel::kBlockM);
  return cuda::kernelCandidates(kind, elem, headDim, chip, seqLen, wide,
                                kernelStages);
}

Status Runtime::Impl::attentionKernel(kernel::KernelKind kind,
                                      kernel::ElemType elem, int64_t headDim,
                                      int64_t seqLen,
                                      const AttentionKernel **out,
                                      int64_t blockRows) {
  const std::vector<TileConfig> cands =
      kernelCandidates(kind, elem, headDim, info.chip, seqLen, blockRows);
  const std::string request = cands.front().kernelName();
  if (auto it = resolved.find(request); it != resolved.end()) {
    *out = &attention.at(it->second);
    return Status::success();
  }
  auto use = [&](const std::string &name) {
    resolved[request] = name;
    *out = &attention.at(name);
    return Status::success();
  };
  // Registered PTX first (tests and embedders override files with it).
  for (const TileConfig &cfg : cands) {
    const std::string name = cfg.kernelName();
    if (auto it = registeredPtx.find(name); it != registeredPtx.end()) {
      if (!attention.count(name))
        MINFER_RETURN_IF_ERROR(
            installAttention(registeredCfg[name], it->second, "in-memory PTX"));
      return use(name);
    }
  }
  // Files: the best chip first (sm_90a wgmma PTX on an H100, then sm_90,
  // then sm_80, which the driver JIT-compiles), each with the chip's tuning.
  kernel::Chip chips[3];
  const int numChips = kernel::loadableChips(info.chip, chips);
  std::string tried;
  for (int c = 0; c < numChips; ++c)
    for (TileConfig cfg :
         kernelCandidates(kind, elem, headDim, chips[c], seqLen, blockRows)) {
      const std::string name = cfg.kernelName();
      const std::string path =
          ptxDir + "/" + name + "." + kernel::chipName(chips[c]) + ".ptx";
      std::string ptx;
      if (!readFile(path, &ptx)) {
        tried += (tried.empty() ? "" : ", ") + path;
        continue;
      }
      if (attention.count(name)) // loaded from this file for another request
        return use(name);
      // The file's own tile-config line, if any, wins over kernelStages.
      applyTileConfigLine(ptx, &cfg);
      if (cfg.kernelName() != name)
        return Status(ErrorCode::PtxLoadFailed,
                      path + ": its minfer-tile-config line describes " +
                          cfg.kernelName());
      MINFER_RETURN_IF_ERROR(installAttention(cfg, ptx, path));
      return use(name);
    }
  return Status(ErrorCode::PtxLoadFailed,
                "attention kernel " + cands.back().kernelName() +
                    " not found: no file " + tried +
                    " (set MINFER_PTX_DIR or RuntimeOptions::ptxDir, or "
                    "register PTX with addKernelPtx)");
}

Status Runtime::addKernelPtx(const TileConfig &cfg, std::string ptx) {
  const std::string bad = cfg.validate();
  if (!bad.empty())
    return invalidArgument("addKernelPtx: " + bad);
  if (ptx.empty())
    return invalidArgument("addKernelPtx: empty PTX for " + cfg.kernelName());
  // wgmma (sm_90a) and mma.sync kernels lay out shared memory differently:
  // launching one with the other's size would read past its allocation.
  kernel::Chip target;
  if (ptxTargetChip(ptx, &target) &&
      (target == kernel::Chip::SM90A) != cfg.usesWgmma())
    return invalidArgument(std::string("addKernelPtx: the PTX targets ") +
                           kernel::chipName(target) +
                           " but the tile config is for " +
                           kernel::chipName(cfg.chip) + " (" +
                           cfg.kernelName() + ")");
  ContextGuard guard(*impl_);
  MINFER_RETURN_IF_ERROR(guard.status());
  const std::string name = cfg.kernelName();
  MINFER_RETURN_IF_ERROR(impl_->installAttention(cfg, ptx, "in-memory PTX"));
  impl_->registeredPtx[name] = std::move(ptx);
  impl_->registeredCfg[name] = cfg;
  impl_->resolved.clear(); // a request may now prefer this kernel
  return Status::success();
}

Status Runtime::loadKernel(kernel::KernelKind kind, kernel::ElemType elem,
                           int64_t headDim) {
  MINFER_RETURN_IF_ERROR(checkHeadDim(headDim));
  ContextGuard guard(*impl_);
  MINFER_RETURN_IF_ERROR(guard.status());
  const AttentionKernel *k = nullptr;
  return impl_->attentionKernel(kind, elem, kernel::kernelHeadDim(headDim),
                                /*seqLen=*/0, &k);
}

//===----------------------------------------------------------------------===//
// Workspace, events, launches
//===----------------------------------------------------------------------===//

Status Runtime::Impl::growBuffer(CUdeviceptr *buf, int64_t *size,
                                 int64_t bytes, const std::string &what,
                                 const std::string &why) {
  if (bytes <= *size)
    return Status::success();
  if (lastUseRecorded) // the last call may still use the old one
    MINFER_CU(*api, cuEventSynchronize, lastUse);
  if (*buf) {
    MINFER_CU(*api, cuMemFree, *buf);
    *buf = 0;
    *size = 0;
  }
  CUresult r = api->cuMemAlloc(buf, static_cast<size_t>(bytes));
  if (r != kCudaSuccess) {
    *buf = 0;
    return Status(ErrorCode::OutOfMemory, api->describe(r, "cuMemAlloc") + ": " +
                                              what + " of " + num(bytes >> 20) +
                                              " MiB " + why);
  }
  *size = bytes;
  return Status::success();
}

Status Runtime::Impl::ensureWorkspace(int64_t bytes) {
  return growBuffer(&workspace, &workspaceBytes, bytes, "workspace",
                    "for the index and scratch of one head chunk (lower "
                    "RunOptions::workspaceBudget, now " +
                        num(budget >> 20) + " MiB by default)");
}

Status Runtime::Impl::event(size_t i, CUevent *out) {
  while (timingEvents.size() <= i) {
    CUevent e = nullptr;
    MINFER_CU(*api, cuEventCreate, &e, kEventDefault);
    timingEvents.push_back(e);
  }
  *out = timingEvents[i];
  return Status::success();
}

Status Runtime::Impl::launch(CUfunction fn, unsigned gx, unsigned gy,
                             unsigned gz, unsigned threads, int64_t smem,
                             CUstream stream, void **args, const char *what) {
  if (gx == 0 || gy == 0 || gz == 0)
    return Status::success();
  MINFER_RETURN_IF_ERROR(ensureDynamicSmem(fn, smem, what));
  return api->check(api->cuLaunchKernel(fn, gx, gy, gz, threads, 1, 1,
                                        static_cast<unsigned>(smem), stream,
                                        args, nullptr),
                    "cuLaunchKernel", what);
}

//===----------------------------------------------------------------------===//
// Memory helpers
//===----------------------------------------------------------------------===//

Status Runtime::allocate(size_t bytes, void **ptr) {
  if (!ptr)
    return Status(ErrorCode::NullPointer, "allocate: ptr is null");
  *ptr = nullptr;
  ContextGuard guard(*impl_);
  MINFER_RETURN_IF_ERROR(guard.status());
  CUdeviceptr p = 0;
  MINFER_CU(*impl_->api, cuMemAlloc, &p, bytes);
  *ptr = reinterpret_cast<void *>(p);
  return Status::success();
}

Status Runtime::release(void *ptr) {
  if (!ptr)
    return Status::success();
  ContextGuard guard(*impl_);
  MINFER_RETURN_IF_ERROR(guard.status());
  MINFER_CU(*impl_->api, cuMemFree, reinterpret_cast<CUdeviceptr>(ptr));
  return Status::success();
}

Status Runtime::upload(void *dst, const void *src, size_t bytes) {
  if (!dst || !src)
    return Status(ErrorCode::NullPointer, "upload: null pointer");
  ContextGuard guard(*impl_);
  MINFER_RETURN_IF_ERROR(guard.status());
  MINFER_CU(*impl_->api, cuMemcpyHtoD, reinterpret_cast<CUdeviceptr>(dst), src,
            bytes);
  return Status::success();
}

Status Runtime::download(void *dst, const void *src, size_t bytes) {
  if (!dst || !src)
    return Status(ErrorCode::NullPointer, "download: null pointer");
  ContextGuard guard(*impl_);
  MINFER_RETURN_IF_ERROR(guard.status());
  MINFER_CU(*impl_->api, cuMemcpyDtoH, dst, reinterpret_cast<CUdeviceptr>(src),
            bytes);
  return Status::success();
}

Status Runtime::fill(void *dst, uint8_t byte, size_t bytes, CUstream stream) {
  if (!dst)
    return Status(ErrorCode::NullPointer, "fill: dst is null");
  ContextGuard guard(*impl_);
  MINFER_RETURN_IF_ERROR(guard.status());
  MINFER_CU(*impl_->api, cuMemsetD8Async, reinterpret_cast<CUdeviceptr>(dst),
            byte, bytes, stream);
  return Status::success();
}

Status Runtime::synchronize(CUstream stream) {
  ContextGuard guard(*impl_);
  MINFER_RETURN_IF_ERROR(guard.status());
  MINFER_CU(*impl_->api, cuStreamSynchronize, stream);
  return Status::success();
}

} // namespace minfer::cuda
