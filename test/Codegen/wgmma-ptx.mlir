// sm_90a kernels run S = Q K^T on wgmma with Q and K from shared memory (two
// 128-byte-swizzle descriptors) and O += P V with P from registers and V by
// descriptor (transposed), make the cp.async tiles visible to the async proxy
// before the barrier, trap on a misaligned shared window, keep only address
// bits 4-17 in each descriptor's start field (a cluster rank sets bit 24 of
// shared addresses), and assemble with ptxas for sm_90a without spills.
// REQUIRES: ptxas
// RUN: rm -rf %t && mkdir -p %t
// RUN: minfer-opt %s --pass-pipeline='builtin.module(minfer-generate-kernels{kinds=dense,vs head-dims=128 dtypes=bf16 chip=sm_90a}, minfer-to-ptx{chip=sm_90a}, minfer-dump-ptx{dir=%t})' -o /dev/null
// RUN: minfer-opt %s --pass-pipeline='builtin.module(minfer-generate-kernels{kinds=block head-dims=64 dtypes=f16 chip=sm_90a}, minfer-to-ptx{chip=sm_90a}, minfer-dump-ptx{dir=%t})' -o /dev/null
// RUN: FileCheck %s --check-prefix=DENSE < %t/minfer_dense_d128_bf16.sm_90a.ptx
// RUN: FileCheck %s --check-prefix=PV < %t/minfer_dense_d128_bf16.sm_90a.ptx
// RUN: FileCheck %s --check-prefix=TRAP < %t/minfer_dense_d128_bf16.sm_90a.ptx
// RUN: FileCheck %s --check-prefix=DESC < %t/minfer_vs_d128_bf16.sm_90a.ptx
// RUN: FileCheck %s --check-prefix=F16 < %t/minfer_block_d64_f16.sm_90a.ptx
// RUN: %ptxas -arch=sm_90a -v %t/minfer_dense_d128_bf16.sm_90a.ptx -o %t/dense.cubin 2>&1 | FileCheck %s --check-prefix=PTXAS
// RUN: %ptxas -arch=sm_90a -v %t/minfer_vs_d128_bf16.sm_90a.ptx -o %t/vs.cubin 2>&1 | FileCheck %s --check-prefix=PTXAS
// RUN: %ptxas -arch=sm_90a %t/minfer_block_d64_f16.sm_90a.ptx -o %t/block.cubin
// wgmma needs the architecture-specific target: plain sm_90 rejects it.
// RUN: not %ptxas -arch=sm_90 %t/minfer_dense_d128_bf16.sm_90a.ptx -o %t/no.cubin

// DENSE: .target sm_90a
// DENSE: .visible .entry minfer_dense_d128_bf16(
// DENSE: cp.async.wait_group
// DENSE-NEXT: fence.proxy.async.shared::cta;
// DENSE-NEXT: bar.sync
// S: 8 k16 steps over head_dim (32 bytes = 2 descriptor units apart inside a
// 128-byte panel; the second panel starts 64 rows x 128 bytes = 512 units
// later, for the 64 Q rows and the 64 keys alike); the first step ignores the
// old accumulators (pz); A is K-major (0), B is K-major (0).
// DENSE: add.s64 ad, %rd{{[0-9]+}}, 0;
// DENSE-NEXT: add.s64 bd, %rd{{[0-9]+}}, 0;
// DENSE-NEXT: wgmma.mma_async.sync.aligned.m64n64k16.f32.bf16.bf16 {{.*}}, ad, bd, pz, 1, 1, 0, 0;
// DENSE-NEXT: add.s64 ad, %rd{{[0-9]+}}, 2;
// DENSE: add.s64 ad, %rd{{[0-9]+}}, 512;
// DENSE-NEXT: add.s64 bd, %rd{{[0-9]+}}, 512;
// DENSE-NEXT: wgmma.mma_async.sync.aligned.m64n64k16.f32.bf16.bf16 {{.*}}, ad, bd, pa, 1, 1, 0, 0;
// DENSE: add.s64 bd, %rd{{[0-9]+}}, 518;
// DENSE-NEXT: wgmma.mma_async.sync.aligned.m64n64k16.f32.bf16.bf16 {{.*}}, ad, bd, pa, 1, 1, 0, 0;
// DENSE-NEXT: wgmma.commit_group.sync.aligned;
// DENSE-NEXT: wgmma.wait_group.sync.aligned 0;
// DENSE-NOT: mma.sync.aligned.m16n8k16
// DENSE-NOT: .local
// O: 4 k16 steps over the 64 keys (16 rows x 128 bytes = 128 units apart),
// V transposed (MN-major), accumulating.
// PV: wgmma.fence.sync.aligned;
// PV-NEXT: add.s64 bd, %rd{{[0-9]+}}, 0;
// PV-NEXT: wgmma.mma_async.sync.aligned.m64n128k16.f32.bf16.bf16 {{.*}}, bd, pa, 1, 1, 1;
// PV-NEXT: add.s64 bd, %rd{{[0-9]+}}, 128;
// PV: add.s64 bd, %rd{{[0-9]+}}, 384;
// PV-NEXT: wgmma.mma_async.sync.aligned.m64n128k16.f32.bf16.bf16 {{.*}}, bd, pa, 1, 1, 1;
// PV-NEXT: wgmma.commit_group.sync.aligned;

// F16: .target sm_90a
// F16: wgmma.mma_async.sync.aligned.m64n64k16.f32.f16.f16 {{.*}}, ad, bd,
// F16: wgmma.mma_async.sync.aligned.m64n64k16.f32.f16.f16 {{.*}}, bd, pa, 1, 1, 1;

// K and Q descriptors (K-major: SBO 1024, LBO 16 bytes, 128-byte swizzle),
// then V's (MN-major: LBO 8192 = one 64-key panel): start = addr[17:4].
// DESC: bfe.u64 %rd[[K:[0-9]+]], %rd{{[0-9]+}}, 4, 14;
// DESC-NEXT: or.b64 %rd{{[0-9]+}}, %rd[[K]], 4611686293305360384;
// DESC-NEXT: bfe.u64 %rd[[Q:[0-9]+]], %rd{{[0-9]+}}, 4, 14;
// DESC-NEXT: or.b64 %rd{{[0-9]+}}, %rd[[Q]], 4611686293305360384;
// DESC: bfe.u64 %rd[[V:[0-9]+]], %rd{{[0-9]+}}, 4, 14;
// DESC-NEXT: or.b64 %rd{{[0-9]+}}, %rd[[V]], 4611686293338849280;

// TRAP: mov.b64 %rd{{[0-9]+}}, __dynamic_shmem__0;
// TRAP-NEXT: and.b64 {{.*}}, 1008;
// TRAP: trap;

// PTXAS: 0 bytes spill stores, 0 bytes spill loads
// PTXAS-NOT: wgmma serialization

module {}
