// Error values for library code. Nothing below the CLI exits the process: a
// failing call returns a Status whose message names the file or flag at fault,
// and main() decides what to print and which exit code to use.
#pragma once

#include <string>
#include <utility>

#include <fmt/format.h>

namespace cpu_llm {

enum class ErrorKind {
  kOk = 0,
  kUsage,    // bad flag or configuration: exit code 2
  kRuntime,  // bad file, I/O failure, numeric trouble: exit code 1
};

class [[nodiscard]] Status {
 public:
  Status() = default;
  static Status Usage(std::string msg) { return Status(ErrorKind::kUsage, std::move(msg)); }
  static Status Runtime(std::string msg) { return Status(ErrorKind::kRuntime, std::move(msg)); }

  bool ok() const { return kind_ == ErrorKind::kOk; }
  ErrorKind kind() const { return kind_; }
  const std::string& message() const { return message_; }
  int exit_code() const { return kind_ == ErrorKind::kOk ? 0 : (kind_ == ErrorKind::kUsage ? 2 : 1); }

 private:
  Status(ErrorKind kind, std::string msg) : kind_(kind), message_(std::move(msg)) {}
  ErrorKind kind_ = ErrorKind::kOk;
  std::string message_;
};

template <typename... Args>
Status UsageError(fmt::format_string<Args...> f, Args&&... args) {
  return Status::Usage(fmt::format(f, std::forward<Args>(args)...));
}
template <typename... Args>
Status RuntimeError(fmt::format_string<Args...> f, Args&&... args) {
  return Status::Runtime(fmt::format(f, std::forward<Args>(args)...));
}

// errno as text, for messages like "<file>: cannot open: No such file or directory".
std::string ErrnoText(int err);

}  // namespace cpu_llm

#define CPU_LLM_RETURN_IF_ERROR(expr)      \
  do {                                     \
    ::cpu_llm::Status status_ = (expr);    \
    if (!status_.ok()) return status_;     \
  } while (0)
