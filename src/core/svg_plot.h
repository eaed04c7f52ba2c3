// A small standalone SVG line plot for the bench's figures and `cpu_llm plot` (loss curves in
// docs/), so the report's pictures come from the same binary as its numbers
// and need no plotting package.
#pragma once

#include <string>
#include <utility>
#include <vector>

namespace cpu_llm {

struct PlotSeries {
  std::string name;                          // legend entry
  std::string color = "#1f77b4";             // any SVG color
  std::vector<std::pair<double, double>> points;  // (x, y); non-finite points and those beyond ±1e300 are left out
  bool markers = false;                      // also a circle at every point
  double stroke_width = 1.5;
  double marker_radius = 3;
  // SVG stroke-dasharray ("6 4"), empty for solid: lines that coincide (as
  // three precisions' loss curves should) stay distinguishable when drawn
  // thick-solid under thin-dashed.
  std::string dash;
};

struct PlotSpec {
  std::string title, x_label, y_label;
  std::vector<PlotSeries> series;
  int width = 800, height = 480;
};

// Round tick values (1, 2 or 5 times a power of ten apart) covering [lo, hi]
// with about `target` intervals: the first tick at or below lo, the last at
// or above hi. lo == hi gets a unit-wide range around it.
std::vector<double> NiceTicks(double lo, double hi, int target);

// Tick label with as many decimals as the tick step needs ("0.5", "10", "0.02").
std::string TickLabel(double value, double step);

// One line (a <polyline>) per series, axes with ticks and labels, a legend
// and a title, as a standalone SVG document (its own xmlns, UTF-8). Every
// coordinate lies inside the viewBox (0 0 width height).
std::string LinePlotSvg(const PlotSpec& spec);

}  // namespace cpu_llm
