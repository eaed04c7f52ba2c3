// metrics.jsonl as `cpu_llm plot` reads it (ParseRunMetrics), then drawn.
//
// Checked: every point parsed is finite and its step is a step field of the
// input; there are no more points of a kind than input lines; an accepted
// file with steps draws a whole SVG (one <polyline> per series, closed
// document) whatever the values' range.
#include <cmath>
#include <string>

#include "core/svg_plot.h"
#include "fuzz_util.h"
#include "train/run_plot.h"

using namespace cpu_llm;

namespace {

size_t Count(const std::string& text, const std::string& what) {
  size_t n = 0;
  for (size_t at = text.find(what); at != std::string::npos; at = text.find(what, at + what.size())) n++;
  return n;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string input(reinterpret_cast<const char*>(data), size);
  RunMetrics m;
  if (!ParseRunMetrics("metrics.jsonl", input, &m).ok()) return 0;
  const size_t lines = Count(input, "\n");
  for (const auto* series : {&m.loss, &m.val_loss, &m.lr, &m.tok_s}) {
    FUZZ_CHECK(series->size() <= lines);
    for (const auto& [step, value] : *series) FUZZ_CHECK(std::isfinite(step) && std::isfinite(value));
  }
  FUZZ_CHECK(m.lr.size() <= m.loss.size() && m.tok_s.size() <= m.loss.size());
  if (m.loss.empty()) return 0;
  PlotSpec spec{"loss", "step", "loss", {}};
  spec.series.push_back({"train", "#1f77b4", m.loss});
  spec.series.push_back({"val", "#d62728", m.val_loss});
  const std::string svg = LinePlotSvg(spec);
  FUZZ_CHECK(svg.find("<svg") != std::string::npos);
  FUZZ_CHECK(svg.find("</svg>") != std::string::npos);
  FUZZ_CHECK(Count(svg, "<polyline") == 2);
  FUZZ_CHECK(svg.find("nan") == std::string::npos && svg.find("inf") == std::string::npos);
  return 0;
}
