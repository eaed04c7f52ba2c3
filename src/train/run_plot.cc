#include "train/run_plot.h"

#include <fmt/format.h>

#include <cmath>
#include <filesystem>

#include <nlohmann/json.hpp>

#include "core/file_io.h"
#include "core/svg_plot.h"

namespace cpu_llm {
namespace {

// A finite number field, or false.
bool NumberField(const nlohmann::json& j, const char* key, double* value) {
  const auto it = j.find(key);
  if (it == j.end() || !it->is_number()) return false;
  *value = it->get<double>();
  return std::isfinite(*value);
}

Status WritePlot(const std::string& path, const PlotSpec& spec, std::vector<std::string>* written) {
  const std::string svg = LinePlotSvg(spec);
  CPU_LLM_RETURN_IF_ERROR(WriteFileAtomic(path, svg.data(), svg.size()));
  if (written) written->push_back(path);
  return Status();
}

}  // namespace

Status ParseRunMetrics(const std::string& path, const std::string& text, RunMetrics* out) {
  *out = RunMetrics{};
  size_t begin = 0;
  for (int64_t line_no = 1; begin < text.size(); ++line_no) {
    const size_t end = text.find('\n', begin);
    if (end == std::string::npos) break;  // cut short by a kill: MetricsLog drops it on resume too
    const std::string_view line(text.data() + begin, end - begin);
    begin = end + 1;
    if (line.empty()) continue;
    const nlohmann::json j = nlohmann::json::parse(line, nullptr, /*allow_exceptions=*/false);
    if (!j.is_object()) return RuntimeError("{}:{}: not a JSON object (is this a cpu_llm metrics file?)", path, line_no);
    double step = 0, value = 0;
    if (!NumberField(j, "step", &step)) continue;
    if (NumberField(j, "loss", &value)) {
      out->loss.emplace_back(step, value);
      if (NumberField(j, "lr", &value)) out->lr.emplace_back(step, value);
      if (NumberField(j, "tok_s", &value)) out->tok_s.emplace_back(step, value);
    } else if (NumberField(j, "val_loss", &value)) {
      out->val_loss.emplace_back(step, value);
    }
  }
  return Status();
}

Status PlotRun(const std::string& run_dir, const std::string& out_dir, std::vector<std::string>* written) {
  const std::string path = run_dir + "/metrics.jsonl";
  std::vector<uint8_t> bytes;
  CPU_LLM_RETURN_IF_ERROR(ReadFileBytes(path, &bytes));
  RunMetrics m;
  CPU_LLM_RETURN_IF_ERROR(ParseRunMetrics(path, std::string(bytes.begin(), bytes.end()), &m));
  if (m.loss.empty()) return RuntimeError("{}: no training steps to plot", path);
  const std::string run_name = std::filesystem::path(run_dir).lexically_normal().filename().string();

  PlotSpec loss{fmt::format("loss: {}", run_name), "step", "loss", {}};
  loss.series.push_back({"train", "#1f77b4", m.loss});
  if (!m.val_loss.empty()) {
    PlotSeries val{"val", "#d62728", m.val_loss};
    val.markers = true;
    loss.series.push_back(std::move(val));
  }
  CPU_LLM_RETURN_IF_ERROR(WritePlot(out_dir + "/loss.svg", loss, written));
  if (!m.lr.empty()) {
    PlotSpec lr{fmt::format("learning rate: {}", run_name), "step", "lr", {}};
    lr.series.push_back({"lr", "#2ca02c", m.lr});
    CPU_LLM_RETURN_IF_ERROR(WritePlot(out_dir + "/lr.svg", lr, written));
  }
  if (!m.tok_s.empty()) {
    PlotSpec tok{fmt::format("throughput: {}", run_name), "step", "tokens/s", {}};
    tok.series.push_back({"tok/s", "#9467bd", m.tok_s});
    CPU_LLM_RETURN_IF_ERROR(WritePlot(out_dir + "/tok_s.svg", tok, written));
  }
  return Status();
}

}  // namespace cpu_llm
