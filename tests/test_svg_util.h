// Reading back the SVG plots core/svg_plot.h draws.
#pragma once

#include <algorithm>
#include <regex>
#include <string>
#include <vector>

namespace cpu_llm::testing {

// Coordinate pairs of each <polyline> in an SVG, in document order.
inline std::vector<int> PolylinePointCounts(const std::string& svg) {
  std::vector<int> counts;
  const std::regex polyline(R"re(<polyline[^>]* points="([^"]*)")re");
  for (auto it = std::sregex_iterator(svg.begin(), svg.end(), polyline); it != std::sregex_iterator(); ++it) {
    const std::string pts = (*it)[1];
    counts.push_back(pts.empty() ? 0 : 1 + static_cast<int>(std::count(pts.begin(), pts.end(), ' ')));
  }
  return counts;
}

}  // namespace cpu_llm::testing
