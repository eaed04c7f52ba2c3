// AdamW's update and the squared gradient norm in Highway ops, compiled once
// per SIMD target (hwy/foreach_target.h) and dispatched at run time.
#undef HWY_TARGET_INCLUDE
#define HWY_TARGET_INCLUDE "optim/adamw_kernels.cc"
#include "hwy/foreach_target.h"  // IWYU pragma: keep

#include <algorithm>
#include <cstdint>

#include "hwy/highway.h"
#include "kernels/simd-inl.h"
#include "optim/adamw_kernels.h"

HWY_BEFORE_NAMESPACE();
namespace cpu_llm {
namespace HWY_NAMESPACE {
namespace hn = hwy::HWY_NAMESPACE;

void AdamWUpdateSpan(float* params, const float* grads, float* m, float* v, int64_t n, const AdamWStepScalars& s) {
  const hn::ScalableTag<float> d;
  using V = hn::Vec<decltype(d)>;
  const int64_t L = hn::Lanes(d);
  const V scale = hn::Set(d, s.grad_scale), lr = hn::Set(d, s.lr), wd = hn::Set(d, s.weight_decay);
  const V b1 = hn::Set(d, s.beta1), one_minus_b1 = hn::Set(d, 1.0f - s.beta1);
  const V b2 = hn::Set(d, s.beta2), one_minus_b2 = hn::Set(d, 1.0f - s.beta2);
  const V bc1 = hn::Set(d, s.bias_corr1), bc2 = hn::Set(d, s.bias_corr2), eps = hn::Set(d, s.eps);
  // Updates p, mi, vi in registers from the gradient lanes.
  auto step = [&](V g, V& p, V& mi, V& vi) HWY_ATTR {
    g = hn::Mul(g, scale);
    mi = hn::MulAdd(b1, mi, hn::Mul(one_minus_b1, g));
    vi = hn::MulAdd(b2, vi, hn::Mul(hn::Mul(one_minus_b2, g), g));
    const V mhat = hn::Div(mi, bc1), vhat = hn::Div(vi, bc2);
    const V update = hn::MulAdd(wd, p, hn::Div(mhat, hn::Add(hn::Sqrt(vhat), eps)));
    p = hn::NegMulAdd(lr, update, p);
  };
  int64_t i = 0;
  for (; i + L <= n; i += L) {
    V p = hn::LoadU(d, params + i), mi = hn::LoadU(d, m + i), vi = hn::LoadU(d, v + i);
    step(hn::LoadU(d, grads + i), p, mi, vi);
    hn::StoreU(p, d, params + i);
    hn::StoreU(mi, d, m + i);
    hn::StoreU(vi, d, v + i);
  }
  if (i < n) {
    const size_t r = n - i;
    V p = LoadPartial(d, params + i, r, 0.0f), mi = LoadPartial(d, m + i, r, 0.0f);
    V vi = LoadPartial(d, v + i, r, 0.0f);
    step(LoadPartial(d, grads + i, r, 0.0f), p, mi, vi);
    StorePartial(d, p, params + i, r);
    StorePartial(d, mi, m + i, r);
    StorePartial(d, vi, v + i, r);
  }
}

double SumOfSquares(const float* x, int64_t n) {
  const hn::ScalableTag<double> dd;
  const hn::Rebind<float, decltype(dd)> df;  // as many floats as dd has doubles
  using VD = hn::Vec<decltype(dd)>;
  const int64_t L = hn::Lanes(dd);
  // Four accumulators: one would wait on the add latency (~4 cycles per
  // vector), slower than memory delivers the gradients.
  VD a0 = hn::Zero(dd), a1 = hn::Zero(dd), a2 = hn::Zero(dd), a3 = hn::Zero(dd);
  int64_t i = 0;
  for (; i + 4 * L <= n; i += 4 * L) {
    const VD x0 = hn::PromoteTo(dd, hn::LoadU(df, x + i)), x1 = hn::PromoteTo(dd, hn::LoadU(df, x + i + L));
    const VD x2 = hn::PromoteTo(dd, hn::LoadU(df, x + i + 2 * L)), x3 = hn::PromoteTo(dd, hn::LoadU(df, x + i + 3 * L));
    a0 = hn::MulAdd(x0, x0, a0);
    a1 = hn::MulAdd(x1, x1, a1);
    a2 = hn::MulAdd(x2, x2, a2);
    a3 = hn::MulAdd(x3, x3, a3);
  }
  for (; i < n; i += L) {  // at most three more vectors; zero lanes add nothing
    const int64_t r = std::min(L, n - i);
    const VD xv = hn::PromoteTo(dd, r == L ? hn::LoadU(df, x + i) : LoadPartial(df, x + i, r, 0.0f));
    a0 = hn::MulAdd(xv, xv, a0);
  }
  return hn::GetLane(hn::SumOfLanes(dd, hn::Add(hn::Add(a0, a1), hn::Add(a2, a3))));
}

}  // namespace HWY_NAMESPACE
}  // namespace cpu_llm
HWY_AFTER_NAMESPACE();

#if HWY_ONCE
namespace cpu_llm {

HWY_EXPORT(AdamWUpdateSpan);
HWY_EXPORT(SumOfSquares);

void adamw_update_span(float* params, const float* grads, float* m, float* v, int64_t n, const AdamWStepScalars& s) {
  HWY_DYNAMIC_DISPATCH(AdamWUpdateSpan)(params, grads, m, v, n, s);
}

double sum_of_squares(const float* x, int64_t n) { return HWY_DYNAMIC_DISPATCH(SumOfSquares)(x, n); }

}  // namespace cpu_llm
#endif  // HWY_ONCE
