//===- MinferDialect.cpp - minfer dialect registration --------------------===//
#include "minfer/Dialect/Minfer/IR/MinferDialect.h"
#include "minfer/Dialect/Minfer/IR/MinferOps.h"

using namespace mlir;
using namespace mlir::minfer;

#include "minfer/Dialect/Minfer/IR/MinferOpsDialect.cpp.inc"

void MinferDialect::initialize() {
  addOperations<
#define GET_OP_LIST
#include "minfer/Dialect/Minfer/IR/MinferOps.cpp.inc"
      >();
  registerAttributes();
}
