//===- Config.cpp - load and write MInference's per-head config -----------===//
//
// llvm::json does the parsing, but two of its behaviours need guarding
// against because a config must never crash the loader or silently change:
//   - it recurses once per nesting level, so "[[[[..." a few 100k deep
//     overflows the stack: a pre-scan rejects nesting deeper than kMaxDepth;
//   - a duplicate object key silently keeps the last value: the same pre-scan
//     records duplicate head keys so they are reported, not merged.
//
//===----------------------------------------------------------------------===//
#include "minfer/Runtime/Config.h"
#include "llvm/Support/JSON.h"
#include "llvm/Support/MemoryBuffer.h"
#include "llvm/Support/raw_ostream.h"
#include <algorithm>
#include <cmath>
#include <map>
#include <set>

using namespace minfer;
namespace json = llvm::json;

namespace {

constexpr size_t kMaxDepth = 64; // a valid config nests 3 deep

Status configError(std::string msg) {
  return Status(ErrorCode::ConfigError, std::move(msg));
}

std::string layerHead(int64_t layer, int64_t head) {
  return "layer " + std::to_string(layer) + ", head " + std::to_string(head) +
         ": ";
}

const char *kindName(const json::Value &v) {
  switch (v.kind()) {
  case json::Value::Null: return "null";
  case json::Value::Boolean: return "a boolean";
  case json::Value::Number: return "a number";
  case json::Value::String: return "a string";
  case json::Value::Array: return "an array";
  case json::Value::Object: return "an object";
  }
  return "?";
}

/// A value as JSON text for messages, cut short if long.
std::string brief(const json::Value &v) {
  std::string s;
  llvm::raw_string_ostream os(s);
  os << v;
  os.flush();
  if (s.size() > 40)
    s = s.substr(0, 37) + "...";
  return s;
}

/// What the structural pre-scan found (only meaningful for valid JSON).
struct Prescan {
  bool tooDeep = false;
  std::map<int64_t, std::string> duplicateKey; ///< layer -> first duplicate
  std::map<int64_t, std::string> escapedKey;   ///< layer -> key with '\'
};

/// Walks brackets and strings without building anything. Keys of objects that
/// are direct elements of the top-level array are the head keys of a layer.
Prescan prescan(const std::string &t) {
  struct Frame {
    char kind;
    bool expectKey;
    int64_t index; ///< element index (commas seen)
    std::set<std::string> keys;
  };
  Prescan res;
  std::vector<Frame> st;
  for (size_t i = 0; i < t.size(); ++i) {
    char c = t[i];
    if (c == '"') {
      size_t j = i + 1;
      bool escaped = false;
      while (j < t.size() && t[j] != '"') {
        if (t[j] == '\\') {
          escaped = true;
          ++j;
        }
        ++j;
      }
      if (j >= t.size())
        break; // unterminated: the parser reports it
      if (!st.empty() && st.back().kind == '{' && st.back().expectKey) {
        st.back().expectKey = false;
        if (st.size() == 2 && st[0].kind == '[') {
          int64_t layer = st[0].index;
          std::string key = t.substr(i + 1, j - i - 1);
          if (escaped)
            res.escapedKey.emplace(layer, key);
          else if (!st.back().keys.insert(key).second)
            res.duplicateKey.emplace(layer, key);
        }
      }
      i = j;
      continue;
    }
    if (c == '[' || c == '{') {
      st.push_back({c, c == '{', 0, {}});
      if (st.size() > kMaxDepth) {
        res.tooDeep = true;
        return res;
      }
    } else if (c == ']' || c == '}') {
      if (st.empty())
        break;
      st.pop_back();
    } else if (c == ',' && !st.empty()) {
      ++st.back().index;
      st.back().expectKey = st.back().kind == '{';
    }
  }
  return res;
}

/// "123" -> 123; no sign, no leading zero, no spaces; -1 if not such a key,
/// -2 if it is one but too large to be a head index.
int64_t parseHeadKey(llvm::StringRef key) {
  if (key.empty() || !std::all_of(key.begin(), key.end(),
                                  [](char c) { return c >= '0' && c <= '9'; }))
    return -1;
  if (key.size() > 1 && key[0] == '0')
    return -1;
  if (key.size() > 9)
    return -2;
  int64_t v = 0;
  for (char c : key)
    v = v * 10 + (c - '0');
  return v;
}

/// An integer >= minimum, named `what` in the error.
Status readBudget(const json::Value &v, const char *what, int64_t minimum,
                  int64_t &out) {
  std::optional<int64_t> i = v.getAsInteger();
  if (!i)
    return configError(std::string(what) + " must be an integer, got " +
                       brief(v));
  if (*i < minimum)
    return configError(std::string(what) + " must be " +
                       (minimum > 0 ? "positive" : "non-negative") + ", got " +
                       std::to_string(*i));
  out = *i;
  return Status::success();
}

Status readNumber(const json::Value &v, const char *what) {
  if (!v.getAsNumber())
    return configError(std::string(what) + " must be a number, got " +
                       brief(v));
  return Status::success();
}

/// One [pattern, value1, value2, score] entry (errors without the prefix).
Status parseEntry(const json::Value &v, HeadPattern &pattern, double &score) {
  const json::Array *a = v.getAsArray();
  if (!a || a->size() != 4)
    return configError(
        "expected [pattern, vertical_or_topk, slash, score], got " +
        (a ? "an array of " + std::to_string(a->size()) + " elements"
           : std::string(kindName(v))));
  std::optional<llvm::StringRef> name = (*a)[0].getAsString();
  if (!name)
    return configError("pattern name must be a string, got " + brief((*a)[0]));
  const json::Value &v1 = (*a)[1], &v2 = (*a)[2];
  if (*name == "vertical_and_slash") {
    int64_t vert = 0, slash = 0;
    MINFER_RETURN_IF_ERROR(readBudget(v1, "vertical budget", 1, vert));
    MINFER_RETURN_IF_ERROR(readBudget(v2, "slash budget", 1, slash));
    pattern = HeadPattern::verticalSlash(vert, slash);
  } else if (*name == "stream_llm") {
    int64_t sink = 0, local = 0;
    MINFER_RETURN_IF_ERROR(readBudget(v1, "sink (init tokens)", 0, sink));
    MINFER_RETURN_IF_ERROR(readBudget(v2, "local window", 1, local));
    pattern = HeadPattern::aShape(sink, local);
  } else if (*name == "block_sparse") {
    int64_t topK = 0;
    MINFER_RETURN_IF_ERROR(readBudget(v1, "block_sparse top_k", 1, topK));
    MINFER_RETURN_IF_ERROR(readNumber(v2, "second value"));
    pattern = HeadPattern::blockSparse(topK);
  } else if (*name == "dense") {
    MINFER_RETURN_IF_ERROR(readNumber(v1, "first value"));
    MINFER_RETURN_IF_ERROR(readNumber(v2, "second value"));
    pattern = HeadPattern::dense();
  } else {
    return configError("unknown pattern '" + name->str() + "' (valid: " +
                       configPatternNames() + ")");
  }
  std::optional<double> s = (*a)[3].getAsNumber();
  if (!s || !std::isfinite(*s))
    return configError("score must be a finite number, got " + brief((*a)[3]));
  score = *s;
  return Status::success();
}

/// One layer object; `expectedHeads` < 0 means "any" (the first layer).
Status parseLayer(const json::Value &v, int64_t layer, const Prescan &pre,
                  int64_t expectedHeads, LayerPatterns &patterns,
                  std::vector<double> &scores) {
  const std::string at = "layer " + std::to_string(layer) + ": ";
  const json::Object *obj = v.getAsObject();
  if (!obj)
    return configError(at + "expected an object mapping head index to "
                            "[pattern, vertical_or_topk, slash, score], got " +
                       kindName(v));
  if (auto it = pre.escapedKey.find(layer); it != pre.escapedKey.end())
    return configError(at + "head key \"" + it->second +
                       "\" is not an integer (write head indices as plain "
                       "digits)");
  if (auto it = pre.duplicateKey.find(layer); it != pre.duplicateKey.end())
    return configError(at + "head " + it->second + " appears more than once");
  const int64_t count = static_cast<int64_t>(obj->size());
  if (count == 0)
    return configError(at + "has no heads");

  // DenseMap order is arbitrary: sort so errors are deterministic.
  std::vector<std::pair<int64_t, const json::Value *>> heads;
  std::vector<std::string> keys;
  for (const auto &kv : *obj)
    keys.push_back(llvm::StringRef(kv.first).str());
  std::sort(keys.begin(), keys.end(), [](const std::string &a,
                                         const std::string &b) {
    return a.size() != b.size() ? a.size() < b.size() : a < b;
  });
  std::vector<bool> present(count, false);
  for (const std::string &key : keys) {
    int64_t h = parseHeadKey(key);
    if (h == -1)
      return configError(at + "head key \"" + key + "\" is not an integer");
    if (h == -2 || h >= count) {
      // `count` unique keys all below `count` are exactly 0..count-1; a key
      // outside means some head below is missing.
      for (const std::string &k2 : keys) {
        int64_t h2 = parseHeadKey(k2);
        if (h2 >= 0 && h2 < count)
          present[h2] = true;
      }
      int64_t missing =
          std::find(present.begin(), present.end(), false) - present.begin();
      return configError(at + "head " + key + " is out of range: the layer "
                         "has " + std::to_string(count) + " heads, so heads "
                         "must be 0.." + std::to_string(count - 1) +
                         " (head " + std::to_string(missing) + " is missing)");
    }
    heads.emplace_back(h, obj->get(key));
  }
  if (expectedHeads >= 0 && count != expectedHeads)
    return configError(at + "has " + std::to_string(count) +
                       " heads but layer 0 has " +
                       std::to_string(expectedHeads));
  patterns.assign(count, HeadPattern());
  scores.assign(count, 0.0);
  for (const auto &[h, value] : heads) {
    Status st = parseEntry(*value, patterns[h], scores[h]);
    if (!st.ok())
      return configError(layerHead(layer, h) + st.message());
  }
  return Status::success();
}

} // namespace

