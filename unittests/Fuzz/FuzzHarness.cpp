//===- FuzzHarness.cpp - fork-per-input runner and text mutations ---------===//
//
// See FuzzHarness.h. POSIX only (fork, waitpid, alarm, dup2).
//
//===----------------------------------------------------------------------===//
#include "FuzzHarness.h"

#include <algorithm>
#include <cctype>
#include <csignal>
#include <cstring>
#include <dirent.h>
#include <fcntl.h>
#include <poll.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/time.h>
#include <sys/wait.h>
#include <unistd.h>

namespace minfer::fuzz {

//===----------------------------------------------------------------------===//
// Files
//===----------------------------------------------------------------------===//

std::vector<std::string> splitInputFile(const std::string &text) {
  std::vector<std::string> parts;
  const std::string sep = "// -----";
  size_t begin = 0;
  while (true) {
    size_t pos = text.find(sep, begin);
    // A separator counts only at the start of a line.
    while (pos != std::string::npos && pos != 0 && text[pos - 1] != '\n')
      pos = text.find(sep, pos + 1);
    std::string part = text.substr(
        begin, pos == std::string::npos ? std::string::npos : pos - begin);
    if (part.find_first_not_of(" \t\r\n") != std::string::npos)
      parts.push_back(part);
    if (pos == std::string::npos)
      break;
    size_t eol = text.find('\n', pos);
    if (eol == std::string::npos)
      break;
    begin = eol + 1;
  }
  return parts;
}

std::vector<std::string> listFiles(const std::string &dir,
                                   const std::string &ext) {
  std::vector<std::string> files;
  DIR *d = opendir(dir.c_str());
  if (!d)
    return files;
  while (dirent *e = readdir(d)) {
    std::string name = e->d_name;
    if (name.size() <= ext.size() ||
        name.compare(name.size() - ext.size(), ext.size(), ext) != 0)
      continue;
    std::string path = dir + "/" + name;
    struct stat st;
    if (stat(path.c_str(), &st) == 0 && S_ISREG(st.st_mode))
      files.push_back(path);
  }
  closedir(d);
  std::sort(files.begin(), files.end());
  return files;
}

bool readFile(const std::string &path, std::string &out) {
  FILE *f = fopen(path.c_str(), "rb");
  if (!f)
    return false;
  out.clear();
  char buf[4096];
  size_t n;
  while ((n = fread(buf, 1, sizeof(buf), f)) > 0)
    out.append(buf, n);
  fclose(f);
  return true;
}

bool writeFile(const std::string &path, const std::string &text) {
  FILE *f = fopen(path.c_str(), "wb");
  if (!f)
    return false;
  bool ok = fwrite(text.data(), 1, text.size(), f) == text.size();
  return fclose(f) == 0 && ok;
}

//===----------------------------------------------------------------------===//
// Runner
//===----------------------------------------------------------------------===//
//
// Forking once per input costs more than most inputs (copy-on-write faults of
// the parent's heap, lazy binding), so a child serves up to `perChild` inputs:
// the parent writes an input index to the child's command pipe, the child
// runs it under a CPU-time limit (setitimer) and a wall-clock one (alarm) and
// answers with one outcome byte. A child that dies
// instead of answering takes the blame for its in-flight input, which is then
// re-run alone in a fresh child to tell a crash of that input from one that
// needed the earlier inputs' state.

namespace {
struct Slot {
  pid_t pid = -1;
  int command = -1;       ///< parent -> child: input indices (uint64_t)
  int answer = -1;        ///< child -> parent: one outcome byte per input
  FILE *output = nullptr; ///< the child's stdout and stderr, per input
  long inFlight = -1;
  unsigned served = 0;
};

std::string readTail(FILE *f, size_t maxBytes) {
  int fd = fileno(f);
  off_t size = lseek(fd, 0, SEEK_END);
  off_t start = size > static_cast<off_t>(maxBytes) ? size - maxBytes : 0;
  std::string out(static_cast<size_t>(size - start), '\0');
  ssize_t got = pread(fd, out.data(), out.size(), start);
  out.resize(got > 0 ? static_cast<size_t>(got) : 0);
  return out;
}

void clearFile(int fd) {
  if (ftruncate(fd, 0) != 0) {
    // Old text in a later report is harmless; keep going.
  }
  lseek(fd, 0, SEEK_SET);
}

/// How a child that did not answer ended.
Result deathResult(int status, FILE *output) {
  Result r;
  r.kind = Result::Crash;
  r.output = readTail(output, 8192);
  if (WIFEXITED(status)) {
    r.status = "exit " + std::to_string(WEXITSTATUS(status));
  } else if (WIFSIGNALED(status)) {
    int sig = WTERMSIG(status);
    if (sig == SIGALRM || sig == SIGPROF)
      r.kind = Result::Hang;
    r.status = "signal " + std::to_string(sig) + " (" + strsignal(sig) + ")";
  } else {
    r.status = "wait status " + std::to_string(status);
  }
  return r;
}

class Runner {
public:
  Runner(const std::vector<Input> &inputs, unsigned timeoutSeconds,
         const std::function<int(size_t, const std::string &)> &child,
         std::vector<Slot> &slots)
      : inputs(inputs), timeoutSeconds(timeoutSeconds), child(child),
        slots(slots) {}

