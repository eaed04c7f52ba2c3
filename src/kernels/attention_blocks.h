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
// row maximum's e^0 = 1. Above 88 the result is meaningless but defined (no
// float-to-int conversion, only unsigned arithmetic on bits). Same polynomial
// as FastExp in fast_math.h, written so that GCC vectorizes it without
// -ffast-math or -fno-trapping-math:
//   - the nearest integer k comes from the 1.5 * 2^23 trick, not std::floor
//     (no vector floor under -ftrapping-math; no -ffast-math, so (y + M) - M
//     is not folded away), and 2^k is built from the bits of y + M;
//   - the clamp at -87 is an unsigned min on the bits (negative floats order
//     by magnitude as unsigned integers, and every non-negative one is below
//     them), not a float compare: GCC splits a loop at a float select whose
//     one side it can constant-fold, and then cannot if-convert it back.
inline float SoftmaxExp(float x) {
  constexpr uint32_t kMinus87 = 0xC2AE0000u;  // bits of -87.0f
  constexpr float kRound = 12582912.0f;      // 1.5 * 2^23: y + kRound has no fraction bits left
  constexpr uint32_t kRoundBits = 0x4B400000u;
  uint32_t bits_x;
  std::memcpy(&bits_x, &x, sizeof(bits_x));
  bits_x = bits_x < kMinus87 ? bits_x : kMinus87;
  float xc;
  std::memcpy(&xc, &bits_x, sizeof(xc));
  const float y = xc * 1.44269504088896341f + kRound;  // kRound + k, k = round(x / ln2)
  const float k = y - kRound;
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
  uint32_t bits_y;
  std::memcpy(&bits_y, &y, sizeof(bits_y));
  const uint32_t bits_2k = (bits_y - kRoundBits + 127u) << 23;  // y's low bits hold k: 2^k's exponent
  float two_k;
  std::memcpy(&two_k, &bits_2k, sizeof(two_k));
  return p * two_k;
}

// Rows 0..T of x (T rows of hs, ld apart) transposed into panels: for each
// block of kBlock rows, an (hs, kBlock) panel, contiguous, hs * kBlock floats
// apart; the rows T..Tp of the last panel are zero. With keys (or values) as
// columns, the scores of a query against a block are a sum of hs panel rows
// scaled by the query's channels: a loop along the keys that vectorizes
// without horizontal sums. A panel is one contiguous 8 KB (hs = 64): a plain
// (hs, T) transpose would put its rows T floats apart, a power-of-two stride
// that makes them collide in the same L1 sets.
inline void TransposeToPanels(float* xt, const float* x, int64_t ld, int T, int hs) {
  for (int t = 0; t < RoundUpToBlock(T); t++) {
    float* col = xt + (int64_t)(t / kBlock) * hs * kBlock + t % kBlock;
    for (int i = 0; i < hs; i++) col[i * kBlock] = t < T ? x[t * ld + i] : 0.0f;
  }
}

// s (kBlock) = a (hs) . panel (hs, kBlock): one row (a query, or a row of
// dout) against a block of keys (values) transposed by TransposeToPanels.
// The sums accumulate in s itself, a restrict pointer: GCC keeps them in
// registers across the hs loop (with a local array instead, it spills them).
template <int kHs>
inline void RowTimesBlock(float* __restrict s, const float* __restrict a, const float* __restrict panel,
                          int hs_arg) {
  const int hs = kHs > 0 ? kHs : hs_arg;
  for (int j = 0; j < kBlock; j++) s[j] = 0.0f;
  for (int i = 0; i < hs; i++) {
    const float ai = a[i];
    const float* x = panel + i * kBlock;
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
