//===- ConfigTest.cpp - MInference per-head config load / write -----------===//
#include "minfer/Runtime/Config.h"
#include <cstdio>
#include <fstream>
#include <gtest/gtest.h>
#include <random>

using namespace minfer;

static const std::string kInputs = MINFER_RUNTIME_TEST_INPUTS;

/// The expected content of Inputs/llama_2layer_4head.json.
static ModelConfig expectedGood() {
  ModelConfig c;
  c.layers = {{HeadPattern::verticalSlash(1000, 6096),
               HeadPattern::verticalSlash(3500, 100),
               HeadPattern::aShape(100, 800), HeadPattern::blockSparse(100)},
              {HeadPattern::verticalSlash(500, 700),
               HeadPattern::aShape(0, 4096), HeadPattern::blockSparse(16),
               HeadPattern::verticalSlash(30, 800)}};
  c.scores = {{0.33984375, 0.9140625, 0.7890625, 0.5703125},
              {0.87109375, 0.6171875, 0.42578125, 0.98828125}};
  return c;
}

TEST(Config, LoadsGoodFile) {
  ModelConfig c;
  Status st = loadModelConfig(kInputs + "/llama_2layer_4head.json", c);
  ASSERT_TRUE(st.ok()) << st.str();
  EXPECT_EQ(c.numLayers(), 2);
  EXPECT_EQ(c.numHeads(), 4);
  EXPECT_TRUE(c == expectedGood());
  EXPECT_EQ(c.layers[0][2].str(), "#minfer.a_shape<sink = 100, local = 800>");
}

TEST(Config, RoundTrip) {
  ModelConfig a, b, c;
  ASSERT_TRUE(loadModelConfig(kInputs + "/llama_2layer_4head.json", a).ok());
  std::string text = writeModelConfig(a);
  Status st = parseModelConfig(text, b);
  ASSERT_TRUE(st.ok()) << st.str() << "\n" << text;
  EXPECT_TRUE(a == b);
  EXPECT_EQ(writeModelConfig(b), text);
  EXPECT_TRUE(checkModelConfig(a).ok());

  // Scores that need all 17 digits, and the dense extension.
  a.scores[0][0] = 0.1 + 0.2;
  a.scores[1][3] = 1.0 / 3.0;
  a.layers[1][1] = HeadPattern::dense();
  ASSERT_TRUE(parseModelConfig(writeModelConfig(a), c).ok());
  EXPECT_TRUE(a == c);
  EXPECT_EQ(c.scores[0][0], 0.1 + 0.2);
}

TEST(Config, WriterFormat) {
  ModelConfig c;
  c.layers = {{HeadPattern::verticalSlash(1000, 6096), HeadPattern::aShape(4, 64),
               HeadPattern::blockSparse(8)}};
  c.scores = {{0.5, 0.25, 1}};
  EXPECT_EQ(writeModelConfig(c),
            "[\n {\"0\": [\"vertical_and_slash\", 1000, 6096, 0.5], "
            "\"1\": [\"stream_llm\", 4, 64, 0.25], "
            "\"2\": [\"block_sparse\", 8, 8, 1]}\n]\n");
  EXPECT_EQ(writeModelConfig(ModelConfig()), "[]\n");
  ModelConfig empty;
  EXPECT_TRUE(parseModelConfig("[]", empty).ok());
  EXPECT_EQ(empty.numLayers(), 0);
}

TEST(Config, SaveChecksRepresentability) {
  ModelConfig c = expectedGood();
  std::string path = ::testing::TempDir() + "/minfer_config_test.json";
  ASSERT_TRUE(saveModelConfig(c, path).ok());
  ModelConfig back;
  ASSERT_TRUE(loadModelConfig(path, back).ok());
  EXPECT_TRUE(back == c);
  std::remove(path.c_str());

  ModelConfig q = c;
  q.layers[1][2] = HeadPattern::verticalSlash(10, 10, 32);
  Status st = saveModelConfig(q, path);
  EXPECT_EQ(st.code(), ErrorCode::ConfigError);
  EXPECT_NE(st.message().find("layer 1, head 2: last_q 32"), std::string::npos)
      << st.message();
  ModelConfig s = c;
  s.scores[1].pop_back();
  EXPECT_NE(checkModelConfig(s).message().find("layer 1"), std::string::npos);
  ModelConfig v = c;
  v.layers[0][3] = HeadPattern::blockSparse(0);
  EXPECT_NE(checkModelConfig(v).message().find("layer 0, head 3: block_sparse "
                                               "top_k must be positive"),
            std::string::npos);
  EXPECT_EQ(saveModelConfig(c, "/nonexistent-dir/x.json").code(),
            ErrorCode::ConfigError);
}

