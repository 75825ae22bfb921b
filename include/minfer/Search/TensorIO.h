//===- TensorIO.h - .npy and .safetensors readers for the search -*- C++ -*-=//
//
// Bounded readers of captured q/k/v activations, converted to fp32:
//
//   .npy          format v1/v2/v3, C order, little-endian; descr '<f4'
//                 (float32), '<f2' (float16), '<u2' / '<V2' / '|V2'
//                 (bfloat16 bit patterns: numpy has no bf16 dtype, so bf16
//                 arrays are saved as uint16 or as 2-byte void)
//   .safetensors  u64 little-endian header length, JSON header
//                 {name: {"dtype": "F32"|"F16"|"BF16", "shape": [...],
//                 "data_offsets": [begin, end]}, "__metadata__": {...}},
//                 then the byte buffer the offsets index into
//
// Nothing in a header is trusted: header lengths are capped (ReadLimits),
// element counts are overflow-checked and compared with the bytes the file
// really has, reads are exact, and every value must be finite. Errors are
// Status values whose message starts with the file path.
//
//===----------------------------------------------------------------------===//
#ifndef MINFER_SEARCH_TENSORIO_H
#define MINFER_SEARCH_TENSORIO_H

#include "minfer/Runtime/Status.h"
#include <cstdint>
#include <string>
#include <utility>
#include <vector>

namespace minfer::search {

enum class DType { F32, F16, BF16 };
const char *dtypeName(DType t); ///< "F32", "F16", "BF16" (safetensors names)
inline int64_t dtypeBytes(DType t) { return t == DType::F32 ? 4 : 2; }

/// A dense C-order fp32 tensor.
struct Tensor {
  std::vector<int64_t> shape;
  std::vector<float> data;
  DType fileType = DType::F32; ///< element type on disk
  int64_t numel() const;
  std::string shapeStr() const; ///< "[1, 8, 1024, 64]"
};

struct ReadLimits {
  int64_t maxNpyHeader = 1 << 16;          ///< bytes of the npy dict
  int64_t maxSafetensorsHeader = 100 << 20; ///< bytes of the JSON header
  int64_t maxRank = 8;
};

/// Reads a whole .npy file.
Status readNpy(const std::string &path, Tensor &out,
               const ReadLimits &limits = {});
/// Parses an in-memory .npy image (`what` names it in errors).
Status parseNpy(const std::string &bytes, const std::string &what, Tensor &out,
                const ReadLimits &limits = {});
/// Writes `t` as .npy; BF16 is stored as '<u2'.
Status writeNpy(const std::string &path, const Tensor &t,
                DType type = DType::F32);

/// One tensor entry of a safetensors header.
struct SafetensorsEntry {
  std::string name;
  std::string dtype;      ///< as spelled in the header, e.g. "BF16"
  bool supported = false; ///< F32, F16 or BF16 (others fail on read())
  DType type = DType::F32;
  std::vector<int64_t> shape;
  int64_t begin = 0, end = 0; ///< byte offsets into the data buffer
};

/// A .safetensors file opened for reading: the header is parsed and
/// validated (offsets in bounds, sizes consistent) by open(); tensors are
/// read one at a time by read(), so a large file is never loaded whole.
class SafetensorsFile {
public:
  Status open(const std::string &path, const ReadLimits &limits = {});
  const std::vector<SafetensorsEntry> &entries() const { return entries_; }
  const SafetensorsEntry *find(const std::string &name) const;
  Status read(const std::string &name, Tensor &out) const;
  const std::string &path() const { return path_; }

private:
  std::string path_;
  int64_t dataStart_ = 0, fileSize_ = 0;
  std::vector<SafetensorsEntry> entries_;
};

/// Writes the named tensors as one .safetensors file (for tests and tools).
Status writeSafetensors(const std::string &path,
                        const std::vector<std::pair<std::string, Tensor>> &ts,
                        DType type = DType::F32);

} // namespace minfer::search

#endif // MINFER_SEARCH_TENSORIO_H
