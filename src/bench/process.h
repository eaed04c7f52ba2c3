// Running the bench's child processes (workers, the PyTorch script) and
// collecting what they print.
#pragma once

#include <string>
#include <vector>

#include "core/status.h"

namespace cpu_llm {

// Runs argv (argv[0] a path) with the shell out of the way (each argument
// quoted), capturing stdout; stderr passes through. *exit_code is the
// child's exit status, 128+N when killed by signal N.
Status RunCapture(const std::vector<std::string>& argv, std::string* out, int* exit_code);

// This executable's path (/proc/self/exe), so the bench can start itself.
Status SelfExecutable(std::string* path);

// The rest of the first line of `out` that starts with `prefix` ("" if none).
std::string OutputLine(const std::string& out, const std::string& prefix);

// A mkdtemp folder under the temporary directory, removed with everything in
// it when this goes out of scope, so an error part-way through leaves no
// checkpoints or generated data behind.
class TempFolder {
 public:
  TempFolder() = default;
  ~TempFolder();
  TempFolder(const TempFolder&) = delete;
  TempFolder& operator=(const TempFolder&) = delete;
  // `prefix` names the folder, e.g. "cpu_llm_stability"; `parent` overrides
  // the temporary directory.
  Status Create(const std::string& prefix, const std::string& parent = "");
  const std::string& path() const { return path_; }

 private:
  std::string path_;
};

}  // namespace cpu_llm
