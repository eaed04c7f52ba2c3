#include "core/anomaly.h"

#include <fmt/format.h>

#include <cmath>

namespace cpu_llm {

int64_t FirstNonFinite(const float* x, int64_t n) {
  for (int64_t i = 0; i < n; i++)
    if (!std::isfinite(x[i])) return i;
  return -1;
}

void AnomalyDetector::Check(bool backward, int layer, const char* op, const char* tensor, const float* out,
                            int64_t n) {
  if (found_ || !out) return;
  const int64_t first = FirstNonFinite(out, n);
  if (first < 0) return;
  found_ = true;
  backward_ = backward;
  layer_ = layer;
  op_ = op;
  tensor_ = tensor;
  n_ = n;
  first_ = first;
  first_value_ = out[first];
  count_ = 0;
  for (int64_t i = first; i < n; i++) count_ += !std::isfinite(out[i]);
}

std::string AnomalyDetector::Describe() const {
  if (!found_) return "";
  return fmt::format("{}{}, {}: {} holds {} non-finite value{} of {} (first: {} at {})",
                     backward_ ? "backward" : "forward", layer_ >= 0 ? fmt::format(", layer {}", layer_) : "", op_,
                     tensor_, count_, count_ == 1 ? "" : "s", n_, first_value_, first_);
}

}  // namespace cpu_llm
