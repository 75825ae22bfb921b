//===- Synthetic.cpp - heads with a known sparse structure ----------------===//
#include "Synthetic.h"
#include <cmath>
#include <random>

namespace minfer::search::test {

std::vector<int64_t> verticalColumns(int64_t n) {
  return {n * 3 / 20, n * 7 / 20, n * 11 / 20, n * 15 / 20};
}
std::vector<int64_t> slashOffsets(int64_t n) {
  return {n * 3 / 10, n * 6 / 10};
}

namespace {

void unit(std::vector<float> &x) {
  double s = 0;
  for (float f : x)
    s += double(f) * f;
  float inv = static_cast<float>(1.0 / std::sqrt(s > 0 ? s : 1));
  for (float &f : x)
    f *= inv;
}

} // namespace

void makeHead(HeadKind kind, int64_t N, int64_t D, uint64_t seed,
              std::vector<float> &q, std::vector<float> &k,
              std::vector<float> &v) {
  std::mt19937_64 rng(seed);
  std::normal_distribution<float> gauss(0.0f, 1.0f);
  q.assign(N * D, 0.0f);
  k.assign(N * D, 0.0f);
  v.resize(N * D);
  for (float &x : v)
    x = gauss(rng);
  // Logits below are for the default scale 1 / sqrt(D).
  const float scale = 1.0f / std::sqrt(static_cast<float>(D));

  switch (kind) {
  case HeadKind::SinkLocal: {
    // Dims [0, 2F): rotary pairs with low frequencies -> sum_f cos(w_f (i-j))
    // peaks on the diagonal and decays over ~10 tokens. Dim 2F: sink feature.
    const int64_t F = (D - 2) / 2;
    std::uniform_real_distribution<float> freq(0.0f, 0.2f);
    const float a2 = 12.0f / (scale * F); // diagonal logit 12
    const float a = std::sqrt(a2);
    for (int64_t f = 0; f < F; ++f) {
      float w = freq(rng);
      for (int64_t t = 0; t < N; ++t) {
        float c = std::cos(w * t), s = std::sin(w * t);
        q[t * D + 2 * f] = a * c;
        q[t * D + 2 * f + 1] = a * s;
        k[t * D + 2 * f] = a * c;
        k[t * D + 2 * f + 1] = a * s;
      }
    }
    const float c = std::sqrt(11.0f / scale); // sink logit 11
    for (int64_t t = 0; t < N; ++t) {
      q[t * D + 2 * F] = c;
      if (t < 4)
        k[t * D + 2 * F] = c;
    }
    break;
  }
  case HeadKind::VerticalSlash: {
    // Dim 0: heavy columns (logit 9). Dims [1, D): random unit codes; q_i
    // sums a * code(i - o) over the band offsets o (logit 10 on the band).
    const int64_t G = D - 1;
    std::vector<std::vector<float>> code(N, std::vector<float>(G));
    for (auto &c : code) {
      for (float &x : c)
        x = gauss(rng);
      unit(c);
    }
    const float cv = std::sqrt(9.0f / scale);
    const float a = 10.0f / scale;
    std::vector<int64_t> cols = verticalColumns(N), offs = slashOffsets(N);
    for (int64_t t = 0; t < N; ++t) {
      q[t * D] = cv;
      for (int64_t g = 0; g < G; ++g)
        k[t * D + 1 + g] = code[t][g];
      for (int64_t o : offs)
        if (t - o >= 0)
          for (int64_t g = 0; g < G; ++g)
            q[t * D + 1 + g] += a * code[t - o][g];
    }
    for (int64_t c : cols)
      k[c * D] = cv;
    break;
  }
  case HeadKind::BlockCluster: {
    // 4 clusters with random unit centres; block m belongs to cluster
    // perm[m % 4] of a shuffled order. Same-cluster logit ~6.
    const int64_t C = 4, NB = (N + 63) / 64;
    std::vector<std::vector<float>> mu(C, std::vector<float>(D));
    for (auto &m : mu) {
      for (float &x : m)
        x = gauss(rng);
      unit(m);
    }
    std::vector<int64_t> cluster(NB);
    for (int64_t m = 0; m < NB; ++m)
      cluster[m] = (m * 7 + m / 5) % C;
    const float amp = std::sqrt(6.0f / scale);
    for (int64_t t = 0; t < N; ++t) {
      const std::vector<float> &c = mu[cluster[t / 64]];
      for (int64_t d = 0; d < D; ++d) {
        q[t * D + d] = amp * c[d] + 0.3f * gauss(rng);
        k[t * D + d] = amp * c[d] + 0.3f * gauss(rng);
      }
    }
    break;
  }
  }
}

void makeLayer(const std::vector<HeadKind> &kinds, int64_t N, int64_t D,
               uint64_t seed, std::vector<float> &q, std::vector<float> &k,
               std::vector<float> &v) {
  const int64_t H = static_cast<int64_t>(kinds.size());
  q.assign(H * N * D, 0.0f);
  k.assign(H * N * D, 0.0f);
  v.assign(H * N * D, 0.0f);
  std::vector<float> hq, hk, hv;
  for (int64_t h = 0; h < H; ++h) {
    makeHead(kinds[h], N, D, seed * 1000 + h, hq, hk, hv);
    std::copy(hq.begin(), hq.end(), q.begin() + h * N * D);
    std::copy(hk.begin(), hk.end(), k.begin() + h * N * D);
    std::copy(hv.begin(), hv.end(), v.begin() + h * N * D);
  }
}

} // namespace minfer::search::test
