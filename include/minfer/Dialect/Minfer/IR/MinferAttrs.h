//===- MinferAttrs.h - sparse pattern attributes ----------------*- C++ -*-===//
#ifndef MINFER_DIALECT_MINFER_IR_MINFERATTRS_H
#define MINFER_DIALECT_MINFER_IR_MINFERATTRS_H

#include "mlir/IR/Attributes.h"
#include "mlir/IR/BuiltinAttributes.h"
#include "mlir/IR/DialectImplementation.h"

#define GET_ATTRDEF_CLASSES
#include "minfer/Dialect/Minfer/IR/MinferAttrs.h.inc"

#endif
