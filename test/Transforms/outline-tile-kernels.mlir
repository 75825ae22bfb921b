// RUN: minfer-opt %s -split-input-file -minfer-outline-tile-kernels | FileCheck %s
// RUN: minfer-opt %s -split-input-file -minfer-outline-tile-kernels='dense-block-m=128 stages=3' | FileCheck %s --check-prefix=M128
// RUN: not minfer-opt %s -split-input-file -minfer-outline-tile-kernels='chip=sm_70' 2>&1 | FileCheck %s --check-prefix=CHIP
// RUN: not minfer-opt %s -split-input-file -minfer-outline-tile-kernels='chip=sm_90a block-block-m=128' 2>&1 | FileCheck %s --check-prefix=PAIR
// RUN: not minfer-opt %s -split-input-file -minfer-outline-tile-kernels='block-block-m=128' 2>&1 | FileCheck %s --check-prefix=PAIR80
// CHIP: error: minfer-outline-tile-kernels: unknown chip 'sm_70' (expected sm_80, sm_90 or sm_90a)

// CHECK-LABEL: func.func @dense
// CHECK-SAME: (%[[Q:.+]]: memref<2x4x?x128xbf16>, %[[K:.+]]: memref<2x2x?x128xbf16>, %[[V:.+]]: memref<2x2x?x128xbf16>, %[[O:.+]]: memref<2x4x?x128xbf16>)
// CHECK: %[[QF:.+]] = memref.collapse_shape %[[Q]] {{\[\[}}0, 1, 2, 3]] : memref<2x4x?x128xbf16> into memref<?xbf16>
// CHECK: %[[KF:.+]] = memref.collapse_shape %[[K]]
// CHECK: %[[VF:.+]] = memref.collapse_shape %[[V]]
// CHECK: %[[OF:.+]] = memref.collapse_shape %[[O]]
// CHECK: %[[N:.+]] = memref.dim %[[Q]], %{{.+}} : memref<2x4x?x128xbf16>
// CHECK: %[[NI:.+]] = arith.index_cast %[[N]] : index to i32
// CHECK: %[[H:.+]] = arith.index_cast %{{.+}} : index to i32
// CHECK: %[[HKV:.+]] = arith.index_cast %{{.+}} : index to i32
// scale * log2(e) = 0.125 * 1.442695
// CHECK: %[[SCALE:.+]] = arith.constant 0.180336{{[0-9]*}} : f32
// One launch of all ceil(N / 64) H positions: first_cta = 0.
// CHECK: %[[FIRST:.+]] = arith.constant 0 : i32
// CHECK: %[[NB:.+]] = arith.ceildivui %{{.+}}, %c64
// CHECK: %[[HD:.+]] = memref.dim %[[Q]], %c1
// CHECK: %[[POS:.+]] = arith.muli %[[NB]], %[[HD]] : index
// CHECK: %[[SMEM:.+]] = arith.constant 69632 : i32
// CHECK: gpu.launch_func  @minfer_dense_d128_bf16::@minfer_dense_d128_bf16 blocks in (%[[POS]], %c1{{.*}}, %{{.+}}) threads in (%c128, %c1{{.*}}, %c1{{.*}}) dynamic_shared_memory_size %[[SMEM]] args(%[[QF]] : memref<?xbf16>, %[[KF]] : memref<?xbf16>, %[[VF]] : memref<?xbf16>, %[[OF]] : memref<?xbf16>, %[[NI]] : i32, %[[H]] : i32, %[[HKV]] : i32, %[[SCALE]] : f32, %[[FIRST]] : i32)
// CHECK-NOT: minfer.dense_attention
// CHECK: gpu.module @minfer_dense_d128_bf16
// CHECK: gpu.func @minfer_dense_d128_bf16
// M128-LABEL: func.func @dense
// M128: arith.ceildivui %{{.+}}, %c128
// M128: arith.constant 139264 : i32
// M128: gpu.launch_func  @minfer_dense_m128_s3_d128_bf16::@minfer_dense_m128_s3_d128_bf16 {{.*}} threads in (%c256
func.func @dense(%q: memref<2x4x?x128xbf16>, %k: memref<2x2x?x128xbf16>,
                 %v: memref<2x2x?x128xbf16>, %o: memref<2x4x?x128xbf16>) {
  minfer.dense_attention %q, %k, %v, %o {scale = 0.125 : f32}
    : memref<2x4x?x128xbf16>, memref<2x2x?x128xbf16>,
      memref<2x2x?x128xbf16>, memref<2x4x?x128xbf16>
  return
}

// -----

