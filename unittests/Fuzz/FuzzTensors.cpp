//===- FuzzTensors.cpp - minfer-fuzz-tensors: .npy / .safetensors readers -===//
//
// minfer-search reads captured q/k/v activations from files users produce
// with numpy, torch or safetensors, so the readers (TensorIO.h) must turn
// anything into a Status. Seeds are built in memory by the small writers
// below (and by the repo's writeNpy / writeSafetensors): .npy with fp32,
// fp16 and bf16 ('<u2', '|V2', '<V2') data behind v1, v2 and v3 headers,
// rank 4 and rank 3 / 5 / zero-extent shapes (the search must reject those),
// and .safetensors holding layers.<i>.q/k/v in several dtypes, with
// metadata and foreign (I64, F64) tensors. Mutations are byte flips (mostly
// in the headers), header-length fields set to zero / huge / "negative" /
// off by one, truncation at every structural boundary, version bytes, shape
// entries 0 / -1 / 2^62 / 2^63 / products that overflow, reshapes to other
// ranks, dtypes swapped ('<f8', '|b1', '>f4', F64, I32, ...), fortran_order
// True, npy dict keys dropped / duplicated / garbled, safetensors offsets out
// of range / reversed / overlapping / not matching shape x dtype, duplicate
// and renamed tensors, non-object headers and entries, NaN / Inf and edge
// finite values written into the payload. Each input runs in a forked child
// (FuzzHarness.h), written to a temp file and read with the public API:
//
//   .npy          readNpy and parseNpy must agree (status, message, tensor)
//   .safetensors  SafetensorsFile::open, then read() of every entry
//   -> failure: a non-empty message starting with the path, code
//      InvalidArgument or Unsupported, the output tensor (or the entry list
//      of a failed open) left empty
//   -> success: rank <= 8, dims >= 0, product == data size, the file size /
//      data_offsets match shape x dtype, no two tensors share bytes, every
//      value finite and bit-equal to an independent decode of the bytes;
//      read() of a supported entry of an opened file fails only on a
//      non-finite value
//   -> then, as minfer-search does, checkLayerShapes on q/k/v: accepted
//      means rank 4 and every dim > 0
//
// Seeds and inputs that only had values written into them carry an expected
// outcome (usable, rejected by the search with a given message, or rejected
// for a non-finite value at a given element), checked too. A crash, a hang
// or a broken invariant ("finding") fails the run; each is written to
// --crash-dir with a .log of how it was made. Reproduce one with
// `minfer-fuzz-tensors --jobs=0 --iterations=0 --corpus-dir=<dir with it>`.
//
//===----------------------------------------------------------------------===//
#include "FuzzHarness.h"

#include "minfer/Runtime/Reference.h"
#include "minfer/Search/Search.h"
#include "minfer/Search/TensorIO.h"

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdlib>
#include <cstring>
#include <map>
#include <sched.h>
#include <set>
#include <sys/stat.h>
#include <unistd.h>

using namespace ::minfer;
using namespace ::minfer::search;
using namespace ::minfer::fuzz;

namespace {

struct Options : CommonOptions {
  Options() {
    seed = 0x74656e736f72ull; // "tensor"
    crashDir = "fuzz-tensors-findings";
  }
  std::string abortOn, hangOn; ///< self-test: an origin (seed name)
};

enum class Format { Npy, Safetensors };

//===----------------------------------------------------------------------===//
// Expected outcomes
//===----------------------------------------------------------------------===//

enum class Expect { Any, Usable, SearchRejects, ReaderRejects };

struct Expectation {
  Expect kind = Expect::Any;
  std::string text; ///< substring of the error (SearchRejects/ReaderRejects)
  /// Safetensors: tensor name -> substring its read() must fail with.
  std::map<std::string, std::string> readErrors;
};

/// Per input, next to FuzzHarness's Input.
struct Meta {
  Format format = Format::Npy;
  Expectation expect;
};

//===----------------------------------------------------------------------===//
// Element encodings
//===----------------------------------------------------------------------===//

void putLE(std::string &s, size_t at, uint64_t v, int bytes) {
  for (int i = 0; i < bytes; ++i)
    s[at + i] = static_cast<char>((v >> (8 * i)) & 0xFF);
}
uint64_t getLE(const std::string &s, size_t at, int bytes) {
  uint64_t v = 0;
  for (int i = bytes - 1; i >= 0; --i)
    v = (v << 8) | static_cast<uint8_t>(s[at + i]);
  return v;
}

std::string encode(const std::vector<float> &v, DType t) {
  std::string s(v.size() * dtypeBytes(t), '\0');
  for (size_t i = 0; i < v.size(); ++i) {
    if (t == DType::F32) {
      uint32_t bits;
      std::memcpy(&bits, &v[i], 4);
      putLE(s, 4 * i, bits, 4);
    } else {
      putLE(s, 2 * i,
            t == DType::F16 ? ref::floatToF16(v[i]) : ref::floatToBf16(v[i]),
            2);
    }
  }
  return s;
}

/// The little-endian `t` element at byte `at`, decoded without the readers.
float decodeAt(const std::string &bytes, size_t at, DType t) {
  if (t == DType::F32) {
    uint32_t bits = static_cast<uint32_t>(getLE(bytes, at, 4));
    float f;
    std::memcpy(&f, &bits, 4);
    return f;
  }
  uint16_t h = static_cast<uint16_t>(getLE(bytes, at, 2));
  return t == DType::F16 ? ref::f16ToFloat(h) : ref::bf16ToFloat(h);
}

std::vector<float> values(int64_t n, uint64_t salt) {
  std::vector<float> v(n);
  for (int64_t i = 0; i < n; ++i)
    v[i] = std::sin(0.37f * i + 0.1f * salt) * 3.0f;
  return v;
}

int64_t product(const std::vector<int64_t> &shape) {
  int64_t n = 1;
  for (int64_t d : shape)
    n *= d;
  return n;
}

std::string joinShape(const std::vector<int64_t> &shape, bool tuple) {
  std::string s = tuple ? "(" : "[";
  for (size_t i = 0; i < shape.size(); ++i)
    s += (i ? ", " : "") + std::to_string(shape[i]);
  if (tuple && shape.size() == 1)
    s += ",";
  return s + (tuple ? ")" : "]");
}

/// Bit patterns written into payloads: non-finite ones (which the readers
/// must reject) and finite edge values (which must come back bit-exact).
struct Special {
  uint32_t bits;
  const char *kind; ///< "nan", "inf" or nullptr (finite)
};
const std::vector<Special> &specials(DType t) {
  static const std::vector<Special> f32 = {
      {0x7FC00000u, "nan"}, {0x7F800001u, "nan"}, {0xFFFFFFFFu, "nan"},
      {0x7F800000u, "inf"}, {0xFF800000u, "inf"}, {0x7F7FFFFFu, nullptr},
      {0x00000001u, nullptr}, {0x80000000u, nullptr}, {0x807FFFFFu, nullptr}};
  static const std::vector<Special> f16 = {
      {0x7E00u, "nan"}, {0x7C01u, "nan"},   {0xFFFFu, "nan"},
      {0x7C00u, "inf"}, {0xFC00u, "inf"},   {0x7BFFu, nullptr},
      {0x0001u, nullptr}, {0x8000u, nullptr}, {0xFBFFu, nullptr}};
  static const std::vector<Special> bf16 = {
      {0x7FC0u, "nan"}, {0x7F81u, "nan"},   {0xFFFFu, "nan"},
      {0x7F80u, "inf"}, {0xFF80u, "inf"},   {0x7F7Fu, nullptr},
      {0x0001u, nullptr}, {0x8000u, nullptr}, {0xFF7Fu, nullptr}};
  return t == DType::F32 ? f32 : t == DType::F16 ? f16 : bf16;
}

/// Non-finite values written so far into one tensor: element -> kind.
using Injections = std::map<int64_t, std::string>;

/// Writes a special value at element `i` of the `t` data at `base`; records
/// it in `inj` (or forgets an earlier one it overwrote).
std::string injectValue(std::string &data, size_t base, int64_t i, DType t,
                        Rng &rng, Injections &inj) {
  const Special &s = rng.pick(specials(t));
  putLE(data, base + i * dtypeBytes(t), s.bits, dtypeBytes(t));
  if (s.kind)
    inj[i] = s.kind;
  else
    inj.erase(i);
  char buf[96];
  snprintf(buf, sizeof buf, "value 0x%x (%s) at element %lld\n", s.bits,
           s.kind ? s.kind : "finite", static_cast<long long>(i));
  return buf;
}

std::string nonFiniteMessage(const Injections &inj) {
  const auto &first = *inj.begin();
  return "non-finite value (" + first.second + ") at flat element " +
         std::to_string(first.first);
}

//===----------------------------------------------------------------------===//
// .npy documents
//===----------------------------------------------------------------------===//

struct NpyDoc {
  int major = 1;
  std::string dict; ///< the dict literal, unpadded
  bool pad = true;  ///< spaces and '\n' up to a multiple of 64, as numpy
  bool lengthSet = false;
  uint64_t length = 0; ///< the header-length field when lengthSet
  std::string payload;
  DType type = DType::F32; ///< the payload's encoding (for value writes)
  int64_t numel = 0;       ///< the payload's elements

