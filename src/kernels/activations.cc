// Squared ReLU, SiLU and SwiGLU in Highway ops, compiled once per SIMD target
// (hwy/foreach_target.h) and dispatched to the best one at run time. Every
// output element is computed from its own inputs alone, so splitting the
// work among threads changes no bit.
#undef HWY_TARGET_INCLUDE
#define HWY_TARGET_INCLUDE "kernels/activations.cc"
#include "hwy/foreach_target.h"  // IWYU pragma: keep

#include <algorithm>
#include <cstdint>

#include "hwy/highway.h"
#include "kernels/activations.h"
#include "kernels/parallel.h"
#include "kernels/simd-inl.h"

HWY_BEFORE_NAMESPACE();
namespace cpu_llm {
namespace HWY_NAMESPACE {
namespace hn = hwy::HWY_NAMESPACE;

// relu(x) as x > 0 ? x : +0, not Max(x, 0): Max(-0, 0) may be -0 on some
// targets, and the gradient's sign of zero would then differ from the
// reference's. Squared, and doubled times dout, each exact but for the last
// rounding, so both match the scalar reference bit for bit.
template <class D, class V = hn::Vec<D>>
HWY_INLINE V Relu2Lanes(D d, V x) {
  const V r = hn::IfThenElseZero(hn::Gt(x, hn::Zero(d)), x);
  return hn::Mul(r, r);
}
template <class D, class V = hn::Vec<D>>
HWY_INLINE V Relu2GradLanes(D d, V x, V dout) {
  const V r = hn::IfThenElseZero(hn::Gt(x, hn::Zero(d)), x);
  return hn::Mul(hn::Add(r, r), dout);
}

// Where FastExp's clamp of its argument to [-87, 88] would bite. Above
// kSigmoidOne, e^-x < 1.7e-38 is taken as 0: s is 1 in float anyway, and
// x (1 - s) stays 0 instead of growing with x. Below kSiluZero the clamp
// would give s = e^-88 for every x, so silu ~ x e^-88 unbounded; the true
// |silu| and |silu'| there are below 88 e^-88 ~ 5e-37, so the kernels return 0.
constexpr float kSigmoidOne = 87.0f;
constexpr float kSiluZero = -88.0f;

// sigmoid(x) = 1 / (1 + e^-x), with 1 - sigmoid(x) = e^-x / (1 + e^-x) in
// one_minus_s: that form has no cancellation where s rounds to 1.
template <class D, class V = hn::Vec<D>>
HWY_INLINE V SigmoidLanes(D d, V x, V& one_minus_s) {
  const V e = hn::IfThenZeroElse(hn::Gt(x, hn::Set(d, kSigmoidOne)), FastExp(d, hn::Neg(x)));
  const V s = hn::Div(hn::Set(d, 1.0f), hn::Add(hn::Set(d, 1.0f), e));
  one_minus_s = hn::Mul(e, s);
  return s;
}

// silu(x) = x s and silu'(x) = s (1 + x (1 - s)), zero below kSiluZero.
template <class D, class V = hn::Vec<D>>
HWY_INLINE void SiluAndGradLanes(D d, V x, V& silu, V& grad) {
  V one_minus_s;
  const V s = SigmoidLanes(d, x, one_minus_s);
  const auto dead = hn::Lt(x, hn::Set(d, kSiluZero));
  silu = hn::IfThenZeroElse(dead, hn::Mul(x, s));
  grad = hn::IfThenZeroElse(dead, hn::Mul(s, hn::MulAdd(x, one_minus_s, hn::Set(d, 1.0f))));
}
template <class D, class V = hn::Vec<D>>
HWY_INLINE V SiluLanes(D d, V x) {
  V one_minus_s;
  const V s = SigmoidLanes(d, x, one_minus_s);
  return hn::IfThenZeroElse(hn::Lt(x, hn::Set(d, kSiluZero)), hn::Mul(x, s));
}

// No HWY_RESTRICT anywhere below: the backward passes may write their
// gradient over dout (relu2, silu) or inp (swiglu), which is safe because
// every lane is read before it is written.
template <class Lanes>
HWY_INLINE void MapSpan(float* out, const float* inp, int64_t n, Lanes lanes) {
  const hn::ScalableTag<float> d;
  const int64_t L = hn::Lanes(d);
  int64_t i = 0;
  for (; i + L <= n; i += L) hn::StoreU(lanes(d, hn::LoadU(d, inp + i)), d, out + i);
  if (i < n) StorePartial(d, lanes(d, LoadPartial(d, inp + i, n - i, 0.0f)), out + i, n - i);
}
template <class Lanes>
HWY_INLINE void MapSpan2(float* out, const float* inp, const float* dout, int64_t n, Lanes lanes) {
  const hn::ScalableTag<float> d;
  const int64_t L = hn::Lanes(d);
  int64_t i = 0;
  for (; i + L <= n; i += L) hn::StoreU(lanes(d, hn::LoadU(d, inp + i), hn::LoadU(d, dout + i)), d, out + i);
  if (i < n) {
    const auto x = LoadPartial(d, inp + i, n - i, 0.0f), g = LoadPartial(d, dout + i, n - i, 0.0f);
    StorePartial(d, lanes(d, x, g), out + i, n - i);
  }
}

void Relu2ForwardSpan(float* out, const float* inp, int64_t n) {
  MapSpan(out, inp, n, [](auto d, auto x) HWY_ATTR { return Relu2Lanes(d, x); });
}
void Relu2BackwardSpan(float* dinp, const float* inp, const float* dout, int64_t n) {
  MapSpan2(dinp, inp, dout, n, [](auto d, auto x, auto g) HWY_ATTR { return Relu2GradLanes(d, x, g); });
}
void SiluForwardSpan(float* out, const float* inp, int64_t n) {
  MapSpan(out, inp, n, [](auto d, auto x) HWY_ATTR { return SiluLanes(d, x); });
}
void SiluBackwardSpan(float* dinp, const float* inp, const float* dout, int64_t n) {
  MapSpan2(dinp, inp, dout, n, [](auto d, auto x, auto g) HWY_ATTR {
    decltype(x) silu, grad;
    SiluAndGradLanes(d, x, silu, grad);
    return hn::Mul(grad, g);
  });
}

// rows rows of SwiGLU: gate at inp[0, H), up at inp[H, 2H) of each.
void SwigluForwardRows(float* out, const float* inp, int64_t rows, int H) {
  const hn::ScalableTag<float> d;
  const int L = hn::Lanes(d);
  for (int64_t n = 0; n < rows; n++) {
    const float* gate = inp + n * 2 * H;
    const float* up = gate + H;
    float* o = out + n * H;
    int j = 0;
    for (; j + L <= H; j += L) {
      hn::StoreU(hn::Mul(SiluLanes(d, hn::LoadU(d, gate + j)), hn::LoadU(d, up + j)), d, o + j);
    }
    if (j < H) {
      const int r = H - j;
      StorePartial(d, hn::Mul(SiluLanes(d, LoadPartial(d, gate + j, r, 0.0f)), LoadPartial(d, up + j, r, 0.0f)),
                   o + j, r);
    }
  }
}

void SwigluBackwardRows(float* dinp, const float* inp, const float* dout, int64_t rows, int H) {
  const hn::ScalableTag<float> d;
  using V = hn::Vec<decltype(d)>;
  const int L = hn::Lanes(d);
  // dgate = silu'(g) u dout, dup = silu(g) dout, both from lanes already loaded.
  auto grads = [&](V g, V u, V dy, V& dgate, V& dup) HWY_ATTR {
    V silu, grad;
    SiluAndGradLanes(d, g, silu, grad);
    dgate = hn::Mul(hn::Mul(grad, u), dy);
    dup = hn::Mul(silu, dy);
  };
  for (int64_t n = 0; n < rows; n++) {
    const float* gate = inp + n * 2 * H;
    const float* up = gate + H;
    const float* dy = dout + n * H;
    float* dgate = dinp + n * 2 * H;
    float* dup = dgate + H;
    int j = 0;
    for (; j + L <= H; j += L) {
      V dg, du;
      grads(hn::LoadU(d, gate + j), hn::LoadU(d, up + j), hn::LoadU(d, dy + j), dg, du);
      hn::StoreU(dg, d, dgate + j);
      hn::StoreU(du, d, dup + j);
    }
    if (j < H) {
      const int r = H - j;
      V dg, du;
      grads(LoadPartial(d, gate + j, r, 0.0f), LoadPartial(d, up + j, r, 0.0f), LoadPartial(d, dy + j, r, 0.0f), dg,
            du);
      StorePartial(d, dg, dgate + j, r);
      StorePartial(d, du, dup + j, r);
    }
  }
}

}  // namespace HWY_NAMESPACE
}  // namespace cpu_llm
HWY_AFTER_NAMESPACE();

