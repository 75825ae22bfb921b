//===- MinferToPtx.cpp - the minfer-to-ptx pipeline -----------------------===//
//
// Lowers the gpu.modules of generated kernels to PTX:
//   convert-scf-to-cf
//   nvvm-attach-target{chip=<chip> features=+ptx80 (sm_90a: +ptx83)
//                      O=<opt-level>}
//   gpu.module(convert-nvgpu-to-nvvm, convert-gpu-to-nvvm,
//              convert-nvvm-to-llvm, reconcile-unrealized-casts)
//   gpu-module-to-binary{format=isa}
// short-pointers=1 makes shared-memory pointers 32-bit (off by default, see
// Pipelines.h). The default memref calling convention is kept (each memref<?xT>
// is 5 kernel parameters, the ABI of TileConfig.h). scf must be cf before
// convert-gpu-to-nvvm. PTX 8.0 (sm_90a: 8.3) is requested explicitly: LLVM's
// default PTX version for sm_80/sm_90 would abort inside LLVM. The chip is checked here,
// so a typo gives a diagnostic instead.
//
//===----------------------------------------------------------------------===//
#include "minfer/Transforms/AttentionKernelBuilder.h"
#include "minfer/Transforms/Pipelines.h"
#include "mlir/Conversion/Passes.h"
#include "mlir/Dialect/GPU/IR/GPUDialect.h"
#include "mlir/Dialect/GPU/Transforms/Passes.h"
#include "mlir/Pass/PassRegistry.h"
#include "llvm/Support/CommandLine.h"

using namespace mlir;

LogicalResult mlir::minfer::verifyMinferToPtxOptions(
    const MinferToPtxOptions &options,
    function_ref<LogicalResult(const Twine &)> emitError) {
  if (!parseChip(options.chip))
    return emitError("minfer-to-ptx: unsupported chip '" + options.chip +
                     "' (expected sm_80, sm_90 or sm_90a)");
  if (options.optLevel > 3)
    return emitError("minfer-to-ptx: opt-level must be 0-3, got " +
                     Twine(options.optLevel.getValue()));
  return success();
}

namespace {
/// NVPTX's `nvptx-short-ptr` is only a command-line option: 32-bit shared
/// addresses save a register and an instruction per ldmatrix/cp.async
/// address. It is read when gpu-module-to-binary creates the target machine.
void setNvptxShortPointers(bool on) {
  auto &opts = llvm::cl::getRegisteredOptions();
  auto it = opts.find("nvptx-short-ptr");
  if (it != opts.end())
    static_cast<llvm::cl::opt<bool> *>(it->second)->setValue(on);
}
} // namespace

void mlir::minfer::buildMinferToPtxPipeline(OpPassManager &pm,
                                            const MinferToPtxOptions &options) {
  if (options.shortPointers)
    setNvptxShortPointers(true);
  pm.addPass(createSCFToControlFlowPass());

  GpuNVVMAttachTargetOptions target;
  target.chip = options.chip;
  // sm_90a kernels need PTX 8.3 for fence.proxy.tensormap (the paired
  // kernel's TMA ring, AttentionKernelRing.cpp).
  target.features = options.chip == "sm_90a" ? "+ptx83" : "+ptx80";
  target.optLevel = options.optLevel;
  pm.addPass(createGpuNVVMAttachTarget(target));

  OpPassManager &gpuPm = pm.nest<gpu::GPUModuleOp>();
  gpuPm.addPass(createConvertNVGPUToNVVMPass());
  gpuPm.addPass(createConvertGpuOpsToNVVMOps());
  gpuPm.addPass(createConvertNVVMToLLVMPass());
  gpuPm.addPass(createReconcileUnrealizedCastsPass());

  GpuModuleToBinaryPassOptions binary;
  binary.compilationTarget = "isa";
  pm.addPass(createGpuModuleToBinaryPass(binary));
}

void mlir::minfer::registerMinferToPtxPipeline() {
  registerPassPipeline(
      "minfer-to-ptx",
      "Lower minfer's gpu.modules to PTX (gpu.binary, format=isa); options: "
      "chip=sm_80|sm_90|sm_90a, opt-level=0..3, short-pointers=0|1",
      [](OpPassManager &pm, StringRef optionsStr,
         function_ref<LogicalResult(const Twine &)> errorHandler) {
        MinferToPtxOptions options;
        std::string parseErrors;
        llvm::raw_string_ostream os(parseErrors);
        if (failed(options.parseFromString(optionsStr, os)))
          return errorHandler("minfer-to-ptx: " + parseErrors);
        if (failed(verifyMinferToPtxOptions(options, errorHandler)))
          return failure();
        buildMinferToPtxPipeline(pm, options);
        return success();
      },
      [](function_ref<void(const detail::PassOptions &)> optHandler) {
        optHandler(MinferToPtxOptions());
      });
}
