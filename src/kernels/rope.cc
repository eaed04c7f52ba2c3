// Rotary position embeddings in Highway ops, compiled once per SIMD target
// (hwy/foreach_target.h) and dispatched to the best one at run time. Each
// (b, t) row of qkv belongs to one thread and every element is written once
// from its own pair, so results do not depend on the thread count.
#undef HWY_TARGET_INCLUDE
#define HWY_TARGET_INCLUDE "kernels/rope.cc"
#include "hwy/foreach_target.h"  // IWYU pragma: keep

#include <cmath>
#include <cstdint>

#include "hwy/highway.h"
#include "kernels/parallel.h"
#include "kernels/rope.h"
#include "kernels/simd-inl.h"

HWY_BEFORE_NAMESPACE();
namespace cpu_llm {
namespace HWY_NAMESPACE {
namespace hn = hwy::HWY_NAMESPACE;

// n_heads consecutive heads of HS channels at x, each pair (i, i + HS/2)
// turned by the angle whose cos and sin are cs[i], sn[i]; sin_sign -1 turns
// the other way (the transpose, for backward). The negation is exact, so
// backward is the forward formula with -sin, to the bit.
void RopeRotateRow(float* x, const float* cs, const float* sn, int n_heads, int HS, float sin_sign) {
  const hn::ScalableTag<float> d;
  using V = hn::Vec<decltype(d)>;
  const int L = hn::Lanes(d), half = HS / 2;
  const V sign = hn::Set(d, sin_sign);
  // x1' = x1 cos - x2 sin, x2' = x2 cos + x1 sin
  auto rotate = [&](V x1, V x2, V c, V s, V& y1, V& y2) HWY_ATTR {
    y1 = hn::NegMulAdd(x2, s, hn::Mul(x1, c));
    y2 = hn::MulAdd(x1, s, hn::Mul(x2, c));
  };
  for (int h = 0; h < n_heads; h++) {
    float* a = x + (int64_t)h * HS;
    float* b = a + half;
    int i = 0;
    for (; i + L <= half; i += L) {
      V y1, y2;
      rotate(hn::LoadU(d, a + i), hn::LoadU(d, b + i), hn::LoadU(d, cs + i), hn::Mul(hn::LoadU(d, sn + i), sign), y1,
             y2);
      hn::StoreU(y1, d, a + i);
      hn::StoreU(y2, d, b + i);
    }
    if (i < half) {
      const int r = half - i;
      V y1, y2;
      rotate(LoadPartial(d, a + i, r, 0.0f), LoadPartial(d, b + i, r, 0.0f), LoadPartial(d, cs + i, r, 0.0f),
             hn::Mul(LoadPartial(d, sn + i, r, 0.0f), sign), y1, y2);
      StorePartial(d, y1, a + i, r);
      StorePartial(d, y2, b + i, r);
    }
  }
}

}  // namespace HWY_NAMESPACE
}  // namespace cpu_llm
HWY_AFTER_NAMESPACE();

#if HWY_ONCE
namespace cpu_llm {

HWY_EXPORT(RopeRotateRow);

void rope_table(float* cos_table, float* sin_table, int max_T, int HS, float theta) {
  const int half = HS / 2;
  for (int p = 0; p < max_T; p++)
    for (int i = 0; i < half; i++) {
      const double angle = p * std::pow(static_cast<double>(theta), -2.0 * i / HS);
      cos_table[(int64_t)p * half + i] = static_cast<float>(std::cos(angle));
      sin_table[(int64_t)p * half + i] = static_cast<float>(std::sin(angle));
    }
}

namespace {

// Both directions: q and k are adjacent in a row, so they are 2*NH heads in a
// row of channels [0, 2C), turned by the angles of the row's position.
void RopeRotate(const Context& ctx, float* qkv, const float* cos_table, const float* sin_table, int B, int T, int C,
                int NH, int pos0, float sin_sign) {
  const auto rotate_row = HWY_DYNAMIC_DISPATCH(RopeRotateRow);
  const int HS = C / NH, half = HS / 2;
  ParallelForBlocks(
      ctx, (int64_t)B * T,
      [&](int64_t bt, int64_t) {
        const int64_t table_row = (int64_t)(pos0 + bt % T) * half;
        rotate_row(qkv + bt * 3 * C, cos_table + table_row, sin_table + table_row, 2 * NH, HS, sin_sign);
      },
      /*block=*/1);
}

}  // namespace

void rope_forward(const Context& ctx, float* qkv, const float* cos_table, const float* sin_table, int B, int T, int C,
                  int NH, int pos0) {
  RopeRotate(ctx, qkv, cos_table, sin_table, B, T, C, NH, pos0, 1.0f);
}

void rope_backward(const Context& ctx, float* dqkv, const float* cos_table, const float* sin_table, int B, int T,
                   int C, int NH, int pos0) {
  RopeRotate(ctx, dqkv, cos_table, sin_table, B, T, C, NH, pos0, -1.0f);
}

}  // namespace cpu_llm
#endif  // HWY_ONCE
