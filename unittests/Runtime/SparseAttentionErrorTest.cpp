//===- SparseAttentionErrorTest.cpp - bad inputs give specific Statuses ---===//
//
// Every bad input returns an error Status (never aborts), with the code and
// a message that says what is wrong.
//
//===----------------------------------------------------------------------===//
#include "RefTestUtil.h"
#include <gtest/gtest.h>

using namespace minfer;
using namespace minfer::test;

namespace {
struct Bad {
  Problem p = makeProblem(1, 4, 2, 70, 64, 1);
  LayerPatterns pats = LayerPatterns(4, HeadPattern::verticalSlash(8, 8));
  std::vector<float> out;
  VsOptions opts;

  Status run() {
    return ref::sparseAttention(p.s, p.q, p.k, p.v, p.scale, pats, out,
                                nullptr, opts);
  }
};

void expectError(Bad bad, ErrorCode code, const std::string &fragment) {
  Status st = bad.run();
  EXPECT_EQ(st.code(), code) << st.str();
  EXPECT_NE(st.message().find(fragment), std::string::npos)
      << "message '" << st.message() << "' lacks '" << fragment << "'";
}
} // namespace

TEST(SparseAttentionErrors, GoodBaselineRuns) {
  Bad ok;
  ASSERT_TRUE(ok.run().ok());
  EXPECT_EQ(ok.out.size(), size_t(ok.p.s.qElems()));
}

TEST(SparseAttentionErrors, Shape) {
  Bad b1;
  b1.p.s.seqLen = 0;
  expectError(b1, ErrorCode::InvalidArgument, "seq_len must be positive");
  Bad b2;
  b2.p.s.batch = -1;
  expectError(b2, ErrorCode::InvalidArgument, "batch must be positive");
  Bad b3;
  b3.p.s.kvHeads = 0;
  expectError(b3, ErrorCode::InvalidArgument, "kv_heads must be positive");
  Bad b4;
  b4.p.s.seqLen = int64_t(1) << 40;
  expectError(b4, ErrorCode::InvalidArgument, "int32");
}

TEST(SparseAttentionErrors, HeadsNotMultipleOfKvHeads) {
  Bad b;
  b.p.s.kvHeads = 3;
  expectError(b, ErrorCode::InvalidArgument,
              "heads (4) must be a multiple of kv_heads (3)");
}

TEST(SparseAttentionErrors, HeadDimNotAMultipleOf8OrAbove128Unsupported) {
  for (int64_t d : {100, 136, 256}) {
    Bad b;
    b.p = makeProblem(1, 4, 2, 70, d, 1);
    expectError(b, ErrorCode::Unsupported,
                "head_dim must be a multiple of 8 from 8 to 128, got " +
                    std::to_string(d));
  }
}

TEST(SparseAttentionErrors, EmptyOrMissizedTensors) {
  Bad b1;
  b1.p.q.clear();
  expectError(b1, ErrorCode::InvalidArgument, "q has 0 elements");
  Bad b2;
  b2.p.k.clear();
  expectError(b2, ErrorCode::InvalidArgument, "k has 0 elements");
  Bad b3;
  b3.p.v.pop_back();
  expectError(b3, ErrorCode::InvalidArgument, "v has 8959 elements");
  Bad b4;
  b4.p.k.resize(b4.p.q.size()); // a [B, H, N, D] k for Hkv < H
  expectError(b4, ErrorCode::InvalidArgument, "k has 17920 elements");
}

TEST(SparseAttentionErrors, PatternCount) {
  Bad b1;
  b1.pats.pop_back();
  expectError(b1, ErrorCode::InvalidArgument, "got 3 patterns for 4 heads");
  Bad b2;
  b2.pats.clear();
  expectError(b2, ErrorCode::InvalidArgument, "got 0 patterns for 4 heads");
}

TEST(SparseAttentionErrors, BudgetsViaValidate) {
  Bad b1;
  b1.pats[1] = HeadPattern::verticalSlash(0, 8);
  expectError(b1, ErrorCode::InvalidArgument,
              "head 1: vertical_slash vertical must be positive, got 0");
  Bad b2;
  b2.pats[2] = HeadPattern::blockSparse(-3);
  expectError(b2, ErrorCode::InvalidArgument,
              "head 2: block_sparse top_k must be positive");
  Bad b3;
  b3.pats[3] = HeadPattern::aShape(4, 0);
  expectError(b3, ErrorCode::InvalidArgument,
              "head 3: a_shape local must be positive");
  Bad b4;
  b4.pats[0] = HeadPattern::aShape(-1, 4);
  expectError(b4, ErrorCode::InvalidArgument, "head 0: a_shape sink");
}

TEST(SparseAttentionErrors, LastQNotMultipleOf16) {
  Bad b;
  b.pats[2] = HeadPattern::verticalSlash(8, 8, 40);
  expectError(b, ErrorCode::InvalidArgument,
              "head 2: vertical_slash last_q must be a multiple of 16, got 40");
}

TEST(SparseAttentionErrors, ScaleOptionsAndAliasing) {
  Bad b1;
  b1.p.scale = INFINITY;
  expectError(b1, ErrorCode::InvalidArgument, "scale must be finite");
  Bad b2;
  b2.opts.forcedSlash = -1;
  expectError(b2, ErrorCode::InvalidArgument, "forced");
  Bad b3;
  std::vector<float> &q = b3.p.q;
  Status st = ref::denseAttention(b3.p.s, q, b3.p.k, b3.p.v, 1.0f, q);
  EXPECT_EQ(st.code(), ErrorCode::InvalidArgument);
  EXPECT_NE(st.message().find("alias"), std::string::npos);
}
