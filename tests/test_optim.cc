// Optimizer tests: the learning-rate schedule, the global gradient norm and
// AdamW against a hand-written scalar AdamW in double.
#include <gtest/gtest.h>

#include <cmath>
#include <cstdint>
#include <set>
#include <vector>

#include "core/context.h"
#include "core/rng.h"
#include "model/config.h"
#include "model/gpt2.h"
#include "optim/adamw.h"
#include "test_util.h"

namespace cpu_llm {
namespace {

using test::MaxAbs;
using test::RandomVec;
using V = std::vector<float>;

// ---------------------------------------------------------- LrSchedule

TEST(OptimLrSchedule, WarmupIsLinear) {
  const LrSchedule s{1e-3f, 10, 110, 0.1f};
  EXPECT_FLOAT_EQ(s.At(1), 1e-4f);
  EXPECT_FLOAT_EQ(s.At(10), 1e-3f);
  for (int k = 1; k <= 10; k++) EXPECT_FLOAT_EQ(s.At(k), 1e-3f * k / 10) << "step " << k;
}

TEST(OptimLrSchedule, CosineDecayToFloor) {
  const float lr = 1e-3f, floor = lr * 0.1f;
  const LrSchedule s{lr, 10, 110, 0.1f};
  EXPECT_FLOAT_EQ(s.At(110), floor);
  EXPECT_FLOAT_EQ(s.At(111), floor);  // held after the end
  EXPECT_FLOAT_EQ(s.At(1000), floor);
  EXPECT_FLOAT_EQ(s.At(60), floor + 0.5f * (lr - floor));  // halfway through the decay
  // A quarter of the way: cos(pi/4).
  EXPECT_FLOAT_EQ(s.At(35), floor + 0.5f * (1.0f + std::cos(static_cast<float>(M_PI) / 4)) * (lr - floor));
  EXPECT_LT(s.At(11), lr);
  EXPECT_GT(s.At(109), floor);
  for (int step = 10; step < 200; step++) EXPECT_LE(s.At(step + 1), s.At(step)) << "step " << step;
}

TEST(OptimLrSchedule, WithoutWarmup) {
  const float lr = 6e-4f, floor = lr * 0.25f;
  const LrSchedule s{lr, 0, 100, 0.25f};
  EXPECT_LE(s.At(1), lr);
  EXPECT_GT(s.At(1), 0.99f * lr);
  EXPECT_FLOAT_EQ(s.At(50), floor + 0.5f * (lr - floor));
  EXPECT_FLOAT_EQ(s.At(100), floor);
  for (int step = 1; step < 120; step++) EXPECT_LE(s.At(step + 1), s.At(step)) << "step " << step;
}

// GlobalGradNorm is held to a double-precision sum, 1 vs 2 threads bit for
// bit, on every SIMD target in test_kernels_simd.cc.

// ----------------------------------------------------------------- AdamW

ModelConfig TinyConfig() {
  ModelConfig c;
  c.n_layer = 1;
  c.n_head = 2;
  c.n_embd = 8;
  c.max_seq_len = 4;
  c.vocab_size = 10;
  c.padded_vocab_size = PadVocab(10);
  return c;
}

// wte, wpe, qkvw, attprojw, fcw, fcprojw: the 2-D tensors (llm.c order).
const std::set<int> kMatrices = {0, 1, 4, 6, 10, 12, 16};

// Per-element weight-decay flags from the list above, independent of ParamIsMatrix.
std::vector<bool> DecayMask(const ModelConfig& cfg) {
  std::vector<bool> mask;
  auto sizes = ParamSizes(cfg);
  for (int i = 0; i < kNumParamTensors; i++) mask.insert(mask.end(), sizes[i], kMatrices.count(i) > 0);
  return mask;
}

TEST(OptimAdamW, ParamIsMatrixMarksTheWeightMatrices) {
  for (int i = 0; i < kNumParamTensors; i++) EXPECT_EQ(ParamIsMatrix(i), kMatrices.count(i) > 0) << "tensor " << i;
}

// Scalar AdamW in double: bias-corrected moments, decoupled decay lr*wd*p.
struct ScalarAdamW {
  std::vector<double> p, m, v;
  void Step(const V& g, double lr, double scale, int t, const AdamWConfig& o, const std::vector<bool>& decay) {
    const double b1 = o.beta1, b2 = o.beta2;
    for (size_t i = 0; i < p.size(); i++) {
      const double gi = static_cast<double>(g[i]) * scale;
      m[i] = b1 * m[i] + (1 - b1) * gi;
      v[i] = b2 * v[i] + (1 - b2) * gi * gi;
      const double mhat = m[i] / (1 - std::pow(b1, t)), vhat = v[i] / (1 - std::pow(b2, t));
      const double wd = decay[i] ? o.weight_decay : 0.0;
      p[i] -= lr * (mhat / (std::sqrt(vhat) + o.eps) + wd * p[i]);
    }
  }
};

TEST(OptimAdamW, MatchesScalarReference) {
  const ModelConfig cfg = TinyConfig();
  const int64_t n = ParameterCount(cfg);
  const std::vector<bool> decay = DecayMask(cfg);
  ASSERT_EQ(static_cast<int64_t>(decay.size()), n);
  AdamWConfig opt;
  opt.weight_decay = 0.5f;
  // eps comparable to |g| and a non-unit grad_scale: Adam is otherwise
  // invariant to the gradient scale, and eps would not show.
  opt.eps = 1e-2f;
  const float lrs[3] = {1e-2f, 2e-2f, 5e-3f};
  const float grad_scale = 0.5f;
  for (int threads : {1, 2}) {
    SCOPED_TRACE(testing::Message() << "threads=" << threads);
    Rng rng(7);
    V params = RandomVec(rng, n);
    ScalarAdamW ref{std::vector<double>(params.begin(), params.end()), std::vector<double>(n, 0.0),
                    std::vector<double>(n, 0.0)};
    AdamW adam;
    adam.Init(cfg, opt);
    ASSERT_EQ(adam.size(), n);
    for (int t = 1; t <= 3; t++) {
      const V grads = RandomVec(rng, n, 0.02f);
      adam.Update(Context{threads}, params.data(), grads.data(), lrs[t - 1], grad_scale, t);
      ref.Step(grads, lrs[t - 1], grad_scale, t, opt, decay);
      // Float vs double over 3 steps: a few ulp of |p| ~ 1 (1e-7 each); a
      // missing bias correction, decay term, eps or grad scale moves p by
      // ~lr * 0.1 = 1e-3.
      test::ExpectAllNear(params, ref.p, 1e-6 * (1.0 + MaxAbs(ref.p)), "params step " + std::to_string(t));
      test::ExpectAllNear(V(adam.m(), adam.m() + n), ref.m, 1e-6 * MaxAbs(ref.m), "m step " + std::to_string(t));
      test::ExpectAllNear(V(adam.v(), adam.v() + n), ref.v, 1e-6 * MaxAbs(ref.v), "v step " + std::to_string(t));
    }
  }
}

TEST(OptimAdamW, WeightDecayOnlyOnMatrices) {
  // With zero gradients the moments stay 0 and the only change is the
  // decoupled decay: p <- p - lr*wd*p for matrices, nothing for the rest.
  const ModelConfig cfg = TinyConfig();
  const int64_t n = ParameterCount(cfg);
  AdamWConfig opt;
  opt.weight_decay = 0.1f;
  AdamW adam;
  adam.Init(cfg, opt);
  Rng rng(8);
  const V p0 = RandomVec(rng, n);
  V params = p0;
  const V zeros(n, 0.0f);
  const float lr = 0.05f;
  adam.Update(Context{2}, params.data(), zeros.data(), lr, 1.0f, 1);
  auto sizes = ParamSizes(cfg);
  int64_t start = 0;
  for (int i = 0; i < kNumParamTensors; i++) {
    const bool matrix = kMatrices.count(i) > 0;
    int64_t changed = 0;
    for (int64_t j = start; j < start + sizes[i]; j++) {
      if (matrix) {
        EXPECT_FLOAT_EQ(params[j], p0[j] * (1.0f - lr * opt.weight_decay)) << "tensor " << i;
      }
      changed += params[j] != p0[j];
    }
    if (matrix && sizes[i] > 0) {  // GPT-2's block has no untied head (tensor 16)
      EXPECT_GT(changed, 0) << "tensor " << i << " is a matrix but was not decayed";
    } else {
      EXPECT_EQ(changed, 0) << "tensor " << i << " is not a matrix but was decayed";
    }
    start += sizes[i];
  }
  ASSERT_EQ(start, n);
}

TEST(OptimAdamW, GradScaleIsApplied) {
  const ModelConfig cfg = TinyConfig();
  const int64_t n = ParameterCount(cfg);
  AdamWConfig opt;
  opt.eps = 1e-2f;  // large enough that the update depends on |g|
  Rng rng(9);
  const V p0 = RandomVec(rng, n), g = RandomVec(rng, n, 0.05f);
  V g_quarter = g;
  for (auto& x : g_quarter) x *= 0.25f;  // exact: a power of two
  AdamW a, b, c;
  a.Init(cfg, opt);
  b.Init(cfg, opt);
  c.Init(cfg, opt);
  V pa = p0, pb = p0, pc = p0;
  for (int t = 1; t <= 2; t++) {
    a.Update(Context{1}, pa.data(), g.data(), 1e-2f, 0.25f, t);
    b.Update(Context{1}, pb.data(), g_quarter.data(), 1e-2f, 1.0f, t);
    c.Update(Context{1}, pc.data(), g.data(), 1e-2f, 1.0f, t);
  }
  test::ExpectBitEqual(pa, pb, "scaled in Update vs pre-scaled gradients");
  double diff = 0.0;
  for (int64_t i = 0; i < n; i++) diff = std::max(diff, std::fabs(static_cast<double>(pa[i]) - pc[i]));
  EXPECT_GT(diff, 1e-4) << "grad_scale had no effect";
}

}  // namespace
}  // namespace cpu_llm
