//===- TensorIOTest.cpp - .npy / .safetensors readers, good and bad files -===//
//
// Round trips of every supported dtype through files in a temp directory,
// then one malformed file per failure mode, each checked for its message.
//
//===----------------------------------------------------------------------===//
#include "TestUtil.h"
#include "minfer/Runtime/Reference.h"
#include "minfer/Search/TensorIO.h"
#include <gtest/gtest.h>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <random>

using namespace minfer;
using namespace minfer::search;
using namespace minfer::search::test;

namespace {

/// A .npy image with the given dict text (padded) and payload.
std::string npyImage(const std::string &dict, const std::string &payload,
                     int major = 1) {
  std::string h = dict;
  size_t prefix = major == 1 ? 10 : 12;
  h.append((64 - (prefix + h.size() + 1) % 64) % 64, ' ');
  h += '\n';
  std::string out("\x93NUMPY", 6);
  out += static_cast<char>(major);
  out += '\0';
  for (size_t i = 0; i < (major == 1 ? 2u : 4u); ++i)
    out += static_cast<char>((h.size() >> (8 * i)) & 0xFF);
  return out + h + payload;
}

std::string f32Bytes(const std::vector<float> &v) {
  std::string s(v.size() * 4, '\0');
  std::memcpy(&s[0], v.data(), s.size());
  return s;
}
std::string u16Bytes(const std::vector<uint16_t> &v) {
  std::string s(v.size() * 2, '\0');
  std::memcpy(&s[0], v.data(), s.size());
  return s;
}

Tensor sample(std::vector<int64_t> shape) {
  Tensor t;
  t.shape = shape;
  t.data.resize(t.numel());
  for (size_t i = 0; i < t.data.size(); ++i)
    t.data[i] = std::sin(0.37f * i) * 3.0f; // exact in bf16 after rounding
  return t;
}

/// The error text of reading `bytes` as a .npy file.
std::string npyError(TempDir &dir, const std::string &bytes) {
  std::string path = dir.file("bad" + std::to_string(std::rand()) + ".npy");
  writeBytes(path, bytes);
  Tensor t;
  Status st = readNpy(path, t);
  EXPECT_FALSE(st.ok());
  Tensor t2;
  Status mem = parseNpy(bytes, path, t2);
  EXPECT_EQ(mem.message(), st.message()) << "file and memory readers differ";
  return st.message();
}

TEST(Npy, RoundTripEveryDtype) {
  TempDir dir;
  ASSERT_TRUE(dir.ok());
  Tensor t = sample({2, 3, 5, 4});
  for (DType dt : {DType::F32, DType::F16, DType::BF16}) {
    std::string p = dir.file(std::string("t_") + dtypeName(dt) + ".npy");
    ASSERT_TRUE(writeNpy(p, t, dt).ok());
    Tensor r;
    Status st = readNpy(p, r);
    ASSERT_TRUE(st.ok()) << st.str();
    EXPECT_EQ(r.shape, t.shape);
    EXPECT_EQ(r.fileType, dt);
    ASSERT_EQ(r.data.size(), t.data.size());
    for (size_t i = 0; i < t.data.size(); ++i) {
      float want = dt == DType::F32   ? t.data[i]
                   : dt == DType::F16 ? ref::f16ToFloat(ref::floatToF16(t.data[i]))
                                      : ref::bf16ToFloat(ref::floatToBf16(t.data[i]));
      EXPECT_EQ(r.data[i], want) << dtypeName(dt) << " element " << i;
    }
  }
}

TEST(Npy, Bf16AsVoidAndV2Header) {
  std::vector<uint16_t> bits = {0x3F80, 0xC000, 0x4049}; // 1, -2, 3.140625
  for (const char *descr : {"|V2", "<V2", "<u2"}) {
    std::string img = npyImage(std::string("{'descr': '") + descr +
                                   "', 'fortran_order': False, 'shape': (3,), }",
                               u16Bytes(bits), 2);
    Tensor t;
    Status st = parseNpy(img, "mem", t);
    ASSERT_TRUE(st.ok()) << descr << ": " << st.str();
    EXPECT_EQ(t.fileType, DType::BF16);
    EXPECT_EQ(t.shape, std::vector<int64_t>{3});
    EXPECT_EQ(t.data, (std::vector<float>{1.0f, -2.0f, 3.140625f}));
  }
}

TEST(Npy, ScalarAndKeyOrder) {
  std::string img = npyImage(
      "{'shape': (), 'fortran_order': False, 'descr': '<f4'}", f32Bytes({7}));
  Tensor t;
  ASSERT_TRUE(parseNpy(img, "mem", t).ok());
  EXPECT_TRUE(t.shape.empty());
  EXPECT_EQ(t.data, std::vector<float>{7});
}

TEST(Npy, BadFilesGetClearErrors) {
  TempDir dir;
  ASSERT_TRUE(dir.ok());
  const std::string ok = "{'descr': '<f4', 'fortran_order': False, "
                         "'shape': (2, 2), }";
  const std::string four = f32Bytes({1, 2, 3, 4});

  EXPECT_CONTAINS(npyError(dir, "PK\x03\x04 not numpy at all"),
                  "not a .npy file (bad magic)");
  EXPECT_CONTAINS(npyError(dir, npyImage(ok, f32Bytes({1, 2, 3}))),
                  "truncated data (shape [2, 2] needs 16 bytes, file has 12)");
  EXPECT_CONTAINS(npyError(dir, npyImage(ok, four + "xx")),
                  "2 trailing bytes");
  EXPECT_CONTAINS(npyError(dir, npyImage(ok, "")), "truncated data");
  // v2 header declaring 1 GiB of header.
  std::string huge("\x93NUMPY\x02\x00\x00\x00\x00\x40", 12);
  EXPECT_CONTAINS(npyError(dir, huge + ok), ".npy header too large");
  // v1 header longer than the file.
  std::string shortHdr("\x93NUMPY\x01\x00\xff\x00{'descr'", 18);
  EXPECT_CONTAINS(npyError(dir, shortHdr), "truncated .npy header");
  EXPECT_CONTAINS(npyError(dir, std::string("\x93NUMPY\x01", 7)),
                  "not a .npy file");
  EXPECT_CONTAINS(
      npyError(dir, npyImage("{'descr': '<f4', 'fortran_order': False}", four)),
      "malformed .npy header: header lacks");
  EXPECT_CONTAINS(npyError(dir, npyImage("{'descr': '<f4', 'shape': (2, x)",
                                         four)),
                  "malformed .npy header");
  EXPECT_CONTAINS(npyError(dir, npyImage("not a dict", four)),
                  "malformed .npy header: expected '{'");
  EXPECT_CONTAINS(
      npyError(dir, npyImage("{'descr': '<f4', 'fortran_order': False, "
                             "'shape': (99999999999, 99999999999, 9999999), }",
                             four)),
      "overflows");
  EXPECT_CONTAINS(
      npyError(dir, npyImage("{'descr': '<f8', 'fortran_order': False, "
                             "'shape': (2,), }",
                             four)),
      "unsupported dtype '<f8'");
  EXPECT_CONTAINS(
      npyError(dir, npyImage("{'descr': '>f4', 'fortran_order': False, "
                             "'shape': (2, 2), }",
                             four)),
      "unsupported dtype '>f4'");
  EXPECT_CONTAINS(
      npyError(dir, npyImage("{'descr': '<f4', 'fortran_order': True, "
                             "'shape': (2, 2), }",
                             four)),
      "Fortran-order arrays are not supported");
  EXPECT_CONTAINS(
      npyError(dir, npyImage("{'descr': '<f4', 'fortran_order': False, "
                             "'shape': (1, 1, 1, 1, 1, 1, 1, 1, 1), }",
                             f32Bytes({1}))),
      "rank 9 exceeds the limit 8");
  EXPECT_CONTAINS(npyError(dir, npyImage(ok, f32Bytes({1, NAN, 3, 4}))),
                  "non-finite value (nan) at flat element 1");
  EXPECT_CONTAINS(
      npyError(dir, npyImage("{'descr': '<f2', 'fortran_order': False, "
                             "'shape': (2,), }",
                             u16Bytes({0x3C00, 0x7C00}))),
      "non-finite value (inf) at flat element 1");
  std::string v9 = npyImage(ok, four);
  v9[6] = 9;
  EXPECT_CONTAINS(npyError(dir, v9), "unsupported .npy format version 9");

  Tensor t;
  Status st = readNpy(dir.file("missing.npy"), t);
  EXPECT_CONTAINS(st.message(), "cannot open");
}

/// A .safetensors image with the given header text and data buffer.
std::string stImage(const std::string &header, const std::string &data) {
  std::string out;
  for (int i = 0; i < 8; ++i)
    out += static_cast<char>((uint64_t(header.size()) >> (8 * i)) & 0xFF);
  return out + header + data;
}

std::string stOpenError(TempDir &dir, const std::string &bytes) {
  std::string path = dir.file("bad" + std::to_string(std::rand()) +
                              ".safetensors");
  writeBytes(path, bytes);
  SafetensorsFile f;
  Status st = f.open(path);
  EXPECT_FALSE(st.ok());
  return st.message();
}

TEST(Safetensors, RoundTripEveryDtype) {
  TempDir dir;
  ASSERT_TRUE(dir.ok());
  Tensor a = sample({1, 2, 8, 4}), b = sample({3});
  for (DType dt : {DType::F32, DType::F16, DType::BF16}) {
    std::string p = dir.file(std::string("t_") + dtypeName(dt) +
                             ".safetensors");
    ASSERT_TRUE(writeSafetensors(p, {{"layers.0.q", a}, {"x", b}}, dt).ok());
    SafetensorsFile f;
    Status st = f.open(p);
    ASSERT_TRUE(st.ok()) << st.str();
    ASSERT_EQ(f.entries().size(), 2u);
    Tensor r;
    ASSERT_TRUE(f.read("layers.0.q", r).ok());
    EXPECT_EQ(r.shape, a.shape);
    EXPECT_EQ(r.fileType, dt);
    for (size_t i = 0; i < a.data.size(); ++i)
      EXPECT_NEAR(r.data[i], a.data[i], dt == DType::F32 ? 0 : 0.02f);
    ASSERT_TRUE(f.read("x", r).ok());
    EXPECT_EQ(r.shape, b.shape);
    EXPECT_CONTAINS(f.read("nope", r).message(), "no tensor named 'nope'");
  }
}

TEST(Safetensors, MetadataAndForeignDtypesAreTolerated) {
  TempDir dir;
  ASSERT_TRUE(dir.ok());
  std::string data = f32Bytes({1, 2}) + std::string(16, '\0');
  std::string p = dir.file("meta.safetensors");
  writeBytes(p, stImage("{\"__metadata__\": {\"format\": \"pt\"}, "
                        "\"w\": {\"dtype\": \"F32\", \"shape\": [2], "
                        "\"data_offsets\": [0, 8]}, "
                        "\"ids\": {\"dtype\": \"I64\", \"shape\": [2], "
                        "\"data_offsets\": [8, 24]}}",
                        data));
  SafetensorsFile f;
  Status st = f.open(p);
  ASSERT_TRUE(st.ok()) << st.str();
  Tensor t;
  ASSERT_TRUE(f.read("w", t).ok());
  EXPECT_EQ(t.data, (std::vector<float>{1, 2}));
  st = f.read("ids", t);
  EXPECT_EQ(st.code(), ErrorCode::Unsupported);
  EXPECT_CONTAINS(st.message(), "unsupported dtype 'I64'");
}

TEST(Safetensors, BadFilesGetClearErrors) {
  TempDir dir;
  ASSERT_TRUE(dir.ok());
  const std::string eight = f32Bytes({1, 2});
  auto entry = [](const std::string &body) {
    return "{\"t\": {" + body + "}}";
  };
  const std::string good =
      "\"dtype\": \"F32\", \"shape\": [2], \"data_offsets\": [0, 8]";

  EXPECT_CONTAINS(stOpenError(dir, "abc"), "truncated safetensors file");
  std::string huge("\x00\x00\x00\x00\x00\x01\x00\x00", 8);
  EXPECT_CONTAINS(stOpenError(dir, huge + "{}"),
                  "safetensors header too large");
  std::string longer("\x00\x10\x00\x00\x00\x00\x00\x00", 8);
  EXPECT_CONTAINS(stOpenError(dir, longer + "{}"),
                  "truncated safetensors header");
  EXPECT_CONTAINS(stOpenError(dir, stImage("{\"t\": [1, 2", eight)),
                  "malformed safetensors header: malformed JSON");
  EXPECT_CONTAINS(stOpenError(dir, stImage("[1, 2]", eight)),
                  "the header is not a JSON object");
  EXPECT_CONTAINS(stOpenError(dir, stImage(std::string(100, '[') +
                                               std::string(100, ']'),
                                           eight)),
                  "nesting deeper than 64");
  EXPECT_CONTAINS(stOpenError(dir, stImage("{\"t\": {" + good + "}, \"t\": {" +
                                               good + "}}",
                                           eight)),
                  "duplicate key \"t\"");
  EXPECT_CONTAINS(stOpenError(dir, stImage(entry("\"shape\": [2], "
                                                 "\"data_offsets\": [0, 8]"),
                                           eight)),
                  "tensor 't' lacks a string 'dtype'");
  EXPECT_CONTAINS(stOpenError(dir, stImage(entry("\"dtype\": \"F32\", "
                                                 "\"shape\": [-2], "
                                                 "\"data_offsets\": [0, 8]"),
                                           eight)),
                  "shape entries must be non-negative integers");
  EXPECT_CONTAINS(stOpenError(dir, stImage(entry("\"dtype\": \"F32\", "
                                                 "\"shape\": [4], "
                                                 "\"data_offsets\": [0, 16]"),
                                           eight)),
                  "truncated data: tensor 't' data_offsets [0, 16] exceed the "
                  "8-byte data buffer");
  EXPECT_CONTAINS(stOpenError(dir, stImage(entry("\"dtype\": \"F32\", "
                                                 "\"shape\": [3], "
                                                 "\"data_offsets\": [0, 8]"),
                                           eight)),
                  "needs 12 bytes, data_offsets span 8");
  EXPECT_CONTAINS(stOpenError(dir, stImage(entry("\"dtype\": \"F32\", "
                                                 "\"shape\": [2], "
                                                 "\"data_offsets\": [8, 0]"),
                                           eight)),
                  "exceed the");

  // Non-finite data is found on read().
  std::string p = dir.file("inf.safetensors");
  writeBytes(p, stImage(entry(good), f32Bytes({1, INFINITY})));
  SafetensorsFile f;
  ASSERT_TRUE(f.open(p).ok());
  Tensor t;
  EXPECT_CONTAINS(f.read("t", t).message(),
                  "tensor 't': non-finite value (inf) at flat element 1");
}

// Found by minfer-fuzz-tensors: a header whose tensors share bytes was
// accepted (two aliased tensors, e.g. q and k, read the same data), and a
// failed open() left the entries parsed before the bad one in entries().
TEST(Safetensors, OverlappingTensorsAreRejected) {
  TempDir dir;
  ASSERT_TRUE(dir.ok());
  const std::string data = f32Bytes({1, 2, 3, 4});
  auto two = [](const char *a, const char *b) {
    return std::string("{\"q\": {\"dtype\": \"F32\", \"shape\": [2], "
                       "\"data_offsets\": ") +
           a +
           "}, \"k\": {\"dtype\": \"F32\", \"shape\": [2], "
           "\"data_offsets\": " +
           b + "}}";
  };
  // The same bytes twice, and a range straddling its neighbour.
  EXPECT_CONTAINS(stOpenError(dir, stImage(two("[0, 8]", "[0, 8]"), data)),
                  "malformed safetensors header: tensors 'q' (data_offsets "
                  "[0, 8]) and 'k' (data_offsets [0, 8]) overlap");
  EXPECT_CONTAINS(stOpenError(dir, stImage(two("[8, 16]", "[4, 12]"), data)),
                  "tensors 'k' (data_offsets [4, 12]) and 'q' (data_offsets "
                  "[8, 16]) overlap");
  // Adjacent, in any order, and empty tensors anywhere are fine.
  for (const auto &[a, b] : std::vector<std::pair<const char *, const char *>>{
           {"[8, 16]", "[0, 8]"}, {"[0, 8]", "[8, 16]"}}) {
    std::string p = dir.file("adjacent" + std::to_string(std::rand()) +
                             ".safetensors");
    writeBytes(p, stImage(two(a, b), data));
    SafetensorsFile f;
    Status st = f.open(p);
    EXPECT_TRUE(st.ok()) << st.str();
  }
  std::string p = dir.file("empty.safetensors");
  writeBytes(p, stImage("{\"q\": {\"dtype\": \"F32\", \"shape\": [2], "
                        "\"data_offsets\": [0, 8]}, \"e\": {\"dtype\": "
                        "\"F32\", \"shape\": [0], \"data_offsets\": [4, 4]}}",
                        data));
  SafetensorsFile f;
  Status st = f.open(p);
  EXPECT_TRUE(st.ok()) << st.str();
}

// Also from the fuzzer: a tensor of an unknown dtype skipped the shape
// checks, so entries() could hold a shape whose element count overflows.
TEST(Safetensors, UnknownDtypeShapeMustNotOverflow) {
  TempDir dir;
  ASSERT_TRUE(dir.ok());
  EXPECT_CONTAINS(
      stOpenError(dir, stImage("{\"x\": {\"dtype\": \"f32\", \"shape\": "
                               "[16, 4611686018427387903], "
                               "\"data_offsets\": [0, 8]}}",
                               f32Bytes({1, 2}))),
      "tensor 'x': shape [16, 4611686018427387903] overflows");
  // A sane shape of an unknown dtype is still tolerated (read() fails).
  std::string p = dir.file("unknown.safetensors");
  writeBytes(p, stImage("{\"x\": {\"dtype\": \"C64\", \"shape\": [3], "
                        "\"data_offsets\": [0, 8]}}",
                        f32Bytes({1, 2})));
  SafetensorsFile f;
  Status st = f.open(p);
  ASSERT_TRUE(st.ok()) << st.str();
  Tensor t;
  EXPECT_EQ(f.read("x", t).code(), ErrorCode::Unsupported);
}

TEST(Safetensors, FailedOpenLeavesNoEntries) {
  TempDir dir;
  ASSERT_TRUE(dir.ok());
  std::string good = dir.file("good.safetensors");
  ASSERT_TRUE(writeSafetensors(good, {{"a", sample({2})}}).ok());
  // "a" is fine, "b" is not: nothing of the file may stay visible.
  std::string bad = dir.file("bad.safetensors");
  writeBytes(bad, stImage("{\"a\": {\"dtype\": \"F32\", \"shape\": [2], "
                          "\"data_offsets\": [0, 8]}, \"b\": {\"dtype\": "
                          "\"F32\", \"shape\": [3], \"data_offsets\": [0, 8]}}",
                          f32Bytes({1, 2})));
  SafetensorsFile f;
  ASSERT_TRUE(f.open(good).ok());
  ASSERT_EQ(f.entries().size(), 1u);
  Status st = f.open(bad);
  EXPECT_CONTAINS(st.message(), "needs 12 bytes, data_offsets span 8");
  EXPECT_TRUE(f.entries().empty());
  EXPECT_EQ(f.find("a"), nullptr);
  Tensor t;
  EXPECT_CONTAINS(f.read("a", t).message(), "no tensor named 'a'");
  EXPECT_TRUE(t.shape.empty() && t.data.empty());
}

TEST(TensorIO, MutatedFilesNeverCrash) {
  // Byte flips and truncations of valid images: every outcome is a Status.
  TempDir dir;
  ASSERT_TRUE(dir.ok());
  std::mt19937 rng(1234);
  Tensor t = sample({1, 2, 4, 3});
  std::string np = dir.file("ok.npy"), sp = dir.file("ok.safetensors");
  ASSERT_TRUE(writeNpy(np, t, DType::F16).ok());
  ASSERT_TRUE(writeSafetensors(sp, {{"a", t}, {"b", t}}, DType::BF16).ok());
  const std::string npy = readText(np), st = readText(sp);
  auto mutate = [&](std::string s) {
    int edits = 1 + rng() % 4;
    for (int e = 0; e < edits && !s.empty(); ++e) {
      size_t at = rng() % s.size();
      switch (rng() % 3) {
      case 0: s[at] = static_cast<char>(rng()); break;
      case 1: s.resize(at); break;
      case 2: s.insert(at, 1, "0123456789[]{}\",:-"[rng() % 16]); break;
      }
    }
    return s;
  };
  int okCount = 0;
  for (int i = 0; i < 2000; ++i) {
    Tensor r;
    okCount += parseNpy(mutate(npy), "fuzz", r).ok();
  }
  std::string fp = dir.file("fuzz.safetensors");
  for (int i = 0; i < 300; ++i) {
    writeBytes(fp, mutate(st));
    SafetensorsFile f;
    if (!f.open(fp).ok())
      continue;
    for (const SafetensorsEntry &e : f.entries()) {
      Tensor r;
      okCount += f.read(e.name, r).ok();
    }
  }
  EXPECT_GT(okCount, 0); // some mutations only touch data
}

} // namespace
