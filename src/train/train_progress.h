// What `train` shows while it runs. On a terminal, a status line redrawn
// below the log (bar, step, tokens, tok/s, loss, ETA); elsewhere (a file, a
// pipe, a job log) only the plain step lines, which carry the ETA too.
// Every other line of the loop goes through Print(), which lifts the status
// line first so that the two never interleave.
#pragma once

#include <cstdint>
#include <cstdio>
#include <string>

namespace cpu_llm {

// "42 s", "3 min 05 s", "2 h 07 min".
std::string FormatDuration(double seconds);

class TrainProgress {
 public:
  // out: where the loop prints (stdout); live: draw the status line (out is
  // a terminal and the run is not --quiet). first_step: the step this run
  // starts after (a resumed run's), so the ETA counts this run's steps only.
  TrainProgress(std::FILE* out, bool live, int first_step, int total_steps, int64_t tokens_per_step);

  // A time budget re-plans the run's length.
  void set_total_steps(int total_steps) { total_steps_ = total_steps; }

  // After each step: elapsed_ms is the wall time since this run's first step
  // began (validation and checkpoints included, so the ETA has them too).
  void Step(int step, float loss, double elapsed_ms);

  // Seconds left at the pace so far; negative before the first step.
  double EtaSeconds() const;
  // "eta 3 min 05 s" (empty before the first step).
  std::string Eta() const;
  // The status line as drawn, without the terminal codes.
  std::string StatusLine() const;

  // Prints one finished line (it must end in '\n'), below the status line.
  void Print(const std::string& line);
  // Removes the status line for good (the run's closing output follows).
  void Finish();

 private:
  void Draw();
  void Clear();

  std::FILE* out_;
  bool live_;
  int first_step_, total_steps_;
  int64_t tokens_per_step_;
  int step_ = 0;
  float loss_ = 0.0f;
  double elapsed_ms_ = 0.0;
  double last_draw_ms_ = -1e9;
  bool drawn_ = false;
};

}  // namespace cpu_llm
