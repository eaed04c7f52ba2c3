// fp32 <-> bf16 / fp16 in Highway ops, compiled once per SIMD target
// (hwy/foreach_target.h) and dispatched at run time. Highway 1.0's own
// DemoteTo to bf16 truncates, so the rounding to nearest even is done here
// on the float's bits, exactly as the scalar reference does it.
#undef HWY_TARGET_INCLUDE
#define HWY_TARGET_INCLUDE "kernels/convert.cc"
#include "hwy/foreach_target.h"  // IWYU pragma: keep

#include <cstdint>

#include "hwy/highway.h"
#include "kernels/convert.h"
#include "kernels/parallel.h"
#include "kernels/reference/convert_ref.h"

HWY_BEFORE_NAMESPACE();
namespace cpu_llm {
namespace HWY_NAMESPACE {
namespace hn = hwy::HWY_NAMESPACE;

// The bf16 of a float's bits: the top half of bits + addend (addend <= 0xFFFF:
// 0x7FFF plus the kept part's lowest bit rounds to nearest even, random bits
// round stochastically). Infinities come through either addend unchanged;
// NaNs are quieted instead, as the addend could carry their payload into the
// exponent and make them infinite.
template <class DF, class VU = hn::Vec<hn::RebindToUnsigned<DF>>>
HWY_INLINE hn::Vec<hn::Rebind<uint16_t, DF>> RoundToBf16(DF df, VU bits, VU addend) {
  const hn::RebindToUnsigned<DF> du;
  const hn::RebindToSigned<DF> di;
  // |x| above infinity's bits is NaN; as int32 the magnitude is >= 0, so a
  // signed compare is exact.
  const auto magnitude = hn::BitCast(di, hn::And(bits, hn::Set(du, 0x7FFFFFFFu)));
  const auto is_nan = hn::RebindMask(du, hn::Gt(magnitude, hn::Set(di, 0x7F800000)));
  const auto quiet_nan = hn::Or(bits, hn::Set(du, 0x00400000u));
  const auto top = hn::ShiftRight<16>(hn::IfThenElse(is_nan, quiet_nan, hn::Add(bits, addend)));
  // top <= 0xFFFF, so the saturating narrowing is exact.
  return hn::DemoteTo(hn::Rebind<uint16_t, DF>(), hn::BitCast(di, top));
}

void F32ToBf16Span(uint16_t* HWY_RESTRICT dst, const float* HWY_RESTRICT src, int64_t n) {
  const hn::ScalableTag<float> df;
  const hn::RebindToUnsigned<decltype(df)> du;
  const hn::Rebind<uint16_t, decltype(df)> du16;
  const int64_t L = hn::Lanes(df);
  int64_t i = 0;
  for (; i + L <= n; i += L) {
    const auto bits = hn::BitCast(du, hn::LoadU(df, src + i));
    const auto lsb = hn::And(hn::ShiftRight<16>(bits), hn::Set(du, 1u));
    hn::StoreU(RoundToBf16(df, bits, hn::Add(hn::Set(du, 0x7FFFu), lsb)), du16, dst + i);
  }
  for (; i < n; i++) dst[i] = ref::f32_to_bf16(src[i]);
}

void F32ToBf16StochasticSpan(uint16_t* HWY_RESTRICT dst, const float* HWY_RESTRICT src, int64_t n, uint64_t seed,
                             uint64_t first_index) {
  const hn::ScalableTag<float> df;
  const hn::RebindToUnsigned<decltype(df)> du;
  const hn::Rebind<uint16_t, decltype(df)> du16;
  const int64_t L = hn::Lanes(df);
  const auto seed_mix = hn::Set(du, static_cast<uint32_t>(seed ^ (seed >> 32)));
  // The Weyl step of ref::RoundingNoise, index * golden + seed, advanced by
  // L * golden per vector (all mod 2^32).
  auto weyl = hn::Add(hn::Mul(hn::Iota(du, static_cast<uint32_t>(first_index)), hn::Set(du, 0x9E3779B1u)), seed_mix);
  const auto weyl_step = hn::Set(du, static_cast<uint32_t>(L) * 0x9E3779B1u);
  int64_t i = 0;
  for (; i + L <= n; i += L, weyl = hn::Add(weyl, weyl_step)) {
    // ref::RoundingNoise on every lane.
    auto x = weyl;
    x = hn::Xor(x, hn::ShiftRight<16>(x));
    x = hn::Mul(x, hn::Set(du, 0x85EBCA6Bu));
    x = hn::Xor(x, hn::ShiftRight<13>(x));
    x = hn::Mul(x, hn::Set(du, 0xC2B2AE35u));
    x = hn::Xor(x, hn::ShiftRight<16>(x));
    const auto noise = hn::And(x, hn::Set(du, 0xFFFFu));
    hn::StoreU(RoundToBf16(df, hn::BitCast(du, hn::LoadU(df, src + i)), noise), du16, dst + i);
  }
  for (; i < n; i++) dst[i] = ref::f32_to_bf16_stochastic(src[i], seed, first_index + i);
}

void Bf16ToF32Span(float* HWY_RESTRICT dst, const uint16_t* HWY_RESTRICT src, int64_t n) {
  const hn::ScalableTag<float> df;
  const hn::RebindToUnsigned<decltype(df)> du;
  const hn::Rebind<uint16_t, decltype(df)> du16;
  const int64_t L = hn::Lanes(df);
  int64_t i = 0;
  for (; i + L <= n; i += L) {
    const auto wide = hn::PromoteTo(du, hn::LoadU(du16, src + i));
    hn::StoreU(hn::BitCast(df, hn::ShiftLeft<16>(wide)), df, dst + i);
  }
  for (; i < n; i++) dst[i] = ref::bf16_to_f32(src[i]);
}

// F16C (AVX2 and AVX-512 targets) rounds to nearest even and quiets NaNs the
// way the reference does; older targets take the reference itself.
#if HWY_ARCH_X86 && HWY_TARGET <= HWY_AVX2 && !defined(HWY_DISABLE_F16C)
void F32ToF16Span(uint16_t* HWY_RESTRICT dst, const float* HWY_RESTRICT src, int64_t n) {
  const hn::ScalableTag<float> df;
  const hn::Rebind<hwy::float16_t, decltype(df)> dh;
  const int64_t L = hn::Lanes(df);
  int64_t i = 0;
  for (; i + L <= n; i += L)
    hn::StoreU(hn::DemoteTo(dh, hn::LoadU(df, src + i)), dh, reinterpret_cast<hwy::float16_t*>(dst + i));
  for (; i < n; i++) dst[i] = ref::f32_to_f16(src[i]);
}

void F16ToF32Span(float* HWY_RESTRICT dst, const uint16_t* HWY_RESTRICT src, int64_t n) {
  const hn::ScalableTag<float> df;
  const hn::Rebind<hwy::float16_t, decltype(df)> dh;
  const int64_t L = hn::Lanes(df);
  int64_t i = 0;
  for (; i + L <= n; i += L)
    hn::StoreU(hn::PromoteTo(df, hn::LoadU(dh, reinterpret_cast<const hwy::float16_t*>(src + i))), df, dst + i);
  for (; i < n; i++) dst[i] = ref::f16_to_f32(src[i]);
}
#else
void F32ToF16Span(uint16_t* HWY_RESTRICT dst, const float* HWY_RESTRICT src, int64_t n) {
  for (int64_t i = 0; i < n; i++) dst[i] = ref::f32_to_f16(src[i]);
}
void F16ToF32Span(float* HWY_RESTRICT dst, const uint16_t* HWY_RESTRICT src, int64_t n) {
  for (int64_t i = 0; i < n; i++) dst[i] = ref::f16_to_f32(src[i]);
}
#endif

}  // namespace HWY_NAMESPACE
}  // namespace cpu_llm
HWY_AFTER_NAMESPACE();

