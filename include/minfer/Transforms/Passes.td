//===- Passes.td - minfer passes ---------------------------*- tablegen -*-===//
#ifndef MINFER_TRANSFORMS_PASSES_TD
#define MINFER_TRANSFORMS_PASSES_TD

include "mlir/Pass/PassBase.td"

def MinferExpandSparseAttention
    : Pass<"minfer-expand-sparse-attention", "func::FuncOp"> {
  let summary = "Expand minfer.sparse_attention into estimation, index and kernel ops";
  let description = [{
    Groups the heads of each `minfer.sparse_attention` by pattern, allocates
    score and sparse-index buffers, and emits for each group its estimation
    op (`vs_estimate`, `bs_estimate`) and index op (`build_*_index`), then one
    tile-kernel op over all heads: `dense_attention` when every head is dense,
    `vs_attention` when any head is vertical-slash, else `block_attention`.
  }];
  let dependentDialects = ["memref::MemRefDialect", "arith::ArithDialect"];
  let options = [
    Option<"blockSize", "block-size", "int64_t", "64",
           "Query/key block size of the sparse index (only 64 is supported)">,
    Option<"lastQ", "last-q", "int64_t", "0",
           "Override last_q of every vertical-slash head (0: keep the attribute's)">,
    Option<"forcedVertical", "forced-vertical", "int64_t", "30",
           "Leading key columns every vertical-slash head keeps">,
    Option<"forcedSlash", "forced-slash", "int64_t", "100",
           "Diagonals next to the main diagonal every vertical-slash head keeps">,
  ];
}

//===----------------------------------------------------------------------===//
// Tile kernels (FlashAttention-2 on tensor cores, mma.sync m16n8k16)
//===----------------------------------------------------------------------===//

defvar MinferKernelDialects = [
  "gpu::GPUDialect", "nvgpu::NVGPUDialect", "NVVM::NVVMDialect",
  "LLVM::LLVMDialect", "arith::ArithDialect", "scf::SCFDialect",
  "memref::MemRefDialect", "vector::VectorDialect"];

def MinferGenerateKernels : Pass<"minfer-generate-kernels", "ModuleOp"> {
  let summary = "Add FlashAttention-2 tile kernels to the module (AOT PTX)";
  let description = [{
    Adds one `gpu.module @<kernel>` holding `gpu.func @<kernel>` for every
    combination of the listed kinds, head dims and element types (an empty
    list means all values), built from `minfer::kernel::TileConfig` with the
    kernel ABI of TileConfig.h, plus the longer-sequence variants where
    their tuning differs (kernel::tunedFor(kind, chip, tier) for each of
    kernel::kSequenceTiers: the sm_90a vertical-slash kernel with split K/V
    loads, `minfer_vs_kv_*`) unless `stages` is given. `dense-block-m=128` / `block-block-m=128|192` / `vs-block-m=192`
    build dense or (sm_90a) paired-query-block block-sparse or
    vertical-slash kernels with 128- or 192-row CTAs instead of the 64-row
    ones. The module gets `gpu.container_module`. Run
    `minfer-to-ptx` and `minfer-dump-ptx` afterwards to get
    `<dir>/<kernel>.<chip>.ptx`.
  }];
  let dependentDialects = MinferKernelDialects;
  let options = [
    ListOption<"kinds", "kinds", "std::string",
               "Kernel kinds: dense, block, vs (default: all)">,
    ListOption<"headDims", "head-dims", "int64_t",
               "Head dims: 64, 96, 128 (default: all three)">,
    ListOption<"dtypes", "dtypes", "std::string",
               "Element types: bf16, f16 (default: both)">,
    Option<"chip", "chip", "std::string", "\"sm_80\"",
           "Chip of the TileConfig (sm_80, sm_90 or sm_90a: wgmma); the PTX target is "
           "minfer-to-ptx's chip">,
    Option<"denseBlockM", "dense-block-m", "int64_t", "64",
           "Query rows per CTA of dense kernels: 64, or 128 (8 warps, half "
           "the K/V traffic per FLOP, grid ceil(N / 128), name *_m128_*)">,
    Option<"blockBlockM", "block-block-m", "int64_t", "64",
           "Query rows per CTA of block-sparse kernels: 64, or 128 / 192 "
           "(two / three query blocks per CTA sharing their common key "
           "tiles through a producer's TMA ring, sm_90a only, "
           "TileConfig::pairsQueryBlocks, name *_m128_* / *_m192_*)">,
    Option<"vsBlockM", "vs-block-m", "int64_t", "64",
           "Query rows per CTA of vertical-slash kernels: 64, or 192 (three "
           "query blocks sharing their range tiles through a producer's TMA "
           "ring, their column strips gathered by the producer warp, sm_90a "
           "only, name *_m192_*)">,
    Option<"stages", "stages", "int64_t", "0",
           "K/V shared-memory stages of the cp.async pipeline (1-3; 0: the "
           "kind's tuned value, kernel::tunedFor)">,
    Option<"valueStages", "value-stages", "int64_t", "-1",
           "V stages of a paired block-sparse kernel's TMA ring when it has "
           "more V than K stages (TileConfig::valueStages; 0: as many as K, "
           "-1: the tuned value)">,
    Option<"minCtasPerSm", "min-ctas-per-sm", "int64_t", "-1",
           "Occupancy request to ptxas (.minnctapersm; 0: none, -1: the "
           "kind's tuned value)">,
  ];
}

