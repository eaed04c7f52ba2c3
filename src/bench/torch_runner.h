// PyTorch beside cpu_llm: runs tools/torch_bench.py (a plain torch.nn GPT-2
// with the same config, AdamW and thread count) for a workload.
#pragma once

#include <string>

#include <nlohmann/json.hpp>

#include "bench/workloads.h"
#include "core/status.h"

namespace cpu_llm {

// The script's path in this source tree (set at build time).
std::string DefaultTorchScript();

// dtype "fp32" or "bf16" (autocast). When PyTorch or python3 is missing,
// returns OK with *skipped saying why and *result untouched. warmup/steps 0
// keep the workload's own.
Status RunTorchBench(const std::string& script, const Workload& workload, const std::string& dtype, int threads,
                     int warmup, int steps, nlohmann::json* result, std::string* skipped);

}  // namespace cpu_llm
