#include "bench/accum_curve.h"

#include <fmt/format.h>

#include <algorithm>
#include <cmath>
#include <cstdio>

#include "bench/machine.h"
#include "bench/process.h"
#include "bench/stability.h"
#include "core/svg_plot.h"
#include "core/file_io.h"

namespace cpu_llm {
namespace {

using nlohmann::json;

struct Side {
  const char* label;
  int batch, grad_accum;
};
constexpr Side kSides[2] = {{"B=8", 8, 1}, {"B=2 x 4 accumulated", 2, 4}};

}  // namespace

Status RunAccumCurve(const AccumCurveOptions& opt, json* out) {
  if (opt.steps < 1) return UsageError("--accum-steps: must be at least 1 (got {})", opt.steps);
  std::string self;
  CPU_LLM_RETURN_IF_ERROR(SelfExecutable(&self));
  TempFolder tmp;
  CPU_LLM_RETURN_IF_ERROR(tmp.Create("cpu_llm_accum_curve"));
  json result = {{"kind", "cpu_llm-bench-accum-curve"}, {"machine", DescribeMachine()}, {"steps", opt.steps},
                 {"runs", json::array()}};
  for (const Side& side : kSides) {
    const std::string dir = tmp.path() + "/run";
    // Validation batches are (batch, T): four times as many at B=2 cover
    // the same 8 x 8 rows of the val split as at B=8.
    const std::vector<std::string> argv = {
        self, "train", "--model", "d3", "--batch", std::to_string(side.batch), "--grad-accum", std::to_string(side.grad_accum),
        "--steps", std::to_string(opt.steps), "--val-every", "50", "--val-batches", std::to_string(64 / side.batch),
        "--log-every", "100", "--sample-tokens", "0", "--threads", std::to_string(opt.threads), "--out", dir};
    std::fprintf(stderr, "bench --accum-curve: training %s, %d steps\n", side.label, opt.steps);
    std::string output;
    int code = 0;
    CPU_LLM_RETURN_IF_ERROR(RunCapture(argv, &output, &code));
    if (code != 0) return RuntimeError("--accum-curve: the {} run failed (exit status {})", side.label, code);
    std::vector<uint8_t> bytes;
    CPU_LLM_RETURN_IF_ERROR(ReadFileBytes(dir + "/metrics.jsonl", &bytes));
    json run = {{"label", side.label}, {"batch", side.batch}, {"grad_accum", side.grad_accum},
                {"model", OutputLine(output, "model: ")}, {"batch_line", OutputLine(output, "batch: ")},
                {"peak_rss_mb", std::atof(OutputLine(output, "peak RSS: ").c_str())}};
    CPU_LLM_RETURN_IF_ERROR(ParseMetrics(std::string(bytes.begin(), bytes.end()), dir + "/metrics.jsonl", &run));
    result["runs"].push_back(std::move(run));
    std::error_code ec;
    std::filesystem::remove_all(dir, ec);
  }
  // Step-by-step gap between the two training curves.
  const json &a = result["runs"][0], &b = result["runs"][1];
  double max_gap = 0.0, max_rel = 0.0;
  for (size_t i = 0; i < std::min(a["loss"].size(), b["loss"].size()); i++) {
    const double x = a["loss"][i].get<double>(), y = b["loss"][i].get<double>();
    max_gap = std::max(max_gap, std::fabs(x - y));
    max_rel = std::max(max_rel, std::fabs(x - y) / std::fabs(x));
  }
  result["max_loss_gap"] = max_gap;
  result["max_loss_gap_rel"] = max_rel;
  *out = std::move(result);
  return Status();
}

std::string AccumCurveSvg(const json& result) {
  PlotSpec spec;
  spec.title = fmt::format("Training loss, B=8 vs B=2 x 4 accumulated, {} steps, same seed", result["steps"].get<int>());
  spec.x_label = "step";
  spec.y_label = "training loss";
  const char* colors[2] = {"#1f77b4", "#d62728"};
  for (size_t i = 0; i < result["runs"].size() && i < 2; i++) {
    const json& r = result["runs"][i];
    PlotSeries s;
    s.name = r["label"];
    s.color = colors[i];
    s.stroke_width = i == 0 ? 3.5 : 1.2;  // thick under thin: coinciding curves stay visible
    if (i == 1) s.dash = "6 4";
    for (size_t k = 0; k < r["loss"].size(); k++) s.points.emplace_back(r["steps"][k].get<double>(), r["loss"][k].get<double>());
    spec.series.push_back(std::move(s));
  }
  return LinePlotSvg(spec);
}

std::string AccumCurveTable(const json& result) {
  std::string t;
  for (const json& r : result["runs"])
    t += fmt::format("{:<22} final val loss {:.4f}  peak RSS {:.0f} MB\n", r["label"].get<std::string>(),
                     r["final_val_loss"].get<double>(), r["peak_rss_mb"].get<double>());
  return t + fmt::format("largest step loss gap {:.2e} ({:.2e} relative)\n", result["max_loss_gap"].get<double>(),
                         result["max_loss_gap_rel"].get<double>());
}

std::string AccumCurveSection(const json& result, const std::vector<std::string>& plots) {
  const json &a = result["runs"][0], &b = result["runs"][1];
  std::string out = fmt::format(
      "**Loss curve, B=8 vs B=2×4** — `cpu_llm bench --accum-curve`: d3, GPT-2's block ({}), on the bundled corpus, "
      "{} steps, same seed, once with B=8 and once with B=2 and `--grad-accum 4` (the same rows per update). "
      "Largest gap between the two training losses at any step: **{:.2e}** ({:.2e} relative; the summation order "
      "differs, nothing else, and rounding differences grow over the run); final val loss on the same 8 × 8 val "
      "rows {:.4f} vs {:.4f}; peak RSS {:.0f} MB vs {:.0f} MB.\n\n",
      a["model"].get<std::string>(), result["steps"].get<int>(), result["max_loss_gap"].get<double>(),
      result["max_loss_gap_rel"].get<double>(), a["final_val_loss"].get<double>(), b["final_val_loss"].get<double>(),
      a["peak_rss_mb"].get<double>(), b["peak_rss_mb"].get<double>());
  for (const std::string& p : plots) out += fmt::format("![training loss, B=8 vs B=2x4]({})\n\n", p);
  return out;
}

}  // namespace cpu_llm
