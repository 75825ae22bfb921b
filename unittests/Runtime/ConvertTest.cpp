//===- ConvertTest.cpp - bf16 / f16 conversions ---------------------------===//
#include "minfer/Runtime/Reference.h"
#include <cmath>
#include <cstring>
#include <gtest/gtest.h>
#include <random>

using namespace minfer::ref;

static float fromBits(uint32_t u) {
  float f;
  std::memcpy(&f, &u, 4);
  return f;
}
static uint32_t toBits(float f) {
  uint32_t u;
  std::memcpy(&u, &f, 4);
  return u;
}

TEST(Convert, Bf16RoundTripsEveryPattern) {
  for (uint32_t h = 0; h < 0x10000; ++h) {
    float f = bf16ToFloat(uint16_t(h));
    EXPECT_EQ(toBits(f), h << 16);
    if (std::isnan(f))
      EXPECT_TRUE(std::isnan(bf16ToFloat(floatToBf16(f)))) << h;
    else
      ASSERT_EQ(floatToBf16(f), h) << std::hex << h;
  }
}

TEST(Convert, Bf16RoundsToNearestEven) {
  EXPECT_EQ(floatToBf16(1.0f), 0x3F80);
  EXPECT_EQ(floatToBf16(-2.5f), 0xC020);
  // 1 + 2^-8 is halfway between 1 (even) and 1 + 2^-7: to 1.
  EXPECT_EQ(floatToBf16(fromBits(0x3F808000)), 0x3F80);
  // 1 + 3 * 2^-8 is halfway between 1 + 2^-7 (odd) and 1 + 2^-6: up.
  EXPECT_EQ(floatToBf16(fromBits(0x3F818000)), 0x3F82);
  // Just above / below halfway.
  EXPECT_EQ(floatToBf16(fromBits(0x3F808001)), 0x3F81);
  EXPECT_EQ(floatToBf16(fromBits(0x3F807FFF)), 0x3F80);
  // Rounding carries into the exponent; past the largest bf16 gives inf.
  EXPECT_EQ(floatToBf16(fromBits(0x3FFFFFFF)), 0x4000);
  EXPECT_EQ(floatToBf16(3.4028235e38f), 0x7F80);
  EXPECT_EQ(floatToBf16(fromBits(0x7F7F7FFF)), 0x7F7F);
  // Signs, zeros, infinities, subnormals.
  EXPECT_EQ(floatToBf16(-0.0f), 0x8000);
  EXPECT_EQ(floatToBf16(INFINITY), 0x7F80);
  EXPECT_EQ(floatToBf16(-INFINITY), 0xFF80);
  EXPECT_EQ(floatToBf16(fromBits(0x00018000)), 0x0002); // tie, odd -> even
  // NaN stays NaN (even one whose payload sits in the dropped bits), sign kept.
  EXPECT_TRUE(std::isnan(bf16ToFloat(floatToBf16(fromBits(0x7F800001)))));
  EXPECT_TRUE(std::isnan(bf16ToFloat(floatToBf16(NAN))));
  EXPECT_EQ(floatToBf16(fromBits(0xFF800001)) & 0x8000, 0x8000);
}

TEST(Convert, F16RoundTripsEveryPattern) {
  for (uint32_t h = 0; h < 0x10000; ++h) {
    float f = f16ToFloat(uint16_t(h));
    bool nan = (h & 0x7C00) == 0x7C00 && (h & 0x3FF);
    EXPECT_EQ(std::isnan(f), nan) << std::hex << h;
    if (nan)
      EXPECT_TRUE(std::isnan(f16ToFloat(floatToF16(f))));
    else
      ASSERT_EQ(floatToF16(f), h) << std::hex << h;
  }
}

TEST(Convert, F16ValuesAndRounding) {
  EXPECT_EQ(floatToF16(1.0f), 0x3C00);
  EXPECT_EQ(floatToF16(-2.0f), 0xC000);
  EXPECT_EQ(floatToF16(65504.0f), 0x7BFF);                 // largest finite
  EXPECT_EQ(floatToF16(65519.996f), 0x7BFF);               // below halfway
  EXPECT_EQ(floatToF16(65520.0f), 0x7C00);                 // tie -> even = inf
  EXPECT_EQ(floatToF16(1e10f), 0x7C00);
  EXPECT_EQ(floatToF16(-INFINITY), 0xFC00);
  EXPECT_EQ(floatToF16(1.0f + 0x1p-11f), 0x3C00);          // tie, even stays
  EXPECT_EQ(floatToF16(1.0f + 0x3p-11f), 0x3C02);          // tie, odd goes up
  EXPECT_EQ(floatToF16(0x1p-14f), 0x0400);                 // smallest normal
  EXPECT_EQ(floatToF16(0x1p-24f), 0x0001);                 // smallest subnormal
  EXPECT_EQ(floatToF16(0x1p-25f), 0x0000);                 // tie -> even zero
  EXPECT_EQ(floatToF16(0x1.8p-25f), 0x0001);               // above the tie
  EXPECT_EQ(floatToF16(0x3p-25f), 0x0002);                 // 1.5 units: to 2
  EXPECT_EQ(floatToF16(0x5p-25f), 0x0002);                 // 2.5 units: to 2
  EXPECT_EQ(floatToF16(0x3FFp-24f), 0x03FF);               // largest subnormal
  EXPECT_EQ(floatToF16(0x7FFp-25f), 0x0400);               // carries to normal
  EXPECT_EQ(floatToF16(-0x1p-24f), 0x8001);
  EXPECT_EQ(floatToF16(1e-30f), 0x0000);
  EXPECT_EQ(floatToF16(-0.0f), 0x8000);
  EXPECT_EQ(f16ToFloat(0x0001), 0x1p-24f);
  EXPECT_EQ(f16ToFloat(0x83FF), -0x3FFp-24f);
  EXPECT_EQ(f16ToFloat(0x7C00), INFINITY);
  EXPECT_TRUE(std::isnan(f16ToFloat(floatToF16(NAN))));
  EXPECT_TRUE(std::isnan(f16ToFloat(floatToF16(fromBits(0x7F800001)))));
  EXPECT_EQ(floatToF16(-NAN) & 0x8000, 0x8000);
}

#if defined(__FLT16_MAX__)
// The compiler's _Float16 conversion (round to nearest even) as an oracle.
TEST(Convert, F16MatchesCompilerOnRandomFloats) {
  std::mt19937 rng(1);
  for (int i = 0; i < 1000000; ++i) {
    // Bias toward the half range so that normals, subnormals and overflow
    // are all well covered.
    uint32_t exp = 96 + rng() % 50, u = (rng() & 0x807FFFFFu) | (exp << 23);
    float f = fromBits(i % 4 == 0 ? uint32_t(rng()) : u);
    if (std::isnan(f))
      continue;
    _Float16 h = static_cast<_Float16>(f);
    uint16_t want;
    std::memcpy(&want, &h, 2);
    ASSERT_EQ(floatToF16(f), want) << std::hexfloat << f;
  }
}
#endif
