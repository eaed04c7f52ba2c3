// Token + position embedding in Highway ops, compiled once per SIMD target
// (hwy/foreach_target.h) and dispatched to the best one at run time.
#undef HWY_TARGET_INCLUDE
#define HWY_TARGET_INCLUDE "kernels/encoder.cc"
#include "hwy/foreach_target.h"  // IWYU pragma: keep

#include <algorithm>
#include <cstdint>

#include "hwy/highway.h"
#include "kernels/encoder.h"
#include "kernels/simd-inl.h"

HWY_BEFORE_NAMESPACE();
namespace cpu_llm {
namespace HWY_NAMESPACE {
namespace hn = hwy::HWY_NAMESPACE;

// dst[c] += src[c] for c in [c0, c1).
template <class D>
HWY_INLINE void AddInto(D d, float* dst, const float* src, int c0, int c1) {
  const int L = hn::Lanes(d);
  int c = c0;
  for (; c + L <= c1; c += L) hn::StoreU(hn::Add(hn::LoadU(d, dst + c), hn::LoadU(d, src + c)), d, dst + c);
  if (c < c1) {
    const int r = c1 - c;
    StorePartial(d, hn::Add(LoadPartial(d, dst + c, r, 0.0f), LoadPartial(d, src + c, r, 0.0f)), dst + c, r);
  }
}

// One output row: o = e + p over C channels (o = e when p is null: no
// learned positions).
void EncoderRow(float* o, const float* e, const float* p, int C) {
  const hn::ScalableTag<float> d;
  const int L = hn::Lanes(d);
  int c = 0;
  if (!p) {
    for (; c + L <= C; c += L) hn::StoreU(hn::LoadU(d, e + c), d, o + c);
    if (c < C) StorePartial(d, LoadPartial(d, e + c, C - c, 0.0f), o + c, C - c);
    return;
  }
  for (; c + L <= C; c += L) hn::StoreU(hn::Add(hn::LoadU(d, e + c), hn::LoadU(d, p + c)), d, o + c);
  if (c < C) StorePartial(d, hn::Add(LoadPartial(d, e + c, C - c, 0.0f), LoadPartial(d, p + c, C - c, 0.0f)), o + c, C - c);
}

// Channels [c0, c1) of the scatter: for each token in order, its dout row
// is added to its wte row and its position's wpe row.
void EncoderGradSlice(float* dwte, float* dwpe, const float* dout, const int32_t* tokens, int BT, int T, int C, int c0,
                      int c1) {
  const hn::ScalableTag<float> d;
  for (int bt = 0; bt < BT; bt++) {
    const float* g = dout + (int64_t)bt * C;
    AddInto(d, dwte + (int64_t)tokens[bt] * C, g, c0, c1);
    if (dwpe) AddInto(d, dwpe + (int64_t)(bt % T) * C, g, c0, c1);
  }
}

}  // namespace HWY_NAMESPACE
}  // namespace cpu_llm
HWY_AFTER_NAMESPACE();

#if HWY_ONCE
namespace cpu_llm {

HWY_EXPORT(EncoderRow);
HWY_EXPORT(EncoderGradSlice);

void encoder_forward(const Context& ctx, float* out, const int32_t* tokens, const float* wte, const float* wpe,
                     int B, int T, int C) {
  // The target is looked up once per op, not once per row.
  const auto row = HWY_DYNAMIC_DISPATCH(EncoderRow);
#pragma omp parallel for schedule(static) num_threads(ctx.n_threads)
  for (int bt = 0; bt < B * T; bt++)
    row(out + (int64_t)bt * C, wte + (int64_t)tokens[bt] * C, wpe ? wpe + (int64_t)(bt % T) * C : nullptr, C);
}

void encoder_backward(const Context& ctx, float* dwte, float* dwpe, const float* dout, const int32_t* tokens,
                      int B, int T, int C) {
  // Threads own channel slices, so rows hit by repeated tokens need no
  // atomics and sum in token order.
  constexpr int kSlice = 64;
  const int n_slices = (C + kSlice - 1) / kSlice;
#pragma omp parallel for schedule(static) num_threads(ctx.n_threads)
  for (int s = 0; s < n_slices; s++) {
    const int c0 = s * kSlice, c1 = std::min(C, c0 + kSlice);
    HWY_DYNAMIC_DISPATCH(EncoderGradSlice)(dwte, dwpe, dout, tokens, B * T, T, C, c0, c1);
  }
}

}  // namespace cpu_llm
#endif  // HWY_ONCE
