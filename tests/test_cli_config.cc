// `train --config` and what a run shows while it goes, end to end: a config
// file sets options the command line leaves alone, the resolved config a run
// saves makes the same run again, and the step output suits a terminal, a
// pipe and --quiet.
#include <gtest/gtest.h>

#include <nlohmann/json.hpp>
#include <regex>
#include <set>
#include <sstream>
#include <string>
#include <vector>

#include "test_cli_util.h"
#include "train/checkpoint.h"
#include "train/run_config.h"

namespace cpu_llm {
namespace {

using ::cpu_llm::testing::Cli;
using ::cpu_llm::testing::ProcessResult;
using ::cpu_llm::testing::ReadText;
using ::cpu_llm::testing::RunProcess;
using ::cpu_llm::testing::StepLosses;
using ::cpu_llm::testing::WriteText;

using CliConfig = Cli;

nlohmann::json ReadJson(const std::string& path) { return nlohmann::json::parse(ReadText(path)); }

TEST_F(CliConfig, AFileSetsWhatTheCommandLineLeavesAlone) {
  const std::string config = dir_ / "run.json";
  WriteText(config, R"({
    // the command line's --lr wins over this one
    "lr": 0.01, "warmup": 2, "weight-decay": 0.0, "sample-prompt": "In"
  })");
  const ProcessResult r = Run(Train(Out(), {"--config", config, "--lr", "0.005"}));
  ExpectSuccess(r);
  EXPECT_HAS_SUBSTR(r.out, "config: " + Out() + "/train_config.json\n");
  EXPECT_TRUE(std::regex_search(r.out, std::regex(" lr=0.005\\s"))) << r.out;
  EXPECT_TRUE(std::regex_search(r.out, std::regex(" warmup=2\\s"))) << r.out;
  const nlohmann::json saved = ReadJson(Out() + "/train_config.json");
  EXPECT_EQ(saved["lr"], 0.005);
  EXPECT_EQ(saved["warmup"], 2);
  EXPECT_EQ(saved["weight-decay"], 0.0);
  EXPECT_EQ(saved["steps"], 3);  // Train()'s --steps
  EXPECT_EQ(saved["layers"], 1);
  EXPECT_HAS_SUBSTR(r.out, "sample:\nIn");
}

TEST_F(CliConfig, TheSavedConfigMakesTheSameRun) {
  const ProcessResult first = Run(Train(Out(), {"--lr", "0.004", "--warmup", "1", "--shuffle"}));
  ExpectSuccess(first);
  const std::string again = dir_ / "again";
  // Only --out on the command line: everything else from the saved file.
  const ProcessResult second = Run({"train", "--config", Out() + "/train_config.json", "--out", again});
  ExpectSuccess(second);
  ASSERT_EQ(StepLosses(first.out).size(), 3u);
  EXPECT_EQ(StepLosses(second.out), StepLosses(first.out));
  nlohmann::json a = ReadJson(Out() + "/train_config.json"), b = ReadJson(again + "/train_config.json");
  EXPECT_EQ(b["out"], again);
  a.erase("out");
  b.erase("out");
  EXPECT_EQ(a, b);
  // Each state file holds the config it was made with.
  TrainState st;
  ASSERT_TRUE(LoadState(Out() + "/state_00000003.bin", &st, nullptr).ok());
  EXPECT_EQ(st.run_config, ReadText(Out() + "/train_config.json"));
}

TEST_F(CliConfig, TheDefaultModelIsSavedByName) {
  steps_ = "1";
  ExpectSuccess(Run(Train(Out(), {}, "1", "16", /*tiny_model=*/false)));
  const nlohmann::json saved = ReadJson(Out() + "/train_config.json");
  EXPECT_EQ(saved["model"], "llama-d3");
  EXPECT_EQ(saved["norm"], "rmsnorm");
  EXPECT_EQ(saved["head"], "untied");
  EXPECT_EQ(saved["prune-vocab"], 1);  // what "auto" came to
}

TEST_F(CliConfig, ResumeNamesTheOptionsThatChanged) {
  ExpectSuccess(Run(Train(Out())));
  steps_ = "5";
  const ProcessResult r = Run(Train(Out(), {"--resume", "--lr", "0.001"}));
  ExpectSuccess(r);
  EXPECT_HAS_SUBSTR(r.out, "resume: options changed since the checkpoint: steps 3 -> 5, lr 0.002 -> 0.001\n");
}

TEST_F(CliConfig, BadFilesGetOneLineNamingTheFile) {
  const std::string config = dir_ / "bad.json";
  WriteText(config, R"({"lrr": 0.1})");
  ExpectError(Run(Train(Out(), {"--config", config})), 2, config + ": unknown option \"lrr\" (did you mean \"lr\"?)");
  WriteText(config, R"({"warmup": -4})");
  ExpectError(Run(Train(Out(), {"--config", config})), 2, config + ": \"warmup\": must not be negative (got -4)");
  // The same value on the command line is named as the flag.
  ExpectError(Run(Train(Out(), {"--warmup", "-4"})), 2, "--warmup: must not be negative");
  WriteText(config, "{\"steps\": ");
  ExpectError(Run(Train(Out(), {"--config", config})), 2, config + ": not valid JSON");
  ExpectError(Run(Train(Out(), {"--config", dir_ / "none.json"})), 1, dir_ / "none.json");
}

// The table of keys and the flags of `train --help` are one list.
TEST_F(CliConfig, EveryTrainFlagIsAConfigKey) {
  const ProcessResult help = Run({"train", "--help"});
  ASSERT_EQ(help.exit_code, 0);
  std::set<std::string> flags;
  const std::regex option_column(R"(^\s+(-\w,)?--([a-z0-9-]+))");
  std::istringstream in(help.out);
  for (std::string line; std::getline(in, line);) {
    std::smatch m;
    if (std::regex_search(line, m, option_column)) flags.insert(m[2]);
  }
  for (const char* cli_only : {"help", "help-all", "config", "resume"}) EXPECT_EQ(flags.erase(cli_only), 1u) << cli_only;
  const std::vector<std::string>& keys = RunConfigKeys();
  EXPECT_EQ(flags, std::set<std::string>(keys.begin(), keys.end()));
}

// ---------------------------------------------------------------- progress

TEST_F(CliConfig, APipeGetsPlainStepLinesWithAnEta) {
  steps_ = "4";
  const ProcessResult r = Run(Train(Out()));
  ExpectSuccess(r);
  EXPECT_EQ(r.out.find('\r'), std::string::npos);
  EXPECT_EQ(r.out.find("\033["), std::string::npos);
  const std::regex step_line(R"(step +(\d)/4 \| loss [^\n]*tok/s( \| eta \d+ s)?\n)");
  int lines = 0;
  for (auto it = std::sregex_iterator(r.out.begin(), r.out.end(), step_line); it != std::sregex_iterator(); ++it) {
    lines++;
    EXPECT_EQ((*it)[2].matched, (*it)[1] != "4") << it->str();  // no ETA on the last
  }
  EXPECT_EQ(lines, 4);
}

TEST_F(CliConfig, QuietLeavesOutTheStepLinesOnly) {
  const ProcessResult r = Run(Train(Out(), {"--quiet", "--val-every", "2"}));
  ExpectSuccess(r);
  EXPECT_TRUE(StepLosses(r.out).empty()) << r.out;
  EXPECT_EQ(r.out.find("/3 |"), std::string::npos) << r.out;
  EXPECT_HAS_SUBSTR(r.out, "step     2 | val loss ");
  EXPECT_HAS_SUBSTR(r.out, "checkpoint: " + Out() + "/state_00000003.bin");
}

// A terminal (a pseudo-terminal from script(1)) gets the redrawn status line.
TEST_F(CliConfig, ATerminalGetsTheStatusLine) {
  if (RunProcess("/usr/bin/script", {"--version"}, dir_.path()).exit_code != 0)
    GTEST_SKIP() << "script(1) not installed";
  std::string command = CPU_LLM_BINARY;
  for (const std::string& a : Train(Out(), {"--log-every", "2"})) command += " '" + a + "'";
  const ProcessResult r = RunProcess("/usr/bin/script", {"-qefc", command, "/dev/null"}, dir_.path());
  ASSERT_EQ(r.exit_code, 0) << r.out << r.err;
  EXPECT_HAS_SUBSTR(r.out, "\r[#######.............] step 1/3  33% | ");
  EXPECT_HAS_SUBSTR(r.out, "step 3/3 100% | ");
  // The status line is lifted before each log line and at the end.
  EXPECT_HAS_SUBSTR(r.out, "\r\033[Kstep     2/3 | loss ");
  EXPECT_HAS_SUBSTR(r.out, "\r\033[Kstep     3 | val loss ");
  ExpectSuccess(Run(Train(Out(), {"--quiet", "--resume"})));  // the folder is whole
}

}  // namespace
}  // namespace cpu_llm