const char *minfer::configPatternNames() {
  return "vertical_and_slash, stream_llm, block_sparse, dense";
}

Status minfer::parseModelConfig(const std::string &jsonText, ModelConfig &out) {
  Prescan pre = prescan(jsonText);
  if (pre.tooDeep)
    return configError("invalid config: JSON nests deeper than " +
                       std::to_string(kMaxDepth) + " levels");
  llvm::Expected<json::Value> root = json::parse(jsonText);
  if (!root)
    return configError("invalid JSON: " + llvm::toString(root.takeError()));
  const json::Array *layers = root->getAsArray();
  if (!layers)
    return configError("config must be a JSON list with one object per "
                       "layer, got " +
                       std::string(kindName(*root)));
  ModelConfig cfg;
  cfg.layers.resize(layers->size());
  cfg.scores.resize(layers->size());
  for (size_t l = 0; l < layers->size(); ++l)
    MINFER_RETURN_IF_ERROR(parseLayer((*layers)[l], l, pre,
                                      l == 0 ? -1 : cfg.numHeads(),
                                      cfg.layers[l], cfg.scores[l]));
  out = std::move(cfg);
  return Status::success();
}

Status minfer::loadModelConfig(const std::string &path, ModelConfig &out) {
  auto buf = llvm::MemoryBuffer::getFile(path, /*IsText=*/true);
  if (!buf)
    return configError("cannot read config file '" + path +
                       "': " + buf.getError().message());
  Status st = parseModelConfig((*buf)->getBuffer().str(), out);
  if (!st.ok())
    return configError(path + ": " + st.message());
  return st;
}