TEST(Config, AcceptedVariants) {
  ModelConfig c;
  // block_sparse's second value is ignored (any number); 1000.0 is an
  // integer; keys in any order; whitespace anywhere.
  Status st = parseModelConfig(
      R"( [ { "1" : ["block_sparse", 7, 0.5, 1e-3],
              "0" : ["vertical_and_slash", 1000.0, 64, -2] } ] )",
      c);
  ASSERT_TRUE(st.ok()) << st.str();
  EXPECT_EQ(c.layers[0][0], HeadPattern::verticalSlash(1000, 64));
  EXPECT_EQ(c.layers[0][1], HeadPattern::blockSparse(7));
  EXPECT_EQ(c.scores[0][1], 1e-3);
  EXPECT_EQ(c.scores[0][0], -2.0);
}

/// Parses `text`, expects a ConfigError whose message contains each fragment.
static void expectConfigError(const std::string &text,
                              std::initializer_list<const char *> fragments) {
  ModelConfig c;
  c.layers = {{HeadPattern::dense()}};
  c.scores = {{7.0}};
  Status st = parseModelConfig(text, c);
  EXPECT_EQ(st.code(), ErrorCode::ConfigError) << text;
  for (const char *f : fragments)
    EXPECT_NE(st.message().find(f), std::string::npos)
        << "message '" << st.message() << "' lacks '" << f << "'";
  EXPECT_EQ(c.scores[0][0], 7.0) << "output written on failure";
}

static const char *kGoodHead = R"(["vertical_and_slash", 10, 20, 0.5])";
static std::string layerWith(const std::string &body) {
  return std::string("[{\"0\": ") + kGoodHead + ", \"1\": " + kGoodHead +
         "}, " + body + "]";
}

TEST(ConfigErrors, FileNotFound) {
  ModelConfig c;
  Status st = loadModelConfig(kInputs + "/no_such_file.json", c);
  EXPECT_EQ(st.code(), ErrorCode::ConfigError);
  EXPECT_NE(st.message().find("no_such_file.json"), std::string::npos);
  EXPECT_NE(st.message().find("cannot read"), std::string::npos);
}

TEST(ConfigErrors, InvalidJson) {
  expectConfigError(R"([{"0": ["vertical_and_slash", 1, 2, 0.5]})",
                    {"invalid JSON", "[1:"});
  expectConfigError("", {"invalid JSON"});
  expectConfigError("[1,]", {"invalid JSON"});
  expectConfigError("[\"\xff\"]", {"invalid JSON"}); // bad UTF-8
}

TEST(ConfigErrors, FileErrorsNameThePath) {
  std::string path = ::testing::TempDir() + "/minfer_bad_config.json";
  {
    std::ofstream f(path);
    f << "[{\"0\": [\"vertical_and_slash\", 1, 2]}]";
  }
  ModelConfig c;
  Status st = loadModelConfig(path, c);
  EXPECT_NE(st.message().find(path), std::string::npos) << st.message();
  EXPECT_NE(st.message().find("layer 0, head 0"), std::string::npos);
  std::remove(path.c_str());
}

TEST(ConfigErrors, NotAList) {
  expectConfigError(R"({"0": ["vertical_and_slash", 1, 2, 0.5]})",
                    {"JSON list with one object per layer", "an object"});
  expectConfigError("42", {"JSON list", "a number"});
}

TEST(ConfigErrors, LayerNotAnObject) {
  expectConfigError(layerWith("[1, 2]"), {"layer 1:", "got an array"});
  expectConfigError(layerWith("null"), {"layer 1:", "got null"});
  expectConfigError(layerWith("{}"), {"layer 1: has no heads"});
}

TEST(ConfigErrors, HeadKeyNotAnInteger) {
  for (const char *key : {"a", "-1", "01", " 1", "1.0", "", "\\u0031"}) {
    std::string text = layerWith(std::string("{\"0\": ") + kGoodHead +
                                 ", \"" + key + "\": " + kGoodHead + "}");
    expectConfigError(text, {"layer 1:", "is not an integer", key});
  }
}

TEST(ConfigErrors, DuplicateHead) {
  // llvm::json alone would silently keep the last one.
  expectConfigError(layerWith(std::string("{\"0\": ") + kGoodHead +
                              ", \"1\": " + kGoodHead + ", \"1\": " +
                              kGoodHead + "}"),
                    {"layer 1: head 1 appears more than once"});
}