  /// Starts a child for `slot` (closing any previous one).
  bool spawn(Slot &slot) {
    retire(slot);
    int command[2], answer[2];
    if (pipe(command) != 0 || pipe(answer) != 0)
      return false;
    fflush(stdout);
    fflush(stderr);
    pid_t pid = fork();
    if (pid < 0)
      return false;
    if (pid == 0) {
      close(command[1]); // else the command pipe never reaches EOF
      close(answer[0]);
      serve(command[0], answer[1], fileno(slot.output));
    }
    close(command[0]);
    close(answer[1]);
    slot.pid = pid;
    slot.command = command[1];
    slot.answer = answer[0];
    slot.served = 0;
    return true;
  }

  /// Closes the slot's pipes and reaps its child (which exits on EOF).
  void retire(Slot &slot) {
    if (slot.pid == -1)
      return;
    close(slot.command);
    close(slot.answer);
    int status;
    waitpid(slot.pid, &status, 0);
    slot.pid = -1;
  }

  bool send(Slot &slot, size_t index) {
    uint64_t i = index;
    return write(slot.command, &i, sizeof(i)) == sizeof(i);
  }

  /// Reads the slot's answer; on death, reaps the child and describes it.
  Result receive(Slot &slot) {
    uint8_t outcome;
    ssize_t n;
    do
      n = read(slot.answer, &outcome, 1);
    while (n < 0 && errno == EINTR);
    if (n == 1) {
      Result r;
      r.outcome = outcome;
      r.output = readTail(slot.output, 8192);
      ++slot.served;
      return r;
    }
    int status = 0;
    waitpid(slot.pid, &status, 0);
    close(slot.command);
    close(slot.answer);
    slot.pid = -1;
    return deathResult(status, slot.output);
  }

  /// Runs one input in a fresh child of its own.
  Result runAlone(size_t index) {
    Slot alone;
    alone.output = tmpfile();
    Result r;
    if (!alone.output || !spawn(alone) || !send(alone, index)) {
      r.kind = Result::Crash;
      r.status = std::string("could not start a child: ") + strerror(errno);
    } else {
      r = receive(alone);
      retire(alone);
    }
    if (alone.output)
      fclose(alone.output);
    return r;
  }

private:
  [[noreturn]] void serve(int command, int answer, int output) {
    // Only this slot's pipe ends stay open here, so that every other child
    // sees EOF when the parent closes its command pipe.
    for (Slot &other : slots)
      if (other.pid != -1) {
        close(other.command);
        close(other.answer);
      }
    struct rlimit noCore = {0, 0};
    setrlimit(RLIMIT_CORE, &noCore);
    signal(SIGALRM, SIG_DFL);
    signal(SIGPROF, SIG_DFL);
    signal(SIGPIPE, SIG_DFL);
    dup2(output, STDOUT_FILENO);
    dup2(output, STDERR_FILENO);
    uint64_t index;
    while (read(command, &index, sizeof(index)) == sizeof(index) &&
           index < inputs.size()) {
      clearFile(output);
      // CPU time is the limit (a loaded machine must not turn slow inputs
      // into hangs); wall-clock time, 5x as much, catches a child that hangs
      // without spinning, e.g. on a lock.
      itimerval cpu = {{0, 0}, {static_cast<time_t>(timeoutSeconds), 0}};
      setitimer(ITIMER_PROF, &cpu, nullptr);
      alarm(5 * timeoutSeconds);
      int outcome = child(index, inputs[index].text);
      alarm(0);
      itimerval off = {{0, 0}, {0, 0}};
      setitimer(ITIMER_PROF, &off, nullptr);
      fflush(stdout);
      fflush(stderr);
      if (outcome < 0 || outcome >= kMaxOutcomes)
        _exit(3); // a broken child is a crash too
      uint8_t byte = static_cast<uint8_t>(outcome);
      if (write(answer, &byte, 1) != 1)
        break;
    }
    _exit(0);
  }

