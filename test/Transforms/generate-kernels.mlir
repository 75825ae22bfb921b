// RUN: minfer-opt %s -minfer-generate-kernels='kinds=dense,vs head-dims=128 dtypes=bf16' | FileCheck %s
// RUN: minfer-opt %s -minfer-generate-kernels='kinds=block head-dims=64 dtypes=f16 stages=3' | FileCheck %s --check-prefix=F16
// RUN: minfer-opt %s -minfer-generate-kernels='kinds=dense head-dims=64 dtypes=bf16 dense-block-m=128 stages=1' | FileCheck %s --check-prefix=M128
// RUN: minfer-opt %s -minfer-generate-kernels | FileCheck %s --check-prefix=ALL
// Idempotent: kernels already present are kept, not duplicated.
// RUN: minfer-opt %s -minfer-generate-kernels='kinds=dense' -minfer-generate-kernels='kinds=dense' | FileCheck %s --check-prefix=ONCE

// Bad option values are diagnostics.
// RUN: not minfer-opt %s -minfer-generate-kernels='kinds=sparse' 2>&1 | FileCheck %s --check-prefix=KIND
// RUN: not minfer-opt %s -minfer-generate-kernels='dtypes=f32' 2>&1 | FileCheck %s --check-prefix=DTYPE
// RUN: not minfer-opt %s -minfer-generate-kernels='head-dims=80' 2>&1 | FileCheck %s --check-prefix=DIM
// RUN: not minfer-opt %s -minfer-generate-kernels='chip=sm_75' 2>&1 | FileCheck %s --check-prefix=CHIP
// RUN: not minfer-opt %s -minfer-generate-kernels='stages=4' 2>&1 | FileCheck %s --check-prefix=STAGES
// RUN: not minfer-opt %s -minfer-generate-kernels='kinds=dense dense-block-m=96' 2>&1 | FileCheck %s --check-prefix=BLOCKM
// KIND: error: minfer-generate-kernels: unknown kernel kind 'sparse' (expected dense, block or vs)
// DTYPE: error: minfer-generate-kernels: unknown dtype 'f32' (expected bf16 or f16)
// DIM: error: minfer-generate-kernels: head_dim must be 64, 96 or 128, got 80
// CHIP: error: minfer-generate-kernels: unknown chip 'sm_75' (expected sm_80, sm_90 or sm_90a)
// STAGES: error: minfer-generate-kernels: stages must be 1, 2 or 3 (up to 6 for paired block-sparse), got 4
// BLOCKM: error: minfer-generate-kernels: only 64-row query blocks are supported (128 for dense and block-sparse kernels, 192 for block-sparse and vertical-slash)

