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

}  // namespace cpu_llm
