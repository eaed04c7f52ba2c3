// The bench's named workloads and the arithmetic it reports for them.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "core/status.h"
#include "model/config.h"

namespace cpu_llm {

struct Workload {
  std::string name;
  std::string description;
  std::string model;  // a ConfigFromName preset; vocabulary: GPT-2's 50,257
  int B = 0, T = 0;
  int warmup_steps = 0;  // run, not timed: page faults, cold caches
  int steps = 0;         // timed optimizer steps per run
  // PyTorch bf16 beside it: without AVX512_BF16, PyTorch's bf16 matmuls run
  // at a few GFLOP/s, so a 124M step would take minutes; off for the big one.
  bool torch_bf16 = true;
};

// gpt2-124m (B=4 T=256), d6 (C=384, B=8 T=128) and tiny (d2, B=4 T=64).
const std::vector<Workload>& Workloads();
Status FindWorkload(const std::string& name, Workload* workload);
std::string WorkloadNamesHelp();

// The model a workload trains: the preset with GPT-2's vocabulary and
// exactly T positions.
Status WorkloadConfig(const Workload& workload, ModelConfig* cfg);

// TrainFlopsPerToken (the bench's MFU) is in model/config.h.

}  // namespace cpu_llm
