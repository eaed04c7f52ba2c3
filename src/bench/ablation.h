// `bench --ablation`: before/after pairs of each switch of the trainer on one
// workload. Runs alternate before and after (ABBA order) in fresh processes,
// so drift in machine load lands on both; each pair of runs gives one ratio,
// and the report gives the median and the spread of those ratios.
#pragma once

#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "bench/worker.h"
#include "core/status.h"

namespace cpu_llm {

struct AblationPair {
  std::string name;      // the switch, as --switch names it
  int plan_item = 0;     // 1..10 of the optimization plan
  std::string question;  // what the pair measures
  std::string workload;
  std::string before_label, after_label;
  BenchSwitches before, after;
  int warmup = 1, steps = 4;
};

// The pairs that exist today, for a machine with `threads` hardware threads.
std::vector<AblationPair> AblationPairs(int threads);

struct AblationOptions {
  std::vector<std::string> switches;  // empty: all
  std::string workload;               // empty: each pair's own
  int runs = 5;                       // of each side
  int warmup = 0, steps = 0;          // 0: each pair's own
};

Status RunAblation(const AblationOptions& opt, nlohmann::json* out);
// `--merge`: an earlier ablation result with the pairs of a fresh one put in
// place of (or beside) its pairs of the same switch, each marked with the
// date it was measured, so one switch can be re-measured without rerunning
// them all. Pairs keep the order of AblationPairs.
nlohmann::json MergeAblation(const nlohmann::json& earlier, const nlohmann::json& fresh);
std::string AblationTable(const nlohmann::json& ablation);

}  // namespace cpu_llm
