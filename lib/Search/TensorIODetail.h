//===- TensorIODetail.h - helpers private to the tensor readers -*- C++ -*-===//
#ifndef MINFER_LIB_SEARCH_TENSORIODETAIL_H
#define MINFER_LIB_SEARCH_TENSORIODETAIL_H

#include "minfer/Search/TensorIO.h"
#include <cerrno>
#include <cstdio>

namespace minfer::search::detail {

std::string shapeStr(const std::vector<int64_t> &shape);

/// numel and byte size of `shape`, failing on negative dims or overflow.
Status checkedNumel(const std::vector<int64_t> &shape, int64_t elemBytes,
                    const std::string &what, int64_t &numel, int64_t &bytes);

/// Little-endian `type` elements to fp32; fails on the first non-finite one.
Status decode(const uint8_t *src, int64_t numel, DType type,
              const std::string &what, std::vector<float> &out);
/// Appends `src` encoded as little-endian `type`.
void encode(const std::vector<float> &src, DType type, std::string &out);

/// A read-only file with its size known up front; every read is checked
/// against that size before it is issued.
class InFile {
public:
  InFile() = default;
  InFile(const InFile &) = delete;
  InFile &operator=(const InFile &) = delete;
  ~InFile();
  Status open(const std::string &path);
  int64_t size() const { return size_; }
  Status readAt(int64_t offset, int64_t n, void *dst) const;

private:
  std::string path_;
  std::FILE *f_ = nullptr;
  int64_t size_ = 0;
};

Status writeFile(const std::string &path, const std::string &bytes);

} // namespace minfer::search::detail

#endif // MINFER_LIB_SEARCH_TENSORIODETAIL_H
