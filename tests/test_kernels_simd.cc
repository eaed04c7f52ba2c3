// The Highway kernels on every SIMD target this CPU supports: dispatch is
// restricted to one target at a time (hwy::SetSupportedTargetsForTest) and
// each kernel is checked against the scalar reference with the tolerances of
// test_kernels.cc, on 1 and 2 threads. test_kernels.cc covers the same
// kernels at the target dispatch picks by itself; this file covers the rest
// (on an AVX2 machine: SSE4, SSSE3 and the scalar fallback too).
#include <fmt/format.h>
#include <gtest/gtest.h>

#include <cmath>
#include <cstdint>
#include <string>
#include <vector>

#include "core/context.h"
#include "core/rng.h"
#include "hwy/targets.h"
#include "kernels/crossentropy.h"
#include "kernels/encoder.h"
#include "kernels/gelu.h"
#include "kernels/layernorm.h"
#include "kernels/matmul.h"
#include "kernels/reference/reference.h"
#include "kernels/residual.h"
#include "kernels/simd_targets.h"
#include "optim/adamw.h"
#include "optim/adamw_kernels.h"
#include "test_util.h"

namespace cpu_llm {
namespace {

using test::ExpectAllNear;
using test::ExpectBitEqual;
using test::ForEachSimdTarget;
using test::kContexts;
using test::MaxAbs;
using test::RandomTokens;
using test::RandomVec;
using test::Tol;
using V = std::vector<float>;

TEST(KernelsSimd, SeveralTargetsRunHere) {
  const std::vector<std::string> ran = ForEachSimdTarget([] {});
  std::string names;
  for (const std::string& n : ran) names += n + " ";
  std::printf("SIMD targets run by these tests: %s\n", names.c_str());
  RecordProperty("simd_targets", names);
#if HWY_ARCH_X86
  // Every x86-64 CPU has SSE2, hence the portable fallback and one x86 target at least.
  EXPECT_GE(ran.size(), 2u) << names;
#endif
  // Unrestricted, dispatch picks the best target again.
  EXPECT_EQ(DispatchedSimdTarget(), SimdTargets().front());
}

TEST(KernelsSimd, Gelu) {
  ForEachSimdTarget([] {
    Rng rng(51);
    for (int N : {1, 5, 7, 13, 100, 1027, 40000}) {
      SCOPED_TRACE(fmt::format("N={}", N));
      const V inp = RandomVec(rng, N, 3.0f), dout = RandomVec(rng, N);
      V out(N), dinp(N);
      ref::gelu_forward(out.data(), inp.data(), N);
      ref::gelu_backward(dinp.data(), inp.data(), dout.data(), N);
      for (const Context& ctx : kContexts) {
        SCOPED_TRACE(fmt::format("threads={}", ctx.n_threads));
        V g_out(N, NAN), g_dinp(N, NAN);
        gelu_forward(ctx, g_out.data(), inp.data(), N);
        ExpectAllNear(g_out, out, Tol(1, MaxAbs(out)), "out");
        gelu_backward(ctx, g_dinp.data(), inp.data(), dout.data(), N);
        ExpectAllNear(g_dinp, dinp, Tol(1, MaxAbs(dinp)), "dinp");
        V inplace = dout;  // the model's backward: dinp and dout are one buffer
        gelu_backward(ctx, inplace.data(), inp.data(), inplace.data(), N);
        ExpectBitEqual(inplace, g_dinp, "dinp (in place)");
      }
    }
  });
}

TEST(KernelsSimd, Residual) {
  ForEachSimdTarget([] {
    Rng rng(61);
    for (int N : {1, 5, 7, 13, 1027, 40000}) {
      const V a = RandomVec(rng, N), b = RandomVec(rng, N);
      V want(N);
      ref::residual_forward(want.data(), a.data(), b.data(), N);
      for (const Context& ctx : kContexts) {
        V got(N, NAN);
        residual_forward(ctx, got.data(), a.data(), b.data(), N);
        ExpectBitEqual(got, want, fmt::format("N={} threads={}", N, ctx.n_threads));
        V inplace = a;  // the KV-cache decode adds into its input
        residual_forward(ctx, inplace.data(), inplace.data(), b.data(), N);
        ExpectBitEqual(inplace, want, fmt::format("in place, N={} threads={}", N, ctx.n_threads));
      }
    }
  });
}

TEST(KernelsSimd, Layernorm) {
  ForEachSimdTarget([] {
    Rng rng(21);
    for (int N : {1, 5, 13, 37})
      for (int C : {3, 17, 64, 100}) {
        SCOPED_TRACE(fmt::format("N={} C={}", N, C));
        V inp = RandomVec(rng, N * C, 2.0f);
        for (auto& x : inp) x += 0.5f;  // a nonzero mean
        const V w = RandomVec(rng, C), b = RandomVec(rng, C), dout = RandomVec(rng, N * C);
        const V dinp0 = RandomVec(rng, N * C), dw0 = RandomVec(rng, C), db0 = RandomVec(rng, C);
        V out(N * C), mean(N), rstd(N), dinp = dinp0, dw = dw0, db = db0;
        ref::layernorm_forward(out.data(), mean.data(), rstd.data(), inp.data(), w.data(), b.data(), N, C);
        ref::layernorm_backward(dinp.data(), dw.data(), db.data(), dout.data(), inp.data(), w.data(), mean.data(),
                                rstd.data(), N, C);
        V per_thread[2][3];  // dinp, dweight, dbias on 1 and 2 threads
        for (int i = 0; i < 2; i++) {
          const Context& ctx = kContexts[i];
          SCOPED_TRACE(fmt::format("threads={}", ctx.n_threads));
          V g_out(N * C, NAN), g_mean(N, NAN), g_rstd(N, NAN);
          layernorm_forward(ctx, g_out.data(), g_mean.data(), g_rstd.data(), inp.data(), w.data(), b.data(), N, C);
          ExpectAllNear(g_out, out, Tol(C, MaxAbs(out)), "out");
          ExpectAllNear(g_mean, mean, Tol(C, MaxAbs(mean) + MaxAbs(inp) / C), "mean");
          ExpectAllNear(g_rstd, rstd, Tol(C, MaxAbs(rstd)), "rstd");
          V g_dinp = dinp0, g_dw = dw0, g_db = db0;
          layernorm_backward(ctx, g_dinp.data(), g_dw.data(), g_db.data(), dout.data(), inp.data(), w.data(),
                             mean.data(), rstd.data(), N, C);
          ExpectAllNear(g_dinp, dinp, Tol(C + 1, MaxAbs(dinp)), "dinp");
          ExpectAllNear(g_dw, dw, Tol(N + 1, MaxAbs(dw)), "dweight");
          ExpectAllNear(g_db, db, Tol(N + 1, MaxAbs(db)), "dbias");
          per_thread[i][0] = g_dinp;
          per_thread[i][1] = g_dw;
          per_thread[i][2] = g_db;
        }
        ExpectBitEqual(per_thread[0][0], per_thread[1][0], "dinp, 1 vs 2 threads");
        ExpectBitEqual(per_thread[0][1], per_thread[1][1], "dweight, 1 vs 2 threads");
        ExpectBitEqual(per_thread[0][2], per_thread[1][2], "dbias, 1 vs 2 threads");
      }
  });
}

TEST(KernelsSimd, Crossentropy) {
  ForEachSimdTarget([] {
    Rng rng(71);
    const float dloss = 0.37f;
    for (int N : {1, 7, 13})
      for (int Vr : {3, 17, 100, 130})
        for (int Vp : {Vr, Vr + 5, (Vr + 127) / 128 * 128}) {
          SCOPED_TRACE(fmt::format("N={} V={} Vp={}", N, Vr, Vp));
          V logits = RandomVec(rng, N * Vp, 3.0f);
          const double max_logit = MaxAbs(logits);
          for (int n = 0; n < N; n++)  // padding read anywhere would give inf/NaN
            for (int v = Vr; v < Vp; v++) logits[n * Vp + v] = 1e30f;
          const std::vector<int32_t> tgt = RandomTokens(rng, N, Vr);
          V losses(N), lse(N), dlogits(N * Vp);
          ref::crossentropy_forward(losses.data(), lse.data(), logits.data(), tgt.data(), N, Vr, Vp);
          ref::crossentropy_backward(dlogits.data(), logits.data(), lse.data(), tgt.data(), dloss, N, Vr, Vp);
          for (const Context& ctx : kContexts) {
            SCOPED_TRACE(fmt::format("threads={}", ctx.n_threads));
            V g_losses(N, NAN), g_lse(N, NAN), g_dlogits(N * Vp, NAN);
            crossentropy_forward(ctx, g_losses.data(), g_lse.data(), logits.data(), tgt.data(), N, Vr, Vp);
            ExpectAllNear(g_lse, lse, Tol(Vr, MaxAbs(lse)), "lse");
            ExpectAllNear(g_losses, losses, Tol(Vr, MaxAbs(lse) + max_logit), "losses");
            crossentropy_backward(ctx, g_dlogits.data(), logits.data(), lse.data(), tgt.data(), dloss, N, Vr, Vp);
            ExpectAllNear(g_dlogits, dlogits, Tol(Vr, dloss * (1.0 + MaxAbs(lse))), "dlogits");
            V inplace = logits;  // the model keeps logits and overwrites them with the gradient
            crossentropy_backward(ctx, inplace.data(), inplace.data(), lse.data(), tgt.data(), dloss, N, Vr, Vp);
            ExpectBitEqual(inplace, g_dlogits, "dlogits (in place)");
          }
        }
  });
}

// With lse = 0 and dloss = 1 the cross-entropy gradient of a non-target
// column is exp(logit): the vector exp of each target against libm, to the
// same relative error as the scalar FastExp (KernelsFastMath).
TEST(KernelsSimd, ExpMatchesLibm) {
  ForEachSimdTarget([] {
    const int Vr = 40001;
    V x(Vr + 1);
    for (int i = 0; i < Vr; i++) x[i] = -80.0f + 160.0f * i / (Vr - 1);  // [-80, 80]
    const std::vector<int32_t> tgt = {Vr};  // the target column is a padding column here
    const float lse = 0.0f;
    V e(Vr + 1, NAN);
    crossentropy_backward(Context{1}, e.data(), x.data(), &lse, tgt.data(), 1.0f, 1, Vr, Vr + 1);
    double worst = 0.0;
    for (int i = 0; i < Vr; i++) {
      const double want = std::exp(static_cast<double>(x[i]));
      worst = std::max(worst, std::fabs(e[i] - want) / want);
    }
    EXPECT_LT(worst, 3e-7);
  });
}

TEST(KernelsSimd, Encoder) {
  ForEachSimdTarget([] {
    Rng rng(31);
    struct Shape {
      int B, T, C;
    };
    for (Shape s : {Shape{1, 1, 3}, Shape{2, 5, 17}, Shape{3, 7, 64}, Shape{2, 13, 100}, Shape{1, 4, 130}}) {
      const int B = s.B, T = s.T, C = s.C, Vp = 7, maxT = T + 2;
      SCOPED_TRACE(fmt::format("B={} T={} C={}", B, T, C));
      const std::vector<int32_t> tok = RandomTokens(rng, B * T, Vp);
      const V wte = RandomVec(rng, Vp * C), wpe = RandomVec(rng, maxT * C), dout = RandomVec(rng, B * T * C);
      const V dwte0 = RandomVec(rng, Vp * C), dwpe0 = RandomVec(rng, maxT * C);
      V out(B * T * C), dwte = dwte0, dwpe = dwpe0;
      ref::encoder_forward(out.data(), tok.data(), wte.data(), wpe.data(), B, T, C);
      ref::encoder_backward(dwte.data(), dwpe.data(), dout.data(), tok.data(), B, T, C);
      V per_thread[2], per_thread_wpe[2];
      for (int i = 0; i < 2; i++) {
        const Context& ctx = kContexts[i];
        SCOPED_TRACE(fmt::format("threads={}", ctx.n_threads));
        V g_out(B * T * C, NAN);
        encoder_forward(ctx, g_out.data(), tok.data(), wte.data(), wpe.data(), B, T, C);
        ExpectBitEqual(g_out, out, "out");
        V g_dwte = dwte0, g_dwpe = dwpe0;
        encoder_backward(ctx, g_dwte.data(), g_dwpe.data(), dout.data(), tok.data(), B, T, C);
        ExpectAllNear(g_dwte, dwte, Tol(B * T + 1, MaxAbs(dwte)), "dwte");
        ExpectAllNear(g_dwpe, dwpe, Tol(B + 1, MaxAbs(dwpe)), "dwpe");
        per_thread[i] = g_dwte;
        per_thread_wpe[i] = g_dwpe;
      }
      ExpectBitEqual(per_thread[0], per_thread[1], "dwte, 1 vs 2 threads");
      ExpectBitEqual(per_thread_wpe[0], per_thread_wpe[1], "dwpe, 1 vs 2 threads");
    }
  });
}

// The tiled backend's GEMM (kernels/gemm.cc) in all three products of a
// linear layer. With M, N, K the product's rows, columns and depth:
//   forward  out  (N,OC) = inp . weight^T   M=N,  N=OC, K=C
//   backward dinp (N,C)  = dout . weight    M=N,  N=C,  K=OC
//            dW   (OC,C) += dout^T . inp    M=OC, N=C,  K=N (into a nonzero dW)
// The shapes put every dimension of every product off the register tile
// (MR = 6 or 12, NR = 8, 16 or 32), depths past the KC = 256 slice (several
// slices accumulate: C=300, OC=290, N=263), rows past the MC = 144 block
// (N=150, OC=290) and columns past the NC = 4096 panel on one thread and on
// two (OC=8300). A forward of fewer rows than MR (N=1, 2, 3) takes the
// dot-product path instead of the packed one.
TEST(KernelsSimd, TiledGemmMatchesReference) {
  struct Shape {
    int N, C, OC;
  };
  ForEachSimdTarget([] {
    Rng rng(91);
    for (Shape s : {Shape{1, 1, 1}, Shape{7, 13, 5}, Shape{37, 300, 70}, Shape{150, 45, 290}, Shape{263, 33, 17},
                    Shape{3, 11, 8300}, Shape{2, 300, 37}}) {
      const int N = s.N, C = s.C, OC = s.OC;
      SCOPED_TRACE(fmt::format("N={} C={} OC={}", N, C, OC));
      const V inp = RandomVec(rng, N * C), w = RandomVec(rng, OC * C), b = RandomVec(rng, OC);
      const V dout = RandomVec(rng, N * OC), dw0 = RandomVec(rng, OC * C), db0 = RandomVec(rng, OC);
      V out(N * OC), dinp(N * C), dw = dw0, db = db0;
      ref::matmul_forward(out.data(), inp.data(), w.data(), b.data(), N, C, OC);
      ref::matmul_backward(dinp.data(), dw.data(), db.data(), dout.data(), inp.data(), w.data(), N, C, OC);
      V per_thread[2][3];  // out, dinp, dweight on 1 and 2 threads
      for (int i = 0; i < 2; i++) {
        const Context ctx{kContexts[i].n_threads, nullptr, MatmulBackend::kTiled};
        SCOPED_TRACE(fmt::format("threads={}", ctx.n_threads));
        V g_out(N * OC, NAN), g_dinp(N * C, NAN), g_dw = dw0, g_db = db0;
        matmul_forward(ctx, g_out.data(), inp.data(), w.data(), b.data(), N, C, OC);
        ExpectAllNear(g_out, out, Tol(C + 1, MaxAbs(out)), "out");
        matmul_backward(ctx, g_dinp.data(), g_dw.data(), g_db.data(), dout.data(), inp.data(), w.data(), N, C, OC);
        ExpectAllNear(g_dinp, dinp, Tol(OC, MaxAbs(dinp)), "dinp");
        ExpectAllNear(g_dw, dw, Tol(N + 1, MaxAbs(dw)), "dweight");
        per_thread[i][0] = g_out;
        per_thread[i][1] = g_dinp;
        per_thread[i][2] = g_dw;
      }
      ExpectBitEqual(per_thread[0][0], per_thread[1][0], "out, 1 vs 2 threads");
      ExpectBitEqual(per_thread[0][1], per_thread[1][1], "dinp, 1 vs 2 threads");
      ExpectBitEqual(per_thread[0][2], per_thread[1][2], "dweight, 1 vs 2 threads");
    }
  });
}

// One span of AdamW against the same formula in double, with weight decay,
// a grad scale and an eps that matters (as OptimAdamW.MatchesScalarReference).
TEST(KernelsSimd, AdamWSpan) {
  ForEachSimdTarget([] {
    Rng rng(81);
    for (int n : {1, 5, 7, 13, 1027}) {
      SCOPED_TRACE(fmt::format("n={}", n));
      const V p0 = RandomVec(rng, n), m0 = RandomVec(rng, n, 0.01f), g = RandomVec(rng, n, 0.02f);
      V v0 = RandomVec(rng, n, 1e-4f);
      for (auto& x : v0) x = std::fabs(x);
      const AdamWStepScalars s{1e-2f, 0.9f, 0.95f, 1e-2f, 0.5f, 1.0f - 0.9f * 0.9f, 1.0f - 0.95f * 0.95f, 0.5f};
      std::vector<double> p(n), m(n), v(n);
      for (int i = 0; i < n; i++) {
        const double gi = static_cast<double>(g[i]) * s.grad_scale;
        m[i] = s.beta1 * static_cast<double>(m0[i]) + (1.0 - s.beta1) * gi;
        v[i] = s.beta2 * static_cast<double>(v0[i]) + (1.0 - s.beta2) * gi * gi;
        const double mhat = m[i] / s.bias_corr1, vhat = v[i] / s.bias_corr2;
        p[i] = p0[i] - s.lr * (mhat / (std::sqrt(vhat) + s.eps) + s.weight_decay * p0[i]);
      }
      V gp = p0, gm = m0, gv = v0;
      adamw_update_span(gp.data(), g.data(), gm.data(), gv.data(), n, s);
      ExpectAllNear(gp, p, 1e-6 * (1.0 + MaxAbs(p)), "params");
      ExpectAllNear(gm, m, 1e-6 * MaxAbs(m), "m");
      ExpectAllNear(gv, v, 1e-6 * MaxAbs(v), "v");
    }
  });
}

TEST(KernelsSimd, GlobalGradNorm) {
  ForEachSimdTarget([] {
    Rng rng(5);
    for (int64_t n : {1, 5, 63, 1000, 100003}) {
      const V g = RandomVec(rng, n, 0.3f);
      double ss = 0.0;
      for (float x : g) ss += static_cast<double>(x) * x;
      const double want = std::sqrt(ss);
      const float one = GlobalGradNorm(Context{1}, g.data(), n);
      // Summed in double, so only the final rounding to float remains (6e-8).
      EXPECT_NEAR(one, want, 2e-7 * want) << "n=" << n;
      EXPECT_EQ(one, GlobalGradNorm(Context{2}, g.data(), n)) << "n=" << n;
    }
    const V threes(10, 3.0f);
    EXPECT_FLOAT_EQ(GlobalGradNorm(Context{2}, threes.data(), 10), 3.0f * std::sqrt(10.0f));
  });
}

}  // namespace
}  // namespace cpu_llm
