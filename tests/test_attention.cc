// Attention tests: the two references (softmax rows kept, or only each row's
// log-sum-exp) against each other and against central finite differences in
// double; the fused kernels against them on shapes that hit every edge of the
// block loops, on 1 and 2 threads; thread-count independence; the decode
// path; all three on every SIMD target the CPU supports. (The softmax's exp
// is FastExp of kernels/simd-inl.h, checked against libm on every target by
// KernelsSimd.ExpMatchesLibm.)
#include <fmt/format.h>
#include <gtest/gtest.h>

#include <cmath>
#include <cstdint>
#include <string>
#include <vector>

#include "core/context.h"
#include "core/rng.h"
#include "kernels/attention.h"
#include "kernels/reference/reference.h"
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

struct AttnShape {
  int B, T, C, NH;
};
// T against the 32-key block: one partial block (1, 2, 5, 7, 17, 31), exactly
// one (32), one and a key (33), several with a partial last tile (65, 100,
// 130). hs = 64 runs the compiled-in head size, the others the run-time one.
const AttnShape kAttnShapes[] = {{1, 1, 4, 1},    {1, 2, 6, 2},    {1, 5, 15, 5},   {2, 7, 12, 3},
                                 {2, 17, 24, 6},  {1, 31, 12, 2},  {1, 32, 64, 1},  {2, 33, 20, 4},
                                 {1, 1, 64, 1},   {1, 65, 128, 2}, {2, 100, 48, 3}, {1, 130, 16, 2},
                                 {1, 70, 192, 3}};

TEST(KernelsAttention, ReferencesAgree) {
  Rng rng(40);
  for (AttnShape s : {AttnShape{2, 5, 6, 2}, AttnShape{1, 9, 12, 3}, AttnShape{1, 1, 4, 1}}) {
    const int B = s.B, T = s.T, C = s.C, NH = s.NH;
    SCOPED_TRACE(fmt::format("B={} T={} C={} NH={}", B, T, C, NH));
    const VD qkv = Convert<double>(RandomVec(rng, B * T * 3 * C)), dout = Convert<double>(RandomVec(rng, B * T * C));
    VD out(B * T * C), att(B * NH * T * T), dqkv(B * T * 3 * C);
    ref::attention_forward(out.data(), att.data(), qkv.data(), B, T, C, NH);
    ref::attention_backward(dqkv.data(), dout.data(), qkv.data(), att.data(), B, T, C, NH);
    VD out2(B * T * C), lse(B * NH * T), dqkv2(B * T * 3 * C);
    ref::attention_forward_lse(out2.data(), lse.data(), qkv.data(), B, T, C, NH);
    ref::attention_backward_lse(dqkv2.data(), dout.data(), qkv.data(), out2.data(), lse.data(), B, T, C, NH);
    ExpectAllNear(out2, out, 1e-12, "out");
    ExpectAllNear(dqkv2, dqkv, 1e-12, "dqkv");
  }
}

TEST(KernelsAttention, BackwardMatchesFiniteDifferences) {
  Rng rng(42);
  for (AttnShape s : {AttnShape{2, 3, 6, 2}, AttnShape{1, 4, 3, 1}}) {
    const int B = s.B, T = s.T, C = s.C, NH = s.NH;
    SCOPED_TRACE(fmt::format("B={} T={} C={} NH={}", B, T, C, NH));
    VD qkv = Convert<double>(RandomVec(rng, B * T * 3 * C));
    const VD R = Convert<double>(RandomVec(rng, B * T * C));
    VD out(B * T * C), att(B * NH * T * T), lse(B * NH * T);
    auto L = [&] {
      ref::attention_forward(out.data(), att.data(), qkv.data(), B, T, C, NH);
      return Dot(out, R);
    };
    auto L_lse = [&] {
      ref::attention_forward_lse(out.data(), lse.data(), qkv.data(), B, T, C, NH);
      return Dot(out, R);
    };
    L();  // leaves the softmax of the unperturbed qkv in att
    VD dqkv(B * T * 3 * C);
    ref::attention_backward(dqkv.data(), R.data(), qkv.data(), att.data(), B, T, C, NH);
    ExpectGradMatchesFD(qkv, dqkv, L, "dqkv (softmax rows)");
    L_lse();  // leaves out and lse of the unperturbed qkv
    ref::attention_backward_lse(dqkv.data(), R.data(), qkv.data(), out.data(), lse.data(), B, T, C, NH);
    ExpectGradMatchesFD(qkv, dqkv, L_lse, "dqkv (lse)");
  }
}