// One gpu.module per kernel, named like it; the ABI of TileConfig.h.
// CHECK: module attributes {gpu.container_module}
// CHECK-LABEL: gpu.module @minfer_dense_d128_bf16
// CHECK: gpu.func @minfer_dense_d128_bf16(%{{.*}}: memref<?xbf16>, %{{.*}}: memref<?xbf16>, %{{.*}}: memref<?xbf16>, %{{.*}}: memref<?xbf16>, %{{.*}}: i32, %{{.*}}: i32, %{{.*}}: i32, %{{.*}}: f32, %{{.*}}: i32) kernel attributes {known_block_size = array<i32: 128, 1, 1>}
// CHECK: gpu.block_id x
// Shared memory: 2 K stages + 2 V stages of 64 rows, rows padded to D + 8.
// CHECK: gpu.dynamic_shared_memory : memref<?xi8, #gpu.address_space<workgroup>>
// CHECK: memref.view {{.*}} to memref<256x136xbf16, #gpu.address_space<workgroup>>
// Q: cp.async with zero-fill, then ldmatrix x4 into A fragments.
// CHECK: nvgpu.device_async_copy {{.*}}, 8, %{{.*}} {bypassL1}
// CHECK: nvgpu.device_async_create_group
// CHECK: nvvm.cp.async.wait.group 1
// CHECK: gpu.barrier
// CHECK: nvgpu.ldmatrix {{.*}} {numTiles = 4 : i32, transpose = false} : memref<256x136xbf16, #gpu.address_space<workgroup>> -> vector<4x2xbf16>
// The key-tile loop: m, l of two rows and 16 O fragments are carried.
// CHECK: scf.for {{.*}} -> (f32, f32, f32, f32, vector<2x2xf32>
// CHECK: nvvm.cp.async.wait.group 0
// CHECK: gpu.barrier
// Interior tiles load without predicates (no src-size operand).
// CHECK: scf.if
// CHECK: nvgpu.device_async_copy {{.*}}, 8 {bypassL1}
// CHECK: nvvm.mma.sync {{.*}}multiplicandAPtxType = #nvvm.mma_type<bf16>{{.*}}shape = #nvvm.shape<m = 16, n = 8, k = 16>
// CHECK: gpu.shuffle xor
// CHECK: llvm.call_intrinsic "llvm.nvvm.ex2.approx.ftz.f"
// CHECK: nvgpu.ldmatrix {{.*}} {numTiles = 4 : i32, transpose = true}
// CHECK: scf.yield
// Epilogue: 16-byte stores of whole rows.
// CHECK: vector.store {{.*}} {alignment = 16 : i64} : memref<?xbf16>, vector<8xbf16>
// CHECK: gpu.return

// CHECK-LABEL: gpu.module @minfer_vs_d128_bf16
// CHECK: gpu.func @minfer_vs_d128_bf16(%{{.*}}: memref<?xbf16>, %{{.*}}: memref<?xbf16>, %{{.*}}: memref<?xbf16>, %{{.*}}: memref<?xbf16>, %{{.*}}: memref<?xi32>, %{{.*}}: memref<?xi32>, %{{.*}}: memref<?xi32>, %{{.*}}: memref<?xi32>, %{{.*}}: i32, %{{.*}}: i32, %{{.*}}: i32, %{{.*}}: i32, %{{.*}}: i32, %{{.*}}: f32, %{{.*}}: i32) kernel
// CHECK: scf.for
// CHECK: memref.load

// F16-LABEL: gpu.module @minfer_block_s3_d64_f16
// F16: gpu.func @minfer_block_s3_d64_f16({{.*}}memref<?xi32>, %{{.*}}: memref<?xi32>, %{{.*}}: i32, %{{.*}}: i32, %{{.*}}: i32, %{{.*}}: i32, %{{.*}}: f32, %{{.*}}: i32)
// 3 stages: 6 x 64 rows of 72 elements.
// F16: memref.view {{.*}} to memref<384x72xf16, #gpu.address_space<workgroup>>
// F16: nvvm.cp.async.wait.group 2
// F16: nvvm.cp.async.wait.group 1
// F16: nvgpu.mma.sync({{.*}}) {mmaShape = [16, 8, 16]} : (vector<4x2xf16>, vector<2x2xf16>, vector<2x2xf32>) -> vector<2x2xf32>

// 128-row dense CTAs: 8 warps; one stage keeps Q in rows of its own.
// M128-LABEL: gpu.module @minfer_dense_m128_s1_d64_bf16
// M128: known_block_size = array<i32: 256, 1, 1>
// M128: memref.view {{.*}} to memref<256x72xbf16, #gpu.address_space<workgroup>>

// ALL-COUNT-18: gpu.func @minfer_{{(dense|block|vs)_d(64|96|128)_(bf16|f16)}}(

// ONCE-COUNT-6: gpu.module @minfer_dense
// ONCE-NOT: gpu.module
module {
}

