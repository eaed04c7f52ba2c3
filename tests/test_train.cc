// End-to-end training through RunTraining: it learns the bundled corpus, and
// a resumed run continues bit-identically.
#include <gtest/gtest.h>
#include <stdlib.h>

#include <cmath>
#include <filesystem>
#include <fstream>
#include <map>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "data/corpus.h"
#include "core/profiler.h"
#include "core/rng.h"
#include "model/gpt2.h"
#include "optim/adamw.h"
#include "train/step.h"
#include "train/trainer.h"

namespace cpu_llm {
namespace {

namespace fs = std::filesystem;

struct TempDir {
  TempDir() {
    char tmpl[] = "/tmp/cpu_llm_train_XXXXXX";
    path = mkdtemp(tmpl);
  }
  ~TempDir() { fs::remove_all(path); }
  std::string path;
};

// step -> loss and step -> val_loss from a run's metrics.jsonl
struct Metrics {
  std::map<int, double> loss, val_loss;
};
Metrics ReadMetrics(const std::string& dir) {
  Metrics m;
  std::ifstream in(dir + "/metrics.jsonl");
  std::string line;
  while (std::getline(in, line)) {
    auto j = nlohmann::json::parse(line);
    if (j.contains("loss")) m.loss[j["step"]] = j["loss"];
    if (j.contains("val_loss")) m.val_loss[j["step"]] = j["val_loss"];
  }
  return m;
}

TrainOptions SmallRun(const std::string& out) {
  TrainOptions o;
  o.tokenizer = "bytes";  // byte-level keeps the test model tiny
  o.model = "d2";
  o.n_embd = 64;
  o.batch = 8;
  o.seq_len = 64;
  o.steps = 150;
  o.lr = 3e-3f;
  o.warmup = 10;
  o.val_every = 0;
  o.val_batches = 4;
  o.log_every = 50;
  o.threads = 2;
  o.out_dir = out;
  o.sample_tokens = 0;
  return o;
}

// Entropy (nats) of the byte frequencies of the corpus: what a model that
// ignores context can reach at best.
double UnigramEntropy() {
  std::string text;
  EXPECT_TRUE(LoadBundledCorpus(&text).ok());
  double counts[256] = {};
  for (unsigned char c : text) counts[c]++;
  double h = 0;
  for (double c : counts)
    if (c > 0) h -= c / text.size() * std::log(c / text.size());
  return h;
}

TEST(Train, LearnsTheBundledCorpusBeyondUnigramStatistics) {
  TempDir dir;
  ASSERT_TRUE(RunTraining(SmallRun(dir.path)).ok());
  Metrics m = ReadMetrics(dir.path);
  ASSERT_EQ(m.loss.size(), 150u);
  ASSERT_EQ(m.val_loss.size(), 1u);
  const double h = UnigramEntropy();
  EXPECT_GT(h, 2.5);
  EXPECT_NEAR(m.loss[1], std::log(257.0), 0.2);  // starts at chance
  EXPECT_LT(m.val_loss[150], h - 0.5) << "unigram entropy " << h;
  EXPECT_TRUE(fs::exists(dir.path + "/model_00000150.bin"));
  EXPECT_TRUE(fs::exists(dir.path + "/state_00000150.bin"));
}

// Train 2N steps straight; separately resume from the checkpoint at N: steps
// N+1..2N must have bit-identical losses.
TEST(Train, ResumeContinuesBitIdentically) {
  TempDir straight, resumed;
  TrainOptions o = SmallRun(straight.path);
  o.steps = 24;
  o.checkpoint_every = 12;
  o.val_every = 6;
  ASSERT_TRUE(RunTraining(o).ok());
  for (const char* f : {"model_00000012.bin", "state_00000012.bin"})
    fs::copy_file(straight.path + "/" + f, resumed.path + "/" + f);
  o.out_dir = resumed.path;
  o.resume = true;
  ASSERT_TRUE(RunTraining(o).ok());
  Metrics a = ReadMetrics(straight.path), b = ReadMetrics(resumed.path);
  ASSERT_EQ(b.loss.size(), 12u);
  for (int step = 13; step <= 24; step++) EXPECT_EQ(a.loss[step], b.loss[step]) << "step " << step;
  EXPECT_EQ(a.val_loss[24], b.val_loss[24]);
  // The final weights are the same bytes too.
  std::ifstream fa(straight.path + "/model_00000024.bin", std::ios::binary), fb(resumed.path + "/model_00000024.bin", std::ios::binary);
  std::string ca((std::istreambuf_iterator<char>(fa)), {}), cb((std::istreambuf_iterator<char>(fb)), {});
  EXPECT_EQ(ca, cb);
}

TEST(Train, ResumeRefusesAChangedBatchShape) {
  TempDir dir;
  TrainOptions o = SmallRun(dir.path);
  o.steps = 2;
  ASSERT_TRUE(RunTraining(o).ok());
  o.resume = true;
  o.steps = 4;
  o.batch = 4;
  Status s = RunTraining(o);
  ASSERT_FALSE(s.ok());
  EXPECT_NE(s.message().find("--batch"), std::string::npos);
}

TEST(Train, InitFromAnLlmcCheckpointFineTunes) {
  TempDir first, second;
  TrainOptions o = SmallRun(first.path);
  o.steps = 3;
  ASSERT_TRUE(RunTraining(o).ok());
  o.out_dir = second.path;
  o.init_from = first.path + "/model_00000003.bin";
  o.model = "d9";  // ignored: the checkpoint defines the shape
  ASSERT_TRUE(RunTraining(o).ok());
  Metrics a = ReadMetrics(first.path), b = ReadMetrics(second.path);
  EXPECT_LT(b.loss[1], a.loss[1] - 0.05);  // starts from the trained weights, not from scratch
}

}  // namespace
}  // namespace cpu_llm

