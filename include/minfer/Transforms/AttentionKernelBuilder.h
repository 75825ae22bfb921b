//===- AttentionKernelBuilder.h - FA2 tensor-core kernels as gpu.func -----===//
//
// Builds the FlashAttention-2 tile kernels (dense, block, vertical-slash) of
// a `minfer::kernel::TileConfig` as `gpu.func`s made of upstream dialects
// only (arith, scf, memref, vector, gpu, nvgpu, nvvm, llvm intrinsics): Q in
// registers as mma.sync A fragments, K/V tiles double-buffered in dynamic
// shared memory with cp.async, S = Q K^T and O += P V with m16n8k16
// mma.sync, online softmax in fp32. The kernel's signature, launch geometry
// and shared-memory size are the ABI written down in TileConfig.h.
//
// Each kernel lives in its own `gpu.module` named like the kernel
// (`@minfer_vs_d128_bf16`), so `minfer-to-ptx` + `minfer-dump-ptx` give one
// PTX file per kernel and chip.
//
//===----------------------------------------------------------------------===//
#ifndef MINFER_TRANSFORMS_ATTENTIONKERNELBUILDER_H
#define MINFER_TRANSFORMS_ATTENTIONKERNELBUILDER_H

#include "minfer/Kernel/TileConfig.h"
#include "mlir/Dialect/GPU/IR/GPUDialect.h"
#include "mlir/IR/BuiltinOps.h"

namespace mlir::minfer {

/// bf16 or f16.
Type getKernelElementType(MLIRContext *ctx, ::minfer::kernel::ElemType elem);

/// Argument types of the kernel in ABI order (TileConfig.h): flat
/// memref<?xT> buffers, then i32 scalars and the f32 scale_log2e.
SmallVector<Type>
getAttentionKernelArgTypes(MLIRContext *ctx,
                           const ::minfer::kernel::TileConfig &config);

/// Appends the kernel of `config` to `module`. Emits an error at `loc` and
/// fails if the config is invalid or the module already has a symbol of that
/// name that is not such a kernel.
FailureOr<gpu::GPUFuncOp>
buildAttentionKernel(OpBuilder &builder, Location loc, gpu::GPUModuleOp module,
                     const ::minfer::kernel::TileConfig &config);

/// Returns the kernel of `config` in `top`, creating `gpu.module @<name>`
/// with it (and setting `gpu.container_module` on `top`) if absent.
FailureOr<gpu::GPUFuncOp>
getOrCreateAttentionKernel(ModuleOp top, Location loc,
                           const ::minfer::kernel::TileConfig &config);

/// Parses "dense" / "block" / "vs", "bf16" / "f16", "sm_80" / "sm_90" /
/// "sm_90a".
std::optional<::minfer::kernel::KernelKind> parseKernelKind(StringRef s);
std::optional<::minfer::kernel::ElemType> parseElemType(StringRef s);
std::optional<::minfer::kernel::Chip> parseChip(StringRef s);

/// Query rows per CTA of a kernel kind under the passes' `dense-block-m`,
/// `block-block-m` and `vs-block-m` options.
inline int64_t blockMOption(::minfer::kernel::KernelKind kind,
                            int64_t denseBlockM, int64_t blockBlockM,
                            int64_t vsBlockM = ::minfer::kernel::kBlockM) {
  switch (kind) {
  case ::minfer::kernel::KernelKind::Dense: return denseBlockM;
  case ::minfer::kernel::KernelKind::Block: return blockBlockM;
  case ::minfer::kernel::KernelKind::VerticalSlash: return vsBlockM;
  }
  return ::minfer::kernel::kBlockM;
}

} // namespace mlir::minfer

#endif // MINFER_TRANSFORMS_ATTENTIONKERNELBUILDER_H
