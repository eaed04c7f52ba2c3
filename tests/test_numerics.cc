// Non-finite numbers (issue 10): the anomaly detector names the first op
// whose output holds an inf or NaN, for a NaN placed in each parameter
// tensor in turn (so the op it must name is known), in the forward and in
// the backward; a step whose loss or gradient is non-finite leaves the
// weights, the AdamW moments and the fp16 loss scale exactly as they were.
#include <gtest/gtest.h>

#include <cmath>
#include <cstring>
#include <string>
#include <vector>

#include "core/anomaly.h"
#include "core/rng.h"
#include "model/gpt2.h"
#include "optim/adamw.h"
#include "optim/loss_scaler.h"
#include "test_model_util.h"
#include "test_util.h"
#include "train/step.h"

namespace cpu_llm {
namespace {

constexpr int kB = 2, kT = 8;
constexpr int kWte = 0, kWpe = 1, kLn1w = 2, kLn1b = 3, kQkvw = 4, kQkvb = 5, kAttprojw = 6, kLn2w = 8, kFcw = 10,
              kFcb = 11, kFcprojw = 12, kLnfw = 14, kLmheadw = 16;

ModelConfig Tiny(bool llama) { return test::TinyConfig(2, 16, llama); }

struct Batch {
  std::vector<int32_t> inputs, targets;
  Batch() {
    Rng rng(3);
    inputs = test::RandomTokens(rng, kB * kT, 50);
    targets = test::RandomTokens(rng, kB * kT, 50);
  }
};

void InitModel(GPT2* m, bool llama) {
  ASSERT_TRUE(m->Init(Tiny(llama)).ok());
  Rng rng(11);
  m->InitWeights(rng);
}

int64_t Offset(const GPT2& m, int tensor, int layer, int64_t at) {
  return test::ParamOffset(m.config(), tensor, layer, at);
}

// What the detector says after forward and backward of the batch.
std::string Trace(GPT2& m, Precision precision, float grad_scale = 1.0f) {
  const Batch b;
  AnomalyDetector detector;
  Context ctx{2, nullptr, MatmulBackend::kTiled, precision};
  ctx.anomaly = &detector;
  EXPECT_TRUE(m.PrepareBatch(kB, kT, 2, precision).ok());
  float loss = 0.0f;
  EXPECT_TRUE(m.ForwardForTraining(ctx, b.inputs.data(), b.targets.data(), kB, kT, grad_scale, &loss).ok());
  EXPECT_TRUE(m.Backward(ctx, b.inputs.data()).ok());
  return detector.Describe();
}

TEST(AnomalyDetector, KeepsTheFirstNonFiniteOutputOnly) {
  AnomalyDetector d;
  const std::vector<float> ok = {1.0f, 2.0f}, bad = {0.0f, INFINITY, NAN, 1.0f};
  d.Check(false, 0, "matmul qkv", "qkv", ok.data(), 2);
  EXPECT_FALSE(d.found());
  EXPECT_EQ(d.Describe(), "");
  d.Check(true, 3, "attention", "d_qkv", bad.data(), 4);
  d.Check(false, 1, "residual", "residual2", bad.data(), 4);  // later: ignored
  EXPECT_TRUE(d.found());
  EXPECT_EQ(d.Describe(), "backward, layer 3, attention: d_qkv holds 2 non-finite values of 4 (first: inf at 1)");
  d.Reset();
  EXPECT_FALSE(d.found());
  d.Check(false, -1, "embedding", "encoded", bad.data() + 2, 1);
  EXPECT_EQ(d.Describe(), "forward, embedding: encoded holds 1 non-finite value of 1 (first: nan at 0)");
  EXPECT_EQ(FirstNonFinite(ok.data(), 2), -1);
  EXPECT_EQ(FirstNonFinite(bad.data(), 4), 1);
}

struct Case {
  bool llama;
  int tensor, layer;
  const char* want;  // how Describe() begins
};

// Each tensor's NaN first shows in the op that reads that tensor.
TEST(AnomalyDetector, NamesTheOpThatReadsTheNonFiniteWeight) {
  const Batch b;
  const int C = Tiny(false).n_embd;
  const std::vector<Case> cases = {
      {false, kWte, -1, "forward, embedding: encoded holds"},
      {false, kWpe, -1, "forward, embedding: encoded holds"},
      {false, kLn1w, 1, "forward, layer 1, layernorm: ln1 output holds"},
      {false, kLn1b, 0, "forward, layer 0, layernorm: ln1 output holds"},
      {false, kQkvw, 0, "forward, layer 0, matmul qkv: qkv holds"},
      {false, kQkvb, 1, "forward, layer 1, matmul qkv: qkv holds"},
      {false, kAttprojw, 1, "forward, layer 1, matmul attn proj: attn proj output holds"},
      {false, kLn2w, 0, "forward, layer 0, layernorm: ln2 output holds"},
      {false, kFcw, 1, "forward, layer 1, matmul fc: fch holds"},
      {false, kFcb, 0, "forward, layer 0, matmul fc: fch holds"},
      {false, kFcprojw, 1, "forward, layer 1, matmul fc proj: fc proj output holds"},
      {false, kLnfw, -1, "forward, layernorm: final norm output holds"},
      {true, kLn1w, 1, "forward, layer 1, rmsnorm: ln1 output holds"},
      {true, kFcw, 0, "forward, layer 0, matmul fc: fch holds"},
      {true, kLmheadw, -1, "forward, matmul lm head: logits holds"},
  };
  for (Precision precision : {Precision::kFp32, Precision::kBf16}) {
    for (const Case& c : cases) {
      GPT2 m;
      InitModel(&m, c.llama);
      // wte: a row the batch reads; elsewhere the slice's second element.
      const int64_t at = c.tensor == kWte ? (int64_t)b.inputs[0] * C + 1 : 1;
      m.params()[Offset(m, c.tensor, std::max(c.layer, 0), at)] = NAN;
      const std::string got = Trace(m, precision);
      EXPECT_EQ(got.rfind(c.want, 0), 0u) << ParamName(c.tensor) << " layer " << c.layer << " in "
                                          << PrecisionName(precision) << ": " << got;
      EXPECT_EQ(NonFiniteParams(m).rfind(ParamName(c.tensor), 0), 0u) << NonFiniteParams(m);
    }
  }
}

TEST(AnomalyDetector, CleanWeightsGiveNoFinding) {
  for (bool llama : {false, true}) {
    GPT2 m;
    InitModel(&m, llama);
    EXPECT_EQ(Trace(m, Precision::kFp32), "");
    EXPECT_EQ(NonFiniteParams(m), "");
  }
}

TEST(AnomalyDetector, BackwardFindingsNameTheBackwardOp) {
  // An infinite d_loss leaves the forward finite; cross-entropy's backward
  // is the first op to see it.
  GPT2 m;
  InitModel(&m, false);
  EXPECT_EQ(Trace(m, Precision::kFp32, INFINITY).rfind("backward, cross-entropy: d_logits holds", 0), 0u);
}

TEST(AnomalyDetector, Fp16OverflowIsNamedAtTheStore) {
  // qkv products past fp16's 65504 are finite in fp32 and turn infinite
  // when the layer's output is saved in 16 bits.
  GPT2 m;
  InitModel(&m, false);
  const int C = m.config().n_embd;
  // Random signs (a constant row would sum the layernorm's zero-mean output
  // to nothing): qkv ~ N(0, 8000^2 C), so many pass 65504.
  Rng rng(5);
  for (int64_t i = 0; i < 3 * C * C; i++) m.params()[Offset(m, kQkvw, 0, i)] = 8000.0f * rng.Normal();
  EXPECT_EQ(Trace(m, Precision::kFp16).rfind("forward, layer 0, 16-bit store: qkv holds", 0), 0u)
      << Trace(m, Precision::kFp16);
}

// The bits of every weight and AdamW moment.
std::vector<float> State(GPT2& m, AdamW& adamw) {
  std::vector<float> s(m.params(), m.params() + m.num_params());
  s.insert(s.end(), adamw.m(), adamw.m() + adamw.size());
  s.insert(s.end(), adamw.v(), adamw.v() + adamw.size());
  return s;
}

bool SameBits(const std::vector<float>& a, const std::vector<float>& b) {
  return a.size() == b.size() && std::memcmp(a.data(), b.data(), a.size() * sizeof(float)) == 0;
}

TEST(NonFiniteStep, IsSkippedWithoutTouchingWeightsMomentsOrTheLossScale) {
  const Batch b;
  for (Precision precision : {Precision::kFp32, Precision::kBf16, Precision::kFp16}) {
    GPT2 m;
    InitModel(&m, false);
    AdamW adamw;
    adamw.Init(m.config(), AdamWConfig{});
    const Context ctx{1, nullptr, MatmulBackend::kTiled, precision};
    DynamicLossScaler scaler(LossScalerConfig{1024.0f});
    DynamicLossScaler* s = precision == Precision::kFp16 ? &scaler : nullptr;
    ASSERT_TRUE(m.PrepareBatch(kB, kT, 1, precision).ok());
    StepStats stats;
    // A clean step first, so the moments are not all zero.
    ASSERT_TRUE(TrainStep(ctx, m, adamw, b.inputs.data(), b.targets.data(), kB, kT, 1e-3f, 1, s, &stats).ok());
    ASSERT_FALSE(stats.skipped);

    const int64_t bad = Offset(m, kFcprojw, 1, 5);
    const float saved = m.params()[bad];
    m.params()[bad] = NAN;
    const std::vector<float> before = State(m, adamw);
    ASSERT_TRUE(TrainStep(ctx, m, adamw, b.inputs.data(), b.targets.data(), kB, kT, 1e-3f, 2, s, &stats).ok());
    EXPECT_TRUE(stats.nonfinite) << PrecisionName(precision);
    EXPECT_TRUE(stats.skipped);
    EXPECT_FALSE(std::isfinite(stats.loss)) << stats.loss;
    EXPECT_TRUE(SameBits(State(m, adamw), before)) << PrecisionName(precision);
    if (s) {
      EXPECT_EQ(scaler.scale(), 1024.0f);  // not the scale's fault: left alone
      EXPECT_EQ(scaler.skipped_steps(), 0);
    }

    // Mended, the next step updates again.
    m.params()[bad] = saved;
    ASSERT_TRUE(TrainStep(ctx, m, adamw, b.inputs.data(), b.targets.data(), kB, kT, 1e-3f, 2, s, &stats).ok());
    EXPECT_FALSE(stats.nonfinite);
    EXPECT_FALSE(stats.skipped);
    EXPECT_TRUE(std::isfinite(stats.loss));
    m.params()[bad] = NAN;  // only the other weights are compared
    EXPECT_FALSE(SameBits(State(m, adamw), before));
  }
}

TEST(NonFiniteStep, TraceNonFiniteReplaysTheMicroBatchWithChecks) {
  const Batch b;
  GPT2 m;
  InitModel(&m, false);
  ASSERT_TRUE(m.PrepareBatch(kB, kT, 1, Precision::kFp32).ok());
  const Context ctx{1};
  EXPECT_EQ(TraceNonFinite(ctx, m, b.inputs.data(), b.targets.data(), kB, kT, 1.0f), "");
  m.params()[Offset(m, kAttprojw, 0, 2)] = NAN;
  EXPECT_EQ(TraceNonFinite(ctx, m, b.inputs.data(), b.targets.data(), kB, kT, 1.0f)
                .rfind("forward, layer 0, matmul attn proj: attn proj output holds", 0),
            0u);
}

}  // namespace
}  // namespace cpu_llm
