//===- Passes.td - minfer passes ---------------------------*- tablegen -*-===//
#ifndef MINFER_TRANSFORMS_PASSES_TD
#define MINFER_TRANSFORMS_PASSES_TD

include "mlir/Pass/PassBase.td"

def MinferExpandSparseAttention
    : Pass<"minfer-expand-sparse-attention", "func::FuncOp"> {
  let summary = "Expand minfer.sparse_attention into estimation, index and kernel ops";
  let description = [{
    Groups the heads of each `minfer.sparse_attention` by pattern, allocates
    score and sparse-index buffers, and emits for each group its estimation
    op (`vs_estimate`, `bs_estimate`) and index op (`build_*_index`), then one
    tile-kernel op over all heads: `dense_attention` when every head is dense,
    `vs_attention` when any head is vertical-slash, else `block_attention`.
  }];
  let dependentDialects = ["memref::MemRefDialect", "arith::ArithDialect"];
  let options = [
    Option<"blockSize", "block-size", "int64_t", "64",
           "Query/key block size of the sparse index (only 64 is supported)">,
    Option<"lastQ", "last-q", "int64_t", "0",
           "Override last_q of every vertical-slash head (0: keep the attribute's)">,
    Option<"forcedVertical", "forced-vertical", "int64_t", "30",
           "Leading key columns every vertical-slash head keeps">,
    Option<"forcedSlash", "forced-slash", "int64_t", "100",
           "Diagonals next to the main diagonal every vertical-slash head keeps">,
  ];
}

#endif // MINFER_TRANSFORMS_PASSES_TD
