//===- Json.cpp - a small bounded JSON reader -----------------------------===//
//
// Recursive descent over RFC 8259 with a depth limit; numbers are parsed with
// strtod on a bounded copy, \u escapes (surrogate pairs included) are encoded
// as UTF-8. Duplicate object keys are rejected (safetensors forbids them).
//
//===----------------------------------------------------------------------===//
#include "Json.h"
#include <cerrno>
#include <cmath>
#include <cstdlib>

namespace minfer::search::json {

const Value *Value::find(const std::string &key) const {
  if (type != Type::Object)
    return nullptr;
  for (const auto &kv : object)
    if (kv.first == key)
      return &kv.second;
  return nullptr;
}

namespace {

class Parser {
public:
  explicit Parser(const std::string &t) : text(t) {}

  Status parseDocument(Value &out) {
    skipWs();
    MINFER_RETURN_IF_ERROR(parseValue(out, 0));
    skipWs();
    if (pos != text.size())
      return error("unexpected trailing characters");
    return Status::success();
  }

private:
  const std::string &text;
  size_t pos = 0;

  Status error(const std::string &what) const {
    return invalidArgument("malformed JSON at byte " + std::to_string(pos) +
                           ": " + what);
  }
  bool atEnd() const { return pos >= text.size(); }
  char peek() const { return atEnd() ? '\0' : text[pos]; }
  void skipWs() {
    while (!atEnd() && (text[pos] == ' ' || text[pos] == '\t' ||
                        text[pos] == '\n' || text[pos] == '\r'))
      ++pos;
  }
  bool consumeWord(const char *w) {
    size_t n = 0;
    while (w[n])
      ++n;
    if (text.compare(pos, n, w) != 0)
      return false;
    pos += n;
    return true;
  }

  Status parseValue(Value &out, int depth) {
    if (depth > kMaxDepth)
      return error("nesting deeper than " + std::to_string(kMaxDepth));
    if (atEnd())
      return error("unexpected end of input");
    char c = peek();
    if (c == '{')
      return parseObject(out, depth);
    if (c == '[')
      return parseArray(out, depth);
    if (c == '"') {
      out.type = Type::String;
      return parseString(out.string);
    }
    if (c == 't' || c == 'f' || c == 'n') {
      if (consumeWord("true")) {
        out.type = Type::Bool;
        out.boolean = true;
        return Status::success();
      }
      if (consumeWord("false")) {
        out.type = Type::Bool;
        out.boolean = false;
        return Status::success();
      }
      if (consumeWord("null")) {
        out.type = Type::Null;
        return Status::success();
      }
      return error("invalid literal");
    }
    if (c == '-' || (c >= '0' && c <= '9'))
      return parseNumber(out);
    return error(std::string("unexpected character '") + c + "'");
  }

  Status parseObject(Value &out, int depth) {
    out.type = Type::Object;
    ++pos; // '{'
    skipWs();
    if (peek() == '}') {
      ++pos;
      return Status::success();
    }
    while (true) {
      skipWs();
      if (peek() != '"')
        return error("expected a string key");
      std::string key;
      MINFER_RETURN_IF_ERROR(parseString(key));
      if (out.find(key))
        return error("duplicate key \"" + key + "\"");
      skipWs();
      if (peek() != ':')
        return error("expected ':'");
      ++pos;
      skipWs();
      out.object.emplace_back(std::move(key), Value());
      MINFER_RETURN_IF_ERROR(parseValue(out.object.back().second, depth + 1));
      skipWs();
      if (peek() == ',') {
        ++pos;
        continue;
      }
      if (peek() == '}') {
        ++pos;
        return Status::success();
      }
      return error("expected ',' or '}'");
    }
  }

  Status parseArray(Value &out, int depth) {
    out.type = Type::Array;
    ++pos; // '['
    skipWs();
    if (peek() == ']') {
      ++pos;
      return Status::success();
    }
    while (true) {
      skipWs();
      out.array.emplace_back();
      MINFER_RETURN_IF_ERROR(parseValue(out.array.back(), depth + 1));
      skipWs();
      if (peek() == ',') {
        ++pos;
        continue;
      }
      if (peek() == ']') {
        ++pos;
        return Status::success();
      }
      return error("expected ',' or ']'");
    }
  }

  static void appendUtf8(std::string &s, uint32_t cp) {
    if (cp < 0x80) {
      s += static_cast<char>(cp);
    } else if (cp < 0x800) {
      s += static_cast<char>(0xC0 | (cp >> 6));
      s += static_cast<char>(0x80 | (cp & 0x3F));
    } else if (cp < 0x10000) {
      s += static_cast<char>(0xE0 | (cp >> 12));
      s += static_cast<char>(0x80 | ((cp >> 6) & 0x3F));
      s += static_cast<char>(0x80 | (cp & 0x3F));
    } else {
      s += static_cast<char>(0xF0 | (cp >> 18));
      s += static_cast<char>(0x80 | ((cp >> 12) & 0x3F));
      s += static_cast<char>(0x80 | ((cp >> 6) & 0x3F));
      s += static_cast<char>(0x80 | (cp & 0x3F));
    }
  }

