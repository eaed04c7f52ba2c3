#include "core/profiler.h"

#include <fmt/format.h>

#include <algorithm>
#include <vector>

namespace cpu_llm {

const char* OpName(Op op) {
  switch (op) {
    case Op::kEncoder: return "embedding";
    case Op::kLayerNorm: return "layernorm";
    case Op::kMatmulQkv: return "matmul qkv";
    case Op::kMatmulAttnProj: return "matmul attn proj";
    case Op::kMatmulFc: return "matmul fc";
    case Op::kMatmulFcProj: return "matmul fc proj";
    case Op::kMatmulLmHead: return "matmul lm head";
    case Op::kAttention: return "attention";
    case Op::kGelu: return "gelu";
    case Op::kResidual: return "residual";
    case Op::kCrossEntropy: return "cross-entropy";
    case Op::kConvert: return "16-bit convert";
    case Op::kZeroGrad: return "zero grad";
    case Op::kGradReduce: return "grad reduction";
    case Op::kOptimizer: return "optimizer";
    case Op::kDataWait: return "data wait";
    case Op::kCommWait: return "comm wait";
    case Op::kCount: break;
  }
  return "?";
}

std::string Profiler::Report() const {
  if (steps_ == 0) return "profile: no steps recorded\n";
  const double per_step = 1e6 * steps_;  // ns -> ms per step
  const double step_ms = step_ns_ / per_step;
  std::string out = fmt::format("profile over {} steps, {:.1f} ms/step\n", steps_, step_ms);
  out += fmt::format("  {:<18} {:>10} {:>10} {:>10} {:>7}\n", "op", "fwd ms", "bwd ms", "total ms", "share");
  int64_t covered = 0;
  for (int i = 0; i < static_cast<int>(Op::kCount); i++) {
    const int64_t f = ns_[i][0], b = ns_[i][1];
    covered += f + b;
    if (f + b == 0) continue;
    out += fmt::format("  {:<18} {:>10.2f} {:>10.2f} {:>10.2f} {:>6.1f}%\n", OpName(static_cast<Op>(i)), f / per_step,
                       b / per_step, (f + b) / per_step, 100.0 * (f + b) / step_ns_);
  }
  const int64_t other = step_ns_ - covered;
  out += fmt::format("  {:<18} {:>10} {:>10} {:>10.2f} {:>6.1f}%\n", "other", "", "", other / per_step,
                     100.0 * other / step_ns_);
  return out;
}

double MeasureScopeCostNs() {
  constexpr int kScopes = 200000;
  std::vector<double> per_scope;
  for (int burst = 0; burst < 5; burst++) {
    Profiler p;
    const auto start = std::chrono::steady_clock::now();
    for (int i = 0; i < kScopes; i++) ProfileScope scope(&p, static_cast<Op>(i % static_cast<int>(Op::kCount)));
    const auto ns = std::chrono::duration_cast<std::chrono::nanoseconds>(std::chrono::steady_clock::now() - start);
    per_scope.push_back(static_cast<double>(ns.count()) / kScopes);
  }
  std::sort(per_scope.begin(), per_scope.end());
  return per_scope[per_scope.size() / 2];
}

}  // namespace cpu_llm
