// RMSNorm and RoPE against PyTorch: fixtures written by
// tools/gen_op_fixtures_norm_rope.py (float64 torch from float32 inputs,
// the layout documented there), so no torch is needed here. Every SIMD
// target and 1 and 2 threads are held to the same tolerances, stated per
// array as a multiple of the largest |value| that torch computed; the
// worst errors seen are printed.
#include <fmt/format.h>
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <cstdio>
#include <cstring>
#include <string>
#include <vector>

#include "core/context.h"
#include "core/file_io.h"
#include "kernels/rmsnorm.h"
#include "kernels/rope.h"
#include "test_util.h"

namespace cpu_llm {
namespace {

using test::ExpectAllNear;
using test::ForEachSimdTarget;
using test::kContexts;
using test::MaxAbs;
using V = std::vector<float>;

const std::string kDir = CPU_LLM_FIXTURE_DIR;

// Reads a fixture front to back; every read is bounds-checked.
class FixtureReader {
 public:
  explicit FixtureReader(const std::string& name) {
    const Status s = ReadFileBytes(kDir + "/" + name, &bytes_);
    EXPECT_TRUE(s.ok()) << s.message();
  }
  bool Magic(const char* tag) {
    char got[4] = {};
    Take(got, 4);
    return std::memcmp(got, tag, 4) == 0;
  }
  int32_t Int() {
    int32_t v = 0;
    Take(&v, 4);
    return v;
  }
  float Float() {
    float v = 0;
    Take(&v, 4);
    return v;
  }
  V Floats(int64_t n) {
    V v(static_cast<size_t>(n));
    Take(v.data(), n * 4);
    return v;
  }
  bool AtEnd() const { return pos_ == bytes_.size(); }