// The fused kernels against the references. Inputs at scale 1 and 4: at 4
// the scores reach tens, so the softmax is peaked and a row's running max
// moves from block to block (the online rescaling is exercised). Outputs and
// scratch start as NaN: every output must be written, and no scratch read
// before it is written.
TEST(KernelsAttention, FusedMatchesReference) {
  Rng rng(41);
  for (const AttnShape& s : kAttnShapes)
    for (float scale : {1.0f, 4.0f}) {
      const int B = s.B, T = s.T, C = s.C, NH = s.NH, hs = C / NH;
      SCOPED_TRACE(fmt::format("B={} T={} C={} NH={} scale={}", B, T, C, NH, scale));
      const V qkv = RandomVec(rng, B * T * 3 * C, scale), dout = RandomVec(rng, B * T * C);
      // Both references: the one with the kernels' interface, and the plain T x T one.
      V out(B * T * C), lse(B * NH * T), dqkv(B * T * 3 * C);
      ref::attention_forward_lse(out.data(), lse.data(), qkv.data(), B, T, C, NH);
      ref::attention_backward_lse(dqkv.data(), dout.data(), qkv.data(), out.data(), lse.data(), B, T, C, NH);
      V out_tt(B * T * C), att(B * NH * T * T), dqkv_tt(B * T * 3 * C);
      ref::attention_forward(out_tt.data(), att.data(), qkv.data(), B, T, C, NH);
      ref::attention_backward(dqkv_tt.data(), dout.data(), qkv.data(), att.data(), B, T, C, NH);
      for (const Context& ctx : kContexts) {
        SCOPED_TRACE(fmt::format("threads={}", ctx.n_threads));
        V g_out(B * T * C, NAN), g_lse(B * NH * T, NAN), g_dqkv(B * T * 3 * C, NAN);
        V scratch(attention_scratch_floats(ctx.n_threads, T, C, NH), NAN);
        attention_forward(ctx, g_out.data(), g_lse.data(), scratch.data(), qkv.data(), B, T, C, NH);
        ExpectAllNear(g_out, out, Tol(T * hs, MaxAbs(out)), "out");
        ExpectAllNear(g_out, out_tt, Tol(T * hs, MaxAbs(out)), "out vs T x T");
        ExpectAllNear(g_lse, lse, Tol(T * hs, MaxAbs(lse)), "lse");
        scratch.assign(scratch.size(), NAN);
        attention_backward(ctx, g_dqkv.data(), scratch.data(), dout.data(), qkv.data(), g_out.data(), g_lse.data(), B,
                           T, C, NH);
        ExpectAllNear(g_dqkv, dqkv, Tol(T * hs, MaxAbs(dqkv)), "dqkv");
        ExpectAllNear(g_dqkv, dqkv_tt, Tol(T * hs, MaxAbs(dqkv)), "dqkv vs T x T");
      }
    }
}

// Each head runs on one thread, start to end, so results are bit-identical
// whatever the thread count. Enough work per (b, h) task that two threads
// run at the same time; both head-size paths.
TEST(KernelsAttention, IndependentOfThreadCount) {
  Rng rng(43);
  for (AttnShape s : {AttnShape{2, 100, 48, 3}, AttnShape{2, 70, 128, 2}}) {
    const int B = s.B, T = s.T, C = s.C, NH = s.NH;
    SCOPED_TRACE(fmt::format("B={} T={} C={} NH={}", B, T, C, NH));
    const V qkv = RandomVec(rng, B * T * 3 * C), dout = RandomVec(rng, B * T * C);
    V out[2], lse[2], dqkv[2];
    for (int i = 0; i < 2; i++) {
      out[i].assign(B * T * C, 0.0f);
      lse[i].assign(B * NH * T, 0.0f);
      dqkv[i].assign(B * T * 3 * C, 0.0f);
      V scratch(attention_scratch_floats(kContexts[i].n_threads, T, C, NH));
      attention_forward(kContexts[i], out[i].data(), lse[i].data(), scratch.data(), qkv.data(), B, T, C, NH);
      attention_backward(kContexts[i], dqkv[i].data(), scratch.data(), dout.data(), qkv.data(), out[i].data(),
                         lse[i].data(), B, T, C, NH);
    }
    ExpectBitEqual(out[0], out[1], "out");
    ExpectBitEqual(lse[0], lse[1], "lse");
    ExpectBitEqual(dqkv[0], dqkv[1], "dqkv");
  }
}

