// One bench run of one workload, in this process: warm-up steps, then timed
// optimizer steps on the bundled corpus, with the switches under test. The
// driver runs each of these in a fresh process so peak RSS, caches and the
// allocator start clean for every run.
#pragma once

#include <nlohmann/json.hpp>
#include <string>

#include "bench/workloads.h"
#include "core/context.h"
#include "core/status.h"

namespace cpu_llm {

// The trainer's switches the bench can flip. Later plan items (data access,
// loader, accumulation, model variants) add theirs here.
struct BenchSwitches {
  int threads = 0;  // 0 = all
  MatmulBackend matmul = MatmulBackend::kTiled;  // the trainer's default
  bool profile = true;  // the built-in per-op profiler
  std::string simd = "best";  // Highway dispatch target: "best" or one name (LimitSimdTarget)
  Precision precision = Precision::kFp32;  // of the linear layers (fp16 with loss scaling)
  int grad_accum = 1;  // micro-batches of the workload's (B,T) per update
};
nlohmann::json SwitchesToJson(const BenchSwitches& sw);
Status SwitchesFromJson(const nlohmann::json& j, BenchSwitches* sw);

// Result: workload, switches, config, step_ms and losses of the timed steps,
// peak_rss_bytes, bytes held per arena, and the per-op profile when on.
Status RunWorkload(const Workload& workload, const BenchSwitches& sw, nlohmann::json* result);

}  // namespace cpu_llm
