// The bench's arithmetic and its report: summaries of synthetic runs, the
// FLOP model, the ablation pairs, and the Markdown rendered from saved JSON.
#include <gtest/gtest.h>

#include <algorithm>
#include <nlohmann/json.hpp>

#include "bench/ablation.h"
#include "bench/driver.h"
#include "bench/report.h"
#include "bench/stats.h"
#include "bench/torch_runner.h"
#include "bench/workloads.h"
#include "test_io_util.h"

namespace cpu_llm {
namespace {

using nlohmann::json;
using ::cpu_llm::testing::TempDir;
using ::cpu_llm::testing::WriteText;

TEST(BenchStats, MedianMinMax) {
  EXPECT_EQ(Median({3.0, 1.0, 2.0}), 2.0);
  EXPECT_EQ(Median({4.0, 1.0, 3.0, 2.0}), 2.5);
  EXPECT_EQ(Median({}), 0.0);
  EXPECT_EQ(Min({3.0, 1.0, 2.0}), 1.0);
  EXPECT_EQ(Max({3.0, 1.0, 2.0}), 3.0);
}

TEST(BenchWorkloads, NamedWorkloadsAndConfigs) {
  Workload w;
  ASSERT_TRUE(FindWorkload("gpt2-124m", &w).ok());
  EXPECT_EQ(w.B, 4);
  EXPECT_EQ(w.T, 256);
  ModelConfig cfg;
  ASSERT_TRUE(WorkloadConfig(w, &cfg).ok());
  EXPECT_EQ(cfg.n_layer, 12);
  EXPECT_EQ(cfg.n_embd, 768);
  EXPECT_EQ(cfg.padded_vocab_size, 50304);
  EXPECT_EQ(cfg.max_seq_len, 256);
  ASSERT_TRUE(FindWorkload("d6", &w).ok());
  ASSERT_TRUE(WorkloadConfig(w, &cfg).ok());
  EXPECT_EQ(cfg.n_embd, 384);
  EXPECT_EQ(w.B * w.T, 8 * 128);
  const Status s = FindWorkload("gpt5", &w);
  EXPECT_EQ(s.exit_code(), 2);
  EXPECT_NE(s.message().find("gpt5"), std::string::npos);
}

TEST(BenchWorkloads, TrainFlopsPerTokenCountsWeightsAndAttention) {
  ModelConfig cfg;  // GPT-2 124M, maxT 1024, Vp 50304
  // llm.c's count for this config is 124,475,904 parameters; the 1024x768
  // position embeddings are additions, not products.
  ASSERT_EQ(ParameterCount(cfg), 124475904);
  const double weights = 124475904.0 - 1024.0 * 768.0;
  EXPECT_DOUBLE_EQ(TrainFlopsPerToken(cfg, 1024), 6.0 * weights + 12.0 * 12 * 1024 * 768);
  // Attention's share grows with T; the weights' does not.
  EXPECT_DOUBLE_EQ(TrainFlopsPerToken(cfg, 512) - TrainFlopsPerToken(cfg, 256), 12.0 * 12 * 256 * 768);
}

json FakeRun(std::vector<double> step_ms, uint64_t rss) {
  return {{"workload", "tiny"},
          {"config", {{"B", 4}, {"T", 64}}},
          {"flops_per_token", 1e6},
          {"step_ms", step_ms},
          {"peak_rss_bytes", rss},
          {"losses", {10.0, 9.5}}};
}

TEST(BenchSummary, PoolsStepsAcrossRuns) {
  const json s = SummarizeRuns({FakeRun({10.0, 20.0}, 100), FakeRun({30.0}, 300)}, /*peak_gflops=*/100.0);
  EXPECT_EQ(s["runs"], 2);
  EXPECT_EQ(s["step_ms"].size(), 3u);
  EXPECT_DOUBLE_EQ(s["ms_median"].get<double>(), 20.0);
  EXPECT_DOUBLE_EQ(s["ms_min"].get<double>(), 10.0);
  EXPECT_DOUBLE_EQ(s["ms_max"].get<double>(), 30.0);
  EXPECT_DOUBLE_EQ(s["tok_s"].get<double>(), 256 / 0.020);
  // 256 tokens x 1 MFLOP in 20 ms = 12.8 GFLOP/s, 12.8% of a 100 GFLOP/s peak.
  EXPECT_DOUBLE_EQ(s["gflops"].get<double>(), 12.8);
  EXPECT_DOUBLE_EQ(s["mfu"].get<double>(), 0.128);
  EXPECT_EQ(s["peak_rss_bytes"], 300u);
}

TEST(BenchAblation, PairsDependOnTheThreadCount) {
  auto names = [](int threads) {
    std::vector<std::string> n;
    for (const AblationPair& p : AblationPairs(threads)) n.push_back(p.name);
    return n;
  };
  EXPECT_EQ(names(4), (std::vector<std::string>{"matmul", "simd", "blas", "onednn", "threads", "threads-124m", "bf16",
                                                "fp16", "accum-4", "accum-16", "profiler"}));
  EXPECT_EQ(names(1), (std::vector<std::string>{"matmul", "simd", "blas", "onednn", "bf16", "fp16", "accum-4",
                                                "accum-16", "profiler"}));
  for (const AblationPair& p : AblationPairs(4)) {
    Workload w;
    EXPECT_TRUE(FindWorkload(p.workload, &w).ok()) << p.name;
    EXPECT_GE(p.plan_item, 1);
    EXPECT_LE(p.plan_item, 10);
  }
}

json FakeBaseline() {
  json w = SummarizeRuns({FakeRun({10.0, 20.0}, 150'000'000)}, 100.0);
  w["description"] = "a tiny model";
  w["bytes"] = {{"params", 4'000'000}, {"grads", 4'000'000}, {"optimizer", 8'000'000}, {"activations", 2'000'000}};
  w["profile"] = {{"steps", 2},
                  {"step_ms", 15.0},
                  {"scopes_per_step", 40.0},
                  {"scope_ns", 30.0},
                  {"overhead_fraction", 40 * 30e-9 / 15e-3},
                  {"ops", {{{"op", "matmul lm head"}, {"fwd_ms", 3.0}, {"bwd_ms", 6.0}},
                           {{"op", "layernorm"}, {"fwd_ms", 1.0}, {"bwd_ms", 0.5}}}}};
  json torch = SummarizeRuns({FakeRun({60.0}, 450'000'000)}, 100.0);
  torch["dtype"] = "fp32";
  torch["torch_version"] = "1.13";
  torch["blas_name"] = "OpenBLAS";
  return {{"kind", "cpu_llm-bench-baseline"},
          {"machine",
           {{"cpu", "Test CPU 9000"}, {"logical_cpus", 2}, {"simd", {"AVX2", "FMA"}}, {"memory_bytes", 8e9},
            {"os", "Linux"}, {"build", "g++"}, {"date", "2026-01-01 00:00 UTC"}}},
          {"peak", {{"threads", 2}, {"fp32_gflops", 100.0}, {"fp32_isa", "AVX2 FMA"}, {"bf16_gflops", 0.0}}},
          {"workloads", {w}},
          {"pytorch", {torch, {{"workload", "tiny"}, {"dtype", "bf16"}, {"skipped", "too slow here"}}}},
          {"flat_vs_nested",
           {{"N", 8}, {"C", 4}, {"OC", 16}, {"reps", 5}, {"nested_ms_median", 3.0}, {"nested_ms_min", 2.5},
            {"nested_ms_max", 3.5}, {"flat_ms_median", 2.0}, {"flat_ms_min", 1.9}, {"flat_ms_max", 2.2},
            {"max_abs_diff", 0.0}}}};
}

json FakeAblation() {
  json side_before = {{"label", "naive loops"}, {"ms_median", 160.0}, {"peak_rss_bytes", 2e8}};
  json side_after = {{"label", "tiled SIMD"}, {"ms_median", 100.0}, {"peak_rss_bytes", 2e8}};
  json pair = {{"switch", "matmul"}, {"plan_item", 4}, {"question", "What tiling buys"}, {"workload", "tiny"},
               {"warmup_steps", 1}, {"steps", 3}, {"before", side_before}, {"after", side_after},
               {"speedup_median", 1.6}, {"speedup_min", 1.5}, {"speedup_max", 1.7}, {"loss_max_abs_diff", 2e-6}};
  json prof = pair;
  prof["switch"] = "profiler";
  prof["plan_item"] = 6;
  prof["speedup_median"] = 0.995;
  prof["loss_max_abs_diff"] = 0.0;
  return {{"kind", "cpu_llm-bench-ablation"}, {"machine", {{"date", "2026-01-02 00:00 UTC"}}}, {"runs", 5},
          {"pairs", {pair, prof}}};
}

bool Has(const std::string& text, const std::string& what) { return text.find(what) != std::string::npos; }

// --merge: the fresh pair replaces the earlier one of its switch, a new
// switch joins in AblationPairs' order, and every pair says when it was
// measured.
TEST(BenchAblation, MergeReplacesAndDatesPairs) {
  const json earlier = FakeAblation();
  json fresh = FakeAblation();
  fresh["machine"]["date"] = "2026-02-03 00:00 UTC";
  json fp16 = fresh["pairs"][0];
  fp16["switch"] = "fp16";
  fp16["plan_item"] = 1;
  fresh["pairs"] = {fp16, fresh["pairs"][0]};
  fresh["pairs"][1]["speedup_median"] = 9.0;
  const json merged = MergeAblation(earlier, fresh);
  ASSERT_EQ(merged["pairs"].size(), 3u);
  EXPECT_EQ(merged["pairs"][0]["switch"], "matmul");
  EXPECT_EQ(merged["pairs"][0]["speedup_median"], 9.0);
  EXPECT_EQ(merged["pairs"][0]["measured"], "2026-02-03 00:00 UTC");
  EXPECT_EQ(merged["pairs"][1]["switch"], "fp16");
  EXPECT_EQ(merged["pairs"][2]["switch"], "profiler");
  EXPECT_EQ(merged["pairs"][2]["measured"], "2026-01-02 00:00 UTC");
  EXPECT_EQ(merged["machine"], earlier["machine"]);
  EXPECT_TRUE(Has(RenderReport(FakeBaseline(), merged, "", "bench", ""), "measured 2026-02-03 00:00 UTC"));
}

// Pairs whose sides process different tokens per step (accumulation) show
// each side's tokens/s; older results without them keep the ms-only table.
TEST(BenchReport, PairTableShowsTokensPerSecondWhenRecorded) {
  json a = FakeAblation();
  EXPECT_FALSE(Has(RenderReport(FakeBaseline(), a, "", "bench", ""), "| ms/step (median of run medians) | tokens/s |"));
  a["pairs"][0]["before"]["tok_s"] = 1600.0;
  a["pairs"][0]["after"]["tok_s"] = 6400.0;
  const std::string md = RenderReport(FakeBaseline(), a, "", "bench", "");
  EXPECT_TRUE(Has(md, "| ms/step (median of run medians) | tokens/s | peak RSS |")) << md;
  EXPECT_TRUE(Has(md, "| before: naive loops | 160.0 | 1600 | 200 MB |")) << md;
  EXPECT_TRUE(Has(md, "| after: tiled SIMD | 100.0 | 6400 | 200 MB |")) << md;
}

TEST(BenchReport, RendersEveryFigureFromTheResults) {
  const std::string md = RenderReport(FakeBaseline(), FakeAblation(), "12.3% matmul_forward\n", "bench", "bench/x.svg");
  EXPECT_TRUE(Has(md, "Test CPU 9000"));
  EXPECT_TRUE(Has(md, "100.0 GFLOP/s (AVX2 FMA, 2 threads)"));
  EXPECT_TRUE(Has(md, "no AVX512_BF16"));
  // Baseline row: median 15 ms (10-20), 256 tokens / 15 ms.
  EXPECT_TRUE(Has(md, "| tiny | cpu_llm | 15.0 (10.0–20.0) | 17067 |")) << md;
  EXPECT_TRUE(Has(md, "PyTorch 1.13 fp32 (OpenBLAS)"));
  EXPECT_TRUE(Has(md, "| tiny | PyTorch bf16 | too slow here |"));
  EXPECT_TRUE(Has(md, "4.00x the speed of PyTorch fp32 and peaks at 0.33x its memory"));
  // Profile: 9 of 15 ms is 60%.
  EXPECT_TRUE(Has(md, "| matmul lm head | 3.00 | 6.00 | 60.0% |"));
  EXPECT_TRUE(Has(md, "Largest: matmul lm head 60.0%, layernorm 10.0%"));
  // Ablation pair under plan item 4, and the profiler's cost under item 6.
  EXPECT_TRUE(Has(md, "### 4. SIMD kernels"));
  EXPECT_TRUE(Has(md, "**1.600x** (min 1.500, max 1.700)"));
  EXPECT_TRUE(Has(md, "2.00e-06"));
  EXPECT_TRUE(Has(md, "Profiler overhead: +0.50%"));
  EXPECT_TRUE(Has(md, "bit-identical"));
  EXPECT_TRUE(Has(md, "tiny: 40 scopes per step × 30 ns = 0.0080% of the step"));
  // Flat vs nested: 3.0 / 2.0.
  EXPECT_TRUE(Has(md, "Nested time ÷ flat time (medians): **1.50x**"));
  EXPECT_TRUE(Has(md, "12.3% matmul_forward"));
  EXPECT_TRUE(Has(md, "[bench/x.svg](bench/x.svg)"));
  // Items without a measurement say so.
  EXPECT_TRUE(Has(md, "### 1. Mixed precision (bf16, f16) — built"));
  for (int i = 1; i <= 10; i++) EXPECT_TRUE(Has(md, "### " + std::to_string(i) + ". ")) << i;
}

TEST(BenchReport, ReadsTheSavedResultsAndRefusesBadOnes) {
  TempDir dir;
  const std::string out = dir / "OPTIMIZATIONS.md";
  Status s = WriteReport(dir / "none", out);
  EXPECT_EQ(s.exit_code(), 1);
  EXPECT_TRUE(Has(s.message(), "baseline.json: not found")) << s.message();

  WriteText(dir / "baseline.json", "{ not json");
  s = WriteReport(dir.path(), out);
  EXPECT_TRUE(Has(s.message(), "baseline.json: not valid JSON")) << s.message();

  WriteText(dir / "baseline.json", R"({"kind": "something else"})");
  s = WriteReport(dir.path(), out);
  EXPECT_TRUE(Has(s.message(), "not a bench baseline result")) << s.message();

  WriteText(dir / "baseline.json", FakeBaseline().dump());
  WriteText(dir / "ablation.json", FakeAblation().dump());
  ASSERT_TRUE(WriteReport(dir.path(), out).ok());
  EXPECT_TRUE(Has(::cpu_llm::testing::ReadText(out), "**1.600x**"));
}

// The PyTorch runner against stand-in scripts: a missing script or torch is
// a skip with the reason, a result is parsed and given the FLOP model's
// count, a failing script is an error.
TEST(BenchTorchRunner, SkipsParsesAndFails) {
  TempDir dir;
  Workload w;
  ASSERT_TRUE(FindWorkload("tiny", &w).ok());
  json result;
  std::string skipped;
  ASSERT_TRUE(RunTorchBench(dir / "absent.py", w, "fp32", 1, 0, 0, &result, &skipped).ok());
  EXPECT_TRUE(Has(skipped, "absent.py: not found"));

  WriteText(dir / "no_torch.py", "import sys\nsys.exit(3)\n");
  ASSERT_TRUE(RunTorchBench(dir / "no_torch.py", w, "fp32", 1, 0, 0, &result, &skipped).ok());
  EXPECT_EQ(skipped, "PyTorch is not installed");

  // Echoes its arguments back, so the test sees what the runner passed.
  WriteText(dir / "fake.py",
            "import json, sys\nprint(json.dumps({'argv': sys.argv[1:], 'blas': '/x/openblas-pthread/libblas.so.3'}))\n");
  ASSERT_TRUE(RunTorchBench(dir / "fake.py", w, "bf16", 2, 1, 2, &result, &skipped).ok());
  EXPECT_EQ(skipped, "");
  const std::vector<std::string> argv = result["argv"];
  auto arg = [&](const std::string& flag) {
    auto it = std::find(argv.begin(), argv.end(), flag);
    return it == argv.end() || it + 1 == argv.end() ? std::string("?") : *(it + 1);
  };
  EXPECT_EQ(arg("--n-layer"), "2");
  EXPECT_EQ(arg("--n-embd"), "128");
  EXPECT_EQ(arg("--padded-vocab"), "50304");
  EXPECT_EQ(arg("--batch"), "4");
  EXPECT_EQ(arg("--seq-len"), "64");
  EXPECT_EQ(arg("--threads"), "2");
  EXPECT_EQ(arg("--dtype"), "bf16");
  EXPECT_EQ(arg("--warmup-steps"), "1");
  EXPECT_EQ(arg("--steps"), "2");
  ModelConfig cfg;
  ASSERT_TRUE(WorkloadConfig(w, &cfg).ok());
  EXPECT_DOUBLE_EQ(result["flops_per_token"].get<double>(), TrainFlopsPerToken(cfg, 64));
  EXPECT_EQ(result["blas_name"], "OpenBLAS");

  WriteText(dir / "broken.py", "raise SystemExit(1)\n");
  const Status s = RunTorchBench(dir / "broken.py", w, "fp32", 1, 0, 0, &result, &skipped);
  EXPECT_EQ(s.exit_code(), 1);
  EXPECT_TRUE(Has(s.message(), "broken.py: failed for tiny fp32 (exit status 1)")) << s.message();
}

}  // namespace
}  // namespace cpu_llm
