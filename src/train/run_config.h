// Run config files: a JSON object of `train` options under their flag names
// without the dashes ({"batch": 8, "lr": 0.001, "model": "d6"}), read by
// `train --config FILE` (flags on the command line win), and the resolved
// options of a run written beside its checkpoints and inside each state
// file, so a run says exactly how it was made and can be made again.
#pragma once

#include <functional>
#include <string>
#include <vector>

#include "core/status.h"
#include "model/config.h"
#include "train/trainer.h"

namespace cpu_llm {

// Every key a config file may hold: each `train` flag but --config, --resume
// and --help, in the order the file lists them.
const std::vector<std::string>& RunConfigKeys();

// Parses `text` (JSON; // and /* */ comments allowed) and sets the option of
// each key in *opt, except those for which `keep(key)` is true (set on the
// command line). Errors name `source` and the key: unknown keys, wrong types,
// integers out of range. Range checks of the values are CheckOptions's.
// *applied (if given) gets the keys that were set.
Status ApplyRunConfig(const std::string& text, const std::string& source,
                      const std::function<bool(const std::string&)>& keep, TrainOptions* opt,
                      std::vector<std::string>* applied = nullptr);
// The same from a file (at most 1 MB).
Status ReadRunConfig(const std::string& path, const std::function<bool(const std::string&)>& keep,
                     TrainOptions* opt, std::vector<std::string>* applied = nullptr);

// The options as a config file holds them: pretty JSON, RunConfigKeys order.
std::string RunConfigJson(const TrainOptions& opt);

// What the run really used: the model's shape and block options from its
// config (a preset, a checkpoint or --init-from), the default model named,
// --prune-vocab and --grad-accum as worked out. Fed back through --config it
// makes the same run.
TrainOptions ResolveRunOptions(const TrainOptions& opt, const ModelConfig& cfg, int64_t prune_vocab, int grad_accum);

// "key=value" pairs wrapped into indented lines of about `width` columns.
std::string DescribeRunConfig(const TrainOptions& opt, int width = 100);

// The keys whose values differ between two config texts, "lr 0.002 -> 0.001,
// steps 300 -> 600" (empty: none or either text unreadable).
std::string DiffRunConfigs(const std::string& before, const std::string& after);

}  // namespace cpu_llm
