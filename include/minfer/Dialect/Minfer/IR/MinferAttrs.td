//===- MinferAttrs.td - sparse pattern attributes ----------*- tablegen -*-===//
//
// One attribute per sparse pattern. Budgets are in tokens (A-shape), in
// columns/diagonals (vertical-slash) or in 64x64 blocks (block-sparse), as in
// MInference's per-head config.
//
//===----------------------------------------------------------------------===//
#ifndef MINFER_ATTRS_TD
#define MINFER_ATTRS_TD

include "minfer/Dialect/Minfer/IR/MinferDialect.td"
include "mlir/IR/AttrTypeBase.td"

class Minfer_Attr<string name, string attrMnemonic, list<Trait> traits = []>
    : AttrDef<Minfer_Dialect, name, traits> {
  let mnemonic = attrMnemonic;
}

def Minfer_DenseAttr : Minfer_Attr<"Dense", "dense"> {
  let summary = "Dense causal attention (no sparsity)";
}

def Minfer_AShapeAttr : Minfer_Attr<"AShape", "a_shape"> {
  let summary = "Attention sinks plus a local window (StreamingLLM)";
  let description = [{
    Every query reads the first `sink` tokens and the `local` tokens before
    it. Executed as key ranges per 64-row query block.
  }];
  let parameters = (ins "int64_t":$sink, "int64_t":$local);
  let assemblyFormat = "`<` struct(params) `>`";
  let genVerifyDecl = 1;
}

def Minfer_VerticalSlashAttr : Minfer_Attr<"VerticalSlash", "vertical_slash"> {
  let summary = "Top-k key columns plus top-k diagonals, estimated online";
  let description = [{
    `vertical` columns and `slash` diagonals are chosen per head at run time
    from the softmax of the last `last_q` queries against all keys.
  }];
  let parameters = (ins "int64_t":$vertical, "int64_t":$slash,
                        DefaultValuedParameter<"int64_t", "64">:$last_q);
  let assemblyFormat = "`<` struct(params) `>`";
  let genVerifyDecl = 1;
}

def Minfer_BlockSparseAttr : Minfer_Attr<"BlockSparse", "block_sparse"> {
  let summary = "Top-k 64x64 blocks per query block from mean-pooled Q and K";
  let parameters = (ins "int64_t":$top_k,
                        DefaultValuedParameter<"int64_t", "64">:$block);
  let assemblyFormat = "`<` struct(params) `>`";
  let genVerifyDecl = 1;
}

def Minfer_AnyPatternAttr : AnyAttrOf<[Minfer_DenseAttr, Minfer_AShapeAttr,
    Minfer_VerticalSlashAttr, Minfer_BlockSparseAttr]>;

def Minfer_PatternArrayAttr : TypedArrayAttrBase<Minfer_AnyPatternAttr,
    "array of minfer sparse pattern attributes (one per query head)">;

#endif // MINFER_ATTRS_TD
