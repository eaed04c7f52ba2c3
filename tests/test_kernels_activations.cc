// The MLP activations of kernels/activations.h (squared ReLU, SiLU, SwiGLU):
// the scalar references' backward against finite differences in double; the
// Highway kernels on every SIMD target this CPU supports against the
// references on sizes off the vector width, 1 and 2 threads bit for bit, in
// place; and against PyTorch's float64 answers, read from the fixture that
// tools/gen_op_fixtures_activations.py writes.
//
// Tolerances. Squared ReLU is exact but for one float rounding, so it must
// match the float reference bit for bit and the exact answer to within
// 2^-24 relative. SiLU goes through FastExp (relative error < 3e-7,
// KernelsSimd.ExpMatchesLibm), a division and a product or two, each a float
// rounding (6e-8): kSiluRel = 1e-6 relative. Each value is held to that
// fraction of the magnitude of the terms it is computed from (the Scale
// functions below), not of itself: silu' cancels to 0 at x = -1.278, where
// no float formula is accurate relative to the result. Below x = -88 the
// kernels return exactly 0 where the true values are under 5e-37; kFloor
// absorbs that.
#include <fmt/format.h>
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <cstdio>
#include <cstring>
#include <iterator>
#include <stdexcept>
#include <string>
#include <vector>

#include "core/context.h"
#include "core/file_io.h"
#include "core/rng.h"
#include "kernels/activations.h"
#include "kernels/reference/activations_ref.h"
#include "test_util.h"

