// Data-parallel training under mpirun (issue 9), end to end on localhost:
// 2 ranks x B=2 make the updates of 1 process x B=4 (with gradient
// accumulation too), a 2-rank run resumes exactly, and a rank that fails or
// dies ends the job instead of leaving the other waiting.
#include <gtest/gtest.h>

#include <cmath>
#include <cstring>
#include <string>
#include <vector>

#include "test_cli_util.h"

namespace cpu_llm {
namespace {

using ::cpu_llm::testing::ProcessResult;
using ::cpu_llm::testing::ReadBytes;
using ::cpu_llm::testing::ReadMetrics;
using ::cpu_llm::testing::RunProcess;
using ::cpu_llm::testing::StepLosses;

class CliDist : public ::cpu_llm::testing::Cli {
 protected:
  void SetUp() override {
#ifndef CPU_LLM_MPIEXEC
    GTEST_SKIP() << "built without MPI: the data-parallel tests need libopenmpi-dev";
#endif
    steps_ = "5";
  }

  // `mpirun -np ranks cpu_llm args...` on this machine: oversubscribed (2
  // ranks on however many cores), allowed as root (CI containers), without
  // the cross-memory-attach copy that containers forbid, under a timeout so a
  // hang fails the test instead of the suite.
  ProcessResult MpiRun(int ranks, const std::vector<std::string>& args, const std::string& launcher_prefix = "") {
#ifdef CPU_LLM_MPIEXEC
    std::string cmd = "OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1 "
                      "OMPI_MCA_btl_vader_single_copy_mechanism=none OMPI_MCA_rmaps_base_oversubscribe=1 "
                      "timeout 120 " CPU_LLM_MPIEXEC " --bind-to none -np " + std::to_string(ranks) + " " +
                      launcher_prefix + "'" CPU_LLM_BINARY "'";
    for (const std::string& a : args) cmd += " '" + a + "'";
    return RunProcess("/bin/sh", {"-c", cmd}, dir_.path());
#else
    return ProcessResult{};
#endif
  }

  // The model file's floats (after llm.c's 256-int header).
  std::vector<float> Weights(const std::string& path) {
    const std::vector<uint8_t> bytes = ReadBytes(path);
    std::vector<float> w((bytes.size() - 1024) / 4);
    if (!w.empty()) std::memcpy(w.data(), bytes.data() + 1024, w.size() * 4);
    return w;
  }

