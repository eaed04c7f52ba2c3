// The oneDNN mixed-precision matmul (kernels/matmul_onednn_lowp.cc): bf16 and
// fp16 products against a reference that rounds the operands with the scalar
// conversions of reference/convert_ref.h and multiplies them in double, where
// this CPU's oneDNN has those products; where it has not, the startup check
// must say so and the kernels must leave NaN. The same checks run on the fp32
// operands through the primitive, so the layouts (strided transposes), the
// accumulation and the primitive cache are covered on every CPU.
#include <fmt/format.h>
#include <gtest/gtest.h>

#include <cmath>
#include <cstdio>
#include <string>
#include <vector>

#include "core/context.h"
#include "core/rng.h"
#include "kernels/matmul.h"
#include "kernels/reference/convert_ref.h"
#include "test_util.h"

namespace cpu_llm {
namespace {

using test::RandomVec;
using V = std::vector<float>;
using VD = std::vector<double>;

float Round(Precision p, float x) {
  switch (p) {
    case Precision::kBf16: return ref::bf16_to_f32(ref::f32_to_bf16(x));
    case Precision::kFp16: return ref::f16_to_f32(ref::f32_to_f16(x));
    case Precision::kFp32: break;
  }
  return x;
}

V Rounded(Precision p, const V& v) {
  V r(v.size());
  for (size_t i = 0; i < v.size(); i++) r[i] = Round(p, v[i]);
  return r;
}

// Expected values in double and, per element, S = the sum of the magnitudes
// of everything summed into it (|a_k b_k| over k, plus |bias| or the initial
// gradient).
struct Expected {
  VD value, mag;
};

// Tolerance. With rounded operands every product a_k b_k is exact in fp32
// (bf16: 8 x 8 significant bits, fp16: 11 x 11 <= 24; fp16's exponent range
// squared stays far inside fp32's), so only the fp32 additions round, each by
// at most u = 2^-24 of its partial sum, itself at most S. The worst case over
// any summation order is ~K u S; for random-signed terms the errors are a
// random walk and stay a few u S whatever the blocking: the worst element
// seen here was 5.7 u S (fp32 operands through gemm:jit, whose products round
// too, adding at most u S). 16 u S (8 ulps of S) keeps a margin of ~3 over
// that. A wrong or missing term is of order S / K, a hundred times more. The
// 16-bit rounding itself moves each product by ~2^-8 (bf16) or ~2^-11 (fp16)
// relative; the un-rounded product missed the rounded one by 176 to 5800 x
// 8 u S when the 16-bit path was emulated (operands rounded, widened back,
// the fp32 primitive), so it must miss this tolerance somewhere.
constexpr double kTolUlps = 16.0 / 16777216.0;

// Largest |got - want| / (kTolUlps * S) over the elements (NaN counts as
// infinitely far): <= 1 means all within tolerance.
double WorstRatio(const V& got, const Expected& want) {
  double worst = 0;
  for (size_t i = 0; i < got.size(); i++) {
    const double r = std::fabs(got[i] - want.value[i]) / (kTolUlps * want.mag[i] + 1e-30);
    worst = std::isnan(r) ? INFINITY : std::max(worst, r);
  }
  return worst;
}

struct References {
  Expected out, dinp, dweight, dbias;
};

// out = x w^T + b; dinp = g w; dweight = dw0 + g^T x; dbias = db0 + column sums of
// g. The product operands are rounded to p; dbias always sums the fp32 dout.
References Reference(Precision p, const V& inp, const V& w, const V& b, const V& dout, const V& dw0, const V& db0,
                     int N, int C, int OC) {
  const V x = Rounded(p, inp), wr = Rounded(p, w), g = Rounded(p, dout);
  References r;
  r.out = {VD(N * OC), VD(N * OC)};
  r.dinp = {VD(N * C), VD(N * C)};
  r.dweight = {VD(dw0.begin(), dw0.end()), VD(OC * C)};
  r.dbias = {VD(db0.begin(), db0.end()), VD(OC)};
  for (int o = 0; o < OC; o++) {
    r.dbias.mag[o] = std::fabs(db0[o]);
    for (int c = 0; c < C; c++) r.dweight.mag[o * C + c] = std::fabs(dw0[o * C + c]);
  }
  for (int n = 0; n < N; n++)
    for (int o = 0; o < OC; o++) {
      double s = b[o], m = std::fabs(b[o]);
      for (int c = 0; c < C; c++) {
        const double t = (double)x[n * C + c] * wr[o * C + c];
        s += t, m += std::fabs(t);
        r.dinp.value[n * C + c] += (double)g[n * OC + o] * wr[o * C + c];
        r.dinp.mag[n * C + c] += std::fabs((double)g[n * OC + o] * wr[o * C + c]);
        r.dweight.value[o * C + c] += (double)g[n * OC + o] * x[n * C + c];
        r.dweight.mag[o * C + c] += std::fabs((double)g[n * OC + o] * x[n * C + c]);
      }
      r.out.value[n * OC + o] = s, r.out.mag[n * OC + o] = m;
      r.dbias.value[o] += dout[n * OC + o];
      r.dbias.mag[o] += std::fabs(dout[n * OC + o]);
    }
  return r;
}

struct Shape {
  int N, C, OC;
};
const Shape kShapes[] = {{37, 29, 53}, {64, 128, 384}};

// The products of ctx (its precision, 1 or 2 threads), through the dispatcher
// (matmul_forward/backward with kOneDnn) or, for fp32, the lowp functions
// directly; each shape twice with new data, so the second pass runs on cached
// primitives pointed at other buffers.
void CheckProducts(Precision p) {
  Rng rng(31);
  for (const Shape& s : kShapes)
    for (int threads : {1, 2})
      for (int pass = 0; pass < 2; pass++) {
        const int N = s.N, C = s.C, OC = s.OC;
        SCOPED_TRACE(fmt::format("{} N={} C={} OC={} threads={} pass={}", PrecisionName(p), N, C, OC, threads, pass));
        const V inp = RandomVec(rng, N * C), w = RandomVec(rng, OC * C), b = RandomVec(rng, OC);
        const V dout = RandomVec(rng, N * OC), dw0 = RandomVec(rng, OC * C), db0 = RandomVec(rng, OC);
        const Context ctx{threads, nullptr, MatmulBackend::kOneDnn, p};
        V out(N * OC, NAN), dinp(N * C, NAN), dw = dw0, db = db0;
        if (p == Precision::kFp32) {
          matmul_forward_onednn_lowp(ctx, out.data(), inp.data(), w.data(), b.data(), N, C, OC);
          matmul_backward_onednn_lowp(ctx, dinp.data(), dw.data(), db.data(), dout.data(), inp.data(), w.data(), N, C,
                                      OC);
        } else {
          matmul_forward(ctx, out.data(), inp.data(), w.data(), b.data(), N, C, OC);
          matmul_backward(ctx, dinp.data(), dw.data(), db.data(), dout.data(), inp.data(), w.data(), N, C, OC);
        }
        const References want = Reference(p, inp, w, b, dout, dw0, db0, N, C, OC);
        EXPECT_LE(WorstRatio(out, want.out), 1.0) << "out";
        EXPECT_LE(WorstRatio(dinp, want.dinp), 1.0) << "dinp";
        EXPECT_LE(WorstRatio(dw, want.dweight), 1.0) << "dweight (accumulated onto dw0)";
        EXPECT_LE(WorstRatio(db, want.dbias), 1.0) << "dbias";
        if (p != Precision::kFp32) {
          const References exact = Reference(Precision::kFp32, inp, w, b, dout, dw0, db0, N, C, OC);
          EXPECT_GT(WorstRatio(out, exact.out), 1.0) << "out: operands not rounded";
          EXPECT_GT(WorstRatio(dinp, exact.dinp), 1.0) << "dinp: operands not rounded";
          EXPECT_GT(WorstRatio(dw, exact.dweight), 1.0) << "dweight: operands not rounded";
        }

        // No dinp, no dbias: dweight gets the same update, the forward
        // without bias the same product.
        V dw2 = dw0, out2(N * OC, NAN);
        if (p == Precision::kFp32) {
          matmul_backward_onednn_lowp(ctx, nullptr, dw2.data(), nullptr, dout.data(), inp.data(), w.data(), N, C, OC);
          matmul_forward_onednn_lowp(ctx, out2.data(), inp.data(), w.data(), nullptr, N, C, OC);
        } else {
          matmul_backward(ctx, nullptr, dw2.data(), nullptr, dout.data(), inp.data(), w.data(), N, C, OC);
          matmul_forward(ctx, out2.data(), inp.data(), w.data(), nullptr, N, C, OC);
        }
        EXPECT_LE(WorstRatio(dw2, want.dweight), 1.0) << "dweight (null dinp, dbias)";
        Expected nobias = want.out;
        for (int n = 0; n < N; n++)
          for (int o = 0; o < OC; o++) nobias.value[n * OC + o] -= b[o], nobias.mag[n * OC + o] -= std::fabs(b[o]);
        EXPECT_LE(WorstRatio(out2, nobias), 1.0) << "out (no bias)";
      }
}

TEST(MatmulOneDnnLowp, Fp32ThroughThePrimitiveMatchesReference) {
  ASSERT_TRUE(CheckOneDnnPrecision(Precision::kFp32).ok());
  EXPECT_NE(OneDnnMatmulImpl(Precision::kFp32), "unimplemented");
  CheckProducts(Precision::kFp32);
}

// Where oneDNN has the 16-bit matmul, it must compute the mixed-precision
// contract; where it has not (oneDNN 2.x without AVX-512, e.g. this project's
// AVX2 machines), the startup check must refuse with a message that names the
// flag, the format and the way out, and a product run anyway must leave NaN
// (the trainer then stops on a non-finite loss) rather than wrong numbers.
class MatmulOneDnnLowpPrecision : public ::testing::TestWithParam<Precision> {};

TEST_P(MatmulOneDnnLowpPrecision, MatchesRoundedReferenceOrIsRefused) {
  const Precision p = GetParam();
  const Status st = CheckOneDnnPrecision(p);
  const std::string impl = OneDnnMatmulImpl(p);
  if (st.ok()) {
    EXPECT_NE(impl, "unimplemented");
    std::printf("oneDNN %s matmul: %s\n", PrecisionName(p), impl.c_str());
    CheckProducts(p);
    return;
  }
  std::printf("oneDNN %s matmul unavailable: %s\n", PrecisionName(p), st.message().c_str());
  EXPECT_EQ(st.kind(), ErrorKind::kUsage);
  EXPECT_EQ(impl, "unimplemented");
  for (const char* part : {"--matmul onednn", PrecisionName(p), "--matmul tiled", "oneDNN "})
    EXPECT_NE(st.message().find(part), std::string::npos) << "missing '" << part << "' in: " << st.message();

  Rng rng(5);
  const int N = 37, C = 29, OC = 53;
  const V inp = RandomVec(rng, N * C), w = RandomVec(rng, OC * C), b = RandomVec(rng, OC);
  const V dout = RandomVec(rng, N * OC);
  const Context ctx{2, nullptr, MatmulBackend::kOneDnn, p};
  V out(N * OC, 0.0f), dinp(N * C, 0.0f), dw(OC * C, 0.0f);
  matmul_forward(ctx, out.data(), inp.data(), w.data(), b.data(), N, C, OC);
  matmul_backward(ctx, dinp.data(), dw.data(), nullptr, dout.data(), inp.data(), w.data(), N, C, OC);
  for (const V* v : {&out, &dinp, &dw})
    for (float x : *v) ASSERT_TRUE(std::isnan(x));
}

INSTANTIATE_TEST_SUITE_P(Formats, MatmulOneDnnLowpPrecision, ::testing::Values(Precision::kBf16, Precision::kFp16),
                         [](const auto& info) { return std::string(PrecisionName(info.param)); });

}  // namespace
}  // namespace cpu_llm
