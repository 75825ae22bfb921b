// Toolchain probe for the planned producer/consumer sparse kernel
// (bench/results/tuning.md): the bulk tensor copy (TMA) into a 128-byte-
// swizzled 64x64 tile with mbarrier completion -- init, arrive.expect_tx,
// cp.async.bulk.tensor, try_wait.parity -- goes through minfer-to-ptx
// (nvgpu -> nvvm -> PTX) and ptxas for sm_90a. The tensor map arrives as a
// generic pointer (the runtime would copy a CUtensorMap to device memory):
// convert-gpu-to-nvvm does not convert gpu.func arguments of type
// !nvgpu.tensormap.descriptor, so the kernel casts the pointer to it. The box
// is 3-D as the K/V maps would be: {64 of D, 64 keys, 1 of B*Hkv}.
// REQUIRES: ptxas
// RUN: rm -rf %t && mkdir -p %t
// RUN: minfer-opt %s --pass-pipeline='builtin.module(minfer-to-ptx{chip=sm_90a}, minfer-dump-ptx{dir=%t})' -o /dev/null
// RUN: FileCheck %s < %t/tma_probe.sm_90a.ptx
// RUN: %ptxas -arch=sm_90a %t/tma_probe.sm_90a.ptx -o %t/probe.cubin
// The bulk tensor copy needs sm_90.
// RUN: not %ptxas -arch=sm_80 %t/tma_probe.sm_90a.ptx -o %t/no.cubin

// CHECK: .target sm_90a
// CHECK: .param .u64 .ptr .align 1 tma_probe_param_0
// CHECK: .shared .align 8 .b8 __mbarrier[16];
// CHECK: mbarrier.init.shared.b64 [__mbarrier],
// CHECK: mbarrier.init.shared.b64 [__mbarrier+8],
// CHECK: mbarrier.arrive.expect_tx.shared.b64 {{.*}}, [__mbarrier],
// CHECK: cp.async.bulk.tensor.3d.shared::cluster.global.tile.mbarrier::complete_tx::bytes [{{.*}}], [{{%rd[0-9]+}}, {{{.*}}, {{.*}}, {{.*}}}], [__mbarrier];
// CHECK: mbarrier.try_wait.parity.shared.b64
// CHECK: mbarrier.arrive.shared.b64 {{.*}}, [__mbarrier+8];

!bar = !nvgpu.mbarrier.group<memorySpace = #gpu.address_space<workgroup>, num_barriers = 2>
!desc = !nvgpu.tensormap.descriptor<tensor = memref<1x64x64xbf16, #gpu.address_space<workgroup>>, swizzle = swizzle_128b, l2promo = l2promo_256b, oob = zero, interleave = none>
module attributes {gpu.container_module} {
  gpu.module @tma_probe {
    gpu.func @tma_probe(%dp: !llvm.ptr, %row: index, %parity: i1) kernel {
      %d = builtin.unrealized_conversion_cast %dp : !llvm.ptr to !desc
      %c0 = arith.constant 0 : index
      %c1 = arith.constant 1 : index
      %c64 = arith.constant 64 : index
      %ticks = arith.constant 10000000 : index
      %bytes = arith.constant 8192 : index
      %tid = gpu.thread_id x
      %smem = memref.get_global @tile : memref<1x64x64xbf16, #gpu.address_space<workgroup>>
      %bars = nvgpu.mbarrier.create -> !bar
      %first = arith.cmpi eq, %tid, %c0 : index
      scf.if %first {
        nvgpu.mbarrier.init %bars[%c0], %c1 : !bar
        nvgpu.mbarrier.init %bars[%c1], %c64 : !bar
        nvgpu.mbarrier.arrive.expect_tx %bars[%c0], %bytes : !bar
        nvgpu.tma.async.load %d[%c0, %row, %c1], %bars[%c0] to %smem : !desc, !bar -> memref<1x64x64xbf16, #gpu.address_space<workgroup>>
      }
      nvgpu.mbarrier.try_wait.parity %bars[%c0], %parity, %ticks : !bar
      %t = nvgpu.mbarrier.arrive %bars[%c1] : !bar -> !nvgpu.mbarrier.token
      gpu.return
    }
    memref.global "private" @tile : memref<1x64x64xbf16, #gpu.address_space<workgroup>> {alignment = 1024 : i64}
  }
}
