//===- BsScoresWgmma.cu - block-sparse pooled scores on wgmma (sm_90a) ----===//
//
// minfer_bs_scores_wgmma computes what minfer_bs_scores (BsEstimate.cu)
// computes -- the causal 128x128 tiles of scale * pooledQ . pooledK^T for the
// band's query-block rows, in 3xTF32 -- on Hopper's warpgroup MMA. Same grid,
// same scratch layout, so the selection reads either.
//
// Why: the mma.sync kernel is bound by shared memory (ldmatrix feeds every
// fragment of every product through registers; L1 90 % busy, tensor pipe
// 50 %; bench/results/tuning.md, fifteenth session). wgmma reads both
// operands from shared memory itself, through matrix descriptors. H100, N =
// 1M, H4, main band (ncu): 2.98 ms (mma.sync) -> 2.07-2.12 ms; the index
// 5.8-6.5 -> 5.0-5.7 ms (twenty-second session). Tensor pipe 47 %, L1 78 %:
// a version with A's fragments in registers (shared traffic -31 %) ran the
// same 2.10 ms (bench/results/experiments/s22-bs-scores-register-a.patch),
// and a persistent one that overlaps each panel's staging with its own
// previous wgmma group 6-8 % slower (s23-bs-scores-pipelined.patch).
//
// Layout. The head dimension is walked in panels of 32 (one 128-byte row of
// tf32). A panel of each operand is stored twice, as big = tf32(x) and small
// = tf32(x - big), each [128 rows][128 bytes], 128-byte swizzled: 16-byte
// chunk c of row r at chunk c ^ (r % 8) (the layout the attention kernels'
// wgmma descriptors read, AttentionKernelWgmma.cpp; 32 tf32 bytes per k8
// step as 32 bf16 bytes per k16 step there). Both operands are K-major, the
// only form tf32 wgmma takes: Q rows are A's rows, K rows are B's columns.
// Warpgroup w owns output rows 64 w .. 64 w + 63, all 128 columns
// (m64n128k8, 64 accumulators per thread). Per k8 step it runs the three
// products small*big', big*small', big*big' into one accumulator, in the
// mma.sync kernel's order (CUTLASS's 3xTF32 order).
//
// Pipeline. One panel in shared memory (64 KiB) and the next one in
// registers: the global reads of panel p + 1 are in flight while the wgmma
// group of panel p runs; two CTAs per SM overlap one's staging with the
// other's MMAs. Staged values are written by the generic proxy and read by
// wgmma's async proxy, hence fence.proxy.async before the barrier.
//
//===----------------------------------------------------------------------===//
#include "BsScoreTile.cuh"

