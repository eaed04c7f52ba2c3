#include "bench/stability.h"

#include <fmt/format.h>
#include <stdlib.h>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <limits>
#include <sstream>

#include "bench/machine.h"
#include "bench/process.h"
#include "bench/stats.h"
#include "core/svg_plot.h"
#include "core/file_io.h"

namespace cpu_llm {
namespace {

using nlohmann::json;
namespace fs = std::filesystem;

constexpr double kNaN = std::numeric_limits<double>::quiet_NaN();

// nlohmann writes NaN and infinities as null: read them back as NaN.
double Num(const json& v) { return v.is_number() ? v.get<double>() : kNaN; }

// "--val-every=3" -> "--val-every".
std::string FlagName(const std::string& arg) { return arg.substr(0, arg.find('=')); }

bool IsShortOut(const std::string& arg) { return arg.size() >= 2 && arg[0] == '-' && arg[1] == 'o'; }

// The train arguments every run shares (all but --precision and --out).
Status CommonTrainArgs(const StabilityOptions& opt, std::vector<std::string>* args) {
  for (const std::string& a : opt.train_args) {
    const std::string name = FlagName(a);
    for (const char* owned : {"--precision", "--steps", "--seed", "--out", "--resume"})
      if (name == owned)
        return UsageError("--stability-args: {} is set by the bench, the same for every run{}", name,
                          name == "--steps" ? " (use --stability-steps)" : "");
    if (IsShortOut(a)) return UsageError("--stability-args: -o is set by the bench (a temporary folder per run)");
  }
  auto given = [&](const char* flag) {
    return std::any_of(opt.train_args.begin(), opt.train_args.end(),
                       [&](const std::string& a) { return FlagName(a) == flag; });
  };
  *args = {"--steps", std::to_string(opt.steps), "--seed", std::to_string(opt.seed)};
  // Defaults the caller may replace; CLI11 refuses a flag given twice.
  // GPT-2's block, as the stability results were measured (not the default model).
  if (!given("--model")) args->insert(args->end(), {"--model", "d3"});
  if (!given("--val-every")) args->insert(args->end(), {"--val-every", std::to_string(opt.val_every)});
  if (!given("--sample-tokens")) args->insert(args->end(), {"--sample-tokens", "0"});
  if (!given("--log-every")) args->insert(args->end(), {"--log-every", "100"});
  if (!given("--threads") && opt.threads > 0) args->insert(args->end(), {"--threads", std::to_string(opt.threads)});
  args->insert(args->end(), opt.train_args.begin(), opt.train_args.end());
  return Status();
}


// The runs should coincide, so each gets its own color, width and dash:
// fp32 thick and solid underneath, the 16-bit runs thinner and dashed on top.
void StyleSeries(const std::string& precision, size_t i, PlotSeries* s) {
  static constexpr const char* kColors[] = {"#1f77b4", "#ff7f0e", "#2ca02c", "#d62728", "#9467bd"};
  static constexpr const char* kDashes[] = {"", "8 4", "2 3", "4 2 1 2", "1 1"};
  size_t k = i;
  if (precision == "fp32") k = 0;
  else if (precision == "bf16") k = 1;
  else if (precision == "fp16") k = 2;
  k %= 5;
  s->color = kColors[k];
  s->dash = kDashes[k];
  s->stroke_width = k == 0 ? 3.5 : 1.8;
  s->marker_radius = k == 0 ? 5 : 3;
}

}  // namespace

std::string SignedPct(const json& pct) {
  if (!pct.is_number()) return "n/a";
  // Rounded first, so -0.001 reads "+0.00%", not "-0.00%".
  double rounded = std::round(pct.get<double>() * 100.0) / 100.0;
  if (rounded == 0.0) rounded = 0.0;
  return fmt::format("{:+.2f}%", rounded);
}

std::vector<std::string> SplitArgs(const std::string& text) {
  std::istringstream in(text);
  std::vector<std::string> args;
  std::string a;
  while (in >> a) args.push_back(a);
  return args;
}

Status ParseMetrics(const std::string& jsonl, const std::string& what, json* run) {
  json steps = json::array(), loss = json::array(), val_steps = json::array(), val_loss = json::array();
  int64_t skipped = 0;
  json scale;  // null unless the run logs a loss scale (fp16)
  std::istringstream in(jsonl);
  std::string line;
  for (int n = 1; std::getline(in, line); n++) {
    if (line.empty()) continue;
    json r;
    try {
      r = json::parse(line);
    } catch (const json::exception& e) {
      return RuntimeError("{}: line {}: not valid JSON: {}", what, n, e.what());
    }
    if (!r.is_object() || !r.contains("step")) return RuntimeError("{}: line {}: no \"step\"", what, n);
    if (r.contains("val_loss")) {
      val_steps.push_back(r["step"]);
      val_loss.push_back(Num(r["val_loss"]));
    } else if (r.contains("loss")) {
      steps.push_back(r["step"]);
      loss.push_back(Num(r["loss"]));
      if (r.value("skipped", false)) skipped++;
      if (r.contains("loss_scale")) scale = r["loss_scale"];
    }
  }
  (*run)["steps"] = steps;
  (*run)["loss"] = loss;
  (*run)["val_steps"] = val_steps;
  (*run)["val_loss"] = val_loss;
  (*run)["final_val_loss"] = val_loss.empty() ? json() : val_loss.back();
  (*run)["skipped_steps"] = skipped;
  (*run)["final_loss_scale"] = scale;
  return Status();
}

void CompareRuns(json* result) {
  double ref = kNaN;
  for (const json& r : (*result)["runs"])
    if (r["precision"] == "fp32") ref = Num(r["final_val_loss"]);
  for (json& r : (*result)["runs"]) {
    const double final_val = Num(r["final_val_loss"]);
    r["val_loss_diff_pct"] = std::isfinite(ref) && std::isfinite(final_val) ? json(100.0 * (final_val - ref) / ref) : json();
    bool finite = std::isfinite(final_val);
    for (const json& v : r["loss"]) finite = finite && std::isfinite(Num(v));
    double best = std::numeric_limits<double>::infinity();
    for (const json& v : r["val_loss"]) best = std::min(best, Num(v));
    r["min_val_loss"] = std::isfinite(best) ? json(best) : json();
    r["diverged"] = !finite || final_val > best * (1.0 + kStabilityDivergenceRise);
  }
}

StabilityVerdict JudgeStability(const json& result) {
  StabilityVerdict v;
  bool have_fp32 = false;
  int others = 0;
  v.within = v.no_divergence = true;
  for (const json& r : result["runs"]) {
    const std::string p = r["precision"];
    if (r.value("diverged", true)) {
      v.no_divergence = false;
      v.divergence_detail += (v.divergence_detail.empty() ? "diverged: " : ", ") + p;
    }
    if (p == "fp32") {
      have_fp32 = true;
      continue;
    }
    others++;
    const json& d = r["val_loss_diff_pct"];
    if (!d.is_number() || std::fabs(d.get<double>()) > kStabilityMaxDiffPct) v.within = false;
    v.within_detail += (v.within_detail.empty() ? "" : ", ") + p + " " + SignedPct(d);
  }
  v.comparable = have_fp32 && others > 0;
  v.within = v.within && v.comparable;
  if (!v.comparable) v.within_detail = "needs an fp32 run and at least one 16-bit run";
  if (v.no_divergence) v.divergence_detail = "every loss finite, no final val loss more than 10% above its minimum";
  return v;
}

Status RunStability(const StabilityOptions& opt, json* out) {
  if (opt.steps < 1) return UsageError("--stability-steps: must be at least 1 (got {})", opt.steps);
  if (opt.precisions.empty()) return UsageError("--stability: no precisions to compare");
  std::vector<std::string> common;
  CPU_LLM_RETURN_IF_ERROR(CommonTrainArgs(opt, &common));
  std::string self;
  CPU_LLM_RETURN_IF_ERROR(SelfExecutable(&self));
  TempFolder tmp;
  CPU_LLM_RETURN_IF_ERROR(tmp.Create("cpu_llm_stability"));

  json result = {{"kind", "cpu_llm-bench-stability"}, {"machine", DescribeMachine()}, {"steps", opt.steps},
                 {"seed", opt.seed}, {"train_args", common}, {"runs", json::array()}};
  for (size_t i = 0; i < opt.precisions.size(); i++) {
    const std::string& p = opt.precisions[i];
    const std::string dir = tmp.path() + "/" + p;
    std::vector<std::string> argv = {self, "train", "--precision", p};
    argv.insert(argv.end(), common.begin(), common.end());
    argv.insert(argv.end(), {"-o", dir});
    std::fprintf(stderr, "bench --stability: training in %s (%zu/%zu), %d steps\n", p.c_str(), i + 1,
                 opt.precisions.size(), opt.steps);
    const auto start = std::chrono::steady_clock::now();
    std::string output;
    int code = 0;
    CPU_LLM_RETURN_IF_ERROR(RunCapture(argv, &output, &code));
    const double wall_s = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
    if (code != 0) return RuntimeError("--stability: the {} run failed (exit status {})", p, code);

    const std::string metrics_path = dir + "/metrics.jsonl";
    std::vector<uint8_t> bytes;
    CPU_LLM_RETURN_IF_ERROR(ReadFileBytes(metrics_path, &bytes));
    json run = {{"precision", p}};
    CPU_LLM_RETURN_IF_ERROR(ParseMetrics(std::string(bytes.begin(), bytes.end()), metrics_path, &run));
    if (run["val_loss"].empty()) return RuntimeError("--stability: the {} run logged no validation loss", p);
    run["wall_s"] = wall_s;
    if (i == 0) {
      result["model"] = OutputLine(output, "model: ");
      result["batch"] = OutputLine(output, "batch: ");
    }
    std::fprintf(stderr, "bench --stability: %s done in %.0f s, final val loss %.4f\n", p.c_str(), wall_s,
                 Num(run["final_val_loss"]));
    result["runs"].push_back(std::move(run));
    // Checkpoints of the bigger models run to hundreds of MB each.
    std::error_code ec;
    fs::remove_all(dir, ec);
  }
  CompareRuns(&result);
  *out = std::move(result);
  return Status();
}

double SteadyTokensPerSecond(const std::string& jsonl) {
  std::vector<double> tok_s;
  std::istringstream lines(jsonl);
  std::string line;
  while (std::getline(lines, line)) {
    const json j = json::parse(line, nullptr, false);
    if (j.is_object() && j.contains("tok_s") && j.value("step", 0) > 1) tok_s.push_back(j["tok_s"].get<double>());
  }
  return Median(tok_s);
}

std::vector<double> SmoothEma(const std::vector<double>& values, double beta) {
  std::vector<double> out;
  double m = 0.0, correction = 1.0;
  for (double v : values) {
    m = beta * m + (1.0 - beta) * v;
    correction *= beta;
    out.push_back(m / (1.0 - correction));
  }
  return out;
}

std::string StabilityTrainLossSvg(const json& result) {
  PlotSpec spec;
  spec.title = fmt::format("Training loss by precision, {} steps, seed {} (EMA-smoothed, beta = {})",
                           result["steps"].get<int>(), result["seed"].get<uint64_t>(), kStabilityEmaBeta);
  spec.x_label = "step";
  spec.y_label = fmt::format("training loss (EMA, beta = {})", kStabilityEmaBeta);
  for (size_t i = 0; i < result["runs"].size(); i++) {
    const json& r = result["runs"][i];
    std::vector<double> loss;
    for (const json& v : r["loss"]) loss.push_back(Num(v));
    const std::vector<double> smooth = SmoothEma(loss, kStabilityEmaBeta);
    PlotSeries s;
    s.name = r["precision"];
    StyleSeries(s.name, i, &s);
    for (size_t k = 0; k < smooth.size(); k++) s.points.emplace_back(Num(r["steps"][k]), smooth[k]);
    spec.series.push_back(std::move(s));
  }
  return LinePlotSvg(spec);
}

std::string StabilityValLossSvg(const json& result) {
  PlotSpec spec;
  spec.title = fmt::format("Validation loss by precision, {} steps, seed {}", result["steps"].get<int>(),
                           result["seed"].get<uint64_t>());
  spec.x_label = "step";
  spec.y_label = "validation loss";
  for (size_t i = 0; i < result["runs"].size(); i++) {
    const json& r = result["runs"][i];
    PlotSeries s;
    s.name = fmt::format("{}: final {:.4f}", r["precision"].get<std::string>(), Num(r["final_val_loss"]));
    StyleSeries(r["precision"], i, &s);
    s.markers = true;
    for (size_t k = 0; k < r["val_loss"].size(); k++) s.points.emplace_back(Num(r["val_steps"][k]), Num(r["val_loss"][k]));
    spec.series.push_back(std::move(s));
  }
  return LinePlotSvg(spec);
}

std::string StabilityTable(const json& result) {
  std::string t = fmt::format("{:<9} {:>14} {:>10} {:>8} {:>12} {:>9} {:>9}\n", "precision", "final val loss",
                              "vs fp32", "skipped", "final scale", "wall s", "diverged");
  for (const json& r : result["runs"]) {
    const json& scale = r["final_loss_scale"];
    t += fmt::format("{:<9} {:>14.4f} {:>10} {:>8} {:>12} {:>9.1f} {:>9}\n", r["precision"].get<std::string>(),
                     Num(r["final_val_loss"]),
                     r["precision"] == "fp32" ? "reference" : SignedPct(r["val_loss_diff_pct"]), r["skipped_steps"].get<int64_t>(),
                     scale.is_number() ? fmt::format("{:g}", scale.get<double>()) : std::string("-"),
                     r["wall_s"].get<double>(), r["diverged"].get<bool>() ? "yes" : "no");
  }
  const StabilityVerdict v = JudgeStability(result);
  t += fmt::format("16-bit final val loss within {:g}% of fp32: {} ({})\n", kStabilityMaxDiffPct,
                   v.within ? "PASS" : "FAIL", v.within_detail);
  t += fmt::format("no divergence: {} ({})\n", v.no_divergence ? "PASS" : "FAIL", v.divergence_detail);
  return t;
}

}  // namespace cpu_llm