  std::string bytes() const {
    size_t prefix = major == 1 ? 10 : 12;
    std::string h = dict;
    if (pad) {
      h.append((64 - (prefix + h.size() + 1) % 64) % 64, ' ');
      h += '\n';
    }
    std::string out("\x93NUMPY", 6);
    out += static_cast<char>(major);
    out += '\0';
    out.append(prefix - 8, '\0');
    putLE(out, 8, lengthSet ? length : h.size(), static_cast<int>(prefix - 8));
    return out + h + payload;
  }
};

std::string descrOf(DType t, int variant) {
  if (t == DType::F32)
    return "<f4";
  if (t == DType::F16)
    return "<f2";
  static const char *bf16[] = {"<u2", "|V2", "<V2"};
  return bf16[variant % 3];
}

NpyDoc makeNpy(DType t, std::vector<int64_t> shape, int major, int variant,
               uint64_t salt) {
  NpyDoc d;
  d.major = major;
  d.type = t;
  d.numel = product(shape);
  std::string descr = "'descr': '" + descrOf(t, variant) + "'";
  std::string fortran = "'fortran_order': False";
  std::string sh = "'shape': " + joinShape(shape, true);
  d.dict = variant % 2 == 0 ? "{" + descr + ", " + fortran + ", " + sh + ", }"
                            : "{" + sh + ", " + descr + ", " + fortran + "}";
  d.payload = encode(values(d.numel, salt), t);
  return d;
}

//===----------------------------------------------------------------------===//
// .safetensors documents
//===----------------------------------------------------------------------===//

struct StEntry {
  std::string name;  ///< JSON string contents (already escaped)
  std::string value; ///< when non-empty: the entry's value verbatim
  std::string dtype; ///< a JSON token, normally a string
  std::vector<std::string> shape, offsets; ///< JSON tokens
  bool hasDtype = true, hasShape = true, hasOffsets = true;
  std::string extra; ///< more members: `,"k":v`

  std::string json() const {
    if (!value.empty())
      return value;
    std::string s = "{";
    std::string sep;
    auto member = [&](const char *key, const std::string &value) {
      s += sep + "\"" + key + "\":" + value;
      sep = ",";
    };
    auto list = [](const std::vector<std::string> &items) {
      std::string l = "[";
      for (size_t i = 0; i < items.size(); ++i)
        l += (i ? "," : "") + items[i];
      return l + "]";
    };
    if (hasDtype)
      member("dtype", dtype);
    if (hasShape)
      member("shape", list(shape));
    if (hasOffsets)
      member("data_offsets", list(offsets));
    return s + extra + "}";
  }
};

struct StDoc {
  std::vector<StEntry> entries; ///< in file order
  std::string metadata;         ///< a JSON value; empty: none
  std::string wrapPre, wrapPost; ///< around the object (non-object headers)
  std::string trailing;         ///< after the JSON, inside the header
  bool pad = true;              ///< spaces up to a multiple of 8
  bool lengthSet = false;
  uint64_t length = 0;
  std::string data;

  std::string header() const {
    std::string h = wrapPre + "{";
    bool first = true;
    if (!metadata.empty()) {
      h += "\"__metadata__\":" + metadata;
      first = false;
    }
    for (const StEntry &e : entries) {
      h += (first ? "" : ",") + std::string("\"") + e.name + "\":" + e.json();
      first = false;
    }
    h += "}" + wrapPost + trailing;
    if (pad)
      h.append((8 - h.size() % 8) % 8, ' ');
    return h;
  }
  std::string bytes() const {
    std::string h = header();
    std::string out(8, '\0');
    putLE(out, 0, lengthSet ? length : h.size(), 8);
    return out + h + data;
  }
};

struct StTensor {
  std::string name;
  DType type;
  std::vector<int64_t> shape;
};

StDoc makeSt(const std::vector<StTensor> &ts, uint64_t salt) {
  StDoc d;
  for (const StTensor &t : ts) {
    StEntry e;
    e.name = t.name;
    e.dtype = std::string("\"") + dtypeName(t.type) + "\"";
    for (int64_t x : t.shape)
      e.shape.push_back(std::to_string(x));
    int64_t begin = static_cast<int64_t>(d.data.size());
    d.data += encode(values(product(t.shape), salt++), t.type);
    e.offsets = {std::to_string(begin), std::to_string(d.data.size())};
    d.entries.push_back(e);
  }
  return d;
}

/// A foreign tensor (I64, F64, ...) with `bytes` of zeros.
void addForeign(StDoc &d, const std::string &name, const std::string &dtype,
                std::vector<int64_t> shape, int64_t elemBytes) {
  StEntry e;
  e.name = name;
  e.dtype = "\"" + dtype + "\"";
  for (int64_t x : shape)
    e.shape.push_back(std::to_string(x));
  int64_t begin = static_cast<int64_t>(d.data.size());
  d.data.append(product(shape) * elemBytes, '\0');
  e.offsets = {std::to_string(begin), std::to_string(d.data.size())};
  d.entries.push_back(e);
}

/// The layout of an entry if it still reads as the seed wrote it.
bool entryLayout(const StEntry &e, const std::string &data, DType &t,
                 int64_t &begin, int64_t &numel) {
  if (!e.value.empty() || !e.hasDtype || !e.hasOffsets || e.offsets.size() != 2)
    return false;
  if (e.dtype == "\"F32\"")
    t = DType::F32;
  else if (e.dtype == "\"F16\"")
    t = DType::F16;
  else if (e.dtype == "\"BF16\"")
    t = DType::BF16;
  else
    return false;
  char *endp = nullptr;
  long long b = strtoll(e.offsets[0].c_str(), &endp, 10);
  if (*endp)
    return false;
  long long en = strtoll(e.offsets[1].c_str(), &endp, 10);
  if (*endp || b < 0 || en < b || en > static_cast<long long>(data.size()))
    return false;
  begin = b;
  numel = (en - b) / dtypeBytes(t);
  return numel > 0;
}

//===----------------------------------------------------------------------===//
// Seeds
//===----------------------------------------------------------------------===//

struct Seed {
  std::string name;
  Format format;
  bool structured = true; ///< npy / st below are valid
  NpyDoc npy;
  StDoc st;
  std::string raw; ///< unstructured seeds (files, the repo's writers)
  Expectation expect;

