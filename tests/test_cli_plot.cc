// `cpu_llm plot` and the plots `train` leaves in its run folder, end to end:
// every step and validation the run logged is a point of the curves.
#include <gtest/gtest.h>

#include <algorithm>
#include <filesystem>
#include <string>
#include <vector>

#include "test_cli_util.h"
#include "test_svg_util.h"

namespace cpu_llm {
namespace {

namespace fs = std::filesystem;
using ::cpu_llm::testing::Cli;
using ::cpu_llm::testing::PolylinePointCounts;
using ::cpu_llm::testing::ReadText;
using ::cpu_llm::testing::WriteText;


using CliPlot = Cli;

TEST_F(CliPlot, TrainWritesTheCurvesOfEveryStepAndResumeExtendsThem) {
  steps_ = "4";
  const auto r = Run(Train(Out(), {"--val-every", "2"}));
  ExpectSuccess(r);
  EXPECT_HAS_SUBSTR(r.out, "plots: " + Out() + "/loss.svg " + Out() + "/lr.svg " + Out() + "/tok_s.svg");
  // Validation at steps 2 and 4 (the end).
  EXPECT_EQ(PolylinePointCounts(ReadText(Out() + "/loss.svg")), (std::vector<int>{4, 2}));
  EXPECT_EQ(PolylinePointCounts(ReadText(Out() + "/lr.svg")), std::vector<int>{4});

  steps_ = "6";
  ExpectSuccess(Run(Train(Out(), {"--val-every", "2", "--resume"})));
  EXPECT_EQ(PolylinePointCounts(ReadText(Out() + "/loss.svg")), (std::vector<int>{6, 3}));
  EXPECT_EQ(PolylinePointCounts(ReadText(Out() + "/tok_s.svg")), std::vector<int>{6});
}

TEST_F(CliPlot, PlotRedrawsARunIntoAnotherFolder) {
  ExpectSuccess(Run(Train(Out())));
  const std::string svg_dir = dir_ / "svg";
  const auto r = Run({"plot", Out(), "--out", svg_dir});
  ExpectSuccess(r);
  EXPECT_EQ(r.out, "wrote " + svg_dir + "/loss.svg\nwrote " + svg_dir + "/lr.svg\nwrote " + svg_dir + "/tok_s.svg\n");
  EXPECT_EQ(ReadText(svg_dir + "/loss.svg"), ReadText(Out() + "/loss.svg"));
  EXPECT_EQ(PolylinePointCounts(ReadText(svg_dir + "/loss.svg")), (std::vector<int>{3, 1}));  // val at the end
}

TEST_F(CliPlot, BadRunFoldersGetOneLine) {
  ExpectError(Run({"plot", dir_ / "nowhere"}), 1, dir_ / "nowhere/metrics.jsonl");
  fs::create_directories(dir_ / "garbled");
  WriteText(dir_ / "garbled/metrics.jsonl", "{\"step\":1,\"loss\":2}\nnot json\n");
  ExpectError(Run({"plot", dir_ / "garbled"}), 1, dir_ / "garbled/metrics.jsonl:2: not a JSON object");
  ExpectError(Run({"plot"}), 2, "run_dir is required");
  EXPECT_FALSE(fs::exists(dir_ / "garbled/loss.svg"));
}

}  // namespace
}  // namespace cpu_llm
