// One attention layer of a long-context model with a per-head pattern mix, as MInference's offline
// search would assign it (head 0 vertical-slash with MInference's default budgets, head 1 A-shape,
// head 2 block-sparse, head 3 dense). GQA: 4 query heads share 2 key/value heads; N is dynamic.
//
//   minfer-opt examples/sparse_attention.mlir --minfer-expand-sparse-attention
func.func @layer(%q: memref<1x4x?x128xbf16>, %k: memref<1x2x?x128xbf16>,
                 %v: memref<1x2x?x128xbf16>, %out: memref<1x4x?x128xbf16>) {
  minfer.sparse_attention %q, %k, %v, %out {
      patterns = [#minfer.vertical_slash<vertical = 1000, slash = 6096>,
                  #minfer.a_shape<sink = 128, local = 4096>,
                  #minfer.block_sparse<top_k = 100>,
                  #minfer.dense],
      scale = 0.0883883461 : f32}
    : memref<1x4x?x128xbf16>, memref<1x2x?x128xbf16>, memref<1x2x?x128xbf16>, memref<1x4x?x128xbf16>
  return
}
