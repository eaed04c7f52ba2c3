// Human-readable sizes for the lines the commands print.
#pragma once

#include <cstdint>
#include <string>

#include <fmt/format.h>

namespace cpu_llm {

// 1234 -> "1.2 KB", 5.2e6 -> "5.2 MB", 2.5e10 -> "25.0 GB" (powers of 1000).
inline std::string ByteSizeText(double bytes) {
  if (bytes >= 1e9) return fmt::format("{:.1f} GB", bytes / 1e9);
  if (bytes >= 1e6) return fmt::format("{:.1f} MB", bytes / 1e6);
  return fmt::format("{:.1f} KB", bytes / 1e3);
}

}  // namespace cpu_llm
