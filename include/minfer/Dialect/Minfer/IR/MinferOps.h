//===- MinferOps.h - minfer ops ---------------------------------*- C++ -*-===//
#ifndef MINFER_DIALECT_MINFER_IR_MINFEROPS_H
#define MINFER_DIALECT_MINFER_IR_MINFEROPS_H

#include "minfer/Dialect/Minfer/IR/MinferAttrs.h"
#include "minfer/Dialect/Minfer/IR/MinferDialect.h"
#include "mlir/Bytecode/BytecodeOpInterface.h"
#include "mlir/IR/BuiltinTypes.h"
#include "mlir/IR/OpDefinition.h"
#include "mlir/Interfaces/SideEffectInterfaces.h"

#define GET_OP_CLASSES
#include "minfer/Dialect/Minfer/IR/MinferOps.h.inc"

#endif
