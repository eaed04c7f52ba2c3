// The 16-bit float conversions: the scalar references against values worked
// out by hand and against exhaustive round trips, and the dispatched kernels
// against the references bit for bit on every SIMD target.
#include <gtest/gtest.h>

#include <cmath>
#include <limits>
#include <vector>

#include "core/rng.h"
#include "kernels/convert.h"
#include "kernels/reference/convert_ref.h"
#include "test_util.h"

namespace cpu_llm {
namespace {

using ref::BitsFloat;
using ref::FloatBits;

TEST(ConvertRef, Bf16RoundsToNearestEven) {
  EXPECT_EQ(ref::f32_to_bf16(1.0f), 0x3F80);
  EXPECT_EQ(ref::f32_to_bf16(-2.0f), 0xC000);
  EXPECT_EQ(ref::f32_to_bf16(BitsFloat(0x3F808000u)), 0x3F80);  // tie, even below
  EXPECT_EQ(ref::f32_to_bf16(BitsFloat(0x3F818000u)), 0x3F82);  // tie, even above
  EXPECT_EQ(ref::f32_to_bf16(BitsFloat(0x3F808001u)), 0x3F81);  // just past the tie
  EXPECT_EQ(ref::f32_to_bf16(BitsFloat(0x3F807FFFu)), 0x3F80);
  EXPECT_EQ(ref::f32_to_bf16(std::numeric_limits<float>::infinity()), 0x7F80);
  EXPECT_EQ(ref::f32_to_bf16(std::numeric_limits<float>::max()), 0x7F80);  // rounds past the largest bf16
  EXPECT_EQ(ref::f32_to_bf16(BitsFloat(0x7F800001u)), 0x7FC0);             // signalling NaN comes out quiet
  EXPECT_EQ(ref::f32_to_bf16(BitsFloat(0xFFC12345u)), 0xFFC1);
  EXPECT_EQ(ref::f32_to_bf16(BitsFloat(0x00000001u)), 0x0000);  // smallest subnormal rounds to zero
}

TEST(ConvertRef, F16RoundsToNearestEvenWithSubnormalsAndOverflow) {
  EXPECT_EQ(ref::f32_to_f16(1.0f), 0x3C00);
  EXPECT_EQ(ref::f32_to_f16(-2.5f), 0xC100);
  EXPECT_EQ(ref::f32_to_f16(65504.0f), 0x7BFF);   // the largest fp16
  EXPECT_EQ(ref::f32_to_f16(65519.0f), 0x7BFF);   // below the halfway point
  EXPECT_EQ(ref::f32_to_f16(65520.0f), 0x7C00);   // halfway: ties to even, which is infinity
  EXPECT_EQ(ref::f32_to_f16(1e9f), 0x7C00);
  EXPECT_EQ(ref::f32_to_f16(std::ldexp(1.0f, -14)), 0x0400);  // smallest normal
  EXPECT_EQ(ref::f32_to_f16(std::ldexp(1.0f, -24)), 0x0001);  // smallest subnormal
  EXPECT_EQ(ref::f32_to_f16(std::ldexp(1.0f, -25)), 0x0000);  // half of it: tie to even zero
  EXPECT_EQ(ref::f32_to_f16(std::ldexp(3.0f, -25)), 0x0002);  // 1.5 ulps: tie to even 2
  EXPECT_EQ(ref::f32_to_f16(std::ldexp(1023.5f, -24)), 0x0400);  // the largest subnormal rounds up to normal
  EXPECT_EQ(ref::f32_to_f16(1.0f + std::ldexp(1.0f, -11)), 0x3C00);      // tie, even below
  EXPECT_EQ(ref::f32_to_f16(1.0f + 3 * std::ldexp(1.0f, -11)), 0x3C02);  // tie, even above
  EXPECT_EQ(ref::f32_to_f16(-0.0f), 0x8000);
  EXPECT_EQ(ref::f32_to_f16(BitsFloat(0x7F800001u)), 0x7E00);  // NaN comes out quiet
  EXPECT_EQ(ref::f32_to_f16(-std::numeric_limits<float>::infinity()), 0xFC00);
}

// Every 16-bit pattern widens exactly and narrows back to itself (NaNs to a
// NaN), in both formats.
TEST(ConvertRef, EveryPatternRoundTrips) {
  for (uint32_t h = 0; h <= 0xFFFF; h++) {
    const uint16_t p = static_cast<uint16_t>(h);
    const float b = ref::bf16_to_f32(p), f = ref::f16_to_f32(p);
    if (std::isnan(b)) EXPECT_TRUE(std::isnan(ref::bf16_to_f32(ref::f32_to_bf16(b)))) << h;
    else ASSERT_EQ(ref::f32_to_bf16(b), p) << h;
    if (std::isnan(f)) EXPECT_TRUE(std::isnan(ref::f16_to_f32(ref::f32_to_f16(f)))) << h;
    else ASSERT_EQ(ref::f32_to_f16(f), p) << h;
  }
  EXPECT_EQ(ref::f16_to_f32(0x3555), 0.333251953125f);
  EXPECT_EQ(ref::f16_to_f32(0x0001), std::ldexp(1.0f, -24));
}

// Nearest rounding is within half an ulp: |x - bf16(x)| <= 2^-8 |x| for
// normal x (8 significant bits: the unit roundoff 2^-p), 2^-11 for fp16's 11.
TEST(ConvertRef, ErrorIsWithinHalfAnUlp) {
  Rng rng(3);
  for (int i = 0; i < 100000; i++) {
    const float x = (rng.Uniform() - 0.5f) * std::ldexp(1.0f, static_cast<int>(rng.NextU64() % 30) - 15);
    if (x == 0.0f) continue;
    EXPECT_LE(std::fabs(ref::bf16_to_f32(ref::f32_to_bf16(x)) - x), std::ldexp(std::fabs(x), -8)) << x;
    if (std::fabs(x) >= std::ldexp(1.0f, -14) && std::fabs(x) < 65504.0f) {
      EXPECT_LE(std::fabs(ref::f16_to_f32(ref::f32_to_f16(x)) - x), std::ldexp(std::fabs(x), -11)) << x;
    }
  }
}

// Stochastic rounding is unbiased: the mean of many roundings of a value that
// nearest rounding always sends down converges on the value itself.
TEST(ConvertRef, StochasticRoundingIsUnbiased) {
  const float x = BitsFloat(0x3F804000u);  // 1 + a quarter of a bf16 ulp
  ASSERT_EQ(ref::f32_to_bf16(x), 0x3F80);
  double sum = 0.0;
  int up = 0;
  const int n = 200000;
  for (int i = 0; i < n; i++) {
    const uint16_t h = ref::f32_to_bf16_stochastic(x, 42, i);
    ASSERT_TRUE(h == 0x3F80 || h == 0x3F81) << h;
    up += h == 0x3F81;
    sum += ref::bf16_to_f32(h);
  }
  // Four standard deviations of a binomial(n, 1/4) fraction: 4 * 0.00097.
  EXPECT_NEAR(static_cast<double>(up) / n, 0.25, 0.004);
  EXPECT_NEAR(sum / n, x, 0.004 * 0.0078125);  // the same, in units of a bf16 ulp at 1
  EXPECT_EQ(ref::f32_to_bf16_stochastic(1.0f, 42, 7), 0x3F80);  // exact values stay exact
  EXPECT_EQ(ref::f32_to_bf16_stochastic(std::numeric_limits<float>::infinity(), 42, 7), 0x7F80);
}

// Random values across the range plus every special case, at a length that
// leaves a partial vector at the end.
std::vector<float> Inputs() {
  Rng rng(9);
  std::vector<float> v;
  for (int i = 0; i < 40000 + 13; i++) {
    const uint32_t bits = static_cast<uint32_t>(rng.NextU64());
    v.push_back(i % 2 ? BitsFloat(bits) : (rng.Uniform() - 0.5f) * 1e5f);  // raw bits: NaNs, subnormals, huge
  }
  for (uint32_t b : {0x00000000u, 0x80000000u, 0x7F800000u, 0xFF800000u, 0x7F800001u, 0x7FC00000u, 0x3F808000u,
                     0x3F818000u, 0x477FF000u, 0x477FEFFFu, 0x33000000u, 0x38800000u, 0x387FFFFFu, 0x7F7FFFFFu})
    v.push_back(BitsFloat(b));
  return v;
}

TEST(Convert, EveryTargetMatchesTheReferenceBitForBit) {
  const std::vector<float> x = Inputs();
  const int64_t n = static_cast<int64_t>(x.size());
  std::vector<uint16_t> bf16_ref(n), f16_ref(n), sr_ref(n);
  for (int64_t i = 0; i < n; i++) {
    bf16_ref[i] = ref::f32_to_bf16(x[i]);
    f16_ref[i] = ref::f32_to_f16(x[i]);
    sr_ref[i] = ref::f32_to_bf16_stochastic(x[i], 5, 1000 + i);
  }
  const std::vector<std::string> ran = test::ForEachSimdTarget([&] {
    for (const Context& ctx : test::kContexts) {
      std::vector<uint16_t> h(n);
      std::vector<float> back(n);
      f32_to_bf16(ctx, h.data(), x.data(), n);
      ASSERT_EQ(h, bf16_ref);
      bf16_to_f32(ctx, back.data(), h.data(), n);
      for (int64_t i = 0; i < n; i++) ASSERT_EQ(FloatBits(back[i]), FloatBits(ref::bf16_to_f32(h[i]))) << i;
      f32_to_f16(ctx, h.data(), x.data(), n);
      for (int64_t i = 0; i < n; i++) ASSERT_EQ(h[i], f16_ref[i]) << i << " x bits " << std::hex << FloatBits(x[i]);
      f16_to_f32(ctx, back.data(), h.data(), n);
      for (int64_t i = 0; i < n; i++) ASSERT_EQ(FloatBits(back[i]), FloatBits(ref::f16_to_f32(h[i]))) << i;
      f32_to_bf16_stochastic(ctx, h.data(), x.data(), n, 5, 1000);
      ASSERT_EQ(h, sr_ref);
    }
  });
  EXPECT_GE(ran.size(), 2u);
}

// Mixed precision's storage of activations: the 16-bit copy is the
// conversion's, the fp32 values left behind are that copy widened, and
// rounding in place gives the same values.
TEST(Convert, StoreRoundedAndRoundInPlaceMatchTheReference) {
  const std::vector<float> x = Inputs();
  const int64_t n = static_cast<int64_t>(x.size());
  test::ForEachSimdTarget([&] {
    for (const Context& ctx : test::kContexts) {
      for (Precision p : {Precision::kBf16, Precision::kFp16}) {
        SCOPED_TRACE(PrecisionName(p));
        auto to16 = [&](float f) { return p == Precision::kBf16 ? ref::f32_to_bf16(f) : ref::f32_to_f16(f); };
        auto to32 = [&](uint16_t h) { return p == Precision::kBf16 ? ref::bf16_to_f32(h) : ref::f16_to_f32(h); };
        std::vector<uint16_t> h(n);
        std::vector<float> stored = x, rounded = x, widened(n);
        store_rounded(ctx, p, h.data(), stored.data(), n);
        round_to_precision(ctx, p, rounded.data(), n);
        widen_to_f32(ctx, p, widened.data(), h.data(), n);
        for (int64_t i = 0; i < n; i++) {
          ASSERT_EQ(h[i], to16(x[i])) << i;
          const uint32_t want = FloatBits(to32(to16(x[i])));
          ASSERT_EQ(FloatBits(stored[i]), want) << i;
          ASSERT_EQ(FloatBits(rounded[i]), want) << i;
          ASSERT_EQ(FloatBits(widened[i]), want) << i;
        }
      }
      std::vector<float> same = x;
      round_to_precision(ctx, Precision::kFp32, same.data(), n);
      for (int64_t i = 0; i < n; i++) ASSERT_EQ(FloatBits(same[i]), FloatBits(x[i]));
    }
  });
}

}  // namespace
}  // namespace cpu_llm
