//===- Jit.cpp - in-process compilation of attention kernels --------------===//
//
// The JIT is the compiler run as a library: the request becomes textual minfer
// IR (so the cache key is the exact program compiled), the IR is parsed into a
// fresh context, the named passes and the `minfer-to-ptx` pipeline run through
// a PassManager, and the PTX is read from each gpu.binary's object attribute.
// Diagnostics are captured and returned as CompileError, never printed or
// aborted on.
//
//===----------------------------------------------------------------------===//
#include "minfer/Runtime/Jit.h"
#include "minfer/InitMinfer.h"
#include "minfer/Runtime/Reference.h"
#include "mlir/Dialect/GPU/IR/GPUDialect.h"
#include "mlir/IR/Diagnostics.h"
#include "mlir/IR/MLIRContext.h"
#include "mlir/Parser/Parser.h"
#include "mlir/Pass/PassManager.h"
#include "mlir/Pass/PassRegistry.h"
#include "llvm/ADT/StringExtras.h"
#include "llvm/Support/FileSystem.h"
#include "llvm/Support/MemoryBuffer.h"
#include "llvm/Support/Path.h"
#include "llvm/Support/SHA256.h"
#include "llvm/Support/raw_ostream.h"
#include <chrono>
#include <cmath>
#include <cstdlib>
#include <mutex>

using namespace minfer;
using namespace minfer::jit;

namespace {
/// Bump when the generated code changes without the IR or pipeline changing.
constexpr const char *kCodegenVersion = "minfer-jit-2"; // 2: tuned stages per kind

/// The passes run on the top-level module (the PassManager's anchor, so the
/// text carries no `builtin.module(...)` wrapper).
std::string pipelineFor(kernel::Chip chip) {
  std::string c = kernel::chipName(chip);
  return "func.func(minfer-expand-sparse-attention),"
         "minfer-outline-tile-kernels{chip=" + c + "},minfer-to-ptx{chip=" + c + "}";
}

void registerOnce() {
  static std::once_flag once;
  std::call_once(once, [] { mlir::minfer::registerMinferPassesAndPipelines(); });
}

const char *elemSpelling(kernel::ElemType t) {
  return t == kernel::ElemType::BF16 ? "bf16" : "f16";
}

Status fail(const std::string &m) { return Status(ErrorCode::CompileError, m); }

/// Cache file of one kernel of one request.
std::string cachePath(const std::string &dir, const std::string &key,
                      const kernel::TileConfig &cfg) {
  llvm::SmallString<256> p(dir);
  llvm::sys::path::append(p, key + "-" + cfg.kernelName() + "." +
                                 kernel::chipName(cfg.chip) + ".ptx");
  return std::string(p);
}

/// Kernel kinds the expansion of `patterns` launches (exactly one).
kernel::KernelKind kindFor(const LayerPatterns &patterns) {
  bool anyVs = false, allDense = true;
  for (const HeadPattern &p : patterns) {
    anyVs |= p.kind == PatternKind::VerticalSlash;
    allDense &= p.kind == PatternKind::Dense;
  }
  return allDense ? kernel::KernelKind::Dense
                  : anyVs ? kernel::KernelKind::VerticalSlash
                          : kernel::KernelKind::Block;
}
} // namespace

std::string minfer::jit::cacheDirectory(const JitOptions &options) {
  if (!options.cacheDir.empty())
    return options.cacheDir;
  if (const char *env = std::getenv("MINFER_CACHE_DIR"); env && *env)
    return env;
  llvm::SmallString<256> p;
  if (const char *xdg = std::getenv("XDG_CACHE_HOME"); xdg && *xdg)
    p = xdg;
  else if (const char *home = std::getenv("HOME"); home && *home)
    llvm::sys::path::append(p, home, ".cache");
  else
    p = "/tmp";
  llvm::sys::path::append(p, "minfer");
  return std::string(p);
}

