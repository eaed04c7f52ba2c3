// `bench --accum-curve`: does gradient accumulation train like the big batch
// it stands for (plan item 3)? Trains d3 (GPT-2's block) on the bundled corpus
// twice with the same seed, once with B=8 and once with B=2 x 4 accumulated
// micro-batches (the same rows per update), and compares the loss curves
// step by step; the report shows the largest gap and a plot of both.
#pragma once

#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "core/status.h"

namespace cpu_llm {

inline constexpr const char* kAccumCurveSvg = "accum_curve.svg";

struct AccumCurveOptions {
  int steps = 300;
  int threads = 0;
};

Status RunAccumCurve(const AccumCurveOptions& opt, nlohmann::json* out);
std::string AccumCurveSvg(const nlohmann::json& result);
std::string AccumCurveTable(const nlohmann::json& result);
// The report's part of plan item 3; plots are the figures' links.
std::string AccumCurveSection(const nlohmann::json& result, const std::vector<std::string>& plots);

}  // namespace cpu_llm
