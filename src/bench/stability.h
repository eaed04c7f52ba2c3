// `bench --stability`: does mixed precision train as well as fp32? Trains the
// same model on the same data with the same seed once per precision (each a
// fresh `cpu_llm train` child), collects the loss curves from the runs'
// metrics.jsonl, compares the final validation losses with fp32's and plots
// the curves, so docs/OPTIMIZATIONS.md can show the check's outcome.
#pragma once

#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "core/status.h"

namespace cpu_llm {

struct StabilityOptions {
  std::vector<std::string> precisions = {"fp32", "bf16", "fp16"};
  int steps = 1000;
  uint64_t seed = 1337;
  int val_every = 50;  // the trainer validates at the last step as well
  int threads = 0;     // 0: the trainer's default (all cores)
  // More `cpu_llm train` arguments (model, batch, data...), the same for
  // every run; --val-every, --log-every, --sample-tokens and --threads given
  // here replace the bench's, and the flags the comparison rests on
  // (--precision, --steps, --seed, --out, --resume) are refused.
  std::vector<std::string> train_args;
};

// The thresholds the report judges by: bf16 and fp16 within 1% of fp32's
// final validation loss; a run diverged if any loss is non-finite or its
// final validation loss is more than 10% above its own minimum.
inline constexpr double kStabilityMaxDiffPct = 1.0;
inline constexpr double kStabilityDivergenceRise = 0.10;

Status RunStability(const StabilityOptions& opt, nlohmann::json* out);

// Splits "--model d1 --batch 2" on blanks (no quoting: train flags take no
// values with spaces that a stability run would need).
std::vector<std::string> SplitArgs(const std::string& text);

// Fills one run's entry of the result from the text of its metrics.jsonl
// (step records and {"step", "val_loss"} records).
Status ParseMetrics(const std::string& jsonl, const std::string& what, nlohmann::json* run);

// Median tokens/s of a run's steps after the first (which pays for cold
// caches), from the text of its metrics.jsonl; 0 without such steps.
double SteadyTokensPerSecond(const std::string& jsonl);

// Adds val_loss_diff_pct (against the fp32 run, when there is one) and the
// diverged flag to every run of a result.
void CompareRuns(nlohmann::json* result);

struct StabilityVerdict {
  bool comparable = false;   // fp32 and at least one 16-bit run are present
  bool within = false;       // every 16-bit run within kStabilityMaxDiffPct of fp32
  bool no_divergence = false;
  std::string within_detail, divergence_detail;  // e.g. "bf16 +0.12%, fp16 -0.31%"
};
StabilityVerdict JudgeStability(const nlohmann::json& result);

// Exponential moving average with bias correction (as Adam's moments), so
// the curve starts at the first loss rather than at zero.
std::vector<double> SmoothEma(const std::vector<double>& values, double beta);
inline constexpr double kStabilityEmaBeta = 0.95;

// The two figures: training loss (EMA-smoothed) and validation loss of every
// run, one line per precision.
std::string StabilityTrainLossSvg(const nlohmann::json& result);
std::string StabilityValLossSvg(const nlohmann::json& result);
inline constexpr const char* kStabilityTrainSvg = "stability_train_loss.svg";
inline constexpr const char* kStabilityValSvg = "stability_val_loss.svg";

// "+0.12%", or "n/a" for null.
std::string SignedPct(const nlohmann::json& pct);

// The console table.
std::string StabilityTable(const nlohmann::json& result);

}  // namespace cpu_llm
