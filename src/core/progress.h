// A progress display for long jobs, on stderr: a redrawn bar on a terminal,
// plain lines (at most one per 10% or 30 s) when stderr is a file or a pipe.
#pragma once

#include <cstdint>
#include <string>

#include "core/timer.h"

namespace cpu_llm {

class Progress {
 public:
  Progress(std::string label, uint64_t total_bytes, bool quiet);
  void Update(uint64_t bytes, uint64_t tokens);
  void Finish(uint64_t bytes, uint64_t tokens);

 private:
  std::string Line(uint64_t bytes, uint64_t tokens) const;
  std::string label_;
  uint64_t total_;
  bool quiet_, tty_;
  Timer timer_;
  double last_draw_ms_ = -1e9;
  int last_decile_ = 0;
};

}  // namespace cpu_llm
