// Every matrix product of one training step, timed per backend: which of the
// built-in kernel, OpenBLAS and oneDNN is fastest for each product shape, and
// what choosing per shape would save over one backend for all (plan item 9:
// "the default is whatever the bench shows fastest, per shape if that wins").
#pragma once

#include <nlohmann/json.hpp>
#include <string>

#include "bench/workloads.h"
#include "core/status.h"

namespace cpu_llm {

// The workload's products (qkv, attention projection, fc, fc projection at
// B*T rows; the LM head at its chunk of rows), forward and backward (dinp, dW
// and dbias), on `threads` threads. The backends take turns in rotating
// order for `rounds` rounds after one untimed call each; each cell is the
// median. Result: shapes with per-backend ms, and per-step totals (each
// product times its calls per step) for each backend and for the per-shape
// best.
Status RunMatmulShapes(const Workload& workload, int threads, int rounds, nlohmann::json* result);

// Markdown table of that result, with the per-shape verdict.
std::string MatmulShapesMarkdown(const nlohmann::json& shapes);

}  // namespace cpu_llm
