// `bench --dist`: data-parallel training on this machine (issue 9). Trains
// d3 (GPT-2's block, T=64) on the bundled corpus at one global batch of 16
// rows, as 1 rank x 1 thread, 2 ranks x 1 thread under mpirun (B=8 each) and,
// for reference, 1 rank x 2 threads (and, asked for, 2 ranks in two network
// namespaces talking TCP), interleaved run by run; reports the median tokens/s
// of each and the share of the 2-rank step spent waiting for the gradient
// all-reduce after backward.
#pragma once

#include <string>

#include <nlohmann/json.hpp>

#include "core/status.h"

namespace cpu_llm {

struct DistOptions {
  int steps = 30;
  int runs = 3;
  std::string mpirun;  // empty: found on PATH
  // Also 2 ranks in two network namespaces (tools/mpi_netns.sh; needs root).
  bool netns = false;
};

Status RunDist(const DistOptions& opt, nlohmann::json* out);
std::string DistTable(const nlohmann::json& result);
// The report's part (plan item 8: gradient reduction across processes).
std::string DistSection(const nlohmann::json& result);

}  // namespace cpu_llm
