// RUN: minfer-opt %s -split-input-file --minfer-expand-sparse-attention | FileCheck %s
// RUN: minfer-opt %s -split-input-file --minfer-expand-sparse-attention="last-q=128 forced-vertical=0 forced-slash=0" | FileCheck %s --check-prefix=OPTS
// RUN: minfer-opt %s -split-input-file --minfer-expand-sparse-attention --mlir-print-op-generic | minfer-opt -split-input-file | FileCheck %s --check-prefix=VERIFIED

// Bad pass options are diagnostics, not crashes.
// RUN: not minfer-opt %s -split-input-file --minfer-expand-sparse-attention="block-size=32" 2>&1 | FileCheck %s --check-prefix=BLOCK
// RUN: not minfer-opt %s -split-input-file --minfer-expand-sparse-attention="block-size=128" 2>&1 | FileCheck %s --check-prefix=BLOCK
// RUN: not minfer-opt %s -split-input-file --minfer-expand-sparse-attention="last-q=40" 2>&1 | FileCheck %s --check-prefix=BADOPT
// RUN: not minfer-opt %s -split-input-file --minfer-expand-sparse-attention="last-q=-16" 2>&1 | FileCheck %s --check-prefix=BADOPT
// RUN: not minfer-opt %s -split-input-file --minfer-expand-sparse-attention="forced-vertical=-1" 2>&1 | FileCheck %s --check-prefix=BADOPT
// RUN: not minfer-opt %s -split-input-file --minfer-expand-sparse-attention="forced-slash=-1" 2>&1 | FileCheck %s --check-prefix=BADOPT
// A last-q override beyond a static N is a diagnostic of the pass (it would
// otherwise build a vs_estimate that fails verification).
// RUN: not minfer-opt %s -split-input-file --minfer-expand-sparse-attention="last-q=512" 2>&1 | FileCheck %s --check-prefix=LASTQ
// LASTQ: error: 'minfer.sparse_attention' op last-q override (512) exceeds the sequence length (256)
// BLOCK: error: minfer-expand-sparse-attention: block-size must be 64 (the kernel tile), got {{32|128}}
// BADOPT: error: minfer-expand-sparse-attention: last-q must be 0 or a positive multiple of 16 and forced counts non-negative

// The expanded IR verifies: every estimate/index/kernel op the pass builds
// passes its verifier when printed generically and parsed back.
// VERIFIED-LABEL: func.func @all_dense
// VERIFIED-LABEL: func.func @pure_vertical_slash
// VERIFIED-LABEL: func.func @pure_block_sparse_static
// VERIFIED-LABEL: func.func @pure_a_shape_gqa
// VERIFIED-LABEL: func.func @mixed_all_four
// VERIFIED-LABEL: func.func @static_n_clamps_ranges
// VERIFIED-LABEL: func.func @vs_grouped_by_last_q
// VERIFIED-LABEL: func.func @two_ops
// VERIFIED-LABEL: func.func @already_expanded

//===----------------------------------------------------------------------===//
// All heads dense: one dense_attention, no index at all.
//===----------------------------------------------------------------------===//

