// Training metrics, one JSON object per line in <run dir>/metrics.jsonl,
// appended (a resumed run continues the same file).
#pragma once

#include <cstdio>
#include <string>

#include <nlohmann/json.hpp>

#include "core/status.h"

namespace cpu_llm {

class MetricsLog {
 public:
  ~MetricsLog();
  Status Open(const std::string& path);
  Status Append(const nlohmann::json& record);
  const std::string& path() const { return path_; }

 private:
  std::string path_;
  FILE* file_ = nullptr;
};

}  // namespace cpu_llm
