// RMSNorm and RoPE (the Llama-style block options): the scalar references'
// backward against central finite differences in double, and the Highway
// kernels against the float references on every SIMD target this CPU
// supports, on shapes off the vector widths, 1 and 2 threads bit for bit.
// test_kernels_norm_rope_torch.cc holds the same kernels to PyTorch.
#include <fmt/format.h>
#include <gtest/gtest.h>

#include <cmath>
#include <cstdint>
#include <vector>

#include "core/context.h"
#include "core/rng.h"
#include "kernels/reference/norm_rope_ref.h"
#include "kernels/rmsnorm.h"
#include "kernels/rope.h"
#include "test_util.h"

namespace cpu_llm {
namespace {

using test::Convert;
using test::Dot;
using test::ExpectAllNear;
using test::ExpectBitEqual;
using test::ExpectGradMatchesFD;
using test::ForEachSimdTarget;
using test::kContexts;
using test::MaxAbs;
using test::RandomVec;
using test::Tol;
using V = std::vector<float>;
using VD = std::vector<double>;

// --------------------------------------------------------------- rmsnorm

TEST(KernelsRmsnorm, BackwardMatchesFiniteDifferences) {
  Rng rng(101);
  const int N = 3, C = 7;
  const double eps = 1e-5;
  VD inp = Convert<double>(RandomVec(rng, N * C)), w = Convert<double>(RandomVec(rng, C));
  const VD R = Convert<double>(RandomVec(rng, N * C));
  auto L = [&] {
    VD out(N * C), s(N);
    ref::rmsnorm_forward(out.data(), s.data(), inp.data(), w.data(), N, C, eps);
    return Dot(out, R);
  };
  VD out(N * C), rstd(N);
  ref::rmsnorm_forward(out.data(), rstd.data(), inp.data(), w.data(), N, C, eps);
  VD dinp(N * C, 0.0), dw(C, 0.0);
  ref::rmsnorm_backward(dinp.data(), dw.data(), R.data(), inp.data(), w.data(), rstd.data(), N, C);
  ExpectGradMatchesFD(inp, dinp, L, "dinp");
  ExpectGradMatchesFD(w, dw, L, "dweight");
}

TEST(KernelsRmsnorm, MatchesReferenceOnEveryTarget) {
  ForEachSimdTarget([] {
    Rng rng(102);
    for (int N : {1, 5, 13, 37})
      for (int C : {1, 3, 17, 64, 100, 130}) {
        SCOPED_TRACE(fmt::format("N={} C={}", N, C));
        V inp = RandomVec(rng, N * C, 2.0f);
        for (auto& x : inp) x += 0.5f;  // a nonzero mean, which RMSNorm must not subtract
        const V w = RandomVec(rng, C), dout = RandomVec(rng, N * C);
        const V dinp0 = RandomVec(rng, N * C), dw0 = RandomVec(rng, C);
        const float eps = 1e-5f;
        V out(N * C), rstd(N), dinp = dinp0, dw = dw0;
        ref::rmsnorm_forward(out.data(), rstd.data(), inp.data(), w.data(), N, C, eps);
        ref::rmsnorm_backward(dinp.data(), dw.data(), dout.data(), inp.data(), w.data(), rstd.data(), N, C);
        V per_thread[2][4];  // out, rstd, dinp, dweight on 1 and 2 threads
        for (int i = 0; i < 2; i++) {
          const Context& ctx = kContexts[i];
          SCOPED_TRACE(fmt::format("threads={}", ctx.n_threads));
          V g_out(N * C, NAN), g_rstd(N, NAN);
          rmsnorm_forward(ctx, g_out.data(), g_rstd.data(), inp.data(), w.data(), N, C, eps);
          ExpectAllNear(g_out, out, Tol(C, MaxAbs(out)), "out");
          ExpectAllNear(g_rstd, rstd, Tol(C, MaxAbs(rstd)), "rstd");
          // Both gradients accumulate into what the buffers held.
          V g_dinp = dinp0, g_dw = dw0;
          rmsnorm_backward(ctx, g_dinp.data(), g_dw.data(), dout.data(), inp.data(), w.data(), rstd.data(), N, C);
          ExpectAllNear(g_dinp, dinp, Tol(C + 1, MaxAbs(dinp)), "dinp");
          ExpectAllNear(g_dw, dw, Tol(N + 1, MaxAbs(dw)), "dweight");
          per_thread[i][0] = g_out;
          per_thread[i][1] = g_rstd;
          per_thread[i][2] = g_dinp;
          per_thread[i][3] = g_dw;
        }
        ExpectBitEqual(per_thread[0][0], per_thread[1][0], "out, 1 vs 2 threads");
        ExpectBitEqual(per_thread[0][1], per_thread[1][1], "rstd, 1 vs 2 threads");
        ExpectBitEqual(per_thread[0][2], per_thread[1][2], "dinp, 1 vs 2 threads");
        ExpectBitEqual(per_thread[0][3], per_thread[1][3], "dweight, 1 vs 2 threads");
      }
  });
}

// An all-zero row (padding, a dead residual stream) must not divide by zero:
// eps alone sets rstd, the output is zero and the gradient w * dout * rstd.
TEST(KernelsRmsnorm, ZeroRowIsFinite) {
  const int C = 19;
  const float eps = 1e-6f;
  Rng rng(103);
  const V inp(C, 0.0f), w = RandomVec(rng, C), dout = RandomVec(rng, C);
  V out(C, NAN), rstd(1, NAN), dinp(C, 0.0f), dw(C, 0.0f);
  rmsnorm_forward(Context{1}, out.data(), rstd.data(), inp.data(), w.data(), 1, C, eps);
  EXPECT_FLOAT_EQ(rstd[0], 1.0f / std::sqrt(eps));
  for (float o : out) EXPECT_EQ(o, 0.0f);
  rmsnorm_backward(Context{1}, dinp.data(), dw.data(), dout.data(), inp.data(), w.data(), rstd.data(), 1, C);
  for (int c = 0; c < C; c++) {
    EXPECT_FLOAT_EQ(dinp[c], w[c] * dout[c] * rstd[0]) << "channel " << c;
    EXPECT_EQ(dw[c], 0.0f) << "channel " << c;
  }
}

// ------------------------------------------------------------------ rope

// The angles in double: at position 8191 a float angle would be off by up to
// ~5e-4 (half an ulp of 8191 radians), far past the one rounding allowed here.
TEST(KernelsRope, TableMatchesDoubleFormula) {
  for (int HS : {2, 6, 64, 128}) {
    SCOPED_TRACE(fmt::format("HS={}", HS));
    const int max_T = 8192, half = HS / 2;
    const float theta = 10000.0f;
    V cs((int64_t)max_T * half, NAN), sn((int64_t)max_T * half, NAN);
    rope_table(cs.data(), sn.data(), max_T, HS, theta);
    VD want_cs(cs.size()), want_sn(sn.size());
    ref::rope_table(want_cs.data(), want_sn.data(), max_T, HS, theta);
    ExpectAllNear(cs, want_cs, 6e-8, "cos");  // one float rounding of a value in [-1, 1]
    ExpectAllNear(sn, want_sn, 6e-8, "sin");
    EXPECT_EQ(cs[0], 1.0f);  // position 0: no rotation
    EXPECT_EQ(sn[half - 1], 0.0f);
    // Channel 0 turns by one radian per position.
    EXPECT_NEAR(cs[(int64_t)5 * half], std::cos(5.0), 6e-8);
    EXPECT_NEAR(sn[(int64_t)5 * half], std::sin(5.0), 6e-8);
  }
}

TEST(KernelsRope, BackwardMatchesFiniteDifferences) {
  Rng rng(111);
  const int B = 2, T = 3, C = 12, NH = 2, pos0 = 2, max_T = pos0 + T;
  VD cs(max_T * 3), sn(max_T * 3);
  ref::rope_table(cs.data(), sn.data(), max_T, C / NH, 100.0);
  VD qkv = Convert<double>(RandomVec(rng, B * T * 3 * C));
  const VD R = Convert<double>(RandomVec(rng, B * T * 3 * C));
  auto L = [&] {
    VD out = qkv;
    ref::rope_forward(out.data(), cs.data(), sn.data(), B, T, C, NH, pos0);
    return Dot(out, R);
  };
  VD dqkv = R;  // in place: the upstream gradient becomes qkv's
  ref::rope_backward(dqkv.data(), cs.data(), sn.data(), B, T, C, NH, pos0);
  ExpectGradMatchesFD(qkv, dqkv, L, "dqkv");
}

struct RopeShape {
  int B, T, C, NH;
};
// HS/2 = 1, 3, 17, 32, 65 and 5: below, between and past the vector widths.
const RopeShape kRopeShapes[] = {{1, 1, 2, 1}, {2, 5, 12, 2}, {2, 7, 68, 2}, {1, 4, 192, 3}, {3, 3, 260, 2},
                                 {2, 9, 50, 5}};

TEST(KernelsRope, MatchesReferenceOnEveryTarget) {
  ForEachSimdTarget([] {
    Rng rng(112);
    for (const RopeShape& s : kRopeShapes)
      for (int pos0 : {0, 9}) {
        const int B = s.B, T = s.T, C = s.C, NH = s.NH, HS = C / NH, max_T = pos0 + T;
        const int64_t n = (int64_t)B * T * 3 * C;
        SCOPED_TRACE(fmt::format("B={} T={} C={} NH={} pos0={}", B, T, C, NH, pos0));
        V cs((int64_t)max_T * (HS / 2)), sn(cs.size());
        rope_table(cs.data(), sn.data(), max_T, HS, 10000.0f);
        const V qkv = RandomVec(rng, n), dqkv = RandomVec(rng, n);
        V out = qkv, din = dqkv;
        ref::rope_forward(out.data(), cs.data(), sn.data(), B, T, C, NH, pos0);
        ref::rope_backward(din.data(), cs.data(), sn.data(), B, T, C, NH, pos0);
        V per_thread[2][2];  // forward, backward on 1 and 2 threads
        for (int i = 0; i < 2; i++) {
          const Context& ctx = kContexts[i];
          SCOPED_TRACE(fmt::format("threads={}", ctx.n_threads));
          V g_out = qkv, g_din = dqkv;
          rope_forward(ctx, g_out.data(), cs.data(), sn.data(), B, T, C, NH, pos0);
          rope_backward(ctx, g_din.data(), cs.data(), sn.data(), B, T, C, NH, pos0);
          // Each output is two products summed: one rounding more than the reference at most.
          ExpectAllNear(g_out, out, Tol(2, MaxAbs(out)), "out");
          ExpectAllNear(g_din, din, Tol(2, MaxAbs(din)), "dqkv");
          for (int64_t bt = 0; bt < (int64_t)B * T; bt++)
            for (int c = 2 * C; c < 3 * C; c++) {
              const int64_t j = bt * 3 * C + c;
              ASSERT_EQ(g_out[j], qkv[j]) << "v changed by forward, row " << bt << " channel " << c;
              ASSERT_EQ(g_din[j], dqkv[j]) << "dv changed by backward, row " << bt << " channel " << c;
            }
          per_thread[i][0] = g_out;
          per_thread[i][1] = g_din;
        }
        ExpectBitEqual(per_thread[0][0], per_thread[1][0], "out, 1 vs 2 threads");
        ExpectBitEqual(per_thread[0][1], per_thread[1][1], "dqkv, 1 vs 2 threads");
      }
  });
}

// Backward is the inverse rotation, so it undoes forward up to rounding.
TEST(KernelsRope, BackwardUndoesForward) {
  Rng rng(113);
  const int B = 2, T = 6, C = 68, NH = 2, HS = C / NH, pos0 = 3, max_T = pos0 + T;
  V cs(max_T * (HS / 2)), sn(cs.size());
  rope_table(cs.data(), sn.data(), max_T, HS, 10000.0f);
  const V qkv = RandomVec(rng, B * T * 3 * C);
  V x = qkv;
  rope_forward(Context{2}, x.data(), cs.data(), sn.data(), B, T, C, NH, pos0);
  rope_backward(Context{2}, x.data(), cs.data(), sn.data(), B, T, C, NH, pos0);
  ExpectAllNear(x, qkv, Tol(4, MaxAbs(qkv)), "backward(forward(qkv))");
}

// KV-cache decoding rotates one token at a time with pos0 = its position: the
// same bits as rotating the whole sequence at once.
TEST(KernelsRope, DecodeRowMatchesWholeSequence) {
  Rng rng(114);
  const int T = 11, C = 96, NH = 3, HS = C / NH;
  V cs(T * (HS / 2)), sn(cs.size());
  rope_table(cs.data(), sn.data(), T, HS, 10000.0f);
  const V qkv = RandomVec(rng, T * 3 * C);
  V whole = qkv;
  rope_forward(Context{1}, whole.data(), cs.data(), sn.data(), 1, T, C, NH, 0);
  for (int t = 0; t < T; t++) {
    V row(qkv.begin() + t * 3 * C, qkv.begin() + (t + 1) * 3 * C);
    rope_forward(Context{1}, row.data(), cs.data(), sn.data(), 1, 1, C, NH, t);
    ExpectBitEqual(row, V(whole.begin() + t * 3 * C, whole.begin() + (t + 1) * 3 * C), fmt::format("token {}", t));
  }
}

}  // namespace
}  // namespace cpu_llm
