//===- FuzzConfig.cpp - minfer-fuzz-config: per-head JSON config fuzzing --===//
//
// The config loader reads files users download or edit by hand, so it must
// turn anything into a Status. Seeds are the JSON files of the unit tests plus
// the snippets below; mutations are byte flips, edge-value numbers (0, -1,
// 2^31, 1e999, 1.5, -0), pattern names and head keys swapped, values replaced
// by other JSON kinds, entries/layers deleted or duplicated, deep nesting,
// truncation. Each input runs in a forked child (FuzzHarness.h):
//
//   parseModelConfig -> failure: code ConfigError, a message, `out` untouched
//                    -> success: the invariants Config.h promises hold
//   checkModelConfig -> ok: writeModelConfig and parse back, equal
//
// A crash or hang fails the run; a broken promise is a "finding" (reported,
// written to --crash-dir, not fatal).
//
//===----------------------------------------------------------------------===//
#include "FuzzHarness.h"

#include "minfer/Runtime/Config.h"

#include <chrono>
#include <cmath>
#include <cstdlib>
#include <cstring>
#include <sys/stat.h>

using namespace ::minfer;
using namespace ::minfer::fuzz;

#ifndef MINFER_SOURCE_DIR
#define MINFER_SOURCE_DIR "."
#endif

namespace {

struct Options : CommonOptions {
  Options() {
    seed = 0x6a736f6eull;
    crashDir = "fuzz-config-findings";
  }
};

const char *const kSnippets[] = {
    R"json([{"0": ["vertical_and_slash", 1000, 6096, 0.5]}])json",
    R"json([{"0": ["stream_llm", 0, 4096, 1], "1": ["dense", 0, 0, 0]}])json",
    R"json([{"0": ["block_sparse", 100, 0, 0.25], "1": ["block_sparse", 1, 1, -3.5]},
 {"1": ["stream_llm", 64, 64, 0], "0": ["vertical_and_slash", 30, 100, 1e-3]}])json",
    R"json([])json",
    R"json([{}])json",
    R"json({"0": ["dense", 0, 0, 0]})json",
    R"json([{"0": ["dense", 0, 0, 0], "0": ["dense", 0, 0, 0]}])json",
    R"json([{"\u0030": ["dense", 0, 0, 0]}])json",
    R"json([{"0": ["vertical_and_slash", 2147483648, 9223372036854775807, 1.7976931348623157e308]}])json",
};

//===----------------------------------------------------------------------===//
// JSON-aware mutations
//===----------------------------------------------------------------------===//

bool replaceJsonNumber(std::string &text, Rng &rng, std::string &log) {
  static const std::vector<std::string> extra = {
      "1.5",  "-0",  "0.0",      "1e308", "1e999", "-1e999", "1E2", "0.1e1",
      "64.0", "NaN", "Infinity", "-",     "1e",    "0x10",   "+1",  "01"};
  return replaceSpan(text, findIntegers(text), rng, log, "number",
                     [&](const std::string &) {
                       return rng.percent(60) ? rng.pick(interestingNumbers())
                                              : rng.pick(extra);
                     });
}

bool swapPatternName(std::string &text, Rng &rng, std::string &log) {
  static const std::vector<std::string> names = {"vertical_and_slash",
                                                 "stream_llm",
                                                 "block_sparse",
                                                 "dense",
                                                 "a_shape",
                                                 "vertical_slash",
                                                 "Dense",
                                                 "",
                                                 "dense\\u0000",
                                                 "\\\"",
                                                 "\\ud800"};
  return replaceWord(
      text, rng, log,
      {"vertical_and_slash", "stream_llm", "block_sparse", "dense"}, names,
      "pattern");
}

/// Spans of the `"key":` head keys (quotes included).
Spans findKeys(const std::string &text) {
  std::vector<std::pair<size_t, size_t>> spans;
  for (size_t colon = text.find("\":"); colon != std::string::npos;
       colon = text.find("\":", colon + 1)) {
    size_t open = text.rfind('"', colon - 1);
    if (open != std::string::npos)
      spans.push_back({open, colon + 1});
  }
  return spans;
}

bool replaceKey(std::string &text, Rng &rng, std::string &log) {
  static const std::vector<std::string> keys = {"\"0\"",
                                                "\"1\"",
                                                "\"2\"",
                                                "\"3\"",
                                                "\"4\"",
                                                "\"-1\"",
                                                "\"00\"",
                                                "\"1.0\"",
                                                "\"\"",
                                                "\"x\"",
                                                "\" 1\"",
                                                "\"99999999999999999999\"",
                                                "\"2147483648\"",
                                                "\"999999999\"",
                                                "\"\\u0031\"",
                                                "0",
                                                "null"};
  return replaceSpan(text, findKeys(text), rng, log, "key",
                     [&](const std::string &) { return rng.pick(keys); });
}

