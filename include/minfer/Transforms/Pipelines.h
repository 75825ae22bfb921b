//===- Pipelines.h - minfer pass pipelines ----------------------*- C++ -*-===//
//
// `minfer-to-ptx`: gpu.modules of generated kernels -> gpu.binary with PTX.
//
//===----------------------------------------------------------------------===//
#ifndef MINFER_TRANSFORMS_PIPELINES_H
#define MINFER_TRANSFORMS_PIPELINES_H

#include "mlir/Pass/PassManager.h"
#include "mlir/Pass/PassOptions.h"

namespace mlir::minfer {

struct MinferToPtxOptions : public PassPipelineOptions<MinferToPtxOptions> {
  PassOptions::Option<std::string> chip{
      *this, "chip", llvm::cl::desc("Target chip: sm_80, sm_90 or sm_90a"),
      llvm::cl::init("sm_80")};
  PassOptions::Option<unsigned> optLevel{
      *this, "opt-level", llvm::cl::desc("LLVM optimization level (0-3)"),
      llvm::cl::init(3)};
  /// Off by default: on an H100 it was neutral for D = 128 and 5-20% slower
  /// for D = 64 (more registers, fewer resident CTAs).
  PassOptions::Option<bool> shortPointers{
      *this, "short-pointers",
      llvm::cl::desc("32-bit shared-memory addresses (LLVM's nvptx-short-ptr, "
                     "a process-wide option, set the way Triton sets it)"),
      llvm::cl::init(false)};
};

/// Checks the options before any LLVM component sees them (an unknown chip or
/// PTX feature can abort LLVM); reports through `emitError`.
LogicalResult
verifyMinferToPtxOptions(const MinferToPtxOptions &options,
                         function_ref<LogicalResult(const Twine &)> emitError);

/// scf -> cf, nvvm-attach-target, gpu.module(nvgpu/gpu/nvvm -> llvm),
/// gpu-module-to-binary{format=isa}. Options must be verified.
void buildMinferToPtxPipeline(OpPassManager &pm,
                              const MinferToPtxOptions &options);

/// Registers `minfer-to-ptx`.
void registerMinferToPtxPipeline();

} // namespace mlir::minfer

#endif // MINFER_TRANSFORMS_PIPELINES_H
