// The block options (plan item 10) beyond PyTorch parity (test_parity.cc):
// presets and option parsing, the parameter layout each option implies,
// the KV-cache decoder against the full forward for every option, thread
// determinism, checkpoints that record the options, and the kernels' "no
// bias" and "no learned positions" cases.
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <cstring>
#include <vector>

#include "core/rng.h"
#include "kernels/encoder.h"
#include "kernels/layernorm.h"
#include "model/config.h"
#include "model/gpt2.h"
#include "model/kv_cache.h"
#include "test_io_util.h"
#include "train/checkpoint.h"

namespace cpu_llm {
namespace {

using ::cpu_llm::testing::TempDir;

ModelConfig Tiny(NormKind norm, MlpKind mlp, PosKind pos, bool bias, bool tied) {
  ModelConfig c;
  c.n_layer = 2;
  c.n_head = 4;
  c.n_embd = 32;
  c.max_seq_len = 24;
  c.vocab_size = 257;
  c.padded_vocab_size = PadVocab(257);
  c.norm = norm;
  c.mlp = mlp;
  c.pos = pos;
  c.bias = bias;
  c.tied_head = tied;
  return c;
}

// Between them these use every option value.
std::vector<ModelConfig> Variants() {
  return {Tiny(NormKind::kLayerNorm, MlpKind::kGelu, PosKind::kLearned, true, true),
          Tiny(NormKind::kRmsNorm, MlpKind::kSwiGlu, PosKind::kRope, false, false),
          Tiny(NormKind::kLayerNorm, MlpKind::kRelu2, PosKind::kLearned, false, true),
          Tiny(NormKind::kRmsNorm, MlpKind::kSilu, PosKind::kRope, true, false)};
}

TEST(ModelBlocks, PresetsOptionsAndLayout) {
  ModelConfig c;
  ASSERT_TRUE(ConfigFromName("llama-d2", &c).ok());
  EXPECT_EQ(c.n_layer, 2);
  EXPECT_EQ(c.n_embd, 128);
  EXPECT_EQ(c.norm, NormKind::kRmsNorm);
  EXPECT_EQ(c.mlp, MlpKind::kSwiGlu);
  EXPECT_EQ(c.pos, PosKind::kRope);
  EXPECT_FALSE(c.bias);
  EXPECT_FALSE(c.tied_head);
  EXPECT_FALSE(IsGpt2Block(c));
  EXPECT_EQ(MlpHidden(c), 384);  // 8*128/3 = 341, rounded up to a multiple of 64
  EXPECT_EQ(MlpFcRows(c), 768);
  ASSERT_TRUE(ConfigFromName("gpt2", &c).ok());  // back to GPT-2's block
  EXPECT_TRUE(IsGpt2Block(c));
  EXPECT_FALSE(ConfigFromName("llama-x", &c).ok());

  // Sizes: GPT-2's block is llm.c's 16 tensors; each option drops or adds its own.
  const ModelConfig g = Variants()[0], l = Variants()[1];
  const auto gs = ParamSizes(g), ls = ParamSizes(l);
  const int64_t C = 32, L = 2, Vp = g.padded_vocab_size, H = MlpHidden(l);
  EXPECT_EQ(gs[16], 0);                 // tied head
  EXPECT_EQ(ls[16], Vp * C);            // untied head
  EXPECT_EQ(ls[1], 0);                  // RoPE: no wpe
  for (int i : {3, 5, 7, 9, 11, 13, 15}) EXPECT_EQ(ls[i], 0) << i;  // no biases (RMSNorm has none either)
  EXPECT_EQ(ls[10], L * 2 * H * C);     // SwiGLU's fused gate and up
  EXPECT_EQ(ls[12], L * C * H);
  GPT2 m;
  ASSERT_TRUE(m.Init(l).ok());
  const ParamView p = m.param_view();
  EXPECT_EQ(p.wpe, nullptr);
  EXPECT_EQ(p.qkvb, nullptr);
  EXPECT_NE(p.lmheadw, nullptr);
  EXPECT_NE(m.rope_cos(), nullptr);

  NormKind n;
  MlpKind k;
  PosKind pk;
  EXPECT_EQ(ParseNorm("batchnorm", &n).kind(), ErrorKind::kUsage);
  EXPECT_EQ(ParseMlp("tanh", &k).kind(), ErrorKind::kUsage);
  EXPECT_EQ(ParsePos("alibi", &pk).kind(), ErrorKind::kUsage);
  ModelConfig odd = l;
  odd.n_head = 32;  // head size 1: RoPE needs pairs
  EXPECT_FALSE(ValidateConfig(odd).ok());
}

// The decoder (one token at a time, RoPE at each position) gives the full
// forward's logits for every option.
TEST(ModelBlocks, KVCacheMatchesFullForwardForEveryOption) {
  for (const ModelConfig& cfg : Variants()) {
    GPT2 m;
    ASSERT_TRUE(m.Init(cfg).ok());
    Rng rng(5);
    m.InitWeights(rng);
    const int T = cfg.max_seq_len;
    std::vector<int32_t> tokens(T);
    for (int& t : tokens) t = static_cast<int>(rng.NextU64() % cfg.vocab_size);
    ASSERT_TRUE(m.PrepareBatch(1, T, 2).ok());
    float loss;
    std::vector<float> full((size_t)T * cfg.padded_vocab_size);
    ASSERT_TRUE(m.Forward(Context{2}, tokens.data(), nullptr, 1, T, &loss, full.data()).ok());
    KVCache cache;
    ASSERT_TRUE(cache.Init(cfg, T).ok());
    std::vector<float> logits(cfg.padded_vocab_size);
    for (int t = 0; t < T; t++) {
      ASSERT_TRUE(cache.Step(Context{1}, m, tokens[t], t, logits.data()).ok());
      double max_diff = 0;
      for (int v = 0; v < cfg.vocab_size; v++)
        max_diff = std::max(max_diff, (double)std::fabs(logits[v] - full[(size_t)t * cfg.padded_vocab_size + v]));
      ASSERT_LT(max_diff, 1e-5) << DescribeConfig(cfg) << " position " << t;
    }
    EXPECT_FALSE(cache.Step(Context{1}, m, tokens[0], T, logits.data()).ok());  // past the cache
    EXPECT_FALSE(cache.Step(Context{1}, m, 999, 0, logits.data()).ok());        // bad token
  }
}

// Same seed: bit-identical gradients, on the same thread count and across
// counts, since every kernel owns disjoint outputs and sums in a fixed order.
TEST(ModelBlocks, GradientsAreDeterministicAcrossThreadCounts) {
  for (const ModelConfig& cfg : Variants()) {
    std::vector<float> first;
    for (int threads : {1, 2, 2}) {
      GPT2 m;
      ASSERT_TRUE(m.Init(cfg).ok());
      Rng rng(11);
      m.InitWeights(rng);
      std::vector<int32_t> tokens(40), targets(40);
      for (int& t : tokens) t = static_cast<int>(rng.NextU64() % cfg.vocab_size);
      for (int& t : targets) t = static_cast<int>(rng.NextU64() % cfg.vocab_size);
      ASSERT_TRUE(m.PrepareBatch(2, 20, threads).ok());
      float loss;
      m.ZeroGrad();
      ASSERT_TRUE(m.ForwardForTraining(Context{threads}, tokens.data(), targets.data(), 2, 20, 1.0f, &loss).ok());
      ASSERT_TRUE(m.Backward(Context{threads}, tokens.data()).ok());
      std::vector<float> g(m.grads(), m.grads() + m.num_params());
      if (first.empty()) first = g;
      else
        ASSERT_EQ(0, std::memcmp(first.data(), g.data(), g.size() * sizeof(float)))
            << DescribeConfig(cfg) << ", " << threads << " threads";
    }
  }
}

// bf16 and fp16 (16-bit saved activations, fch F wide) train every block:
// the loss stays within 1% of fp32's and the gradients within a few percent.
TEST(ModelBlocks, MixedPrecisionTrainsEveryOption) {
  for (const ModelConfig& cfg : Variants()) {
    std::vector<float> ref_grads;
    float ref_loss = 0.0f;
    for (Precision precision : {Precision::kFp32, Precision::kBf16, Precision::kFp16}) {
      GPT2 m;
      ASSERT_TRUE(m.Init(cfg).ok());
      Rng rng(13);
      m.InitWeights(rng);
      std::vector<int32_t> tokens(40), targets(40);
      for (int& t : tokens) t = static_cast<int>(rng.NextU64() % cfg.vocab_size);
      for (int& t : targets) t = static_cast<int>(rng.NextU64() % cfg.vocab_size);
      Context ctx{2};
      ctx.precision = precision;
      ASSERT_TRUE(m.PrepareBatch(2, 20, 2, precision).ok());
      float loss = 0.0f;
      m.ZeroGrad();
      ASSERT_TRUE(m.ForwardForTraining(ctx, tokens.data(), targets.data(), 2, 20, 1.0f, &loss).ok());
      ASSERT_TRUE(m.Backward(ctx, tokens.data()).ok());
      if (precision == Precision::kFp32) {
        ref_loss = loss;
        ref_grads.assign(m.grads(), m.grads() + m.num_params());
        continue;
      }
      EXPECT_NEAR(loss, ref_loss, 0.01 * ref_loss) << DescribeConfig(cfg) << " " << PrecisionName(precision);
      double num = 0.0, den = 0.0;
      for (int64_t i = 0; i < m.num_params(); i++) {
        ASSERT_TRUE(std::isfinite(m.grads()[i]));
        num += (m.grads()[i] - ref_grads[i]) * (m.grads()[i] - ref_grads[i]);
        den += ref_grads[i] * ref_grads[i];
      }
      EXPECT_LT(std::sqrt(num / den), 0.05) << DescribeConfig(cfg) << " " << PrecisionName(precision);
    }
  }
}

// A model file records its options: the llama-style model comes back with
// the same block and weights; GPT-2's block stays llm.c's version 3; bf16
// export (llm.c's format) refuses another block.
TEST(ModelBlocks, CheckpointsRecordTheOptions) {
  TempDir dir;
  for (const ModelConfig& cfg : Variants()) {
    GPT2 m;
    ASSERT_TRUE(m.Init(cfg).ok());
    Rng rng(2);
    m.InitWeights(rng);
    const std::string path = dir / "model.bin";
    ASSERT_TRUE(SaveModel(path, m).ok());
    GPT2 back;
    Status s = LoadModel(path, &back);
    ASSERT_TRUE(s.ok()) << s.message();
    const ModelConfig& b = back.config();
    EXPECT_EQ(b.norm, cfg.norm);
    EXPECT_EQ(b.mlp, cfg.mlp);
    EXPECT_EQ(b.pos, cfg.pos);
    EXPECT_EQ(b.bias, cfg.bias);
    EXPECT_EQ(b.tied_head, cfg.tied_head);
    EXPECT_EQ(MlpHidden(b), MlpHidden(cfg));
    ASSERT_EQ(back.num_params(), m.num_params());
    EXPECT_EQ(0, std::memcmp(back.params(), m.params(), m.num_params() * sizeof(float)));
    int32_t version = 0;
    std::vector<uint8_t> bytes = ::cpu_llm::testing::ReadBytes(path);
    std::memcpy(&version, bytes.data() + 4, 4);
    EXPECT_EQ(version, IsGpt2Block(cfg) ? kModelVersionFp32 : kModelVersionBlocks);
    Status bf16 = SaveModel(dir / "model.bf16.bin", m, WeightFormat::kBf16);
    EXPECT_EQ(bf16.ok(), IsGpt2Block(cfg));
  }
}

TEST(ModelBlocks, KernelsWithoutBiasOrPositions) {
  const int N = 5, C = 37;
  std::vector<float> x(N * C), w(C), zero(C, 0.0f), out_a(N * C), out_b(N * C), mean(N), rstd(N);
  Rng rng(9);
  for (float& v : x) v = rng.Normal();
  for (float& v : w) v = 1.0f + 0.1f * rng.Normal();
  layernorm_forward(Context{2}, out_a.data(), mean.data(), rstd.data(), x.data(), w.data(), zero.data(), N, C);
  layernorm_forward(Context{2}, out_b.data(), mean.data(), rstd.data(), x.data(), w.data(), nullptr, N, C);
  EXPECT_EQ(out_a, out_b);
  std::vector<float> dout(N * C), dx_a(N * C, 0.0f), dx_b(N * C, 0.0f), dw_a(C, 0.0f), dw_b(C, 0.0f), db(C, 0.0f);
  for (float& v : dout) v = rng.Normal();
  layernorm_backward(Context{2}, dx_a.data(), dw_a.data(), db.data(), dout.data(), x.data(), w.data(), mean.data(),
                     rstd.data(), N, C);
  layernorm_backward(Context{2}, dx_b.data(), dw_b.data(), nullptr, dout.data(), x.data(), w.data(), mean.data(),
                     rstd.data(), N, C);
  EXPECT_EQ(dx_a, dx_b);
  EXPECT_EQ(dw_a, dw_b);

  // Encoder without wpe: the token rows alone, and no position gradient.
  const int B = 2, T = 3;
  std::vector<float> wte(10 * C), enc((size_t)B * T * C), dwte(10 * C, 0.0f);
  for (float& v : wte) v = rng.Normal();
  const int32_t tokens[B * T] = {1, 4, 4, 9, 0, 1};
  encoder_forward(Context{2}, enc.data(), tokens, wte.data(), nullptr, B, T, C);
  for (int bt = 0; bt < B * T; bt++)
    for (int c = 0; c < C; c++) ASSERT_EQ(enc[(size_t)bt * C + c], wte[(size_t)tokens[bt] * C + c]);
  encoder_backward(Context{2}, dwte.data(), nullptr, enc.data(), tokens, B, T, C);
  for (int c = 0; c < C; c++) EXPECT_FLOAT_EQ(dwte[4 * C + c], 2 * wte[4 * C + c]);
}

}  // namespace
}  // namespace cpu_llm