#if HWY_ONCE
namespace cpu_llm {

HWY_EXPORT(F32ToBf16Span);
HWY_EXPORT(F32ToBf16StochasticSpan);
HWY_EXPORT(Bf16ToF32Span);
HWY_EXPORT(F32ToF16Span);
HWY_EXPORT(F16ToF32Span);

void f32_to_bf16(const Context& ctx, uint16_t* dst, const float* src, int64_t n) {
  ParallelForBlocks(ctx, n, [&](int64_t i, int64_t m) { HWY_DYNAMIC_DISPATCH(F32ToBf16Span)(dst + i, src + i, m); });
}

void f32_to_bf16_stochastic(const Context& ctx, uint16_t* dst, const float* src, int64_t n, uint64_t seed,
                            uint64_t first_index) {
  ParallelForBlocks(ctx, n, [&](int64_t i, int64_t m) {
    HWY_DYNAMIC_DISPATCH(F32ToBf16StochasticSpan)(dst + i, src + i, m, seed, first_index + i);
  });
}

void bf16_to_f32(const Context& ctx, float* dst, const uint16_t* src, int64_t n) {
  ParallelForBlocks(ctx, n, [&](int64_t i, int64_t m) { HWY_DYNAMIC_DISPATCH(Bf16ToF32Span)(dst + i, src + i, m); });
}

void f32_to_f16(const Context& ctx, uint16_t* dst, const float* src, int64_t n) {
  ParallelForBlocks(ctx, n, [&](int64_t i, int64_t m) { HWY_DYNAMIC_DISPATCH(F32ToF16Span)(dst + i, src + i, m); });
}

void f16_to_f32(const Context& ctx, float* dst, const uint16_t* src, int64_t n) {
  ParallelForBlocks(ctx, n, [&](int64_t i, int64_t m) { HWY_DYNAMIC_DISPATCH(F16ToF32Span)(dst + i, src + i, m); });
}

}  // namespace cpu_llm
#endif  // HWY_ONCE