namespace cpu_llm {
namespace {

// A 2-layer model of the byte vocabulary, T <= 16, for step-level tests.
ModelConfig StepTestConfig() {
  ModelConfig cfg;
  cfg.n_layer = 2;
  cfg.n_head = 2;
  cfg.n_embd = 32;
  cfg.max_seq_len = 16;
  cfg.vocab_size = 257;
  cfg.padded_vocab_size = PadVocab(257);
  return cfg;
}

// model and adamw set up for cfg, with the same initial weights every time.
void InitForStep(const ModelConfig& cfg, GPT2* model, AdamW* adamw) {
  ASSERT_TRUE(model->Init(cfg).ok());
  Rng rng(3);
  model->InitWeights(rng);
  adamw->Init(cfg, AdamWConfig{});
}

// Profiling records every op class of a step and leaves the numbers alone.
TEST(TrainProfile, RecordsEveryOpAndChangesNothing) {
  const ModelConfig cfg = StepTestConfig();
  std::vector<int32_t> in(2 * 16), tg(2 * 16);
  for (size_t i = 0; i < in.size(); i++) in[i] = (i * 7) % 257, tg[i] = (i * 11) % 257;
  std::vector<float> params[2];
  Profiler profiler;
  for (int with = 0; with < 2; with++) {
    GPT2 model;
    AdamW adamw;
    InitForStep(cfg, &model, &adamw);
    const Context ctx{2, with ? &profiler : nullptr};
    StepStats stats;
    for (int step = 1; step <= 3; step++)
      ASSERT_TRUE(TrainStep(ctx, model, adamw, in.data(), tg.data(), 2, 16, 1e-3f, step, nullptr, &stats).ok());
    params[with].assign(model.params(), model.params() + model.num_params());
  }
  EXPECT_EQ(params[0], params[1]);
  for (Op op : {Op::kEncoder, Op::kLayerNorm, Op::kMatmulQkv, Op::kMatmulAttnProj, Op::kMatmulFc, Op::kMatmulFcProj,
                Op::kMatmulLmHead, Op::kAttention, Op::kGelu, Op::kCrossEntropy}) {
    EXPECT_GT(profiler.ns(op, Pass::kForward), 0) << OpName(op);
    EXPECT_GT(profiler.ns(op, Pass::kBackward), 0) << OpName(op);
  }
  EXPECT_GT(profiler.ns(Op::kResidual, Pass::kForward), 0);
  EXPECT_GT(profiler.ns(Op::kOptimizer, Pass::kBackward), 0);
  EXPECT_GT(profiler.ns(Op::kGradReduce, Pass::kBackward), 0);
  profiler.AddStep(1000000000);
  const std::string report = profiler.Report();
  EXPECT_NE(report.find("matmul fc proj"), std::string::npos);
  EXPECT_NE(report.find("optimizer"), std::string::npos);
}

// Gradient accumulation: 4 micro-batches of B=2 give the gradient of one
// batch of B=8 (the same rows) and the same update. Only the order of the
// fp32 sums differs (each weight gradient adds four micro-batches' partial
// sums one after another instead of summing all rows in one product), so
// the two agree to a few fp32 ulps of the gradient's scale: relative L2
// difference measured 1.7e-7, bound 1e-5.
TEST(TrainAccumulation, FourMicroBatchesEqualOneBatchOfEight) {
  const ModelConfig cfg = StepTestConfig();
  constexpr int kT = 16, kRows = 8, kMicro = 2;
  std::vector<int32_t> in(kRows * kT), tg(kRows * kT);
  Rng data(12);
  for (size_t i = 0; i < in.size(); i++) in[i] = data.NextU64() % 257, tg[i] = data.NextU64() % 257;
  const Context ctx{2};
  struct Result {
    std::vector<float> grads, params;
    StepStats stats;
  } r[2];
  for (int accum : {0, 1}) {
    GPT2 model;
    AdamW adamw;
    InitForStep(cfg, &model, &adamw);
    Status s;
    if (accum) {
      int calls = 0;
      const MicroBatchFn next = [&](int i, const int32_t** x, const int32_t** y) {
        EXPECT_EQ(i, calls++);
        *x = in.data() + i * kMicro * kT;
        *y = tg.data() + i * kMicro * kT;
        return Status();
      };
      s = TrainStepAccumulated(ctx, model, adamw, next, kRows / kMicro, kMicro, kT, 1e-3f, 1, nullptr, &r[1].stats);
      EXPECT_EQ(calls, kRows / kMicro);
    } else {
      s = TrainStep(ctx, model, adamw, in.data(), tg.data(), kRows, kT, 1e-3f, 1, nullptr, &r[0].stats);
    }
    ASSERT_TRUE(s.ok()) << s.message();
    r[accum].grads.assign(model.grads(), model.grads() + model.num_params());
    r[accum].params.assign(model.params(), model.params() + model.num_params());
  }
  double diff = 0.0, norm = 0.0, max_param_diff = 0.0;
  for (size_t i = 0; i < r[0].grads.size(); i++) {
    diff += std::pow((double)r[1].grads[i] - r[0].grads[i], 2);
    norm += std::pow((double)r[0].grads[i], 2);
    max_param_diff = std::max(max_param_diff, (double)std::fabs(r[1].params[i] - r[0].params[i]));
  }
  EXPECT_LT(std::sqrt(diff / norm), 1e-5);
  EXPECT_NEAR(r[1].stats.loss, r[0].stats.loss, 1e-6 * r[0].stats.loss);
  EXPECT_NEAR(r[1].stats.grad_norm, r[0].stats.grad_norm, 1e-5 * r[0].stats.grad_norm);
  // AdamW's first step moves a weight by lr * g / (|g| + eps): about lr for
  // most, but for the few gradients near eps (1e-8), where the summation's
  // absolute round-off is a percent of g, the move differs by a percent of
  // lr (measured 2.4e-6 at lr 1e-3). Bound: 1% of lr.
  EXPECT_LT(max_param_diff, 1e-5);
  EXPECT_NE(r[0].params, std::vector<float>(r[0].params.size(), 0.0f));

  GPT2 model;
  ASSERT_TRUE(model.Init(cfg).ok());
  AdamW adamw;
  adamw.Init(cfg, AdamWConfig{});
  StepStats stats;
  const MicroBatchFn none = [](int, const int32_t**, const int32_t**) { return Status(); };
  EXPECT_FALSE(TrainStepAccumulated(ctx, model, adamw, none, 0, 2, kT, 1e-3f, 1, nullptr, &stats).ok());
}

}  // namespace
}  // namespace cpu_llm
