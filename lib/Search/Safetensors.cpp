//===- Safetensors.cpp - bounded .safetensors reader and writer -----------===//
//
// Layout: u64 little-endian N, N bytes of JSON header, data buffer. open()
// caps N (ReadLimits::maxSafetensorsHeader and the file size), parses the
// JSON with lib/Search/Json.h and checks every entry: dtype a string, shape
// non-negative integers, data_offsets [begin, end] inside the buffer with
// end - begin == numel * element size, and no two tensors sharing bytes (as
// the safetensors library requires; aliased q/k/v would go unnoticed).
// Tensors of other dtypes (I64 ids, ...) may sit in the file; only read() of
// one of them fails. A failed open() leaves no entries behind.
//
//===----------------------------------------------------------------------===//
#include "Json.h"
#include "TensorIODetail.h"
#include <algorithm>

namespace minfer::search {

namespace {

/// Element size of a safetensors dtype, 0 when unknown.
int64_t elemBytes(const std::string &dt) {
  if (dt == "F64" || dt == "I64" || dt == "U64")
    return 8;
  if (dt == "F32" || dt == "I32" || dt == "U32")
    return 4;
  if (dt == "F16" || dt == "BF16" || dt == "I16" || dt == "U16")
    return 2;
  if (dt == "BOOL" || dt == "U8" || dt == "I8" || dt == "F8_E4M3" ||
      dt == "F8_E5M2")
    return 1;
  return 0;
}

Status headerError(const std::string &path, const std::string &m) {
  return invalidArgument(path + ": malformed safetensors header: " + m);
}

Status parseEntry(const std::string &path, const std::string &name,
                  const json::Value &v, int64_t dataSize,
                  const ReadLimits &limits, SafetensorsEntry &e) {
  std::string where = "tensor '" + name + "'";
  if (v.type != json::Type::Object)
    return headerError(path, where + " is not an object");
  const json::Value *dt = v.find("dtype");
  const json::Value *sh = v.find("shape");
  const json::Value *off = v.find("data_offsets");
  if (!dt || dt->type != json::Type::String)
    return headerError(path, where + " lacks a string 'dtype'");
  if (!sh || sh->type != json::Type::Array)
    return headerError(path, where + " lacks an array 'shape'");
  if (!off || off->type != json::Type::Array || off->array.size() != 2)
    return headerError(path, where + " lacks 'data_offsets' [begin, end]");
  e.name = name;
  e.dtype = dt->string;
  e.supported = e.dtype == "F32" || e.dtype == "F16" || e.dtype == "BF16";
  e.type = e.dtype == "F16" ? DType::F16
           : e.dtype == "BF16" ? DType::BF16 : DType::F32;
  if (static_cast<int64_t>(sh->array.size()) > limits.maxRank)
    return headerError(path, where + " has rank " +
                                 std::to_string(sh->array.size()) +
                                 " above the limit " +
                                 std::to_string(limits.maxRank));
  for (const json::Value &d : sh->array) {
    if (d.type != json::Type::Number || !d.isInteger || d.integer < 0)
      return headerError(path,
                         where + " shape entries must be non-negative integers");
    e.shape.push_back(d.integer);
  }
  for (const json::Value &o : off->array)
    if (o.type != json::Type::Number || !o.isInteger || o.integer < 0)
      return headerError(path, where +
                                   " data_offsets must be non-negative integers");
  e.begin = off->array[0].integer;
  e.end = off->array[1].integer;
  if (e.begin > e.end || e.end > dataSize)
    return invalidArgument(path + ": truncated data: " + where +
                           " data_offsets [" + std::to_string(e.begin) + ", " +
                           std::to_string(e.end) + "] exceed the " +
                           std::to_string(dataSize) + "-byte data buffer");
  // The element count must be representable even when the dtype is unknown
  // (its size then cannot be checked against the offsets).
  int64_t eb = elemBytes(e.dtype);
  int64_t numel = 0, bytes = 0;
  MINFER_RETURN_IF_ERROR(detail::checkedNumel(
      e.shape, eb > 0 ? eb : 1, path + ": " + where, numel, bytes));
  if (eb > 0) {
    if (bytes != e.end - e.begin)
      return headerError(path, where + " of shape " +
                                   detail::shapeStr(e.shape) + " and dtype " +
                                   e.dtype + " needs " + std::to_string(bytes) +
                                   " bytes, data_offsets span " +
                                   std::to_string(e.end - e.begin));
  }
  return Status::success();
}

/// Fails when two tensors' non-empty byte ranges overlap.
Status checkDisjoint(const std::string &path,
                     const std::vector<SafetensorsEntry> &entries) {
  std::vector<const SafetensorsEntry *> byBegin;
  for (const SafetensorsEntry &e : entries)
    if (e.end > e.begin)
      byBegin.push_back(&e);
  std::sort(byBegin.begin(), byBegin.end(),
            [](const SafetensorsEntry *a, const SafetensorsEntry *b) {
              return a->begin != b->begin ? a->begin < b->begin
                                          : a->end < b->end;
            });
  // Sorted by begin, the ranges are disjoint iff each neighbour pair is.
  for (size_t i = 1; i < byBegin.size(); ++i) {
    const SafetensorsEntry &a = *byBegin[i - 1], &b = *byBegin[i];
    if (b.begin < a.end)
      return headerError(path, "tensors '" + a.name + "' (data_offsets [" +
                                   std::to_string(a.begin) + ", " +
                                   std::to_string(a.end) + "]) and '" +
                                   b.name + "' (data_offsets [" +
                                   std::to_string(b.begin) + ", " +
                                   std::to_string(b.end) + "]) overlap");
  }
  return Status::success();
}

/// open() without touching the object: it keeps its state only on success.
Status openFile(const std::string &path, const ReadLimits &limits,
                int64_t &dataStart, int64_t &fileSize,
                std::vector<SafetensorsEntry> &entries) {
  detail::InFile f;
  MINFER_RETURN_IF_ERROR(f.open(path));
  fileSize = f.size();
  if (fileSize < 8)
    return invalidArgument(path + ": truncated safetensors file (" +
                           std::to_string(fileSize) + " bytes)");
  uint8_t lenBytes[8];
  MINFER_RETURN_IF_ERROR(f.readAt(0, 8, lenBytes));
  uint64_t n = 0;
  for (int i = 7; i >= 0; --i)
    n = (n << 8) | lenBytes[i];
  if (n > static_cast<uint64_t>(limits.maxSafetensorsHeader))
    return invalidArgument(path + ": safetensors header too large (" +
                           std::to_string(n) + " bytes, limit " +
                           std::to_string(limits.maxSafetensorsHeader) + ")");
  if (static_cast<int64_t>(n) > fileSize - 8)
    return invalidArgument(path + ": truncated safetensors header (" +
                           std::to_string(n) + " bytes declared, " +
                           std::to_string(fileSize - 8) + " present)");
  std::string text(static_cast<size_t>(n), '\0');
  MINFER_RETURN_IF_ERROR(f.readAt(8, static_cast<int64_t>(n), &text[0]));
  dataStart = 8 + static_cast<int64_t>(n);
  json::Value root;
  Status st = json::parse(text, root);
  if (!st.ok())
    return headerError(path, st.message());
  if (root.type != json::Type::Object)
    return headerError(path, "the header is not a JSON object");
  int64_t dataSize = fileSize - dataStart;
  for (const auto &kv : root.object) {
    if (kv.first == "__metadata__")
      continue;
    SafetensorsEntry e;
    MINFER_RETURN_IF_ERROR(
        parseEntry(path, kv.first, kv.second, dataSize, limits, e));
    entries.push_back(std::move(e));
  }
  return checkDisjoint(path, entries);
}

} // namespace

Status SafetensorsFile::open(const std::string &path,
                             const ReadLimits &limits) {
  path_ = path;
  entries_.clear();
  dataStart_ = fileSize_ = 0;
  std::vector<SafetensorsEntry> entries;
  int64_t dataStart = 0, fileSize = 0;
  MINFER_RETURN_IF_ERROR(openFile(path, limits, dataStart, fileSize, entries));
  entries_ = std::move(entries);
  dataStart_ = dataStart;
  fileSize_ = fileSize;
  return Status::success();
}

const SafetensorsEntry *SafetensorsFile::find(const std::string &name) const {
  for (const SafetensorsEntry &e : entries_)
    if (e.name == name)
      return &e;
  return nullptr;
}

Status SafetensorsFile::read(const std::string &name, Tensor &out) const {
  out = Tensor();
  const SafetensorsEntry *e = find(name);
  if (!e)
    return invalidArgument(path_ + ": no tensor named '" + name + "'");
  if (!e->supported)
    return Status(ErrorCode::Unsupported,
                  path_ + ": tensor '" + name + "' has unsupported dtype '" +
                      e->dtype + "' (supported: F32, F16, BF16)");
  detail::InFile f;
  MINFER_RETURN_IF_ERROR(f.open(path_));
  if (f.size() != fileSize_)
    return invalidArgument(path_ + ": the file changed size since open()");
  int64_t bytes = e->end - e->begin;
  std::vector<uint8_t> raw(static_cast<size_t>(bytes));
  MINFER_RETURN_IF_ERROR(f.readAt(dataStart_ + e->begin, bytes, raw.data()));
  int64_t numel = bytes / dtypeBytes(e->type);
  MINFER_RETURN_IF_ERROR(detail::decode(
      raw.data(), numel, e->type, path_ + ": tensor '" + name + "'", out.data));
  out.shape = e->shape;
  out.fileType = e->type;
  return Status::success();
}

Status writeSafetensors(const std::string &path,
                        const std::vector<std::pair<std::string, Tensor>> &ts,
                        DType type) {
  std::string header = "{";
  std::string data;
  for (size_t i = 0; i < ts.size(); ++i) {
    const Tensor &t = ts[i].second;
    if (static_cast<int64_t>(t.data.size()) != t.numel())
      return invalidArgument(path + ": tensor '" + ts[i].first +
                             "' data does not match its shape");
    int64_t begin = static_cast<int64_t>(data.size());
    detail::encode(t.data, type, data);
    header += (i ? "," : "") + json::quote(ts[i].first) + ":{\"dtype\":\"" +
              dtypeName(type) + "\",\"shape\":[";
    for (size_t d = 0; d < t.shape.size(); ++d)
      header += (d ? "," : "") + std::to_string(t.shape[d]);
    header += "],\"data_offsets\":[" + std::to_string(begin) + "," +
              std::to_string(data.size()) + "]}";
  }
  header += "}";
  header.append((8 - header.size() % 8) % 8, ' ');
  std::string bytes;
  uint64_t n = header.size();
  for (int i = 0; i < 8; ++i)
    bytes += static_cast<char>((n >> (8 * i)) & 0xFF);
  bytes += header;
  bytes += data;
  return detail::writeFile(path, bytes);
}

} // namespace minfer::search
