// docs/OPTIMIZATIONS.md, generated: reads the bench's saved results and
// writes the report, so every figure in it traces to a committed JSON file.
#pragma once

#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "core/status.h"

namespace cpu_llm {

// Reads from_dir/baseline.json and from_dir/ablation.json (and, if present,
// from_dir/perf_gpt2-124m.top.txt and .svg from tools/perf_profile.sh, and
// from_dir/stability.json with its SVG plots from `bench --stability`) and
// writes the Markdown report to out_path, atomically.
Status WriteReport(const std::string& from_dir, const std::string& out_path);

// Results the report shows when they were measured (null: left out), with
// the links of their figures, relative to the report's folder.
struct ReportExtras {
  nlohmann::json stability;  // bench --stability
  std::vector<std::string> stability_plots;
  nlohmann::json data_io;  // bench --data-io
  nlohmann::json accum_curve;  // bench --accum-curve
  std::vector<std::string> accum_plots;
  nlohmann::json arch;       // bench --arch
  nlohmann::json arch_long;  // bench --arch on the finalists, with a longer budget (arch_long.json)
  nlohmann::json dist;       // bench --dist
};

// The Markdown itself. perf_top may be empty; links are relative to the
// report's folder.
std::string RenderReport(const nlohmann::json& baseline, const nlohmann::json& ablation, const std::string& perf_top,
                         const std::string& results_link, const std::string& flamegraph_link,
                         const ReportExtras& extras = {});

// Parses a JSON file; an error names the file.
Status ReadJsonFile(const std::string& path, nlohmann::json* j);

// Per-op table of a worker's "profile" object (plain text, for the console).
std::string ProfileTable(const nlohmann::json& profile);

}  // namespace cpu_llm