// Packed range tiles (vertical-slash only): the tile-count walk carries the
// free rows of an open packed tile next to the count; block-sparse ranges
// are whole blocks and keep the one-value walk.
// RUN: minfer-opt %s -minfer-generate-kernels='kinds=vs,block head-dims=64 dtypes=bf16' | FileCheck %s --check-prefix=PACK
// PACK-LABEL: gpu.func @minfer_vs_d64_bf16
// PACK: scf.for {{.*}} iter_args(%{{[^ ]+}} = %{{[^ ]+}}, %{{[^ ]+}} = %{{[^ ]+}}) -> (i32, i32) {
// PACK: arith.remsi %{{.*}}, %c64_i32{{.*}} : i32
// PACK-LABEL: gpu.func @minfer_block_d64_bf16
// PACK: scf.for {{.*}} iter_args(%{{[^ ]+}} = %{{[^ ]+}}) -> (i32) {
// PACK-NOT: arith.remsi

// sm_90a: the vertical-slash kernel comes with its longer-sequence variant
// (from 384K tokens split K/V loads, a name of its own; from 768K the
// default kernel again, launched in waves); an explicit stage count
// generates one kernel only.
// RUN: minfer-opt %s -minfer-generate-kernels='chip=sm_90a kinds=vs head-dims=64 dtypes=bf16' | FileCheck %s --check-prefix=LONG
// RUN: minfer-opt %s -minfer-generate-kernels='chip=sm_90a kinds=vs head-dims=64 dtypes=bf16 stages=1' | FileCheck %s --check-prefix=ONE
// LONG-LABEL: gpu.module @minfer_vs_d64_bf16
// LONG: nvvm.minctasm = 4
// LONG-NOT: nvvm.cp.async.wait.group 2
// LONG-LABEL: gpu.module @minfer_vs_kv_d64_bf16
// LONG: nvvm.minctasm = 4
// LONG: nvvm.cp.async.wait.group 2
// LONG: scf.for
// LONG: nvvm.cp.async.wait.group 1
// LONG-NOT: gpu.module @minfer_vs_s2_d64_bf16
// ONE: gpu.module @minfer_vs_d64_bf16
// ONE-NOT: gpu.module @minfer_vs_{{kv|s2}}

// Launch positions p = blockIdx.x + first_cta (the last argument), below
// NB H; plain map: head = p / NB, query block from the heaviest = p % NB.
// sm_90a block-sparse kernels start the query heads of a GQA group side by
// side instead: head and query block come from p / group, selected when H
// is a multiple of Hkv.
// RUN: minfer-opt %s -minfer-generate-kernels='chip=sm_90a kinds=block,vs head-dims=64 dtypes=bf16 stages=1' | FileCheck %s --check-prefix=GQA
// GQA-LABEL: gpu.func @minfer_block_d64_bf16
// GQA-SAME: %[[FIRST:[a-z0-9]+]]: i32) kernel
// GQA: %[[F:.+]] = arith.index_cast %[[FIRST]] : i32 to index
// GQA: %[[X:.+]] = gpu.block_id  x
// GQA: %[[P:.+]] = arith.addi %[[X]], %[[F]] : index
// GQA: %[[NB:.+]] = arith.divui %{{.+}}, %c64 : index
// GQA: %[[POSITIONS:.+]] = arith.muli %[[NB]], %{{.+}} : index
// GQA: arith.cmpi ult, %[[P]], %[[POSITIONS]] : index
// GQA: %[[HEAD:.+]] = arith.divui %[[P]], %[[NB]] : index
// GQA: %[[FROM:.+]] = arith.remui %[[P]], %[[NB]] : index
// GQA: %[[GROUPED:.+]] = arith.cmpi eq, %{{.+}}, %{{.+}} : i32
// GQA: arith.select %[[GROUPED]], %{{.+}}, %[[HEAD]] : index
// GQA: arith.select %[[GROUPED]], %{{.+}}, %[[FROM]] : index
// GQA-LABEL: gpu.func @minfer_vs_d64_bf16
// GQA: %[[VX:.+]] = gpu.block_id  x
// GQA: %[[VP:.+]] = arith.addi %[[VX]], %{{.+}} : index
// GQA: arith.divui %[[VP]], %[[VNB:.+]] : index
// GQA-NEXT: %[[VFROM:.+]] = arith.remui %[[VP]], %[[VNB]] : index
// GQA-NEXT: arith.constant -1 : index
// GQA-NEXT: %[[VLAST:.+]] = arith.addi %[[VNB]], %{{.+}} : index
// GQA-NEXT: arith.subi %[[VLAST]], %[[VFROM]] : index

