//===- JitTest.cpp - the in-process compiler and its disk cache -----------===//
#include "minfer/Runtime/Jit.h"

#include <gtest/gtest.h>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <string>

using namespace minfer;
using namespace minfer::jit;

namespace {
std::string freshDir(const char *tag) {
  auto dir = std::filesystem::temp_directory_path() /
             ("minfer-jit-test-" + std::string(tag) + "-" + std::to_string(::getpid()));
  std::filesystem::remove_all(dir);
  return dir.string();
}

JitRequest mixedRequest(kernel::Chip chip) {
  JitRequest r;
  r.heads = 4, r.kvHeads = 2, r.headDim = 64, r.chip = chip;
  r.dtype = kernel::ElemType::F16;
  r.patterns = {HeadPattern::verticalSlash(100, 200), HeadPattern::aShape(64, 512),
                HeadPattern::blockSparse(8), HeadPattern::dense()};
  return r;
}

int countOf(const std::string &text, const std::string &needle) {
  int n = 0;
  for (size_t p = text.find(needle); p != std::string::npos; p = text.find(needle, p + 1))
    ++n;
  return n;
}
} // namespace

TEST(Jit, RequestIRIsMinferIR) {
  std::string ir;
  ASSERT_TRUE(buildRequestIR(mixedRequest(kernel::Chip::SM80), ir).ok());
  EXPECT_NE(ir.find("minfer.sparse_attention"), std::string::npos);
  EXPECT_NE(ir.find("#minfer.vertical_slash<vertical = 100, slash = 200"), std::string::npos);
  EXPECT_NE(ir.find("memref<?x2x?x64xf16>"), std::string::npos);
}

TEST(Jit, MixedPatternsCompileToTheVsKernelThenHitTheCache) {
  JitOptions opts;
  opts.cacheDir = freshDir("mixed");
  JitResult cold, warm;
  Status st = compile(mixedRequest(kernel::Chip::SM90), cold, opts);
  ASSERT_TRUE(st.ok()) << st.str();
  EXPECT_FALSE(cold.cacheHit);
  ASSERT_EQ(cold.kernels.size(), 1u);
  EXPECT_EQ(cold.kernels[0].config.kernelName(), "minfer_vs_d64_f16");
  const std::string &ptx = cold.kernels[0].ptx;
  EXPECT_NE(ptx.find(".target sm_90"), std::string::npos);
  EXPECT_GT(countOf(ptx, "mma.sync.aligned.m16n8k16"), 0);
  EXPECT_GT(countOf(ptx, "ldmatrix"), 0);
  EXPECT_GT(countOf(ptx, "cp.async"), 0);

  st = compile(mixedRequest(kernel::Chip::SM90), warm, opts);
  ASSERT_TRUE(st.ok()) << st.str();
  EXPECT_TRUE(warm.cacheHit);
  EXPECT_EQ(warm.cacheKey, cold.cacheKey);
  EXPECT_EQ(warm.kernels[0].ptx, ptx);

  // A different chip is a different program: a different key, a miss.
  JitResult other;
  ASSERT_TRUE(compile(mixedRequest(kernel::Chip::SM80), other, opts).ok());
  EXPECT_NE(other.cacheKey, cold.cacheKey);
  EXPECT_FALSE(other.cacheHit);
  EXPECT_NE(other.kernels[0].ptx.find(".target sm_80"), std::string::npos);
  std::filesystem::remove_all(opts.cacheDir);
}

// sm_90a requests get the wgmma kernels: their own cache key, .target sm_90a,
// wgmma instead of mma.sync, and a tile config whose shared memory holds the
// swizzled K/V region (what the runtime launches them with).
TEST(Jit, Sm90aCompilesToWgmmaKernels) {
  JitOptions opts;
  opts.cacheDir = freshDir("sm90a");
  JitResult wg, plain;
  Status st = compile(mixedRequest(kernel::Chip::SM90A), wg, opts);
  ASSERT_TRUE(st.ok()) << st.str();
  ASSERT_TRUE(compile(mixedRequest(kernel::Chip::SM90), plain, opts).ok());
  EXPECT_NE(wg.cacheKey, plain.cacheKey);
  ASSERT_EQ(wg.kernels.size(), 1u);
  const std::string &ptx = wg.kernels[0].ptx;
  EXPECT_NE(ptx.find(".target sm_90a"), std::string::npos);
  EXPECT_GT(countOf(ptx, "wgmma.mma_async.sync.aligned.m64n64k16.f32.f16.f16"), 0);
  EXPECT_EQ(countOf(ptx, "mma.sync.aligned.m16n8k16"), 0);
  EXPECT_TRUE(wg.kernels[0].config.usesWgmma());
  const kernel::TileConfig tuned = kernel::TileConfig::tuned(
      kernel::KernelKind::VerticalSlash, kernel::ElemType::F16, 64,
      kernel::Chip::SM90A);
  EXPECT_EQ(wg.kernels[0].config.stages, tuned.stages);
  EXPECT_EQ(wg.kernels[0].config.sharedBytes(), tuned.sharedBytes());
  EXPECT_NE(wg.kernels[0].config.sharedBytes(),
            plain.kernels[0].config.sharedBytes());
  std::filesystem::remove_all(opts.cacheDir);
}

