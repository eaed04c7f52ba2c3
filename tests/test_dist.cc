// Gradient averaging for data-parallel training (issue 9), in one process:
// a fake world whose "other ranks" contribute a known gradient checks that
// backward reports every part of the gradient arena exactly once, in the
// order the buckets were cut, and that the averages land where they belong.
// The real thing under mpirun is in test_cli_dist.cc.
#include <gtest/gtest.h>

#include <cmath>
#include <vector>

#include "core/rng.h"
#include "dist/communicator.h"
#include "dist/grad_averager.h"
#include "model/config.h"
#include "model/gpt2.h"
#include "test_model_util.h"

namespace cpu_llm {
namespace {

// A world of `world` ranks in which every other rank's gradient is `other`
// everywhere: an all-reduce sum adds (world - 1) * other to each element.
class FakeWorld final : public Communicator {
 public:
  FakeWorld(int world, float other) : world_(world), other_(other) {}
  int rank() const override { return 0; }
  int world() const override { return world_; }
  int local_ranks() const override { return world_; }
  Status Broadcast(void*, int64_t, int) override { return Status(); }
  Status AllreduceSum(float* d, int64_t n) override { return Add(d, n); }
  Status AllreduceSum(double*, int64_t) override { return Status(); }
  Status StartAllreduceSum(float* d, int64_t n) override {
    started.push_back(n);
    pending.push_back({d, n});
    return Status();
  }
  void Progress() override { progress_calls++; }
  Status WaitAll() override {
    for (auto [d, n] : pending) CPU_LLM_RETURN_IF_ERROR(Add(d, n));
    pending.clear();
    return Status();
  }
  void Abort(int) override {}

  std::vector<int64_t> started;
  std::vector<std::pair<float*, int64_t>> pending;
  int progress_calls = 0;

