// GPT2 model behaviour beyond PyTorch parity: configs, input checks, memory
// and gradient accumulation. The KV cache against the full forward pass and
// determinism across thread counts are checked for every block, GPT-2's
// included, in test_model_blocks.cc.
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <cstring>
#include <vector>

#include "core/rng.h"
#include "model/config.h"
#include "model/gpt2.h"

namespace cpu_llm {
namespace {

ModelConfig TinyConfig() {
  ModelConfig c;
  c.n_layer = 2;
  c.n_head = 4;
  c.n_embd = 32;
  c.max_seq_len = 24;
  c.vocab_size = 257;
  c.padded_vocab_size = PadVocab(257);
  return c;
}

std::vector<int32_t> RandomTokens(Rng& rng, int n, int V) {
  std::vector<int32_t> t(n);
  for (int& x : t) x = static_cast<int>(rng.NextU64() % V);
  return t;
}

TEST(ModelConfig, NamedPresets) {
  ModelConfig c;
  ASSERT_TRUE(ConfigFromName("gpt2", &c).ok());
  EXPECT_EQ(c.n_layer, 12);
  EXPECT_EQ(c.n_head, 12);
  EXPECT_EQ(c.n_embd, 768);
  c.vocab_size = 50257;
  c.padded_vocab_size = PadVocab(50257);
  c.max_seq_len = 1024;
  EXPECT_EQ(c.padded_vocab_size, 50304);
  EXPECT_EQ(ParameterCount(c), 124475904);  // llm.c's figure for GPT-2 124M
  ASSERT_TRUE(ConfigFromName("d24", &c).ok());
  EXPECT_EQ(c.n_embd, 1024);
  EXPECT_EQ(c.n_head, 16);
  ASSERT_TRUE(ConfigFromName("d6", &c).ok());
  EXPECT_EQ(c.n_embd, 384);
  EXPECT_EQ(c.n_head, 6);
  for (const char* bad : {"", "d", "d0", "d49", "dx", "gpt3", "d6x"}) {
    Status s = ConfigFromName(bad, &c);
    EXPECT_FALSE(s.ok()) << bad;
    EXPECT_EQ(s.exit_code(), 2);
  }
}

TEST(ModelConfig, ValidationNamesTheProblem) {
  ModelConfig c = TinyConfig();
  c.n_embd = 30;  // not divisible by 4 heads
  Status s = ValidateConfig(c);
  ASSERT_FALSE(s.ok());
  EXPECT_NE(s.message().find("divisible"), std::string::npos);
  c = TinyConfig();
  c.n_layer = 0;
  EXPECT_FALSE(ValidateConfig(c).ok());
  c = TinyConfig();
  c.padded_vocab_size = 100;
  EXPECT_FALSE(ValidateConfig(c).ok());
}

TEST(Model, RejectsOutOfRangeTokensAndShapes) {
  GPT2 m;
  ASSERT_TRUE(m.Init(TinyConfig()).ok());
  Rng rng(1);
  m.InitWeights(rng);
  Context ctx{1};
  EXPECT_FALSE(m.PrepareBatch(0, 8, 1).ok());
  EXPECT_FALSE(m.PrepareBatch(2, 25, 1).ok());  // T > max_seq_len
  ASSERT_TRUE(m.PrepareBatch(2, 8, 1).ok());
  std::vector<int32_t> tokens = RandomTokens(rng, 16, 257), targets = RandomTokens(rng, 16, 257);
  float loss = 0;
  tokens[5] = 257;
  Status s = m.Forward(ctx, tokens.data(), targets.data(), 2, 8, &loss);
  ASSERT_FALSE(s.ok());
  EXPECT_NE(s.message().find("257"), std::string::npos);
  tokens[5] = 3;
  targets[7] = -1;
  EXPECT_FALSE(m.Forward(ctx, tokens.data(), targets.data(), 2, 8, &loss).ok());
}

TEST(Model, InitialLossIsNearUniform) {
  GPT2 m;
  ASSERT_TRUE(m.Init(TinyConfig()).ok());
  Rng rng(7);
  m.InitWeights(rng);
  ASSERT_TRUE(m.PrepareBatch(4, 16, 2).ok());
  std::vector<int32_t> tokens = RandomTokens(rng, 64, 257), targets = RandomTokens(rng, 64, 257);
  float loss = 0;
  ASSERT_TRUE(m.Forward(Context{2}, tokens.data(), targets.data(), 4, 16, &loss).ok());
  EXPECT_NEAR(loss, std::log(257.0f), 0.1f);
}

// The memory check before training (ActivationBytes) counts exactly what the
// arenas hold in every precision, attention keeps O(T) per head, not a (T,T)
// matrix (doubling T doubles the activations), and mixed precision's 16-bit
// copies of qkv, atty and fch make the activations smaller.
TEST(Model, ActivationBytesMatchesArenasAndGrowsLinearly) {
  const ModelConfig cfg = TinyConfig();
  for (Precision p : {Precision::kFp32, Precision::kBf16, Precision::kFp16}) {
    for (int threads : {1, 2}) {
      GPT2 m;
      ASSERT_TRUE(m.Init(cfg).ok());
      ASSERT_TRUE(m.PrepareBatch(3, 20, threads, p).ok());
      EXPECT_EQ(m.activation_bytes(), (uint64_t)ActivationBytes(cfg, 3, 20, threads, p));
    }
    const double ratio = (double)ActivationBytes(cfg, 2, 1024, 1, p) / ActivationBytes(cfg, 2, 512, 1, p);
    EXPECT_LT(ratio, 2.01);  // with the old (L,B,NH,T,T) buffer: 3.3
  }
  // qkv, atty and fch are 8 of the 10 (B,T,C)-sized tensors saved per layer;
  // their fp32 copy for one layer in scratch costs two layers' worth of
  // savings, so with 12 layers the activations shrink by about a third.
  ModelConfig deep = cfg;
  deep.n_layer = 12;
  const double half_over_full =
      (double)ActivationBytes(deep, 4, 32, 1, Precision::kBf16) / ActivationBytes(deep, 4, 32, 1, Precision::kFp32);
  EXPECT_LT(half_over_full, 0.75);
  EXPECT_GT(half_over_full, 0.5);
}

// Each incremental decode step must give the same logits as the full causal
// forward pass at that position.
// Backward adds to the gradients: two calls give twice one call, and
// grad_scale scales linearly (the basis of gradient accumulation).
TEST(Model, BackwardAccumulatesAndScales) {
  const ModelConfig cfg = TinyConfig();
  GPT2 m;
  ASSERT_TRUE(m.Init(cfg).ok());
  Rng rng(5);
  m.InitWeights(rng);
  std::vector<int32_t> tokens = RandomTokens(rng, 32, cfg.vocab_size), targets = RandomTokens(rng, 32, cfg.vocab_size);
  ASSERT_TRUE(m.PrepareBatch(2, 16, 1).ok());
  Context ctx{1};
  float loss;
  auto grads_after = [&](int calls, float scale) {
    m.ZeroGrad();
    for (int i = 0; i < calls; i++) {
      EXPECT_TRUE(m.ForwardForTraining(ctx, tokens.data(), targets.data(), 2, 16, scale, &loss).ok());
      EXPECT_TRUE(m.Backward(ctx, tokens.data()).ok());
    }
    return std::vector<float>(m.grads(), m.grads() + m.num_params());
  };
  std::vector<float> one = grads_after(1, 1.0f), two = grads_after(2, 1.0f), half = grads_after(1, 0.5f);
  double max_ref = 0;
  for (float g : one) max_ref = std::max(max_ref, (double)std::fabs(g));
  for (size_t i = 0; i < one.size(); i++) {
    ASSERT_NEAR(two[i], 2 * one[i], 1e-6 * max_ref) << i;
    ASSERT_NEAR(half[i], 0.5f * one[i], 1e-6 * max_ref) << i;
  }
}

}  // namespace
}  // namespace cpu_llm

