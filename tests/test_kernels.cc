// Kernel tests: every matmul backend against the plain float reference on
// shapes that hit every tail path, the references' backward against central
// finite differences in double, and the padded-vocabulary contract of
// cross-entropy. The Highway kernels (layernorm, encoder, GELU, residual,
// cross-entropy) are held to the same references, 1 and 2 threads bit for
// bit, on every SIMD target in test_kernels_simd.cc; attention has its own
// file, test_attention.cc.
#include <fmt/format.h>
#include <gtest/gtest.h>

#include <cmath>
#include <cstdint>
#include <string>
#include <vector>

#include "core/context.h"
#include "core/rng.h"
#include "kernels/crossentropy.h"
#include "kernels/encoder.h"
#include "kernels/fast_math.h"
#include "kernels/gelu.h"
#include "kernels/layernorm.h"
#include "kernels/matmul.h"
#include "kernels/reference/reference.h"
#include "kernels/residual.h"
#include "test_util.h"

namespace cpu_llm {
namespace {

using test::Convert;
using test::Dot;
using test::ExpectAllNear;
using test::ExpectBitEqual;
using test::ExpectGradMatchesFD;
using test::kContexts;
using test::MaxAbs;
using test::RandomTokens;
using test::RandomVec;
using test::Tol;
using V = std::vector<float>;
using VD = std::vector<double>;

// Every matmul backend, each on 1 and 2 threads.
const Context kMatmulContexts[] = {Context{1},
                                   Context{2},
                                   Context{1, nullptr, MatmulBackend::kNaive},
                                   Context{2, nullptr, MatmulBackend::kNaive},
                                   Context{1, nullptr, MatmulBackend::kBlas},
                                   Context{2, nullptr, MatmulBackend::kBlas},
                                   Context{1, nullptr, MatmulBackend::kOneDnn},
                                   Context{2, nullptr, MatmulBackend::kOneDnn}};

// ---------------------------------------------------------------- matmul

TEST(KernelsMatmul, MatchesReference) {
  Rng rng(11);
  for (int N : {1, 5, 7, 13, 24})
    for (int C : {3, 17, 64, 100})
      for (int OC : {1, 5, 70, 130}) {
        SCOPED_TRACE(fmt::format("N={} C={} OC={}", N, C, OC));
        const V inp = RandomVec(rng, N * C), w = RandomVec(rng, OC * C), b = RandomVec(rng, OC);
        const V dout = RandomVec(rng, N * OC), dw0 = RandomVec(rng, OC * C), db0 = RandomVec(rng, OC);
        V out_nb(N * OC), out_b(N * OC), dinp(N * C), dw = dw0, db = db0;
        ref::matmul_forward(out_nb.data(), inp.data(), w.data(), static_cast<const float*>(nullptr), N, C, OC);
        ref::matmul_forward(out_b.data(), inp.data(), w.data(), b.data(), N, C, OC);
        ref::matmul_backward(dinp.data(), dw.data(), db.data(), dout.data(), inp.data(), w.data(), N, C, OC);
        for (const Context& ctx : kMatmulContexts) {
          SCOPED_TRACE(fmt::format("threads={} backend={}", ctx.n_threads, MatmulBackendName(ctx.matmul)));
          V got(N * OC, NAN);
          matmul_forward(ctx, got.data(), inp.data(), w.data(), nullptr, N, C, OC);
          ExpectAllNear(got, out_nb, Tol(C, MaxAbs(out_nb)), "out (no bias)");
          matmul_forward(ctx, got.data(), inp.data(), w.data(), b.data(), N, C, OC);
          ExpectAllNear(got, out_b, Tol(C + 1, MaxAbs(out_b)), "out (bias)");

          // dinp is overwritten (pre-filled with NaN), dweight/dbias accumulate.
          V g_dinp(N * C, NAN), g_dw = dw0, g_db = db0;
          matmul_backward(ctx, g_dinp.data(), g_dw.data(), g_db.data(), dout.data(), inp.data(), w.data(), N, C, OC);
          ExpectAllNear(g_dinp, dinp, Tol(OC, MaxAbs(dinp)), "dinp");
          ExpectAllNear(g_dw, dw, Tol(N + 1, MaxAbs(dw)), "dweight");
          ExpectAllNear(g_db, db, Tol(N + 1, MaxAbs(db)), "dbias");

          // Optional outputs skipped: dweight must come out the same.
          V g_dw2 = dw0;
          matmul_backward(ctx, nullptr, g_dw2.data(), nullptr, dout.data(), inp.data(), w.data(), N, C, OC);
          ExpectAllNear(g_dw2, dw, Tol(N + 1, MaxAbs(dw)), "dweight (null dinp, dbias)");
        }
      }
}

// The library backends reach the contract through sgemm's beta, so check it
// directly: the forward overwrites out whatever it held (bias or not), dinp is
// overwritten, dweight and dbias accumulate over calls (beta = 1, not 0), and
// a null dinp or dbias changes nothing else.
TEST(KernelsMatmul, LibraryBackendsOverwriteAndAccumulateLikeTiled) {
  Rng rng(14);
  const int N = 24, C = 100, OC = 70;
  const V inp = RandomVec(rng, N * C), w = RandomVec(rng, OC * C), b = RandomVec(rng, OC);
  const V dout = RandomVec(rng, N * OC), dw0 = RandomVec(rng, OC * C), db0 = RandomVec(rng, OC);
  // The built-in kernel, two backward calls into the same gradients.
  V out(N * OC), dinp(N * C), dw = dw0, db = db0;
  matmul_forward(Context{1}, out.data(), inp.data(), w.data(), b.data(), N, C, OC);
  for (int call = 0; call < 2; call++)
    matmul_backward(Context{1}, dinp.data(), dw.data(), db.data(), dout.data(), inp.data(), w.data(), N, C, OC);
  for (MatmulBackend backend : {MatmulBackend::kBlas, MatmulBackend::kOneDnn})
    for (int threads : {1, 2}) {
      const Context ctx{threads, nullptr, backend};
      SCOPED_TRACE(fmt::format("threads={} backend={}", threads, MatmulBackendName(backend)));
      V g_out(N * OC, NAN);
      matmul_forward(ctx, g_out.data(), inp.data(), w.data(), b.data(), N, C, OC);
      ExpectAllNear(g_out, out, Tol(C + 1, MaxAbs(out)), "out (bias, NaN before)");
      V g_dinp(N * C, NAN), g_dw = dw0, g_db = db0;
      for (int call = 0; call < 2; call++) {
        if (call == 1) g_dinp.assign(N * C, NAN);
        matmul_backward(ctx, g_dinp.data(), g_dw.data(), g_db.data(), dout.data(), inp.data(), w.data(), N, C, OC);
        ExpectAllNear(g_dinp, dinp, Tol(OC, MaxAbs(dinp)), fmt::format("dinp (call {})", call));
      }
      ExpectAllNear(g_dw, dw, Tol(2 * N + 1, MaxAbs(dw)), "dweight after two calls");
      ExpectAllNear(g_db, db, Tol(2 * N + 1, MaxAbs(db)), "dbias after two calls");
      // Without dinp and dbias, dweight gets exactly the same update.
      V g_dw2 = dw0;
      for (int call = 0; call < 2; call++)
        matmul_backward(ctx, nullptr, g_dw2.data(), nullptr, dout.data(), inp.data(), w.data(), N, C, OC);
      ExpectBitEqual(g_dw2, g_dw, "dweight (null dinp, dbias)");
    }
}

TEST(KernelsMatmul, LibrariesAreTheOnesCMakeChose) {
  // The OpenBLAS build CMake linked (CPU_LLM_OPENBLAS_BUILD, by default the
  // OpenMP one: see src/kernels/matmul_blas.cc), not whichever build the
  // system's libopenblas.so.0 symlink points at.
  const std::string want = std::string(CPU_LLM_OPENBLAS_BUILD) == "pthread" ? "(pthreads)" : "(OpenMP threads)";
  EXPECT_NE(OpenBlasDescription().find(want), std::string::npos) << OpenBlasDescription();
  EXPECT_NE(OneDnnDescription().find("(OpenMP threads)"), std::string::npos) << OneDnnDescription();
}

TEST(KernelsMatmul, BackwardMatchesFiniteDifferences) {
  Rng rng(12);
  const int N = 3, C = 5, OC = 4;
  VD inp = Convert<double>(RandomVec(rng, N * C)), w = Convert<double>(RandomVec(rng, OC * C));
  VD b = Convert<double>(RandomVec(rng, OC));
  const VD R = Convert<double>(RandomVec(rng, N * OC));
  auto L = [&] {
    VD out(N * OC);
    ref::matmul_forward(out.data(), inp.data(), w.data(), b.data(), N, C, OC);
    return Dot(out, R);
  };
  VD dinp(N * C), dw(OC * C, 0.0), db(OC, 0.0);
  ref::matmul_backward(dinp.data(), dw.data(), db.data(), R.data(), inp.data(), w.data(), N, C, OC);
  ExpectGradMatchesFD(inp, dinp, L, "dinp");
  ExpectGradMatchesFD(w, dw, L, "dweight");
  ExpectGradMatchesFD(b, db, L, "dbias");
}

TEST(KernelsMatmul, BackwardIndependentOfThreadCount) {
  Rng rng(13);
  const int N = 37, C = 100, OC = 70;
  const V inp = RandomVec(rng, N * C), w = RandomVec(rng, OC * C), dout = RandomVec(rng, N * OC);
  const V dw0 = RandomVec(rng, OC * C), db0 = RandomVec(rng, OC);
  V dinp[2], dw[2], db[2];
  for (int i = 0; i < 2; i++) {
    dinp[i].assign(N * C, 0.0f);
    dw[i] = dw0;
    db[i] = db0;
    matmul_backward(kContexts[i], dinp[i].data(), dw[i].data(), db[i].data(), dout.data(), inp.data(), w.data(), N,
                    C, OC);
  }
  ExpectBitEqual(dinp[0], dinp[1], "dinp");
  ExpectBitEqual(dw[0], dw[1], "dweight");
  ExpectBitEqual(db[0], db[1], "dbias");
}

// ------------------------------------------------------------- layernorm

TEST(KernelsLayernorm, BackwardMatchesFiniteDifferences) {
  Rng rng(22);
  const int N = 3, C = 7;
  VD inp = Convert<double>(RandomVec(rng, N * C)), w = Convert<double>(RandomVec(rng, C));
  VD b = Convert<double>(RandomVec(rng, C));
  const VD R = Convert<double>(RandomVec(rng, N * C));
  VD mean(N), rstd(N);
  auto L = [&] {
    VD out(N * C), m(N), s(N);
    ref::layernorm_forward(out.data(), m.data(), s.data(), inp.data(), w.data(), b.data(), N, C);
    return Dot(out, R);
  };
  VD out(N * C);
  ref::layernorm_forward(out.data(), mean.data(), rstd.data(), inp.data(), w.data(), b.data(), N, C);
  VD dinp(N * C, 0.0), dw(C, 0.0), db(C, 0.0);
  ref::layernorm_backward(dinp.data(), dw.data(), db.data(), R.data(), inp.data(), w.data(), mean.data(),
                          rstd.data(), N, C);
  ExpectGradMatchesFD(inp, dinp, L, "dinp");
  ExpectGradMatchesFD(w, dw, L, "dweight");
  ExpectGradMatchesFD(b, db, L, "dbias");
}

// --------------------------------------------------------------- encoder

TEST(KernelsEncoder, BackwardMatchesFiniteDifferences) {
  Rng rng(32);
  const int B = 2, T = 3, C = 4, Vp = 5, maxT = 4;
  const std::vector<int32_t> tok = {1, 3, 1, 3, 3, 0};  // repeats within and across rows; 2 and 4 unused
  VD wte = Convert<double>(RandomVec(rng, Vp * C)), wpe = Convert<double>(RandomVec(rng, maxT * C));
  const VD R = Convert<double>(RandomVec(rng, B * T * C));
  auto L = [&] {
    VD out(B * T * C);
    ref::encoder_forward(out.data(), tok.data(), wte.data(), wpe.data(), B, T, C);
    return Dot(out, R);
  };
  VD dwte(Vp * C, 0.0), dwpe(maxT * C, 0.0);
  ref::encoder_backward(dwte.data(), dwpe.data(), R.data(), tok.data(), B, T, C);
  ExpectGradMatchesFD(wte, dwte, L, "dwte");
  ExpectGradMatchesFD(wpe, dwpe, L, "dwpe");
}

// ------------------------------------------------------------------ gelu

TEST(KernelsGelu, BackwardMatchesFiniteDifferences) {
  Rng rng(52);
  const int N = 64;
  VD inp = Convert<double>(RandomVec(rng, N, 2.5f));
  const VD R = Convert<double>(RandomVec(rng, N));
  auto L = [&] {
    VD out(N);
    ref::gelu_forward(out.data(), inp.data(), N);
    return Dot(out, R);
  };
  VD dinp(N);
  ref::gelu_backward(dinp.data(), inp.data(), R.data(), N);
  ExpectGradMatchesFD(inp, dinp, L, "dinp");
}

// ---------------------------------------------------------- crossentropy

TEST(KernelsCrossentropy, PaddingIsIgnored) {
  Rng rng(72);
  const int N = 7, Vr = 10;
  for (int Vp : {16, 128}) {
    SCOPED_TRACE(fmt::format("Vp={}", Vp));
    V zero_pad = RandomVec(rng, N * Vp, 2.0f);
    for (int n = 0; n < N; n++)
      for (int v = Vr; v < Vp; v++) zero_pad[n * Vp + v] = 0.0f;
    V huge_pad = zero_pad;  // a padding column read anywhere turns the result into inf/NaN
    for (int n = 0; n < N; n++)
      for (int v = Vr; v < Vp; v++) huge_pad[n * Vp + v] = 1e30f;
    const std::vector<int32_t> tgt = RandomTokens(rng, N, Vr);
    for (const Context& ctx : kContexts) {
      SCOPED_TRACE(fmt::format("threads={}", ctx.n_threads));
      V losses0(N), lse0(N), losses1(N), lse1(N);
      crossentropy_forward(ctx, losses0.data(), lse0.data(), zero_pad.data(), tgt.data(), N, Vr, Vp);
      crossentropy_forward(ctx, losses1.data(), lse1.data(), huge_pad.data(), tgt.data(), N, Vr, Vp);
      ExpectBitEqual(losses1, losses0, "losses");
      ExpectBitEqual(lse1, lse0, "lse");
      for (float l : losses0) EXPECT_TRUE(std::isfinite(l) && l > 0.0f);
      V d0(N * Vp, NAN), d1(N * Vp, NAN);
      crossentropy_backward(ctx, d0.data(), zero_pad.data(), lse0.data(), tgt.data(), 1.0f, N, Vr, Vp);
      crossentropy_backward(ctx, d1.data(), huge_pad.data(), lse0.data(), tgt.data(), 1.0f, N, Vr, Vp);
      ExpectBitEqual(d1, d0, "dlogits");
      V inplace = huge_pad;
      crossentropy_backward(ctx, inplace.data(), inplace.data(), lse0.data(), tgt.data(), 1.0f, N, Vr, Vp);
      ExpectBitEqual(inplace, d0, "dlogits (in place)");
      for (int n = 0; n < N; n++) {
        double row_sum = 0.0;  // softmax - onehot sums to 0 over the real columns
        for (int v = 0; v < Vr; v++) row_sum += d1[n * Vp + v];
        EXPECT_NEAR(row_sum, 0.0, 1e-6) << "row " << n;
        EXPECT_LT(d1[n * Vp + tgt[n]], 0.0f) << "row " << n;
        for (int v = Vr; v < Vp; v++) EXPECT_EQ(d1[n * Vp + v], 0.0f) << "row " << n << " column " << v;
      }
    }
  }
}

TEST(KernelsCrossentropy, BackwardMatchesFiniteDifferences) {
  Rng rng(73);
  const int N = 4, Vr = 6, Vp = 8;
  VD logits = Convert<double>(RandomVec(rng, N * Vp, 2.0f));
  const std::vector<int32_t> tgt = {2, 0, 5, 2};
  const VD R = Convert<double>(RandomVec(rng, N));
  auto L = [&] {
    VD losses(N), lse(N);
    ref::crossentropy_forward(losses.data(), lse.data(), logits.data(), tgt.data(), N, Vr, Vp);
    return Dot(losses, R);
  };
  VD losses(N), lse(N), dlogits(N * Vp);
  ref::crossentropy_forward(losses.data(), lse.data(), logits.data(), tgt.data(), N, Vr, Vp);
  // dloss is one scalar per call, so each row is its own call with dloss = R[n].
  for (int n = 0; n < N; n++)
    ref::crossentropy_backward(&dlogits[n * Vp], &logits[n * Vp], &lse[n], &tgt[n], R[n], 1, Vr, Vp);
  ExpectGradMatchesFD(logits, dlogits, L, "dlogits");  // padding columns: 0 both ways
}

}  // namespace
}  // namespace cpu_llm