  // 1 process x (B=4, accum) against 2 ranks x (B=2, accum): losses per step
  // and final weights within round-off (the sums run in another order).
  void ExpectSameTraining(const std::string& accum) {
    const std::string one = dir_ / ("one" + accum), two = dir_ / ("two" + accum);
    ProcessResult single = Run(Train(one, {"--grad-accum", accum}, "4"));
    ExpectSuccess(single);
    // Small buckets: the 26k gradients of the tiny model go in several
    // messages, started while backward runs.
    ProcessResult dist = MpiRun(2, Train(two, {"--grad-accum", accum, "--bucket-mb", "0.01"}, "2"));
    ASSERT_EQ(dist.exit_code, 0) << dist.err << dist.out;
    EXPECT_HAS_SUBSTR(dist.out, "data parallel: 2 ranks");
    EXPECT_HAS_SUBSTR(dist.out, "averaged in 2 bucket(s)");  // head + layer, embeddings
    EXPECT_HAS_SUBSTR(dist.out, "x 2 ranks");
    EXPECT_HAS_SUBSTR(dist.out, "comm wait:");
    // Rank 0 alone speaks and writes.
    EXPECT_EQ(StepLosses(dist.out).size(), 5u) << dist.out;
    const std::vector<nlohmann::json> a = ReadMetrics(one + "/metrics.jsonl"), b = ReadMetrics(two + "/metrics.jsonl");
    std::vector<float> la, lb;
    for (const auto& r : a)
      if (r.contains("loss")) la.push_back(r["loss"].get<float>());
    for (const auto& r : b)
      if (r.contains("loss")) lb.push_back(r["loss"].get<float>());
    ASSERT_EQ(la.size(), 5u);
    ASSERT_EQ(lb.size(), 5u);
    for (size_t i = 0; i < la.size(); i++) EXPECT_NEAR(la[i], lb[i], 1e-6f * std::fabs(la[i])) << "step " << i + 1;
    const std::vector<float> wa = Weights(one + "/model_00000005.bin"), wb = Weights(two + "/model_00000005.bin");
    ASSERT_EQ(wa.size(), wb.size());
    ASSERT_FALSE(wa.empty());
    double max_diff = 0.0;
    for (size_t i = 0; i < wa.size(); i++) max_diff = std::max(max_diff, std::fabs(double{wa[i]} - wb[i]));
    EXPECT_LT(max_diff, 1e-5) << "largest weight difference after 5 steps";
  }
};

TEST_F(CliDist, TwoRanksMakeTheUpdatesOfOneProcessWithTheWholeBatch) { ExpectSameTraining("1"); }

TEST_F(CliDist, TwoRanksWithGradientAccumulation) { ExpectSameTraining("2"); }

// Same P: the resumed steps are bit-identical to the straight run's.
TEST_F(CliDist, ResumeWithTheSameRanksIsExact) {
  ProcessResult straight = MpiRun(2, Train(dir_ / "straight"));
  ASSERT_EQ(straight.exit_code, 0) << straight.err;
  steps_ = "3";
  ProcessResult first = MpiRun(2, Train(dir_ / "resumed"));
  ASSERT_EQ(first.exit_code, 0) << first.err;
  steps_ = "5";
  ProcessResult second = MpiRun(2, Train(dir_ / "resumed", {"--resume"}));
  ASSERT_EQ(second.exit_code, 0) << second.err;
  const std::vector<std::string> all = StepLosses(straight.out), tail = StepLosses(second.out);
  ASSERT_EQ(all.size(), 5u) << straight.out;
  ASSERT_EQ(tail.size(), 2u) << second.out;
  EXPECT_EQ(tail[0], all[3]);
  EXPECT_EQ(tail[1], all[4]);
}

// A rank killed mid-run: the launcher ends the job and says which rank died.
TEST_F(CliDist, ARankThatDiesEndsTheJob) {
  steps_ = "100000";
  const std::string killer = "sh -c 'if [ \"$OMPI_COMM_WORLD_RANK\" = 1 ]; then (sleep 3; kill -9 $$) & fi; exec \"$0\" \"$@\"' ";
  ProcessResult r = MpiRun(2, Train(dir_ / "run", {"--log-every", "0"}), killer);
  EXPECT_NE(r.exit_code, 0);
  EXPECT_NE(r.exit_code, 124) << "the surviving rank hung until the timeout";
  EXPECT_HAS_SUBSTR(r.err, "rank 1");
}

// An error on the ranks (here every rank refuses the options) ends the job
// with the error, not a hang.
TEST_F(CliDist, AnErrorOnARankEndsTheJob) {
  ::cpu_llm::testing::WriteText(dir_ / "t.txt", "some text to train on\n");
  ProcessResult r = MpiRun(2, Train(dir_ / "run", {"--train-data", dir_ / "t.txt", "--data-format", "text"}));
  EXPECT_NE(r.exit_code, 0);
  EXPECT_NE(r.exit_code, 124) << "hung until the timeout";
  EXPECT_HAS_SUBSTR(r.err, "a data-parallel run needs token files");
  // The other commands would run once per rank, writing the same files.
  ProcessResult p = MpiRun(1, {"prepare", "--tokenizer", "bytes", "--out", dir_ / "o", dir_ / "t.txt"});
  EXPECT_EQ(p.exit_code, 2) << p.err;
  EXPECT_HAS_SUBSTR(p.err, "only `train` runs under mpirun");
}

// bench --dist on a few steps: every setup trains, only the 2-rank one waits
// on communication, and the report shows the table under plan item 8.
TEST_F(CliDist, BenchComparesRanksAndThreads) {
  const std::string path = dir_ / "dist.json";
  ProcessResult r = Run({"bench", "--dist", "--dist-steps", "3", "--runs", "1", "--json", path});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  const nlohmann::json j = nlohmann::json::parse(::cpu_llm::testing::ReadText(path));
  EXPECT_EQ(j["kind"], "cpu_llm-bench-dist");
  ASSERT_EQ(j["setups"].size(), 3u);
  for (const nlohmann::json& s : j["setups"]) EXPECT_GT(s["tok_s_median"].get<double>(), 0.0) << s.dump();
  EXPECT_EQ(j["setups"][1]["ranks"], 2);
  EXPECT_GT(j["setups"][1]["comm_share_median"].get<double>(), 0.0);
  EXPECT_EQ(j["setups"][0]["comm_share_median"].get<double>(), 0.0);
  ASSERT_EQ(Run({"bench", "--workload", "tiny", "--warmup", "1", "--steps", "1", "--no-flat-nested",
                 "--no-matmul-shapes", "--json", dir_ / "baseline.json"}).exit_code, 0);
  const std::string report = dir_ / "OPTIMIZATIONS.md";
  ASSERT_EQ(Run({"bench", "--report", report, "--from", dir_.path()}).exit_code, 0);
  EXPECT_NE(::cpu_llm::testing::ReadText(report).find("**Gradient reduction across processes, measured**"),
            std::string::npos);
  ExpectError(Run({"bench", "--dist", "--dist-steps", "1"}), 2, "--dist-steps");
}

}  // namespace
}  // namespace cpu_llm