namespace cpu_llm {
namespace {

using test::Convert;
using test::Dot;
using test::ExpectBitEqual;
using test::ExpectGradMatchesFD;
using test::ForEachSimdTarget;
using test::kContexts;
using test::RandomVec;
using V = std::vector<float>;
using VD = std::vector<double>;

constexpr double kSiluRel = 1e-6;
const double kRelu2Rel = std::ldexp(1.0, -24);
constexpr double kFloor = 1e-30;

// Zeros, tiny values, silu's stationary point and the large magnitudes where
// FastExp's clamp would saturate; placed at the end of an input, in the tail
// lanes of odd sizes.
const float kSpecial[] = {0.0f,  -0.0f, 1e-30f, -1e-30f, -1.2784645f, 30.0f, -30.0f, 87.5f,
                          -87.5f, 88.5f, -88.5f, 100.0f,  -100.0f,     1e30f, -1e30f};

V Inputs(Rng& rng, int64_t n, float scale) {
  V x = RandomVec(rng, n, scale);
  const int64_t k = std::min<int64_t>(n, std::size(kSpecial));
  for (int64_t i = 0; i < k; i++) x[n - 1 - i] = kSpecial[i];
  return x;
}

double Sigmoid(double x) { return 1.0 / (1.0 + std::exp(-x)); }
// |silu(x)| and the sum of the magnitudes of silu'(x) = s + x s (1 - s).
double SiluScale(double x) { return std::fabs(x) * Sigmoid(x); }
double SiluGradScale(double x) {
  const double s = Sigmoid(x);
  return s * (1.0 + std::fabs(x) * (1.0 - s));
}

// Expects |got[i] - want[i]| <= rel * scale[i] + kFloor for every i; returns
// the worst (|got - want| - kFloor) / scale, the error in units of scale
// where the floor is not what let it pass, for the record.
double ExpectWithin(const V& got, const VD& want, const VD& scale, double rel, const std::string& what) {
  EXPECT_EQ(got.size(), want.size()) << what;
  double worst = 0.0;
  for (size_t i = 0; i < got.size() && i < want.size(); i++) {
    const double err = std::fabs(static_cast<double>(got[i]) - want[i]);
    if (!(err <= rel * scale[i] + kFloor)) {
      ADD_FAILURE() << what << ": at " << i << " got " << got[i] << " want " << want[i] << " scale " << scale[i];
      return INFINITY;
    }
    if (scale[i] > 0) worst = std::max(worst, (err - kFloor) / scale[i]);
  }
  return worst;
}

// ---------------------------------------------- references, in double

TEST(KernelsActivation, Relu2BackwardMatchesFiniteDifferences) {
  Rng rng(81);
  const int N = 64;
  VD inp = Convert<double>(RandomVec(rng, N, 2.0f));
  const VD R = Convert<double>(RandomVec(rng, N));
  auto L = [&] {
    VD out(N);
    ref::relu2_forward(out.data(), inp.data(), N);
    return Dot(out, R);
  };
  VD dinp(N);
  ref::relu2_backward(dinp.data(), inp.data(), R.data(), N);
  ExpectGradMatchesFD(inp, dinp, L, "dinp");
}

TEST(KernelsActivation, SiluBackwardMatchesFiniteDifferences) {
  Rng rng(82);
  const int N = 64;
  VD inp = Convert<double>(RandomVec(rng, N, 4.0f));
  const VD R = Convert<double>(RandomVec(rng, N));
  auto L = [&] {
    VD out(N);
    ref::silu_forward(out.data(), inp.data(), N);
    return Dot(out, R);
  };
  VD dinp(N);
  ref::silu_backward(dinp.data(), inp.data(), R.data(), N);
  ExpectGradMatchesFD(inp, dinp, L, "dinp");
}

TEST(KernelsActivation, SwigluBackwardMatchesFiniteDifferences) {
  Rng rng(83);
  const int N = 3, H = 11;
  VD inp = Convert<double>(RandomVec(rng, N * 2 * H, 3.0f));
  const VD R = Convert<double>(RandomVec(rng, N * H));
  auto L = [&] {
    VD out(N * H);
    ref::swiglu_forward(out.data(), inp.data(), N, H);
    return Dot(out, R);
  };
  VD dinp(N * 2 * H);
  ref::swiglu_backward(dinp.data(), inp.data(), R.data(), N, H);
  ExpectGradMatchesFD(inp, dinp, L, "dinp");
}

// ----------------------------------- Highway kernels, every SIMD target

// Sizes around the vector widths (4, 8, 16 floats) and past one thread
// block (kElementBlock = 16384), so two threads share the work.
const int64_t kSizes[] = {1, 5, 7, 13, 17, 100, 1027, 40000};

TEST(KernelsActivation, Relu2MatchesReferenceBitForBit) {
  ForEachSimdTarget([] {
    Rng rng(84);
    for (int64_t N : kSizes) {
      SCOPED_TRACE(fmt::format("N={}", N));
      const V inp = Inputs(rng, N, 3.0f), dout = RandomVec(rng, N);
      V out(N), dinp(N);
      ref::relu2_forward(out.data(), inp.data(), N);
      ref::relu2_backward(dinp.data(), inp.data(), dout.data(), N);
      for (const Context& ctx : kContexts) {
        SCOPED_TRACE(fmt::format("threads={}", ctx.n_threads));
        V g_out(N, NAN), g_dinp(N, NAN);
        relu2_forward(ctx, g_out.data(), inp.data(), N);
        ExpectBitEqual(g_out, out, "out");
        relu2_backward(ctx, g_dinp.data(), inp.data(), dout.data(), N);
        ExpectBitEqual(g_dinp, dinp, "dinp");
        V inplace = dout;
        relu2_backward(ctx, inplace.data(), inp.data(), inplace.data(), N);
        ExpectBitEqual(inplace, dinp, "dinp (in place)");
      }
    }
  });
}

TEST(KernelsActivation, SiluMatchesReference) {
  ForEachSimdTarget([] {
    Rng rng(85);
    for (int64_t N : kSizes) {
      SCOPED_TRACE(fmt::format("N={}", N));
      const V inp = Inputs(rng, N, 4.0f), dout = RandomVec(rng, N);
      const VD inp_d = Convert<double>(inp), dout_d = Convert<double>(dout);
      VD out(N), dinp(N), out_scale(N), dinp_scale(N);
      ref::silu_forward(out.data(), inp_d.data(), N);
      ref::silu_backward(dinp.data(), inp_d.data(), dout_d.data(), N);
      for (int64_t i = 0; i < N; i++) {
        out_scale[i] = SiluScale(inp[i]);
        dinp_scale[i] = SiluGradScale(inp[i]) * std::fabs(dout_d[i]);
      }
      V per_thread[2][2];
      for (int t = 0; t < 2; t++) {
        const Context& ctx = kContexts[t];
        SCOPED_TRACE(fmt::format("threads={}", ctx.n_threads));
        V g_out(N, NAN), g_dinp(N, NAN);
        silu_forward(ctx, g_out.data(), inp.data(), N);
        ExpectWithin(g_out, out, out_scale, kSiluRel, "out");
        silu_backward(ctx, g_dinp.data(), inp.data(), dout.data(), N);
        ExpectWithin(g_dinp, dinp, dinp_scale, kSiluRel, "dinp");
        V inplace = dout;
        silu_backward(ctx, inplace.data(), inp.data(), inplace.data(), N);
        ExpectBitEqual(inplace, g_dinp, "dinp (in place)");
        per_thread[t][0] = g_out;
        per_thread[t][1] = g_dinp;
      }
      ExpectBitEqual(per_thread[0][0], per_thread[1][0], "out, 1 vs 2 threads");
      ExpectBitEqual(per_thread[0][1], per_thread[1][1], "dinp, 1 vs 2 threads");
    }
  });
}

// out, dinp and their scales from the double reference, for SwiGLU.
struct SwigluExpected {
  VD out, dinp, out_scale, dinp_scale;
};
SwigluExpected SwigluReference(const V& inp, const V& dout, int N, int H) {
  const VD inp_d = Convert<double>(inp), dout_d = Convert<double>(dout);
  SwigluExpected e{VD(N * H), VD(N * 2 * H), VD(N * H), VD(N * 2 * H)};
  ref::swiglu_forward(e.out.data(), inp_d.data(), N, H);
  ref::swiglu_backward(e.dinp.data(), inp_d.data(), dout_d.data(), N, H);
  for (int n = 0; n < N; n++)
    for (int j = 0; j < H; j++) {
      const int64_t gi = (int64_t)n * 2 * H + j, oi = (int64_t)n * H + j;
      const double g = inp_d[gi], u = std::fabs(inp_d[gi + H]), dy = std::fabs(dout_d[oi]);
      e.out_scale[oi] = SiluScale(g) * u;
      e.dinp_scale[gi] = SiluGradScale(g) * u * dy;
      e.dinp_scale[gi + H] = SiluScale(g) * dy;
    }
  return e;
}

TEST(KernelsActivation, SwigluMatchesReference) {
  struct Shape {
    int N, H;
  };
  ForEachSimdTarget([] {
    Rng rng(86);
    // The last shape spans several row blocks (16384 / 1000 = 16 rows each).
    for (Shape s : {Shape{1, 1}, Shape{3, 5}, Shape{7, 13}, Shape{5, 17}, Shape{2, 100}, Shape{3, 1027},
                    Shape{37, 1000}}) {
      const int N = s.N, H = s.H;
      SCOPED_TRACE(fmt::format("N={} H={}", N, H));
      V inp = RandomVec(rng, (int64_t)N * 2 * H, 3.0f);
      const V dout = RandomVec(rng, (int64_t)N * H);
      for (int j = 0; j < H && j < (int)std::size(kSpecial); j++) inp[H - 1 - j] = kSpecial[j];  // gates of row 0
      const SwigluExpected e = SwigluReference(inp, dout, N, H);
      V per_thread[2][2];
      for (int t = 0; t < 2; t++) {
        const Context& ctx = kContexts[t];
        SCOPED_TRACE(fmt::format("threads={}", ctx.n_threads));
        V g_out((int64_t)N * H, NAN), g_dinp((int64_t)N * 2 * H, NAN);
        swiglu_forward(ctx, g_out.data(), inp.data(), N, H);
        ExpectWithin(g_out, e.out, e.out_scale, kSiluRel, "out");
        swiglu_backward(ctx, g_dinp.data(), inp.data(), dout.data(), N, H);
        ExpectWithin(g_dinp, e.dinp, e.dinp_scale, kSiluRel, "dinp");
        V inplace = inp;  // the forward's input, overwritten by its gradient
        swiglu_backward(ctx, inplace.data(), inplace.data(), dout.data(), N, H);
        ExpectBitEqual(inplace, g_dinp, "dinp (in place over inp)");
        per_thread[t][0] = g_out;
        per_thread[t][1] = g_dinp;
      }
      ExpectBitEqual(per_thread[0][0], per_thread[1][0], "out, 1 vs 2 threads");
      ExpectBitEqual(per_thread[0][1], per_thread[1][1], "dinp, 1 vs 2 threads");
    }
  });
}

// Past FastExp's clamp: exact limits, not x times the clamped exponential.
TEST(KernelsActivation, SiluSaturates) {
  ForEachSimdTarget([] {
    const V x = {-3e38f, -1e30f, -1e4f, -89.0f, 89.0f, 1e4f, 1e30f, 3e38f};
    const V dout(x.size(), 1.0f);
    V out(x.size(), NAN), dinp(x.size(), NAN);
    silu_forward(Context{1}, out.data(), x.data(), x.size());
    silu_backward(Context{1}, dinp.data(), x.data(), dout.data(), x.size());
    for (size_t i = 0; i < x.size(); i++) {
      SCOPED_TRACE(fmt::format("x={}", x[i]));
      EXPECT_EQ(out[i], x[i] > 0 ? x[i] : 0.0f);
      EXPECT_EQ(dinp[i], x[i] > 0 ? 1.0f : 0.0f);
    }
  });
}

// ------------------------------------------------------- against PyTorch

struct TorchRecord {
  int op, N, H;
  V inp, dout;
  VD out, dinp;
};

std::vector<TorchRecord> ReadTorchFixture() {
  std::vector<uint8_t> bytes;
  const Status st = ReadFileBytes(std::string(CPU_LLM_FIXTURE_DIR) + "/op_activations.bin", &bytes);
  EXPECT_TRUE(st.ok()) << st.message();
  size_t pos = 0;
  auto take = [&](void* dst, size_t n) {
    if (pos + n > bytes.size()) throw std::runtime_error("op_activations.bin is truncated");
    std::memcpy(dst, bytes.data() + pos, n);
    pos += n;
  };
  int32_t header[4];
  take(header, sizeof(header));
  EXPECT_EQ(header[0], 20250801);
  EXPECT_EQ(header[1], 1);
  std::vector<TorchRecord> records(header[2]);
  for (TorchRecord& r : records) {
    int32_t h[4];
    take(h, sizeof(h));
    r.op = h[0], r.N = h[1], r.H = h[2];
    const int64_t n_in = r.op == 2 ? (int64_t)r.N * 2 * r.H : r.N, n_out = r.op == 2 ? (int64_t)r.N * r.H : r.N;
    r.inp.resize(n_in), r.dout.resize(n_out), r.out.resize(n_out), r.dinp.resize(n_in);
    take(r.inp.data(), n_in * sizeof(float));
    take(r.dout.data(), n_out * sizeof(float));
    take(r.out.data(), n_out * sizeof(double));
    take(r.dinp.data(), n_in * sizeof(double));
  }
  EXPECT_EQ(pos, bytes.size());
  return records;
}

TEST(KernelsActivation, MatchesTorch) {
  const std::vector<TorchRecord> records = ReadTorchFixture();
  ASSERT_EQ(records.size(), 3u);
  ForEachSimdTarget([&] {
    for (const TorchRecord& r : records) {
      SCOPED_TRACE(fmt::format("op={} N={} H={}", r.op, r.N, r.H));
      const Context ctx{2};
      V out(r.out.size(), NAN), dinp(r.dinp.size(), NAN);
      VD out_scale(r.out.size()), dinp_scale(r.dinp.size());
      double rel = kSiluRel;
      if (r.op == 0) {
        relu2_forward(ctx, out.data(), r.inp.data(), r.N);
        relu2_backward(ctx, dinp.data(), r.inp.data(), r.dout.data(), r.N);
        for (size_t i = 0; i < out.size(); i++) {
          out_scale[i] = std::fabs(r.out[i]);
          dinp_scale[i] = std::fabs(r.dinp[i]);
        }
        rel = kRelu2Rel;
      } else if (r.op == 1) {
        silu_forward(ctx, out.data(), r.inp.data(), r.N);
        silu_backward(ctx, dinp.data(), r.inp.data(), r.dout.data(), r.N);
        for (size_t i = 0; i < out.size(); i++) {
          out_scale[i] = SiluScale(r.inp[i]);
          dinp_scale[i] = SiluGradScale(r.inp[i]) * std::fabs(r.dout[i]);
        }
      } else {
        ASSERT_EQ(r.op, 2);
        swiglu_forward(ctx, out.data(), r.inp.data(), r.N, r.H);
        swiglu_backward(ctx, dinp.data(), r.inp.data(), r.dout.data(), r.N, r.H);
        const SwigluExpected e = SwigluReference(r.inp, r.dout, r.N, r.H);
        out_scale = e.out_scale;
        dinp_scale = e.dinp_scale;
      }
      const double worst_out = ExpectWithin(out, r.out, out_scale, rel, "out");
      const double worst_dinp = ExpectWithin(dinp, r.dinp, dinp_scale, rel, "dinp");
      std::printf("%s op %d vs torch: max |err|/scale out %.3g, dinp %.3g (tolerance %.3g)\n",
                  SimdTargetName(DispatchedSimdTarget()).c_str(), r.op, worst_out, worst_dinp, rel);
    }
  });
}

}  // namespace
}  // namespace cpu_llm