namespace cpu_llm {
namespace {

// The vectorizable exp/tanh against libm in double: exp relative error and
// tanh absolute error stay within a few float ulps over the ranges used.
TEST(KernelsFastMath, ExpAndTanhMatchLibm) {
  double worst_exp = 0, worst_tanh = 0;
  for (int i = -200000; i <= 200000; i++) {
    const float x = i * 4.0e-4f;  // [-80, 80]
    const double e = std::exp((double)x);
    worst_exp = std::max(worst_exp, std::fabs(FastExp(x) - e) / e);
    const float u = i * 5.0e-5f;  // [-10, 10]
    worst_tanh = std::max(worst_tanh, std::fabs(FastTanh(u) - std::tanh((double)u)));
  }
  EXPECT_LT(worst_exp, 3e-7);
  EXPECT_LT(worst_tanh, 2e-7);
  EXPECT_EQ(FastTanh(0.0f), 0.0f);
  EXPECT_EQ(FastTanh(50.0f), 1.0f);
  EXPECT_EQ(FastTanh(-50.0f), -1.0f);
  EXPECT_LT(FastExp(-1000.0f), 1e-37f);
  EXPECT_TRUE(std::isfinite(FastExp(1000.0f)));
}

}  // namespace
}  // namespace cpu_llm
