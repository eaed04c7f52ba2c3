// Issue 10's numerics promises, end to end: a step whose loss or gradient is
// inf/NaN is skipped and logged, --max-bad-steps in a row stop the run with
// the step and the first op whose output went non-finite, no checkpoint is
// written from inside such a run, and --detect-anomaly names the op on every
// bad step. The blow-up is a NaN written into one weight of a model that
// `--init-from` then trains, so the op that must be named is known.
#include <gtest/gtest.h>

#include <cmath>
#include <filesystem>
#include <string>
#include <vector>

#include "core/rng.h"
#include "model/gpt2.h"
#include "test_cli_util.h"
#include "test_model_util.h"
#include "train/checkpoint.h"

namespace cpu_llm {
namespace {

using ::cpu_llm::testing::ReadMetrics;
namespace fs = std::filesystem;

class CliNumerics : public ::cpu_llm::testing::Cli {
 protected:
  // A bytes-tokenizer GPT-2 model of n_layer layers, with a NaN in one
  // element of layer `layer`'s slice of `tensor` (ParamView order).
  std::string WriteModelWithNaN(int n_layer, int tensor, int layer) {
    ModelConfig c;
    c.n_layer = n_layer;
    c.n_head = 2;
    c.n_embd = 32;
    c.max_seq_len = 64;
    c.vocab_size = 257;
    c.padded_vocab_size = PadVocab(c.vocab_size);
    GPT2 model;
    EXPECT_TRUE(model.Init(c).ok());
    Rng rng(7);
    model.InitWeights(rng);
    model.params()[test::ParamOffset(c, tensor, layer, 3)] = NAN;
    const std::string path = dir_ / "nan_model.bin";
    EXPECT_TRUE(SaveModel(path, model).ok());
    return path;
  }
  std::vector<std::string> TrainFrom(const std::string& model, std::vector<std::string> extra) {
    std::vector<std::string> a = {"train", "--init-from", model, "--tokenizer", "bytes", "--batch", "2",
                                  "--seq-len", "16", "--steps", "6", "--val-batches", "1", "--sample-tokens", "0",
                                  "--threads", "1", "--out", Out(), "--checkpoint-every", "1"};
    a.insert(a.end(), extra.begin(), extra.end());
    return a;
  }
  bool HasCheckpoint() const {
    if (!fs::exists(Out())) return false;
    for (const auto& e : fs::directory_iterator(Out()))
      if (e.path().filename().string().rfind("model_", 0) == 0) return true;
    return false;
  }
};

constexpr int kQkvw = 4, kFcprojw = 12;

TEST_F(CliNumerics, BadStepsAreSkippedThenTheRunStopsNamingTheOp) {
  const auto r = Run(TrainFrom(WriteModelWithNaN(2, kQkvw, 1), {"--max-bad-steps", "3"}));
  // The NaN sits in one query channel; attention's softmax drops a NaN
  // score (its max and exp clamp), so the loss stays finite and only the
  // gradient shows it: a bad step all the same.
  ExpectError(r, 1, "step 3: 3 step(s) in a row with a non-finite loss or gradient (loss ");
  EXPECT_HAS_SUBSTR(r.err, ", gradient norm nan), stopping (--max-bad-steps 3); ");
  // Layer 1's qkv weights hold the NaN: layer 0 is clean, so the trace must
  // get past it and stop at layer 1's first product.
  EXPECT_HAS_SUBSTR(r.err, "first non-finite output: forward, layer 1, matmul qkv: qkv holds");
  EXPECT_HAS_SUBSTR(r.err, "non-finite weights: qkvw (first at ");
  for (int step = 1; step <= 2; step++)
    EXPECT_HAS_SUBSTR(r.out, fmt::format(", gradient norm nan: update skipped ({} of --max-bad-steps 3 in a row)\n",
                                         step));
  // Every bad step is in the metrics, marked, and none was checkpointed.
  const auto records = ReadMetrics(Out() + "/metrics.jsonl");
  ASSERT_EQ(records.size(), 2u);  // the stopping step is reported by the error
  for (const auto& j : records) {
    EXPECT_TRUE(j.value("nonfinite", false)) << j.dump();
    EXPECT_TRUE(j.value("skipped", false)) << j.dump();
  }
  EXPECT_FALSE(HasCheckpoint());
}

TEST_F(CliNumerics, DetectAnomalyNamesTheOpOfEveryBadStep) {
  const auto r = Run(TrainFrom(WriteModelWithNaN(2, kFcprojw, 0), {"--max-bad-steps", "2", "--detect-anomaly"}));
  ExpectError(r, 1, "step 2: 2 step(s) in a row");
  const std::string op = "first non-finite output: forward, layer 0, matmul fc proj: fc proj output holds";
  EXPECT_HAS_SUBSTR(r.out, "step     1: loss nan, gradient norm nan: update skipped (1 of --max-bad-steps 2 in a "
                           "row); " + op);
  EXPECT_HAS_SUBSTR(r.err, op);
  EXPECT_HAS_SUBSTR(r.err, "non-finite weights: fcprojw");
}

TEST_F(CliNumerics, MaxBadStepsMustBePositive) {
  ExpectError(Run(Train(Out(), {"--max-bad-steps", "0"})), 2, "--max-bad-steps: must be at least 1 (got 0)");
}

TEST_F(CliNumerics, AHealthyRunWithDetectAnomalyTrainsAsWithout) {
  // The checks only read: the losses are the same bit for bit.
  const auto plain = Run(Train(dir_ / "plain"));
  const auto checked = Run(Train(dir_ / "checked", {"--detect-anomaly"}));
  ExpectSuccess(plain);
  ExpectSuccess(checked);
  ASSERT_FALSE(::cpu_llm::testing::StepLosses(plain.out).empty());
  EXPECT_EQ(::cpu_llm::testing::StepLosses(plain.out), ::cpu_llm::testing::StepLosses(checked.out));
}

}  // namespace
}  // namespace cpu_llm
