// `cpu_llm plot` and the end of `train`: the curves of a run folder's
// metrics.jsonl (train/val loss, learning rate, tokens/s) as SVG files
// beside it, drawn by core/svg_plot.h so no plotting package is needed.
#pragma once

#include <cstdint>
#include <string>
#include <utility>
#include <vector>

#include "core/status.h"

namespace cpu_llm {

// The series of one run, in file order. A resumed run's file holds each step
// once (MetricsLog drops the steps it redoes), so steps only increase.
struct RunMetrics {
  std::vector<std::pair<double, double>> loss, val_loss, lr, tok_s;  // (step, value)
};

// Parses metrics.jsonl text. A step record has "step" and "loss" (with "lr"
// and "tok_s"), a validation record "step" and "val_loss"; other records
// and fields are ignored. A last line without its newline (a killed run) is
// left out; any other line that is not a JSON object is an error naming
// `path` and the line number.
Status ParseRunMetrics(const std::string& path, const std::string& text, RunMetrics* out);

// Reads RUN_DIR/metrics.jsonl and writes loss.svg, lr.svg and tok_s.svg into
// out_dir (each written atomically); `written` gets their paths. A run with
// no step records is an error.
Status PlotRun(const std::string& run_dir, const std::string& out_dir, std::vector<std::string>* written);

}  // namespace cpu_llm
