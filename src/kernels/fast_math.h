// Branch-free exp and tanh accurate to a few float ulps (tested against
// libm), for scalar code. The element-wise kernels use the same polynomials
// written in Highway ops (kernels/simd-inl.h): GCC 12 left loops over these
// scalar, since std::floor under -ftrapping-math does not vectorize.
#pragma once

#include <cmath>
#include <cstdint>
#include <cstring>

namespace cpu_llm {

// e^x for x in any range; inputs below -87 give e^-87 (~1.6e-38), not 0,
// which is harmless where it is used (softmax numerators, GELU).
inline float FastExp(float x) {
  // Ternaries, not std::fmin/fmax: those are libm calls (NaN rules) that stop vectorization.
  x = x < -87.0f ? -87.0f : (x > 88.0f ? 88.0f : x);
  // x = k ln2 + r with |r| <= ln2/2; ln2 split in two so k*ln2_hi is exact.
  const float k = std::floor(x * 1.44269504088896341f + 0.5f);
  const float r = (x - k * 0.693145751953125f) - k * 1.428606765330187e-06f;
  // Taylor series of e^r to degree 7: relative error < 6e-9 on |r| <= 0.347.
  float p = 1.0f / 5040.0f;
  p = p * r + 1.0f / 720.0f;
  p = p * r + 1.0f / 120.0f;
  p = p * r + 1.0f / 24.0f;
  p = p * r + 1.0f / 6.0f;
  p = p * r + 0.5f;
  p = p * r + 1.0f;
  p = p * r + 1.0f;
  const int32_t bits = (static_cast<int32_t>(k) + 127) << 23;  // 2^k
  float scale;
  std::memcpy(&scale, &bits, sizeof(scale));
  return p * scale;
}

// tanh(x) = sign(x) (1 - e^{-2|x|}) / (1 + e^{-2|x|}), exact in the limits.
inline float FastTanh(float x) {
  const float e = FastExp(-2.0f * std::fabs(x));
  return std::copysign((1.0f - e) / (1.0f + e), x);
}

}  // namespace cpu_llm
