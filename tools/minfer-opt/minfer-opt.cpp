//===- minfer-opt.cpp - mlir-opt with the minfer dialect and passes -------===//
#include "minfer/InitMinfer.h"
#include "mlir/Tools/mlir-opt/MlirOptMain.h"

int main(int argc, char **argv) {
  mlir::minfer::registerMinferPassesAndPipelines();
  mlir::DialectRegistry registry;
  mlir::minfer::registerMinferDialects(registry);
  return mlir::asMainReturnCode(
      mlir::MlirOptMain(argc, argv, "minfer optimizer driver\n", registry));
}
