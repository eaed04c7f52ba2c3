#include "bench/workloads.h"

#include <fmt/format.h>

namespace cpu_llm {

const std::vector<Workload>& Workloads() {
  static const std::vector<Workload> kWorkloads = {
      {"gpt2-124m", "GPT-2 124M (12 layers, C=768, 12 heads), B=4, T=256", "gpt2", 4, 256, 1, 4, false},
      {"d6", "6 layers, C=384, 6 heads (30M with GPT-2's vocabulary), B=8, T=128", "d6", 8, 128, 2, 8, false},
      {"tiny", "2 layers, C=128, 2 heads (6.8M, mostly the LM head), B=4, T=64", "d2", 4, 64, 3, 20},
  };
  return kWorkloads;
}

std::string WorkloadNamesHelp() {
  std::string names;
  for (const Workload& w : Workloads()) names += (names.empty() ? "" : ", ") + w.name;
  return names;
}

Status FindWorkload(const std::string& name, Workload* workload) {
  for (const Workload& w : Workloads())
    if (w.name == name) {
      *workload = w;
      return Status();
    }
  return UsageError("--workload: unknown workload '{}' (expected one of {})", name, WorkloadNamesHelp());
}

Status WorkloadConfig(const Workload& workload, ModelConfig* cfg) {
  *cfg = ModelConfig();
  CPU_LLM_RETURN_IF_ERROR(ConfigFromName(workload.model, cfg));
  cfg->vocab_size = 50257;
  cfg->padded_vocab_size = PadVocab(cfg->vocab_size);
  cfg->max_seq_len = workload.T;
  return ValidateConfig(*cfg);
}

}  // namespace cpu_llm