  std::string bytes() const {
    if (!structured)
      return raw;
    return format == Format::Npy ? npy.bytes() : st.bytes();
  }
};

Expectation expectUsable() {
  Expectation e;
  e.kind = Expect::Usable;
  return e;
}
Expectation expectSearchRejects(const std::string &text) {
  Expectation e;
  e.kind = Expect::SearchRejects;
  e.text = text;
  return e;
}

std::vector<Seed> builtinSeeds(const std::string &tmpDir) {
  std::vector<Seed> seeds;
  auto npy = [&](const std::string &name, DType t, std::vector<int64_t> shape,
                 int major, int variant, Expectation e) {
    Seed s;
    s.name = name;
    s.format = Format::Npy;
    s.npy = makeNpy(t, shape, major, variant, seeds.size());
    s.expect = e;
    seeds.push_back(s);
  };
  const char *rank4 = "must have rank 4";
  npy("npy-f32-v1", DType::F32, {1, 2, 8, 4}, 1, 0, expectUsable());
  npy("npy-f16-v1", DType::F16, {2, 4, 16, 8}, 1, 0, expectUsable());
  npy("npy-bf16-u2-v2", DType::BF16, {1, 1, 16, 4}, 2, 0, expectUsable());
  npy("npy-bf16-V2-v1-keys", DType::BF16, {1, 2, 4, 8}, 1, 1, expectUsable());
  npy("npy-bf16-lV2-v2", DType::BF16, {2, 1, 8, 2}, 2, 2, expectUsable());
  npy("npy-f32-v3-keys", DType::F32, {1, 3, 5, 2}, 3, 1, expectUsable());
  npy("npy-f16-v2", DType::F16, {1, 2, 3, 16}, 2, 0, expectUsable());
  npy("npy-f32-rank3", DType::F32, {2, 8, 4}, 1, 0,
      expectSearchRejects(rank4));
  npy("npy-f16-rank5", DType::F16, {1, 1, 2, 8, 4}, 2, 0,
      expectSearchRejects(rank4));
  npy("npy-bf16-rank1", DType::BF16, {12}, 1, 0, expectSearchRejects(rank4));
  npy("npy-f32-empty-dim", DType::F32, {1, 2, 0, 4}, 1, 0,
      expectSearchRejects("empty dimension"));

  auto st = [&](const std::string &name, const std::vector<StTensor> &ts,
                Expectation e) -> StDoc & {
    Seed s;
    s.name = name;
    s.format = Format::Safetensors;
    s.st = makeSt(ts, seeds.size() * 7);
    s.expect = e;
    seeds.push_back(s);
    return seeds.back().st;
  };
  auto layer = [](int l, DType tq, DType tk, DType tv,
                  std::vector<int64_t> q, std::vector<int64_t> kv) {
    std::string p = "layers." + std::to_string(l) + ".";
    return std::vector<StTensor>{
        {p + "q", tq, q}, {p + "k", tk, kv}, {p + "v", tv, kv}};
  };
  st("st-f32", layer(0, DType::F32, DType::F32, DType::F32, {1, 2, 8, 4},
                     {1, 2, 8, 4}),
     expectUsable());
  {
    auto ts = layer(0, DType::F16, DType::F16, DType::F16, {1, 4, 8, 4},
                    {1, 2, 8, 4});
    auto l1 = layer(1, DType::F16, DType::F16, DType::F16, {1, 4, 8, 4},
                    {1, 2, 8, 4});
    ts.insert(ts.end(), l1.begin(), l1.end());
    st("st-f16-2layers-gqa-meta", ts, expectUsable()).metadata =
        "{\"format\":\"pt\",\"source\":\"minfer-fuzz\"}";
  }
  st("st-bf16", layer(0, DType::BF16, DType::BF16, DType::BF16, {2, 1, 4, 8},
                      {2, 1, 4, 8}),
     expectUsable());
  st("st-mixed-dtypes", layer(0, DType::F32, DType::F16, DType::BF16,
                              {1, 2, 4, 4}, {1, 1, 4, 4}),
     expectUsable());
  {
    StDoc &d = st("st-foreign-dtypes",
                  layer(0, DType::BF16, DType::F32, DType::F16, {1, 1, 8, 2},
                        {1, 1, 8, 2}),
                  expectUsable());
    addForeign(d, "ids", "I64", {2, 3}, 8);
    addForeign(d, "mask", "BOOL", {5}, 1);
    addForeign(d, "scale", "F64", {2}, 8);
    addForeign(d, "empty", "F32", {0, 4}, 4);
  }
  st("st-rank3-q", layer(0, DType::F32, DType::F32, DType::F32, {2, 8, 4},
                         {1, 2, 8, 4}),
     expectSearchRejects(rank4));
  st("st-rank5-kv", layer(0, DType::F16, DType::F16, DType::F16,
                          {1, 2, 8, 4}, {1, 1, 2, 8, 4}),
     expectSearchRejects(rank4));

  // The repo's writers: unstructured, only byte-level mutations.
  std::vector<float> v = values(2 * 2 * 8 * 4, 99);
  Tensor t;
  t.shape = {2, 2, 8, 4};
  t.data = v;
  // A raw seed from what `write` put into tmpDir/<file>, if it succeeded.
  auto addWritten = [&](const std::string &name, Format format,
                        const std::string &file, auto write) {
    const std::string p = tmpDir + "/" + file;
    std::string bytes;
    if (write(p).ok() && readFile(p, bytes)) {
      Seed s;
      s.name = name;
      s.format = format;
      s.structured = false;
      s.raw = bytes;
      s.expect = expectUsable();
      seeds.push_back(s);
    }
    unlink(p.c_str());
  };
  for (DType dt : {DType::F32, DType::F16, DType::BF16}) {
    addWritten(std::string("writeNpy-") + dtypeName(dt), Format::Npy,
               "seed.npy", [&](const std::string &p) { return writeNpy(p, t, dt); });
    addWritten(std::string("writeSafetensors-") + dtypeName(dt),
               Format::Safetensors, "seed.safetensors",
               [&](const std::string &p) {
                 return writeSafetensors(
                     p, {{"layers.0.q", t}, {"layers.0.k", t}, {"layers.0.v", t}},
                     dt);
               });
  }
  return seeds;
}

//===----------------------------------------------------------------------===//
// Mutations of the documents (before serialization)
//===----------------------------------------------------------------------===//

/// Shape entries on the edges of the readers' checks.
const std::vector<std::string> &shapeNumbers() {
  static const std::vector<std::string> v = {
      "0",          "-1",         "1",          "2",
      "3",          "7",          "64",         "2147483648",
      "4294967296", "3037000500", "4611686018427387903",
      "4611686018427387904",      "9223372036854775807",
      "9223372036854775808",      "18446744073709551616",
      "99999999999999999999"};
  return v;
}

/// [begin, end) of the text between "'shape':" 's '(' and ')'.
bool npyShapeSpan(const std::string &dict, size_t &b, size_t &e) {
  size_t k = dict.find("'shape'");
  if (k == std::string::npos)
    return false;
  b = dict.find('(', k);
  if (b == std::string::npos)
    return false;
  e = dict.find(')', b);
  if (e == std::string::npos)
    return false;
  ++b;
  return true;
}

std::vector<std::string> splitTokens(const std::string &s) {
  std::vector<std::string> out;
  size_t start = 0;
  while (start <= s.size()) {
    size_t c = s.find(',', start);
    if (c == std::string::npos)
      c = s.size();
    std::string tok = s.substr(start, c - start);
    size_t f = tok.find_first_not_of(' '), l = tok.find_last_not_of(' ');
    if (f != std::string::npos)
      out.push_back(tok.substr(f, l - f + 1));
    start = c + 1;
  }
  return out;
}

/// Merges two adjacent dims or splits one off (a 1, or a factor): the
/// element count stays, the rank changes, the readers accept it.
bool reshape(std::vector<std::string> &dims, Rng &rng, std::string &log) {
  std::vector<int64_t> v;
  for (const std::string &d : dims) {
    char *end = nullptr;
    long long x = strtoll(d.c_str(), &end, 10);
    if (d.empty() || *end || x <= 0 || x > (1 << 20))
      return false;
    v.push_back(x);
  }
  std::string before = joinShape(v, false);
  if (v.size() >= 2 && rng.percent(50)) {
    size_t i = rng.below(v.size() - 1);
    v[i] *= v[i + 1];
    v.erase(v.begin() + i + 1);
  } else {
    size_t i = rng.below(v.size() + 1);
    int64_t f = 1;
    if (i < v.size() && v[i] % 2 == 0 && rng.percent(50)) {
      v[i] /= 2;
      f = 2;
    }
    v.insert(v.begin() + i, f);
  }
  dims.clear();
  for (int64_t x : v)
    dims.push_back(std::to_string(x));
  log += "reshape " + before + " -> " + joinShape(v, false) + "\n";
  return true;
}

/// End of the dict item value starting at `from`: the next ',' or '}' outside
/// parentheses (a shape tuple has commas of its own).
size_t itemEnd(const std::string &dict, size_t from) {
  size_t e = from;
  int depth = 0;
  while (e < dict.size()) {
    char c = dict[e];
    if (c == '(')
      ++depth;
    else if (c == ')')
      --depth;
    else if ((c == ',' || c == '}') && depth <= 0)
      break;
    ++e;
  }
  return e;
}

/// Replaces the value text after `key` (up to the next ',' or '}').
bool replaceDictValue(std::string &dict, const std::string &key,
                      const std::string &to, std::string &log) {
  size_t k = dict.find(key);
  if (k == std::string::npos)
    return false;
  size_t colon = dict.find(':', k + key.size());
  if (colon == std::string::npos)
    return false;
  size_t b = colon + 1, e = itemEnd(dict, b);
  log += key + " value '" + dict.substr(b, e - b) + "' -> '" + to + "'\n";
  dict.replace(b, e - b, " " + to);
  return true;
}

/// Spans of the `'key': value` items of the dict (without separators).
std::vector<std::pair<size_t, size_t>> dictItems(const std::string &dict) {
  std::vector<std::pair<size_t, size_t>> items;
  for (const char *key : {"'descr'", "'fortran_order'", "'shape'"}) {
    size_t k = dict.find(key);
    if (k == std::string::npos)
      continue;
    size_t e = itemEnd(dict, k);
    items.push_back({k, e});
  }
  return items;
}

/// A structural mutation of a .npy document. `valuesOnly` stays true while
/// only payload values were written (the outcome is then still known).
bool mutateNpy(NpyDoc &d, Rng &rng, std::string &log, bool &valuesOnly,
               Injections &inj) {
  switch (rng.below(13)) {
  case 0: { // version byte
    static const std::vector<int> versions = {1, 2, 3, 1, 2, 0, 4, 255};
    int to = rng.pick(versions);
    if (to == d.major)
      return false;
    log += "version " + std::to_string(d.major) + " -> " +
           std::to_string(to) + "\n";
    d.major = to;
    break;
  }
  case 1: { // one shape entry
    size_t b, e;
    if (!npyShapeSpan(d.dict, b, e))
      return false;
    auto toks = splitTokens(d.dict.substr(b, e - b));
    if (toks.empty())
      return false;
    size_t i = rng.below(toks.size());
    const std::string &to = rng.pick(shapeNumbers());
    log += "shape entry " + std::to_string(i) + ": " + toks[i] + " -> " + to +
           "\n";
    toks[i] = to;
    std::string s;
    for (size_t j = 0; j < toks.size(); ++j)
      s += (j ? ", " : "") + toks[j];
    if (toks.size() == 1)
      s += ",";
    d.dict.replace(b, e - b, s);
    break;
  }
  case 2: { // the whole shape
    static const std::vector<std::string> shapes = {
        "()",
        "(64,)",
        "(1, 2, 8)",
        "(1, 1, 2, 8, 4)",
        "(1, 1, 1, 1, 1, 1, 1, 1, 1)",
        "(1, 1, 1, 1, 1, 1, 1, 64)",
        "(4611686018427387904, 4611686018427387904, 0)",
        "(0, 4611686018427387904, 4611686018427387904)",
        "(2, 2305843009213693952, 0)",
        "(2147483648, 2147483648, 4)",
        "(3037000500, 3037000500)",
        "(4611686018427387904,)",
        "(1, 2, 8, 4,)",
        "(1,2,8,4)",
        "(1, 2, 8, 4L)",
        "[1, 2, 8, 4]",
        "(1, 2, 8, 4",
        "(-1, 2, 8, 4)",
        "(1, 2, , 4)",
        "(1 2 8 4)",
        "(1.0, 2, 8, 4)",
        "(0x1, 2, 8, 4)",
        "None",
        "1"};
    if (!replaceDictValue(d.dict, "'shape'", rng.pick(shapes), log))
      return false;
    break;
  }
  case 3: { // reshape: same element count, other rank
    size_t b, e;
    if (!npyShapeSpan(d.dict, b, e))
      return false;
    auto toks = splitTokens(d.dict.substr(b, e - b));
    if (!reshape(toks, rng, log))
      return false;
    std::string s;
    for (size_t j = 0; j < toks.size(); ++j)
      s += (j ? ", " : "") + toks[j];
    if (toks.size() == 1)
      s += ",";
    d.dict.replace(b, e - b, s);
    break;
  }
  case 4: { // dtype
    static const std::vector<std::string> descrs = {
        "'<f4'",   "'<f2'",  "'<u2'",  "'|V2'", "'<V2'", "'V2'",
        "'<bf16'", "'<f8'",  "'|b1'",  "'>f4'", "'>f2'", "'>u2'",
        "'<i4'",   "'<u4'",  "'|u1'",  "'<c8'", "'f4'",  "'float32'",
        "''",      "'<f4 '", "'<f4",   "'O'",   "\"<f4\"", "b'<f4'",
        "'" + std::string(70, 'f') + "'"};
    if (!replaceDictValue(d.dict, "'descr'", rng.pick(descrs), log))
      return false;
    break;
  }
  case 5: { // fortran_order
    static const std::vector<std::string> fs = {
        "True", "True", "False", "1", "0", "'False'", "false", "None", "Tru"};
    if (!replaceDictValue(d.dict, "'fortran_order'", rng.pick(fs), log))
      return false;
    break;
  }
  case 6: { // drop, duplicate or add a key
    auto items = dictItems(d.dict);
    if (items.empty())
      return false;
    auto [b, e] = items[rng.below(items.size())];
    std::string item = d.dict.substr(b, e - b);
    switch (rng.below(3)) {
    case 0:
      log += "drop item " + item + "\n";
      if (e < d.dict.size() && d.dict[e] == ',')
        ++e;
      d.dict.erase(b, e - b);
      break;
    case 1:
      log += "duplicate item " + item + "\n";
      d.dict.insert(b, item + ", ");
      break;
    default:
      log += "add item 'extra'\n";
      d.dict.insert(b, "'extra': 1, ");
      break;
    }
    break;
  }
  case 7: { // garble the dict text
    static const std::vector<std::string> garbles = {
        "{", "}", "(", ")", ",", ":", "'", "\"", " ", "\n", "\t", "\\",
        std::string(1, '\0'), "\xff", "#", "{'a': {'b': 1}}"};
    std::string g = rng.pick(garbles);
    size_t pos = rng.below(d.dict.size() + 1);
    if (rng.percent(30) && pos < d.dict.size()) {
      log += "dict byte " + std::to_string(pos) + " replaced\n";
      d.dict.replace(pos, 1, g);
    } else {
      log += "dict insert at " + std::to_string(pos) + "\n";
      d.dict.insert(pos, g);
    }
    break;
  }
  case 8: { // padding, quotes
    switch (rng.below(3)) {
    case 0:
      d.pad = !d.pad;
      log += std::string("padding ") + (d.pad ? "on" : "off") + "\n";
      break;
    case 1:
      std::replace(d.dict.begin(), d.dict.end(), '\'', '"');
      log += "single quotes -> double quotes\n";
      break;
    default:
      d.dict = "{" + std::string(1 + rng.below(20), ' ') + d.dict.substr(1);
      log += "spaces after '{'\n";
      break;
    }
    break;
  }
  case 9: { // the header-length field
    std::string h = d.bytes();
    uint64_t width = d.major == 1 ? 2 : 4;
    uint64_t truth = getLE(h, 8, static_cast<int>(width));
    uint64_t maxv = width == 2 ? 0xFFFF : 0xFFFFFFFFull;
    std::vector<uint64_t> vs = {0,         1,         maxv,
                                maxv / 2 + 1, // "negative" as signed
                                truth - 1, truth + 1, truth + 16,
                                h.size() - 10, h.size(), 65536,
                                65537};
    uint64_t to = rng.pick(vs) & maxv;
    log += "npy header length " + std::to_string(truth) + " -> " +
           std::to_string(to) + "\n";
    d.lengthSet = true;
    d.length = to;
    break;
  }
  case 10: { // payload size
    int64_t eb = dtypeBytes(d.type);
    switch (rng.below(4)) {
    case 0:
      if (static_cast<int64_t>(d.payload.size()) < eb)
        return false;
      d.payload.resize(d.payload.size() - eb);
      log += "payload: drop the last element\n";
      break;
    case 1:
      d.payload.append(eb, '\0');
      log += "payload: one more element\n";
      break;
    case 2:
      d.payload.push_back('\x7f');
      log += "payload: one more byte\n";
      break;
    default:
      log += "payload: emptied\n";
      d.payload.clear();
      break;
    }
    break;
  }
  default: { // values: non-finite and edge finite ones
    if (d.numel == 0 ||
        static_cast<int64_t>(d.payload.size()) < d.numel * dtypeBytes(d.type))
      return false;
    int64_t i = rng.percent(30) ? d.numel - 1 : rng.below(d.numel);
    log += injectValue(d.payload, 0, i, d.type, rng, inj);
    return true; // valuesOnly stays as it was
  }
  }
  valuesOnly = false;
  return true;
}

/// JSON tokens for shape entries and offsets.
const std::vector<std::string> &jsonNumbers() {
  static const std::vector<std::string> v = {
      "0",       "-1",     "1",       "2",   "4611686018427387903",
      "4611686018427387904",          "9223372036854775807",
      "9223372036854775808",          "-9223372036854775808",
      "18446744073709551615",         "99999999999999999999",
      "1.0",     "1e2",    "-0",      "0.5", "\"8\"",
      "null",    "true",   "[]",      "{}",  "1E400"};
  return v;
}

bool mutateSt(StDoc &d, Rng &rng, std::string &log, bool &valuesOnly,
              std::map<std::string, Injections> &inj) {
  auto pickEntry = [&]() -> StEntry * {
    return d.entries.empty() ? nullptr : &d.entries[rng.below(d.entries.size())];
  };
  auto int64Of = [](const std::string &s, int64_t &v) {
    char *end = nullptr;
    long long x = strtoll(s.c_str(), &end, 10);
    v = x;
    return !s.empty() && !*end;
  };
  switch (rng.below(16)) {
  case 0: { // dtype
    StEntry *e = pickEntry();
    if (!e)
      return false;
    static const std::vector<std::string> dts = {
        "\"F32\"",  "\"F16\"",     "\"BF16\"", "\"F64\"",  "\"I32\"",
        "\"I64\"",  "\"U16\"",     "\"BOOL\"", "\"U8\"",   "\"F8_E4M3\"",
        "\"f32\"",  "\"\"",        "\"F32 \"", "\"F3\\u0032\"",
        "\"F32\\u0000\"", "5",     "null",     "[\"F32\"]", "\"C64\""};
    const std::string &to = rng.pick(dts);
    log += "tensor " + e->name + " dtype " + e->dtype + " -> " + to + "\n";
    e->dtype = to;
    break;
  }
  case 1: { // one shape entry
    StEntry *e = pickEntry();
    if (!e || e->shape.empty())
      return false;
    size_t i = rng.below(e->shape.size());
    const std::string &to = rng.percent(60) ? rng.pick(shapeNumbers())
                                            : rng.pick(jsonNumbers());
    log += "tensor " + e->name + " shape[" + std::to_string(i) + "] " +
           e->shape[i] + " -> " + to + "\n";
    e->shape[i] = to;
    break;
  }
  case 2: { // the rank
    StEntry *e = pickEntry();
    if (!e)
      return false;
    switch (rng.below(4)) {
    case 0:
    case 1:
      if (!reshape(e->shape, rng, log))
        return false;
      break;
    case 2:
      log += "tensor " + e->name + " shape -> []\n";
      e->shape.clear();
      break;
    default:
      log += "tensor " + e->name + " rank 9\n";
      e->shape.insert(e->shape.begin(), 5, "1");
      break;
    }
    break;
  }
  case 3:
  case 4: { // one offset
    StEntry *e = pickEntry();
    if (!e || e->offsets.size() != 2)
      return false;
    size_t i = rng.below(2);
    int64_t v = 0;
    int64_t size = static_cast<int64_t>(d.data.size());
    std::string to;
    if (int64Of(e->offsets[i], v) && rng.percent(60)) {
      static const std::vector<int64_t> deltas = {-1, 1, -2, 2, -4, 4, 8};
      switch (rng.below(4)) {
      case 0: to = std::to_string(v + rng.pick(deltas)); break;
      case 1: to = std::to_string(size); break;
      case 2: to = std::to_string(size + 1); break;
      default: to = std::to_string(size + 8); break;
      }
    } else {
      to = rng.pick(jsonNumbers());
    }
    log += "tensor " + e->name + " data_offsets[" + std::to_string(i) + "] " +
           e->offsets[i] + " -> " + to + "\n";
    e->offsets[i] = to;
    break;
  }
  case 5: { // offsets reversed, shifted, copied from another tensor (overlap)
    StEntry *e = pickEntry();
    if (!e || e->offsets.size() != 2)
      return false;
    int64_t b, en;
    switch (rng.below(4)) {
    case 0:
      std::swap(e->offsets[0], e->offsets[1]);
      log += "tensor " + e->name + " data_offsets reversed\n";
      break;
    case 1: { // shift by a few bytes: same size, straddles a neighbour
      if (!int64Of(e->offsets[0], b) || !int64Of(e->offsets[1], en))
        return false;
      int64_t by = rng.percent(50) ? -int64_t(rng.below(16) + 1)
                                   : int64_t(rng.below(16) + 1);
      e->offsets = {std::to_string(b + by), std::to_string(en + by)};
      log += "tensor " + e->name + " data_offsets shifted by " +
             std::to_string(by) + "\n";
      break;
    }
    case 2: { // alias another tensor's bytes
      StEntry *o = pickEntry();
      if (o == e || o->offsets.size() != 2)
        return false;
      e->offsets = o->offsets;
      log += "tensor " + e->name + " data_offsets copied from " + o->name +
             "\n";
      break;
    }
    default: { // overlap half of the previous tensor
      if (!int64Of(e->offsets[0], b) || !int64Of(e->offsets[1], en) || b == 0)
        return false;
      int64_t by = (en - b) / 2;
      by -= by % 4;
      if (by <= 0 || by > b)
        return false;
      e->offsets = {std::to_string(b - by), std::to_string(en - by)};
      log += "tensor " + e->name + " data_offsets moved back by " +
             std::to_string(by) + "\n";
      break;
    }
    }
    break;
  }
  case 6: { // offsets array shape
    StEntry *e = pickEntry();
    if (!e)
      return false;
    switch (rng.below(3)) {
    case 0:
      e->offsets.push_back("0");
      break;
    case 1:
      if (e->offsets.empty())
        return false;
      e->offsets.pop_back();
      break;
    default:
      e->offsets.clear();
      break;
    }
    log += "tensor " + e->name + " data_offsets has " +
           std::to_string(e->offsets.size()) + " entries\n";
    break;
  }
  case 7: { // drop a member, add one
    StEntry *e = pickEntry();
    if (!e)
      return false;
    switch (rng.below(4)) {
    case 0: e->hasDtype = false; log += "tensor " + e->name + " no dtype\n"; break;
    case 1: e->hasShape = false; log += "tensor " + e->name + " no shape\n"; break;
    case 2:
      e->hasOffsets = false;
      log += "tensor " + e->name + " no data_offsets\n";
      break;
    default:
      e->extra += rng.percent(50) ? ",\"extra\":{\"x\":[1,2]}" : ",\"dtype\":\"F16\"";
      log += "tensor " + e->name + " extra member\n";
      break;
    }
    break;
  }
  case 8: { // duplicate a tensor: same name, or another layer's name
    StEntry *e = pickEntry();
    if (!e)
      return false;
    StEntry copy = *e;
    if (rng.percent(50)) {
      static const std::vector<std::string> names = {
          "layers.1.q", "layers.1.k", "layers.1.v", "layers.2.q",
          "layers.0.q", "layers.0.k", "layers.0.v"};
      copy.name = rng.pick(names);
    }
    log += "duplicate tensor " + e->name + " as " + copy.name + "\n";
    d.entries.insert(d.entries.begin() + rng.below(d.entries.size() + 1),
                     copy);
    break;
  }
  case 9: { // rename or delete a tensor
    StEntry *e = pickEntry();
    if (!e)
      return false;
    static const std::vector<std::string> names = {
        "layers.0.q", "layers.0.k", "layers.0.v", "layers.1.q",
        "layers.0.Q", "layers.00.q", "layers.-1.q", "",
        "__metadata__", "layers.0.q\\u0000", "layers.0\\u002eq",
        "layers.0.q\\", "layers.0.q\\ud800"};
    if (rng.percent(30)) {
      log += "delete tensor " + e->name + "\n";
      d.entries.erase(d.entries.begin() + (e - d.entries.data()));
    } else {
      const std::string &to = rng.pick(names);
      log += "rename tensor " + e->name + " -> " + to + "\n";
      e->name = to;
    }
    break;
  }
  case 10: { // entry value of another kind
    StEntry *e = pickEntry();
    if (!e)
      return false;
    static const std::vector<std::string> vs = {
        "[1,2]", "null", "\"F32\"", "1", "{}", "[{\"dtype\":\"F32\"}]"};
    e->value = rng.pick(vs);
    log += "tensor " + e->name + " value -> " + e->value + "\n";
    break;
  }
  case 11: { // metadata
    static const std::vector<std::string> ms = {
        "",
        "{\"format\":\"pt\"}",
        "{}",
        "[]",
        "1",
        "null",
        "{\"a\":" + std::string(70, '[') + std::string(70, ']') + "}",
        "{\"a\":" + std::string(60, '[') + std::string(60, ']') + "}",
        "{\"format\":\"pt\",\"format\":\"np\"}",
        "{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[0,4]}"};
    d.metadata = rng.pick(ms);
    log += "metadata -> '" + d.metadata.substr(0, 40) + "'\n";
    break;
  }
  case 12: { // non-object header, trailing text, padding
    static const std::vector<std::pair<std::string, std::string>> wraps = {
        {"[", "]"}, {"{\"x\":", "}"}, {"", ",{}"}, {"\xef\xbb\xbf", ""},
        {"", "}"},  {"{", ""}};
    static const std::vector<std::string> trails = {
        "", "   ", "\n", std::string(3, '\0'), "x", "{}", "// c"};
    switch (rng.below(4)) {
    case 0: {
      auto w = rng.pick(wraps);
      d.wrapPre = w.first;
      d.wrapPost = w.second;
      log += "header wrapped in '" + w.first + "' '" + w.second + "'\n";
      break;
    }
    case 1:
      d.trailing = rng.pick(trails);
      log += "header trailing text (" + std::to_string(d.trailing.size()) +
             " bytes)\n";
      break;
    case 2:
      d.pad = !d.pad;
      log += std::string("header padding ") + (d.pad ? "on" : "off") + "\n";
      break;
    default: // "null", "1", "\"s\"" as the whole header
      d.wrapPre = rng.pick(std::vector<std::string>{"null", "1", "\"s\"", ""});
      d.wrapPost = "";
      d.entries.clear();
      d.metadata.clear();
      log += "header '" + d.wrapPre + "{}'\n";
      break;
    }
    break;
  }
  case 13: { // the header-length field
    std::string h = d.bytes();
    uint64_t truth = getLE(h, 0, 8);
    std::vector<uint64_t> vs = {0,
                                1,
                                2,
                                truth - 1,
                                truth + 1,
                                truth + 8,
                                h.size() - 8,
                                h.size() - 7,
                                (uint64_t(1) << 32) + truth,
                                (100ull << 20) + 1,
                                0x7FFFFFFFFFFFFFFFull,
                                0x8000000000000000ull,
                                0xFFFFFFFFFFFFFFFFull,
                                0xFFFFFFFFFFFFFFF8ull};
    uint64_t to = rng.pick(vs);
    log += "safetensors header length " + std::to_string(truth) + " -> " +
           std::to_string(to) + "\n";
    d.lengthSet = true;
    d.length = to;
    break;
  }
  case 14: { // the data buffer's size
    switch (rng.below(3)) {
    case 0:
      if (d.data.empty())
        return false;
      d.data.resize(d.data.size() - 1 - rng.below(std::min<size_t>(d.data.size(), 8)));
      log += "data buffer shortened\n";
      break;
    case 1:
      d.data.append(1 + rng.below(16), '\x55');
      log += "data buffer extended\n";
      break;
    default:
      d.data.clear();
      log += "data buffer emptied\n";
      break;
    }
    break;
  }
  default: { // values
    StEntry *e = pickEntry();
    DType t;
    int64_t begin, numel;
    if (!e || !entryLayout(*e, d.data, t, begin, numel))
      return false;
    int64_t i = rng.percent(30) ? numel - 1 : rng.below(numel);
    log += "tensor " + e->name + ": " +
           injectValue(d.data, begin, i, t, rng, inj[e->name]);
    return true;
  }
  }
  valuesOnly = false;
  return true;
}

//===----------------------------------------------------------------------===//
// Mutations of the bytes (after serialization)
//===----------------------------------------------------------------------===//

/// Where the header ends, read leniently from the bytes.
size_t headerEnd(const std::string &b, Format f) {
  if (f == Format::Npy) {
    if (b.size() < 10)
      return b.size();
    size_t prefix = static_cast<uint8_t>(b[6]) == 1 ? 10 : 12;
    if (b.size() < prefix)
      return b.size();
    uint64_t n = getLE(b, 8, static_cast<int>(prefix - 8));
    return static_cast<size_t>(std::min<uint64_t>(prefix + n, b.size()));
  }
  if (b.size() < 8)
    return b.size();
  uint64_t n = getLE(b, 0, 8);
  return static_cast<size_t>(std::min<uint64_t>(8 + std::min<uint64_t>(n, b.size()), b.size()));
}

bool mutateBytes(std::string &b, Format f, Rng &rng, std::string &log) {
  size_t hend = headerEnd(b, f);
  switch (rng.below(7)) {
  case 0:
  case 1: { // flip a bit, mostly in the header
    if (b.empty())
      return false;
    size_t pos = rng.percent(70) && hend > 0 ? rng.below(hend)
                                             : rng.below(b.size());
    b[pos] = static_cast<char>(b[pos] ^ (1u << rng.below(8)));
    log += "flip byte " + std::to_string(pos) + "\n";
    return true;
  }
  case 2:
  case 3: { // truncate at a structural boundary
    std::vector<size_t> at = {0, 1, 5, 6, 7, 8, 9, 10, 11, 12, 13};
    for (long d : {-2L, -1L, 0L, 1L, 2L})
      if (static_cast<long>(hend) + d >= 0)
        at.push_back(hend + d);
    for (size_t d : {1, 2, 3, 4})
      if (b.size() >= d)
        at.push_back(b.size() - d);
    at.push_back(hend + (b.size() - hend) / 2);
    size_t to = rng.pick(at);
    if (to >= b.size())
      return false;
    log += "truncate at " + std::to_string(to) + " (header ends at " +
           std::to_string(hend) + ")\n";
    b.resize(to);
    return true;
  }
  case 4:
    return truncate(b, rng, log);
  case 5: { // overwrite a header byte with an interesting one
    if (hend == 0)
      return false;
    static const std::vector<char> bytes = {'\0', '\xff', '\x80', '"', '\'',
                                            '{',  '}',    ',',    ':', '9'};
    size_t pos = rng.below(hend);
    b[pos] = rng.pick(bytes);
    log += "set header byte " + std::to_string(pos) + "\n";
    return true;
  }
  default: { // insert or append junk
    if (rng.percent(50)) {
      size_t n = 1 + rng.below(64);
      b.append(n, static_cast<char>(rng.below(256)));
      log += "append " + std::to_string(n) + " bytes\n";
      return true;
    }
    return insertSpecialChar(b, rng, log);
  }
  }
}

//===----------------------------------------------------------------------===//
// The child
//===----------------------------------------------------------------------===//

enum Outcome {
  RejectedMalformed,   // reader: InvalidArgument (not a non-finite value)
  RejectedUnsupported, // reader: Unsupported (dtype, version, Fortran order)
  RejectedNonFinite,   // reader: a NaN or Inf in the data
  NoLayers,            // safetensors opened, no complete layers.<i>.q/k/v
  SearchRejects,       // read, but checkLayerShapes rejects q/k/v
  Usable,              // read and accepted by checkLayerShapes
  BadFailure,          // finding
  BrokenAcceptance,    // finding
  ReadersDisagree,     // finding
  MissedExpectation,   // finding
  HarnessError,        // finding: the temp file could not be written
  NumOutcomes
};
const std::vector<std::string> kOutcomeNames = {
    "rejected (malformed)",       "rejected (unsupported)",
    "rejected (non-finite value)", "opened, no layers.<i>.q/k/v",
    "read, rejected by search",   "read, usable by search",
    "FAILURE WITH BAD STATUS",    "ACCEPTED, INVARIANT BROKEN",
    "FILE AND MEMORY DISAGREE",   "EXPECTED OUTCOME MISSED",
    "HARNESS ERROR"};
bool isFinding(int o) { return o >= BadFailure; }

std::string gTempDir;
std::vector<Input> gInputs;
std::vector<Meta> gMeta;
Options gOpts;

/// Findings are printed to the child's stderr (the harness keeps the tail).
int finding(int outcome, const char *fmt, const std::string &detail) {
  fprintf(stderr, fmt, detail.c_str());
  fputc('\n', stderr);
  return outcome;
}

/// A failure must carry a message starting with the path, an error code of
/// the readers, and leave the output tensor empty.
bool goodFailure(const Status &st, const std::string &path, const Tensor &t) {
  if (st.ok())
    return false;
  if (st.message().empty() || st.message().rfind(path, 0) != 0) {
    fprintf(stderr, "message does not start with the path: '%s'\n",
            st.message().c_str());
    return false;
  }
  if (st.code() != ErrorCode::InvalidArgument &&
      st.code() != ErrorCode::Unsupported) {
    fprintf(stderr, "unexpected code %s\n", errorCodeName(st.code()));
    return false;
  }
  if (!t.shape.empty() || !t.data.empty()) {
    fprintf(stderr, "failure left a tensor of shape %s, %zu elements\n",
            t.shapeStr().c_str(), t.data.size());
    return false;
  }
  return true;
}

Outcome classify(const Status &st) {
  if (st.message().find("non-finite value") != std::string::npos)
    return RejectedNonFinite;
  return st.code() == ErrorCode::Unsupported ? RejectedUnsupported
                                             : RejectedMalformed;
}

/// A tensor a reader accepted, against the `nbytes` bytes at `at` that it
/// was decoded from: shape, size and bit-exact values.
bool goodTensor(const Tensor &t, const std::string &bytes, size_t at,
                size_t nbytes, std::string &why) {
  if (static_cast<int64_t>(t.shape.size()) > ReadLimits().maxRank) {
    why = "rank " + std::to_string(t.shape.size()) + " above the limit";
    return false;
  }
  int64_t n = 1;
  for (int64_t d : t.shape) {
    if (d < 0 || (d != 0 && __builtin_mul_overflow(n, d, &n))) {
      why = "shape " + t.shapeStr() + " has a negative or overflowing dim";
      return false;
    }
    if (d == 0)
      n = 0;
  }
  if (n != static_cast<int64_t>(t.data.size())) {
    why = "shape " + t.shapeStr() + " holds " + std::to_string(n) +
          " elements, data " + std::to_string(t.data.size());
    return false;
  }
  int64_t eb = dtypeBytes(t.fileType);
  if (static_cast<int64_t>(nbytes) != n * eb || at + nbytes > bytes.size()) {
    why = "the tensor's " + std::to_string(n) + " " + dtypeName(t.fileType) +
          " elements do not fill the " + std::to_string(nbytes) +
          " data bytes at " + std::to_string(at);
    return false;
  }
  for (int64_t i = 0; i < n; ++i) {
    float want = decodeAt(bytes, at + i * eb, t.fileType);
    if (!std::isfinite(t.data[i]) ||
        std::memcmp(&want, &t.data[i], sizeof(float)) != 0) {
      why = "element " + std::to_string(i) + " is " +
            std::to_string(t.data[i]) + ", the bytes say " +
            std::to_string(want);
      return false;
    }
  }
  return true;
}

/// checkLayerShapes on q/k/v, as minfer-search does after reading a layer.
Outcome searchCheck(const Tensor &q, const Tensor &k, const Tensor &v,
                    std::string &message, std::string &why) {
  LayerTensors lt{q.shape, k.shape, v.shape, &q.data, &k.data, &v.data};
  Status st = checkLayerShapes(lt, "fuzz");
  if (!st.ok()) {
    message = st.message();
    return SearchRejects;
  }
  for (const Tensor *t : {&q, &k, &v}) {
    bool ok = t->shape.size() == 4;
    for (int64_t d : t->shape)
      ok = ok && d > 0;
    if (!ok || product(t->shape) != static_cast<int64_t>(t->data.size())) {
      why = "checkLayerShapes accepted shape " + t->shapeStr();
      return BrokenAcceptance;
    }
  }
  return Usable;
}

/// The expectation of a seed (or a seed with only values written).
int checkExpectation(const Expectation &e, Outcome o, const std::string &msg) {
  bool met = true;
  switch (e.kind) {
  case Expect::Any:
    break;
  case Expect::Usable:
    met = o == Usable;
    break;
  case Expect::SearchRejects:
    met = o == SearchRejects && msg.find(e.text) != std::string::npos;
    break;
  case Expect::ReaderRejects:
    met = o <= RejectedNonFinite && msg.find(e.text) != std::string::npos;
    break;
  }
  if (met)
    return o;
  fprintf(stderr, "expected %s '%s', got '%s': %s\n",
          e.kind == Expect::Usable          ? "usable"
          : e.kind == Expect::SearchRejects ? "search rejection"
                                            : "reader rejection",
          e.text.c_str(), kOutcomeNames[o].c_str(), msg.c_str());
  return MissedExpectation;
}

int runNpy(const std::string &bytes, const Meta &meta) {
  std::string path =
      gTempDir + "/input-" + std::to_string(getpid()) + ".npy";
  if (!writeFile(path, bytes))
    return finding(HarnessError, "cannot write %s", path);
  Tensor file, mem;
  file.shape = mem.shape = {7, 7}; // the readers must reset these
  file.data = mem.data = {7.0f};
  Status sf = readNpy(path, file);
  Status sm = parseNpy(bytes, path, mem);
  unlink(path.c_str());
  if (sf.ok() != sm.ok() || sf.message() != sm.message() ||
      sf.code() != sm.code() || file.shape != mem.shape ||
      file.fileType != mem.fileType ||
      file.data.size() != mem.data.size() ||
      (!file.data.empty() &&
       std::memcmp(file.data.data(), mem.data.data(),
                   file.data.size() * sizeof(float)) != 0))
    return finding(ReadersDisagree, "readNpy and parseNpy disagree: %s",
                   "'" + sf.str() + "' vs '" + sm.str() + "'");
  if (!sf.ok()) {
    if (!goodFailure(sf, path, file))
      return finding(BadFailure, "bad failure: %s", sf.str());
    return checkExpectation(meta.expect, classify(sf), sf.message());
  }
  // Independent layout: prefix, header length, then exactly the data.
  std::string why;
  int major = static_cast<uint8_t>(bytes[6]);
  size_t prefix = major == 1 ? 10 : 12;
  if (bytes.size() < prefix || major < 1 || major > 3 ||
      bytes.compare(0, 6, "\x93NUMPY") != 0)
    return finding(BrokenAcceptance, "accepted a file with a bad prefix%s", "");
  size_t at = prefix + getLE(bytes, 8, static_cast<int>(prefix - 8));
  if (at > bytes.size())
    return finding(BrokenAcceptance, "accepted a header past the end%s", "");
  if (!goodTensor(file, bytes, at, bytes.size() - at, why))
    return finding(BrokenAcceptance, "accepted npy: %s", why);
  std::string msg;
  Outcome o = searchCheck(file, file, file, msg, why);
  if (o == BrokenAcceptance)
    return finding(BrokenAcceptance, "%s", why);
  return checkExpectation(meta.expect, o, msg);
}

int runSafetensors(const std::string &bytes, const Meta &meta) {
  std::string path =
      gTempDir + "/input-" + std::to_string(getpid()) + ".safetensors";
  if (!writeFile(path, bytes))
    return finding(HarnessError, "cannot write %s", path);
  struct Unlink {
    std::string p;
    ~Unlink() { unlink(p.c_str()); }
  } cleanup{path};
  SafetensorsFile f;
  Status st = f.open(path);
  if (!st.ok()) {
    Tensor none;
    if (!goodFailure(st, path, none))
      return finding(BadFailure, "bad failure of open(): %s", st.str());
    if (!f.entries().empty())
      return finding(BadFailure, "failed open() left %s entries",
                     std::to_string(f.entries().size()));
    int o = checkExpectation(meta.expect, classify(st), st.message());
    if (o != MissedExpectation && !meta.expect.readErrors.empty()) {
      fprintf(stderr, "open() failed, but reads were to fail instead: %s\n",
              st.message().c_str());
      return MissedExpectation;
    }
    return o;
  }
  // The header as open() saw it, re-derived from the bytes.
  uint64_t n = getLE(bytes, 0, 8);
  int64_t dataStart = 8 + static_cast<int64_t>(n);
  int64_t dataSize = static_cast<int64_t>(bytes.size()) - dataStart;
  if (n > bytes.size() || dataSize < 0)
    return finding(BrokenAcceptance, "accepted a header past the end%s", "");
  std::set<std::string> names;
  std::vector<std::pair<int64_t, int64_t>> spans;
  for (const SafetensorsEntry &e : f.entries()) {
    std::string w = "tensor '" + e.name + "': ";
    if (!names.insert(e.name).second || e.name == "__metadata__")
      return finding(BrokenAcceptance, "duplicate or reserved name %s", w);
    if (e.begin < 0 || e.begin > e.end || e.end > dataSize)
      return finding(BrokenAcceptance, "%s offsets outside the data buffer",
                     w);
    if (static_cast<int64_t>(e.shape.size()) > ReadLimits().maxRank)
      return finding(BrokenAcceptance, "%s rank above the limit", w);
    bool supported = e.dtype == "F32" || e.dtype == "F16" || e.dtype == "BF16";
    if (supported != e.supported ||
        (supported && e.dtype != dtypeName(e.type)))
      return finding(BrokenAcceptance, "%s dtype misclassified", w);
    int64_t numel = 1;
    for (int64_t d : e.shape) {
      if (d < 0 || (d != 0 && __builtin_mul_overflow(numel, d, &numel)))
        return finding(BrokenAcceptance, "%s bad shape", w);
      if (d == 0)
        numel = 0;
    }
    if (supported && (__builtin_mul_overflow(numel, dtypeBytes(e.type), &numel) ||
                      numel != e.end - e.begin))
      return finding(BrokenAcceptance, "%s data_offsets do not match shape x "
                                       "dtype",
                     w);
    if (e.end > e.begin)
      spans.push_back({e.begin, e.end});
  }
  std::sort(spans.begin(), spans.end());
  for (size_t i = 1; i < spans.size(); ++i)
    if (spans[i].first < spans[i - 1].second)
      return finding(BrokenAcceptance,
                     "accepted tensors that share bytes: %s",
                     "[" + std::to_string(spans[i - 1].first) + ", " +
                         std::to_string(spans[i - 1].second) + ") and [" +
                         std::to_string(spans[i].first) + ", " +
                         std::to_string(spans[i].second) + ")");
  // Every entry: read() fails only on a foreign dtype or a non-finite value.
  std::map<std::string, Tensor> tensors;
  std::map<std::string, Status> statuses;
  for (const SafetensorsEntry &e : f.entries()) {
    Tensor t;
    t.shape = {7, 7};
    t.data = {7.0f};
    Status rs = f.read(e.name, t);
    std::string why;
    if (rs.ok()) {
      if (!e.supported || t.shape != e.shape || t.fileType != e.type ||
          !goodTensor(t, bytes, dataStart + e.begin, e.end - e.begin, why))
        return finding(BrokenAcceptance, "read of %s",
                       "'" + e.name + "': " + why);
    } else {
      if (!goodFailure(rs, path, t))
        return finding(BadFailure, "bad failure of read(): %s", rs.str());
      bool expected = e.supported ? classify(rs) == RejectedNonFinite
                                  : rs.code() == ErrorCode::Unsupported;
      if (!expected)
        return finding(BrokenAcceptance,
                       "open() accepted a tensor that read() rejects: %s",
                       rs.str());
    }
    statuses[e.name] = rs;
    tensors[e.name] = std::move(t);
  }
  for (const auto &[name, text] : meta.expect.readErrors) {
    auto it = statuses.find(name);
    if (it == statuses.end() || it->second.ok() ||
        it->second.message().find(text) == std::string::npos) {
      fprintf(stderr, "read('%s') was to fail with '%s', got '%s'\n",
              name.c_str(), text.c_str(),
              it == statuses.end() ? "no such tensor"
                                   : it->second.str().c_str());
      return MissedExpectation;
    }
  }
  // minfer-search: layers.<i>.q/k/v for i = 0, 1, ..., each checked.
  int64_t layers = 0;
  while (f.find("layers." + std::to_string(layers) + ".q"))
    ++layers;
  Outcome o = layers == 0 ? NoLayers : Usable;
  std::string msg;
  for (int64_t l = 0; l < layers && o == Usable; ++l) {
    std::string p = "layers." + std::to_string(l) + ".";
    if (!f.find(p + "k") || !f.find(p + "v")) {
      o = NoLayers;
      break;
    }
    for (const char *x : {"q", "k", "v"})
      if (!statuses[p + x].ok()) {
        msg = statuses[p + x].message();
        o = classify(statuses[p + x]);
        break;
      }
    if (o != Usable)
      break;
    std::string why;
    o = searchCheck(tensors[p + "q"], tensors[p + "k"], tensors[p + "v"], msg,
                    why);
    if (o == BrokenAcceptance)
      return finding(BrokenAcceptance, "%s", why);
  }
  if (!meta.expect.readErrors.empty())
    return o; // the outcome depends on which tensor was hit
  return checkExpectation(meta.expect, o, msg);
}

int runChild(size_t index, const std::string &bytes) {
  const std::string &origin = gInputs[index].origin;
  if (!gOpts.abortOn.empty() && origin == gOpts.abortOn)
    abort();
  while (!gOpts.hangOn.empty() && origin == gOpts.hangOn)
    sched_yield();
  const Meta &m = gMeta[index];
  return m.format == Format::Npy ? runNpy(bytes, m) : runSafetensors(bytes, m);
}

bool parseArgs(int argc, char **argv, Options &o) {
  for (int i = 1; i < argc; ++i) {
    const char *a = argv[i];
    auto value = [&](const char *name) -> const char * {
      size_t n = strlen(name);
      return strncmp(a, name, n) == 0 && a[n] == '=' ? a + n + 1 : nullptr;
    };
    if (parseCommonOption(a, o))
      continue;
    if (const char *v = value("--abort-on"))
      o.abortOn = v;
    else if (const char *v = value("--hang-on"))
      o.hangOn = v;
    else {
      fprintf(stderr,
              "usage: minfer-fuzz-tensors [--iterations=N] [--seed=S] "
              "[--jobs=J] [--timeout=SECONDS] [--crash-dir=DIR] "
              "[--corpus-dir=DIR]...\n"
              "  (self-tests: --abort-on=SEED / --hang-on=SEED make the "
              "child abort / spin on that seed's inputs)\n");
      return false;
    }
  }
  return true;
}

} // namespace

