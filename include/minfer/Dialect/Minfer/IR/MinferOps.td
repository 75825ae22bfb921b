//===- MinferOps.td - minfer op definitions ----------------*- tablegen -*-===//
//
// Three levels:
//  1. `minfer.sparse_attention`: what a user writes; one pattern per head.
//  2. Estimation (`vs_estimate`, `bs_estimate`) and index construction
//     (`build_*_index`): the online, per-call part of MInference.
//  3. Tile kernels (`dense_attention`, `block_attention`, `vs_attention`):
//     FlashAttention-2 kernels over 64-row query blocks that read the index.
//
// The sparse index shared by levels 2 and 3 (all int32, NB = ceil(N / 64)):
//   range_count  [B, H, NB]        key ranges per query block
//   ranges       [B, H, NB, R, 2]  [start, end) token ranges, disjoint, sorted
//   column_count [B, H, NB]        gathered vertical columns per query block
//   column_index [B, H, NB, C]     columns outside every range, sorted
// See include/minfer/Runtime/SparseIndex.h for the exact contract.
//
//===----------------------------------------------------------------------===//
#ifndef MINFER_OPS_TD
#define MINFER_OPS_TD

include "minfer/Dialect/Minfer/IR/MinferDialect.td"
include "minfer/Dialect/Minfer/IR/MinferAttrs.td"
include "mlir/IR/CommonAttrConstraints.td"
include "mlir/Interfaces/SideEffectInterfaces.td"

def Minfer_AttnMemRef : MemRefRankOf<[BF16, F16, F32], [4]>;
def Minfer_ScoreMemRef : MemRefOf<[F32]>;
def Minfer_IndexMemRef : MemRefOf<[I32]>;

//===----------------------------------------------------------------------===//
// Level 1
//===----------------------------------------------------------------------===//

def Minfer_SparseAttentionOp : Minfer_Op<"sparse_attention"> {
  let summary = "Causal attention with one sparse pattern per query head";
  let description = [{
    `output = softmax(scale * query @ key^T + mask) @ value`, where the mask of
    head `h` is causal intersected with what `patterns[h]` selects. Query and
    output are `[B, H, N, D]`, key and value `[B, Hkv, N, D]` with H % Hkv == 0.
    D must be 64, 96 or 128 and static; H must be static.

    ```mlir
    minfer.sparse_attention %q, %k, %v, %o {
        patterns = [#minfer.vertical_slash<vertical = 1000, slash = 6096>,
                    #minfer.a_shape<sink = 128, local = 4096>],
        scale = 0.088388 : f32}
      : memref<1x2x?x128xbf16>, memref<1x2x?x128xbf16>,
        memref<1x2x?x128xbf16>, memref<1x2x?x128xbf16>
    ```
  }];
  let arguments = (ins
    Arg<Minfer_AttnMemRef, "", [MemRead]>:$query,
    Arg<Minfer_AttnMemRef, "", [MemRead]>:$key,
    Arg<Minfer_AttnMemRef, "", [MemRead]>:$value,
    Arg<Minfer_AttnMemRef, "", [MemWrite]>:$output,
    Minfer_PatternArrayAttr:$patterns,
    F32Attr:$scale,
    DefaultValuedAttr<BoolAttr, "true">:$causal);
  let assemblyFormat = [{
    $query `,` $key `,` $value `,` $output attr-dict `:` type($query) `,`
    type($key) `,` type($value) `,` type($output)
  }];
  let hasVerifier = 1;
}

//===----------------------------------------------------------------------===//
// Level 2: estimation
//===----------------------------------------------------------------------===//

def Minfer_VsEstimateOp : Minfer_Op<"vs_estimate"> {
  let summary = "Vertical and diagonal attention mass of the last queries";
  let description = [{
    For each head in `heads`: softmax(scale * q[N-last_q:] @ k^T) with causal
    masking, then `vertical_scores[b, h, j]` = column sum over those rows and
    `slash_scores[b, h, o]` = sum of the entries on diagonal offset o = i - j.
    Score buffers are `[B, H, N]` f32; other heads are left untouched.
  }];
  let arguments = (ins
    Arg<Minfer_AttnMemRef, "", [MemRead]>:$query,
    Arg<Minfer_AttnMemRef, "", [MemRead]>:$key,
    Arg<Minfer_ScoreMemRef, "", [MemWrite]>:$vertical_scores,
    Arg<Minfer_ScoreMemRef, "", [MemWrite]>:$slash_scores,
    DenseI64ArrayAttr:$heads,
    I64Attr:$last_q,
    F32Attr:$scale);
  let assemblyFormat = [{
    $query `,` $key `into` $vertical_scores `,` $slash_scores attr-dict `:`
    type($query) `,` type($key) `into` type($vertical_scores) `,` type($slash_scores)
  }];
  let hasVerifier = 1;
}

