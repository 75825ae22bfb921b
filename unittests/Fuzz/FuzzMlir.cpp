//===- FuzzMlir.cpp - minfer-fuzz-mlir: parser, verifier and pass fuzzing -===//
//
// Mutates the lit corpus (test/Dialect/Minfer/*.mlir, test/Transforms/*.mlir,
// split on `// -----`) and the snippets below with a fixed seed: byte flips,
// numbers swapped for edge values (64 -> 0, -1, 96, 2^31, 2^63 - 1, ...),
// attribute parameters deleted or duplicated, extents toggled between `?` and
// static, ranks changed, element types swapped (bf16 <-> i8, ...), patterns
// and op names exchanged, heads arrays edited, lines deleted or duplicated,
// truncation; types are changed at every occurrence so that mutants get past
// the parser. Seeds run first; 3 in 4 mutants derive from seeds that verify.
// Each input runs in a forked child (FuzzHarness.h):
//
//   parse (diagnostics captured, nothing printed) -> verify
//     -> print, re-parse, re-print: must be identical (custom and generic)
//     -> minfer-expand-sparse-attention -> the result must verify and
//        parse back
//     -> every --extra-every-th input: minfer-outline-tile-kernels and
//        minfer-to-ptx (in-process PTX), when registered, and any
//        --extra-pipeline; the result must verify
//
// A crash (signal, abort, exit from report_fatal_error) or a hang (CPU or
// wall-clock timer) is reported with the input written to --crash-dir, and
// makes the exit status non-zero. A round-trip mismatch or a pass that leaves
// invalid IR is a "finding": written and reported too, but not fatal.
// Reproduce one with `minfer-opt <crash-dir>/<file>.mlir` and the passes
// above, or `minfer-fuzz-mlir --jobs=0 --corpus-dir=<dir with the file>
// --iterations=0` under a debugger.
//
//===----------------------------------------------------------------------===//
#include "minfer/InitMinfer.h"
#include "FuzzHarness.h"

#include "minfer/Dialect/Minfer/IR/MinferDialect.h"
#include "minfer/Transforms/Passes.h"
#if __has_include("minfer/Transforms/Pipelines.h")
#include "minfer/Transforms/Pipelines.h"
#define MINFER_FUZZ_HAS_PTX_PIPELINE 1
#endif
#include "mlir/IR/BuiltinOps.h"
#include "mlir/IR/Diagnostics.h"
#include "mlir/IR/MLIRContext.h"
#include "mlir/IR/Verifier.h"
#include "mlir/InitAllDialects.h"
#include "mlir/InitAllExtensions.h"
#include "mlir/Parser/Parser.h"
#include "mlir/Pass/PassManager.h"
#include "mlir/Pass/PassRegistry.h"
#include "mlir/Target/LLVM/NVVM/Target.h"
#include "mlir/Target/LLVMIR/Dialect/All.h"
#include "llvm/Support/CommandLine.h"
#include "llvm/Support/raw_ostream.h"

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <map>
#include <sched.h>
#include <sys/stat.h>

using namespace mlir;
using namespace ::minfer::fuzz;

#ifndef MINFER_SOURCE_DIR
#define MINFER_SOURCE_DIR "."
#endif

static llvm::cl::list<std::string>
    corpusDirs("corpus-dir",
               llvm::cl::desc("Directory of *.mlir seeds, split on "
                              "`// -----` (default: the lit tests of "
                              "test/Dialect/Minfer and test/Transforms)"));
static llvm::cl::opt<unsigned> iterations("iterations",
                                          llvm::cl::desc("Mutated inputs"),
                                          llvm::cl::init(2000));
static llvm::cl::opt<uint64_t> seed("seed", llvm::cl::desc("RNG seed"),
                                    llvm::cl::init(0x6d696e666572ull));
static llvm::cl::opt<unsigned>
    jobs("jobs",
         llvm::cl::desc("Children run at once (0: in-process, "
                        "for a debugger)"),
         llvm::cl::init(2));
static llvm::cl::opt<unsigned>
    timeoutSeconds("timeout",
                   llvm::cl::desc("Per-input CPU-time limit in seconds "
                                  "(wall-clock limit: 5x)"),
                   llvm::cl::init(20));
static llvm::cl::opt<std::string>
    crashDir("crash-dir",
             llvm::cl::desc("Where crashing inputs and findings are written"),
             llvm::cl::init("fuzz-mlir-findings"));
static llvm::cl::opt<bool>
    verbose("verbose", llvm::cl::desc("Tally outcomes by mutation kind"));
// For the harness's own tests: pretend the compiler crashes or hangs.
static llvm::cl::opt<std::string> abortOn(
    "abort-on", llvm::cl::Hidden,
    llvm::cl::desc("Self-test: abort() on inputs containing this string"));
