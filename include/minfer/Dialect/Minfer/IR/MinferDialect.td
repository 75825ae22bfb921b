//===- MinferDialect.td - minfer dialect definition --------*- tablegen -*-===//
//
// The `minfer` dialect models dynamic sparse attention for long-context prefill
// (MInference 1.0): a high-level attention op carrying one sparse pattern per
// head, and the lower-level estimation, index-construction and tile-kernel ops
// a pass expands it into.
//
//===----------------------------------------------------------------------===//
#ifndef MINFER_DIALECT_TD
#define MINFER_DIALECT_TD

include "mlir/IR/OpBase.td"

def Minfer_Dialect : Dialect {
  let name = "minfer";
  let summary = "Dynamic sparse attention (A-shape, vertical-slash, block-sparse)";
  let description = [{
    Ops work on memrefs in destination-passing style: the caller owns every
    buffer, which is what the runtime does with device pointers. Shapes are
    `[B, H, N, D]` for queries and outputs and `[B, Hkv, N, D]` for keys and
    values (grouped-query attention when H > Hkv).
  }];
  let cppNamespace = "::mlir::minfer";
  let useDefaultAttributePrinterParser = 1;
  let extraClassDeclaration = [{
    void registerAttributes();
  }];
}

class Minfer_Op<string mnemonic, list<Trait> traits = []>
    : Op<Minfer_Dialect, mnemonic, traits>;

#endif // MINFER_DIALECT_TD
