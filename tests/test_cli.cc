// The cpu_llm binary end to end: every bad flag or file gives exit code 2
// (usage) or 1 (runtime) and exactly one line on stderr naming the culprit,
// never a crash; the good paths train, checkpoint, resume and sample.
#include <gtest/gtest.h>

#include <filesystem>
#include <nlohmann/json.hpp>
#include <sstream>
#include <string>
#include <vector>

#include "core/rng.h"
#include "data/shard.h"
#include "model/gpt2.h"
#include "test_cli_util.h"
#include "test_io_util.h"
#include "test_model_util.h"
#include "train/checkpoint.h"

namespace cpu_llm {
namespace {

using ::cpu_llm::test::WriteTinyModel;

using ::cpu_llm::testing::ByteTokens;
using ::cpu_llm::testing::Cli;
using ::cpu_llm::testing::ReadMetrics;
using ::cpu_llm::testing::StepLosses;
using ::cpu_llm::testing::CountLines;
using ::cpu_llm::testing::ProcessResult;
using ::cpu_llm::testing::RawShard;
using ::cpu_llm::testing::ReadBytes;
using ::cpu_llm::testing::ReadText;
using ::cpu_llm::testing::TempDir;
using ::cpu_llm::testing::WriteBytes;
using ::cpu_llm::testing::WriteText;

// ---------------------------------------------------------------- usage errors

TEST_F(Cli, UnknownFlag) {
  ExpectError(Run(Train(Out(), {"--bogus"})), 2, "--bogus");
  ExpectError(Run({"--bogus"}), 2, "--bogus");
  ExpectError(Run({"sample", "--checkpoint", "x.bin", "--bogus-flag"}), 2, "--bogus-flag");
}

TEST_F(Cli, UnknownSimdTarget) {
  ProcessResult r = Run(Train(Out(), {"--simd", "avx9000"}));
  ExpectError(r, 2, "avx9000");
  EXPECT_NE(r.err.find("scalar"), std::string::npos) << "names the targets on offer: " << r.err;
}

// The scalar target trains to the same losses as the dispatched best one, to
// the printed precision: same kernels, only the instructions differ.
TEST_F(Cli, ScalarSimdTargetTrainsLikeBest) {
  ProcessResult best = Run(Train(dir_ / "best", {"--matmul", "tiled"}));
  ProcessResult scalar = Run(Train(dir_ / "scalar", {"--matmul", "tiled", "--simd", "scalar"}));
  ExpectSuccess(best);
  ExpectSuccess(scalar);
  ASSERT_EQ(StepLosses(best.out).size(), 3u);
  EXPECT_EQ(StepLosses(best.out), StepLosses(scalar.out));
  // The run says which code it ran: the pinned target, and otherwise not the scalar one (every
  // x86-64 CPU has SSE2 or better).
  EXPECT_HAS_SUBSTR(scalar.out, "kernels: matmul tiled, SIMD SCALAR");
  EXPECT_HAS_SUBSTR(best.out, "kernels: matmul tiled, SIMD ");
  EXPECT_EQ(best.out.find("SIMD SCALAR"), std::string::npos) << best.out;
}

TEST_F(Cli, UnknownPrecisionOrABackendWithoutIt) {
  ExpectError(Run(Train(Out(), {"--precision", "fp8"})), 2, "--precision");
  ExpectError(Run(Train(Out(), {"--precision", "fp16", "--stochastic-rounding"})), 2, "--stochastic-rounding");
  ProcessResult r = Run(Train(Out(), {"--precision", "bf16", "--matmul", "blas"}));
  ExpectError(r, 2, "--precision bf16");
  EXPECT_HAS_SUBSTR(r.err, "--matmul tiled");
}

TEST_F(Cli, MissingSubcommand) { ExpectError(Run({}), 2, "subcommand"); }

TEST_F(Cli, UnknownSubcommand) { ExpectError(Run({"trian"}), 2, "trian"); }

TEST_F(Cli, BatchZero) { ExpectError(Run(Train(Out(), {}, "0")), 2, "--batch"); }

TEST_F(Cli, BatchNegative) { ExpectError(Run(Train(Out(), {}, "-3")), 2, "--batch"); }

TEST_F(Cli, SeqLenZero) { ExpectError(Run(Train(Out(), {}, "2", "0")), 2, "--seq-len"); }

TEST_F(Cli, SeqLenAboveMaxSeqLen) {
  ExpectError(Run(Train(Out(), {"--max-seq-len", "16"}, "2", "32")), 2, "--seq-len");
}

TEST_F(Cli, ChannelsNotDivisibleByHeads) {
  ExpectError(Run(Train(Out(), {"--model", "d1", "--channels", "30", "--heads", "4"}, "2", "16", false)), 2,
              "--channels");
}

TEST_F(Cli, NonNumericLearningRate) { ExpectError(Run(Train(Out(), {"--lr", "abc"})), 2, "--lr"); }

TEST_F(Cli, NegativeLearningRate) { ExpectError(Run(Train(Out(), {"--lr", "-1"})), 2, "--lr"); }

TEST_F(Cli, UnknownModel) {
  ProcessResult r = Run(Train(Out(), {"--model", "nope"}, "2", "16", false));
  ExpectError(r, 2, "--model");
  EXPECT_HAS_SUBSTR(r.err, "nope");
}

TEST_F(Cli, UnknownTokenizer) {
  ProcessResult r = Run({"train", "--tokenizer", "nope", "--steps", "1", "--out", Out()});
  ExpectError(r, 2, "--tokenizer");
  EXPECT_HAS_SUBSTR(r.err, "nope");
}

TEST_F(Cli, ValFractionOutOfRange) {
  ExpectError(Run(Train(Out(), {"--val-fraction", "1.5"})), 2, "--val-fraction");
  ExpectError(Run(Train(Out(), {"--val-fraction", "-1"})), 2, "--val-fraction");
}

// A model far larger than the machine is refused before anything is allocated.
TEST_F(Cli, ModelTooLargeForMemory) {
  ProcessResult r = Run(Train(Out(), {"--model", "d1", "--layers", "100000"}, "2", "16", false));
  ExpectError(r, 1, "memory");
  EXPECT_HAS_SUBSTR(r.err, "GB");
}

// ---------------------------------------------------------------- bad data

TEST_F(Cli, TrainDataMissingFile) {
  const std::string p = dir_ / "missing.bin";
  ExpectError(Run(Train(Out(), {"--train-data", p})), 1, p);
}

TEST_F(Cli, TrainDataDirectory) {
  const std::string p = dir_ / "shards";
  std::filesystem::create_directory(p);
  ExpectError(Run(Train(Out(), {"--train-data", p})), 1, p);
}

TEST_F(Cli, TrainDataWrongMagic) {
  const std::string p = dir_ / "magic.bin";
  std::vector<uint8_t> b = RawShard(12345, 1, 100, std::vector<uint16_t>(100, 65));
  WriteBytes(p, b.data(), b.size());
  ExpectError(Run(Train(Out(), {"--train-data", p})), 1, p);
}

TEST_F(Cli, TrainDataTruncatedShard) {
  const std::string p = dir_ / "trunc.bin";
  std::vector<uint8_t> b = RawShard(20240520, 1, 200, std::vector<uint16_t>(100, 65));
  WriteBytes(p, b.data(), b.size());
  ExpectError(Run(Train(Out(), {"--train-data", p})), 1, p);
}

TEST_F(Cli, TrainDataTokenOutsideVocabulary) {
  const std::string p = dir_ / "vocab.bin";
  std::vector<uint16_t> t(100, 65);
  t[10] = 300;  // the byte tokenizer has 257 tokens
  ASSERT_TRUE(WriteShard(p, t).ok());
  ProcessResult r = Run(Train(Out(), {"--train-data", p}));
  ExpectError(r, 1, p);
  EXPECT_HAS_SUBSTR(r.err, "300");
}

TEST_F(Cli, TrainDataSmallerThanOneBatch) {
  const std::string p = dir_ / "small.bin";
  ASSERT_TRUE(WriteShard(p, std::vector<uint16_t>(32, 65)).ok());  // B*T+1 = 33
  ExpectError(Run(Train(Out(), {"--train-data", p})), 1, p);
}

TEST_F(Cli, TrainDataEmptyGlob) {
  const std::string p = dir_ / "train_*.bin";
  ExpectError(Run(Train(Out(), {"--train-data", p})), 1, p);
}

TEST_F(Cli, ValDataMissing) {
  const std::string train = dir_ / "train.bin", val = dir_ / "val_*.bin";
  ASSERT_TRUE(WriteShard(train, std::vector<uint16_t>(100, 65)).ok());
  ExpectError(Run(Train(Out(), {"--train-data", train, "--val-data", val})), 1, val);
}

TEST_F(Cli, OutputFolderUnderARegularFile) {
  WriteText(dir_ / "plain", "a file");
  const std::string out = dir_ / "plain/run";
  ExpectError(Run(Train(out)), 1, out);
}

TEST_F(Cli, ResumeWithoutCheckpoint) { ExpectError(Run(Train(Out(), {"--resume"})), 1, Out()); }

TEST_F(Cli, InitFromMissingModel) {
  const std::string p = dir_ / "nope.bin";
  ExpectError(Run(Train(Out(), {"--init-from", p})), 1, p);
}

// ---------------------------------------------------------------- sample errors

TEST_F(Cli, SampleMissingCheckpoint) {
  const std::string p = dir_ / "model.bin";
  ExpectError(Run({"sample", "--checkpoint", p}), 1, p);
}

TEST_F(Cli, SampleTruncatedCheckpoint) {
  const std::string p = WriteTinyModel(dir_ / "model.bin");
  std::vector<uint8_t> b = ReadBytes(p);
  WriteBytes(p, b.data(), b.size() - 100);
  ExpectError(Run({"sample", "--checkpoint", p, "--tokens", "5"}), 1, p);
  WriteBytes(p, b.data(), 600);  // inside the header
  ExpectError(Run({"sample", "--checkpoint", p, "--tokens", "5"}), 1, p);
}

TEST_F(Cli, SampleWrongMagic) {
  const std::string p = WriteTinyModel(dir_ / "model.bin");
  std::vector<uint8_t> b = ReadBytes(p);
  b[0] ^= 0xFF;
  WriteBytes(p, b.data(), b.size());
  ExpectError(Run({"sample", "--checkpoint", p, "--tokens", "5"}), 1, p);
}

// llm.c's bf16 model files (version 5) sample exactly like the fp32 file of
// the same, widened, weights.
TEST_F(Cli, SampleReadsBf16ModelFiles) {
  const std::string fp32 = WriteTinyModel(dir_ / "model.bin");
  GPT2 model;
  ASSERT_TRUE(LoadModel(fp32, &model).ok());
  const std::string bf16 = dir_ / "model_bf16.bin", widened = dir_ / "widened.bin";
  ASSERT_TRUE(SaveModel(bf16, model, WeightFormat::kBf16).ok());
  GPT2 back;
  ASSERT_TRUE(LoadModel(bf16, &back).ok());
  ASSERT_TRUE(SaveModel(widened, back).ok());
  auto sample = [&](const std::string& path) {
    return Run({"sample", "--checkpoint", path, "--tokens", "12", "--temperature", "0", "--prompt", "And", "--threads",
                "1"});
  };
  const ProcessResult a = sample(bf16), b = sample(widened);
  ExpectSuccess(a);
  ExpectSuccess(b);
  EXPECT_EQ(a.out, b.out);
}

TEST_F(Cli, SampleUnknownVocabulary) {
  const std::string p = WriteTinyModel(dir_ / "model.bin", 1000);
  ExpectError(Run({"sample", "--checkpoint", p, "--tokens", "5"}), 1, p);
}

TEST_F(Cli, SampleZeroTokens) {
  const std::string p = WriteTinyModel(dir_ / "model.bin");
  ExpectError(Run({"sample", "--checkpoint", p, "--tokens", "0"}), 2, "--tokens");
}

TEST_F(Cli, SampleNegativeTemperature) {
  const std::string p = WriteTinyModel(dir_ / "model.bin");
  ExpectError(Run({"sample", "--checkpoint", p, "--temperature", "-1"}), 2, "--temperature");
}

TEST_F(Cli, SampleMissingCheckpointFlag) { ExpectError(Run({"sample", "--tokens", "5"}), 2, "--checkpoint"); }

// ---------------------------------------------------------------- good paths

TEST_F(Cli, HelpListsTheFlags) {
  ProcessResult r = Run({"train", "--help"});
  ExpectSuccess(r);
  for (const char* flag : {"--batch", "--seq-len", "--steps", "--lr", "--resume", "--train-data", "--val-data",
                           "--out", "--model", "--threads", "--seed", "--checkpoint-every", "--sample-tokens"})
    EXPECT_HAS_SUBSTR(r.out, flag);
  r = Run({"sample", "--help"});
  ExpectSuccess(r);
  for (const char* flag : {"--checkpoint", "--top-k", "--temperature", "--tokens", "--prompt", "--seed"})
    EXPECT_HAS_SUBSTR(r.out, flag);
}

TEST_F(Cli, TrainThenSample) {
  ProcessResult r = Run(Train(Out()));
  ExpectSuccess(r);
  EXPECT_HAS_SUBSTR(r.out, "step     1/3");
  EXPECT_HAS_SUBSTR(r.out, "step     3/3");
  EXPECT_EQ(StepLosses(r.out).size(), 3u);
  const std::string model = Out() + "/model_00000003.bin";
  EXPECT_TRUE(std::filesystem::is_regular_file(model));
  EXPECT_TRUE(std::filesystem::is_regular_file(Out() + "/state_00000003.bin"));

  std::vector<nlohmann::json> records = ReadMetrics(Out() + "/metrics.jsonl");
  int steps = 0, vals = 0;
  for (const nlohmann::json& j : records) {
    ASSERT_TRUE(j.contains("step")) << j.dump();
    if (j.contains("val_loss")) {
      vals++;
      continue;
    }
    steps++;
    EXPECT_EQ(j["step"], steps) << j.dump();
    for (const char* key : {"loss", "lr", "grad_norm", "ms", "tok_s"}) {
      ASSERT_TRUE(j.contains(key)) << key << " missing in " << j.dump();
      EXPECT_TRUE(j[key].is_number()) << j.dump();
    }
  }
  EXPECT_EQ(steps, 3);
  EXPECT_EQ(vals, 1);

  const std::string prompt = "In the beginning";
  std::vector<std::string> args = {"sample", "--checkpoint", model, "--tokens", "20", "--temperature", "0",
                                   "--prompt", prompt, "--threads", "1"};
  ProcessResult s = Run(args);
  ExpectSuccess(s);
  EXPECT_EQ(s.out.rfind(prompt, 0), 0u) << s.out;
  EXPECT_GT(s.out.size(), prompt.size());
  ProcessResult s2 = Run(args);  // greedy decoding is deterministic
  ExpectSuccess(s2);
  EXPECT_EQ(s2.out, s.out);
}

TEST_F(Cli, ResumeContinuesAfterTheLastStep) {
  ExpectSuccess(Run(Train(Out())));
  const size_t lines_before = ReadMetrics(Out() + "/metrics.jsonl").size();
  steps_ = "5";
  ProcessResult r = Run(Train(Out(), {"--resume"}));
  ExpectSuccess(r);
  EXPECT_HAS_SUBSTR(r.out, "resuming at step 3");
  EXPECT_HAS_SUBSTR(r.out, "step     4/5");
  EXPECT_HAS_SUBSTR(r.out, "step     5/5");
  EXPECT_EQ(r.out.find("step     1/5"), std::string::npos) << r.out;
  EXPECT_EQ(StepLosses(r.out).size(), 2u);
  EXPECT_TRUE(std::filesystem::is_regular_file(Out() + "/state_00000005.bin"));

  std::vector<nlohmann::json> records = ReadMetrics(Out() + "/metrics.jsonl");
  EXPECT_GT(records.size(), lines_before);
  std::vector<int> steps;
  for (const nlohmann::json& j : records)
    if (j.contains("loss")) steps.push_back(j["step"].get<int>());
  EXPECT_EQ(steps, (std::vector<int>{1, 2, 3, 4, 5}));
}

// fp16 trains with the loss scale on every step line and in metrics.jsonl,
// resumes with the scale it stopped at, and --export-bf16 writes an llm.c
// version-5 model file that `sample` reads. bf16's losses stay within 1% of
// fp32's on the same data.
TEST_F(Cli, MixedPrecisionTrainsLogsTheScaleAndExportsBf16) {
  ProcessResult fp16 = Run(Train(Out(), {"--precision", "fp16", "--export-bf16"}));
  ExpectSuccess(fp16);
  EXPECT_HAS_SUBSTR(fp16.out, "precision: fp16");
  EXPECT_HAS_SUBSTR(fp16.out, "| scale 65536 |");
  for (const nlohmann::json& j : ReadMetrics(Out() + "/metrics.jsonl"))
    if (j.contains("loss")) {
      EXPECT_EQ(j.value("loss_scale", 0.0), 65536.0) << j.dump();
      EXPECT_EQ(j.value("skipped", true), false) << j.dump();
    }
  const std::string bf16_model = Out() + "/model_00000003.bf16.bin";
  ASSERT_TRUE(std::filesystem::is_regular_file(bf16_model));
  EXPECT_EQ(ReadBytes(bf16_model).size(), 1024u + 2 * (ReadBytes(Out() + "/model_00000003.bin").size() - 1024) / 4);
  ExpectSuccess(Run({"sample", "--checkpoint", bf16_model, "--tokens", "5", "--threads", "1"}));
  steps_ = "4";
  ProcessResult resumed = Run(Train(Out(), {"--precision", "fp16", "--resume"}));
  ExpectSuccess(resumed);
  EXPECT_HAS_SUBSTR(resumed.out, "dynamic loss scaling from 65536");

  steps_ = "3";
  ProcessResult fp32 = Run(Train(dir_ / "fp32")), bf16 = Run(Train(dir_ / "bf16", {"--precision", "bf16"}));
  ProcessResult sr = Run(Train(dir_ / "sr", {"--precision", "bf16", "--stochastic-rounding"}));
  ExpectSuccess(fp32);
  ExpectSuccess(bf16);
  ExpectSuccess(sr);
  EXPECT_HAS_SUBSTR(sr.out, "weights rounded stochastically");
  const std::vector<std::string> a = StepLosses(fp32.out), b = StepLosses(bf16.out), c = StepLosses(sr.out);
  ASSERT_EQ(a.size(), 3u);
  ASSERT_EQ(b.size(), 3u);
  ASSERT_EQ(c.size(), 3u);
  for (int i = 0; i < 3; i++) {
    EXPECT_NEAR(std::stod(b[i]), std::stod(a[i]), 0.01 * std::stod(a[i]));
    EXPECT_NEAR(std::stod(c[i]), std::stod(a[i]), 0.01 * std::stod(a[i]));
  }
}

// --grad-accum 4 of B=2 reads the same rows as B=8 and makes the same
// updates (to the printed digits), and says so on the batch line.
TEST_F(Cli, GradientAccumulationMatchesTheBigBatch) {
  ExpectError(Run(Train(Out(), {"--grad-accum", "0"})), 2, "--grad-accum");
  ProcessResult big = Run(Train(dir_ / "big", {}, "8")), accum = Run(Train(dir_ / "accum", {"--grad-accum", "4"}, "2"));
  ExpectSuccess(big);
  ExpectSuccess(accum);
  EXPECT_HAS_SUBSTR(accum.out, "B=2 T=16 x 4 accumulated micro-batches (128 tokens/step)");
  const std::vector<std::string> a = StepLosses(big.out), b = StepLosses(accum.out);
  ASSERT_EQ(a.size(), 3u);
  ASSERT_EQ(b.size(), 3u);
  EXPECT_EQ(a[0], b[0]);
  for (int i = 1; i < 3; i++) EXPECT_NEAR(std::stod(b[i]), std::stod(a[i]), 2e-4) << i;
}

// With no --model, train uses the `bench --arch` winner: the Llama-style d3
// block on a vocabulary pruned to the data's tokens (only where it can count
// them: token data, a new model); --model d3 is GPT-2's block, unpruned.
TEST_F(Cli, DefaultModelIsTheArchWinner) {
  steps_ = "1";
  ProcessResult def = Run(Train(Out(), {}, "2", "16", /*tiny_model=*/false));
  ExpectSuccess(def);
  EXPECT_HAS_SUBSTR(def.out, "L=3 NH=3 C=192");
  EXPECT_HAS_SUBSTR(def.out, "block=rmsnorm/swiglu(H=512)/rope/no-bias/untied");
  EXPECT_HAS_SUBSTR(def.out, "vocabulary: pruned to the ");
  ProcessResult gpt2 = Run(Train(dir_ / "gpt2", {"--model", "d3"}, "2", "16", false));
  ExpectSuccess(gpt2);
  EXPECT_HAS_SUBSTR(gpt2.out, "L=3 NH=3 C=192 maxT=16 V=257 ");
  EXPECT_EQ(gpt2.out.find("block="), std::string::npos) << gpt2.out;
  EXPECT_EQ(gpt2.out.find("vocabulary: pruned"), std::string::npos) << gpt2.out;
  // Text data cannot be counted up front: the default model keeps the whole vocabulary.
  ::cpu_llm::testing::WriteText(dir_ / "t.txt", std::string(4000, 'a') + "\n");
  ProcessResult text = Run(Train(dir_ / "text", {"--train-data", dir_ / "t.txt", "--data-format", "text"}, "2", "16",
                                 false));
  ExpectSuccess(text);
  EXPECT_HAS_SUBSTR(text.out, "V=257 ");
  EXPECT_EQ(text.out.find("vocabulary: pruned"), std::string::npos) << text.out;
}

// A Llama-style block trains, resumes from its version-2003 checkpoint and
// samples through the KV cache (RoPE at each position); bad options are
// usage errors naming the flag.
TEST_F(Cli, BlockOptionsTrainResumeAndSample) {
  ProcessResult r = Run(Train(Out(), {"--norm", "rmsnorm", "--mlp", "swiglu", "--pos", "rope", "--bias", "off",
                                      "--head", "untied"}));
  ExpectSuccess(r);
  EXPECT_HAS_SUBSTR(r.out, "block=rmsnorm/swiglu(H=128)/rope/no-bias/untied");
  steps_ = "4";
  ProcessResult resumed = Run(Train(Out(), {"--resume"}));
  ExpectSuccess(resumed);
  EXPECT_HAS_SUBSTR(resumed.out, "block=rmsnorm/swiglu");
  ExpectSuccess(Run({"sample", "--checkpoint", Out() + "/model_00000004.bin", "--tokens", "8", "--threads", "1"}));
  ProcessResult relu2 = Run(Train(dir_ / "relu2", {"--mlp", "relu2", "--bias", "off"}));
  ExpectSuccess(relu2);
  EXPECT_HAS_SUBSTR(relu2.out, "block=layernorm/relu2(H=128)/learned/no-bias");
  ExpectError(Run(Train(dir_ / "x", {"--mlp", "tanh"})), 2, "--mlp");
  ExpectError(Run(Train(dir_ / "x", {"--norm", "batchnorm"})), 2, "--norm");
  ExpectError(Run(Train(dir_ / "x", {"--pos", "alibi"})), 2, "--pos");
  ExpectError(Run(Train(dir_ / "x", {"--bias", "maybe"})), 2, "--bias");
  ExpectError(Run(Train(dir_ / "x", {"--head", "shared"})), 2, "--head");
  ExpectError(Run(Train(dir_ / "x", {"--model", "d1", "--channels", "30", "--heads", "2", "--pos", "rope"}, "2", "16",
                        /*tiny_model=*/false)),
              2, "even");
  ExpectError(Run(Train(dir_ / "x", {"--head", "untied", "--export-bf16"})), 2, "bf16");
}

// --time-budget plans the steps that fit and stops within the budget (with
// --steps far beyond it), saving the last step's checkpoint.
TEST_F(Cli, TimeBudgetStopsTraining) {
  steps_ = "1000000";
  ProcessResult r = Run(Train(Out(), {"--time-budget", "2", "--log-every", "0", "--val-every", "0"}));
  ExpectSuccess(r);
  EXPECT_HAS_SUBSTR(r.out, "steps planned");
  const std::vector<nlohmann::json> records = ReadMetrics(Out() + "/metrics.jsonl");
  ASSERT_FALSE(records.empty());
  int last = 0;
  for (const auto& j : records)
    if (j.contains("loss")) last = j["step"].get<int>();
  EXPECT_GT(last, 5);
  EXPECT_LT(last, 1000000);
  EXPECT_TRUE(std::filesystem::is_regular_file(Out() + fmt::format("/model_{:08d}.bin", last)));
  ExpectError(Run(Train(dir_ / "x", {"--time-budget", "-1"})), 2, "--time-budget");
}

TEST_F(Cli, ResumeWithOtherBatchIsAUsageError) {
  ExpectSuccess(Run(Train(Out())));
  ExpectError(Run(Train(Out(), {"--resume"}, "3")), 2, "--batch");
}

TEST_F(Cli, SameSeedSameLosses) {
  threads_ = "2";
  ProcessResult a = Run(Train(dir_ / "a", {"--seed", "42"}));
  ProcessResult b = Run(Train(dir_ / "b", {"--seed", "42"}));
  ExpectSuccess(a);
  ExpectSuccess(b);
  std::vector<std::string> la = StepLosses(a.out), lb = StepLosses(b.out);
  ASSERT_EQ(la.size(), 3u);
  EXPECT_EQ(la, lb);
  std::vector<nlohmann::json> ma = ReadMetrics(dir_ / "a/metrics.jsonl"), mb = ReadMetrics(dir_ / "b/metrics.jsonl");
  ASSERT_EQ(ma.size(), mb.size());
  for (size_t i = 0; i < ma.size(); i++) {
    EXPECT_EQ(ma[i].value("loss", -1.0), mb[i].value("loss", -1.0));
    EXPECT_EQ(ma[i].value("val_loss", -1.0), mb[i].value("val_loss", -1.0));
  }
  EXPECT_EQ(ReadBytes(dir_ / "a/model_00000003.bin"), ReadBytes(dir_ / "b/model_00000003.bin"));
}

TEST_F(Cli, TrainOnShards) {
  const std::string data = dir_ / "data";
  std::filesystem::create_directory(data);
  std::string text = "In the beginning God created the heaven and the earth. ";
  for (int i = 0; i < 3; i++) text += text;  // 440 bytes
  ASSERT_TRUE(WriteShard(data + "/train_000.bin", ByteTokens(text)).ok());
  ASSERT_TRUE(WriteShard(data + "/train_001.bin", ByteTokens(text.substr(0, 100))).ok());
  ASSERT_TRUE(WriteShard(data + "/val.bin", ByteTokens(text.substr(7, 200))).ok());
  ProcessResult r = Run(Train(Out(), {"--train-data", data + "/train_*.bin", "--val-data", data + "/val.bin"}));
  ExpectSuccess(r);
  EXPECT_HAS_SUBSTR(r.out, "2 shard(s), 540 tokens");
  EXPECT_HAS_SUBSTR(r.out, "val 1 shard(s), 200 tokens");
  EXPECT_HAS_SUBSTR(r.out, "val loss");
  EXPECT_TRUE(std::filesystem::is_regular_file(Out() + "/model_00000003.bin"));
  // Mapped shards train to the same losses and weights; an unknown access is a usage error.
  ProcessResult m = Run(Train(dir_ / "mmap", {"--train-data", data + "/train_*.bin", "--val-data", data + "/val.bin",
                                              "--data-access", "mmap"}));
  ExpectSuccess(m);
  EXPECT_EQ(StepLosses(m.out), StepLosses(r.out));
  EXPECT_EQ(ReadBytes(dir_ / "mmap/model_00000003.bin"), ReadBytes(Out() + "/model_00000003.bin"));
  ExpectError(Run(Train(dir_ / "x", {"--train-data", data + "/train_*.bin", "--data-access", "mmapp"})), 2,
              "--data-access");
}

}  // namespace
}  // namespace cpu_llm
