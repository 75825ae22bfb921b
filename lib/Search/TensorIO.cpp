//===- TensorIO.cpp - shared pieces of the .npy / .safetensors readers ----===//
//
// File access with exact, bounded reads, element decoding (fp32/fp16/bf16 to
// fp32 with a finiteness check) and shape arithmetic with overflow checks.
// The two formats live in Npy.cpp and Safetensors.cpp.
//
//===----------------------------------------------------------------------===//
#include "TensorIODetail.h"
#include "minfer/Runtime/Reference.h"
#include <cmath>
#include <cstring>

namespace minfer::search {

const char *dtypeName(DType t) {
  switch (t) {
  case DType::F32: return "F32";
  case DType::F16: return "F16";
  case DType::BF16: return "BF16";
  }
  return "?";
}

int64_t Tensor::numel() const {
  int64_t n = 1;
  for (int64_t d : shape)
    n *= d;
  return n;
}

std::string Tensor::shapeStr() const { return detail::shapeStr(shape); }

namespace detail {

std::string shapeStr(const std::vector<int64_t> &shape) {
  std::string s = "[";
  for (size_t i = 0; i < shape.size(); ++i)
    s += (i ? ", " : "") + std::to_string(shape[i]);
  return s + "]";
}

Status checkedNumel(const std::vector<int64_t> &shape, int64_t elemBytes,
                    const std::string &what, int64_t &numel, int64_t &bytes) {
  // Products stay below 2^62 so `bytes` cannot overflow either.
  const int64_t cap = int64_t(1) << 62;
  int64_t n = 1;
  for (int64_t d : shape) {
    if (d < 0)
      return invalidArgument(what + ": negative dimension in shape " +
                             shapeStr(shape));
    if (d != 0 && n > cap / d)
      return invalidArgument(what + ": shape " + shapeStr(shape) +
                             " overflows");
    n *= d;
  }
  if (n > cap / elemBytes)
    return invalidArgument(what + ": shape " + shapeStr(shape) + " overflows");
  numel = n;
  bytes = n * elemBytes;
  return Status::success();
}

static uint16_t loadU16(const uint8_t *p) {
  return static_cast<uint16_t>(p[0] | (p[1] << 8));
}

Status decode(const uint8_t *src, int64_t numel, DType type,
              const std::string &what, std::vector<float> &out) {
  out.resize(numel);
  for (int64_t i = 0; i < numel; ++i) {
    float f;
    if (type == DType::F32) {
      const uint8_t *p = src + 4 * i;
      uint32_t bits = uint32_t(p[0]) | (uint32_t(p[1]) << 8) |
                      (uint32_t(p[2]) << 16) | (uint32_t(p[3]) << 24);
      std::memcpy(&f, &bits, 4);
    } else if (type == DType::F16) {
      f = ref::f16ToFloat(loadU16(src + 2 * i));
    } else {
      f = ref::bf16ToFloat(loadU16(src + 2 * i));
    }
    if (!std::isfinite(f)) {
      out.clear();
      return invalidArgument(what + ": non-finite value (" +
                             std::string(std::isnan(f) ? "nan" : "inf") +
                             ") at flat element " + std::to_string(i));
    }
    out[i] = f;
  }
  return Status::success();
}

void encode(const std::vector<float> &src, DType type, std::string &out) {
  size_t base = out.size();
  out.resize(base + src.size() * dtypeBytes(type));
  uint8_t *p = reinterpret_cast<uint8_t *>(&out[base]);
  for (size_t i = 0; i < src.size(); ++i) {
    if (type == DType::F32) {
      uint32_t bits;
      std::memcpy(&bits, &src[i], 4);
      for (int b = 0; b < 4; ++b)
        *p++ = static_cast<uint8_t>(bits >> (8 * b));
    } else {
      uint16_t h = type == DType::F16 ? ref::floatToF16(src[i])
                                      : ref::floatToBf16(src[i]);
      *p++ = static_cast<uint8_t>(h);
      *p++ = static_cast<uint8_t>(h >> 8);
    }
  }
}

//===----------------------------------------------------------------------===//
// InFile / writeFile
//===----------------------------------------------------------------------===//

InFile::~InFile() {
  if (f_)
    std::fclose(f_);
}

Status InFile::open(const std::string &path) {
  path_ = path;
  f_ = std::fopen(path.c_str(), "rb");
  if (!f_)
    return invalidArgument(path + ": cannot open (" +
                           std::string(std::strerror(errno)) + ")");
  if (fseeko(f_, 0, SEEK_END) != 0)
    return invalidArgument(path + ": cannot seek (not a regular file?)");
  off_t sz = ftello(f_);
  if (sz < 0)
    return invalidArgument(path + ": cannot determine the file size");
  size_ = static_cast<int64_t>(sz);
  return Status::success();
}

Status InFile::readAt(int64_t offset, int64_t n, void *dst) const {
  if (offset < 0 || n < 0 || offset > size_ || n > size_ - offset)
    return invalidArgument(path_ + ": truncated file (need bytes [" +
                           std::to_string(offset) + ", " +
                           std::to_string(offset + n) + "), file has " +
                           std::to_string(size_) + ")");
  if (n == 0)
    return Status::success();
  if (fseeko(f_, static_cast<off_t>(offset), SEEK_SET) != 0)
    return invalidArgument(path_ + ": cannot seek");
  size_t got = std::fread(dst, 1, static_cast<size_t>(n), f_);
  if (got != static_cast<size_t>(n))
    return invalidArgument(path_ + ": short read (file changed or I/O error)");
  return Status::success();
}

Status writeFile(const std::string &path, const std::string &bytes) {
  std::FILE *f = std::fopen(path.c_str(), "wb");
  if (!f)
    return invalidArgument(path + ": cannot create (" +
                           std::string(std::strerror(errno)) + ")");
  size_t put = std::fwrite(bytes.data(), 1, bytes.size(), f);
  int closed = std::fclose(f);
  if (put != bytes.size() || closed != 0)
    return invalidArgument(path + ": write failed");
  return Status::success();
}

} // namespace detail
} // namespace minfer::search
