// Device-side input generators for benchmarks and large-N tests: host generation of 1M-token
// tensors (GBs) would dominate a run. Both fill a [rows, D] tensor of bf16/f16 (rows = B*H*N in
// [B, H, N, D] order) from a counter-based hash, so the same seed gives the same data anywhere.
//
//   minfer_fill_random      uniform in [lo, hi)
//   minfer_fill_structured  long-context-like q/k: RoPE'd (shared per-head bias + noise) on the
//                           first D-16 dims, so q_i . k_j peaks near i = j (local diagonals
//                           dominate); the last 16 dims are not rotated: queries hold a constant
//                           there and `heavy` key positions per head a large value, so every query
//                           attends to those heavy-hitter keys (verticals).
#include <cstdint>
#include <cuda_bf16.h>
#include <cuda_fp16.h>

namespace {
__device__ __forceinline__ uint64_t mix(uint64_t x) {
  x ^= x >> 30; x *= 0xbf58476d1ce4e5b9ull;
  x ^= x >> 27; x *= 0x94d049bb133111ebull;
  return x ^ (x >> 31);
}
__device__ __forceinline__ float uniform(uint64_t seed, uint64_t i) { // [-1, 1)
  return (mix(seed * 0x9e3779b97f4a7c15ull + i) >> 40) * (2.0f / 16777216.0f) - 1.0f;
}
__device__ __forceinline__ uint16_t encode(float v, int isBf16) {
  if (isBf16) { __nv_bfloat16 b = __float2bfloat16_rn(v); return *reinterpret_cast<uint16_t *>(&b); }
  __half h = __float2half_rn(v);
  return *reinterpret_cast<uint16_t *>(&h);
}
} // namespace

extern "C" __global__ void minfer_fill_random(uint16_t *out, long long n, unsigned long long seed,
                                              int isBf16, float lo, float hi) {
  for (long long i = blockIdx.x * (long long)blockDim.x + threadIdx.x; i < n;
       i += (long long)gridDim.x * blockDim.x)
    out[i] = encode(lo + (uniform(seed, i) * 0.5f + 0.5f) * (hi - lo), isBf16);
}

// heads: heads of this tensor; group: query heads per bias head (H / Hkv for q, 1 for k/v).
extern "C" __global__ void minfer_fill_structured(uint16_t *out, long long rows, int heads, long long seqLen,
                                                  int dim, int group, unsigned long long seed, int isBf16,
                                                  int isKey, int heavy, float bias, float heavyValue) {
  const int plain = 16, rot = dim - plain, half = rot / 2;
  for (long long r = blockIdx.x * (long long)blockDim.x + threadIdx.x; r < rows * half;
       r += (long long)gridDim.x * blockDim.x) {
    long long row = r / half;
    int p = int(r % half);
    long long pos = row % seqLen;
    int head = int((row / seqLen) % heads), biasHead = head / group;
    uint64_t rowSeed = seed + (isKey ? 7919u : 0u);
    // Pair (p, p + half) = bias direction of this head + noise, rotated by pos * theta_p.
    float a = bias * uniform(0x51ed270b + biasHead, 2 * p) + 0.5f * uniform(rowSeed, row * dim + 2 * p);
    float b = bias * uniform(0x51ed270b + biasHead, 2 * p + 1) + 0.5f * uniform(rowSeed, row * dim + 2 * p + 1);
    float theta = exp2f(-13.2877124f * (2.0f * p) / rot); // 10000^(-2p/rot)
    float s, c;
    sincosf(float(pos % 1048576) * theta, &s, &c);
    uint16_t *o = out + row * dim;
    o[p] = encode(a * c - b * s, isBf16);
    o[p + half] = encode(a * s + b * c, isBf16);
    if (p < plain) { // the non-rotated tail
      float v;
      if (!isKey) {
        v = 0.25f;
      } else {
        bool isHeavy = false;
        for (int t = 0; t < heavy && !isHeavy; ++t)
          isHeavy = pos == (long long)((uniform(0xa11ce + biasHead, t) * 0.5f + 0.5f) * seqLen);
        v = isHeavy ? heavyValue : 0.1f * uniform(rowSeed ^ 0x7a11, row * plain + p);
      }
      o[rot + p] = encode(v, isBf16);
    }
  }
}
