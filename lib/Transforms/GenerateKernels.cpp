//===- GenerateKernels.cpp - minfer-generate-kernels ----------------------===//
//
// Adds the FlashAttention-2 tile kernels named by the pass options to the
// module, one `gpu.module @<kernel>` each, so that `minfer-to-ptx` and
// `minfer-dump-ptx` produce the ahead-of-time PTX the runtime loads
// (`<dir>/<kernel>.<chip>.ptx`, symbol `<kernel>`). Option values are checked
// here and reported as errors on the module.
//
//===----------------------------------------------------------------------===//
#include "minfer/Transforms/AttentionKernelBuilder.h"
#include "minfer/Transforms/Passes.h"
#include "mlir/Dialect/GPU/IR/GPUDialect.h"
#include "mlir/Dialect/LLVMIR/LLVMDialect.h"
#include "mlir/Dialect/LLVMIR/NVVMDialect.h"
#include "mlir/Dialect/NVGPU/IR/NVGPUDialect.h"
#include "mlir/Dialect/SCF/IR/SCF.h"
#include "mlir/Dialect/Vector/IR/VectorOps.h"

using namespace mlir;
namespace kernel = ::minfer::kernel;

namespace mlir::minfer {
#define GEN_PASS_DEF_MINFERGENERATEKERNELS
#include "minfer/Transforms/Passes.h.inc"

namespace {
struct GenerateKernelsPass final
    : impl::MinferGenerateKernelsBase<GenerateKernelsPass> {
  using Base::Base;

  void runOnOperation() override {
    ModuleOp module = getOperation();
    SmallVector<kernel::KernelKind> kindList;
    for (const std::string &k : kinds) {
      std::optional<kernel::KernelKind> kind = parseKernelKind(k);
      if (!kind) {
        module.emitError() << "minfer-generate-kernels: unknown kernel kind '"
                           << k << "' (expected dense, block or vs)";
        return signalPassFailure();
      }
      kindList.push_back(*kind);
    }
    if (kindList.empty())
      kindList = {kernel::KernelKind::Dense, kernel::KernelKind::Block,
                  kernel::KernelKind::VerticalSlash};
    SmallVector<kernel::ElemType> elemList;
    for (const std::string &t : dtypes) {
      std::optional<kernel::ElemType> elem = parseElemType(t);
      if (!elem) {
        module.emitError() << "minfer-generate-kernels: unknown dtype '" << t
                           << "' (expected bf16 or f16)";
        return signalPassFailure();
      }
      elemList.push_back(*elem);
    }
    if (elemList.empty())
      elemList = {kernel::ElemType::BF16, kernel::ElemType::F16};
    SmallVector<int64_t> dimList(headDims.begin(), headDims.end());
    if (dimList.empty())
      dimList = {64, 96, 128};
    std::optional<kernel::Chip> chipValue = parseChip(chip);
    if (!chipValue) {
      module.emitError() << "minfer-generate-kernels: unknown chip '" << chip
                         << "' (expected sm_80, sm_90 or sm_90a)";
      return signalPassFailure();
    }

    for (kernel::KernelKind kind : kindList)
      for (int64_t d : dimList)
        for (kernel::ElemType elem : elemList) {
          int64_t blockM = blockMOption(kind, denseBlockM, blockBlockM, vsBlockM);
          // The tuned kernel, and those of the longer-sequence tiers where
          // their tuning differs (all unless `stages` picks one stage count).
          SmallVector<int64_t, 3> lengths{0};
          for (int64_t tier : kernel::kSequenceTiers)
            if (stages == 0 &&
                kernel::hasLongSequenceTuning(kind, *chipValue, tier))
              lengths.push_back(tier);
          for (int64_t seqLen : lengths) {
            kernel::TileConfig cfg = kernel::TileConfig::tuned(
                kind, elem, d, *chipValue, blockM, seqLen);
            if (stages > 0)
              cfg.stages = stages;
            if (valueStages >= 0 && cfg.pairsQueryBlocks())
              cfg.valueStages = valueStages;
            if (minCtasPerSm >= 0)
              cfg.minCtasPerSm = minCtasPerSm;
            if (std::string err = cfg.validate(); !err.empty()) {
              module.emitError() << "minfer-generate-kernels: " << err;
              return signalPassFailure();
            }
            if (failed(
                    getOrCreateAttentionKernel(module, module.getLoc(), cfg)))
              return signalPassFailure();
          }
        }
  }
};
} // namespace
} // namespace mlir::minfer
