// Per-target rounding of fp32 vectors to the 16-bit formats, shared by
// convert.cc (the conversions) and gemm.cc (which rounds the operands of a
// mixed-precision product as it packs them). Bit-exact with the scalar
// references in reference/convert_ref.h.
//
// No #pragma once: foreach_target.h flips HWY_TARGET_TOGGLE before each
// target, and this guard follows it, so the body is compiled once per target.
#if defined(CPU_LLM_KERNELS_CONVERT_INL_H_) == defined(HWY_TARGET_TOGGLE)
#ifdef CPU_LLM_KERNELS_CONVERT_INL_H_
#undef CPU_LLM_KERNELS_CONVERT_INL_H_
#else
#define CPU_LLM_KERNELS_CONVERT_INL_H_
#endif

#include <cstdint>

#include "core/context.h"
#include "hwy/highway.h"
#include "kernels/reference/convert_ref.h"

HWY_BEFORE_NAMESPACE();
namespace cpu_llm {
namespace HWY_NAMESPACE {
namespace hn = hwy::HWY_NAMESPACE;

// The float's bits + addend, with NaNs quieted instead (the addend could
// carry a NaN's payload into the exponent and make it infinite): the top 16
// bits of the result are the bf16. addend 0x7FFF plus the kept part's lowest
// bit rounds to nearest even; random bits below 0x10000 round stochastically.
// Infinities come through either addend unchanged.
template <class DF, class VU = hn::Vec<hn::RebindToUnsigned<DF>>>
HWY_INLINE VU Bf16RoundedBits(DF, VU bits, VU addend) {
  const hn::RebindToUnsigned<DF> du;
  const hn::RebindToSigned<DF> di;
  // |x| above infinity's bits is NaN; as int32 the magnitude is >= 0, so a
  // signed compare is exact.
  const auto magnitude = hn::BitCast(di, hn::And(bits, hn::Set(du, 0x7FFFFFFFu)));
  const auto is_nan = hn::RebindMask(du, hn::Gt(magnitude, hn::Set(di, 0x7F800000)));
  return hn::IfThenElse(is_nan, hn::Or(bits, hn::Set(du, 0x00400000u)), hn::Add(bits, addend));
}

// Addend that rounds to nearest even.
template <class DF, class VU = hn::Vec<hn::RebindToUnsigned<DF>>>
HWY_INLINE VU NearestEvenAddend(DF, VU bits) {
  const hn::RebindToUnsigned<DF> du;
  return hn::Add(hn::Set(du, 0x7FFFu), hn::And(hn::ShiftRight<16>(bits), hn::Set(du, 1u)));
}

// v rounded to the nearest bf16, still as fp32 (the low 16 bits cleared).
template <class DF, class V = hn::Vec<DF>>
HWY_INLINE V RoundToBf16Value(DF df, V v) {
  const hn::RebindToUnsigned<DF> du;
  const auto bits = hn::BitCast(du, v);
  const auto rounded = Bf16RoundedBits(df, bits, NearestEvenAddend(df, bits));
  return hn::BitCast(df, hn::And(rounded, hn::Set(du, 0xFFFF0000u)));
}

// ref::RoundingNoise on every lane: weyl holds index * 0x9E3779B1 + the
// folded seed (mod 2^32) per lane; MurmurHash3's finalizer mixes it.
template <class VU>
HWY_INLINE VU RoundingNoise(VU weyl) {
  const hn::DFromV<VU> du;
  auto x = weyl;
  x = hn::Xor(x, hn::ShiftRight<16>(x));
  x = hn::Mul(x, hn::Set(du, 0x85EBCA6Bu));
  x = hn::Xor(x, hn::ShiftRight<13>(x));
  x = hn::Mul(x, hn::Set(du, 0xC2B2AE35u));
  x = hn::Xor(x, hn::ShiftRight<16>(x));
  return hn::And(x, hn::Set(du, 0xFFFFu));
}

// F16C (AVX2 and AVX-512 targets) rounds to nearest even and quiets NaNs
// the way the reference does; older targets have no fp16 instructions.
#undef CPU_LLM_HAVE_F16C_TARGET
#if HWY_ARCH_X86 && HWY_TARGET <= HWY_AVX2 && !defined(HWY_DISABLE_F16C)
#define CPU_LLM_HAVE_F16C_TARGET 1
// v rounded to the nearest fp16, back in fp32 (a round trip through F16C).
template <class DF, class V = hn::Vec<DF>>
HWY_INLINE V RoundToF16Value(DF df, V v) {
  const hn::Rebind<hwy::float16_t, DF> dh;
  return hn::PromoteTo(df, hn::DemoteTo(dh, v));
}
#else
#define CPU_LLM_HAVE_F16C_TARGET 0
#endif

// x (n) rounded in place to `precision`'s 16-bit values (kFp32: unchanged).
inline void RoundSpanInPlace(Precision precision, float* HWY_RESTRICT x, int64_t n) {
  if (precision == Precision::kFp32) return;
  const hn::ScalableTag<float> df;
  const int64_t L = hn::Lanes(df);
  int64_t i = 0;
  if (precision == Precision::kBf16) {
    for (; i + L <= n; i += L) hn::StoreU(RoundToBf16Value(df, hn::LoadU(df, x + i)), df, x + i);
    for (; i < n; i++) x[i] = ref::bf16_to_f32(ref::f32_to_bf16(x[i]));
    return;
  }
#if CPU_LLM_HAVE_F16C_TARGET
  for (; i + L <= n; i += L) hn::StoreU(RoundToF16Value(df, hn::LoadU(df, x + i)), df, x + i);
#endif
  for (; i < n; i++) x[i] = ref::f16_to_f32(ref::f32_to_f16(x[i]));
}

// One vector rounded to `precision` (for products that skip packing).
template <class DF, class V = hn::Vec<DF>>
HWY_INLINE V RoundToPrecision(DF df, V v, Precision precision) {
  if (precision == Precision::kBf16) return RoundToBf16Value(df, v);
  if (precision == Precision::kFp16) {
#if CPU_LLM_HAVE_F16C_TARGET
    return RoundToF16Value(df, v);
#else
    HWY_ALIGN float lanes[hn::MaxLanes(df)];
    hn::Store(v, df, lanes);
    RoundSpanInPlace(precision, lanes, hn::Lanes(df));
    return hn::Load(df, lanes);
#endif
  }
  return v;
}

// The scalar counterpart, for loop tails.
inline float RoundToPrecision(float x, Precision precision) {
  if (precision == Precision::kBf16) return ref::bf16_to_f32(ref::f32_to_bf16(x));
  if (precision == Precision::kFp16) return ref::f16_to_f32(ref::f32_to_f16(x));
  return x;
}

}  // namespace HWY_NAMESPACE
}  // namespace cpu_llm
HWY_AFTER_NAMESPACE();

#endif  // include guard
