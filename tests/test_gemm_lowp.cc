// The linear layers' products in mixed precision (Context::precision bf16 and
// fp16) on every SIMD target: the tiled GEMM rounds its operands as it packs
// them, so its result must be bit-identical to the fp32 product of operands
// rounded beforehand (the same sums in the same order), and within the
// format's error bound of the unrounded fp32 product.
#include <fmt/format.h>
#include <gtest/gtest.h>

#include <cmath>
#include <vector>

#include "core/context.h"
#include "core/rng.h"
#include "kernels/matmul.h"
#include "kernels/reference/convert_ref.h"
#include "kernels/reference/reference.h"
#include "test_util.h"

namespace cpu_llm {
namespace {

using test::ExpectBitEqual;
using test::ForEachSimdTarget;
using V = std::vector<float>;

float RoundTo(Precision p, float x) {
  return p == Precision::kBf16 ? ref::bf16_to_f32(ref::f32_to_bf16(x)) : ref::f16_to_f32(ref::f32_to_f16(x));
}

V Rounded(Precision p, const V& x) {
  V r(x.size());
  for (size_t i = 0; i < x.size(); i++) r[i] = RoundTo(p, x[i]);
  return r;
}

// Unit roundoff of each format's round to nearest: 2^-p for p significant
// bits (bf16 8, fp16 11).
double UnitRoundoff(Precision p) { return p == Precision::kBf16 ? 0x1p-8 : 0x1p-11; }

struct Shape {
  int N, C, OC;
};
// Off-tile edges, several K slices, and N < 6 (the unpacked dot-product path).
const Shape kShapes[] = {{7, 13, 5}, {37, 300, 70}, {150, 45, 290}, {2, 300, 37}, {1, 64, 9}};

TEST(GemmLowp, EqualsTheFp32ProductOfRoundedOperandsBitForBit) {
  ForEachSimdTarget([] {
    Rng rng(17);
    for (Precision p : {Precision::kBf16, Precision::kFp16}) {
      for (Shape s : kShapes) {
        const int N = s.N, C = s.C, OC = s.OC;
        SCOPED_TRACE(fmt::format("{} N={} C={} OC={}", PrecisionName(p), N, C, OC));
        const V inp = test::RandomVec(rng, N * C), w = test::RandomVec(rng, OC * C), b = test::RandomVec(rng, OC);
        const V dout = test::RandomVec(rng, N * OC), dw0 = test::RandomVec(rng, OC * C);
        const V inp_r = Rounded(p, inp), w_r = Rounded(p, w), dout_r = Rounded(p, dout);
        for (int threads : {1, 2}) {
          const Context fp32{threads, nullptr, MatmulBackend::kTiled, Precision::kFp32};
          const Context lowp{threads, nullptr, MatmulBackend::kTiled, p};
          V want(N * OC), got(N * OC);
          matmul_forward(fp32, want.data(), inp_r.data(), w_r.data(), b.data(), N, C, OC);
          matmul_forward(lowp, got.data(), inp.data(), w.data(), b.data(), N, C, OC);
          ExpectBitEqual(got, want, "out");
          V want_dinp(N * C), got_dinp(N * C), want_dw = dw0, got_dw = dw0;
          matmul_backward(fp32, want_dinp.data(), want_dw.data(), nullptr, dout_r.data(), inp_r.data(), w_r.data(),
                          N, C, OC);
          matmul_backward(lowp, got_dinp.data(), got_dw.data(), nullptr, dout.data(), inp.data(), w.data(), N, C,
                          OC);
          ExpectBitEqual(got_dinp, want_dinp, "dinp");
          ExpectBitEqual(got_dw, want_dw, "dweight");
        }
      }
    }
  });
}

// Stochastic rounding of the weights (Context::sr_weights): the weight is
// rounded with the reference's noise for (seed, its offset in the arena), the
// same in the forward and in dinp's product, the other operands to nearest.
// The weight sits 100 floats into its arena, so offsets are not indices.
TEST(GemmLowp, StochasticWeightsEqualTheProductOfReferenceRoundedOperands) {
  ForEachSimdTarget([] {
    Rng rng(29);
    for (Shape s : kShapes) {
      const int N = s.N, C = s.C, OC = s.OC;
      SCOPED_TRACE(fmt::format("N={} C={} OC={}", N, C, OC));
      const int64_t kAt = 100;
      const V arena = test::RandomVec(rng, kAt + OC * C + 7), inp = test::RandomVec(rng, N * C);
      const V b = test::RandomVec(rng, OC), dout = test::RandomVec(rng, N * OC);
      const float* w = arena.data() + kAt;
      const uint64_t seed = 0xABCDEF0123ull;
      V w_r(OC * C);
      for (int i = 0; i < OC * C; i++) w_r[i] = ref::bf16_to_f32(ref::f32_to_bf16_stochastic(w[i], seed, kAt + i));
      const V inp_r = Rounded(Precision::kBf16, inp), dout_r = Rounded(Precision::kBf16, dout);
      for (int threads : {1, 2}) {
        const Context fp32{threads};
        Context sr{threads, nullptr, MatmulBackend::kTiled, Precision::kBf16};
        sr.sr_weights = arena.data();
        sr.sr_weights_n = static_cast<int64_t>(arena.size());
        sr.sr_seed = seed;
        V want(N * OC), got(N * OC), want_dinp(N * C), got_dinp(N * C), dw(OC * C);
        matmul_forward(fp32, want.data(), inp_r.data(), w_r.data(), b.data(), N, C, OC);
        matmul_forward(sr, got.data(), inp.data(), w, b.data(), N, C, OC);
        ExpectBitEqual(got, want, "out");
        matmul_backward(fp32, want_dinp.data(), dw.data(), nullptr, dout_r.data(), inp_r.data(), w_r.data(), N, C, OC);
        matmul_backward(sr, got_dinp.data(), dw.data(), nullptr, dout.data(), inp.data(), w, N, C, OC);
        ExpectBitEqual(got_dinp, want_dinp, "dinp");
        // Another seed draws other roundings.
        sr.sr_seed = seed + 1;
        V other(N * OC);
        matmul_forward(sr, other.data(), inp.data(), w, b.data(), N, C, OC);
        EXPECT_NE(other, got);
      }
    }
  });
}

// Against the exact product: rounding each operand to nearest moves it by at
// most u relative (u the unit roundoff; fp16 values here stay normal), so each
// term a_k b_k by at most (2u + u^2)|a_k b_k|, and the fp32 sum of K terms adds
// at most K * 2^-24 of sum |a_k b_k| (a loose bound on its rounding). The
// result must also differ from the fp32 product somewhere: the operands really
// were rounded.
TEST(GemmLowp, WithinTheFormatsErrorBoundOfTheFp32Product) {
  Rng rng(23);
  const int N = 64, C = 128, OC = 96;
  const V inp = test::RandomVec(rng, N * C), w = test::RandomVec(rng, OC * C);
  for (Precision p : {Precision::kBf16, Precision::kFp16}) {
    SCOPED_TRACE(PrecisionName(p));
    const double u = UnitRoundoff(p);
    const Context lowp{2, nullptr, MatmulBackend::kTiled, p};
    V got(N * OC);
    matmul_forward(lowp, got.data(), inp.data(), w.data(), nullptr, N, C, OC);
    double max_rel_to_bound = 0.0;
    int differ = 0;
    for (int n = 0; n < N; n++)
      for (int o = 0; o < OC; o++) {
        double exact = 0.0, magnitude = 0.0;
        for (int c = 0; c < C; c++) {
          const double t = (double)inp[n * C + c] * w[o * C + c];
          exact += t;
          magnitude += std::fabs(t);
        }
        const double bound = (2 * u + u * u + C * 0x1p-24) * magnitude;
        const double err = std::fabs(got[n * OC + o] - exact);
        ASSERT_LE(err, bound) << "n=" << n << " o=" << o;
        max_rel_to_bound = std::max(max_rel_to_bound, err / bound);
        if (std::fabs(got[n * OC + o] - (float)exact) > C * 0x1p-24 * magnitude) differ++;
      }
    EXPECT_GT(differ, N * OC / 2) << "most outputs should show the operands' rounding";
    EXPECT_GT(max_rel_to_bound, 0.01);
  }
}

}  // namespace
}  // namespace cpu_llm
