//===- StatusPatternTest.cpp - Status names and HeadPattern spelling ------===//
#include "minfer/Runtime/Pattern.h"
#include "minfer/Runtime/Status.h"
#include <gtest/gtest.h>

using namespace minfer;

TEST(Status, NamesAndStr) {
  EXPECT_STREQ(errorCodeName(ErrorCode::Ok), "Ok");
  EXPECT_STREQ(errorCodeName(ErrorCode::InvalidArgument), "InvalidArgument");
  EXPECT_STREQ(errorCodeName(ErrorCode::NullPointer), "NullPointer");
  EXPECT_STREQ(errorCodeName(ErrorCode::Unsupported), "Unsupported");
  EXPECT_STREQ(errorCodeName(ErrorCode::NoDevice), "NoDevice");
  EXPECT_STREQ(errorCodeName(ErrorCode::CudaError), "CudaError");
  EXPECT_STREQ(errorCodeName(ErrorCode::PtxLoadFailed), "PtxLoadFailed");
  EXPECT_STREQ(errorCodeName(ErrorCode::OutOfMemory), "OutOfMemory");
  EXPECT_STREQ(errorCodeName(ErrorCode::ConfigError), "ConfigError");
  EXPECT_STREQ(errorCodeName(ErrorCode::CompileError), "CompileError");
  EXPECT_STREQ(errorCodeName(static_cast<ErrorCode>(99)), "Unknown");

  Status ok;
  EXPECT_TRUE(ok.ok());
  EXPECT_TRUE(static_cast<bool>(ok));
  EXPECT_EQ(ok.str(), "Ok");
  Status bad = invalidArgument("seq_len must be positive");
  EXPECT_FALSE(bad.ok());
  EXPECT_EQ(bad.code(), ErrorCode::InvalidArgument);
  EXPECT_EQ(bad.str(), "InvalidArgument: seq_len must be positive");
}

static Status failsThenNot(bool fail, int &reached) {
  MINFER_RETURN_IF_ERROR(fail ? Status(ErrorCode::CudaError, "x")
                              : Status::success());
  reached = 1;
  return Status::success();
}

TEST(Status, ReturnIfError) {
  int reached = 0;
  EXPECT_EQ(failsThenNot(true, reached).code(), ErrorCode::CudaError);
  EXPECT_EQ(reached, 0);
  EXPECT_TRUE(failsThenNot(false, reached).ok());
  EXPECT_EQ(reached, 1);
}

TEST(HeadPattern, MlirSpelling) {
  EXPECT_EQ(HeadPattern::dense().str(), "#minfer.dense");
  EXPECT_EQ(HeadPattern::aShape(128, 4096).str(),
            "#minfer.a_shape<sink = 128, local = 4096>");
  EXPECT_EQ(HeadPattern::verticalSlash(1000, 6096).str(),
            "#minfer.vertical_slash<vertical = 1000, slash = 6096, last_q = 64>");
  EXPECT_EQ(HeadPattern::verticalSlash(30, 800, 32).str(),
            "#minfer.vertical_slash<vertical = 30, slash = 800, last_q = 32>");
  EXPECT_EQ(HeadPattern::blockSparse(100).str(),
            "#minfer.block_sparse<top_k = 100, block = 64>");
}

TEST(HeadPattern, Validate) {
  EXPECT_TRUE(HeadPattern::dense().validate().ok());
  EXPECT_TRUE(HeadPattern::aShape(0, 1).validate().ok());
  EXPECT_TRUE(HeadPattern::verticalSlash(1, 1, 16).validate().ok());
  EXPECT_TRUE(HeadPattern::blockSparse(1).validate().ok());

  struct Case {
    HeadPattern p;
    const char *msg;
  } bad[] = {
      {HeadPattern::aShape(-1, 10), "a_shape sink must be non-negative, got -1"},
      {HeadPattern::aShape(10, 0), "a_shape local must be positive, got 0"},
      {HeadPattern::verticalSlash(0, 10), "vertical_slash vertical must be "
                                          "positive, got 0"},
      {HeadPattern::verticalSlash(10, -3), "vertical_slash slash must be "
                                           "positive, got -3"},
      {HeadPattern::verticalSlash(10, 10, 0), "vertical_slash last_q must be "
                                              "positive, got 0"},
      {HeadPattern::verticalSlash(10, 10, 40), "vertical_slash last_q must be "
                                               "a multiple of 16, got 40"},
      {HeadPattern::blockSparse(0), "block_sparse top_k must be positive, got 0"},
  };
  for (const Case &c : bad) {
    Status st = c.p.validate();
    EXPECT_EQ(st.code(), ErrorCode::InvalidArgument) << c.p.str();
    EXPECT_EQ(st.message(), c.msg);
  }
  HeadPattern weird;
  weird.kind = static_cast<PatternKind>(42);
  EXPECT_EQ(weird.validate().code(), ErrorCode::InvalidArgument);
}
