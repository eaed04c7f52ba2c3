#include "core/status.h"

#include <cstring>

namespace cpu_llm {

std::string ErrnoText(int err) { return std::strerror(err); }

}  // namespace cpu_llm
