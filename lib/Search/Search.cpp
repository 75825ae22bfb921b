//===- Search.cpp - candidates, selection and the per-layer driver --------===//
//
// Budget fitting relies on monotonicity: a larger local window, slash count
// or top_k never executes fewer pairs (the runtime's top-k selections are
// nested as k grows), so the largest value within the budget is found by
// bisection on the scorer's measured density.
//
//===----------------------------------------------------------------------===//
#include "minfer/Search/Search.h"
#include "minfer/Runtime/Config.h"
#include <algorithm>
#include <cmath>

namespace minfer::search {

Status SearchOptions::validate() const {
  if (!(budget > 0 && budget <= 1))
    return invalidArgument("budget must be in (0, 1], got " +
                           std::to_string(budget));
  if (!aShape && !verticalSlash && !blockSparse)
    return invalidArgument("every pattern family is disabled");
  for (int64_t s : sinks)
    if (s < 0)
      return invalidArgument("sink sizes must be non-negative");
  for (double f : verticalShares)
    if (!(f >= 0 && f < 1))
      return invalidArgument("vertical shares must be in [0, 1)");
  if (!(tieTolerance >= 0) || !std::isfinite(tieTolerance))
    return invalidArgument("tie tolerance must be a finite non-negative "
                           "number");
  if (lastQ <= 0 || lastQ % 16 != 0)
    return invalidArgument("last_q must be a positive multiple of 16");
  if (scorer.lastRows < 0 || scorer.sampleRows < 0 ||
      scorer.lastRows + scorer.sampleRows == 0)
    return invalidArgument("the scorer needs at least one evaluation row");
  return Status::success();
}

const char *configName(PatternKind k) {
  switch (k) {
  case PatternKind::AShape: return "stream_llm";
  case PatternKind::VerticalSlash: return "vertical_and_slash";
  case PatternKind::BlockSparse: return "block_sparse";
  case PatternKind::Dense: return "dense";
  }
  return "dense";
}

namespace {

/// Largest x in [lo, hi] with fits(x), given fits(lo) and monotonicity.
template <typename Fits>
Status largestFitting(int64_t lo, int64_t hi, Fits fits, int64_t &out) {
  while (lo < hi) {
    int64_t mid = lo + (hi - lo + 1) / 2;
    bool ok = false;
    MINFER_RETURN_IF_ERROR(fits(mid, ok));
    if (ok)
      lo = mid;
    else
      hi = mid - 1;
  }
  out = lo;
  return Status::success();
}

void addUnique(std::vector<HeadPattern> &v, const HeadPattern &p) {
  if (std::find(v.begin(), v.end(), p) == v.end())
    v.push_back(p);
}

int kindRank(PatternKind k) {
  switch (k) {
  case PatternKind::AShape: return 0;
  case PatternKind::BlockSparse: return 1;
  case PatternKind::VerticalSlash: return 2;
  case PatternKind::Dense: return 3;
  }
  return 4;
}

} // namespace

Status makeCandidates(Scorer &scorer, int64_t N, const SearchOptions &opts,
                      std::vector<HeadPattern> &out) {
  out.clear();
  MINFER_RETURN_IF_ERROR(opts.validate());
  const double budget = opts.budget;
  // A tiny slack so a candidate exactly at the budget is not lost to
  // floating-point rounding of the density.
  const double limit = budget * (1 + 1e-12);
  auto fitsWith = [&](auto make) {
    return [&, make](int64_t x, bool &ok) -> Status {
      double d = 0;
      MINFER_RETURN_IF_ERROR(scorer.density(make(x), d));
      ok = d <= limit;
      return Status::success();
    };
  };

  if (opts.aShape) {
    for (int64_t sink : opts.sinks) {
      if (sink >= N)
        continue;
      auto fits = fitsWith([sink](int64_t l) {
        return HeadPattern::aShape(sink, l);
      });
      bool ok = false;
      MINFER_RETURN_IF_ERROR(fits(1, ok));
      if (!ok)
        continue;
      int64_t local = 1;
      MINFER_RETURN_IF_ERROR(largestFitting(1, N, fits, local));
      addUnique(out, HeadPattern::aShape(sink, local));
    }
  }

  if (opts.verticalSlash) {
    const VsOptions &vs = opts.scorer.vs;
    const double pairs = static_cast<double>(causalPairs(N));
    const int64_t sMin = std::clamp<int64_t>(vs.forcedSlash, 1, N);
    for (double share : opts.verticalShares) {
      int64_t v = std::llround(share * budget * pairs / (0.5 * N));
      v = std::clamp<int64_t>(std::max(v, vs.forcedVertical), 1, N);
      const int64_t lastQ = opts.lastQ;
      auto fits = fitsWith([v, lastQ](int64_t s) {
        return HeadPattern::verticalSlash(v, s, lastQ);
      });
      bool ok = false;
      MINFER_RETURN_IF_ERROR(fits(sMin, ok));
      if (!ok)
        continue;
      int64_t s = sMin;
      MINFER_RETURN_IF_ERROR(largestFitting(sMin, N, fits, s));
      addUnique(out, HeadPattern::verticalSlash(v, s, lastQ));
    }
  }

  if (opts.blockSparse) {
    const int64_t nb = numQueryBlocks(N);
    auto fits = fitsWith([](int64_t k) { return HeadPattern::blockSparse(k); });
    bool ok = false;
    MINFER_RETURN_IF_ERROR(fits(1, ok));
    if (ok) {
      int64_t k = 1;
      MINFER_RETURN_IF_ERROR(largestFitting(1, nb, fits, k));
      addUnique(out, HeadPattern::blockSparse(k));
    }
  }
  return Status::success();
}

size_t pickBest(const std::vector<CandidateEval> &evals,
                const SearchOptions &opts) {
  auto metric = [&](const CandidateEval &e) {
    return opts.metric == Metric::Recall ? e.recall : -e.relL2;
  };
  if (evals.empty())
    return 0;
  double best = metric(evals[0]);
  for (const CandidateEval &e : evals)
    best = std::max(best, metric(e));
  size_t pick = evals.size();
  for (size_t i = 0; i < evals.size(); ++i) {
    if (metric(evals[i]) < best - opts.tieTolerance)
      continue;
    if (pick == evals.size()) {
      pick = i;
      continue;
    }
    int ri = kindRank(evals[i].pattern.kind),
        rp = kindRank(evals[pick].pattern.kind);
    if (ri < rp || (ri == rp && metric(evals[i]) > metric(evals[pick])))
      pick = i;
  }
  return pick;
}

Status searchHead(Scorer &scorer, int64_t N, const SearchOptions &opts,
                  HeadResult &out) {
  std::vector<HeadPattern> cands;
  MINFER_RETURN_IF_ERROR(makeCandidates(scorer, N, opts, cands));
  if (cands.empty()) {
    double d = 0;
    MINFER_RETURN_IF_ERROR(scorer.density(HeadPattern::aShape(0, 1), d));
    return invalidArgument(
        "no candidate fits the budget " + std::to_string(opts.budget) +
        " at N = " + std::to_string(N) +
        " (even a_shape<sink = 0, local = 1> keeps " + std::to_string(d) +
        " of the causal work; vertical_slash needs its forced columns and "
        "diagonals); raise --budget");
  }
  out.candidates.clear();
  for (const HeadPattern &p : cands) {
    CandidateEval e;
    MINFER_RETURN_IF_ERROR(scorer.evaluate(p, e));
    out.candidates.push_back(e);
  }
  out.best = out.candidates[pickBest(out.candidates, opts)];
  return Status::success();
}

Status checkLayerShapes(const LayerTensors &t, const std::string &what) {
  auto str = [](const std::vector<int64_t> &s) {
    std::string r = "[";
    for (size_t i = 0; i < s.size(); ++i)
      r += (i ? ", " : "") + std::to_string(s[i]);
    return r + "]";
  };
  const char *names[3] = {"q", "k", "v"};
  const std::vector<int64_t> *shapes[3] = {&t.qShape, &t.kShape, &t.vShape};
  const std::vector<float> *data[3] = {t.q, t.k, t.v};
  for (int i = 0; i < 3; ++i) {
    if (shapes[i]->size() != 4)
      return invalidArgument(what + ": " + names[i] + " must have rank 4 (" +
                             (i ? "[B, Hkv, N, D]" : "[B, H, N, D]") +
                             "), got shape " + str(*shapes[i]));
    for (int64_t d : *shapes[i])
      if (d <= 0)
        return invalidArgument(what + ": " + names[i] +
                               " has an empty dimension: " + str(*shapes[i]));
    int64_t n = 1;
    for (int64_t d : *shapes[i])
      n *= d;
    if (!data[i] || static_cast<int64_t>(data[i]->size()) != n)
      return invalidArgument(what + ": " + names[i] +
                             " data does not match its shape " +
                             str(*shapes[i]));
  }
  const auto &q = t.qShape, &k = t.kShape, &v = t.vShape;
  if (k[0] != q[0])
    return invalidArgument(what + ": batch mismatch: q " + str(q) + ", k " +
                           str(k));
  if (k[2] != q[2])
    return invalidArgument(what + ": sequence length (N) mismatch: q " +
                           str(q) + ", k " + str(k));
  if (k[3] != q[3])
    return invalidArgument(what + ": head_dim (D) mismatch: q " + str(q) +
                           ", k " + str(k));
  if (q[1] % k[1] != 0)
    return invalidArgument(what + ": heads mismatch: q has " +
                           std::to_string(q[1]) + " heads, k " +
                           std::to_string(k[1]) +
                           " kv heads (not a multiple)");
  if (v != k)
    return invalidArgument(what + ": v shape " + str(v) +
                           " differs from k shape " + str(k));
  return Status::success();
}

Status searchLayer(Scorer &scorer, const LayerTensors &t, int64_t layer,
                   float scale, const SearchOptions &opts,
                   std::vector<HeadResult> &out, const ProgressFn &progress) {
  const std::string what = "layer " + std::to_string(layer);
  MINFER_RETURN_IF_ERROR(checkLayerShapes(t, what));
  MINFER_RETURN_IF_ERROR(opts.validate());
  const int64_t B = t.qShape[0], H = t.qShape[1], Hkv = t.kShape[1],
                N = t.qShape[2], D = t.qShape[3];
  HeadTensors head;
  head.batch = B;
  head.seqLen = N;
  head.headDim = D;
  head.scale = scale > 0 ? scale : 1.0f / std::sqrt(static_cast<float>(D));
  const int64_t per = N * D;
  for (int64_t h = 0; h < H; ++h) {
    const int64_t kvh = h / (H / Hkv);
    head.q.resize(B * per);
    head.k.resize(B * per);
    head.v.resize(B * per);
    for (int64_t b = 0; b < B; ++b) {
      std::copy_n(t.q->begin() + (b * H + h) * per, per,
                  head.q.begin() + b * per);
      std::copy_n(t.k->begin() + (b * Hkv + kvh) * per, per,
                  head.k.begin() + b * per);
      std::copy_n(t.v->begin() + (b * Hkv + kvh) * per, per,
                  head.v.begin() + b * per);
    }
    HeadResult r;
    r.layer = layer;
    r.head = h;
    Status st = scorer.setHead(head);
    if (st.ok())
      st = searchHead(scorer, N, opts, r);
    if (!st.ok())
      return Status(st.code(),
                    what + ", head " + std::to_string(h) + ": " + st.message());
    out.push_back(std::move(r));
    if (progress)
      progress(out.back(), H);
  }
  return Status::success();
}

Status toModelConfig(const std::vector<HeadResult> &results,
                     ModelConfig &out) {
  ModelConfig cfg;
  for (const HeadResult &r : results) {
    if (r.layer < 0 || r.head < 0)
      return invalidArgument("negative layer or head in the results");
    if (r.layer >= static_cast<int64_t>(cfg.layers.size())) {
      cfg.layers.resize(r.layer + 1);
      cfg.scores.resize(r.layer + 1);
    }
    auto &lp = cfg.layers[r.layer];
    auto &ls = cfg.scores[r.layer];
    if (r.head != static_cast<int64_t>(lp.size()))
      return invalidArgument("results of layer " + std::to_string(r.layer) +
                             " are not in head order 0, 1, ... (got head " +
                             std::to_string(r.head) + ")");
    lp.push_back(r.best.pattern);
    ls.push_back(r.best.recall);
  }
  for (size_t l = 0; l < cfg.layers.size(); ++l)
    if (cfg.layers[l].empty() ||
        cfg.layers[l].size() != cfg.layers[0].size())
      return invalidArgument("layer " + std::to_string(l) + " has " +
                             std::to_string(cfg.layers[l].size()) +
                             " heads, layer 0 has " +
                             std::to_string(cfg.layers[0].size()));
  out = std::move(cfg);
  return Status::success();
}

} // namespace minfer::search
