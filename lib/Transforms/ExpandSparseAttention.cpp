//===- ExpandSparseAttention.cpp - sparse_attention -> estimate/index/kernel ===//
#include "minfer/Transforms/Passes.h"

using namespace mlir;

namespace mlir::minfer {
#define GEN_PASS_DEF_MINFEREXPANDSPARSEATTENTION
#include "minfer/Transforms/Passes.h.inc"

namespace {
struct ExpandSparseAttentionPass final
    : impl::MinferExpandSparseAttentionBase<ExpandSparseAttentionPass> {
  using Base::Base;
  void runOnOperation() override {}
};
} // namespace
} // namespace mlir::minfer
