#include "train/metrics.h"

#include <sys/stat.h>

#include <cerrno>
#include <fstream>

#include "core/file_io.h"

namespace cpu_llm {

namespace {

// Rewrites `path` (atomically) without the records of steps after
// `resumed_step` and without lines that are not whole JSON objects.
Status DropRecordsAfter(const std::string& path, int64_t resumed_step) {
  struct stat st {};
  if (::stat(path.c_str(), &st) != 0 || !S_ISREG(st.st_mode)) return Status();  // nothing to mend (or /dev/full)
  std::ifstream in(path, std::ios::binary);
  if (!in) return RuntimeError("{}: cannot open for reading: {}", path, ErrnoText(errno));
  std::string kept, line;
  bool dropped = false;
  while (std::getline(in, line)) {
    const bool whole = !in.eof();  // the last line without its newline was cut short
    const nlohmann::json j = nlohmann::json::parse(line, nullptr, /*allow_exceptions=*/false);
    const bool keep = whole && j.is_object() && !(j.contains("step") && j["step"].is_number_integer() &&
                                                   j["step"].get<int64_t>() > resumed_step);
    if (keep) kept += line + "\n";
    dropped = dropped || !keep;
  }
  if (in.bad()) return RuntimeError("{}: read failed: {}", path, ErrnoText(errno));
  return dropped ? WriteFileAtomic(path, kept.data(), kept.size()) : Status();
}

}  // namespace

MetricsLog::~MetricsLog() {
  if (file_) std::fclose(file_);
}

Status MetricsLog::Open(const std::string& path, int64_t resumed_step) {
  path_ = path;
  if (resumed_step >= 0) CPU_LLM_RETURN_IF_ERROR(DropRecordsAfter(path, resumed_step));
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
