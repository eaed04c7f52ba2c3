// `cpu_llm bench` end to end on the tiny workload: the baseline JSON, an
// ablation pair, the generated report, the mixed precision stability runs,
// and every bad flag refused in one line.
// Timings are not asserted (the machine is shared); shapes and invariants are.
#include <gtest/gtest.h>

#include <cmath>
#include <cstdlib>
#include <filesystem>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "test_io_util.h"

namespace cpu_llm {
namespace {

using nlohmann::json;
using ::cpu_llm::testing::ProcessResult;
using ::cpu_llm::testing::ReadText;
using ::cpu_llm::testing::WriteText;

class CliBench : public ::cpu_llm::testing::BinaryTest {
 protected:
  json RunJson(std::vector<std::string> args, const std::string& name) {
    const std::string path = dir_ / name;
    args.insert(args.end(), {"--json", path});
    const ProcessResult r = Run(args);
    EXPECT_EQ(r.exit_code, 0) << r.err;
    return json::parse(ReadText(path));
  }
};

TEST_F(CliBench, BaselineSmokeOnTheTinyWorkload) {
  const json b = RunJson({"bench", "--workload", "tiny", "--warmup", "1", "--steps", "2", "--threads", "2"},
                         "baseline.json");
  EXPECT_EQ(b["kind"], "cpu_llm-bench-baseline");
  EXPECT_GT(b["peak"]["fp32_gflops"].get<double>(), 0.0);
  ASSERT_EQ(b["workloads"].size(), 1u);
  const json& w = b["workloads"][0];
  EXPECT_EQ(w["workload"], "tiny");
  EXPECT_EQ(w["step_ms"].size(), 2u);
  EXPECT_EQ(w["losses"].size(), 2u);
  // Random init: the loss starts near ln(50257) = 10.8.
  EXPECT_NEAR(w["losses"][0].get<double>(), 10.8, 0.3);
  EXPECT_LE(w["ms_min"].get<double>(), w["ms_median"].get<double>());
  EXPECT_LE(w["ms_median"].get<double>(), w["ms_max"].get<double>());
  EXPECT_GT(w["gflops"].get<double>(), 0.0);
  // 6,843,904 parameters (50304x128 + 64x128 + 2x(12x128^2 + 13x128) + 2x128): the parameter and gradient arenas hold
  // exactly that, AdamW twice that.
  EXPECT_EQ(w["config"]["params"], 6843904);
  EXPECT_EQ(w["bytes"]["params"], 4 * 6843904);
  EXPECT_EQ(w["bytes"]["grads"], 4 * 6843904);
  EXPECT_EQ(w["bytes"]["optimizer"], 8 * 6843904);
  EXPECT_GT(w["peak_rss_bytes"].get<double>(), w["bytes"]["params"].get<double>() * 4);
  // The profile names every op class of the step and sums to no more than it.
  std::vector<std::string> ops;
  double sum = 0.0;
  for (const json& o : w["profile"]["ops"]) {
    ops.push_back(o["op"]);
    sum += o["fwd_ms"].get<double>() + o["bwd_ms"].get<double>();
  }
  for (const char* op : {"embedding", "layernorm", "matmul qkv", "matmul lm head", "attention", "gelu",
                         "cross-entropy", "optimizer", "grad reduction"})
    EXPECT_NE(std::find(ops.begin(), ops.end(), op), ops.end()) << op;
  EXPECT_LE(sum, w["profile"]["step_ms"].get<double>() * 1.001);
  // Every op of every layer is one timed scope: tens per step for 2 layers.
  EXPECT_GT(w["profile"]["scopes_per_step"].get<double>(), 30.0);
  EXPECT_GT(w["profile"]["scope_ns"].get<double>(), 0.0);
  EXPECT_LT(w["profile"]["overhead_fraction"].get<double>(), 0.01);
  EXPECT_EQ(b["flat_vs_nested"]["max_abs_diff"].get<double>(), 0.0);
  // Per-shape matmul timings: 5 products x 2 passes, each naming its fastest
  // backend, and the per-shape choice never slower than any single backend.
  const json& ms = b["matmul_shapes"];
  ASSERT_EQ(ms["shapes"].size(), 10u);
  for (const json& row : ms["shapes"]) {
    const std::string fastest = row["fastest"];
    for (const char* backend : {"tiled", "blas", "onednn"})
      EXPECT_LE(row["ms"][fastest].get<double>(), row["ms"][backend].get<double>()) << row.dump();
  }
  EXPECT_EQ(ms["shapes"][8]["product"], "lmhead");
  EXPECT_EQ(ms["shapes"][8]["N"], 256);  // B*T = 256: one chunk of kHeadRows
  for (const char* backend : {"tiled", "blas", "onednn"})
    EXPECT_LE(ms["step_ms"]["per_shape_best"].get<double>(), ms["step_ms"][backend].get<double>() * (1 + 1e-9));
}

TEST_F(CliBench, AblationPairAndReport) {
  // The naive matmul is the slow side; one short pair keeps the test quick.
  const json a = RunJson({"bench", "--ablation", "--switch", "matmul", "--runs", "1", "--warmup", "1", "--steps", "1"},
                         "ablation.json");
  ASSERT_EQ(a["pairs"].size(), 1u);
  const json& p = a["pairs"][0];
  EXPECT_EQ(p["switch"], "matmul");
  EXPECT_EQ(p["before"]["switches"]["matmul"], "naive");
  EXPECT_EQ(p["after"]["switches"]["matmul"], "tiled");
  EXPECT_EQ(p["speedups"].size(), 1u);
  // Same data, same seed: the two backends train the same model up to
  // rounding (different summation orders).
  EXPECT_LT(p["loss_max_abs_diff"].get<double>(), 1e-3);

  // The report from these results (a baseline without the 124M workload).
  RunJson({"bench", "--workload", "tiny", "--warmup", "1", "--steps", "1", "--no-flat-nested"}, "baseline.json");
  const std::string report = dir_ / "OPTIMIZATIONS.md";
  const ProcessResult r = Run({"bench", "--report", report, "--from", dir_.path()});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  const std::string md = ReadText(report);
  EXPECT_NE(md.find("## Machine"), std::string::npos);
  EXPECT_NE(md.find("| tiny | cpu_llm |"), std::string::npos);
  EXPECT_NE(md.find("naive loops"), std::string::npos);
  EXPECT_NE(md.find("**Per product shape**"), std::string::npos);
}

// The data bench on a small generated dataset (2 shards of 1M tokens):
// every part produces runs from a cold cache, the generated data is gone
// afterwards, and the report shows it under items 2 and 7. The accumulation
// curve: both runs, a tiny gap, its plot and its report paragraph.
TEST_F(CliBench, DataIoAndAccumCurveMeasureAndReport) {
  const std::string data_dir = dir_ / "gen";
  std::filesystem::create_directories(data_dir);
  const json d = RunJson({"bench", "--data-io", "--data-dir", data_dir, "--data-shards", "2", "--data-shard-tokens",
                          "1000000", "--runs", "1", "--steps", "4", "--threads", "1"},
                         "data_io.json");
  EXPECT_EQ(d["kind"], "cpu_llm-bench-data-io");
  EXPECT_EQ(d["dataset"]["shards"], 2);
  EXPECT_LT(d["dataset"]["resident_after_evict"].get<double>(), 0.5);
  ASSERT_EQ(d["growth"].size(), 4u);  // 1 and 2 shards, read and mmap
  for (const char* part : {"growth", "single", "loader", "text"})
    for (const json& e : d[part]) {
      ASSERT_EQ(e["runs"].size(), 1u) << part;
      EXPECT_GT(e["runs"][0]["tok_s"].get<double>(), 0.0) << part;
      EXPECT_GT(e["runs"][0]["peak_rss_mb"].get<double>(), 0.0) << part;
      EXPECT_GE(e["runs"][0]["data_wait_pct"].get<double>(), 0.0) << part;
    }
  EXPECT_EQ(d["advice"].size(), 9u);
  EXPECT_TRUE(std::filesystem::is_empty(data_dir)) << "the generated data must be deleted";

  const json c = RunJson({"bench", "--accum-curve", "--accum-steps", "3", "--threads", "1"}, "accum_curve.json");
  ASSERT_EQ(c["runs"].size(), 2u);
  EXPECT_EQ(c["runs"][1]["grad_accum"], 4);
  EXPECT_LT(c["max_loss_gap"].get<double>(), 1e-3);
  EXPECT_TRUE(std::filesystem::is_regular_file(dir_ / "accum_curve.svg"));

  RunJson({"bench", "--workload", "tiny", "--warmup", "1", "--steps", "1", "--no-flat-nested", "--no-matmul-shapes"},
          "baseline.json");
  const std::string report = dir_ / "OPTIMIZATIONS.md";
  const ProcessResult r = Run({"bench", "--report", report, "--from", dir_.path()});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  const std::string md = ReadText(report);
  EXPECT_NE(md.find("`cpu_llm bench --data-io`"), std::string::npos);
  EXPECT_NE(md.find("| 2 shard(s) | mmap |"), std::string::npos) << md;
  EXPECT_NE(md.find("**madvise hints, measured**"), std::string::npos);
  EXPECT_NE(md.find("Data wait with the async loader"), std::string::npos);
  EXPECT_NE(md.find("**Loss curve, B=8 vs B=2×4**"), std::string::npos);
  EXPECT_NE(md.find("![training loss, B=8 vs B=2x4](accum_curve.svg)"), std::string::npos);

  ExpectError(Run({"bench", "--data-io", "--data-io-parts", "growth,warp"}), 2, "warp");
  ExpectError(Run({"bench", "--data-io", "--data-shards", "0"}), 2, "--data-shards");
  ExpectError(Run({"bench", "--data-io", "--data-dir", dir_ / "missing"}), 1, "missing");
  ExpectError(Run({"bench", "--data-io", "--ablation"}), 2, "separate runs");
}

// Two architecture variants for a short budget: both train, the pruned one
// is smaller, and the report's item 10 shows the table.
TEST_F(CliBench, ArchComparesVariantsAtEqualTime) {
  const json r = RunJson({"bench", "--arch", "--arch-budget", "10", "--arch-variants", "gpt2,pruned", "--threads", "1"},
                         "arch.json");
  ASSERT_EQ(r["runs"].size(), 2u);
  EXPECT_EQ(r["runs"][0]["variant"], "gpt2");
  EXPECT_LT(r["runs"][1]["params_m"].get<double>(), r["runs"][0]["params_m"].get<double>());
  for (const json& run : r["runs"]) {
    EXPECT_GT(run["steps"].size(), 5u);
    EXPECT_FALSE(run["val_loss"].empty());
    EXPECT_GT(run["tok_s"].get<double>(), 0.0);
  }
  RunJson({"bench", "--workload", "tiny", "--warmup", "1", "--steps", "1", "--no-flat-nested", "--no-matmul-shapes"},
          "baseline.json");
  const std::string report = dir_ / "OPTIMIZATIONS.md";
  ASSERT_EQ(Run({"bench", "--report", report, "--from", dir_.path()}).exit_code, 0);
  EXPECT_NE(ReadText(report).find("**Variants, measured**"), std::string::npos);
  ExpectError(Run({"bench", "--arch", "--arch-variants", "gpt5"}), 2, "gpt5");
  ExpectError(Run({"bench", "--arch", "--arch-budget", "3"}), 2, "--arch-budget");
}

TEST_F(CliBench, BadFlagsAndFilesAreRefusedInOneLine) {
  ExpectError(Run({"bench", "--workload", "gpt5"}), 2, "gpt5");
  ExpectError(Run({"bench", "--ablation", "--switch", "warp-drive"}), 2, "warp-drive");
  ExpectError(Run({"bench", "--matmul", "magic"}), 2, "magic");
  ExpectError(Run({"bench", "--runs", "-1"}), 2, "must not be negative");
  ExpectError(Run({"bench", "--report", dir_ / "r.md"}), 2, "--from");
  ExpectError(Run({"bench", "--report", dir_ / "r.md", "--from", dir_ / "nowhere"}), 1, "baseline.json: not found");
  WriteText(dir_ / "baseline.json", "[1, 2");
  ExpectError(Run({"bench", "--report", dir_ / "r.md", "--from", dir_.path()}), 1, "not valid JSON");
  ExpectError(Run({"bench", "--ablation", "--workload", "tiny", "--workload", "d6"}), 2, "at most one");
}

// Three precisions of a one-layer model for 6 steps: the JSON holds every
// run's curves, the plots land beside it, and the temp folders are gone.
TEST_F(CliBench, StabilityRunsEveryPrecisionAndPlots) {
  // Where the runs' folders go, to check they are removed.
  struct TmpDirEnv {
    std::string saved;
    bool had;
    explicit TmpDirEnv(const std::string& dir) : had(std::getenv("TMPDIR") != nullptr) {
      if (had) saved = std::getenv("TMPDIR");
      ::setenv("TMPDIR", dir.c_str(), 1);
    }
    ~TmpDirEnv() { had ? ::setenv("TMPDIR", saved.c_str(), 1) : ::unsetenv("TMPDIR"); }
  } tmpdir_env(dir_.path());
  const std::string tiny = "--model d1 --batch 2 --seq-len 16 --val-every 3 --val-batches 1";
  const std::string json_path = dir_ / "out/stability.json";
  const ProcessResult r = Run({"bench", "--stability", "--stability-steps", "6", "--stability-args", tiny, "--threads",
                               "2", "--json", json_path});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_HAS_SUBSTR(r.err, "training in fp16 (3/3), 6 steps");
  EXPECT_HAS_SUBSTR(r.out, "final val loss");
  EXPECT_HAS_SUBSTR(r.out, "within 1% of fp32: PASS");
  const json s = json::parse(ReadText(json_path));
  EXPECT_EQ(s["kind"], "cpu_llm-bench-stability");
  EXPECT_EQ(s["steps"], 6);
  EXPECT_TRUE(s["machine"].contains("cpu"));
  EXPECT_HAS_SUBSTR(s["model"].get<std::string>(), "C=64");
  ASSERT_EQ(s["runs"].size(), 3u);
  const char* precisions[] = {"fp32", "bf16", "fp16"};
  for (int i = 0; i < 3; i++) {
    const json& run = s["runs"][i];
    SCOPED_TRACE(precisions[i]);
    EXPECT_EQ(run["precision"], precisions[i]);
    EXPECT_EQ(run["steps"], json({1, 2, 3, 4, 5, 6}));
    ASSERT_EQ(run["loss"].size(), 6u);
    for (const json& l : run["loss"]) EXPECT_TRUE(l.is_number() && std::isfinite(l.get<double>())) << l;
    // Random init: near ln(50257) = 10.8 for these few steps.
    EXPECT_NEAR(run["loss"][0].get<double>(), 10.8, 0.3);
    EXPECT_EQ(run["val_steps"], json({3, 6}));
    EXPECT_EQ(run["final_val_loss"], run["val_loss"][1]);
    EXPECT_LT(std::fabs(run["val_loss_diff_pct"].get<double>()), 1.0);
    EXPECT_FALSE(run["diverged"].get<bool>());
    EXPECT_GT(run["wall_s"].get<double>(), 0.0);
    EXPECT_EQ(run["final_loss_scale"].is_number(), i == 2);
    EXPECT_EQ(run["skipped_steps"], 0);
  }
  for (const char* svg : {"stability_train_loss.svg", "stability_val_loss.svg"}) {
    const std::string text = ReadText(dir_ / (std::string("out/") + svg));
    EXPECT_HAS_SUBSTR(text, "<svg xmlns=");
    EXPECT_HAS_SUBSTR(text, "</svg>");
  }
  for (const auto& entry : std::filesystem::directory_iterator(dir_.path()))
    EXPECT_EQ(entry.path().filename().string().rfind("cpu_llm_stability_", 0), std::string::npos) << entry.path();

  // --plot-dir puts the figures elsewhere; no --json needed.
  const ProcessResult p = Run({"bench", "--stability", "--stability-steps", "2", "--stability-args",
                               "--model d1 --batch 1 --seq-len 8 --val-batches 1", "--plot-dir", dir_ / "plots"});
  ASSERT_EQ(p.exit_code, 0) << p.err;
  EXPECT_HAS_SUBSTR(ReadText(dir_ / "plots/stability_val_loss.svg"), "fp16: final");
}

TEST_F(CliBench, StabilityRefusesFlagsItOwnsAndReportsAFailingRun) {
  ExpectError(Run({"bench", "--stability", "--stability-args", "--steps 5"}), 2, "--stability-steps");
  ExpectError(Run({"bench", "--stability", "--stability-args", "--precision=fp16"}), 2, "--precision is set by the bench");
  ExpectError(Run({"bench", "--stability", "--stability-args", "-o /tmp/x"}), 2, "-o is set by the bench");
  ExpectError(Run({"bench", "--stability", "--stability-steps", "0"}), 2, "at least 1");
  ExpectError(Run({"bench", "--stability", "--ablation"}), 2, "separate runs");
  ExpectError(Run({"bench", "--stability-steps", "5"}), 2, "--stability");
  // The child's own error comes first on stderr, then the bench's.
  const ProcessResult r = Run({"bench", "--stability", "--stability-steps", "2", "--stability-args", "--model d0x"});
  EXPECT_EQ(r.exit_code, 1);
  EXPECT_HAS_SUBSTR(r.err, "d0x");
  EXPECT_HAS_SUBSTR(r.err, "error: --stability: the fp32 run failed (exit status 2)");
}

TEST_F(CliBench, ListNamesWorkloadsAndSwitches) {
  const ProcessResult r = Run({"bench", "--list"});
  ASSERT_EQ(r.exit_code, 0);
  for (const char* s : {"gpt2-124m", "d6", "tiny", "matmul", "profiler"}) EXPECT_NE(r.out.find(s), std::string::npos) << s;
}

}  // namespace
}  // namespace cpu_llm
