// End to end at head dim 96 (Phi-3-mini): a mixed-pattern op expands, its
// tile-kernel op becomes a launch of the D = 96 vertical-slash kernel, whose
// shared memory is that of 128-column tiles (swizzled Q 64 x 128 x 2 bytes +
// one K and one V stage of 64 x 128 x 2 bytes = 49152), and whose PTX runs S
// in six m64n64k16 steps and O += P V as m64n96k16.
// RUN: minfer-opt %s --pass-pipeline='builtin.module(func.func(minfer-expand-sparse-attention), minfer-outline-tile-kernels{chip=sm_90a}, minfer-to-ptx{chip=sm_90a})' | FileCheck %s
// CHECK-LABEL: func.func @phi3
// CHECK: %[[SMEM:.*]] = arith.constant 49152 : i32
// CHECK: gpu.launch_func  @minfer_vs_d96_bf16::@minfer_vs_d96_bf16
// CHECK-SAME: dynamic_shared_memory_size %[[SMEM]]
// CHECK: gpu.binary @minfer_vs_d96_bf16
// CHECK-SAME: .visible .entry minfer_vs_d96_bf16(
// CHECK-SAME: wgmma.mma_async.sync.aligned.m64n64k16.f32.bf16.bf16
// CHECK-SAME: m64n64k16
// CHECK-SAME: m64n64k16
// CHECK-SAME: m64n64k16
// CHECK-SAME: m64n64k16
// CHECK-SAME: m64n64k16
// CHECK-NOT: m64n64k16
// CHECK-SAME: wgmma.mma_async.sync.aligned.m64n96k16.f32.bf16.bf16
// CHECK-NOT: m64n128k16
func.func @phi3(%q: memref<1x4x?x96xbf16>, %k: memref<1x4x?x96xbf16>,
                %v: memref<1x4x?x96xbf16>, %o: memref<1x4x?x96xbf16>) {
  minfer.sparse_attention %q, %k, %v, %o {patterns = [#minfer.vertical_slash<vertical = 100, slash = 200, last_q = 64>, #minfer.block_sparse<top_k = 8>, #minfer.a_shape<sink = 64, local = 512>, #minfer.dense], scale = 0.10206208 : f32}
    : memref<1x4x?x96xbf16>, memref<1x4x?x96xbf16>, memref<1x4x?x96xbf16>, memref<1x4x?x96xbf16>
  return
}