TEST(ConfigErrors, MissingHead) {
  expectConfigError(layerWith(std::string("{\"0\": ") + kGoodHead +
                              ", \"2\": " + kGoodHead + "}"),
                    {"layer 1: head 2 is out of range", "must be 0..1",
                     "head 1 is missing"});
  expectConfigError(std::string("[{\"99999999999\": ") + kGoodHead + "}]",
                    {"layer 0: head 99999999999 is out of range",
                     "head 0 is missing"});
}

TEST(ConfigErrors, HeadCountDiffersBetweenLayers) {
  expectConfigError(layerWith(std::string("{\"0\": ") + kGoodHead + "}"),
                    {"layer 1: has 1 heads but layer 0 has 2"});
}

TEST(ConfigErrors, EntryNotA4Array) {
  expectConfigError(layerWith(R"({"0": ["vertical_and_slash", 1, 2], "1": 1})"),
                    {"layer 1, head 0:", "an array of 3 elements"});
  expectConfigError(
      layerWith(R"({"1": {"pattern": "dense"}, "0": ["dense", 1, 2, 3]})"),
      {"layer 1, head 1:", "[pattern, vertical_or_topk, slash, score]",
       "got an object"});
  expectConfigError(layerWith(R"({"0": [7, 1, 2, 0.5], "1": [7, 1, 2, 0.5]})"),
                    {"layer 1, head 0:", "pattern name must be a string"});
}

TEST(ConfigErrors, UnknownPattern) {
  expectConfigError(
      layerWith(R"({"0": ["vertical_and_slash", 1, 2, 0.5],
                    "1": ["a_shape", 1, 2, 0.5]})"),
      {"layer 1, head 1:", "unknown pattern 'a_shape'",
       "vertical_and_slash, stream_llm, block_sparse"});
}

TEST(ConfigErrors, BadBudgets) {
  struct Case {
    const char *entry, *fragment;
  } cases[] = {
      {R"(["vertical_and_slash", 1.5, 2, 0.5])",
       "vertical budget must be an integer, got 1.5"},
      {R"(["vertical_and_slash", "100", 2, 0.5])",
       "vertical budget must be an integer, got \"100\""},
      {R"(["vertical_and_slash", 100, 0, 0.5])",
       "slash budget must be positive, got 0"},
      {R"(["vertical_and_slash", -5, 10, 0.5])",
       "vertical budget must be positive, got -5"},
      {R"(["vertical_and_slash", 1e300, 10, 0.5])",
       "vertical budget must be an integer"},
      {R"(["stream_llm", -1, 10, 0.5])",
       "sink (init tokens) must be non-negative, got -1"},
      {R"(["stream_llm", 10, 0, 0.5])", "local window must be positive"},
      {R"(["block_sparse", 0, 10, 0.5])",
       "block_sparse top_k must be positive"},
      {R"(["block_sparse", 4, null, 0.5])", "second value must be a number"},
      {R"(["vertical_and_slash", 1, 2, "high"])",
       "score must be a finite number"},
      {R"(["vertical_and_slash", 1, 2, 1e400])",
       "score must be a finite number"},
  };
  for (const Case &c : cases)
    expectConfigError(layerWith(std::string("{\"0\": ") + kGoodHead +
                                ", \"1\": " + c.entry + "}"),
                      {"layer 1, head 1: ", c.fragment});
}

TEST(ConfigErrors, DeepNestingDoesNotCrash) {
  expectConfigError(std::string(200000, '['), {"deeper than 64"});
  expectConfigError(std::string(100000, '{'), {"deeper than 64"});
}

TEST(ConfigErrors, MangledFilesNeverCrash) {
  std::ifstream f(kInputs + "/llama_2layer_4head.json");
  std::string good((std::istreambuf_iterator<char>(f)),
                   std::istreambuf_iterator<char>());
  ASSERT_FALSE(good.empty());
  ModelConfig c;
  // Every truncation is invalid (the file ends with the closing bracket).
  for (size_t n = 0; n + 2 < good.size(); ++n)
    EXPECT_EQ(parseModelConfig(good.substr(0, n), c).code(),
              ErrorCode::ConfigError)
        << n;
  // Random byte flips: either parses or fails with ConfigError.
  std::mt19937 rng(3);
  const char alphabet[] = "[]{}\",:0123456789.-e \\ax";
  for (int trial = 0; trial < 3000; ++trial) {
    std::string t = good;
    for (int e = 0; e < 3; ++e)
      t[rng() % t.size()] = alphabet[rng() % (sizeof(alphabet) - 1)];
    Status st = parseModelConfig(t, c);
    EXPECT_TRUE(st.ok() || st.code() == ErrorCode::ConfigError);
  }
}