namespace minfer::cuda::kernels {
namespace {

constexpr int kT = kBsScoreTile;          // output tile rows and columns
constexpr int kPanel = 32;                // tf32 per 128-byte swizzled row
constexpr int kPanelBytes = kT * 128;     // one part of one operand's panel
constexpr int kChunks = kPanel / 4;       // 16-byte chunks per row
/// float4 reads per thread and operand for one panel.
constexpr int kReads = kT * kPanel / 4 / kBsScoreThreads;
static_assert(kBsScoreThreads == 256 && kT == 128 && kReads == 4,
              "two warpgroups of 64 x 128 outputs each");

/// K-major 128-byte-swizzle matrix descriptor of shared byte address `addr`
/// (PTX ISA "matrix descriptor"): address bits 4-17 in bits 0-13, leading
/// byte offset 16 (unused when swizzled), stride byte offset 1024 (the next
/// 8 rows), swizzle mode 1 in bits 62-63. Bits above 17 are dropped, as the
/// attention kernels do (a cluster rank's window bits, tuning.md s18).
__device__ __forceinline__ uint64_t kMajorDescriptor(uint32_t addr) {
  return (uint64_t)((addr & 0x3FFFFu) >> 4) | (uint64_t(1) << 16) |
         (uint64_t(1024 >> 4) << 32) | (uint64_t(1) << 62);
}

// The 64 accumulators $0 .. $63 of one m64n128 wgmma.
#define MINFER_ACC64                                                           \
  "{" "%0, %1, %2, %3, %4, %5, %6, %7, %8, %9, %10, %11, %12, %13, %14, %15, " \
  "%16, %17, %18, %19, %20, %21, %22, %23, %24, %25, %26, %27, %28, %29, %30, %31, " \
  "%32, %33, %34, %35, %36, %37, %38, %39, %40, %41, %42, %43, %44, %45, %46, %47, " \
  "%48, %49, %50, %51, %52, %53, %54, %55, %56, %57, %58, %59, %60, %61, %62, %63" "}"
#define MINFER_WGMMA(a, b)                                                     \
  "wgmma.mma_async.sync.aligned.m64n128k8.f32.tf32.tf32 " MINFER_ACC64         \
  ", " a ", " b ", p, 1, 1;\n"
// One k8 step: small*big', big*small', big*big'.
#define MINFER_K8_STEP                                                         \
  MINFER_WGMMA("as", "bb") MINFER_WGMMA("ab", "bs") MINFER_WGMMA("ab", "bb")
// Next k8 step: 32 bytes further into every row (2 in 16-byte units).
#define MINFER_K8_NEXT                                                         \
  "add.s64 as, as, 2;\nadd.s64 ab, ab, 2;\nadd.s64 bs, bs, 2;\n"             \
  "add.s64 bb, bb, 2;\n"

/// acc += the panel's 3xTF32 products (4 k8 steps, 12 wgmma), waited for in
/// the same asm block, so no accumulator is read while still being written.
__device__ __forceinline__ void panelProducts(float (&acc)[64], uint64_t aBig,
                                              uint64_t aSmall, uint64_t bBig,
                                              uint64_t bSmall) {
  asm volatile(
      "{\n.reg .b64 ab, as, bb, bs;\n.reg .pred p;\nsetp.ne.b32 p, 1, 0;\n"
      "mov.b64 ab, %64;\nmov.b64 as, %65;\nmov.b64 bb, %66;\nmov.b64 bs, %67;\n"
      "wgmma.fence.sync.aligned;\n" MINFER_K8_STEP MINFER_K8_NEXT MINFER_K8_STEP
          MINFER_K8_NEXT MINFER_K8_STEP MINFER_K8_NEXT MINFER_K8_STEP
      "wgmma.commit_group.sync.aligned;\n"
      "wgmma.wait_group.sync.aligned 0;\n}\n"
      : "+f"(acc[0]), "+f"(acc[1]), "+f"(acc[2]), "+f"(acc[3]), "+f"(acc[4]),
        "+f"(acc[5]), "+f"(acc[6]), "+f"(acc[7]), "+f"(acc[8]), "+f"(acc[9]),
        "+f"(acc[10]), "+f"(acc[11]), "+f"(acc[12]), "+f"(acc[13]),
        "+f"(acc[14]), "+f"(acc[15]), "+f"(acc[16]), "+f"(acc[17]),
        "+f"(acc[18]), "+f"(acc[19]), "+f"(acc[20]), "+f"(acc[21]),
        "+f"(acc[22]), "+f"(acc[23]), "+f"(acc[24]), "+f"(acc[25]),
        "+f"(acc[26]), "+f"(acc[27]), "+f"(acc[28]), "+f"(acc[29]),
        "+f"(acc[30]), "+f"(acc[31]), "+f"(acc[32]), "+f"(acc[33]),
        "+f"(acc[34]), "+f"(acc[35]), "+f"(acc[36]), "+f"(acc[37]),
        "+f"(acc[38]), "+f"(acc[39]), "+f"(acc[40]), "+f"(acc[41]),
        "+f"(acc[42]), "+f"(acc[43]), "+f"(acc[44]), "+f"(acc[45]),
        "+f"(acc[46]), "+f"(acc[47]), "+f"(acc[48]), "+f"(acc[49]),
        "+f"(acc[50]), "+f"(acc[51]), "+f"(acc[52]), "+f"(acc[53]),
        "+f"(acc[54]), "+f"(acc[55]), "+f"(acc[56]), "+f"(acc[57]),
        "+f"(acc[58]), "+f"(acc[59]), "+f"(acc[60]), "+f"(acc[61]),
        "+f"(acc[62]), "+f"(acc[63])
      : "l"(aBig), "l"(aSmall), "l"(bBig), "l"(bSmall)
      : "memory");
}

#undef MINFER_K8_NEXT
#undef MINFER_K8_STEP
#undef MINFER_WGMMA
#undef MINFER_ACC64

} // namespace

static_assert(kBsScoresWgmmaSmem == 4 * kPanelBytes + 1024,
              "four panel parts, aligned to 1024 bytes");

// Two CTAs per SM (128 registers, 2 x 65 KiB of shared memory).
extern "C" __global__ void __launch_bounds__(kBsScoreThreads, 2)
    minfer_bs_scores_wgmma(IndexParams p) {
  extern __shared__ __align__(16) uint8_t dynSmem[];
  BsScoreTile tile;
  if (!bsScoreTile(p, &tile))
    return;
  const int D = p.headDim;
  const int tid = threadIdx.x, wg = tid >> 7;

  // The swizzle is a function of address bits 7-9, so the parts start on
  // 1024-byte boundaries: aBig, aSmall, bBig, bSmall.
  const uint32_t raw = (uint32_t)__cvta_generic_to_shared(dynSmem);
  const uint32_t base = (raw + 1023u) & ~1023u;
  uint8_t *smem = dynSmem + (base - raw);

  // Thread tid reads chunk x % 8 of row x / 8, x = tid + 256 u, of both
  // operands (eight threads cover a 128-byte row segment).
  float4 qNext[kReads], kNext[kReads];
  auto stage = [&] {
#pragma unroll
    for (int u = 0; u < kReads; ++u) {
      const int x = tid + u * kBsScoreThreads;
      const int r = x / kChunks, c = x % kChunks;
      const int off = r * 128 + ((c ^ (r & 7)) << 4);
      uint4 big, small;
      splitTf32(qNext[u], big, small);
      *reinterpret_cast<uint4 *>(smem + off) = big;
      *reinterpret_cast<uint4 *>(smem + kPanelBytes + off) = small;
      splitTf32(kNext[u], big, small);
      *reinterpret_cast<uint4 *>(smem + 2 * kPanelBytes + off) = big;
      *reinterpret_cast<uint4 *>(smem + 3 * kPanelBytes + off) = small;
    }
  };
  // This warpgroup's A rows start 64 rows (8 KiB) into the A parts.
  const uint32_t aRows = base + wg * 64 * 128;
  const uint64_t aBig = kMajorDescriptor(aRows);
  const uint64_t aSmall = kMajorDescriptor(aRows + kPanelBytes);
  const uint64_t bBig = kMajorDescriptor(base + 2 * kPanelBytes);
  const uint64_t bSmall = kMajorDescriptor(base + 3 * kPanelBytes);

  float acc[64];
#pragma unroll
  for (int i = 0; i < 64; ++i)
    acc[i] = 0.0f;
  fetchPooledSlice<kPanel>(p, tile, 0, qNext, kNext);
  for (int d0 = 0; d0 < D; d0 += kPanel) {
    stage();
    asm volatile("fence.proxy.async.shared::cta;\n" ::: "memory");
    __syncthreads();
    if (d0 + kPanel < D)
      fetchPooledSlice<kPanel>(p, tile, d0 + kPanel, qNext, kNext);
    panelProducts(acc, aBig, aSmall, bBig, bSmall);
    __syncthreads(); // both warpgroups are done with the panel
  }

  // Accumulator j of a thread (m64n128 layout): warp w of the warpgroup
  // holds rows 16 w + g and 16 w + g + 8 (g = lane / 4), columns 8 (j / 4)
  // + 2 (lane % 4) + j % 2; j % 4 < 2 is the upper row.
  const int lane = tid & 31, g = lane >> 2, t = lane & 3;
  const int rowBase = tile.mLocal0 + wg * 64 + ((tid >> 5) & 3) * 16 + g;
#pragma unroll
  for (int h = 0; h < 2; ++h) {
    float *row = bsScoreRow(p, rowBase + 8 * h);
    if (!row)
      continue;
#pragma unroll
    for (int j = 0; j < kT / 8; ++j)
      storeScorePair(p, row, tile.n0 + 8 * j + 2 * t, acc[4 * j + 2 * h],
                     acc[4 * j + 2 * h + 1]);
  }
}

} // namespace minfer::cuda::kernels