def Minfer_BsEstimateOp : Minfer_Op<"bs_estimate"> {
  let summary = "Pooled block scores: mean-pooled Q times mean-pooled K^T";
  let description = [{
    `block_scores[b, h, m, n]` = scale * mean(q block m) . mean(k block n) for
    n <= m, and -inf above the block diagonal. Buffer is `[B, H, NB, NB]` f32.
  }];
  let arguments = (ins
    Arg<Minfer_AttnMemRef, "", [MemRead]>:$query,
    Arg<Minfer_AttnMemRef, "", [MemRead]>:$key,
    Arg<Minfer_ScoreMemRef, "", [MemWrite]>:$block_scores,
    DenseI64ArrayAttr:$heads,
    DefaultValuedAttr<I64Attr, "64">:$block,
    F32Attr:$scale);
  let assemblyFormat = [{
    $query `,` $key `into` $block_scores attr-dict `:`
    type($query) `,` type($key) `into` type($block_scores)
  }];
  let hasVerifier = 1;
}

//===----------------------------------------------------------------------===//
// Level 2: index construction
//===----------------------------------------------------------------------===//

class Minfer_BuildIndexOp<string mnemonic> : Minfer_Op<mnemonic> {
  dag indexOutputs = (ins
    Arg<Minfer_IndexMemRef, "", [MemWrite]>:$range_count,
    Arg<Minfer_IndexMemRef, "", [MemWrite]>:$ranges,
    Arg<Minfer_IndexMemRef, "", [MemWrite]>:$column_count,
    Arg<Minfer_IndexMemRef, "", [MemWrite]>:$column_index);
  let hasVerifier = 1;
}

def Minfer_BuildVsIndexOp : Minfer_BuildIndexOp<"build_vs_index"> {
  let summary = "Top-k verticals and slashes to key ranges plus gathered columns";
  let description = [{
    Per head: top `vertical[i]` columns (the first `forced_vertical` always
    kept) and top `slash[i]` diagonals (the `forced_slash` nearest the main
    diagonal always kept). Each query block's slashes become merged [start,
    end) key ranges; verticals not inside a range become gathered columns.
  }];
  let arguments = !con((ins
    Arg<Minfer_ScoreMemRef, "", [MemRead]>:$vertical_scores,
    Arg<Minfer_ScoreMemRef, "", [MemRead]>:$slash_scores), indexOutputs, (ins
    DenseI64ArrayAttr:$heads,
    DenseI64ArrayAttr:$vertical,
    DenseI64ArrayAttr:$slash,
    DefaultValuedAttr<I64Attr, "30">:$forced_vertical,
    DefaultValuedAttr<I64Attr, "100">:$forced_slash,
    DefaultValuedAttr<I64Attr, "64">:$block));
  let assemblyFormat = [{
    $vertical_scores `,` $slash_scores `into` $range_count `,` $ranges `,`
    $column_count `,` $column_index attr-dict `:` type($vertical_scores) `,`
    type($slash_scores) `into` type($range_count) `,` type($ranges) `,`
    type($column_count) `,` type($column_index)
  }];
}

def Minfer_BuildBsIndexOp : Minfer_BuildIndexOp<"build_bs_index"> {
  let summary = "Top-k pooled blocks per query block to key ranges";
  let arguments = !con((ins
    Arg<Minfer_ScoreMemRef, "", [MemRead]>:$block_scores), indexOutputs, (ins
    Index:$seq_len,
    DenseI64ArrayAttr:$heads,
    DenseI64ArrayAttr:$top_k,
    DefaultValuedAttr<I64Attr, "64">:$block));
  let assemblyFormat = [{
    $block_scores `,` $seq_len `into` $range_count `,` $ranges `,`
    $column_count `,` $column_index attr-dict `:` type($block_scores) `into`
    type($range_count) `,` type($ranges) `,` type($column_count) `,`
    type($column_index)
  }];
}

def Minfer_BuildAShapeIndexOp : Minfer_BuildIndexOp<"build_a_shape_index"> {
  let summary = "Sink and local-window key ranges per query block";
  let arguments = !con((ins Index:$seq_len), indexOutputs, (ins
    DenseI64ArrayAttr:$heads,
    DenseI64ArrayAttr:$sink,
    DenseI64ArrayAttr:$local,
    DefaultValuedAttr<I64Attr, "64">:$block));
  let assemblyFormat = [{
    $seq_len `into` $range_count `,` $ranges `,` $column_count `,`
    $column_index attr-dict `:` type($range_count) `,` type($ranges) `,`
    type($column_count) `,` type($column_index)
  }];
}

