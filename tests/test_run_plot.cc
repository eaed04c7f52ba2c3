// train/run_plot.h: metrics.jsonl parsing and the SVG files of `cpu_llm plot`.
#include "train/run_plot.h"

#include <algorithm>
#include <cmath>
#include <filesystem>

#include <gtest/gtest.h>

#include "core/svg_plot.h"
#include "test_io_util.h"
#include "test_svg_util.h"

namespace cpu_llm {
namespace {

using ::cpu_llm::testing::ReadText;
using ::cpu_llm::testing::PolylinePointCounts;
using ::cpu_llm::testing::TempDir;
using ::cpu_llm::testing::WriteText;

// The metrics.jsonl MetricsLog writes: step records, validation records, a
// resume banner-like record without a step, and a last line cut short.
const char* kMetrics =
    R"({"step":1,"loss":5.5,"lr":0.0001,"grad_norm":2.0,"ms":10.0,"data_ms":0.1,"tok_s":1000.0})" "\n"
    R"({"step":2,"loss":5.0,"lr":0.0002,"grad_norm":1.5,"ms":9.0,"data_ms":0.1,"tok_s":1100.0})" "\n"
    R"({"step":2,"val_loss":5.25})" "\n"
    "\n"
    R"({"note":"no step here"})" "\n"
    R"({"step":3,"loss":4.5,"lr":0.0003,"grad_norm":1.0,"ms":8.0,"data_ms":0.1,"tok_s":1200.0})" "\n"
    R"({"step":3,"val_loss":4.75})" "\n"
    R"({"step":4,"loss":4.)";


TEST(RunPlot, ParsesStepAndValidationRecordsAndDropsACutShortLastLine) {
  RunMetrics m;
  ASSERT_TRUE(ParseRunMetrics("m.jsonl", kMetrics, &m).ok());
  ASSERT_EQ(m.loss.size(), 3u);  // step 4 was cut short
  EXPECT_EQ(m.loss[0], std::make_pair(1.0, 5.5));
  EXPECT_EQ(m.loss[2], std::make_pair(3.0, 4.5));
  ASSERT_EQ(m.val_loss.size(), 2u);
  EXPECT_EQ(m.val_loss[1], std::make_pair(3.0, 4.75));
  ASSERT_EQ(m.lr.size(), 3u);
  EXPECT_DOUBLE_EQ(m.lr[1].second, 0.0002);
  ASSERT_EQ(m.tok_s.size(), 3u);
  EXPECT_DOUBLE_EQ(m.tok_s[2].second, 1200.0);
}

TEST(RunPlot, ANonJsonLineIsAnErrorNamingFileAndLine) {
  RunMetrics m;
  const Status s = ParseRunMetrics("run/metrics.jsonl", "{\"step\":1,\"loss\":2}\nstep 2 loss 1.5\n", &m);
  ASSERT_FALSE(s.ok());
  EXPECT_EQ(s.message(), "run/metrics.jsonl:2: not a JSON object (is this a cpu_llm metrics file?)");
  EXPECT_FALSE(ParseRunMetrics("m", "[1,2]\n", &m).ok());
}

TEST(RunPlot, NonFiniteAndNonNumericValuesAreLeftOut) {
  RunMetrics m;
  ASSERT_TRUE(ParseRunMetrics("m", "{\"step\":1,\"loss\":\"nan\"}\n{\"step\":2,\"loss\":3,\"lr\":null}\n", &m).ok());
  ASSERT_EQ(m.loss.size(), 1u);
  EXPECT_EQ(m.loss[0].first, 2.0);
  EXPECT_TRUE(m.lr.empty());
}

TEST(RunPlot, WritesLossLrAndThroughputSvgsWithEveryPoint) {
  TempDir dir;
  WriteText(dir / "metrics.jsonl", kMetrics);
  std::vector<std::string> written;
  ASSERT_TRUE(PlotRun(dir.path(), dir.path(), &written).ok());
  ASSERT_EQ(written, (std::vector<std::string>{dir / "loss.svg", dir / "lr.svg", dir / "tok_s.svg"}));
  const std::string loss = ReadText(dir / "loss.svg");
  EXPECT_NE(loss.find("<svg"), std::string::npos) << loss.substr(0, 80);
  EXPECT_EQ(loss.substr(loss.size() - 7), "</svg>\n");
  EXPECT_EQ(PolylinePointCounts(loss), (std::vector<int>{3, 2}));  // train, val
  EXPECT_NE(loss.find(">val</text>"), std::string::npos);
  EXPECT_EQ(PolylinePointCounts(ReadText(dir / "lr.svg")), std::vector<int>{3});
  EXPECT_EQ(PolylinePointCounts(ReadText(dir / "tok_s.svg")), std::vector<int>{3});
  for (const auto& e : std::filesystem::directory_iterator(dir.path()))
    EXPECT_EQ(e.path().filename().string().find(".tmp."), std::string::npos);
}

// What a metrics file can hold that a plot must survive: values so large
// that their span overflows, and values too close together for doubles to
// step between at their magnitude (an endless tick loop before).
TEST(RunPlot, ExtremeValuesGiveFiniteTicksAndCoordinates) {
  for (const auto& [lo, hi] : std::vector<std::pair<double, double>>{
           {1e17, 1e17 + 16}, {-1e308, 1e308}, {5e299, 5e299}, {0, 1e-310}, {3, 3}}) {
    const std::vector<double> ticks = NiceTicks(lo, hi, 6);
    ASSERT_GE(ticks.size(), 2u) << lo << " " << hi;
    EXPECT_LE(ticks.size(), 1000u);
    for (double t : ticks) EXPECT_TRUE(std::isfinite(t)) << lo << " " << hi;
    EXPECT_LT(ticks.front(), ticks.back()) << lo << " " << hi;
    PlotSpec spec{"t", "x", "y", {}};
    spec.series.push_back({"a", "#000", {{lo, lo}, {hi, hi}, {1e308, -1e308}}});
    const std::string svg = LinePlotSvg(spec);
    EXPECT_EQ(svg.find("nan"), std::string::npos) << lo << " " << hi;
    EXPECT_EQ(svg.find("inf"), std::string::npos) << lo << " " << hi;
  }
}

TEST(RunPlot, ARunWithoutStepsOrMetricsIsAnError) {
  TempDir dir;
  std::vector<std::string> written;
  const Status missing = PlotRun(dir.path(), dir.path(), &written);
  ASSERT_FALSE(missing.ok());
  EXPECT_NE(missing.message().find(dir / "metrics.jsonl"), std::string::npos) << missing.message();
  WriteText(dir / "metrics.jsonl", "{\"step\":0,\"val_loss\":5.0}\n");
  const Status no_steps = PlotRun(dir.path(), dir.path(), &written);
  ASSERT_FALSE(no_steps.ok());
  EXPECT_EQ(no_steps.message(), dir / "metrics.jsonl" + ": no training steps to plot");
  EXPECT_TRUE(written.empty());
  EXPECT_FALSE(std::filesystem::exists(dir / "loss.svg"));
}

}  // namespace
}  // namespace cpu_llm
