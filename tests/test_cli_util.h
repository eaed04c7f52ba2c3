// The Cli fixture shared by the end-to-end tests of `train`: a tiny, fast
// training command, and readers for what it prints and writes.
#pragma once

#include <nlohmann/json.hpp>
#include <sstream>
#include <string>
#include <vector>

#include "test_io_util.h"

namespace cpu_llm::testing {

class Cli : public ::cpu_llm::testing::BinaryTest {
 protected:
  // A tiny, fast training command writing into `out`.
  std::vector<std::string> Train(const std::string& out, std::vector<std::string> extra = {}, std::string B = "2",
                                 std::string T = "16", bool tiny_model = true) {
    std::vector<std::string> a = {"train",         "--batch", B,   "--seq-len",       T,   "--steps",   steps_,
                                  "--val-batches", "1",       "--sample-tokens", "5", "--threads", threads_,
                                  "--out",         out,       "--tokenizer",     "bytes"};
    if (tiny_model) a.insert(a.end(), {"--model", "d1", "--channels", "32", "--heads", "2"});
    a.insert(a.end(), extra.begin(), extra.end());
    return a;
  }

  std::string Out() const { return dir_ / "run"; }

  std::string steps_ = "3", threads_ = "1";  // used by Train()
};

// Loss values printed on the step lines, as text.
inline std::vector<std::string> StepLosses(const std::string& out) {
  std::vector<std::string> losses;
  std::istringstream in(out);
  std::string line;
  while (std::getline(in, line)) {
    size_t at = line.find("| loss ");
    if (line.rfind("step ", 0) == 0 && at != std::string::npos) losses.push_back(line.substr(at + 7, 6));
  }
  return losses;
}

inline std::vector<nlohmann::json> ReadMetrics(const std::string& path) {
  std::vector<nlohmann::json> records;
  std::istringstream in(ReadText(path));
  std::string line;
  while (std::getline(in, line)) {
    nlohmann::json j = nlohmann::json::parse(line, nullptr, /*allow_exceptions=*/false);
    EXPECT_FALSE(j.is_discarded()) << "not JSON: " << line;
    EXPECT_TRUE(j.is_object()) << line;
    records.push_back(j);
  }
  return records;
}

}  // namespace cpu_llm::testing
