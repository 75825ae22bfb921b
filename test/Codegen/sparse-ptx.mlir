// Block and vertical-slash kernels: index reads, gathered column strips,
// PTX accepted by ptxas for both chips without spills at D = 128. The tuned
// block kernel asks for 3 CTAs per SM (.minnctapersm), which caps it at 168
// registers; without that request it does not spill.
// REQUIRES: ptxas
// RUN: rm -rf %t && mkdir -p %t
// RUN: minfer-opt %s --pass-pipeline='builtin.module(minfer-generate-kernels{kinds=block,vs head-dims=128 dtypes=bf16}, minfer-to-ptx{chip=sm_80}, minfer-dump-ptx{dir=%t})' -o /dev/null
// RUN: minfer-opt %s --pass-pipeline='builtin.module(minfer-generate-kernels{kinds=vs head-dims=64 dtypes=f16 chip=sm_90}, minfer-to-ptx{chip=sm_90}, minfer-dump-ptx{dir=%t})' -o /dev/null
// RUN: FileCheck %s --check-prefix=VS < %t/minfer_vs_d128_bf16.sm_80.ptx
// RUN: FileCheck %s --check-prefix=BLOCK < %t/minfer_block_d128_bf16.sm_80.ptx
// RUN: %ptxas -arch=sm_80 -v %t/minfer_vs_d128_bf16.sm_80.ptx -o %t/vs.cubin 2>&1 | FileCheck %s --check-prefix=PTXAS
// RUN: %ptxas -arch=sm_80 -v %t/minfer_block_d128_bf16.sm_80.ptx -o %t/block.cubin 2>&1 | FileCheck %s --check-prefix=PTXAS-TUNED
// RUN: rm -rf %t/plain && mkdir -p %t/plain
// RUN: minfer-opt %s --pass-pipeline='builtin.module(minfer-generate-kernels{kinds=block head-dims=128 dtypes=bf16 min-ctas-per-sm=0}, minfer-to-ptx{chip=sm_80}, minfer-dump-ptx{dir=%t/plain})' -o /dev/null
// RUN: FileCheck %s --check-prefix=PLAIN < %t/plain/minfer_block_d128_bf16.sm_80.ptx
// RUN: %ptxas -arch=sm_80 -v %t/plain/minfer_block_d128_bf16.sm_80.ptx -o %t/plain.cubin 2>&1 | FileCheck %s --check-prefix=PTXAS
// RUN: %ptxas -arch=sm_90 %t/minfer_vs_d64_f16.sm_90.ptx -o %t/vs64.cubin

// VS: .visible .entry minfer_vs_d128_bf16(
// 8 flat memrefs (Q, K, V, O, range_count, ranges, column_count,
// column_index), then 5 i32 and the f32 scale.
// VS: .param .u32 minfer_vs_d128_bf16_param_44
// VS: .param .f32 minfer_vs_d128_bf16_param_45
// VS: ld.global.{{.*}}b32
// VS: cp.async.cg.shared.global
// VS: mma.sync.aligned.m16n8k16.row.col.f32.bf16.bf16.f32
// VS: ldmatrix.sync.aligned.m8n8.x4.trans.shared.b16
// VS-NOT: .local

// BLOCK: .visible .entry minfer_block_d128_bf16(
// BLOCK: .param .u32 minfer_block_d128_bf16_param_33
// BLOCK: .param .f32 minfer_block_d128_bf16_param_34
// BLOCK: .maxntid 128, 1, 1
// BLOCK-NEXT: .minnctapersm 3
// BLOCK: mma.sync.aligned.m16n8k16.row.col.f32.bf16.bf16.f32
// BLOCK-NOT: .local

// PLAIN: .maxntid 128, 1, 1
// PLAIN-NOT: .minnctapersm

// PTXAS: 0 bytes stack frame, 0 bytes spill stores, 0 bytes spill loads
// PTXAS-TUNED: Used {{(1[0-5][0-9]|16[0-8])}} registers
module {
}