 private:
  void Take(void* dst, int64_t n) {
    ASSERT_LE(pos_ + n, bytes_.size()) << "fixture too short";
    std::memcpy(dst, bytes_.data() + pos_, n);
    pos_ += n;
  }
  std::vector<uint8_t> bytes_;
  size_t pos_ = 0;
};

// max |got - want| / max |want|, what the tolerances below bound.
double RelErr(const V& got, const V& want) {
  double worst = 0.0;
  for (size_t i = 0; i < got.size(); i++) worst = std::max(worst, std::fabs((double)got[i] - want[i]));
  return worst / MaxAbs(want);
}

// Measured when written (AVX2, SSE4, SSSE3 and scalar, 1 and 2 threads): out
// 1.2e-7, rstd 8.8e-8, dinp 1.5e-7, dweight 1.2e-7 of the largest value, a
// couple of float roundings. The bounds leave ~10x for other targets and
// compilers; a wrong or missing term is off by 1e-2 or more.
constexpr double kRmsnormOutTol = 1e-6, kRmsnormRstdTol = 1e-6, kRmsnormDinpTol = 2e-6, kRmsnormDweightTol = 2e-6;

TEST(KernelsRmsnorm, MatchesTorch) {
  FixtureReader f("op_rmsnorm.bin");
  ASSERT_TRUE(f.Magic("RMSN"));
  ASSERT_EQ(f.Int(), 1);
  const int n_cases = f.Int();
  f.Int();
  double worst[4] = {};
  for (int k = 0; k < n_cases; k++) {
    const int N = f.Int(), C = f.Int();
    const float eps = f.Float();
    f.Int();
    SCOPED_TRACE(fmt::format("N={} C={} eps={}", N, C, eps));
    const V inp = f.Floats((int64_t)N * C), w = f.Floats(C), out = f.Floats((int64_t)N * C), rstd = f.Floats(N);
    const V dout = f.Floats((int64_t)N * C), dinp = f.Floats((int64_t)N * C), dw = f.Floats(C);
    ForEachSimdTarget([&] {
      for (const Context& ctx : kContexts) {
        SCOPED_TRACE(fmt::format("threads={}", ctx.n_threads));
        V g_out(N * C, NAN), g_rstd(N, NAN), g_dinp(N * C, 0.0f), g_dw(C, 0.0f);
        rmsnorm_forward(ctx, g_out.data(), g_rstd.data(), inp.data(), w.data(), N, C, eps);
        rmsnorm_backward(ctx, g_dinp.data(), g_dw.data(), dout.data(), inp.data(), w.data(), g_rstd.data(), N, C);
        ExpectAllNear(g_out, out, kRmsnormOutTol * MaxAbs(out), "out");
        ExpectAllNear(g_rstd, rstd, kRmsnormRstdTol * MaxAbs(rstd), "rstd");
        ExpectAllNear(g_dinp, dinp, kRmsnormDinpTol * MaxAbs(dinp), "dinp");
        ExpectAllNear(g_dw, dw, kRmsnormDweightTol * MaxAbs(dw), "dweight");
        worst[0] = std::max(worst[0], RelErr(g_out, out));
        worst[1] = std::max(worst[1], RelErr(g_rstd, rstd));
        worst[2] = std::max(worst[2], RelErr(g_dinp, dinp));
        worst[3] = std::max(worst[3], RelErr(g_dw, dw));
      }
    });
  }
  EXPECT_TRUE(f.AtEnd());
  std::printf("rmsnorm vs torch, worst error / max|value|: out %.2g rstd %.2g dinp %.2g dweight %.2g\n", worst[0],
              worst[1], worst[2], worst[3]);
}

// Measured when written: the table is torch's to the bit (both round the same
// double once; 6e-8 allows a libm one ulp apart), out and dqkv 7e-8 of the
// largest value. A rotation is two products and a sum per element; 1e-6 is
// ~14x that and far below a wrong pairing, sign or position (O(1)).
constexpr double kRopeTableTol = 6e-8, kRopeTol = 1e-6;

TEST(KernelsRope, MatchesTorch) {
  FixtureReader f("op_rope.bin");
  ASSERT_TRUE(f.Magic("ROPE"));
  ASSERT_EQ(f.Int(), 1);
  const int n_cases = f.Int(), max_T = f.Int(), HS = f.Int();
  const float theta = f.Float();
  f.Int();
  f.Int();
  const int64_t table_n = (int64_t)max_T * (HS / 2);
  const V want_cs = f.Floats(table_n), want_sn = f.Floats(table_n);
  V cs(table_n, NAN), sn(table_n, NAN);
  rope_table(cs.data(), sn.data(), max_T, HS, theta);
  // cos and sin lie in [-1, 1]: the bound is absolute.
  ExpectAllNear(cs, want_cs, kRopeTableTol, "cos table");
  ExpectAllNear(sn, want_sn, kRopeTableTol, "sin table");
  double worst[3] = {};  // table (absolute), out, dqkv
  for (int64_t i = 0; i < table_n; i++)
    worst[0] = std::max({worst[0], std::fabs((double)cs[i] - want_cs[i]), std::fabs((double)sn[i] - want_sn[i])});
  for (int k = 0; k < n_cases; k++) {
    const int B = f.Int(), T = f.Int(), C = f.Int(), NH = f.Int(), pos0 = f.Int();
    for (int i = 0; i < 3; i++) f.Int();
    SCOPED_TRACE(fmt::format("B={} T={} C={} NH={} pos0={}", B, T, C, NH, pos0));
    ASSERT_EQ(C, NH * HS);
    ASSERT_LE(pos0 + T, max_T);
    const int64_t n = (int64_t)B * T * 3 * C;
    const V qkv = f.Floats(n), out = f.Floats(n), dout = f.Floats(n), dqkv = f.Floats(n);
    ForEachSimdTarget([&] {
      for (const Context& ctx : kContexts) {
        SCOPED_TRACE(fmt::format("threads={}", ctx.n_threads));
        V g_out = qkv, g_dqkv = dout;
        rope_forward(ctx, g_out.data(), cs.data(), sn.data(), B, T, C, NH, pos0);
        rope_backward(ctx, g_dqkv.data(), cs.data(), sn.data(), B, T, C, NH, pos0);
        ExpectAllNear(g_out, out, kRopeTol * MaxAbs(out), "out");
        ExpectAllNear(g_dqkv, dqkv, kRopeTol * MaxAbs(dqkv), "dqkv");
        worst[1] = std::max(worst[1], RelErr(g_out, out));
        worst[2] = std::max(worst[2], RelErr(g_dqkv, dqkv));
      }
    });
  }
  EXPECT_TRUE(f.AtEnd());
  std::printf("rope vs torch: table worst abs error %.2g; worst error / max|value|: out %.2g dqkv %.2g\n", worst[0],
              worst[1], worst[2]);
}

}  // namespace
}  // namespace cpu_llm
