//===- FuzzHarness.h - fixed-seed, fork-per-input mutation fuzzing -*- C++
//-*-===//
//
// The shared half of the minfer fuzzers (issue "Reliability"). A fuzzer builds
// its inputs in the parent from a seed corpus and a deterministic RNG, then
// runs them in forked children with a per-input timeout (CPU time via
// setitimer, wall-clock time via alarm), so that an
// abort, a segfault or a hang in MLIR or in our code is caught, reported with
// the input written to a file, and does not stop the run. A child answers
// each input with an outcome byte; dying instead (a signal, exit(1) from
// report_fatal_error, ...) is a crash, a timer signal a hang.
//
// No MLIR dependency and no exceptions (LLVM's flags add -fno-exceptions).
//
//===----------------------------------------------------------------------===//
#ifndef MINFER_UNITTESTS_FUZZ_FUZZHARNESS_H
#define MINFER_UNITTESTS_FUZZ_FUZZHARNESS_H

#include <cstdint>
#include <cstdio>
#include <functional>
#include <string>
#include <vector>

namespace minfer::fuzz {

/// SplitMix64: the same sequence on every platform and standard library (the
/// std:: distributions are implementation-defined), so a seed reproduces a run.
class Rng {
public:
  explicit Rng(uint64_t seed) : state(seed) {}
  uint64_t next() {
    uint64_t z = (state += 0x9e3779b97f4a7c15ull);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
    return z ^ (z >> 31);
  }
  /// Uniform in [0, n); 0 when n == 0.
  uint64_t below(uint64_t n) { return n == 0 ? 0 : next() % n; }
  bool percent(unsigned p) { return below(100) < p; }
  template <typename T> const T &pick(const std::vector<T> &v) {
    return v[below(v.size())];
  }

private:
  uint64_t state;
};

/// One fuzz input and how it was made (written next to it on a crash).
struct Input {
  std::string text;
  std::string origin;    ///< seed it was derived from
  std::string mutations; ///< one line per mutation applied
};

/// Outcomes are the fuzzer's own, in [0, kMaxOutcomes).
inline constexpr int kMaxOutcomes = 16;

struct Result {
  enum Kind { Normal, Crash, Hang } kind = Normal; ///< Hang: a timer fired
  int outcome = -1;   ///< Normal: the child's outcome
  std::string status; ///< Crash/Hang: "signal 6 (Aborted)", "exit 1", ...
  std::string output; ///< tail of the child's stdout/stderr
};

/// A splittable corpus file: `// -----` separates inputs, as in lit tests.
std::vector<std::string> splitInputFile(const std::string &text);
/// Every regular file under `dir` (not recursive) whose name ends in `ext`,
/// sorted by name so that runs are reproducible.
std::vector<std::string> listFiles(const std::string &dir,
                                   const std::string &ext);
bool readFile(const std::string &path, std::string &out);
bool writeFile(const std::string &path, const std::string &text);

/// Runs `child(index, input)` for every input in forked children, at most
/// `jobs` at a time, each input limited to timeoutSeconds of CPU time and 5x
/// that of wall-clock time. A child serves up
/// to `perChild` inputs before it is replaced; a crash or hang is re-run alone
/// in a fresh child before it is reported. `done` is called in the parent, in
/// completion order, with the input's index. `child` returns an outcome in
/// [0, kMaxOutcomes). jobs == 0 runs everything in-process (for a debugger;
/// a crash then ends the run).
void runForked(const std::vector<Input> &inputs, unsigned jobs,
               unsigned timeoutSeconds,
               const std::function<int(size_t, const std::string &)> &child,
               const std::function<void(size_t, const Result &)> &done,
               unsigned perChild = 64);

//===----------------------------------------------------------------------===//
// Text mutations shared by the fuzzers. Each returns false (leaving `text`
// alone) when it finds nothing to mutate, and appends what it did to `log`.
//===----------------------------------------------------------------------===//

/// Values that sit on the edges the verifiers check: 0, -1, 16/64 multiples
/// and their neighbours, head dims, int32/int64 limits, beyond int64.
const std::vector<std::string> &interestingNumbers();

bool flipByte(std::string &text, Rng &rng, std::string &log);
bool insertSpecialChar(std::string &text, Rng &rng, std::string &log);
bool truncate(std::string &text, Rng &rng, std::string &log);
bool deleteLine(std::string &text, Rng &rng, std::string &log);
bool duplicateLine(std::string &text, Rng &rng, std::string &log);
/// Replaces one integer literal by an interesting number.
bool replaceNumber(std::string &text, Rng &rng, std::string &log);
/// Swaps two integer literals.
bool swapNumbers(std::string &text, Rng &rng, std::string &log);
/// Replaces one occurrence (as a whole word) of a word in `from` by a word
/// drawn from `to`.
bool replaceWord(std::string &text, Rng &rng, std::string &log,
                 const std::vector<std::string> &from,
                 const std::vector<std::string> &to, const char *what);

/// The byte- and line-level mutations every text fuzzer starts its
/// dispatcher with, `which` in [0, kTextMutations): flip a byte, insert a
/// special character, truncate, delete or duplicate a line.
inline constexpr unsigned kTextMutations = 4;
bool textMutation(unsigned which, std::string &text, Rng &rng,
                  std::string &log);

/// Spans [begin, end) of a text.
using Spans = std::vector<std::pair<size_t, size_t>>;
/// Spans of the integer literals of `text` (a leading '-' included),
/// skipping digits inside identifiers such as bf16 or %arg0 but not the
/// extents of a shape such as 1x2x64.
Spans findIntegers(const std::string &text);
/// Replaces one of `spans`, drawn by `rng`, by `to(its text)` and logs
/// "<what> <old> -> <new><note>"; false (text unchanged) when there is none.
bool replaceSpan(std::string &text, const Spans &spans, Rng &rng,
                 std::string &log, const char *what,
                 const std::function<std::string(const std::string &)> &to,
                 const char *note = "");

/// Prints the summary table: one row per outcome, then crashes and hangs.
/// What every fuzzer's command line sets, as `--name=value`.
struct CommonOptions {
  unsigned iterations = 2000;
  uint64_t seed = 0;
  unsigned jobs = 2;
  unsigned timeout = 10; ///< seconds per child
  std::string crashDir;
  std::vector<std::string> corpusDirs;
};

/// Parses `arg` into `o` if it is --iterations=, --seed=, --jobs=,
/// --timeout=, --crash-dir= or --corpus-dir= (repeatable); false otherwise.
bool parseCommonOption(const char *arg, CommonOptions &o);

/// What every fuzzer does with a child's result: a crash, a hang, or a
/// normal outcome that `finding` marks as a broken promise is written to
/// <dir>/<kind>-<index><ext> with a .log beside it (origin, mutations,
/// status, the child's output) and reported on stderr as "<tool>: <status>
/// on input <index> (<origin>), written to <file>", followed by the child's
/// output when `echoOutput`. Returns 1 for a finding, 0 otherwise (crashes
/// and hangs are counted by Stats).
size_t reportResult(const char *tool, const std::string &dir,
                    const std::string &ext, size_t index, const Input &in,
                    const Result &r, const std::vector<std::string> &outcomeNames,
                    bool finding, bool echoOutput = false);

struct Stats {
  std::vector<std::string> outcomeNames;
  std::vector<size_t> outcomes;
  size_t total = 0, crashes = 0, hangs = 0;
  explicit Stats(std::vector<std::string> names)
      : outcomeNames(std::move(names)), outcomes(outcomeNames.size(), 0) {}
  void add(const Result &r);
  void print(FILE *out, const char *title, double seconds) const;
};

} // namespace minfer::fuzz

#endif // MINFER_UNITTESTS_FUZZ_FUZZHARNESS_H
