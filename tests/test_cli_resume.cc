// Issue 10's exact-resume promise, over the options that add state of their
// own: train 2N steps straight; separately resume the straight run's step-N
// checkpoint in a fresh folder and train N more. Steps N+1..2N must print the
// same losses and grad norms bit for bit, and the final weights and optimizer
// state must be the same bytes, in every precision (fp16's loss scale, bf16's
// stochastic rounding), with gradient accumulation, with the async loader,
// with shuffled shards, and with a block other than GPT-2's.
#include <gtest/gtest.h>

#include <algorithm>
#include <filesystem>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "data/shard.h"
#include "train/checkpoint.h"
#include "test_cli_util.h"
#include "test_io_util.h"

namespace cpu_llm {
namespace {

using ::cpu_llm::testing::ByteTokens;
using ::cpu_llm::testing::Cli;
using ::cpu_llm::testing::ProcessResult;
using ::cpu_llm::testing::ReadBytes;
using ::cpu_llm::testing::ReadMetrics;

struct ResumeCase {
  const char* name;
  std::vector<std::string> options;
};

void PrintTo(const ResumeCase& c, std::ostream* os) { *os << c.name; }

class CliResume : public Cli, public ::testing::WithParamInterface<ResumeCase> {
 protected:
  // Two small shards, so the shuffled case has windows in both.
  std::string WriteShards() {
    const std::string data = dir_ / "data";
    std::filesystem::create_directories(data);
    std::string text;
    for (int i = 0; text.size() < 3000; i++)
      text += "verse " + std::to_string(i) + ": And the earth was without form, and void.\n";
    EXPECT_TRUE(WriteShard(data + "/train_000.bin", ByteTokens(text.substr(0, 1700))).ok());
    EXPECT_TRUE(WriteShard(data + "/train_001.bin", ByteTokens(text.substr(1700))).ok());
    return data + "/train_*.bin";
  }

  // (loss, grad norm) of each step record from `first` on, printed exactly.
  static std::vector<std::string> StepRecords(const std::string& metrics, int first) {
    std::vector<std::string> rows;
    for (const auto& j : ReadMetrics(metrics))
      if (j.contains("loss") && j.value("step", 0) >= first)
        rows.push_back(std::to_string(j.value("step", 0)) + " " + j["loss"].dump() + " " + j["grad_norm"].dump() +
                       (j.contains("loss_scale") ? " scale " + j["loss_scale"].dump() : ""));
    return rows;
  }
};

// A state file's bytes but for the run folder it names (the "out" of its
// run config) and what depends on it: the config's length and the checksum.
std::string StateBesideItsFolder(const std::string& path) {
  TrainState st;
  int64_t n = 0;
  EXPECT_TRUE(LoadState(path, &st, nullptr, &n).ok()) << path;
  const std::vector<uint8_t> b = ReadBytes(path);
  if (b.size() < 2048 + 8 * static_cast<size_t>(n)) return "";
  std::vector<uint8_t> header(b.begin(), b.begin() + 2048);
  for (int slot : {12, 21}) std::fill_n(header.begin() + 8 * slot, 8, 0);
  nlohmann::json config = nlohmann::json::parse(st.run_config);
  config.erase("out");
  return std::string(header.begin(), header.end()) + st.model_file + config.dump() +
         std::string(b.end() - 8 * n, b.end());
}

TEST_P(CliResume, ResumedRunMatchesTheStraightOneBitForBit) {
  constexpr int kN = 4;
  steps_ = std::to_string(2 * kN);
  threads_ = "2";
  std::vector<std::string> options = GetParam().options;
  for (std::string& o : options)
    if (o == "SHARDS") o = WriteShards();
  options.insert(options.end(), {"--checkpoint-every", std::to_string(kN), "--val-every",
                                 "3", "--log-every", "1"});

  const bool own_model = options[0] == "--model";
  const std::string whole = dir_ / "whole", resumed = dir_ / "resumed";
  ExpectSuccess(Run(Train(whole, options, "2", "16", !own_model)));
  std::filesystem::create_directories(resumed);
  for (const char* f : {"model_00000004.bin", "state_00000004.bin"})
    std::filesystem::copy_file(whole + "/" + f, resumed + "/" + f);
  if (std::filesystem::exists(whole + "/vocab_map.bin"))
    std::filesystem::copy_file(whole + "/vocab_map.bin", resumed + "/vocab_map.bin");
  options.push_back("--resume");
  ProcessResult r = Run(Train(resumed, options, "2", "16", !own_model));
  ExpectSuccess(r);
  EXPECT_HAS_SUBSTR(r.out, "resuming at step 4");

  const std::vector<std::string> straight = StepRecords(whole + "/metrics.jsonl", kN + 1);
  ASSERT_EQ(straight.size(), static_cast<size_t>(kN));
  EXPECT_EQ(StepRecords(resumed + "/metrics.jsonl", kN + 1), straight);
  EXPECT_EQ(ReadBytes(resumed + "/model_00000008.bin"), ReadBytes(whole + "/model_00000008.bin"));
  EXPECT_EQ(StateBesideItsFolder(resumed + "/state_00000008.bin"), StateBesideItsFolder(whole + "/state_00000008.bin"));
}

INSTANTIATE_TEST_SUITE_P(
    EveryStatefulOption, CliResume,
    ::testing::Values(ResumeCase{"fp32", {}}, ResumeCase{"bf16", {"--precision", "bf16"}},
                      ResumeCase{"bf16_stochastic", {"--precision", "bf16", "--stochastic-rounding"}},
                      ResumeCase{"fp16", {"--precision", "fp16"}},
                      ResumeCase{"grad_accum", {"--grad-accum", "3"}},
                      ResumeCase{"async", {"--loader", "async", "--loader-depth", "3"}},
                      ResumeCase{"fp16_accum_async",
                                 {"--precision", "fp16", "--grad-accum", "2", "--loader", "async"}},
                      ResumeCase{"shuffled_mmap_async",
                                 {"--train-data", "SHARDS", "--shuffle", "--data-access", "mmap", "--loader", "async",
                                  "--grad-accum", "2"}},
                      ResumeCase{"llama_pruned", {"--model", "llama-d1", "--channels", "32", "--heads", "2",
                                                  "--prune-vocab", "1"}}),
    [](const ::testing::TestParamInfo<ResumeCase>& info) { return std::string(info.param.name); });

}  // namespace
}  // namespace cpu_llm
