//===- ReferenceConvert.cpp - fp32 <-> bf16 / f16 bit conversions ---------===//
//
// Bit-exact, round-to-nearest-even conversions matching what the GPU's
// cvt.rn instructions produce: NaN stays NaN (quieted, sign kept), infinities
// stay infinite, values past the largest finite half round to infinity, and
// f16 subnormals are produced and read exactly.
//
//===----------------------------------------------------------------------===//
#include "minfer/Runtime/Reference.h"
#include <cstring>

namespace minfer::ref {

static uint32_t bitsOf(float f) {
  uint32_t u;
  std::memcpy(&u, &f, 4);
  return u;
}
static float floatOf(uint32_t u) {
  float f;
  std::memcpy(&f, &u, 4);
  return f;
}

uint16_t floatToBf16(float f) {
  uint32_t u = bitsOf(f);
  if ((u & 0x7FFFFFFFu) > 0x7F800000u) // NaN: keep sign and top payload,
    return static_cast<uint16_t>((u >> 16) | 0x0040u); // force quiet bit
  // Adding 0x7FFF plus the lsb of the kept part rounds half to even; a carry
  // out of the mantissa bumps the exponent (up to infinity), as it should.
  u += 0x7FFFu + ((u >> 16) & 1u);
  return static_cast<uint16_t>(u >> 16);
}

float bf16ToFloat(uint16_t h) { return floatOf(static_cast<uint32_t>(h) << 16); }

uint16_t floatToF16(float f) {
  const uint32_t u = bitsOf(f);
  const uint16_t sign = static_cast<uint16_t>((u >> 16) & 0x8000u);
  const uint32_t a = u & 0x7FFFFFFFu;
  if (a > 0x7F800000u) // NaN: quiet, keep the top payload bits
    return sign | 0x7E00u | static_cast<uint16_t>((a >> 13) & 0x3FFu);
  if (a >= 0x47800000u) // >= 65536 (and inf): beyond any rounding
    return sign | 0x7C00u;
  const uint32_t exp = a >> 23;
  if (exp >= 113) { // normal half: exponent 2^-14 and up
    uint32_t h = ((exp - 112) << 10) | ((a >> 13) & 0x3FFu);
    uint32_t rest = a & 0x1FFFu;
    if (rest > 0x1000u || (rest == 0x1000u && (h & 1u)))
      ++h; // may carry into the exponent, up to 0x7C00 = inf: correct
    return sign | static_cast<uint16_t>(h);
  }
  // Subnormal half (unit 2^-24) or zero. Half of the smallest subnormal,
  // 2^-25 (exp 102), ties to even, i.e. to zero; anything smaller is zero.
  if (exp < 102)
    return sign;
  const uint32_t mant = (a & 0x7FFFFFu) | 0x800000u;
  const uint32_t shift = 126 - exp; // value / 2^-24 = mant >> shift; 14..24
  uint32_t h = mant >> shift;
  const uint32_t rest = mant & ((1u << shift) - 1u), half = 1u << (shift - 1);
  if (rest > half || (rest == half && (h & 1u)))
    ++h; // may become 0x400, the smallest normal: correct
  return sign | static_cast<uint16_t>(h);
}

float f16ToFloat(uint16_t h) {
  const uint32_t sign = static_cast<uint32_t>(h & 0x8000u) << 16;
  const uint32_t exp = (h >> 10) & 0x1Fu, mant = h & 0x3FFu;
  if (exp == 0x1F) // inf / NaN (payload kept)
    return floatOf(sign | 0x7F800000u | (mant << 13));
  if (exp != 0)
    return floatOf(sign | ((exp + 112) << 23) | (mant << 13));
  if (mant == 0)
    return floatOf(sign);
  // Subnormal: mant * 2^-24, exact in fp32.
  float v = static_cast<float>(mant) * floatOf(0x33800000u); // 2^-24
  return sign ? -v : v;
}

} // namespace minfer::ref
