// The SVG line plot writer and the stability bench's pure parts (metrics
// parsing, comparison, verdict, report section) on hand-made data; the
// end-to-end run is in test_cli_bench.cc.
#include <gtest/gtest.h>

#include <cmath>
#include <filesystem>
#include <nlohmann/json.hpp>
#include <regex>
#include <string>
#include <vector>

#include "bench/report.h"
#include "bench/stability.h"
#include "core/svg_plot.h"
#include "test_io_util.h"

namespace cpu_llm {
namespace {

using nlohmann::json;

size_t Count(const std::string& text, const std::string& what) {
  size_t n = 0;
  for (size_t at = text.find(what); at != std::string::npos; at = text.find(what, at + what.size())) n++;
  return n;
}

// Every element opened is closed in order (self-closing ones count as both),
// the XML declaration aside: enough of XML to catch a broken writer.
bool TagsBalanced(const std::string& svg, std::string* why) {
  std::vector<std::string> open;
  const std::regex tag("<(/?)([a-zA-Z][a-zA-Z0-9]*)[^>]*?(/?)>");
  for (auto it = std::sregex_iterator(svg.begin(), svg.end(), tag); it != std::sregex_iterator(); ++it) {
    const std::smatch& m = *it;
    if (m[3] == "/") continue;
    if (m[1] == "/") {
      if (open.empty() || open.back() != m[2]) {
        *why = "unexpected </" + m[2].str() + ">";
        return false;
      }
      open.pop_back();
    } else {
      open.push_back(m[2]);
    }
  }
  if (!open.empty()) *why = "<" + open.back() + "> never closed";
  return open.empty();
}

// Consecutive tick labels of one axis (class xtick/ytick), as numbers.
std::vector<double> TickValues(const std::string& svg, const std::string& cls) {
  std::vector<double> v;
  const std::regex re("class=\"" + cls + "\">([^<]*)<");
  for (auto it = std::sregex_iterator(svg.begin(), svg.end(), re); it != std::sregex_iterator(); ++it)
    v.push_back(std::stod((*it)[1]));
  return v;
}

// The spacing of round ticks: 1, 2 or 5 times a power of ten.
bool IsRoundStep(double step) {
  const double mag = std::pow(10.0, std::floor(std::log10(step) + 1e-9));
  const double m = step / mag;
  return std::fabs(m - 1) < 1e-6 || std::fabs(m - 2) < 1e-6 || std::fabs(m - 5) < 1e-6;
}

void ExpectRoundTicks(const std::vector<double>& t, const std::string& what) {
  ASSERT_GE(t.size(), 3u) << what;
  const double step = t[1] - t[0];
  EXPECT_TRUE(IsRoundStep(step)) << what << " step " << step;
  for (size_t i = 1; i < t.size(); i++) EXPECT_NEAR(t[i] - t[i - 1], step, step * 1e-6) << what;
  for (double x : t) EXPECT_NEAR(std::round(x / step) * step, x, step * 1e-6) << what << " tick " << x;
}

PlotSpec ThreeCurves() {
  PlotSpec spec;
  spec.title = "Loss <by> precision & seed";
  spec.x_label = "step";
  spec.y_label = "loss";
  const char* colors[] = {"#1f77b4", "#ff7f0e", "#2ca02c"};
  for (int s = 0; s < 3; s++) {
    PlotSeries series;
    series.name = "run " + std::to_string(s);
    series.color = colors[s];
    series.markers = s == 2;
    for (int i = 1; i <= 997; i += 3) series.points.emplace_back(i, 10.83 - 6.1 * (1 - std::exp(-i / 150.0)) + 0.01 * s);
    spec.series.push_back(series);
  }
  spec.series[1].points.emplace_back(1000, NAN);  // left out, not drawn
  return spec;
}

TEST(SvgPlot, IsAStandaloneDocumentWithOneLinePerSeries) {
  const PlotSpec spec = ThreeCurves();
  const std::string svg = LinePlotSvg(spec);
  EXPECT_NE(svg.find("<svg xmlns=\"http://www.w3.org/2000/svg\""), std::string::npos);
  std::string why;
  EXPECT_TRUE(TagsBalanced(svg, &why)) << why;
  EXPECT_EQ(Count(svg, "<polyline"), 3u);
  EXPECT_EQ(Count(svg, "<path"), 0u);
  EXPECT_EQ(Count(svg, "<circle"), spec.series[2].points.size() + 1);  // markers + the legend's
  EXPECT_NE(svg.find("Loss &lt;by&gt; precision &amp; seed"), std::string::npos);
  for (const char* name : {"run 0", "run 1", "run 2"}) EXPECT_NE(svg.find(name), std::string::npos);
  EXPECT_EQ(svg.find("nan"), std::string::npos);

  // Every polyline coordinate and marker inside the viewBox.
  std::smatch vb;
  ASSERT_TRUE(std::regex_search(svg, vb, std::regex("viewBox=\"0 0 ([0-9.]+) ([0-9.]+)\"")));
  const double W = std::stod(vb[1]), H = std::stod(vb[2]);
  EXPECT_EQ(W, 800);
  EXPECT_EQ(H, 480);
  const std::regex pts("points=\"([^\"]*)\"");
  size_t n_points = 0;
  for (auto it = std::sregex_iterator(svg.begin(), svg.end(), pts); it != std::sregex_iterator(); ++it) {
    const std::string list = (*it)[1];
    const std::regex pair("(-?[0-9.]+),(-?[0-9.]+)");
    for (auto p = std::sregex_iterator(list.begin(), list.end(), pair); p != std::sregex_iterator(); ++p) {
      const double x = std::stod((*p)[1]), y = std::stod((*p)[2]);
      EXPECT_TRUE(x >= 0 && x <= W && y >= 0 && y <= H) << x << "," << y;
      n_points++;
    }
  }
  EXPECT_EQ(n_points, 3 * spec.series[0].points.size());
  const std::regex circle("cx=\"(-?[0-9.]+)\" cy=\"(-?[0-9.]+)\"");
  for (auto it = std::sregex_iterator(svg.begin(), svg.end(), circle); it != std::sregex_iterator(); ++it) {
    const double x = std::stod((*it)[1]), y = std::stod((*it)[2]);
    EXPECT_TRUE(x >= 0 && x <= W && y >= 0 && y <= H) << x << "," << y;
  }

  // Round tick labels covering the data: x 1..997, y ~4.7..10.8.
  const std::vector<double> xt = TickValues(svg, "xtick"), yt = TickValues(svg, "ytick");
  ExpectRoundTicks(xt, "x");
  ExpectRoundTicks(yt, "y");
  EXPECT_LE(xt.front(), 1);
  EXPECT_GE(xt.back(), 997);
  EXPECT_LE(yt.front(), 4.8);
  EXPECT_GE(yt.back(), 10.85);
}

TEST(SvgPlot, DegenerateInputsStillGiveAValidPlot) {
  PlotSpec spec;
  PlotSeries flat, empty;
  flat.name = "flat";
  flat.points = {{5, 2.0}, {5, 2.0}};
  flat.dash = "4 2";
  empty.name = "empty";
  spec.series = {flat, empty};
  const std::string svg = LinePlotSvg(spec);
  std::string why;
  EXPECT_TRUE(TagsBalanced(svg, &why)) << why;
  EXPECT_EQ(Count(svg, "<polyline"), 2u);
  EXPECT_EQ(Count(svg, "stroke-dasharray=\"4 2\""), 2u);  // the line and its legend entry
  ExpectRoundTicks(TickValues(svg, "ytick"), "y");
  EXPECT_TRUE(TagsBalanced(LinePlotSvg(PlotSpec{}), &why)) << why;
}

TEST(SvgPlot, NiceTicksAndLabels) {
  EXPECT_EQ(NiceTicks(0, 1000, 8), (std::vector<double>{0, 200, 400, 600, 800, 1000}));
  // Bounds that are ticks stay the ends, despite 0.9 - 0.3 > 0.6.
  const std::vector<double> tenth = NiceTicks(0.3, 0.9, 6);
  ASSERT_EQ(tenth.size(), 7u);
  EXPECT_NEAR(tenth.front(), 0.3, 1e-12);
  EXPECT_NEAR(tenth.back(), 0.9, 1e-12);
  EXPECT_EQ(NiceTicks(4.71, 10.83, 6), (std::vector<double>{4, 6, 8, 10, 12}));
  EXPECT_EQ(TickLabel(0.5, 0.5), "0.5");
  EXPECT_EQ(TickLabel(200, 200), "200");
  EXPECT_EQ(TickLabel(0.04, 0.02), "0.04");
  EXPECT_EQ(TickLabel(-1e-17, 0.1), "0.0");
}

// A metrics.jsonl as the trainer writes it: fp16 with one skipped step.
std::string FakeMetrics(double scale_bump) {
  std::string s;
  for (int step = 1; step <= 4; step++) {
    json r = {{"step", step}, {"loss", 10.0 - step + scale_bump}, {"lr", 1e-3}, {"grad_norm", 1.0}, {"ms", 5.0},
              {"tok_s", 100.0}};
    if (scale_bump > 0) {
      r["loss_scale"] = step == 2 ? 65536.0 : 32768.0;
      r["skipped"] = step == 2;
    }
    s += r.dump() + "\n";
    if (step % 2 == 0) s += json({{"step", step}, {"val_loss", 9.0 - step + scale_bump}}).dump() + "\n";
  }
  return s;
}

json FakeStability() {
  json result = {{"kind", "cpu_llm-bench-stability"}, {"machine", {{"date", "2026-01-03 00:00 UTC"}}}, {"steps", 4},
                 {"seed", 7}, {"train_args", {"--steps", "4"}}, {"model", "d1 test"}, {"batch", "B=2 T=16"},
                 {"runs", json::array()}};
  for (const auto& [p, bump] : {std::pair{"fp32", 0.0}, {"bf16", 0.0}, {"fp16", 0.05}}) {
    json run = {{"precision", p}, {"wall_s", 1.5}};
    EXPECT_TRUE(ParseMetrics(FakeMetrics(bump), "m.jsonl", &run).ok());
    result["runs"].push_back(run);
  }
  CompareRuns(&result);
  return result;
}

TEST(Stability, ParsesComparesAndJudges) {
  json result = FakeStability();
  const json& fp16 = result["runs"][2];
  EXPECT_EQ(fp16["steps"], json({1, 2, 3, 4}));
  EXPECT_EQ(fp16["loss"].size(), 4u);
  EXPECT_EQ(fp16["val_steps"], json({2, 4}));
  EXPECT_DOUBLE_EQ(fp16["final_val_loss"].get<double>(), 5.05);
  EXPECT_EQ(fp16["skipped_steps"], 1);
  EXPECT_EQ(fp16["final_loss_scale"], 32768.0);
  EXPECT_TRUE(result["runs"][0]["final_loss_scale"].is_null());
  EXPECT_DOUBLE_EQ(result["runs"][0]["val_loss_diff_pct"].get<double>(), 0.0);
  EXPECT_NEAR(fp16["val_loss_diff_pct"].get<double>(), 1.0, 1e-9);  // 5.05 vs 5.0
  EXPECT_FALSE(fp16["diverged"].get<bool>());
  StabilityVerdict v = JudgeStability(result);
  EXPECT_TRUE(v.comparable);
  EXPECT_TRUE(v.within);  // 1.00% is within 1%
  EXPECT_TRUE(v.no_divergence);
  EXPECT_EQ(v.within_detail, "bf16 +0.00%, fp16 +1.00%");

  // A NaN loss (null in JSON) and a final val loss far above the minimum
  // both count as divergence; 2% off fp32 fails the 1% check.
  json bad = result;
  bad["runs"][1]["loss"][2] = nullptr;
  bad["runs"][2]["val_loss"][1] = 3.3 * 1.2;
  bad["runs"][2]["final_val_loss"] = 3.3 * 1.2;
  bad["runs"][2]["val_loss"][0] = 3.3;
  CompareRuns(&bad);
  EXPECT_TRUE(bad["runs"][1]["diverged"].get<bool>());
  EXPECT_TRUE(bad["runs"][2]["diverged"].get<bool>());
  v = JudgeStability(bad);
  EXPECT_FALSE(v.no_divergence);
  EXPECT_EQ(v.divergence_detail, "diverged: bf16, fp16");
  EXPECT_FALSE(v.within);

  json only16 = result;
  only16["runs"].erase(0);
  CompareRuns(&only16);
  EXPECT_TRUE(only16["runs"][0]["val_loss_diff_pct"].is_null());
  EXPECT_FALSE(JudgeStability(only16).comparable);

  EXPECT_FALSE(ParseMetrics("{\"step\": 1, \"loss\": 2}\nnot json\n", "m.jsonl", &only16).ok());
  EXPECT_EQ(SplitArgs("  --model d1\t--batch 2 "), (std::vector<std::string>{"--model", "d1", "--batch", "2"}));
}

TEST(Stability, SmoothingAndFigures) {
  // Bias-corrected: a constant stays constant from the first value on.
  for (double v : SmoothEma({3, 3, 3}, 0.9)) EXPECT_DOUBLE_EQ(v, 3.0);
  const std::vector<double> s = SmoothEma({1, 3}, 0.5);
  EXPECT_DOUBLE_EQ(s[1], (0.25 * 1 + 0.5 * 3) / 0.75);
  const json result = FakeStability();
  const std::string train = StabilityTrainLossSvg(result), val = StabilityValLossSvg(result);
  EXPECT_EQ(Count(train, "<polyline"), 3u);
  EXPECT_NE(train.find("EMA"), std::string::npos);
  EXPECT_EQ(Count(val, "<polyline"), 3u);
  EXPECT_NE(val.find("fp16: final 5.0500"), std::string::npos);
  const std::string table = StabilityTable(result);
  EXPECT_NE(table.find("PASS"), std::string::npos);
  EXPECT_NE(table.find("32768"), std::string::npos);
}

json EmptyBaseline() {
  return {{"kind", "cpu_llm-bench-baseline"},
          {"machine", {{"cpu", "Test CPU"}, {"logical_cpus", 2}, {"simd", json::array()}, {"memory_bytes", 1e9},
                       {"os", "Linux"}, {"build", "g++"}, {"date", "2026-01-01 00:00 UTC"}}},
          {"peak", {{"threads", 2}, {"fp32_gflops", 100.0}, {"fp32_isa", "AVX2"}, {"bf16_gflops", 0.0}}},
          {"workloads", json::array()},
          {"pytorch", json::array()}};
}

TEST(Stability, ReportSectionOnlyWhenMeasured) {
  const json b = EmptyBaseline();
  const std::string without = RenderReport(b, json(), "", "bench", "");
  EXPECT_EQ(without.find("Mixed precision stability"), std::string::npos);
  ReportExtras x;
  x.stability = FakeStability();
  x.stability_plots = {"bench/stability_train_loss.svg", "bench/stability_val_loss.svg"};
  const std::string md = RenderReport(b, json(), "", "bench", "", x);
  EXPECT_NE(md.find("## Mixed precision stability"), std::string::npos);
  EXPECT_NE(md.find("| fp16 | 5.0500 | +1.00% | 5.0500 | 1 | 32768 | 2 s | no |"), std::string::npos) << md;
  EXPECT_NE(md.find("- bf16 and fp16 final val loss within 1% of fp32: **PASS** (bf16 +0.00%, fp16 +1.00%)"),
            std::string::npos) << md;
  EXPECT_NE(md.find("no divergence"), std::string::npos);
  EXPECT_NE(md.find("Only 4 steps per run"), std::string::npos);
  EXPECT_NE(md.find("![Training loss by precision (EMA-smoothed)](bench/stability_train_loss.svg)"), std::string::npos);
  EXPECT_NE(md.find("![Validation loss by precision](bench/stability_val_loss.svg)"), std::string::npos);
  EXPECT_NE(md.find("[Mixed precision stability](#mixed-precision-stability)"), std::string::npos);
}

// WriteReport picks stability.json up when it is there, links the plots
// that exist relative to the report, and refuses a file of another kind.
TEST(Stability, WriteReportReadsTheSavedRun) {
  using ::cpu_llm::testing::ReadText;
  using ::cpu_llm::testing::WriteText;
  ::cpu_llm::testing::TempDir dir;
  std::filesystem::create_directory(dir / "bench");
  WriteText(dir / "bench/baseline.json", EmptyBaseline().dump());
  const std::string out = dir / "OPTIMIZATIONS.md";
  ASSERT_TRUE(WriteReport(dir / "bench", out).ok());
  EXPECT_EQ(ReadText(out).find("## Mixed precision stability"), std::string::npos);

  WriteText(dir / "bench/stability.json", FakeStability().dump());
  WriteText(dir / "bench/stability_val_loss.svg", "<svg/>");
  ASSERT_TRUE(WriteReport(dir / "bench", out).ok());
  const std::string md = ReadText(out);
  EXPECT_NE(md.find("## Mixed precision stability"), std::string::npos);
  EXPECT_NE(md.find("](bench/stability_val_loss.svg)"), std::string::npos) << md;
  EXPECT_EQ(md.find("stability_train_loss.svg"), std::string::npos);  // not written: not linked

  WriteText(dir / "bench/stability.json", R"({"kind": "cpu_llm-bench-ablation"})");
  const Status s = WriteReport(dir / "bench", out);
  EXPECT_EQ(s.exit_code(), 1);
  EXPECT_NE(s.message().find("stability.json: not a bench stability result"), std::string::npos) << s.message();
}

}  // namespace
}  // namespace cpu_llm
