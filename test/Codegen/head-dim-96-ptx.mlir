// Head dim 96 (Phi-3-mini) has kernels of its own: global rows of 96
// elements in tiles of 128 columns (two 64-column panels, TileConfig::
// tileDim), MMAs over 96 only, and the output stored at width 96.
//  * sm_80 (mma.sync): 6 k16 steps of Q K^T per 8-key tile and 12 n8 tiles
//    of O += P V per k16 step: 96 m16n8k16 MMAs per key tile against 128 at
//    D = 128; row offsets are multiples of 96.
//  * sm_90a (wgmma): Q K^T in 6 m64n64k16 steps (the last two 512 units into
//    the second panel), O += P V as m64n96k16.
//  * The paired kernels' TMA ring copies each 64-column panel on its own
//    from a 3-d [B*Hkv, N, 96] tensor map (the second panel's columns past
//    96 are the TMA's zero fill), both copies against one expect_tx of the
//    whole 16 KB tile.
//  * Every kernel assembles with ptxas.
// REQUIRES: ptxas
// RUN: rm -rf %t && mkdir -p %t
// RUN: minfer-opt %s --pass-pipeline='builtin.module(minfer-generate-kernels{kinds=dense,vs head-dims=96 dtypes=bf16 chip=sm_80}, minfer-to-ptx{chip=sm_80}, minfer-dump-ptx{dir=%t})' -o /dev/null
// RUN: minfer-opt %s --pass-pipeline='builtin.module(minfer-generate-kernels{kinds=dense head-dims=96 dtypes=f16 chip=sm_90a}, minfer-generate-kernels{kinds=block head-dims=96 dtypes=bf16 block-block-m=192 chip=sm_90a}, minfer-to-ptx{chip=sm_90a}, minfer-dump-ptx{dir=%t})' -o /dev/null
// RUN: FileCheck %s --check-prefix=SM80 < %t/minfer_dense_d96_bf16.sm_80.ptx
// RUN: grep -c 'mma.sync.aligned.m16n8k16' %t/minfer_dense_d96_bf16.sm_80.ptx | FileCheck %s --check-prefix=COUNT
// RUN: FileCheck %s --check-prefix=WGMMA < %t/minfer_dense_d96_f16.sm_90a.ptx
// RUN: FileCheck %s --check-prefix=RING < %t/minfer_block_m192_d96_bf16.sm_90a.ptx
// RUN: %ptxas -arch=sm_80 %t/minfer_dense_d96_bf16.sm_80.ptx -o %t/d.cubin
// RUN: %ptxas -arch=sm_80 %t/minfer_vs_d96_bf16.sm_80.ptx -o %t/v.cubin
// RUN: %ptxas -arch=sm_90a %t/minfer_dense_d96_f16.sm_90a.ptx -o %t/w.cubin
// RUN: %ptxas -arch=sm_90a %t/minfer_block_m192_d96_bf16.sm_90a.ptx -o %t/r.cubin

// SM80: .visible .entry minfer_dense_d96_bf16(
// SM80: mul.lo.s64 {{.*}}, 96;
// COUNT: 96

// WGMMA: .visible .entry minfer_dense_d96_f16(
// WGMMA: wgmma.mma_async.sync.aligned.m64n96k16.f32.f16.f16
// WGMMA: add.s64 ad, %rd{{[0-9]+}}, 0;
// WGMMA-NEXT: add.s64 bd, %rd{{[0-9]+}}, 0;
// WGMMA-NEXT: wgmma.mma_async.sync.aligned.m64n64k16.f32.f16.f16 {{.*}}, ad, bd, pz, 1, 1, 0, 0;
// WGMMA: add.s64 bd, %rd{{[0-9]+}}, 6;
// WGMMA-NEXT: wgmma.mma_async.sync.aligned.m64n64k16.f32.f16.f16 {{.*}}, ad, bd, pa, 1, 1, 0, 0;
// WGMMA: add.s64 bd, %rd{{[0-9]+}}, 512;
// WGMMA-NEXT: wgmma.mma_async.sync.aligned.m64n64k16.f32.f16.f16 {{.*}}, ad, bd, pa, 1, 1, 0, 0;
// WGMMA: add.s64 bd, %rd{{[0-9]+}}, 514;
// WGMMA-NEXT: wgmma.mma_async.sync.aligned.m64n64k16.f32.f16.f16 {{.*}}, ad, bd, pa, 1, 1, 0, 0;
// WGMMA-NEXT: wgmma.commit_group.sync.aligned;
// WGMMA-NOT: m64n128k16

// RING: .visible .entry minfer_block_m192_d96_bf16(
// RING: mbarrier.arrive.expect_tx.shared::cta.b64 st, [{{.*}}], 16384;
// RING: mov.b32 col, 0;
// RING-NEXT: add.u32 dst, {{.*}}, 0;
// RING-NEXT: cp.async.bulk.tensor.3d.shared::cluster.global.tile.mbarrier::complete_tx::bytes [dst], [{{.*}}, {col, {{.*}}}], [{{.*}}];
// RING-NEXT: mov.b32 col, 64;
// RING-NEXT: add.u32 dst, {{.*}}, 8192;
// RING-NEXT: cp.async.bulk.tensor.3d
// RING-NOT: cp.async.bulk.tensor.4d

module {
}
