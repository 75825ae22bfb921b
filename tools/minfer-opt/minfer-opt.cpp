//===- minfer-opt.cpp - mlir-opt with the minfer dialect and passes -------===//
#include "minfer/Dialect/Minfer/IR/MinferDialect.h"
#include "minfer/Transforms/Passes.h"
#include "minfer/Transforms/Pipelines.h"
#include "mlir/InitAllDialects.h"
#include "mlir/InitAllExtensions.h"
#include "mlir/InitAllPasses.h"
#include "mlir/Target/LLVM/NVVM/Target.h"
#include "mlir/Target/LLVMIR/Dialect/All.h"
#include "mlir/Tools/mlir-opt/MlirOptMain.h"

int main(int argc, char **argv) {
  mlir::registerAllPasses();
  mlir::minfer::registerMinferPasses();
  mlir::minfer::registerMinferToPtxPipeline();
  mlir::DialectRegistry registry;
  mlir::registerAllDialects(registry);
  // ConvertToLLVM interfaces (arith, vector, ...) used by convert-gpu-to-nvvm.
  mlir::registerAllExtensions(registry);
  mlir::registerAllToLLVMIRTranslations(registry);
  mlir::NVVM::registerNVVMTargetInterfaceExternalModels(registry);
  registry.insert<mlir::minfer::MinferDialect>();
  return mlir::asMainReturnCode(
      mlir::MlirOptMain(argc, argv, "minfer optimizer driver\n", registry));
}
