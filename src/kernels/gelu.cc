// GELU, tanh approximation (GPT-2's), in Highway ops. hwy/foreach_target.h
// compiles this file once per SIMD target; gelu_forward/backward call the
// best one the CPU supports (HWY_DYNAMIC_DISPATCH).
#undef HWY_TARGET_INCLUDE
#define HWY_TARGET_INCLUDE "kernels/gelu.cc"
#include "hwy/foreach_target.h"  // IWYU pragma: keep

#include <cstdint>

#include "hwy/highway.h"
#include "kernels/gelu.h"
#include "kernels/parallel.h"
#include "kernels/simd-inl.h"

HWY_BEFORE_NAMESPACE();
namespace cpu_llm {
namespace HWY_NAMESPACE {
namespace hn = hwy::HWY_NAMESPACE;

// tanh(sqrt(2/pi) (x + 0.044715 x^3))
template <class D, class V = hn::Vec<D>>
HWY_INLINE V GeluTanh(D d, V x) {
  const V x3 = hn::Mul(hn::Mul(x, x), x);
  return FastTanh(d, hn::Mul(hn::Set(d, 0.7978845608028654f), hn::MulAdd(hn::Set(d, 0.044715f), x3, x)));
}

// 0.5 x (1 + th)
template <class D, class V = hn::Vec<D>>
HWY_INLINE V GeluLanes(D d, V x) {
  return hn::Mul(hn::Mul(hn::Set(d, 0.5f), x), hn::Add(hn::Set(d, 1.0f), GeluTanh(d, x)));
}

// gelu'(x) dout = (0.5 (1 + th) + 0.5 x (1 - th^2) sqrt(2/pi) (1 + 3 0.044715 x^2)) dout
template <class D, class V = hn::Vec<D>>
HWY_INLINE V GeluGradLanes(D d, V x, V dout) {
  const V half = hn::Set(d, 0.5f), one = hn::Set(d, 1.0f);
  const V th = GeluTanh(d, x);
  const V sech2 = hn::NegMulAdd(th, th, one);
  const V du = hn::Mul(hn::Set(d, 0.7978845608028654f), hn::MulAdd(hn::Set(d, 3.0f * 0.044715f), hn::Mul(x, x), one));
  const V local = hn::MulAdd(hn::Mul(hn::Mul(half, x), sech2), du, hn::Mul(half, hn::Add(one, th)));
  return hn::Mul(local, dout);
}

// No HWY_RESTRICT: the model's backward passes the same buffer as dout and
// dinp (the gradient replaces itself), and every lane is read before it is
// written, which is all in-place use needs.
void GeluForwardSpan(float* out, const float* inp, int64_t n) {
  const hn::ScalableTag<float> d;
  const int64_t L = hn::Lanes(d);
  int64_t i = 0;
  for (; i + L <= n; i += L) hn::StoreU(GeluLanes(d, hn::LoadU(d, inp + i)), d, out + i);
  if (i < n) StorePartial(d, GeluLanes(d, LoadPartial(d, inp + i, n - i, 0.0f)), out + i, n - i);
}

void GeluBackwardSpan(float* dinp, const float* inp, const float* dout, int64_t n) {
  const hn::ScalableTag<float> d;
  const int64_t L = hn::Lanes(d);
  int64_t i = 0;
  for (; i + L <= n; i += L) hn::StoreU(GeluGradLanes(d, hn::LoadU(d, inp + i), hn::LoadU(d, dout + i)), d, dinp + i);
  if (i < n) {
    const auto x = LoadPartial(d, inp + i, n - i, 0.0f), g = LoadPartial(d, dout + i, n - i, 0.0f);
    StorePartial(d, GeluGradLanes(d, x, g), dinp + i, n - i);
  }
}

}  // namespace HWY_NAMESPACE
}  // namespace cpu_llm
HWY_AFTER_NAMESPACE();

#if HWY_ONCE
namespace cpu_llm {

HWY_EXPORT(GeluForwardSpan);
HWY_EXPORT(GeluBackwardSpan);

void gelu_forward(const Context& ctx, float* out, const float* inp, int64_t N) {
  ParallelForBlocks(ctx, N, [&](int64_t i, int64_t n) { HWY_DYNAMIC_DISPATCH(GeluForwardSpan)(out + i, inp + i, n); });
}

void gelu_backward(const Context& ctx, float* dinp, const float* inp, const float* dout, int64_t N) {
  ParallelForBlocks(
      ctx, N, [&](int64_t i, int64_t n) { HWY_DYNAMIC_DISPATCH(GeluBackwardSpan)(dinp + i, inp + i, dout + i, n); });
}

}  // namespace cpu_llm
#endif  // HWY_ONCE