TEST(Jit, AllDenseUsesTheDenseKernelAndPtxasAcceptsIt) {
  JitRequest r;
  r.heads = 2, r.kvHeads = 1, r.headDim = 128, r.chip = kernel::Chip::SM80;
  r.patterns.assign(2, HeadPattern::dense());
  JitOptions opts;
  opts.useCache = false;
  JitResult res;
  Status st = compile(r, res, opts);
  ASSERT_TRUE(st.ok()) << st.str();
  ASSERT_EQ(res.kernels.size(), 1u);
  EXPECT_EQ(res.kernels[0].config.kind, kernel::KernelKind::Dense);
  std::string ptxas = MINFER_PTXAS;
  if (ptxas.empty() || !std::filesystem::exists(ptxas))
    GTEST_SKIP() << "no ptxas";
  std::string file = freshDir("dense") + ".ptx";
  std::ofstream(file) << res.kernels[0].ptx;
  std::string cmd = ptxas + " -arch=sm_80 " + file + " -o /dev/null";
  EXPECT_EQ(std::system(cmd.c_str()), 0) << cmd;
  std::remove(file.c_str());
}

TEST(Jit, BadRequestsAreErrorsNotCrashes) {
  JitResult res;
  JitRequest r = mixedRequest(kernel::Chip::SM80);
  r.kvHeads = 3;
  EXPECT_EQ(compile(r, res).code(), ErrorCode::InvalidArgument);
  for (int64_t d : {0, 100, 136}) {
    r = mixedRequest(kernel::Chip::SM80);
    r.headDim = d;
    EXPECT_EQ(compile(r, res).code(), ErrorCode::Unsupported) << d;
  }
  r = mixedRequest(kernel::Chip::SM80);
  r.patterns.pop_back();
  EXPECT_EQ(compile(r, res).code(), ErrorCode::InvalidArgument);
  r = mixedRequest(kernel::Chip::SM80);
  r.patterns[0] = HeadPattern::verticalSlash(0, 10);
  EXPECT_EQ(compile(r, res).code(), ErrorCode::InvalidArgument);
}

/// A head dim the kernels are not built for compiles the kernels of
/// kernel::kernelHeadDim (the runtime runs such calls zero-padded: 80 -> 96,
/// 112 -> 128) with the softmax scale of the request's own head dim; 96 has
/// kernels of its own.
TEST(Jit, PaddedHeadDimCompilesTheKernelHeadDim) {
  const struct {
    int64_t dim, kernelDim;
    const char *scale;
  } cases[] = {{80, 96, "scale = 1.11803"},
               {112, 128, "scale = 9.44911"},
               {96, 96, "scale = 1.02062"}};
  for (const auto &c : cases) {
    SCOPED_TRACE("D " + std::to_string(c.dim));
    JitRequest r = mixedRequest(kernel::Chip::SM80);
    r.headDim = c.dim;
    JitResult res;
    ASSERT_TRUE(compile(r, res).ok());
    ASSERT_FALSE(res.kernels.empty());
    for (const CompiledKernel &k : res.kernels)
      EXPECT_EQ(k.config.headDim, c.kernelDim) << k.config.kernelName();
    const std::string type = "x" + std::to_string(c.kernelDim) + "xf16>";
    EXPECT_NE(res.inputIR.find(type), std::string::npos) << res.inputIR;
    EXPECT_NE(res.inputIR.find(c.scale), std::string::npos) << res.inputIR;
  }
}

TEST(Jit, UnwritableCacheOnlyCostsRecompilation) {
  JitOptions opts;
  opts.cacheDir = "/proc/minfer-cannot-write-here";
  JitResult a, b;
  ASSERT_TRUE(compile(mixedRequest(kernel::Chip::SM80), a, opts).ok());
  ASSERT_TRUE(compile(mixedRequest(kernel::Chip::SM80), b, opts).ok());
  EXPECT_FALSE(b.cacheHit);
  EXPECT_EQ(a.kernels[0].ptx, b.kernels[0].ptx);
}
