//===- GpuScorer.h - the search's Scorer on the CUDA runtime ----*- C++ -*-===//
//
// The Scorer of Scorer.h answered by the CUDA runtime, for long heads where
// the CPU reference's O(N^2 D) dense attention is out of reach. Per head,
// setHead() rounds q/k/v to bf16, uploads them as one [B, 1, N, D] head and
// runs the dense pattern once (O_dense, kept on the host); the dense softmax
// rows of the evaluation rows (recall's reference) are computed on the CPU
// from the same bf16 values, in parallel. Then
//   density(p)   builds p's index on the GPU (index only) and counts its
//                executed pairs there (RunOptions::countKept);
//   evaluate(p)  runs p's sparse attention, copies its index back, and takes
//                recall on the evaluation rows over the executed keys, and
//                rel-L2 of O_sparse against O_dense over EVERY row --
//                ScorerOptions::fullOutputMaxLen does not apply, since the
//                full output is cheap on the GPU at any N.
// The answers equal the CPU scorer's on bf16-rounded inputs up to bf16
// rounding of the outputs (rel-L2) and near-ties in the GPU's top-k
// selections (vertical-slash, block-sparse).
//
// Needs the runtime's index kernels (nvcc at configure time) and the
// attention PTX (dense, block, vertical-slash; RuntimeOptions::ptxDir or
// $MINFER_PTX_DIR). checkGpuScorerSupport() tells a tool up front.
// Library MinferGpuScorer (runtime/cuda/search); no CUDA headers needed.
//
//===----------------------------------------------------------------------===//
#ifndef MINFER_SEARCH_GPUSCORER_H
#define MINFER_SEARCH_GPUSCORER_H

#include "minfer/Runtime/CudaRuntime.h"
#include "minfer/Search/Scorer.h"
#include <memory>

namespace minfer::search {

/// A GPU scorer on a new cuda::Runtime (created with `ropts`, owned by the
/// scorer). NoDevice (message "no CUDA device: ...") without a driver or GPU,
/// NullPointer when `out` is null; *out is null on any failure.
Status createGpuScorer(std::unique_ptr<Scorer> *out,
                       const ScorerOptions &opts = {},
                       const cuda::RuntimeOptions &ropts = {});

/// The same on the caller's runtime, which must outlive the scorer (a tool
/// that also queries the device; tests that register stand-in kernels).
Status createGpuScorer(std::unique_ptr<Scorer> *out, cuda::Runtime &rt,
                       const ScorerOptions &opts = {});

/// Whether `rt` can score heads of `headDim`: loads the three bf16 attention
/// kernels and builds a tiny vertical-slash and block-sparse index. Returns
/// the runtime's error (missing PTX, index kernels not built, ...) if not.
Status checkGpuScorerSupport(cuda::Runtime &rt, int64_t headDim);

} // namespace minfer::search

#endif // MINFER_SEARCH_GPUSCORER_H
