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

// The Markdown itself. perf_top may be empty; links are relative to the
// report's folder. A null stability leaves its section out; stability_plots
// are the links of its figures.
std::string RenderReport(const nlohmann::json& baseline, const nlohmann::json& ablation, const std::string& perf_top,
                         const std::string& results_link, const std::string& flamegraph_link,
                         const nlohmann::json& stability = nlohmann::json(),
                         const std::vector<std::string>& stability_plots = {});

// Parses a JSON file; an error names the file.
Status ReadJsonFile(const std::string& path, nlohmann::json* j);

// Per-op table of a worker's "profile" object (plain text, for the console).
std::string ProfileTable(const nlohmann::json& profile);

}  // namespace cpu_llm
