//===- Json.h - a small bounded JSON reader for tensor headers --*- C++ -*-===//
//
// Private to lib/Search: parses the JSON header of a .safetensors file (and
// nothing larger) without exceptions. Depth and size are bounded by the
// caller's buffer and kMaxDepth; every error names the byte offset.
//
//===----------------------------------------------------------------------===//
#ifndef MINFER_LIB_SEARCH_JSON_H
#define MINFER_LIB_SEARCH_JSON_H

#include "minfer/Runtime/Status.h"
#include <cstdint>
#include <memory>
#include <string>
#include <utility>
#include <vector>

namespace minfer::search::json {

enum class Type { Null, Bool, Number, String, Array, Object };

struct Value {
  Type type = Type::Null;
  bool boolean = false;
  double number = 0;
  bool isInteger = false; ///< the text had no fraction/exponent
  int64_t integer = 0;    ///< valid when isInteger (and in int64 range)
  std::string string;
  std::vector<Value> array;
  std::vector<std::pair<std::string, Value>> object; ///< in file order

  /// Member `key` of an object, or nullptr.
  const Value *find(const std::string &key) const;
};

inline constexpr int kMaxDepth = 64;

/// Parses exactly one JSON value spanning `text` (trailing whitespace only).
Status parse(const std::string &text, Value &out);

/// `s` quoted and escaped as a JSON string.
std::string quote(const std::string &s);

} // namespace minfer::search::json

#endif // MINFER_LIB_SEARCH_JSON_H
