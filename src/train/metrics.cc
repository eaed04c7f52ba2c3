#include "train/metrics.h"

#include <cerrno>

namespace cpu_llm {

MetricsLog::~MetricsLog() {
  if (file_) std::fclose(file_);
}

Status MetricsLog::Open(const std::string& path) {
  path_ = path;
  file_ = std::fopen(path.c_str(), "a");
  if (!file_) return RuntimeError("{}: cannot open for writing: {}", path, ErrnoText(errno));
  return Status();
}

Status MetricsLog::Append(const nlohmann::json& record) {
  const std::string line = record.dump() + "\n";
  if (std::fwrite(line.data(), 1, line.size(), file_) != line.size() || std::fflush(file_) != 0)
    return RuntimeError("{}: write failed: {}", path_, ErrnoText(errno));
  return Status();
}

}  // namespace cpu_llm
