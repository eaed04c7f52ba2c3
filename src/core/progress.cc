#include "core/progress.h"

#include <unistd.h>

#include <cstdio>

#include <fmt/format.h>

namespace cpu_llm {

Progress::Progress(std::string label, uint64_t total_bytes, bool quiet)
    : label_(std::move(label)), total_(total_bytes), quiet_(quiet), tty_(::isatty(STDERR_FILENO) == 1) {}

std::string Progress::Line(uint64_t bytes, uint64_t tokens) const {
  const double s = timer_.Ms() / 1000.0;
  const double frac = total_ ? static_cast<double>(bytes) / total_ : 1.0;
  const double mb_s = s > 0 ? bytes / 1e6 / s : 0.0;
  std::string bar;
  if (tty_) {
    const int width = 24, filled = static_cast<int>(frac * width + 0.5);
    bar = fmt::format("[{}{}] ", std::string(filled, '#'), std::string(width - filled, ' '));
  }
  std::string eta = (frac > 0.01 && frac < 1.0) ? fmt::format(", eta {:.0f} s", s / frac - s) : "";
  return fmt::format("{}: {}{:5.1f}% {:.1f}/{:.1f} MB, {} tokens, {:.1f} MB/s{}", label_, bar, 100.0 * frac,
                     bytes / 1e6, total_ / 1e6, tokens, mb_s, eta);
}

void Progress::Update(uint64_t bytes, uint64_t tokens) {
  if (quiet_) return;
  const double now = timer_.Ms();
  if (tty_) {
    if (now - last_draw_ms_ < 100) return;
    std::fprintf(stderr, "\r%s\033[K", Line(bytes, tokens).c_str());
  } else {
    const int decile = total_ ? static_cast<int>(10.0 * bytes / total_) : 0;
    if (bytes >= total_) return;  // Finish() prints the 100% line
    if (decile <= last_decile_ && now - last_draw_ms_ < 30000) return;
    last_decile_ = decile;
    std::fprintf(stderr, "%s\n", Line(bytes, tokens).c_str());
  }
  std::fflush(stderr);
  last_draw_ms_ = now;
}

void Progress::Finish(uint64_t bytes, uint64_t tokens) {
  if (quiet_) return;
  std::fprintf(stderr, tty_ ? "\r%s\033[K\n" : "%s\n", Line(bytes, tokens).c_str());
  std::fflush(stderr);
}

}  // namespace cpu_llm
