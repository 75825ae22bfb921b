// Dense causal attention, the fallback and the baseline kernel (D = 64, fp16, 8 heads, 2 batches).
func.func @dense(%q: memref<2x8x?x64xf16>, %k: memref<2x8x?x64xf16>,
                 %v: memref<2x8x?x64xf16>, %out: memref<2x8x?x64xf16>) {
  minfer.sparse_attention %q, %k, %v, %out {
      patterns = [#minfer.dense, #minfer.dense, #minfer.dense, #minfer.dense,
                  #minfer.dense, #minfer.dense, #minfer.dense, #minfer.dense],
      scale = 0.125 : f32}
    : memref<2x8x?x64xf16>, memref<2x8x?x64xf16>, memref<2x8x?x64xf16>, memref<2x8x?x64xf16>
  return
}