// sm_90a block-sparse: one stage, four CTAs per SM, and K / V of a tile in
// cp.async groups of their own: K(i+1) is issued before O += P V(i) waits
// for V(i), V(i+1) after it. Vertical-slash keeps one group per tile.
// RUN: minfer-opt %s -minfer-generate-kernels='chip=sm_90a kinds=block,vs head-dims=64 dtypes=bf16 stages=1' | FileCheck %s --check-prefix=SPLIT
// SPLIT-LABEL: gpu.func @minfer_block_d64_bf16
// SPLIT-SAME: nvvm.minctasm = 4
// SPLIT: nvvm.cp.async.wait.group 2
// SPLIT: scf.for
// SPLIT: nvvm.cp.async.wait.group 1
// SPLIT: gpu.barrier
// SPLIT: wgmma.mma_async
// SPLIT: gpu.barrier
// SPLIT: nvgpu.device_async_create_group
// SPLIT: nvvm.cp.async.wait.group 1
// SPLIT: gpu.barrier
// SPLIT: wgmma.mma_async
// SPLIT: gpu.barrier
// SPLIT: nvgpu.device_async_create_group
// SPLIT: nvvm.cp.async.wait.group 0
// SPLIT-LABEL: gpu.func @minfer_vs_d64_bf16
// SPLIT: nvvm.cp.async.wait.group 1
// SPLIT: scf.for
// SPLIT: nvvm.cp.async.wait.group 0
// SPLIT-NOT: nvvm.cp.async.wait.group 1

