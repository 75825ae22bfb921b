// RUN: minfer-opt %s -split-input-file -verify-diagnostics

// One case per diagnostic the minfer parsers and verifiers can emit (attribute
// verifiers in lib/Dialect/Minfer/IR/MinferAttrs.cpp, op verifiers in
// MinferOps.cpp), plus the ODS constraints and parse errors a user meets first.
// Cases named `hole_*` or marked "regression" used to verify (or, for N near
// INT64_MAX, to make the expansion build memrefs with negative sizes).

//===----------------------------------------------------------------------===//
// Pattern attributes: parse errors
//===----------------------------------------------------------------------===//

// an attribute mnemonic the dialect does not define.
func.func @unknown_mnemonic(%q: memref<1x2x64x128xbf16>) {
  minfer.sparse_attention %q, %q, %q, %q {
      // expected-error @+1 {{unknown attribute `strided` in dialect `minfer`}}
      patterns = [#minfer.strided<stride = 2>, #minfer.dense], scale = 1.0 : f32}
    : memref<1x2x64x128xbf16>, memref<1x2x64x128xbf16>, memref<1x2x64x128xbf16>, memref<1x2x64x128xbf16>
  return
}

// -----

// a_shape without its local window; the struct parser reports the missing
// parameter as a missing comma.
func.func @missing_param(%q: memref<1x2x64x128xbf16>) {
  minfer.sparse_attention %q, %q, %q, %q {
      // expected-error @+1 {{expected ','}}
      patterns = [#minfer.a_shape<sink = 1>, #minfer.dense], scale = 1.0 : f32}
    : memref<1x2x64x128xbf16>, memref<1x2x64x128xbf16>, memref<1x2x64x128xbf16>, memref<1x2x64x128xbf16>
  return
}

// -----

// vertical_slash with no budgets.
func.func @missing_all_params(%q: memref<1x2x64x128xbf16>) {
  minfer.sparse_attention %q, %q, %q, %q {
      // expected-error @+2 {{expected valid keyword}}
      // expected-error @+1 {{expected a parameter name in struct}}
      patterns = [#minfer.vertical_slash<>, #minfer.dense], scale = 1.0 : f32}
    : memref<1x2x64x128xbf16>, memref<1x2x64x128xbf16>, memref<1x2x64x128xbf16>, memref<1x2x64x128xbf16>
  return
}

// -----

// misspelt block.
func.func @unknown_param(%q: memref<1x2x64x128xbf16>) {
  minfer.sparse_attention %q, %q, %q, %q {
      // expected-error @+1 {{duplicate or unknown struct parameter name: blok}}
      patterns = [#minfer.block_sparse<top_k = 1, blok = 64>, #minfer.dense], scale = 1.0 : f32}
    : memref<1x2x64x128xbf16>, memref<1x2x64x128xbf16>, memref<1x2x64x128xbf16>, memref<1x2x64x128xbf16>
  return
}

// -----

// vertical given twice.
func.func @duplicate_param(%q: memref<1x2x64x128xbf16>) {
  minfer.sparse_attention %q, %q, %q, %q {
      // expected-error @+1 {{duplicate or unknown struct parameter name: vertical}}
      patterns = [#minfer.vertical_slash<vertical = 1, vertical = 2, slash = 3>, #minfer.dense], scale = 1.0 : f32}
    : memref<1x2x64x128xbf16>, memref<1x2x64x128xbf16>, memref<1x2x64x128xbf16>, memref<1x2x64x128xbf16>
  return
}

// -----

// fractional budget.
func.func @non_integer_param(%q: memref<1x2x64x128xbf16>) {
  minfer.sparse_attention %q, %q, %q, %q {
      // expected-error @+2 {{expected integer value}}
      // expected-error @+1 {{failed to parse Minfer_BlockSparseAttr parameter 'top_k' which is to be a `int64_t`}}
      patterns = [#minfer.block_sparse<top_k = 1.5>, #minfer.dense], scale = 1.0 : f32}
    : memref<1x2x64x128xbf16>, memref<1x2x64x128xbf16>, memref<1x2x64x128xbf16>, memref<1x2x64x128xbf16>
  return
}

// -----

// budget beyond int64.
func.func @int64_overflow_param(%q: memref<1x2x64x128xbf16>) {
  minfer.sparse_attention %q, %q, %q, %q {
      // expected-error @+2 {{integer value too large}}
      // expected-error @+1 {{failed to parse Minfer_AShapeAttr parameter 'local' which is to be a `int64_t`}}
      patterns = [#minfer.a_shape<sink = 0, local = 99999999999999999999>, #minfer.dense], scale = 1.0 : f32}
    : memref<1x2x64x128xbf16>, memref<1x2x64x128xbf16>, memref<1x2x64x128xbf16>, memref<1x2x64x128xbf16>
  return
}

// -----

//===----------------------------------------------------------------------===//
// Pattern attributes: verifiers
//===----------------------------------------------------------------------===//

func.func @a_shape_negative_sink(%q: memref<1x2x64x128xbf16>) {
  minfer.sparse_attention %q, %q, %q, %q {
      // expected-error @+1 {{a_shape sink must be non-negative, got -1}}
      patterns = [#minfer.a_shape<sink = -1, local = 64>, #minfer.dense], scale = 1.0 : f32}
    : memref<1x2x64x128xbf16>, memref<1x2x64x128xbf16>, memref<1x2x64x128xbf16>, memref<1x2x64x128xbf16>
  return
}

// -----

func.func @a_shape_zero_local(%q: memref<1x2x64x128xbf16>) {
  minfer.sparse_attention %q, %q, %q, %q {
      // expected-error @+1 {{a_shape local must be positive, got 0}}
      patterns = [#minfer.a_shape<sink = 4, local = 0>, #minfer.dense], scale = 1.0 : f32}
    : memref<1x2x64x128xbf16>, memref<1x2x64x128xbf16>, memref<1x2x64x128xbf16>, memref<1x2x64x128xbf16>
  return
}

// -----

func.func @a_shape_negative_local(%q: memref<1x2x64x128xbf16>) {
  minfer.sparse_attention %q, %q, %q, %q {
      // expected-error @+1 {{a_shape local must be positive, got -64}}
      patterns = [#minfer.a_shape<sink = 4, local = -64>, #minfer.dense], scale = 1.0 : f32}
    : memref<1x2x64x128xbf16>, memref<1x2x64x128xbf16>, memref<1x2x64x128xbf16>, memref<1x2x64x128xbf16>
  return
}

// -----

func.func @vs_zero_vertical(%q: memref<1x2x64x128xbf16>) {
  minfer.sparse_attention %q, %q, %q, %q {
      // expected-error @+1 {{vertical_slash vertical must be positive, got 0}}
      patterns = [#minfer.vertical_slash<vertical = 0, slash = 2>, #minfer.dense], scale = 1.0 : f32}
    : memref<1x2x64x128xbf16>, memref<1x2x64x128xbf16>, memref<1x2x64x128xbf16>, memref<1x2x64x128xbf16>
  return
}

// -----

func.func @vs_negative_slash(%q: memref<1x2x64x128xbf16>) {
  minfer.sparse_attention %q, %q, %q, %q {
      // expected-error @+1 {{vertical_slash slash must be positive, got -5}}
      patterns = [#minfer.vertical_slash<vertical = 1, slash = -5>, #minfer.dense], scale = 1.0 : f32}
    : memref<1x2x64x128xbf16>, memref<1x2x64x128xbf16>, memref<1x2x64x128xbf16>, memref<1x2x64x128xbf16>
  return
}

// -----

func.func @vs_zero_last_q(%q: memref<1x2x64x128xbf16>) {
  minfer.sparse_attention %q, %q, %q, %q {
      // expected-error @+1 {{vertical_slash last_q must be positive, got 0}}
      patterns = [#minfer.vertical_slash<vertical = 1, slash = 2, last_q = 0>, #minfer.dense], scale = 1.0 : f32}
    : memref<1x2x64x128xbf16>, memref<1x2x64x128xbf16>, memref<1x2x64x128xbf16>, memref<1x2x64x128xbf16>
  return
}

// -----

func.func @vs_negative_last_q(%q: memref<1x2x64x128xbf16>) {
  minfer.sparse_attention %q, %q, %q, %q {
      // expected-error @+1 {{vertical_slash last_q must be positive, got -16}}
      patterns = [#minfer.vertical_slash<vertical = 1, slash = 2, last_q = -16>, #minfer.dense], scale = 1.0 : f32}
    : memref<1x2x64x128xbf16>, memref<1x2x64x128xbf16>, memref<1x2x64x128xbf16>, memref<1x2x64x128xbf16>
  return
}

// -----

func.func @vs_last_q_not_16(%q: memref<1x2x64x128xbf16>) {
  minfer.sparse_attention %q, %q, %q, %q {
      // expected-error @+1 {{vertical_slash last_q must be a multiple of 16, got 40}}
      patterns = [#minfer.vertical_slash<vertical = 1, slash = 2, last_q = 40>, #minfer.dense], scale = 1.0 : f32}
    : memref<1x2x64x128xbf16>, memref<1x2x64x128xbf16>, memref<1x2x64x128xbf16>, memref<1x2x64x128xbf16>
  return
}

// -----

func.func @bs_zero_top_k(%q: memref<1x2x64x128xbf16>) {
  minfer.sparse_attention %q, %q, %q, %q {
      // expected-error @+1 {{block_sparse top_k must be positive, got 0}}
      patterns = [#minfer.block_sparse<top_k = 0>, #minfer.dense], scale = 1.0 : f32}
    : memref<1x2x64x128xbf16>, memref<1x2x64x128xbf16>, memref<1x2x64x128xbf16>, memref<1x2x64x128xbf16>
  return
}

// -----

func.func @bs_negative_top_k(%q: memref<1x2x64x128xbf16>) {
  minfer.sparse_attention %q, %q, %q, %q {
      // expected-error @+1 {{block_sparse top_k must be positive, got -3}}
      patterns = [#minfer.block_sparse<top_k = -3, block = 64>, #minfer.dense], scale = 1.0 : f32}
    : memref<1x2x64x128xbf16>, memref<1x2x64x128xbf16>, memref<1x2x64x128xbf16>, memref<1x2x64x128xbf16>
  return
}

// -----

func.func @bs_block_128(%q: memref<1x2x64x128xbf16>) {
  minfer.sparse_attention %q, %q, %q, %q {
      // expected-error @+1 {{block_sparse block must be 64 (the kernel tile), got 128}}
      patterns = [#minfer.block_sparse<top_k = 4, block = 128>, #minfer.dense], scale = 1.0 : f32}
    : memref<1x2x64x128xbf16>, memref<1x2x64x128xbf16>, memref<1x2x64x128xbf16>, memref<1x2x64x128xbf16>
  return
}

// -----

func.func @bs_block_32(%q: memref<1x2x64x128xbf16>) {
  minfer.sparse_attention %q, %q, %q, %q {
      // expected-error @+1 {{block_sparse block must be 64 (the kernel tile), got 32}}
      patterns = [#minfer.block_sparse<top_k = 4, block = 32>, #minfer.dense], scale = 1.0 : f32}
    : memref<1x2x64x128xbf16>, memref<1x2x64x128xbf16>, memref<1x2x64x128xbf16>, memref<1x2x64x128xbf16>
  return
}

// -----

// a pattern in an attribute alias is verified too.
// expected-error @+1 {{block_sparse top_k must be positive, got 0}}
#bad = #minfer.block_sparse<top_k = 0>

// -----

//===----------------------------------------------------------------------===//
// ODS constraints
//===----------------------------------------------------------------------===//

// patterns holds a non-pattern attribute.
func.func @pattern_not_minfer(%q: memref<1x2x64x128xbf16>) {
  // expected-error @+1 {{attribute 'patterns' failed to satisfy constraint: array of minfer sparse pattern attributes (one per query head)}}
  minfer.sparse_attention %q, %q, %q, %q {patterns = [#minfer.dense, 1 : i32], scale = 1.0 : f32}
    : memref<1x2x64x128xbf16>, memref<1x2x64x128xbf16>, memref<1x2x64x128xbf16>, memref<1x2x64x128xbf16>
  return
}

// -----

// patterns is required.
func.func @patterns_missing(%q: memref<1x2x64x128xbf16>) {
  // expected-error @+1 {{requires attribute 'patterns'}}
  minfer.sparse_attention %q, %q, %q, %q {scale = 1.0 : f32}
    : memref<1x2x64x128xbf16>, memref<1x2x64x128xbf16>, memref<1x2x64x128xbf16>, memref<1x2x64x128xbf16>
  return
}

// -----

// scale must be an f32 attribute.
func.func @scale_f64(%q: memref<1x2x64x128xbf16>) {
  // expected-error @+1 {{attribute 'scale' failed to satisfy constraint: 32-bit float attribute}}
  minfer.dense_attention %q, %q, %q, %q {scale = 1.0 : f64}
    : memref<1x2x64x128xbf16>, memref<1x2x64x128xbf16>, memref<1x2x64x128xbf16>, memref<1x2x64x128xbf16>
  return
}

// -----

func.func @scale_missing(%q: memref<1x2x64x128xbf16>) {
  // expected-error @+1 {{requires attribute 'scale'}}
  minfer.dense_attention %q, %q, %q, %q {}
    : memref<1x2x64x128xbf16>, memref<1x2x64x128xbf16>, memref<1x2x64x128xbf16>, memref<1x2x64x128xbf16>
  return
}

// -----

// attention operands are bf16/f16/f32 only.
func.func @i8_element(%q: memref<1x2x64x128xi8>) {
  // expected-error @+1 {{operand #0 must be 4D memref of bfloat16 type or 16-bit float or 32-bit float values, but got 'memref<1x2x64x128xi8>'}}
  minfer.dense_attention %q, %q, %q, %q {scale = 1.0 : f32}
    : memref<1x2x64x128xi8>, memref<1x2x64x128xi8>, memref<1x2x64x128xi8>, memref<1x2x64x128xi8>
  return
}

// -----

// attention operands are rank 4.
func.func @rank3_query(%q: memref<2x64x128xbf16>, %k: memref<1x2x64x128xbf16>) {
  // expected-error @+1 {{operand #0 must be 4D memref}}
  minfer.dense_attention %q, %k, %k, %k {scale = 1.0 : f32}
    : memref<2x64x128xbf16>, memref<1x2x64x128xbf16>, memref<1x2x64x128xbf16>, memref<1x2x64x128xbf16>
  return
}

// -----

// unranked memrefs are rejected by the parser.
func.func @unranked_query(%q: memref<*xbf16>, %k: memref<1x2x64x128xbf16>) {
  // expected-error @+2 {{invalid kind of type specified: expected builtin.memref, but found 'memref<*xbf16>'}}
  minfer.dense_attention %q, %k, %k, %k {scale = 1.0 : f32}
    : memref<*xbf16>, memref<1x2x64x128xbf16>, memref<1x2x64x128xbf16>, memref<1x2x64x128xbf16>
  return
}

// -----

// score buffers are f32.
func.func @f16_scores(%q: memref<1x2x64x128xbf16>, %s: memref<1x2x64xf16>) {
  // expected-error @+1 {{operand #2 must be memref of 32-bit float values, but got 'memref<1x2x64xf16>'}}
  minfer.vs_estimate %q, %q into %s, %s {heads = array<i64: 0>, last_q = 64, scale = 1.0 : f32}
    : memref<1x2x64x128xbf16>, memref<1x2x64x128xbf16> into memref<1x2x64xf16>, memref<1x2x64xf16>
  return
}

// -----

// index buffers are i32.
func.func @i64_index(%n: index, %rc: memref<1x2x1xi64>, %r: memref<1x2x1x1x2xi32>, %cc: memref<1x2x1xi32>, %ci: memref<1x2x1x1xi32>) {
  // expected-error @+1 {{operand #1 must be memref of 32-bit signless integer values, but got 'memref<1x2x1xi64>'}}
  minfer.build_dense_index %n into %rc, %r, %cc, %ci {heads = array<i64: 0>}
    : memref<1x2x1xi64>, memref<1x2x1x1x2xi32>, memref<1x2x1xi32>, memref<1x2x1x1xi32>
  return
}

// -----

// heads is a dense i64 array.
func.func @heads_not_array(%n: index, %rc: memref<1x2x1xi32>, %r: memref<1x2x1x1x2xi32>, %ci: memref<1x2x1x1xi32>) {
  // expected-error @+1 {{attribute 'heads' failed to satisfy constraint: i64 dense array attribute}}
  minfer.build_dense_index %n into %rc, %r, %rc, %ci {heads = [0]}
    : memref<1x2x1xi32>, memref<1x2x1x1x2xi32>, memref<1x2x1xi32>, memref<1x2x1x1xi32>
  return
}

// -----

//===----------------------------------------------------------------------===//
// Attention operands (shared by every op that reads Q/K/V)
//===----------------------------------------------------------------------===//

// bf16 query, f16 key.
func.func @key_elem_mismatch(%a0: memref<1x2x64x128xbf16>, %a1: memref<1x2x64x128xf16>) {
  // expected-error @+1 {{query, key and value must share an element type}}
  minfer.sparse_attention %a0, %a1, %a0, %a0 {patterns = [#minfer.dense, #minfer.dense], scale = 1.0 : f32}
    : memref<1x2x64x128xbf16>, memref<1x2x64x128xf16>, memref<1x2x64x128xbf16>, memref<1x2x64x128xbf16>
  return
}

// -----

// bf16 query, f16 value.
func.func @value_elem_mismatch(%a0: memref<1x2x64x128xbf16>, %a1: memref<1x2x64x128xf16>) {
  // expected-error @+1 {{query, key and value must share an element type}}
  minfer.dense_attention %a0, %a0, %a1, %a0 {scale = 1.0 : f32}
    : memref<1x2x64x128xbf16>, memref<1x2x64x128xbf16>, memref<1x2x64x128xf16>, memref<1x2x64x128xbf16>
  return
}

// -----

func.func @output_elem_mismatch(%a0: memref<1x2x64x128xbf16>, %a1: memref<1x2x64x128xf32>) {
  // expected-error @+1 {{output element type must match the query's}}
  minfer.dense_attention %a0, %a0, %a0, %a1 {scale = 1.0 : f32}
    : memref<1x2x64x128xbf16>, memref<1x2x64x128xbf16>, memref<1x2x64x128xbf16>, memref<1x2x64x128xf32>
  return
}

// -----

func.func @output_seq_mismatch(%a0: memref<1x2x64x128xbf16>, %a1: memref<1x2x32x128xbf16>) {
  // expected-error @+1 {{output shape must match query shape [B, H, N, D]}}
  minfer.dense_attention %a0, %a0, %a0, %a1 {scale = 1.0 : f32}
    : memref<1x2x64x128xbf16>, memref<1x2x64x128xbf16>, memref<1x2x64x128xbf16>, memref<1x2x32x128xbf16>
  return
}

// -----

func.func @output_heads_mismatch(%a0: memref<1x2x64x128xbf16>, %a1: memref<1x4x64x128xbf16>) {
  // expected-error @+1 {{output shape must match query shape [B, H, N, D]}}
  minfer.dense_attention %a0, %a0, %a0, %a1 {scale = 1.0 : f32}
    : memref<1x2x64x128xbf16>, memref<1x2x64x128xbf16>, memref<1x2x64x128xbf16>, memref<1x4x64x128xbf16>
  return
}

// -----

func.func @kv_heads_mismatch(%a0: memref<1x2x64x128xbf16>, %a1: memref<1x1x64x128xbf16>) {
  // expected-error @+1 {{key and value shapes must match}}
  minfer.dense_attention %a0, %a0, %a1, %a0 {scale = 1.0 : f32}
    : memref<1x2x64x128xbf16>, memref<1x2x64x128xbf16>, memref<1x1x64x128xbf16>, memref<1x2x64x128xbf16>
  return
}

// -----

func.func @kv_head_dim_mismatch(%a0: memref<1x2x64x128xbf16>, %a1: memref<1x2x64x64xbf16>) {
  // expected-error @+1 {{key and value shapes must match}}
  minfer.dense_attention %a0, %a0, %a1, %a0 {scale = 1.0 : f32}
    : memref<1x2x64x128xbf16>, memref<1x2x64x128xbf16>, memref<1x2x64x64xbf16>, memref<1x2x64x128xbf16>
  return
}

// -----

func.func @batch_mismatch(%a0: memref<1x2x64x128xbf16>, %a1: memref<2x2x64x128xbf16>) {
  // expected-error @+1 {{batch mismatch: query has 1, key has 2}}
  minfer.sparse_attention %a0, %a1, %a1, %a0 {patterns = [#minfer.dense, #minfer.dense], scale = 1.0 : f32}
    : memref<1x2x64x128xbf16>, memref<2x2x64x128xbf16>, memref<2x2x64x128xbf16>, memref<1x2x64x128xbf16>
  return
}

// -----

// Regression (verifier hole): a dynamic query batch pinned only by the output
// used to verify.
func.func @batch_mismatch_via_output(%a0: memref<?x2x64x128xbf16>, %a1: memref<1x2x64x128xbf16>, %a2: memref<3x2x64x128xbf16>) {
  // expected-error @+1 {{batch mismatch: query has 3, key has 1}}
  minfer.dense_attention %a0, %a1, %a1, %a2 {scale = 1.0 : f32}
    : memref<?x2x64x128xbf16>, memref<1x2x64x128xbf16>, memref<1x2x64x128xbf16>, memref<3x2x64x128xbf16>
  return
}

// -----

func.func @seq_mismatch(%a0: memref<1x2x64x128xbf16>, %a1: memref<1x2x128x128xbf16>) {
  // expected-error @+1 {{sequence length mismatch: query has 64, key has 128}}
  minfer.dense_attention %a0, %a1, %a1, %a0 {scale = 1.0 : f32}
    : memref<1x2x64x128xbf16>, memref<1x2x128x128xbf16>, memref<1x2x128x128xbf16>, memref<1x2x64x128xbf16>
  return
}

// -----

func.func @head_dim_80(%a0: memref<1x2x64x80xbf16>) {
  // expected-error @+1 {{head dim must be static 64, 96 or 128, got 80}}
  minfer.dense_attention %a0, %a0, %a0, %a0 {scale = 1.0 : f32}
    : memref<1x2x64x80xbf16>, memref<1x2x64x80xbf16>, memref<1x2x64x80xbf16>, memref<1x2x64x80xbf16>
  return
}

// -----

func.func @head_dim_256(%a0: memref<1x2x64x256xbf16>) {
  // expected-error @+1 {{head dim must be static 64, 96 or 128, got 256}}
  minfer.sparse_attention %a0, %a0, %a0, %a0 {patterns = [#minfer.dense, #minfer.dense], scale = 1.0 : f32}
    : memref<1x2x64x256xbf16>, memref<1x2x64x256xbf16>, memref<1x2x64x256xbf16>, memref<1x2x64x256xbf16>
  return
}

// -----

func.func @head_dim_dynamic(%a0: memref<1x2x64x?xbf16>, %a1: memref<1x2x64x128xbf16>) {
  // expected-error @+1 {{head dim must be static 64, 96 or 128, got ?}}
  minfer.dense_attention %a0, %a1, %a1, %a0 {scale = 1.0 : f32}
    : memref<1x2x64x?xbf16>, memref<1x2x64x128xbf16>, memref<1x2x64x128xbf16>, memref<1x2x64x?xbf16>
  return
}

// -----

func.func @key_head_dim_mismatch(%a0: memref<1x2x64x128xbf16>, %a1: memref<1x2x64x64xbf16>) {
  // expected-error @+1 {{key head dim 64 differs from query head dim 128}}
  minfer.dense_attention %a0, %a1, %a1, %a0 {scale = 1.0 : f32}
    : memref<1x2x64x128xbf16>, memref<1x2x64x64xbf16>, memref<1x2x64x64xbf16>, memref<1x2x64x128xbf16>
  return
}

// -----

func.func @gqa_not_divisible(%a0: memref<1x8x?x128xbf16>, %a1: memref<1x3x?x128xbf16>) {
  // expected-error @+1 {{query heads (8) must be a multiple of key/value heads (3)}}
  minfer.sparse_attention %a0, %a1, %a1, %a0 {patterns = [#minfer.dense, #minfer.dense, #minfer.dense, #minfer.dense, #minfer.dense, #minfer.dense, #minfer.dense, #minfer.dense], scale = 1.0 : f32}
    : memref<1x8x?x128xbf16>, memref<1x3x?x128xbf16>, memref<1x3x?x128xbf16>, memref<1x8x?x128xbf16>
  return
}

// -----

func.func @gqa_more_kv_heads(%a0: memref<1x2x64x128xbf16>, %a1: memref<1x4x64x128xbf16>) {
  // expected-error @+1 {{query heads (2) must be a multiple of key/value heads (4)}}
  minfer.dense_attention %a0, %a1, %a1, %a0 {scale = 1.0 : f32}
    : memref<1x2x64x128xbf16>, memref<1x4x64x128xbf16>, memref<1x4x64x128xbf16>, memref<1x2x64x128xbf16>
  return
}

// -----

func.func @zero_kv_heads(%a0: memref<1x2x64x128xbf16>, %a1: memref<1x0x64x128xbf16>) {
  // expected-error @+1 {{key/value heads must be positive, got 0}}
  minfer.dense_attention %a0, %a1, %a1, %a0 {scale = 1.0 : f32}
    : memref<1x2x64x128xbf16>, memref<1x0x64x128xbf16>, memref<1x0x64x128xbf16>, memref<1x2x64x128xbf16>
  return
}

// -----

//===----------------------------------------------------------------------===//
// Regressions: `?` must not bridge two different static extents (verifier holes)
//===----------------------------------------------------------------------===//

// Regression (verifier hole): a dynamic key head dim used to hide a value head
// dim of 256.
func.func @hole_value_head_dim_via_dynamic_key(%a0: memref<1x2x64x128xbf16>, %a1: memref<1x2x64x?xbf16>, %a2: memref<1x2x64x256xbf16>) {
  // expected-error @+1 {{key head dim 256 differs from query head dim 128}}
  minfer.dense_attention %a0, %a1, %a2, %a0 {scale = 1.0 : f32}
    : memref<1x2x64x128xbf16>, memref<1x2x64x?xbf16>, memref<1x2x64x256xbf16>, memref<1x2x64x128xbf16>
  return
}

// -----

// Regression (verifier hole): a dynamic key H used to hide Hkv = 3 on the
// value.
func.func @hole_kv_heads_via_dynamic_key(%a0: memref<1x8x64x128xbf16>, %a1: memref<1x?x64x128xbf16>, %a2: memref<1x3x64x128xbf16>) {
  // expected-error @+1 {{query heads (8) must be a multiple of key/value heads (3)}}
  minfer.dense_attention %a0, %a1, %a2, %a0 {scale = 1.0 : f32}
    : memref<1x8x64x128xbf16>, memref<1x?x64x128xbf16>, memref<1x3x64x128xbf16>, memref<1x8x64x128xbf16>
  return
}

// -----

// Regression (verifier hole): Hkv = 0 used to verify when H was dynamic.
func.func @hole_zero_kv_heads_dynamic_h(%a0: memref<1x?x64x128xbf16>, %a1: memref<1x0x64x128xbf16>) {
  // expected-error @+1 {{key/value heads must be positive, got 0}}
  minfer.dense_attention %a0, %a1, %a1, %a0 {scale = 1.0 : f32}
    : memref<1x?x64x128xbf16>, memref<1x0x64x128xbf16>, memref<1x0x64x128xbf16>, memref<1x?x64x128xbf16>
  return
}

// -----

// Regression (verifier hole): N = 64 on the output and 128 on the value used to
// verify, as query and key were `?`.
func.func @hole_seq_via_output_and_value(%a0: memref<1x2x?x128xbf16>, %a1: memref<1x2x128x128xbf16>, %a2: memref<1x2x64x128xbf16>) {
  // expected-error @+1 {{sequence length mismatch: query has 64, key has 128}}
  minfer.dense_attention %a0, %a0, %a1, %a2 {scale = 1.0 : f32}
    : memref<1x2x?x128xbf16>, memref<1x2x?x128xbf16>, memref<1x2x128x128xbf16>, memref<1x2x64x128xbf16>
  return
}

// -----

// Regression (verifier hole): the sparse index and the kernel ABI hold token
// positions as int32.
func.func @hole_seq_len_int32(%a0: memref<1x1x2147483648x128xbf16>) {
  // expected-error @+1 {{sequence length 2147483648 exceeds the int32 sparse index range (2147483647)}}
  minfer.sparse_attention %a0, %a0, %a0, %a0 {patterns = [#minfer.block_sparse<top_k = 1>], scale = 1.0 : f32}
    : memref<1x1x2147483648x128xbf16>, memref<1x1x2147483648x128xbf16>, memref<1x1x2147483648x128xbf16>, memref<1x1x2147483648x128xbf16>
  return
}

// -----

// Regression (verifier hole): ceil(N / 64) used to overflow and the expansion
// built memrefs with negative sizes.
func.func @hole_seq_len_int64_max(%a0: memref<1x1x9223372036854775807x128xbf16>) {
  // expected-error @+1 {{sequence length 9223372036854775807 exceeds the int32 sparse index range (2147483647)}}
  minfer.sparse_attention %a0, %a0, %a0, %a0 {patterns = [#minfer.block_sparse<top_k = 1>], scale = 1.0 : f32}
    : memref<1x1x9223372036854775807x128xbf16>, memref<1x1x9223372036854775807x128xbf16>, memref<1x1x9223372036854775807x128xbf16>, memref<1x1x9223372036854775807x128xbf16>
  return
}

// -----

//===----------------------------------------------------------------------===//
// scale
//===----------------------------------------------------------------------===//

func.func @scale_zero(%a0: memref<1x2x64x128xbf16>) {
  // expected-error @+1 {{scale must be finite and positive, got 0}}
  minfer.dense_attention %a0, %a0, %a0, %a0 {scale = 0.0 : f32}
    : memref<1x2x64x128xbf16>, memref<1x2x64x128xbf16>, memref<1x2x64x128xbf16>, memref<1x2x64x128xbf16>
  return
}

// -----

func.func @scale_negative(%a0: memref<1x2x64x128xbf16>) {
  // expected-error @+1 {{scale must be finite and positive, got -1.250000e-01}}
  minfer.dense_attention %a0, %a0, %a0, %a0 {scale = -0.125 : f32}
    : memref<1x2x64x128xbf16>, memref<1x2x64x128xbf16>, memref<1x2x64x128xbf16>, memref<1x2x64x128xbf16>
  return
}

// -----

func.func @scale_inf(%a0: memref<1x2x64x128xbf16>) {
  // expected-error @+1 {{scale must be finite and positive, got INF}}
  minfer.dense_attention %a0, %a0, %a0, %a0 {scale = 0x7F800000 : f32}
    : memref<1x2x64x128xbf16>, memref<1x2x64x128xbf16>, memref<1x2x64x128xbf16>, memref<1x2x64x128xbf16>
  return
}

// -----

func.func @scale_neg_inf(%a0: memref<1x2x64x128xbf16>) {
  // expected-error @+1 {{scale must be finite and positive, got -INF}}
  minfer.dense_attention %a0, %a0, %a0, %a0 {scale = 0xFF800000 : f32}
    : memref<1x2x64x128xbf16>, memref<1x2x64x128xbf16>, memref<1x2x64x128xbf16>, memref<1x2x64x128xbf16>
  return
}

// -----

func.func @scale_nan(%a0: memref<1x2x64x128xbf16>) {
  // expected-error @+1 {{scale must be finite and positive, got nan}}
  minfer.dense_attention %a0, %a0, %a0, %a0 {scale = 0x7FC00000 : f32}
    : memref<1x2x64x128xbf16>, memref<1x2x64x128xbf16>, memref<1x2x64x128xbf16>, memref<1x2x64x128xbf16>
  return
}

// -----

func.func @sparse_scale_zero(%a0: memref<1x2x64x128xbf16>) {
  // expected-error @+1 {{scale must be finite and positive, got 0}}
  minfer.sparse_attention %a0, %a0, %a0, %a0 {patterns = [#minfer.dense, #minfer.dense], scale = 0.0 : f32}
    : memref<1x2x64x128xbf16>, memref<1x2x64x128xbf16>, memref<1x2x64x128xbf16>, memref<1x2x64x128xbf16>
  return
}

// -----

//===----------------------------------------------------------------------===//
// sparse_attention
//===----------------------------------------------------------------------===//

func.func @dynamic_heads(%a0: memref<1x?x64x128xbf16>) {
  // expected-error @+1 {{the number of query heads must be static}}
  minfer.sparse_attention %a0, %a0, %a0, %a0 {patterns = [#minfer.dense], scale = 1.0 : f32}
    : memref<1x?x64x128xbf16>, memref<1x?x64x128xbf16>, memref<1x?x64x128xbf16>, memref<1x?x64x128xbf16>
  return
}

// -----

// the expansion sizes buffers from the query.
func.func @dynamic_query_heads_static_output(%a0: memref<1x?x64x128xbf16>, %a1: memref<1x2x64x128xbf16>) {
  // expected-error @+1 {{the number of query heads must be static}}
  minfer.sparse_attention %a0, %a1, %a1, %a1 {patterns = [#minfer.dense, #minfer.dense], scale = 1.0 : f32}
    : memref<1x?x64x128xbf16>, memref<1x2x64x128xbf16>, memref<1x2x64x128xbf16>, memref<1x2x64x128xbf16>
  return
}

// -----

func.func @too_few_patterns(%a0: memref<1x2x64x128xbf16>) {
  // expected-error @+1 {{expects one pattern per query head: got 1 patterns for 2 heads}}
  minfer.sparse_attention %a0, %a0, %a0, %a0 {patterns = [#minfer.dense], scale = 1.0 : f32}
    : memref<1x2x64x128xbf16>, memref<1x2x64x128xbf16>, memref<1x2x64x128xbf16>, memref<1x2x64x128xbf16>
  return
}

// -----

func.func @too_many_patterns(%a0: memref<1x2x64x128xbf16>) {
  // expected-error @+1 {{expects one pattern per query head: got 3 patterns for 2 heads}}
  minfer.sparse_attention %a0, %a0, %a0, %a0 {patterns = [#minfer.dense, #minfer.dense, #minfer.dense], scale = 1.0 : f32}
    : memref<1x2x64x128xbf16>, memref<1x2x64x128xbf16>, memref<1x2x64x128xbf16>, memref<1x2x64x128xbf16>
  return
}

// -----

func.func @no_patterns(%a0: memref<1x2x64x128xbf16>) {
  // expected-error @+1 {{expects one pattern per query head: got 0 patterns for 2 heads}}
  minfer.sparse_attention %a0, %a0, %a0, %a0 {patterns = [], scale = 1.0 : f32}
    : memref<1x2x64x128xbf16>, memref<1x2x64x128xbf16>, memref<1x2x64x128xbf16>, memref<1x2x64x128xbf16>
  return
}

// -----

func.func @sparse_non_causal(%a0: memref<1x2x64x128xbf16>) {
  // expected-error @+1 {{only causal attention is supported (prefill)}}
  minfer.sparse_attention %a0, %a0, %a0, %a0 {patterns = [#minfer.dense, #minfer.dense], scale = 1.0 : f32, causal = false}
    : memref<1x2x64x128xbf16>, memref<1x2x64x128xbf16>, memref<1x2x64x128xbf16>, memref<1x2x64x128xbf16>
  return
}

// -----

func.func @last_q_exceeds_n(%a0: memref<1x2x64x128xbf16>) {
  // expected-error @+1 {{head 1: last_q (128) exceeds the sequence length (64)}}
  minfer.sparse_attention %a0, %a0, %a0, %a0 {patterns = [#minfer.dense, #minfer.vertical_slash<vertical = 4, slash = 4, last_q = 128>], scale = 1.0 : f32}
    : memref<1x2x64x128xbf16>, memref<1x2x64x128xbf16>, memref<1x2x64x128xbf16>, memref<1x2x64x128xbf16>
  return
}

// -----

// Regression (verifier hole): N pinned only by the output used to verify.
func.func @last_q_exceeds_n_from_output(%a0: memref<1x2x?x128xbf16>, %a1: memref<1x2x32x128xbf16>) {
  // expected-error @+1 {{head 0: last_q (64) exceeds the sequence length (32)}}
  minfer.sparse_attention %a0, %a0, %a0, %a1 {patterns = [#minfer.vertical_slash<vertical = 4, slash = 4>, #minfer.dense], scale = 1.0 : f32}
    : memref<1x2x?x128xbf16>, memref<1x2x?x128xbf16>, memref<1x2x?x128xbf16>, memref<1x2x32x128xbf16>
  return
}

// -----

//===----------------------------------------------------------------------===//
// vs_estimate
//===----------------------------------------------------------------------===//

func.func @vse_elem_mismatch(%a0: memref<1x4x128x128xbf16>, %a1: memref<1x2x128x128xf16>, %a2: memref<1x4x128xf32>) {
  // expected-error @+1 {{query, key and value must share an element type}}
  minfer.vs_estimate %a0, %a1 into %a2, %a2 {heads = array<i64: 0, 1>, last_q = 64, scale = 1.0 : f32}
    : memref<1x4x128x128xbf16>, memref<1x2x128x128xf16> into memref<1x4x128xf32>, memref<1x4x128xf32>
  return
}

// -----

func.func @vse_head_dim(%a0: memref<1x4x128x32xbf16>, %a1: memref<1x2x128x32xbf16>, %a2: memref<1x4x128xf32>) {
  // expected-error @+1 {{head dim must be static 64, 96 or 128, got 32}}
  minfer.vs_estimate %a0, %a1 into %a2, %a2 {heads = array<i64: 0, 1>, last_q = 64, scale = 1.0 : f32}
    : memref<1x4x128x32xbf16>, memref<1x2x128x32xbf16> into memref<1x4x128xf32>, memref<1x4x128xf32>
  return
}

// -----

func.func @vse_scale(%a0: memref<1x4x128x128xbf16>, %a1: memref<1x2x128x128xbf16>, %a2: memref<1x4x128xf32>) {
  // expected-error @+1 {{scale must be finite and positive, got -1}}
  minfer.vs_estimate %a0, %a1 into %a2, %a2 {heads = array<i64: 0>, last_q = 64, scale = -1.0 : f32}
    : memref<1x4x128x128xbf16>, memref<1x2x128x128xbf16> into memref<1x4x128xf32>, memref<1x4x128xf32>
  return
}

// -----

func.func @vse_scores_rank(%a0: memref<1x4x128x128xbf16>, %a1: memref<1x2x128x128xbf16>, %a2: memref<4x128xf32>, %a3: memref<1x4x128xf32>) {
  // expected-error @+1 {{vertical_scores must have rank 3, got 2}}
  minfer.vs_estimate %a0, %a1 into %a2, %a3 {heads = array<i64: 0, 1>, last_q = 64, scale = 1.0 : f32}
    : memref<1x4x128x128xbf16>, memref<1x2x128x128xbf16> into memref<4x128xf32>, memref<1x4x128xf32>
  return
}

// -----

func.func @vse_scores_seq(%a0: memref<1x4x128x128xbf16>, %a1: memref<1x2x128x128xbf16>, %a2: memref<1x4x128xf32>, %a3: memref<1x4x64xf32>) {
  // expected-error @+1 {{slash_scores dim 2 is 64, expected 128}}
  minfer.vs_estimate %a0, %a1 into %a2, %a3 {heads = array<i64: 0, 1>, last_q = 64, scale = 1.0 : f32}
    : memref<1x4x128x128xbf16>, memref<1x2x128x128xbf16> into memref<1x4x128xf32>, memref<1x4x64xf32>
  return
}

// -----

// scores are over query heads, not key/value heads.
func.func @vse_scores_heads(%a0: memref<1x4x128x128xbf16>, %a1: memref<1x2x128x128xbf16>, %a2: memref<1x2x128xf32>, %a3: memref<1x4x128xf32>) {
  // expected-error @+1 {{vertical_scores dim 1 is 2, expected 4}}
  minfer.vs_estimate %a0, %a1 into %a2, %a3 {heads = array<i64: 0, 1>, last_q = 64, scale = 1.0 : f32}
    : memref<1x4x128x128xbf16>, memref<1x2x128x128xbf16> into memref<1x2x128xf32>, memref<1x4x128xf32>
  return
}

// -----

// Regression (verifier hole): the two score buffers used to be checked only
// against the query.
func.func @vse_scores_batch_via_vertical(%a0: memref<?x4x128x128xbf16>, %a1: memref<?x2x128x128xbf16>, %a2: memref<1x4x128xf32>, %a3: memref<2x4x128xf32>) {
  // expected-error @+1 {{slash_scores dim 0 is 2, expected 1}}
  minfer.vs_estimate %a0, %a1 into %a2, %a3 {heads = array<i64: 0, 1>, last_q = 64, scale = 1.0 : f32}
    : memref<?x4x128x128xbf16>, memref<?x2x128x128xbf16> into memref<1x4x128xf32>, memref<2x4x128xf32>
  return
}

// -----

func.func @vse_heads_empty(%a0: memref<1x4x128x128xbf16>, %a1: memref<1x2x128x128xbf16>, %a2: memref<1x4x128xf32>) {
  // expected-error @+1 {{heads must not be empty}}
  minfer.vs_estimate %a0, %a1 into %a2, %a2 {heads = array<i64>, last_q = 64, scale = 1.0 : f32}
    : memref<1x4x128x128xbf16>, memref<1x2x128x128xbf16> into memref<1x4x128xf32>, memref<1x4x128xf32>
  return
}

// -----

func.func @vse_head_out_of_range(%a0: memref<1x4x128x128xbf16>, %a1: memref<1x2x128x128xbf16>, %a2: memref<1x4x128xf32>) {
  // expected-error @+1 {{head 4 out of range [0, 4)}}
  minfer.vs_estimate %a0, %a1 into %a2, %a2 {heads = array<i64: 0, 4>, last_q = 64, scale = 1.0 : f32}
    : memref<1x4x128x128xbf16>, memref<1x2x128x128xbf16> into memref<1x4x128xf32>, memref<1x4x128xf32>
  return
}

// -----

func.func @vse_head_negative(%a0: memref<1x?x128x128xbf16>, %a1: memref<1x2x128x128xbf16>, %a2: memref<1x?x128xf32>) {
  // expected-error @+1 {{head -1 out of range [0, ?)}}
  minfer.vs_estimate %a0, %a1 into %a2, %a2 {heads = array<i64: -1>, last_q = 64, scale = 1.0 : f32}
    : memref<1x?x128x128xbf16>, memref<1x2x128x128xbf16> into memref<1x?x128xf32>, memref<1x?x128xf32>
  return
}

// -----

func.func @vse_head_twice(%a0: memref<1x4x128x128xbf16>, %a1: memref<1x2x128x128xbf16>, %a2: memref<1x4x128xf32>) {
  // expected-error @+1 {{head 2 listed twice}}
  minfer.vs_estimate %a0, %a1 into %a2, %a2 {heads = array<i64: 2, 0, 2>, last_q = 64, scale = 1.0 : f32}
    : memref<1x4x128x128xbf16>, memref<1x2x128x128xbf16> into memref<1x4x128xf32>, memref<1x4x128xf32>
  return
}

// -----

func.func @vse_last_q_zero(%a0: memref<1x4x128x128xbf16>, %a1: memref<1x2x128x128xbf16>, %a2: memref<1x4x128xf32>) {
  // expected-error @+1 {{last_q must be a positive multiple of 16, got 0}}
  minfer.vs_estimate %a0, %a1 into %a2, %a2 {heads = array<i64: 0>, last_q = 0, scale = 1.0 : f32}
    : memref<1x4x128x128xbf16>, memref<1x2x128x128xbf16> into memref<1x4x128xf32>, memref<1x4x128xf32>
  return
}

// -----

func.func @vse_last_q_not_16(%a0: memref<1x4x128x128xbf16>, %a1: memref<1x2x128x128xbf16>, %a2: memref<1x4x128xf32>) {
  // expected-error @+1 {{last_q must be a positive multiple of 16, got 24}}
  minfer.vs_estimate %a0, %a1 into %a2, %a2 {heads = array<i64: 0>, last_q = 24, scale = 1.0 : f32}
    : memref<1x4x128x128xbf16>, memref<1x2x128x128xbf16> into memref<1x4x128xf32>, memref<1x4x128xf32>
  return
}

// -----

func.func @vse_last_q_exceeds_n(%a0: memref<1x4x128x128xbf16>, %a1: memref<1x2x128x128xbf16>, %a2: memref<1x4x128xf32>) {
  // expected-error @+1 {{last_q (256) exceeds the sequence length (128)}}
  minfer.vs_estimate %a0, %a1 into %a2, %a2 {heads = array<i64: 0>, last_q = 256, scale = 1.0 : f32}
    : memref<1x4x128x128xbf16>, memref<1x2x128x128xbf16> into memref<1x4x128xf32>, memref<1x4x128xf32>
  return
}

// -----

// Regression (verifier hole): N given only by a score buffer used to be
// ignored.
func.func @vse_last_q_exceeds_n_from_scores(%a0: memref<1x4x?x128xbf16>, %a1: memref<1x2x?x128xbf16>, %a2: memref<1x4x?xf32>, %a3: memref<1x4x32xf32>) {
  // expected-error @+1 {{last_q (64) exceeds the sequence length (32)}}
  minfer.vs_estimate %a0, %a1 into %a2, %a3 {heads = array<i64: 0>, last_q = 64, scale = 1.0 : f32}
    : memref<1x4x?x128xbf16>, memref<1x2x?x128xbf16> into memref<1x4x?xf32>, memref<1x4x32xf32>
  return
}

// -----

func.func @vse_seq_len_int32(%a0: memref<1x4x?x128xbf16>, %a1: memref<1x2x?x128xbf16>, %a2: memref<1x4x?xf32>, %a3: memref<1x4x3000000000xf32>) {
  // expected-error @+1 {{sequence length 3000000000 exceeds the int32 sparse index range (2147483647)}}
  minfer.vs_estimate %a0, %a1 into %a2, %a3 {heads = array<i64: 0>, last_q = 64, scale = 1.0 : f32}
    : memref<1x4x?x128xbf16>, memref<1x2x?x128xbf16> into memref<1x4x?xf32>, memref<1x4x3000000000xf32>
  return
}

// -----

func.func @vse_last_q_missing(%a0: memref<1x4x128x128xbf16>, %a1: memref<1x2x128x128xbf16>, %a2: memref<1x4x128xf32>) {
  // expected-error @+1 {{requires attribute 'last_q'}}
  minfer.vs_estimate %a0, %a1 into %a2, %a2 {heads = array<i64: 0>, scale = 1.0 : f32}
    : memref<1x4x128x128xbf16>, memref<1x2x128x128xbf16> into memref<1x4x128xf32>, memref<1x4x128xf32>
  return
}

// -----

//===----------------------------------------------------------------------===//
// bs_estimate
//===----------------------------------------------------------------------===//

func.func @bse_block_32(%a0: memref<1x4x130x64xbf16>, %a1: memref<1x4x3x3xf32>) {
  // expected-error @+1 {{block must be 64 (the kernel tile), got 32}}
  minfer.bs_estimate %a0, %a0 into %a1 {heads = array<i64: 0>, block = 32, scale = 1.0 : f32}
    : memref<1x4x130x64xbf16>, memref<1x4x130x64xbf16> into memref<1x4x3x3xf32>
  return
}

// -----

func.func @bse_scale_inf(%a0: memref<1x4x130x64xbf16>, %a1: memref<1x4x3x3xf32>) {
  // expected-error @+1 {{scale must be finite and positive, got INF}}
  minfer.bs_estimate %a0, %a0 into %a1 {heads = array<i64: 0>, scale = 0x7F800000 : f32}
    : memref<1x4x130x64xbf16>, memref<1x4x130x64xbf16> into memref<1x4x3x3xf32>
  return
}

// -----

func.func @bse_seq_mismatch(%a0: memref<1x4x130x64xbf16>, %a1: memref<1x4x64x64xbf16>, %a2: memref<1x4x3x3xf32>) {
  // expected-error @+1 {{sequence length mismatch: query has 130, key has 64}}
  minfer.bs_estimate %a0, %a1 into %a2 {heads = array<i64: 0>, scale = 1.0 : f32}
    : memref<1x4x130x64xbf16>, memref<1x4x64x64xbf16> into memref<1x4x3x3xf32>
  return
}

// -----

func.func @bse_scores_rank(%a0: memref<1x4x130x64xbf16>, %a1: memref<1x4x3xf32>) {
  // expected-error @+1 {{block_scores must have rank 4, got 3}}
  minfer.bs_estimate %a0, %a0 into %a1 {heads = array<i64: 0>, scale = 1.0 : f32}
    : memref<1x4x130x64xbf16>, memref<1x4x130x64xbf16> into memref<1x4x3xf32>
  return
}

// -----

// N = 130 needs NB = 3 (ceil).
func.func @bse_scores_nb(%a0: memref<1x4x130x64xbf16>, %a1: memref<1x4x2x2xf32>) {
  // expected-error @+1 {{block_scores dim 2 is 2, expected 3}}
  minfer.bs_estimate %a0, %a0 into %a1 {heads = array<i64: 0>, scale = 1.0 : f32}
    : memref<1x4x130x64xbf16>, memref<1x4x130x64xbf16> into memref<1x4x2x2xf32>
  return
}

// -----

func.func @bse_scores_kb(%a0: memref<1x4x130x64xbf16>, %a1: memref<1x4x3x4xf32>) {
  // expected-error @+1 {{block_scores dim 3 is 4, expected 3}}
  minfer.bs_estimate %a0, %a0 into %a1 {heads = array<i64: 0>, scale = 1.0 : f32}
    : memref<1x4x130x64xbf16>, memref<1x4x130x64xbf16> into memref<1x4x3x4xf32>
  return
}

// -----

// Regression (verifier hole): used to verify with a dynamic N.
func.func @bse_scores_not_square(%a0: memref<1x4x?x64xbf16>, %a1: memref<1x4x3x4xf32>) {
  // expected-error @+1 {{block_scores must be [B, H, NB, NB], got 3 query blocks and 4 key blocks}}
  minfer.bs_estimate %a0, %a0 into %a1 {heads = array<i64: 0>, scale = 1.0 : f32}
    : memref<1x4x?x64xbf16>, memref<1x4x?x64xbf16> into memref<1x4x3x4xf32>
  return
}

// -----

func.func @bse_heads_out_of_range(%a0: memref<1x4x130x64xbf16>, %a1: memref<1x4x3x3xf32>) {
  // expected-error @+1 {{head 7 out of range [0, 4)}}
  minfer.bs_estimate %a0, %a0 into %a1 {heads = array<i64: 7>, scale = 1.0 : f32}
    : memref<1x4x130x64xbf16>, memref<1x4x130x64xbf16> into memref<1x4x3x3xf32>
  return
}

// -----

func.func @bse_heads_empty(%a0: memref<1x4x130x64xbf16>, %a1: memref<1x4x3x3xf32>) {
  // expected-error @+1 {{heads must not be empty}}
  minfer.bs_estimate %a0, %a0 into %a1 {heads = array<i64>, scale = 1.0 : f32}
    : memref<1x4x130x64xbf16>, memref<1x4x130x64xbf16> into memref<1x4x3x3xf32>
  return
}

// -----

//===----------------------------------------------------------------------===//
// build_vs_index
//===----------------------------------------------------------------------===//

func.func @bvi_vertical_rank(%a0: memref<1x2x200x1xf32>, %a1: memref<1x2x200xf32>, %a2: memref<1x2x4xi32>, %a3: memref<1x2x4x8x2xi32>, %a4: memref<1x2x4x30xi32>) {
  // expected-error @+1 {{vertical_scores must have rank 3, got 4}}
  minfer.build_vs_index %a0, %a1 into %a2, %a3, %a2, %a4 {heads = array<i64: 0, 1>, vertical = array<i64: 30, 30>, slash = array<i64: 8, 8>}
    : memref<1x2x200x1xf32>, memref<1x2x200xf32> into memref<1x2x4xi32>, memref<1x2x4x8x2xi32>, memref<1x2x4xi32>, memref<1x2x4x30xi32>
  return
}

// -----

func.func @bvi_slash_seq(%a0: memref<1x2x200xf32>, %a1: memref<1x2x100xf32>, %a2: memref<1x2x4xi32>, %a3: memref<1x2x4x8x2xi32>, %a4: memref<1x2x4x30xi32>) {
  // expected-error @+1 {{slash_scores dim 2 is 100, expected 200}}
  minfer.build_vs_index %a0, %a1 into %a2, %a3, %a2, %a4 {heads = array<i64: 0, 1>, vertical = array<i64: 30, 30>, slash = array<i64: 8, 8>}
    : memref<1x2x200xf32>, memref<1x2x100xf32> into memref<1x2x4xi32>, memref<1x2x4x8x2xi32>, memref<1x2x4xi32>, memref<1x2x4x30xi32>
  return
}

// -----

// Regression (verifier hole): a static N on slash_scores alone used to be
// ignored.
func.func @bvi_slash_pins_seq(%a0: memref<1x2x?xf32>, %a1: memref<1x2x200xf32>, %a2: memref<1x2x5xi32>, %a3: memref<1x2x5x8x2xi32>, %a4: memref<1x2x5x30xi32>) {
  // expected-error @+1 {{range_count dim 2 is 5, expected 4}}
  minfer.build_vs_index %a0, %a1 into %a2, %a3, %a2, %a4 {heads = array<i64: 0, 1>, vertical = array<i64: 30, 30>, slash = array<i64: 8, 8>}
    : memref<1x2x?xf32>, memref<1x2x200xf32> into memref<1x2x5xi32>, memref<1x2x5x8x2xi32>, memref<1x2x5xi32>, memref<1x2x5x30xi32>
  return
}

// -----

func.func @bvi_seq_len_int32(%a0: memref<1x2x4294967296xf32>, %a1: memref<1x2x?xi32>, %a2: memref<1x2x?x8x2xi32>, %a3: memref<1x2x?x30xi32>) {
  // expected-error @+1 {{sequence length 4294967296 exceeds the int32 sparse index range (2147483647)}}
  minfer.build_vs_index %a0, %a0 into %a1, %a2, %a1, %a3 {heads = array<i64: 0, 1>, vertical = array<i64: 30, 30>, slash = array<i64: 8, 8>}
    : memref<1x2x4294967296xf32>, memref<1x2x4294967296xf32> into memref<1x2x?xi32>, memref<1x2x?x8x2xi32>, memref<1x2x?xi32>, memref<1x2x?x30xi32>
  return
}

// -----

func.func @bvi_block(%a0: memref<1x2x200xf32>, %a1: memref<1x2x4xi32>, %a2: memref<1x2x4x8x2xi32>, %a3: memref<1x2x4x30xi32>) {
  // expected-error @+1 {{block must be 64 (the kernel tile), got 128}}
  minfer.build_vs_index %a0, %a0 into %a1, %a2, %a1, %a3 {heads = array<i64: 0, 1>, vertical = array<i64: 30, 30>, slash = array<i64: 8, 8>, block = 128}
    : memref<1x2x200xf32>, memref<1x2x200xf32> into memref<1x2x4xi32>, memref<1x2x4x8x2xi32>, memref<1x2x4xi32>, memref<1x2x4x30xi32>
  return
}

// -----

func.func @bvi_range_count_rank(%a0: memref<1x2x200xf32>, %a1: memref<2x4xi32>, %a2: memref<1x2x4x8x2xi32>, %a3: memref<1x2x4xi32>, %a4: memref<1x2x4x30xi32>) {
  // expected-error @+1 {{range_count must have rank 3, got 2}}
  minfer.build_vs_index %a0, %a0 into %a1, %a2, %a3, %a4 {heads = array<i64: 0, 1>, vertical = array<i64: 30, 30>, slash = array<i64: 8, 8>}
    : memref<1x2x200xf32>, memref<1x2x200xf32> into memref<2x4xi32>, memref<1x2x4x8x2xi32>, memref<1x2x4xi32>, memref<1x2x4x30xi32>
  return
}

// -----

// N = 200 needs NB = 4.
func.func @bvi_range_count_nb(%a0: memref<1x2x200xf32>, %a1: memref<1x2x3xi32>, %a2: memref<1x2x4x8x2xi32>, %a3: memref<1x2x4xi32>, %a4: memref<1x2x4x30xi32>) {
  // expected-error @+1 {{range_count dim 2 is 3, expected 4}}
  minfer.build_vs_index %a0, %a0 into %a1, %a2, %a3, %a4 {heads = array<i64: 0, 1>, vertical = array<i64: 30, 30>, slash = array<i64: 8, 8>}
    : memref<1x2x200xf32>, memref<1x2x200xf32> into memref<1x2x3xi32>, memref<1x2x4x8x2xi32>, memref<1x2x4xi32>, memref<1x2x4x30xi32>
  return
}

// -----

func.func @bvi_ranges_rank(%a0: memref<1x2x200xf32>, %a1: memref<1x2x4xi32>, %a2: memref<1x2x4x16xi32>, %a3: memref<1x2x4x30xi32>) {
  // expected-error @+1 {{ranges must have rank 5, got 4}}
  minfer.build_vs_index %a0, %a0 into %a1, %a2, %a1, %a3 {heads = array<i64: 0, 1>, vertical = array<i64: 30, 30>, slash = array<i64: 8, 8>}
    : memref<1x2x200xf32>, memref<1x2x200xf32> into memref<1x2x4xi32>, memref<1x2x4x16xi32>, memref<1x2x4xi32>, memref<1x2x4x30xi32>
  return
}

// -----

func.func @bvi_ranges_batch(%a0: memref<1x2x200xf32>, %a1: memref<1x2x4xi32>, %a2: memref<2x2x4x8x2xi32>, %a3: memref<1x2x4x30xi32>) {
  // expected-error @+1 {{ranges dim 0 is 2, expected 1}}
  minfer.build_vs_index %a0, %a0 into %a1, %a2, %a1, %a3 {heads = array<i64: 0, 1>, vertical = array<i64: 30, 30>, slash = array<i64: 8, 8>}
    : memref<1x2x200xf32>, memref<1x2x200xf32> into memref<1x2x4xi32>, memref<2x2x4x8x2xi32>, memref<1x2x4xi32>, memref<1x2x4x30xi32>
  return
}

// -----

func.func @bvi_ranges_last_3(%a0: memref<1x2x200xf32>, %a1: memref<1x2x4xi32>, %a2: memref<1x2x4x8x3xi32>, %a3: memref<1x2x4x30xi32>) {
  // expected-error @+1 {{ranges must end in a dimension of 2 ([start, end))}}
  minfer.build_vs_index %a0, %a0 into %a1, %a2, %a1, %a3 {heads = array<i64: 0, 1>, vertical = array<i64: 30, 30>, slash = array<i64: 8, 8>}
    : memref<1x2x200xf32>, memref<1x2x200xf32> into memref<1x2x4xi32>, memref<1x2x4x8x3xi32>, memref<1x2x4xi32>, memref<1x2x4x30xi32>
  return
}

// -----

func.func @bvi_ranges_last_dynamic(%a0: memref<1x2x200xf32>, %a1: memref<1x2x4xi32>, %a2: memref<1x2x4x8x?xi32>, %a3: memref<1x2x4x30xi32>) {
  // expected-error @+1 {{ranges must end in a dimension of 2 ([start, end))}}
  minfer.build_vs_index %a0, %a0 into %a1, %a2, %a1, %a3 {heads = array<i64: 0, 1>, vertical = array<i64: 30, 30>, slash = array<i64: 8, 8>}
    : memref<1x2x200xf32>, memref<1x2x200xf32> into memref<1x2x4xi32>, memref<1x2x4x8x?xi32>, memref<1x2x4xi32>, memref<1x2x4x30xi32>
  return
}

// -----

func.func @bvi_column_count_heads(%a0: memref<1x2x200xf32>, %a1: memref<1x2x4xi32>, %a2: memref<1x2x4x8x2xi32>, %a3: memref<1x3x4xi32>, %a4: memref<1x2x4x30xi32>) {
  // expected-error @+1 {{column_count dim 1 is 3, expected 2}}
  minfer.build_vs_index %a0, %a0 into %a1, %a2, %a3, %a4 {heads = array<i64: 0, 1>, vertical = array<i64: 30, 30>, slash = array<i64: 8, 8>}
    : memref<1x2x200xf32>, memref<1x2x200xf32> into memref<1x2x4xi32>, memref<1x2x4x8x2xi32>, memref<1x3x4xi32>, memref<1x2x4x30xi32>
  return
}

// -----

func.func @bvi_column_index_rank(%a0: memref<1x2x200xf32>, %a1: memref<1x2x4xi32>, %a2: memref<1x2x4x8x2xi32>) {
  // expected-error @+1 {{column_index must have rank 4, got 3}}
  minfer.build_vs_index %a0, %a0 into %a1, %a2, %a1, %a1 {heads = array<i64: 0, 1>, vertical = array<i64: 30, 30>, slash = array<i64: 8, 8>}
    : memref<1x2x200xf32>, memref<1x2x200xf32> into memref<1x2x4xi32>, memref<1x2x4x8x2xi32>, memref<1x2x4xi32>, memref<1x2x4xi32>
  return
}

// -----

func.func @bvi_column_index_nb(%a0: memref<1x2x200xf32>, %a1: memref<1x2x4xi32>, %a2: memref<1x2x4x8x2xi32>, %a3: memref<1x2x5x30xi32>) {
  // expected-error @+1 {{column_index dim 2 is 5, expected 4}}
  minfer.build_vs_index %a0, %a0 into %a1, %a2, %a1, %a3 {heads = array<i64: 0, 1>, vertical = array<i64: 30, 30>, slash = array<i64: 8, 8>}
    : memref<1x2x200xf32>, memref<1x2x200xf32> into memref<1x2x4xi32>, memref<1x2x4x8x2xi32>, memref<1x2x4xi32>, memref<1x2x5x30xi32>
  return
}

// -----

func.func @bvi_heads_empty(%a0: memref<1x2x200xf32>, %a1: memref<1x2x4xi32>, %a2: memref<1x2x4x8x2xi32>, %a3: memref<1x2x4x30xi32>) {
  // expected-error @+1 {{heads must not be empty}}
  minfer.build_vs_index %a0, %a0 into %a1, %a2, %a1, %a3 {heads = array<i64>, vertical = array<i64>, slash = array<i64>}
    : memref<1x2x200xf32>, memref<1x2x200xf32> into memref<1x2x4xi32>, memref<1x2x4x8x2xi32>, memref<1x2x4xi32>, memref<1x2x4x30xi32>
  return
}

// -----

func.func @bvi_head_out_of_range(%a0: memref<1x2x200xf32>, %a1: memref<1x2x4xi32>, %a2: memref<1x2x4x8x2xi32>, %a3: memref<1x2x4x30xi32>) {
  // expected-error @+1 {{head 2 out of range [0, 2)}}
  minfer.build_vs_index %a0, %a0 into %a1, %a2, %a1, %a3 {heads = array<i64: 2>, vertical = array<i64: 1>, slash = array<i64: 1>}
    : memref<1x2x200xf32>, memref<1x2x200xf32> into memref<1x2x4xi32>, memref<1x2x4x8x2xi32>, memref<1x2x4xi32>, memref<1x2x4x30xi32>
  return
}

// -----

// Regression (verifier hole): H pinned by the index buffers only.
func.func @bvi_head_out_of_range_from_index(%a0: memref<1x?x200xf32>, %a1: memref<1x2x4xi32>, %a2: memref<1x2x4x8x2xi32>, %a3: memref<1x2x4x30xi32>) {
  // expected-error @+1 {{head 5 out of range [0, 2)}}
  minfer.build_vs_index %a0, %a0 into %a1, %a2, %a1, %a3 {heads = array<i64: 5>, vertical = array<i64: 1>, slash = array<i64: 1>}
    : memref<1x?x200xf32>, memref<1x?x200xf32> into memref<1x2x4xi32>, memref<1x2x4x8x2xi32>, memref<1x2x4xi32>, memref<1x2x4x30xi32>
  return
}

// -----

func.func @bvi_head_twice(%a0: memref<1x2x200xf32>, %a1: memref<1x2x4xi32>, %a2: memref<1x2x4x8x2xi32>, %a3: memref<1x2x4x30xi32>) {
  // expected-error @+1 {{head 1 listed twice}}
  minfer.build_vs_index %a0, %a0 into %a1, %a2, %a1, %a3 {heads = array<i64: 1, 1>, vertical = array<i64: 1, 1>, slash = array<i64: 1, 1>}
    : memref<1x2x200xf32>, memref<1x2x200xf32> into memref<1x2x4xi32>, memref<1x2x4x8x2xi32>, memref<1x2x4xi32>, memref<1x2x4x30xi32>
  return
}

// -----

func.func @bvi_vertical_length(%a0: memref<1x2x200xf32>, %a1: memref<1x2x4xi32>, %a2: memref<1x2x4x8x2xi32>, %a3: memref<1x2x4x30xi32>) {
  // expected-error @+1 {{vertical has 1 entries, expected one per head (2)}}
  minfer.build_vs_index %a0, %a0 into %a1, %a2, %a1, %a3 {heads = array<i64: 0, 1>, vertical = array<i64: 30>, slash = array<i64: 8, 8>}
    : memref<1x2x200xf32>, memref<1x2x200xf32> into memref<1x2x4xi32>, memref<1x2x4x8x2xi32>, memref<1x2x4xi32>, memref<1x2x4x30xi32>
  return
}

// -----

func.func @bvi_slash_length(%a0: memref<1x2x200xf32>, %a1: memref<1x2x4xi32>, %a2: memref<1x2x4x8x2xi32>, %a3: memref<1x2x4x30xi32>) {
  // expected-error @+1 {{slash has 3 entries, expected one per head (2)}}
  minfer.build_vs_index %a0, %a0 into %a1, %a2, %a1, %a3 {heads = array<i64: 0, 1>, vertical = array<i64: 30, 30>, slash = array<i64: 8, 8, 8>}
    : memref<1x2x200xf32>, memref<1x2x200xf32> into memref<1x2x4xi32>, memref<1x2x4x8x2xi32>, memref<1x2x4xi32>, memref<1x2x4x30xi32>
  return
}

// -----

func.func @bvi_vertical_zero(%a0: memref<1x2x200xf32>, %a1: memref<1x2x4xi32>, %a2: memref<1x2x4x8x2xi32>, %a3: memref<1x2x4x30xi32>) {
  // expected-error @+1 {{vertical budgets must be positive, got 0}}
  minfer.build_vs_index %a0, %a0 into %a1, %a2, %a1, %a3 {heads = array<i64: 0, 1>, vertical = array<i64: 30, 0>, slash = array<i64: 8, 8>}
    : memref<1x2x200xf32>, memref<1x2x200xf32> into memref<1x2x4xi32>, memref<1x2x4x8x2xi32>, memref<1x2x4xi32>, memref<1x2x4x30xi32>
  return
}

// -----

func.func @bvi_slash_negative(%a0: memref<1x2x200xf32>, %a1: memref<1x2x4xi32>, %a2: memref<1x2x4x8x2xi32>, %a3: memref<1x2x4x30xi32>) {
  // expected-error @+1 {{slash budgets must be positive, got -8}}
  minfer.build_vs_index %a0, %a0 into %a1, %a2, %a1, %a3 {heads = array<i64: 0, 1>, vertical = array<i64: 30, 30>, slash = array<i64: -8, 8>}
    : memref<1x2x200xf32>, memref<1x2x200xf32> into memref<1x2x4xi32>, memref<1x2x4x8x2xi32>, memref<1x2x4xi32>, memref<1x2x4x30xi32>
  return
}

// -----

func.func @bvi_forced_vertical_negative(%a0: memref<1x2x200xf32>, %a1: memref<1x2x4xi32>, %a2: memref<1x2x4x8x2xi32>, %a3: memref<1x2x4x30xi32>) {
  // expected-error @+1 {{forced_vertical and forced_slash must be non-negative}}
  minfer.build_vs_index %a0, %a0 into %a1, %a2, %a1, %a3 {heads = array<i64: 0, 1>, vertical = array<i64: 30, 30>, slash = array<i64: 8, 8>, forced_vertical = -1}
    : memref<1x2x200xf32>, memref<1x2x200xf32> into memref<1x2x4xi32>, memref<1x2x4x8x2xi32>, memref<1x2x4xi32>, memref<1x2x4x30xi32>
  return
}

// -----

func.func @bvi_forced_slash_negative(%a0: memref<1x2x200xf32>, %a1: memref<1x2x4xi32>, %a2: memref<1x2x4x8x2xi32>, %a3: memref<1x2x4x30xi32>) {
  // expected-error @+1 {{forced_vertical and forced_slash must be non-negative}}
  minfer.build_vs_index %a0, %a0 into %a1, %a2, %a1, %a3 {heads = array<i64: 0, 1>, vertical = array<i64: 30, 30>, slash = array<i64: 8, 8>, forced_slash = -100}
    : memref<1x2x200xf32>, memref<1x2x200xf32> into memref<1x2x4xi32>, memref<1x2x4x8x2xi32>, memref<1x2x4xi32>, memref<1x2x4x30xi32>
  return
}

// -----

func.func @bvi_vertical_missing(%a0: memref<1x2x200xf32>, %a1: memref<1x2x4xi32>, %a2: memref<1x2x4x8x2xi32>, %a3: memref<1x2x4x30xi32>) {
  // expected-error @+1 {{requires attribute 'vertical'}}
  minfer.build_vs_index %a0, %a0 into %a1, %a2, %a1, %a3 {heads = array<i64: 0>, slash = array<i64: 8>}
    : memref<1x2x200xf32>, memref<1x2x200xf32> into memref<1x2x4xi32>, memref<1x2x4x8x2xi32>, memref<1x2x4xi32>, memref<1x2x4x30xi32>
  return
}

// -----

//===----------------------------------------------------------------------===//
// build_bs_index
//===----------------------------------------------------------------------===//

func.func @bbi_scores_rank(%a0: memref<1x2x4xf32>, %a1: memref<1x2x4xi32>, %a2: memref<1x2x4x4x2xi32>, %a3: memref<1x2x4x1xi32>, %n: index) {
  // expected-error @+1 {{block_scores must have rank 4, got 3}}
  minfer.build_bs_index %a0, %n into %a1, %a2, %a1, %a3 {heads = array<i64: 0, 1>, top_k = array<i64: 2, 4>}
    : memref<1x2x4xf32> into memref<1x2x4xi32>, memref<1x2x4x4x2xi32>, memref<1x2x4xi32>, memref<1x2x4x1xi32>
  return
}

// -----

// Regression (verifier hole): used to verify.
func.func @bbi_scores_not_square(%a0: memref<1x2x4x5xf32>, %a1: memref<1x2x4xi32>, %a2: memref<1x2x4x4x2xi32>, %a3: memref<1x2x4x1xi32>, %n: index) {
  // expected-error @+1 {{block_scores must be [B, H, NB, NB], got 4 query blocks and 5 key blocks}}
  minfer.build_bs_index %a0, %n into %a1, %a2, %a1, %a3 {heads = array<i64: 0, 1>, top_k = array<i64: 2, 4>}
    : memref<1x2x4x5xf32> into memref<1x2x4xi32>, memref<1x2x4x4x2xi32>, memref<1x2x4xi32>, memref<1x2x4x1xi32>
  return
}

// -----

// Regression (verifier hole): NB given only by the key-block dim.
func.func @bbi_scores_key_blocks_pin_nb(%a0: memref<1x2x?x4xf32>, %a1: memref<1x2x5xi32>, %a2: memref<1x2x5x4x2xi32>, %a3: memref<1x2x5x1xi32>, %n: index) {
  // expected-error @+1 {{range_count dim 2 is 5, expected 4}}
  minfer.build_bs_index %a0, %n into %a1, %a2, %a1, %a3 {heads = array<i64: 0, 1>, top_k = array<i64: 2, 4>}
    : memref<1x2x?x4xf32> into memref<1x2x5xi32>, memref<1x2x5x4x2xi32>, memref<1x2x5xi32>, memref<1x2x5x1xi32>
  return
}

// -----

func.func @bbi_block(%a0: memref<1x2x4x4xf32>, %a1: memref<1x2x4xi32>, %a2: memref<1x2x4x4x2xi32>, %a3: memref<1x2x4x1xi32>, %n: index) {
  // expected-error @+1 {{block must be 64 (the kernel tile), got 16}}
  minfer.build_bs_index %a0, %n into %a1, %a2, %a1, %a3 {heads = array<i64: 0, 1>, top_k = array<i64: 2, 4>, block = 16}
    : memref<1x2x4x4xf32> into memref<1x2x4xi32>, memref<1x2x4x4x2xi32>, memref<1x2x4xi32>, memref<1x2x4x1xi32>
  return
}

// -----

func.func @bbi_range_count_nb(%a0: memref<1x2x4x4xf32>, %a1: memref<1x2x3xi32>, %a2: memref<1x2x4x4x2xi32>, %a3: memref<1x2x4xi32>, %a4: memref<1x2x4x1xi32>, %n: index) {
  // expected-error @+1 {{range_count dim 2 is 3, expected 4}}
  minfer.build_bs_index %a0, %n into %a1, %a2, %a3, %a4 {heads = array<i64: 0, 1>, top_k = array<i64: 2, 4>}
    : memref<1x2x4x4xf32> into memref<1x2x3xi32>, memref<1x2x4x4x2xi32>, memref<1x2x4xi32>, memref<1x2x4x1xi32>
  return
}

// -----

func.func @bbi_ranges_heads(%a0: memref<1x2x4x4xf32>, %a1: memref<1x2x4xi32>, %a2: memref<1x1x4x4x2xi32>, %a3: memref<1x2x4x1xi32>, %n: index) {
  // expected-error @+1 {{ranges dim 1 is 1, expected 2}}
  minfer.build_bs_index %a0, %n into %a1, %a2, %a1, %a3 {heads = array<i64: 0, 1>, top_k = array<i64: 2, 4>}
    : memref<1x2x4x4xf32> into memref<1x2x4xi32>, memref<1x1x4x4x2xi32>, memref<1x2x4xi32>, memref<1x2x4x1xi32>
  return
}

// -----

func.func @bbi_ranges_last(%a0: memref<1x2x4x4xf32>, %a1: memref<1x2x4xi32>, %a2: memref<1x2x4x4x1xi32>, %a3: memref<1x2x4x1xi32>, %n: index) {
  // expected-error @+1 {{ranges must end in a dimension of 2 ([start, end))}}
  minfer.build_bs_index %a0, %n into %a1, %a2, %a1, %a3 {heads = array<i64: 0, 1>, top_k = array<i64: 2, 4>}
    : memref<1x2x4x4xf32> into memref<1x2x4xi32>, memref<1x2x4x4x1xi32>, memref<1x2x4xi32>, memref<1x2x4x1xi32>
  return
}

// -----

func.func @bbi_column_index_batch(%a0: memref<1x2x4x4xf32>, %a1: memref<1x2x4xi32>, %a2: memref<1x2x4x4x2xi32>, %a3: memref<2x2x4x1xi32>, %n: index) {
  // expected-error @+1 {{column_index dim 0 is 2, expected 1}}
  minfer.build_bs_index %a0, %n into %a1, %a2, %a1, %a3 {heads = array<i64: 0, 1>, top_k = array<i64: 2, 4>}
    : memref<1x2x4x4xf32> into memref<1x2x4xi32>, memref<1x2x4x4x2xi32>, memref<1x2x4xi32>, memref<2x2x4x1xi32>
  return
}

// -----

func.func @bbi_top_k_length(%a0: memref<1x2x4x4xf32>, %a1: memref<1x2x4xi32>, %a2: memref<1x2x4x4x2xi32>, %a3: memref<1x2x4x1xi32>, %n: index) {
  // expected-error @+1 {{top_k has 1 entries, expected one per head (2)}}
  minfer.build_bs_index %a0, %n into %a1, %a2, %a1, %a3 {heads = array<i64: 0, 1>, top_k = array<i64: 2>}
    : memref<1x2x4x4xf32> into memref<1x2x4xi32>, memref<1x2x4x4x2xi32>, memref<1x2x4xi32>, memref<1x2x4x1xi32>
  return
}

// -----

func.func @bbi_top_k_zero(%a0: memref<1x2x4x4xf32>, %a1: memref<1x2x4xi32>, %a2: memref<1x2x4x4x2xi32>, %a3: memref<1x2x4x1xi32>, %n: index) {
  // expected-error @+1 {{top_k budgets must be positive, got 0}}
  minfer.build_bs_index %a0, %n into %a1, %a2, %a1, %a3 {heads = array<i64: 0, 1>, top_k = array<i64: 0, 4>}
    : memref<1x2x4x4xf32> into memref<1x2x4xi32>, memref<1x2x4x4x2xi32>, memref<1x2x4xi32>, memref<1x2x4x1xi32>
  return
}

// -----

func.func @bbi_head_out_of_range(%a0: memref<1x2x4x4xf32>, %a1: memref<1x2x4xi32>, %a2: memref<1x2x4x4x2xi32>, %a3: memref<1x2x4x1xi32>, %n: index) {
  // expected-error @+1 {{head 3 out of range [0, 2)}}
  minfer.build_bs_index %a0, %n into %a1, %a2, %a1, %a3 {heads = array<i64: 3>, top_k = array<i64: 1>}
    : memref<1x2x4x4xf32> into memref<1x2x4xi32>, memref<1x2x4x4x2xi32>, memref<1x2x4xi32>, memref<1x2x4x1xi32>
  return
}

// -----

// Regression (verifier hole): H pinned by the index buffers only.
func.func @bbi_head_out_of_range_from_index(%a0: memref<1x?x4x4xf32>, %a1: memref<1x2x4xi32>, %a2: memref<1x2x4x4x2xi32>, %a3: memref<1x2x4x1xi32>, %n: index) {
  // expected-error @+1 {{head 2 out of range [0, 2)}}
  minfer.build_bs_index %a0, %n into %a1, %a2, %a1, %a3 {heads = array<i64: 2>, top_k = array<i64: 1>}
    : memref<1x?x4x4xf32> into memref<1x2x4xi32>, memref<1x2x4x4x2xi32>, memref<1x2x4xi32>, memref<1x2x4x1xi32>
  return
}

// -----

//===----------------------------------------------------------------------===//
// build_a_shape_index
//===----------------------------------------------------------------------===//

func.func @bai_block(%n: index, %a0: memref<?x2x?xi32>, %a1: memref<?x2x?x2x2xi32>, %a2: memref<?x2x?x1xi32>) {
  // expected-error @+1 {{block must be 64 (the kernel tile), got 0}}
  minfer.build_a_shape_index %n into %a0, %a1, %a0, %a2 {heads = array<i64: 0, 1>, sink = array<i64: 4, 4>, local = array<i64: 64, 64>, block = 0}
    : memref<?x2x?xi32>, memref<?x2x?x2x2xi32>, memref<?x2x?xi32>, memref<?x2x?x1xi32>
  return
}

// -----

func.func @bai_range_count_rank(%n: index, %a0: memref<?x2x?x1xi32>, %a1: memref<?x2x?x2x2xi32>, %a2: memref<?x2x?xi32>) {
  // expected-error @+1 {{range_count must have rank 3, got 4}}
  minfer.build_a_shape_index %n into %a0, %a1, %a2, %a0 {heads = array<i64: 0, 1>, sink = array<i64: 4, 4>, local = array<i64: 64, 64>}
    : memref<?x2x?x1xi32>, memref<?x2x?x2x2xi32>, memref<?x2x?xi32>, memref<?x2x?x1xi32>
  return
}

// -----

func.func @bai_ranges_mismatch(%n: index, %a0: memref<1x2x?xi32>, %a1: memref<2x2x?x2x2xi32>, %a2: memref<?x2x?xi32>, %a3: memref<?x2x?x1xi32>) {
  // expected-error @+1 {{ranges dim 0 is 2, expected 1}}
  minfer.build_a_shape_index %n into %a0, %a1, %a2, %a3 {heads = array<i64: 0, 1>, sink = array<i64: 4, 4>, local = array<i64: 64, 64>}
    : memref<1x2x?xi32>, memref<2x2x?x2x2xi32>, memref<?x2x?xi32>, memref<?x2x?x1xi32>
  return
}

// -----

// Regression (verifier hole): range_count `?` used to let ranges and
// column_count disagree.
func.func @bai_column_count_via_ranges(%n: index, %a0: memref<?x2x?xi32>, %a1: memref<2x2x?x2x2xi32>, %a2: memref<3x2x?xi32>, %a3: memref<?x2x?x1xi32>) {
  // expected-error @+1 {{column_count dim 0 is 3, expected 2}}
  minfer.build_a_shape_index %n into %a0, %a1, %a2, %a3 {heads = array<i64: 0, 1>, sink = array<i64: 4, 4>, local = array<i64: 64, 64>}
    : memref<?x2x?xi32>, memref<2x2x?x2x2xi32>, memref<3x2x?xi32>, memref<?x2x?x1xi32>
  return
}

// -----

func.func @bai_ranges_last(%n: index, %a0: memref<?x2x?xi32>, %a1: memref<?x2x?x2x4xi32>, %a2: memref<?x2x?x1xi32>) {
  // expected-error @+1 {{ranges must end in a dimension of 2 ([start, end))}}
  minfer.build_a_shape_index %n into %a0, %a1, %a0, %a2 {heads = array<i64: 0, 1>, sink = array<i64: 4, 4>, local = array<i64: 64, 64>}
    : memref<?x2x?xi32>, memref<?x2x?x2x4xi32>, memref<?x2x?xi32>, memref<?x2x?x1xi32>
  return
}

// -----

func.func @bai_heads_empty(%n: index, %a0: memref<?x2x?xi32>, %a1: memref<?x2x?x2x2xi32>, %a2: memref<?x2x?x1xi32>) {
  // expected-error @+1 {{heads must not be empty}}
  minfer.build_a_shape_index %n into %a0, %a1, %a0, %a2 {heads = array<i64>, sink = array<i64>, local = array<i64>}
    : memref<?x2x?xi32>, memref<?x2x?x2x2xi32>, memref<?x2x?xi32>, memref<?x2x?x1xi32>
  return
}

// -----

func.func @bai_head_twice(%n: index, %a0: memref<?x2x?xi32>, %a1: memref<?x2x?x2x2xi32>, %a2: memref<?x2x?x1xi32>) {
  // expected-error @+1 {{head 0 listed twice}}
  minfer.build_a_shape_index %n into %a0, %a1, %a0, %a2 {heads = array<i64: 0, 0>, sink = array<i64: 4, 4>, local = array<i64: 64, 64>}
    : memref<?x2x?xi32>, memref<?x2x?x2x2xi32>, memref<?x2x?xi32>, memref<?x2x?x1xi32>
  return
}

// -----

func.func @bai_head_out_of_range(%n: index, %a0: memref<?x2x?xi32>, %a1: memref<?x2x?x2x2xi32>, %a2: memref<?x2x?x1xi32>) {
  // expected-error @+1 {{head 2 out of range [0, 2)}}
  minfer.build_a_shape_index %n into %a0, %a1, %a0, %a2 {heads = array<i64: 0, 2>, sink = array<i64: 4, 4>, local = array<i64: 64, 64>}
    : memref<?x2x?xi32>, memref<?x2x?x2x2xi32>, memref<?x2x?xi32>, memref<?x2x?x1xi32>
  return
}

// -----

func.func @bai_local_length(%n: index, %a0: memref<?x2x?xi32>, %a1: memref<?x2x?x2x2xi32>, %a2: memref<?x2x?x1xi32>) {
  // expected-error @+1 {{local has 1 entries, expected one per head (2)}}
  minfer.build_a_shape_index %n into %a0, %a1, %a0, %a2 {heads = array<i64: 0, 1>, sink = array<i64: 4, 4>, local = array<i64: 64>}
    : memref<?x2x?xi32>, memref<?x2x?x2x2xi32>, memref<?x2x?xi32>, memref<?x2x?x1xi32>
  return
}

// -----

func.func @bai_local_zero(%n: index, %a0: memref<?x2x?xi32>, %a1: memref<?x2x?x2x2xi32>, %a2: memref<?x2x?x1xi32>) {
  // expected-error @+1 {{local budgets must be positive, got 0}}
  minfer.build_a_shape_index %n into %a0, %a1, %a0, %a2 {heads = array<i64: 0, 1>, sink = array<i64: 4, 4>, local = array<i64: 64, 0>}
    : memref<?x2x?xi32>, memref<?x2x?x2x2xi32>, memref<?x2x?xi32>, memref<?x2x?x1xi32>
  return
}

// -----

func.func @bai_sink_length(%n: index, %a0: memref<?x2x?xi32>, %a1: memref<?x2x?x2x2xi32>, %a2: memref<?x2x?x1xi32>) {
  // expected-error @+1 {{sink has 3 entries, expected one per head (2)}}
  minfer.build_a_shape_index %n into %a0, %a1, %a0, %a2 {heads = array<i64: 0, 1>, sink = array<i64: 4, 4, 4>, local = array<i64: 64, 64>}
    : memref<?x2x?xi32>, memref<?x2x?x2x2xi32>, memref<?x2x?xi32>, memref<?x2x?x1xi32>
  return
}

// -----

func.func @bai_sink_negative(%n: index, %a0: memref<?x2x?xi32>, %a1: memref<?x2x?x2x2xi32>, %a2: memref<?x2x?x1xi32>) {
  // expected-error @+1 {{sink must be non-negative, got -4}}
  minfer.build_a_shape_index %n into %a0, %a1, %a0, %a2 {heads = array<i64: 0, 1>, sink = array<i64: 0, -4>, local = array<i64: 64, 64>}
    : memref<?x2x?xi32>, memref<?x2x?x2x2xi32>, memref<?x2x?xi32>, memref<?x2x?x1xi32>
  return
}

// -----

//===----------------------------------------------------------------------===//
// build_dense_index
//===----------------------------------------------------------------------===//

func.func @bdi_block(%n: index, %a0: memref<1x4x2xi32>, %a1: memref<1x4x2x1x2xi32>, %a2: memref<1x4x2x1xi32>) {
  // expected-error @+1 {{block must be 64 (the kernel tile), got 128}}
  minfer.build_dense_index %n into %a0, %a1, %a0, %a2 {heads = array<i64: 0>, block = 128}
    : memref<1x4x2xi32>, memref<1x4x2x1x2xi32>, memref<1x4x2xi32>, memref<1x4x2x1xi32>
  return
}

// -----

func.func @bdi_heads_empty(%n: index, %a0: memref<1x4x2xi32>, %a1: memref<1x4x2x1x2xi32>, %a2: memref<1x4x2x1xi32>) {
  // expected-error @+1 {{heads must not be empty}}
  minfer.build_dense_index %n into %a0, %a1, %a0, %a2 {heads = array<i64>}
    : memref<1x4x2xi32>, memref<1x4x2x1x2xi32>, memref<1x4x2xi32>, memref<1x4x2x1xi32>
  return
}

// -----

func.func @bdi_head_out_of_range(%n: index, %a0: memref<1x4x2xi32>, %a1: memref<1x4x2x1x2xi32>, %a2: memref<1x4x2x1xi32>) {
  // expected-error @+1 {{head 4 out of range [0, 4)}}
  minfer.build_dense_index %n into %a0, %a1, %a0, %a2 {heads = array<i64: 4>}
    : memref<1x4x2xi32>, memref<1x4x2x1x2xi32>, memref<1x4x2xi32>, memref<1x4x2x1xi32>
  return
}

// -----

func.func @bdi_head_twice(%n: index, %a0: memref<1x4x2xi32>, %a1: memref<1x4x2x1x2xi32>, %a2: memref<1x4x2x1xi32>) {
  // expected-error @+1 {{head 3 listed twice}}
  minfer.build_dense_index %n into %a0, %a1, %a0, %a2 {heads = array<i64: 3, 1, 3>}
    : memref<1x4x2xi32>, memref<1x4x2x1x2xi32>, memref<1x4x2xi32>, memref<1x4x2x1xi32>
  return
}

// -----

func.func @bdi_column_count_rank(%n: index, %a0: memref<1x4x2xi32>, %a1: memref<1x4x2x1x2xi32>, %a2: memref<1x4x2x1xi32>) {
  // expected-error @+1 {{column_count must have rank 3, got 4}}
  minfer.build_dense_index %n into %a0, %a1, %a2, %a2 {heads = array<i64: 0>}
    : memref<1x4x2xi32>, memref<1x4x2x1x2xi32>, memref<1x4x2x1xi32>, memref<1x4x2x1xi32>
  return
}

// -----

func.func @bdi_column_index_heads(%n: index, %a0: memref<1x4x2xi32>, %a1: memref<1x4x2x1x2xi32>, %a2: memref<1x2x2x1xi32>) {
  // expected-error @+1 {{column_index dim 1 is 2, expected 4}}
  minfer.build_dense_index %n into %a0, %a1, %a0, %a2 {heads = array<i64: 0>}
    : memref<1x4x2xi32>, memref<1x4x2x1x2xi32>, memref<1x4x2xi32>, memref<1x2x2x1xi32>
  return
}

// -----

// Regression (verifier hole): used to verify (range_count had `?`).
func.func @bdi_index_chain(%n: index, %a0: memref<?x4x2xi32>, %a1: memref<2x4x2x1x2xi32>, %a2: memref<3x4x2x1xi32>) {
  // expected-error @+1 {{column_index dim 0 is 3, expected 2}}
  minfer.build_dense_index %n into %a0, %a1, %a0, %a2 {heads = array<i64: 0>}
    : memref<?x4x2xi32>, memref<2x4x2x1x2xi32>, memref<?x4x2xi32>, memref<3x4x2x1xi32>
  return
}

// -----

//===----------------------------------------------------------------------===//
// dense_attention, block_attention, vs_attention
//===----------------------------------------------------------------------===//

func.func @dense_non_causal(%a0: memref<1x2x64x128xbf16>) {
  // expected-error @+1 {{only causal attention is supported (prefill)}}
  minfer.dense_attention %a0, %a0, %a0, %a0 {scale = 1.0 : f32, causal = false}
    : memref<1x2x64x128xbf16>, memref<1x2x64x128xbf16>, memref<1x2x64x128xbf16>, memref<1x2x64x128xbf16>
  return
}

// -----

func.func @block_non_causal(%q: memref<1x2x130x64xf16>, %rc: memref<1x2x3xi32>, %r: memref<1x2x3x4x2xi32>) {
  // expected-error @+1 {{only causal attention is supported (prefill)}}
  minfer.block_attention %q, %q, %q, %rc, %r, %q {scale = 1.0 : f32, causal = false}
    : memref<1x2x130x64xf16>, memref<1x2x130x64xf16>, memref<1x2x130x64xf16>, memref<1x2x3xi32>, memref<1x2x3x4x2xi32>, memref<1x2x130x64xf16>
  return
}

// -----

func.func @block_scale(%q: memref<1x2x130x64xf16>, %rc: memref<1x2x3xi32>, %r: memref<1x2x3x4x2xi32>) {
  // expected-error @+1 {{scale must be finite and positive, got 0}}
  minfer.block_attention %q, %q, %q, %rc, %r, %q {scale = 0.0 : f32}
    : memref<1x2x130x64xf16>, memref<1x2x130x64xf16>, memref<1x2x130x64xf16>, memref<1x2x3xi32>, memref<1x2x3x4x2xi32>, memref<1x2x130x64xf16>
  return
}

// -----

func.func @block_head_dim(%q: memref<1x2x130x112xf16>, %rc: memref<1x2x3xi32>, %r: memref<1x2x3x4x2xi32>) {
  // expected-error @+1 {{head dim must be static 64, 96 or 128, got 112}}
  minfer.block_attention %q, %q, %q, %rc, %r, %q {scale = 1.0 : f32}
    : memref<1x2x130x112xf16>, memref<1x2x130x112xf16>, memref<1x2x130x112xf16>, memref<1x2x3xi32>, memref<1x2x3x4x2xi32>, memref<1x2x130x112xf16>
  return
}

// -----

// N = 130 needs NB = 3.
func.func @block_range_count_nb(%q: memref<1x2x130x64xf16>, %rc: memref<1x2x2xi32>, %r: memref<1x2x3x4x2xi32>) {
  // expected-error @+1 {{range_count dim 2 is 2, expected 3}}
  minfer.block_attention %q, %q, %q, %rc, %r, %q {scale = 1.0 : f32}
    : memref<1x2x130x64xf16>, memref<1x2x130x64xf16>, memref<1x2x130x64xf16>, memref<1x2x2xi32>, memref<1x2x3x4x2xi32>, memref<1x2x130x64xf16>
  return
}

// -----

func.func @block_range_count_rank(%q: memref<1x2x130x64xf16>, %rc: memref<1x2x3x1xi32>, %r: memref<1x2x3x4x2xi32>) {
  // expected-error @+1 {{range_count must have rank 3, got 4}}
  minfer.block_attention %q, %q, %q, %rc, %r, %q {scale = 1.0 : f32}
    : memref<1x2x130x64xf16>, memref<1x2x130x64xf16>, memref<1x2x130x64xf16>, memref<1x2x3x1xi32>, memref<1x2x3x4x2xi32>, memref<1x2x130x64xf16>
  return
}

// -----

func.func @block_ranges_heads(%q: memref<1x2x130x64xf16>, %rc: memref<1x2x3xi32>, %r: memref<1x4x3x4x2xi32>) {
  // expected-error @+1 {{ranges dim 1 is 4, expected 2}}
  minfer.block_attention %q, %q, %q, %rc, %r, %q {scale = 1.0 : f32}
    : memref<1x2x130x64xf16>, memref<1x2x130x64xf16>, memref<1x2x130x64xf16>, memref<1x2x3xi32>, memref<1x4x3x4x2xi32>, memref<1x2x130x64xf16>
  return
}

// -----

func.func @block_ranges_last(%q: memref<1x2x130x64xf16>, %rc: memref<1x2x3xi32>, %r: memref<1x2x3x4x1xi32>) {
  // expected-error @+1 {{ranges must end in a dimension of 2 ([start, end))}}
  minfer.block_attention %q, %q, %q, %rc, %r, %q {scale = 1.0 : f32}
    : memref<1x2x130x64xf16>, memref<1x2x130x64xf16>, memref<1x2x130x64xf16>, memref<1x2x3xi32>, memref<1x2x3x4x1xi32>, memref<1x2x130x64xf16>
  return
}

// -----

func.func @block_ranges_rank(%q: memref<1x2x130x64xf16>, %rc: memref<1x2x3xi32>, %r: memref<1x2x3x8xi32>) {
  // expected-error @+1 {{ranges must have rank 5, got 4}}
  minfer.block_attention %q, %q, %q, %rc, %r, %q {scale = 1.0 : f32}
    : memref<1x2x130x64xf16>, memref<1x2x130x64xf16>, memref<1x2x130x64xf16>, memref<1x2x3xi32>, memref<1x2x3x8xi32>, memref<1x2x130x64xf16>
  return
}

// -----

func.func @vs_non_causal(%q: memref<?x8x?x128xbf16>, %a0: memref<?x8x?xi32>, %a1: memref<?x8x?x100x2xi32>, %a2: memref<?x8x?x30xi32>) {
  // expected-error @+1 {{only causal attention is supported (prefill)}}
  minfer.vs_attention %q, %q, %q, %a0, %a1, %a0, %a2, %q {scale = 1.0 : f32, causal = false}
    : memref<?x8x?x128xbf16>, memref<?x8x?x128xbf16>, memref<?x8x?x128xbf16>, memref<?x8x?xi32>, memref<?x8x?x100x2xi32>, memref<?x8x?xi32>, memref<?x8x?x30xi32>, memref<?x8x?x128xbf16>
  return
}

// -----

func.func @vs_scale_nan(%q: memref<?x8x?x128xbf16>, %a0: memref<?x8x?xi32>, %a1: memref<?x8x?x100x2xi32>, %a2: memref<?x8x?x30xi32>) {
  // expected-error @+1 {{scale must be finite and positive, got nan}}
  minfer.vs_attention %q, %q, %q, %a0, %a1, %a0, %a2, %q {scale = 0x7FC00000 : f32}
    : memref<?x8x?x128xbf16>, memref<?x8x?x128xbf16>, memref<?x8x?x128xbf16>, memref<?x8x?xi32>, memref<?x8x?x100x2xi32>, memref<?x8x?xi32>, memref<?x8x?x30xi32>, memref<?x8x?x128xbf16>
  return
}

// -----

func.func @vs_range_count_heads(%q: memref<?x8x?x128xbf16>, %a0: memref<?x4x?xi32>, %a1: memref<?x8x?x100x2xi32>, %a2: memref<?x8x?xi32>, %a3: memref<?x8x?x30xi32>) {
  // expected-error @+1 {{range_count dim 1 is 4, expected 8}}
  minfer.vs_attention %q, %q, %q, %a0, %a1, %a2, %a3, %q {scale = 1.0 : f32}
    : memref<?x8x?x128xbf16>, memref<?x8x?x128xbf16>, memref<?x8x?x128xbf16>, memref<?x4x?xi32>, memref<?x8x?x100x2xi32>, memref<?x8x?xi32>, memref<?x8x?x30xi32>, memref<?x8x?x128xbf16>
  return
}

// -----

func.func @vs_ranges_last(%q: memref<?x8x?x128xbf16>, %a0: memref<?x8x?xi32>, %a1: memref<?x8x?x100x1xi32>, %a2: memref<?x8x?x30xi32>) {
  // expected-error @+1 {{ranges must end in a dimension of 2 ([start, end))}}
  minfer.vs_attention %q, %q, %q, %a0, %a1, %a0, %a2, %q {scale = 1.0 : f32}
    : memref<?x8x?x128xbf16>, memref<?x8x?x128xbf16>, memref<?x8x?x128xbf16>, memref<?x8x?xi32>, memref<?x8x?x100x1xi32>, memref<?x8x?xi32>, memref<?x8x?x30xi32>, memref<?x8x?x128xbf16>
  return
}

// -----

func.func @vs_column_count_rank(%q: memref<?x8x?x128xbf16>, %a0: memref<?x8x?xi32>, %a1: memref<?x8x?x100x2xi32>, %a2: memref<?x8xi32>, %a3: memref<?x8x?x30xi32>) {
  // expected-error @+1 {{column_count must have rank 3, got 2}}
  minfer.vs_attention %q, %q, %q, %a0, %a1, %a2, %a3, %q {scale = 1.0 : f32}
    : memref<?x8x?x128xbf16>, memref<?x8x?x128xbf16>, memref<?x8x?x128xbf16>, memref<?x8x?xi32>, memref<?x8x?x100x2xi32>, memref<?x8xi32>, memref<?x8x?x30xi32>, memref<?x8x?x128xbf16>
  return
}

// -----

func.func @vs_column_index_rank(%q: memref<?x8x?x128xbf16>, %a0: memref<?x8x?xi32>, %a1: memref<?x8x?x100x2xi32>) {
  // expected-error @+1 {{column_index must have rank 4, got 3}}
  minfer.vs_attention %q, %q, %q, %a0, %a1, %a0, %a0, %q {scale = 1.0 : f32}
    : memref<?x8x?x128xbf16>, memref<?x8x?x128xbf16>, memref<?x8x?x128xbf16>, memref<?x8x?xi32>, memref<?x8x?x100x2xi32>, memref<?x8x?xi32>, memref<?x8x?xi32>, memref<?x8x?x128xbf16>
  return
}

// -----

func.func @vs_column_index_heads(%q: memref<?x8x?x128xbf16>, %a0: memref<?x8x?xi32>, %a1: memref<?x8x?x100x2xi32>, %a2: memref<?x2x?x30xi32>) {
  // expected-error @+1 {{column_index dim 1 is 2, expected 8}}
  minfer.vs_attention %q, %q, %q, %a0, %a1, %a0, %a2, %q {scale = 1.0 : f32}
    : memref<?x8x?x128xbf16>, memref<?x8x?x128xbf16>, memref<?x8x?x128xbf16>, memref<?x8x?xi32>, memref<?x8x?x100x2xi32>, memref<?x8x?xi32>, memref<?x2x?x30xi32>, memref<?x8x?x128xbf16>
  return
}

// -----

// Regression (verifier hole): batch pinned by range_count only.
func.func @vs_index_chain(%q: memref<?x8x?x128xbf16>, %a0: memref<1x8x?xi32>, %a1: memref<?x8x?x100x2xi32>, %a2: memref<2x8x?xi32>, %a3: memref<?x8x?x30xi32>) {
  // expected-error @+1 {{column_count dim 0 is 2, expected 1}}
  minfer.vs_attention %q, %q, %q, %a0, %a1, %a2, %a3, %q {scale = 1.0 : f32}
    : memref<?x8x?x128xbf16>, memref<?x8x?x128xbf16>, memref<?x8x?x128xbf16>, memref<1x8x?xi32>, memref<?x8x?x100x2xi32>, memref<2x8x?xi32>, memref<?x8x?x30xi32>, memref<?x8x?x128xbf16>
  return
}