  const std::vector<Input> &inputs;
  unsigned timeoutSeconds;
  const std::function<int(size_t, const std::string &)> &child;
  std::vector<Slot> &slots;
};
} // namespace

void runForked(const std::vector<Input> &inputs, unsigned jobs,
               unsigned timeoutSeconds,
               const std::function<int(size_t, const std::string &)> &child,
               const std::function<void(size_t, const Result &)> &done,
               unsigned perChild) {
  if (jobs == 0) {
    // In-process, for debugging under gdb: no crash or hang protection.
    for (size_t i = 0; i < inputs.size(); ++i) {
      Result r;
      r.outcome = child(i, inputs[i].text);
      done(i, r);
    }
    return;
  }
  // A write to a child that just died must fail, not kill the parent.
  signal(SIGPIPE, SIG_IGN);
  std::vector<Slot> slots(jobs);
  for (Slot &s : slots)
    s.output = tmpfile();
  Runner runner(inputs, timeoutSeconds, child, slots);
  size_t next = 0, running = 0;
  while (next < inputs.size() || running > 0) {
    for (Slot &s : slots) {
      if (s.inFlight != -1 || next >= inputs.size())
        continue;
      if ((s.pid == -1 || s.served >= perChild) && !runner.spawn(s)) {
        Result r;
        r.kind = Result::Crash;
        r.status = std::string("could not start a child: ") + strerror(errno);
        done(next++, r);
        continue;
      }
      // Before the input is sent: a fast child may already be writing.
      clearFile(fileno(s.output));
      if (!runner.send(s, next)) {
        // The idle child died between inputs: start another, try again.
        runner.retire(s);
        if (!runner.spawn(s) || !runner.send(s, next)) {
          Result r;
          r.kind = Result::Crash;
          r.status = "could not hand the input to a child";
          done(next++, r);
          continue;
        }
      }
      s.inFlight = static_cast<long>(next++);
      ++running;
    }
    if (running == 0)
      continue;
    std::vector<pollfd> fds;
    for (Slot &s : slots)
      if (s.inFlight != -1)
        fds.push_back({s.answer, POLLIN, 0});
    if (poll(fds.data(), fds.size(), -1) < 0 && errno != EINTR)
      break;
    for (Slot &s : slots) {
      if (s.inFlight == -1)
        continue;
      auto it = std::find_if(fds.begin(), fds.end(),
                             [&](const pollfd &p) { return p.fd == s.answer; });
      if (it == fds.end() || it->revents == 0)
        continue;
      size_t index = static_cast<size_t>(s.inFlight);
      unsigned before = s.served;
      Result r = runner.receive(s);
      s.inFlight = -1;
      --running;
      if (r.kind != Result::Normal && before > 0) {
        // Did it need the state the earlier inputs left in that child?
        Result alone = runner.runAlone(index);
        if (alone.kind == Result::Normal)
          r.status += " (only after " + std::to_string(before) +
                      " earlier inputs in the same process; alone it passes)";
        else
          r = alone;
      }
      done(index, r);
    }
  }
  for (Slot &s : slots) {
    runner.retire(s);
    fclose(s.output);
  }
}

//===----------------------------------------------------------------------===//
// Mutations
//===----------------------------------------------------------------------===//

const std::vector<std::string> &interestingNumbers() {
  static const std::vector<std::string> values = {"0",
                                                  "-1",
                                                  "1",
                                                  "2",
                                                  "3",
                                                  "15",
                                                  "16",
                                                  "17",
                                                  "32",
                                                  "63",
                                                  "64",
                                                  "65",
                                                  "96",
                                                  "100",
                                                  "127",
                                                  "128",
                                                  "129",
                                                  "256",
                                                  "4096",
                                                  "-64",
                                                  "2147483647",
                                                  "2147483648",
                                                  "4294967296",
                                                  "-2147483648",
                                                  "9223372036854775807",
                                                  "-9223372036854775808",
                                                  "9223372036854775808",
                                                  "99999999999999999999"};
  return values;
}

static bool isWordChar(char c) {
  return std::isalnum(static_cast<unsigned char>(c)) || c == '_';
}

Spans findIntegers(const std::string &text) {
  std::vector<std::pair<size_t, size_t>> spans;
  size_t i = 0, n = text.size();
  while (i < n) {
    if (!std::isdigit(static_cast<unsigned char>(text[i]))) {
      ++i;
      continue;
    }
    size_t begin = i;
    while (i < n && std::isdigit(static_cast<unsigned char>(text[i])))
      ++i;
    char before = begin > 0 ? text[begin - 1] : ' ';
    // `x` between extents (1x2x64) is a separator; any other word character,
    // '%', '#', '^' or '.' means the digits belong to a name or a float.
    bool shapeExtent =
        before == 'x' && begin >= 2 &&
        (std::isdigit(static_cast<unsigned char>(text[begin - 2])) ||
         text[begin - 2] == '?');
    if (!shapeExtent && (isWordChar(before) || before == '%' || before == '#' ||
                         before == '^' || before == '.'))
      continue;
    if (i < n && (isWordChar(text[i]) && text[i] != 'x'))
      continue; // 0x7F800000, 1e5, ...
    if (begin > 0 && text[begin - 1] == '-')
      --begin;
    spans.push_back({begin, i});
  }
  return spans;
}

bool flipByte(std::string &text, Rng &rng, std::string &log) {
  if (text.empty())
    return false;
  size_t pos = rng.below(text.size());
  char old = text[pos];
  text[pos] = static_cast<char>(old ^ (1u << rng.below(8)));
  log += "flip byte " + std::to_string(pos) + "\n";
  return true;
}

bool insertSpecialChar(std::string &text, Rng &rng, std::string &log) {
  static const std::vector<std::string> chars = {
      "<",  ">", "{", "}", "[", "]", "(",  ")",  ",",  "%",    "#",
      "\"", "=", ":", "?", "x", "-", "\n", "\\", "\0", "\xff", "// -----\n"};
  size_t pos = rng.below(text.size() + 1);
  const std::string &c = rng.pick(chars);
  text.insert(pos, c.size() ? c : std::string(1, '\0'));
  log += "insert special char at " + std::to_string(pos) + "\n";
  return true;
}

bool truncate(std::string &text, Rng &rng, std::string &log) {
  if (text.size() < 2)
    return false;
  size_t pos = rng.below(text.size());
  text.resize(pos);
  log += "truncate at " + std::to_string(pos) + "\n";
  return true;
}

static std::vector<std::pair<size_t, size_t>> lines(const std::string &text) {
  std::vector<std::pair<size_t, size_t>> out;
  size_t begin = 0;
  while (begin < text.size()) {
    size_t end = text.find('\n', begin);
    end = end == std::string::npos ? text.size() : end + 1;
    out.push_back({begin, end});
    begin = end;
  }
  return out;
}

bool deleteLine(std::string &text, Rng &rng, std::string &log) {
  auto ls = lines(text);
  if (ls.size() < 2)
    return false;
  size_t i = rng.below(ls.size());
  text.erase(ls[i].first, ls[i].second - ls[i].first);
  log += "delete line " + std::to_string(i + 1) + "\n";
  return true;
}

bool duplicateLine(std::string &text, Rng &rng, std::string &log) {
  auto ls = lines(text);
  if (ls.empty())
    return false;
  size_t i = rng.below(ls.size());
  std::string line = text.substr(ls[i].first, ls[i].second - ls[i].first);
  if (line.empty() || line.back() != '\n')
    line += '\n';
  text.insert(ls[i].first, line);
  log += "duplicate line " + std::to_string(i + 1) + "\n";
  return true;
}

bool replaceSpan(std::string &text, const Spans &spans, Rng &rng,
                 std::string &log, const char *what,
                 const std::function<std::string(const std::string &)> &to,
                 const char *note) {
  if (spans.empty())
    return false;
  auto [b, e] = spans[rng.below(spans.size())];
  const std::string from = text.substr(b, e - b);
  const std::string value = to(from);
  log += std::string(what) + " " + from + " -> " + value + note + "\n";
  text.replace(b, e - b, value);
  return true;
}

bool replaceNumber(std::string &text, Rng &rng, std::string &log) {
  return replaceSpan(
      text, findIntegers(text), rng, log, "number",
      [&](const std::string &) { return rng.pick(interestingNumbers()); });
}

bool swapNumbers(std::string &text, Rng &rng, std::string &log) {
  auto spans = findIntegers(text);
  if (spans.size() < 2)
    return false;
  size_t i = rng.below(spans.size()), j = rng.below(spans.size());
  if (i == j)
    return false;
  if (i > j)
    std::swap(i, j);
  std::string a = text.substr(spans[i].first, spans[i].second - spans[i].first);
  std::string b = text.substr(spans[j].first, spans[j].second - spans[j].first);
  // Replace the later span first so the earlier offsets stay valid.
  text.replace(spans[j].first, spans[j].second - spans[j].first, a);
  text.replace(spans[i].first, spans[i].second - spans[i].first, b);
  log += "swap numbers " + a + " <-> " + b + "\n";
  return true;
}

bool replaceWord(std::string &text, Rng &rng, std::string &log,
                 const std::vector<std::string> &from,
                 const std::vector<std::string> &to, const char *what) {
  std::vector<std::pair<size_t, size_t>> hits;
  for (const std::string &w : from) {
    for (size_t pos = text.find(w); pos != std::string::npos;
         pos = text.find(w, pos + 1)) {
      size_t end = pos + w.size();
      char before = pos > 0 ? text[pos - 1] : ' ';
      bool afterShape =
          before == 'x' && pos >= 2 &&
          (std::isdigit(static_cast<unsigned char>(text[pos - 2])) ||
           text[pos - 2] == '?');
      if ((isWordChar(before) && !afterShape) ||
          (end < text.size() && isWordChar(text[end])))
        continue;
      hits.push_back({pos, end});
    }
  }
  if (hits.empty())
    return false;
  auto [b, e] = hits[rng.below(hits.size())];
  const std::string &w = rng.pick(to);
  log += std::string(what) + " " + text.substr(b, e - b) + " -> " + w + "\n";
  text.replace(b, e - b, w);
  return true;
}

//===----------------------------------------------------------------------===//
// Stats
//===----------------------------------------------------------------------===//

void Stats::add(const Result &r) {
  ++total;
  if (r.kind == Result::Crash)
    ++crashes;
  else if (r.kind == Result::Hang)
    ++hangs;
  else if (r.outcome >= 0 && static_cast<size_t>(r.outcome) < outcomes.size())
    ++outcomes[r.outcome];
}

void Stats::print(FILE *out, const char *title, double seconds) const {
  fprintf(out, "%s: %zu inputs in %.1f s\n", title, total, seconds);
  for (size_t i = 0; i < outcomes.size(); ++i)
    fprintf(out, "  %-28s %zu\n", outcomeNames[i].c_str(), outcomes[i]);
  fprintf(out, "  %-28s %zu\n", "CRASHES", crashes);
  fprintf(out, "  %-28s %zu\n", "HANGS", hangs);
}

bool parseCommonOption(const char *arg, CommonOptions &o) {
  auto value = [&](const char *name) -> const char * {
    size_t n = strlen(name);
    return strncmp(arg, name, n) == 0 && arg[n] == '=' ? arg + n + 1 : nullptr;
  };
  if (const char *v = value("--iterations"))
    o.iterations = strtoul(v, nullptr, 10);
  else if (const char *v = value("--seed"))
    o.seed = strtoull(v, nullptr, 0);
  else if (const char *v = value("--jobs"))
    o.jobs = strtoul(v, nullptr, 10);
  else if (const char *v = value("--timeout"))
    o.timeout = strtoul(v, nullptr, 10);
  else if (const char *v = value("--crash-dir"))
    o.crashDir = v;
  else if (const char *v = value("--corpus-dir"))
    o.corpusDirs.push_back(v);
  else
    return false;
  return true;
}

bool textMutation(unsigned which, std::string &text, Rng &rng,
                  std::string &log) {
  switch (which) {
  case 0:
    return flipByte(text, rng, log);
  case 1:
    return insertSpecialChar(text, rng, log);
  case 2:
    return truncate(text, rng, log);
  default:
    return rng.percent(50) ? deleteLine(text, rng, log)
                           : duplicateLine(text, rng, log);
  }
}

size_t reportResult(const char *tool, const std::string &dir,
                    const std::string &ext, size_t index, const Input &in,
                    const Result &r, const std::vector<std::string> &outcomeNames,
                    bool finding, bool echoOutput) {
  const bool bad = r.kind != Result::Normal;
  if (!bad && !finding)
    return 0;
  const char *kind = r.kind == Result::Crash  ? "crash"
                     : r.kind == Result::Hang ? "hang"
                                              : "finding";
  const std::string status = bad ? r.status : outcomeNames[r.outcome];
  const std::string base = dir + "/" + kind + "-" + std::to_string(index);
  writeFile(base + ext, in.text);
  writeFile(base + ".log", "origin: " + in.origin + "\nmutations:\n" +
                               in.mutations + "status: " + status +
                               "\noutput:\n" + r.output);
  fprintf(stderr, "%s: %s on input %zu (%s), written to %s%s\n%s", tool,
          status.c_str(), index, in.origin.c_str(), base.c_str(), ext.c_str(),
          echoOutput ? r.output.c_str() : "");
  return bad ? 0 : 1;
}

} // namespace minfer::fuzz
