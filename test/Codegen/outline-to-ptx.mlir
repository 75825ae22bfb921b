// End to end: a tile-kernel op in host code becomes a gpu.launch_func of a
// generated kernel whose module minfer-to-ptx turns into PTX.
// RUN: minfer-opt %s --pass-pipeline='builtin.module(minfer-outline-tile-kernels, minfer-to-ptx{chip=sm_90})' | FileCheck %s
// CHECK-LABEL: func.func @attn
// CHECK: gpu.launch_func  @minfer_dense_d64_f16::@minfer_dense_d64_f16
// CHECK: gpu.binary @minfer_dense_d64_f16 [#gpu.object<#nvvm.target<O = 3, chip = "sm_90", features = "+ptx80">
// CHECK-SAME: assembly = "
// CHECK-SAME: mma.sync.aligned.m16n8k16.row.col.f32.f16.f16.f32
func.func @attn(%q: memref<1x8x?x64xf16>, %kv: memref<1x2x?x64xf16>,
                %o: memref<1x8x?x64xf16>) {
  minfer.dense_attention %q, %kv, %kv, %o {scale = 0.125 : f32}
    : memref<1x8x?x64xf16>, memref<1x2x?x64xf16>, memref<1x2x?x64xf16>,
      memref<1x8x?x64xf16>
  return
}