int main(int argc, char **argv) {
  if (!parseArgs(argc, argv, gOpts))
    return 2;
  const Options &opts = gOpts;
  auto start = std::chrono::steady_clock::now();

  const char *tmp = getenv("TMPDIR");
  std::string tmpl = std::string(tmp && *tmp ? tmp : "/tmp") +
                     "/minfer-fuzz-tensors-XXXXXX";
  std::vector<char> buf(tmpl.begin(), tmpl.end());
  buf.push_back('\0');
  if (!mkdtemp(buf.data())) {
    fprintf(stderr, "minfer-fuzz-tensors: cannot create %s\n", tmpl.c_str());
    return 2;
  }
  gTempDir = buf.data();

  std::vector<Seed> seeds = builtinSeeds(gTempDir);
  size_t builtin = seeds.size();
  for (const std::string &dir : opts.corpusDirs)
    for (Format fmt : {Format::Npy, Format::Safetensors})
      for (const std::string &file :
           listFiles(dir, fmt == Format::Npy ? ".npy" : ".safetensors")) {
        Seed s;
        s.name = file;
        s.format = fmt;
        s.structured = false;
        if (readFile(file, s.raw))
          seeds.push_back(s);
      }

  // Seeds first, then mutants; gMeta runs parallel to gInputs.
  for (const Seed &s : seeds) {
    gInputs.push_back({s.bytes(), s.name, ""});
    gMeta.push_back({s.format, s.expect});
  }
  Rng rng(opts.seed);
  size_t attempts = 0;
  while (gInputs.size() < seeds.size() + opts.iterations &&
         attempts++ < 100 * (opts.iterations + 1)) {
    const Seed &from = rng.pick(seeds);
    Input in{"", from.name, ""};
    Meta meta{from.format, {}};
    bool valuesOnly = true;
    unsigned n = 1 + rng.below(3);
    if (from.structured) {
      NpyDoc npy = from.npy;
      StDoc st = from.st;
      Injections npyInj;
      std::map<std::string, Injections> stInj;
      unsigned byteOps = 0;
      for (unsigned i = 0; i < n; ++i) {
        if (rng.percent(70)) {
          if (from.format == Format::Npy)
            mutateNpy(npy, rng, in.mutations, valuesOnly, npyInj);
          else
            mutateSt(st, rng, in.mutations, valuesOnly, stInj);
        } else {
          ++byteOps;
        }
      }
      in.text = from.format == Format::Npy ? npy.bytes() : st.bytes();
      for (unsigned i = 0; i < byteOps; ++i)
        valuesOnly &= !mutateBytes(in.text, from.format, rng, in.mutations);
      // Only values written: the outcome is still known.
      if (valuesOnly && !in.mutations.empty()) {
        meta.expect = from.expect;
        if (from.format == Format::Npy && !npyInj.empty()) {
          meta.expect.kind = Expect::ReaderRejects;
          meta.expect.text = nonFiniteMessage(npyInj);
        }
        for (const auto &[name, inj] : stInj)
          if (!inj.empty())
            meta.expect.readErrors[name] =
                "tensor '" + name + "': " + nonFiniteMessage(inj);
      }
    } else {
      in.text = from.raw;
      for (unsigned i = 0; i < n; ++i)
        mutateBytes(in.text, from.format, rng, in.mutations);
    }
    if (!in.mutations.empty()) {
      gInputs.push_back(std::move(in));
      gMeta.push_back(meta);
    }
  }
  printf("minfer-fuzz-tensors: %zu seeds (%zu built in), %zu mutants, "
         "seed %llu, %u jobs\n",
         seeds.size(), builtin, gInputs.size() - seeds.size(),
         static_cast<unsigned long long>(opts.seed), opts.jobs);

  Stats npySeeds(kOutcomeNames), npyMutants(kOutcomeNames),
      stSeeds(kOutcomeNames), stMutants(kOutcomeNames);
  size_t findings = 0;
  mkdir(opts.crashDir.c_str(), 0755);
  runForked(gInputs, opts.jobs, opts.timeout, runChild,
            [&](size_t index, const Result &r) {
              bool npy = gMeta[index].format == Format::Npy;
              bool seed = index < seeds.size();
              (npy ? (seed ? npySeeds : npyMutants)
                   : (seed ? stSeeds : stMutants))
                  .add(r);
              findings += reportResult(
                  "minfer-fuzz-tensors", opts.crashDir,
                  npy ? ".npy" : ".safetensors", index, gInputs[index], r,
                  kOutcomeNames, isFinding(r.outcome), /*echoOutput=*/true);
            });

  // Children that crashed may have left their temp file.
  for (const std::string &f : listFiles(gTempDir, ""))
    unlink(f.c_str());
  rmdir(gTempDir.c_str());

  double seconds =
      std::chrono::duration<double>(std::chrono::steady_clock::now() - start)
          .count();
  size_t known = 0;
  for (const Meta &m : gMeta)
    known += m.expect.kind != Expect::Any || !m.expect.readErrors.empty();
  npySeeds.print(stdout, ".npy seeds", 0);
  npyMutants.print(stdout, ".npy mutants", 0);
  stSeeds.print(stdout, ".safetensors seeds", 0);
  stMutants.print(stdout, ".safetensors mutants", 0);
  printf("all: %zu inputs (%zu with an expected outcome) in %.1f s\n",
         gInputs.size(), known, seconds);
  size_t crashes = npySeeds.crashes + npyMutants.crashes + stSeeds.crashes +
                   stMutants.crashes;
  size_t hangs =
      npySeeds.hangs + npyMutants.hangs + stSeeds.hangs + stMutants.hangs;
  if (npySeeds.outcomes[Usable] + stSeeds.outcomes[Usable] == 0 &&
      crashes + hangs == 0) {
    fprintf(stderr, "minfer-fuzz-tensors: no seed was usable; are the seed "
                    "writers broken?\n");
    return 2;
  }
  if (crashes + hangs + findings == 0)
    return 0;
  printf("FAIL: %zu crash(es), %zu hang(s), %zu finding(s); inputs in %s\n",
         crashes, hangs, findings, opts.crashDir.c_str());
  return 1;
}
