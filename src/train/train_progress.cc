#include "train/train_progress.h"

#include <algorithm>
#include <cmath>

#include <fmt/format.h>

namespace cpu_llm {

std::string FormatDuration(double seconds) {
  if (!std::isfinite(seconds) || seconds < 0) return "?";
  const int64_t s = static_cast<int64_t>(std::llround(seconds));
  if (s < 60) return fmt::format("{} s", s);
  if (s < 3600) return fmt::format("{} min {:02d} s", s / 60, s % 60);
  return fmt::format("{} h {:02d} min", s / 3600, (s % 3600) / 60);
}

TrainProgress::TrainProgress(std::FILE* out, bool live, int first_step, int total_steps, int64_t tokens_per_step)
    : out_(out), live_(live), first_step_(first_step), total_steps_(total_steps), tokens_per_step_(tokens_per_step),
      step_(first_step) {}

void TrainProgress::Step(int step, float loss, double elapsed_ms) {
  step_ = step;
  loss_ = loss;
  elapsed_ms_ = elapsed_ms;
  // A terminal redraw costs little, but steps of a few ms would redraw
  // hundreds of times a second for nothing the eye can follow.
  if (live_ && (!drawn_ || elapsed_ms - last_draw_ms_ >= 100.0 || step >= total_steps_)) Draw();
}

double TrainProgress::EtaSeconds() const {
  const int done = step_ - first_step_;
  if (done <= 0) return -1.0;
  return std::max(0, total_steps_ - step_) * (elapsed_ms_ / done) / 1000.0;
}

std::string TrainProgress::Eta() const {
  const double eta = EtaSeconds();
  return eta < 0 ? "" : "eta " + FormatDuration(eta);
}

std::string TrainProgress::StatusLine() const {
  const double frac = total_steps_ > 0 ? std::clamp(static_cast<double>(step_) / total_steps_, 0.0, 1.0) : 1.0;
  const int width = 20, filled = static_cast<int>(frac * width + 0.5);
  const int done = step_ - first_step_;
  const double tok_s = elapsed_ms_ > 0 ? done * static_cast<double>(tokens_per_step_) / (elapsed_ms_ / 1000.0) : 0.0;
  const int64_t tokens = static_cast<int64_t>(step_) * tokens_per_step_;
  return fmt::format("[{}{}] step {}/{} {:3.0f}% | {:.2f} M tokens | {:.0f} tok/s | loss {:.4f} | {}",
                     std::string(filled, '#'), std::string(width - filled, '.'), step_, total_steps_, 100.0 * frac,
                     tokens / 1e6, tok_s, loss_, Eta());
}

void TrainProgress::Draw() {
  // \r to the line's start, the text, then erase what a longer one left.
  std::fprintf(out_, "\r%s\033[K", StatusLine().c_str());
  std::fflush(out_);
  drawn_ = true;
  last_draw_ms_ = elapsed_ms_;
}

void TrainProgress::Clear() {
  if (!drawn_) return;
  std::fputs("\r\033[K", out_);
  drawn_ = false;
}

void TrainProgress::Print(const std::string& line) {
  const bool redraw = drawn_;
  Clear();
  std::fputs(line.c_str(), out_);
  if (redraw) Draw();
  std::fflush(out_);
}

void TrainProgress::Finish() {
  Clear();
  std::fflush(out_);
}

}  // namespace cpu_llm
