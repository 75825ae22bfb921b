//===- EmbeddedPtx.h - PTX compiled at build time, linked in ----*- C++ -*-===//
//
// The runtime's own kernels (index construction; in the testing library, the
// naive attention kernels) are compiled by nvcc to PTX when the project is
// built and embedded as byte arrays (cmake/EmbedPtx.cmake), then loaded with
// cuModuleLoadDataEx, which JIT-compiles them for the device. Tables end with
// a {nullptr, nullptr, 0} entry; a table with only that entry means nvcc was
// not found at configure time.
//
//===----------------------------------------------------------------------===//
#ifndef MINFER_RUNTIME_CUDA_EMBEDDEDPTX_H
#define MINFER_RUNTIME_CUDA_EMBEDDEDPTX_H

#include <cstddef>

namespace minfer::cuda {

struct EmbeddedPtx {
  const char *name; ///< module name: the .cu file's stem
  const char *text; ///< NUL-terminated PTX
  size_t size;      ///< bytes, without the NUL
};

/// runtime/cuda/kernels/*.cu (MinferCudaRuntime).
extern const EmbeddedPtx kIndexKernelPtx[];
/// runtime/cuda/kernels/testing/*.cu (MinferCudaTesting only).
extern const EmbeddedPtx kTestKernelPtx[];

/// The entry named `name`, or nullptr.
inline const EmbeddedPtx *findEmbeddedPtx(const EmbeddedPtx *table,
                                          const char *name) {
  for (const EmbeddedPtx *e = table; e->name; ++e) {
    const char *a = e->name, *b = name;
    while (*a && *a == *b)
      ++a, ++b;
    if (*a == *b)
      return e;
  }
  return nullptr;
}

} // namespace minfer::cuda

#endif // MINFER_RUNTIME_CUDA_EMBEDDEDPTX_H