 private:
  Status Add(float* d, int64_t n) {
    for (int64_t i = 0; i < n; i++) d[i] += (world_ - 1) * other_;
    return Status();
  }
  int world_;
  float other_;
};

ModelConfig Tiny(bool llama) { return test::TinyConfig(3, 8, llama); }

// One training forward + backward of a tiny model with the averager told by
// backward; returns the model's gradients before averaging in *local.
void BackwardWithAverager(const ModelConfig& cfg, GradientAverager* avg, FakeWorld* world, GPT2* model,
                          std::vector<float>* local, float* mean_loss, int64_t bucket_floats) {
  ASSERT_TRUE(model->Init(cfg).ok());
  Rng rng(7);
  model->InitWeights(rng);
  const int B = 2, T = 8;
  ASSERT_TRUE(model->PrepareBatch(B, T, 1).ok());
  std::vector<int32_t> tokens(B * T), targets(B * T);
  for (int i = 0; i < B * T; i++) {
    tokens[i] = (i * 7) % cfg.vocab_size;
    targets[i] = (i * 11 + 3) % cfg.vocab_size;
  }
  const Context ctx{1};
  ASSERT_TRUE(avg->Init(world, cfg, model->grads(), bucket_floats).ok());
  model->ZeroGrad();
  float loss = 0.0f;
  ASSERT_TRUE(model->ForwardForTraining(ctx, tokens.data(), targets.data(), B, T, 1.0f, &loss).ok());
  avg->Begin(loss);
  // Parts are final when reported, so the arena after backward holds what
  // the averager copied.
  ASSERT_TRUE(model->Backward(ctx, tokens.data(), avg).ok());
  local->assign(model->grads(), model->grads() + model->num_params());
  *mean_loss = loss;
}

TEST(GradientAverager, EveryElementAveragedOnceForEveryBlock) {
  for (bool llama : {false, true}) {
    SCOPED_TRACE(llama ? "llama block" : "GPT-2 block");
    const ModelConfig cfg = Tiny(llama);
    FakeWorld world(4, 1.0f);
    GradientAverager avg;
    GPT2 model;
    std::vector<float> local;
    float loss = 0.0f;
    BackwardWithAverager(cfg, &avg, &world, &model, &local, &loss, /*bucket_floats=*/1000);
    float mean_loss = 0.0f;
    ASSERT_TRUE(avg.Finish(&mean_loss).ok());
    // (g + 3 * 1) / 4 for every element: one missed or doubled would differ.
    const float* g = model.grads();
    int64_t wrong = 0;
    for (int64_t i = 0; i < model.num_params(); i++) wrong += std::fabs(g[i] - (local[i] + 3.0f) / 4.0f) > 1e-6f;
    EXPECT_EQ(wrong, 0);
    EXPECT_NEAR(mean_loss, (loss + 3.0f) / 4.0f, 1e-6f);
    // The buffer holds the whole arena plus the loss, cut into the buckets started.
    EXPECT_EQ(avg.buffer_floats(), model.num_params() + 1);
    int64_t sent = 0;
    for (int64_t n : world.started) sent += n;
    EXPECT_EQ(sent, model.num_params() + 1);
    EXPECT_EQ(static_cast<int>(world.started.size()), avg.num_buckets());
    EXPECT_GT(avg.num_buckets(), 2);  // a few layers' worth per bucket at 1000 floats
    EXPECT_EQ(world.progress_calls, cfg.n_layer + 2);  // every report lets MPI progress
  }
}

TEST(GradientAverager, BucketSizeSetsTheNumberOfMessages) {
  const ModelConfig cfg = Tiny(false);
  for (int64_t bucket : {int64_t{1}, int64_t{1} << 30}) {
    FakeWorld world(2, 0.0f);
    GradientAverager avg;
    GPT2 model;
    std::vector<float> local;
    float loss = 0.0f;
    BackwardWithAverager(cfg, &avg, &world, &model, &local, &loss, bucket);
    float mean_loss = 0.0f;
    ASSERT_TRUE(avg.Finish(&mean_loss).ok());
    // One bucket per part (head, each layer, embeddings), or one in all.
    EXPECT_EQ(avg.num_buckets(), bucket == 1 ? cfg.n_layer + 2 : 1);
    for (int64_t i = 0; i < model.num_params(); i++) ASSERT_EQ(model.grads()[i], local[i] / 2.0f) << i;
  }
}

TEST(GradientAverager, PartsOutOfOrderOrMissingAreErrors) {
  const ModelConfig cfg = Tiny(false);
  GPT2 model;
  ASSERT_TRUE(model.Init(cfg).ok());
  FakeWorld world(2, 0.0f);
  GradientAverager avg;
  ASSERT_TRUE(avg.Init(&world, cfg, model.grads(), 100).ok());
  avg.Begin(1.0f);
  avg.HeadReady();
  avg.LayerReady(0);  // layer 2 comes first
  float loss = 0.0f;
  Status s = avg.Finish(&loss);
  EXPECT_FALSE(s.ok());
  avg.Begin(1.0f);
  avg.HeadReady();
  s = avg.Finish(&loss);
  ASSERT_FALSE(s.ok());
  EXPECT_NE(s.message().find("1 of 5 parts"), std::string::npos) << s.message();
  EXPECT_FALSE(avg.Init(&world, cfg, model.grads(), 0).ok());
}

TEST(Communicator, OneProcessIsAWorldOfOne) {
  // ctest does not run under an MPI launcher, so this is the local world.
  ASSERT_FALSE(LaunchedByMpi());
  std::unique_ptr<Communicator> comm;
  ASSERT_TRUE(MakeCommunicator(&comm).ok());
  EXPECT_EQ(comm->world(), 1);
  EXPECT_EQ(comm->rank(), 0);
  EXPECT_TRUE(comm->is_root());
  float x[2] = {1.5f, -2.0f};
  ASSERT_TRUE(comm->AllreduceSum(x, 2).ok());
  EXPECT_EQ(x[0], 1.5f);
  EXPECT_EQ(x[1], -2.0f);
}

}  // namespace
}  // namespace cpu_llm
