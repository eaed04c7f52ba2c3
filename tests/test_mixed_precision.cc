// The model and a training step in mixed precision (bf16, fp16) against fp32:
// the same loss and gradients to within the 16-bit formats' rounding, the
// same results on any thread count, and fp16's loss scaling skipping an
// update whose gradients overflowed.
#include <gtest/gtest.h>

#include <cmath>
#include <vector>

#include "core/rng.h"
#include "model/config.h"
#include "model/gpt2.h"
#include "optim/adamw.h"
#include "optim/loss_scaler.h"
#include "test_util.h"
#include "train/step.h"

namespace cpu_llm {
namespace {

constexpr int kB = 4, kT = 32;

ModelConfig SmallConfig() {
  ModelConfig c;
  c.n_layer = 3;
  c.n_head = 4;
  c.n_embd = 64;
  c.max_seq_len = kT;
  c.vocab_size = 257;
  c.padded_vocab_size = PadVocab(257);
  return c;
}

struct Batch {
  std::vector<int32_t> inputs, targets;
  Batch() {
    Rng rng(5);
    inputs = test::RandomTokens(rng, kB * kT, 257);
    targets = test::RandomTokens(rng, kB * kT, 257);
  }
};

void InitModel(GPT2* m) {
  ASSERT_TRUE(m->Init(SmallConfig()).ok());
  Rng rng(11);
  m->InitWeights(rng);
}

struct LossAndGrads {
  float loss = 0.0f;
  std::vector<float> grads;
};

LossAndGrads OneStep(Precision p, int threads) {
  GPT2 m;
  InitModel(&m);
  const Batch b;
  const Context ctx{threads, nullptr, MatmulBackend::kTiled, p};
  LossAndGrads r;
  m.ZeroGrad();
  EXPECT_TRUE(m.ForwardForTraining(ctx, b.inputs.data(), b.targets.data(), kB, kT, 1.0f, &r.loss).ok());
  EXPECT_TRUE(m.Backward(ctx, b.inputs.data()).ok());
  r.grads.assign(m.grads(), m.grads() + m.num_params());
  return r;
}

double RelativeL2(const std::vector<float>& a, const std::vector<float>& ref) {
  double num = 0.0, den = 0.0;
  for (size_t i = 0; i < a.size(); i++) {
    num += (double)(a[i] - ref[i]) * (a[i] - ref[i]);
    den += (double)ref[i] * ref[i];
  }
  return std::sqrt(num / den);
}

// Every product's operands rounded to 8 (bf16) or 11 (fp16) significant bits:
// relative errors of order 2^-8 and 2^-11 per product, which partly cancel
// over the sums. Measured relative errors: bf16 loss 4e-6, gradients 0.34%;
// fp16 loss 1.3e-6, gradients 0.044%. The bounds allow ~10x that, and the
// checks that the results differ from fp32 at all show the rounding is
// really applied.
TEST(MixedPrecision, LossAndGradientsTrackFp32) {
  const LossAndGrads fp32 = OneStep(Precision::kFp32, 2);
  struct Case {
    Precision p;
    double loss_tol, grad_tol;
  };
  for (Case c : {Case{Precision::kBf16, 5e-5, 0.03}, Case{Precision::kFp16, 2e-5, 0.005}}) {
    SCOPED_TRACE(PrecisionName(c.p));
    const LossAndGrads low = OneStep(c.p, 2);
    EXPECT_NEAR(low.loss, fp32.loss, c.loss_tol * fp32.loss);
    EXPECT_NE(low.loss, fp32.loss);
    const double rel = RelativeL2(low.grads, fp32.grads);
    EXPECT_LT(rel, c.grad_tol);
    EXPECT_GT(rel, 1e-6);
  }
}

TEST(MixedPrecision, BitIdenticalAcrossThreadCounts) {
  for (Precision p : {Precision::kBf16, Precision::kFp16}) {
    SCOPED_TRACE(PrecisionName(p));
    const LossAndGrads one = OneStep(p, 1), two = OneStep(p, 2);
    EXPECT_EQ(one.loss, two.loss);
    test::ExpectBitEqual(one.grads, two.grads, "gradients, 1 vs 2 threads");
  }
}

TEST(MixedPrecision, BackwardRefusesAnotherPrecisionThanTheForward) {
  GPT2 m;
  InitModel(&m);
  const Batch b;
  float loss = 0.0f;
  const Context bf16{1, nullptr, MatmulBackend::kTiled, Precision::kBf16};
  ASSERT_TRUE(m.ForwardForTraining(bf16, b.inputs.data(), b.targets.data(), kB, kT, 1.0f, &loss).ok());
  const Status s = m.Backward(Context{1}, b.inputs.data());
  ASSERT_FALSE(s.ok());
  EXPECT_NE(s.message().find("bf16"), std::string::npos) << s.message();
}

// d_logits are (p - onehot) / (B*T) times the scale: at 2^24 they pass fp16's
// largest value (65504) as the LM head's backward rounds them, the gradient
// norm is infinite, and the step must leave the weights and AdamW alone.
TEST(MixedPrecision, Fp16OverflowSkipsTheUpdateAndHalvesTheScale) {
  GPT2 m;
  InitModel(&m);
  AdamW adamw;
  adamw.Init(m.config(), AdamWConfig{});
  const Batch b;
  const Context fp16{2, nullptr, MatmulBackend::kTiled, Precision::kFp16};
  LossScalerConfig sc;
  sc.initial_scale = 16777216.0f;
  DynamicLossScaler scaler(sc);
  const std::vector<float> before(m.params(), m.params() + m.num_params());
  StepStats stats;
  ASSERT_TRUE(TrainStep(fp16, m, adamw, b.inputs.data(), b.targets.data(), kB, kT, 1e-3f, 1, &scaler, &stats).ok());
  EXPECT_TRUE(stats.skipped);
  EXPECT_FALSE(stats.nonfinite);  // an overflow the scale mends, not a bad step
  EXPECT_EQ(stats.loss_scale, 16777216.0f);
  EXPECT_EQ(scaler.scale(), 8388608.0f);
  EXPECT_EQ(scaler.skipped_steps(), 1);
  EXPECT_TRUE(std::isfinite(stats.loss));
  test::ExpectBitEqual(std::vector<float>(m.params(), m.params() + m.num_params()), before, "weights after a skip");
  for (int64_t i = 0; i < adamw.size(); i++) ASSERT_EQ(adamw.m()[i], 0.0f);

  // At a scale fp16 holds, the update happens and the reported norm is the
  // unscaled gradient's: the same as a step without scaling, to rounding.
  DynamicLossScaler moderate(LossScalerConfig{256.0f});
  GPT2 m2;
  InitModel(&m2);
  AdamW adamw2;
  adamw2.Init(m2.config(), AdamWConfig{});
  StepStats scaled, plain;
  ASSERT_TRUE(
      TrainStep(fp16, m2, adamw2, b.inputs.data(), b.targets.data(), kB, kT, 1e-3f, 1, &moderate, &scaled).ok());
  EXPECT_FALSE(scaled.skipped);
  EXPECT_EQ(moderate.clean_steps(), 1);
  EXPECT_NE(std::vector<float>(m2.params(), m2.params() + m2.num_params()), before);
  GPT2 m3;
  InitModel(&m3);
  AdamW adamw3;
  adamw3.Init(m3.config(), AdamWConfig{});
  ASSERT_TRUE(TrainStep(fp16, m3, adamw3, b.inputs.data(), b.targets.data(), kB, kT, 1e-3f, 1, nullptr, &plain).ok());
  EXPECT_NEAR(scaled.grad_norm, plain.grad_norm, 1e-3 * plain.grad_norm);
}

}  // namespace
}  // namespace cpu_llm
