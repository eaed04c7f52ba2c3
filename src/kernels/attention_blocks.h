// Building blocks shared by the fused attention forward and backward
// (attention.cc, attention_backward.cc): the block size, a softmax exp the
// compiler vectorizes, the key transpose and the two inner products the
// kernels are made of. Internal to the kernels; not part of their interface.
#pragma once

#include <cstdint>
#include <cstring>

namespace cpu_llm::attn {

// Keys are taken kBlock at a time, and queries in tiles of kBlock rows: a
// block of transposed keys (hs x kBlock) and of values (kBlock x hs) stays in
// L1 while every row of the tile uses it. 32 keys are 4 AVX2 vectors of
// scores, few enough to stay in registers, and the causal diagonal block
// wastes at most 31 masked scores per row.
constexpr int kBlock = 32;

inline int RoundUpToBlock(int n) { return (n + kBlock - 1) / kBlock * kBlock; }

// e^x for x <= 88 (softmax arguments are <= 0, up to rounding); anything
// below -87, -inf included, gives e^-87 ~ 1.6e-38, which vanishes next to the
// row maximum's e^0 = 1. Same polynomial as FastExp in fast_math.h, written
// so that GCC vectorizes it without -ffast-math or -fno-trapping-math:
//   - the nearest integer k comes from the 1.5 * 2^23 trick, not std::floor
//     (no vector floor under -ftrapping-math; no -ffast-math, so the
//     (y + M) - M is not folded away);
//   - the clamp at -87 is an unsigned min on the bits (negative floats order
//     by magnitude as unsigned integers, and every non-negative one is below
//     them), not a float compare: GCC splits a loop at a float select whose
//     one side it can constant-fold, and then cannot if-convert it back.
inline float SoftmaxExp(float x) {
  constexpr uint32_t kMinus87 = 0xC2AE0000u;  // bits of -87.0f
  uint32_t bits_x;
  std::memcpy(&bits_x, &x, sizeof(bits_x));
  bits_x = bits_x < kMinus87 ? bits_x : kMinus87;
  float xc;
  std::memcpy(&xc, &bits_x, sizeof(xc));
  const float kRound = 12582912.0f;  // 1.5 * 2^23: y + kRound has no fraction bits left
  const float k = (xc * 1.44269504088896341f + kRound) - kRound;
  // x = k ln2 + r with |r| <= ln2/2; ln2 split in two so k*ln2_hi is exact.
  const float r = (xc - k * 0.693145751953125f) - k * 1.428606765330187e-06f;
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

// xt (hs, Tp) = rows 0..T of x (T rows of hs, ld apart) transposed, columns
// T..Tp zero. With keys (or values) as columns, the score of a query against
// a block of keys is a sum of hs key rows scaled by the query's channels, a
// loop along the keys that vectorizes without horizontal sums.
inline void TransposeHead(float* xt, const float* x, int64_t ld, int T, int Tp, int hs) {
  for (int t = 0; t < T; t++)
    for (int i = 0; i < hs; i++) xt[(int64_t)i * Tp + t] = x[t * ld + i];
  for (int i = 0; i < hs; i++)
    for (int t = T; t < Tp; t++) xt[(int64_t)i * Tp + t] = 0.0f;
}

// s (kBlock) = a (hs) . xt[:, 0..kBlock) where xt rows are ld apart: one row
// (a query, or a row of dout) against a block of transposed keys (values).
// The sums accumulate in s itself, a restrict pointer: GCC keeps them in
// registers across the hs loop (with a local array instead, it spills them).
template <int kHs>
inline void RowTimesBlock(float* __restrict s, const float* __restrict a, const float* __restrict xt, int64_t ld,
                          int hs_arg) {
  const int hs = kHs > 0 ? kHs : hs_arg;
  for (int j = 0; j < kBlock; j++) s[j] = 0.0f;
  for (int i = 0; i < hs; i++) {
    const float ai = a[i];
    const float* x = xt + i * ld;
#pragma omp simd
    for (int j = 0; j < kBlock; j++) s[j] += ai * x[j];
  }
}

// y (hs) += sum over n < count of w[n * w_stride] * x[n * x_ld .. + hs): a
// weighted sum of rows (values, keys, queries or rows of dout). With a
// compile-time head size the hs sums stay in registers over the rows and y is
// loaded and stored once; none of the three may overlap.
template <int kHs>
inline void AddWeightedRows(float* __restrict y, const float* __restrict w, int64_t w_stride,
                            const float* __restrict x, int64_t x_ld, int count, int hs_arg) {
  const int hs = kHs > 0 ? kHs : hs_arg;
  for (int n = 0; n < count; n++) {
    const float wn = w[n * w_stride];
    const float* xn = x + n * x_ld;
#pragma omp simd
    for (int i = 0; i < hs; i++) y[i] += wn * xn[i];
  }
}

}  // namespace cpu_llm::attn
