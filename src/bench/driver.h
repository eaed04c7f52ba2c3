// The bench's baseline suite: each workload run in fresh worker processes,
// summarised (median/min/max ms per step, tokens/s, GFLOP/s, MFU against the
// measured peak, memory), optionally beside PyTorch running the same model in
// the same session, plus the flat-vs-nested storage comparison.
#pragma once

#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "bench/worker.h"
#include "core/status.h"

namespace cpu_llm {

// Runs `cpu_llm bench --worker` for one workload; steps/warmup 0 keep the
// workload's own counts.
Status RunWorkerProcess(const Workload& workload, const BenchSwitches& sw, int warmup, int steps,
                        nlohmann::json* result);

struct BaselineOptions {
  std::vector<std::string> workloads;  // empty: all
  int runs = 1;                        // worker processes per workload; their steps are pooled
  int warmup = 0, steps = 0;           // 0: each workload's own
  BenchSwitches switches;
  bool torch = false;                  // also run tools/torch_bench.py (skipped when torch is absent)
  std::string torch_script;
  std::vector<std::string> torch_dtypes = {"fp32", "bf16"};
  bool flat_nested = true;
  bool matmul_shapes = true;  // per-shape backend timings on the largest workload run
  int matmul_shape_rounds = 7;
};

Status RunBaseline(const BaselineOptions& opt, nlohmann::json* out);

// Median/min/max, tokens/s, GFLOP/s and MFU of a set of runs of one workload
// (step times pooled), from the runs' JSON.
nlohmann::json SummarizeRuns(const std::vector<nlohmann::json>& runs, double peak_gflops);

// The readable tables of a baseline result.
std::string BaselineTable(const nlohmann::json& baseline);

}  // namespace cpu_llm
