//===- Npy.cpp - bounded .npy reader and writer ---------------------------===//
//
// Format: "\x93NUMPY", major, minor, header length (u16 for v1, u32 for
// v2/v3), then a Python dict literal {'descr': ..., 'fortran_order': ...,
// 'shape': (...)} padded with spaces and '\n', then the raw C-order data.
// The dict is parsed by a tiny literal parser (strings, booleans, int
// tuples) rather than trusted; the data must fill the rest of the file
// exactly.
//
//===----------------------------------------------------------------------===//
#include "TensorIODetail.h"
#include <cstring>

namespace minfer::search {

namespace {

struct NpyHeader {
  std::string descr;
  bool fortran = false;
  bool haveDescr = false, haveFortran = false, haveShape = false;
  std::vector<int64_t> shape;
};

/// Parser of the header dict literal.
class DictParser {
public:
  DictParser(const std::string &t, const std::string &what)
      : text(t), what(what) {}

  Status parse(NpyHeader &h) {
    skipWs();
    if (!eat('{'))
      return error("expected '{'");
    while (true) {
      skipWs();
      if (eat('}'))
        break;
      std::string key;
      MINFER_RETURN_IF_ERROR(parseStr(key));
      skipWs();
      if (!eat(':'))
        return error("expected ':' after '" + key + "'");
      skipWs();
      if (key == "descr") {
        MINFER_RETURN_IF_ERROR(parseStr(h.descr));
        h.haveDescr = true;
      } else if (key == "fortran_order") {
        if (text.compare(pos, 4, "True") == 0) {
          h.fortran = true;
          pos += 4;
        } else if (text.compare(pos, 5, "False") == 0) {
          h.fortran = false;
          pos += 5;
        } else {
          return error("fortran_order must be True or False");
        }
        h.haveFortran = true;
      } else if (key == "shape") {
        MINFER_RETURN_IF_ERROR(parseShape(h.shape));
        h.haveShape = true;
      } else {
        return error("unknown key '" + key + "'");
      }
      skipWs();
      if (eat(','))
        continue;
      skipWs();
      if (eat('}'))
        break;
      return error("expected ',' or '}'");
    }
    skipWs();
    if (pos != text.size())
      return error("unexpected characters after the dict");
    if (!h.haveDescr || !h.haveFortran || !h.haveShape)
      return error("header lacks 'descr', 'fortran_order' or 'shape'");
    return Status::success();
  }

private:
  const std::string &text;
  const std::string &what;
  size_t pos = 0;

