//===- MinferDialect.h - minfer dialect -------------------------*- C++ -*-===//
#ifndef MINFER_DIALECT_MINFER_IR_MINFERDIALECT_H
#define MINFER_DIALECT_MINFER_IR_MINFERDIALECT_H

#include "mlir/IR/Dialect.h"

#include "minfer/Dialect/Minfer/IR/MinferOpsDialect.h.inc"

#endif