static llvm::cl::opt<std::string> hangOn(
    "hang-on", llvm::cl::Hidden,
    llvm::cl::desc("Self-test: spin forever on inputs containing this string"));
static llvm::cl::list<std::string> extraPipelines(
    "extra-pipeline",
    llvm::cl::desc("Pipeline run after the expansion when it parses, e.g. "
                   "'builtin.module(minfer-to-ptx)'; skipped when its passes "
                   "are not registered"));
static llvm::cl::opt<bool> defaultExtras(
    "default-extra-pipelines",
    llvm::cl::desc("Also run 'builtin.module(minfer-outline-tile-kernels, "
                   "minfer-to-ptx)' (skipped when not registered)"),
    llvm::cl::init(true));
static llvm::cl::opt<unsigned> extraEvery(
    "extra-every",
    llvm::cl::desc("Run the extra pipelines on every N-th input only (PTX "
                   "generation takes ~0.3 s an input)"),
    llvm::cl::init(16));

namespace {

//===----------------------------------------------------------------------===//
// Seeds
//===----------------------------------------------------------------------===//

/// Inputs the lit files may not cover: degenerate extents, every op, GQA.
const char *const kSnippets[] = {
    R"mlir(
func.func @mixed(%q: memref<?x8x?x128xbf16>, %k: memref<?x2x?x128xbf16>,
                 %v: memref<?x2x?x128xbf16>, %o: memref<?x8x?x128xbf16>) {
  minfer.sparse_attention %q, %k, %v, %o {
      patterns = [#minfer.vertical_slash<vertical = 1000, slash = 6096>,
                  #minfer.block_sparse<top_k = 100>,
                  #minfer.a_shape<sink = 128, local = 4096>, #minfer.dense,
                  #minfer.vertical_slash<vertical = 30, slash = 100, last_q = 128>,
                  #minfer.block_sparse<top_k = 1, block = 64>,
                  #minfer.a_shape<sink = 0, local = 1>, #minfer.dense],
      scale = 0.088388 : f32, causal = true}
    : memref<?x8x?x128xbf16>, memref<?x2x?x128xbf16>,
      memref<?x2x?x128xbf16>, memref<?x8x?x128xbf16>
  return
}
)mlir",
    R"mlir(
func.func @static_small(%q: memref<1x2x64x64xf16>, %o: memref<1x2x64x64xf16>) {
  minfer.sparse_attention %q, %q, %q, %o {
      patterns = [#minfer.vertical_slash<vertical = 1, slash = 1>,
                  #minfer.block_sparse<top_k = 1>], scale = 1.0 : f32}
    : memref<1x2x64x64xf16>, memref<1x2x64x64xf16>,
      memref<1x2x64x64xf16>, memref<1x2x64x64xf16>
  return
}
)mlir",
    R"mlir(
func.func @zero_heads(%q: memref<1x0x64x64xbf16>, %k: memref<1x1x64x64xbf16>) {
  minfer.sparse_attention %q, %k, %k, %q {patterns = [], scale = 1.0 : f32}
    : memref<1x0x64x64xbf16>, memref<1x1x64x64xbf16>,
      memref<1x1x64x64xbf16>, memref<1x0x64x64xbf16>
  return
}
)mlir",
    R"mlir(
func.func @empty_sequence(%q: memref<2x1x0x128xf32>) {
  minfer.sparse_attention %q, %q, %q, %q {
      patterns = [#minfer.block_sparse<top_k = 4>], scale = 0.5 : f32}
    : memref<2x1x0x128xf32>, memref<2x1x0x128xf32>,
      memref<2x1x0x128xf32>, memref<2x1x0x128xf32>
  return
}
)mlir",
    R"mlir(
func.func @one_token(%q: memref<1x1x1x64xbf16>) {
  minfer.sparse_attention %q, %q, %q, %q {
      patterns = [#minfer.a_shape<sink = 1, local = 1>], scale = 0.125 : f32}
    : memref<1x1x1x64xbf16>, memref<1x1x1x64xbf16>,
      memref<1x1x1x64xbf16>, memref<1x1x1x64xbf16>
  return
}
)mlir",
    R"mlir(
func.func @last_q_equals_n(%q: memref<1x1x128x64xbf16>) {
  minfer.sparse_attention %q, %q, %q, %q {
      patterns = [#minfer.vertical_slash<vertical = 200, slash = 300, last_q = 128>],
      scale = 0.125 : f32}
    : memref<1x1x128x64xbf16>, memref<1x1x128x64xbf16>,
      memref<1x1x128x64xbf16>, memref<1x1x128x64xbf16>
  return
}
)mlir",
    R"mlir(
func.func @pipeline(%q: memref<?x4x?x128xbf16>, %k: memref<?x2x?x128xbf16>,
                    %vs: memref<?x4x?xf32>, %bs: memref<?x4x?x?xf32>,
                    %rc: memref<?x4x?xi32>, %r: memref<?x4x?x8x2xi32>,
                    %cc: memref<?x4x?xi32>, %ci: memref<?x4x?x30xi32>,
                    %n: index, %o: memref<?x4x?x128xbf16>) {
  minfer.vs_estimate %q, %k into %vs, %vs {heads = array<i64: 0>, last_q = 64, scale = 1.0 : f32}
    : memref<?x4x?x128xbf16>, memref<?x2x?x128xbf16> into memref<?x4x?xf32>, memref<?x4x?xf32>
  minfer.build_vs_index %vs, %vs into %rc, %r, %cc, %ci {heads = array<i64: 0>, vertical = array<i64: 30>, slash = array<i64: 8>, forced_vertical = 1, forced_slash = 2}
    : memref<?x4x?xf32>, memref<?x4x?xf32> into memref<?x4x?xi32>, memref<?x4x?x8x2xi32>, memref<?x4x?xi32>, memref<?x4x?x30xi32>
  minfer.bs_estimate %q, %k into %bs {heads = array<i64: 1>, scale = 1.0 : f32}
    : memref<?x4x?x128xbf16>, memref<?x2x?x128xbf16> into memref<?x4x?x?xf32>
  minfer.build_bs_index %bs, %n into %rc, %r, %cc, %ci {heads = array<i64: 1>, top_k = array<i64: 8>}
    : memref<?x4x?x?xf32> into memref<?x4x?xi32>, memref<?x4x?x8x2xi32>, memref<?x4x?xi32>, memref<?x4x?x30xi32>
  minfer.build_a_shape_index %n into %rc, %r, %cc, %ci {heads = array<i64: 2>, sink = array<i64: 4>, local = array<i64: 64>}
    : memref<?x4x?xi32>, memref<?x4x?x8x2xi32>, memref<?x4x?xi32>, memref<?x4x?x30xi32>
  minfer.build_dense_index %n into %rc, %r, %cc, %ci {heads = array<i64: 3>}
    : memref<?x4x?xi32>, memref<?x4x?x8x2xi32>, memref<?x4x?xi32>, memref<?x4x?x30xi32>
  minfer.vs_attention %q, %k, %k, %rc, %r, %cc, %ci, %o {scale = 1.0 : f32}
    : memref<?x4x?x128xbf16>, memref<?x2x?x128xbf16>, memref<?x2x?x128xbf16>,
      memref<?x4x?xi32>, memref<?x4x?x8x2xi32>, memref<?x4x?xi32>,
      memref<?x4x?x30xi32>, memref<?x4x?x128xbf16>
  minfer.block_attention %q, %k, %k, %rc, %r, %o {scale = 1.0 : f32}
    : memref<?x4x?x128xbf16>, memref<?x2x?x128xbf16>, memref<?x2x?x128xbf16>,
      memref<?x4x?xi32>, memref<?x4x?x8x2xi32>, memref<?x4x?x128xbf16>
  minfer.dense_attention %q, %k, %k, %o {scale = 1.0 : f32}
    : memref<?x4x?x128xbf16>, memref<?x2x?x128xbf16>, memref<?x2x?x128xbf16>, memref<?x4x?x128xbf16>
  return
}
)mlir",
    R"mlir(
#vs = #minfer.vertical_slash<vertical = 64, slash = 64>
func.func @nested(%q: memref<1x1x?x64xbf16>, %c: i1) {
  scf.if %c {
    minfer.sparse_attention %q, %q, %q, %q {patterns = [#vs], scale = 1.0 : f32}
      : memref<1x1x?x64xbf16>, memref<1x1x?x64xbf16>,
        memref<1x1x?x64xbf16>, memref<1x1x?x64xbf16>
  }
  return
}
)mlir",
};

//===----------------------------------------------------------------------===//
// MLIR-aware mutations
//===----------------------------------------------------------------------===//

/// Spans of the extents (digits or `?`) of every `memref<...>` shape.
Spans findExtents(const std::string &text) {
  std::vector<std::pair<size_t, size_t>> spans;
  for (size_t pos = text.find("memref<"); pos != std::string::npos;
       pos = text.find("memref<", pos + 1)) {
    size_t i = pos + 7;
    while (i < text.size()) {
      size_t begin = i;
      if (text[i] == '?')
        ++i;
      else
        while (i < text.size() && isdigit(static_cast<unsigned char>(text[i])))
          ++i;
      if (i == begin || i >= text.size() || text[i] != 'x')
        break;
      spans.push_back({begin, i});
      ++i; // the 'x'
    }
  }
  return spans;
}

/// The distinct `memref<...>` types of `text`.
std::vector<std::string> findMemRefTypes(const std::string &text) {
  std::vector<std::string> types;
  for (size_t pos = text.find("memref<"); pos != std::string::npos;
       pos = text.find("memref<", pos + 1)) {
    int depth = 0;
    size_t i = pos + 6;
    for (; i < text.size(); ++i) {
      if (text[i] == '<')
        ++depth;
      else if (text[i] == '>' && --depth == 0)
        break;
    }
    if (i == text.size())
      continue;
    std::string type = text.substr(pos, i + 1 - pos);
    if (std::find(types.begin(), types.end(), type) == types.end())
      types.push_back(type);
  }
  return types;
}

/// Mutates one memref type and replaces every occurrence of it, so that the
/// function signature and the op's type list stay consistent and the input
/// reaches the verifiers (a lone changed occurrence is only a parse error).
bool mutateMemRefType(std::string &text, Rng &rng, std::string &log) {
  auto types = findMemRefTypes(text);
  if (types.empty())
    return false;
  const std::string from = rng.pick(types);
  std::string to = from;
  auto extents = findExtents(to);
  static const std::vector<std::string> statics = {
      "0",   "1",   "2",   "3",          "4",          "8",
      "16",  "32",  "64",  "65",         "96",         "128",
      "129", "200", "256", "2147483647", "2147483648", "9223372036854775807"};
  static const std::vector<std::string> elements = {
      "bf16", "f16", "f32", "f64", "i8", "i32", "i64", "index", "f8E4M3FN"};
  switch (rng.below(6)) {
  case 0:
  case 1: { // `?` <-> static
    if (extents.empty())
      return false;
    auto [b, e] = extents[rng.below(extents.size())];
    to.replace(b, e - b, to[b] == '?' ? rng.pick(statics) : "?");
    break;
  }
  case 2: { // another static extent
    if (extents.empty())
      return false;
    auto [b, e] = extents[rng.below(extents.size())];
    to.replace(b, e - b, rng.pick(statics));
    break;
  }
  case 3: { // rank +-1
    if (extents.empty())
      return false;
    auto [b, e] = extents[rng.below(extents.size())];
    if (rng.percent(50))
      to.erase(b, e - b + 1);
    else
      to.insert(b, rng.percent(50) ? "?x" : "2x");
    break;
  }
  case 4: { // element type
    size_t x = to.rfind('x', to.find_first_of(",>"));
    size_t b = x == std::string::npos ? 7 : x + 1;
    size_t e = to.find_first_of(",>", b);
    to.replace(b, e - b, rng.pick(elements));
    break;
  }
  default: { // layout or memory space
    static const std::vector<std::string> suffixes = {
        ", 3", ", strided<[?, ?, ?, 1], offset: ?>",
        ", affine_map<(d0, d1, d2, d3) -> (d3, d2, d1, d0)>",
        ", #gpu.address_space<workgroup>"};
    to.insert(to.size() - 1, rng.pick(suffixes));
    break;
  }
  }
  if (to == from)
    return false;
  log += "type " + from + " -> " + to + " (all occurrences)\n";
  for (size_t pos = text.find(from); pos != std::string::npos;
       pos = text.find(from, pos + to.size()))
    text.replace(pos, from.size(), to);
  return true;
}

/// One occurrence only: exercises the parser's type-consistency errors.
bool toggleExtent(std::string &text, Rng &rng, std::string &log) {
  return replaceSpan(
      text, findExtents(text), rng, log, "extent",
      [](const std::string &from) { return from[0] == '?' ? "64" : "?"; },
      " (one occurrence)");
}

bool swapOpName(std::string &text, Rng &rng, std::string &log) {
  static const std::vector<std::string> ops = {
      "minfer.sparse_attention",  "minfer.vs_estimate",
      "minfer.bs_estimate",       "minfer.build_vs_index",
      "minfer.build_bs_index",    "minfer.build_a_shape_index",
      "minfer.build_dense_index", "minfer.dense_attention",
      "minfer.block_attention",   "minfer.vs_attention",
      "minfer.no_such_op"};
  return replaceWord(text, rng, log, ops, ops, "op");
}

/// [begin, end) of `#minfer.<mnemonic>` plus its `<...>` when present.
Spans findPatterns(const std::string &text) {
  std::vector<std::pair<size_t, size_t>> spans;
  for (size_t pos = text.find("#minfer."); pos != std::string::npos;
       pos = text.find("#minfer.", pos + 1)) {
    size_t i = pos + 8;
    while (i < text.size() &&
           (isalnum(static_cast<unsigned char>(text[i])) || text[i] == '_'))
      ++i;
    if (i < text.size() && text[i] == '<') {
      size_t close = text.find('>', i);
      if (close == std::string::npos)
        continue;
      i = close + 1;
    }
    spans.push_back({pos, i});
  }
  return spans;
}

bool swapPattern(std::string &text, Rng &rng, std::string &log) {
  static const std::vector<std::string> patterns = {
      "#minfer.dense",
      "#minfer.dense<>",
      "#minfer.a_shape<sink = 0, local = 64>",
      "#minfer.a_shape<sink = -1, local = 64>",
      "#minfer.a_shape<local = 1, sink = 9223372036854775807>",
      "#minfer.vertical_slash<vertical = 1, slash = 1>",
      "#minfer.vertical_slash<vertical = 1, slash = 1, last_q = 16>",
      "#minfer.vertical_slash<vertical = 9223372036854775807, slash = "
      "9223372036854775807>",
      "#minfer.vertical_slash<vertical = 1, slash = 1, last_q = 4096>",
      "#minfer.vertical_slash<vertical = 1, slash = 1, last_q = 17>",
      "#minfer.block_sparse<top_k = 1>",
      "#minfer.block_sparse<top_k = 9223372036854775807>",
      "#minfer.block_sparse<top_k = 1, block = 65>",
      "#minfer.block_sparse",
      "#minfer.bogus<x = 1>",
      "#minfer<\"dense\">",
      "1 : i64",
      "\"dense\"",
      "[#minfer.dense]",
  };
  return replaceSpan(text, findPatterns(text), rng, log, "pattern",
                     [&](const std::string &) { return rng.pick(patterns); });
}

bool mutateHeadsArray(std::string &text, Rng &rng, std::string &log) {
  std::vector<std::pair<size_t, size_t>> spans; // contents after "array<i64"
  for (size_t pos = text.find("array<i64"); pos != std::string::npos;
       pos = text.find("array<i64", pos + 1)) {
    size_t close = text.find('>', pos);
    if (close != std::string::npos)
      spans.push_back({pos + 9, close});
  }
  if (spans.empty())
    return false;
  auto [b, e] = spans[rng.below(spans.size())];
  std::string body = text.substr(b, e - b); // ": 0, 1" or ""
  std::string to;
  switch (rng.below(5)) {
  case 0:
    to = "";
    break; // empty
  case 1:
    to = body.empty() ? ": 0" : body + ", " + body.substr(2);
    break;
  case 2:
    to = body.empty() ? ": 1" : body + ", " + rng.pick(interestingNumbers());
    break;
  case 3: { // drop the last element
    size_t comma = body.rfind(',');
    to = comma == std::string::npos ? "" : body.substr(0, comma);
    break;
  }
  default:
    to = ": " + rng.pick(interestingNumbers());
    break;
  }
  log += "array<i64" + body + "> -> array<i64" + to + ">\n";
  text.replace(b, e - b, to);
  return true;
}

/// `name = value` parameters of attribute dictionaries and structs.
struct Param {
  size_t begin, valueEnd;
};

std::vector<Param> findParams(const std::string &text) {
  std::vector<Param> params;
  for (size_t eq = text.find(" = "); eq != std::string::npos;
       eq = text.find(" = ", eq + 1)) {
    size_t b = eq;
    while (b > 0 && (isalnum(static_cast<unsigned char>(text[b - 1])) ||
                     text[b - 1] == '_'))
      --b;
    if (b == eq || (b > 0 && text[b - 1] == '%'))
      continue; // not a name, or an SSA definition
    size_t i = eq + 3;
    int depth = 0;
    bool inString = false;
    for (; i < text.size(); ++i) {
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
      else if (c == '(' || c == '[' || c == '{' || c == '<')
        ++depth;
      else if (c == ')' || c == ']' || c == '}' || c == '>') {
        if (depth == 0)
          break;
        --depth;
      } else if (c == ',' && depth == 0)
        break;
    }
    params.push_back({b, i});
  }
  return params;
}

bool deleteParam(std::string &text, Rng &rng, std::string &log) {
  auto params = findParams(text);
  if (params.empty())
    return false;
  Param p = params[rng.below(params.size())];
  size_t b = p.begin, e = p.valueEnd;
  log += "delete param " + text.substr(b, e - b) + "\n";
  if (e < text.size() && text[e] == ',') {
    ++e;
    while (e < text.size() && text[e] == ' ')
      ++e;
  } else {
    while (b > 0 && text[b - 1] == ' ')
      --b;
    if (b > 0 && text[b - 1] == ',')
      --b;
  }
  text.erase(b, e - b);
  return true;
}

bool duplicateParam(std::string &text, Rng &rng, std::string &log) {
  auto params = findParams(text);
  if (params.empty())
    return false;
  Param p = params[rng.below(params.size())];
  std::string param = text.substr(p.begin, p.valueEnd - p.begin);
  log += "duplicate param " + param + "\n";
  text.insert(p.valueEnd, ", " + param);
  return true;
}

/// One mutation. Weighted towards the ones that keep an input parseable
/// (types changed consistently, attributes edited), since those reach the
/// verifiers and passes; raw byte-level damage mostly tests the lexer.
bool mutate(std::string &text, Rng &rng, std::string &log) {
  const unsigned which = rng.below(20);
  if (which < kTextMutations)
    return textMutation(which, text, rng, log);
  switch (which) {
  case 4:
    return toggleExtent(text, rng, log);
  case 5:
    return swapNumbers(text, rng, log);
  case 6:
  case 7:
    return replaceNumber(text, rng, log);
  case 8:
  case 9:
  case 10:
  case 11:
  case 12:
    return mutateMemRefType(text, rng, log);
  case 13:
  case 14:
    return swapPattern(text, rng, log);
  case 15:
  case 16:
    return mutateHeadsArray(text, rng, log);
  case 17:
    return deleteParam(text, rng, log);
  case 18:
    return duplicateParam(text, rng, log);
  default:
    return swapOpName(text, rng, log);
  }
}

//===----------------------------------------------------------------------===//
// The child: parse, verify, round-trip, expand, extra pipelines
//===----------------------------------------------------------------------===//

enum Outcome {
  ParseRejected,
  VerifyRejected,
  RoundTripMismatch, // finding
  ExpandFailed,
  ExpandInvalidOutput, // finding
  VerifiedNothingToExpand,
  Expanded,
  ExtraFailed,
  ExtraInvalidOutput, // finding
  ExtraOk,
  NumOutcomes
};
const std::vector<std::string> kOutcomeNames = {"parse rejected",
                                                "verify rejected",
                                                "ROUND-TRIP MISMATCH",
                                                "expansion failed (diag)",
                                                "EXPANSION INVALID IR",
                                                "verified, nothing to expand",
                                                "expanded",
                                                "extra pipeline failed (diag)",
                                                "EXTRA PIPELINE INVALID IR",
                                                "extra pipeline ok"};
bool isFinding(int outcome) {
  return outcome == RoundTripMismatch || outcome == ExpandInvalidOutput ||
         outcome == ExtraInvalidOutput;
}

std::string print(Operation *op, bool generic) {
  std::string s;
  llvm::raw_string_ostream os(s);
  OpPrintingFlags flags;
  if (generic)
    flags.printGenericOpForm();
  op->print(os, flags);
  return s;
}

/// Adds "builtin.module(...)" to a module-anchored pass manager (whose
/// parsePassPipeline takes only what is inside the anchor).
LogicalResult addPipeline(OpPassManager &pm, llvm::StringRef pipeline,
                          llvm::raw_ostream &errors = llvm::nulls()) {
  llvm::StringRef inner = pipeline.trim();
  if (!inner.consume_front("builtin.module(") || !inner.consume_back(")"))
    return failure();
  return parsePassPipeline(inner, pm, errors);
}

/// Runs in the forked child, on a context the parent created once (without
/// threads, so that fork is safe) and the child modifies copy-on-write.
struct Child {
  MLIRContext &ctx;
  const std::vector<std::string> &pipelines; ///< already known to parse

  int run(const std::string &text, bool runExtras,
          bool selfTestHooks = true) const {
    if (selfTestHooks && !abortOn.empty() &&
        text.find(abortOn) != std::string::npos)
      abort();
    while (selfTestHooks && !hangOn.empty() &&
           text.find(hangOn) != std::string::npos)
      sched_yield();
    std::string diags;
    ScopedDiagnosticHandler handler(&ctx, [&](Diagnostic &d) {
      diags += d.str();
      diags += '\n';
      return success();
    });
    ParserConfig noVerify(&ctx, /*verifyAfterParse=*/false);
    OwningOpRef<ModuleOp> module = parseSourceString<ModuleOp>(text, noVerify);
    if (!module)
      return ParseRejected;
    if (failed(verify(*module)))
      return VerifyRejected;

    // Printing a verified module and parsing it back gives the same module.
    for (bool generic : {false, true}) {
      std::string printed = print(*module, generic);
      OwningOpRef<ModuleOp> again =
          parseSourceString<ModuleOp>(printed, ParserConfig(&ctx));
      if (!again || print(*again, false) != print(*module, false)) {
        fprintf(stderr, "round trip (%s) failed:\n%s\n--- diagnostics:\n%s\n",
                generic ? "generic" : "custom", printed.c_str(), diags.c_str());
        return RoundTripMismatch;
      }
    }

    bool hasSparse = false;
    module->walk([&](mlir::minfer::SparseAttentionOp) { hasSparse = true; });
    auto pm = PassManager::on<ModuleOp>(&ctx);
    pm.enableVerifier(false); // verified below, to tell "invalid IR" apart
    if (failed(addPipeline(pm, "builtin.module(func.func(minfer-expand-"
                               "sparse-attention))")))
      return ExpandFailed;
    if (failed(pm.run(*module)))
      return ExpandFailed;
    // Verified and printable: a type the verifiers never see (a memref with
    // a negative extent, say) only shows when the output is parsed back.
    if (failed(verify(*module)) ||
        !parseSourceString<ModuleOp>(print(*module, false),
                                     ParserConfig(&ctx))) {
      fprintf(stderr, "expansion produced invalid IR:\n%s\n%s\n",
              print(*module, true).c_str(), diags.c_str());
      return ExpandInvalidOutput;
    }
    int outcome = hasSparse ? Expanded : VerifiedNothingToExpand;
    for (const std::string &pipeline :
         runExtras ? pipelines : std::vector<std::string>{}) {
      auto extra = PassManager::on<ModuleOp>(&ctx);
      extra.enableVerifier(false);
      if (failed(addPipeline(extra, pipeline)) || failed(extra.run(*module))) {
        fprintf(stderr, "%s failed:\n%s\n", pipeline.c_str(), diags.c_str());
        return ExtraFailed;
      }
      if (failed(verify(*module))) {
        fprintf(stderr, "%s produced invalid IR:\n%s\n%s\n", pipeline.c_str(),
                print(*module, true).c_str(), diags.c_str());
        return ExtraInvalidOutput;
      }
      outcome = ExtraOk;
    }
    return outcome;
  }
};

/// Pipelines that parse with what is registered in this binary.
std::vector<std::string> resolvePipelines() {
  std::vector<std::string> candidates(extraPipelines.begin(),
                                      extraPipelines.end());
  if (defaultExtras) {
    // Tile-kernel ops -> gpu.launch_func + generated kernels -> PTX.
    candidates.push_back(
        "builtin.module(minfer-outline-tile-kernels, minfer-to-ptx)");
  }
  std::vector<std::string> usable;
  for (const std::string &p : candidates) {
    OpPassManager pm(ModuleOp::getOperationName());
    if (succeeded(addPipeline(pm, p)))
      usable.push_back(p);
    else
      fprintf(stdout, "  skipping pipeline %s: not registered\n", p.c_str());
  }
  return usable;
}

} // namespace

int main(int argc, char **argv) {
  llvm::cl::ParseCommandLineOptions(
      argc, argv,
      "minfer-fuzz-mlir: fixed-seed mutation fuzzing of the "
      "minfer parser, verifiers and passes\n");
  auto start = std::chrono::steady_clock::now();
  mlir::minfer::registerMinferPasses();
#ifdef MINFER_FUZZ_HAS_PTX_PIPELINE
  mlir::minfer::registerMinferToPtxPipeline();
#endif

  // What minfer-opt registers, so that any IR it reads parses here too and
  // the kernel pipelines find their dialects and targets already loaded.
  DialectRegistry registry;
  mlir::minfer::registerMinferDialects(registry);

  // Seeds: the lit corpus plus the snippets above.
  std::vector<std::string> dirs(corpusDirs.begin(), corpusDirs.end());
  if (dirs.empty())
    dirs = {MINFER_SOURCE_DIR "/test/Dialect/Minfer",
            MINFER_SOURCE_DIR "/test/Transforms"};
  std::vector<Input> seeds;
  for (const std::string &dir : dirs)
    for (const std::string &file : listFiles(dir, ".mlir")) {
      std::string text;
      if (!readFile(file, text))
        continue;
      auto parts = splitInputFile(text);
      for (size_t i = 0; i < parts.size(); ++i)
        seeds.push_back({parts[i], file + "#" + std::to_string(i), ""});
    }
  size_t corpusSeeds = seeds.size();
  for (const char *s : kSnippets)
    seeds.push_back({s, "snippet", ""});
  printf("minfer-fuzz-mlir: %zu seeds (%zu from %zu corpus dirs), %u "
         "mutations, seed %llu, %u jobs\n",
         seeds.size(), corpusSeeds, dirs.size(), unsigned(iterations),
         static_cast<unsigned long long>(seed), unsigned(jobs));
  std::vector<std::string> pipelines = resolvePipelines();

  MLIRContext context(registry, MLIRContext::Threading::DISABLED);
  // Load what the seeds and the minfer passes use; anything else a mutant
  // names loads lazily in its child. (Loading all ~80 dialects makes the
  // parent larger and every fork slower.)
  for (llvm::StringRef name : {"minfer", "func", "arith", "memref", "scf", "cf",
                               "gpu", "nvgpu", "nvvm", "llvm", "vector"})
    context.getOrLoadDialect(name);
  Child child{context, pipelines};
  Stats seedStats(kOutcomeNames), mutantStats(kOutcomeNames);
  std::map<std::string, std::vector<size_t>> byMutation;
  size_t findings = 0;
  mkdir(crashDir.c_str(), 0755);
  // Warm up in the parent: what the first parse, verification and expansion
  // initialize lazily is then inherited by every child instead of redone.
  for (const char *snippet : kSnippets)
    (void)child.run(snippet, /*runExtras=*/false, /*selfTestHooks=*/false);
  auto runChild = [&](size_t index, const std::string &text) {
    return child.run(text, extraEvery > 0 && index % extraEvery == 0);
  };
  auto report = [&](const std::vector<Input> &inputs, size_t index,
                    const Result &r) {
    findings += reportResult("minfer-fuzz-mlir", crashDir, ".mlir", index,
                             inputs[index], r, kOutcomeNames,
                             isFinding(r.outcome));
  };

  // Phase 1: every seed as is. Seeds that verify are the ones mutants of
  // which reach the verifiers and passes, so phase 2 prefers them.
  std::vector<bool> seedVerified(seeds.size(), false);
  runForked(seeds, jobs, timeoutSeconds, runChild,
            [&](size_t index, const Result &r) {
              seedStats.add(r);
              seedVerified[index] = r.kind == Result::Normal &&
                                    r.outcome != ParseRejected &&
                                    r.outcome != VerifyRejected;
              report(seeds, index, r);
            });
  std::vector<size_t> valid, all;
  for (size_t i = 0; i < seeds.size(); ++i) {
    all.push_back(i);
    if (seedVerified[i])
      valid.push_back(i);
  }

  // Phase 2: `iterations` mutants of 1-3 mutations, 3 in 4 from valid seeds.
  std::vector<Input> mutants;
  Rng rng(seed);
  while (mutants.size() < iterations) {
    const std::vector<size_t> &pool =
        !valid.empty() && rng.percent(75) ? valid : all;
    const Input &from = seeds[rng.pick(pool)];
    Input in{from.text, from.origin, ""};
    unsigned n = 1 + rng.below(3);
    for (unsigned i = 0; i < n; ++i)
      mutate(in.text, rng, in.mutations);
    if (!in.mutations.empty())
      mutants.push_back(std::move(in));
  }
  runForked(
      mutants, jobs, timeoutSeconds, runChild,
      [&](size_t index, const Result &r) {
        mutantStats.add(r);
        if (verbose) {
          const std::string &m = mutants[index].mutations;
          std::string first = m.substr(0, m.find(' '));
          auto &row = byMutation[first];
          row.resize(kOutcomeNames.size() + 1);
          ++row[r.kind == Result::Normal ? r.outcome : kOutcomeNames.size()];
        }
        report(mutants, index, r);
      });

  double seconds =
      std::chrono::duration<double>(std::chrono::steady_clock::now() - start)
          .count();
  seedStats.print(stdout, "unmutated seeds", 0);
  mutantStats.print(stdout, "mutants", seconds);
  printf("findings (round-trip / invalid IR, not fatal): %zu\n", findings);
  if (verbose) {
    printf("outcomes by first mutation (parse, verify, ..., crash):\n");
    for (auto &[name, row] : byMutation) {
      printf("  %-10s", name.c_str());
      for (size_t n : row)
        printf(" %4zu", n);
      printf("\n");
    }
  }

  // A harness that never gets past the parser tests nothing.
  size_t expanded = 0;
  for (int o : {Expanded, ExtraFailed, ExtraInvalidOutput, ExtraOk})
    expanded += seedStats.outcomes[o] + mutantStats.outcomes[o];
  if (expanded == 0) {
    fprintf(stderr, "minfer-fuzz-mlir: no input was expanded; is the corpus "
                    "path right?\n");
    return 2;
  }
  size_t crashes = seedStats.crashes + mutantStats.crashes;
  size_t hangs = seedStats.hangs + mutantStats.hangs;
  if (crashes + hangs == 0)
    return 0;
  printf("FAIL: %zu crash(es), %zu hang(s); inputs in %s\n", crashes, hangs,
         crashDir.c_str());
  return 1;
}
