// RUN: minfer-opt %s -split-input-file -minfer-outline-tile-kernels -verify-diagnostics -o /dev/null

// f32 has no tensor-core (mma.sync m16n8k16) kernel.
func.func @f32(%q: memref<1x1x64x64xf32>) {
  // expected-error @+1 {{'minfer.dense_attention' op has no tensor-core kernel for element type 'f32' (mma.sync m16n8k16 needs bf16 or f16)}}
  minfer.dense_attention %q, %q, %q, %q {scale = 0.125 : f32}
    : memref<1x1x64x64xf32>, memref<1x1x64x64xf32>,
      memref<1x1x64x64xf32>, memref<1x1x64x64xf32>
  return
}

// -----

// Buffers are passed flat: a strided (non-contiguous) view is rejected.
func.func @strided(%q: memref<1x2x64x64xbf16, strided<[16384, 8192, 128, 1]>>,
                   %o: memref<1x2x64x64xbf16>) {
  // expected-error @+1 {{'minfer.dense_attention' op query must be a contiguous row-major memref (identity layout) to be passed to the kernel}}
  minfer.dense_attention %q, %q, %q, %o {scale = 0.125 : f32}
    : memref<1x2x64x64xbf16, strided<[16384, 8192, 128, 1]>>,
      memref<1x2x64x64xbf16, strided<[16384, 8192, 128, 1]>>,
      memref<1x2x64x64xbf16, strided<[16384, 8192, 128, 1]>>,
      memref<1x2x64x64xbf16>
  return
}

// -----

func.func @workgroup(%q: memref<1x1x64x64xbf16, #gpu.address_space<workgroup>>,
                     %o: memref<1x1x64x64xbf16>) {
  // expected-error @+1 {{'minfer.dense_attention' op query must be in the default (global) memory space}}
  minfer.dense_attention %q, %q, %q, %o {scale = 0.125 : f32}
    : memref<1x1x64x64xbf16, #gpu.address_space<workgroup>>,
      memref<1x1x64x64xbf16, #gpu.address_space<workgroup>>,
      memref<1x1x64x64xbf16, #gpu.address_space<workgroup>>,
      memref<1x1x64x64xbf16>
  return
}
