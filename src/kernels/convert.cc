// fp32 <-> bf16 / fp16 in Highway ops, compiled once per SIMD target
// (hwy/foreach_target.h) and dispatched at run time. Highway 1.0's own
// DemoteTo to bf16 truncates, so the rounding to nearest even is done here
// on the float's bits, exactly as the scalar reference does it.
#undef HWY_TARGET_INCLUDE
#define HWY_TARGET_INCLUDE "kernels/convert.cc"
#include "hwy/foreach_target.h"  // IWYU pragma: keep

#include <cstdint>

#include "hwy/highway.h"
#include "kernels/convert-inl.h"
#include "kernels/convert.h"
#include "kernels/parallel.h"
#include "kernels/reference/convert_ref.h"

HWY_BEFORE_NAMESPACE();
namespace cpu_llm {
namespace HWY_NAMESPACE {
namespace hn = hwy::HWY_NAMESPACE;

// The bf16 bit patterns of Bf16RoundedBits' results.
template <class DF, class VU = hn::Vec<hn::RebindToUnsigned<DF>>>
HWY_INLINE hn::Vec<hn::Rebind<uint16_t, DF>> RoundToBf16(DF df, VU bits, VU addend) {
  const hn::RebindToSigned<DF> di;
  // The top half is <= 0xFFFF, so the saturating narrowing is exact.
  const auto top = hn::ShiftRight<16>(Bf16RoundedBits(df, bits, addend));
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
    hn::StoreU(RoundToBf16(df, bits, NearestEvenAddend(df, bits)), du16, dst + i);
  }
  for (; i < n; i++) dst[i] = ref::f32_to_bf16(src[i]);
}

void F32ToBf16StochasticSpan(uint16_t* HWY_RESTRICT dst, const float* HWY_RESTRICT src, int64_t n, uint64_t seed,
                             uint64_t first_index) {
  const hn::ScalableTag<float> df;
  const hn::RebindToUnsigned<decltype(df)> du;
  const hn::Rebind<uint16_t, decltype(df)> du16;
  const int64_t L = hn::Lanes(df);
  const auto seed_mix = hn::Set(du, ref::FoldSeed(seed));
  // The Weyl step of ref::RoundingNoise, index * golden + seed, advanced by
  // L * golden per vector (all mod 2^32).
  auto weyl = hn::Add(hn::Mul(hn::Iota(du, static_cast<uint32_t>(first_index)), hn::Set(du, 0x9E3779B1u)), seed_mix);
  const auto weyl_step = hn::Set(du, static_cast<uint32_t>(L) * 0x9E3779B1u);
  int64_t i = 0;
  for (; i + L <= n; i += L, weyl = hn::Add(weyl, weyl_step)) {
    hn::StoreU(RoundToBf16(df, hn::BitCast(du, hn::LoadU(df, src + i)), RoundingNoise(weyl)), du16, dst + i);
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

// F16C where the target has it (see convert-inl.h), the reference elsewhere.
#if CPU_LLM_HAVE_F16C_TARGET
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

void StoreRoundedSpan(Precision precision, uint16_t* HWY_RESTRICT dst, float* HWY_RESTRICT x, int64_t n) {
  const hn::ScalableTag<float> df;
  const hn::RebindToUnsigned<decltype(df)> du;
  const hn::Rebind<uint16_t, decltype(df)> du16;
  const int64_t L = hn::Lanes(df);
  int64_t i = 0;
  if (precision == Precision::kBf16) {
    for (; i + L <= n; i += L) {
      const auto bits = hn::BitCast(du, hn::LoadU(df, x + i));
      const auto half = RoundToBf16(df, bits, NearestEvenAddend(df, bits));
      hn::StoreU(half, du16, dst + i);
      hn::StoreU(hn::BitCast(df, hn::ShiftLeft<16>(hn::PromoteTo(du, half))), df, x + i);
    }
    for (; i < n; i++) x[i] = ref::bf16_to_f32(dst[i] = ref::f32_to_bf16(x[i]));
    return;
  }
#if CPU_LLM_HAVE_F16C_TARGET
  const hn::Rebind<hwy::float16_t, decltype(df)> dh;
  for (; i + L <= n; i += L) {
    const auto half = hn::DemoteTo(dh, hn::LoadU(df, x + i));
    hn::StoreU(half, dh, reinterpret_cast<hwy::float16_t*>(dst + i));
    hn::StoreU(hn::PromoteTo(df, half), df, x + i);
  }
#endif
  for (; i < n; i++) x[i] = ref::f16_to_f32(dst[i] = ref::f32_to_f16(x[i]));
}

void RoundSpan(Precision precision, float* HWY_RESTRICT x, int64_t n) { RoundSpanInPlace(precision, x, n); }

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
HWY_EXPORT(StoreRoundedSpan);
HWY_EXPORT(RoundSpan);

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

void store_rounded(const Context& ctx, Precision precision, uint16_t* dst, float* x, int64_t n) {
  ParallelForBlocks(ctx, n, [&](int64_t i, int64_t m) {
    HWY_DYNAMIC_DISPATCH(StoreRoundedSpan)(precision, dst + i, x + i, m);
  });
}

void widen_to_f32(const Context& ctx, Precision precision, float* dst, const uint16_t* src, int64_t n) {
  if (precision == Precision::kFp16) return f16_to_f32(ctx, dst, src, n);
  bf16_to_f32(ctx, dst, src, n);
}

void round_to_precision(const Context& ctx, Precision precision, float* x, int64_t n) {
  if (precision == Precision::kFp32) return;
  ParallelForBlocks(ctx, n, [&](int64_t i, int64_t m) { HWY_DYNAMIC_DISPATCH(RoundSpan)(precision, x + i, m); });
}

}  // namespace cpu_llm
#endif  // HWY_ONCE
