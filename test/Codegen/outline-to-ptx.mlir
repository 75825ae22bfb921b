// End to end: a tile-kernel op in host code becomes a gpu.launch_func of a
// generated kernel whose module minfer-to-ptx turns into PTX.
// RUN: minfer-opt %s --pass-pipeline='builtin.module(minfer-outline-tile-kernels, minfer-to-ptx{chip=sm_90})' | FileCheck %s
// CHECK-LABEL: func.func @attn
// CHECK: gpu.launch_func  @minfer_dense_d64_f16::@minfer_dense_d64_f16
// CHECK: gpu.binary @minfer_dense_d64_f16 [#gpu.object<#nvvm.target<O = 3, chip = "sm_90", features = "+ptx80">
// CHECK-SAME: assembly = "
// CHECK-SAME: mma.sync.aligned.m16n8k16.row.col.f32.f16.f16.f32
// sm_90a: the same launch with the wgmma kernel's shared memory (swizzled Q
// 64 x 64 x 2 bytes + 2 stages x K, V of 64 x 64 x 2 bytes).
// RUN: minfer-opt %s --pass-pipeline='builtin.module(minfer-outline-tile-kernels{chip=sm_90a}, minfer-to-ptx{chip=sm_90a})' | FileCheck %s --check-prefix=WG
// WG: %[[SMEM:.*]] = arith.constant 40960 : i32
// WG: gpu.launch_func  @minfer_dense_d64_f16::@minfer_dense_d64_f16
// WG-SAME: dynamic_shared_memory_size %[[SMEM]]
// WG: gpu.binary @minfer_dense_d64_f16 [#gpu.object<#nvvm.target<O = 3, chip = "sm_90a", features = "+ptx83">
// WG-SAME: wgmma.mma_async.sync.aligned.m64n64k16.f32.f16.f16
func.func @attn(%q: memref<1x8x?x64xf16>, %kv: memref<1x2x?x64xf16>,
                %o: memref<1x8x?x64xf16>) {
  minfer.dense_attention %q, %kv, %kv, %o {scale = 0.125 : f32}
    : memref<1x8x?x64xf16>, memref<1x2x?x64xf16>, memref<1x2x?x64xf16>,
      memref<1x8x?x64xf16>
  return
}