TEST(KernelsAttention, DecodeMatchesForwardRows) {
  Rng rng(44);
  for (AttnShape s : {AttnShape{1, 9, 12, 3}, AttnShape{1, 6, 8, 1}, AttnShape{1, 11, 64, 4}, AttnShape{1, 40, 128, 2}}) {
    const int T = s.T, C = s.C, NH = s.NH, hs = C / NH;
    SCOPED_TRACE(fmt::format("T={} C={} NH={}", T, C, NH));
    const V qkv = RandomVec(rng, T * 3 * C);
    V out(T * C), lse(NH * T), fwd_scratch(attention_scratch_floats(1, T, C, NH));
    attention_forward(kContexts[0], out.data(), lse.data(), fwd_scratch.data(), qkv.data(), 1, T, C, NH);
    const double tol = Tol(T * hs, MaxAbs(out));
    // Caches of row stride C, filled one position at a time as generation
    // does; rows not yet written are NaN and must not be read.
    V k_cache(T * C, NAN), v_cache(T * C, NAN);
    for (int t = 0; t < T; t++) {
      SCOPED_TRACE(fmt::format("t={}", t));
      for (int c = 0; c < C; c++) {
        k_cache[t * C + c] = qkv[t * 3 * C + C + c];
        v_cache[t * C + c] = qkv[t * 3 * C + 2 * C + c];
      }
      const V want(out.begin() + t * C, out.begin() + (t + 1) * C);
      V got(C, NAN), scratch(T, NAN);
      attention_decode(got.data(), scratch.data(), &qkv[t * 3 * C], k_cache.data(), v_cache.data(), C, t + 1, C, NH);
      ExpectAllNear(got, want, tol, "decode, ld = C");
      // The same with the keys and values read in place from qkv (ld = 3C).
      V got2(C, NAN);
      attention_decode(got2.data(), scratch.data(), &qkv[t * 3 * C], &qkv[C], &qkv[2 * C], 3 * C, t + 1, C, NH);
      ExpectAllNear(got2, want, tol, "decode, ld = 3C");
    }
  }
}

// The kernels on every Highway target this CPU supports (dispatch restricted
// to one at a time), against the reference, on shapes whose T is not a whole
// number of blocks and whose hs is not a whole number of vectors at any
// width (5, 12, 13), and the compiled-in hs = 64, with several batches and
// heads; forward and backward on 1 and 2 threads, bit-identical between
// them; decode of every position of the first sequence.
TEST(KernelsAttention, EveryTargetMatchesReference) {
  const std::vector<std::string> ran = ForEachSimdTarget([] {
    Rng rng(45);
    for (AttnShape s : {AttnShape{2, 37, 15, 3}, AttnShape{3, 70, 36, 3}, AttnShape{2, 45, 26, 2},
                        AttnShape{2, 33, 128, 2}}) {
      const int B = s.B, T = s.T, C = s.C, NH = s.NH, hs = C / NH;
      SCOPED_TRACE(fmt::format("B={} T={} C={} NH={}", B, T, C, NH));
      const V qkv = RandomVec(rng, B * T * 3 * C, 2.0f), dout = RandomVec(rng, B * T * C);
      V out(B * T * C), lse(B * NH * T), dqkv(B * T * 3 * C);
      ref::attention_forward_lse(out.data(), lse.data(), qkv.data(), B, T, C, NH);
      ref::attention_backward_lse(dqkv.data(), dout.data(), qkv.data(), out.data(), lse.data(), B, T, C, NH);
      const double tol_out = Tol(T * hs, MaxAbs(out)), tol_dqkv = Tol(T * hs, MaxAbs(dqkv));
      V g_out[2], g_lse[2], g_dqkv[2];
      for (int i = 0; i < 2; i++) {
        const Context& ctx = kContexts[i];
        SCOPED_TRACE(fmt::format("threads={}", ctx.n_threads));
        g_out[i].assign(B * T * C, NAN);
        g_lse[i].assign(B * NH * T, NAN);
        g_dqkv[i].assign(B * T * 3 * C, NAN);
        V scratch(attention_scratch_floats(ctx.n_threads, T, C, NH), NAN);
        attention_forward(ctx, g_out[i].data(), g_lse[i].data(), scratch.data(), qkv.data(), B, T, C, NH);
        ExpectAllNear(g_out[i], out, tol_out, "out");
        ExpectAllNear(g_lse[i], lse, Tol(T * hs, MaxAbs(lse)), "lse");
        scratch.assign(scratch.size(), NAN);
        attention_backward(ctx, g_dqkv[i].data(), scratch.data(), dout.data(), qkv.data(), g_out[i].data(),
                           g_lse[i].data(), B, T, C, NH);
        ExpectAllNear(g_dqkv[i], dqkv, tol_dqkv, "dqkv");
      }
      ExpectBitEqual(g_out[0], g_out[1], "out, 1 vs 2 threads");
      ExpectBitEqual(g_lse[0], g_lse[1], "lse, 1 vs 2 threads");
      ExpectBitEqual(g_dqkv[0], g_dqkv[1], "dqkv, 1 vs 2 threads");
      // Keys and values read in place from qkv (ld = 3C), first t + 1 of them.
      V got(C), scratch(T);
      for (int t = 0; t < T; t++) {
        got.assign(C, NAN);
        scratch.assign(T, NAN);
        attention_decode(got.data(), scratch.data(), &qkv[t * 3 * C], &qkv[C], &qkv[2 * C], 3 * C, t + 1, C, NH);
        const V want(out.begin() + t * C, out.begin() + (t + 1) * C);
        ExpectAllNear(got, want, tol_out, fmt::format("decode t={}", t));
      }
    }
  });
#if HWY_ARCH_X86
  EXPECT_GE(ran.size(), 2u);  // SSE2's portable fallback and one x86 target at least
#endif
}

}  // namespace
}  // namespace cpu_llm