def MinferOutlineTileKernels : Pass<"minfer-outline-tile-kernels", "ModuleOp"> {
  let summary = "Replace minfer tile-kernel ops with gpu.launch_func";
  let description = [{
    Each `minfer.dense_attention`, `minfer.block_attention` and
    `minfer.vs_attention` becomes a `gpu.launch_func` of the generated kernel
    of matching kind, head dim and element type (created on demand in its own
    `gpu.module`): buffers collapsed to flat `memref<?xT>`, grid
    (TileConfig::gridX(N) = ceil(N / blockM), H, B), TileConfig::threads()
    threads, TileConfig::sharedBytes() of dynamic shared memory, scalars seq_len, heads, kv_heads, max_ranges, max_columns
    and scale * log2(e). Operands must be contiguous row-major memrefs in
    the default memory space with bf16 or f16 elements.
  }];
  let dependentDialects = MinferKernelDialects;
  let options = [
    Option<"chip", "chip", "std::string", "\"sm_80\"",
           "Chip of the TileConfig (sm_80, sm_90 or sm_90a: wgmma); the PTX target is "
           "minfer-to-ptx's chip">,
    Option<"denseBlockM", "dense-block-m", "int64_t", "64",
           "Query rows per CTA of dense kernels: 64, or 128 (8 warps, half "
           "the K/V traffic per FLOP, grid ceil(N / 128), name *_m128_*)">,
    Option<"blockBlockM", "block-block-m", "int64_t", "64",
           "Query rows per CTA of block-sparse kernels: 64, or 128 / 192 "
           "(two / three query blocks per CTA sharing their common key "
           "tiles through a producer's TMA ring, sm_90a only, "
           "TileConfig::pairsQueryBlocks, name *_m128_* / *_m192_*)">,
    Option<"stages", "stages", "int64_t", "0",
           "K/V shared-memory stages of the cp.async pipeline (1-3; 0: the "
           "kind's tuned value, kernel::tunedFor)">,
    Option<"minCtasPerSm", "min-ctas-per-sm", "int64_t", "-1",
           "Occupancy request to ptxas (.minnctapersm; 0: none, -1: the "
           "kind's tuned value)">,
  ];
}

def MinferDumpPtx : Pass<"minfer-dump-ptx", "ModuleOp"> {
  let summary = "Write the PTX of every gpu.binary to <dir>/<name>.<chip>.ptx";
  let description = [{
    For every `gpu.binary @name` whose objects are PTX (`gpu-module-to-binary
    {format=isa}`, as `minfer-to-ptx` does), writes each NVVM object's
    assembly to `<dir>/<name>.<chip>.ptx`. Kernels generated by minfer live in
    a module named like the kernel, so the file is `<kernel>.<chip>.ptx`. The
    IR is left unchanged.
  }];
  let options = [
    Option<"dir", "dir", "std::string", "\"\"", "Output directory (created if missing)">,
  ];
}

#endif // MINFER_TRANSFORMS_PASSES_TD
