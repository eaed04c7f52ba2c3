// Order statistics of timing samples.
#pragma once

#include <algorithm>
#include <vector>

namespace cpu_llm {

// Median (the mean of the middle two for an even count); 0 for no samples.
inline double Median(std::vector<double> v) {
  if (v.empty()) return 0.0;
  std::sort(v.begin(), v.end());
  const size_t n = v.size();
  // max(.., 1): n is even and at least 2 there; the form keeps GCC from
  // seeing an index of -1 where it inlines this after a size check.
  return n % 2 ? v[n / 2] : 0.5 * (v[std::max<size_t>(n / 2, 1) - 1] + v[n / 2]);
}
inline double Min(const std::vector<double>& v) { return v.empty() ? 0.0 : *std::min_element(v.begin(), v.end()); }
inline double Max(const std::vector<double>& v) { return v.empty() ? 0.0 : *std::max_element(v.begin(), v.end()); }

}  // namespace cpu_llm
