//===- CudaBadInputTest.cpp - every bad argument -> its ErrorCode ---------===//
//
// Table-driven: each case breaks one argument of an otherwise valid call and
// expects a specific ErrorCode. All checks happen on the host before the
// device is touched (Runtime::validate, and the C API checks arguments
// before its handle), so the whole suite runs in CI without a GPU; the
// pointers are fake, aligned, non-overlapping addresses never dereferenced.
//
//===----------------------------------------------------------------------===//
#include "CudaTestUtil.h"
#include "minfer/minfer.h"

#include <cmath>
#include <functional>

namespace minfer::cuda::testing {
namespace {

void *fake(uintptr_t a) { return reinterpret_cast<void *>(a); }

AttentionTensors validTensors() {
  AttentionTensors t;
  t.q = fake(0x10000000);
  t.k = fake(0x20000000);
  t.v = fake(0x30000000);
  t.out = fake(0x40000000);
  t.batch = 1;
  t.heads = 4;
  t.kvHeads = 2;
  t.seqLen = 1000;
  t.headDim = 128;
  t.dtype = kernel::ElemType::BF16;
  t.scale = 0.088f;
  return t;
}

LayerPatterns validPatterns() {
  return {HeadPattern::dense(), HeadPattern::aShape(64, 256),
          HeadPattern::verticalSlash(100, 200), HeadPattern::blockSparse(4)};
}

struct Case {
  const char *name;
  std::function<void(AttentionTensors &, LayerPatterns &, RunOptions &)> mutate;
  ErrorCode want;
};

const std::vector<Case> &cases() {
  using E = ErrorCode;
  using T = AttentionTensors;
  using P = LayerPatterns;
  using O = RunOptions;
  static const std::vector<Case> c = {
      {"null q", [](T &t, P &, O &) { t.q = nullptr; }, E::NullPointer},
      {"null k", [](T &t, P &, O &) { t.k = nullptr; }, E::NullPointer},
      {"null v", [](T &t, P &, O &) { t.v = nullptr; }, E::NullPointer},
      {"null out", [](T &t, P &, O &) { t.out = nullptr; }, E::NullPointer},
      {"batch 0", [](T &t, P &, O &) { t.batch = 0; }, E::InvalidArgument},
      {"heads -1", [](T &t, P &, O &) { t.heads = -1; }, E::InvalidArgument},
      {"kv_heads 0", [](T &t, P &, O &) { t.kvHeads = 0; }, E::InvalidArgument},
      {"seq_len 0", [](T &t, P &, O &) { t.seqLen = 0; }, E::InvalidArgument},
      {"head_dim 0", [](T &t, P &, O &) { t.headDim = 0; }, E::InvalidArgument},
      {"heads % kv_heads", [](T &t, P &, O &) { t.kvHeads = 3; },
       E::InvalidArgument},
      {"head_dim 100", [](T &t, P &, O &) { t.headDim = 100; }, E::Unsupported},
      {"head_dim 136", [](T &t, P &, O &) { t.headDim = 136; }, E::Unsupported},
      {"head_dim 256", [](T &t, P &, O &) { t.headDim = 256; }, E::Unsupported},
      {"dtype 7",
       [](T &t, P &, O &) { t.dtype = static_cast<kernel::ElemType>(7); },
       E::Unsupported},
      {"seq_len beyond int32",
       [](T &t, P &, O &) { t.seqLen = int64_t(1) << 31; }, E::InvalidArgument},
      {"seq_len above 2^30",
       [](T &t, P &, O &) { t.seqLen = (int64_t(1) << 30) + 1; }, E::Unsupported},
      {"heads above grid limit",
       [](T &t, P &, O &) {
         t.heads = 70000;
         t.kvHeads = 1;
         t.seqLen = 64;
       },
       E::Unsupported},
      {"scale NaN", [](T &t, P &, O &) { t.scale = NAN; }, E::InvalidArgument},
      {"scale inf", [](T &t, P &, O &) { t.scale = INFINITY; },
       E::InvalidArgument},
      {"q misaligned", [](T &t, P &, O &) { t.q = fake(0x10000002); },
       E::InvalidArgument},
      {"out misaligned", [](T &t, P &, O &) { t.out = fake(0x40000008); },
       E::InvalidArgument},
      {"out aliases q", [](T &t, P &, O &) { t.out = const_cast<void *>(t.q); },
       E::InvalidArgument},
      {"out overlaps k", [](T &t, P &, O &) { t.out = fake(0x20000100); },
       E::InvalidArgument},
      {"too few patterns", [](T &, P &p, O &) { p.pop_back(); },
       E::InvalidArgument},
      {"too many patterns",
       [](T &, P &p, O &) { p.push_back(HeadPattern::dense()); },
       E::InvalidArgument},
      {"vertical 0",
       [](T &, P &p, O &) { p[2] = HeadPattern::verticalSlash(0, 10); },
       E::InvalidArgument},
      {"slash -5",
       [](T &, P &p, O &) { p[2] = HeadPattern::verticalSlash(10, -5); },
       E::InvalidArgument},
      {"last_q 24",
       [](T &, P &p, O &) { p[2] = HeadPattern::verticalSlash(10, 10, 24); },
       E::InvalidArgument},
      {"top_k 0", [](T &, P &p, O &) { p[3] = HeadPattern::blockSparse(0); },
       E::InvalidArgument},
      {"local 0", [](T &, P &p, O &) { p[1] = HeadPattern::aShape(64, 0); },
       E::InvalidArgument},
      {"sink -1", [](T &, P &p, O &) { p[1] = HeadPattern::aShape(-1, 64); },
       E::InvalidArgument},
      {"forced vertical -1", [](T &, P &, O &o) { o.vs.forcedVertical = -1; },
       E::InvalidArgument},
      {"forced slash -1", [](T &, P &, O &o) { o.vs.forcedSlash = -1; },
       E::InvalidArgument},
      {"workspace budget -1", [](T &, P &, O &o) { o.workspaceBudget = -1; },
       E::InvalidArgument},
  };
  return c;
}

TEST(CudaBadInput, ValidArgumentsPass) {
  AttentionTensors t = validTensors();
  Status st = Runtime::validate(t, validPatterns());
  EXPECT_TRUE(st.ok()) << st.str();
  t.dtype = kernel::ElemType::F16;
  t.headDim = 64;
  t.kvHeads = 4;
  EXPECT_TRUE(Runtime::validate(t, validPatterns()).ok());
}

TEST(CudaBadInput, EachBadArgumentHasItsCode) {
  for (const Case &c : cases()) {
    AttentionTensors t = validTensors();
    LayerPatterns p = validPatterns();
    RunOptions o;
    c.mutate(t, p, o);
    Status st = Runtime::validate(t, p, o);
    EXPECT_EQ(st.code(), c.want) << c.name << ": got " << st.str();
    EXPECT_FALSE(st.message().empty()) << c.name;
  }
}

TEST(CudaBadInput, PatternErrorsNameTheHead) {
  AttentionTensors t = validTensors();
  LayerPatterns p = validPatterns();
  p[2] = HeadPattern::verticalSlash(10, 10, 24);
  Status st = Runtime::validate(t, p);
  EXPECT_NE(st.message().find("head 2"), std::string::npos) << st.message();
}

/// The same table through the C API with a NULL handle: the argument error
/// wins over the handle error.
TEST(CudaBadInput, CApiChecksArgumentsBeforeTheHandle) {
  for (const Case &c : cases()) {
    AttentionTensors t = validTensors();
    LayerPatterns p = validPatterns();
    RunOptions o;
    c.mutate(t, p, o);
    if (o.vs.forcedVertical != 30 || o.vs.forcedSlash != 100 ||
        o.workspaceBudget != 0)
      continue; // RunOptions are not part of the C API
    std::vector<minfer_head_pattern_t> cp;
    for (const HeadPattern &hp : p) {
      minfer_head_pattern_t x{};
      x.kind = static_cast<int32_t>(hp.kind);
      x.sink = hp.sink;
      x.local = hp.local;
      x.vertical = hp.vertical;
      x.slash = hp.slash;
      x.last_q = hp.lastQ;
      x.top_k = hp.topK;
      cp.push_back(x);
    }
    // The C API maps scale 0 to 1/sqrt(D); every case here is non-zero.
    minfer_status_t s = minfer_sparse_attention(
        nullptr, t.q, t.k, t.v, t.out, t.batch, t.heads, t.kvHeads, t.seqLen,
        t.headDim, static_cast<int32_t>(t.dtype), t.scale, cp.data(),
        static_cast<int64_t>(cp.size()), nullptr);
    EXPECT_EQ(static_cast<int>(s), static_cast<int>(c.want))
        << c.name << ": " << minfer_last_error_message();
  }
  AttentionTensors t = validTensors();
  minfer_head_pattern_t dense{};
  std::vector<minfer_head_pattern_t> cp(4, dense);
  EXPECT_EQ(minfer_sparse_attention(nullptr, t.q, t.k, t.v, t.out, 1, 4, 2,
                                    1000, 128, MINFER_BF16, 0.0f, cp.data(), 4,
                                    nullptr),
            MINFER_NULL_POINTER);
  EXPECT_NE(std::string(minfer_last_error_message()).find("handle"),
            std::string::npos);
  cp[1].kind = 9;
  EXPECT_EQ(minfer_sparse_attention(nullptr, t.q, t.k, t.v, t.out, 1, 4, 2,
                                    1000, 128, MINFER_BF16, 0.0f, cp.data(), 4,
                                    nullptr),
            MINFER_INVALID_ARGUMENT);
  EXPECT_EQ(minfer_sparse_attention(nullptr, t.q, t.k, t.v, t.out, 1, 4, 2,
                                    1000, 128, MINFER_BF16, 0.0f, nullptr, 4,
                                    nullptr),
            MINFER_NULL_POINTER);
  EXPECT_EQ(minfer_sparse_attention(nullptr, t.q, t.k, t.v, t.out, 1, 4, 2,
                                    1000, 128, MINFER_BF16, 0.0f, cp.data(), -1,
                                    nullptr),
            MINFER_INVALID_ARGUMENT);
}

/// minfer_sparse_attention_ex checks its options before the handle too and
/// reports no stats for a failing call.
TEST(CudaBadInput, CApiRunOptionsAreChecked) {
  AttentionTensors t = validTensors();
  minfer_head_pattern_t vs{};
  vs.kind = MINFER_VERTICAL_SLASH;
  vs.vertical = vs.slash = 64;
  std::vector<minfer_head_pattern_t> cp(4, vs);
  minfer_run_stats_t stats{};
  stats.chunks = -7; // untouched by a failing call
  auto ex = [&](const minfer_run_options_t *o) {
    return minfer_sparse_attention_ex(nullptr, t.q, t.k, t.v, t.out, 1, 4, 2,
                                      1000, 128, MINFER_BF16, 0.0f, cp.data(),
                                      4, o, &stats, nullptr);
  };
  for (double bad : {-0.1, 1.5, std::nan("")}) {
    minfer_run_options_t o{};
    o.dense_fallback = bad;
    EXPECT_EQ(ex(&o), MINFER_INVALID_ARGUMENT) << bad;
    EXPECT_NE(std::string(minfer_last_error_message()).find("denseFallback"),
              std::string::npos)
        << minfer_last_error_message();
  }
  minfer_run_options_t ok{};
  ok.dense_fallback = 0.9;
  ok.timing = ok.count_kept = 1;
  EXPECT_EQ(ex(&ok), MINFER_NULL_POINTER);
  EXPECT_EQ(ex(nullptr), MINFER_NULL_POINTER);
  EXPECT_EQ(stats.chunks, -7);
}

TEST(CudaBadInput, CApiMInferenceEntryPoints) {
  AttentionTensors t = validTensors();
  const int32_t *vi = static_cast<const int32_t *>(fake(0x50000000));
  const int32_t *si = static_cast<const int32_t *>(fake(0x60000000));
  auto vs = [&](const int32_t *a, const int32_t *b, int64_t nv, int64_t ns,
                int64_t d) {
    return minfer_vertical_slash_attention(nullptr, t.q, t.k, t.v, t.out, a, b,
                                           nv, ns, 1, 4, 2, 1000, d,
                                           MINFER_BF16, 0.0f, nullptr);
  };
  EXPECT_EQ(vs(vi, si, 10, 10, 128), MINFER_NULL_POINTER); // the handle
  EXPECT_EQ(vs(nullptr, si, 10, 10, 128), MINFER_NULL_POINTER);
  EXPECT_EQ(vs(vi, nullptr, 10, 10, 128), MINFER_NULL_POINTER);
  EXPECT_EQ(vs(vi, si, 0, 10, 128), MINFER_INVALID_ARGUMENT);
  EXPECT_EQ(vs(vi, si, 10, -1, 128), MINFER_INVALID_ARGUMENT);
  EXPECT_EQ(vs(vi, si, 10, 10, 84), MINFER_UNSUPPORTED); // not a multiple of 8
  EXPECT_EQ(vs(vi, si, 10, 10, 80), MINFER_NULL_POINTER); // padded: valid up to the handle
  EXPECT_EQ(vs(vi + 0, reinterpret_cast<const int32_t *>(fake(0x60000002)), 10,
               10, 128),
            MINFER_INVALID_ARGUMENT);

  auto bs = [&](int64_t topK, int32_t dtype) {
    return minfer_block_sparse_attention(nullptr, t.q, t.k, t.v, t.out, topK, 1,
                                         4, 2, 1000, 128, dtype, 0.0f, nullptr);
  };
  EXPECT_EQ(bs(4, MINFER_BF16), MINFER_NULL_POINTER);
  EXPECT_EQ(bs(0, MINFER_BF16), MINFER_INVALID_ARGUMENT);
  EXPECT_EQ(bs(4, 5), MINFER_UNSUPPORTED);

  auto sa = [&](int64_t init, int64_t local, int64_t heads) {
    return minfer_streaming_attention(nullptr, t.q, t.k, t.v, t.out, init,
                                      local, 1, heads, 2, 1000, 128,
                                      MINFER_F16, 0.0f, nullptr);
  };
  EXPECT_EQ(sa(4, 1024, 4), MINFER_NULL_POINTER);
  EXPECT_EQ(sa(-1, 1024, 4), MINFER_INVALID_ARGUMENT);
  EXPECT_EQ(sa(4, 0, 4), MINFER_INVALID_ARGUMENT);
  EXPECT_EQ(sa(4, 1024, 3), MINFER_INVALID_ARGUMENT); // 3 % 2

  EXPECT_EQ(minfer_add_kernel_ptx(nullptr, 0, MINFER_BF16, 128, "x"),
            MINFER_NULL_POINTER);
  EXPECT_EQ(minfer_add_kernel_ptx(nullptr, 5, MINFER_BF16, 128, "x"),
            MINFER_INVALID_ARGUMENT);
  EXPECT_EQ(minfer_add_kernel_ptx(nullptr, 0, 9, 128, "x"), MINFER_UNSUPPORTED);
  EXPECT_EQ(minfer_add_kernel_ptx(nullptr, 0, MINFER_BF16, 128, nullptr),
            MINFER_NULL_POINTER);
}

TEST(CudaBadInput, VerticalSlashValidation) {
  AttentionTensors t = validTensors();
  const int32_t *vi = static_cast<const int32_t *>(fake(0x50000000));
  EXPECT_TRUE(Runtime::validateVerticalSlash(t, vi, vi, 5, 5).ok());
  EXPECT_EQ(Runtime::validateVerticalSlash(t, nullptr, vi, 5, 5).code(),
            ErrorCode::NullPointer);
  EXPECT_EQ(Runtime::validateVerticalSlash(t, vi, vi, 0, 5).code(),
            ErrorCode::InvalidArgument);
  t.q = nullptr;
  EXPECT_EQ(Runtime::validateVerticalSlash(t, vi, vi, 5, 5).code(),
            ErrorCode::NullPointer);
}

} // namespace
} // namespace minfer::cuda::testing
