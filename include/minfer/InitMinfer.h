//===- InitMinfer.h - one registration for every minfer tool ----*- C++ -*-===//
//
// minfer-opt, the JIT and the fuzzer all need the same dialects, extensions
// and translations (convert-gpu-to-nvvm needs the ConvertToLLVM interfaces of
// arith/vector/...; gpu-module-to-binary needs the LLVM IR translations and
// the NVVM target) and the same passes. Keeping the list here stops them from
// drifting apart.
//
//===----------------------------------------------------------------------===//
#ifndef MINFER_INITMINFER_H
#define MINFER_INITMINFER_H

#include "minfer/Dialect/Minfer/IR/MinferDialect.h"
#include "minfer/Transforms/Passes.h"
#include "minfer/Transforms/Pipelines.h"
#include "mlir/InitAllDialects.h"
#include "mlir/InitAllExtensions.h"
#include "mlir/InitAllPasses.h"
#include "mlir/Target/LLVM/NVVM/Target.h"
#include "mlir/Target/LLVMIR/Dialect/All.h"

namespace mlir::minfer {

/// Upstream dialects, extensions and translations + the minfer dialect.
inline void registerMinferDialects(DialectRegistry &registry) {
  registerAllDialects(registry);
  registerAllExtensions(registry);
  registerAllToLLVMIRTranslations(registry);
  NVVM::registerNVVMTargetInterfaceExternalModels(registry);
  registry.insert<MinferDialect>();
}

/// Upstream passes, minfer passes and the `minfer-to-ptx` pipeline (global
/// registries: call once per process).
inline void registerMinferPassesAndPipelines() {
  registerAllPasses();
  registerMinferPasses();
  registerMinferToPtxPipeline();
}

} // namespace mlir::minfer

#endif // MINFER_INITMINFER_H
