// Per-target helpers shared by the Highway kernels (the .cc files that
// re-include themselves through hwy/foreach_target.h): the project's exp and
// tanh (kernels/fast_math.h) written in Highway ops, and loads and stores of
// the partial vector at the end of a row.
//
// No #pragma once: foreach_target.h flips HWY_TARGET_TOGGLE before each
// target, and this guard follows it, so the body is compiled once per target.
#if defined(CPU_LLM_KERNELS_SIMD_INL_H_) == defined(HWY_TARGET_TOGGLE)
#ifdef CPU_LLM_KERNELS_SIMD_INL_H_
#undef CPU_LLM_KERNELS_SIMD_INL_H_
#else
#define CPU_LLM_KERNELS_SIMD_INL_H_
#endif

#include <cstddef>

#include "hwy/highway.h"

HWY_BEFORE_NAMESPACE();
namespace cpu_llm {
namespace HWY_NAMESPACE {
namespace hn = hwy::HWY_NAMESPACE;

// FastExp of kernels/fast_math.h on every lane: the same clamp, range
// reduction and degree-7 polynomial, so the vector kernels and the scalar
// ones (attention) compute the same function to within rounding.
template <class D, class V = hn::Vec<D>>
HWY_INLINE V FastExp(D d, V x) {
  const hn::RebindToSigned<D> di;
  x = hn::Min(hn::Max(x, hn::Set(d, -87.0f)), hn::Set(d, 88.0f));
  // x = k ln2 + r with |r| <= ln2/2; ln2 split in two so k*ln2_hi is exact.
  const V k = hn::Floor(hn::MulAdd(x, hn::Set(d, 1.44269504088896341f), hn::Set(d, 0.5f)));
  const V r = hn::NegMulAdd(k, hn::Set(d, 1.428606765330187e-06f),
                            hn::NegMulAdd(k, hn::Set(d, 0.693145751953125f), x));
  V p = hn::Set(d, 1.0f / 5040.0f);
  p = hn::MulAdd(p, r, hn::Set(d, 1.0f / 720.0f));
  p = hn::MulAdd(p, r, hn::Set(d, 1.0f / 120.0f));
  p = hn::MulAdd(p, r, hn::Set(d, 1.0f / 24.0f));
  p = hn::MulAdd(p, r, hn::Set(d, 1.0f / 6.0f));
  p = hn::MulAdd(p, r, hn::Set(d, 0.5f));
  p = hn::MulAdd(p, r, hn::Set(d, 1.0f));
  p = hn::MulAdd(p, r, hn::Set(d, 1.0f));
  // 2^k built in the exponent field; k is in [-126, 127] after the clamp.
  const V scale = hn::BitCast(d, hn::ShiftLeft<23>(hn::Add(hn::ConvertTo(di, k), hn::Set(di, 127))));
  return hn::Mul(p, scale);
}

// FastTanh of kernels/fast_math.h: sign(x) (1 - e^{-2|x|}) / (1 + e^{-2|x|}).
template <class D, class V = hn::Vec<D>>
HWY_INLINE V FastTanh(D d, V x) {
  const V e = FastExp(d, hn::Mul(hn::Set(d, -2.0f), hn::Abs(x)));
  const V one = hn::Set(d, 1.0f);
  return hn::CopySignToAbs(hn::Div(hn::Sub(one, e), hn::Add(one, e)), x);
}

// The first n (< Lanes(d)) floats at p, the other lanes set to fill. Through
// a buffer because SSE4 and below have no partial load that cannot fault,
// and a row's end may be the end of its allocation.
template <class D>
HWY_INLINE hn::Vec<D> LoadPartial(D d, const float* p, size_t n, float fill) {
  HWY_ALIGN float buf[hn::MaxLanes(d)];
  for (size_t i = 0; i < hn::Lanes(d); i++) buf[i] = i < n ? p[i] : fill;
  return hn::Load(d, buf);
}

// Writes the first n (< Lanes(d)) lanes of v to p and nothing past them.
template <class D>
HWY_INLINE void StorePartial(D d, hn::Vec<D> v, float* p, size_t n) {
  HWY_ALIGN float buf[hn::MaxLanes(d)];
  hn::Store(v, d, buf);
  for (size_t i = 0; i < n; i++) p[i] = buf[i];
}

}  // namespace HWY_NAMESPACE
}  // namespace cpu_llm
HWY_AFTER_NAMESPACE();

#endif  // per-target include guard
