// Per-target inner products of the fused attention (attention.cc,
// attention_backward.cc), in Highway ops. Scores run along the kBlock keys
// of a panel (attention_blocks.h), so a row's scores need no horizontal sum;
// weighted sums of rows run along the head's hs channels.
//
// The block and the GPT-2 head (hs = 64) are held as arrays of vectors,
// which needs vectors of a compile-time size: every x86 target has them.
//
// No #pragma once: the guard follows HWY_TARGET_TOGGLE as in simd-inl.h, so
// the body is compiled once per target.
#if defined(CPU_LLM_KERNELS_ATTENTION_INL_H_) == defined(HWY_TARGET_TOGGLE)
#ifdef CPU_LLM_KERNELS_ATTENTION_INL_H_
#undef CPU_LLM_KERNELS_ATTENTION_INL_H_
#else
#define CPU_LLM_KERNELS_ATTENTION_INL_H_
#endif

#include <cstddef>
#include <cstdint>
#include <type_traits>

#include "hwy/highway.h"
#include "kernels/attention_blocks.h"

HWY_BEFORE_NAMESPACE();
namespace cpu_llm {
namespace HWY_NAMESPACE {
namespace hn = hwy::HWY_NAMESPACE;

// Lanes of a full float vector, as a constant: arrays of vectors are sized by it.
template <class D>
constexpr int kLanes = static_cast<int>(hn::MaxLanes(D()));

// Rows of a that RowsTimesBlock takes at once: enough that the block's sums
// are 8 vectors, independent chains of FMAs that hide the FMA latency (one
// row's 4 AVX2 vectors would wait on it), and every panel load is used by
// that many rows.
template <class D>
constexpr int kScoreRows = attn::kBlock / kLanes<D> >= 8 ? 1 : 8 / (attn::kBlock / kLanes<D>);

// s (kRows, kBlock) = a (kRows rows of hs, a_ld apart) . panel (hs, kBlock):
// rows (queries, or rows of dout) against a block of keys (values) in a
// panel. The sums stay in registers over the hs channels; s is aligned.
template <int kHs, int kRows, class D>
HWY_INLINE void RowsTimesBlock(D d, float* HWY_RESTRICT s, const float* HWY_RESTRICT a, int64_t a_ld,
                               const float* HWY_RESTRICT panel, int hs_arg) {
  constexpr int L = kLanes<D>, kVecs = attn::kBlock / L;
  static_assert(attn::kBlock % L == 0, "a block is whole vectors");
  const int hs = kHs > 0 ? kHs : hs_arg;
  hn::Vec<D> acc[kRows][kVecs];
  HWY_UNROLL(16)
  for (int r = 0; r < kRows; r++) {
    HWY_UNROLL(16)
    for (int k = 0; k < kVecs; k++) acc[r][k] = hn::Zero(d);
  }
  for (int i = 0; i < hs; i++) {
    const float* x = panel + i * attn::kBlock;
    hn::Vec<D> xk[kVecs];
    HWY_UNROLL(16)
    for (int k = 0; k < kVecs; k++) xk[k] = hn::LoadU(d, x + k * L);
    HWY_UNROLL(16)
    for (int r = 0; r < kRows; r++) {
      const auto ai = hn::Set(d, a[r * a_ld + i]);
      HWY_UNROLL(16)
      for (int k = 0; k < kVecs; k++) acc[r][k] = hn::MulAdd(ai, xk[k], acc[r][k]);
    }
  }
  HWY_UNROLL(16)
  for (int r = 0; r < kRows; r++) {
    HWY_UNROLL(16)
    for (int k = 0; k < kVecs; k++) hn::Store(acc[r][k], d, s + r * attn::kBlock + k * L);
  }
}

// RowsTimesBlock of rows 0..nr, kScoreRows at a time.
template <int kHs, class D>
HWY_INLINE void TileTimesBlock(D d, float* HWY_RESTRICT s, const float* HWY_RESTRICT a, int64_t a_ld, int nr,
                               const float* HWY_RESTRICT panel, int hs) {
  constexpr int R = kScoreRows<D>;
  int r = 0;
  for (; r + R <= nr; r += R) RowsTimesBlock<kHs, R>(d, s + r * attn::kBlock, a + r * a_ld, a_ld, panel, hs);
  for (; r < nr; r++) RowsTimesBlock<kHs, 1>(d, s + r * attn::kBlock, a + r * a_ld, a_ld, panel, hs);
}

// For r < kRows: y_r (hs, y_ld apart) = y_r * y_scale[r] + sum over n <
// count of w[r * w_ld + n * w_stride] * x[n * x_ld .. + hs): weighted sums
// of the same rows x (values, keys, queries or rows of dout), the forward's
// online-softmax rescale folded into the load of y (y_scale null: none).
// kRows outputs share each load of x. The sums stay in registers over the
// rows, 8 vectors at a time for a compiled-in hs (a chunk of channels of
// every output), else a vector of each; y may not overlap w or x.
template <int kHs, int kRows, class D>
HWY_INLINE void AddWeightedRows(D d, float* HWY_RESTRICT y, int64_t y_ld, const float* y_scale,
                                const float* HWY_RESTRICT w, int64_t w_ld, int64_t w_stride,
                                const float* HWY_RESTRICT x, int64_t x_ld, int count, int hs_arg) {
  using Vec = hn::Vec<D>;
  constexpr int L = kLanes<D>;
  // Channels [i, i + kVecs * L) of every output.
  auto chunk = [&](auto vecs, int i) HWY_ATTR {
    constexpr int kVecs = decltype(vecs)::value;
    Vec acc[kRows][kVecs];
    HWY_UNROLL(16)
    for (int r = 0; r < kRows; r++) {
      const Vec ys = hn::Set(d, y_scale ? y_scale[r] : 1.0f);
      HWY_UNROLL(16)
      for (int k = 0; k < kVecs; k++) acc[r][k] = hn::Mul(hn::LoadU(d, y + r * y_ld + i + k * L), ys);
    }
    for (int n = 0; n < count; n++) {
      Vec xk[kVecs];
      HWY_UNROLL(16)
      for (int k = 0; k < kVecs; k++) xk[k] = hn::LoadU(d, x + n * x_ld + i + k * L);
      HWY_UNROLL(16)
      for (int r = 0; r < kRows; r++) {
        const Vec wr = hn::Set(d, w[r * w_ld + n * w_stride]);
        HWY_UNROLL(16)
        for (int k = 0; k < kVecs; k++) acc[r][k] = hn::MulAdd(wr, xk[k], acc[r][k]);
      }
    }
    HWY_UNROLL(16)
    for (int r = 0; r < kRows; r++) {
      HWY_UNROLL(16)
      for (int k = 0; k < kVecs; k++) hn::StoreU(acc[r][k], d, y + r * y_ld + i + k * L);
    }
  };
  if constexpr (kHs > 0) {
    constexpr int kVecs = kHs / L < 8 / kRows ? kHs / L : 8 / kRows;
    static_assert(kHs % (kVecs * L) == 0, "a compiled-in head is whole chunks");
    for (int i = 0; i < kHs; i += kVecs * L) chunk(std::integral_constant<int, kVecs>(), i);
  } else {
    const int hs = hs_arg;
    int i = 0;
    for (; i + L <= hs; i += L) chunk(std::integral_constant<int, 1>(), i);
    // The channels past the last whole vector (odd test heads; GPT-2's are whole).
    for (int r = 0; r < kRows; r++)
      for (int c = i; c < hs; c++) {
        float acc = y[r * y_ld + c] * (y_scale ? y_scale[r] : 1.0f);
        for (int n = 0; n < count; n++) acc += w[r * w_ld + n * w_stride] * x[n * x_ld + c];
        y[r * y_ld + c] = acc;
      }
  }
}

// a (n) . b (n)
template <class D>
HWY_INLINE float Dot(D d, const float* HWY_RESTRICT a, const float* HWY_RESTRICT b, int n) {
  constexpr int L = kLanes<D>;
  auto acc = hn::Zero(d);
  int i = 0;
  for (; i + L <= n; i += L) acc = hn::MulAdd(hn::LoadU(d, a + i), hn::LoadU(d, b + i), acc);
  float sum = hn::GetLane(hn::SumOfLanes(d, acc));
  for (; i < n; i++) sum += a[i] * b[i];
  return sum;
}

// y (n) *= a
template <class D>
HWY_INLINE void ScaleRow(D d, float* y, float a, int n) {
  constexpr int L = kLanes<D>;
  const auto va = hn::Set(d, a);
  int i = 0;
  for (; i + L <= n; i += L) hn::StoreU(hn::Mul(hn::LoadU(d, y + i), va), d, y + i);
  for (; i < n; i++) y[i] *= a;
}

}  // namespace HWY_NAMESPACE
}  // namespace cpu_llm
HWY_AFTER_NAMESPACE();

#endif  // per-target include guard