/// Replaces a number by a JSON value of another kind.
bool changeValueKind(std::string &text, Rng &rng, std::string &log) {
  static const std::vector<std::string> values = {
      "\"64\"", "null",       "true",
      "false",  "[]",         "{}",
      "[64]",   "{\"a\": 1}", "[\"dense\", 0, 0, 0]"};
  return replaceSpan(text, findIntegers(text), rng, log, "value",
                     [&](const std::string &) { return rng.pick(values); });
}

/// The innermost `[...]` spans (head entries) and the `{...}` spans (layers).
Spans findSpans(const std::string &text, char open, char close) {
  Spans spans;
  std::vector<size_t> stack;
  bool inString = false;
  for (size_t i = 0; i < text.size(); ++i) {
    char c = text[i];
    if (inString) {
      if (c == '\\')
        ++i;
      else if (c == '"')
        inString = false;
      continue;
    }
    if (c == '"')
      inString = true;
    else if (c == open)
      stack.push_back(i);
    else if (c == close && !stack.empty()) {
      spans.push_back({stack.back(), i + 1});
      stack.pop_back();
    }
  }
  return spans;
}

bool editEntry(std::string &text, Rng &rng, std::string &log) {
  auto spans = findSpans(text, '[', ']');
  if (spans.empty())
    return false;
  auto [b, e] = spans[rng.below(spans.size())];
  std::string entry = text.substr(b, e - b);
  std::string to;
  switch (rng.below(4)) {
  case 0: { // drop the last element
    size_t comma = entry.rfind(',');
    to = comma == std::string::npos ? "[]" : entry.substr(0, comma) + "]";
    break;
  }
  case 1:
    to = entry.substr(0, entry.size() - 1) + ", 0]";
    break;
  case 2:
    to = "[" + entry + "]";
    break;
  default:
    to = "[]";
    break;
  }
  log += "entry " + entry + " -> " + to + "\n";
  text.replace(b, e - b, to);
  return true;
}

bool editLayer(std::string &text, Rng &rng, std::string &log) {
  auto spans = findSpans(text, '{', '}');
  if (spans.empty())
    return false;
  auto [b, e] = spans[rng.below(spans.size())];
  std::string layer = text.substr(b, e - b);
  switch (rng.below(4)) {
  case 0: // duplicate the layer
    log += "duplicate layer at " + std::to_string(b) + "\n";
    text.insert(e, ", " + layer);
    return true;
  case 1: // delete it with its comma
    log += "delete layer at " + std::to_string(b) + "\n";
    if (e < text.size() && text[e] == ',')
      ++e;
    text.erase(b, e - b);
    return true;
  case 2: { // duplicate its first head (a duplicate key)
    size_t close = text.find(']', b);
    if (close == std::string::npos || close > e)
      return false;
    std::string head = text.substr(b + 1, close + 1 - (b + 1));
    log += "duplicate head " + head + "\n";
    text.insert(close + 1, ", " + head);
    return true;
  }
  default: // empty it
    log += "empty layer at " + std::to_string(b) + "\n";
    text.replace(b, e - b, "{}");
    return true;
  }
}

bool nestDeep(std::string &text, Rng &rng, std::string &log) {
  size_t depth = 1 + rng.below(rng.percent(50) ? 100 : 100000);
  log += "nest " + std::to_string(depth) + " deep\n";
  text = std::string(depth, '[') + text + std::string(depth, ']');
  return true;
}

bool mutate(std::string &text, Rng &rng, std::string &log) {
  const unsigned which = rng.below(16);
  if (which < kTextMutations)
    return textMutation(which, text, rng, log);
  switch (which) {
  case 4:
    return swapNumbers(text, rng, log);
  case 5:
  case 6:
  case 7:
    return replaceJsonNumber(text, rng, log);
  case 8:
  case 9:
    return swapPatternName(text, rng, log);
  case 10:
    return replaceKey(text, rng, log);
  case 11:
    return changeValueKind(text, rng, log);
  case 12:
    return editEntry(text, rng, log);
  case 13:
  case 14:
    return editLayer(text, rng, log);
  default:
    return rng.percent(10) && nestDeep(text, rng, log);
  }
}

//===----------------------------------------------------------------------===//
// The child
//===----------------------------------------------------------------------===//

enum Outcome {
  Rejected,
  RejectedBadStatus, // finding: not ConfigError, empty message, out written
  AcceptedBroken,    // finding: accepted but breaks Config.h's invariants
  AcceptedNotWritable,
  RoundTripMismatch, // finding
  RoundTripOk,
  NumOutcomes
};
const std::vector<std::string> kOutcomeNames = {
    "rejected (ConfigError)",     "REJECTED WITH BAD STATUS",
    "ACCEPTED, INVARIANT BROKEN", "accepted, not writable",
    "ROUND-TRIP MISMATCH",        "accepted, round trip ok"};
bool isFinding(int o) {
  return o == RejectedBadStatus || o == AcceptedBroken ||
         o == RoundTripMismatch;
}