// Paired query blocks (block-block-m=128 or 192, sm_90a only): a warpgroup
// per 64-row block plus a producer warp (288 threads for two blocks; a
// producer warpgroup for three). The compute warps load Q, thread 0
// initializes the mbarriers, one CTA barrier; then the producer's first
// lane acquires the tensor maps (the kernel's last argument), walks the
// merge of the index rows, and per step flushes a block that holds the
// stage it needs, waits for the stage's empty phase, issues the TMA copies,
// queues the step to each block that visits it (item stores + arrive) and
// arrives for the 4 warps of each block that does not; stop items end the
// queues. Every compute warpgroup loops over its own queue with no CTA
// barrier, in runs of tiles whose GEMMs overlap the softmax; it arrives on
// empty from lane 0 (predicated, after bar.warp.sync). The epilogue: per
// warpgroup. The ring's control words and the queues follow the K/V stages.
// RUN: minfer-opt %s -minfer-generate-kernels='chip=sm_90a kinds=block head-dims=128 dtypes=bf16 block-block-m=128' | FileCheck %s --check-prefix=PAIR
// RUN: minfer-opt %s -minfer-generate-kernels='chip=sm_90a kinds=block head-dims=64 dtypes=f16 block-block-m=192' | FileCheck %s --check-prefix=PAIR3
// RUN: not minfer-opt %s -minfer-generate-kernels='kinds=block block-block-m=128' 2>&1 | FileCheck %s --check-prefix=PAIR80
// RUN: not minfer-opt %s -minfer-generate-kernels='kinds=block chip=sm_90a block-block-m=256' 2>&1 | FileCheck %s --check-prefix=PAIRM
// PAIR-LABEL: gpu.func @minfer_block_m128_d128_bf16
// PAIR-SAME: %arg10: f32, %arg11: !llvm.ptr, %arg12: i32)
// PAIR-SAME: known_block_size = array<i32: 288, 1, 1>, nvvm.minctasm = 1
// PAIR: memref.view %{{.+}}[%c229664][] : {{.*}} to memref<36xi32, #gpu.address_space<workgroup>>
// PAIR: mbarrier.init.shared::cta.b64 [a], 1;
// PAIR-SAME: mbarrier.init.shared::cta.b64 [a], 8;
// PAIR: nvvm.cp.async.wait.group 0
// PAIR-NEXT: nvvm.fence.proxy
// PAIR-NEXT: gpu.barrier
// PAIR-NOT: gpu.barrier
// PAIR: fence.proxy.tensormap::generic.acquire.gpu [$0], 128;
// PAIR: scf.while
// PAIR: mbarrier.try_wait.parity
// PAIR: mbarrier.arrive.expect_tx.shared::cta.b64 st, [$0], 16384;
// PAIR-SAME: cp.async.bulk.tensor.4d.shared::cluster.global.tile.mbarrier::complete_tx::bytes [$1], [$2, {c0, $3, c0, $4}], [$0];
// PAIR-SAME: mbarrier.arrive.expect_tx.shared::cta.b64 st, [$5], 16384;
// PAIR-SAME: cp.async.bulk.tensor.4d.shared::cluster.global.tile.mbarrier::complete_tx::bytes [$6], [vmap, {c0, $3, c0, $4}], [$5];
// PAIR: memref.store
// PAIR: mbarrier.arrive.shared::cta.b64 st, [$0];
// PAIR: mbarrier.arrive.shared::cta.b64 st, [$0], 4;
// At the end: flush items (step -2) for blocks that hold the step the
// producer waits for, then the stop items (step -1).
// PAIR: memref.store %c-2_i32
// PAIR: mbarrier.try_wait.parity
// PAIR: memref.store %c-1_i32
// PAIR: mbarrier.arrive.shared::cta.b64 st, [$0];
// PAIR-NOT: gpu.barrier
// A consumer: runs (outer scf.while) of overlapped tiles (inner scf.while).
// The run's first tile computes S, waits for it at once and releases K.
// PAIR: scf.while
// PAIR: mbarrier.try_wait.parity
// PAIR: memref.load
// PAIR: mbarrier.try_wait.parity
// PAIR: wgmma.mma_async
// PAIR-SAME: wgmma.commit_group.sync.aligned;\0Awgmma.wait_group.sync.aligned 0;
// PAIR: bar.warp.sync -1;\0A@p mbarrier.arrive.shared::cta.b64 st, [$0];
// PAIR-NOT: gpu.barrier
// Later tiles: S(k) (waited for), the release of K(k) and the mask, then
// O += P(k-1) V(k-1) issued without a wait; the softmax of S(k) runs under
// it; wait_group 0 (a block of its own that pins O and P) before the
// release of V(k-1).
// PAIR: scf.while
// PAIR: wgmma.mma_async.sync.aligned.m64n64k16
// PAIR-SAME: wgmma.wait_group.sync.aligned 0;
// PAIR: bar.warp.sync -1;\0A@p mbarrier.arrive.shared::cta.b64 st, [$0];
// PAIR: mbarrier.try_wait.parity
// PAIR: wgmma.mma_async.sync.aligned.m64n128k16
// PAIR-SAME: wgmma.commit_group.sync.aligned;\0A}
// PAIR: llvm.nvvm.ex2.approx.ftz.f
// PAIR: "wgmma.wait_group.sync.aligned 0;"
// PAIR-NOT: gpu.barrier
// PAIR: bar.warp.sync -1;\0A@p mbarrier.arrive.shared::cta.b64 st, [$0];
// The rescale of O is skipped when no row of the warp raised its maximum.
// PAIR: nvvm.vote.sync any
// The run's last tile: O += P V, then its release.
// PAIR: wgmma.mma_async.sync.aligned.m64n128k16
// PAIR-SAME: wgmma.wait_group.sync.aligned 0;
// PAIR: bar.warp.sync -1;\0A@p mbarrier.arrive.shared::cta.b64 st, [$0];
// The epilogue: each warpgroup stores its own rows after its own barrier.
// PAIR-NOT: gpu.barrier
// PAIR: nvvm.barrier id = %{{.+}} number_of_threads = %c128_i32
// PAIR-NOT: gpu.barrier
// PAIR: gpu.return
// Three blocks: a producer warpgroup (512 threads), 4 K and 7 V stages
// (11 empty mbarriers for 12 compute warps, 11 full ones, 12 queue
// mbarriers), one CTA per SM; 3 x 4 queue items of 3 words. setmaxnreg
// moves registers from the producer warpgroup (56) to the compute
// warpgroups (152).
// PAIR3-LABEL: gpu.func @minfer_block_m192_d64_f16
// PAIR3-SAME: known_block_size = array<i32: 512, 1, 1>, nvvm.minctasm = 1
// PAIR3: to memref<36xi32, #gpu.address_space<workgroup>>
// PAIR3: arith.cmpi uge, %{{.+}}, %c12
// PAIR3: mbarrier.init.shared::cta.b64 [a], 12;
// PAIR3: setmaxnreg.dec.sync.aligned.u32 56;
// PAIR3: setmaxnreg.inc.sync.aligned.u32 152;
// PAIR3: gpu.return
// Paired vertical-slash (vs-block-m=192): the block-sparse ring, with full
// barriers that expect 32 arrivals (one per producer lane). The producer is
// a whole warp: lane 0 acquires the tensor maps and walks the ranges (a TMA
// step's expect_tx arrive plus 31 for the other lanes), the warp takes its
// state by shuffles, counts each block's columns past its first row
// (ballot + popc), then gathers the column strips: a proxy fence, a loop of
// cp.async K and V rows (swizzled), one cp.async.mbarrier.arrive.noinc per
// lane on each full barrier, and the item (step, position, ~count). A
// consumer fences the async proxy before the GEMM of a strip (negative
// limit).
// RUN: minfer-opt %s -minfer-generate-kernels='chip=sm_90a kinds=vs head-dims=128 dtypes=bf16 vs-block-m=192' | FileCheck %s --check-prefix=PAIRVS
// PAIRVS-LABEL: gpu.func @minfer_vs_m192_d128_bf16
// PAIRVS-SAME: known_block_size = array<i32: 512, 1, 1>, nvvm.minctasm = 1
// PAIRVS: mbarrier.init.shared::cta.b64 [a], 32;
// PAIRVS-SAME: mbarrier.init.shared::cta.b64 [a], 12;
// PAIRVS: setmaxnreg.dec.sync.aligned.u32 56;
// PAIRVS: fence.proxy.tensormap::generic.acquire.gpu
// PAIRVS: mbarrier.arrive.expect_tx.shared::cta.b64 st, [$0], 16384;\0Ambarrier.arrive.shared::cta.b64 st, [$0], 31;
// PAIRVS: gpu.shuffle  idx
// PAIRVS: nvvm.vote.sync  ballot
// PAIRVS: llvm.intr.ctpop
// PAIRVS: "fence.proxy.async.shared::cta;"
// PAIRVS: scf.for
// PAIRVS: gpu.shuffle  idx
// PAIRVS: nvgpu.device_async_copy %arg1
// PAIRVS: nvgpu.device_async_copy %arg2
// PAIRVS: cp.async.mbarrier.arrive.noinc.shared::cta.b64 [$0];\0Acp.async.mbarrier.arrive.noinc.shared::cta.b64 [$1];
// PAIRVS: arith.xori %{{.+}}, %c-1_i32
// PAIRVS: setmaxnreg.inc.sync.aligned.u32 152;
// PAIRVS: arith.cmpi slt, %{{.+}}, %c0_i32
// PAIRVS: @p fence.proxy.async.shared::cta;
// PAIRVS: wgmma.mma_async
// PAIRVS: gpu.return
// PAIR80: error: minfer-generate-kernels: 128- and 192-row sparse kernels need wgmma (chip sm_90a)
// PAIRM: error: minfer-generate-kernels: only 64-row query blocks are supported (128 for dense and block-sparse kernels, 192 for block-sparse and vertical-slash)
