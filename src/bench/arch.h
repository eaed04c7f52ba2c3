// `bench --arch`: plan item 10 measured. Trains d3 (GPT-2's block) on the bundled
// corpus once per architecture variant (each block option alone, the
// Llama-style block, a smaller model, vocabulary pruning) for the same
// wall-clock budget, each a fresh `cpu_llm train` child whose schedule
// decays within that budget, and compares parameters, tokens/s, peak RSS,
// the best validation loss reached in the budget and the validation loss
// after the same number of tokens.
#pragma once

#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "core/status.h"

namespace cpu_llm {

struct ArchOptions {
  double budget_s = 600.0;  // per variant
  int threads = 0;
  std::vector<std::string> variants;  // empty: all (ArchVariantNames)
};

std::vector<std::string> ArchVariantNames();
Status RunArch(const ArchOptions& opt, nlohmann::json* out);
std::string ArchTable(const nlohmann::json& result);
std::string ArchSection(const nlohmann::json& result);  // the report's part of plan item 10

}  // namespace cpu_llm