// CHECK-LABEL: func.func @all_dense
// CHECK-SAME: (%[[Q:.+]]: memref<?x4x?x128xbf16>, %[[K:.+]]: memref<?x2x?x128xbf16>, %[[V:.+]]: memref<?x2x?x128xbf16>, %[[O:.+]]: memref<?x4x?x128xbf16>)
// CHECK-NOT: memref.alloc
// CHECK-NOT: minfer.build
// CHECK: minfer.dense_attention %[[Q]], %[[K]], %[[V]], %[[O]] {scale = 8.838800e-02 : f32}
// CHECK-SAME: : memref<?x4x?x128xbf16>, memref<?x2x?x128xbf16>, memref<?x2x?x128xbf16>, memref<?x4x?x128xbf16>
// CHECK-NOT: minfer.sparse_attention
// CHECK-NOT: memref.dealloc
// CHECK: return
func.func @all_dense(%q: memref<?x4x?x128xbf16>, %k: memref<?x2x?x128xbf16>,
                     %v: memref<?x2x?x128xbf16>, %o: memref<?x4x?x128xbf16>) {
  minfer.sparse_attention %q, %k, %v, %o {
      patterns = [#minfer.dense, #minfer.dense, #minfer.dense, #minfer.dense],
      scale = 0.088388 : f32}
    : memref<?x4x?x128xbf16>, memref<?x2x?x128xbf16>,
      memref<?x2x?x128xbf16>, memref<?x4x?x128xbf16>
  return
}

// -----

//===----------------------------------------------------------------------===//
// Pure vertical-slash, dynamic B and N: NB = ceildiv(N, 64); ranges sized by
// max(slash, forced_slash), columns by max(vertical, forced_vertical).
//===----------------------------------------------------------------------===//

// CHECK-LABEL: func.func @pure_vertical_slash
// CHECK-SAME: (%[[Q:.+]]: memref<?x2x?x128xbf16>, %[[K:.+]]: memref<?x2x?x128xbf16>, %[[V:.+]]: memref<?x2x?x128xbf16>, %[[O:.+]]: memref<?x2x?x128xbf16>)
// CHECK-DAG: %[[C0:.+]] = arith.constant 0 : index
// CHECK-DAG: %[[C2:.+]] = arith.constant 2 : index
// CHECK-DAG: %[[C64:.+]] = arith.constant 64 : index
// CHECK-DAG: %[[B:.+]] = memref.dim %[[Q]], %[[C0]]
// CHECK-DAG: %[[N:.+]] = memref.dim %[[Q]], %[[C2]]
// CHECK: %[[NB:.+]] = arith.ceildivui %[[N]], %[[C64]] : index
// CHECK: %[[RC:.+]] = memref.alloc(%[[B]], %[[NB]]) : memref<?x2x?xi32>
// CHECK: %[[R:.+]] = memref.alloc(%[[B]], %[[NB]]) : memref<?x2x?x6096x2xi32>
// CHECK: %[[CC:.+]] = memref.alloc(%[[B]], %[[NB]]) : memref<?x2x?xi32>
// CHECK: %[[CI:.+]] = memref.alloc(%[[B]], %[[NB]]) : memref<?x2x?x1000xi32>
// CHECK: %[[VS:.+]] = memref.alloc(%[[B]], %[[N]]) : memref<?x2x?xf32>
// CHECK: %[[SS:.+]] = memref.alloc(%[[B]], %[[N]]) : memref<?x2x?xf32>
// CHECK: minfer.vs_estimate %[[Q]], %[[K]] into %[[VS]], %[[SS]] {heads = array<i64: 0, 1>, last_q = 64 : i64, scale = 8.838800e-02 : f32}
// CHECK: minfer.build_vs_index %[[VS]], %[[SS]] into %[[RC]], %[[R]], %[[CC]], %[[CI]] {heads = array<i64: 0, 1>, slash = array<i64: 6096, 50>, vertical = array<i64: 1000, 8>}
// CHECK-NOT: minfer.bs_estimate
// CHECK-NOT: minfer.build_a_shape_index
// CHECK-NOT: minfer.build_dense_index
// CHECK-NOT: minfer.block_attention
// CHECK: minfer.vs_attention %[[Q]], %[[K]], %[[V]], %[[RC]], %[[R]], %[[CC]], %[[CI]], %[[O]] {scale = 8.838800e-02 : f32}
// CHECK-DAG: memref.dealloc %[[RC]]
// CHECK-DAG: memref.dealloc %[[R]]
// CHECK-DAG: memref.dealloc %[[CC]]
// CHECK-DAG: memref.dealloc %[[CI]]
// CHECK-DAG: memref.dealloc %[[VS]]
// CHECK-DAG: memref.dealloc %[[SS]]
// CHECK-NOT: minfer.sparse_attention
// CHECK: return

// With forced-vertical=0 forced-slash=0 the buffers follow the budgets alone,
// and last-q=128 overrides the attribute's last_q.
// OPTS-LABEL: func.func @pure_vertical_slash
// OPTS: memref.alloc({{.*}}) : memref<?x2x?x6096x2xi32>
// OPTS: memref.alloc({{.*}}) : memref<?x2x?x1000xi32>
// OPTS: minfer.vs_estimate {{.*}} {heads = array<i64: 0, 1>, last_q = 128 : i64, scale = 8.838800e-02 : f32}
// OPTS: minfer.build_vs_index {{.*}} {forced_slash = 0 : i64, forced_vertical = 0 : i64, heads = array<i64: 0, 1>, slash = array<i64: 6096, 50>, vertical = array<i64: 1000, 8>}
// OPTS: minfer.vs_attention
func.func @pure_vertical_slash(%q: memref<?x2x?x128xbf16>, %k: memref<?x2x?x128xbf16>,
                               %v: memref<?x2x?x128xbf16>, %o: memref<?x2x?x128xbf16>) {
  minfer.sparse_attention %q, %k, %v, %o {
      patterns = [#minfer.vertical_slash<vertical = 1000, slash = 6096>,
                  #minfer.vertical_slash<vertical = 8, slash = 50>],
      scale = 0.088388 : f32}
    : memref<?x2x?x128xbf16>, memref<?x2x?x128xbf16>,
      memref<?x2x?x128xbf16>, memref<?x2x?x128xbf16>
  return
}

// -----

//===----------------------------------------------------------------------===//
// Pure block-sparse, static N = 200: NB = 4, no arith.ceildivui, ranges sized
// by top_k = 100 (below the clamp to N), one column slot (unused).
//===----------------------------------------------------------------------===//

// CHECK-LABEL: func.func @pure_block_sparse_static
// CHECK-SAME: (%[[Q:.+]]: memref<1x2x200x64xbf16>, %[[O:.+]]: memref<1x2x200x64xbf16>)
// CHECK-NOT: arith.ceildivui
// CHECK: %[[N:.+]] = arith.constant 200 : index
// CHECK-NOT: arith.ceildivui
// CHECK: %[[RC:.+]] = memref.alloc() : memref<1x2x4xi32>
// CHECK: %[[R:.+]] = memref.alloc() : memref<1x2x4x100x2xi32>
// CHECK: %[[CC:.+]] = memref.alloc() : memref<1x2x4xi32>
// CHECK: %[[CI:.+]] = memref.alloc() : memref<1x2x4x1xi32>
// CHECK: %[[S:.+]] = memref.alloc() : memref<1x2x4x4xf32>
// CHECK-NOT: minfer.vs_estimate
// CHECK: minfer.bs_estimate %[[Q]], %[[Q]] into %[[S]] {heads = array<i64: 0, 1>, scale = 1.250000e-01 : f32}
// CHECK: minfer.build_bs_index %[[S]], %[[N]] into %[[RC]], %[[R]], %[[CC]], %[[CI]] {heads = array<i64: 0, 1>, top_k = array<i64: 100, 2>}
// CHECK-NOT: minfer.vs_attention
// CHECK: minfer.block_attention %[[Q]], %[[Q]], %[[Q]], %[[RC]], %[[R]], %[[O]] {scale = 1.250000e-01 : f32}
// CHECK-SAME: : memref<1x2x200x64xbf16>, memref<1x2x200x64xbf16>, memref<1x2x200x64xbf16>, memref<1x2x4xi32>, memref<1x2x4x100x2xi32>, memref<1x2x200x64xbf16>
// CHECK: memref.dealloc %[[RC]]
// CHECK: memref.dealloc %[[S]]
// CHECK-NEXT: return

// The options do not touch block-sparse heads.
// OPTS-LABEL: func.func @pure_block_sparse_static
// OPTS-NOT: minfer.vs_estimate
// OPTS: memref.alloc() : memref<1x2x4x100x2xi32>
// OPTS: minfer.block_attention
func.func @pure_block_sparse_static(%q: memref<1x2x200x64xbf16>, %o: memref<1x2x200x64xbf16>) {
  minfer.sparse_attention %q, %q, %q, %o {
      patterns = [#minfer.block_sparse<top_k = 100>, #minfer.block_sparse<top_k = 2>],
      scale = 0.125 : f32}
    : memref<1x2x200x64xbf16>, memref<1x2x200x64xbf16>,
      memref<1x2x200x64xbf16>, memref<1x2x200x64xbf16>
  return
}

// -----

//===----------------------------------------------------------------------===//
// Pure A-shape, GQA, f16: no estimation, two ranges (sink + window).
//===----------------------------------------------------------------------===//

// CHECK-LABEL: func.func @pure_a_shape_gqa
// CHECK-SAME: (%[[Q:.+]]: memref<?x4x?x64xf16>, %[[K:.+]]: memref<?x1x?x64xf16>, %[[V:.+]]: memref<?x1x?x64xf16>, %[[O:.+]]: memref<?x4x?x64xf16>)
// CHECK: %[[B:.+]] = memref.dim %[[Q]], %{{.+}} : memref<?x4x?x64xf16>
// CHECK: %[[N:.+]] = memref.dim %[[Q]], %{{.+}} : memref<?x4x?x64xf16>
// CHECK: %[[RC:.+]] = memref.alloc({{.*}}) : memref<?x4x?xi32>
// CHECK: %[[R:.+]] = memref.alloc({{.*}}) : memref<?x4x?x2x2xi32>
// CHECK: %[[CC:.+]] = memref.alloc({{.*}}) : memref<?x4x?xi32>
// CHECK: %[[CI:.+]] = memref.alloc({{.*}}) : memref<?x4x?x1xi32>
// CHECK-NOT: memref.alloc
// CHECK-NOT: minfer.vs_estimate
// CHECK-NOT: minfer.bs_estimate
// CHECK: minfer.build_a_shape_index %[[N]] into %[[RC]], %[[R]], %[[CC]], %[[CI]] {heads = array<i64: 0, 1, 2, 3>, local = array<i64: 4096, 64, 128, 1>, sink = array<i64: 128, 4, 0, 0>}
// CHECK-NOT: minfer.build_dense_index
// CHECK: minfer.block_attention %[[Q]], %[[K]], %[[V]], %[[RC]], %[[R]], %[[O]]
// CHECK-NOT: minfer.vs_attention
// CHECK: return
func.func @pure_a_shape_gqa(%q: memref<?x4x?x64xf16>, %k: memref<?x1x?x64xf16>,
                            %v: memref<?x1x?x64xf16>, %o: memref<?x4x?x64xf16>) {
  minfer.sparse_attention %q, %k, %v, %o {
      patterns = [#minfer.a_shape<sink = 128, local = 4096>,
                  #minfer.a_shape<sink = 4, local = 64>,
                  #minfer.a_shape<sink = 0, local = 128>,
                  #minfer.a_shape<sink = 0, local = 1>],
      scale = 0.125 : f32}
    : memref<?x4x?x64xf16>, memref<?x1x?x64xf16>,
      memref<?x1x?x64xf16>, memref<?x4x?x64xf16>
  return
}

// -----

//===----------------------------------------------------------------------===//
// All four patterns in one op: every group writes the same four index
// buffers, and one vs_attention serves all heads.
//===----------------------------------------------------------------------===//

// CHECK-LABEL: func.func @mixed_all_four
// CHECK-SAME: (%[[Q:.+]]: memref<?x8x?x128xbf16>, %[[K:.+]]: memref<?x2x?x128xbf16>, %[[V:.+]]: memref<?x2x?x128xbf16>, %[[O:.+]]: memref<?x8x?x128xbf16>)
// CHECK: %[[B:.+]] = memref.dim %[[Q]]
// CHECK: %[[N:.+]] = memref.dim %[[Q]]
// CHECK: %[[RC:.+]] = memref.alloc({{.*}}) : memref<?x8x?xi32>
// CHECK: %[[R:.+]] = memref.alloc({{.*}}) : memref<?x8x?x6096x2xi32>
// CHECK: %[[CC:.+]] = memref.alloc({{.*}}) : memref<?x8x?xi32>
// CHECK: %[[CI:.+]] = memref.alloc({{.*}}) : memref<?x8x?x1000xi32>
// CHECK: minfer.vs_estimate %[[Q]], %[[K]] into %[[VS:.+]], %[[SS:.+]] {heads = array<i64: 0, 4>, last_q = 64 : i64
// CHECK: minfer.build_vs_index %[[VS]], %[[SS]] into %[[RC]], %[[R]], %[[CC]], %[[CI]] {heads = array<i64: 0, 4>, slash = array<i64: 6096, 100>, vertical = array<i64: 1000, 30>}
// CHECK: %[[S:.+]] = memref.alloc({{.*}}) : memref<?x8x?x?xf32>
// CHECK: minfer.bs_estimate %[[Q]], %[[K]] into %[[S]] {heads = array<i64: 1, 5>
// CHECK: minfer.build_bs_index %[[S]], %[[N]] into %[[RC]], %[[R]], %[[CC]], %[[CI]] {heads = array<i64: 1, 5>, top_k = array<i64: 200, 10>}
// CHECK: minfer.build_a_shape_index %[[N]] into %[[RC]], %[[R]], %[[CC]], %[[CI]] {heads = array<i64: 2, 6>, local = array<i64: 4096, 1024>, sink = array<i64: 128, 64>}
// CHECK: minfer.build_dense_index %[[N]] into %[[RC]], %[[R]], %[[CC]], %[[CI]] {heads = array<i64: 3, 7>}
// CHECK-NOT: minfer.block_attention
// CHECK-NOT: minfer.dense_attention
// CHECK: minfer.vs_attention %[[Q]], %[[K]], %[[V]], %[[RC]], %[[R]], %[[CC]], %[[CI]], %[[O]] {scale = 8.838800e-02 : f32}
// CHECK-NOT: minfer.vs_attention
// CHECK-NOT: minfer.sparse_attention
// CHECK: return
func.func @mixed_all_four(%q: memref<?x8x?x128xbf16>, %k: memref<?x2x?x128xbf16>,
                          %v: memref<?x2x?x128xbf16>, %o: memref<?x8x?x128xbf16>) {
  minfer.sparse_attention %q, %k, %v, %o {
      patterns = [#minfer.vertical_slash<vertical = 1000, slash = 6096>,
                  #minfer.block_sparse<top_k = 200>,
                  #minfer.a_shape<sink = 128, local = 4096>,
                  #minfer.dense,
                  #minfer.vertical_slash<vertical = 30, slash = 100>,
                  #minfer.block_sparse<top_k = 10>,
                  #minfer.a_shape<sink = 64, local = 1024>,
                  #minfer.dense],
      scale = 0.088388 : f32}
    : memref<?x8x?x128xbf16>, memref<?x2x?x128xbf16>,
      memref<?x2x?x128xbf16>, memref<?x8x?x128xbf16>
  return
}

// -----

//===----------------------------------------------------------------------===//
// Static N = 256 (NB = 4): merged ranges are disjoint and non-empty, so a
// block row holds at most N of them and slash = 6096 is clamped to 256.
// Columns are not clamped.
//===----------------------------------------------------------------------===//

// CHECK-LABEL: func.func @static_n_clamps_ranges
// CHECK-NOT: arith.ceildivui
// CHECK: memref.alloc() : memref<2x2x4xi32>
// CHECK: memref.alloc() : memref<2x2x4x256x2xi32>
// CHECK: memref.alloc() : memref<2x2x4xi32>
// CHECK: memref.alloc() : memref<2x2x4x1000xi32>
// CHECK: memref.alloc() : memref<2x2x256xf32>
// CHECK: minfer.vs_estimate {{.*}} into memref<2x2x256xf32>, memref<2x2x256xf32>
// CHECK: minfer.build_a_shape_index
// CHECK: minfer.vs_attention
// CHECK-SAME: memref<2x2x4x256x2xi32>

// OPTS-LABEL: func.func @static_n_clamps_ranges
// OPTS: memref.alloc() : memref<2x2x4x256x2xi32>
// OPTS: minfer.vs_estimate {{.*}} last_q = 128 : i64
func.func @static_n_clamps_ranges(%q: memref<2x2x256x128xf32>, %o: memref<2x2x256x128xf32>) {
  minfer.sparse_attention %q, %q, %q, %o {
      patterns = [#minfer.vertical_slash<vertical = 1000, slash = 6096>,
                  #minfer.a_shape<sink = 4, local = 64>],
      scale = 0.088388 : f32}
    : memref<2x2x256x128xf32>, memref<2x2x256x128xf32>,
      memref<2x2x256x128xf32>, memref<2x2x256x128xf32>
  return
}

// -----

//===----------------------------------------------------------------------===//
// Vertical-slash heads with different last_q get one estimate each; the
// last-q option collapses them into one.
//===----------------------------------------------------------------------===//

// CHECK-LABEL: func.func @vs_grouped_by_last_q
// CHECK: minfer.vs_estimate {{.*}} {heads = array<i64: 0, 2>, last_q = 64 : i64
// CHECK: minfer.build_vs_index {{.*}} {heads = array<i64: 0, 2>, slash = array<i64: 1, 3>, vertical = array<i64: 1, 3>}
// CHECK: minfer.vs_estimate {{.*}} {heads = array<i64: 1>, last_q = 256 : i64
// CHECK: minfer.build_vs_index {{.*}} {heads = array<i64: 1>, slash = array<i64: 2>, vertical = array<i64: 2>}
// CHECK-NOT: minfer.vs_estimate
// CHECK: minfer.vs_attention

// OPTS-LABEL: func.func @vs_grouped_by_last_q
// OPTS: memref.alloc({{.*}}) : memref<?x3x?x3x2xi32>
// OPTS: memref.alloc({{.*}}) : memref<?x3x?x3xi32>
// OPTS: minfer.vs_estimate {{.*}} {heads = array<i64: 0, 1, 2>, last_q = 128 : i64
// OPTS-NOT: minfer.vs_estimate
// OPTS: minfer.vs_attention
func.func @vs_grouped_by_last_q(%q: memref<?x3x?x64xbf16>, %o: memref<?x3x?x64xbf16>) {
  minfer.sparse_attention %q, %q, %q, %o {
      patterns = [#minfer.vertical_slash<vertical = 1, slash = 1>,
                  #minfer.vertical_slash<vertical = 2, slash = 2, last_q = 256>,
                  #minfer.vertical_slash<vertical = 3, slash = 3, last_q = 64>],
      scale = 0.125 : f32}
    : memref<?x3x?x64xbf16>, memref<?x3x?x64xbf16>,
      memref<?x3x?x64xbf16>, memref<?x3x?x64xbf16>
  return
}

// -----

//===----------------------------------------------------------------------===//
// Every sparse_attention in a function is expanded, each with its own
// buffers; other ops are left alone.
//===----------------------------------------------------------------------===//

// CHECK-LABEL: func.func @two_ops
// CHECK: minfer.dense_attention
// CHECK: minfer.build_a_shape_index
// CHECK: minfer.block_attention
// CHECK-NOT: minfer.sparse_attention
// CHECK: return
func.func @two_ops(%q: memref<1x1x128x64xbf16>, %o: memref<1x1x128x64xbf16>) {
  minfer.sparse_attention %q, %q, %q, %o {patterns = [#minfer.dense], scale = 0.125 : f32}
    : memref<1x1x128x64xbf16>, memref<1x1x128x64xbf16>,
      memref<1x1x128x64xbf16>, memref<1x1x128x64xbf16>
  minfer.sparse_attention %q, %q, %q, %o {patterns = [#minfer.a_shape<sink = 4, local = 64>], scale = 0.125 : f32}
    : memref<1x1x128x64xbf16>, memref<1x1x128x64xbf16>,
      memref<1x1x128x64xbf16>, memref<1x1x128x64xbf16>
  return
}

// -----

// Lower-level ops pass through untouched.
// CHECK-LABEL: func.func @already_expanded
// CHECK-NOT: memref.alloc
// CHECK: minfer.dense_attention
// CHECK-NEXT: return
func.func @already_expanded(%q: memref<1x1x64x64xbf16>) {
  minfer.dense_attention %q, %q, %q, %q {scale = 1.0 : f32}
    : memref<1x1x64x64xbf16>, memref<1x1x64x64xbf16>,
      memref<1x1x64x64xbf16>, memref<1x1x64x64xbf16>
  return
}