static const char *patternName(PatternKind k) {
  switch (k) {
  case PatternKind::Dense: return "dense";
  case PatternKind::AShape: return "stream_llm";
  case PatternKind::VerticalSlash: return "vertical_and_slash";
  case PatternKind::BlockSparse: return "block_sparse";
  }
  return "dense";
}

std::string minfer::writeModelConfig(const ModelConfig &cfg) {
  std::string s;
  llvm::raw_string_ostream os(s);
  os << "[";
  for (size_t l = 0; l < cfg.layers.size(); ++l) {
    os << (l ? ",\n " : "\n ") << "{";
    for (size_t h = 0; h < cfg.layers[l].size(); ++h) {
      const HeadPattern &p = cfg.layers[l][h];
      int64_t v1 = 0, v2 = 0;
      switch (p.kind) {
      case PatternKind::Dense: break;
      case PatternKind::AShape: v1 = p.sink, v2 = p.local; break;
      case PatternKind::VerticalSlash: v1 = p.vertical, v2 = p.slash; break;
      // MInference ignores the second value of block_sparse; repeat top_k.
      case PatternKind::BlockSparse: v1 = v2 = p.topK; break;
      }
      double score = 0;
      if (l < cfg.scores.size() && h < cfg.scores[l].size())
        score = cfg.scores[l][h];
      // llvm::json prints doubles with max_digits10 digits: exact round trip.
      os << (h ? ", " : "") << '"' << h << "\": [\"" << patternName(p.kind)
         << "\", " << v1 << ", " << v2 << ", " << json::Value(score) << "]";
    }
    os << "}";
  }
  os << (cfg.layers.empty() ? "]\n" : "\n]\n");
  os.flush();
  return s;
}