  Status error(const std::string &m) const {
    return invalidArgument(what + ": malformed .npy header: " + m);
  }
  void skipWs() {
    while (pos < text.size() && (text[pos] == ' ' || text[pos] == '\n' ||
                                 text[pos] == '\t' || text[pos] == '\r'))
      ++pos;
  }
  bool eat(char c) {
    if (pos < text.size() && text[pos] == c) {
      ++pos;
      return true;
    }
    return false;
  }
  Status parseStr(std::string &out) {
    if (pos >= text.size() || (text[pos] != '\'' && text[pos] != '"'))
      return error("expected a quoted string");
    char q = text[pos++];
    size_t end = text.find(q, pos);
    if (end == std::string::npos || end - pos > 64)
      return error("unterminated or overlong string");
    out = text.substr(pos, end - pos);
    pos = end + 1;
    return Status::success();
  }
  Status parseShape(std::vector<int64_t> &shape) {
    if (!eat('('))
      return error("shape must be a tuple");
    while (true) {
      skipWs();
      if (eat(')'))
        return Status::success();
      if (pos >= text.size() || text[pos] < '0' || text[pos] > '9')
        return error("shape entries must be non-negative integers");
      int64_t v = 0;
      while (pos < text.size() && text[pos] >= '0' && text[pos] <= '9') {
        if (v > (INT64_MAX - 9) / 10)
          return error("shape entry too large");
        v = v * 10 + (text[pos++] - '0');
      }
      if (text.compare(pos, 1, "L") == 0) // Python 2 longs
        ++pos;
      shape.push_back(v);
      if (shape.size() > 64)
        return error("too many dimensions");
      skipWs();
      if (eat(','))
        continue;
      skipWs();
      if (eat(')'))
        return Status::success();
      return error("expected ',' or ')' in shape");
    }
  }
};

Status typeFromDescr(const std::string &descr, const std::string &what,
                     DType &type) {
  if (descr == "<f4")
    type = DType::F32;
  else if (descr == "<f2")
    type = DType::F16;
  else if (descr == "<u2" || descr == "<V2" || descr == "|V2" ||
           descr == "V2" || descr == "<bf16" || descr == "bfloat16")
    type = DType::BF16;
  else
    return Status(ErrorCode::Unsupported,
                  what + ": unsupported dtype '" + descr +
                      "' (supported: '<f4' float32, '<f2' float16, '<u2' or "
                      "'|V2' bfloat16; little-endian only)");
  return Status::success();
}

/// Parses the fixed prefix and the dict; `prefix` holds at least the first
/// min(fileSize, 12) bytes. On success `dataOffset` is where the data starts.
Status parseHeader(const std::string &what, int64_t fileSize,
                   const std::string &prefix, const ReadLimits &limits,
                   int64_t &headerLen, int64_t &dataOffset) {
  if (fileSize < 10 || prefix.size() < 10 ||
      std::memcmp(prefix.data(), "\x93NUMPY", 6) != 0)
    return invalidArgument(what + ": not a .npy file (bad magic)");
  int major = static_cast<uint8_t>(prefix[6]);
  const uint8_t *p = reinterpret_cast<const uint8_t *>(prefix.data());
  if (major == 1) {
    headerLen = p[8] | (p[9] << 8);
    dataOffset = 10;
  } else if (major == 2 || major == 3) {
    if (fileSize < 12 || prefix.size() < 12)
      return invalidArgument(what + ": truncated .npy header");
    headerLen = int64_t(p[8]) | (int64_t(p[9]) << 8) | (int64_t(p[10]) << 16) |
                (int64_t(p[11]) << 24);
    dataOffset = 12;
  } else {
    return Status(ErrorCode::Unsupported,
                  what + ": unsupported .npy format version " +
                      std::to_string(major));
  }
  if (headerLen > limits.maxNpyHeader)
    return invalidArgument(what + ": .npy header too large (" +
                           std::to_string(headerLen) + " bytes, limit " +
                           std::to_string(limits.maxNpyHeader) + ")");
  if (headerLen > fileSize - dataOffset)
    return invalidArgument(what + ": truncated .npy header (" +
                           std::to_string(headerLen) + " bytes declared, " +
                           std::to_string(fileSize - dataOffset) +
                           " present)");
  dataOffset += headerLen;
  return Status::success();
}

Status interpret(const std::string &what, const std::string &dict,
                 int64_t dataBytesPresent, const ReadLimits &limits,
                 DType &type, std::vector<int64_t> &shape, int64_t &numel,
                 int64_t &bytes) {
  NpyHeader h;
  DictParser dp(dict, what);
  MINFER_RETURN_IF_ERROR(dp.parse(h));
  MINFER_RETURN_IF_ERROR(typeFromDescr(h.descr, what, type));
  if (h.fortran)
    return Status(ErrorCode::Unsupported,
                  what + ": Fortran-order arrays are not supported "
                         "(save with np.ascontiguousarray)");
  if (static_cast<int64_t>(h.shape.size()) > limits.maxRank)
    return invalidArgument(what + ": rank " + std::to_string(h.shape.size()) +
                           " exceeds the limit " +
                           std::to_string(limits.maxRank));
  MINFER_RETURN_IF_ERROR(
      detail::checkedNumel(h.shape, dtypeBytes(type), what, numel, bytes));
  if (bytes > dataBytesPresent)
    return invalidArgument(what + ": truncated data (shape " +
                           detail::shapeStr(h.shape) + " needs " +
                           std::to_string(bytes) + " bytes, file has " +
                           std::to_string(dataBytesPresent) + ")");
  if (bytes < dataBytesPresent)
    return invalidArgument(what + ": " +
                           std::to_string(dataBytesPresent - bytes) +
                           " trailing bytes after the data of shape " +
                           detail::shapeStr(h.shape));
  shape = std::move(h.shape);
  return Status::success();
}

} // namespace

Status parseNpy(const std::string &bytes, const std::string &what, Tensor &out,
                const ReadLimits &limits) {
  out = Tensor();
  int64_t size = static_cast<int64_t>(bytes.size());
  int64_t headerLen = 0, dataOffset = 0;
  MINFER_RETURN_IF_ERROR(
      parseHeader(what, size, bytes.substr(0, 12), limits, headerLen,
                  dataOffset));
  std::string dict = bytes.substr(dataOffset - headerLen, headerLen);
  DType type;
  std::vector<int64_t> shape;
  int64_t numel = 0, nbytes = 0;
  MINFER_RETURN_IF_ERROR(interpret(what, dict, size - dataOffset, limits, type,
                                   shape, numel, nbytes));
  MINFER_RETURN_IF_ERROR(detail::decode(
      reinterpret_cast<const uint8_t *>(bytes.data()) + dataOffset, numel,
      type, what, out.data));
  out.shape = std::move(shape);
  out.fileType = type;
  return Status::success();
}

Status readNpy(const std::string &path, Tensor &out, const ReadLimits &limits) {
  out = Tensor();
  detail::InFile f;
  MINFER_RETURN_IF_ERROR(f.open(path));
  std::string prefix(static_cast<size_t>(f.size() < 12 ? f.size() : 12), '\0');
  MINFER_RETURN_IF_ERROR(f.readAt(0, prefix.size(), &prefix[0]));
  int64_t headerLen = 0, dataOffset = 0;
  MINFER_RETURN_IF_ERROR(
      parseHeader(path, f.size(), prefix, limits, headerLen, dataOffset));
  std::string dict(static_cast<size_t>(headerLen), '\0');
  MINFER_RETURN_IF_ERROR(f.readAt(dataOffset - headerLen, headerLen, &dict[0]));
  DType type;
  std::vector<int64_t> shape;
  int64_t numel = 0, nbytes = 0;
  MINFER_RETURN_IF_ERROR(interpret(path, dict, f.size() - dataOffset, limits,
                                   type, shape, numel, nbytes));
  std::vector<uint8_t> raw(static_cast<size_t>(nbytes));
  MINFER_RETURN_IF_ERROR(f.readAt(dataOffset, nbytes, raw.data()));
  MINFER_RETURN_IF_ERROR(detail::decode(raw.data(), numel, type, path, out.data));
  out.shape = std::move(shape);
  out.fileType = type;
  return Status::success();
}

Status writeNpy(const std::string &path, const Tensor &t, DType type) {
  if (static_cast<int64_t>(t.data.size()) != t.numel())
    return invalidArgument(path + ": tensor data has " +
                           std::to_string(t.data.size()) +
                           " elements, shape " + t.shapeStr() + " needs " +
                           std::to_string(t.numel()));
  std::string dict = "{'descr': '";
  dict += type == DType::F32 ? "<f4" : type == DType::F16 ? "<f2" : "<u2";
  dict += "', 'fortran_order': False, 'shape': (";
  for (size_t i = 0; i < t.shape.size(); ++i)
    dict += std::to_string(t.shape[i]) + (t.shape.size() == 1 || i + 1 < t.shape.size() ? ", " : "");
  dict += "), }";
  // Pad with spaces so that data starts at a multiple of 64, end with '\n'.
  size_t total = 10 + dict.size() + 1;
  dict.append((64 - total % 64) % 64, ' ');
  dict += '\n';
  std::string bytes("\x93NUMPY\x01\x00", 8);
  bytes += static_cast<char>(dict.size() & 0xFF);
  bytes += static_cast<char>((dict.size() >> 8) & 0xFF);
  bytes += dict;
  detail::encode(t.data, type, bytes);
  return detail::writeFile(path, bytes);
}

} // namespace minfer::search
