// metrics.jsonl as a resumed run reopens it (MetricsLog::Open with the step
// it resumes at): records of later steps and a last line cut short are
// dropped, the rest kept byte for byte. Input layout: byte 0 is the resumed
// step (0..255, the steps the corpus files use); the rest is the file.
//
// Checked: every line left is a whole JSON object whose "step", if it is an
// integer, is at most the resumed step; the kept lines are the input's lines
// in order with none made up; a second Open at the same step changes nothing.
#include <fstream>
#include <sstream>
#include <vector>

#include <nlohmann/json.hpp>

#include "fuzz_util.h"
#include "train/metrics.h"

using namespace cpu_llm;

namespace {

std::string ReadAll(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  std::stringstream s;
  s << in.rdbuf();
  return s.str();
}

std::vector<std::string> Lines(const std::string& text) {
  std::vector<std::string> lines;
  std::string line;
  std::istringstream in(text);
  while (std::getline(in, line)) lines.push_back(line);
  return lines;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size < 1) return 0;
  const int64_t resumed_step = data[0];
  const std::string input(reinterpret_cast<const char*>(data + 1), size - 1);
  const std::string path = fuzz::WriteInput(input, "metrics.jsonl");
  {
    MetricsLog log;
    if (!log.Open(path, resumed_step).ok()) return 0;
  }
  const std::string kept = ReadAll(path);
  FUZZ_CHECK(kept.empty() || kept.back() == '\n');
  const std::vector<std::string> in_lines = Lines(input);
  size_t next = 0;  // kept lines must appear in the input in order
  for (const std::string& line : Lines(kept)) {
    const nlohmann::json j = nlohmann::json::parse(line, nullptr, /*allow_exceptions=*/false);
    FUZZ_CHECK(j.is_object());
    if (j.contains("step") && j["step"].is_number_integer()) FUZZ_CHECK(j["step"].get<int64_t>() <= resumed_step);
    while (next < in_lines.size() && in_lines[next] != line) next++;
    FUZZ_CHECK(next < in_lines.size());
    next++;
  }
  {
    MetricsLog again;
    FUZZ_CHECK(again.Open(path, resumed_step).ok());
  }
  FUZZ_CHECK(ReadAll(path) == kept);
  return 0;
}