Status minfer::checkModelConfig(const ModelConfig &cfg) {
  if (cfg.scores.size() != cfg.layers.size())
    return configError("scores has " + std::to_string(cfg.scores.size()) +
                       " layers, patterns " +
                       std::to_string(cfg.layers.size()));
  for (size_t l = 0; l < cfg.layers.size(); ++l) {
    const std::string at = "layer " + std::to_string(l) + ": ";
    if (cfg.layers[l].empty())
      return configError(at + "has no heads");
    if (cfg.layers[l].size() != cfg.layers[0].size())
      return configError(at + "has " + std::to_string(cfg.layers[l].size()) +
                         " heads but layer 0 has " +
                         std::to_string(cfg.layers[0].size()));
    if (cfg.scores[l].size() != cfg.layers[l].size())
      return configError(at + "has " + std::to_string(cfg.scores[l].size()) +
                         " scores for " +
                         std::to_string(cfg.layers[l].size()) + " heads");
    for (size_t h = 0; h < cfg.layers[l].size(); ++h) {
      const HeadPattern &p = cfg.layers[l][h];
      Status st = p.validate();
      if (!st.ok())
        return configError(layerHead(l, h) + st.message());
      if (p.kind == PatternKind::VerticalSlash && p.lastQ != 64)
        return configError(layerHead(l, h) + "last_q " +
                           std::to_string(p.lastQ) +
                           " cannot be stored (the format implies 64)");
      if (!std::isfinite(cfg.scores[l][h]))
        return configError(layerHead(l, h) + "score is not finite");
    }
  }
  return Status::success();
}

Status minfer::saveModelConfig(const ModelConfig &cfg,
                               const std::string &path) {
  MINFER_RETURN_IF_ERROR(checkModelConfig(cfg));
  std::error_code ec;
  llvm::raw_fd_ostream os(path, ec);
  if (ec)
    return configError("cannot write config file '" + path +
                       "': " + ec.message());
  os << writeModelConfig(cfg);
  os.close();
  if (os.has_error()) {
    std::string msg = os.error().message();
    os.clear_error();
    return configError("cannot write config file '" + path + "': " + msg);
  }
  return Status::success();
}