namespace cpu_llm {
namespace {

// B*T = 336 rows > kHeadRows, so the LM head runs in two chunks, the boundary
// in the middle of a sequence. Sequences are independent, so the batch's
// gradient must equal the average of its two halves' gradients, each run as
// one chunk.
TEST(Model, ChunkedHeadMatchesUnchunkedHalves) {
  const ModelConfig cfg = TinyConfig();
  const int T = cfg.max_seq_len, B = 14;
  ASSERT_GT(B * T, kHeadRows);
  ASSERT_LE(B / 2 * T, kHeadRows);
  GPT2 m;
  ASSERT_TRUE(m.Init(cfg).ok());
  Rng rng(21);
  m.InitWeights(rng);
  std::vector<int32_t> tokens = RandomTokens(rng, B * T, cfg.vocab_size);
  std::vector<int32_t> targets = RandomTokens(rng, B * T, cfg.vocab_size);
  const Context ctx{2};

  float whole_loss;
  m.ZeroGrad();
  ASSERT_TRUE(m.ForwardForTraining(ctx, tokens.data(), targets.data(), B, T, 1.0f, &whole_loss).ok());
  ASSERT_TRUE(m.Backward(ctx, tokens.data()).ok());
  const std::vector<float> whole(m.grads(), m.grads() + m.num_params());

  float half_loss[2];
  m.ZeroGrad();
  for (int h = 0; h < 2; h++) {
    const size_t off = (size_t)h * (B / 2) * T;
    ASSERT_TRUE(
        m.ForwardForTraining(ctx, tokens.data() + off, targets.data() + off, B / 2, T, 0.5f, &half_loss[h]).ok());
    ASSERT_TRUE(m.Backward(ctx, tokens.data() + off).ok());
  }
  EXPECT_NEAR(whole_loss, 0.5f * (half_loss[0] + half_loss[1]), 1e-5);
  double max_ref = 0;
  for (float g : whole) max_ref = std::max(max_ref, (double)std::fabs(g));
  ASSERT_GT(max_ref, 0.0);
  for (int64_t i = 0; i < m.num_params(); i++) ASSERT_NEAR(m.grads()[i], whole[i], 1e-5 * max_ref) << i;

  // The evaluation forward gives the same loss, and the logits it hands out
  // give it too.
  std::vector<float> logits((size_t)B * T * cfg.padded_vocab_size);
  float eval_loss;
  ASSERT_TRUE(m.Forward(ctx, tokens.data(), targets.data(), B, T, &eval_loss, logits.data()).ok());
  EXPECT_FLOAT_EQ(eval_loss, whole_loss);
  double sum = 0;
  for (int r = 0; r < B * T; r++) {
    const float* row = logits.data() + (size_t)r * cfg.padded_vocab_size;
    double mx = row[0], z = 0;
    for (int v = 0; v < cfg.vocab_size; v++) mx = std::max(mx, (double)row[v]);
    for (int v = 0; v < cfg.vocab_size; v++) z += std::exp(row[v] - mx);
    sum += mx + std::log(z) - row[targets[r]];
  }
  EXPECT_NEAR(sum / (B * T), eval_loss, 1e-4);
}

// Backward needs the training forward's saved state: refused otherwise, and
// after an evaluation forward has overwritten it.
TEST(Model, BackwardNeedsTrainingForward) {
  const ModelConfig cfg = TinyConfig();
  GPT2 m;
  ASSERT_TRUE(m.Init(cfg).ok());
  Rng rng(2);
  m.InitWeights(rng);
  std::vector<int32_t> tokens = RandomTokens(rng, 16, cfg.vocab_size);
  const Context ctx{1};
  float loss;
  EXPECT_FALSE(m.Backward(ctx, tokens.data()).ok());
  ASSERT_TRUE(m.ForwardForTraining(ctx, tokens.data(), tokens.data(), 1, 16, 1.0f, &loss).ok());
  ASSERT_TRUE(m.Forward(ctx, tokens.data(), tokens.data(), 1, 16, &loss).ok());
  EXPECT_FALSE(m.Backward(ctx, tokens.data()).ok());
  EXPECT_FALSE(m.ForwardForTraining(ctx, tokens.data(), nullptr, 1, 16, 1.0f, &loss).ok());
  EXPECT_FALSE(m.ForwardForTraining(ctx, tokens.data(), tokens.data(), 1, 16, 0.0f, &loss).ok());
}

}  // namespace
}  // namespace cpu_llm
