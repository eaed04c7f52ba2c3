// Token sampling (temperature, top-k) and KV-cached generation.
#include <gtest/gtest.h>

#include <cmath>
#include <vector>

#include "core/rng.h"
#include "model/gpt2.h"
#include "train/sampler.h"

namespace cpu_llm {
namespace {

TEST(Sampler, ZeroTemperatureIsArgmax) {
  const float logits[] = {0.1f, 2.0f, -1.0f, 1.9f};
  Rng rng(1);
  std::vector<float> p;
  std::vector<int> o;
  for (int i = 0; i < 50; i++) EXPECT_EQ(SampleToken(logits, 4, 0.0f, 0, rng, &p, &o), 1);
  for (int i = 0; i < 50; i++) EXPECT_EQ(SampleToken(logits, 4, 5.0f, 1, rng, &p, &o), 1);  // top-1
}

TEST(Sampler, TopKNeverLeavesTheTopK) {
  std::vector<float> logits = {3.0f, 0.0f, 2.9f, 0.1f, 2.8f, -5.0f};
  Rng rng(2);
  std::vector<float> p;
  std::vector<int> o;
  int seen[6] = {};
  for (int i = 0; i < 3000; i++) seen[SampleToken(logits.data(), 6, 2.0f, 3, rng, &p, &o)]++;
  EXPECT_EQ(seen[1] + seen[3] + seen[5], 0);
  EXPECT_GT(seen[0], 0);
  EXPECT_GT(seen[2], 0);
  EXPECT_GT(seen[4], 0);
}

// At temperature 1 the frequencies follow softmax(logits); at temperature 0.5
// they follow softmax(2 * logits).
TEST(Sampler, FrequenciesFollowTheTemperedSoftmax) {
  const float logits[] = {0.0f, 1.0f, 0.5f, -1.0f};
  for (float temp : {1.0f, 0.5f}) {
    Rng rng(3);
    std::vector<float> p;
    std::vector<int> o;
    const int n = 40000;
    int counts[4] = {};
    for (int i = 0; i < n; i++) counts[SampleToken(logits, 4, temp, 0, rng, &p, &o)]++;
    double z = 0;
    for (float l : logits) z += std::exp(l / temp);
    for (int v = 0; v < 4; v++) {
      const double expect = std::exp(logits[v] / temp) / z;
      const double sd = std::sqrt(expect * (1 - expect) / n);
      EXPECT_NEAR(counts[v] / double(n), expect, 5 * sd) << "token " << v << " temperature " << temp;
    }
  }
}

class Generation : public ::testing::Test {
 protected:
  void SetUp() override {
    cfg_.n_layer = 1;
    cfg_.n_head = 2;
    cfg_.n_embd = 16;
    cfg_.max_seq_len = 8;
    cfg_.vocab_size = 257;
    cfg_.padded_vocab_size = PadVocab(257);
    ASSERT_TRUE(model_.Init(cfg_).ok());
    Rng rng(9);
    model_.InitWeights(rng);
  }
  std::vector<int32_t> Run(const std::vector<int32_t>& prompt, SampleOptions so, uint64_t seed) {
    Rng rng(seed);
    std::vector<int32_t> out;
    Status s = Generate(Context{1}, model_, prompt, so, rng, [&](int32_t id) { out.push_back(id); });
    EXPECT_TRUE(s.ok()) << s.message();
    return out;
  }
  ModelConfig cfg_;
  GPT2 model_;
};

TEST_F(Generation, DeterministicForASeedAndSlidesPastTheContext) {
  SampleOptions so;
  so.max_new_tokens = 30;  // far beyond max_seq_len = 8
  so.temperature = 1.0f;
  const std::vector<int32_t> a = Run({256, 65, 66}, so, 42), b = Run({256, 65, 66}, so, 42), c = Run({256, 65, 66}, so, 43);
  EXPECT_EQ(a.size(), 30u);
  EXPECT_EQ(a, b);
  EXPECT_NE(a, c);
  for (int32_t id : a) EXPECT_TRUE(id >= 0 && id < cfg_.vocab_size);
}

TEST_F(Generation, StopsAtTheStopToken) {
  SampleOptions so;
  so.max_new_tokens = 10;
  so.temperature = 0.0f;
  const std::vector<int32_t> greedy = Run({256, 72}, so, 1);
  ASSERT_EQ(greedy.size(), 10u);
  so.stop_token = greedy[2];
  const std::vector<int32_t> stopped = Run({256, 72}, so, 1);
  // Ends at the first occurrence of the stop token, which it includes.
  size_t first = 0;
  while (greedy[first] != so.stop_token) first++;
  EXPECT_EQ(stopped.size(), first + 1);
  EXPECT_EQ(stopped.back(), so.stop_token);
}

TEST_F(Generation, RejectsAnEmptyPrompt) {
  Rng rng(1);
  Status s = Generate(Context{1}, model_, {}, SampleOptions{}, rng, [](int32_t) {});
  EXPECT_FALSE(s.ok());
}

}  // namespace
}  // namespace cpu_llm
