// Dynamic loss scaling for fp16 training. fp16's smallest subnormal is
// 2^-24, and many activation gradients of a language model sit below it, so
// the loss is multiplied by a large scale before backward and the gradients
// divided by it before the update. An overflow (a non-finite gradient norm)
// means the scale is too large: the step is skipped and the scale halved.
// After growth_interval clean steps in a row it doubles again, to keep as
// much of fp16's range in use as possible.
#pragma once

#include <cstdint>

#include "core/status.h"

namespace cpu_llm {

struct LossScalerConfig {
  float initial_scale = 65536.0f;  // 2^16
  int growth_interval = 2000;      // clean steps before the scale doubles
  float growth_factor = 2.0f;
  float backoff_factor = 0.5f;
  float min_scale = 1.0f;          // never scaled down past this
  float max_scale = 16777216.0f;   // 2^24: far beyond what fp16 gradients need
};
Status ValidateLossScalerConfig(const LossScalerConfig& cfg);

class DynamicLossScaler {
 public:
  explicit DynamicLossScaler(const LossScalerConfig& cfg = LossScalerConfig());

  // Multiply the loss's gradient by this (Backward's grad_scale) and the
  // weight gradients by its inverse before clipping and the update.
  float scale() const { return scale_; }
  // At the smallest scale an overflow cannot be scaled away.
  bool at_min_scale() const { return scale_ <= cfg_.min_scale; }

  // After backward: grads_finite is whether the (scaled) gradient norm came
  // out finite. Returns whether to apply this step's update; on overflow it
  // returns false and halves the scale.
  bool Update(bool grads_finite);

  int64_t skipped_steps() const { return skipped_; }
  int clean_steps() const { return clean_; }

  // For checkpoints: the scale and the run of clean steps resume exactly.
  void Restore(float scale, int clean_steps, int64_t skipped_steps);

 private:
  LossScalerConfig cfg_;
  float scale_;
  int clean_ = 0;
  int64_t skipped_ = 0;
};

}  // namespace cpu_llm
