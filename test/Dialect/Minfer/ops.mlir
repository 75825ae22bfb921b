// RUN: minfer-opt %s -split-input-file | minfer-opt -split-input-file | FileCheck %s
// RUN: minfer-opt %s -split-input-file --mlir-print-op-generic | minfer-opt -split-input-file | FileCheck %s
// RUN: minfer-opt %s -split-input-file --mlir-print-op-generic | FileCheck %s --check-prefix=GENERIC

// Round trip of every minfer op and every pattern attribute form, in the
// custom and in the generic syntax. Default-valued parameters (last_q = 64,
// block = 64, causal = true, forced_vertical = 30, forced_slash = 100) are
// elided when printed.

//===----------------------------------------------------------------------===//
// Pattern attributes
//===----------------------------------------------------------------------===//

// CHECK-LABEL: func.func @every_pattern_form
// CHECK: minfer.sparse_attention %{{.*}}, %{{.*}}, %{{.*}}, %{{.*}} {patterns = [
// CHECK-SAME: #minfer.dense,
// CHECK-SAME: #minfer.a_shape<sink = 128, local = 4096>,
// CHECK-SAME: #minfer.a_shape<sink = 0, local = 1>,
// CHECK-SAME: #minfer.vertical_slash<vertical = 1, slash = 2>,
// CHECK-SAME: #minfer.vertical_slash<vertical = 1000, slash = 6096>,
// CHECK-SAME: #minfer.vertical_slash<vertical = 3, slash = 4, last_q = 128>,
// CHECK-SAME: #minfer.block_sparse<top_k = 4>,
// CHECK-SAME: #minfer.block_sparse<top_k = 100>],
// CHECK-SAME: scale = 8.838800e-02 : f32}
// CHECK-SAME: : memref<1x8x?x128xbf16>, memref<1x8x?x128xbf16>, memref<1x8x?x128xbf16>, memref<1x8x?x128xbf16>
// GENERIC-LABEL: sym_name = "every_pattern_form"
// GENERIC: "minfer.sparse_attention"(%{{.*}}, %{{.*}}, %{{.*}}, %{{.*}}) <{causal = true, patterns = [#minfer.dense,
func.func @every_pattern_form(%q: memref<1x8x?x128xbf16>, %k: memref<1x8x?x128xbf16>,
                              %v: memref<1x8x?x128xbf16>, %o: memref<1x8x?x128xbf16>) {
  minfer.sparse_attention %q, %k, %v, %o {
      patterns = [#minfer.dense,
                  #minfer.a_shape<sink = 128, local = 4096>,
                  #minfer.a_shape<sink = 0, local = 1>,
                  #minfer.vertical_slash<vertical = 1, slash = 2>,
                  // last_q = 64 is the default: printed without it.
                  #minfer.vertical_slash<vertical = 1000, slash = 6096, last_q = 64>,
                  #minfer.vertical_slash<vertical = 3, slash = 4, last_q = 128>,
                  #minfer.block_sparse<top_k = 4>,
                  // block = 64 is the default: printed without it.
                  #minfer.block_sparse<top_k = 100, block = 64>],
      scale = 0.088388 : f32, causal = true}
    : memref<1x8x?x128xbf16>, memref<1x8x?x128xbf16>,
      memref<1x8x?x128xbf16>, memref<1x8x?x128xbf16>
  return
}

// -----

// Struct parameters may be written in any order.
// CHECK-LABEL: func.func @param_order
// CHECK: patterns = [#minfer.vertical_slash<vertical = 5, slash = 7, last_q = 32>, #minfer.a_shape<sink = 4, local = 64>]
func.func @param_order(%q: memref<1x2x64x64xf16>, %o: memref<1x2x64x64xf16>) {
  minfer.sparse_attention %q, %q, %q, %o {
      patterns = [#minfer.vertical_slash<last_q = 32, slash = 7, vertical = 5>,
                  #minfer.a_shape<local = 64, sink = 4>],
      scale = 1.0 : f32}
    : memref<1x2x64x64xf16>, memref<1x2x64x64xf16>,
      memref<1x2x64x64xf16>, memref<1x2x64x64xf16>
  return
}

// -----

// Pattern attributes outside an op, as a dialect attribute alias.
#vs = #minfer.vertical_slash<vertical = 30, slash = 800>
// CHECK-LABEL: func.func @attr_alias
// CHECK: patterns = [#minfer.vertical_slash<vertical = 30, slash = 800>]
func.func @attr_alias(%q: memref<1x1x?x128xf32>, %o: memref<1x1x?x128xf32>) {
  minfer.sparse_attention %q, %q, %q, %o {patterns = [#vs], scale = 0.5 : f32}
    : memref<1x1x?x128xf32>, memref<1x1x?x128xf32>,
      memref<1x1x?x128xf32>, memref<1x1x?x128xf32>
  return
}

//===----------------------------------------------------------------------===//
// Level 1: sparse_attention
//===----------------------------------------------------------------------===//

// -----

// Static shapes, bf16, MHA.
// CHECK-LABEL: func.func @sparse_static_bf16
// CHECK: minfer.sparse_attention %[[Q:.+]], %[[K:.+]], %[[V:.+]], %[[O:.+]] {patterns = [#minfer.dense, #minfer.block_sparse<top_k = 2>], scale = 1.250000e-01 : f32}
// CHECK-SAME: : memref<2x2x256x64xbf16>, memref<2x2x256x64xbf16>, memref<2x2x256x64xbf16>, memref<2x2x256x64xbf16>
func.func @sparse_static_bf16(%q: memref<2x2x256x64xbf16>, %k: memref<2x2x256x64xbf16>,
                              %v: memref<2x2x256x64xbf16>, %o: memref<2x2x256x64xbf16>) {
  minfer.sparse_attention %q, %k, %v, %o {
      patterns = [#minfer.dense, #minfer.block_sparse<top_k = 2>], scale = 0.125 : f32}
    : memref<2x2x256x64xbf16>, memref<2x2x256x64xbf16>,
      memref<2x2x256x64xbf16>, memref<2x2x256x64xbf16>
  return
}

// -----

// Dynamic batch and sequence, f16, GQA (8 query heads over 2 key/value heads).
// CHECK-LABEL: func.func @sparse_dynamic_gqa_f16
// CHECK: minfer.sparse_attention
// CHECK-SAME: : memref<?x8x?x128xf16>, memref<?x2x?x128xf16>, memref<?x2x?x128xf16>, memref<?x8x?x128xf16>
func.func @sparse_dynamic_gqa_f16(%q: memref<?x8x?x128xf16>, %k: memref<?x2x?x128xf16>,
                                  %v: memref<?x2x?x128xf16>, %o: memref<?x8x?x128xf16>) {
  minfer.sparse_attention %q, %k, %v, %o {
      patterns = [#minfer.vertical_slash<vertical = 1000, slash = 6096>,
                  #minfer.vertical_slash<vertical = 1000, slash = 6096>,
                  #minfer.a_shape<sink = 128, local = 4096>,
                  #minfer.a_shape<sink = 128, local = 4096>,
                  #minfer.block_sparse<top_k = 100>,
                  #minfer.block_sparse<top_k = 100>,
                  #minfer.dense, #minfer.dense],
      scale = 0.088388 : f32}
    : memref<?x8x?x128xf16>, memref<?x2x?x128xf16>,
      memref<?x2x?x128xf16>, memref<?x8x?x128xf16>
  return
}

// -----

// f32 is legal at the op level; multi-query attention (Hkv = 1); mixed
// static/dynamic extents across operands.
// CHECK-LABEL: func.func @sparse_f32_mqa
// CHECK: minfer.sparse_attention
// CHECK-SAME: : memref<1x4x?x64xf32>, memref<?x1x128x64xf32>, memref<1x1x?x64xf32>, memref<1x4x128x64xf32>
func.func @sparse_f32_mqa(%q: memref<1x4x?x64xf32>, %k: memref<?x1x128x64xf32>,
                          %v: memref<1x1x?x64xf32>, %o: memref<1x4x128x64xf32>) {
  minfer.sparse_attention %q, %k, %v, %o {
      patterns = [#minfer.dense, #minfer.dense, #minfer.dense,
                  #minfer.vertical_slash<vertical = 64, slash = 64, last_q = 128>],
      scale = 0.125 : f32}
    : memref<1x4x?x64xf32>, memref<?x1x128x64xf32>,
      memref<1x1x?x64xf32>, memref<1x4x128x64xf32>
  return
}

// -----

// An explicit `causal = true` is the default and is elided.
// CHECK-LABEL: func.func @sparse_causal_elided
// CHECK: minfer.sparse_attention
// CHECK-NOT: causal
// CHECK: return
func.func @sparse_causal_elided(%q: memref<1x1x64x64xbf16>) {
  minfer.sparse_attention %q, %q, %q, %q {
      patterns = [#minfer.a_shape<sink = 0, local = 64>], scale = 1.0 : f32, causal = true}
    : memref<1x1x64x64xbf16>, memref<1x1x64x64xbf16>,
      memref<1x1x64x64xbf16>, memref<1x1x64x64xbf16>
  return
}

// -----

// Discardable attributes survive the round trip.
// CHECK-LABEL: func.func @sparse_extra_attr
// CHECK: minfer.sparse_attention
// CHECK-SAME: layer = 3 : i64
func.func @sparse_extra_attr(%q: memref<1x1x64x64xbf16>) {
  minfer.sparse_attention %q, %q, %q, %q {
      patterns = [#minfer.dense], scale = 1.0 : f32, layer = 3 : i64}
    : memref<1x1x64x64xbf16>, memref<1x1x64x64xbf16>,
      memref<1x1x64x64xbf16>, memref<1x1x64x64xbf16>
  return
}

//===----------------------------------------------------------------------===//
// Level 2: estimation
//===----------------------------------------------------------------------===//

// -----

// CHECK-LABEL: func.func @vs_estimate_dynamic
// CHECK: minfer.vs_estimate %[[Q:.+]], %[[K:.+]] into %[[VS:.+]], %[[SS:.+]] {heads = array<i64: 0, 3>, last_q = 64 : i64, scale = 8.838800e-02 : f32}
// CHECK-SAME: : memref<?x4x?x128xbf16>, memref<?x2x?x128xbf16> into memref<?x4x?xf32>, memref<?x4x?xf32>
// GENERIC-LABEL: sym_name = "vs_estimate_dynamic"
// GENERIC: "minfer.vs_estimate"(%{{.*}}, %{{.*}}, %{{.*}}, %{{.*}}) <{heads = array<i64: 0, 3>, last_q = 64 : i64, scale = 8.838800e-02 : f32}>
func.func @vs_estimate_dynamic(%q: memref<?x4x?x128xbf16>, %k: memref<?x2x?x128xbf16>,
                               %vs: memref<?x4x?xf32>, %ss: memref<?x4x?xf32>) {
  minfer.vs_estimate %q, %k into %vs, %ss {heads = array<i64: 0, 3>, last_q = 64, scale = 0.088388 : f32}
    : memref<?x4x?x128xbf16>, memref<?x2x?x128xbf16> into memref<?x4x?xf32>, memref<?x4x?xf32>
  return
}

// -----

// CHECK-LABEL: func.func @vs_estimate_static_f16
// CHECK: minfer.vs_estimate {{.*}} {heads = array<i64: 1>, last_q = 128 : i64, scale = 1.000000e+00 : f32}
// CHECK-SAME: : memref<1x2x128x64xf16>, memref<1x2x128x64xf16> into memref<1x2x128xf32>, memref<1x2x?xf32>
func.func @vs_estimate_static_f16(%q: memref<1x2x128x64xf16>, %vs: memref<1x2x128xf32>,
                                  %ss: memref<1x2x?xf32>) {
  minfer.vs_estimate %q, %q into %vs, %ss {heads = array<i64: 1>, last_q = 128, scale = 1.0 : f32}
    : memref<1x2x128x64xf16>, memref<1x2x128x64xf16> into memref<1x2x128xf32>, memref<1x2x?xf32>
  return
}

// -----

// CHECK-LABEL: func.func @bs_estimate_dynamic
// CHECK: minfer.bs_estimate %[[Q:.+]], %[[K:.+]] into %[[S:.+]] {heads = array<i64: 0, 1, 2, 3>, scale = 8.838800e-02 : f32}
// CHECK-SAME: : memref<?x4x?x128xbf16>, memref<?x4x?x128xbf16> into memref<?x4x?x?xf32>
// GENERIC-LABEL: sym_name = "bs_estimate_dynamic"
// GENERIC: "minfer.bs_estimate"(%{{.*}}, %{{.*}}, %{{.*}}) <{block = 64 : i64, heads = array<i64: 0, 1, 2, 3>, scale = 8.838800e-02 : f32}>
func.func @bs_estimate_dynamic(%q: memref<?x4x?x128xbf16>, %k: memref<?x4x?x128xbf16>,
                               %s: memref<?x4x?x?xf32>) {
  minfer.bs_estimate %q, %k into %s {heads = array<i64: 0, 1, 2, 3>, block = 64, scale = 0.088388 : f32}
    : memref<?x4x?x128xbf16>, memref<?x4x?x128xbf16> into memref<?x4x?x?xf32>
  return
}

// -----

// N = 130 gives NB = 3 (the last block is partial); GQA 4:1.
// CHECK-LABEL: func.func @bs_estimate_static_gqa
// CHECK: minfer.bs_estimate
// CHECK-SAME: : memref<2x4x130x64xf32>, memref<2x1x130x64xf32> into memref<2x4x3x3xf32>
func.func @bs_estimate_static_gqa(%q: memref<2x4x130x64xf32>, %k: memref<2x1x130x64xf32>,
                                  %s: memref<2x4x3x3xf32>) {
  minfer.bs_estimate %q, %k into %s {heads = array<i64: 2>, scale = 0.125 : f32}
    : memref<2x4x130x64xf32>, memref<2x1x130x64xf32> into memref<2x4x3x3xf32>
  return
}

//===----------------------------------------------------------------------===//
// Level 2: index construction
//===----------------------------------------------------------------------===//

// -----

// Defaults (forced_vertical = 30, forced_slash = 100, block = 64) are elided;
// non-default values are kept.
// CHECK-LABEL: func.func @build_vs_index
// CHECK: minfer.build_vs_index %[[VS:.+]], %[[SS:.+]] into %[[RC:.+]], %[[R:.+]], %[[CC:.+]], %[[CI:.+]] {heads = array<i64: 0, 2>, slash = array<i64: 6096, 100>, vertical = array<i64: 1000, 30>}
// CHECK-SAME: : memref<?x4x?xf32>, memref<?x4x?xf32> into memref<?x4x?xi32>, memref<?x4x?x6096x2xi32>, memref<?x4x?xi32>, memref<?x4x?x1000xi32>
// CHECK: minfer.build_vs_index {{.*}} {forced_slash = 0 : i64, forced_vertical = 1 : i64, heads = array<i64: 1>, slash = array<i64: 8>, vertical = array<i64: 8>}
// GENERIC-LABEL: sym_name = "build_vs_index"
// GENERIC: "minfer.build_vs_index"(%{{.*}}, %{{.*}}, %{{.*}}, %{{.*}}, %{{.*}}, %{{.*}}) <{block = 64 : i64, forced_slash = 100 : i64, forced_vertical = 30 : i64, heads = array<i64: 0, 2>, slash = array<i64: 6096, 100>, vertical = array<i64: 1000, 30>}>
func.func @build_vs_index(%vs: memref<?x4x?xf32>, %ss: memref<?x4x?xf32>,
                          %rc: memref<?x4x?xi32>, %r: memref<?x4x?x6096x2xi32>,
                          %cc: memref<?x4x?xi32>, %ci: memref<?x4x?x1000xi32>) {
  minfer.build_vs_index %vs, %ss into %rc, %r, %cc, %ci {
      heads = array<i64: 0, 2>, vertical = array<i64: 1000, 30>,
      slash = array<i64: 6096, 100>, forced_vertical = 30, forced_slash = 100, block = 64}
    : memref<?x4x?xf32>, memref<?x4x?xf32> into memref<?x4x?xi32>,
      memref<?x4x?x6096x2xi32>, memref<?x4x?xi32>, memref<?x4x?x1000xi32>
  minfer.build_vs_index %vs, %ss into %rc, %r, %cc, %ci {
      heads = array<i64: 1>, vertical = array<i64: 8>, slash = array<i64: 8>,
      forced_vertical = 1, forced_slash = 0}
    : memref<?x4x?xf32>, memref<?x4x?xf32> into memref<?x4x?xi32>,
      memref<?x4x?x6096x2xi32>, memref<?x4x?xi32>, memref<?x4x?x1000xi32>
  return
}

// -----

// Static: N = 200 -> NB = 4.
// CHECK-LABEL: func.func @build_vs_index_static
// CHECK: minfer.build_vs_index
// CHECK-SAME: : memref<1x2x200xf32>, memref<1x2x200xf32> into memref<1x2x4xi32>, memref<1x2x4x5x2xi32>, memref<1x2x4xi32>, memref<1x2x4x30xi32>
func.func @build_vs_index_static(%vs: memref<1x2x200xf32>, %rc: memref<1x2x4xi32>,
                                 %r: memref<1x2x4x5x2xi32>, %cc: memref<1x2x4xi32>,
                                 %ci: memref<1x2x4x30xi32>) {
  minfer.build_vs_index %vs, %vs into %rc, %r, %cc, %ci {
      heads = array<i64: 0, 1>, vertical = array<i64: 30, 30>, slash = array<i64: 5, 5>}
    : memref<1x2x200xf32>, memref<1x2x200xf32> into memref<1x2x4xi32>,
      memref<1x2x4x5x2xi32>, memref<1x2x4xi32>, memref<1x2x4x30xi32>
  return
}

// -----

// CHECK-LABEL: func.func @build_bs_index
// CHECK: minfer.build_bs_index %[[S:.+]], %[[N:.+]] into %[[RC:.+]], %[[R:.+]], %[[CC:.+]], %[[CI:.+]] {heads = array<i64: 1, 0>, top_k = array<i64: 100, 3>}
// CHECK-SAME: : memref<?x2x?x?xf32> into memref<?x2x?xi32>, memref<?x2x?x100x2xi32>, memref<?x2x?xi32>, memref<?x2x?x1xi32>
// GENERIC-LABEL: sym_name = "build_bs_index"
// In ODS operand order seq_len comes after the four index buffers.
// GENERIC: "minfer.build_bs_index"(%{{.*}}, %{{.*}}, %{{.*}}, %{{.*}}, %{{.*}}, %{{.*}}) <{block = 64 : i64, heads = array<i64: 1, 0>, top_k = array<i64: 100, 3>}>
// GENERIC-SAME: : (memref<?x2x?x?xf32>, memref<?x2x?xi32>, memref<?x2x?x100x2xi32>, memref<?x2x?xi32>, memref<?x2x?x1xi32>, index) -> ()
func.func @build_bs_index(%s: memref<?x2x?x?xf32>, %n: index,
                          %rc: memref<?x2x?xi32>, %r: memref<?x2x?x100x2xi32>,
                          %cc: memref<?x2x?xi32>, %ci: memref<?x2x?x1xi32>) {
  minfer.build_bs_index %s, %n into %rc, %r, %cc, %ci {heads = array<i64: 1, 0>, top_k = array<i64: 100, 3>}
    : memref<?x2x?x?xf32> into memref<?x2x?xi32>, memref<?x2x?x100x2xi32>,
      memref<?x2x?xi32>, memref<?x2x?x1xi32>
  return
}

// -----

// CHECK-LABEL: func.func @build_bs_index_static
// CHECK: minfer.build_bs_index
// CHECK-SAME: : memref<1x1x2x2xf32> into memref<1x1x2xi32>, memref<1x1x2x3x2xi32>, memref<1x1x2xi32>, memref<1x1x2x1xi32>
func.func @build_bs_index_static(%s: memref<1x1x2x2xf32>, %rc: memref<1x1x2xi32>,
                                 %r: memref<1x1x2x3x2xi32>, %cc: memref<1x1x2xi32>,
                                 %ci: memref<1x1x2x1xi32>) {
  %n = arith.constant 128 : index
  minfer.build_bs_index %s, %n into %rc, %r, %cc, %ci {heads = array<i64: 0>, top_k = array<i64: 2>, block = 64}
    : memref<1x1x2x2xf32> into memref<1x1x2xi32>, memref<1x1x2x3x2xi32>,
      memref<1x1x2xi32>, memref<1x1x2x1xi32>
  return
}

// -----

// CHECK-LABEL: func.func @build_a_shape_index
// CHECK: minfer.build_a_shape_index %[[N:.+]] into %[[RC:.+]], %[[R:.+]], %[[CC:.+]], %[[CI:.+]] {heads = array<i64: 0, 3>, local = array<i64: 4096, 1>, sink = array<i64: 128, 0>}
// CHECK-SAME: : memref<?x4x?xi32>, memref<?x4x?x2x2xi32>, memref<?x4x?xi32>, memref<?x4x?x1xi32>
// GENERIC-LABEL: sym_name = "build_a_shape_index"
// GENERIC: "minfer.build_a_shape_index"(%{{.*}}, %{{.*}}, %{{.*}}, %{{.*}}, %{{.*}}) <{block = 64 : i64, heads = array<i64: 0, 3>, local = array<i64: 4096, 1>, sink = array<i64: 128, 0>}>
func.func @build_a_shape_index(%n: index, %rc: memref<?x4x?xi32>, %r: memref<?x4x?x2x2xi32>,
                               %cc: memref<?x4x?xi32>, %ci: memref<?x4x?x1xi32>) {
  minfer.build_a_shape_index %n into %rc, %r, %cc, %ci {
      heads = array<i64: 0, 3>, sink = array<i64: 128, 0>, local = array<i64: 4096, 1>}
    : memref<?x4x?xi32>, memref<?x4x?x2x2xi32>, memref<?x4x?xi32>, memref<?x4x?x1xi32>
  return
}

// -----

// CHECK-LABEL: func.func @build_dense_index
// CHECK: minfer.build_dense_index %[[N:.+]] into %[[RC:.+]], %[[R:.+]], %[[CC:.+]], %[[CI:.+]] {heads = array<i64: 2>}
// CHECK-SAME: : memref<3x4x5xi32>, memref<3x4x5x1x2xi32>, memref<3x4x5xi32>, memref<3x4x5x1xi32>
// GENERIC-LABEL: sym_name = "build_dense_index"
// GENERIC: "minfer.build_dense_index"(%{{.*}}, %{{.*}}, %{{.*}}, %{{.*}}, %{{.*}}) <{block = 64 : i64, heads = array<i64: 2>}>
func.func @build_dense_index(%n: index, %rc: memref<3x4x5xi32>, %r: memref<3x4x5x1x2xi32>,
                             %cc: memref<3x4x5xi32>, %ci: memref<3x4x5x1xi32>) {
  minfer.build_dense_index %n into %rc, %r, %cc, %ci {heads = array<i64: 2>, block = 64}
    : memref<3x4x5xi32>, memref<3x4x5x1x2xi32>, memref<3x4x5xi32>, memref<3x4x5x1xi32>
  return
}

//===----------------------------------------------------------------------===//
// Level 3: tile kernels
//===----------------------------------------------------------------------===//

// -----

// CHECK-LABEL: func.func @dense_attention
// CHECK: minfer.dense_attention %[[Q:.+]], %[[K:.+]], %[[V:.+]], %[[O:.+]] {scale = 8.838800e-02 : f32}
// CHECK-SAME: : memref<?x32x?x128xbf16>, memref<?x8x?x128xbf16>, memref<?x8x?x128xbf16>, memref<?x32x?x128xbf16>
// CHECK: minfer.dense_attention {{.*}} {scale = 1.250000e-01 : f32}
// CHECK-SAME: : memref<1x1x64x64xf16>, memref<1x1x64x64xf16>, memref<1x1x64x64xf16>, memref<1x1x64x64xf16>
// CHECK: minfer.dense_attention {{.*}} : memref<1x?x64x64xf32>
// GENERIC-LABEL: sym_name = "dense_attention"
// GENERIC: "minfer.dense_attention"(%{{.*}}, %{{.*}}, %{{.*}}, %{{.*}}) <{causal = true, scale = 8.838800e-02 : f32}>
func.func @dense_attention(%q: memref<?x32x?x128xbf16>, %k: memref<?x8x?x128xbf16>,
                           %v: memref<?x8x?x128xbf16>, %o: memref<?x32x?x128xbf16>,
                           %h: memref<1x1x64x64xf16>, %f: memref<1x?x64x64xf32>) {
  minfer.dense_attention %q, %k, %v, %o {scale = 0.088388 : f32}
    : memref<?x32x?x128xbf16>, memref<?x8x?x128xbf16>,
      memref<?x8x?x128xbf16>, memref<?x32x?x128xbf16>
  minfer.dense_attention %h, %h, %h, %h {scale = 0.125 : f32, causal = true}
    : memref<1x1x64x64xf16>, memref<1x1x64x64xf16>,
      memref<1x1x64x64xf16>, memref<1x1x64x64xf16>
  // Dynamic H is fine below the sparse_attention level.
  minfer.dense_attention %f, %f, %f, %f {scale = 2.0 : f32}
    : memref<1x?x64x64xf32>, memref<1x?x64x64xf32>,
      memref<1x?x64x64xf32>, memref<1x?x64x64xf32>
  return
}

// -----

// CHECK-LABEL: func.func @block_attention
// CHECK: minfer.block_attention %[[Q:.+]], %[[K:.+]], %[[V:.+]], %[[RC:.+]], %[[R:.+]], %[[O:.+]] {scale = 8.838800e-02 : f32}
// CHECK-SAME: : memref<?x4x?x128xbf16>, memref<?x2x?x128xbf16>, memref<?x2x?x128xbf16>, memref<?x4x?xi32>, memref<?x4x?x65x2xi32>, memref<?x4x?x128xbf16>
// GENERIC-LABEL: sym_name = "block_attention"
// GENERIC: "minfer.block_attention"(%{{.*}}, %{{.*}}, %{{.*}}, %{{.*}}, %{{.*}}, %{{.*}}) <{causal = true, scale = 8.838800e-02 : f32}>
func.func @block_attention(%q: memref<?x4x?x128xbf16>, %k: memref<?x2x?x128xbf16>,
                           %v: memref<?x2x?x128xbf16>, %rc: memref<?x4x?xi32>,
                           %r: memref<?x4x?x65x2xi32>, %o: memref<?x4x?x128xbf16>) {
  minfer.block_attention %q, %k, %v, %rc, %r, %o {scale = 0.088388 : f32}
    : memref<?x4x?x128xbf16>, memref<?x2x?x128xbf16>, memref<?x2x?x128xbf16>,
      memref<?x4x?xi32>, memref<?x4x?x65x2xi32>, memref<?x4x?x128xbf16>
  return
}

// -----

// N = 4096 -> NB = 64.
// CHECK-LABEL: func.func @block_attention_static
// CHECK: minfer.block_attention
// CHECK-SAME: : memref<1x2x4096x64xf16>, memref<1x2x4096x64xf16>, memref<1x2x4096x64xf16>, memref<1x2x64xi32>, memref<1x2x64x65x2xi32>, memref<1x2x4096x64xf16>
func.func @block_attention_static(%q: memref<1x2x4096x64xf16>, %rc: memref<1x2x64xi32>,
                                  %r: memref<1x2x64x65x2xi32>) {
  minfer.block_attention %q, %q, %q, %rc, %r, %q {scale = 0.125 : f32}
    : memref<1x2x4096x64xf16>, memref<1x2x4096x64xf16>, memref<1x2x4096x64xf16>,
      memref<1x2x64xi32>, memref<1x2x64x65x2xi32>, memref<1x2x4096x64xf16>
  return
}

// -----

// CHECK-LABEL: func.func @vs_attention
// CHECK: minfer.vs_attention %[[Q:.+]], %[[K:.+]], %[[V:.+]], %[[RC:.+]], %[[R:.+]], %[[CC:.+]], %[[CI:.+]], %[[O:.+]] {scale = 8.838800e-02 : f32}
// CHECK-SAME: : memref<?x8x?x128xbf16>, memref<?x2x?x128xbf16>, memref<?x2x?x128xbf16>, memref<?x8x?xi32>, memref<?x8x?x6096x2xi32>, memref<?x8x?xi32>, memref<?x8x?x1000xi32>, memref<?x8x?x128xbf16>
// GENERIC-LABEL: sym_name = "vs_attention"
// GENERIC: "minfer.vs_attention"(%{{.*}}, %{{.*}}, %{{.*}}, %{{.*}}, %{{.*}}, %{{.*}}, %{{.*}}, %{{.*}}) <{causal = true, scale = 8.838800e-02 : f32}>
func.func @vs_attention(%q: memref<?x8x?x128xbf16>, %k: memref<?x2x?x128xbf16>,
                        %v: memref<?x2x?x128xbf16>, %rc: memref<?x8x?xi32>,
                        %r: memref<?x8x?x6096x2xi32>, %cc: memref<?x8x?xi32>,
                        %ci: memref<?x8x?x1000xi32>, %o: memref<?x8x?x128xbf16>) {
  minfer.vs_attention %q, %k, %v, %rc, %r, %cc, %ci, %o {scale = 0.088388 : f32}
    : memref<?x8x?x128xbf16>, memref<?x2x?x128xbf16>, memref<?x2x?x128xbf16>,
      memref<?x8x?xi32>, memref<?x8x?x6096x2xi32>, memref<?x8x?xi32>,
      memref<?x8x?x1000xi32>, memref<?x8x?x128xbf16>
  return
}

// -----

// Static f32, N = 65 -> NB = 2.
// CHECK-LABEL: func.func @vs_attention_static_f32
// CHECK: minfer.vs_attention
// CHECK-SAME: : memref<1x1x65x64xf32>, memref<1x1x65x64xf32>, memref<1x1x65x64xf32>, memref<1x1x2xi32>, memref<1x1x2x3x2xi32>, memref<1x1x2xi32>, memref<1x1x2x30xi32>, memref<1x1x65x64xf32>
func.func @vs_attention_static_f32(%q: memref<1x1x65x64xf32>, %rc: memref<1x1x2xi32>,
                                   %r: memref<1x1x2x3x2xi32>, %ci: memref<1x1x2x30xi32>) {
  minfer.vs_attention %q, %q, %q, %rc, %r, %rc, %ci, %q {scale = 0.125 : f32}
    : memref<1x1x65x64xf32>, memref<1x1x65x64xf32>, memref<1x1x65x64xf32>,
      memref<1x1x2xi32>, memref<1x1x2x3x2xi32>, memref<1x1x2xi32>,
      memref<1x1x2x30xi32>, memref<1x1x65x64xf32>
  return
}