def Minfer_BuildDenseIndexOp : Minfer_BuildIndexOp<"build_dense_index"> {
  let summary = "One causal key range per query block (dense heads in a mixed call)";
  let arguments = !con((ins Index:$seq_len), indexOutputs, (ins
    DenseI64ArrayAttr:$heads,
    DefaultValuedAttr<I64Attr, "64">:$block));
  let assemblyFormat = [{
    $seq_len `into` $range_count `,` $ranges `,` $column_count `,`
    $column_index attr-dict `:` type($range_count) `,` type($ranges) `,`
    type($column_count) `,` type($column_index)
  }];
}

//===----------------------------------------------------------------------===//
// Level 3: tile kernels
//===----------------------------------------------------------------------===//

def Minfer_DenseAttentionOp : Minfer_Op<"dense_attention"> {
  let summary = "FlashAttention-2 causal kernel over all key blocks";
  let arguments = (ins
    Arg<Minfer_AttnMemRef, "", [MemRead]>:$query,
    Arg<Minfer_AttnMemRef, "", [MemRead]>:$key,
    Arg<Minfer_AttnMemRef, "", [MemRead]>:$value,
    Arg<Minfer_AttnMemRef, "", [MemWrite]>:$output,
    F32Attr:$scale,
    DefaultValuedAttr<BoolAttr, "true">:$causal);
  let assemblyFormat = [{
    $query `,` $key `,` $value `,` $output attr-dict `:` type($query) `,`
    type($key) `,` type($value) `,` type($output)
  }];
  let hasVerifier = 1;
}

def Minfer_BlockAttentionOp : Minfer_Op<"block_attention"> {
  let summary = "FlashAttention-2 kernel over per-query-block key ranges";
  let description = [{
    Serves block-sparse, A-shape and dense heads: each 64-row query block
    visits its `ranges` in 64-key tiles, masking causally and past each range
    end. Column lists are ignored.
  }];
  let arguments = (ins
    Arg<Minfer_AttnMemRef, "", [MemRead]>:$query,
    Arg<Minfer_AttnMemRef, "", [MemRead]>:$key,
    Arg<Minfer_AttnMemRef, "", [MemRead]>:$value,
    Arg<Minfer_IndexMemRef, "", [MemRead]>:$range_count,
    Arg<Minfer_IndexMemRef, "", [MemRead]>:$ranges,
    Arg<Minfer_AttnMemRef, "", [MemWrite]>:$output,
    F32Attr:$scale,
    DefaultValuedAttr<BoolAttr, "true">:$causal);
  let assemblyFormat = [{
    $query `,` $key `,` $value `,` $range_count `,` $ranges `,` $output
    attr-dict `:` type($query) `,` type($key) `,` type($value) `,`
    type($range_count) `,` type($ranges) `,` type($output)
  }];
  let hasVerifier = 1;
}

def Minfer_VsAttentionOp : Minfer_Op<"vs_attention"> {
  let summary = "Key ranges, then gathered vertical columns in 1x64 strips";
  let description = [{
    The vertical-slash kernel: per 64-row query block, first the key ranges
    (as `block_attention`), then the columns of `column_index` gathered 64 at
    a time. Columns never lie inside a range, so nothing is counted twice.
  }];
  let arguments = (ins
    Arg<Minfer_AttnMemRef, "", [MemRead]>:$query,
    Arg<Minfer_AttnMemRef, "", [MemRead]>:$key,
    Arg<Minfer_AttnMemRef, "", [MemRead]>:$value,
    Arg<Minfer_IndexMemRef, "", [MemRead]>:$range_count,
    Arg<Minfer_IndexMemRef, "", [MemRead]>:$ranges,
    Arg<Minfer_IndexMemRef, "", [MemRead]>:$column_count,
    Arg<Minfer_IndexMemRef, "", [MemRead]>:$column_index,
    Arg<Minfer_AttnMemRef, "", [MemWrite]>:$output,
    F32Attr:$scale,
    DefaultValuedAttr<BoolAttr, "true">:$causal);
  let assemblyFormat = [{
    $query `,` $key `,` $value `,` $range_count `,` $ranges `,` $column_count
    `,` $column_index `,` $output attr-dict `:` type($query) `,` type($key)
    `,` type($value) `,` type($range_count) `,` type($ranges) `,`
    type($column_count) `,` type($column_index) `,` type($output)
  }];
  let hasVerifier = 1;
}

#endif // MINFER_OPS_TD
