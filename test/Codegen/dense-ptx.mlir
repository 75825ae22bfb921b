// The dense FA2 kernel through minfer-to-ptx: tensor-core PTX that ptxas
// accepts without spills (no .local) for D = 128.
// REQUIRES: ptxas
// RUN: rm -rf %t && mkdir -p %t
// RUN: minfer-opt %s --pass-pipeline='builtin.module(minfer-generate-kernels{kinds=dense head-dims=128 dtypes=bf16}, minfer-to-ptx{chip=sm_80}, minfer-dump-ptx{dir=%t})' -o /dev/null
// RUN: FileCheck %s < %t/minfer_dense_d128_bf16.sm_80.ptx
// RUN: FileCheck %s --check-prefix=NOLOCAL < %t/minfer_dense_d128_bf16.sm_80.ptx
// RUN: %ptxas -arch=sm_80 -v %t/minfer_dense_d128_bf16.sm_80.ptx -o %t/dense.sm_80.cubin 2>&1 | FileCheck %s --check-prefix=PTXAS
//
// f16, sm_90 (nvgpu.mma.sync path), 128-row CTAs:
// RUN: minfer-opt %s --pass-pipeline='builtin.module(minfer-generate-kernels{kinds=dense head-dims=128 dtypes=f16 chip=sm_90 dense-block-m=128}, minfer-to-ptx{chip=sm_90}, minfer-dump-ptx{dir=%t})' -o /dev/null
// RUN: FileCheck %s --check-prefix=F16 < %t/minfer_dense_m128_d128_f16.sm_90.ptx
// RUN: FileCheck %s --check-prefix=NOLOCAL < %t/minfer_dense_m128_d128_f16.sm_90.ptx
// RUN: %ptxas -arch=sm_90 -v %t/minfer_dense_m128_d128_f16.sm_90.ptx -o %t/dense.sm_90.cubin 2>&1 | FileCheck %s --check-prefix=PTXAS

// CHECK: .version 8.0
// CHECK: .target sm_80
// CHECK: .visible .entry minfer_dense_d128_bf16(
// 4 flat memrefs x 5 params, then i32 seq_len, heads, kv_heads, f32 scale.
// CHECK-COUNT-20: .param .{{u64|u64 .ptr .align 1}} minfer_dense_d128_bf16_param_{{[0-9]+}},
// CHECK: .param .u32 minfer_dense_d128_bf16_param_20,
// CHECK: .param .u32 minfer_dense_d128_bf16_param_21,
// CHECK: .param .u32 minfer_dense_d128_bf16_param_22,
// CHECK: .param .f32 minfer_dense_d128_bf16_param_23
// CHECK: .maxntid 128, 1, 1
// Q: cp.async (zero-fill form), ldmatrix into A fragments.
// CHECK: cp.async.cg.shared.global [%{{.+}}], [%{{.+}}], 16, %r{{[0-9]+}};
// CHECK: cp.async.commit_group;
// CHECK: cp.async.wait_group 1;
// CHECK: ldmatrix.sync.aligned.m8n8.x4.shared.b16
// Loop (block order is LLVM's): predicate-free K/V copies for interior
// tiles, S = Q K^T, quad shuffles, exp2, P packing, P V with V transposed.
// CHECK-DAG: cp.async.wait_group 0;
// CHECK-DAG: cp.async.cg.shared.global [%{{.+}}], [%{{.+}}], 16;
// CHECK-DAG: mma.sync.aligned.m16n8k16.row.col.f32.bf16.bf16.f32
// CHECK-DAG: shfl.sync.bfly.b32
// CHECK-DAG: ex2.approx.ftz.f32
// CHECK-DAG: cvt.rn.bf16x2.f32
// CHECK-DAG: ldmatrix.sync.aligned.m8n8.x4.trans.shared.b16
// Epilogue: 16-byte global stores.
// CHECK-DAG: st.global.v4.b32
// CHECK-DAG: ret;

// NOLOCAL-NOT: .local
// NOLOCAL-NOT: __nv_
// NOLOCAL: ret;

// F16: .target sm_90
// F16: .visible .entry minfer_dense_m128_d128_f16(
// F16: .maxntid 256, 1, 1
// F16-DAG: mma.sync.aligned.m16n8k16.row.col.f32.f16.f16.f32
// F16-DAG: cvt.rn.f16x2.f32

// PTXAS: Compiling entry function 'minfer_dense{{.*}}_d128_{{bf16|f16}}'
// PTXAS: 0 bytes stack frame, 0 bytes spill stores, 0 bytes spill loads
module {
}
