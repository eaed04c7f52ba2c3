// Issue 10's promises about checkpoints, end to end: a SIGKILL at any moment
// (mid-write included) leaves a checkpoint that resumes; SIGINT/SIGTERM stop
// after the step with a checkpoint, a second SIGINT exits at once; only the
// newest --keep-checkpoints stay; a damaged newest checkpoint is skipped.
#include <gtest/gtest.h>

#include <algorithm>
#include <filesystem>
#include <cstdio>
#include <random>
#include <string>
#include <vector>

#include "test_cli_util.h"
#include "train/checkpoint.h"

namespace cpu_llm {
namespace {

using ::cpu_llm::testing::ProcessResult;
using ::cpu_llm::testing::ReadText;
using ::cpu_llm::testing::RunProcess;
using ::cpu_llm::testing::ReadMetrics;
using ::cpu_llm::testing::StepLosses;
using ::cpu_llm::testing::WriteText;

namespace fs = std::filesystem;

class CliReliability : public ::cpu_llm::testing::Cli {
 protected:
  // Runs `train args` in the background, lets `script` act on it ($pid is
  // the trainer), and returns its exit status with what it printed.
  ProcessResult RunWhile(const std::vector<std::string>& args, const std::string& script) {
    std::string cmd = "'" + std::string(CPU_LLM_BINARY) + "'";
    for (const std::string& a : args) cmd += " '" + a + "'";
    const std::string sh = "cd '" + dir_.path() + "'\n" + cmd + " >job.out 2>job.err & pid=$!\n" + script +
                           "\nwait $pid; echo $? >job.rc\n";
    ProcessResult r = RunProcess("/bin/sh", {"-c", sh}, dir_.path());
    EXPECT_EQ(r.exit_code, 0) << r.err;
    ProcessResult job;
    job.exit_code = std::stoi(ReadText(dir_ / "job.rc"));
    job.out = ReadText(dir_ / "job.out");
    job.err = ReadText(dir_ / "job.err");
    return job;
  }
  // Waits (in the script) until the run folder's metrics hold n lines.
  std::string AfterSteps(const std::string& out, int n) {
    return "while [ \"$(cat '" + out + "/metrics.jsonl' 2>/dev/null | wc -l)\" -lt " + std::to_string(n) +
           " ] && kill -0 $pid 2>/dev/null; do sleep 0.01; done\n";
  }
  int64_t LatestStep(const std::string& out) {
    const std::string s = FindLatestState(out);
    return s.empty() ? -1 : std::stoll(fs::path(s).filename().string().substr(6, 8));
  }
  int CountStates(const std::string& out) {
    int n = 0;
    for (const auto& e : fs::directory_iterator(out)) n += e.path().filename().string().rfind("state_", 0) == 0;
    return n;
  }
};

// SIGKILL at random moments of a run that checkpoints every step (so many
// kills land mid-write): every time, the newest complete checkpoint resumes
// and the folder holds no temporary file afterwards.
TEST_F(CliReliability, KilledAtRandomMomentsAlwaysResumes) {
  std::mt19937 rng(20261125);
  std::uniform_int_distribution<int> delay_ms(0, 30);
  steps_ = "1000000";
  const std::string out = Out();
  int mid_write = 0;  // kills that left a temporary file: they hit a checkpoint being written
  for (int round = 0; round < 20; round++) {
    std::vector<std::string> extra = {"--checkpoint-every", "1", "--keep-checkpoints", "2", "--log-every", "0",
                                      "--val-every", "0"};
    if (round > 0) extra.push_back("--resume");
    // Kill once training runs (the first round after a first checkpoint, so
    // there is one to resume), a few steps of ~1 ms later.
    const int lines = fs::exists(out + "/metrics.jsonl")
                          ? static_cast<int>(::cpu_llm::testing::CountLines(ReadText(out + "/metrics.jsonl")))
                          : 0;
    const std::string wait = AfterSteps(out, lines + (round == 0 ? 2 : 1));
    const double s = delay_ms(rng) / 1000.0;
    ProcessResult job = RunWhile(Train(out, extra), wait + "sleep " + std::to_string(s) + "; kill -9 $pid");
    ASSERT_NE(job.exit_code, 0) << "the run ended before the kill: " << job.err;
    const int64_t step = LatestStep(out);
    ASSERT_GE(step, 1) << "round " << round;
    EXPECT_LE(CountStates(out), 3) << "--keep-checkpoints 2 (a third may be the one being written)";
    bool tmp = false;
    for (const auto& e : fs::directory_iterator(out)) tmp |= e.path().filename().string().find(".tmp.") != std::string::npos;
    mid_write += tmp;
    // Resuming reads it whole and trains one more step.
    steps_ = std::to_string(step + 1);
    ProcessResult r = Run(Train(out, {"--resume", "--log-every", "1", "--keep-checkpoints", "2"}));
    ASSERT_EQ(r.exit_code, 0) << "round " << round << ": " << r.err;
    EXPECT_HAS_SUBSTR(r.out, "resuming at step " + std::to_string(step));
    for (const auto& e : fs::directory_iterator(out))
      EXPECT_EQ(e.path().filename().string().find(".tmp."), std::string::npos) << e.path();
    steps_ = "1000000";
  }
  std::printf("kills during a checkpoint write: %d of 20\n", mid_write);
}

// SIGTERM (and a first SIGINT): the step finishes, a checkpoint is written,
// exit 0, and --resume continues exactly where it stopped.
TEST_F(CliReliability, SignalStopsAfterTheStepWithACheckpoint) {
  steps_ = "1000000";
  for (const char* sig : {"TERM", "INT"}) {
    const std::string out = dir_ / (std::string("run_") + sig);
    ProcessResult job = RunWhile(Train(out, {"--log-every", "1", "--val-every", "0"}),
                                 AfterSteps(out, 3) + "kill -" + sig + " $pid");
    ASSERT_EQ(job.exit_code, 0) << job.err;
    EXPECT_HAS_SUBSTR(job.err, "stopping after this step");
    EXPECT_HAS_SUBSTR(job.out, "stopped by a signal after step");
    const int64_t step = LatestStep(out);
    ASSERT_GE(step, 3);
    EXPECT_HAS_SUBSTR(job.out, "stopped by a signal after step " + std::to_string(step) + " ");
    steps_ = std::to_string(step + 2);
    ProcessResult r = Run(Train(out, {"--resume"}));
    ASSERT_EQ(r.exit_code, 0) << r.err;
    EXPECT_HAS_SUBSTR(r.out, "resuming at step " + std::to_string(step));
    EXPECT_EQ(StepLosses(r.out).size(), 2u) << r.out;
    steps_ = "1000000";
  }
}

// A second SIGINT during a slow step exits at once with 130, writing nothing.
TEST_F(CliReliability, SecondInterruptExitsAtOnce) {
  steps_ = "1000000";
  const std::string out = Out();
  // GPT-2 tokens and the d3 model: steps of tenths of a second, so both
  // signals land inside one.
  const std::vector<std::string> args = {"train", "--model", "d3", "--batch", "16", "--seq-len", "64", "--steps",
                                         "100000", "--threads", "1", "--val-every", "0", "--log-every", "1", "--out", out};
  ProcessResult job = RunWhile(args, AfterSteps(out, 2) + "kill -INT $pid; sleep 0.02; kill -INT $pid");
  EXPECT_EQ(job.exit_code, 130) << job.err;
  EXPECT_HAS_SUBSTR(job.err, "interrupted again: exiting now");
  EXPECT_EQ(LatestStep(out), -1) << "no checkpoint was to be written";
  ProcessResult r = Run({"train", "--resume", "--out", out});
  EXPECT_EQ(r.exit_code, 1);
  EXPECT_HAS_SUBSTR(r.err, "no complete checkpoint");
}

TEST_F(CliReliability, KeepsTheNewestCheckpoints) {
  steps_ = "6";
  ExpectSuccess(Run(Train(Out(), {"--checkpoint-every", "1", "--keep-checkpoints", "2", "--export-bf16"})));
  std::vector<std::string> names;
  for (const auto& e : fs::directory_iterator(Out())) names.push_back(e.path().filename().string());
  std::sort(names.begin(), names.end());
  const std::vector<std::string> kept = {"model_00000005.bf16.bin", "model_00000005.bin", "model_00000006.bf16.bin",
                                         "model_00000006.bin", "state_00000005.bin", "state_00000006.bin"};
  std::vector<std::string> checkpoints;
  for (const std::string& n : names)
    if (n.rfind("model_", 0) == 0 || n.rfind("state_", 0) == 0) checkpoints.push_back(n);
  EXPECT_EQ(checkpoints, kept);
  ExpectError(Run(Train(Out(), {"--keep-checkpoints", "-1"})), 2, "--keep-checkpoints");
}

// The newest checkpoint damaged (a bit flipped in its state, or its model cut
// short): --resume says so and goes on from the one before.
TEST_F(CliReliability, DamagedNewestCheckpointIsSkipped) {
  steps_ = "4";
  ExpectSuccess(Run(Train(Out(), {"--checkpoint-every", "2"})));
  const std::string state4 = Out() + "/state_00000004.bin";
  std::vector<uint8_t> bytes = ::cpu_llm::testing::ReadBytes(state4);
  bytes[bytes.size() / 2] ^= 0x10;
  ::cpu_llm::testing::WriteBytes(state4, bytes.data(), bytes.size());
  steps_ = "5";
  ProcessResult r = Run(Train(Out(), {"--resume"}));
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_HAS_SUBSTR(r.out, "skipping a damaged checkpoint: " + state4 + ": corrupt state file (checksum mismatch)");
  EXPECT_HAS_SUBSTR(r.out, "resuming at step 2");
  // Both damaged: a one-line error naming the problem.
  fs::resize_file(Out() + "/model_00000002.bin", 1000);
  fs::remove(Out() + "/state_00000005.bin");
  ProcessResult none = Run(Train(Out(), {"--resume"}));
  ExpectError(none, 1, "no complete checkpoint found");
}

// A run killed after its last checkpoint has logged steps the resumed run
// redoes, and a kill or a full disk can cut the last line short: after the
// resume, metrics.jsonl holds every step once, each line whole JSON.
TEST_F(CliReliability, ResumedRunLogsEachStepOnce) {
  steps_ = "4";
  ExpectSuccess(Run(Train(Out(), {"--checkpoint-every", "2", "--val-every", "2"})));
  // As if killed before step 4's checkpoint, in the middle of a line.
  fs::remove(Out() + "/state_00000004.bin");
  fs::remove(Out() + "/model_00000004.bin");
  WriteText(Out() + "/metrics.jsonl", ReadText(Out() + "/metrics.jsonl") + "{\"step\": 5, \"lo");
  ExpectSuccess(Run(Train(Out(), {"--checkpoint-every", "2", "--val-every", "2", "--resume"})));
  std::vector<int> train_steps, val_steps;
  for (const auto& j : ReadMetrics(Out() + "/metrics.jsonl"))
    (j.contains("val_loss") ? val_steps : train_steps).push_back(j["step"].get<int>());
  EXPECT_EQ(train_steps, (std::vector<int>{1, 2, 3, 4}));
  EXPECT_EQ(val_steps, (std::vector<int>{2, 4}));
}

}  // namespace
}  // namespace cpu_llm
