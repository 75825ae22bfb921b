//===- MinferAttrs.cpp - sparse pattern attribute verifiers ---------------===//
//
// Budgets must be positive: a zero budget would select nothing, and a row with
// nothing selected has no defined softmax. Budgets larger than the sequence are
// legal here (N is usually dynamic); index construction clamps them.
//
//===----------------------------------------------------------------------===//
#include "minfer/Dialect/Minfer/IR/MinferAttrs.h"
#include "minfer/Dialect/Minfer/IR/MinferDialect.h"
#include "mlir/IR/Builders.h"
#include "llvm/ADT/TypeSwitch.h"

using namespace mlir;
using namespace mlir::minfer;

#define GET_ATTRDEF_CLASSES
#include "minfer/Dialect/Minfer/IR/MinferAttrs.cpp.inc"

void MinferDialect::registerAttributes() {
  addAttributes<
#define GET_ATTRDEF_LIST
#include "minfer/Dialect/Minfer/IR/MinferAttrs.cpp.inc"
      >();
}

static LogicalResult checkPositive(function_ref<InFlightDiagnostic()> emitError,
                                   StringRef what, int64_t value) {
  if (value > 0)
    return success();
  return emitError() << what << " must be positive, got " << value;
}

LogicalResult AShapeAttr::verify(function_ref<InFlightDiagnostic()> emitError,
                                 int64_t sink, int64_t local) {
  if (sink < 0)
    return emitError() << "a_shape sink must be non-negative, got " << sink;
  return checkPositive(emitError, "a_shape local", local);
}

LogicalResult
VerticalSlashAttr::verify(function_ref<InFlightDiagnostic()> emitError,
                          int64_t vertical, int64_t slash, int64_t lastQ) {
  if (failed(checkPositive(emitError, "vertical_slash vertical", vertical)) ||
      failed(checkPositive(emitError, "vertical_slash slash", slash)) ||
      failed(checkPositive(emitError, "vertical_slash last_q", lastQ)))
    return failure();
  if (lastQ % 16 != 0)
    return emitError() << "vertical_slash last_q must be a multiple of 16, got "
                       << lastQ;
  return success();
}

LogicalResult
BlockSparseAttr::verify(function_ref<InFlightDiagnostic()> emitError,
                        int64_t topK, int64_t block) {
  if (failed(checkPositive(emitError, "block_sparse top_k", topK)))
    return failure();
  if (block != 64)
    return emitError() << "block_sparse block must be 64 (the kernel tile), got "
                       << block;
  return success();
}