#if HWY_ONCE
namespace cpu_llm {

HWY_EXPORT(Relu2ForwardSpan);
HWY_EXPORT(Relu2BackwardSpan);
HWY_EXPORT(SiluForwardSpan);
HWY_EXPORT(SiluBackwardSpan);
HWY_EXPORT(SwigluForwardRows);
HWY_EXPORT(SwigluBackwardRows);

void relu2_forward(const Context& ctx, float* out, const float* inp, int64_t N) {
  const auto span = HWY_DYNAMIC_DISPATCH(Relu2ForwardSpan);
  ParallelForBlocks(ctx, N, [&](int64_t i, int64_t n) { span(out + i, inp + i, n); });
}

void relu2_backward(const Context& ctx, float* dinp, const float* inp, const float* dout, int64_t N) {
  const auto span = HWY_DYNAMIC_DISPATCH(Relu2BackwardSpan);
  ParallelForBlocks(ctx, N, [&](int64_t i, int64_t n) { span(dinp + i, inp + i, dout + i, n); });
}

void silu_forward(const Context& ctx, float* out, const float* inp, int64_t N) {
  const auto span = HWY_DYNAMIC_DISPATCH(SiluForwardSpan);
  ParallelForBlocks(ctx, N, [&](int64_t i, int64_t n) { span(out + i, inp + i, n); });
}

void silu_backward(const Context& ctx, float* dinp, const float* inp, const float* dout, int64_t N) {
  const auto span = HWY_DYNAMIC_DISPATCH(SiluBackwardSpan);
  ParallelForBlocks(ctx, N, [&](int64_t i, int64_t n) { span(dinp + i, inp + i, dout + i, n); });
}

namespace {
// Blocks of whole rows of about kElementBlock outputs each, for the same
// balance as the element-wise ops whatever H is.
int64_t SwigluRowBlock(int H) { return std::max<int64_t>(1, kElementBlock / std::max(H, 1)); }
}  // namespace

void swiglu_forward(const Context& ctx, float* out, const float* inp, int N, int H) {
  const auto rows = HWY_DYNAMIC_DISPATCH(SwigluForwardRows);
  ParallelForBlocks(
      ctx, N, [&](int64_t n, int64_t count) { rows(out + n * H, inp + n * 2 * H, count, H); }, SwigluRowBlock(H));
}

void swiglu_backward(const Context& ctx, float* dinp, const float* inp, const float* dout, int N, int H) {
  const auto rows = HWY_DYNAMIC_DISPATCH(SwigluBackwardRows);
  ParallelForBlocks(
      ctx, N, [&](int64_t n, int64_t count) { rows(dinp + n * 2 * H, inp + n * 2 * H, dout + n * H, count, H); },
      SwigluRowBlock(H));
}

}  // namespace cpu_llm
#endif  // HWY_ONCE
