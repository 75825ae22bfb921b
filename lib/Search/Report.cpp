//===- Report.cpp - the per-head search report (table and CSV) ------------===//
//
// One row per head: layer, head, the chosen pattern in MInference's naming
// with its two config values, the budget, and the chosen candidate's
// executed density, recall and rel-L2.
//
//===----------------------------------------------------------------------===//
#include "minfer/Search/Search.h"
#include <algorithm>
#include <cstdio>

namespace minfer::search {

namespace {

struct Row {
  std::string cells[9];
};

std::string fmt(const char *f, double v) {
  char buf[64];
  std::snprintf(buf, sizeof buf, f, v);
  return buf;
}

/// The two config values; the second is empty where the pattern has none.
std::pair<std::string, std::string> values(const HeadPattern &p) {
  switch (p.kind) {
  case PatternKind::AShape:
    return {std::to_string(p.sink), std::to_string(p.local)};
  case PatternKind::VerticalSlash:
    return {std::to_string(p.vertical), std::to_string(p.slash)};
  case PatternKind::BlockSparse:
    return {std::to_string(p.topK), ""};
  case PatternKind::Dense:
    return {"", ""};
  }
  return {"", ""};
}

std::vector<Row> rows(const std::vector<HeadResult> &results, double budget) {
  std::vector<Row> out;
  for (const HeadResult &r : results) {
    auto [v1, v2] = values(r.best.pattern);
    out.push_back(Row{{std::to_string(r.layer), std::to_string(r.head),
                       configName(r.best.pattern.kind), v1, v2,
                       fmt("%.4f", budget), fmt("%.4f", r.best.density),
                       fmt("%.4f", r.best.recall), fmt("%.4f", r.best.relL2)}});
  }
  return out;
}

const char *kHeader[9] = {"layer",  "head",    "pattern", "v1",    "v2",
                          "budget", "density", "recall",  "rel_l2"};

} // namespace

std::string reportTable(const std::vector<HeadResult> &results,
                        double budget) {
  std::vector<Row> rs = rows(results, budget);
  size_t width[9];
  for (int c = 0; c < 9; ++c) {
    width[c] = std::string(kHeader[c]).size();
    for (const Row &r : rs)
      width[c] = std::max(width[c], r.cells[c].size());
  }
  auto line = [&](const std::string *cells) {
    std::string s;
    for (int c = 0; c < 9; ++c) {
      std::string cell = cells[c];
      std::string pad(width[c] - cell.size(), ' ');
      // Text left-aligned, numbers right-aligned.
      s += (c == 2 ? cell + pad : pad + cell) + (c < 8 ? "  " : "\n");
    }
    return s;
  };
  std::string header[9];
  for (int c = 0; c < 9; ++c)
    header[c] = kHeader[c];
  std::string out = line(header);
  for (const Row &r : rs)
    out += line(r.cells);
  return out;
}

std::string reportCsv(const std::vector<HeadResult> &results, double budget) {
  std::string out;
  for (int c = 0; c < 9; ++c)
    out += std::string(kHeader[c]) + (c < 8 ? "," : "\n");
  for (const Row &r : rows(results, budget))
    for (int c = 0; c < 9; ++c)
      out += r.cells[c] + (c < 8 ? "," : "\n");
  return out;
}

} // namespace minfer::search
