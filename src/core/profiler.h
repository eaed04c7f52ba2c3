// Built-in per-op profiler: wall time of each op class, forward and backward,
// plus the optimizer, gradient reduction and data wait, accumulated over the
// steps of a run. Turned on by pointing Context::profiler at one; when it is
// null a scope costs one branch. On, a scope costs two steady_clock reads
// (tens of nanoseconds) against ops that take micro- to milliseconds.
#pragma once

#include <array>
#include <chrono>
#include <cstdint>
#include <string>

namespace cpu_llm {

enum class Op : int {
  kEncoder,
  kLayerNorm,
  kMatmulQkv,
  kMatmulAttnProj,
  kMatmulFc,
  kMatmulFcProj,
  kMatmulLmHead,
  kAttention,
  kGelu,
  kResidual,
  kCrossEntropy,
  kConvert,     // mixed precision: activations stored in / widened from 16 bits
  kZeroGrad,
  kGradReduce,  // global gradient norm (and, with several ranks, the all-reduce)
  kOptimizer,
  kDataWait,
  kCommWait,    // data-parallel: waiting for the gradient all-reduce after backward
  kCount
};
enum class Pass : int { kForward = 0, kBackward = 1 };

const char* OpName(Op op);

class Profiler {
 public:
  void Add(Op op, Pass pass, int64_t ns) {
    ns_[static_cast<int>(op)][static_cast<int>(pass)] += ns;
    scopes_++;
  }
  void AddStep(int64_t ns) {
    step_ns_ += ns;
    steps_++;
  }
  void Reset() { *this = Profiler(); }
  int64_t steps() const { return steps_; }
  int64_t ns(Op op, Pass pass) const { return ns_[static_cast<int>(op)][static_cast<int>(pass)]; }
  int64_t step_ns() const { return step_ns_; }
  int64_t scopes() const { return scopes_; }  // timed scopes since the last Reset
  // A table: per op, forward and backward ms per step and share of the step.
  std::string Report() const;

 private:
  std::array<std::array<int64_t, 2>, static_cast<int>(Op::kCount)> ns_{};
  int64_t step_ns_ = 0, steps_ = 0, scopes_ = 0;
};

// What one ProfileScope costs on this machine, in nanoseconds: the median of
// a few bursts of enter/exit pairs. Times the profiler's count of scopes per
// step, it bounds the profiler's overhead far more tightly than comparing
// noisy runs with it on and off.
double MeasureScopeCostNs();

// Times its own lifetime into profiler (if not null).
class ProfileScope {
 public:
  ProfileScope(Profiler* profiler, Op op, Pass pass = Pass::kForward) : profiler_(profiler), op_(op), pass_(pass) {
    if (profiler_) start_ = std::chrono::steady_clock::now();
  }
  ~ProfileScope() {
    if (profiler_)
      profiler_->Add(op_, pass_,
                     std::chrono::duration_cast<std::chrono::nanoseconds>(std::chrono::steady_clock::now() - start_)
                         .count());
  }
  ProfileScope(const ProfileScope&) = delete;
  ProfileScope& operator=(const ProfileScope&) = delete;

 private:
  Profiler* profiler_;
  Op op_;
  Pass pass_;
  std::chrono::steady_clock::time_point start_;
};

}  // namespace cpu_llm