Status minfer::jit::buildRequestIR(const JitRequest &r, std::string &ir) {
  if (r.heads <= 0 || r.kvHeads <= 0 || r.heads % r.kvHeads != 0)
    return invalidArgument("jit: heads (" + std::to_string(r.heads) +
                           ") must be a positive multiple of kv heads (" +
                           std::to_string(r.kvHeads) + ")");
  MINFER_RETURN_IF_ERROR(checkHeadDim(r.headDim, "jit: "));
  if (static_cast<int64_t>(r.patterns.size()) != r.heads)
    return invalidArgument("jit: " + std::to_string(r.patterns.size()) +
                           " patterns for " + std::to_string(r.heads) + " heads");
  for (const HeadPattern &p : r.patterns)
    MINFER_RETURN_IF_ERROR(p.validate());
  float scale = r.scale > 0 ? r.scale : 1.0f / std::sqrt(float(r.headDim));
  if (!std::isfinite(scale))
    return invalidArgument("jit: scale must be finite");
  // Kernels exist for 64, 96 and 128; the runtime pads other head dims to
  // the next of them.
  const int64_t kernelDim = kernel::kernelHeadDim(r.headDim);
  auto memref = [&](int64_t h) {
    return "memref<?x" + std::to_string(h) + "x?x" + std::to_string(kernelDim) +
           "x" + elemSpelling(r.dtype) + ">";
  };
  std::string q = memref(r.heads), kv = memref(r.kvHeads);
  std::string patterns;
  for (size_t i = 0; i < r.patterns.size(); ++i)
    patterns += (i ? ", " : "") + r.patterns[i].str();
  llvm::raw_string_ostream os(ir);
  os << "func.func @attention(%q: " << q << ", %k: " << kv << ", %v: " << kv
     << ", %out: " << q << ") {\n"
     << "  minfer.sparse_attention %q, %k, %v, %out {patterns = [" << patterns
     << "], scale = " << llvm::format("%.9e", scale) << " : f32}\n"
     << "    : " << q << ", " << kv << ", " << kv << ", " << q << "\n"
     << "  return\n}\n";
  return Status::success();
}

Status minfer::jit::compile(const JitRequest &request, JitResult &result,
                            const JitOptions &options) {
  auto start = std::chrono::steady_clock::now();
  result = JitResult();
  MINFER_RETURN_IF_ERROR(buildRequestIR(request, result.inputIR));
  std::string pipeline = pipelineFor(request.chip);

  llvm::SHA256 hasher;
  hasher.update(kCodegenVersion);
  hasher.update(result.inputIR);
  hasher.update(pipeline);
  result.cacheKey = llvm::toHex(hasher.final(), /*LowerCase=*/true).substr(0, 32);

  const kernel::TileConfig cfg =
      kernel::TileConfig::tuned(kindFor(request.patterns), request.dtype,
                                kernel::kernelHeadDim(request.headDim), request.chip);
  std::string dir = cacheDirectory(options);
  std::string path = cachePath(dir, result.cacheKey, cfg);
  auto elapsed = [&] {
    return std::chrono::duration<double, std::milli>(
               std::chrono::steady_clock::now() - start)
        .count();
  };

  if (options.useCache) {
    if (auto buf = llvm::MemoryBuffer::getFile(path); buf && (*buf)->getBufferSize()) {
      result.kernels.push_back({cfg, (*buf)->getBuffer().str()});
      result.cacheHit = true;
      result.compileMs = elapsed();
      return Status::success();
    }
  }

  registerOnce();
  mlir::DialectRegistry registry;
  mlir::minfer::registerMinferDialects(registry);
  mlir::MLIRContext context(registry, mlir::MLIRContext::Threading::DISABLED);
  context.loadAllAvailableDialects();

  std::string diagnostics;
  mlir::ScopedDiagnosticHandler handler(&context, [&](mlir::Diagnostic &d) {
    llvm::raw_string_ostream os(diagnostics);
    os << d.getLocation() << ": " << d << "\n";
    return mlir::success();
  });

  mlir::OwningOpRef<mlir::ModuleOp> module =
      mlir::parseSourceString<mlir::ModuleOp>(result.inputIR, &context);
  if (!module)
    return fail("jit: generated IR does not parse: " + diagnostics);
  mlir::PassManager pm(&context);
  if (mlir::failed(mlir::parsePassPipeline(pipeline, pm)))
    return fail("jit: bad pipeline '" + pipeline + "': " + diagnostics);
  if (mlir::failed(pm.run(*module)))
    return fail("jit: compilation failed: " + diagnostics);

  std::string ptx, found;
  module->walk([&](mlir::gpu::BinaryOp binary) {
    found += " " + binary.getSymName().str();
    if (binary.getSymName() != cfg.kernelName())
      return;
    for (mlir::Attribute a : binary.getObjects())
      if (auto object = mlir::dyn_cast<mlir::gpu::ObjectAttr>(a))
        ptx = object.getObject().str();
  });
  if (ptx.empty())
    return fail("jit: the pipeline produced no PTX for " + cfg.kernelName() +
                " (binaries:" + (found.empty() ? " none" : found) + ")" +
                (diagnostics.empty() ? "" : ": " + diagnostics));
  result.kernels.push_back({cfg, ptx});

  if (options.useCache) {
    // Best effort: a read-only cache directory only costs recompilation.
    if (!llvm::sys::fs::create_directories(dir)) {
      std::string tmp = path + ".tmp";
      std::error_code ec;
      {
        llvm::raw_fd_ostream os(tmp, ec);
        if (!ec)
          os << ptx;
      }
      if (!ec)
        llvm::sys::fs::rename(tmp, path);
    }
  }
  result.compileMs = elapsed();
  return Status::success();
}