  Status parseHex4(uint32_t &cp) {
    if (pos + 4 > text.size())
      return error("truncated \\u escape");
    cp = 0;
    for (int i = 0; i < 4; ++i) {
      char c = text[pos++];
      cp <<= 4;
      if (c >= '0' && c <= '9')
        cp |= c - '0';
      else if (c >= 'a' && c <= 'f')
        cp |= c - 'a' + 10;
      else if (c >= 'A' && c <= 'F')
        cp |= c - 'A' + 10;
      else
        return error("bad hex digit in \\u escape");
    }
    return Status::success();
  }

  Status parseString(std::string &out) {
    ++pos; // '"'
    out.clear();
    while (true) {
      if (atEnd())
        return error("unterminated string");
      char c = text[pos++];
      if (c == '"')
        return Status::success();
      if (static_cast<unsigned char>(c) < 0x20)
        return error("control character in string");
      if (c != '\\') {
        out += c;
        continue;
      }
      if (atEnd())
        return error("unterminated escape");
      char e = text[pos++];
      switch (e) {
      case '"': out += '"'; break;
      case '\\': out += '\\'; break;
      case '/': out += '/'; break;
      case 'b': out += '\b'; break;
      case 'f': out += '\f'; break;
      case 'n': out += '\n'; break;
      case 'r': out += '\r'; break;
      case 't': out += '\t'; break;
      case 'u': {
        uint32_t cp = 0;
        MINFER_RETURN_IF_ERROR(parseHex4(cp));
        if (cp >= 0xD800 && cp < 0xDC00) {
          if (!consumeWord("\\u"))
            return error("unpaired surrogate");
          uint32_t lo = 0;
          MINFER_RETURN_IF_ERROR(parseHex4(lo));
          if (lo < 0xDC00 || lo >= 0xE000)
            return error("unpaired surrogate");
          cp = 0x10000 + ((cp - 0xD800) << 10) + (lo - 0xDC00);
        } else if (cp >= 0xDC00 && cp < 0xE000) {
          return error("unpaired surrogate");
        }
        appendUtf8(out, cp);
        break;
      }
      default:
        return error(std::string("bad escape '\\") + e + "'");
      }
    }
  }

  Status parseNumber(Value &out) {
    size_t start = pos;
    bool integral = true;
    if (peek() == '-')
      ++pos;
    if (atEnd() || !(peek() >= '0' && peek() <= '9'))
      return error("bad number");
    if (peek() == '0') {
      ++pos;
    } else {
      while (!atEnd() && peek() >= '0' && peek() <= '9')
        ++pos;
    }
    if (peek() == '.') {
      integral = false;
      ++pos;
      if (atEnd() || !(peek() >= '0' && peek() <= '9'))
        return error("bad number fraction");
      while (!atEnd() && peek() >= '0' && peek() <= '9')
        ++pos;
    }
    if (peek() == 'e' || peek() == 'E') {
      integral = false;
      ++pos;
      if (peek() == '+' || peek() == '-')
        ++pos;
      if (atEnd() || !(peek() >= '0' && peek() <= '9'))
        return error("bad number exponent");
      while (!atEnd() && peek() >= '0' && peek() <= '9')
        ++pos;
    }
    if (pos - start > 64)
      return error("number too long");
    std::string lit = text.substr(start, pos - start);
    out.type = Type::Number;
    out.number = std::strtod(lit.c_str(), nullptr);
    out.isInteger = false;
    if (integral) {
      errno = 0;
      char *end = nullptr;
      long long v = std::strtoll(lit.c_str(), &end, 10);
      if (errno == 0 && end && *end == '\0') {
        out.isInteger = true;
        out.integer = v;
      }
    }
    return Status::success();
  }
};

} // namespace

Status parse(const std::string &text, Value &out) {
  out = Value();
  Parser p(text);
  return p.parseDocument(out);
}

std::string quote(const std::string &s) {
  std::string out = "\"";
  for (unsigned char c : s) {
    switch (c) {
    case '"': out += "\\\""; break;
    case '\\': out += "\\\\"; break;
    case '\n': out += "\\n"; break;
    case '\r': out += "\\r"; break;
    case '\t': out += "\\t"; break;
    default:
      if (c < 0x20) {
        static const char *hex = "0123456789abcdef";
        out += "\\u00";
        out += hex[c >> 4];
        out += hex[c & 15];
      } else {
        out += static_cast<char>(c);
      }
    }
  }
  out += '"';
  return out;
}

} // namespace minfer::search::json
