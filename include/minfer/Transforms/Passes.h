//===- Passes.h - minfer passes and pipelines -------------------*- C++ -*-===//
#ifndef MINFER_TRANSFORMS_PASSES_H
#define MINFER_TRANSFORMS_PASSES_H

#include "minfer/Dialect/Minfer/IR/MinferOps.h"
#include "mlir/Dialect/Arith/IR/Arith.h"
#include "mlir/Dialect/Func/IR/FuncOps.h"
#include "mlir/Dialect/MemRef/IR/MemRef.h"
#include "mlir/Pass/Pass.h"

namespace mlir::minfer {

#define GEN_PASS_DECL
#include "minfer/Transforms/Passes.h.inc"

#define GEN_PASS_REGISTRATION
#include "minfer/Transforms/Passes.h.inc"

} // namespace mlir::minfer

#endif // MINFER_TRANSFORMS_PASSES_H
