// Training metrics, one JSON object per line in <run dir>/metrics.jsonl,
// appended (a resumed run continues the same file).
#pragma once

#include <cstdint>
#include <cstdio>
#include <string>

#include <nlohmann/json.hpp>

#include "core/status.h"

namespace cpu_llm {

class MetricsLog {
 public:
  ~MetricsLog();
  // Opens for appending. A run resumed at step `resumed_step` (>= 0) first
  // drops the records of later steps, which it is about to redo (a run
  // killed after its last checkpoint wrote them), and a last line cut short
  // by a kill or a full disk, so the file holds each step once.
  Status Open(const std::string& path, int64_t resumed_step = -1);
  Status Append(const nlohmann::json& record);
  const std::string& path() const { return path_; }

 private:
  std::string path_;
  FILE* file_ = nullptr;
};

}  // namespace cpu_llm