int runChild(const std::string &text) {
  // A sentinel that a failing parse must leave alone.
  ModelConfig cfg;
  cfg.layers = {{HeadPattern::aShape(7, 7)}};
  cfg.scores = {{7.0}};
  const ModelConfig sentinel = cfg;
  Status st = parseModelConfig(text, cfg);
  if (!st.ok()) {
    if (st.code() != ErrorCode::ConfigError || st.message().empty() ||
        !(cfg == sentinel)) {
      fprintf(stderr, "bad failure: %s\n", st.str().c_str());
      return RejectedBadStatus;
    }
    return Rejected;
  }
  // Config.h: scores shaped like layers, one head count, valid patterns.
  bool ok = cfg.scores.size() == cfg.layers.size();
  for (size_t l = 0; ok && l < cfg.layers.size(); ++l) {
    ok = cfg.layers[l].size() == cfg.layers[0].size() &&
         cfg.scores[l].size() == cfg.layers[l].size();
    for (size_t h = 0; ok && h < cfg.layers[l].size(); ++h)
      ok = cfg.layers[l][h].validate().ok() && std::isfinite(cfg.scores[l][h]);
  }
  if (!ok) {
    fprintf(stderr, "accepted config breaks the invariants\n");
    return AcceptedBroken;
  }
  if (!checkModelConfig(cfg).ok())
    return AcceptedNotWritable;
  std::string written = writeModelConfig(cfg);
  ModelConfig back;
  Status again = parseModelConfig(written, back);
  if (!again.ok() || !(back == cfg)) {
    fprintf(stderr, "round trip failed: %s\nwritten:\n%s\n",
            again.str().c_str(), written.c_str());
    return RoundTripMismatch;
  }
  return RoundTripOk;
}

bool parseArgs(int argc, char **argv, Options &o) {
  for (int i = 1; i < argc; ++i) {
    if (!parseCommonOption(argv[i], o)) {
      fprintf(stderr, "usage: minfer-fuzz-config [--iterations=N] [--seed=S] "
                      "[--jobs=J] [--timeout=SECONDS] [--crash-dir=DIR] "
                      "[--corpus-dir=DIR]...\n");
      return false;
    }
  }
  return true;
}

} // namespace

int main(int argc, char **argv) {
  Options opts;
  if (!parseArgs(argc, argv, opts))
    return 2;
  auto start = std::chrono::steady_clock::now();
  if (opts.corpusDirs.empty())
    opts.corpusDirs = {MINFER_SOURCE_DIR "/unittests/Runtime/Inputs"};

  std::vector<Input> seeds;
  for (const std::string &dir : opts.corpusDirs)
    for (const std::string &file : listFiles(dir, ".json")) {
      std::string text;
      if (readFile(file, text))
        seeds.push_back({text, file, ""});
    }
  size_t corpusSeeds = seeds.size();
  for (const char *s : kSnippets)
    seeds.push_back({s, "snippet", ""});

  std::vector<Input> inputs = seeds;
  Rng rng(opts.seed);
  while (inputs.size() < seeds.size() + opts.iterations) {
    const Input &from = rng.pick(seeds);
    Input in{from.text, from.origin, ""};
    unsigned n = 1 + rng.below(3);
    for (unsigned i = 0; i < n; ++i)
      mutate(in.text, rng, in.mutations);
    if (!in.mutations.empty())
      inputs.push_back(std::move(in));
  }
  printf("minfer-fuzz-config: %zu seeds (%zu from files), %u mutations, "
         "seed %llu, %u jobs\n",
         seeds.size(), corpusSeeds, opts.iterations,
         static_cast<unsigned long long>(opts.seed), opts.jobs);

  Stats seedStats(kOutcomeNames), mutantStats(kOutcomeNames);
  size_t findings = 0;
  mkdir(opts.crashDir.c_str(), 0755);
  runForked(
      inputs, opts.jobs, opts.timeout,
      [](size_t, const std::string &text) { return runChild(text); },
      [&](size_t index, const Result &r) {
        (index < seeds.size() ? seedStats : mutantStats).add(r);
        findings += reportResult("minfer-fuzz-config", opts.crashDir, ".json",
                                 index, inputs[index], r, kOutcomeNames,
                                 isFinding(r.outcome));
      });

  double seconds =
      std::chrono::duration<double>(std::chrono::steady_clock::now() - start)
          .count();
  seedStats.print(stdout, "unmutated seeds", 0);
  mutantStats.print(stdout, "mutants", seconds);
  printf("findings (not fatal): %zu\n", findings);
  if (seedStats.outcomes[RoundTripOk] + mutantStats.outcomes[RoundTripOk] ==
      0) {
    fprintf(stderr, "minfer-fuzz-config: no input was accepted; is the "
                    "corpus path right?\n");
    return 2;
  }
  size_t crashes = seedStats.crashes + mutantStats.crashes;
  size_t hangs = seedStats.hangs + mutantStats.hangs;
  if (crashes + hangs == 0)
    return 0;
  printf("FAIL: %zu crash(es), %zu hang(s); inputs in %s\n", crashes, hangs,
         opts.crashDir.c_str());
  return 1;
}