// Static shapes collapse to static 1-D memrefs, cast to memref<?xT>; two ops
// of one config share one kernel module.
// CHECK-LABEL: func.func @block_static_twice
// CHECK: memref.collapse_shape %{{.+}} {{\[\[}}0, 1, 2, 3]] : memref<1x2x256x64xf16> into memref<32768xf16>
// CHECK: memref.cast %{{.+}} : memref<32768xf16> to memref<?xf16>
// CHECK: memref.collapse_shape %{{.+}} {{\[\[}}0, 1, 2]] : memref<1x2x4xi32> into memref<8xi32>
// CHECK: memref.collapse_shape %{{.+}} {{\[\[}}0, 1, 2, 3, 4]] : memref<1x2x4x3x2xi32> into memref<48xi32>
// CHECK: gpu.launch_func  @minfer_block_d64_f16::@minfer_block_d64_f16 {{.*}} dynamic_shared_memory_size %{{.+}} args({{.*}} : memref<?xf16>, {{.*}} : memref<?xf16>, {{.*}} : memref<?xf16>, {{.*}} : memref<?xf16>, {{.*}} : memref<?xi32>, {{.*}} : memref<?xi32>, {{.*}} : i32, {{.*}} : i32, {{.*}} : i32, {{.*}} : i32, {{.*}} : f32, {{.*}} : i32)
// CHECK: gpu.launch_func  @minfer_block_d64_f16::@minfer_block_d64_f16
// CHECK-COUNT-1: gpu.module @minfer_block_d64_f16
// CHECK-NOT: gpu.module
// Paired query blocks take TMA tensor maps only the runtime builds.
// PAIR: error: 'minfer.block_attention' op paired block-sparse kernels (block-block-m=128) read K and V through TMA tensor maps that only the minfer runtime builds; outline 64-row block-sparse kernels instead
// PAIR80: error: 'minfer.block_attention' op invalid kernel configuration: 128- and 192-row sparse kernels need wgmma (chip sm_90a)
func.func @block_static_twice(%q: memref<1x2x256x64xf16>, %rc: memref<1x2x4xi32>,
                              %r: memref<1x2x4x3x2xi32>) {
  minfer.block_attention %q, %q, %q, %rc, %r, %q {scale = 0.125 : f32}
    : memref<1x2x256x64xf16>, memref<1x2x256x64xf16>, memref<1x2x256x64xf16>,
      memref<1x2x4xi32>, memref<1x2x4x3x2xi32>, memref<1x2x256x64xf16>
  minfer.block_attention %q, %q, %q, %rc, %r, %q {scale = 0.125 : f32}
    : memref<1x2x256x64xf16>, memref<1x2x256x64xf16>, memref<1x2x256x64xf16>,
      memref<1x2x4xi32>, memref<1x2x4x3x2xi32>, memref<1x2x256x64xf16>
  return
}

// -----

// CHECK-LABEL: func.func @vs
// CHECK: %[[C:.+]] = memref.dim %{{.+}}, %c3{{.*}} : memref<?x4x?x7xi32>
// CHECK: %[[CI:.+]] = arith.index_cast %[[C]] : index to i32
// CHECK: gpu.launch_func  @minfer_vs_d128_bf16::@minfer_vs_d128_bf16 {{.*}} args({{.*}} : memref<?xi32>, {{.*}} : memref<?xi32>, {{.*}} : memref<?xi32>, {{.*}} : memref<?xi32>, {{.*}} : i32, {{.*}} : i32, {{.*}} : i32, {{.*}} : i32, %[[CI]] : i32, {{.*}} : f32, {{.*}} : i32)
func.func @vs(%q: memref<?x4x?x128xbf16>, %k: memref<?x1x?x128xbf16>,
              %rc: memref<?x4x?xi32>, %r: memref<?x4x?x5x2xi32>,
              %cc: memref<?x4x?xi32>, %ci: memref<?x4x?x7xi32>) {
  minfer.vs_attention %q, %k, %k, %rc, %r, %cc, %ci, %q {scale = 0.088388 : f32}
    : memref<?x4x?x128xbf16>, memref<?x1x?x128xbf16>, memref<?x1x?x128xbf16>,
      memref<?x4x?xi32>, memref<?x4x?x5x2xi32>, memref<?x4x?xi32>,
      memref<?x4x?x7xi32>, memref<?x4x?x128xbf16>
  return
}


// -----

// Regression (fuzzer): a static 0 extent next to a `?` still flattens to
// memref<?xT> (the inferred collapse type was a static 0, which collapse_shape
// then rejected).
// CHECK-LABEL: func.func @zero_batch
// CHECK: memref.collapse_shape %{{.+}} {{\[\[}}0, 1, 2, 3]] : memref<0x1x?x64xbf16> into memref<?xbf16>
// CHECK: gpu.launch_func  @minfer_dense_d64_bf16::@minfer_dense_d64_bf16
func.func @zero_batch(%q: memref<0x1x?x64xbf16>, %k: memref<0x1x?x64xbf16>,
                      %v: memref<0x1x?x64xbf16>, %o: memref<0x1x?x64xbf16>) {
  minfer.dense_attention %q, %k, %v, %o {scale = 0.125 : f32}
    : memref<0x1x?x64xbf16>, memref<0x1x?x64xbf16>, memref<0x1x?x64xbf16>, memref<0x1x?x64xbf16>
  return
}
