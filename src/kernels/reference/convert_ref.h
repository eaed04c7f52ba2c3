// Scalar references for the 16-bit float formats (kernels/convert.h): bit
// manipulations that spell out IEEE-754 round-to-nearest-even, which the
// vector kernels must match bit for bit.
#pragma once

#include <cmath>
#include <cstdint>
#include <cstring>

namespace cpu_llm::ref {

inline uint32_t FloatBits(float f) {
  uint32_t u;
  std::memcpy(&u, &f, sizeof(u));
  return u;
}
inline float BitsFloat(uint32_t u) {
  float f;
  std::memcpy(&f, &u, sizeof(f));
  return f;
}

// bf16 is the top half of a float: round the low 16 bits away, to nearest,
// ties to the even result. NaN stays NaN (quiet bit set, sign and top
// payload kept); values that round past the largest bf16 become infinity.
inline uint16_t f32_to_bf16(float f) {
  const uint32_t x = FloatBits(f);
  if ((x & 0x7FFFFFFFu) > 0x7F800000u) return static_cast<uint16_t>((x >> 16) | 0x0040u);
  return static_cast<uint16_t>((x + 0x7FFFu + ((x >> 16) & 1u)) >> 16);
}

inline float bf16_to_f32(uint16_t h) { return BitsFloat(static_cast<uint32_t>(h) << 16); }

// The random 16 bits stochastic rounding adds below a bf16's last bit: a hash
// of (seed, element index), so the result does not depend on threads or
// blocking and a run repeats exactly. 32-bit arithmetic only (a Weyl step on
// the index, then MurmurHash3's finalizer), so vector code computes the same
// bits lane by lane; the index wraps at 2^32 elements, harmless for noise.
inline uint32_t FoldSeed(uint64_t seed) { return static_cast<uint32_t>(seed ^ (seed >> 32)); }
inline uint32_t RoundingNoise(uint64_t seed, uint64_t index) {
  uint32_t x = static_cast<uint32_t>(index) * 0x9E3779B1u + FoldSeed(seed);
  x ^= x >> 16;
  x *= 0x85EBCA6Bu;
  x ^= x >> 13;
  x *= 0xC2B2AE35u;
  x ^= x >> 16;
  return x & 0xFFFFu;
}

// Rounds up with probability equal to the dropped fraction, so the expected
// bf16 value is the float itself (small updates survive on average).
inline uint16_t f32_to_bf16_stochastic(float f, uint64_t seed, uint64_t index) {
  const uint32_t x = FloatBits(f);
  if ((x & 0x7FFFFFFFu) >= 0x7F800000u) return f32_to_bf16(f);  // inf and NaN as with nearest
  return static_cast<uint16_t>((x + RoundingNoise(seed, index)) >> 16);
}

// IEEE binary16 (1 sign, 5 exponent, 10 mantissa bits), round to nearest
// even, with subnormals; |f| >= 65520 (halfway past the largest, 65504) is
// infinity; NaN keeps its sign and top payload bits with the quiet bit set,
// as x86's F16C does.
inline uint16_t f32_to_f16(float f) {
  const uint32_t x = FloatBits(f);
  const uint32_t sign = (x >> 16) & 0x8000u, ax = x & 0x7FFFFFFFu;
  if (ax > 0x7F800000u) return static_cast<uint16_t>(sign | 0x7E00u | ((ax >> 13) & 0x3FFu));
  if (ax >= 0x477FF000u) return static_cast<uint16_t>(sign | 0x7C00u);
  if (ax < 0x38800000u) {
    // Below 2^-14: a multiple of 2^-24. The scaling is exact and nearbyint
    // rounds to nearest even; 1024 comes out as the smallest normal's bits.
    const float scaled = BitsFloat(ax) * 16777216.0f;
    return static_cast<uint16_t>(sign | static_cast<uint32_t>(std::nearbyint(scaled)));
  }
  const uint32_t m = ax - 0x38000000u;  // exponent rebiased from 127 to 15
  return static_cast<uint16_t>(sign | ((m + 0xFFFu + ((m >> 13) & 1u)) >> 13));
}

inline float f16_to_f32(uint16_t h) {
  const uint32_t sign = static_cast<uint32_t>(h & 0x8000u) << 16;
  const uint32_t exp = (h >> 10) & 0x1Fu, mant = h & 0x3FFu;
  if (exp == 0) {
    const float v = static_cast<float>(mant) * (1.0f / 16777216.0f);  // exact
    return BitsFloat(FloatBits(v) | sign);
  }
  if (exp == 31) return BitsFloat(sign | 0x7F800000u | (mant << 13));
  return BitsFloat(sign | ((exp + 112u) << 23) | (mant << 13));
}

}  // namespace cpu_llm::ref
