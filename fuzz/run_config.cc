// A run config file as `train --config` reads it (ApplyRunConfig).
//
// Checked: a refused file leaves the options as they were; an accepted one
// gives options whose saved config (RunConfigJson) reads back to the same
// text, so what a run saves always makes the same run again; describing and
// diffing any input never fails.
#include <string>

#include "fuzz_util.h"
#include "train/run_config.h"

using namespace cpu_llm;

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string input(reinterpret_cast<const char*>(data), size);
  TrainOptions opt;
  const std::string defaults = RunConfigJson(opt);
  // Keep one key, as if the command line had set it.
  auto keep = [](const std::string& key) { return key == "batch"; };
  if (!ApplyRunConfig(input, "run.json", keep, &opt).ok()) {
    FUZZ_CHECK(RunConfigJson(opt) == defaults);
    return 0;
  }
  FUZZ_CHECK(opt.batch == TrainOptions{}.batch);
  const std::string saved = RunConfigJson(opt);
  TrainOptions again;
  FUZZ_CHECK(ApplyRunConfig(saved, "train_config.json", nullptr, &again).ok());
  FUZZ_CHECK(RunConfigJson(again) == saved);
  FUZZ_CHECK(!DescribeRunConfig(opt).empty());
  (void)DiffRunConfigs(input, saved);
  return 0;
}
